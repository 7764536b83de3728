// Graph optimizer (TensorRT-style, inference only). Passes, in order:
//   0. qoperator: QLinearConv / QLinearMatMul / com.microsoft.QGemm expanded into DequantizeLinear -> Conv /
//      MatMul / Gemm -> QuantizeLinear (what the fast executor fuses into integer kernels).
//   1. constants: Constant nodes become initializers; nodes whose inputs are all constant are evaluated with
//      the reference ops and replaced by their results; Shape/Size of statically shaped values are folded.
//   2. identity: Identity and inference-mode Dropout are removed (consumers rewired).
//   3. batchnorm: BatchNormalization after Conv / ConvTranspose / Gemm folded into the weights and bias;
//      conv_add: Add of a per-channel (or scalar) constant after Conv folded into the Conv's bias.
//   4. fusion: bias Add after MatMul, and a following activation (Relu, LeakyRelu, Clip, Sigmoid, Tanh,
//      HardSigmoid, HardSwish) fused into com.edgeq FusedConv / FusedGemm / FusedMatMul.
//   5. dead: nodes whose outputs nothing uses are removed; unused initializers dropped.
// The rewritten model computes the same function (tests compare outputs on every real model).
// Lives above runtime/ because folding executes ops; graph/ itself never runs anything.
#pragma once

#include <string>
#include <vector>

#include "edgeq/status.h"
#include "graph/graph.h"

namespace edgeq::passes {

struct OptimizeOptions {
    bool expand_qoperator = true;
    bool fold_constants = true;
    bool remove_identity = true;
    bool fold_batchnorm = true;
    bool fold_conv_add = true;
    bool fuse = true;
    bool remove_dead = true;
    int64_t max_folded_bytes = 64 << 20;  // don't materialise larger constants
    // Leave DequantizeLinear of a constant integer tensor (int8 / uint8 weights, int32 bias) unfolded, so that
    // an integer executor (runtime/fast QDQ fusion) sees the quantized weights instead of float copies; likewise
    // Cast(to = FLOAT) of an F16 / BF16 initializer (fp16 / bf16 models: runtime/fast/half_gemm.h packs the halves).
    bool keep_weight_dequantize = false;
};

struct OptimizeReport {
    int qoperators_expanded = 0;
    int constants_folded = 0;
    int identities_removed = 0;
    int batchnorms_folded = 0;
    int adds_folded = 0;  // Conv -> Add(per-channel constant) folded into the Conv's bias
    int activations_fused = 0;
    int biases_fused = 0;
    int dead_removed = 0;
    std::vector<std::string> log;  // one line per rewrite, for --verbose / reports
};

Result<OptimizeReport> optimize(graph::Model& model, const OptimizeOptions& opts = {});

}  // namespace edgeq::passes
