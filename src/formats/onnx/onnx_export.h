// graph IR -> ONNX (official protobuf schema from Debian's libonnx). Rules: docs/formats/onnx.md, "Writing".
//
// The inverse of onnx_import.h: load_model(save_model(m)) gives back m (nodes, attributes incl. If/Loop/Scan
// subgraphs, initializers byte for byte, inputs/outputs/value_info with symbolic dims, opsets and
// metadata_props). Not written, because the IR does not hold them: doc strings, model-local functions,
// sequence/map/optional types, TYPE_PROTO attributes, initializer order (the IR sorts them by name).
//
// Mapping, in short:
//   - ir_version: options.ir_version, else model.ir_version, else the IR released with the ai.onnx opset;
//     then raised to what the content needs: 4 (initializers are not listed as graph inputs), 10 for
//     INT4/UINT4, 13 for INT2/UINT2 (FLOAT8 value types 9, FLOAT4E2M1 11, FLOAT8E8M0 12). An explicit
//     options.ir_version below that is an error.
//   - opset_import: every entry of model.opsets, plus version 1 for a domain that nodes use but model.opsets
//     lacks (com.microsoft, com.edgeq, ...); ai.onnx nodes without an ai.onnx opset are an error.
//   - producer_name "edgeq", producer_version kEdgeqVersion (options can override).
//   - tensors: raw_data, little-endian, the IR's bytes as they are (packed 4-/2-bit types in ONNX's order);
//     a type ONNX cannot store (Q4_K, ...) or a tensor without data is an error naming graph and tensor.
//   - value infos: elem type from `dtype`, else `onnx_elem_type`; neither: a ValueInfoProto without a type,
//     except on main-graph inputs/outputs (Unsupported: ONNX Runtime refuses such a file). Shape only when
//     has_shape: Dim{value >= 0} -> dim_value, Dim{param} -> dim_param, else an empty dimension.
//
// Errors: InvalidArgument (bad model: unverifiable graph, missing data, options), Unsupported (a type ONNX
// cannot hold, over 2 GiB without external data), IoError (the file system); each names file, graph, tensor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "edgeq/status.h"
#include "graph/graph.h"

namespace edgeq::onnxio {

inline constexpr const char* kEdgeqVersion = "0.1.0";  // keep in step with project(VERSION) in CMakeLists.txt

struct ExportOptions {
    // External data (like onnx.save_model(save_as_external_data=True)): every initializer (in every graph) of
    // at least this many bytes goes to one side file next to the model; nullopt = everything inline
    // (default). A model whose protobuf would exceed 2 GiB can only be saved this way.
    std::optional<size_t> external_data_threshold;
    // Side file name, relative to the model's folder (a plain file name); "" = "<model file name>.data".
    std::string external_data_location;
    // Also move tensor attributes (Constant values, ...) of at least the threshold to the side file.
    bool external_attribute_tensors = false;
    // Written ir_version (0 = derived, see above); must be at least what the content needs.
    int64_t ir_version = 0;
    // Run graph::verify on the graph and every subgraph first (a broken graph is InvalidArgument).
    bool verify = true;
    std::string producer_name = "edgeq";
    std::string producer_version = kEdgeqVersion;
};

// The model as one serialized ModelProto. External data needs a file: threshold set here is InvalidArgument.
Result<std::string> serialize_model(const graph::Model& model, const ExportOptions& options = {});

// Writes path (and the external data file, if any) through AtomicFile: a temporary in the target folder,
// fsync, rename. On any error nothing is left behind and an existing file at path is kept. The side file is
// committed before the model, so a crash between the two renames leaves the old model with the new data file
// at worst.
Status save_model(const graph::Model& model, const std::string& path, const ExportOptions& options = {});

}  // namespace edgeq::onnxio
