// `edgeq compare REF MODEL --data IMAGES`: runs an FP32 reference ONNX model and a quantized (or otherwise
// converted) version of it on the same inputs with the reference executor (the graphs as imported, so tensor
// names survive), matches tensors across the two graphs and accumulates per-layer error statistics over all
// samples. Matching, for every value a node of REF produces (topological order):
//   1. MODEL has "<name>_dequantized" (QDQ form: what the consumers of the quantized value see), else
//   2. MODEL has an integer "<name>_quantized" produced by QuantizeLinear / QLinearConv / QLinearMatMul /
//      com.microsoft.QGemm with a per-tensor scale and zero point (QOperator form): dequantized here, else
//   3. MODEL has a float value of the same name (fp16/bf16 graphs, values the quantizer left alone).
// Weights: every float initializer of REF that MODEL reads through a DequantizeLinear ("<name>_dequantized"),
// a Cast from fp16/bf16 ("<name>_float") or keeps under its own name is compared the same way (once).
// Statistics per matched tensor: SQNR = 10·log10(Σref² / Σ(ref−q)²) dB, cosine similarity, max |ref − q|,
// MSE, NaN/Inf counts on both sides, values with |x| > extreme_threshold, and — for a value the model
// quantizes with a known scale s and zero point z into [lo, hi] — the overflow rate: the fraction of REF's
// values outside [(lo − z)·s − s/2, (hi − z)·s + s/2], i.e. clipped by the quantizer.
// "First jump": the first layer (topological order) whose SQNR is >= jump_db below the lowest SQNR of its
// matched inputs, among layers with at least one inexact input (the first quantized layers start from exact
// inputs: their own SQNR is in the table); none when no layer loses that much. The layer with the largest
// such drop is always reported too.
// Outputs: SQNR etc. as above, top-1 agreement for [N, C] outputs (C > 1), PSNR (peak = max |ref|) for others;
// with labels, both models' top-1 accuracy.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/error_stats.h"
#include "edgeq/status.h"

namespace edgeq {

struct TensorErrorStats : ErrorStats {  // count: elements compared (over all samples)
    std::string name;           // REF's value (or initializer) name
    std::string op, node;       // producing node in REF ("" for weights)
    std::string matched_as;     // MODEL's tensor it was compared with
    int64_t nan_ref = 0, inf_ref = 0, nan = 0, inf = 0;  // non-finite values in REF's and MODEL's tensor
    int64_t extreme = 0;        // MODEL's finite values with |x| > extreme_threshold
    bool quantized = false;     // overflow_rate is meaningful
    int64_t overflow = 0;       // REF values outside the quantized range
    double overflow_rate() const { return count ? double(overflow) / double(count) : 0.0; }
};

struct OutputAgreement {
    std::string name;
    bool classifier = false;    // [N, C] with C > 1: top1_agreement is set
    double top1_agreement = 0;  // fraction of samples with equal argmax (ties: lowest index)
    double psnr_db = 0;         // for non-classifier outputs
};

struct CompareOptions {
    std::string images, labels;       // labels optional
    float scale = 1.0f, mean = 0.0f, std = 1.0f;
    int64_t limit = 256;              // samples (0: all)
    int64_t batch = 0;                // 0: 16 if the batch dimension is dynamic, else the model's fixed batch
    double jump_db = 6.0;
    double extreme_threshold = 1e6;
    std::function<void(int64_t done, int64_t total)> progress;
};

struct CompareReport {
    std::vector<TensorErrorStats> layers;   // activations in REF's topological order
    std::vector<TensorErrorStats> weights;
    std::vector<TensorErrorStats> outputs;  // graph outputs (also in layers when a node produces them)
    std::vector<OutputAgreement> agreement;
    std::string first_jump;                 // REF value name ("" when no layer drops >= jump_db)
    double first_jump_drop_db = 0;
    std::string largest_drop;               // REF value with the largest SQNR drop from its inputs
    double largest_drop_db = 0;
    int64_t samples = 0, unmatched = 0;
    bool has_labels = false;
    double ref_accuracy = 0, accuracy = 0;
    // Every non-finite or extreme value found, as "MODEL tensor 'x': 3 NaN" lines (weights, activations,
    // outputs of either model); `edgeq compare --strict` fails when this is not empty.
    std::vector<std::string> problems;
};

// Errors: unreadable models, a model the reference executor cannot run, inputs that do not fit (named).
Result<CompareReport> compare_onnx(const std::string& ref_path, const std::string& model_path,
                                   const CompareOptions& opts);

}  // namespace edgeq
