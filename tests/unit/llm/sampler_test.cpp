#include "llm/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace edgeq::llm {
namespace {

int32_t pick(Sampler& s, const std::vector<float>& l) {
    auto r = s.sample(l);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r.value() : -1;
}

TEST(Sampler, GreedyIsArgmaxLowestIdOnTies) {
    Sampler s({0.0f, 40, 0.95f, 1});
    const std::vector<float> l{0.1f, 3.0f, -1.0f, 3.0f};
    EXPECT_EQ(pick(s, l), 1);
    EXPECT_EQ(argmax(l), 1);
}

TEST(Sampler, SameSeedSameTokens) {
    std::vector<float> l(50);
    for (size_t i = 0; i < l.size(); ++i) l[i] = std::sin(static_cast<float>(i));
    Sampler a({0.8f, 10, 0.9f, 42}), b({0.8f, 10, 0.9f, 42});
    for (int i = 0; i < 100; ++i) EXPECT_EQ(pick(a, l), pick(b, l));
}

TEST(Sampler, TopKAndTopPRestrictTheCandidates) {
    // Probabilities at T=1: token 0 dominates (0.6), token 1 next (0.3), rest tiny.
    std::vector<float> l{std::log(0.6f), std::log(0.3f), std::log(0.05f), std::log(0.05f)};
    Sampler k1({1.0f, 1, 1.0f, 7});
    for (int i = 0; i < 50; ++i) EXPECT_EQ(pick(k1, l), 0);
    Sampler p({1.0f, 0, 0.85f, 7});  // 0.6 + 0.3 >= 0.85: only tokens 0 and 1
    std::map<int32_t, int> seen;
    for (int i = 0; i < 2000; ++i) ++seen[pick(p, l)];
    EXPECT_EQ(seen.size(), 2u);
    // renormalised: 2/3 vs 1/3
    EXPECT_NEAR(seen[0] / 2000.0, 2.0 / 3.0, 0.04);
}

TEST(Sampler, TemperatureSharpens) {
    std::vector<float> l{1.0f, 0.0f};
    Sampler hot({10.0f, 0, 1.0f, 3}), cold({0.1f, 0, 1.0f, 3});
    int hot0 = 0, cold0 = 0;
    for (int i = 0; i < 2000; ++i) {
        hot0 += pick(hot, l) == 0;
        cold0 += pick(cold, l) == 0;
    }
    EXPECT_NEAR(hot0 / 2000.0, 1.0 / (1.0 + std::exp(-0.1)), 0.04);
    EXPECT_GT(cold0, 1990);
}

TEST(Sampler, BadLogits) {
    Sampler s({0.7f, 40, 0.95f, 1});
    EXPECT_FALSE(s.sample({}).ok());
    std::vector<float> l{1.0f, std::nanf("")};
    EXPECT_FALSE(s.sample(l).ok());
}

}  // namespace
}  // namespace edgeq::llm
