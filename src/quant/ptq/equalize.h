// Cross-layer equalization and bias correction (Nagel, van Baalen, Blankevoort, Welling 2019, "Data-Free
// Quantization Through Weight Equalization and Bias Correction", arXiv:1906.04721), as math on float weight
// tensors. No graph code: the PTQ pass finds chains Conv/Gemm/MatMul -> positive-homogeneous activation ->
// Conv/Gemm/MatMul, passes views of their weights here (the tensors are modified in place), and collects the
// statistics bias correction needs. Algorithm and choices: docs/quant/methods.md.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "edgeq/status.h"

namespace edgeq::quant::ptq {

// Where the output and input channel axes are in a weight tensor (row-major).
enum class WeightLayout {
    kOutIn,      // [out, in, spatial...]: Conv OIHW with group = 1, Gemm B with transB = 1 ([N, K]), Linear
    kInOut,      // [in, out]: MatMul B ([K, N]), Gemm B with transB = 0 ([K, N]); spatial must be 1
    kDepthwise,  // [C, 1, spatial...]: depthwise Conv (group = C): channel c reads input c, writes output c
};

struct WeightShape {
    int64_t out_channels = 0;
    int64_t in_channels = 0;  // kDepthwise: equal to out_channels (one input channel per output channel)
    int64_t spatial = 1;      // kernel elements per (out, in) pair: kh*kw for Conv, 1 for Gemm/MatMul
    WeightLayout layout = WeightLayout::kOutIn;

    int64_t elements() const {
        return layout == WeightLayout::kDepthwise ? out_channels * spatial
                                                  : out_channels * in_channels * spatial;
    }
};

// A layer's weight (and optional bias [out_channels]) as a mutable view.
struct LayerWeights {
    std::span<float> weight;
    std::span<float> bias;  // empty: no bias
    WeightShape shape;
};

// Checks that the spans match the shape (user error -> Status naming `what`).
Status validate_layer(const LayerWeights& layer, const char* what);

// max |w| over the weights of each output channel / each input channel.
std::vector<float> output_channel_ranges(const WeightShape& shape, std::span<const float> w);
std::vector<float> input_channel_ranges(const WeightShape& shape, std::span<const float> w);

// ---- Cross-layer equalization
// -------------------------------------------------------------------------------- For first -> f -> second
// with f positive homogeneous (f(s x) = s f(x) for s > 0: ReLU, LeakyReLU, PReLU, identity; NOT ReLU6/clip,
// sigmoid, ...; checking that is the caller's job), channel i of first's output
// (= second's input channel i) gets s_i = sqrt(r1_i * r2_i) / r2_i with r1 = output_channel_ranges(first),
// r2 = input_channel_ranges(second): first's output channel i and its bias are divided by s_i, second's input
// channel i is multiplied by s_i. Afterwards both ranges equal sqrt(r1_i r2_i); the network function is
// unchanged. A channel with r1_i = 0 or r2_i = 0 keeps s_i = 1. Returns s.
Result<std::vector<float>> equalize_pair(LayerWeights& first, LayerWeights& second);

struct EqualizeOptions {
    int max_iterations = 100;  // sweeps over the chain
    double tolerance = 1e-6;   // stop when every s_i of a sweep is within [1 - tol, 1 + tol]
};

struct EqualizeReport {
    int iterations = 0;  // sweeps done
    bool converged = false;
    std::vector<std::vector<float>> scales;  // per pair (layers[p] -> layers[p+1]): the product of all sweeps
};

// A chain layers[0] -> f -> layers[1] -> f -> ... : equalizes consecutive pairs, sweeping until converged
// (one sweep is exact for a single pair; a middle layer is shared by two pairs and needs iterations).
Result<EqualizeReport> equalize_chain(std::span<LayerWeights> layers, const EqualizeOptions& options = {});

// ---- Bias correction
// ------------------------------------------------------------------------------------------ Quantization
// shifts the expected output: E[y_q - y] = (Wq - W) E[x]. Removing that shift from the bias corrects the
// biased part of the error.

// Analytic variant: input_mean [in_channels] is E[x] per input channel of the layer (for Conv the same mean
// is assumed at every position; borders with zero padding are ignored). bias [out_channels] gets
// b_o -= sum_{i,k} (Wq - W)[o, i, k] * E[x_i]. A layer without bias needs one created (zeros) by the caller.
Status correct_bias_analytic(const WeightShape& shape, std::span<const float> w, std::span<const float> wq,
                             std::span<const float> input_mean, std::span<float> bias);

// Empirical variant: the mean of y_q - y_fp per output channel over calibration outputs (y_q computed with
// the quantized weights, ideally with the preceding layers quantized too) is subtracted from the bias.
// Outputs are [outer, channels, inner] row-major: Gemm/MatMul [n, C] (inner 1), Conv NCHW (outer N, inner
// HW).
class BiasCorrectionAccumulator {
  public:
    explicit BiasCorrectionAccumulator(int64_t channels);

    Status add(std::span<const float> y_fp, std::span<const float> y_q, int64_t outer, int64_t inner);
    int64_t channels() const { return channels_; }
    int64_t count() const { return count_; }
    std::vector<double> mean_error() const;  // mean (y_q - y_fp) per channel
    // bias [channels] -= mean_error(); an error when nothing was accumulated.
    Status apply(std::span<float> bias) const;

  private:
    int64_t channels_;
    int64_t count_ = 0;  // values per channel accumulated
    std::vector<double> sum_;
};

// One-shot form of the accumulator.
Status correct_bias_empirical(std::span<const float> y_fp, std::span<const float> y_q, int64_t outer,
                              int64_t channels, int64_t inner, std::span<float> bias);

}  // namespace edgeq::quant::ptq
