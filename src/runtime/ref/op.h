// The reference executor's operator interface. Every op is a plain function `Status op_X(OpContext&)`
// listed in one of the family tables ops_<family>.def (math, nn, tensor, quant, control); the registry
// (registry.cpp) is built from those rows. Reference ops are the specification: readable loops, ONNX
// semantics for every supported opset, no tricks. Optimized paths (kernels/) must agree with them.
#pragma once

#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "edgeq/status.h"
#include "edgeq/tensor.h"
#include "graph/graph.h"

namespace edgeq::runtime {

struct OpContext;
using OpFn = Status (*)(OpContext&);

// Runs a subgraph (If/Loop bodies) with the given positional inputs; outer-scope values are visible.
using SubgraphRunner =
    std::function<Result<std::vector<Tensor>>(const graph::Graph& g, const std::vector<Tensor>& inputs)>;

struct OpContext {
    const graph::Node& node;
    int64_t opset = 0;                    // version of the node's domain in the model
    std::vector<const Tensor*> inputs;    // one per node input; nullptr for an omitted ("") input
    std::vector<Tensor> outputs;          // one per node output, filled by the op
    SubgraphRunner run_subgraph;          // for control-flow ops
    // Only the outputs' shapes and dtypes are wanted (the fast planner's shape pass): ops whose arithmetic costs
    // far more than their output's size (Conv, Gemm, MatMul, pooling, RNNs, integer Conv/MatMul) validate
    // their inputs as usual and return zero-filled outputs of the right shape without computing them; so do
    // QuantizeLinear / DequantizeLinear (element-wise, but a batch-1000 activation through the exact double
    // arithmetic cost seconds of planning).
    bool shape_only = false;

    size_t num_inputs() const { return inputs.size(); }
    bool has_input(size_t i) const { return i < inputs.size() && inputs[i] != nullptr; }
    const Tensor& in(size_t i) const { return *inputs[i]; }
    // An InvalidArgument naming the node: "node 'x' (Conv): <msg>".
    Status fail(const std::string& msg) const { return InvalidArgument(node.describe() + ": " + msg); }
    Status unsupported(const std::string& msg) const { return Unsupported(node.describe() + ": " + msg); }
};

struct OpRow {
    const char* op_type;
    const char* domain;   // "" for ai.onnx
    OpFn fn;
    const char* family;   // which ops_<family>.def lists it
};

std::span<const OpRow> ref_ops();
const OpRow* find_ref_op(const std::string& domain, const std::string& op_type);

}  // namespace edgeq::runtime
