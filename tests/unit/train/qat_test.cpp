// QAT pieces (train/qat.h): grid snapping and the MSE step search against their definitions, and qat_onnx on
// a small CNN with BatchNormalization (folded, fake-quantized, fine-tuned, exported through the PTQ
// quantizer).
#include "train/qat.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "train/models.h"
#include "unit/train/grad_check.h"

namespace edgeq::train {
namespace {

using namespace testing;

TEST(Qat, SnapToGridPerChannelFollowsTheDefinition) {
    std::mt19937 rng(3);
    Tensor w = random_tensor({3, 5, 2}, rng);  // axis 1: 5 channels of 3 x 2 values
    const Tensor orig = w.clone();
    const std::vector<float> s{0.05f, 0.5f, 0.2f, 0.11f, 1.0f};
    const int64_t exact = snap_to_grid(w, s, 1, 7);
    int64_t want_exact = 0;
    for (int64_t c = 0; c < 5; ++c) {
        float top = 0;
        for (int64_t o = 0; o < 3; ++o)
            for (int64_t i = 0; i < 2; ++i) {
                const int64_t k = (o * 5 + c) * 2 + i;
                const float v = orig.data<float>()[k] / s[static_cast<size_t>(c)];
                const float q = std::min(std::max(std::nearbyint(v), -7.0f), 7.0f);
                EXPECT_FLOAT_EQ(w.data<float>()[k], q * s[static_cast<size_t>(c)]) << k;
                top = std::max(top, std::fabs(q));
            }
        want_exact += top == 7.0f;
    }
    EXPECT_EQ(exact, want_exact);
    EXPECT_GT(exact, 0);  // s = 0.05 saturates
    EXPECT_LT(exact, 5);  // s = 1.0 does not
}

TEST(Qat, MseStepsPickTheBestClipRatio) {
    // One channel with an outlier: clipping it beats the min-max step; a uniform channel keeps min-max.
    Tensor w(DType::F32, {2, 8});
    const float a[16] = {0.1f, -0.12f, 0.09f, 0.11f,  -0.1f, 0.08f, 0.1f,  3.0f,
                         1.0f, -0.75f, 0.5f,  -0.25f, 0.0f,  0.25f, -0.5f, 0.75f};
    std::copy(a, a + 16, w.data<float>());
    const auto s = mse_steps(w, 0, true, 1);
    ASSERT_EQ(s.size(), 2u);
    auto err = [&](int64_t c, float st) {
        double e = 0;
        for (int64_t i = 0; i < 8; ++i) {
            const float v = a[c * 8 + i];
            const double d = std::min(std::max(std::nearbyint(v / st), -1.0f), 1.0f) * st - v;
            e += d * d;
        }
        return e;
    };
    for (int64_t c = 0; c < 2; ++c) {
        const float mx = c == 0 ? 3.0f : 1.0f;
        for (int k = 0; k <= 14; ++k)
            EXPECT_LE(err(c, s[static_cast<size_t>(c)]),
                      err(c, (1.0f - 0.05f * static_cast<float>(k)) * mx) + 1e-9)
                << c << " " << k;
    }
    const auto t = mse_steps(w, 0, false, 7);
    ASSERT_EQ(t.size(), 1u);
    EXPECT_GT(t[0], 0.0f);
}

Dataset tiny_set(int64_t n, uint64_t seed) {
    // Two classes separable by the mean brightness of the left vs the right half of a 6x6 image.
    std::mt19937 rng(static_cast<unsigned>(seed));
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    Dataset d;
    d.images = Tensor(DType::F32, {n, 1, 6, 6});
    d.classes = 2;
    for (int64_t i = 0; i < n; ++i) {
        const int32_t y = static_cast<int32_t>(i % 2);
        d.labels.push_back(y);
        for (int64_t p = 0; p < 36; ++p)
            d.images.data<float>()[i * 36 + p] = u(rng) * 0.5f + (((p % 6) < 3) == (y == 0) ? 0.6f : -0.6f);
    }
    return d;
}

TEST(Qat, CnnWithBatchNormIsFoldedTrainedAndExportedAsQdq) {
    ArchSpec spec{"cnn", 1, 6, 6, 2, 1};
    auto model = build_classifier(spec).value();
    const Dataset train = tiny_set(64, 1);
    QatOptions o;
    o.weights = quant::ptq::QType::I4;
    o.fit.epochs = 1;
    o.fit.batch = 16;
    o.fit.optimizer.lr = 1e-3f;
    o.calib_samples = 32;
    auto r = qat_onnx(model, o, train, nullptr);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->batchnorms_folded, 2);
    EXPECT_EQ(r->weights_fake_quantized, 4);  // 2 Conv + 2 Gemm
    EXPECT_EQ(r->acts_fake_quantized, 4);
    ASSERT_EQ(r->epochs.size(), 1u);
    EXPECT_TRUE(std::isfinite(r->epochs[0].train_loss));
    EXPECT_EQ(r->ptq.nodes.size(), 4u);
    int q = 0, dq = 0;
    for (const graph::Node& n : model.graph.nodes) {
        EXPECT_NE(n.op_type, "FakeQuant");
        EXPECT_NE(n.op_type, "BatchNormalization");
        q += n.op_type == "QuantizeLinear";
        dq += n.op_type == "DequantizeLinear";
    }
    EXPECT_GT(q, 0);
    EXPECT_GT(dq, q);  // weights and biases too
    EXPECT_LE(r->channels_exact, r->channels_total);
    EXPECT_GT(r->channels_total, 0);
}

TEST(Qat, RejectsUnsupportedWeightTypes) {
    ArchSpec spec{"mlp", 1, 4, 4, 2, 0};
    auto model = build_classifier(spec).value();
    QatOptions o;
    o.weights = quant::ptq::QType::U8;
    auto r = qat_onnx(model, o, tiny_set(8, 0), nullptr);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("expected int8, int4 or int2"), std::string::npos);
}

}  // namespace
}  // namespace edgeq::train
