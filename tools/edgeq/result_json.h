// The shared results schema of every `edgeq ... --json` that produces results (docs/results-schema.md):
//   {"schema": "edgeq.result/1", "command": ..., "model": ..., "method": ..., "precision": ...,
//    "metrics": {accuracy, fp32_accuracy, bytes, bits_per_weight, latency_ms {...}, ...},
//    ["layers": [...]], ["precision_map": {...}], ...the command's own keys}
// Commands build their JSON as before and call add_result_envelope() last; `edgeq report` reads it back
// (eval/report.h validates it).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "edgeq/status.h"
#include "eval/report.h"

namespace edgeq::graph {
struct Model;
}
namespace edgeq::gguf {
class File;
}

namespace edgeq::cli {

// What a result is about: the quantization method and the precision, as `edgeq report` groups rows.
// Methods: "fp32", "fp16", "bf16", "dynamic", "static", "weight-only" (ONNX), "gguf" (GGUF file types);
// precisions: "fp32", "fp16", "bf16", "int8", "int4", "int2" (ONNX weights) or a GGUF file type ("Q4_K_M").
struct ResultLabel {
    std::string method, precision;
    std::optional<double> bits_per_weight;  // weight storage bits per parameter, when known
};

// From an ONNX graph: the dominant dtype of the weight initializers (rank >= 2) and the quantization ops
// (DynamicQuantizeLinear -> dynamic; QuantizeLinear / QLinear* / QGemm -> static; else weight-only).
ResultLabel label_onnx(const graph::Model& m);
// From a GGUF file: general.file_type (F32 -> fp32, F16 -> fp16, BF16 -> bf16, else its name, e.g. Q4_K_M);
// bits per weight over all tensors.
ResultLabel label_gguf(const gguf::File& f);
// Opens the file (GGUF by magic, else ONNX) and labels it.
Result<ResultLabel> label_model_file(const std::string& path);

// File size in bytes, plus a sibling "<path>.data" (ONNX external data) when present; 0 if unreadable.
int64_t model_file_bytes(const std::string& path);

// --method / --precision: override the inferred label in the JSON.
struct LabelOptions {
    std::string method, precision;
    void apply(ResultLabel& l) const {
        if (!method.empty()) l.method = method;
        if (!precision.empty()) l.precision = precision;
    }
};
void add_label_options(CLI::App* cmd, LabelOptions& o);

// Adds the envelope to j (keeping its keys): schema, command, model, method, precision, and `metrics`
// merged into j["metrics"] (bits_per_weight from the label when metrics has none).
void add_result_envelope(nlohmann::json& j, const std::string& command, const std::string& model,
                         const ResultLabel& label, const nlohmann::json& metrics);

}  // namespace edgeq::cli
