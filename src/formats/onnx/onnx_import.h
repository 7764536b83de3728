// ONNX → graph IR (official protobuf schema from Debian's libonnx). Layout facts and checks:
// docs/formats/onnx.md.
//
// load_model: parses the ModelProto (size-checked), runs ONNX's checker and shape inference (their
// failures are reported, not fatal, where ONNX Runtime would still run the model), converts every node,
// attribute (incl. If/Loop/Scan subgraphs), initializer (raw_data, typed fields, external data resolved
// against the model's folder and bounds-checked) and value_info. Initializers that are also listed as graph
// inputs (IR < 4 exports) become parameters, not inputs. Errors name the file, the node or tensor, and what was
// expected: truncated protobuf, a tensor claiming more data than present, unknown element type, ...
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "edgeq/status.h"
#include "edgeq/tensor.h"
#include "graph/graph.h"

namespace edgeq::onnxio {

// warnings (optional) receives what was tolerated: ONNX checker / shape-inference failures, ignored fields.
// base_dir: folder for external data ("" = external data is an error).
Result<graph::Model> load_model(const std::string& path, std::vector<std::string>* warnings = nullptr);
Result<graph::Model> parse_model(std::span<const uint8_t> bytes, const std::string& source_name,
                                 const std::string& base_dir, std::vector<std::string>* warnings = nullptr);

// A serialized TensorProto (the conformance suite's input_N.pb / output_N.pb). *name receives its name.
Result<Tensor> load_tensor_pb(const std::string& path, std::string* name = nullptr);

// ONNX TensorProto.DataType <-> DType (nullopt: a type edgeq cannot hold, e.g. STRING, FLOAT8).
std::optional<DType> dtype_from_onnx(int32_t elem_type);
int32_t onnx_from_dtype(DType t);  // 0 if none
const char* onnx_type_name(int32_t elem_type);

}  // namespace edgeq::onnxio
