// AWQ-style activation-aware weight scaling (Lin et al. 2023, "AWQ: Activation-aware Weight Quantization for
// LLM Compression and Acceleration", arXiv:2306.00978) on one float weight matrix, with AWQ's MSE clipping
// search ("auto_clip") as an option. No graph code: the PTQ pass supplies activation statistics and a sample,
// folds the returned scales into the previous op (or inserts a Mul) and stores what the quantizer recorded.
// Algorithm and choices: docs/quant/methods.md.
//
// Shapes: W [rows = output features, cols = K], row-major; X [n, K] row-major (tokens / im2col patches).
// Equivalence used: X W^T = (X diag(1/s)) (W diag(s))^T. The layer stores Q(W diag(s)) and its input is
// divided by s per channel: fold 1/s into the op that produces X (the previous layer's output rows and bias,
// a LayerNorm/RMSNorm weight), or insert Mul(1/s) when nothing can absorb it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "edgeq/status.h"
#include "quant/ptq/gptq.h"  // GroupQuantizer: the weight format as fit + round callbacks

namespace edgeq::quant::ptq {

struct AwqOptions {
    int n_grid = 20;         // alpha_i = i / (n_grid - 1), i = 0 .. n_grid-1: [0, 1] inclusive; alpha 0 = RTN
    bool auto_clip = false;  // search a per-(row, group) clipping range after scaling
    int clip_grid = 20;      // shrink candidates 1 - i / clip_grid ...
    double max_shrink = 0.5;     // ... for i < max_shrink * clip_grid (AWQ: 1.00, 0.95, ..., 0.55)
    int64_t clip_samples = 512;  // rows of X (evenly strided) used by the clip search; 0 = all
    int n_threads = 1;           // rows split over threads (callbacks then run concurrently on distinct rows)
};

struct AwqResult {
    std::vector<float> scales;   // [K] s (normalized so that sqrt(max(s) * min(s)) = 1)
    float alpha = 0;             // the chosen exponent: s = mean|x|^alpha
    std::vector<float> dequant;  // [rows, K] Q(clip(W diag(s))): the weights to store, used with inputs x / s
    std::vector<float> clip;     // [rows, groups] chosen max|w| of each group in the scaled domain; empty
                              // without auto_clip or when the clipped result was worse on the whole sample
    std::vector<double> grid_loss;  // loss per alpha (index i of the grid)
    double loss_rtn = 0;            // ||X W^T - X Q(W)^T||^2 (alpha = 0: plain round-to-nearest)
    double loss = 0;                // the same error for the returned result (after clipping)
};

// Per-input-channel mean |x| over X [n, K] (AWQ's activation statistic s_x).
std::vector<float> activation_mean_abs(std::span<const float> x, int64_t n, int64_t k);

// Grid-searches alpha for s = s_x^alpha (clamped to >= 1e-4, then normalized by sqrt(max * min)), quantizing
// W diag(s) with `quantizer` and measuring ||X W^T - (X / s) Q(W s)^T||^2 on the sample X; keeps the best
// (alpha = 0 is in the grid, so the result is never worse than RTN on X). With auto_clip, each (row, group)
// of W diag(s) is then clamped to [-m, m] for the m among the shrink candidates that minimizes that group's
// output error on the (subsampled) X / s; kept only if it lowers the layer's error on all of X. A final
// fit/round pass leaves the quantizer's recorded state matching `dequant`. Errors: sizes that disagree,
// non-finite or negative statistics, non-finite X or W.
Result<AwqResult> awq_search(std::span<const float> w, int64_t rows, int64_t cols,
                             std::span<const float> x_mean_abs, std::span<const float> x, int64_t n,
                             const GroupQuantizer& quantizer, const AwqOptions& options = {});

// The layer's effective weights in the original input domain: dequant[r][c] / scales[c].
std::vector<float> awq_effective_weights(const AwqResult& result, int64_t rows, int64_t cols);

}  // namespace edgeq::quant::ptq
