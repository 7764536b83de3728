// The fast executor (runtime/fast) against the reference executor: small hand-built graphs covering every
// kernel step (Conv: plain, strided/padded/dilated, grouped, depthwise, auto_pad; Gemm/MatMul with transB,
// alpha/beta, bias; com.edgeq Fused*; pooling; absorbed bias Add + activation) mixed with reference-op
// fallbacks, at 1 and 2 threads and over repeated runs; then the real models in $EDGEQ_SHARED.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "common/shared.h"
#include "formats/onnx/onnx_import.h"
#include "runtime/fast/executor.h"
#include "runtime/ref/executor.h"
#include "unit/runtime/attrs.h"

namespace edgeq::runtime::fast {
namespace {

using graph::Attribute;
using test::ints;
using test::one_int;
using test::one_float;
using test::str;
using test::floats;

Tensor random_tensor(std::mt19937& rng, Shape shape, float scale = 1.0f) {
    Tensor t(DType::F32, shape);
    std::uniform_real_distribution<float> d(-scale, scale);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
    return t;
}

struct Builder {
    graph::Model m;
    std::mt19937 rng{42};
    Builder() {
        m.opsets[""] = 13;
        m.opsets["com.edgeq"] = 1;
        m.graph.name = "test";
    }
    void input(const std::string& name, Shape s) {
        graph::ValueInfo vi;
        vi.name = name;
        vi.dtype = DType::F32;
        vi.has_shape = true;
        for (int64_t d : s) vi.shape.push_back({d, ""});
        m.graph.inputs.push_back(vi);
    }
    void output(const std::string& name) {
        graph::ValueInfo vi;
        vi.name = name;
        m.graph.outputs.push_back(vi);
    }
    std::string weight(const std::string& name, Shape s, float scale = 0.5f) {
        m.graph.initializers[name] = random_tensor(rng, s, scale);
        return name;
    }
    graph::Node& node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out,
                      std::map<std::string, Attribute> attrs = {}, const std::string& domain = "") {
        graph::Node n;
        n.name = out[0] + "_node";
        n.op_type = op;
        n.domain = domain;
        n.inputs = std::move(in);
        n.outputs = std::move(out);
        n.attrs = std::move(attrs);
        m.graph.nodes.push_back(std::move(n));
        return m.graph.nodes.back();
    }
};

// max |fast − ref| over every output, relative to max(1, |ref|) when `scaled`.
void expect_close(const graph::Model& m, const std::map<std::string, Tensor>& inputs, int threads, float tol,
                  bool scaled = false, std::string* trace = nullptr) {
    Shapes shapes;
    for (const auto& [k, v] : inputs) shapes[k] = v.shape();
    auto ref = run_reference(m, inputs);
    ASSERT_TRUE(ref.ok()) << ref.status().message();
    auto p = plan(m, shapes, {threads, false});
    ASSERT_TRUE(p.ok()) << p.status().message();
    if (trace) *trace = p->trace();
    for (int rep = 0; rep < 3; ++rep) {  // buffers are reused across runs
        auto got = p->run(inputs);
        ASSERT_TRUE(got.ok()) << got.status().message();
        for (const auto& [name, want] : *ref) {
            ASSERT_TRUE(got->count(name)) << name;
            const Tensor& g = got->at(name);
            ASSERT_EQ(g.shape(), want.shape()) << name;
            const auto a = want.to_f32(), b = g.to_f32();
            for (size_t i = 0; i < a.size(); ++i) {
                const float lim = scaled ? tol * std::max(1.0f, std::fabs(a[i])) : tol;
                ASSERT_LE(std::fabs(a[i] - b[i]), lim)
                    << "output " << name << " index " << i << " threads " << threads << " run " << rep << ": expected "
                    << a[i] << ", got " << b[i] << "\n"
                    << p->trace();
            }
        }
    }
}


// The planner's shape pass (RunOptions::shape_only): heavy ops return zero outputs of the shapes a real run
// gives, without computing them, and still reject inputs that do not fit.
TEST(FastExecutor, ShapePassSkipsArithmeticKeepsShapesAndErrors) {
    Builder b;
    b.input("x", {3, 2, 9, 8});
    b.node("Conv", {"x", b.weight("w", {4, 2, 3, 3}), b.weight("cb", {4})}, {"c"},
           {{"pads", ints({1, 1, 1, 1})}});
    b.node("MaxPool", {"c"}, {"p"}, {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}});
    b.node("Flatten", {"p"}, {"f"});
    b.node("Gemm", {"f", b.weight("g", {5, 64}), b.weight("gb", {5})}, {"y"}, {{"transB", one_int(1)}});
    b.node("Shape", {"c"}, {"s"});
    b.output("y"), b.output("c"), b.output("s");
    std::map<std::string, Tensor> in{{"x", random_tensor(b.rng, {3, 2, 9, 8})}};
    auto full = run_reference(b.m, in);
    ASSERT_TRUE(full.ok()) << full.status().message();
    RunOptions ro;
    ro.shape_only = [](const graph::Node&) { return true; };
    auto quick = run_reference(b.m, in, ro);
    ASSERT_TRUE(quick.ok()) << quick.status().message();
    for (const auto& [name, t] : *full) {
        ASSERT_TRUE(quick->count(name)) << name;
        EXPECT_EQ(quick->at(name).shape(), t.shape()) << name;
        EXPECT_EQ(quick->at(name).dtype(), t.dtype()) << name;
    }
    EXPECT_EQ(quick->at("s").to_i64(), full->at("s").to_i64());  // Shape still computes
    for (float v : quick->at("c").to_f32()) ASSERT_EQ(v, 0.0f);  // the bias was not even added
    b.m.graph.initializers["g"] = random_tensor(b.rng, {5, 63});
    auto bad = run_reference(b.m, in, ro);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.status().message().find("inner dimensions"), std::string::npos) << bad.status().message();
}
TEST(FastExecutor, ConvVariantsMatchReference) {
    Builder b;
    b.input("x", {2, 6, 13, 11});
    // plain conv, pads + stride + dilation, bias, absorbed Relu
    b.node("Conv", {"x", b.weight("w1", {8, 6, 3, 3}), b.weight("b1", {8})}, {"c1"},
           {{"pads", ints({1, 2, 1, 0})}, {"strides", ints({1, 2})}, {"dilations", ints({1, 1})}});
    b.node("Relu", {"c1"}, {"r1"});
    // depthwise 3x3 stride 2 SAME_UPPER, then absorbed per-channel Add bias + Clip (mnist-8 / MobileNet shapes)
    b.node("Conv", {"r1", b.weight("w2", {8, 1, 3, 3})}, {"c2"},
           {{"group", one_int(8)}, {"strides", ints({2, 2})}, {"auto_pad", str("SAME_UPPER")}});
    b.node("Add", {"c2", b.weight("b2", {8, 1, 1})}, {"a2"});
    b.node("Clip", {"a2", b.weight("lo", {}), b.weight("hi", {})}, {"k2"});
    // grouped 1x1 conv (2 groups), FusedConv with LeakyRelu
    b.node("FusedConv", {"k2", b.weight("w3", {4, 4, 1, 1}), b.weight("b3", {4})}, {"c3"},
           {{"group", one_int(2)}, {"activation", str("LeakyRelu")}, {"activation_params", floats({0.1f})},
            {"edgeq_opset", one_int(13)}},
           "com.edgeq");
    // pooling: max 2x2 (pad), average 3x3 stride 1 count_include_pad, global average
    b.node("MaxPool", {"c3"}, {"p1"}, {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}, {"pads", ints({0, 0, 1, 1})}});
    b.node("AveragePool", {"c3"}, {"p2"},
           {{"kernel_shape", ints({3, 3})}, {"pads", ints({1, 1, 1, 1})}, {"count_include_pad", one_int(1)}});
    b.node("GlobalAveragePool", {"p2"}, {"p3"});
    b.node("Tanh", {"p1"}, {"t1"});  // not absorbable (pool output): reference op
    // residual Add (same shapes) with absorbed Relu, Mul by a scalar constant
    b.node("Add", {"c3", "c3"}, {"r3"});
    b.node("Relu", {"r3"}, {"rr3"});
    b.node("Mul", {"rr3", b.weight("scale", {1})}, {"m3"});
    b.output("t1");
    b.output("m3");
    b.output("p3");
    b.output("c2");
    const Tensor x = random_tensor(b.rng, {2, 6, 13, 11});
    std::string trace;
    for (int threads : {1, 2}) expect_close(b.m, {{"x", x}}, threads, 1e-4f, false, &trace);
    EXPECT_NE(trace.find("dwconv2d_f32"), std::string::npos) << trace;
    EXPECT_NE(trace.find("conv2d_f32"), std::string::npos) << trace;
    EXPECT_NE(trace.find("maxpool2d_f32"), std::string::npos) << trace;
    EXPECT_NE(trace.find("[Relu]"), std::string::npos) << trace;
    EXPECT_NE(trace.find("binary_f32"), std::string::npos) << trace;
}

TEST(FastExecutor, GemmAndMatMulMatchReference) {
    Builder b;
    b.input("x", {3, 40});
    b.node("Gemm", {"x", b.weight("w1", {70, 40}), b.weight("c1", {70})}, {"g1"},
           {{"transB", one_int(1)}, {"alpha", one_float(0.5f)}, {"beta", one_float(2.0f)}});
    b.node("Sigmoid", {"g1"}, {"s1"});
    b.node("FusedGemm", {"s1", b.weight("w2", {70, 33}), b.weight("c2", {1, 33})}, {"g2"},
           {{"activation", str("HardSwish")}, {"edgeq_opset", one_int(13)}}, "com.edgeq");
    b.node("Reshape", {"g2", "shape"}, {"r2"});
    b.m.graph.initializers["shape"] = Tensor::from_vector<int64_t>(DType::I64, {3}, {3, 1, 33});
    b.node("MatMul", {"r2", b.weight("w3", {33, 17})}, {"m3"});
    b.node("Add", {"m3", b.weight("b3", {17})}, {"a3"});
    b.node("FusedMatMul", {"a3", b.weight("w4", {17, 5}), b.weight("b4", {5})}, {"m4"},
           {{"activation", str("Tanh")}, {"edgeq_opset", one_int(13)}}, "com.edgeq");
    b.node("Softmax", {"m4"}, {"out"}, {{"axis", one_int(-1)}});
    b.output("out");
    b.output("g1");
    const Tensor x = random_tensor(b.rng, {3, 40});
    std::string trace;
    for (int threads : {1, 2}) expect_close(b.m, {{"x", x}}, threads, 1e-4f, false, &trace);
    EXPECT_NE(trace.find("gemm_f32_f32_f32"), std::string::npos) << trace;
    EXPECT_NE(trace.find("Add(bias)"), std::string::npos) << trace;
}

// Softmax / LogSoftmax on the fast path (softmax_rows_f32): the last axis at opset 13, the coerced 2-D view at
// opset 11 (axis 1 of a rank-3 tensor: rows of 6·7), row lengths 1, 2 (ultraface's scores) and 300, large
// logits, a -1e30 entry, and an opset-13 axis that is not the last (stays the reference op).
constexpr float kSoftmaxTol = 2e-6f;  // float exp and a float reciprocal against the reference's double

TEST(FastExecutor, SoftmaxRowsMatchReference) {
    for (const int64_t opset : {int64_t{11}, int64_t{13}}) {
        for (const bool log : {false, true}) {
            Builder b;
            b.m.opsets[""] = opset;
            const std::string op = log ? "LogSoftmax" : "Softmax";
            b.input("a", {5, 6, 7});
            b.input("c", {3, 4420, 2});
            b.input("d", {2, 300});
            b.input("e", {4, 1});
            b.node(op, {"a"}, {"ya"}, {{"axis", one_int(1)}});  // opset 13: not the last axis -> reference
            b.node(op, {"c"}, {"yc"}, {{"axis", one_int(-1)}});
            b.node(op, {"d"}, {"yd"}, {{"axis", one_int(1)}});
            b.node(op, {"e"}, {"ye"}, {{"axis", one_int(-1)}});
            for (const char* o : {"ya", "yc", "yd", "ye"}) b.output(o);
            Tensor d = random_tensor(b.rng, {2, 300}, 40.0f);  // exp overflows without the max shift
            d.data<float>()[7] = -1e30f;  // exp underflows to 0
            d.data<float>()[300 + 11] = 85.0f;
            const std::map<std::string, Tensor> in{{"a", random_tensor(b.rng, {5, 6, 7}, 3.0f)},
                                                   {"c", random_tensor(b.rng, {3, 4420, 2}, 5.0f)},
                                                   {"d", d},
                                                   {"e", random_tensor(b.rng, {4, 1})}};
            std::string trace;
            for (int threads : {1, 2}) expect_close(b.m, in, threads, kSoftmaxTol, true, &trace);
            const std::string kname = log ? "log_softmax_rows_f32" : "softmax_rows_f32";
            int steps = 0;
            for (size_t p = trace.find(kname); p != std::string::npos; p = trace.find(kname, p + 1)) ++steps;
            EXPECT_EQ(steps, opset == 13 ? 3 : 4) << opset << "\n" << trace;
        }
    }
}

TEST(FastExecutor, LargeNodesSplitAcrossThreads) {
    Builder b;
    b.input("x", {1, 16, 40, 40});
    b.node("Conv", {"x", b.weight("w", {32, 16, 3, 3}, 0.2f), b.weight("b", {32})}, {"c"}, {{"pads", ints({1, 1, 1, 1})}});
    b.node("Conv", {"c", b.weight("dw", {32, 1, 3, 3})}, {"d"}, {{"group", one_int(32)}, {"pads", ints({1, 1, 1, 1})}});
    b.node("Flatten", {"d"}, {"f"});
    b.node("Gemm", {"f", b.weight("g", {51200, 24}, 0.01f)}, {"y"});
    b.output("y");
    const Tensor x = random_tensor(b.rng, {1, 16, 40, 40});
    for (int threads : {1, 2, 3}) expect_close(b.m, {{"x", x}}, threads, 1e-4f, true);
}

TEST(FastExecutor, RejectsWrongShapesAndUnknownInputs) {
    Builder b;
    b.input("x", {1, 4});
    b.node("Gemm", {"x", b.weight("w", {4, 3})}, {"y"});
    b.output("y");
    EXPECT_FALSE(plan(b.m, {{"nope", {1, 4}}}).ok());
    EXPECT_FALSE(plan(b.m, {{"x", {1, 5}}}).ok());
    auto p = plan(b.m, {{"x", {1, 4}}});
    ASSERT_TRUE(p.ok()) << p.status().message();
    const Tensor bad(DType::F32, {2, 4});
    EXPECT_FALSE(p->run(std::map<std::string, Tensor>{{"x", bad}}).ok());
    EXPECT_FALSE(p->run(std::map<std::string, Tensor>{}).ok());
}

TEST(FastExecutor, FoldsShapeArithmeticButNotDataDependentShapes) {
    // PyTorch's zero-state pattern: Shape -> Gather -> Unsqueeze -> Concat -> ConstantOfShape, all fixed once
    // the input shape is: folded at plan time. NonZero's output shape depends on the data: never folded.
    Builder b;
    b.input("x", {2, 3});
    b.m.graph.initializers["i0"] = Tensor::from_vector<int64_t>(DType::I64, {}, {0});
    b.m.graph.initializers["ax"] = Tensor::from_vector<int64_t>(DType::I64, {1}, {0});
    b.m.graph.initializers["three"] = Tensor::from_vector<int64_t>(DType::I64, {1}, {3});
    b.node("Squeeze", {"x3", "ax"}, {"xs"});
    b.node("Unsqueeze", {"x", "ax"}, {"x3"});
    b.node("Shape", {"xs"}, {"s"});
    b.node("Gather", {"s", "i0"}, {"g0"}, {{"axis", one_int(0)}});
    b.node("Unsqueeze", {"g0", "ax"}, {"u"});
    b.node("Concat", {"u", "three"}, {"cat"}, {{"axis", one_int(0)}});
    Attribute value;
    value.kind = Attribute::Kind::Tensor;
    value.t = Tensor::from_vector<float>(DType::F32, {1}, {1.5f});
    b.node("ConstantOfShape", {"cat"}, {"ones"}, {{"value", value}});
    b.node("Add", {"x", "ones"}, {"y"});
    b.node("NonZero", {"x"}, {"nz"});
    b.node("Shape", {"nz"}, {"nzs"});
    b.node("ConstantOfShape", {"nzs"}, {"nzz"});
    b.node("Shape", {"nzz"}, {"nzzs"});
    b.output("y");
    b.output("nzzs");
    b.output("cat");
    Tensor x = random_tensor(b.rng, {2, 3});
    x.data<float>()[1] = 0.0f;  // NonZero finds 5 of 6 (the plan's zero run found none)
    std::string trace;
    for (int threads : {1, 2}) expect_close(b.m, {{"x", x}}, threads, 1e-6f, false, &trace);
    EXPECT_EQ(trace.find("cat_node"), std::string::npos) << trace;
    EXPECT_EQ(trace.find("ones_node"), std::string::npos) << trace;
    EXPECT_NE(trace.find("nzs_node"), std::string::npos) << trace;
    EXPECT_NE(trace.find("nzzs_node"), std::string::npos) << trace;
    EXPECT_NE(trace.find("xs_node"), std::string::npos) << trace;
}

// ---- real models (need the ONNX importer and $EDGEQ_SHARED) ----------------------------------------------

void check_model(const std::filesystem::path& path, Shape shape, float tol, bool scaled) {
    auto m = onnxio::load_model(path.string());
    if (!m.ok()) GTEST_SKIP() << "importer cannot load " << path << " yet: " << m.status().message();
    if (!unsupported_ops(*m).empty()) GTEST_SKIP() << path << ": reference executor lacks " << unsupported_ops(*m)[0];
    ASSERT_EQ(m->graph.inputs.size(), 1u);
    std::mt19937 rng(3);
    const Tensor x = random_tensor(rng, shape);
    for (int threads : {1, 2}) expect_close(*m, {{m->graph.inputs[0].name, x}}, threads, tol, scaled);
}

TEST(FastExecutorModels, FashionMnist) {
    for (const char* name : {"lenet5", "mlp3", "vgg_bn", "lstm"}) {
        SCOPED_TRACE(name);
        EDGEQ_REQUIRE_SHARED(path, std::string("assets/fashion-mnist-models/") + name + ".onnx");
        for (int64_t batch : {1, 5}) check_model(path, {batch, 1, 28, 28}, 1e-4f, false);
    }
}

TEST(FastExecutorModels, Mnist8) {
    EDGEQ_REQUIRE_SHARED(path, "assets/onnx_models/mnist-8/model.onnx");
    check_model(path, {1, 1, 28, 28}, 1e-4f, true);  // logits reach ~1e3 on random input: relative
}

TEST(FastExecutorModels, UltrafaceRfb320) {
    EDGEQ_REQUIRE_SHARED(path, "assets/onnx_models/ultraface-RFB-320/version-RFB-320.onnx");
    check_model(path, {1, 3, 240, 320}, 1e-4f, false);
}

}  // namespace
}  // namespace edgeq::runtime::fast
