// Post-training quantization of ONNX models (`edgeq quantize IN.onnx OUT.onnx --method ...`), issue 4.
//
// quantize_onnx() rewrites a graph::Model in place into a standard ONNX model that ONNX Runtime and edgeq both
// run. The steps (docs/quant/ptq.md):
//   1. prepare: passes::optimize without com.edgeq fusion (constants folded, Identity/Dropout removed,
//      BatchNormalization folded into Conv/Gemm, dead nodes dropped), so the output stays standard ONNX;
//   2. choose the nodes: Conv, Gemm and MatMul whose weight is an initializer (Gemm: transA = 0, alpha = beta = 1;
//      MatMul: rank-2 weight), minus those whose name or output matches an --exclude regex;
//   3. calibrate (static, and weight-only with AWQ/GPTQ or importance-weighted clipping): run the float model on
//      the calibration batches with the fast executor, the observed tensors exposed as extra outputs, each fed
//      to a streaming Observer (memory independent of the sample count);
//   4. rewrite, by method:
//      static       QuantizeLinear/DequantizeLinear pairs on each chosen node's activation input and on its output
//                   (after a following Relu/Clip when that is its only consumer) when another chosen node reads
//                   it, directly or through pass-through ops (MaxPool, Reshape, Flatten, Transpose, Squeeze,
//                   Unsqueeze, which reuse their input's parameters); DequantizeLinear on the weight (int8/int4/
//                   int2, per tensor / channel / group) and on the bias (int32, scale = x_scale · w_scale);
//      dynamic      MatMul/Gemm: DynamicQuantizeLinear → MatMulInteger → Cast → Mul(x_scale · w_scale) → Add(bias),
//                   Conv: the same with ConvInteger (ONNX Runtime's dynamic QOperator pattern);
//      weight-only  DequantizeLinear(q, scale, zero_point[, block_size]) feeding the unchanged float op;
//      fp16 / bf16  float initializers of the chosen ops stored as FLOAT16 / BFLOAT16 behind a Cast to float
//                   (the compute stays float32, so nothing overflows).
//      optional: --equalize (cross-layer equalization of the float graph, before step 2), --bias-correction
//      (static / weight-only, after the rewrite: b -= mean(y_q - y_fp) per Conv/Gemm, layer by layer),
//      --gptq / --awq (weight-only: Hessian / activation statistics of each target's input from the
//      calibration pass; GPTQ also on 2-D Conv via im2col; DQ built from the quantizer's codes);
//   5. raise the opset where the new ops need it (13 per-channel, 21 int4/blocked, 25 int2), refusing when an op
//      of the model changed meaning between the two opsets.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "edgeq/status.h"
#include "edgeq/tensor.h"
#include "graph/graph.h"
#include "quant/ptq/qparams.h"
#include "quant/ptq/weight_quant.h"

namespace edgeq::quant::ptq {

enum class Method : uint8_t { Dynamic, Static, WeightOnly, FP16, BF16 };
enum class Format : uint8_t { QDQ, Native };

std::optional<Method> method_from_name(const std::string& s);  // dynamic static weight-only fp16 bf16
const char* method_name(Method m);

struct PtqOptions {
    Method method = Method::Static;
    Format format = Format::QDQ;
    QType weights = QType::I8;                 // I8 / I4 / I2 (signed weights)
    std::optional<QType> acts = QType::U8;     // U8 / I8; nullopt: float activations (weight-only)
    Granularity granularity = Granularity::Channel;
    int64_t group = 0;                         // Granularity::Group block size
    bool weight_symmetric = true;
    bool act_symmetric = false;
    std::string calibrator = "minmax";         // make_observer() spec
    Clip clip = Clip::None;                    // weight clipping search (weight-only defaults to Mse)
    std::vector<std::string> exclude;          // ECMAScript regexes on node names and output names
    // Per-node precision (issue 8): --keep REGEX=fp32|fp16|bf16|int8|int4|int2, first matching rule wins (node
    // name or an output name, as --exclude). fp32: the node stays float; fp16/bf16: its weights are stored half
    // behind a Cast (as --method fp16/bf16); int8/int4/int2: its weight type under the chosen integer method.
    std::vector<std::pair<std::string, std::string>> keep;
    // "edge": the seed's hybrid pattern — the first and the last quantized compute layers (topological order)
    // int8, every other Conv/Gemm/MatMul int4; normalization, softmax and everything that is not a
    // Conv/Gemm/MatMul stay float. --keep rules take precedence. "" = none.
    std::string policy;
    bool keep_io_float = true;                 // no Q/DQ on graph outputs
    bool bias_correction = false;              // empirical bias correction from the calibration data
    bool equalize = false;                     // cross-layer equalization before quantizing
    bool gptq = false;                         // weight-only: GPTQ (Hessian from the calibration data)
    bool awq = false;                          // weight-only: AWQ-style activation-aware scaling
    int64_t max_hessian_k = 4096;              // GPTQ: larger inputs (K x K doubles each) stay round-to-nearest
    int64_t awq_sample_rows = 1024;            // AWQ: input rows kept per layer for the search
    int threads = 0;                           // calibration runs (0: all cores)
};

// One calibration batch: graph input name -> tensor. nullopt ends the data.
using CalibrationBatch = std::map<std::string, Tensor>;
using CalibrationSource = std::function<Result<std::optional<CalibrationBatch>>()>;

struct NodeReport {
    std::string node, op;
    std::string weight;       // initializer quantized
    std::string how;          // "int8 per-channel sym, acts uint8 minmax", ...
    int64_t params = 0;
};

struct PtqReport {
    std::vector<NodeReport> nodes;      // quantized nodes
    std::vector<std::string> skipped;   // "node (op): why"
    int64_t weight_params = 0;          // elements of the quantized weights
    int64_t weight_bytes_before = 0, weight_bytes_after = 0;  // those weights (+ their scales / zero points)
    int64_t calib_batches = 0, calib_samples = 0;
    size_t observer_bytes = 0;          // memory held by the observers at the end
    int64_t opset = 0;                  // ai.onnx opset of the result
    std::vector<std::string> log;
    // bits per quantized weight, scales and zero points included
    double bits_per_weight() const {
        return weight_params ? 8.0 * static_cast<double>(weight_bytes_after) / static_cast<double>(weight_params) : 0;
    }
};

// Validates the option combination (e.g. static needs activations, dynamic needs int8 weights) before any work.
Status check_options(const PtqOptions& opts);

// Rewrites `model`. `calib` is required for static, bias correction, GPTQ and AWQ (bias correction holds all its
// batches in memory: it reads them once per corrected layer); may be empty otherwise. Errors name the node / tensor; on error `model` is unspecified (callers quantize a copy).
Result<PtqReport> quantize_onnx(graph::Model& model, const PtqOptions& opts, const CalibrationSource& calib);

// Cross-layer equalization (equalize.h) of `model` in place: chains Conv/Gemm/MatMul -> Relu [-> MaxPool] ->
// Conv/Gemm/MatMul (Conv group 1 or depthwise, Gemm either transB, MatMul rank-2 B; float32 initializer weights
// read by that node only, biases [out]) get per-channel scales folded into the weights and biases; the float
// function is unchanged. Returns the number of layer pairs equalized; `log` gets one line per chain.
Result<int64_t> cross_layer_equalize(graph::Model& model, std::vector<std::string>& log);

// Raises the default-domain opset of `model` to at least `target`. Errors: an op whose meaning changed between
// the model's opset and `target` (e.g. Squeeze's axes moving to an input at 13), naming the node.
Status raise_opset(graph::Model& model, int64_t target);

}  // namespace edgeq::quant::ptq
