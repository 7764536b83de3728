// The reference executor: runs a graph node by node, in topological order, with the reference ops.
// It is the specification every optimized path is compared against — simple, not fast.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "edgeq/status.h"
#include "edgeq/tensor.h"
#include "graph/graph.h"

namespace edgeq::runtime {

struct RunOptions {
    // Called after every node with its outputs (per-layer comparison, calibration, tracing).
    std::function<void(const graph::Node&, const std::vector<Tensor>&)> on_node;
    // Asked before every node: true runs it with OpContext::shape_only (outputs of the right shape and dtype,
    // values not computed by the ops that honour it). Never set when the values matter.
    std::function<bool(const graph::Node&)> shape_only;
};

// Runs model.graph on `inputs` (by graph-input name) and returns every graph output by name.
// Errors: a missing or unexpected input, a dtype/shape that contradicts the declared input, an unsupported
// op (named with its node), or an op's own error.
Result<std::map<std::string, Tensor>> run_reference(const graph::Model& model,
                                                    const std::map<std::string, Tensor>& inputs,
                                                    const RunOptions& opts = {});

// Ops the model uses that the reference executor lacks, as "domain.Op" (empty: all supported), including
// ops inside subgraphs.
std::vector<std::string> unsupported_ops(const graph::Model& model);

}  // namespace edgeq::runtime
