// libFuzzer: ONNX import from protobuf bytes: parse, convert to the IR, graph::verify (the checker and shape
// inference run only on models that convert and verify).
#include "formats/onnx/onnx_import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<std::string> warnings;
    auto m = edgeq::onnxio::parse_model({data, size}, "fuzz.onnx", "", &warnings);
    (void)m;
    return 0;
}
