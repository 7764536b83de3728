// `edgeq compare REF MODEL --data ...` (issue 8 item 1): per-layer statistics of a real quantized model, QDQ and
// QOperator matching, the statistics' arithmetic on a hand-made pair, and --strict on a model whose weight holds
// a NaN (named in a one-line error, exit status non-zero).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "cli_util.h"
#include "common/shared.h"
#include "fashion_util.h"
#include "eval/compare.h"
#include "formats/onnx/onnx_export.h"
#include "formats/onnx/onnx_import.h"

namespace edgeq {
namespace {

TEST(CompareStats, SqnrCosineAndMse) {
    TensorErrorStats s;
    // ref = (3, 4), q = (3, 3): Σref² = 25, Σerr² = 1, Σq² = 18, dot = 21
    s.sum_ref2 = 25, s.sum_err2 = 1, s.sum_q2 = 18, s.dot = 21, s.count = 2;
    EXPECT_NEAR(s.sqnr_db(), 10 * std::log10(25.0), 1e-12);
    EXPECT_NEAR(s.cosine(), 21 / std::sqrt(25.0 * 18.0), 1e-12);
    EXPECT_DOUBLE_EQ(s.mse(), 0.5);
    s.sum_err2 = 0;
    EXPECT_TRUE(std::isinf(s.sqnr_db()) && s.sqnr_db() > 0);
}

fs::path quantize_lenet5(const fs::path& model, const std::string& name, const std::vector<std::string>& extra) {
    const fs::path out = tmp_dir() / name;
    std::vector<std::string> args{"quantize", model.string(), out.string(), "--method", "static", "--calib",
                                  fashion("train-images-idx3-ubyte.gz"), "--preprocess", kPre, "--calib-samples",
                                  "64", "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run_cli(args);
    EXPECT_EQ(r.rc, 0) << r.err;
    return out;
}

nlohmann::json compare_json(const fs::path& ref, const fs::path& model, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"compare", ref.string(), model.string(), "--data",
                                  fashion("t10k-images-idx3-ubyte.gz"), "--labels",
                                  fashion("t10k-labels-idx1-ubyte.gz"), "--preprocess", kPre, "--limit", "64",
                                  "--json", "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run_cli(args);
    EXPECT_EQ(r.rc, 0) << r.err;
    return r.rc == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
}

TEST(CompareE2E, StaticInt8QdqPerLayer) {
    EDGEQ_REQUIRE_SHARED(model, "assets/fashion-mnist-models/lenet5.onnx");
    EDGEQ_REQUIRE_FASHION();
    const fs::path q = quantize_lenet5(model, "c_l5_s8.onnx", {});
    const auto j = compare_json(model, q);
    ASSERT_TRUE(j.contains("layers"));
    EXPECT_EQ(j["schema"], "edgeq.result/1");
    EXPECT_EQ(j["command"], "compare");
    EXPECT_EQ(j["samples"], 64);
    // lenet5: 2 Conv, 4 Tanh, 2 AveragePool, Flatten, 3 Gemm: 12 node outputs, every one matched
    ASSERT_EQ(j["layers"].size(), 12u);
    EXPECT_EQ(j["unmatched"], 0);
    int quantized = 0;
    for (const auto& l : j["layers"]) {
        ASSERT_TRUE(l["sqnr_db"].is_number()) << l.dump();
        EXPECT_GT(l["sqnr_db"].get<double>(), 25.0) << l["name"];  // int8: ~40-50 dB here
        EXPECT_LT(l["sqnr_db"].get<double>(), 80.0) << l["name"];  // but not exact: the error is real
        EXPECT_GT(l["cosine"].get<double>(), 0.999) << l["name"];
        if (l["overflow_rate"].is_number()) {
            ++quantized;
            EXPECT_LT(l["overflow_rate"].get<double>(), 0.01);
        }
        EXPECT_EQ(l["nan"], 0);
    }
    EXPECT_GE(quantized, 3);
    // weights behind DequantizeLinear: 5 weights + 5 biases
    EXPECT_EQ(j["weights"].size(), 10u);
    EXPECT_GE(j["metrics"]["top1_agreement"].get<double>(), 0.95);
    EXPECT_NEAR(j["metrics"]["accuracy"].get<double>(), j["metrics"]["fp32_accuracy"].get<double>(), 0.05);
    EXPECT_TRUE(j["problems"].empty());
    ASSERT_TRUE(j["largest_drop"].is_object());
}

TEST(CompareE2E, QOperatorTensorsAreDequantized) {
    EDGEQ_REQUIRE_SHARED(model, "assets/fashion-mnist-models/mlp3.onnx");
    EDGEQ_REQUIRE_FASHION();
    const fs::path q = quantize_lenet5(model, "c_mlp3_native.onnx", {"--format", "native"});
    const auto j = compare_json(model, q);
    ASSERT_TRUE(j.contains("layers"));
    int from_int = 0;
    for (const auto& l : j["layers"]) {
        const std::string as = l["matched_as"];
        if (as.size() > 10 && as.substr(as.size() - 10) == "_quantized") {
            ++from_int;
            EXPECT_GT(l["sqnr_db"].get<double>(), 25.0) << l.dump();
            EXPECT_TRUE(l["overflow_rate"].is_number());
        }
    }
    EXPECT_GE(from_int, 1) << j["layers"].dump();
    EXPECT_GE(j["metrics"]["top1_agreement"].get<double>(), 0.95);
}

TEST(CompareE2E, StrictFailsOnNaNWeightAndNamesIt) {
    EDGEQ_REQUIRE_SHARED(model, "assets/fashion-mnist-models/mlp3.onnx");
    EDGEQ_REQUIRE_FASHION();
    auto m = onnxio::load_model(model.string());
    ASSERT_TRUE(m.ok()) << m.status().message();
    std::string poisoned;
    for (auto& [name, t] : m->graph.initializers)
        if (t.dtype() == DType::F32 && t.rank() == 2) {
            t.data<float>()[3] = std::numeric_limits<float>::quiet_NaN();
            poisoned = name;
            break;
        }
    ASSERT_FALSE(poisoned.empty());
    const fs::path bad = tmp_dir() / "c_mlp3_nan.onnx";
    ASSERT_TRUE(onnxio::save_model(*m, bad.string()).ok());
    const std::vector<std::string> args{"compare", model.string(), bad.string(), "--data",
                                        fashion("t10k-images-idx3-ubyte.gz"), "--preprocess", kPre, "--limit", "8",
                                        "--quiet"};
    auto lax = run_cli(args);
    EXPECT_EQ(lax.rc, 0) << lax.err;  // reported, not fatal, without --strict
    EXPECT_NE(lax.out.find("problem: MODEL weight '" + poisoned + "': 1 NaN"), std::string::npos) << lax.out;
    auto strict_args = args;
    strict_args.push_back("--strict");
    auto strict = run_cli(strict_args);
    expect_one_line_error(strict, poisoned);
    EXPECT_NE(strict.err.find("NaN"), std::string::npos) << strict.err;
}

TEST(CompareE2E, GgufPerLayerAndKld) {
    EDGEQ_REQUIRE_SHARED(f32, "fixtures/llm/models/stories260K-F32.gguf");
    EDGEQ_REQUIRE_SHARED(q8, "fixtures/llm/models/stories260K-Q8_0.gguf");
    EDGEQ_REQUIRE_SHARED(q2, "fixtures/llm/models/stories260K-Q2_K.gguf");
    EDGEQ_REQUIRE_SHARED(text, "assets/datasets/text/tinystories_sample.txt");
    auto run = [&](const fs::path& model) {
        auto r = run_cli({"compare", f32.string(), model.string(), "--data", text.string(), "--ctx", "64", "--json",
                          "--quiet"});
        EXPECT_EQ(r.rc, 0) << r.err;
        return r.rc == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
    };
    const auto self = run(f32);
    ASSERT_TRUE(self.contains("layers"));
    // stories260K: 5 blocks x (q/k/v input, attn output input, gate/up input, down input) + the classifier input
    EXPECT_EQ(self["layers"].size(), 21u);
    for (const auto& l : self["layers"]) EXPECT_TRUE(l["sqnr_db"].is_null()) << l.dump();  // exact
    EXPECT_EQ(self["kld_mean"].get<double>(), 0.0);
    EXPECT_EQ(self["top1_agreement"].get<double>(), 1.0);
    const auto a = run(q8), b = run(q2);
    ASSERT_TRUE(a.contains("layers") && b.contains("layers"));
    EXPECT_EQ(a["positions"], 64);
    EXPECT_GT(a["kld_mean"].get<double>(), 0.0);
    EXPECT_LT(a["kld_mean"].get<double>(), b["kld_mean"].get<double>());  // 8-bit loses less than 2-bit
    EXPECT_GE(a["top1_agreement"].get<double>(), 0.9);
    for (size_t i = 0; i < a["layers"].size(); ++i)
        EXPECT_GT(a["layers"][i]["sqnr_db"].get<double>(), b["layers"][i]["sqnr_db"].get<double>()) << i;
    bool saw_q8_weight = false;
    for (const auto& w : a["weights"]) saw_q8_weight |= w["type"] == "Q8_0";
    EXPECT_TRUE(saw_q8_weight);
    EXPECT_EQ(a["command"], "compare");
}

TEST(CompareE2E, BadInputsAreOneLineErrors) {
    EDGEQ_REQUIRE_SHARED(model, "assets/fashion-mnist-models/lenet5.onnx");
    auto missing = run_cli({"compare", model.string(), (tmp_dir() / "nope.onnx").string(), "--data", model.string()});
    expect_one_line_error(missing, "nope.onnx");
    auto no_data = run_cli({"compare", model.string(), model.string()});
    expect_one_line_error(no_data, "--data");
}

}  // namespace
}  // namespace edgeq
