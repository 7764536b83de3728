// edgeq qat (issue 6 item 3) on a real model: int4-weight / int8-activation QAT of lenet5 on a 2000-image
// subset of Fashion-MNIST writes a QDQ file that edgeq eval runs on its integer kernels within 2 points of
// FP32 (1000 test images); bad arguments give one-line errors and write nothing.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_util.h"
#include "common/shared.h"
#include "fashion_util.h"

namespace edgeq {
namespace {

double top1(const fs::path& model) {
    auto r = run_cli({"eval", model.string(), "--data", fashion("t10k-images-idx3-ubyte.gz"), "--labels",
                      fashion("t10k-labels-idx1-ubyte.gz"), "--preprocess", kPre, "--limit", "1000", "--json",
                      "-q"});
    EXPECT_EQ(r.rc, 0) << r.err;
    return r.rc == 0 ? nlohmann::json::parse(r.out).at("value").get<double>() : 0.0;
}

TEST(QatE2E, Lenet5Int4WeightsInt8ActsStaysNearFp32) {
    EDGEQ_REQUIRE_SHARED(model, "assets/fashion-mnist-models/lenet5.onnx");
    EDGEQ_REQUIRE_FASHION();
    const fs::path out = tmp_dir() / "qat_lenet5_int4.onnx";
    auto r = run_cli({"qat", model.string(), out.string(), "--data", kFashion, "--weights", "int4", "--acts",
                      "int8", "--limit", "2000", "--calib-samples", "256", "--preprocess", kPre, "--threads",
                      "2", "--json", "--quiet"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_TRUE(r.err.empty()) << r.err;  // --quiet
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["schema"], "edgeq.result/1");
    EXPECT_EQ(j["command"], "qat");
    EXPECT_EQ(j["method"], "qat");
    EXPECT_EQ(j["precision"], "int4");
    EXPECT_EQ(j["train_examples"], 2000);
    EXPECT_EQ(j["weights_fake_quantized"], 5);  // 2 Conv + 3 Gemm
    EXPECT_EQ(j["acts_fake_quantized"], 5);
    EXPECT_EQ(j["quantized_nodes"], 5);
    EXPECT_GT(j["channels_exact"].get<int64_t>(), 0);
    const std::string bytes = slurp(out);
    EXPECT_NE(bytes.find("QuantizeLinear"), std::string::npos);
    EXPECT_NE(bytes.find("DequantizeLinear"), std::string::npos);
    EXPECT_EQ(bytes.find("FakeQuant"), std::string::npos);  // the training-only op is not exported
    const double fp32 = top1(model), qat = top1(out);
    EXPECT_GT(qat, fp32 - 0.02) << "fp32 " << fp32 << " qat int4 " << qat;
}

TEST(QatE2E, BadArgumentsAreOneLineErrors) {
    const fs::path out = tmp_dir() / "qat_bad.onnx";
    const std::string m = "/nonexistent/model.onnx";
    expect_one_line_error(run_cli({"qat", m, out.string(), "--data", kFashion, "--weights", "int3"}),
                          "--weights 'int3'");
    expect_one_line_error(
        run_cli({"qat", m, out.string(), "--data", kFashion, "--weights", "int4", "--acts", "uint4"}),
        "--acts 'uint4'");
    expect_one_line_error(run_cli({"qat", m, out.string(), "--data", kFashion, "--weights", "int4",
                                   "--granularity", "group:32"}),
                          "group:N not yet");
    expect_one_line_error(run_cli({"qat", m, out.string(), "--data", kFashion, "--weights", "int4"}),
                          "model.onnx");
    expect_one_line_error(
        run_cli({"qat", m, out.string(), "--data", kFashion, "--weights", "int4", "--epochs", "0"}),
        "--epochs");
    EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace edgeq
