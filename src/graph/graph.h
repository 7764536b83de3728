// The graph IR: an ONNX-shaped model in plain C++ (values are named; nodes list input/output names).
// formats/onnx builds it from protobuf; runtime executes it; graph/passes rewrite it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "edgeq/status.h"
#include "edgeq/tensor.h"

namespace edgeq::graph {

struct Graph;

struct Attribute {
    enum class Kind { Float, Int, String, Tensor, Graph, Floats, Ints, Strings, Tensors, Graphs };
    Kind kind = Kind::Int;
    float f = 0;
    int64_t i = 0;
    std::string s;
    Tensor t;
    std::shared_ptr<Graph> g;
    std::vector<float> floats;
    std::vector<int64_t> ints;
    std::vector<std::string> strings;
    std::vector<Tensor> tensors;
    std::vector<std::shared_ptr<Graph>> graphs;
};

struct Node {
    std::string name;
    std::string op_type;
    std::string domain;                   // "" = ai.onnx
    std::vector<std::string> inputs;      // "" = omitted optional input
    std::vector<std::string> outputs;     // "" = omitted optional output
    std::map<std::string, Attribute> attrs;

    bool has(const std::string& a) const { return attrs.count(a) != 0; }
    int64_t attr_i(const std::string& a, int64_t dflt) const;
    float attr_f(const std::string& a, float dflt) const;
    std::string attr_s(const std::string& a, const std::string& dflt) const;
    std::vector<int64_t> attr_ints(const std::string& a, std::vector<int64_t> dflt = {}) const;
    std::vector<float> attr_floats(const std::string& a, std::vector<float> dflt = {}) const;
    const Attribute* attr(const std::string& a) const;
    // "node 'conv1' (Conv)" for messages
    std::string describe() const;
};

struct Dim {
    int64_t value = -1;     // >= 0 known; -1 unknown or symbolic
    std::string param;      // symbolic name, e.g. "batch"
};

struct ValueInfo {
    std::string name;
    std::optional<DType> dtype;  // nullopt: unknown or unsupported element type
    int32_t onnx_elem_type = 0;  // ONNX TensorProto.DataType, kept for messages/export
    bool has_shape = false;
    std::vector<Dim> shape;
};

struct Graph {
    std::string name;
    std::vector<Node> nodes;
    std::vector<ValueInfo> inputs;        // real inputs only (initializers removed)
    std::vector<ValueInfo> outputs;
    std::vector<ValueInfo> value_info;    // inferred / declared intermediate types and shapes
    std::map<std::string, Tensor> initializers;

    const ValueInfo* find_value_info(const std::string& name) const;  // inputs, outputs, value_info
};

struct Model {
    Graph graph;
    std::map<std::string, int64_t> opsets;  // domain -> version ("" = ai.onnx)
    int64_t ir_version = 0;
    std::string producer;
    std::string path;
    std::vector<std::pair<std::string, std::string>> metadata_props;  // ModelProto.metadata_props, file order

    int64_t opset(const std::string& domain = "") const {
        auto it = opsets.find(domain == "ai.onnx" ? "" : domain);
        return it == opsets.end() ? 0 : it->second;
    }
};

// Node indices in an order where every node comes after the producers of its inputs. Values available
// up front: graph inputs, initializers and `outer` (enclosing-scope names for subgraphs).
// Errors: a cycle (names a node on it) or an input that nothing produces (names node and input).
Result<std::vector<size_t>> topological_order(const Graph& g, const std::vector<std::string>& outer = {});

// Structural checks: unique value producers, every input defined, acyclic, outputs produced.
Status verify(const Graph& g, const std::vector<std::string>& outer = {});

}  // namespace edgeq::graph
