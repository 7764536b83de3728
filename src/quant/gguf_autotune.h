// Per-tensor block-type allocation for GGUF models (the search behind `edgeq autotune` on a .gguf; the
// measuring driver is llm/autotune.h, the method docs/llm/autotune.md).
//
// Every tensor t has options (block type, bytes, cost), cost = the measured damage of storing t alone in
// that type (the mean KLD increase on calibration text). Costs are treated as additive over tensors, and
// the allocation is the greedy path of a knapsack relaxation:
//   start with every tensor at its smallest option; repeatedly take the single upgrade (tensor t from its
//   current option to any larger one) with the largest cost decrease per extra byte; stop when no upgrade
//   lowers the cost.
// Each step of the path is an allocation (bytes, predicted cost) with more bytes and less predicted cost
// than the one before; a byte budget picks the last step that fits, a cost budget the first step that meets
// it. The predicted cost is only a ranking: the driver verifies the chosen step on held-out text and
// bisects along the path when the verification fails the budget (bisect_first).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "edgeq/dtype.h"
#include "edgeq/status.h"

namespace edgeq {

struct AutotuneOption {
    DType type = DType::Q8_0;
    uint64_t bytes = 0;
    double cost = 0;  // damage when only this tensor is in this type (e.g. KLD increase)
};

struct AutotuneTensor {
    std::string name;
    std::vector<AutotuneOption> options;  // any order; at least one
};

struct AllocationStep {
    std::vector<int> choice;  // per tensor: index into its options
    uint64_t bytes = 0;       // sum of the chosen options' bytes
    double predicted = 0;     // sum of the chosen options' costs
};

// The greedy path (see above); path[0] = every tensor at its smallest option (ties: lower cost). Every
// later step changes one tensor. Errors: a tensor without options.
Result<std::vector<AllocationStep>> greedy_allocation_path(const std::vector<AutotuneTensor>& tensors);

// Spends what a step leaves of a byte budget: repeatedly the upgrade with the largest cost decrease per
// extra byte among those that still fit (any tensor, any larger option). Returns `from` unchanged when
// nothing fits; from.bytes must be <= budget.
AllocationStep fill_budget(const std::vector<AutotuneTensor>& tensors, AllocationStep from, uint64_t budget);

// Index of the last step with bytes <= budget; -1 when even path[0] is larger.
int64_t step_for_bytes(const std::vector<AllocationStep>& path, uint64_t budget);
// Index of the first step with predicted <= max_cost; -1 when none.
int64_t step_for_cost(const std::vector<AllocationStep>& path, double max_cost);

// Smallest i in [lo, hi] with ok(i) true, for ok monotone (false ... false true ... true), probing `first`
// (clamped into [lo, hi]) before bisecting; hi + 1 when ok(hi) is false. Every probe is passed to ok once.
Result<int64_t> bisect_first(int64_t lo, int64_t hi, int64_t first,
                             const std::function<Result<bool>(int64_t)>& ok);

// The candidate block types: `names` (e.g. {"q2_k", "q4_k", "q8_0"}, case-insensitive; empty: q2_k q3_k
// q4_k q5_k q6_k q8_0). Errors: an unknown name or a type edgeq cannot quantize to.
Result<std::vector<DType>> parse_autotune_candidates(const std::vector<std::string>& names);

// The types a tensor with rows of `cols` elements can take from `candidates`: each candidate, replaced as
// llama-quantize does when the row is not a multiple of its block (Q2_K/Q3_K -> Q4_0, Q4_K -> Q5_0,
// Q5_K -> Q5_1, Q6_K -> Q8_0, IQ types -> IQ4_NL) and dropped when even that does not fit; duplicates
// removed, ordered by bits per weight. Empty when none fits (the tensor then stays as it is).
std::vector<DType> autotune_tensor_types(const std::vector<DType>& candidates, int64_t cols);

// Points (bytes, value) not dominated by another (smaller or equal bytes and lower or equal value, one
// strictly): indexes into the input, by increasing bytes.
std::vector<size_t> pareto_front(const std::vector<std::pair<uint64_t, double>>& points);

}  // namespace edgeq
