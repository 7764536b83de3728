// The deployment scenarios of docs/scenarios.md at small scale, so the recipes in scripts/scenarios.sh cannot rot:
//   (a) IoT sensor anomaly detection: edgeq-sensor-gen -> edgeq train --arch mlp --hidden -> quantize dynamic INT8
//       -> eval --json (accuracy, per-class precision/recall/F1) for FP32 and INT8;
//   (d) safety-critical: lenet5 -> FP16 and static INT8 -> compare --strict (no NaN/Inf/extremes, per-layer SQNR),
//       accuracy, quantize twice and run twice bit-identical.
// Also per_class_stats (eval/classify.h) on a hand-made confusion matrix.
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "cli_util.h"
#include "common/shared.h"
#include "edgeq/tensor.h"
#include "eval/classify.h"
#include "fashion_util.h"
#include "formats/data/npy.h"

namespace edgeq {
namespace {

constexpr const char* kSensorPre = "scale=0.0078125,mean=1,std=1";

TEST(Scenarios, PerClassStatsFromTheConfusionMatrix) {
    ClassifyResult r;
    r.classes = 2;
    r.confusion = {90, 10,   // label 0: 90 right, 10 predicted as 1
                   5, 45};   // label 1: 5 missed, 45 found
    const auto s = per_class_stats(r);
    ASSERT_EQ(s.size(), 2u);
    EXPECT_EQ(s[1].support, 50);
    EXPECT_EQ(s[1].predicted, 55);
    EXPECT_EQ(s[1].true_positives, 45);
    EXPECT_DOUBLE_EQ(s[1].precision, 45.0 / 55.0);
    EXPECT_DOUBLE_EQ(s[1].recall, 45.0 / 50.0);
    EXPECT_NEAR(s[1].f1, 2 * (45.0 / 55) * (45.0 / 50) / (45.0 / 55 + 45.0 / 50), 1e-12);
    EXPECT_DOUBLE_EQ(s[0].recall, 0.9);
    r.confusion = {3, 0, 0, 0};  // class 1 never seen nor predicted: 0, not NaN
    EXPECT_EQ(per_class_stats(r)[1].f1, 0.0);
}

nlohmann::json eval_json(const fs::path& model, const fs::path& data, const std::string& pre, const char* limit) {
    auto r = run_cli({"eval", model.string(), "--data", (data / "t10k-images-idx3-ubyte").string(), "--labels",
                      (data / "t10k-labels-idx1-ubyte").string(), "--preprocess", pre, "--limit", limit, "--json", "-q"});
    EXPECT_EQ(r.rc, 0) << r.err;
    return r.rc == 0 ? nlohmann::json::parse(r.out) : nlohmann::json{};
}

TEST(Scenarios, IotSensorAnomalyDetectionInt8Dynamic) {
    const fs::path dir = tmp_dir() / "scenario_a", data = dir / "data", data2 = dir / "data2";
    const std::string gen = std::string(EDGEQ_BINARY_DIR) + "/edgeq-sensor-gen";
    for (const auto& d : {data, data2}) {
        const std::string cmd = gen + " " + d.string() + " --train 8000 --test 1000 --seed 3 > /dev/null";
        ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    }
    EXPECT_EQ(slurp(data / "train-images-idx3-ubyte"), slurp(data2 / "train-images-idx3-ubyte"));  // deterministic
    EXPECT_EQ(slurp(data / "t10k-labels-idx1-ubyte"), slurp(data2 / "t10k-labels-idx1-ubyte"));
    EXPECT_NE(slurp(data / "train-images-idx3-ubyte").substr(16, 6400),
              slurp(data / "t10k-images-idx3-ubyte").substr(16, 6400));  // other stream for the test split

    const fs::path fp32 = dir / "sensor.onnx", int8 = dir / "sensor-int8.onnx";
    auto t = run_cli({"train", "--arch", "mlp", "--hidden", "32,16", "--data", data.string(), "--epochs", "20",
                      "--preprocess", kSensorPre, "--threads", "1", "-o", fp32.string(), "--json", "-q"});
    ASSERT_EQ(t.rc, 0) << t.err;
    const auto tj = nlohmann::json::parse(t.out);
    EXPECT_EQ(tj["parameters"], (64 * 32 + 32) + (32 * 16 + 16) + (16 * 2 + 2));  // a few thousand
    auto q = run_cli({"quantize", fp32.string(), int8.string(), "--method", "dynamic", "--weights", "int8", "-q"});
    ASSERT_EQ(q.rc, 0) << q.err;
    EXPECT_LT(fs::file_size(int8), fs::file_size(fp32) * 6 / 10);

    const auto ef = eval_json(fp32, data, kSensorPre, "0"), ei = eval_json(int8, data, kSensorPre, "0");
    ASSERT_TRUE(ef.contains("per_class") && ei.contains("per_class"));
    EXPECT_EQ(ef["count"], 1000);
    EXPECT_GT(ef["value"].get<double>(), 0.93);  // chance (all normal) is ~0.75
    EXPECT_NEAR(ei["value"].get<double>(), ef["value"].get<double>(), 0.02);
    const auto& anomaly = ef["per_class"][1];
    EXPECT_EQ(anomaly["support"].get<int64_t>() + ef["per_class"][0]["support"].get<int64_t>(), 1000);
    EXPECT_GT(anomaly["f1"].get<double>(), 0.85);
    EXPECT_GT(ei["per_class"][1]["f1"].get<double>(), 0.85);
    // The model's own record of the preprocessing matches what eval was given (tj), and eval agrees with train.
    EXPECT_EQ(tj["test_correct"], ef["correct"]);
}

TEST(Scenarios, SafetyCriticalFp16AndInt8FullValidation) {
    EDGEQ_REQUIRE_FASHION();
    EDGEQ_REQUIRE_SHARED(model, "assets/fashion-mnist-models/lenet5.onnx");
    const fs::path dir = tmp_dir() / "scenario_d";
    fs::create_directories(dir);
    const std::string images = fashion("t10k-images-idx3-ubyte.gz"), labels = fashion("t10k-labels-idx1-ubyte.gz");
    const fs::path fp16 = dir / "lenet5-fp16.onnx", int8 = dir / "lenet5-int8.onnx", int8b = dir / "lenet5-int8-b.onnx";
    ASSERT_EQ(run_cli({"quantize", model.string(), fp16.string(), "--method", "fp16", "-q"}).rc, 0);
    for (const auto& out : {int8, int8b}) {
        auto q = run_cli({"quantize", model.string(), out.string(), "--method", "static", "--weights", "int8",
                          "--calib", fashion("train-images-idx3-ubyte.gz"), "--preprocess", kPre, "--calib-samples",
                          "64", "-q"});
        ASSERT_EQ(q.rc, 0) << q.err;
    }
    EXPECT_EQ(slurp(int8), slurp(int8b));  // two quantize runs, same bytes

    for (const auto& m : {fp16, int8}) {
        SCOPED_TRACE(m.filename().string());
        auto c = run_cli({"compare", model.string(), m.string(), "--data", images, "--labels", labels, "--preprocess",
                          kPre, "--limit", "200", "--strict", "--json", "-q"});
        ASSERT_EQ(c.rc, 0) << c.err;
        const auto j = nlohmann::json::parse(c.out);
        EXPECT_TRUE(j["problems"].empty()) << j["problems"].dump();
        ASSERT_FALSE(j["layers"].empty());
        for (const auto& l : j["layers"]) {
            EXPECT_EQ(l["nan"], 0) << l["name"];
            EXPECT_EQ(l["inf"], 0) << l["name"];
            EXPECT_EQ(l["extreme"], 0) << l["name"];
        }
        const auto& out = j["outputs"][0];
        EXPECT_GT(out["sqnr_db"].get<double>(), m == fp16 ? 50.0 : 15.0);
        EXPECT_GT(out["top1_agreement"].get<double>(), m == fp16 ? 0.99 : 0.95);
        EXPECT_GT(j["metrics"]["accuracy"].get<double>(), j["metrics"]["fp32_accuracy"].get<double>() - 0.03);
    }

    // Two inferences on the same input write the same bytes (FP16 and INT8, 1 and 2 threads).
    Tensor x(DType::F32, {1, 1, 28, 28});
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>((i * 37) % 255) / 255.0f - 0.3f;
    const fs::path in = dir / "x.npy";
    ASSERT_TRUE(data::write_npy(in.string(), x).ok());
    for (const auto& m : {fp16, int8}) {
        std::string first;
        for (const char* threads : {"1", "1", "2"}) {
            const fs::path od = dir / ("run_" + m.stem().string() + "_" + threads);
            auto r = run_cli({"run", m.string(), "--input", "input=" + in.string(), "--output-dir", od.string(),
                              "--threads", threads});
            ASSERT_EQ(r.rc, 0) << r.err;
            const std::string bytes = slurp(od / "logits.npy");
            ASSERT_FALSE(bytes.empty());
            if (first.empty()) first = bytes;
            EXPECT_EQ(bytes, first) << m << " threads " << threads;
        }
    }
}

// compare without --batch on a model whose batch dimension is fixed at 1 (ultraface, mnist-8) uses that batch
// (it used to ask for 16 and fail); with a dynamic batch it still batches.
TEST(Scenarios, CompareUsesTheModelsFixedBatch) {
    EDGEQ_REQUIRE_SHARED(model, "assets/onnx_models/mnist-8/model.onnx");
    EDGEQ_REQUIRE_SHARED(images, "assets/datasets/mnist/t10k-images-idx3-ubyte.gz");
    const fs::path fp16 = tmp_dir() / "mnist8-fp16.onnx";
    ASSERT_EQ(run_cli({"quantize", model.string(), fp16.string(), "--method", "fp16", "-q"}).rc, 0);
    auto c = run_cli({"compare", model.string(), fp16.string(), "--data", images.string(), "--limit", "5", "--json",
                      "-q"});
    ASSERT_EQ(c.rc, 0) << c.err;
    EXPECT_EQ(nlohmann::json::parse(c.out)["samples"], 5);
    auto bad = run_cli({"compare", model.string(), fp16.string(), "--data", images.string(), "--batch", "4"});
    expect_one_line_error(bad, "fixed batch of 1");
}

}  // namespace
}  // namespace edgeq
