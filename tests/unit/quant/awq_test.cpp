// AWQ-style scaling (src/quant/ptq/awq.h): never worse than round-to-nearest on the sample, clearly better
// when a few input channels carry large activations, auto_clip helps heavy-tailed weights, bad input
// reported.
#include "quant/ptq/awq.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace edgeq::quant::ptq {
namespace {

constexpr uint32_t kSeed = 20230601;

std::vector<float> gaussian(int64_t count, uint32_t seed, float sigma = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, sigma);
    std::vector<float> v(static_cast<size_t>(count));
    for (auto& e : v) e = nd(rng);
    return v;
}

// X [n, k] with unit channels and a few salient ones (x `gain`), a nonzero mean as after an activation.
std::vector<float> salient_x(int64_t n, int64_t k, const std::vector<int64_t>& salient, float gain,
                             uint32_t seed) {
    auto x = gaussian(n * k, seed);
    for (int64_t s = 0; s < n; ++s) {
        for (int64_t c : salient)
            x[static_cast<size_t>(s * k + c)] = gain * (1.0f + x[static_cast<size_t>(s * k + c)]);
    }
    return x;
}

double rel_diff(double a, double b) {
    return std::fabs(a - b) / std::max(1e-30, std::fabs(b));
}

TEST(Awq, SalientChannelsBeatRoundToNearest) {
    const int64_t n = 512, k = 128, rows = 48;
    const auto x = salient_x(n, k, {5, 40, 77, 120}, 15.0f, kSeed);
    const auto w = gaussian(rows * k, kSeed + 1);
    for (int bits : {3, 4}) {
        AffineGroupQuantizer q(bits, 32, false, rows, k);
        auto res = awq_search(w, rows, k, activation_mean_abs(x, n, k), x, n, q.callbacks(), {});
        ASSERT_TRUE(res.ok()) << res.status().message();
        EXPECT_GT(res->alpha, 0.0f);
        EXPECT_LT(res->loss, 0.85 * res->loss_rtn)
            << "seed " << kSeed << " bits " << bits << ": AWQ " << res->loss << " vs RTN " << res->loss_rtn
            << " alpha " << res->alpha;
        // The reported loss is the real output error of the effective weights.
        const auto eff = awq_effective_weights(*res, rows, k);
        EXPECT_LT(rel_diff(res->loss, output_error(x, n, w, eff, rows, k)), 1e-5);
        // The quantizer's recorded state is the returned result.
        for (int64_t r = 0; r < rows; ++r) {
            for (int64_t c = 0; c < k; ++c) {
                const float expect =
                    static_cast<float>(q.code(r, c) - q.zero(r, c / 32)) * q.scale(r, c / 32);
                ASSERT_EQ(res->dequant[static_cast<size_t>(r * k + c)], expect) << r << "," << c;
            }
        }
        // Scales normalized: sqrt(max * min) == 1.
        const auto [lo, hi] = std::minmax_element(res->scales.begin(), res->scales.end());
        EXPECT_NEAR(std::sqrt(*lo * *hi), 1.0f, 1e-5f);
    }
}

// alpha = 0 is in the grid: on any sample the result is never worse than RTN; loss_rtn is exactly RTN's
// error. Both loss paths are covered: n <= K (direct) and n > K (Gram matrix).
TEST(Awq, NeverWorseThanRoundToNearestOnTheSample) {
    const int64_t k = 64, rows = 21;
    for (int64_t n : {int64_t{40}, int64_t{300}}) {
        for (uint32_t seed = kSeed + 10; seed < kSeed + 14; ++seed) {
            const auto x = gaussian(n * k, seed);
            const auto w = gaussian(rows * k, seed + 100);
            AffineGroupQuantizer q(4, 16, true, rows, k), rtn(4, 16, true, rows, k);
            auto res = awq_search(w, rows, k, activation_mean_abs(x, n, k), x, n, q.callbacks(), {});
            ASSERT_TRUE(res.ok()) << res.status().message();
            const double e_rtn = output_error(x, n, w, rtn.quantize_rtn(w), rows, k);
            EXPECT_LT(rel_diff(res->loss_rtn, e_rtn), 1e-9) << "seed " << seed << " n " << n;
            EXPECT_LE(res->loss, res->loss_rtn) << "seed " << seed << " n " << n;
            ASSERT_EQ(res->grid_loss.size(), 20u);
            EXPECT_EQ(res->grid_loss[0], res->loss_rtn);
            EXPECT_EQ(res->loss, *std::min_element(res->grid_loss.begin(), res->grid_loss.end()));
        }
    }
}

TEST(Awq, AutoClipHelpsHeavyTailedWeights) {
    const int64_t n = 256, k = 96, rows = 32;
    const auto x = gaussian(n * k, kSeed + 20);
    auto w = gaussian(rows * k, kSeed + 21);
    std::mt19937 rng(kSeed + 22);
    std::uniform_int_distribution<size_t> pick(0, w.size() - 1);
    for (int i = 0; i < static_cast<int>(w.size() / 40); ++i)
        w[pick(rng)] *= 6.0f;  // outliers widen the grid
    AffineGroupQuantizer q1(3, 32, false, rows, k), q2(3, 32, false, rows, k);
    AwqOptions plain, clip;
    clip.auto_clip = true;
    clip.clip_samples = 128;
    auto a = awq_search(w, rows, k, activation_mean_abs(x, n, k), x, n, q1.callbacks(), plain);
    auto b = awq_search(w, rows, k, activation_mean_abs(x, n, k), x, n, q2.callbacks(), clip);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_TRUE(a->clip.empty());
    ASSERT_EQ(b->clip.size(), static_cast<size_t>(rows * 3));
    // measured ratio 0.957
    EXPECT_LT(b->loss, 0.98 * a->loss) << "seed " << kSeed + 20 << ": clip " << b->loss << " vs " << a->loss;
    int shrunk = 0;
    for (int64_t r = 0; r < rows; ++r) {
        for (int64_t g = 0; g < 3; ++g) {
            float amax = 0;
            for (int64_t c = g * 32; c < g * 32 + 32; ++c) {
                amax = std::max(
                    amax, std::fabs(w[static_cast<size_t>(r * k + c)] * b->scales[static_cast<size_t>(c)]));
            }
            const float m = b->clip[static_cast<size_t>(r * 3 + g)];
            EXPECT_LE(m, amax * (1 + 1e-6f));
            EXPECT_GE(m, amax * 0.55f * (1 - 1e-6f));
            shrunk += m < amax;
        }
    }
    EXPECT_GT(shrunk, 0);
}

TEST(Awq, RejectsBadInput) {
    const int64_t n = 4, k = 8, rows = 2;
    auto x = gaussian(n * k, kSeed + 30);
    const auto w = gaussian(rows * k, kSeed + 31);
    auto sx = activation_mean_abs(x, n, k);
    AffineGroupQuantizer q(4, 0, true, rows, k);
    EXPECT_FALSE(awq_search(w, rows, k, std::span<const float>(sx).first(7), x, n, q.callbacks(), {}).ok());
    EXPECT_FALSE(awq_search(w, rows, k, sx, x, n - 1, q.callbacks(), {}).ok());
    EXPECT_FALSE(awq_search(w, rows, k + 1, sx, x, n, q.callbacks(), {}).ok());
    AwqOptions bad_grid;
    bad_grid.n_grid = 0;
    EXPECT_FALSE(awq_search(w, rows, k, sx, x, n, q.callbacks(), bad_grid).ok());
    sx[3] = -1.0f;
    EXPECT_FALSE(awq_search(w, rows, k, sx, x, n, q.callbacks(), {}).ok());
    sx[3] = 1.0f;
    x[9] = std::nanf("");
    auto r = awq_search(w, rows, k, sx, x, n, q.callbacks(), {});
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("row 1 column 1"), std::string::npos) << r.status().message();
}

TEST(Awq, ActivationMeanAbs) {
    const std::vector<float> x = {1, -2, 0, -3, 4, 0.5f};
    const auto m = activation_mean_abs(x, 2, 3);
    ASSERT_EQ(m.size(), 3u);
    EXPECT_FLOAT_EQ(m[0], 2.0f);
    EXPECT_FLOAT_EQ(m[1], 3.0f);
    EXPECT_FLOAT_EQ(m[2], 0.25f);
}

}  // namespace
}  // namespace edgeq::quant::ptq
