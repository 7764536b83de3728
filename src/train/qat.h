// Quantization-aware training of an ONNX classifier (`edgeq qat`, issue 6 item 3).
//
// qat_onnx() takes the FP32 model and returns, in place, the deployable QDQ model:
//   1. prepare: passes::optimize without com.edgeq fusion (BatchNormalization folded into Conv/Gemm,
//   constants
//      folded), so what is fine-tuned is the folded graph that gets deployed;
//   2. insert com.edgeq FakeQuant: on every Conv/Gemm/MatMul initializer weight (per output channel, or per
//      tensor; symmetric narrow range, int4 [-7, 7] as the PTQ quantizer uses) and on each such node's
//      activation input (per tensor, int8 [-127, 127]). Weight steps start from the per-channel MSE-best clip
//      of the min-max range (the PTQ weight scale when no clipping helps), activation steps from max|x| / 127
//      over the first calib_samples training images;
//   3. fine-tune weights, biases and step sizes together (straight-through estimator for x, LSQ gradient for
//   the
//      step) with train::fit;
//   4. export: each fine-tuned weight is snapped to its learned grid (w = FakeQuant(w, s)) and written into
//   the
//      folded FP32 model, which quant::ptq::quantize_onnx then quantizes (static with --acts int8,
//      weight-only with float activations) with symmetric per-channel weights. The PTQ min-max scale of a
//      snapped channel is its learned step exactly when the channel's largest code sits at the range end
//      (counted in QatReport::channels_exact); activation scales come from the PTQ min-max calibrator run on
//      the fine-tuned model (the learned activation steps are not injected).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "edgeq/status.h"
#include "graph/graph.h"
#include "quant/ptq/ptq.h"
#include "train/data.h"
#include "train/trainer.h"

namespace edgeq::train {

struct QatOptions {
    quant::ptq::QType weights = quant::ptq::QType::I4;  // I8 / I4 / I2
    bool quantize_acts = true;                          // int8 activations (static); false: weight-only
    bool per_channel = true;                            // false: one step per weight tensor
    FitOptions fit;
    int64_t calib_samples = 512;  // training images for step init and PTQ calibration
    int threads = 1;
};

struct QatReport {
    int batchnorms_folded = 0;
    int64_t weights_fake_quantized = 0, acts_fake_quantized = 0;
    int64_t channels_total = 0,
            channels_exact = 0;  // weight channels whose PTQ scale equals the learned step
    std::vector<EpochStats> epochs;
    quant::ptq::PtqReport ptq;
};

// Errors: an unsupported weight type (int8/int4/int2 only), a model without Conv/Gemm/MatMul weights,
// training errors (an op without a gradient), PTQ errors. On error `model` is unspecified (callers pass a
// copy).
Result<QatReport> qat_onnx(graph::Model& model, const QatOptions& o, const Dataset& train,
                           const Dataset* test);

// Symmetric fake quantization of w (in place) with step s[c] per slice of `axis` (s.size() == 1: per tensor),
// codes clamped to [-qmax, qmax]. Returns the number of slices whose largest |code| is qmax.
int64_t snap_to_grid(Tensor& w, const std::vector<float>& s, int64_t axis, int32_t qmax);

// Per-slice steps minimizing the squared fake-quantization error over clip ratios 1.0, 0.95, ..., 0.30 of
// max|w| / qmax (max|w| = 0 gives step 1).
std::vector<float> mse_steps(const Tensor& w, int64_t axis, bool per_channel, int32_t qmax);

}  // namespace edgeq::train
