#include "tools/edgeq/result_json.h"

#include <filesystem>
#include <fstream>
#include <map>

#include "formats/gguf/gguf.h"
#include "formats/onnx/onnx_import.h"
#include "graph/graph.h"
#include "quant/recipe/llama_mix.h"

namespace edgeq::cli {
namespace fs = std::filesystem;

ResultLabel label_onnx(const graph::Model& m) {
    std::map<std::string, int64_t> numel;  // precision -> weight elements
    int64_t params = 0;
    double bits = 0;
    for (const auto& [name, t] : m.graph.initializers) {
        if (t.shape().size() < 2) continue;  // biases, scales, zero points, shapes
        std::string p;
        switch (t.dtype()) {
            case DType::F32:
                p = "fp32";
                break;
            case DType::F16:
                p = "fp16";
                break;
            case DType::BF16:
                p = "bf16";
                break;
            case DType::I8:
            case DType::U8:
                p = "int8";
                break;
            case DType::I4:
            case DType::U4:
                p = "int4";
                break;
            case DType::I2:
            case DType::U2:
                p = "int2";
                break;
            default:
                continue;
        }
        numel[p] += t.numel();
        params += t.numel();
        bits += 8.0 * static_cast<double>(t.nbytes());
    }
    ResultLabel l{"fp32", "fp32", std::nullopt};
    int64_t best = -1;
    for (const auto& [p, n] : numel)
        if (n > best) best = n, l.precision = p;
    if (params > 0) l.bits_per_weight = bits / static_cast<double>(params);
    if (l.precision == "fp32" || l.precision == "fp16" || l.precision == "bf16") {
        l.method = l.precision;
        return l;
    }
    bool dynamic = false, qstatic = false;
    for (const auto& n : m.graph.nodes) {
        if (n.op_type == "DynamicQuantizeLinear") dynamic = true;
        if (n.op_type == "QuantizeLinear" || n.op_type.rfind("QLinear", 0) == 0 || n.op_type == "QGemm")
            qstatic = true;
    }
    l.method = dynamic ? "dynamic" : qstatic ? "static" : "weight-only";
    return l;
}

ResultLabel label_gguf(const gguf::File& f) {
    ResultLabel l{"gguf", "unknown", std::nullopt};
    if (const gguf::Value* v = f.find("general.file_type")) {
        const int64_t id = v->as_int();
        for (const auto& ft : recipe::file_types())
            if (static_cast<int64_t>(ft.ftype_id) == id) l.precision = ft.name;
        if (l.precision == "unknown") l.precision = "ftype " + std::to_string(id);
    } else {
        l.precision = "F32";  // llama.cpp: missing file type = all F32
    }
    if (l.precision == "F32")
        l.method = l.precision = "fp32";
    else if (l.precision == "F16")
        l.precision = "fp16";
    else if (l.precision == "BF16")
        l.precision = "bf16";
    int64_t params = 0;
    double bits = 0;
    for (const auto& t : f.tensors()) {
        params += t.n_elements();
        bits += 8.0 * static_cast<double>(t.size);
    }
    if (params > 0) l.bits_per_weight = bits / static_cast<double>(params);
    return l;
}

Result<ResultLabel> label_model_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    char magic[4] = {};
    in.read(magic, 4);
    if (in.gcount() == 4 && std::string(magic, 4) == "GGUF") {
        EDGEQ_ASSIGN_OR_RETURN(auto f, gguf::File::open(path));
        return label_gguf(*f);
    }
    EDGEQ_ASSIGN_OR_RETURN(graph::Model m, onnxio::load_model(path));
    return label_onnx(m);
}

int64_t model_file_bytes(const std::string& path) {
    std::error_code ec;
    int64_t n = static_cast<int64_t>(fs::file_size(path, ec));
    if (ec) return 0;
    // ONNX external data: a sibling "<model>.data" (the common convention, and edgeq's writer) is added
    const fs::path data = path + ".data";
    if (fs::exists(data, ec)) n += static_cast<int64_t>(fs::file_size(data, ec));
    return n;
}

void add_label_options(CLI::App* cmd, LabelOptions& o) {
    const char* g = "Results JSON (docs/results-schema.md)";
    cmd->add_option("--method", o.method, "Method recorded in --json (default: inferred from the model)")
        ->group(g);
    cmd->add_option("--precision", o.precision,
                    "Precision recorded in --json (default: inferred from the model)")
        ->group(g);
}

void add_result_envelope(nlohmann::json& j, const std::string& command, const std::string& model,
                         const ResultLabel& label, const nlohmann::json& metrics) {
    j["schema"] = report::kResultSchema;
    j["command"] = command;
    j["model"] = model;
    j["method"] = label.method;
    j["precision"] = label.precision;
    nlohmann::json& m = j["metrics"];
    if (!m.is_object()) m = nlohmann::json::object();
    for (const auto& [k, v] : metrics.items()) m[k] = v;
    if (label.bits_per_weight && !m.contains("bits_per_weight"))
        m["bits_per_weight"] = *label.bits_per_weight;
}

}  // namespace edgeq::cli
