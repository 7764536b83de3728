// Small image classifiers built directly in the graph IR (ONNX opset 13, input "input" [N, C, H, W] with a
// symbolic batch dimension, output "logits" [N, classes]); weights He-initialized from a seed.
//   mlp:   Flatten → Gemm(256) → Relu → Gemm(128) → Relu → Gemm(classes)   (hidden widths: ArchSpec::hidden)
//   cnn:   [Conv3×3(32) → BN → Relu → MaxPool2] → [Conv3×3(64) → BN → Relu → MaxPool2] → Flatten →
//          Gemm(128) → Relu → Gemm(classes)
//   dwsep: Conv3×3(32) → BN → Relu, then two depthwise-separable blocks (depthwise 3×3 stride 2 → BN → Relu →
//          pointwise 1×1 → BN → Relu; 64 and 128 channels) → GlobalAveragePool → Flatten → Gemm(classes)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "edgeq/status.h"
#include "graph/graph.h"

namespace edgeq::train {

struct ArchSpec {
    std::string arch;           // mlp | cnn | dwsep
    int64_t channels = 1, height = 28, width = 28, classes = 10;
    uint64_t seed = 0;
    std::vector<int64_t> hidden = {256, 128};  // mlp only: widths of the hidden Gemm → Relu layers (may be empty)
};

Result<graph::Model> build_classifier(const ArchSpec& spec);

}  // namespace edgeq::train
