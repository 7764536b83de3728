// ONNX writer: import → export → import round trips of every real model in shared/ and of ONNX backend node
// tests (a sample of >= 100 plus every If/Loop/Scan test and the int4/int2 Q/DQ tests), each compared field
// by field (initializers byte for byte) and run through the reference executor before and after (outputs
// bit-identical); ONNX's checker on what we write; models built here for every element type, attribute kind
// and external data; one test per error.
#include "formats/onnx/onnx_export.h"

#include <gtest/gtest.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include "common/shared.h"
#include "formats/onnx/onnx_import.h"
#include "runtime/ref/executor.h"

namespace edgeq::onnxio {
namespace {

namespace fs = std::filesystem;
using graph::Attribute;

const fs::path kNodeSuite = "/usr/share/libonnx-testdata/data/node";

class TempDir {
  public:
    TempDir() {
        dir_ = fs::temp_directory_path() /
               ("edgeq_onnx_export_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
        fs::create_directories(dir_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add, ec);
        fs::remove_all(dir_, ec);
    }
    fs::path operator/(const std::string& name) const { return dir_ / name; }
    const fs::path& path() const { return dir_; }
    std::vector<std::string> files() const {
        std::vector<std::string> r;
        for (const auto& e : fs::directory_iterator(dir_)) r.push_back(e.path().filename().string());
        std::sort(r.begin(), r.end());
        return r;
    }

  private:
    static inline int counter_ = 0;
    fs::path dir_;
};

std::string read_file(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
}

void expect_error(const Status& s, StatusCode code, const std::string& needle) {
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(static_cast<int>(s.code()), static_cast<int>(code)) << s.message();
    EXPECT_NE(s.message().find(needle), std::string::npos)
        << "message: " << s.message() << "\nwanted: " << needle;
}

Result<graph::Model> parse_bytes(const std::string& bytes, const std::string& base_dir = "",
                                 std::vector<std::string>* warnings = nullptr) {
    return parse_model({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, "exported.onnx",
                       base_dir, warnings);
}

// ONNX's checker (libonnx 1.12) on a serialized model; IR versions it does not know are checked as its
// newest, as the importer does. "" = accepted.
std::string onnx_check(const std::string& bytes) {
    onnx::ModelProto mp;
    if (!mp.ParseFromString(bytes)) return "protobuf parse failed";
    if (mp.ir_version() > onnx::Version::IR_VERSION) mp.set_ir_version(onnx::Version::IR_VERSION);
    try {
        onnx::checker::check_model(mp);
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

// ------------------------------------------------------------------------------------------------------------
// Field-by-field comparison; each returns "" or where the first difference is.

std::string diff_tensor(const Tensor& a, const Tensor& b) {
    if (a.empty_handle() != b.empty_handle()) return "one tensor has no data";
    if (a.empty_handle()) return "";
    if (a.dtype() != b.dtype())
        return std::string("dtype ") + dtype_name(a.dtype()) + " vs " + dtype_name(b.dtype());
    if (a.shape() != b.shape()) return "shape " + shape_str(a.shape()) + " vs " + shape_str(b.shape());
    if (a.nbytes() && std::memcmp(a.raw(), b.raw(), a.nbytes()) != 0) {
        size_t i = 0;
        while (a.raw()[i] == b.raw()[i]) ++i;
        return "bytes differ at offset " + std::to_string(i);
    }
    return "";
}

std::string diff_value_info(const graph::ValueInfo& a, const graph::ValueInfo& b) {
    const std::string w = "value '" + a.name + "': ";
    if (a.name != b.name) return "name '" + a.name + "' vs '" + b.name + "'";
    if (a.dtype != b.dtype) return w + "dtype differs";
    if (a.onnx_elem_type != b.onnx_elem_type) {
        return w + "elem type " + std::to_string(a.onnx_elem_type) + " vs " +
               std::to_string(b.onnx_elem_type);
    }
    if (a.has_shape != b.has_shape) return w + "has_shape differs";
    if (a.shape.size() != b.shape.size()) return w + "rank differs";
    for (size_t i = 0; i < a.shape.size(); ++i) {
        if (a.shape[i].value != b.shape[i].value || a.shape[i].param != b.shape[i].param) {
            return w + "dim " + std::to_string(i) + " differs ('" + a.shape[i].param + "'/" +
                   std::to_string(a.shape[i].value) + " vs '" + b.shape[i].param + "'/" +
                   std::to_string(b.shape[i].value) + ")";
        }
    }
    return "";
}

std::string diff_graph(const graph::Graph& a, const graph::Graph& b);

std::string diff_attr(const Attribute& a, const Attribute& b) {
    if (a.kind != b.kind) return "kind differs";
    switch (a.kind) {
        case Attribute::Kind::Float:
            return std::memcmp(&a.f, &b.f, sizeof(float)) ? "float differs" : "";
        case Attribute::Kind::Int:
            return a.i != b.i ? "int differs" : "";
        case Attribute::Kind::String:
            return a.s != b.s ? "string differs" : "";
        case Attribute::Kind::Tensor:
            return diff_tensor(a.t, b.t);
        case Attribute::Kind::Graph:
            return a.g && b.g ? diff_graph(*a.g, *b.g) : "graph missing";
        case Attribute::Kind::Floats:
            return a.floats.size() != b.floats.size() ||
                           (!a.floats.empty() &&
                            std::memcmp(a.floats.data(), b.floats.data(), a.floats.size() * 4))
                       ? "floats differ"
                       : "";
        case Attribute::Kind::Ints:
            return a.ints != b.ints ? "ints differ" : "";
        case Attribute::Kind::Strings:
            return a.strings != b.strings ? "strings differ" : "";
        case Attribute::Kind::Tensors:
            if (a.tensors.size() != b.tensors.size()) return "tensor count differs";
            for (size_t i = 0; i < a.tensors.size(); ++i)
                if (auto d = diff_tensor(a.tensors[i], b.tensors[i]); !d.empty())
                    return "tensor #" + std::to_string(i) + ": " + d;
            return "";
        case Attribute::Kind::Graphs:
            if (a.graphs.size() != b.graphs.size()) return "graph count differs";
            for (size_t i = 0; i < a.graphs.size(); ++i)
                if (auto d = diff_graph(*a.graphs[i], *b.graphs[i]); !d.empty())
                    return "graph #" + std::to_string(i) + ": " + d;
            return "";
    }
    return "";
}

std::string diff_value_infos(const std::vector<graph::ValueInfo>& a, const std::vector<graph::ValueInfo>& b,
                             const std::string& what) {
    if (a.size() != b.size())
        return what + " count " + std::to_string(a.size()) + " vs " + std::to_string(b.size());
    for (size_t i = 0; i < a.size(); ++i)
        if (auto d = diff_value_info(a[i], b[i]); !d.empty())
            return what + " #" + std::to_string(i) + ": " + d;
    return "";
}

std::string diff_graph(const graph::Graph& a, const graph::Graph& b) {
    const std::string w = "graph '" + a.name + "': ";
    if (a.name != b.name) return w + "name vs '" + b.name + "'";
    if (a.nodes.size() != b.nodes.size()) return w + "node count differs";
    for (size_t k = 0; k < a.nodes.size(); ++k) {
        const auto &x = a.nodes[k], &y = b.nodes[k];
        const std::string nw = w + x.describe() + ": ";
        if (x.name != y.name || x.op_type != y.op_type || x.domain != y.domain)
            return nw + "vs " + y.describe() + " '" + y.domain + "'";
        if (x.inputs != y.inputs) return nw + "inputs differ";
        if (x.outputs != y.outputs) return nw + "outputs differ";
        if (x.attrs.size() != y.attrs.size()) return nw + "attribute count differs";
        for (const auto& [name, attr] : x.attrs) {
            auto it = y.attrs.find(name);
            if (it == y.attrs.end()) return nw + "attribute '" + name + "' lost";
            if (auto d = diff_attr(attr, it->second); !d.empty())
                return nw + "attribute '" + name + "': " + d;
        }
    }
    if (auto d = diff_value_infos(a.inputs, b.inputs, "input"); !d.empty()) return w + d;
    if (auto d = diff_value_infos(a.outputs, b.outputs, "output"); !d.empty()) return w + d;
    if (auto d = diff_value_infos(a.value_info, b.value_info, "value_info"); !d.empty()) return w + d;
    if (a.initializers.size() != b.initializers.size()) return w + "initializer count differs";
    for (const auto& [name, t] : a.initializers) {
        auto it = b.initializers.find(name);
        if (it == b.initializers.end()) return w + "initializer '" + name + "' lost";
        if (auto d = diff_tensor(t, it->second); !d.empty()) return w + "initializer '" + name + "': " + d;
    }
    return "";
}

// b = import(export(a)). ir_version may only rise to 4 (initializers are not written as inputs).
std::string diff_model(const graph::Model& a, const graph::Model& b) {
    if (a.opsets != b.opsets) return "opsets differ";
    if (b.ir_version != std::max<int64_t>(a.ir_version, 4)) {
        return "ir_version " + std::to_string(a.ir_version) + " became " + std::to_string(b.ir_version);
    }
    if (a.metadata_props != b.metadata_props) return "metadata_props differ";
    if (b.producer != std::string("edgeq ") + kEdgeqVersion) return "producer is '" + b.producer + "'";
    return diff_graph(a.graph, b.graph);
}

// ------------------------------------------------------------------------------------------------------------
// Running

// Deterministic inputs of each declared input's type and shape (symbolic or unknown dims = 1).
std::map<std::string, Tensor> synthetic_inputs(const graph::Model& m) {
    std::mt19937 rng(1234);
    std::uniform_real_distribution<float> uf(-1.f, 1.f);
    std::map<std::string, Tensor> feeds;
    for (const auto& in : m.graph.inputs) {
        if (!in.dtype) continue;
        Shape s;
        for (const auto& d : in.shape) s.push_back(d.value >= 0 ? d.value : 1);
        Tensor t(*in.dtype, s);
        if (*in.dtype == DType::F32) {
            for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = uf(rng);
        } else {
            for (size_t i = 0; i < t.nbytes(); ++i) t.raw()[i] = static_cast<uint8_t>(rng() & 3);
        }
        feeds[in.name] = t;
    }
    return feeds;
}

// test_data_set_0 of a backend node test, matched to inputs by name or else by position (as
// test_conformance). Empty when the data cannot be held (a STRING/FLOAT8 tensor, a sequence).
std::map<std::string, Tensor> node_test_inputs(const fs::path& dir, const graph::Model& m) {
    std::vector<fs::path> files;
    for (int i = 0;; ++i) {
        const fs::path f = dir / "test_data_set_0" / ("input_" + std::to_string(i) + ".pb");
        if (!fs::exists(f)) break;
        files.push_back(f);
    }
    std::map<std::string, Tensor> feeds;
    for (size_t i = 0; i < files.size(); ++i) {
        std::string name;
        auto t = load_tensor_pb(files[i].string(), &name);
        if (!t.ok()) return {};
        const graph::ValueInfo* vi = nullptr;
        for (const auto& v : m.graph.inputs)
            if (v.name == name) vi = &v;
        if (!vi && i < m.graph.inputs.size()) vi = &m.graph.inputs[i];
        if (!vi) return {};
        Tensor v = *t;
        if (vi->dtype == DType::BF16 && v.dtype() == DType::U16)
            v = Tensor::from_bytes(DType::BF16, v.shape(), v.bytes());
        feeds[vi->name] = v;
    }
    return feeds;
}

enum class RunResult { Same, NotRun };

// Runs both models on the same feeds; outputs must be bit-identical. NotRun when the original does not run
// (an op or type the reference executor lacks): that is not the writer's business.
RunResult expect_same_outputs(const graph::Model& a, const graph::Model& b,
                              const std::map<std::string, Tensor>& feeds, const std::string& name) {
    if (!runtime::unsupported_ops(a).empty()) return RunResult::NotRun;
    auto ra = runtime::run_reference(a, feeds);
    if (!ra.ok()) return RunResult::NotRun;
    auto rb = runtime::run_reference(b, feeds);
    EXPECT_TRUE(rb.ok()) << name
                         << ": the original runs, the round-tripped model fails: " << rb.status().message();
    if (!rb.ok()) return RunResult::NotRun;
    EXPECT_EQ(ra->size(), rb->size()) << name;
    for (const auto& [out, t] : *ra) {
        auto it = rb->find(out);
        if (it == rb->end()) {
            ADD_FAILURE() << name << ": output '" << out << "' missing after the round trip";
            continue;
        }
        EXPECT_EQ(diff_tensor(t, it->second), "") << name << ": output '" << out << "'";
    }
    return RunResult::Same;
}

struct Tally {
    int round_tripped = 0, ran = 0, not_loadable = 0, untyped_io = 0;  // untyped_io: refused, see round_trip
};

bool io_typed(const graph::Model& m) {
    for (const auto* vs : {&m.graph.inputs, &m.graph.outputs})
        for (const auto& v : *vs)
            if (v.onnx_elem_type == 0) return false;
    return true;
}

// import → export → import of one file. via_file: save_model + load_model, else serialize_model +
// parse_model.
void round_trip(const fs::path& path, bool via_file, Tally& tally,
                const std::function<std::map<std::string, Tensor>(const graph::Model&)>& feeds_for) {
    const std::string name = path.parent_path().filename().string() + "/" + path.filename().string();
    SCOPED_TRACE(name);
    std::vector<std::string> warnings;
    auto a = load_model(path.string(), &warnings);
    if (!a.ok()) {  // e.g. a STRING or FLOAT8 tensor: nothing to export
        ++tally.not_loadable;
        return;
    }
    bool original_checks = true;
    for (const auto& w : warnings)
        if (w.find("onnx checker") != std::string::npos) original_checks = false;

    if (!io_typed(*a)) {
        // Sequence/optional graph inputs or outputs: the IR does not keep their type, and ONNX Runtime
        // refuses a model whose inputs/outputs have none, so the writer does too.
        expect_error(serialize_model(*a).status(), StatusCode::kUnsupported, "has no element type");
        ++tally.untyped_io;
        return;
    }
    std::string bytes;
    Result<graph::Model> b = Status(StatusCode::kInternal, "not run");
    if (via_file) {
        TempDir tmp;
        const fs::path out = tmp / "model.onnx";
        Status s = save_model(*a, out.string());
        ASSERT_TRUE(s.ok()) << s.message();
        EXPECT_EQ(tmp.files(), std::vector<std::string>{"model.onnx"});  // no temporaries, no side file
        bytes = read_file(out);
        b = load_model(out.string());
    } else {
        auto s = serialize_model(*a);
        ASSERT_TRUE(s.ok()) << s.status().message();
        bytes = *s;
        b = parse_bytes(bytes);
    }
    ASSERT_TRUE(b.ok()) << "re-import failed: " << b.status().message();
    if (original_checks) {
        EXPECT_EQ(onnx_check(bytes), "") << "ONNX's checker rejects what we wrote";
    }
    EXPECT_EQ(diff_model(*a, *b), "");
    ++tally.round_tripped;
    if (expect_same_outputs(*a, *b, feeds_for(*a), name) == RunResult::Same) ++tally.ran;
}

// ------------------------------------------------------------------------------------------------------------
// Real models and backend node tests

TEST(OnnxExport, RealModelsRoundTrip) {
    const auto root = test::shared_dir() / "assets";
    std::vector<fs::path> models;
    for (const char* sub : {"onnx_models", "fashion-mnist-models"}) {
        if (!fs::is_directory(root / sub)) continue;
        for (const auto& e : fs::recursive_directory_iterator(root / sub))
            if (e.path().extension() == ".onnx") models.push_back(e.path());
    }
    if (models.empty()) {
        GTEST_SKIP() << "shared assets missing: no .onnx under " << (root / "onnx_models").string() << " or "
                     << (root / "fashion-mnist-models").string()
                     << " (set EDGEQ_SHARED to the shared/ folder)";
    }
    std::sort(models.begin(), models.end());
    Tally t;
    for (const auto& m : models) round_trip(m, /*via_file=*/true, t, synthetic_inputs);
    std::printf("real models: %zu files, %d round-tripped, %d also run (bit-identical outputs)\n",
                models.size(), t.round_tripped, t.ran);
    EXPECT_EQ(t.round_tripped, static_cast<int>(models.size()));
    EXPECT_GE(t.ran, static_cast<int>(models.size()) - 2);  // all but custom-op models run
}

TEST(OnnxExport, NodeTestsRoundTrip) {
    if (!fs::is_directory(kNodeSuite)) {
        GTEST_SKIP() << "ONNX backend node tests missing: " << kNodeSuite.string()
                     << " (Debian package libonnx-testdata)";
    }
    std::vector<fs::path> all;
    for (const auto& e : fs::directory_iterator(kNodeSuite))
        if (fs::exists(e.path() / "model.onnx")) all.push_back(e.path());
    std::sort(all.begin(), all.end());
    // Every control-flow test (If/Loop/Scan subgraphs) and every 7th of the rest.
    std::vector<fs::path> pick;
    for (size_t i = 0; i < all.size(); ++i) {
        const std::string n = all[i].filename().string();
        const bool control =
            n.rfind("test_if", 0) == 0 || n.rfind("test_loop", 0) == 0 || n.rfind("test_scan", 0) == 0;
        if (control || i % 7 == 0) pick.push_back(all[i]);
    }
    Tally t;
    int control_ran = 0;
    for (const auto& dir : pick) {
        const int before = t.ran;
        round_trip(dir / "model.onnx", /*via_file=*/false, t,
                   [&](const graph::Model& m) { return node_test_inputs(dir, m); });
        const std::string n = dir.filename().string();
        if (t.ran > before && (n.find("_if") != std::string::npos || n.find("loop") != std::string::npos ||
                               n.find("scan") != std::string::npos))
            ++control_ran;
    }
    std::printf(
        "node tests: %zu picked of %zu, %d round-tripped, %d refused (sequence/optional graph I/O), %d "
        "not loadable, %d run (bit-identical outputs), %d of them If/Loop/Scan\n",
        pick.size(), all.size(), t.round_tripped, t.untyped_io, t.not_loadable, t.ran, control_ran);
    EXPECT_LE(t.untyped_io, 12);
    EXPECT_GE(t.round_tripped, 100);
    EXPECT_GE(control_ran, 3);
}

TEST(OnnxExport, QuantNodeTestsRoundTrip) {  // IR 13 / opset 25: int4/uint4/int2/uint2, blocked Q/DQ
    EDGEQ_REQUIRE_SHARED(suite, "assets/onnx_node_tests/onnx-git-quant-subset");
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(suite))
        if (fs::exists(e.path() / "model.onnx")) dirs.push_back(e.path());
    std::sort(dirs.begin(), dirs.end());
    Tally t;
    int packed = 0;
    for (const auto& dir : dirs) {
        round_trip(dir / "model.onnx", /*via_file=*/false, t,
                   [&](const graph::Model& m) { return node_test_inputs(dir, m); });
        const std::string n = dir.filename().string();
        if (n.find("int4") != std::string::npos || n.find("int2") != std::string::npos) ++packed;
    }
    std::printf("quant node tests: %zu, %d round-tripped, %d not loadable, %d run\n",
                dirs.size(), t.round_tripped, t.not_loadable, t.ran);
    EXPECT_GE(packed, 8);
    EXPECT_GE(t.round_tripped, 30);
    EXPECT_GE(t.ran, 20);
}

// ------------------------------------------------------------------------------------------------------------
// Models built here

graph::ValueInfo vinfo(const std::string& name, DType t, std::vector<graph::Dim> dims) {
    graph::ValueInfo v;
    v.name = name;
    v.dtype = t;
    v.onnx_elem_type = onnx_from_dtype(t);  // as the importer fills it
    v.has_shape = true;
    v.shape = std::move(dims);
    return v;
}

graph::Node make_node(const std::string& name, const std::string& op, std::vector<std::string> in,
                      std::vector<std::string> out, const std::string& domain = "") {
    graph::Node n;
    n.name = name;
    n.op_type = op;
    n.domain = domain;
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    return n;
}

// Y = Add(X, W), X [batch, 3] F32, W [2, 3]
graph::Model add_model() {
    graph::Model m;
    m.opsets[""] = 13;
    m.ir_version = 8;
    m.graph.name = "add";
    m.graph.inputs.push_back(vinfo("X", DType::F32, {{-1, "batch"}, {3, ""}}));
    m.graph.outputs.push_back(vinfo("Y", DType::F32, {{-1, "batch"}, {3, ""}}));
    m.graph.initializers["W"] = Tensor::from_vector<float>(DType::F32, {2, 3}, {1, 2, 3, 4, 5, 6});
    m.graph.nodes.push_back(make_node("add0", "Add", {"X", "W"}, {"Y"}));
    return m;
}

TEST(OnnxExport, EveryElementTypeByteForByte) {
    // One Identity per type; odd element counts so packed types end in a partial byte.
    struct Case {
        DType t;
        int32_t onnx;
        Shape shape;
    };
    const std::vector<Case> cases = {
        {DType::F32, 1, {2, 3}}, {DType::U8, 2, {5}},   {DType::I8, 3, {5}},     {DType::U16, 4, {3}},
        {DType::I16, 5, {3}},    {DType::I32, 6, {3}},  {DType::I64, 7, {3}},    {DType::BOOL, 9, {4}},
        {DType::F16, 10, {3}},   {DType::F64, 11, {3}}, {DType::U32, 12, {3}},   {DType::U64, 13, {3}},
        {DType::BF16, 16, {3}},  {DType::U4, 21, {5}},  {DType::I4, 22, {3, 3}}, {DType::U2, 25, {7}},
        {DType::I2, 26, {2, 3}}, {DType::F32, 1, {}},   {DType::I8, 3, {0, 4}},
    };
    graph::Model m;
    m.opsets[""] = 25;
    m.graph.name = "types";
    std::mt19937 rng(7);
    for (size_t k = 0; k < cases.size(); ++k) {
        const std::string w = "w" + std::to_string(k), y = "y" + std::to_string(k);
        Tensor t(cases[k].t, cases[k].shape);
        for (size_t i = 0; i < t.nbytes(); ++i) t.raw()[i] = static_cast<uint8_t>(rng());
        if (cases[k].t == DType::BOOL)
            for (size_t i = 0; i < t.nbytes(); ++i) t.raw()[i] &= 1;
        // Packed types: the unused high bits of the last byte are zero, as ONNX writes them.
        const int64_t per = cases[k].t == DType::I4 || cases[k].t == DType::U4   ? 2
                            : cases[k].t == DType::I2 || cases[k].t == DType::U2 ? 4
                                                                                 : 1;
        if (per > 1 && t.numel() % per) {
            const int used = static_cast<int>(t.numel() % per) * (8 / static_cast<int>(per));
            t.raw()[t.nbytes() - 1] &= static_cast<uint8_t>((1u << used) - 1u);
        }
        m.graph.initializers[w] = t;
        m.graph.nodes.push_back(make_node("id" + std::to_string(k), "Identity", {w}, {y}));
        std::vector<graph::Dim> dims;
        for (int64_t d : cases[k].shape) dims.push_back({d, ""});
        m.graph.outputs.push_back(vinfo(y, cases[k].t, dims));
    }
    auto bytes = serialize_model(m);
    ASSERT_TRUE(bytes.ok()) << bytes.status().message();

    onnx::ModelProto mp;
    ASSERT_TRUE(mp.ParseFromString(*bytes));
    EXPECT_EQ(mp.ir_version(), 13);  // INT2/UINT2 need IR 13
    EXPECT_EQ(mp.producer_name(), "edgeq");
    EXPECT_EQ(mp.producer_version(), kEdgeqVersion);
    EXPECT_EQ(mp.graph().input_size(), 0);  // initializers are not listed as inputs
    ASSERT_EQ(mp.graph().initializer_size(), static_cast<int>(cases.size()));
    for (const auto& tp : mp.graph().initializer()) {
        const size_t k = std::stoul(tp.name().substr(1));
        const Tensor& t = m.graph.initializers.at(tp.name());
        EXPECT_EQ(tp.data_type(), cases[k].onnx) << tp.name();
        EXPECT_EQ(Shape(tp.dims().begin(), tp.dims().end()), cases[k].shape) << tp.name();
        ASSERT_TRUE(tp.has_raw_data()) << tp.name();
        EXPECT_EQ(tp.raw_data(), std::string(reinterpret_cast<const char*>(t.raw()), t.nbytes()))
            << tp.name();
    }
    EXPECT_EQ(onnx_check(*bytes), "");

    auto back = parse_bytes(*bytes);
    ASSERT_TRUE(back.ok()) << back.status().message();
    m.ir_version = 13;  // what diff_model expects back
    m.producer = "edgeq-test";
    EXPECT_EQ(diff_model(m, *back), "");
}

TEST(OnnxExport, Int4NibbleOrderIsOnnxs) {
    // INT4 [1, -2, 3, -4, 5]: element 2i in the low nibble of byte i → 0xE1 0xC3 0x05.
    graph::Model m;
    m.opsets[""] = 21;
    m.graph.name = "nibbles";
    m.graph.initializers["q"] = Tensor::from_vector<uint8_t>(DType::I4, {5}, {0xE1, 0xC3, 0x05});
    m.graph.initializers["s"] = Tensor::scalar_f32(0.5f);
    m.graph.nodes.push_back(make_node("dq", "DequantizeLinear", {"q", "s"}, {"y"}));
    m.graph.outputs.push_back(vinfo("y", DType::F32, {{5, ""}}));
    auto bytes = serialize_model(m);
    ASSERT_TRUE(bytes.ok()) << bytes.status().message();
    onnx::ModelProto mp;
    ASSERT_TRUE(mp.ParseFromString(*bytes));
    EXPECT_EQ(mp.ir_version(), 10);  // INT4 needs IR 10 (opset 21's own IR)
    for (const auto& tp : mp.graph().initializer()) {
        if (tp.name() == "q") {
            EXPECT_EQ(tp.raw_data(), std::string("\xE1\xC3\x05", 3));
        }
    }
    auto back = parse_bytes(*bytes);
    ASSERT_TRUE(back.ok()) << back.status().message();
    auto out = runtime::run_reference(*back, {});
    ASSERT_TRUE(out.ok()) << out.status().message();
    EXPECT_EQ(out->at("y").to_f32(), (std::vector<float>{0.5f, -1.f, 1.5f, -2.f, 2.5f}));
}

TEST(OnnxExport, AttributesSubgraphsValueInfoAndMetadata) {
    // A custom-domain node carrying every attribute kind, an If whose branches read an outer value, symbolic,
    // unknown and known dims, a scalar, a value info without shape, metadata props (incl. an empty value).
    // (Unknown dims only where the importer's shape inference cannot name them: it calls an unknown If output
    // dim 'unk__1'.)
    graph::Model m;
    m.opsets[""] = 13;
    m.ir_version = 8;
    m.metadata_props = {{"edgeq.recipe", "w8a8"}, {"author", "test"}, {"edgeq.recipe2", ""}};
    m.graph.name = "main";
    m.graph.inputs.push_back(vinfo("cond", DType::BOOL, {}));
    m.graph.inputs.push_back(vinfo("X", DType::F32, {{-1, "N"}, {2, ""}, {4, ""}}));
    m.graph.outputs.push_back(vinfo("Y", DType::F32, {{-1, "N"}, {2, ""}, {4, ""}}));
    m.graph.outputs.push_back(vinfo("Z", DType::F32, {{-1, ""}}));

    auto branch = [](const std::string& name, const std::string& op) {
        auto g = std::make_shared<graph::Graph>();
        g->name = name;
        g->nodes.push_back(make_node(name + "_n", op, {"X"}, {name + "_y"}));
        g->outputs.push_back(vinfo(name + "_y", DType::F32, {{-1, "N"}, {2, ""}, {4, ""}}));
        return g;
    };
    graph::Node iff = make_node("if0", "If", {"cond"}, {"Y"});
    iff.attrs["then_branch"].kind = Attribute::Kind::Graph;
    iff.attrs["then_branch"].g = branch("then", "Identity");
    iff.attrs["else_branch"].kind = Attribute::Kind::Graph;
    iff.attrs["else_branch"].g = branch("else", "Neg");
    m.graph.nodes.push_back(iff);

    graph::Node all = make_node("all", "Everything", {"X"}, {"Z0"}, "com.edgeq");
    auto& a = all.attrs;
    a["f"].kind = Attribute::Kind::Float, a["f"].f = -0.375f;
    a["i"].kind = Attribute::Kind::Int, a["i"].i = -(int64_t{1} << 40);
    a["s"].kind = Attribute::Kind::String, a["s"].s = std::string("bytes\0and\xff", 10);
    a["t"].kind = Attribute::Kind::Tensor, a["t"].t = Tensor::from_vector<int64_t>(DType::I64, {2}, {7, -7});
    a["g"].kind = Attribute::Kind::Graph, a["g"].g = branch("body", "Relu");
    a["fs"].kind = Attribute::Kind::Floats, a["fs"].floats = {1.5f, -0.f};
    a["is"].kind = Attribute::Kind::Ints, a["is"].ints = {1, 2, 3};
    a["ss"].kind = Attribute::Kind::Strings, a["ss"].strings = {"a", "", "c"};
    a["ts"].kind = Attribute::Kind::Tensors;
    a["ts"].tensors = {Tensor::scalar_f32(2.f), Tensor::from_vector<uint8_t>(DType::U4, {3}, {0x21, 0x03})};
    a["gs"].kind = Attribute::Kind::Graphs, a["gs"].graphs = {branch("g0", "Abs"), branch("g1", "Sigmoid")};
    a["empty_ints"].kind = Attribute::Kind::Ints;
    m.graph.nodes.push_back(all);
    m.graph.nodes.push_back(make_node("z", "Identity", {"Z0"}, {"Z"}));
    m.graph.value_info.push_back(vinfo("Z0", DType::F32, {}));
    m.graph.value_info.back().has_shape = false;  // a type without a shape

    auto bytes = serialize_model(m);
    ASSERT_TRUE(bytes.ok()) << bytes.status().message();
    onnx::ModelProto mp;
    ASSERT_TRUE(mp.ParseFromString(*bytes));
    std::map<std::string, int64_t> opsets;
    for (const auto& op : mp.opset_import()) opsets[op.domain()] = op.version();
    EXPECT_EQ(opsets, (std::map<std::string, int64_t>{{"", 13}, {"com.edgeq", 1}}));  // domain used, added
    EXPECT_EQ(mp.ir_version(), 10);  // the U4 attribute tensor
    EXPECT_EQ(onnx_check(*bytes), "");

    auto back = parse_bytes(*bytes);
    ASSERT_TRUE(back.ok()) << back.status().message();
    m.ir_version = 10;
    m.opsets["com.edgeq"] = 1;
    EXPECT_EQ(diff_model(m, *back), "");
}

TEST(OnnxExport, CustomDomainOpsetsKeptAndAdded) {
    graph::Model m = add_model();
    m.opsets["com.microsoft"] = 1;
    m.opsets["ai.onnx.ml"] = 3;  // declared but unused: kept
    m.graph.nodes.push_back(make_node("q", "QuantizeLinear", {"Y", "s"}, {"Q"}, "com.microsoft"));
    m.graph.nodes.push_back(make_node("e", "Fused", {"Q"}, {"E"}, "com.edgeq"));
    m.graph.initializers["s"] = Tensor::scalar_f32(0.1f);
    m.graph.outputs.push_back(vinfo("E", DType::U8, {}));
    auto bytes = serialize_model(m);
    ASSERT_TRUE(bytes.ok()) << bytes.status().message();
    auto back = parse_bytes(*bytes);
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(back->opsets, (std::map<std::string, int64_t>{
                                {"", 13}, {"ai.onnx.ml", 3}, {"com.edgeq", 1}, {"com.microsoft", 1}}));
    EXPECT_EQ(onnx_check(*bytes), "");
}

TEST(OnnxExport, IrVersionDerivedFromOpsetWhenUnset) {
    graph::Model m = add_model();
    m.ir_version = 0;
    for (auto [opset, ir] :
         std::vector<std::pair<int64_t, int64_t>>{{7, 4}, {11, 6}, {13, 7}, {17, 8}, {21, 10}, {25, 13}}) {
        m.opsets[""] = opset;
        auto bytes = serialize_model(m);
        ASSERT_TRUE(bytes.ok()) << bytes.status().message();
        onnx::ModelProto mp;
        ASSERT_TRUE(mp.ParseFromString(*bytes));
        EXPECT_EQ(mp.ir_version(), ir) << "opset " << opset;
    }
    ExportOptions o;
    o.ir_version = 9;
    m.opsets[""] = 13;
    auto bytes = serialize_model(m, o);
    ASSERT_TRUE(bytes.ok());
    onnx::ModelProto mp;
    ASSERT_TRUE(mp.ParseFromString(*bytes));
    EXPECT_EQ(mp.ir_version(), 9);
}

// ------------------------------------------------------------------------------------------------------------
// External data

TEST(OnnxExport, ExternalData) {
    // Y = MatMul(X, W) + B, W 512x512 F32 (1 MiB: 64 KiB-aligned), B 300 F32 (1200 B), tiny 1 F32 (inline),
    // and an If whose then-branch has its own 2 KiB initializer (subgraph initializers go external too).
    graph::Model m;
    m.opsets[""] = 13;
    m.ir_version = 8;
    m.graph.name = "ext";
    m.graph.inputs.push_back(vinfo("X", DType::F32, {{2, ""}, {512, ""}}));
    m.graph.inputs.push_back(vinfo("cond", DType::BOOL, {}));
    Tensor w(DType::F32, {512, 512}), bias(DType::F32, {300}), sub(DType::F32, {512});
    for (int64_t i = 0; i < w.numel(); ++i)
        w.data<float>()[i] = static_cast<float>((i * 7919) % 1001) / 1000.f - 0.5f;
    for (int64_t i = 0; i < bias.numel(); ++i) bias.data<float>()[i] = static_cast<float>(i) * 0.01f;
    for (int64_t i = 0; i < sub.numel(); ++i) sub.data<float>()[i] = static_cast<float>(i % 5);
    m.graph.initializers["W"] = w;
    m.graph.initializers["B"] = bias;
    m.graph.initializers["tiny"] = Tensor::from_vector<float>(DType::F32, {1}, {2.f});
    m.graph.nodes.push_back(make_node("mm", "MatMul", {"X", "W"}, {"XW"}));
    m.graph.nodes.push_back(make_node("sl", "Slice", {"XW", "s0", "s1", "ax"}, {"XW300"}));
    m.graph.initializers["s0"] = Tensor::from_vector<int64_t>(DType::I64, {1}, {0});
    m.graph.initializers["s1"] = Tensor::from_vector<int64_t>(DType::I64, {1}, {300});
    m.graph.initializers["ax"] = Tensor::from_vector<int64_t>(DType::I64, {1}, {1});
    m.graph.nodes.push_back(make_node("add", "Add", {"XW300", "B"}, {"Y"}));
    m.graph.nodes.push_back(make_node("mul", "Mul", {"XW300", "tiny"}, {"unused"}));
    auto then_g = std::make_shared<graph::Graph>();
    then_g->name = "then";
    then_g->initializers["sub_w"] = sub;
    then_g->nodes.push_back(make_node("sub_add", "Add", {"X", "sub_w"}, {"then_y"}));
    then_g->outputs.push_back(vinfo("then_y", DType::F32, {{2, ""}, {512, ""}}));
    auto else_g = std::make_shared<graph::Graph>();
    else_g->name = "else";
    else_g->nodes.push_back(make_node("else_id", "Identity", {"X"}, {"else_y"}));
    else_g->outputs.push_back(vinfo("else_y", DType::F32, {{2, ""}, {512, ""}}));
    graph::Node iff = make_node("if0", "If", {"cond"}, {"Z"});
    iff.attrs["then_branch"].kind = Attribute::Kind::Graph;
    iff.attrs["then_branch"].g = then_g;
    iff.attrs["else_branch"].kind = Attribute::Kind::Graph;
    iff.attrs["else_branch"].g = else_g;
    m.graph.nodes.push_back(iff);
    m.graph.outputs.push_back(vinfo("Y", DType::F32, {{2, ""}, {300, ""}}));
    m.graph.outputs.push_back(vinfo("Z", DType::F32, {{2, ""}, {512, ""}}));
    m.graph.outputs.push_back(vinfo("unused", DType::F32, {{2, ""}, {300, ""}}));

    for (const std::string location : {"", "weights.bin"}) {
        SCOPED_TRACE("location '" + location + "'");
        TempDir tmp;
        ExportOptions o;
        o.external_data_threshold = 1024;
        o.external_data_location = location;
        const std::string side = location.empty() ? "model.onnx.data" : location;
        ASSERT_TRUE(save_model(m, (tmp / "model.onnx").string(), o).ok());
        std::vector<std::string> want{side, "model.onnx"};
        std::sort(want.begin(), want.end());
        EXPECT_EQ(tmp.files(), want);

        onnx::ModelProto mp;
        ASSERT_TRUE(mp.ParseFromString(read_file(tmp / "model.onnx")));
        std::map<std::string, std::map<std::string, std::string>> ext;
        auto collect = [&](const onnx::GraphProto& g) {
            for (const auto& t : g.initializer()) {
                if (t.data_location() != onnx::TensorProto::EXTERNAL) {
                    EXPECT_TRUE(t.has_raw_data()) << t.name();
                    continue;
                }
                EXPECT_FALSE(t.has_raw_data()) << t.name();
                for (const auto& kv : t.external_data()) ext[t.name()][kv.key()] = kv.value();
            }
        };
        collect(mp.graph());
        for (const auto& n : mp.graph().node())
            for (const auto& a : n.attribute())
                if (a.has_g()) collect(a.g());
        ASSERT_EQ(ext.size(), 3u);  // W, B, sub_w; tiny and the Slice constants stay inline
        for (const auto& [name, kv] : ext) EXPECT_EQ(kv.at("location"), side) << name;
        EXPECT_EQ(ext.at("W").at("length"), std::to_string(512 * 512 * 4));
        EXPECT_EQ(std::stoull(ext.at("W").at("offset")) % 65536, 0u);
        EXPECT_EQ(ext.at("B").at("length"), "1200");
        EXPECT_EQ(ext.at("sub_w").at("length"), "2048");
        uint64_t end = 0;
        for (const auto& [name, kv] : ext)
            end = std::max<uint64_t>(end, std::stoull(kv.at("offset")) + std::stoull(kv.at("length")));
        EXPECT_EQ(fs::file_size(tmp / side), end);
        try {
            onnx::checker::check_model((tmp / "model.onnx").string());  // checks the external files exist
        } catch (const std::exception& e) {
            ADD_FAILURE() << "ONNX's checker: " << e.what();
        }

        // Same IR as the inline round trip (both went through the importer's shape inference).
        auto back = load_model((tmp / "model.onnx").string());
        ASSERT_TRUE(back.ok()) << back.status().message();
        auto inline_bytes = serialize_model(m);
        ASSERT_TRUE(inline_bytes.ok()) << inline_bytes.status().message();
        auto inline_back = parse_bytes(*inline_bytes);
        ASSERT_TRUE(inline_back.ok()) << inline_back.status().message();
        EXPECT_EQ(diff_model(*inline_back, *back), "");
        for (const auto& [name, t] : m.graph.initializers)
            EXPECT_EQ(diff_tensor(t, back->graph.initializers.at(name)), "") << name;
        const auto& then_back = back->graph.nodes.back().attrs.at("then_branch").g;
        EXPECT_EQ(diff_tensor(sub, then_back->initializers.at("sub_w")), "");
        std::map<std::string, Tensor> feeds = synthetic_inputs(m);
        for (uint8_t c : {0, 1}) {
            feeds["cond"] = Tensor::from_vector<uint8_t>(DType::BOOL, {}, {c});
            EXPECT_EQ(expect_same_outputs(m, *back, feeds, "ext"), RunResult::Same);
        }
    }
}

TEST(OnnxExport, ExternalAttributeTensorsOnlyWhenAsked) {
    graph::Model m;
    m.opsets[""] = 13;
    m.graph.name = "const";
    graph::Node c = make_node("c", "Constant", {}, {"Y"});
    c.attrs["value"].kind = Attribute::Kind::Tensor;
    c.attrs["value"].t = Tensor(DType::F32, {1024});
    m.graph.nodes.push_back(c);
    m.graph.outputs.push_back(vinfo("Y", DType::F32, {{1024, ""}}));
    for (bool attrs : {false, true}) {
        TempDir tmp;
        ExportOptions o;
        o.external_data_threshold = 1024;
        o.external_attribute_tensors = attrs;
        ASSERT_TRUE(save_model(m, (tmp / "c.onnx").string(), o).ok());
        EXPECT_EQ(fs::exists(tmp / "c.onnx.data"), attrs);
        auto back = load_model((tmp / "c.onnx").string());
        ASSERT_TRUE(back.ok()) << back.status().message();
        EXPECT_EQ(diff_tensor(back->graph.nodes.at(0).attrs.at("value").t, c.attrs["value"].t), "");
    }
}

TEST(OnnxExport, Over2GiBNeedsExternalData) {
    // 9 initializers sharing one 256 MiB buffer: 2.25 GiB of tensor data for 256 MiB of memory. Refused
    // before anything is copied or written.
    graph::Model m;
    m.opsets[""] = 13;
    m.graph.name = "big";
    const Tensor big(DType::U8, {int64_t{256} << 20});
    for (int k = 0; k < 9; ++k) {
        const std::string w = "w" + std::to_string(k);
        m.graph.initializers[w] = big;
        m.graph.nodes.push_back(
            make_node("id" + std::to_string(k), "Identity", {w}, {"y" + std::to_string(k)}));
        m.graph.outputs.push_back(vinfo("y" + std::to_string(k), DType::U8, {{int64_t{256} << 20, ""}}));
    }
    TempDir tmp;
    expect_error(save_model(m, (tmp / "big.onnx").string()), StatusCode::kUnsupported,
                 "external_data_threshold");
    expect_error(serialize_model(m).status(), StatusCode::kUnsupported,
                 "2415919104 bytes of tensor data inline");
    EXPECT_TRUE(tmp.files().empty());
}

// ------------------------------------------------------------------------------------------------------------
// Errors

TEST(OnnxExportBad, UnwritableOrMissingFolder) {
    const graph::Model m = add_model();
    TempDir tmp;
    expect_error(save_model(m, (tmp / "no_such_dir/model.onnx").string()), StatusCode::kNotFound,
                 "does not exist");
    expect_error(save_model(m, tmp.path().string()), StatusCode::kInvalidArgument, "is a directory");
    expect_error(save_model(m, ""), StatusCode::kInvalidArgument, "empty output path");

    // A read-only folder; root ignores permission bits, so there the target is /proc (no files can be
    // created).
    const fs::path ro = tmp / "ro";
    fs::create_directories(ro);
    ::chmod(ro.c_str(), 0555);
    const fs::path target =
        ::access(ro.c_str(), W_OK) == 0 ? fs::path("/proc/edgeq_export_test.onnx") : ro / "m.onnx";
    expect_error(save_model(m, target.string()), StatusCode::kIoError, "cannot create output file");
    EXPECT_FALSE(fs::exists(target));
    ::chmod(ro.c_str(), 0755);
    EXPECT_TRUE(fs::is_empty(ro));
}

TEST(OnnxExportBad, TensorWithoutDataKeepsTheOldFile) {
    TempDir tmp;
    const fs::path out = tmp / "model.onnx";
    { std::ofstream(out) << "OLD"; }
    graph::Model m = add_model();
    m.graph.initializers["W"] = Tensor();  // a handle with no buffer
    expect_error(save_model(m, out.string()), StatusCode::kInvalidArgument, "initializer 'W' has no data");
    EXPECT_EQ(read_file(out), "OLD");
    EXPECT_EQ(tmp.files(), std::vector<std::string>{"model.onnx"});  // no temporary left

    graph::Model c = add_model();
    graph::Node k = make_node("k", "Constant", {}, {"K"});
    k.attrs["value"].kind = Attribute::Kind::Tensor;  // t left empty
    c.graph.nodes.push_back(k);
    c.graph.outputs.push_back(vinfo("K", DType::F32, {}));
    expect_error(serialize_model(c).status(), StatusCode::kInvalidArgument, "attribute 'value' has no data");

    // With external data on (everything external), an error leaves neither file behind.
    ExportOptions o;
    o.external_data_threshold = 0;
    graph::Model late = add_model();
    late.graph.initializers["Z_last"] =
        Tensor();  // after W in name order: W was already placed in the side file
    late.graph.nodes.push_back(make_node("z", "Identity", {"Z_last"}, {"Zo"}));
    late.graph.outputs.push_back(vinfo("Zo", DType::F32, {}));
    expect_error(save_model(late, out.string(), o), StatusCode::kInvalidArgument, "'Z_last' has no data");
    EXPECT_EQ(tmp.files(), std::vector<std::string>{"model.onnx"});
    EXPECT_EQ(read_file(out), "OLD");
}

TEST(OnnxExportBad, TypesOnnxCannotHold) {
    graph::Model m = add_model();
    m.graph.initializers["W"] = Tensor(DType::Q4_0, {2, 32});
    expect_error(serialize_model(m).status(), StatusCode::kUnsupported, "type Q4_0, which ONNX cannot store");
    graph::Model v = add_model();
    v.graph.outputs[0].dtype = DType::Q8_0;
    expect_error(serialize_model(v).status(), StatusCode::kUnsupported, "value 'Y' has type Q8_0");
}

TEST(OnnxExportBad, BrokenGraphsAndOptions) {
    graph::Model dangling = add_model();
    dangling.graph.nodes[0].inputs[1] = "W_typo";
    expect_error(serialize_model(dangling).status(), StatusCode::kInvalidArgument, "W_typo");

    graph::Model no_opset = add_model();
    no_opset.opsets.clear();
    expect_error(serialize_model(no_opset).status(), StatusCode::kInvalidArgument, "no ai.onnx opset");

    graph::Model q = add_model();
    q.graph.initializers["W"] = Tensor(DType::I4, {2, 3});
    ExportOptions old_ir;
    old_ir.ir_version = 9;
    expect_error(serialize_model(q, old_ir).status(), StatusCode::kInvalidArgument, "needs IR 10");

    ExportOptions ext;
    ext.external_data_threshold = 1024;
    expect_error(serialize_model(add_model(), ext).status(), StatusCode::kInvalidArgument, "use save_model");
    TempDir tmp;
    ext.external_data_location = "../escape.data";
    expect_error(save_model(add_model(), (tmp / "m.onnx").string(), ext), StatusCode::kInvalidArgument,
                 "plain file name");
    ext.external_data_location = "m.onnx";
    expect_error(save_model(add_model(), (tmp / "m.onnx").string(), ext), StatusCode::kInvalidArgument,
                 "the model file itself");
    EXPECT_TRUE(tmp.files().empty());
}

}  // namespace
}  // namespace edgeq::onnxio
