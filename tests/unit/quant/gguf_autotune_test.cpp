// Per-tensor allocation for GGUF autotune (quant/gguf_autotune.h) on synthetic sensitivity tables: the greedy
// path's invariants, optimality at its own steps when the costs are convex (checked by brute force),
// dominated options never chosen, budget lookups, the bisection, candidate types with llama-quantize's
// fallbacks, and the Pareto front.
#include "quant/gguf_autotune.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

namespace edgeq {
namespace {

constexpr double kCostTol = 1e-12;  // sums of the same doubles in another order

// Three tensors of different sizes with convex costs (each extra bit halves the damage, times a weight).
std::vector<AutotuneTensor> convex_table() {
    std::vector<AutotuneTensor> t;
    const uint64_t sizes[] = {1000, 250, 4000};
    const double weight[] = {1.0, 3.0, 0.2};
    const DType types[] = {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K};
    for (int i = 0; i < 3; ++i) {
        AutotuneTensor a{"t" + std::to_string(i), {}};
        for (int b = 0; b < 5; ++b)  // listed largest first: the order must not matter
            a.options.push_back({types[4 - b], sizes[i] * static_cast<uint64_t>(6 - b),
                                 weight[i] * std::ldexp(1.0, -(4 - b))});
        t.push_back(a);
    }
    return t;
}

// Brute force: the lowest total cost within `budget` bytes.
double best_cost(const std::vector<AutotuneTensor>& t, uint64_t budget) {
    double best = std::numeric_limits<double>::infinity();
    std::vector<size_t> c(t.size(), 0);
    for (;;) {
        uint64_t bytes = 0;
        double cost = 0;
        for (size_t i = 0; i < t.size(); ++i) {
            bytes += t[i].options[c[i]].bytes;
            cost += t[i].options[c[i]].cost;
        }
        if (bytes <= budget) best = std::min(best, cost);
        size_t i = 0;
        while (i < t.size() && ++c[i] == t[i].options.size()) c[i++] = 0;
        if (i == t.size()) return best;
    }
}

TEST(GgufAutotune, GreedyPathStartsSmallestAndTradesBytesForCost) {
    const auto table = convex_table();
    auto path = greedy_allocation_path(table);
    ASSERT_TRUE(path.ok()) << path.status().message();
    ASSERT_GE(path->size(), 2u);
    const AllocationStep& first = path->front();
    for (size_t i = 0; i < table.size(); ++i)
        EXPECT_EQ(table[i].options[static_cast<size_t>(first.choice[i])].type, DType::Q2_K) << table[i].name;
    for (size_t s = 1; s < path->size(); ++s) {
        const AllocationStep &a = (*path)[s - 1], &b = (*path)[s];
        EXPECT_GE(b.bytes, a.bytes) << s;
        EXPECT_LT(b.predicted, a.predicted) << s;
        int changed = 0;
        for (size_t i = 0; i < table.size(); ++i) changed += a.choice[i] != b.choice[i];
        EXPECT_EQ(changed, 1) << s;
        uint64_t bytes = 0;
        double cost = 0;
        for (size_t i = 0; i < table.size(); ++i) {
            bytes += table[i].options[static_cast<size_t>(b.choice[i])].bytes;
            cost += table[i].options[static_cast<size_t>(b.choice[i])].cost;
        }
        EXPECT_EQ(bytes, b.bytes);
        EXPECT_NEAR(cost, b.predicted, kCostTol);
    }
    // Everything at its best option at the end (costs strictly fall with size here).
    for (size_t i = 0; i < table.size(); ++i)
        EXPECT_EQ(table[i].options[static_cast<size_t>(path->back().choice[i])].type, DType::Q6_K);
    // The first upgrade is the best rate: tensor 1 (small and sensitive), Q2_K -> Q3_K.
    EXPECT_NE((*path)[1].choice[1], first.choice[1]);
}

TEST(GgufAutotune, GreedyStepsAreOptimalForTheirSizeWhenCostsAreConvex) {
    const auto table = convex_table();
    auto path = greedy_allocation_path(table);
    ASSERT_TRUE(path.ok());
    for (const AllocationStep& s : *path)
        EXPECT_NEAR(s.predicted, best_cost(table, s.bytes), kCostTol) << s.bytes;
}

TEST(GgufAutotune, DominatedOptionsAreNeverChosenAndFreeUpgradesAreTaken) {
    std::vector<AutotuneTensor> t{
        {"a", {{DType::Q4_0, 100, 1.0}, {DType::Q4_1, 120, 2.0}, {DType::Q8_0, 200, 0.1}}},  // Q4_1 dominated
        {"b", {{DType::Q5_0, 50, 0.5}, {DType::IQ4_NL, 50, 0.3}}},  // same size, lower
    };
    auto path = greedy_allocation_path(t);
    ASSERT_TRUE(path.ok());
    EXPECT_EQ(path->front().choice[1], 1) << "the smallest option with the lower cost starts";
    for (const AllocationStep& s : *path) EXPECT_NE(s.choice[0], 1);
    EXPECT_EQ(path->back().choice[0], 2);
    EXPECT_EQ(path->size(), 2u);

    std::vector<AutotuneTensor> empty{{"x", {}}};
    EXPECT_FALSE(greedy_allocation_path(empty).ok());
}

TEST(GgufAutotune, BudgetLookups) {
    const auto table = convex_table();
    auto path = greedy_allocation_path(table);
    ASSERT_TRUE(path.ok());
    EXPECT_EQ(step_for_bytes(*path, path->front().bytes - 1), -1);
    EXPECT_EQ(step_for_bytes(*path, path->front().bytes), 0);
    EXPECT_EQ(step_for_bytes(*path, path->back().bytes), static_cast<int64_t>(path->size()) - 1);
    const int64_t mid = static_cast<int64_t>(path->size()) / 2;
    const int64_t at = step_for_bytes(*path, (*path)[static_cast<size_t>(mid)].bytes);
    EXPECT_GE(at, mid);
    EXPECT_LE((*path)[static_cast<size_t>(at)].bytes, (*path)[static_cast<size_t>(mid)].bytes);

    EXPECT_EQ(step_for_cost(*path, path->front().predicted), 0);
    EXPECT_EQ(step_for_cost(*path, (*path)[static_cast<size_t>(mid)].predicted), mid);
    EXPECT_EQ(step_for_cost(*path, path->back().predicted / 2), -1);
}

TEST(GgufAutotune, FillBudgetSpendsTheBytesAPathStepLeaves) {
    // a: a big upgrade with the best rate; b: a small one. At a budget between path steps the path stops
    // before a's upgrade; filling takes b's upgrade, which still fits.
    std::vector<AutotuneTensor> t{{"a", {{DType::Q4_K, 1000, 1.0}, {DType::Q8_0, 2000, 0.0}}},
                                  {"b", {{DType::Q4_K, 100, 0.2}, {DType::Q8_0, 200, 0.1}}}};
    auto path = greedy_allocation_path(t);
    ASSERT_TRUE(path.ok());
    ASSERT_EQ(path->size(), 3u);
    EXPECT_EQ((*path)[1].choice, (std::vector<int>{1, 0}));
    const uint64_t budget = 1250;
    const int64_t i = step_for_bytes(*path, budget);
    ASSERT_EQ(i, 0);
    const AllocationStep f = fill_budget(t, (*path)[0], budget);
    EXPECT_EQ(f.choice, (std::vector<int>{0, 1}));
    EXPECT_EQ(f.bytes, 1200u);
    EXPECT_NEAR(f.predicted, 1.1, kCostTol);
    const AllocationStep same = fill_budget(t, (*path)[0], 1150);  // nothing fits in 50 bytes
    EXPECT_EQ(same.choice, (*path)[0].choice);
    EXPECT_EQ(same.bytes, (*path)[0].bytes);
    // On the convex table, filling never makes a step worse and never passes the budget.
    const auto table = convex_table();
    auto cp = greedy_allocation_path(table);
    ASSERT_TRUE(cp.ok());
    for (uint64_t b = cp->front().bytes; b <= cp->back().bytes; b += 333) {
        const int64_t k = step_for_bytes(*cp, b);
        ASSERT_GE(k, 0);
        const AllocationStep g = fill_budget(table, (*cp)[static_cast<size_t>(k)], b);
        EXPECT_LE(g.bytes, b);
        EXPECT_LE(g.predicted, (*cp)[static_cast<size_t>(k)].predicted);
        EXPECT_GE(g.predicted, best_cost(table, b) - kCostTol);
    }
}

TEST(GgufAutotune, BisectFindsTheFirstPassingStepWithFewDistinctProbes) {
    for (int64_t answer = 0; answer <= 21; ++answer) {
        for (int64_t first : {int64_t{0}, int64_t{7}, int64_t{20}, int64_t{99}}) {
            std::set<int64_t> probes;
            auto r = bisect_first(0, 20, first, [&](int64_t i) -> Result<bool> {
                EXPECT_TRUE(probes.insert(i).second) << "probed twice: " << i;
                return i >= answer;
            });
            ASSERT_TRUE(r.ok());
            EXPECT_EQ(*r, answer) << "first " << first;
            EXPECT_TRUE(probes.count(std::min<int64_t>(first, 20))) << "the predicted step is probed";
            EXPECT_LE(probes.size(), 7u);
        }
    }
    auto err = bisect_first(0, 5, 2, [](int64_t) -> Result<bool> { return InvalidArgument("boom"); });
    ASSERT_FALSE(err.ok());
    EXPECT_EQ(err.status().message(), "boom");
}

TEST(GgufAutotune, CandidateTypesFollowLlamaQuantizeFallbacks) {
    auto c = parse_autotune_candidates({});
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(*c, (std::vector<DType>{DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K,
                                      DType::Q8_0}));
    EXPECT_EQ(autotune_tensor_types(*c, 768), *c);
    // Rows of 64: the k-quants fall back (Q2_K, Q3_K -> Q4_0; Q4_K -> Q5_0; Q5_K -> Q5_1; Q6_K -> Q8_0).
    EXPECT_EQ(autotune_tensor_types(*c, 64),
              (std::vector<DType>{DType::Q4_0, DType::Q5_0, DType::Q5_1, DType::Q8_0}));
    EXPECT_TRUE(autotune_tensor_types(*c, 172).empty());  // no 32-multiple: nothing fits
    auto d = parse_autotune_candidates({"Q8_0", "f16", "q2_k", "q8_0"});
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->size(), 3u);
    EXPECT_EQ(autotune_tensor_types(*d, 96), (std::vector<DType>{DType::Q4_0, DType::Q8_0, DType::F16}));
    EXPECT_EQ(autotune_tensor_types(*d, 172), (std::vector<DType>{DType::F16}));
    EXPECT_FALSE(parse_autotune_candidates({"iq4_xs"}).ok());  // no codec in edgeq
    auto bad = parse_autotune_candidates({"q4_k", "q9_z"});
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.status().message().find("q9_z"), std::string::npos);
}

TEST(GgufAutotune, ParetoFrontKeepsTheNonDominatedPoints) {
    const std::vector<std::pair<uint64_t, double>> pts{{300, 0.5}, {100, 2.0}, {200, 2.5}, {200, 1.0},
                                                       {400, 0.5}, {500, 0.1}, {100, 2.0}};
    EXPECT_EQ(pareto_front(pts), (std::vector<size_t>{1, 3, 0, 5}));
    EXPECT_TRUE(pareto_front({}).empty());
}

}  // namespace
}  // namespace edgeq
