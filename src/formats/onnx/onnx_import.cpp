// ONNX ModelProto → graph IR. Layout facts and the list of checks: docs/formats/onnx.md.
//
// Order of work in parse_model:
//   1. parse the protobuf (size-checked; a truncated or corrupt message is a Corrupt status naming the file)
//   2. convert opsets, graph (recursively for If/Loop/Scan bodies), initializers (raw_data, typed fields,
//      external data), value_info with symbolic dims; graph::verify on the main graph and every subgraph (with
//      the enclosing scopes' names visible)
//   3. ONNX's checker (model dir = base_dir): a warning, quoted in the error only when step 2 failed
//   4. ONNX shape inference, only for models that passed 2 and 3, in a forked child (onnx_infer.h: libonnx
//      1.12's inference crashes on some malformed attributes); its failures are warnings; inferred value_info
//      refreshes the converted graphs
#include "formats/onnx/onnx_import.h"

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>

#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/file.h"
#include "formats/onnx/onnx_infer.h"
#include "formats/onnx/onnx_tensor.h"

namespace edgeq::onnxio {
namespace fs = std::filesystem;

namespace {

struct Ctx {
    std::string source;      // file name for messages
    std::string base_dir;    // external data folder ("" = external data not allowed)
    std::vector<std::string>* warnings = nullptr;
    void warn(std::string w) const {
        if (warnings) warnings->push_back(std::move(w));
    }
};

Result<graph::Graph> convert_graph(const onnx::GraphProto& gp, const Ctx& ctx, int depth);

graph::ValueInfo convert_value_info(const onnx::ValueInfoProto& vp) {
    graph::ValueInfo vi;
    vi.name = vp.name();
    if (!vp.has_type()) return vi;
    const onnx::TypeProto& tp = vp.type();
    if (tp.value_case() != onnx::TypeProto::kTensorType) return vi;  // sequence/map/optional: no dtype
    const auto& tt = tp.tensor_type();
    vi.onnx_elem_type = tt.elem_type();
    vi.dtype = dtype_from_onnx(tt.elem_type());
    if (tt.has_shape()) {
        vi.has_shape = true;
        for (const auto& d : tt.shape().dim()) {
            graph::Dim dim;
            if (d.value_case() == onnx::TensorShapeProto_Dimension::kDimValue && d.dim_value() >= 0) {
                dim.value = d.dim_value();
            } else if (d.value_case() == onnx::TensorShapeProto_Dimension::kDimParam) {
                dim.param = d.dim_param();
            }
            vi.shape.push_back(std::move(dim));
        }
    }
    return vi;
}

Result<graph::Attribute> convert_attribute(const onnx::AttributeProto& ap, const std::string& where, const Ctx& ctx,
                                           int depth) {
    using A = onnx::AttributeProto;
    graph::Attribute a;
    int type = ap.type();
    if (type == A::UNDEFINED) {  // IR < 0.0.2 files may omit the type: deduce it from the field that is set
        if (ap.has_f()) type = A::FLOAT;
        else if (ap.has_i()) type = A::INT;
        else if (ap.has_s()) type = A::STRING;
        else if (ap.has_t()) type = A::TENSOR;
        else if (ap.has_g()) type = A::GRAPH;
        else if (ap.has_sparse_tensor()) type = A::SPARSE_TENSOR;
        else if (ap.floats_size()) type = A::FLOATS;
        else if (ap.ints_size()) type = A::INTS;
        else if (ap.strings_size()) type = A::STRINGS;
        else if (ap.tensors_size()) type = A::TENSORS;
        else if (ap.graphs_size()) type = A::GRAPHS;
        else return Corrupt(where + ": attribute '" + ap.name() + "' has no type and no value");
    }
    const std::string what = where + " attribute '" + ap.name() + "'";
    switch (type) {
        case A::FLOAT: a.kind = graph::Attribute::Kind::Float; a.f = ap.f(); break;
        case A::INT: a.kind = graph::Attribute::Kind::Int; a.i = ap.i(); break;
        case A::STRING: a.kind = graph::Attribute::Kind::String; a.s = ap.s(); break;
        case A::TENSOR: {
            a.kind = graph::Attribute::Kind::Tensor;
            EDGEQ_ASSIGN_OR_RETURN(a.t, tensor_from_proto(ap.t(), what, ctx.base_dir));
            break;
        }
        case A::SPARSE_TENSOR: {
            a.kind = graph::Attribute::Kind::Tensor;
            EDGEQ_ASSIGN_OR_RETURN(a.t, tensor_from_sparse_proto(ap.sparse_tensor(), what, ctx.base_dir));
            break;
        }
        case A::GRAPH: {
            a.kind = graph::Attribute::Kind::Graph;
            EDGEQ_ASSIGN_OR_RETURN(auto g, convert_graph(ap.g(), ctx, depth + 1));
            a.g = std::make_shared<graph::Graph>(std::move(g));
            break;
        }
        case A::FLOATS:
            a.kind = graph::Attribute::Kind::Floats;
            a.floats.assign(ap.floats().begin(), ap.floats().end());
            break;
        case A::INTS:
            a.kind = graph::Attribute::Kind::Ints;
            a.ints.assign(ap.ints().begin(), ap.ints().end());
            break;
        case A::STRINGS:
            a.kind = graph::Attribute::Kind::Strings;
            a.strings.assign(ap.strings().begin(), ap.strings().end());
            break;
        case A::TENSORS:
            a.kind = graph::Attribute::Kind::Tensors;
            for (int k = 0; k < ap.tensors_size(); ++k) {
                EDGEQ_ASSIGN_OR_RETURN(auto t, tensor_from_proto(ap.tensors(k), what, ctx.base_dir));
                a.tensors.push_back(std::move(t));
            }
            break;
        case A::SPARSE_TENSORS:
            a.kind = graph::Attribute::Kind::Tensors;
            for (int k = 0; k < ap.sparse_tensors_size(); ++k) {
                EDGEQ_ASSIGN_OR_RETURN(auto t, tensor_from_sparse_proto(ap.sparse_tensors(k), what, ctx.base_dir));
                a.tensors.push_back(std::move(t));
            }
            break;
        case A::GRAPHS:
            a.kind = graph::Attribute::Kind::Graphs;
            for (int k = 0; k < ap.graphs_size(); ++k) {
                EDGEQ_ASSIGN_OR_RETURN(auto g, convert_graph(ap.graphs(k), ctx, depth + 1));
                a.graphs.push_back(std::make_shared<graph::Graph>(std::move(g)));
            }
            break;
        default:
            return Unsupported(what + ": attribute type " + std::to_string(type) + " is not supported");
    }
    return a;
}

Result<graph::Graph> convert_graph(const onnx::GraphProto& gp, const Ctx& ctx, int depth) {
    if (depth > 64) return Corrupt(ctx.source + ": subgraphs nested more than 64 deep");
    graph::Graph g;
    g.name = gp.name();
    const std::string gname = "graph '" + gp.name() + "'";

    for (int k = 0; k < gp.initializer_size(); ++k) {
        const auto& tp = gp.initializer(k);
        const std::string what = "initializer '" + tp.name() + "'";
        if (tp.name().empty()) return Corrupt(gname + ": initializer #" + std::to_string(k) + " has no name");
        EDGEQ_ASSIGN_OR_RETURN(auto t, tensor_from_proto(tp, what, ctx.base_dir));
        if (!g.initializers.emplace(tp.name(), std::move(t)).second) {
            return Corrupt(gname + ": initializer '" + tp.name() + "' is defined twice");
        }
    }
    for (int k = 0; k < gp.sparse_initializer_size(); ++k) {
        const auto& sp = gp.sparse_initializer(k);
        const std::string name = sp.values().name();
        const std::string what = "sparse initializer '" + name + "'";
        if (name.empty()) return Corrupt(gname + ": sparse initializer #" + std::to_string(k) + " has no name");
        EDGEQ_ASSIGN_OR_RETURN(auto t, tensor_from_sparse_proto(sp, what, ctx.base_dir));
        if (!g.initializers.emplace(name, std::move(t)).second) {
            return Corrupt(gname + ": initializer '" + name + "' is defined twice");
        }
    }

    std::set<std::string> input_names;
    for (const auto& vp : gp.input()) {
        if (vp.name().empty()) return Corrupt(gname + ": a graph input has no name");
        if (!input_names.insert(vp.name()).second) {
            return Corrupt(gname + ": input '" + vp.name() + "' is listed twice");
        }
        if (g.initializers.count(vp.name())) continue;  // IR < 4 style: a parameter, not an input
        g.inputs.push_back(convert_value_info(vp));
    }
    for (const auto& vp : gp.output()) {
        if (vp.name().empty()) return Corrupt(gname + ": a graph output has no name");
        g.outputs.push_back(convert_value_info(vp));
    }
    for (const auto& vp : gp.value_info()) g.value_info.push_back(convert_value_info(vp));

    g.nodes.reserve(static_cast<size_t>(gp.node_size()));
    for (int k = 0; k < gp.node_size(); ++k) {
        const auto& np = gp.node(k);
        graph::Node n;
        n.name = np.name().empty() ? np.op_type() + "#" + std::to_string(k) : np.name();
        n.op_type = np.op_type();
        n.domain = np.domain() == "ai.onnx" ? "" : np.domain();
        if (n.op_type.empty()) return Corrupt(gname + ": node #" + std::to_string(k) + " has no op_type");
        n.inputs.assign(np.input().begin(), np.input().end());
        n.outputs.assign(np.output().begin(), np.output().end());
        for (const auto& ap : np.attribute()) {
            if (ap.name().empty()) return Corrupt(n.describe() + ": attribute without a name");
            if (!ap.ref_attr_name().empty()) {
                return Unsupported(n.describe() + ": attribute '" + ap.name() +
                                   "' refers to a function attribute (only valid inside functions)");
            }
            if (ap.type() == onnx::AttributeProto::TYPE_PROTO || ap.type() == onnx::AttributeProto::TYPE_PROTOS) {
                ctx.warn(n.describe() + ": type-proto attribute '" + ap.name() + "' ignored");
                continue;
            }
            EDGEQ_ASSIGN_OR_RETURN(auto a, convert_attribute(ap, n.describe(), ctx, depth));
            if (!n.attrs.emplace(ap.name(), std::move(a)).second) {
                return Corrupt(n.describe() + ": attribute '" + ap.name() + "' given twice");
            }
        }
        for (const auto& o : n.outputs) {
            if (o.empty()) continue;
            if (input_names.count(o) || g.initializers.count(o)) {
                return Corrupt(n.describe() + ": output '" + o + "' is also a graph input or initializer of " + gname +
                               " (every value must have one definition)");
            }
        }
        g.nodes.push_back(std::move(n));
    }
    return g;
}

// Every name a graph defines, for its subgraphs' outer scope.
void defined_names(const graph::Graph& g, std::vector<std::string>& out) {
    for (const auto& in : g.inputs) out.push_back(in.name);
    for (const auto& [name, t] : g.initializers) out.push_back(name);
    for (const auto& n : g.nodes)
        for (const auto& o : n.outputs)
            if (!o.empty()) out.push_back(o);
}

Status verify_recursive(const graph::Graph& g, const std::vector<std::string>& outer, const std::string& where) {
    Status s = graph::verify(g, outer);
    if (!s.ok()) return Status(s.code(), where + ": " + s.message());
    std::vector<std::string> scope = outer;
    defined_names(g, scope);
    for (const auto& n : g.nodes) {
        for (const auto& [name, a] : n.attrs) {
            std::vector<const graph::Graph*> subs;
            if (a.g) subs.push_back(a.g.get());
            for (const auto& sg : a.graphs) subs.push_back(sg.get());
            for (const auto* sg : subs) {
                EDGEQ_RETURN_IF_ERROR(verify_recursive(
                    *sg, scope, where + ", " + n.describe() + " attribute '" + name + "' subgraph '" + sg->name + "'"));
            }
        }
    }
    return Status::Ok();
}

std::string first_line(const std::string& s) {
    auto p = s.find('\n');
    return p == std::string::npos ? s : s.substr(0, p);
}

// onnx::checker::check_model with the model's folder known (so external data is checked where it lives).
// Returns "" when the checker accepts the model, else its first line.
std::string run_checker(const onnx::ModelProto& mp, const std::string& base_dir) {
    try {
        if (!mp.ir_version()) return "the model does not have an ir_version set";
        onnx::checker::CheckerContext cc;
        cc.set_ir_version(static_cast<int>(mp.ir_version()));
        cc.set_model_dir(base_dir);
        std::unordered_map<std::string, int> opsets;
        for (const auto& op : mp.opset_import()) opsets[op.domain()] = static_cast<int>(op.version());
        if (mp.ir_version() >= 3) {
            if (opsets.empty()) return "a model with IR version >= 3 must specify opset_import";
        } else {
            opsets[""] = 1;
        }
        cc.set_opset_imports(opsets);
        onnx::checker::LexicalScopeContext lex;
        onnx::checker::check_graph(mp.graph(), cc, lex);
        if (mp.ir_version() >= 8) onnx::checker::check_model_local_functions(mp, cc, lex);
        return "";
    } catch (const std::exception& e) {
        return first_line(e.what());
    } catch (...) {
        return "unknown exception";
    }
}

// After shape inference: value_info and output types of every (sub)graph, matched by position (conversion keeps
// node and attribute order).
void refresh_value_info(graph::Graph& g, const onnx::GraphProto& gp) {
    g.value_info.clear();
    for (const auto& vp : gp.value_info()) g.value_info.push_back(convert_value_info(vp));
    for (int k = 0; k < gp.output_size() && static_cast<size_t>(k) < g.outputs.size(); ++k) {
        g.outputs[static_cast<size_t>(k)] = convert_value_info(gp.output(k));
    }
    for (int k = 0; k < gp.node_size() && static_cast<size_t>(k) < g.nodes.size(); ++k) {
        auto& node = g.nodes[static_cast<size_t>(k)];
        for (const auto& ap : gp.node(k).attribute()) {
            auto it = node.attrs.find(ap.name());
            if (it == node.attrs.end()) continue;
            if (it->second.g && ap.has_g()) refresh_value_info(*it->second.g, ap.g());
            for (int j = 0; j < ap.graphs_size() && static_cast<size_t>(j) < it->second.graphs.size(); ++j)
                refresh_value_info(*it->second.graphs[static_cast<size_t>(j)], ap.graphs(j));
        }
    }
}

Result<graph::Model> parse_model_impl(std::span<const uint8_t> bytes, const std::string& source_name,
                                      const std::string& base_dir, std::vector<std::string>* warnings) {
    if (bytes.size() > static_cast<size_t>(INT32_MAX)) {
        return Unsupported(source_name + ": ONNX files over 2 GiB must keep their weights as external data");
    }
    onnx::ModelProto mp;
    if (!mp.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
        return Corrupt(source_name + ": not a valid ONNX model (protobuf parse failed: truncated or corrupt file, " +
                       std::to_string(bytes.size()) + " bytes)");
    }
    if (!mp.has_graph()) return Corrupt(source_name + ": ONNX model has no graph (empty or not an ONNX file)");
    if (mp.graph().node_size() == 0 && mp.graph().output_size() == 0) {
        return Corrupt(source_name + ": ONNX model graph has no nodes and no outputs");
    }
    Ctx ctx{source_name, base_dir, warnings};

    graph::Model m;
    m.ir_version = mp.ir_version();
    m.producer = mp.producer_name() + (mp.producer_version().empty() ? "" : " " + mp.producer_version());
    m.path = source_name;
    for (const auto& kv : mp.metadata_props()) m.metadata_props.emplace_back(kv.key(), kv.value());
    // Our own conversion and structural checks come first: ONNX's shape inference is not hardened against
    // malformed graphs (a fuzzed Scan crashes libonnx 1.12), so it only sees models that passed them and the checker.
    Status st = Status::Ok();
    for (const auto& op : mp.opset_import()) {
        const std::string d = op.domain() == "ai.onnx" ? "" : op.domain();
        if (op.version() < 1) {
            st = Corrupt(source_name + ": opset_import for domain '" + op.domain() + "' has version " +
                         std::to_string(op.version()));
            break;
        }
        m.opsets[d] = op.version();
    }
    if (!m.opsets.count("") && mp.opset_import_size() == 0) m.opsets[""] = 1;  // IR 1/2 files: opset 1 implied
    if (st.ok()) {
        auto g = convert_graph(mp.graph(), ctx, 0);
        if (!g.ok()) {
            st = Status(g.status().code(), source_name + ": " + g.status().message());
        } else {
            m.graph = std::move(g).value();
            st = verify_recursive(m.graph, {}, source_name);
        }
    }

    // ONNX's checker: informative (newer IR versions than Debian's libonnx knows are checked as its newest);
    // quoted in the error when the model is unusable.
    const int64_t max_ir = onnx::Version::IR_VERSION;
    if (mp.ir_version() > max_ir) {
        ctx.warn(source_name + ": IR version " + std::to_string(mp.ir_version()) +
                 " is newer than libonnx's checker and shape inference know (" + std::to_string(max_ir) +
                 "); checked as " + std::to_string(max_ir));
        mp.set_ir_version(max_ir);
    }
    const std::string checker_msg = run_checker(mp, base_dir);
    if (!st.ok()) {
        if (checker_msg.empty()) return st;
        return Status(st.code(), st.message() + " (onnx checker: " + checker_msg + ")");
    }
    if (!checker_msg.empty()) {
        ctx.warn(source_name + ": onnx checker: " + checker_msg + " (shape inference skipped)");
    } else {
        // Shape inference fills value_info; a failure (even a crash, in its child process) only loses that.
        onnx::ModelProto inferred;
        const std::string why = infer_shapes_isolated(mp, &inferred);
        if (why.empty()) refresh_value_info(m.graph, inferred.graph());
        else ctx.warn(source_name + ": onnx shape inference: " + first_line(why));
    }
    if (mp.functions_size() > 0) {
        ctx.warn(source_name + ": " + std::to_string(mp.functions_size()) +
                 " model-local function(s) not inlined; nodes calling them are unsupported ops");
    }
    return m;
}

}  // namespace

Result<graph::Model> parse_model(std::span<const uint8_t> bytes, const std::string& source_name,
                                 const std::string& base_dir, std::vector<std::string>* warnings) {
    try {
        return parse_model_impl(bytes, source_name, base_dir, warnings);
    } catch (const std::bad_alloc&) {
        return Corrupt(source_name + ": out of memory while reading the model (sizes in the file too large?)");
    } catch (const std::exception& e) {
        return Corrupt(source_name + ": " + e.what());
    }
}

Result<graph::Model> load_model(const std::string& path, std::vector<std::string>* warnings) {
    std::error_code ec;
    if (!fs::exists(path, ec)) return NotFound(path + ": no such file");
    if (fs::is_directory(path, ec)) return InvalidArgument(path + ": is a directory, expected an .onnx file");
    EDGEQ_ASSIGN_OR_RETURN(auto f, MappedFile::open(path));
    std::string dir = fs::path(path).parent_path().string();
    if (dir.empty()) dir = ".";
    return parse_model({f->data(), static_cast<size_t>(f->size())}, path, dir, warnings);
}

Result<Tensor> load_tensor_pb(const std::string& path, std::string* name) {
    std::error_code ec;
    if (!fs::exists(path, ec)) return NotFound(path + ": no such file");
    EDGEQ_ASSIGN_OR_RETURN(auto f, MappedFile::open(path));
    if (f->size() > static_cast<uint64_t>(INT32_MAX)) return Unsupported(path + ": TensorProto over 2 GiB");
    try {
        onnx::TensorProto tp;
        if (!tp.ParseFromArray(f->data(), static_cast<int>(f->size()))) {
            return Corrupt(path + ": not a valid TensorProto (protobuf parse failed: truncated or corrupt file)");
        }
        if (name) *name = tp.name();
        std::string dir = fs::path(path).parent_path().string();
        if (dir.empty()) dir = ".";
        auto t = tensor_from_proto(tp, "tensor '" + tp.name() + "'", dir);
        if (!t.ok()) return Status(t.status().code(), path + ": " + t.status().message());
        return t;
    } catch (const std::bad_alloc&) {
        return Corrupt(path + ": out of memory while reading the tensor");
    } catch (const std::exception& e) {
        return Corrupt(path + ": " + e.what());
    }
}

}  // namespace edgeq::onnxio
