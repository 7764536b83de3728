// ONNX importer: real models from shared/, models built here with the protobuf API (external data, every
// typed field, packed int4/int2, subgraphs, symbolic dims) and one test per way a model can be broken.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "common/shared.h"
#include "formats/onnx/onnx_import.h"

namespace edgeq::onnxio {
namespace {

namespace fs = std::filesystem;

class OnnxTempDir {
public:
    OnnxTempDir() {
        dir_ = fs::temp_directory_path() /
               ("edgeq_onnx_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
        fs::create_directories(dir_);
    }
    ~OnnxTempDir() {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    fs::path operator/(const std::string& name) const { return dir_ / name; }
    const fs::path& path() const { return dir_; }

private:
    static inline int counter_ = 0;
    fs::path dir_;
};

void write_file(const fs::path& p, const std::string& bytes) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}
std::string read_bytes(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
}

void set_tensor_type(onnx::ValueInfoProto* v, const std::string& name, int elem, std::vector<int64_t> dims,
                     const std::vector<std::string>& params = {}) {
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem);
    auto* sh = tt->mutable_shape();
    for (size_t i = 0; i < dims.size(); ++i) {
        auto* d = sh->add_dim();
        if (i < params.size() && !params[i].empty()) d->set_dim_param(params[i]);
        else d->set_dim_value(dims[i]);
    }
}

// Y = Add(X, W): X input [2,3] float, W initializer [2,3] float (filled by `fill_w`).
onnx::ModelProto add_model(const std::function<void(onnx::TensorProto*)>& fill_w, int opset = 13) {
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.set_producer_name("edgeq-test");
    auto* op = m.add_opset_import();
    op->set_domain("");
    op->set_version(opset);
    auto* g = m.mutable_graph();
    g->set_name("add");
    set_tensor_type(g->add_input(), "X", 1, {2, 3}, {"batch", ""});
    set_tensor_type(g->add_output(), "Y", 1, {2, 3});
    auto* w = g->add_initializer();
    w->set_name("W");
    w->set_data_type(1);
    w->add_dims(2);
    w->add_dims(3);
    if (fill_w) fill_w(w);
    auto* n = g->add_node();
    n->set_name("add0");
    n->set_op_type("Add");
    n->add_input("X");
    n->add_input("W");
    n->add_output("Y");
    return m;
}

void fill_floats(onnx::TensorProto* t, int n) {
    for (int i = 0; i < n; ++i) t->add_float_data(static_cast<float>(i) + 0.5f);
}

Result<graph::Model> parse(const onnx::ModelProto& m, const std::string& base_dir = "",
                           std::vector<std::string>* warnings = nullptr) {
    const std::string s = m.SerializeAsString();
    return parse_model({reinterpret_cast<const uint8_t*>(s.data()), s.size()}, "test.onnx", base_dir, warnings);
}

// A model with one initializer T of the given type, shape and contents, consumed by Identity.
onnx::ModelProto const_model(const std::function<void(onnx::TensorProto*)>& fill) {
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(13);
    auto* g = m.mutable_graph();
    g->set_name("c");
    auto* t = g->add_initializer();
    t->set_name("T");
    fill(t);
    auto* n = g->add_node();
    n->set_op_type("Identity");
    n->add_input("T");
    n->add_output("Y");
    g->add_output()->set_name("Y");
    return m;
}

Result<Tensor> load_const(const std::function<void(onnx::TensorProto*)>& fill) {
    auto m = parse(const_model(fill));
    if (!m.ok()) return m.status();
    return m.value().graph.initializers.at("T");
}

void expect_import_error(const Status& s, StatusCode code, const std::string& needle) {
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(static_cast<int>(s.code()), static_cast<int>(code)) << s.message();
    EXPECT_NE(s.message().find(needle), std::string::npos) << "message: " << s.message() << "\nwanted: " << needle;
}

// --------------------------------------------------------------------------------------------------------
// Real models

TEST(OnnxImport, Mnist8) {
    EDGEQ_REQUIRE_SHARED(p, "assets/onnx_models/mnist-8/model.onnx");
    auto m = load_model(p.string());
    ASSERT_TRUE(m.ok()) << m.status().message();
    EXPECT_EQ(m->opset(), 8);
    ASSERT_EQ(m->graph.inputs.size(), 1u);
    EXPECT_EQ(m->graph.inputs[0].name, "Input3");
    EXPECT_EQ(m->graph.inputs[0].dtype, DType::F32);
    ASSERT_TRUE(m->graph.inputs[0].has_shape);
    ASSERT_EQ(m->graph.inputs[0].shape.size(), 4u);
    EXPECT_EQ(m->graph.inputs[0].shape[2].value, 28);
    ASSERT_EQ(m->graph.outputs.size(), 1u);
    EXPECT_EQ(m->graph.outputs[0].name, "Plus214_Output_0");
    int64_t params = 0;
    for (const auto& [n, t] : m->graph.initializers) params += t.numel();
    EXPECT_GE(params, 5998);  // 5,998 weights + shape constants
    EXPECT_FALSE(m->graph.nodes.empty());
    // shape inference filled intermediate value_info
    EXPECT_FALSE(m->graph.value_info.empty());

    std::string name;
    auto in = load_tensor_pb((p.parent_path() / "test_data_set_0/input_0.pb").string(), &name);
    ASSERT_TRUE(in.ok()) << in.status().message();
    EXPECT_EQ(in->shape(), (Shape{1, 1, 28, 28}));
    EXPECT_EQ(in->dtype(), DType::F32);
    auto out = load_tensor_pb((p.parent_path() / "test_data_set_0/output_0.pb").string());
    ASSERT_TRUE(out.ok()) << out.status().message();
    EXPECT_EQ(out->shape(), (Shape{1, 10}));
}

TEST(OnnxImport, Mnist7) {
    EDGEQ_REQUIRE_SHARED(p, "assets/onnx_models/mnist-7/model.onnx");
    auto m = load_model(p.string());
    ASSERT_TRUE(m.ok()) << m.status().message();
    EXPECT_EQ(m->opset(), 7);
}

TEST(OnnxImport, UltrafaceInitializersListedAsInputsAreParameters) {
    EDGEQ_REQUIRE_SHARED(p, "assets/onnx_models/ultraface-RFB-320/version-RFB-320.onnx");
    auto m = load_model(p.string());
    ASSERT_TRUE(m.ok()) << m.status().message();
    ASSERT_EQ(m->graph.inputs.size(), 1u);
    EXPECT_EQ(m->graph.inputs[0].name, "input");
    ASSERT_EQ(m->graph.inputs[0].shape.size(), 4u);
    EXPECT_EQ(m->graph.inputs[0].shape[3].value, 320);
    EXPECT_EQ(m->graph.outputs.size(), 2u);
    int64_t params = 0;
    for (const auto& [n, t] : m->graph.initializers) params += t.numel();
    EXPECT_GT(params, 280000);
    EXPECT_EQ(m->opset(), 9);
}

TEST(OnnxImport, FashionMnistDevModels) {
    for (const char* name : {"lenet5", "mlp3", "vgg_bn", "lstm"}) {
        SCOPED_TRACE(name);
        const auto p = test::shared_file(std::string("assets/fashion-mnist-models/") + name + ".onnx");
        if (p.empty()) GTEST_SKIP() << "shared asset missing: fashion-mnist-models (set EDGEQ_SHARED)";
        std::vector<std::string> warnings;
        auto m = load_model(p.string(), &warnings);
        ASSERT_TRUE(m.ok()) << m.status().message();
        EXPECT_EQ(m->opset(), 13);
        EXPECT_EQ(m->ir_version, 7);
        ASSERT_EQ(m->graph.inputs.size(), 1u);
        const auto& in = m->graph.inputs[0];
        EXPECT_EQ(in.name, "input");
        ASSERT_EQ(in.shape.size(), 4u);
        EXPECT_EQ(in.shape[0].value, -1);
        EXPECT_EQ(in.shape[0].param, "N");
        EXPECT_EQ(in.shape[1].value, 1);
        ASSERT_EQ(m->graph.outputs.size(), 1u);
        EXPECT_EQ(m->graph.outputs[0].name, "logits");
        EXPECT_TRUE(warnings.empty()) << warnings[0];
    }
}

TEST(OnnxImport, CustomDomainNodesKept) {
    EDGEQ_REQUIRE_SHARED(p, "assets/onnx_models/super-resolution-ortext/supres.onnx");
    auto m = load_model(p.string());
    ASSERT_TRUE(m.ok()) << m.status().message();
    bool contrib = false;
    for (const auto& n : m->graph.nodes) contrib |= n.domain == "ai.onnx.contrib";
    EXPECT_TRUE(contrib);
    EXPECT_GT(m->opset("ai.onnx.contrib"), 0);
}

// --------------------------------------------------------------------------------------------------------
// Built models: data encodings

TEST(OnnxImport, FloatDataAndSymbolicDims) {
    auto m = parse(add_model([](onnx::TensorProto* t) { fill_floats(t, 6); }));
    ASSERT_TRUE(m.ok()) << m.status().message();
    const auto& w = m->graph.initializers.at("W");
    EXPECT_EQ(w.shape(), (Shape{2, 3}));
    EXPECT_FLOAT_EQ(w.data<float>()[5], 5.5f);
    ASSERT_EQ(m->graph.inputs.size(), 1u);
    EXPECT_EQ(m->graph.inputs[0].shape[0].param, "batch");
    EXPECT_EQ(m->graph.inputs[0].shape[0].value, -1);
    EXPECT_EQ(m->graph.inputs[0].shape[1].value, 3);
    EXPECT_EQ(m->graph.nodes[0].describe(), "node 'add0' (Add)");
}

TEST(OnnxImport, RawData) {
    auto m = parse(add_model([](onnx::TensorProto* t) {
        float v[6] = {1, 2, 3, 4, 5, 6};
        t->set_raw_data(std::string(reinterpret_cast<const char*>(v), sizeof v));
    }));
    ASSERT_TRUE(m.ok()) << m.status().message();
    EXPECT_FLOAT_EQ(m->graph.initializers.at("W").data<float>()[3], 4.0f);
}

TEST(OnnxImport, TypedFieldsEveryType) {
    auto one = [](int elem, std::vector<int64_t> dims, const std::function<void(onnx::TensorProto*)>& f) {
        return load_const([&](onnx::TensorProto* t) {
            t->set_data_type(elem);
            for (auto d : dims) t->add_dims(d);
            f(t);
        });
    };
    {  // INT8 via int32_data
        auto t = one(3, {3}, [](onnx::TensorProto* p) { for (int v : {-128, 5, 127}) p->add_int32_data(v); });
        ASSERT_TRUE(t.ok()) << t.status().message();
        EXPECT_EQ(t->dtype(), DType::I8);
        EXPECT_EQ(t->to_i64(), (std::vector<int64_t>{-128, 5, 127}));
    }
    {  // UINT8
        auto t = one(2, {2}, [](onnx::TensorProto* p) { for (int v : {0, 255}) p->add_int32_data(v); });
        ASSERT_TRUE(t.ok());
        EXPECT_EQ(t->to_i64(), (std::vector<int64_t>{0, 255}));
    }
    {  // INT16 / UINT16
        auto a = one(5, {2}, [](onnx::TensorProto* p) { for (int v : {-32768, 32767}) p->add_int32_data(v); });
        ASSERT_TRUE(a.ok());
        EXPECT_EQ(a->to_i64(), (std::vector<int64_t>{-32768, 32767}));
        auto b = one(4, {1}, [](onnx::TensorProto* t) { t->add_int32_data(65535); });
        ASSERT_TRUE(b.ok());
        EXPECT_EQ(b->dtype(), DType::U16);
        EXPECT_EQ(b->to_i64(), (std::vector<int64_t>{65535}));
    }
    {  // BOOL
        auto t = one(9, {3}, [](onnx::TensorProto* p) { for (int v : {1, 0, 1}) p->add_int32_data(v); });
        ASSERT_TRUE(t.ok());
        EXPECT_EQ(t->dtype(), DType::BOOL);
        EXPECT_EQ(t->to_i64(), (std::vector<int64_t>{1, 0, 1}));
    }
    {  // FLOAT16 / BFLOAT16: bit patterns in int32_data
        auto h = one(10, {2}, [](onnx::TensorProto* t) { t->add_int32_data(0x3C00); t->add_int32_data(0xC000); });
        ASSERT_TRUE(h.ok());
        EXPECT_EQ(h->dtype(), DType::F16);
        EXPECT_EQ(h->to_f32(), (std::vector<float>{1.0f, -2.0f}));
        auto b = one(16, {1}, [](onnx::TensorProto* t) { t->add_int32_data(0x3FC0); });
        ASSERT_TRUE(b.ok());
        EXPECT_EQ(b->dtype(), DType::BF16);
        EXPECT_EQ(b->to_f32(), (std::vector<float>{1.5f}));
    }
    {  // INT32, INT64, DOUBLE, UINT32 / UINT64 (uint64_data)
        auto i32 = one(6, {2}, [](onnx::TensorProto* t) { t->add_int32_data(-7); t->add_int32_data(1 << 30); });
        ASSERT_TRUE(i32.ok());
        EXPECT_EQ(i32->to_i64(), (std::vector<int64_t>{-7, 1 << 30}));
        auto i64 = one(7, {1}, [](onnx::TensorProto* t) { t->add_int64_data(-(int64_t{1} << 40)); });
        ASSERT_TRUE(i64.ok());
        EXPECT_EQ(i64->data<int64_t>()[0], -(int64_t{1} << 40));
        auto f64 = one(11, {1}, [](onnx::TensorProto* t) { t->add_double_data(0.1); });
        ASSERT_TRUE(f64.ok());
        EXPECT_EQ(f64->data<double>()[0], 0.1);
        auto u32 = one(12, {1}, [](onnx::TensorProto* t) { t->add_uint64_data(4000000000u); });
        ASSERT_TRUE(u32.ok());
        EXPECT_EQ(u32->dtype(), DType::U32);
        EXPECT_EQ(u32->data<uint32_t>()[0], 4000000000u);
        auto u64 = one(13, {1}, [](onnx::TensorProto* t) { t->add_uint64_data(~uint64_t{0}); });
        ASSERT_TRUE(u64.ok());
        EXPECT_EQ(u64->data<uint64_t>()[0], ~uint64_t{0});
    }
}

TEST(OnnxImport, PackedSubByteTypes) {
    // INT4 [5]: values 0, 1, -1, 7, -8 packed two per byte, low nibble first, one byte per int32_data value.
    auto i4 = load_const([](onnx::TensorProto* t) {
        t->set_data_type(22);
        t->add_dims(5);
        t->add_int32_data(0x10);  // 0, 1
        t->add_int32_data(0x7F);  // -1, 7
        t->add_int32_data(0x08);  // -8
    });
    ASSERT_TRUE(i4.ok()) << i4.status().message();
    EXPECT_EQ(i4->dtype(), DType::I4);
    EXPECT_EQ(i4->to_i64(), (std::vector<int64_t>{0, 1, -1, 7, -8}));
    // UINT4 written one element per int32 (tolerated) packs to the same layout.
    auto u4 = load_const([](onnx::TensorProto* t) {
        t->set_data_type(21);
        t->add_dims(3);
        for (int v : {15, 0, 9}) t->add_int32_data(v);
    });
    ASSERT_TRUE(u4.ok()) << u4.status().message();
    EXPECT_EQ(u4->to_i64(), (std::vector<int64_t>{15, 0, 9}));
    // INT2 [4] = 0, 1, -1, -2 in one byte 0b10'11'01'00 (the onnx test suite's test_dequantizelinear_int2 input)
    auto i2 = load_const([](onnx::TensorProto* t) {
        t->set_data_type(26);
        t->add_dims(4);
        t->add_int32_data(180);
    });
    ASSERT_TRUE(i2.ok()) << i2.status().message();
    EXPECT_EQ(i2->dtype(), DType::I2);
    EXPECT_EQ(i2->to_i64(), (std::vector<int64_t>{0, 1, -1, -2}));
    auto u2 = load_const([](onnx::TensorProto* t) {
        t->set_data_type(25);
        t->add_dims(5);
        t->set_raw_data(std::string("\xE4\x03", 2));  // 0,1,2,3 | 3
    });
    ASSERT_TRUE(u2.ok()) << u2.status().message();
    EXPECT_EQ(u2->to_i64(), (std::vector<int64_t>{0, 1, 2, 3, 3}));
    // raw_data of a packed type must be ceil(n / per_byte) bytes
    auto bad = load_const([](onnx::TensorProto* t) {
        t->set_data_type(22);
        t->add_dims(5);
        t->set_raw_data(std::string(2, '\0'));
    });
    expect_import_error(bad.status(), StatusCode::kCorrupt, "raw_data holds 2 bytes, INT4 [5] needs 3");
}

TEST(OnnxImport, DtypeTable) {
    EXPECT_EQ(dtype_from_onnx(1), DType::F32);
    EXPECT_EQ(dtype_from_onnx(16), DType::BF16);
    EXPECT_EQ(dtype_from_onnx(21), DType::U4);
    EXPECT_EQ(dtype_from_onnx(22), DType::I4);
    EXPECT_EQ(dtype_from_onnx(25), DType::U2);
    EXPECT_EQ(dtype_from_onnx(26), DType::I2);
    for (int t : {0, 8, 14, 15, 17, 18, 19, 20, 23, 24, 99}) EXPECT_FALSE(dtype_from_onnx(t).has_value()) << t;
    for (int t = 1; t <= 26; ++t) {
        if (auto d = dtype_from_onnx(t)) {
            EXPECT_EQ(onnx_from_dtype(*d), t);
        }
    }
    EXPECT_STREQ(onnx_type_name(17), "FLOAT8E4M3FN");
    EXPECT_STREQ(onnx_type_name(26), "INT2");
    EXPECT_EQ(onnx_from_dtype(DType::Q4_K), 0);
}

TEST(OnnxImport, SparseInitializerDensified) {
    auto m = const_model([](onnx::TensorProto*) {});
    m.mutable_graph()->clear_initializer();
    auto* sp = m.mutable_graph()->add_sparse_initializer();
    sp->add_dims(2);
    sp->add_dims(3);
    auto* v = sp->mutable_values();
    v->set_name("T");
    v->set_data_type(1);
    v->add_dims(2);
    v->add_float_data(7);
    v->add_float_data(9);
    auto* ix = sp->mutable_indices();
    ix->set_data_type(7);
    ix->add_dims(2);
    ix->add_int64_data(1);
    ix->add_int64_data(5);
    auto r = parse(m);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->graph.initializers.at("T").to_f32(), (std::vector<float>{0, 7, 0, 0, 0, 9}));
}

TEST(OnnxImport, AttributesAndSubgraphs) {
    // If(cond) { then: Y = Identity(X) (X from the outer scope) } else { Y = Neg(X) }, with ints/floats/strings.
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(13);
    auto* g = m.mutable_graph();
    g->set_name("main");
    set_tensor_type(g->add_input(), "cond", 9, {});
    set_tensor_type(g->add_input(), "X", 1, {2});
    set_tensor_type(g->add_output(), "Y", 1, {2});
    auto* n = g->add_node();
    n->set_op_type("If");
    n->set_name("if0");
    n->add_input("cond");
    n->add_output("Y");
    for (const char* branch : {"then_branch", "else_branch"}) {
        auto* a = n->add_attribute();
        a->set_name(branch);
        a->set_type(onnx::AttributeProto::GRAPH);
        auto* sg = a->mutable_g();
        sg->set_name(branch);
        auto* sn = sg->add_node();
        sn->set_op_type(std::string(branch) == "then_branch" ? "Identity" : "Neg");
        sn->add_input("X");
        sn->add_output(std::string(branch) + "_y");
        set_tensor_type(sg->add_output(), std::string(branch) + "_y", 1, {2});
    }
    auto* ai = n->add_attribute();  // unknown to If, but kept: attribute defaults/validation belong to ops
    ai->set_name("extra_ints");
    ai->set_type(onnx::AttributeProto::INTS);
    ai->add_ints(3);
    ai->add_ints(-1);
    auto* af = n->add_attribute();
    af->set_name("extra_f");  // no type: deduced from the field (IR 1 files)
    af->set_f(0.25f);
    auto r = parse(m);
    ASSERT_TRUE(r.ok()) << r.status().message();
    const auto& node = r->graph.nodes.at(0);
    ASSERT_TRUE(node.has("then_branch"));
    ASSERT_TRUE(node.attr("then_branch")->g);
    EXPECT_EQ(node.attr("then_branch")->g->nodes.at(0).op_type, "Identity");
    EXPECT_EQ(node.attr("else_branch")->g->outputs.at(0).name, "else_branch_y");
    EXPECT_EQ(node.attr_ints("extra_ints"), (std::vector<int64_t>{3, -1}));
    EXPECT_EQ(node.attr("extra_f")->kind, graph::Attribute::Kind::Float);
    EXPECT_FLOAT_EQ(node.attr_f("extra_f", 0), 0.25f);

    // A subgraph using a name that no scope defines is rejected, naming the subgraph.
    n->mutable_attribute(0)->mutable_g()->mutable_node(0)->set_input(0, "nowhere");
    auto bad = parse(m);
    expect_import_error(bad.status(), StatusCode::kCorrupt, "subgraph 'then_branch'");
    EXPECT_NE(bad.status().message().find("'nowhere'"), std::string::npos) << bad.status().message();
}

TEST(OnnxImport, NewerIrAndOpsetIsAWarningNotAnError) {
    std::vector<std::string> warnings;
    auto m = add_model([](onnx::TensorProto* t) { fill_floats(t, 6); }, 25);
    m.set_ir_version(13);  // newer than Debian's checker (IR 8) knows: it refuses, the importer warns
    auto r = parse(m, "", &warnings);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->opset(), 25);
    ASSERT_FALSE(warnings.empty());
    EXPECT_NE(warnings[0].find("IR version 13 is newer"), std::string::npos) << warnings[0];
    EXPECT_FALSE(r->graph.outputs.empty());
}

TEST(OnnxImport, CheckerFailureIsAWarningWhenTheModelIsUsable) {
    // An attribute Add does not have: ONNX's checker refuses the node, edgeq keeps it (ops ignore extras).
    std::vector<std::string> warnings;
    auto m = add_model([](onnx::TensorProto* t) { fill_floats(t, 6); });
    auto* a = m.mutable_graph()->mutable_node(0)->add_attribute();
    a->set_name("not_an_add_attribute");
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(1);
    auto r = parse(m, "", &warnings);
    ASSERT_TRUE(r.ok()) << r.status().message();
    ASSERT_FALSE(warnings.empty());
    EXPECT_NE(warnings[0].find("onnx checker"), std::string::npos) << warnings[0];
    // ... and is quoted when the model is unusable
    m.mutable_graph()->mutable_node(0)->set_input(0, "nothing");
    auto bad = parse(m);
    expect_import_error(bad.status(), StatusCode::kCorrupt, "(onnx checker: ");
}

TEST(OnnxImport, ShapeInferenceCrashIsIsolated) {
    // LayerNormalization with axis 2^63-3 (found by fuzzing): libonnx 1.12's inference reads out of bounds and
    // segfaults. It runs in a child process, so the load succeeds and the lost inference is a warning.
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(17);
    auto* g = m.mutable_graph();
    g->set_name("ln");
    set_tensor_type(g->add_input(), "X", 1, {2, 3, 4, 5});
    set_tensor_type(g->add_output(), "Y", 1, {});
    for (const char* w : {"S", "B"}) {
        auto* t = g->add_initializer();
        t->set_name(w);
        t->set_data_type(1);
        t->add_dims(5);
        fill_floats(t, 5);
    }
    auto* n = g->add_node();
    n->set_op_type("LayerNormalization");
    n->add_input("X");
    n->add_input("S");
    n->add_input("B");
    n->add_output("Y");
    auto* a = n->add_attribute();
    a->set_name("axis");
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(INT64_MAX - 2);
    std::vector<std::string> warnings;
    auto r = parse(m, "", &warnings);
    ASSERT_TRUE(r.ok()) << r.status().message();
    bool found = false;
    for (const auto& w : warnings) found |= w.find("onnx shape inference") != std::string::npos;
    EXPECT_TRUE(found);
    EXPECT_EQ(r->graph.nodes.at(0).attr_i("axis", 0), INT64_MAX - 2);  // kept as given; the op rejects it
}

// --------------------------------------------------------------------------------------------------------
// External data

struct ExternalCase {
    OnnxTempDir dir;
    std::string weights;  // written to dir/weights.bin
    ExternalCase() {
        weights.assign(16, 'x');  // 16 bytes of something else first
        float v[6] = {10, 20, 30, 40, 50, 60};
        weights.append(reinterpret_cast<const char*>(v), sizeof v);
        weights.append(8, 'y');
        fs::create_directories(dir / "sub");
        write_file(dir / "sub/weights.bin", weights);
        write_file(dir / "outside.bin", weights);
    }
    Result<graph::Model> load(const std::map<std::string, std::string>& kv) {
        auto m = add_model([&](onnx::TensorProto* t) {
            t->set_data_location(onnx::TensorProto::EXTERNAL);
            for (const auto& [k, v] : kv) {
                auto* e = t->add_external_data();
                e->set_key(k);
                e->set_value(v);
            }
        });
        write_file(dir / "sub/model.onnx", m.SerializeAsString());
        return load_model((dir / "sub/model.onnx").string());
    }
};

TEST(OnnxImport, ExternalData) {
    ExternalCase c;
    auto m = c.load({{"location", "weights.bin"}, {"offset", "16"}, {"length", "24"}});
    ASSERT_TRUE(m.ok()) << m.status().message();
    EXPECT_EQ(m->graph.initializers.at("W").to_f32(), (std::vector<float>{10, 20, 30, 40, 50, 60}));
    // length omitted: the rest of the file from offset, which must then be exactly the tensor
    auto whole = c.load({{"location", "weights.bin"}, {"offset", "16"}});
    expect_import_error(whole.status(), StatusCode::kCorrupt, "external data holds 32 bytes, F32 [2, 3] needs 24");
    auto past = c.load({{"location", "weights.bin"}, {"offset", "30"}, {"length", "24"}});
    expect_import_error(past.status(), StatusCode::kCorrupt, "runs past the end of");
    auto far = c.load({{"location", "weights.bin"}, {"offset", "1000"}, {"length", "24"}});
    expect_import_error(far.status(), StatusCode::kCorrupt, "past the end of");
    auto up = c.load({{"location", "../outside.bin"}, {"offset", "16"}, {"length", "24"}});
    expect_import_error(up.status(), StatusCode::kCorrupt, "leaves the model's folder");
    auto abs = c.load({{"location", (c.dir / "outside.bin").string()}, {"offset", "16"}, {"length", "24"}});
    expect_import_error(abs.status(), StatusCode::kCorrupt, "is absolute");
    auto missing = c.load({{"location", "nope.bin"}});
    expect_import_error(missing.status(), StatusCode::kNotFound, "nope.bin");
    auto noloc = c.load({{"offset", "0"}});
    expect_import_error(noloc.status(), StatusCode::kCorrupt, "without a 'location'");
    auto badnum = c.load({{"location", "weights.bin"}, {"offset", "-4"}});
    expect_import_error(badnum.status(), StatusCode::kCorrupt, "not a non-negative integer");
    // a symlink inside the folder that points outside it is refused too
    std::error_code ec;
    fs::create_symlink(c.dir / "outside.bin", c.dir / "sub/link.bin", ec);
    if (!ec) {
        auto link = c.load({{"location", "link.bin"}, {"offset", "16"}, {"length", "24"}});
        expect_import_error(link.status(), StatusCode::kCorrupt, "resolves outside the model's folder");
    }
    // parse_model from bytes without a folder cannot resolve external data
    auto nodir = parse(add_model([](onnx::TensorProto* t) {
        t->set_data_location(onnx::TensorProto::EXTERNAL);
        auto* e = t->add_external_data();
        e->set_key("location");
        e->set_value("weights.bin");
    }));
    expect_import_error(nodir.status(), StatusCode::kInvalidArgument, "has no folder");
}

// --------------------------------------------------------------------------------------------------------
// Broken models: each rejected with its own message

TEST(OnnxImportBad, MissingFileAndDirectory) {
    expect_import_error(load_model("/nonexistent/model.onnx").status(), StatusCode::kNotFound, "/nonexistent/model.onnx");
    OnnxTempDir d;
    expect_import_error(load_model(d.path().string()).status(), StatusCode::kInvalidArgument, "is a directory");
}

TEST(OnnxImportBad, TruncatedProtobuf) {
    const std::string full = add_model([](onnx::TensorProto* t) { fill_floats(t, 6); }).SerializeAsString();
    OnnxTempDir d;
    write_file(d / "cut.onnx", full.substr(0, full.size() - 7));
    auto r = load_model((d / "cut.onnx").string());
    expect_import_error(r.status(), StatusCode::kCorrupt, "protobuf parse failed");
    EXPECT_NE(r.status().message().find("cut.onnx"), std::string::npos);
}

TEST(OnnxImportBad, TruncatedRealModel) {
    EDGEQ_REQUIRE_SHARED(p, "assets/onnx_models/mnist-8/model.onnx");
    const std::string full = read_bytes(p);
    OnnxTempDir d;
    for (size_t cut : {full.size() / 2, full.size() - 1, size_t{3}}) {
        write_file(d / "m.onnx", full.substr(0, cut));
        auto r = load_model((d / "m.onnx").string());
        EXPECT_FALSE(r.ok()) << "cut at " << cut;
        EXPECT_NE(r.status().message().find("m.onnx"), std::string::npos) << r.status().message();
    }
}

TEST(OnnxImportBad, EmptyAndGarbage) {
    OnnxTempDir d;
    write_file(d / "empty.onnx", "");
    expect_import_error(load_model((d / "empty.onnx").string()).status(), StatusCode::kCorrupt, "has no graph");
    write_file(d / "text.onnx", "this is not an onnx model at all\n");
    EXPECT_FALSE(load_model((d / "text.onnx").string()).ok());
}

TEST(OnnxImportBad, DanglingInput) {
    auto m = add_model([](onnx::TensorProto* t) { fill_floats(t, 6); });
    m.mutable_graph()->mutable_node(0)->set_input(1, "W_typo");
    expect_import_error(parse(m).status(), StatusCode::kCorrupt,
                 "node 'add0' (Add): input 'W_typo' is not a graph input, an initializer or any node's output");
}

TEST(OnnxImportBad, Cycle) {
    auto m = add_model([](onnx::TensorProto* t) { fill_floats(t, 6); });
    auto* g = m.mutable_graph();
    g->mutable_node(0)->set_input(0, "Z");  // add0: Y = Add(Z, W); relu: Z = Relu(Y)
    auto* n = g->add_node();
    n->set_name("relu");
    n->set_op_type("Relu");
    n->add_input("Y");
    n->add_output("Z");
    expect_import_error(parse(m).status(), StatusCode::kCorrupt, "graph has a cycle through node");
}

TEST(OnnxImportBad, ValueProducedTwice) {
    auto m = add_model([](onnx::TensorProto* t) { fill_floats(t, 6); });
    auto* n = m.mutable_graph()->add_node();
    n->set_name("again");
    n->set_op_type("Identity");
    n->add_input("X");
    n->add_output("Y");
    expect_import_error(parse(m).status(), StatusCode::kCorrupt, "value 'Y' is produced twice");
}

TEST(OnnxImportBad, NodeRedefinesInputOrInitializer) {
    auto m = add_model([](onnx::TensorProto* t) { fill_floats(t, 6); });
    m.mutable_graph()->mutable_node(0)->set_output(0, "W");
    expect_import_error(parse(m).status(), StatusCode::kCorrupt, "node 'add0' (Add): output 'W' is also a graph input or initializer");
    auto x = add_model([](onnx::TensorProto* t) { fill_floats(t, 6); });
    x.mutable_graph()->mutable_node(0)->set_output(0, "X");
    expect_import_error(parse(x).status(), StatusCode::kCorrupt, "output 'X' is also a graph input");
}

TEST(OnnxImportBad, OutputNeverProduced) {
    auto m = add_model([](onnx::TensorProto* t) { fill_floats(t, 6); });
    set_tensor_type(m.mutable_graph()->add_output(), "ghost", 1, {1});
    expect_import_error(parse(m).status(), StatusCode::kCorrupt, "graph output 'ghost' is never produced");
}

TEST(OnnxImportBad, RawDataSizeMismatch) {
    auto m = add_model([](onnx::TensorProto* t) { t->set_raw_data(std::string(20, '\0')); });
    expect_import_error(parse(m).status(), StatusCode::kCorrupt, "initializer 'W': raw_data holds 20 bytes, FLOAT [2, 3] needs 24");
    auto big = add_model([](onnx::TensorProto* t) {
        t->clear_dims();
        t->add_dims(1 << 20);
        t->add_dims(1 << 20);  // 2^40 floats claimed, 4 bytes present
        t->set_raw_data(std::string(4, '\0'));
    });
    expect_import_error(parse(big).status(), StatusCode::kCorrupt, "raw_data holds 4 bytes");
}

TEST(OnnxImportBad, TypedFieldCountMismatch) {
    auto m = add_model([](onnx::TensorProto* t) { fill_floats(t, 5); });
    expect_import_error(parse(m).status(), StatusCode::kCorrupt, "initializer 'W': float_data holds 5 values, FLOAT [2, 3] needs 6");
    auto none = add_model([](onnx::TensorProto*) {});
    expect_import_error(parse(none).status(), StatusCode::kCorrupt, "float_data holds 0 values");
    auto i64 = load_const([](onnx::TensorProto* t) {
        t->set_data_type(7);
        t->add_dims(2);
        t->add_int64_data(1);
    });
    expect_import_error(i64.status(), StatusCode::kCorrupt, "int64_data holds 1 values, INT64 [2] needs 2");
}

TEST(OnnxImportBad, NegativeAndHugeDims) {
    auto m = add_model([](onnx::TensorProto* t) {
        t->set_dims(0, -2);
        fill_floats(t, 6);
    });
    expect_import_error(parse(m).status(), StatusCode::kCorrupt, "initializer 'W': negative dimension -2");
    auto huge = add_model([](onnx::TensorProto* t) {
        t->set_dims(0, int64_t{1} << 40);
        t->set_dims(1, int64_t{1} << 40);
    });
    expect_import_error(parse(huge).status(), StatusCode::kCorrupt, "more than 2^46 elements");
}

TEST(OnnxImportBad, UnsupportedElementTypes) {
    auto f8 = load_const([](onnx::TensorProto* t) {
        t->set_data_type(17);
        t->add_dims(2);
        t->set_raw_data(std::string(2, '\0'));
    });
    expect_import_error(f8.status(), StatusCode::kUnsupported, "initializer 'T': element type FLOAT8E4M3FN (17) is not supported");
    auto str = load_const([](onnx::TensorProto* t) {
        t->set_data_type(8);
        t->add_dims(1);
        t->add_string_data("hello");
    });
    expect_import_error(str.status(), StatusCode::kUnsupported, "STRING (8)");
    auto undef = load_const([](onnx::TensorProto* t) { t->add_dims(1); });
    expect_import_error(undef.status(), StatusCode::kCorrupt, "data_type is UNDEFINED");
}

TEST(OnnxImportBad, DuplicateInitializerAndNamelessThings) {
    auto m = add_model([](onnx::TensorProto* t) { fill_floats(t, 6); });
    *m.mutable_graph()->add_initializer() = m.graph().initializer(0);
    expect_import_error(parse(m).status(), StatusCode::kCorrupt, "initializer 'W' is defined twice");
    auto n = add_model([](onnx::TensorProto* t) { fill_floats(t, 6); });
    n.mutable_graph()->mutable_node(0)->clear_op_type();
    expect_import_error(parse(n).status(), StatusCode::kCorrupt, "node #0 has no op_type");
    auto a = add_model([](onnx::TensorProto* t) { fill_floats(t, 6); });
    a.mutable_graph()->mutable_node(0)->add_attribute()->set_name("empty");
    expect_import_error(parse(a).status(), StatusCode::kCorrupt, "attribute 'empty' has no type and no value");
}

TEST(OnnxImportBad, TensorPbFiles) {
    OnnxTempDir d;
    onnx::TensorProto t;
    t.set_name("x");
    t.set_data_type(19);  // FLOAT8E5M2
    t.add_dims(1);
    t.set_raw_data(std::string(1, '\0'));
    write_file(d / "f8.pb", t.SerializeAsString());
    std::string name;
    auto r = load_tensor_pb((d / "f8.pb").string(), &name);
    expect_import_error(r.status(), StatusCode::kUnsupported, "FLOAT8E5M2");
    EXPECT_NE(r.status().message().find("f8.pb"), std::string::npos);
    EXPECT_EQ(name, "x");
    t.set_data_type(1);
    t.set_raw_data(std::string(3, '\0'));
    write_file(d / "short.pb", t.SerializeAsString());
    expect_import_error(load_tensor_pb((d / "short.pb").string()).status(), StatusCode::kCorrupt, "raw_data holds 3 bytes");
    const std::string ok_bytes = [] {
        onnx::TensorProto u;
        u.set_data_type(1);
        u.add_dims(64);
        for (int i = 0; i < 64; ++i) u.add_float_data(1.0f);
        return u.SerializeAsString();
    }();
    write_file(d / "cut.pb", ok_bytes.substr(0, ok_bytes.size() / 2));
    expect_import_error(load_tensor_pb((d / "cut.pb").string()).status(), StatusCode::kCorrupt, "cut.pb");
    expect_import_error(load_tensor_pb((d / "none.pb").string()).status(), StatusCode::kNotFound, "none.pb");
}

}  // namespace
}  // namespace edgeq::onnxio
