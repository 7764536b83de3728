// edgeq train on the real Fashion-MNIST (Debian dataset-fashion-mnist): one short epoch on a subset must learn
// (accuracy far above the 10 % of chance), and `edgeq eval` on the written ONNX must count exactly the hits the
// trainer reported. Bad arguments give one-line errors.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/cli_util.h"

namespace edgeq {
namespace {

const char* kFashionDir = "/usr/share/datasets/fashion-mnist";

TEST(TrainE2E, ShortCnnRunLearnsAndEvalAgrees) {
    if (!fs::exists(fs::path(kFashionDir) / "t10k-images-idx3-ubyte.gz"))
        GTEST_SKIP() << "Debian dataset-fashion-mnist not installed (" << kFashionDir << ")";
    const fs::path out = tmp_dir() / "train_cnn.onnx";
    // Under EDGEQ_TEST_WRAPPER (valgrind: this float code runs a few hundred times slower there; ASan) the same
    // checks on the first 1000 test images (--test-limit / eval --limit): three evaluations of all 10k images
    // were three quarters of the work.
    const int64_t n_test = under_test_wrapper() ? 1000 : 10000;
    const std::string limit = std::to_string(n_test);
    auto r = run_cli({"train", "--arch", "cnn", "--data", kFashionDir, "--epochs", "1", "--limit", "2000", "--batch",
                      "32", "--seed", "1", "--threads", "2", "--test-limit", limit, "-o", out.string(), "--json",
                      "--quiet"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_TRUE(r.err.empty()) << r.err;  // --quiet
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["train_examples"], 2000);
    EXPECT_EQ(j["test_count"], n_test);
    EXPECT_EQ(j["schema"], "edgeq.result/1");
    EXPECT_EQ(j["method"], "fp32");
    EXPECT_EQ(j["metrics"]["accuracy"], j["test_accuracy"]);
    EXPECT_GT(j["test_accuracy"].get<double>(), 0.6);
    ASSERT_EQ(j["epochs"].size(), 1u);
    EXPECT_GT(j["epochs"][0]["test_accuracy"].get<double>(), 0.6);

    auto e = run_cli({"eval", out.string(), "--data", std::string(kFashionDir) + "/t10k-images-idx3-ubyte.gz",
                      "--labels", std::string(kFashionDir) + "/t10k-labels-idx1-ubyte.gz", "--preprocess",
                      j["preprocess"].get<std::string>(), "--limit", limit, "--json"});
    ASSERT_EQ(e.rc, 0) << e.err;
    const auto ej = nlohmann::json::parse(e.out);
    EXPECT_EQ(ej["correct"], j["test_correct"]);
    // The trainer's own inference forward agrees with the exported file to within a few (20) near-tied images.
    EXPECT_NEAR(j["epochs"][0]["test_accuracy"].get<double>(), ej["value"].get<double>(),
                20.0 / static_cast<double>(n_test));
}

TEST(TrainE2E, BadArgumentsAreOneLineErrors) {
    const fs::path out = tmp_dir() / "bad.onnx";
    expect_one_line_error(run_cli({"train", "--arch", "resnet", "--data", kFashionDir, "--epochs", "1", "-o", out.string()}),
                          "--arch 'resnet'");
    expect_one_line_error(
        run_cli({"train", "--arch", "mlp", "--data", kFashionDir, "--epochs", "1", "--optimizer", "rmsprop", "-o", out.string()}),
        "--optimizer 'rmsprop'");
    expect_one_line_error(run_cli({"train", "--arch", "mlp", "--data", "/nonexistent", "--epochs", "1", "-o", out.string()}),
                          "train-images-idx3-ubyte");
    expect_one_line_error(run_cli({"train", "--arch", "mlp", "--data", kFashionDir, "--epochs", "0", "-o", out.string()}),
                          "--epochs");
    EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace edgeq
