// llm::ModelOptions::repack (dtype/repack.h): a model with its Q4_0/Q8_0 matrices repacked gives the same logits
// bit for bit as the row tiles, for a batch (prefill), single tokens (decoding) and 1 or 2 threads, on the
// shakespeare-wiki-4M files (rows of 256/768 columns: real Q4_0/Q8_0 matrices of several groups of 16 rows).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/shared.h"
#include "core/cpu.h"
#include "llm/model.h"

namespace edgeq::llm {
namespace {

std::vector<float> run(const std::string& path, bool repack, int threads) {
    ModelOptions o;
    o.repack = repack;
    o.threads = threads;
    o.n_ctx = 256;
    auto m = Model::load(path, o);
    EXPECT_TRUE(m.ok()) << m.status().message();
    if (!m.ok()) return {};
    const Weight* w = (*m)->find_weight("blk.0.ffn_up.weight");
    EXPECT_TRUE(w != nullptr);
    if (w) {
        EXPECT_EQ(w->packed != nullptr, repack && isa_enabled(Isa::Avx512Vnni));
    }
    std::vector<int32_t> ids(40);
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>((3 + 37 * i) % (*m)->hparams().n_vocab);
    auto batch = (*m)->eval({ids.data(), 37}, 0, /*all_logits=*/true);  // 37 rows: passes of 8 and a remainder
    EXPECT_TRUE(batch.ok()) << batch.status().message();
    std::vector<float> out = batch.ok() ? std::move(batch).value() : std::vector<float>{};
    for (int32_t p = 37; p < 40; ++p) {  // decoding
        auto one = (*m)->eval({&ids[static_cast<size_t>(p)], 1}, p);
        EXPECT_TRUE(one.ok()) << one.status().message();
        if (one.ok()) out.insert(out.end(), one->begin(), one->end());
    }
    return out;
}

TEST(LlmRepack, LogitsEqualTheRowTilesBitForBit) {
    for (const char* name : {"Q4_0", "Q8_0"}) {
        EDGEQ_REQUIRE_SHARED(path, std::string("fixtures/llm-shakespeare/models/shakespeare-wiki-4M-") + name + ".gguf");
        for (int threads : {1, 2}) {
            const auto rows = run(path.string(), false, threads), packed = run(path.string(), true, threads);
            ASSERT_EQ(rows.size(), packed.size());
            ASSERT_FALSE(rows.empty());
            EXPECT_EQ(std::memcmp(rows.data(), packed.data(), rows.size() * sizeof(float)), 0)
                << name << " threads " << threads;
        }
    }
    if (!isa_enabled(Isa::Avx512Vnni)) GTEST_SKIP() << "no VNNI: the option does nothing on this CPU";
}

}  // namespace
}  // namespace edgeq::llm
