// llm/perplexity: log-softmax, NLL/PPL, KLD statistics and chunking on hand-made logits with known answers.
#include "llm/perplexity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

namespace edgeq::llm {
namespace {

constexpr double kTol = 1e-12;

TEST(Perplexity, LogSoftmaxSumsToOneAndIsShiftInvariant) {
    const std::vector<float> z{1.0f, -2.0f, 0.5f, 3.0f, 3.0f};
    std::vector<double> a, b;
    log_softmax(z, a);
    std::vector<float> shifted = z;
    for (float& v : shifted) v += 1000.0f;  // naive exp would overflow
    log_softmax(shifted, b);
    double s = 0.0;
    for (size_t i = 0; i < a.size(); ++i) {
        s += std::exp(a[i]);
        EXPECT_NEAR(a[i], b[i], 1e-9);
    }
    EXPECT_NEAR(s, 1.0, kTol);
    // log p_0 - log p_1 = z_0 - z_1
    EXPECT_NEAR(a[0] - a[1], 3.0, kTol);
}

TEST(Perplexity, UniformLogitsGivePplEqualToVocab) {
    for (int V : {2, 7, 512}) {
        const std::vector<float> z(static_cast<size_t>(V), 0.25f);
        PplAccumulator acc;
        for (int t = 0; t < 10; ++t) acc.add(z, t % V);
        const PplStats s = acc.stats();
        EXPECT_EQ(s.count, 10);
        EXPECT_NEAR(s.nll_mean, std::log(static_cast<double>(V)), kTol);
        EXPECT_NEAR(s.ppl, static_cast<double>(V), 1e-9 * V);
        EXPECT_NEAR(s.ppl_stderr, 0.0, 1e-6);  // every NLL equal
    }
}

TEST(Perplexity, KnownTwoTokenCase) {
    // z = [log 3, 0]: p = [3/4, 1/4]. Predict token 0 then token 1: NLLs log(4/3), log 4.
    const std::vector<float> z{static_cast<float>(std::log(3.0)), 0.0f};
    EXPECT_NEAR(token_nll(z, 0), std::log(4.0 / 3.0), 1e-7);
    EXPECT_NEAR(token_nll(z, 1), std::log(4.0), 1e-7);
    PplAccumulator acc;
    acc.add(z, 0);
    acc.add(z, 1);
    const PplStats s = acc.stats();
    // PPL = exp(mean NLL) = sqrt(4/3 * 4) = 4/sqrt(3)
    EXPECT_NEAR(s.ppl, 4.0 / std::sqrt(3.0), 1e-6);
    // llama.cpp's error: ppl * sqrt(var / (n-1)), var = mean(nll^2) - mean(nll)^2 = ((log 3)/2)^2
    EXPECT_NEAR(s.ppl_stderr, s.ppl * std::log(3.0) / 2.0, 1e-6);
    EXPECT_EQ(PplAccumulator{}.stats().count, 0);
}

TEST(Perplexity, KldOfIdenticalLogitsIsZero) {
    KlAccumulator acc;
    const std::vector<float> a{0.3f, -1.0f, 2.0f, 0.0f}, b{5.0f, 5.0f, -3.0f, 1.0f};
    acc.add(a, a, 2);
    acc.add(b, b, 0);
    acc.add(a, a, -1);
    const KlStats s = acc.stats();
    EXPECT_EQ(s.positions, 3);
    EXPECT_EQ(s.predictions, 2);
    EXPECT_NEAR(s.kld_mean, 0.0, kTol);
    EXPECT_NEAR(s.kld_max, 0.0, kTol);
    EXPECT_DOUBLE_EQ(s.top1_agreement, 1.0);
    EXPECT_NEAR(s.dp_rms, 0.0, kTol);
    EXPECT_NEAR(s.ln_ppl_ratio, 0.0, kTol);
    EXPECT_NEAR(s.ppl_base.ppl, s.ppl_test.ppl, kTol);
}

TEST(Perplexity, KldKnownValuesAndStats) {
    // base p = [1/2, 1/2], test q = [3/4, 1/4]: KL(p||q) = 1/2 log(2/3) + 1/2 log 2 = 1/2 log(4/3).
    const std::vector<float> base{0.0f, 0.0f}, test{static_cast<float>(std::log(3.0)), 0.0f};
    // Another position: base p = [0.9, 0.1] vs test q = [0.1, 0.9] (swapped): KL = 0.8 log 9.
    const std::vector<float> b2{static_cast<float>(std::log(9.0)), 0.0f},
        t2{0.0f, static_cast<float>(std::log(9.0))};
    KlAccumulator acc;
    acc.add(base, test, 1);   // Δp = 1/4 - 1/2 = -1/4; top-1 both 0 (base tie -> index 0)
    acc.add(b2, t2, 0);       // Δp = 0.1 - 0.9 = -0.8; top-1 differs
    acc.add(base, base, -1);  // KL 0, same top, no prediction
    const KlStats s = acc.stats();
    const double k1 = 0.5 * std::log(4.0 / 3.0), k2 = 0.8 * std::log(9.0);
    EXPECT_EQ(s.positions, 3);
    EXPECT_NEAR(s.kld_mean, (k1 + k2) / 3.0, 1e-6);
    EXPECT_NEAR(s.kld_max, k2, 1e-6);
    EXPECT_NEAR(s.kld_min, 0.0, 1e-12);
    EXPECT_NEAR(s.kld_median, k1, 1e-6);
    EXPECT_NEAR(s.top1_agreement, 2.0 / 3.0, kTol);
    EXPECT_EQ(s.predictions, 2);
    EXPECT_NEAR(s.dp_mean, (-0.25 - 0.8) / 2.0, 1e-6);
    EXPECT_NEAR(s.dp_rms, std::sqrt((0.0625 + 0.64) / 2.0), 1e-6);
    EXPECT_NEAR(s.dp_max_abs, 0.8, 1e-6);
    // base NLLs: log 2, log(10/9); test NLLs: log 4, log 10
    EXPECT_NEAR(s.ppl_base.nll_mean, (std::log(2.0) + std::log(10.0 / 9.0)) / 2.0, 1e-6);
    EXPECT_NEAR(s.ppl_test.nll_mean, (std::log(4.0) + std::log(10.0)) / 2.0, 1e-6);
    EXPECT_NEAR(s.ln_ppl_ratio, s.ppl_test.nll_mean - s.ppl_base.nll_mean, kTol);
    // KLD is not symmetric: swapping the roles of the first pair gives KL(q||p) = 3/4 log(3/2) + 1/4
    // log(1/2).
    KlAccumulator rev;
    rev.add(test, base, -1);
    EXPECT_NEAR(rev.stats().kld_mean, 0.75 * std::log(1.5) + 0.25 * std::log(0.5), 1e-6);
}

TEST(Perplexity, PercentileInterpolatesLikeNumpy) {
    const std::vector<double> v{1.0, 2.0, 3.0, 4.0};
    EXPECT_DOUBLE_EQ(percentile_sorted(v, 0.5), 2.5);  // numpy.percentile([1,2,3,4], 50)
    EXPECT_DOUBLE_EQ(percentile_sorted(v, 0.0), 1.0);
    EXPECT_DOUBLE_EQ(percentile_sorted(v, 1.0), 4.0);
    EXPECT_NEAR(percentile_sorted(v, 0.99), 3.97, 1e-12);
    const std::vector<double> one{7.0};
    EXPECT_DOUBLE_EQ(percentile_sorted(one, 0.3), 7.0);
}

TEST(Perplexity, ChunksLikeLlamaPerplexity) {
    std::vector<int32_t> t(23);
    std::iota(t.begin(), t.end(), 100);
    t[0] = 1;  // BOS from the tokenizer
    auto r = make_chunks(t, 10, 0, 1);
    ASSERT_TRUE(r.ok()) << r.status().message();
    ASSERT_EQ(r->size(), 2u);  // floor(23 / 10); the 3 left-over tokens are dropped
    EXPECT_EQ((*r)[0], (std::vector<int32_t>{1, 101, 102, 103, 104, 105, 106, 107, 108, 109}));
    EXPECT_EQ((*r)[1], (std::vector<int32_t>{1, 111, 112, 113, 114, 115, 116, 117, 118, 119}));  // 110 -> BOS
    auto one = make_chunks(t, 10, 1, 1);
    ASSERT_TRUE(one.ok());
    EXPECT_EQ(one->size(), 1u);
    auto nobos = make_chunks(t, 10, 0, -1);
    ASSERT_TRUE(nobos.ok());
    EXPECT_EQ((*nobos)[1][0], 110);
    auto exact = make_chunks(std::span<const int32_t>(t.data(), 20), 10, 0, 1);
    ASSERT_TRUE(exact.ok());
    EXPECT_EQ(exact->size(), 2u);

    auto small = make_chunks(t, 24, 0, 1);
    ASSERT_FALSE(small.ok());
    EXPECT_NE(small.status().message().find("23 tokens"), std::string::npos) << small.status().message();
    EXPECT_FALSE(make_chunks(t, 1, 0, 1).ok());
}

}  // namespace
}  // namespace edgeq::llm
