// `edgeq autotune` on a GGUF LLM (stories260K, 2 candidate types): the byte budget is met, the JSON carries
// the envelope and output / bits_per_weight / kld / ppl / precision_map / budget_met, the written GGUF has
// the reported bits per weight and types, and `edgeq perplexity` on it runs; GGUF argument errors are one
// line.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/shared.h"
#include "e2e/cli_util.h"
#include "formats/gguf/gguf.h"

namespace edgeq {
namespace {

constexpr const char* kModel = "fixtures/llm/models/stories260K-F32.gguf";
constexpr const char* kText = "assets/datasets/text/tinystories_sample.txt";

TEST(AutotuneGguf, TargetBpwJsonAndWrittenModelAgree) {
    EDGEQ_REQUIRE_SHARED(model, kModel);
    EDGEQ_REQUIRE_SHARED(text, kText);
    const fs::path out = tmp_dir() / "at_gguf_out.gguf";
    const fs::path data = tmp_dir() / "at_gguf_text.txt";  // ~250 tokens: 7 chunks of 32, a quick run
    { std::ofstream(data, std::ios::binary) << slurp(text).substr(0, 800); }
    const auto r = run_cli({"autotune", model.string(), out.string(), "--data", data.string(), "--target-bpw",
                            "7.2", "--candidates", "q4_0,q8_0", "--ctx", "32", "--json", "-q", "-t", "1"});
    ASSERT_EQ(r.rc, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j.at("schema"), "edgeq.result/1");
    EXPECT_EQ(j.at("command"), "autotune");
    EXPECT_EQ(j.at("output"), out.string());
    EXPECT_TRUE(j.at("budget_met").get<bool>());
    const double bpw = j.at("bits_per_weight").get<double>();
    EXPECT_LE(bpw, 7.2);
    EXPECT_GT(j.at("kld").get<double>(), 0.0);
    EXPECT_GT(j.at("ppl").get<double>(), 1.0);
    EXPECT_EQ(j.at("metrics").at("bits_per_weight").get<double>(), bpw);
    const auto& pm = j.at("precision_map");
    ASSERT_TRUE(pm.is_object());
    EXPECT_TRUE(pm.contains("blk.0.attn_q.weight"));
    EXPECT_EQ(pm.at("blk.0.ffn_down.weight"), "F16");
    bool chosen = false;
    for (const auto& p : j.at("front")) chosen |= p.at("chosen").get<bool>();
    EXPECT_TRUE(chosen);

    auto f = gguf::File::open(out.string());
    ASSERT_TRUE(f.ok()) << f.status().message();
    uint64_t bytes = 0;
    int64_t params = 0;
    for (const auto& t : (*f)->tensors()) {
        bytes += t.size;
        params += t.n_elements();
        if (pm.contains(t.name)) {
            EXPECT_EQ(pm.at(t.name).get<std::string>(), dtype_name(t.type)) << t.name;
        }
    }
    EXPECT_NEAR(8.0 * static_cast<double>(bytes) / static_cast<double>(params), bpw, 1e-9);

    const auto p =
        run_cli({"perplexity", out.string(), "-f", text.string(), "--ctx", "64", "--chunks", "1", "-q"});
    EXPECT_EQ(p.rc, 0) << p.err;
    fs::remove(out);
    fs::remove(data);
}

TEST(AutotuneGguf, ArgumentErrorsAreOneLine) {
    EDGEQ_REQUIRE_SHARED(model, kModel);
    EDGEQ_REQUIRE_SHARED(text, kText);
    const fs::path out = tmp_dir() / "at_gguf_err.gguf";
    const std::string m = model.string(), t = text.string(), o = out.string();
    expect_one_line_error(run_cli({"autotune", m, o, "--data", t}), "exactly one budget");
    expect_one_line_error(
        run_cli({"autotune", m, o, "--data", t, "--target-bpw", "5", "--candidates", "q9_z"}), "q9_z");
    expect_one_line_error(run_cli({"autotune", m, m, "--data", t, "--target-bpw", "5"}),
                          "overwrite the input");
    EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace edgeq
