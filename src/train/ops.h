// The trainer's op table: for each supported ONNX op, a forward (FP32, NCHW) that saves what its backward needs,
// and a backward that turns output gradients into input gradients (reverse-mode, one node at a time).
// Internal to src/train (net.cpp drives it); the list of supported ops is docs/train.md's table.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "edgeq/status.h"
#include "edgeq/tensor.h"
#include "graph/graph.h"

namespace edgeq::train {

// What a node's forward leaves for its backward (batch statistics, argmax positions, ...).
struct NodeState {
    std::vector<Tensor> saved;
    std::vector<int32_t> idx;
};

struct FwdCtx {
    const graph::Node& node;
    std::vector<Tensor> in;   // empty_handle(): omitted optional input
    std::vector<Tensor> out;  // filled by the op, one per node output
    NodeState& st;
    bool training;            // BatchNormalization: batch statistics + running-stat update
    int threads;
    int64_t opset;
};

struct BwdCtx {
    const graph::Node& node;
    const std::vector<Tensor>& in;
    const std::vector<Tensor>& out;
    const Tensor& dy;         // gradient of output 0 (same shape)
    std::vector<bool> want;   // want[i]: the gradient of input i is needed
    std::vector<Tensor> dx;   // filled by the op where want[i] (same shape as in[i])
    NodeState& st;
    bool training;
    int threads;
    int64_t opset;
};

struct GradOp {
    const char* op_type;
    Status (*forward)(FwdCtx&);
    Status (*backward)(BwdCtx&);
    uint32_t diff_inputs;  // bit i: input i is differentiable (else shape/statistics/bounds inputs)
};

// nullptr when the op has no gradient here (ai.onnx ops, plus com.edgeq FakeQuant for QAT).
const GradOp* find_grad_op(const std::string& op_type);
std::vector<std::string> grad_op_names();

}  // namespace edgeq::train
