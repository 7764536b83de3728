// A graph::Model with one F32 input "x" of a fixed shape and one output "y" (opset 13), for tests that build
// small graphs by hand.
#pragma once

#include <string>

#include "graph/graph.h"

namespace edgeq::test {

inline graph::Model model_x_to_y(const std::string& name, const Shape& x_shape) {
    graph::Model m;
    m.opsets[""] = 13;
    m.graph.name = name;
    graph::ValueInfo x;
    x.name = "x";
    x.dtype = DType::F32;
    x.has_shape = true;
    for (int64_t d : x_shape) x.shape.push_back({d, ""});
    m.graph.inputs.push_back(x);
    graph::ValueInfo y;
    y.name = "y";
    m.graph.outputs.push_back(y);
    return m;
}

}  // namespace edgeq::test
