// graph IR → ONNX ModelProto. Rules: onnx_export.h and docs/formats/onnx.md ("Writing").
//
// Order of work:
//   1. graph::verify on the main graph and every subgraph (optional, on by default)
//   2. count the bytes that would go inline (protobuf's 2 GiB limit is checked before anything is copied);
//      build the ModelProto: graphs recursively; each tensor goes inline (raw_data) or to the external-data
//      list (offset in the side file, 64 KiB-aligned for tensors >= 1 MiB as onnx does); value infos; opsets
//      for every domain used; the IR version the content needs
//   3. serialize_model: to a string; save_model: the side file, then the model streamed through AtomicFile;
//      both renamed into place only when everything was written
#include "formats/onnx/onnx_export.h"

#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <onnx/onnx_pb.h>

#include <bit>
#include <climits>
#include <exception>
#include <filesystem>
#include <set>

#include "core/file.h"
#include "formats/onnx/onnx_import.h"

namespace edgeq::onnxio {
namespace fs = std::filesystem;

static_assert(std::endian::native == std::endian::little,
              "raw_data is little-endian: the IR's bytes are written as is");

namespace {

constexpr uint64_t kMaxMessageBytes = INT32_MAX;     // protobuf refuses to parse or serialize larger messages
constexpr size_t kAlignThreshold = size_t{1} << 20;  // onnx's save_model: tensors >= 1 MiB start at ...
constexpr uint64_t kAlignment = 65536;  // ... a multiple of the allocation granularity (mmap-able)
constexpr int kMaxDepth = 64;           // the importer's limit on subgraph nesting

// ai.onnx opset → the IR version released with it (onnx.helper.VERSION_TABLE).
int64_t ir_for_opset(int64_t opset) {
    if (opset <= 8) return 3;
    if (opset == 9) return 4;
    if (opset == 10) return 5;
    if (opset == 11) return 6;
    if (opset <= 14) return 7;
    if (opset <= 18) return 8;
    if (opset <= 20) return 9;
    if (opset <= 22) return 10;
    if (opset == 23) return 11;
    if (opset == 24) return 12;
    return 13;
}

// The IR version that introduced an element type (0: any).
int64_t ir_for_elem_type(int32_t et) {
    switch (et) {
        case 17:
        case 18:
        case 19:
        case 20:
            return 9;  // FLOAT8*
        case 21:
        case 22:
            return 10;  // UINT4, INT4
        case 23:
            return 11;  // FLOAT4E2M1
        case 24:
            return 12;  // FLOAT8E8M0
        case 25:
        case 26:
            return 13;  // UINT2, INT2
        default:
            return 0;
    }
}

struct ExternalChunk {
    Tensor tensor;
    uint64_t offset = 0;
};

class Builder {
  public:
    Builder(const ExportOptions& opt, bool external, std::string location)
        : opt_(opt), external_(external), location_(std::move(location)) {}

    Status model(const graph::Model& m, onnx::ModelProto* mp);

    const std::vector<ExternalChunk>& chunks() const { return chunks_; }
    uint64_t external_bytes() const { return ext_size_; }

  private:
    Status graph(const graph::Graph& g, onnx::GraphProto* gp, int depth);
    Status node(const graph::Node& n, const std::string& where, onnx::NodeProto* np, int depth);
    Status tensor(const Tensor& t, const std::string& name, const std::string& what, bool may_be_external,
                  onnx::TensorProto* tp);
    Status value_info(const graph::ValueInfo& vi, const std::string& where, bool require_type,
                      onnx::ValueInfoProto* vp);
    void need_ir(int32_t elem_type, const std::string& what) {
        const int64_t v = ir_for_elem_type(elem_type);
        if (v > need_ir_) {
            need_ir_ = v;
            need_why_ = what + " has element type " + onnx_type_name(elem_type);
        }
    }

    const ExportOptions& opt_;
    const bool external_;
    const std::string location_;
    std::vector<ExternalChunk> chunks_;
    uint64_t ext_size_ = 0;
    int64_t need_ir_ = 4;
    std::string need_why_ = "initializers are not listed as graph inputs (IR >= 4)";
    std::set<std::string> domains_;
};

Status Builder::tensor(const Tensor& t, const std::string& name, const std::string& what,
                       bool may_be_external, onnx::TensorProto* tp) {
    if (t.empty_handle()) return InvalidArgument(what + " has no data (empty tensor handle)");
    const int32_t et = onnx_from_dtype(t.dtype());
    if (et == 0) {
        return Unsupported(what + " has type " + dtype_name(t.dtype()) +
                           ", which ONNX cannot store (block-quantized formats exist only in GGUF)");
    }
    need_ir(et, what);
    if (!name.empty()) tp->set_name(name);
    for (int64_t d : t.shape()) tp->add_dims(d);
    tp->set_data_type(et);
    const size_t n = t.nbytes();
    if (external_ && may_be_external && n >= *opt_.external_data_threshold) {
        uint64_t off = ext_size_;
        if (n >= kAlignThreshold) off = (off + kAlignment - 1) / kAlignment * kAlignment;
        chunks_.push_back({t, off});
        ext_size_ = off + n;
        tp->set_data_location(onnx::TensorProto::EXTERNAL);
        auto add = [&](const char* k, const std::string& v) {
            auto* e = tp->add_external_data();
            e->set_key(k);
            e->set_value(v);
        };
        add("location", location_);
        add("offset", std::to_string(off));
        add("length", std::to_string(n));
        return Status::Ok();
    }
    tp->set_raw_data(reinterpret_cast<const char*>(t.raw()), n);
    return Status::Ok();
}

Status Builder::value_info(const graph::ValueInfo& vi, const std::string& where, bool require_type,
                           onnx::ValueInfoProto* vp) {
    const std::string what = where + " value '" + vi.name + "'";
    if (vi.name.empty()) return InvalidArgument(where + ": a value info has no name");
    vp->set_name(vi.name);
    int32_t et = vi.onnx_elem_type;
    if (vi.dtype) {
        et = onnx_from_dtype(*vi.dtype);
        if (et == 0) {
            return Unsupported(what + " has type " + dtype_name(*vi.dtype) + ", which ONNX cannot express");
        }
    }
    if (et == 0 && require_type) {
        // ONNX Runtime refuses such a model ("does not have type information"), so does ONNX's checker.
        return Unsupported(what +
                           " has no element type; ONNX needs one on main-graph inputs and outputs (sequence, "
                           "map and optional types are not kept by edgeq's IR)");
    }
    if (et == 0 && !vi.has_shape) return Status::Ok();  // unknown / non-tensor type: name only
    auto* tt = vp->mutable_type()->mutable_tensor_type();
    if (et != 0) {
        tt->set_elem_type(et);
        need_ir(et, what);
    }
    if (vi.has_shape) {
        auto* sh = tt->mutable_shape();
        for (const auto& d : vi.shape) {
            auto* dp = sh->add_dim();
            if (d.value >= 0)
                dp->set_dim_value(d.value);
            else if (!d.param.empty())
                dp->set_dim_param(d.param);
        }
    }
    return Status::Ok();
}

Status Builder::node(const graph::Node& n, const std::string& where, onnx::NodeProto* np, int depth) {
    using A = onnx::AttributeProto;
    using K = graph::Attribute::Kind;
    if (n.op_type.empty()) return InvalidArgument(where + ": node '" + n.name + "' has no op_type");
    const std::string domain = n.domain == "ai.onnx" ? "" : n.domain;
    domains_.insert(domain);
    if (!n.name.empty()) np->set_name(n.name);
    np->set_op_type(n.op_type);
    if (!domain.empty()) np->set_domain(domain);
    for (const auto& i : n.inputs) np->add_input(i);
    for (const auto& o : n.outputs) np->add_output(o);
    for (const auto& [name, a] : n.attrs) {
        const std::string what = where + ", " + n.describe() + " attribute '" + name + "'";
        if (name.empty()) return InvalidArgument(where + ", " + n.describe() + ": attribute without a name");
        auto* ap = np->add_attribute();
        ap->set_name(name);
        switch (a.kind) {
            case K::Float:
                ap->set_type(A::FLOAT);
                ap->set_f(a.f);
                break;
            case K::Int:
                ap->set_type(A::INT);
                ap->set_i(a.i);
                break;
            case K::String:
                ap->set_type(A::STRING);
                ap->set_s(a.s);
                break;
            case K::Tensor:
                ap->set_type(A::TENSOR);
                EDGEQ_RETURN_IF_ERROR(
                    tensor(a.t, "", what, opt_.external_attribute_tensors, ap->mutable_t()));
                break;
            case K::Graph:
                ap->set_type(A::GRAPH);
                if (!a.g) return InvalidArgument(what + " has no graph");
                EDGEQ_RETURN_IF_ERROR(graph(*a.g, ap->mutable_g(), depth + 1));
                break;
            case K::Floats:
                ap->set_type(A::FLOATS);
                for (float v : a.floats) ap->add_floats(v);
                break;
            case K::Ints:
                ap->set_type(A::INTS);
                for (int64_t v : a.ints) ap->add_ints(v);
                break;
            case K::Strings:
                ap->set_type(A::STRINGS);
                for (const auto& v : a.strings) ap->add_strings(v);
                break;
            case K::Tensors:
                ap->set_type(A::TENSORS);
                for (size_t k = 0; k < a.tensors.size(); ++k) {
                    EDGEQ_RETURN_IF_ERROR(tensor(a.tensors[k], "", what + " tensor #" + std::to_string(k),
                                                 opt_.external_attribute_tensors, ap->add_tensors()));
                }
                break;
            case K::Graphs:
                ap->set_type(A::GRAPHS);
                for (size_t k = 0; k < a.graphs.size(); ++k) {
                    if (!a.graphs[k])
                        return InvalidArgument(what + ": graph #" + std::to_string(k) + " is null");
                    EDGEQ_RETURN_IF_ERROR(graph(*a.graphs[k], ap->add_graphs(), depth + 1));
                }
                break;
        }
    }
    return Status::Ok();
}

Status Builder::graph(const graph::Graph& g, onnx::GraphProto* gp, int depth) {
    if (depth > kMaxDepth) return InvalidArgument("subgraphs nested more than 64 deep");
    const std::string where = "graph '" + g.name + "'";
    // The checker requires a non-empty graph name; an IR built in code may not have one.
    gp->set_name(g.name.empty() ? (depth == 0 ? "main_graph" : "subgraph") : g.name);
    for (const auto& n : g.nodes) EDGEQ_RETURN_IF_ERROR(node(n, where, gp->add_node(), depth));
    for (const auto& [name, t] : g.initializers) {
        if (name.empty()) return InvalidArgument(where + ": an initializer has no name");
        EDGEQ_RETURN_IF_ERROR(
            tensor(t, name, where + " initializer '" + name + "'", true, gp->add_initializer()));
    }
    for (const auto& v : g.inputs)
        EDGEQ_RETURN_IF_ERROR(value_info(v, where + " input", depth == 0, gp->add_input()));
    for (const auto& v : g.outputs)
        EDGEQ_RETURN_IF_ERROR(value_info(v, where + " output", depth == 0, gp->add_output()));
    for (const auto& v : g.value_info)
        EDGEQ_RETURN_IF_ERROR(value_info(v, where, false, gp->add_value_info()));
    return Status::Ok();
}

Status Builder::model(const graph::Model& m, onnx::ModelProto* mp) {
    EDGEQ_RETURN_IF_ERROR(graph(m.graph, mp->mutable_graph(), 0));

    std::map<std::string, int64_t> opsets;
    for (const auto& [d, v] : m.opsets) {
        const std::string dom = d == "ai.onnx" ? "" : d;
        if (v < 1) {
            return InvalidArgument("opset for domain '" + (dom.empty() ? std::string("ai.onnx") : dom) +
                                   "' is " + std::to_string(v) + " (must be >= 1)");
        }
        opsets[dom] = v;
    }
    for (const auto& d : domains_) {
        if (opsets.count(d)) continue;
        if (d.empty())
            return InvalidArgument("the graph has ai.onnx nodes but the model names no ai.onnx opset");
        opsets[d] = 1;  // custom domains (com.microsoft, com.edgeq, ...) start at version 1
    }
    for (const auto& [d, v] : opsets) {
        auto* op = mp->add_opset_import();
        op->set_domain(d);
        op->set_version(v);
    }

    int64_t ir = opt_.ir_version;
    if (ir != 0) {
        if (ir < need_ir_) {
            return InvalidArgument("ExportOptions::ir_version " + std::to_string(ir) + " is too old: " +
                                   need_why_ + ", which needs IR " + std::to_string(need_ir_));
        }
    } else {
        ir = m.ir_version > 0 ? m.ir_version : ir_for_opset(opsets.count("") ? opsets[""] : 1);
        ir = std::max(ir, need_ir_);
    }
    mp->set_ir_version(ir);
    mp->set_producer_name(opt_.producer_name);
    if (!opt_.producer_version.empty()) mp->set_producer_version(opt_.producer_version);
    for (const auto& [k, v] : m.metadata_props) {
        auto* e = mp->add_metadata_props();
        e->set_key(k);
        e->set_value(v);
    }
    return Status::Ok();
}

// Bytes of tensor data that would go inline (raw_data), counted before anything is copied.
uint64_t inline_bytes(const graph::Graph& g, const ExportOptions& opt, int depth) {
    if (depth > kMaxDepth) return 0;  // graph() reports the nesting
    auto inl = [&](const Tensor& t, bool may_be_external) -> uint64_t {
        if (t.empty_handle()) return 0;
        const size_t n = t.nbytes();
        return opt.external_data_threshold && may_be_external && n >= *opt.external_data_threshold ? 0 : n;
    };
    uint64_t sum = 0;
    for (const auto& [name, t] : g.initializers) sum += inl(t, true);
    for (const auto& n : g.nodes) {
        for (const auto& [name, a] : n.attrs) {
            sum += inl(a.t, opt.external_attribute_tensors);
            for (const auto& t : a.tensors) sum += inl(t, opt.external_attribute_tensors);
            if (a.g) sum += inline_bytes(*a.g, opt, depth + 1);
            for (const auto& sg : a.graphs)
                if (sg) sum += inline_bytes(*sg, opt, depth + 1);
        }
    }
    return sum;
}

// Every name a graph defines, for its subgraphs' outer scope.
void export_scope_names(const graph::Graph& g, std::vector<std::string>& out) {
    for (const auto& in : g.inputs) out.push_back(in.name);
    for (const auto& [name, t] : g.initializers) out.push_back(name);
    for (const auto& n : g.nodes)
        for (const auto& o : n.outputs)
            if (!o.empty()) out.push_back(o);
}

Status verify_for_export(const graph::Graph& g, const std::vector<std::string>& outer,
                        const std::string& where, int depth) {
    if (depth > kMaxDepth) return InvalidArgument(where + ": subgraphs nested more than 64 deep");
    Status s = graph::verify(g, outer);
    if (!s.ok()) return InvalidArgument(where + ": " + s.message());
    std::vector<std::string> scope = outer;
    export_scope_names(g, scope);
    for (const auto& n : g.nodes) {
        for (const auto& [name, a] : n.attrs) {
            std::vector<const graph::Graph*> subs;
            if (a.g) subs.push_back(a.g.get());
            for (const auto& sg : a.graphs)
                if (sg) subs.push_back(sg.get());
            for (const auto* sg : subs) {
                EDGEQ_RETURN_IF_ERROR(verify_for_export(
                    *sg, scope,
                    where + ", " + n.describe() + " attribute '" + name + "' subgraph '" + sg->name + "'",
                    depth + 1));
            }
        }
    }
    return Status::Ok();
}

Status build(const graph::Model& m, const ExportOptions& opt, Builder& b, onnx::ModelProto* mp) {
    if (opt.verify)
        EDGEQ_RETURN_IF_ERROR(
            verify_for_export(m.graph, {}, "cannot export: graph '" + m.graph.name + "'", 0));
    if (const uint64_t n = inline_bytes(m.graph, opt, 0); n > kMaxMessageBytes) {
        return Unsupported(
            "the model holds " + std::to_string(n) +
            " bytes of tensor data inline, more than protobuf's 2 GiB limit on a message: save it with "
            "external data (ExportOptions::external_data_threshold, e.g. 1024)");
    }
    EDGEQ_RETURN_IF_ERROR(b.model(m, mp));
    const size_t size = mp->ByteSizeLong();
    if (size > kMaxMessageBytes) {
        return Unsupported("the ModelProto would be " + std::to_string(size) +
                           " bytes, over protobuf's 2 GiB limit: save it with external data "
                           "(ExportOptions::external_data_threshold, e.g. 1024)");
    }
    return Status::Ok();
}

// protobuf output stream over an AtomicFile; remembers the first write error.
class AtomicFileStream : public google::protobuf::io::CopyingOutputStream {
  public:
    explicit AtomicFileStream(AtomicFile& f) : f_(f) {}
    bool Write(const void* buffer, int size) override {
        if (!status.ok()) return false;
        status = f_.write(buffer, static_cast<size_t>(size));
        return status.ok();
    }
    Status status = Status::Ok();

  private:
    AtomicFile& f_;
};

Status save_impl(const graph::Model& m, const std::string& path, const ExportOptions& opt) {
    if (path.empty()) return InvalidArgument("save_model: empty output path");
    const fs::path p(path);
    std::error_code ec;
    if (fs::is_directory(p, ec))
        return InvalidArgument(path + ": is a directory, expected an .onnx file path");
    const fs::path dir = p.parent_path();
    if (!dir.empty() && !fs::is_directory(dir, ec))
        return NotFound(path + ": folder '" + dir.string() + "' does not exist");

    std::string location;
    if (opt.external_data_threshold) {
        location =
            opt.external_data_location.empty() ? p.filename().string() + ".data" : opt.external_data_location;
        const fs::path lp(location);
        if (lp.has_parent_path() || lp.is_absolute() || location == "." || location == ".." ||
            location.find('\0') != std::string::npos) {
            return InvalidArgument(
                path + ": external data location '" + location +
                "' must be a plain file name (it is stored relative to the model's folder)");
        }
        if (lp == p.filename()) {
            return InvalidArgument(path + ": external data location '" + location +
                                   "' is the model file itself");
        }
    }
    Builder b(opt, opt.external_data_threshold.has_value(), location);
    onnx::ModelProto mp;
    {
        Status s = build(m, opt, b, &mp);
        if (!s.ok()) return Status(s.code(), path + ": " + s.message());
    }

    // Side file first (not yet renamed), then the model; commit both only when both are complete.
    std::unique_ptr<AtomicFile> data;
    if (!b.chunks().empty()) {
        const std::string data_path = (dir / location).string();
        EDGEQ_ASSIGN_OR_RETURN(data, AtomicFile::create(data_path));
        for (const auto& c : b.chunks()) {
            EDGEQ_RETURN_IF_ERROR(data->write_zeros(c.offset - data->bytes_written()));
            EDGEQ_RETURN_IF_ERROR(data->write(c.tensor.raw(), c.tensor.nbytes()));
        }
    }
    EDGEQ_ASSIGN_OR_RETURN(auto out, AtomicFile::create(path));
    {
        AtomicFileStream stream(*out);
        google::protobuf::io::CopyingOutputStreamAdaptor adaptor(&stream);
        const bool ok = mp.SerializeToZeroCopyStream(&adaptor) && adaptor.Flush();
        if (!stream.status.ok()) return stream.status;
        if (!ok) return IoError(path + ": protobuf serialization failed");
    }
    if (data) EDGEQ_RETURN_IF_ERROR(data->commit());
    return out->commit();
}

}  // namespace

Result<std::string> serialize_model(const graph::Model& model, const ExportOptions& options) {
    if (options.external_data_threshold) {
        return InvalidArgument("serialize_model: external data needs a file to sit beside; use save_model");
    }
    try {
        Builder b(options, false, "");
        onnx::ModelProto mp;
        EDGEQ_RETURN_IF_ERROR(build(model, options, b, &mp));
        std::string out;
        if (!mp.SerializeToString(&out))
            return Status(StatusCode::kInternal, "protobuf serialization failed");
        return out;
    } catch (const std::bad_alloc&) {
        return IoError("serialize_model: out of memory");
    } catch (const std::exception& e) {
        return Status(StatusCode::kInternal, std::string("serialize_model: ") + e.what());
    }
}

Status save_model(const graph::Model& model, const std::string& path, const ExportOptions& options) {
    try {
        return save_impl(model, path, options);
    } catch (const std::bad_alloc&) {
        return IoError(path + ": out of memory while writing the model");
    } catch (const std::exception& e) {
        return Status(StatusCode::kInternal, path + ": " + e.what());
    }
}

}  // namespace edgeq::onnxio
