// `edgeq autotune IN.onnx OUT.onnx`: automatic per-layer mixed precision for ONNX classifiers (issue 8).
//
// Each Conv/Gemm/MatMul that static PTQ quantizes (quant/ptq/ptq.h) gets one precision from the candidates
// (fp32, fp16, bf16, int8, int4, int2); activations are static INT8 (QDQ) around every integer layer,
// calibrated on the first `calib_samples` images of the calibration set (the data set when none is given).
// The data set is split: the first `sens_samples` images measure sensitivities, the next `heldout_samples`
// verify each step, and the whole set gives the final accuracy.
//   1. float model: reference outputs (sensitivity split) and accuracy (held-out split, whole set);
//   2. sensitivity: for each layer and each candidate below the highest, only that layer lowered (the others
//      at the highest candidate): mean KL divergence of the softmax outputs from the float model's, top-1
//      agreement, weight bytes and time per image;
//   3. greedy search (quant/ptq/autotune.h) by KL per byte saved (or per ms saved, objective latency), each
//      step verified on the held-out split: accuracy >= float accuracy - max_drop; bisect on failure;
//   4. the chosen model is evaluated on the whole set; while it misses the budget there, the accepted steps
//      are undone last first. The model returned is the smallest verified one, or the start (all highest)
//      when even that misses the budget; `budget_met` says which.
// Every configuration is quantized from scratch (calibration included), so each measured point is exactly
// the model that would be written.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "edgeq/status.h"
#include "eval/image_set.h"
#include "graph/graph.h"
#include "quant/ptq/ptq.h"

namespace edgeq {

struct AutotuneOptions {
    std::string images, labels;  // data set (IDX, .npy, .npz), as `edgeq eval`
    std::string calib;           // calibration images; "" = the data set
    Preprocess pre;
    double max_drop = 0.005;         // allowed top-1 drop vs the float model, absolute (0.005 = 0.5 points)
    std::string objective = "size";  // size | latency
    std::vector<std::string> candidates{"int2", "int4", "int8", "fp16"};  // any order
    quant::ptq::Granularity granularity = quant::ptq::Granularity::Channel;
    int64_t group = 0;
    std::string calibrator = "minmax";
    int64_t calib_samples = 256, sens_samples = 1000, heldout_samples = 2000;
    int64_t limit = 0;  // > 0: only the first `limit` images of the data set
    int threads = 0;
    std::function<void(const std::string&)> log;  // one line per stage / step (may be empty)
};

// One measured configuration.
struct AutotunePoint {
    std::string what;                               // "start", "uniform int8", "step 3", "final", ...
    std::map<std::string, std::string> precisions;  // layer -> precision
    double accuracy = 0;                            // held-out split
    int64_t weight_bytes = 0;                       // tuned layers' weights (+ scales / zero points)
    double bits_per_weight = 0;
    double ms_per_image = 0;  // held-out evaluation wall time / images
    bool passed = false;      // within the budget on the held-out split
};

struct AutotuneLayer {
    std::string name, op;
    int64_t params = 0;
    std::string precision;                        // chosen
    std::map<std::string, double> kl, agreement;  // sensitivity per lowered candidate
};

struct AutotuneResult {
    graph::Model model;                   // the chosen model, quantized
    std::vector<AutotuneLayer> layers;    // tuned layers, topological order
    std::vector<std::string> untuned;     // Conv/Gemm/MatMul/... static PTQ leaves float ("node (op): why")
    std::vector<std::string> candidates;  // highest precision first
    double accuracy = 0, fp32_accuracy = 0;  // whole data set
    double heldout_accuracy = 0, fp32_heldout_accuracy = 0;
    int64_t samples = 0, sens_samples = 0, heldout_samples = 0, calib_samples = 0;
    int64_t weight_bytes = 0, weight_params = 0, fp32_weight_bytes = 0;
    double bits_per_weight = 0;
    bool budget_met = false;
    std::vector<AutotunePoint> visited;  // every configuration measured on the held-out split
    std::vector<size_t> pareto;          // indices into visited: accuracy / size / latency front
    std::vector<std::string> log;        // steps, bisects, undos
    int64_t steps = 0, accepted = 0, undone = 0;
    int64_t quantizations = 0;
};

// `fp32` is the float model as loaded (not modified). Errors: bad options (unknown candidate, max_drop < 0),
// data that does not fit the model, fewer than 2 images, no layer to tune, quantizer errors.
Result<AutotuneResult> autotune_onnx(const graph::Model& fp32, const AutotuneOptions& opts);

// Bits of storage per weight of a candidate name (fp32 32, fp16/bf16 16, int8 8, int4 4, int2 2); 0 if
// unknown.
int candidate_bits(const std::string& name);

}  // namespace edgeq
