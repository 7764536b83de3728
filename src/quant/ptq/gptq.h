// GPTQ (Frantar, Ashkboos, Hoefler, Alistarh 2022, "GPTQ: Accurate Post-Training Quantization for Generative
// Pre-trained Transformers", arXiv:2210.17323) on one float weight matrix, plus the quantizer contract shared
// with AWQ (awq.h). No graph code: the PTQ pass collects activations, builds the Hessian here, calls
// gptq_quantize and stores what its quantizer recorded. Algorithm and choices: docs/quant/methods.md.
//
// Shapes: W is [rows = output features, cols = K = input features], row-major (a Gemm weight with transB=1,
// a MatMul B transposed, a Conv weight [OC, C*kh*kw] with K matching im2col's column order). Activations
// X are [n, K], row-major: one row per token / output pixel (im2col patch for Conv).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "edgeq/status.h"

namespace edgeq::quant::ptq {

// ---- The quantizer contract ---------------------------------------------------------------------------
// A weight format seen as "parameters per (row, group of `group` consecutive columns) + element-wise
// rounding with those parameters". Group g of a row covers columns [g*group, min((g+1)*group, K));
// group = 0 means one group per row. Affine INTn, ggml legacy blocks (group 32) and k-quant super-blocks
// (group 256: fit chooses all sub-block scales, round looks at the column's position) all fit.
//
// fit(row, g, w, importance): choose and store (in the callback's own state) the parameters of group g of
//   `row` from its current weights w (length = group's width). importance is empty or has the same length:
//   a per-column weight for the fit (GPTQ passes diag(H)/2 = mean x^2, the same statistic as llama.cpp's
//   imatrix; AWQ passes mean (x/s)^2).
// round(row, col, w): quantize-dequantize w at (row, col) with the parameters last fitted for its group
//   and return the dequantized value. The callback may record the integer code here.
// Both may be called concurrently for *different* rows when a method runs with n_threads > 1.
struct GroupQuantizer {
    int64_t group = 0;
    std::function<void(int64_t row, int64_t g, std::span<const float> w, std::span<const float> importance)>
        fit;
    std::function<float(int64_t row, int64_t col, float w)> round;
};

// Group-wise affine round-to-nearest INT2..INT8 (the plain baseline and the quantizer the tests use).
//   symmetric:  scale = 2 max|w| / (2^bits - 1), q = clamp(round(w / scale), -2^(bits-1), 2^(bits-1) - 1)
//               (GPTQ's reference grid: all 2^bits codes used, also for INT2)
//   asymmetric: range [min(w, 0), max(w, 0)], scale = range / (2^bits - 1), zero = round(-lo / scale),
//               q = clamp(round(w / scale) + zero, 0, 2^bits - 1)     (zero is exactly representable)
// An all-zero group gets scale 1. The fitted scales / zero points stay readable after a method ran.
class AffineGroupQuantizer {
  public:
    AffineGroupQuantizer(int bits, int64_t group, bool symmetric, int64_t rows, int64_t cols);

    // Callbacks bound to this object (which must outlive them).
    GroupQuantizer callbacks();
    // Fit + round every group of W [rows, cols] (plain RTN); returns the dequantized matrix.
    std::vector<float> quantize_rtn(std::span<const float> w);

    int bits() const { return bits_; }
    int64_t group() const { return group_; }
    int64_t groups_per_row() const { return groups_per_row_; }
    float scale(int64_t row, int64_t g) const {
        return scale_[static_cast<size_t>(row * groups_per_row_ + g)];
    }
    int32_t zero(int64_t row, int64_t g) const {
        return zero_[static_cast<size_t>(row * groups_per_row_ + g)];
    }
    // The integer code last produced by round() at (row, col) (signed for symmetric, unsigned otherwise).
    int32_t code(int64_t row, int64_t col) const { return code_[static_cast<size_t>(row * cols_ + col)]; }

    void fit(int64_t row, int64_t g, std::span<const float> w);
    float round(int64_t row, int64_t col, float w);

  private:
    int bits_;
    int64_t group_, rows_, cols_, groups_per_row_;
    bool symmetric_;
    std::vector<float> scale_;
    std::vector<int32_t> zero_;
    std::vector<int32_t> code_;
};

// ---- Hessian --------------------------------------------------------------------------------------------
// Streams calibration activations into H = 2/N * sum_n x_n x_n^T (K x K, double), the Hessian of the layer's
// squared output error ||X W^T - X Q^T||^2 / N with respect to each weight row. Batches may be of any size:
// accumulation is per sample in a fixed order, so streaming gives the same sums as one call with all rows.
class HessianAccumulator {
  public:
    explicit HessianAccumulator(int64_t k);

    // x: [rows, k] row-major. A k that differs from the constructor's, or a non-finite value, is an error
    // (nothing is accumulated from that call).
    Status add(const float* x, int64_t rows, int64_t k);
    // Adds another accumulator's sums (parallel calibration).
    Status merge(const HessianAccumulator& other);

    int64_t k() const { return k_; }
    int64_t samples() const { return n_; }
    // The full symmetric H (row-major K*K); all zeros when no sample was added.
    std::vector<double> hessian() const;

  private:
    int64_t k_;
    int64_t n_ = 0;
    std::vector<double> sum_;  // upper triangle of sum x x^T, stored as a full K*K row-major array
};

// ---- GPTQ -------------------------------------------------------------------------------------------------
struct GptqOptions {
    double percdamp = 0.01;      // damping lambda = percdamp * mean(diag H), added to diag H
    int max_damp_retries = 4;    // H + lambda*I not positive definite: retry with percdamp *= 10
    int64_t block_size = 128;    // lazy-batch block: columns updated eagerly inside, once per block outside
    bool act_order = false;      // process columns in order of descending diag(H)
    bool static_groups = false;  // fit every group up front on the original W (else when a group's first
                                 // column is reached, on the error-updated weights)
    bool zero_dead_columns = true;  // diag(H) == 0 (column never active): weight set to 0, as the reference
    int n_threads = 1;              // rows are independent given H^-1: split over threads
};

struct GptqResult {
    std::vector<float> dequant;  // [rows, cols] quantized-dequantized weights, original column order
    std::vector<int64_t> perm;   // processing order (act_order), perm[i] = original column; empty otherwise
    double percdamp_used = 0;    // the percdamp that gave a positive definite H (after retries)
    double damp = 0;             // the absolute lambda added to the diagonal
    int64_t dead_columns = 0;
    double loss = 0;  // GPTQ's objective sum (w - q)^2 / (2 [H^-1]_cc) over rows (in Cholesky order)
};

// Quantizes W [rows, cols] against the Hessian H [cols, cols] (row-major, symmetric; e.g.
// HessianAccumulator::hessian()). Groups always map to original contiguous columns, also with act_order
// (the group of column c is c / group), so the output stores like plain group-wise weights (no g_idx).
// Errors: sizes that do not match, non-finite W or H, H still not positive definite after the damping
// retries, a quantizer without callbacks.
Result<GptqResult> gptq_quantize(std::span<const float> w, int64_t rows, int64_t cols,
                                 std::span<const double> h, const GroupQuantizer& quantizer,
                                 const GptqOptions& options = {});

// Output error ||X W^T - X Q^T||_F^2 for X [n, K], W and Q [rows, K] (double accumulation). For tests and
// for reporting a method's gain over round-to-nearest.
double output_error(std::span<const float> x, int64_t n, std::span<const float> w, std::span<const float> q,
                    int64_t rows, int64_t k);

}  // namespace edgeq::quant::ptq
