// Imatrix collection (llm/imatrix_collector.h): the sums a forward pass accumulates equal a hand computation
// of the squared activations, counts are the rows seen, the observer does not change the logits, and the GGUF
// file written holds llama-imatrix's keys and tensors (load_imatrix reads it back in
// tests/e2e/imatrix_e2e_test).
#include "llm/imatrix_collector.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <vector>

#include "common/shared.h"
#include "formats/gguf/gguf.h"
#include "llm/model.h"

namespace edgeq::llm {
namespace {

namespace fs = std::filesystem;

constexpr double kSumRelTol = 1e-5;  // double sums of float squares vs the same in a different order

std::vector<float> tensor_f32(const gguf::File& f, const std::string& name) {
    const gguf::TensorInfo* t = f.find_tensor(name);
    EXPECT_NE(t, nullptr) << name;
    if (!t) return {};
    EXPECT_EQ(t->type, DType::F32) << name;
    std::vector<float> v(static_cast<size_t>(t->n_elements()));
    std::memcpy(v.data(), f.tensor_data(*t).data(), v.size() * sizeof(float));
    return v;
}

TEST(ImatrixCollector, ForwardSumsEqualHandComputedSquaredActivations) {
    EDGEQ_REQUIRE_SHARED(path, "fixtures/llm/models/stories260K-F32.gguf");
    ModelOptions o;
    o.threads = 2;
    o.n_ctx = 64;
    auto m = Model::load(path.string(), o);
    ASSERT_TRUE(m.ok()) << m.status().message();
    Model& model = **m;
    const std::vector<int32_t> toks{1, 403, 407, 261, 378, 11, 300, 299, 45, 7, 290};
    const int64_t N = static_cast<int64_t>(toks.size());

    auto plain = model.eval(toks, 0, true);
    ASSERT_TRUE(plain.ok());
    ImatrixCollector c;
    model.set_observer(&c);
    auto observed = model.eval(toks, 0, true);
    ASSERT_TRUE(observed.ok());
    model.set_observer(nullptr);
    ASSERT_EQ(*plain, *observed) << "the observer must not change the logits";

    // Layer 0's q/k/v see rms_norm(token embedding) * attn_norm: computed here from the file.
    const gguf::File& f = model.file();
    const HParams& hp = model.hparams();
    const int64_t D = hp.n_embd;
    const std::vector<float> emb = tensor_f32(f, "token_embd.weight");
    const std::vector<float> norm = tensor_f32(f, "blk.0.attn_norm.weight");
    std::vector<double> want(static_cast<size_t>(D), 0.0);
    for (int32_t id : toks) {
        const float* e = emb.data() + static_cast<int64_t>(id) * D;
        double ss = 0.0;
        for (int64_t j = 0; j < D; ++j) ss += static_cast<double>(e[j]) * e[j];
        const double scale = 1.0 / std::sqrt(ss / static_cast<double>(D) + hp.rms_eps);
        for (int64_t j = 0; j < D; ++j) {
            const double x = e[j] * scale * norm[static_cast<size_t>(j)];
            want[static_cast<size_t>(j)] += x * x;
        }
    }
    for (const char* w : {"blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight"}) {
        const auto* e = c.find(w);
        ASSERT_NE(e, nullptr) << w;
        EXPECT_EQ(e->count, N) << w;
        ASSERT_EQ(static_cast<int64_t>(e->sum2.size()), D) << w;
        for (int64_t j = 0; j < D; ++j) {
            const double a = e->sum2[static_cast<size_t>(j)], b = want[static_cast<size_t>(j)];
            EXPECT_NEAR(a, b, kSumRelTol * std::max(1.0, b)) << w << " column " << j;
        }
    }

    // Every matmul weight of every layer saw the N rows; the shapes are the weights' input widths.
    EXPECT_EQ(static_cast<int64_t>(c.entries().size()), hp.n_layer * 7 + 1);  // + the classifier
    for (int64_t l = 0; l < hp.n_layer; ++l) {
        const std::string b = "blk." + std::to_string(l) + ".";
        for (const char* s :
             {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"}) {
            const auto* e = c.find(b + s + ".weight");
            ASSERT_NE(e, nullptr) << b << s;
            EXPECT_EQ(e->count, N) << b << s;
            EXPECT_EQ(static_cast<int64_t>(e->sum2.size()), std::string(s) == "ffn_down" ? hp.n_ff : D);
            for (double v : e->sum2) EXPECT_TRUE(std::isfinite(v) && v >= 0.0) << b << s;
        }
        // q/k/v share their input, and so do gate/up.
        EXPECT_EQ(c.find(b + "attn_q.weight")->sum2, c.find(b + "attn_v.weight")->sum2);
        EXPECT_EQ(c.find(b + "ffn_gate.weight")->sum2, c.find(b + "ffn_up.weight")->sum2);
    }

    // A second eval accumulates; without all_logits the classifier sees only the last row.
    const double before = c.find("blk.1.ffn_down.weight")->sum2[3];
    model.set_observer(&c);
    ASSERT_TRUE(model.eval(toks, 0, false).ok());
    model.set_observer(nullptr);
    EXPECT_EQ(c.find("blk.1.ffn_down.weight")->count, 2 * N);
    EXPECT_NEAR(c.find("blk.1.ffn_down.weight")->sum2[3], 2 * before, 1e-9 * std::max(1.0, before));
    const std::string cls = f.find_tensor("output.weight") ? "output.weight" : "token_embd.weight";
    ASSERT_NE(c.find(cls), nullptr);
    EXPECT_EQ(c.find(cls)->count, N + 1);
}

TEST(ImatrixCollector, WritesLlamaImatrixGguf) {
    ImatrixCollector c;
    Weight a{"blk.0.ffn_down.weight", DType::F32, 3, 2, 12, nullptr};
    Weight b{"blk.1.attn_q.weight", DType::Q4_0, 2, 5, 18, nullptr};
    Weight out{"output.weight", DType::F32, 2, 7, 8, nullptr};
    const float xa[6] = {1, -2, 3, 0.5f, 0, -1};  // two rows of 3
    const float xb[2] = {4, -0.25f};
    c.observe(a, xa, 2);
    c.observe(b, xb, 1);
    c.observe(b, xb, 1);
    c.observe(out, xb, 1);

    const fs::path dir = fs::temp_directory_path() / ("edgeq_imatrix_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    ImatrixFileInfo info;
    info.datasets = {"calib.txt"};
    info.chunk_count = 3;
    info.chunk_size = 128;
    const fs::path p = dir / "im.gguf";
    ASSERT_TRUE(write_imatrix_gguf(p.string(), c, info).ok());
    auto f = gguf::File::open(p.string());
    ASSERT_TRUE(f.ok()) << f.status().message();
    const gguf::File& g = **f;
    ASSERT_NE(g.find("general.type"), nullptr);
    EXPECT_EQ(g.find("general.type")->str, "imatrix");
    ASSERT_NE(g.find("imatrix.datasets"), nullptr);
    ASSERT_EQ(g.find("imatrix.datasets")->array.size(), 1u);
    EXPECT_EQ(g.find("imatrix.datasets")->array[0].str, "calib.txt");
    EXPECT_EQ(g.find("imatrix.chunk_count")->type, gguf::ValueType::U32);
    EXPECT_EQ(g.find("imatrix.chunk_count")->as_int(), 3);
    EXPECT_EQ(g.find("imatrix.chunk_size")->as_int(), 128);
    ASSERT_EQ(g.tensors().size(), 4u);  // output.weight is left out without include_output
    EXPECT_EQ(g.tensors()[0].name, "blk.0.ffn_down.weight.in_sum2");
    EXPECT_EQ(g.tensors()[0].ne, (std::vector<int64_t>{3, 1}));
    EXPECT_EQ(g.tensors()[1].name, "blk.0.ffn_down.weight.counts");
    EXPECT_EQ(g.tensors()[1].ne, (std::vector<int64_t>{1, 1}));
    EXPECT_EQ(tensor_f32(g, "blk.0.ffn_down.weight.in_sum2"), (std::vector<float>{1.25f, 4, 10}));
    EXPECT_EQ(tensor_f32(g, "blk.0.ffn_down.weight.counts"), (std::vector<float>{2}));
    EXPECT_EQ(tensor_f32(g, "blk.1.attn_q.weight.in_sum2"), (std::vector<float>{32, 0.125f}));
    EXPECT_EQ(tensor_f32(g, "blk.1.attn_q.weight.counts"), (std::vector<float>{2}));
    EXPECT_EQ(g.find_tensor("output.weight.in_sum2"), nullptr);

    info.include_output = true;
    ASSERT_TRUE(write_imatrix_gguf(p.string(), c, info).ok());
    auto f2 = gguf::File::open(p.string());
    ASSERT_TRUE(f2.ok());
    EXPECT_EQ(tensor_f32(**f2, "output.weight.in_sum2"), (std::vector<float>{16, 0.0625f}));

    ImatrixCollector empty;
    const Status s = write_imatrix_gguf((dir / "none.gguf").string(), empty, info);
    EXPECT_FALSE(s.ok());
    EXPECT_FALSE(fs::exists(dir / "none.gguf"));
    fs::remove_all(dir);
}

}  // namespace
}  // namespace edgeq::llm
