// `edgeq autotune` on lenet5 with a 1,200-image slice of the Fashion-MNIST test set (issue 8 item 3): the
// budget decides, the JSON carries the documented fields, the written model evaluates to the reported
// accuracy, a budget that cannot be met still writes a model and says so, and mixed ONNX / GGUF flags are
// one-line errors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_util.h"
#include "common/shared.h"
#include "fashion_util.h"

namespace edgeq {
namespace {

constexpr const char* kLimit = "1200";

std::vector<std::string> autotune_args(const fs::path& model, const fs::path& out) {
    return {"autotune",
            model.string(),
            out.string(),
            "--data",
            fashion("t10k-images-idx3-ubyte.gz"),
            "--labels",
            fashion("t10k-labels-idx1-ubyte.gz"),
            "--preprocess",
            kPre,
            "--limit",
            kLimit,
            "--sens-samples",
            "256",
            "--heldout-samples",
            "512",
            "--calib-samples",
            "128",
            "--json",
            "-q"};
}

// Runs autotune with the slice arguments plus `extra` and parses its --json (an empty object on failure).
nlohmann::json autotune_json(const fs::path& model, const fs::path& out,
                             const std::vector<std::string>& extra) {
    auto args = autotune_args(model, out);
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = run_cli(args);
    EXPECT_EQ(r.rc, 0) << r.err;
    return r.rc == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
}

double top1(const fs::path& model) {
    auto r = run_cli({"eval", model.string(), "--data", fashion("t10k-images-idx3-ubyte.gz"), "--labels",
                      fashion("t10k-labels-idx1-ubyte.gz"), "--preprocess", kPre, "--limit", kLimit, "--json",
                      "-q"});
    EXPECT_EQ(r.rc, 0) << r.err;
    return r.rc == 0 ? nlohmann::json::parse(r.out).at("value").get<double>() : -1.0;
}

TEST(Autotune, MeetsTheBudgetSmallerThanInt8AndTheFileMatchesTheReport) {
    EDGEQ_REQUIRE_SHARED(model, "assets/fashion-mnist-models/lenet5.onnx");
    EDGEQ_REQUIRE_FASHION();
    const fs::path out = tmp_dir() / "at_lenet5.onnx";
    const auto j = autotune_json(model, out, {"--max-drop", "1%", "--candidates", "int4,int8,int2"});
    ASSERT_TRUE(j.contains("budget_met")) << j.dump();
    EXPECT_EQ(j["schema"], "edgeq.result/1");
    EXPECT_EQ(j["command"], "autotune");
    EXPECT_EQ(j["output"], out.string());
    EXPECT_EQ(j["samples"], 1200);
    ASSERT_TRUE(j["budget_met"].is_boolean());
    EXPECT_TRUE(j["budget_met"].get<bool>()) << j["log"].dump(1);
    const double acc = j["accuracy"].get<double>(), fp32 = j["fp32_accuracy"].get<double>();
    EXPECT_GE(acc, fp32 - 0.01 - 1e-9);
    // starts at int8 (the highest candidate) and lowers at least one layer: below uniform int8's 8.12 bits
    const double bpw = j["bits_per_weight"].get<double>();
    EXPECT_LT(bpw, 8.0);
    EXPECT_GT(bpw, 2.0);
    // lenet5: 2 Conv + 3 Gemm, each with one of the candidates
    ASSERT_TRUE(j["precision_map"].is_object());
    EXPECT_EQ(j["precision_map"].size(), 5u) << j["precision_map"].dump();
    for (const auto& [k, v] : j["precision_map"].items())
        EXPECT_TRUE(v == "int8" || v == "int4" || v == "int2") << k << " " << v;
    ASSERT_TRUE(j["pareto"].is_array());
    ASSERT_FALSE(j["pareto"].empty());
    for (const auto& p : j["pareto"]) {
        EXPECT_TRUE(p.contains("heldout_accuracy") && p.contains("weight_bytes") &&
                    p.contains("ms_per_image"))
            << p.dump();
    }
    EXPECT_EQ(j["sensitivity"].size(), 5u);
    // the written file is the model that was measured
    ASSERT_TRUE(fs::exists(out));
    EXPECT_DOUBLE_EQ(top1(out), acc);
    EXPECT_DOUBLE_EQ(top1(model), fp32);
}

TEST(Autotune, UnreachableBudgetStillWritesTheBestModelAndSaysSo) {
    EDGEQ_REQUIRE_SHARED(model, "assets/fashion-mnist-models/lenet5.onnx");
    EDGEQ_REQUIRE_FASHION();
    const fs::path out = tmp_dir() / "at_lenet5_int2.onnx";
    // int2 everywhere is the only candidate: far below fp32 - 0.1 points
    const auto j = autotune_json(model, out, {"--max-drop", "0.1%", "--candidates", "int2"});
    ASSERT_TRUE(j.contains("budget_met")) << j.dump();
    EXPECT_FALSE(j["budget_met"].get<bool>());
    EXPECT_TRUE(fs::exists(out));
    EXPECT_LT(j["accuracy"].get<double>(), j["fp32_accuracy"].get<double>() - 0.001);
    for (const auto& [k, v] : j["precision_map"].items()) EXPECT_EQ(v, "int2") << k;
    EXPECT_DOUBLE_EQ(top1(out), j["accuracy"].get<double>());
    // the text mode says it on the result line
    auto t = autotune_args(model, tmp_dir() / "at_lenet5_int2_text.onnx");
    t.erase(std::find(t.begin(), t.end(), "--json"));
    t.erase(std::find(t.begin(), t.end(), "-q"));
    t.insert(t.end(), {"--max-drop", "0.1%", "--candidates", "int2"});
    const auto rt = run_cli(t);
    ASSERT_EQ(rt.rc, 0) << rt.err;
    EXPECT_NE(rt.out.find("budget NOT met"), std::string::npos) << rt.out;
    EXPECT_NE(rt.out.find("Pareto front"), std::string::npos) << rt.out;
}

TEST(Autotune, WrongFlagsAreOneLineErrors) {
    EDGEQ_REQUIRE_SHARED(model, "assets/fashion-mnist-models/lenet5.onnx");
    const std::string m = model.string(), o = (tmp_dir() / "at_err.onnx").string();
    const std::string g = (tmp_dir() / "at_err_in.gguf").string();
    struct FlagCase {
        std::vector<std::string> args;
        std::string expect;
    };
    const std::vector<FlagCase> cases{
        {{"autotune", m, o, "--data", "x", "--labels", "y", "--max-drop", "1%", "--max-kld", "0.1"},
         "--max-kld is for GGUF"},
        {{"autotune", m, o, "--data", "x", "--labels", "y", "--max-drop", "1%", "--ctx", "64"},
         "--ctx is for GGUF"},
        {{"autotune", m, o, "--data", "x", "--max-drop", "1%"}, "--labels"},
        {{"autotune", m, o, "--data", "x", "--labels", "y"}, "--max-drop"},
        {{"autotune", m, o, "--data", "x", "--labels", "y", "--max-drop", "5"}, "ambiguous"},
        {{"autotune", m, o, "--data", "x", "--labels", "y", "--max-drop", "1%", "--candidates", "int3"},
         "int3"},
        {{"autotune", m, o, "--data", "x", "--labels", "y", "--max-drop", "1%", "--objective", "speed"},
         "speed"},
        {{"autotune", g, o, "--data", "t.txt", "--labels", "y", "--max-kld", "0.1"}, "--labels is for ONNX"},
        {{"autotune", g, o, "--data", "t.txt", "--max-drop", "1%"}, "--max-drop is for ONNX"},
    };
    for (const auto& c : cases) {
        const auto r = run_cli(c.args);
        EXPECT_NE(r.rc, 0) << c.expect;
        EXPECT_EQ(r.err.rfind("edgeq autotune: ", 0), 0u) << r.err;
        EXPECT_NE(r.err.find(c.expect), std::string::npos) << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    }
}

}  // namespace
}  // namespace edgeq
