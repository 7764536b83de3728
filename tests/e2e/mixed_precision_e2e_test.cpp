// Precision rules (issue 8 item 2): `edgeq quantize --keep REGEX=PREC` and `--policy edge` on a real model —
// the per-node precisions in --json's precision_map, the size they give, the accuracy they keep, and one-line
// errors for bad rules.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_util.h"
#include "common/shared.h"
#include "fashion_util.h"

namespace edgeq {
namespace {

nlohmann::json quantize(const fs::path& model, const fs::path& out, const std::vector<std::string>& extra) {
    std::vector<std::string> args{"quantize", model.string(), out.string(), "--method", "static", "--calib",
                                  fashion("train-images-idx3-ubyte.gz"), "--preprocess", kPre, "--calib-samples",
                                  "128", "--json", "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run_cli(args);
    EXPECT_EQ(r.rc, 0) << r.err;
    return r.rc == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
}

double top1(const fs::path& model) {
    auto r = run_cli({"eval", model.string(), "--data", fashion("t10k-images-idx3-ubyte.gz"), "--labels",
                      fashion("t10k-labels-idx1-ubyte.gz"), "--preprocess", kPre, "--limit", "2000", "--json", "-q"});
    EXPECT_EQ(r.rc, 0) << r.err;
    return r.rc == 0 ? nlohmann::json::parse(r.out).at("value").get<double>() : 0.0;
}

TEST(MixedPrecision, PolicyEdgeFirstAndLastInt8RestInt4) {
    EDGEQ_REQUIRE_SHARED(model, "assets/fashion-mnist-models/lenet5.onnx");
    EDGEQ_REQUIRE_FASHION();
    const fs::path out = tmp_dir() / "mp_edge.onnx";
    const auto j = quantize(model, out, {"--policy", "edge", "--granularity", "group:32"});
    ASSERT_TRUE(j.contains("precision_map")) << j.dump();
    const auto& pm = j["precision_map"];
    // lenet5's compute layers in order: /0/Conv, /3/Conv, /7/Gemm, /9/Gemm, /11/Gemm
    EXPECT_EQ(pm["/0/Conv"], "int8");
    EXPECT_EQ(pm["/3/Conv"], "int4");
    EXPECT_EQ(pm["/7/Gemm"], "int4");
    EXPECT_EQ(pm["/9/Gemm"], "int4");
    EXPECT_EQ(pm["/11/Gemm"], "int8");
    EXPECT_EQ(j["precision"], "mixed");
    const double bpw = j["bits_per_weight"].get<double>();
    EXPECT_LT(bpw, 6.0);  // most weights are int4 (+ group scales)
    EXPECT_GT(bpw, 4.0);
    const double fp32 = top1(model), mixed = top1(out);
    EXPECT_GT(mixed, fp32 - 0.01) << "fp32 " << fp32 << " edge " << mixed;
}

TEST(MixedPrecision, KeepRulesWinInOrder) {
    EDGEQ_REQUIRE_SHARED(model, "assets/fashion-mnist-models/lenet5.onnx");
    EDGEQ_REQUIRE_FASHION();
    const fs::path out = tmp_dir() / "mp_keep.onnx";
    const auto j = quantize(model, out,
                            {"--keep", "/9/Gemm=fp16", "--keep", "/3/Conv=fp32", "--keep", "Gemm=int4", "--keep",
                             "/3/Conv=int2", "--granularity", "group:32"});
    ASSERT_TRUE(j.contains("precision_map")) << j.dump();
    const auto& pm = j["precision_map"];
    EXPECT_EQ(pm["/0/Conv"], "int8");    // no rule: --weights (int8)
    EXPECT_EQ(pm["/3/Conv"], "fp32");    // first matching rule wins over the later int2 one
    EXPECT_EQ(pm["/7/Gemm"], "int4");
    EXPECT_EQ(pm["/9/Gemm"], "fp16");    // earlier rule beats "Gemm=int4"
    EXPECT_EQ(pm["/11/Gemm"], "int4");
    EXPECT_GT(top1(out), 0.8);
}

TEST(MixedPrecision, BadRulesAreOneLineErrors) {
    EDGEQ_REQUIRE_SHARED(model, "assets/fashion-mnist-models/lenet5.onnx");
    const std::string out = (tmp_dir() / "mp_bad.onnx").string();
    expect_one_line_error(run_cli({"quantize", model.string(), out, "--method", "weight-only", "--keep", "Conv=int3"}),
                          "int3");
    expect_one_line_error(run_cli({"quantize", model.string(), out, "--method", "weight-only", "--keep", "nothing"}),
                          "REGEX=");
    expect_one_line_error(run_cli({"quantize", model.string(), out, "--method", "weight-only", "--keep", "(=int4"}),
                          "regular expression");
    expect_one_line_error(run_cli({"quantize", model.string(), out, "--method", "fp16", "--keep", "Conv=int8"}),
                          "integer weights");
    expect_one_line_error(run_cli({"quantize", model.string(), out, "--method", "dynamic", "--policy", "edge"}),
                          "--policy edge");
    expect_one_line_error(run_cli({"quantize", model.string(), out, "--method", "static", "--policy", "tiny"}),
                          "edge");
    EXPECT_TRUE(no_leftovers(out));
}

}  // namespace
}  // namespace edgeq
