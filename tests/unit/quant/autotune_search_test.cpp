// The greedy / bisect search of `edgeq autotune` (quant/ptq/autotune.h) on synthetic sensitivity tables whose
// verification is an additive damage budget, so the expected outcome can be worked out by hand.
#include <gtest/gtest.h>

#include <algorithm>

#include "quant/ptq/autotune.h"

namespace edgeq::quant::ptq {
namespace {

// Levels 0..3 = fp16, int8, int4, int2; cost = bytes of a layer with `params` weights.
SearchLayer layer(const std::string& name, double params, std::vector<double> sens) {
    return {name, std::move(sens), {2 * params, params, params / 2, params / 4}};
}

// Damage of an assignment: the sum of the per-layer sensitivities (the table is additive by construction).
double damage(const std::vector<SearchLayer>& t, const std::vector<int>& lv) {
    double d = 0;
    for (size_t i = 0; i < t.size(); ++i) d += t[i].sens[static_cast<size_t>(lv[i])];
    return d;
}

// The level each verified step tried, in order.
std::vector<int> tried_levels(const SearchResult& r) {
    std::vector<int> tried;
    for (const auto& s : r.steps) tried.push_back(s.to);
    return tried;
}

TEST(AutotuneSearch, EverythingFitsGoesToTheLowestLevel) {
    const std::vector<SearchLayer> t{layer("a", 100, {0, 0, 0, 0}), layer("b", 10, {0, 0, 0, 0})};
    int calls = 0;
    auto r = greedy_search(t, [&](const std::vector<int>&) -> Result<bool> {
        ++calls;
        return true;
    });
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->levels, (std::vector<int>{3, 3}));
    // zero damage everywhere: ties are broken by the larger saving, so each layer jumps straight to int2
    EXPECT_EQ(calls, 2);
    EXPECT_EQ(r->steps[0].layer, 0u);  // the bigger layer first
    EXPECT_EQ(r->accepted.size(), 2u);
}

TEST(AutotuneSearch, CheapestDamagePerByteFirstAndBudgetHeld) {
    // a: big and robust; b: small and sensitive; c: medium.
    const std::vector<SearchLayer> t{layer("a", 1000, {0, 0.01, 0.02, 0.50}),
                                     layer("b", 10, {0, 0.05, 0.40, 0.90}),
                                     layer("c", 100, {0, 0.01, 0.05, 0.30})};
    const double budget = 0.125;
    std::vector<std::vector<int>> seen;
    auto r = greedy_search(t, [&](const std::vector<int>& lv) -> Result<bool> {
        seen.push_back(lv);
        return damage(t, lv) <= budget;
    });
    ASSERT_TRUE(r.ok());
    EXPECT_LE(damage(t, r->levels), budget);
    // first move: a to int8 (lowest damage per byte saved: 0.01 / 1000), then a to int4 (0.01 / 500)
    ASSERT_GE(r->steps.size(), 2u);
    EXPECT_EQ(r->steps[0].layer, 0u);
    EXPECT_EQ(r->steps[0].to, 1);
    EXPECT_EQ(r->steps[1].layer, 0u);
    EXPECT_EQ(r->steps[1].to, 2);
    // a ends at int4 (int2 would add 0.48), c at int4, b at int8: 0.02 + 0.05 + 0.05 = 0.12
    EXPECT_EQ(r->levels, (std::vector<int>{2, 1, 2}));
    // every accepted step is within the budget, every rejected one over it
    ASSERT_EQ(seen.size(), r->steps.size());
    for (size_t i = 0; i < seen.size(); ++i)
        EXPECT_EQ(damage(t, seen[i]) <= budget, r->steps[i].accepted) << i;
}

TEST(AutotuneSearch, FailedJumpBisectsToTheMiddleLevel) {
    // One layer; int2 is the best move per byte (zero damage per the table) but fails verification; int4
    // passes.
    const std::vector<SearchLayer> t{{"x", {0, 0, 0, 0}, {8, 4, 2, 1}}};
    auto r = greedy_search(t, [&](const std::vector<int>& lv) -> Result<bool> { return lv[0] <= 2; });
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->levels[0], 2);
    // straight to int2 (largest saving at equal damage) fails; the bisect between 0 (good) and 3 (bad)
    // tries 1 (passes), then 2 (passes)
    EXPECT_EQ(tried_levels(*r), (std::vector<int>{3, 1, 2}));
    EXPECT_FALSE(r->steps[0].accepted);
    EXPECT_FALSE(r->steps[0].bisect);
    EXPECT_TRUE(r->steps[1].bisect);
    EXPECT_TRUE(r->steps[2].accepted);
}

TEST(AutotuneSearch, BisectSearchesBetweenTheLastGoodAndTheFailedLevel) {
    // Five levels, verification passes up to level 1 only; the failed jump 0 -> 4 bisects 2 (fails), 1
    // (passes).
    const std::vector<SearchLayer> t{{"x", {0, 0, 0, 0, 0}, {16, 8, 4, 2, 1}}};
    auto r = greedy_search(t, [&](const std::vector<int>& lv) -> Result<bool> { return lv[0] <= 1; });
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->levels[0], 1);
    EXPECT_EQ(tried_levels(*r), (std::vector<int>{4, 2, 1}));
    EXPECT_EQ(r->accepted.size(), 1u);
}

TEST(AutotuneSearch, FrozenLayerIsNotRetriedAndOthersContinue) {
    // x fails any lowering; y can go all the way. x is tried once (+ its bisect) and then left alone.
    const std::vector<SearchLayer> t{layer("x", 1000, {0, 0, 0, 0}), layer("y", 10, {0, 0.1, 0.2, 0.3})};
    int x_tries = 0;
    auto r = greedy_search(t, [&](const std::vector<int>& lv) -> Result<bool> {
        if (lv[0] != 0) ++x_tries;
        return lv[0] == 0;
    });
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->levels, (std::vector<int>{0, 3}));
    EXPECT_EQ(x_tries, 2);  // 0 -> 3, bisect 1 (fails; then frozen)
}

TEST(AutotuneSearch, NothingSavedNothingTried) {
    // latency objective where lowering saves no time: no move is worth verifying.
    const std::vector<SearchLayer> t{{"x", {0, 0.1, 0.2}, {1.0, 1.0, 1.2}}};
    int calls = 0;
    auto r = greedy_search(t, [&](const std::vector<int>&) -> Result<bool> {
        ++calls;
        return true;
    });
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(calls, 0);
    EXPECT_EQ(r->levels[0], 0);
}

TEST(AutotuneSearch, ErrorsPropagateAndBadTablesAreRefused) {
    const std::vector<SearchLayer> bad{{"x", {0, 1}, {1}}};
    EXPECT_FALSE(greedy_search(bad, [](const std::vector<int>&) -> Result<bool> { return true; }).ok());
    const std::vector<SearchLayer> t{{"x", {0, 1}, {2, 1}}};
    auto r =
        greedy_search(t, [](const std::vector<int>&) -> Result<bool> { return InvalidArgument("boom"); });
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("boom"), std::string::npos);
}

TEST(AutotuneSearch, ParetoFrontDropsDominatedAndDuplicatePoints) {
    const std::vector<ParetoPoint> p{{0.90, 100, 1.0},  // 0: front
                                     {0.89, 120, 1.1},  // 1: dominated by 0
                                     {0.85, 50, 1.0},   // 2: front (smaller)
                                     {0.90, 100, 1.0},  // 3: duplicate of 0
                                     {0.80, 60, 0.5}};  // 4: front (faster)
    EXPECT_EQ(pareto_front(p), (std::vector<size_t>{0, 2, 4}));
}

}  // namespace
}  // namespace edgeq::quant::ptq
