// Real ONNX models against ONNX Runtime: outputs on ORT's fixture inputs (../shared/fixtures/ort), the model
// zoo's own test data, top-1 accuracy on the full test sets, and optimized vs unoptimized graphs.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/shared.h"
#include "e2e/cli_util.h"
#include "eval/session.h"
#include "formats/data/npy.h"
#include "formats/onnx/onnx_import.h"

namespace edgeq {
namespace {

struct Diff {
    double max_abs = 0, max_ref = 0;
    int64_t argmax_mismatch = 0;
};

Diff compare(const Tensor& got, const Tensor& want) {
    Diff d;
    const auto a = got.to_f32(), b = want.to_f32();
    EXPECT_EQ(got.shape(), want.shape());
    if (a.size() != b.size()) return {INFINITY, 0, 0};
    for (size_t i = 0; i < a.size(); ++i) {
        d.max_abs = std::max(d.max_abs, std::fabs(static_cast<double>(a[i]) - b[i]));
        d.max_ref = std::max(d.max_ref, std::fabs(static_cast<double>(b[i])));
    }
    return d;
}

// Every model and case in fixtures/ort/index.json, optimized and not: max |edgeq - ORT| <= 1e-4, scaled by the
// output's magnitude where logits are large (mnist-8 reaches 8000: 1e-4 relative there).
TEST(OnnxModels, MatchOnnxRuntimeOutputs) {
    EDGEQ_REQUIRE_SHARED(index_path, "fixtures/ort/index.json");
    const auto index = nlohmann::json::parse(std::ifstream(index_path));
    const auto root = test::shared_dir();
    int cases = 0;
    for (const auto& [name, m] : index["models"].items()) {
        for (int mode = 0; mode < 3; ++mode) {  // reference as imported, reference optimized, fast optimized
            const bool optimize = mode > 0;
            SessionOptions so;
            so.optimize = optimize;
            so.reference = mode < 2;
            so.threads = 1;
            auto session = Session::open((root / m["model"].get<std::string>()).string(), so);
            ASSERT_TRUE(session.ok()) << name << ": " << session.status().message();
            for (const auto& c : m["cases"]) {
                std::map<std::string, Tensor> feeds;
                for (const auto& [in_name, in] : c["inputs"].items()) {
                    auto t = data::read_npy((root / in["file"].get<std::string>()).string());
                    ASSERT_TRUE(t.ok()) << t.status().message();
                    feeds[in_name] = *t;
                }
                auto outs = (*session)->run(feeds);
                ASSERT_TRUE(outs.ok()) << name << " " << c["id"] << ": " << outs.status().message();
                for (const auto& [out_name, out] : c["outputs"].items()) {
                    auto want = data::read_npy((root / out["file"].get<std::string>()).string());
                    ASSERT_TRUE(want.ok()) << want.status().message();
                    const Diff d = compare(outs->at(out_name), *want);
                    const double tol = 1e-4 * std::max(1.0, d.max_ref / 100.0);
                    EXPECT_LE(d.max_abs, tol) << name << " " << c["id"].get<std::string>() << " output " << out_name
                                              << " mode " << mode << ": max |diff| " << d.max_abs
                                              << ", max |ref| " << d.max_ref;
                    std::printf("%-18s %-8s %-18s %-10s max|diff| %.3g\n", name.c_str(), c["id"].get<std::string>().c_str(),
                                out_name.c_str(), mode == 0 ? "ref" : mode == 1 ? "ref+opt" : "fast+opt", d.max_abs);
                    ++cases;
                }
            }
        }
    }
    EXPECT_GT(cases, 0);
}

// mnist-8's own test_data_set_{0,1,2} (model zoo): ONNX's protobuf tensors.
TEST(OnnxModels, Mnist8ZooTestData) {
    EDGEQ_REQUIRE_SHARED(model, "assets/onnx_models/mnist-8/model.onnx");
    auto session = Session::open(model.string());
    ASSERT_TRUE(session.ok()) << session.status().message();
    for (int k = 0; k < 3; ++k) {
        const auto dir = model.parent_path() / ("test_data_set_" + std::to_string(k));
        auto in = onnxio::load_tensor_pb((dir / "input_0.pb").string());
        auto want = onnxio::load_tensor_pb((dir / "output_0.pb").string());
        ASSERT_TRUE(in.ok() && want.ok());
        auto outs = (*session)->run({{"Input3", *in}});
        ASSERT_TRUE(outs.ok()) << outs.status().message();
        const Diff d = compare(outs->at("Plus214_Output_0"), *want);
        EXPECT_LE(d.max_abs, 1e-3 * std::max(1.0, d.max_ref / 100.0)) << "test_data_set_" << k;
    }
}

struct Acc {
    const char* model;
    const char* images;
    const char* labels;
    const char* preprocess;
    double want;  // ONNX Runtime's top-1 on the same set (fixtures/ort/accuracy.json)
};

class Accuracy : public ::testing::TestWithParam<Acc> {};

// Full 10,000-image test sets through the CLI: `edgeq eval --json` equals ONNX Runtime's top-1.
TEST_P(Accuracy, Top1EqualsOnnxRuntime) {
    const Acc a = GetParam();
    EDGEQ_REQUIRE_SHARED(model, a.model);
    std::string images = a.images, labels = a.labels;
    if (images.rfind("/usr/", 0) != 0) {
        EDGEQ_REQUIRE_SHARED(im, a.images);
        EDGEQ_REQUIRE_SHARED(lb, a.labels);
        images = im.string();
        labels = lb.string();
    } else if (!fs::exists(images)) {
        GTEST_SKIP() << images << " missing (Debian package dataset-fashion-mnist; scripts/install-deps.sh installs it)";
    }
    std::vector<std::string> args{"eval", model.string(), "--data", images, "--labels", labels, "--json"};
    if (*a.preprocess) {
        args.push_back("--preprocess");
        args.push_back(a.preprocess);
    }
    // Under EDGEQ_TEST_WRAPPER (valgrind runs vgg_bn's 10,000 images for hours) the same code paths on the first
    // 500 images: the exact value is checked by the plain run, the wrapped one checks memory and a sane result.
    const bool small = under_test_wrapper();
    if (small) {
        args.push_back("--limit");
        args.push_back("500");
    }
    auto r = run_cli(args);
    ASSERT_EQ(r.rc, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["metric"], "top1");
    if (small) {
        EXPECT_EQ(j["count"], 500);
        EXPECT_NEAR(j["value"].get<double>(), a.want, 0.05) << a.model;
        return;
    }
    EXPECT_EQ(j["count"], 10000);
    EXPECT_NEAR(j["value"].get<double>(), a.want, 1e-9) << a.model;
}

constexpr const char* kFashionNorm = "scale=0.00392156862745098,mean=0.2860,std=0.3530";
#define FASHION(m, acc)                                                                                     \
    Acc {                                                                                                   \
        "assets/fashion-mnist-models/" m ".onnx", "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", \
            "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz", kFashionNorm, acc                \
    }
INSTANTIATE_TEST_SUITE_P(
    Models, Accuracy,
    ::testing::Values(Acc{"assets/onnx_models/mnist-8/model.onnx", "assets/datasets/mnist/t10k-images-idx3-ubyte.gz",
                          "assets/datasets/mnist/t10k-labels-idx1-ubyte.gz", "", 0.9891},
                      Acc{"assets/onnx_models/mnist-7/model.onnx", "assets/datasets/mnist/t10k-images-idx3-ubyte.gz",
                          "assets/datasets/mnist/t10k-labels-idx1-ubyte.gz", "", 0.9891},
                      FASHION("lenet5", 0.8813), FASHION("mlp3", 0.8858), FASHION("vgg_bn", 0.9207),
                      FASHION("lstm", 0.8786)),
    [](const auto& i) {
        std::string s = fs::path(i.param.model).stem().string();
        if (s == "model") s = fs::path(i.param.model).parent_path().filename().string();
        for (char& ch : s)
            if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
        return s;
    });

TEST(RunCli, WritesOutputsAsNpy) {
    EDGEQ_REQUIRE_SHARED(model, "assets/fashion-mnist-models/lenet5.onnx");
    EDGEQ_REQUIRE_SHARED(in, "fixtures/ort/lenet5.input-0.input.npy");
    EDGEQ_REQUIRE_SHARED(want, "fixtures/ort/lenet5.input-0.logits.npy");
    const fs::path dir = tmp_dir() / "run_out";
    auto r = run_cli({"run", model.string(), "--input", "input=" + in.string(), "--output-dir", dir.string()});
    ASSERT_EQ(r.rc, 0) << r.err;
    auto got = data::read_npy((dir / "logits.npy").string());
    ASSERT_TRUE(got.ok()) << got.status().message();
    auto ref = data::read_npy(want.string());
    ASSERT_TRUE(ref.ok());
    EXPECT_LE(compare(*got, *ref).max_abs, 1e-4);
    expect_one_line_error(run_cli({"run", model.string(), "--input", "nope=" + in.string()}), "no input 'nope'");
    expect_one_line_error(run_cli({"run", "/nonexistent.onnx"}), "nonexistent.onnx");
    // a truncated model: one clear line naming the file, no crash
    const fs::path trunc = tmp_dir() / "truncated.onnx";
    {
        const std::string all = slurp(model);
        std::ofstream(trunc, std::ios::binary).write(all.data(), static_cast<std::streamsize>(all.size() / 2));
    }
    expect_one_line_error(run_cli({"run", trunc.string(), "--input", "input=" + in.string()}), "truncated.onnx");
    expect_one_line_error(run_cli({"eval", model.string(), "--data", in.string(), "--labels", in.string(), "--metric", "top5"}),
                          "supported: top1");
}

}  // namespace
}  // namespace edgeq
