// edgeq inspect FILE [--json]: a GGUF file's metadata, tensors (name, type, shape, bytes) and totals.
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "formats/gguf/gguf.h"
#include "tools/edgeq/commands.h"

namespace edgeq::cli {
namespace {

struct InspectOptions {
    std::string file;
    bool json = false;
    bool all_values = false;
};

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
    auto* cmd = app.add_subcommand("inspect", "Show a GGUF file's metadata, tensors, sizes and bits per weight");
    cmd->add_option("FILE", o->file, "GGUF file")->required();
    cmd->add_flag("--json", o->json, "Print JSON instead of tables");
    cmd->add_flag("--all", o->all_values, "Print whole arrays (e.g. every token)");
    cmd->callback([o] { report("inspect", run_inspect(*o)); });
}

}  // namespace edgeq::cli
