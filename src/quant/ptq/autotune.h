// The search behind `edgeq autotune` (issue 8): per-layer precision levels chosen greedily from a measured
// sensitivity table, each step verified by the caller on held-out data, with a bisect fallback.
//
// Levels: index 0 is the starting (highest) precision of every layer, larger indices are lower precisions
// (e.g. 0 = fp16, 1 = int8, 2 = int4, 3 = int2). For each layer l and level j the table holds
//   sens[l][j]  the damage when only l sits at j (the others at level 0), e.g. the mean output KL divergence
//               against the float model on a sensitivity subset; sens[l][0] is the baseline;
//   cost[l][j]  what the objective minimises with only l at j: weight bytes (size) or time per image
//   (latency).
// Step: among the layers not frozen, the move l: k -> j (j > k) with the smallest
//   max(sens[l][j] - sens[l][k], 0) / (cost[l][k] - cost[l][j])       (only moves that save something)
// is applied and verified. A failed move k -> j bisects the levels between k and j (the highest passing one
// is kept); the layer is then frozen, since lowering it further only hurts more. The search ends when no move
// is left. It assumes damage grows as precision falls, which the bisect and the freeze rely on.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "edgeq/status.h"

namespace edgeq::quant::ptq {

struct SearchLayer {
    std::string name;
    std::vector<double> sens;  // per level, [0] = start
    std::vector<double> cost;  // per level
};

struct SearchStep {
    size_t layer = 0;
    int from = 0, to = 0;
    bool accepted = false;
    bool bisect = false;  // tried while bisecting a failed move
};

struct SearchResult {
    std::vector<int> levels;        // chosen level per layer
    std::vector<SearchStep> steps;  // every verified move, in order
    std::vector<size_t> accepted;   // indices into steps of the accepted moves, in order
};

// Verifies a full assignment (level per layer): true when it meets the budget. Errors abort the search.
using SearchVerify = std::function<Result<bool>(const std::vector<int>& levels)>;

// Greedy search from all-zero levels (the start is not verified here; the caller checks it first).
// Errors: inconsistent table (sens/cost sizes differ, fewer than one level), or a verify error.
Result<SearchResult> greedy_search(const std::vector<SearchLayer>& layers, const SearchVerify& verify);

// The indices of the non-dominated points among (accuracy: higher is better, size and latency: lower is
// better); ties (equal in all three) keep the first. Points are (accuracy, bytes, ms per image).
struct ParetoPoint {
    double accuracy = 0, bytes = 0, latency = 0;
};
std::vector<size_t> pareto_front(const std::vector<ParetoPoint>& pts);

}  // namespace edgeq::quant::ptq
