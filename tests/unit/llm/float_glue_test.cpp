// ggml's AVX-512 float glue in scalar code (llm/float_glue.h): expf accuracy and range, SwiGLU's split between the
// vector expf and the C library's, softmax against a double-precision softmax.
#include "llm/float_glue.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <random>
#include <vector>

namespace edgeq::llm::glue {
namespace {

// ggml states 1.45358 + 0.5 ulp for its expf; 3 ulp of the double result bounds it with a margin.
constexpr double kExpUlps = 3.0;

TEST(FloatGlue, ExpfIsAccurateOverItsRange) {
    for (float x = -103.0f; x < 88.0f; x += 0.0137f) {
        const double want = std::exp(static_cast<double>(x));
        const double ulp = std::ldexp(1.0, std::ilogb(want) - 23);
        EXPECT_NEAR(expf_ggml(x), want, kExpUlps * std::max(ulp, std::ldexp(1.0, -149))) << x;
    }
    EXPECT_EQ(expf_ggml(0.0f), 1.0f);
    EXPECT_EQ(expf_ggml(-200.0f), 0.0f);  // |n| > 192: flushed
    EXPECT_EQ(expf_ggml(-INFINITY), 0.0f);
    EXPECT_EQ(expf_ggml(200.0f), INFINITY);
    EXPECT_TRUE(std::isnan(expf_ggml(NAN)));
}

TEST(FloatGlue, SwigluUsesTheVectorExpOnWholeGroupsOf16) {
    std::mt19937 rng(1);
    std::normal_distribution<float> g(0.0f, 3.0f);
    for (int64_t n : {5, 16, 37, 172}) {
        std::vector<float> x(n), up(n), y(n);
        for (auto& v : x) v = g(rng);
        for (auto& v : up) v = g(rng);
        swiglu(n, x.data(), up.data(), y.data());
        const int64_t n16 = n / 16 * 16;
        for (int64_t i = 0; i < n; ++i) {
            const double silu = x[i] / (1.0 + std::exp(-static_cast<double>(x[i])));
            EXPECT_NEAR(y[i], silu * up[i], 8 * FLT_EPSILON * std::fabs(silu * up[i]) + 1e-30) << n << " " << i;
            if (i < n16) EXPECT_EQ(y[i], x[i] / (1.0f + expf_ggml(-x[i])) * up[i]);
            else EXPECT_EQ(y[i], x[i] / (1.0f + std::exp(-x[i])) * up[i]);  // ggml: expf of the C library
        }
    }
    // In place, as Model uses it.
    std::vector<float> x = {1.0f, -2.0f, 0.5f}, up = {2.0f, 1.0f, -1.0f}, y(3);
    swiglu(3, x.data(), up.data(), y.data());
    swiglu(3, x.data(), up.data(), x.data());
    EXPECT_EQ(x, y);
}

TEST(FloatGlue, SoftmaxMatchesDouble) {
    std::mt19937 rng(2);
    std::normal_distribution<float> g(0.0f, 4.0f);
    for (int64_t n : {1, 2, 15, 16, 17, 64, 255}) {
        std::vector<float> s(n);
        for (auto& v : s) v = g(rng);
        double mx = -INFINITY, sum = 0.0;
        for (float v : s) mx = std::max<double>(mx, v);
        std::vector<double> want(n);
        std::vector<double> arg(n);
        for (int64_t i = 0; i < n; ++i) sum += want[i] = std::exp(arg[i] = s[i] - mx);
        softmax(n, s.data());
        double total = 0.0;
        for (int64_t i = 0; i < n; ++i) {
            // exp(d) of a float-rounded argument d = s - max: |d| * eps relative, plus the expf and sum errors.
            const double d = std::fabs(arg[i]);
            EXPECT_NEAR(s[i], want[i] / sum, (8 + d) * FLT_EPSILON * want[i] / sum + 1e-30) << n << " " << i;
            total += s[i];
        }
        EXPECT_NEAR(total, 1.0, 1e-5);
    }
    // The exact arithmetic: expf per value, each group of 16 (zero-padded) summed as a tree into a double.
    std::vector<float> s(37);
    for (auto& v : s) v = g(rng);
    std::vector<float> want = s;
    float mx = -INFINITY;
    for (float v : s) mx = std::max(mx, v);
    double sum = 0.0;
    for (int i0 = 0; i0 < 37; i0 += 16) {
        float e[16] = {};
        for (int l = 0; l < 16 && i0 + l < 37; ++l) want[i0 + l] = e[l] = expf_ggml(s[i0 + l] - mx);
        float t8[8], t4[4];
        for (int l = 0; l < 8; ++l) t8[l] = e[l] + e[l + 8];
        for (int l = 0; l < 4; ++l) t4[l] = t8[l] + t8[l + 4];
        sum += static_cast<double>((t4[0] + t4[2]) + (t4[1] + t4[3]));
    }
    for (float& v : want) v *= static_cast<float>(1.0 / sum);
    softmax(37, s.data());
    EXPECT_EQ(s, want);

    std::vector<float> one = {-3.0f};
    softmax(1, one.data());
    EXPECT_EQ(one[0], 1.0f);
}

TEST(FloatGlue, KqScoresEqualTheScalarCodeAndDouble) {
    std::mt19937 rng(7);
    std::normal_distribution<float> g(0.0f, 2.0f);
    for (int64_t n : {1, 7, 8, 13, 64, 100}) {
        for (int64_t n_kv : {1, 3, 4, 5, 9}) {
            const int64_t stride = n + 3;
            std::vector<float> q(n), k(n_kv * stride), got(n_kv), ref(n_kv);
            for (auto& v : q) v = g(rng);
            for (auto& v : k) v = g(rng);
            kq_scores(n_kv, q.data(), k.data(), stride, n, 0.125f, got.data());
            kq_scores_ref(n_kv, q.data(), k.data(), stride, n, 0.125f, ref.data());
            for (int64_t p = 0; p < n_kv; ++p) {
                ASSERT_EQ(got[p], ref[p]) << "n " << n << " position " << p;  // bit for bit, whatever the ISA
                long double want = 0;
                for (int64_t i = 0; i < n; ++i) want += static_cast<long double>(q[i]) * k[p * stride + i];
                EXPECT_NEAR(ref[p], static_cast<double>(want) * 0.125, 1e-6 * (1.0 + std::fabs(static_cast<double>(want))));
            }
        }
    }
}

}  // namespace
}  // namespace edgeq::llm::glue
