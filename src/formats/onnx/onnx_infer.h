// ONNX shape inference, isolated: libonnx 1.12's inference functions trust attribute values (a fuzzed
// LayerNormalization axis or Scan num_scan_inputs makes them read out of bounds and crash), so the importer never
// runs them in its own process. A forked child runs onnx::shape_inference::InferShapes on its copy-on-write copy
// of the model and sends back the result without tensor data; a crash, hang (timeout) or exception in the child
// only loses the inferred types.
#pragma once

#include <string>

namespace onnx {
class ModelProto;
}

namespace edgeq::onnxio {

// On success returns "" and fills *inferred (graph structure + value_info, initializer and tensor-attribute data
// removed). Otherwise returns why inference gave nothing ("crashed (Segmentation fault)", the exception text, ...).
std::string infer_shapes_isolated(onnx::ModelProto& model, onnx::ModelProto* inferred, int timeout_s = 120);

}  // namespace edgeq::onnxio
