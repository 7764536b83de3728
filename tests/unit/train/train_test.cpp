// Optimizer steps against their formulas, IDX loading and shuffling, a tiny training run that lowers the loss,
// and the trained model's ONNX export running in edgeq's own executor with the trainer's outputs.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "eval/session.h"
#include "formats/data/npy.h"
#include "formats/onnx/onnx_export.h"
#include "formats/onnx/onnx_import.h"
#include "unit/train/grad_check.h"
#include "train/models.h"
#include "train/trainer.h"

namespace edgeq::train {
namespace {

using namespace testing;

std::vector<Param> one_param(std::vector<float> v, std::vector<float> g) {
    const Shape s{static_cast<int64_t>(v.size())};
    return {Param{"p", Tensor::from_vector<float>(DType::F32, s, v), Tensor::from_vector<float>(DType::F32, s, g)}};
}

TEST(Optimizer, SgdMomentumWeightDecay) {
    OptimizerOptions o;
    o.kind = "sgd";
    o.lr = 0.1f;
    o.momentum = 0.5f;
    o.weight_decay = 0.01f;
    auto opt = make_optimizer(o).value();
    auto p = one_param({1.0f, -2.0f}, {0.5f, 0.25f});
    opt->step(p);
    // v1 = g + wd·p = {0.51, 0.23}; p1 = p − 0.1·v1
    EXPECT_FLOAT_EQ(p[0].value.data<float>()[0], 1.0f - 0.1f * 0.51f);
    EXPECT_FLOAT_EQ(p[0].value.data<float>()[1], -2.0f - 0.1f * 0.23f);
    opt->step(p);
    // v2 = 0.5·v1 + g + wd·p1
    const float p1 = 1.0f - 0.051f, v2 = 0.5f * 0.51f + 0.5f + 0.01f * p1;
    EXPECT_NEAR(p[0].value.data<float>()[0], p1 - 0.1f * v2, 1e-6);
}

TEST(Optimizer, AdamBiasCorrectedSteps) {
    OptimizerOptions o;
    o.kind = "adam";
    o.lr = 0.01f;
    auto opt = make_optimizer(o).value();
    auto p = one_param({1.0f, 1.0f}, {0.2f, -3.0f});
    opt->step(p);
    // First step: m̂ = g, v̂ = g², so p moves by lr·sign(g) (up to eps).
    EXPECT_NEAR(p[0].value.data<float>()[0], 1.0f - 0.01f, 1e-6);
    EXPECT_NEAR(p[0].value.data<float>()[1], 1.0f + 0.01f, 1e-6);
    p[0].grad.data<float>()[0] = 0.1f;
    opt->step(p);
    const double m = 0.9 * 0.1 * 0.2 + 0.1 * 0.1, v = 0.999 * 0.001 * 0.04 + 0.001 * 0.01;
    const double mh = m / (1 - 0.81), vh = v / (1 - 0.999 * 0.999);
    EXPECT_NEAR(p[0].value.data<float>()[0], 0.99 - 0.01 * mh / (std::sqrt(vh) + 1e-8), 1e-6);
}

TEST(Optimizer, RejectsBadOptions) {
    OptimizerOptions o;
    o.kind = "rmsprop";
    EXPECT_FALSE(make_optimizer(o).ok());
    o.kind = "sgd";
    o.lr = 0;
    EXPECT_FALSE(make_optimizer(o).ok());
}

// Writes an uncompressed IDX file (ubyte).
void write_idx(const std::filesystem::path& p, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
    std::ofstream f(p, std::ios::binary);
    const uint8_t head[4] = {0, 0, 8, static_cast<uint8_t>(dims.size())};
    f.write(reinterpret_cast<const char*>(head), 4);
    for (uint32_t d : dims) {
        const uint8_t be[4] = {static_cast<uint8_t>(d >> 24), static_cast<uint8_t>(d >> 16),
                               static_cast<uint8_t>(d >> 8), static_cast<uint8_t>(d)};
        f.write(reinterpret_cast<const char*>(be), 4);
    }
    f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

std::filesystem::path temp_dir(const std::string& name) {
    auto d = std::filesystem::temp_directory_path() / ("edgeq_train_" + name + "_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
}

TEST(Data, LoadsNpySplitOfAnyNumericType) {
    const auto dir = temp_dir("npy");
    Tensor img(DType::F32, {4, 3});  // [n, features] -> [n, 1, 1, features]
    for (int64_t i = 0; i < 12; ++i) img.data<float>()[i] = static_cast<float>(i) * 0.5f;
    Tensor lab(DType::I64, {4});
    for (int64_t i = 0; i < 4; ++i) lab.data<int64_t>()[i] = i % 3;
    ASSERT_TRUE(data::write_npy((dir / "train-images.npy").string(), img).ok());
    ASSERT_TRUE(data::write_npy((dir / "train-labels.npy").string(), lab).ok());
    Normalize n{1.0f, 1.0f, 2.0f};
    Dataset d = load_idx_split(dir.string(), "train", n).value();
    ASSERT_EQ(d.images.shape(), (Shape{4, 1, 1, 3}));
    EXPECT_EQ(d.classes, 3);
    EXPECT_EQ(d.labels[3], 0);
    EXPECT_FLOAT_EQ(d.images.data<float>()[5], (2.5f - 1.0f) / 2.0f);
    EXPECT_EQ(find_idx_file(dir.string(), "train", "labels").value(), (dir / "train-labels.npy").string());
    // Float labels, negative labels and NaN images are data errors naming the file.
    Tensor flab(DType::F32, {4});
    ASSERT_TRUE(data::write_npy((dir / "train-labels.npy").string(), flab).ok());
    auto bad = load_idx_split(dir.string(), "train", n);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.status().message().find("must be integers"), std::string::npos);
    lab.data<int64_t>()[1] = -2;
    ASSERT_TRUE(data::write_npy((dir / "train-labels.npy").string(), lab).ok());
    bad = load_idx_split(dir.string(), "train", n);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.status().message().find("train-labels.npy"), std::string::npos);
    lab.data<int64_t>()[1] = 1;
    ASSERT_TRUE(data::write_npy((dir / "train-labels.npy").string(), lab).ok());
    img.data<float>()[7] = std::nanf("");
    ASSERT_TRUE(data::write_npy((dir / "train-images.npy").string(), img).ok());
    bad = load_idx_split(dir.string(), "train", n);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.status().message().find("not finite"), std::string::npos);
    std::filesystem::remove_all(dir);
}

TEST(Data, LoadsIdxSplitNormalizedAndLimited) {
    const auto dir = temp_dir("idx");
    std::vector<uint8_t> img(5 * 2 * 3), lab{3, 1, 4, 1, 5};
    for (size_t i = 0; i < img.size(); ++i) img[i] = static_cast<uint8_t>(i * 8);
    write_idx(dir / "train-images-idx3-ubyte", {5, 2, 3}, img);
    write_idx(dir / "train-labels-idx1-ubyte", {5}, lab);
    Normalize n{1.0f / 255.0f, 0.5f, 0.25f};
    Dataset d = load_idx_split(dir.string(), "train", n).value();
    ASSERT_EQ(d.images.shape(), (Shape{5, 1, 2, 3}));
    EXPECT_EQ(d.classes, 6);
    EXPECT_EQ(d.labels[2], 4);
    EXPECT_FLOAT_EQ(d.images.data<float>()[7], (56.0f / 255.0f - 0.5f) / 0.25f);
    EXPECT_EQ(load_idx_split(dir.string(), "train", n, 2).value().size(), 2);
    auto missing = load_idx_split(dir.string(), "t10k", n);
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.status().message().find("t10k-images-idx3-ubyte"), std::string::npos);
    write_idx(dir / "t10k-images-idx3-ubyte", {2, 2, 3}, std::vector<uint8_t>(12));
    write_idx(dir / "t10k-labels-idx1-ubyte", {3}, {1, 2, 3});  // count mismatch
    EXPECT_FALSE(load_idx_split(dir.string(), "t10k", n).ok());
    // With a limit only the first images are read, but the headers must still agree on the count.
    auto limited = load_idx_split(dir.string(), "t10k", n, 1);
    ASSERT_FALSE(limited.ok());
    EXPECT_NE(limited.status().message().find("expected 2 labels, got 3"), std::string::npos)
        << limited.status().message();
    Dataset two = load_idx_split(dir.string(), "train", n, 2).value();
    ASSERT_EQ(two.images.shape(), (Shape{2, 1, 2, 3}));
    EXPECT_EQ(two.labels, (std::vector<int32_t>{3, 1}));
    EXPECT_FLOAT_EQ(two.images.data<float>()[7], d.images.data<float>()[7]);
    std::filesystem::remove_all(dir);
}

TEST(Data, SeededShuffleIsAPermutationAndReproducible) {
    Dataset d;
    d.images = Tensor(DType::F32, {103, 1, 1, 1});
    for (int i = 0; i < 103; ++i) {
        d.images.data<float>()[i] = static_cast<float>(i);
        d.labels.push_back(i % 7);
    }
    Batches a(d, 10, true, 42, 0), b(d, 10, true, 42, 0), c(d, 10, true, 42, 1), plain(d, 10, false, 42, 0);
    EXPECT_EQ(a.order(), b.order());
    EXPECT_NE(a.order(), c.order());
    EXPECT_EQ(std::set<int64_t>(a.order().begin(), a.order().end()).size(), 103u);
    EXPECT_EQ(plain.order()[5], 5);
    EXPECT_EQ(a.count(), 11);
    Tensor x;
    std::vector<int32_t> y;
    int64_t seen = 0, batches = 0;
    while (a.next(x, y)) {
        for (int64_t i = 0; i < x.dim(0); ++i) {
            const int64_t src = static_cast<int64_t>(x.data<float>()[i]);
            EXPECT_EQ(y[static_cast<size_t>(i)], src % 7);  // image and label stay paired
        }
        seen += x.dim(0);
        ++batches;
    }
    EXPECT_EQ(seen, 103);
    EXPECT_EQ(batches, 11);
    EXPECT_EQ(x.dim(0), 3);  // last, partial batch
}

// Synthetic 3-class 6×6 images: each class lights a different band, plus noise.
Dataset blobs(int64_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> noise(0.0f, 0.6f);
    Dataset d;
    d.classes = 3;
    d.images = Tensor(DType::F32, {n, 1, 6, 6});
    for (int64_t i = 0; i < n; ++i) {
        const int32_t c = static_cast<int32_t>(i % 3);
        d.labels.push_back(c);
        for (int64_t p = 0; p < 36; ++p)
            d.images.data<float>()[i * 36 + p] = noise(rng) + ((p / 6) / 2 == c ? 1.0f : 0.0f);
    }
    return d;
}

TEST(Training, TinyRunLowersTheLossAndLearns) {
    const Dataset train = blobs(240, 1), test = blobs(90, 2);
    for (const char* arch : {"mlp", "cnn"}) {
        for (const char* kind : {"sgd", "adam"}) {
            SCOPED_TRACE(std::string(arch) + " " + kind);
            ArchSpec s{arch, 1, 6, 6, 3, 5};
            auto net = Net::create(build_classifier(s).value(), 2).value();
            Tensor logits, x = Tensor(train.images);
            std::vector<int32_t> y = train.labels;
            ASSERT_TRUE(net.forward({{"input", train.images}}, false).ok());
            const float before = softmax_cross_entropy(net.value("logits").value(), train.labels, nullptr).value();
            FitOptions o;
            o.epochs = 4;
            o.batch = 16;
            o.optimizer.kind = kind;
            o.optimizer.lr = std::string(kind) == "sgd" ? 0.05f : 3e-3f;
            o.seed = 9;
            auto stats = fit(net, train, &test, o).value();
            ASSERT_EQ(stats.size(), 4u);
            ASSERT_TRUE(net.forward({{"input", train.images}}, false).ok());
            const float after = softmax_cross_entropy(net.value("logits").value(), train.labels, nullptr).value();
            EXPECT_LT(after, 0.5f * before);
            EXPECT_LT(stats.back().train_loss, stats.front().train_loss);
            EXPECT_GT(stats.back().test_accuracy, 0.9);  // chance is 1/3
        }
    }
}

TEST(Models, MlpHiddenWidthsAndOneRowInputs) {
    ArchSpec s{"mlp", 1, 1, 12, 2, 4, {5, 3}};  // a 1x12 window (sensor data), two hidden layers
    auto net = Net::create(build_classifier(s).value()).value();
    int64_t params = 0;
    for (const auto& p : net.params()) params += p.value.numel();
    EXPECT_EQ(params, (12 * 5 + 5) + (5 * 3 + 3) + (3 * 2 + 2));
    Tensor x(DType::F32, {7, 1, 1, 12});
    ASSERT_TRUE(net.forward({{"input", x}}, false).ok());
    EXPECT_EQ(net.value("logits").value().shape(), (Shape{7, 2}));
    s.hidden = {};  // logistic regression
    EXPECT_TRUE(build_classifier(s).ok());
    s.hidden = {4, 0};
    EXPECT_FALSE(build_classifier(s).ok());
    s.hidden = {4};
    s.arch = "cnn";  // convolutions need H, W >= 4
    EXPECT_FALSE(build_classifier(s).ok());
}

TEST(Training, ExportedOnnxRunsInEdgeqWithTheSameOutputs) {
    const Dataset train = blobs(60, 3);
    for (const char* arch : {"mlp", "cnn", "dwsep"}) {
        SCOPED_TRACE(arch);
        ArchSpec s{arch, 1, 6, 6, 3, 11};
        auto net = Net::create(build_classifier(s).value()).value();
        FitOptions o;
        o.epochs = 1;
        o.batch = 20;
        ASSERT_TRUE(fit(net, train, nullptr, o).ok());  // moves BN running statistics away from (0, 1)
        const auto path = temp_dir("export") / (std::string(arch) + ".onnx");
        ASSERT_TRUE(onnxio::save_model(net.model(), path.string()).ok());
        std::vector<std::string> warnings;  // ONNX's checker and shape inference run in load_model
        ASSERT_TRUE(onnxio::load_model(path.string(), &warnings).ok());
        EXPECT_TRUE(warnings.empty()) << warnings.front();
        auto session = Session::open(path.string()).value();
        const Tensor x = Tensor(train.images);
        auto got = session->run({{"input", x}}).value().at("logits");
        ASSERT_TRUE(net.forward({{"input", x}}, false).ok());
        const Tensor want = net.value("logits").value();
        ASSERT_EQ(got.shape(), want.shape());
        for (int64_t i = 0; i < want.numel(); ++i)
            EXPECT_NEAR(got.data<float>()[i], want.data<float>()[i], 1e-3f * (1 + std::fabs(want.data<float>()[i])))
                << i;
        std::filesystem::remove_all(path.parent_path());
    }
}

}  // namespace
}  // namespace edgeq::train
