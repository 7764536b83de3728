// `edgeq quantize IN.onnx OUT.onnx --method ...` end to end: every method on a real model (the written file loads
// and keeps its accuracy), the --json contract, one-line errors without partial files, and bounded calibration
// memory (issue 4, item 5).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <map>
#include <random>

#include "cli_util.h"
#include "common/shared.h"
#include "fashion_util.h"
#include "edgeq/tensor.h"
#include "formats/data/npy.h"
#include "formats/onnx/onnx_import.h"

namespace edgeq {
namespace {

double eval_top1(const fs::path& model, int limit) {
    auto r = run_cli({"eval", model.string(), "--data", fashion("t10k-images-idx3-ubyte.gz"), "--labels",
                      fashion("t10k-labels-idx1-ubyte.gz"), "--preprocess", kPre, "--limit", std::to_string(limit),
                      "--json"});
    EXPECT_EQ(r.rc, 0) << r.err;
    if (r.rc != 0) return 0;
    return nlohmann::json::parse(r.out).at("value").get<double>();
}

TEST(PtqE2E, EveryMethodWritesALoadableAccurateModel) {
    EDGEQ_REQUIRE_SHARED(model, "assets/fashion-mnist-models/lenet5.onnx");
    EDGEQ_REQUIRE_FASHION();
    const double fp32 = eval_top1(model, 2000);
    ASSERT_GT(fp32, 0.8);
    struct Case {
        std::vector<std::string> args;
        double min_ratio;  // accuracy / FP32
    };
    const std::vector<Case> cases{
        {{"--method", "static", "--calib", fashion("train-images-idx3-ubyte.gz"), "--preprocess", kPre,
          "--calib-samples", "256"},
         0.995},
        {{"--method", "static", "--calib", fashion("train-images-idx3-ubyte.gz"), "--preprocess", kPre,
          "--calib-samples", "256", "--calibrator", "entropy", "--granularity", "tensor", "--acts", "int8",
          "--symmetric"},
         0.99},
        {{"--method", "static", "--calib", fashion("train-images-idx3-ubyte.gz"), "--preprocess", kPre,
          "--calib-samples", "256", "--format", "native"},
         0.995},
        {{"--method", "dynamic"}, 0.997},
        {{"--method", "weight-only", "--weights", "int4"}, 0.99},
        {{"--method", "weight-only", "--weights", "int8", "--granularity", "group:64"}, 0.997},
        {{"--method", "fp16"}, 0.999},
        {{"--method", "bf16"}, 0.995},
    };
    for (const auto& c : cases) {
        const fs::path out = tmp_dir() / "ptq_e2e.onnx";
        fs::remove(out);
        std::vector<std::string> args{"quantize", model.string(), out.string(), "--json"};
        args.insert(args.end(), c.args.begin(), c.args.end());
        auto r = run_cli(args);
        ASSERT_EQ(r.rc, 0) << c.args[1] << ": " << r.err;
        const auto j = nlohmann::json::parse(r.out);
        EXPECT_EQ(j.at("output").get<std::string>(), out.string());
        EXPECT_EQ(j.at("bytes").get<int64_t>(), static_cast<int64_t>(fs::file_size(out)));
        const double bpw = j.at("bits_per_weight").get<double>();
        EXPECT_GT(bpw, 2.0);
        EXPECT_LT(bpw, 17.0);
        const double acc = eval_top1(out, 2000);
        EXPECT_GE(acc / fp32, c.min_ratio) << c.args[1] << " " << (c.args.size() > 3 ? c.args[3] : "") << ": " << acc
                                           << " vs FP32 " << fp32;
    }
}

// --format native: the Conv -> Relu chains of vgg_bn become QLinearConv (Relu absorbed by the zero point), the
// hidden Gemm a quantized-output com.microsoft.QGemm, the logits Gemm a float-output QGemm; no float Conv/Gemm
// and no Relu is left, and it classifies like the QDQ file.
TEST(PtqE2E, NativeFormatIsQOperator) {
    EDGEQ_REQUIRE_SHARED(model, "assets/fashion-mnist-models/vgg_bn.onnx");
    EDGEQ_REQUIRE_FASHION();
    const fs::path qdq = tmp_dir() / "ptq_qdq.onnx", native = tmp_dir() / "ptq_native.onnx";
    for (const auto& [out, format] : {std::pair{qdq, "qdq"}, std::pair{native, "native"}}) {
        fs::remove(out);
        auto r = run_cli({"quantize", model.string(), out.string(), "--method", "static", "--calib",
                          fashion("train-images-idx3-ubyte.gz"), "--preprocess", kPre, "--calib-samples", "64",
                          "--format", format, "-q"});
        ASSERT_EQ(r.rc, 0) << format << ": " << r.err;
    }
    auto m = onnxio::load_model(native.string());
    ASSERT_TRUE(m.ok()) << m.status().message();
    std::map<std::string, int> ops;
    for (const auto& n : m->graph.nodes) ++ops[(n.domain.empty() ? "" : n.domain + ".") + n.op_type];
    EXPECT_EQ(ops["QLinearConv"], 4);
    EXPECT_EQ(ops["com.microsoft.QGemm"], 2);
    EXPECT_EQ(ops["Conv"] + ops["Gemm"] + ops["Relu"], 0);
    EXPECT_EQ(m->opset("com.microsoft"), 1);
    const double a = eval_top1(qdq, 1000), b = eval_top1(native, 1000);
    EXPECT_NEAR(a, b, 0.003) << "QDQ " << a << " vs native " << b;
}

// Dynamic and static quantization cover LSTM/GRU: int8 W and R (per gate row) behind DequantizeLinear (X and
// the states stay float: ai.onnx has no integer LSTM; the fast step runs int8 products on them); the file
// shrinks ~3x and accuracy holds.
TEST(PtqE2E, DynamicAndStaticQuantizeLstmWeights) {
    EDGEQ_REQUIRE_SHARED(model, "assets/fashion-mnist-models/lstm.onnx");
    EDGEQ_REQUIRE_FASHION();
    const double fp32 = eval_top1(model, 1000);
    for (const std::vector<std::string>& method :
         {std::vector<std::string>{"--method", "dynamic"},
          std::vector<std::string>{"--method", "static", "--calib", fashion("train-images-idx3-ubyte.gz"),
                                   "--preprocess", kPre, "--calib-samples", "64"}}) {
        SCOPED_TRACE(method[1]);
        const fs::path out = tmp_dir() / "ptq_lstm_q8.onnx";
        fs::remove(out);
        std::vector<std::string> args{"quantize", model.string(), out.string(), "--json"};
        args.insert(args.end(), method.begin(), method.end());
        auto r = run_cli(args);
        ASSERT_EQ(r.rc, 0) << r.err;
        const auto j = nlohmann::json::parse(r.out);
        bool lstm = false;
        for (const auto& n : j.at("quantized_nodes")) lstm = lstm || n.at("op").get<std::string>() == "LSTM";
        EXPECT_TRUE(lstm) << r.out;
        EXPECT_LT(fs::file_size(out), fs::file_size(model) * 4 / 10);
        const double acc = eval_top1(out, 1000);
        EXPECT_GE(acc / fp32, 0.995) << acc << " vs FP32 " << fp32;
    }
}

TEST(PtqE2E, ErrorsAreOneLineAndLeaveNoFile) {
    EDGEQ_REQUIRE_SHARED(model, "assets/fashion-mnist-models/lenet5.onnx");
    const fs::path out = tmp_dir() / "ptq_err.onnx";
    fs::remove(out);
    auto q = [&](std::vector<std::string> extra) {
        std::vector<std::string> a{"quantize", model.string(), out.string()};
        a.insert(a.end(), extra.begin(), extra.end());
        return run_cli(a);
    };
    expect_one_line_error(q({}), "--method");
    expect_one_line_error(q({"--method", "fast"}), "--method 'fast'");
    expect_one_line_error(q({"--method", "dynamic", "--weights", "int3"}), "--weights 'int3'");
    expect_one_line_error(q({"--method", "dynamic", "--weights", "int4"}), "weight-only");
    expect_one_line_error(q({"--method", "static"}), "--calib");
    expect_one_line_error(q({"--method", "static", "--calib", "x.npy", "--calibrator", "kl"}), "kl");
    expect_one_line_error(q({"--method", "weight-only", "--granularity", "group:0"}), "group:N");
    expect_one_line_error(q({"Q4_K_M", "--method", "static"}), "TYPE");
    expect_one_line_error(q({"--method", "weight-only", "--format", "native"}), "--format native");
    // Calibration data of the wrong shape, with NaN, or empty: named, before anything is written.
    const fs::path bad = tmp_dir() / "calib_bad.npy";
    ASSERT_TRUE(data::write_npy(bad.string(), Tensor(DType::F32, {4, 1, 27, 28})).ok());
    expect_one_line_error(q({"--method", "static", "--calib", bad.string()}), "calib_bad.npy");
    Tensor nan(DType::F32, {4, 1, 28, 28});
    nan.data<float>()[100] = std::nanf("");
    ASSERT_TRUE(data::write_npy(bad.string(), nan).ok());
    expect_one_line_error(q({"--method", "static", "--calib", bad.string()}), "NaN");
    ASSERT_TRUE(data::write_npy(bad.string(), Tensor(DType::F32, {0, 1, 28, 28})).ok());
    expect_one_line_error(q({"--method", "static", "--calib", bad.string()}), "no images");
    EXPECT_TRUE(no_leftovers(out));
}

// Issue 4, item 5: calibrating ultraface on 512 samples must use < 1.5x the peak memory of calibrating on 32
// (streaming histograms; the .npy calibration file is mapped and its pages released batch by batch).
TEST(PtqE2E, CalibrationMemoryDoesNotGrowWithSamples) {
    if (under_test_wrapper()) GTEST_SKIP() << "EDGEQ_TEST_WRAPPER set: peak RSS would be the wrapper's (valgrind)";
    EDGEQ_REQUIRE_SHARED(model, "assets/onnx_models/ultraface-RFB-320/version-RFB-320.onnx");
    const fs::path calib = tmp_dir() / "ultraface_calib.npy";
    {
        Tensor t(DType::U8, {512, 3, 240, 320});
        std::mt19937 rng(1);
        for (int64_t i = 0; i < t.numel(); ++i) t.data<uint8_t>()[i] = static_cast<uint8_t>(rng() >> 24);
        ASSERT_TRUE(data::write_npy(calib.string(), t).ok());
    }
    long rss[2] = {0, 0};
    const int samples[2] = {32, 512};
    for (int i = 0; i < 2; ++i) {
        const fs::path out = tmp_dir() / "ultraface_static.onnx";
        auto r = run_cli({"quantize", model.string(), out.string(), "--method", "static", "--calib", calib.string(),
                          "--preprocess", "scale=0.0078125,mean=1,std=1", "--calibrator", "percentile:99.99",
                          "--calib-samples", std::to_string(samples[i]), "--threads", "1", "--json"});
        ASSERT_EQ(r.rc, 0) << r.err;
        EXPECT_EQ(nlohmann::json::parse(r.out).at("calib_samples").get<int64_t>(), samples[i]);
        rss[i] = r.peak_rss_kb;
    }
    fs::remove(calib);
    std::printf("calibration peak RSS: 32 samples %ld KiB, 512 samples %ld KiB (ratio %.3f)\n", rss[0], rss[1],
                static_cast<double>(rss[1]) / static_cast<double>(rss[0]));
    EXPECT_LT(static_cast<double>(rss[1]), 1.5 * static_cast<double>(rss[0]));
}

}  // namespace
}  // namespace edgeq
