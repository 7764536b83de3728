// edgeq inspect FILE [--json]: a GGUF file's metadata, tensors (name, type, shape, bytes) and totals.
#include <cstdio>
#include <optional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "formats/gguf/gguf.h"
#include "formats/onnx/onnx_import.h"
#include "passes/optimize.h"
#include "tools/edgeq/commands.h"

namespace edgeq::cli {
namespace {

struct InspectOptions {
    std::string file;
    bool json = false;
    bool all_values = false;
    bool optimized = false;
};

bool ends_with(const std::string& s, const std::string& suf) {
    return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

// ---- ONNX models ----------------------------------------------------------------------------------

struct GraphStats {
    std::map<std::string, int> ops;                                 // op histogram ("domain.Op")
    std::map<std::string, std::pair<int64_t, uint64_t>> params;    // dtype -> (elements, bytes)
    int64_t n_params = 0;
    uint64_t param_bytes = 0;
    size_t n_nodes = 0;
};

void count_graph(const graph::Graph& g, GraphStats& st) {
    for (const auto& n : g.nodes) {
        ++st.ops[(n.domain.empty() ? "" : n.domain + ".") + n.op_type];
        ++st.n_nodes;
        for (const auto& [k, a] : n.attrs) {
            if (a.g) count_graph(*a.g, st);
            for (const auto& sg : a.graphs) count_graph(*sg, st);
        }
    }
    for (const auto& [name, t] : g.initializers) {
        auto& p = st.params[dtype_name(t.dtype())];
        p.first += t.numel();
        p.second += t.nbytes();
        st.n_params += t.numel();
        st.param_bytes += t.nbytes();
    }
}

std::string vi_shape(const graph::ValueInfo& v) {
    if (!v.has_shape) return "?";
    std::string s = "[";
    for (size_t i = 0; i < v.shape.size(); ++i)
        s += (i ? ", " : "") + (v.shape[i].value >= 0 ? std::to_string(v.shape[i].value)
                                                     : (v.shape[i].param.empty() ? "?" : v.shape[i].param));
    return s + "]";
}

std::string vi_type(const graph::ValueInfo& v) {
    return v.dtype ? dtype_name(*v.dtype) : onnxio::onnx_type_name(v.onnx_elem_type);
}

nlohmann::json stats_json(const GraphStats& st) {
    nlohmann::json j;
    j["nodes"] = st.n_nodes;
    j["ops"] = st.ops;
    j["parameters"] = st.n_params;
    j["parameter_bytes"] = st.param_bytes;
    for (const auto& [dt, p] : st.params) j["parameters_by_dtype"][dt] = {{"elements", p.first}, {"bytes", p.second}};
    return j;
}

void print_stats(const char* title, const GraphStats& st) {
    std::printf("\n%s: %zu nodes, %lld parameters, %llu bytes\n", title, st.n_nodes,
                static_cast<long long>(st.n_params), static_cast<unsigned long long>(st.param_bytes));
    std::printf("  ops:");
    for (const auto& [op, c] : st.ops) std::printf(" %s x%d", op.c_str(), c);
    std::printf("\n  parameters by dtype:");
    for (const auto& [dt, p] : st.params)
        std::printf(" %s %lld (%llu B)", dt.c_str(), static_cast<long long>(p.first), static_cast<unsigned long long>(p.second));
    std::printf("\n");
}

Status inspect_onnx(const InspectOptions& o) {
    EDGEQ_ASSIGN_OR_RETURN(auto model, onnxio::load_model(o.file));
    GraphStats before;
    count_graph(model.graph, before);
    std::optional<GraphStats> after;
    std::optional<passes::OptimizeReport> rep;
    if (o.optimized) {
        EDGEQ_ASSIGN_OR_RETURN(rep, passes::optimize(model));
        after.emplace();
        count_graph(model.graph, *after);
    }
    if (o.json) {
        nlohmann::json j;
        j["file"] = o.file;
        j["format"] = "onnx";
        j["ir_version"] = model.ir_version;
        j["producer"] = model.producer;
        j["opsets"] = model.opsets;
        for (const auto* list : {&model.graph.inputs, &model.graph.outputs}) {
            auto& arr = j[list == &model.graph.inputs ? "inputs" : "outputs"];
            arr = nlohmann::json::array();
            for (const auto& v : *list) arr.push_back({{"name", v.name}, {"dtype", vi_type(v)}, {"shape", vi_shape(v)}});
        }
        j["graph"] = stats_json(before);
        if (after) {
            j["optimized"] = stats_json(*after);
            j["optimizer"] = {{"constants_folded", rep->constants_folded}, {"identities_removed", rep->identities_removed},
                              {"batchnorms_folded", rep->batchnorms_folded}, {"adds_folded", rep->adds_folded},
                              {"activations_fused", rep->activations_fused},
                              {"biases_fused", rep->biases_fused}, {"dead_removed", rep->dead_removed}};
        }
        std::printf("%s\n", j.dump(1).c_str());
        return Status::Ok();
    }
    std::printf("%s: ONNX IR %lld, producer %s, opsets:", o.file.c_str(), static_cast<long long>(model.ir_version),
                model.producer.empty() ? "?" : model.producer.c_str());
    for (const auto& [d, v] : model.opsets) std::printf(" %s=%lld", d.empty() ? "ai.onnx" : d.c_str(), static_cast<long long>(v));
    std::printf("\n\ninputs:\n");
    for (const auto& v : model.graph.inputs) std::printf("  %-30s %-6s %s\n", v.name.c_str(), vi_type(v).c_str(), vi_shape(v).c_str());
    std::printf("outputs:\n");
    for (const auto& v : model.graph.outputs) std::printf("  %-30s %-6s %s\n", v.name.c_str(), vi_type(v).c_str(), vi_shape(v).c_str());
    print_stats("graph", before);
    if (after) {
        print_stats("optimized", *after);
        std::printf("  optimizer: %d constants folded, %d Identity/Dropout removed, %d BatchNorm and %d Add folded, %d "
                    "activations and %d biases fused, %d dead nodes removed\n",
                    rep->constants_folded, rep->identities_removed, rep->batchnorms_folded, rep->adds_folded,
                    rep->activations_fused,
                    rep->biases_fused, rep->dead_removed);
    }
    return Status::Ok();
}

std::string shape_str(const std::vector<int64_t>& ne) {
    std::string s;
    for (size_t i = 0; i < ne.size(); ++i) s += (i ? " x " : "") + std::to_string(ne[i]);
    return s;
}

nlohmann::json value_json(const gguf::Value& v) {
    using gguf::ValueType;
    switch (v.type) {
        case ValueType::STRING: return v.str;
        case ValueType::BOOL: return v.u != 0;
        case ValueType::F32: case ValueType::F64: return v.f;
        case ValueType::ARRAY: {
            auto a = nlohmann::json::array();
            for (const auto& e : v.array) a.push_back(value_json(e));
            return a;
        }
        case ValueType::U8: case ValueType::U16: case ValueType::U32: case ValueType::U64: return v.u;
        default: return v.as_int();
    }
}

Status run_inspect(const InspectOptions& o) {
    if (ends_with(o.file, ".onnx")) return inspect_onnx(o);
    if (o.optimized) return InvalidArgument("--optimized applies to ONNX models only");
    EDGEQ_ASSIGN_OR_RETURN(auto f, gguf::File::open(o.file));
    uint64_t total_bytes = 0, total_params = 0;
    std::map<std::string, std::pair<int, uint64_t>> by_type;  // type -> (count, bytes)
    for (const auto& t : f->tensors()) {
        total_bytes += t.size;
        total_params += static_cast<uint64_t>(t.n_elements());
        auto& bt = by_type[dtype_name(t.type)];
        ++bt.first;
        bt.second += t.size;
    }
    const double bpw = total_params ? 8.0 * static_cast<double>(total_bytes) / static_cast<double>(total_params) : 0;
    if (o.json) {
        nlohmann::json j;
        j["file"] = o.file;
        j["version"] = f->version();
        j["alignment"] = f->alignment();
        j["file_bytes"] = f->file_size();
        j["metadata"] = nlohmann::json::object();
        for (const auto& kv : f->kvs()) j["metadata"][kv.key] = value_json(kv.value);
        j["tensors"] = nlohmann::json::array();
        for (const auto& t : f->tensors()) {
            j["tensors"].push_back({{"name", t.name}, {"type", dtype_name(t.type)}, {"ne", t.ne},
                                    {"bytes", t.size}, {"offset", t.offset},
                                    {"bits_per_weight", bits_per_weight(t.type)}});
        }
        j["totals"] = {{"tensors", f->tensors().size()}, {"parameters", total_params},
                       {"tensor_bytes", total_bytes}, {"bits_per_weight", bpw}};
        for (const auto& [name, cb] : by_type) j["totals"]["types"][name] = {{"count", cb.first}, {"bytes", cb.second}};
        std::printf("%s\n", j.dump(1).c_str());
        return Status::Ok();
    }
    std::printf("%s: GGUF v%u, %zu metadata keys, %zu tensors, alignment %u, %llu bytes\n\n", o.file.c_str(),
                f->version(), f->kvs().size(), f->tensors().size(), f->alignment(),
                static_cast<unsigned long long>(f->file_size()));
    std::printf("metadata:\n");
    for (const auto& kv : f->kvs()) {
        std::printf("  %-44s %-8s %s\n", kv.key.c_str(), gguf::value_type_name(kv.value.type),
                    kv.value.to_string(o.all_values ? SIZE_MAX : 6).c_str());
    }
    std::printf("\n  %-4s %-36s %-8s %-20s %12s %7s\n", "#", "tensor", "type", "shape (ne)", "bytes", "bpw");
    size_t i = 0;
    for (const auto& t : f->tensors()) {
        std::printf("  %-4zu %-36s %-8s %-20s %12llu %7.3f\n", i++, t.name.c_str(), dtype_name(t.type),
                    shape_str(t.ne).c_str(), static_cast<unsigned long long>(t.size), bits_per_weight(t.type));
    }
    std::printf("\ntypes:");
    for (const auto& [name, cb] : by_type) std::printf("  %s x%d (%llu B)", name.c_str(), cb.first,
                                                       static_cast<unsigned long long>(cb.second));
    std::printf("\ntotal: %llu parameters, %llu tensor bytes (%.2f MiB), %.3f bits per weight\n",
                static_cast<unsigned long long>(total_params), static_cast<unsigned long long>(total_bytes),
                static_cast<double>(total_bytes) / (1024.0 * 1024.0), bpw);
    return Status::Ok();
}

}  // namespace

void register_inspect(CLI::App& app) {
    auto o = std::make_shared<InspectOptions>();
    auto* cmd = app.add_subcommand("inspect",
                                   "Show a model: GGUF (metadata, tensors, sizes, bits per weight) or ONNX (inputs, "
                                   "outputs, op histogram, parameters and bytes per dtype)");
    cmd->footer("Examples:\n  edgeq inspect model.gguf\n  edgeq inspect model.onnx --optimized --json");
    cmd->add_option("FILE", o->file, "GGUF or ONNX (.onnx) file")->required();
    cmd->add_flag("--optimized", o->optimized, "ONNX: also show the graph after edgeq's optimizer");
    cmd->add_flag("--json", o->json, "Print JSON instead of tables");
    cmd->add_flag("--all", o->all_values, "Print whole arrays (e.g. every token)");
    cmd->callback([o] { report("inspect", run_inspect(*o)); });
}

}  // namespace edgeq::cli
