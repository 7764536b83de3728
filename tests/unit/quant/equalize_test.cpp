// Cross-layer equalization and bias correction (src/quant/ptq/equalize.h): the FP32 function is unchanged,
// per-tensor INT8 error drops on badly scaled channels, bias correction removes the mean output shift.
#include "quant/ptq/equalize.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace edgeq::quant::ptq {
namespace {

constexpr uint32_t kEqSeed = 20190611;

std::vector<float> gaussian(int64_t count, std::mt19937& rng, float sigma = 1.0f) {
    std::normal_distribution<float> nd(0.0f, sigma);
    std::vector<float> v(static_cast<size_t>(count));
    for (auto& e : v) e = nd(rng);
    return v;
}

struct Layer {
    WeightShape shape;
    std::vector<float> w, b;
    LayerWeights view() { return {w, b, shape}; }
};

// Fully connected: x [n, in] -> y [n, out], for the kOutIn (spatial 1) and kInOut layouts.
std::vector<float> dense(const Layer& l, const std::vector<float>& x, int64_t n) {
    const int64_t I = l.shape.in_channels, O = l.shape.out_channels;
    std::vector<float> y(static_cast<size_t>(n * O));
    for (int64_t s = 0; s < n; ++s) {
        for (int64_t o = 0; o < O; ++o) {
            double acc = l.b.empty() ? 0.0 : l.b[static_cast<size_t>(o)];
            for (int64_t i = 0; i < I; ++i) {
                const size_t at =
                    static_cast<size_t>(l.shape.layout == WeightLayout::kOutIn ? o * I + i : i * O + o);
                acc += static_cast<double>(l.w[at]) * x[static_cast<size_t>(s * I + i)];
            }
            y[static_cast<size_t>(s * O + o)] = static_cast<float>(acc);
        }
    }
    return y;
}

// Conv NCHW, stride 1, square kernel kk (spatial = kk*kk), zero padding kk/2; kOutIn (group 1) or kDepthwise.
std::vector<float> conv(const Layer& l, const std::vector<float>& x, int64_t n, int64_t h, int64_t wd) {
    const int64_t O = l.shape.out_channels, I = l.shape.in_channels;
    const auto kk = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(l.shape.spatial))));
    const int64_t pad = kk / 2;
    const bool dw = l.shape.layout == WeightLayout::kDepthwise;
    std::vector<float> y(static_cast<size_t>(n * O * h * wd));
    for (int64_t s = 0; s < n; ++s) {
        for (int64_t o = 0; o < O; ++o) {
            for (int64_t py = 0; py < h; ++py) {
                for (int64_t px = 0; px < wd; ++px) {
                    double acc = l.b.empty() ? 0.0 : l.b[static_cast<size_t>(o)];
                    for (int64_t i = dw ? o : 0; i < (dw ? o + 1 : I); ++i) {
                        for (int64_t ky = 0; ky < kk; ++ky) {
                            for (int64_t kx = 0; kx < kk; ++kx) {
                                const int64_t iy = py + ky - pad, ix = px + kx - pad;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                const int64_t wi =
                                    dw ? o * kk * kk + ky * kk + kx : ((o * I + i) * kk + ky) * kk + kx;
                                acc += static_cast<double>(l.w[static_cast<size_t>(wi)]) *
                                       x[static_cast<size_t>(((s * I + i) * h + iy) * wd + ix)];
                            }
                        }
                    }
                    y[static_cast<size_t>(((s * O + o) * h + py) * wd + px)] = static_cast<float>(acc);
                }
            }
        }
    }
    return y;
}

std::vector<float> relu(std::vector<float> v) {
    for (auto& e : v) e = std::max(e, 0.0f);
    return v;
}

// Per-tensor symmetric INT8 round-to-nearest (scale = max|w| / 127), dequantized.
std::vector<float> int8_per_tensor(const std::vector<float>& w) {
    float amax = 0;
    for (float v : w) amax = std::max(amax, std::fabs(v));
    const float scale = amax > 0 ? amax / 127.0f : 1.0f;
    std::vector<float> q(w.size());
    for (size_t i = 0; i < w.size(); ++i)
        q[i] = std::clamp(std::nearbyint(w[i] / scale), -127.0f, 127.0f) * scale;
    return q;
}

Layer quantized(const Layer& l) {
    Layer q = l;
    q.w = int8_per_tensor(l.w);
    return q;
}

double mse(const std::vector<float>& a, const std::vector<float>& b) {
    double e = 0;
    for (size_t i = 0; i < a.size(); ++i)
        e += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    return e / static_cast<double>(a.size());
}

// Equal within 1e-5 of the output's scale (max |y|): rescaled float weights round differently, and sums with
// cancellation turn that into a small absolute error, not a relative one per element.
void expect_same_function(const std::vector<float>& ref, const std::vector<float>& got) {
    ASSERT_EQ(ref.size(), got.size());
    float scale = 1.0f;
    for (float v : ref) scale = std::max(scale, std::fabs(v));
    for (size_t i = 0; i < ref.size(); ++i) {
        ASSERT_NEAR(got[i], ref[i], 1e-5 * scale) << "output " << i << " seed " << kEqSeed;
    }
}

// 16 -> 32 -> 24 -> 10 ReLU MLP; layer 1 rows and layer 2 outputs scaled by factors e^U(-3,3): per-tensor
// INT8 then wastes almost all levels on the few large channels. Layer 2 is stored [in, out] (MatMul layout).
std::vector<Layer> badly_scaled_mlp(std::mt19937& rng) {
    std::uniform_real_distribution<float> ud(-3.0f, 3.0f);
    Layer l1{{32, 16, 1, WeightLayout::kOutIn}, gaussian(32 * 16, rng), gaussian(32, rng)};
    Layer l2{{24, 32, 1, WeightLayout::kInOut}, gaussian(32 * 24, rng, 0.3f), gaussian(24, rng)};
    Layer l3{{10, 24, 1, WeightLayout::kOutIn}, gaussian(10 * 24, rng, 0.3f), gaussian(10, rng)};
    for (int64_t o = 0; o < 32; ++o) {
        const float f = std::exp(ud(rng));
        for (int64_t i = 0; i < 16; ++i) l1.w[static_cast<size_t>(o * 16 + i)] *= f;
        l1.b[static_cast<size_t>(o)] *= f;
    }
    for (int64_t o = 0; o < 24; ++o) {
        const float f = std::exp(ud(rng));
        for (int64_t i = 0; i < 32; ++i) l2.w[static_cast<size_t>(i * 24 + o)] *= f;
        l2.b[static_cast<size_t>(o)] *= f;
    }
    return {l1, l2, l3};
}

std::vector<float> mlp(const std::vector<Layer>& l, const std::vector<float>& x, int64_t n) {
    return dense(l[2], relu(dense(l[1], relu(dense(l[0], x, n)), n)), n);
}

TEST(Equalize, MlpFunctionUnchangedAndInt8ErrorLower) {
    std::mt19937 rng(kEqSeed);
    auto layers = badly_scaled_mlp(rng);
    const int64_t n = 64;
    const auto x = gaussian(n * 16, rng);
    const auto y_ref = mlp(layers, x, n);
    const double err_before =
        mse(y_ref, mlp({quantized(layers[0]), quantized(layers[1]), quantized(layers[2])}, x, n));

    std::vector<LayerWeights> views = {layers[0].view(), layers[1].view(), layers[2].view()};
    auto rep = equalize_chain(views);
    ASSERT_TRUE(rep.ok()) << rep.status().message();
    EXPECT_TRUE(rep->converged);
    EXPECT_GT(rep->iterations, 1);
    ASSERT_EQ(rep->scales.size(), 2u);
    expect_same_function(y_ref, mlp(layers, x, n));
    // Converged: each pair's shared channels have equal ranges.
    for (size_t p = 0; p < 2; ++p) {
        const auto r1 = output_channel_ranges(layers[p].shape, layers[p].w);
        const auto r2 = input_channel_ranges(layers[p + 1].shape, layers[p + 1].w);
        for (size_t i = 0; i < r1.size(); ++i) EXPECT_NEAR(r1[i], r2[i], 1e-4f * r2[i]) << p << "," << i;
    }
    const double err_after =
        mse(y_ref, mlp({quantized(layers[0]), quantized(layers[1]), quantized(layers[2])}, x, n));
    EXPECT_LT(err_after, 0.5 * err_before)
        << "seed " << kEqSeed << ": INT8 MSE " << err_after << " vs " << err_before;
}

TEST(Equalize, PairEqualizesRangesExactly) {
    std::mt19937 rng(kEqSeed + 1);
    auto layers = badly_scaled_mlp(rng);
    LayerWeights a = layers[0].view(), b = layers[1].view();
    const auto r1 = output_channel_ranges(a.shape, a.weight);
    const auto r2 = input_channel_ranges(b.shape, b.weight);
    auto s = equalize_pair(a, b);
    ASSERT_TRUE(s.ok());
    const auto q1 = output_channel_ranges(a.shape, a.weight);
    const auto q2 = input_channel_ranges(b.shape, b.weight);
    for (size_t i = 0; i < r1.size(); ++i) {
        EXPECT_NEAR((*s)[i], std::sqrt(r1[i] / r2[i]), 1e-5f * (*s)[i]);
        EXPECT_NEAR(q1[i], std::sqrt(r1[i] * r2[i]), 1e-5f * q1[i]);
        EXPECT_NEAR(q2[i], q1[i], 1e-5f * q1[i]);
    }
}

TEST(Equalize, ConvDepthwiseConvChain) {
    std::mt19937 rng(kEqSeed + 2);
    std::uniform_real_distribution<float> ud(-2.5f, 2.5f);
    const int64_t n = 2, h = 7, wd = 9;
    Layer c1{{8, 3, 9, WeightLayout::kOutIn}, gaussian(8 * 3 * 9, rng), gaussian(8, rng)};
    Layer dw{{8, 8, 9, WeightLayout::kDepthwise}, gaussian(8 * 9, rng, 0.5f), gaussian(8, rng)};
    Layer c3{{5, 8, 1, WeightLayout::kOutIn}, gaussian(5 * 8, rng, 0.5f), {}};  // no bias
    for (int64_t o = 0; o < 8; ++o) {
        const float f = std::exp(ud(rng)), g = std::exp(ud(rng));
        for (int64_t k = 0; k < 27; ++k) c1.w[static_cast<size_t>(o * 27 + k)] *= f;
        c1.b[static_cast<size_t>(o)] *= f;
        for (int64_t k = 0; k < 9; ++k) dw.w[static_cast<size_t>(o * 9 + k)] *= g;
        dw.b[static_cast<size_t>(o)] *= g * f;
    }
    const auto x = gaussian(n * 3 * h * wd, rng);
    auto net = [&](const Layer& a, const Layer& b, const Layer& c) {
        return conv(c, relu(conv(b, relu(conv(a, x, n, h, wd)), n, h, wd)), n, h, wd);
    };
    const auto y_ref = net(c1, dw, c3);
    const double err_before = mse(y_ref, net(quantized(c1), quantized(dw), quantized(c3)));
    std::vector<LayerWeights> views = {c1.view(), dw.view(), c3.view()};
    auto rep = equalize_chain(views);
    ASSERT_TRUE(rep.ok()) << rep.status().message();
    EXPECT_TRUE(rep->converged);
    expect_same_function(y_ref, net(c1, dw, c3));
    const double err_after = mse(y_ref, net(quantized(c1), quantized(dw), quantized(c3)));
    EXPECT_LT(err_after, 0.5 * err_before)
        << "seed " << kEqSeed + 2 << ": " << err_after << " vs " << err_before;
}

TEST(Equalize, DeadChannelKeepsScaleOne) {
    Layer a{{3, 2, 1, WeightLayout::kOutIn}, {1, 2, 0, 0, 4, 1}, {0.5f, 0.25f, 1}};
    Layer b{{2, 3, 1, WeightLayout::kOutIn}, {1, 3, 0.5f, 2, 5, 0.25f}, {}};
    LayerWeights va = a.view(), vb = b.view();
    auto s = equalize_pair(va, vb);
    ASSERT_TRUE(s.ok());
    EXPECT_FLOAT_EQ((*s)[0], std::sqrt(2.0f / 2.0f));
    EXPECT_EQ((*s)[1], 1.0f);  // first layer's channel 1 is all zero
    EXPECT_FLOAT_EQ((*s)[2], std::sqrt(4.0f / 0.5f));
    EXPECT_EQ(a.b[1], 0.25f);
    for (float v : a.w) EXPECT_TRUE(std::isfinite(v));
}

TEST(Equalize, RejectsMismatchedLayers) {
    Layer a{{4, 2, 1, WeightLayout::kOutIn}, std::vector<float>(8, 1.0f), {}};
    Layer b{{2, 3, 1, WeightLayout::kOutIn}, std::vector<float>(6, 1.0f), {}};
    LayerWeights va = a.view(), vb = b.view();
    auto s = equalize_pair(va, vb);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.status().message().find("4 output channels"), std::string::npos) << s.status().message();
    Layer c{{4, 2, 1, WeightLayout::kOutIn}, std::vector<float>(7, 1.0f), {}};
    LayerWeights vc = c.view();
    EXPECT_FALSE(equalize_pair(vc, vb).ok());
    Layer d{{3, 4, 1, WeightLayout::kDepthwise}, std::vector<float>(3, 1.0f), {}};
    EXPECT_FALSE(validate_layer(d.view(), "d").ok());
    Layer e{{2, 4, 1, WeightLayout::kOutIn}, std::vector<float>(8, 1.0f), std::vector<float>(3, 0.0f)};
    EXPECT_FALSE(validate_layer(e.view(), "e").ok());
    std::vector<LayerWeights> one = {va};
    EXPECT_FALSE(equalize_chain(one).ok());
}

// Per-channel mean of y_q - y over a data set.
std::vector<double> mean_shift(const std::vector<float>& y, const std::vector<float>& yq, int64_t n,
                               int64_t c) {
    std::vector<double> m(static_cast<size_t>(c), 0.0);
    for (int64_t s = 0; s < n; ++s) {
        for (int64_t o = 0; o < c; ++o) {
            m[static_cast<size_t>(o)] +=
                static_cast<double>(yq[static_cast<size_t>(s * c + o)]) - y[static_cast<size_t>(s * c + o)];
        }
    }
    for (auto& v : m) v /= static_cast<double>(n);
    return m;
}

double abs_sum(const std::vector<double>& v) {
    double s = 0;
    for (double e : v) s += std::fabs(e);
    return s;
}

// Inputs with a nonzero per-channel mean (as after ReLU); a coarse per-tensor INT4 weight grid.
struct BiasSetup {
    Layer fp, q;
    std::vector<float> x_cal, x_test;
    int64_t n = 2000;
};

BiasSetup bias_setup(uint32_t seed) {
    std::mt19937 rng(seed);
    BiasSetup s;
    s.fp = Layer{{16, 32, 1, WeightLayout::kOutIn}, gaussian(16 * 32, rng), gaussian(16, rng)};
    s.q = s.fp;
    float amax = 0;
    for (float v : s.fp.w) amax = std::max(amax, std::fabs(v));
    const float scale = amax / 7.0f;
    for (auto& v : s.q.w) v = std::clamp(std::nearbyint(v / scale), -8.0f, 7.0f) * scale;
    std::uniform_real_distribution<float> mean(0.5f, 2.0f);
    std::vector<float> mu(32);
    for (auto& m : mu) m = mean(rng);
    for (auto* x : {&s.x_cal, &s.x_test}) {
        *x = gaussian(s.n * 32, rng, 0.3f);
        for (int64_t t = 0; t < s.n; ++t) {
            for (int64_t i = 0; i < 32; ++i)
                (*x)[static_cast<size_t>(t * 32 + i)] += mu[static_cast<size_t>(i)];
        }
    }
    return s;
}

TEST(BiasCorrection, AnalyticRemovesTheMeanShift) {
    auto s = bias_setup(kEqSeed + 3);
    const auto y_test = dense(s.fp, s.x_test, s.n);
    const auto before = mean_shift(y_test, dense(s.q, s.x_test, s.n), s.n, 16);
    const double mse_before = mse(y_test, dense(s.q, s.x_test, s.n));
    std::vector<float> ex(32, 0.0f);  // E[x] from the calibration set
    for (int64_t t = 0; t < s.n; ++t) {
        for (int64_t i = 0; i < 32; ++i)
            ex[static_cast<size_t>(i)] += s.x_cal[static_cast<size_t>(t * 32 + i)] / s.n;
    }
    ASSERT_TRUE(correct_bias_analytic(s.fp.shape, s.fp.w, s.q.w, ex, s.q.b).ok());
    const auto after = mean_shift(y_test, dense(s.q, s.x_test, s.n), s.n, 16);
    EXPECT_LT(abs_sum(after), 0.1 * abs_sum(before)) << "seed " << kEqSeed + 3;
    EXPECT_LT(mse(y_test, dense(s.q, s.x_test, s.n)), mse_before);
}

TEST(BiasCorrection, EmpiricalStreamedRemovesTheMeanShift) {
    auto s = bias_setup(kEqSeed + 4);
    const auto y_cal = dense(s.fp, s.x_cal, s.n), yq_cal = dense(s.q, s.x_cal, s.n);
    const auto y_test = dense(s.fp, s.x_test, s.n);
    const auto before = mean_shift(y_test, dense(s.q, s.x_test, s.n), s.n, 16);
    BiasCorrectionAccumulator acc(16);
    int64_t at = 0;
    for (int64_t chunk : {int64_t{300}, int64_t{1}, s.n - 301}) {
        const auto off = static_cast<size_t>(at * 16), len = static_cast<size_t>(chunk * 16);
        ASSERT_TRUE(acc.add(std::span<const float>(y_cal).subspan(off, len),
                            std::span<const float>(yq_cal).subspan(off, len), chunk, 1)
                        .ok());
        at += chunk;
    }
    EXPECT_EQ(acc.count(), s.n);
    ASSERT_TRUE(acc.apply(s.q.b).ok());
    const auto cal_after = mean_shift(y_cal, dense(s.q, s.x_cal, s.n), s.n, 16);
    for (double v : cal_after) EXPECT_NEAR(v, 0.0, 1e-4);  // exactly removed on the calibration set
    const auto after = mean_shift(y_test, dense(s.q, s.x_test, s.n), s.n, 16);
    EXPECT_LT(abs_sum(after), 0.1 * abs_sum(before)) << "seed " << kEqSeed + 4;
}

TEST(BiasCorrection, ChannelAxesOfEveryLayout) {
    // Analytic: shift_o = sum_{i,k} (Wq - W)[o,i,k] E[x_i], checked by hand for each layout.
    const std::vector<float> mean = {2.0f, -1.0f};
    {
        const WeightShape s{2, 2, 2, WeightLayout::kOutIn};  // [o][i][k]
        const std::vector<float> w(8, 0.0f), wq = {1, 0, 0, 1, 0, 0, 0.5f, 0.5f};
        std::vector<float> b = {0, 10};
        ASSERT_TRUE(correct_bias_analytic(s, w, wq, mean, b).ok());
        EXPECT_FLOAT_EQ(b[0], -(1 * 2.0f + 1 * -1.0f));
        EXPECT_FLOAT_EQ(b[1], 10 - (1.0f * -1.0f));
    }
    {
        const WeightShape s{3, 2, 1, WeightLayout::kInOut};  // [i][o]
        const std::vector<float> w(6, 0.0f), wq = {1, 0, 2, 0, 1, 1};
        std::vector<float> b = {0, 0, 0};
        ASSERT_TRUE(correct_bias_analytic(s, w, wq, mean, b).ok());
        EXPECT_FLOAT_EQ(b[0], -2.0f);
        EXPECT_FLOAT_EQ(b[1], 1.0f);
        EXPECT_FLOAT_EQ(b[2], -(4.0f - 1.0f));
    }
    {
        const WeightShape s{2, 2, 3, WeightLayout::kDepthwise};  // [c][k]
        const std::vector<float> w(6, 1.0f), wq = {1, 2, 1, 0, 1, 1};
        std::vector<float> b = {0, 0};
        ASSERT_TRUE(correct_bias_analytic(s, w, wq, mean, b).ok());
        EXPECT_FLOAT_EQ(b[0], -2.0f);
        EXPECT_FLOAT_EQ(b[1], -1.0f);
    }
    // Empirical on NCHW outputs [outer 2, channels 2, inner 3].
    std::vector<float> y(12, 0.0f), yq = {1, 1, 1, 5, 5, 5, 3, 3, 3, -1, -1, -1};
    std::vector<float> b = {0, 0};
    ASSERT_TRUE(correct_bias_empirical(y, yq, 2, 2, 3, b).ok());
    EXPECT_FLOAT_EQ(b[0], -2.0f);
    EXPECT_FLOAT_EQ(b[1], -2.0f);
    EXPECT_FALSE(correct_bias_empirical(y, yq, 2, 2, 2, b).ok());
    BiasCorrectionAccumulator empty(2);
    EXPECT_FALSE(empty.apply(b).ok());
    std::vector<float> short_bias(1);
    EXPECT_FALSE(correct_bias_analytic({2, 2, 1, WeightLayout::kOutIn}, std::vector<float>(4),
                                       std::vector<float>(4), mean, short_bias)
                     .ok());
}

}  // namespace
}  // namespace edgeq::quant::ptq
