// ONNX ModelProto → graph IR. Layout facts and the list of checks: docs/formats/onnx.md.
//
// Order of work in parse_model:
//   1. parse the protobuf (size-checked; a truncated or corrupt message is a Corrupt status naming the file)
//   2. ONNX's checker and shape inference on the proto: their exceptions become warnings; the checker's
//      message is quoted in the error only when step 3/4 finds the model unusable
//   3. convert opsets, graph (recursively for If/Loop/Scan bodies), initializers (raw_data, typed fields,
//      external data), value_info with symbolic dims
//   4. graph::verify on the main graph and every subgraph (with the enclosing scopes' names visible)
#include "formats/onnx/onnx_import.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <set>
#include <unordered_set>

#include "core/file.h"
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

    // ONNX's own checker: informative only (newer IR/opsets than Debian's libonnx knows fail it but run fine).
    std::string checker_msg;
    try {
        onnx::checker::check_model(mp);
    } catch (const std::exception& e) {
        checker_msg = first_line(e.what());
    } catch (...) {
        checker_msg = "unknown exception";
    }
    if (!checker_msg.empty()) ctx.warn(source_name + ": onnx checker: " + checker_msg);
    // Shape inference fills value_info; a failure only loses that information.
    try {
        onnx::shape_inference::InferShapes(mp);
    } catch (const std::exception& e) {
        ctx.warn(source_name + ": onnx shape inference: " + first_line(e.what()));
    } catch (...) {
        ctx.warn(source_name + ": onnx shape inference: unknown exception");
    }

    auto with_checker = [&](const Status& s) {
        if (checker_msg.empty()) return s;
        return Status(s.code(), s.message() + " (onnx checker: " + checker_msg + ")");
    };

    graph::Model m;
    m.ir_version = mp.ir_version();
    m.producer = mp.producer_name() + (mp.producer_version().empty() ? "" : " " + mp.producer_version());
    m.path = source_name;
    for (const auto& op : mp.opset_import()) {
        const std::string d = op.domain() == "ai.onnx" ? "" : op.domain();
        if (op.version() < 1) {
            return with_checker(Corrupt(source_name + ": opset_import for domain '" + op.domain() + "' has version " +
                                        std::to_string(op.version())));
        }
        m.opsets[d] = op.version();
    }
    if (!m.opsets.count("")) {
        if (mp.opset_import_size() == 0) m.opsets[""] = 1;  // IR version 1/2 files: opset 1 implied
    }
    auto g = convert_graph(mp.graph(), ctx, 0);
    if (!g.ok()) return with_checker(Status(g.status().code(), source_name + ": " + g.status().message()));
    m.graph = std::move(g).value();
    Status v = verify_recursive(m.graph, {}, source_name);
    if (!v.ok()) return with_checker(v);
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
