// edgeq bench (issue 9, item 1) on a real ONNX model and a real GGUF: the JSON fields exist and are
// consistent (ordered percentiles, sizes equal to the files, a per-node profile naming kernels, energy either
// measured or with a reason); bad arguments give one-line errors. No timing is asserted.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli_util.h"
#include "common/shared.h"

namespace edgeq {
namespace {


void expect_common(const nlohmann::json& j, const fs::path& model) {
    const auto& l = j.at("latency_ms");
    const double mn = l.at("min"), p50 = l.at("p50"), p90 = l.at("p90"), p99 = l.at("p99");
    EXPECT_GT(mn, 0.0);
    EXPECT_LE(mn, p50);
    EXPECT_LE(p50, p90);
    EXPECT_LE(p90, p99);
    EXPECT_GT(j.at("throughput_per_s").get<double>(), 0.0);
    EXPECT_GT(j.at("peak_rss_bytes").get<int64_t>(), 1 << 20);
    EXPECT_EQ(j.at("model_bytes").get<int64_t>(), static_cast<int64_t>(fs::file_size(model)));
    const auto& e = j.at("energy");
    if (e.at("available").get<bool>()) EXPECT_GE(e.at("joules_per_inference").get<double>(), 0.0);
    else EXPECT_FALSE(e.at("reason").get<std::string>().empty());
}

TEST(BenchCli, OnnxJsonHasLatencyThroughputMemoryAndProfile) {
    EDGEQ_REQUIRE_SHARED(model, "assets/fashion-mnist-models/lenet5.onnx");
    auto r = run_cli({"bench", model.string(), "--batch", "4", "--threads", "1", "--warmup", "1", "--runs", "7", "--json"});
    ASSERT_EQ(r.rc, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    expect_common(j, model);
    EXPECT_EQ(j.at("batch").get<int64_t>(), 4);
    EXPECT_EQ(j.at("runs").get<int>(), 7);
    EXPECT_EQ(j.at("format").get<std::string>(), "onnx");
    const auto& top = j.at("top_nodes");
    ASSERT_FALSE(top.empty());
    EXPECT_LE(top.size(), 10u);
    bool conv_kernel = false;
    for (const auto& s : top) conv_kernel = conv_kernel || s.at("kernel").get<std::string>().find("conv2d") != std::string::npos;
    EXPECT_TRUE(conv_kernel) << top.dump();
    // plain text names the same things
    auto t = run_cli({"bench", model.string(), "--runs", "3", "--warmup", "0"});
    ASSERT_EQ(t.rc, 0) << t.err;
    EXPECT_NE(t.out.find("p99"), std::string::npos) << t.out;
    EXPECT_NE(t.out.find("slowest steps"), std::string::npos) << t.out;
    // --top: that many steps; 0 lists every step (their shares of the profiled time sum to 1)
    auto two = run_cli({"bench", model.string(), "--runs", "2", "--warmup", "0", "--top", "2", "--json"});
    ASSERT_EQ(two.rc, 0) << two.err;
    EXPECT_EQ(nlohmann::json::parse(two.out).at("top_nodes").size(), 2u);
    auto all = run_cli({"bench", model.string(), "--runs", "2", "--warmup", "0", "--top", "0", "--json"});
    ASSERT_EQ(all.rc, 0) << all.err;
    const auto aj = nlohmann::json::parse(all.out);
    const auto& every = aj.at("top_nodes");
    EXPECT_GT(every.size(), 2u);
    double share = 0;
    for (const auto& s : every) share += s.at("share").get<double>();
    EXPECT_NEAR(share, 1.0, 1e-9);
}

TEST(BenchCli, GgufDecodesAndReportsPrefill) {
    EDGEQ_REQUIRE_SHARED(model, "fixtures/llm/models/stories260K-Q8_0.gguf");
    auto r = run_cli({"bench", model.string(), "--batch", "8", "--runs", "10", "--warmup", "2", "--json"});
    ASSERT_EQ(r.rc, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    expect_common(j, model);
    EXPECT_EQ(j.at("format").get<std::string>(), "gguf");
    EXPECT_EQ(j.at("unit").get<std::string>(), "token");
    EXPECT_GT(j.at("prefill_tokens_per_s").get<double>(), 0.0);
}

TEST(BenchCli, BadArgumentsAreOneLineErrors) {
    expect_one_line_error(run_cli({"bench", (tmp_dir() / "missing.onnx").string()}), "missing.onnx");
    EDGEQ_REQUIRE_SHARED(model, "assets/fashion-mnist-models/lenet5.onnx");
    expect_one_line_error(run_cli({"bench", model.string(), "--batch", "0"}), "--batch");
    EDGEQ_REQUIRE_SHARED(gguf, "fixtures/llm/models/stories260K-Q8_0.gguf");
    expect_one_line_error(run_cli({"bench", gguf.string(), "--batch", "100000"}), "context");
}

}  // namespace
}  // namespace edgeq
