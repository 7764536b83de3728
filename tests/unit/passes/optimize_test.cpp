// The optimizer rewrites graphs without changing what they compute: each test builds a small graph,
// runs it with the reference executor before and after optimize(), and compares.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "passes/optimize.h"
#include "runtime/ref/executor.h"
#include "runtime/ref/op.h"

namespace edgeq {
namespace {

using graph::Attribute;
using graph::Model;
using graph::Node;

Tensor randn(Shape s, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.f, scale);
    std::vector<float> v(static_cast<size_t>(shape_numel(s)));
    for (auto& x : v) x = d(rng);
    return Tensor::from_vector<float>(DType::F32, std::move(s), v);
}

Attribute ints(std::vector<int64_t> v) {
    Attribute a;
    a.kind = Attribute::Kind::Ints;
    a.ints = std::move(v);
    return a;
}
Attribute f(float v) {
    Attribute a;
    a.kind = Attribute::Kind::Float;
    a.f = v;
    return a;
}

Node node(std::string op, std::vector<std::string> in, std::vector<std::string> out, std::map<std::string, Attribute> attrs = {}) {
    Node n;
    n.name = out[0] + "_node";
    n.op_type = std::move(op);
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    n.attrs = std::move(attrs);
    return n;
}

graph::ValueInfo vi(std::string name) {
    graph::ValueInfo v;
    v.name = std::move(name);
    v.dtype = DType::F32;
    return v;
}

std::string missing_op(std::initializer_list<const char*> ops) {
    for (const char* op : ops)
        if (!runtime::find_ref_op("", op)) return op;
    return "";
}
#define REQUIRE_OPS(...)                                                                        \
    if (const std::string m_ = missing_op({__VA_ARGS__}); !m_.empty()) {                        \
        GTEST_SKIP() << "reference op " << m_ << " not implemented yet";                        \
    }

// Runs m on x before and after optimization; returns max |diff| and the report.
double compare(Model& m, const Tensor& x, passes::OptimizeReport* rep_out) {
    auto before = runtime::run_reference(m, {{"x", x}});
    EXPECT_TRUE(before.ok()) << before.status().message();
    auto rep = passes::optimize(m);
    EXPECT_TRUE(rep.ok()) << rep.status().message();
    if (rep_out && rep.ok()) *rep_out = *rep;
    auto after = runtime::run_reference(m, {{"x", x}});
    EXPECT_TRUE(after.ok()) << after.status().message();
    if (!before.ok() || !after.ok()) return INFINITY;
    const auto a = before->at("y").to_f32(), b = after->at("y").to_f32();
    EXPECT_EQ(a.size(), b.size());
    double d = 0;
    for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(static_cast<double>(a[i]) - b[i]));
    return d;
}

// QLinearConv and com.microsoft.QGemm expand into DequantizeLinear -> Conv / Gemm -> QuantizeLinear: the same
// outputs up to one quantization step (float vs exact integer accumulation before the rounding).
TEST(Optimize, QOperatorsExpandToQdq) {
    REQUIRE_OPS("QLinearConv", "QuantizeLinear", "DequantizeLinear");
    Model m;
    m.opsets[""] = 13;
    m.opsets["com.microsoft"] = 1;
    auto& g = m.graph;
    std::mt19937 rng(5);
    auto q8 = [&](DType t, Shape s, int lo, int hi) {
        Tensor r(t, s);
        std::uniform_int_distribution<int> d(lo, hi);
        for (int64_t i = 0; i < r.numel(); ++i) {
            if (t == DType::I8) r.data<int8_t>()[i] = static_cast<int8_t>(d(rng));
            else if (t == DType::U8) r.data<uint8_t>()[i] = static_cast<uint8_t>(d(rng));
            else r.data<int32_t>()[i] = d(rng);
        }
        return r;
    };
    g.inputs = {vi("x")};
    g.outputs = {vi("y")};
    g.initializers["xs"] = Tensor::scalar_f32(0.05f);
    g.initializers["xz"] = Tensor::from_vector<uint8_t>(DType::U8, {}, {128});
    g.initializers["w"] = q8(DType::I8, {4, 3, 3, 3}, -127, 127);
    g.initializers["ws"] = Tensor::from_vector<float>(DType::F32, {4}, {0.01f, 0.02f, 0.015f, 0.03f});
    g.initializers["wz"] = Tensor(DType::I8, {4});
    g.initializers["b"] = q8(DType::I32, {4}, -500, 500);
    g.initializers["cs"] = Tensor::scalar_f32(0.2f);
    g.initializers["cz"] = Tensor::from_vector<uint8_t>(DType::U8, {}, {100});
    g.initializers["g"] = q8(DType::I8, {5, 4 * 2 * 2}, -127, 127);  // QGemm B [N, K], transB
    g.initializers["gs"] = Tensor::scalar_f32(0.01f);
    g.initializers["gz"] = Tensor(DType::I8, {});
    g.initializers["gb"] = q8(DType::I32, {5}, -300, 300);
    g.initializers["ys"] = Tensor::scalar_f32(0.3f);
    g.initializers["yz"] = Tensor::from_vector<uint8_t>(DType::U8, {}, {128});
    g.initializers["shape"] = Tensor::from_vector<int64_t>(DType::I64, {2}, {2, 16});
    g.nodes.push_back(node("QuantizeLinear", {"x", "xs", "xz"}, {"xq"}));
    g.nodes.push_back(node("QLinearConv", {"xq", "xs", "xz", "w", "ws", "wz", "cs", "cz", "b"}, {"cq"},
                           {{"pads", ints({0, 0, 0, 0})}}));
    // MaxPool straight on the QLinearConv's bytes (as QOperator files have it)
    g.nodes.push_back(node("MaxPool", {"cq"}, {"cp"}, {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}}));
    g.nodes.push_back(node("Reshape", {"cp", "shape"}, {"cr"}));
    Node qg = node("QGemm", {"cr", "cs", "cz", "g", "gs", "gz", "gb", "ys", "yz"}, {"yq"});
    qg.domain = "com.microsoft";
    qg.attrs["transB"] = [] {
        Attribute a;
        a.kind = Attribute::Kind::Int;
        a.i = 1;
        return a;
    }();
    g.nodes.push_back(qg);
    g.nodes.push_back(node("DequantizeLinear", {"yq", "ys", "yz"}, {"y"}));
    passes::OptimizeReport rep;
    const double d = compare(m, randn({2, 3, 6, 6}, 9), &rep);
    EXPECT_EQ(rep.qoperators_expanded, 3);  // QLinearConv, QGemm, and the MaxPool wrapped in DQ / Q
    EXPECT_LE(d, 0.3 + 1e-6);  // at most one output step
    int convs = 0, gemms = 0, qlinear = 0;
    for (size_t i = 0; i < m.graph.nodes.size(); ++i) {
        const auto& n = m.graph.nodes[i];
        if (n.op_type == "MaxPool") {
            ASSERT_TRUE(i > 0 && i + 1 < m.graph.nodes.size());
            EXPECT_EQ(m.graph.nodes[i - 1].op_type, "DequantizeLinear");
            EXPECT_EQ(m.graph.nodes[i + 1].op_type, "QuantizeLinear");
        }
        convs += n.op_type == "Conv";
        gemms += n.op_type == "Gemm";
        qlinear += n.op_type == "QLinearConv" || n.op_type == "QGemm";
    }
    EXPECT_EQ(convs, 1);
    EXPECT_EQ(gemms, 1);
    EXPECT_EQ(qlinear, 0);
}

TEST(Optimize, ConvBatchNormReluFoldsAndFuses) {
    REQUIRE_OPS("Conv", "BatchNormalization", "Relu", "Identity");
    Model m;
    m.opsets[""] = 13;
    auto& g = m.graph;
    g.inputs = {vi("x")};
    g.outputs = {vi("y")};
    g.initializers["w"] = randn({8, 3, 3, 3}, 1, 0.3f);
    g.initializers["gamma"] = randn({8}, 2);
    g.initializers["beta"] = randn({8}, 3);
    g.initializers["mean"] = randn({8}, 4, 0.1f);
    auto var = randn({8}, 5);
    for (int i = 0; i < 8; ++i) var.data<float>()[i] = std::fabs(var.data<float>()[i]) + 0.5f;
    g.initializers["var"] = var;
    g.nodes.push_back(node("Conv", {"x", "w"}, {"c"}, {{"pads", ints({1, 1, 1, 1})}}));
    g.nodes.push_back(node("Identity", {"c"}, {"ci"}));
    g.nodes.push_back(node("BatchNormalization", {"ci", "gamma", "beta", "mean", "var"}, {"b"}, {{"epsilon", f(1e-3f)}}));
    g.nodes.push_back(node("Relu", {"b"}, {"y"}));
    passes::OptimizeReport rep;
    EXPECT_LT(compare(m, randn({2, 3, 7, 9}, 9), &rep), 1e-4);
    EXPECT_EQ(rep.identities_removed, 1);
    EXPECT_EQ(rep.batchnorms_folded, 1);
    EXPECT_EQ(rep.activations_fused, 1);
}

TEST(Optimize, GemmBatchNormFoldsWithTransB) {
    REQUIRE_OPS("Gemm", "BatchNormalization");
    for (int64_t transB : {0, 1}) {
        Model m;
        m.opsets[""] = 13;
        auto& g = m.graph;
        g.inputs = {vi("x")};
        g.outputs = {vi("y")};
        g.initializers["w"] = transB ? randn({6, 5}, 1) : randn({5, 6}, 1);
        g.initializers["c"] = randn({6}, 7);
        g.initializers["gamma"] = randn({6}, 2);
        g.initializers["beta"] = randn({6}, 3);
        g.initializers["mean"] = randn({6}, 4);
        auto var = randn({6}, 5);
        for (int i = 0; i < 6; ++i) var.data<float>()[i] = std::fabs(var.data<float>()[i]) + 0.5f;
        g.initializers["var"] = var;
        Attribute tb;
        tb.kind = Attribute::Kind::Int;
        tb.i = transB;
        g.nodes.push_back(node("Gemm", {"x", "w", "c"}, {"h"}, {{"transB", tb}, {"alpha", f(0.5f)}, {"beta", f(2.0f)}}));
        g.nodes.push_back(node("BatchNormalization", {"h", "gamma", "beta", "mean", "var"}, {"y"}));
        passes::OptimizeReport rep;
        EXPECT_LT(compare(m, randn({4, 5}, 11), &rep), 1e-4) << "transB=" << transB;
        EXPECT_EQ(rep.batchnorms_folded, 1);
    }
}

// Conv -> Add(per-channel or scalar constant) becomes one biased Conv (with and without a bias of its own, the
// constant as [M,1,1], [1,M,1,1] or a scalar, on either side of the Add); constants that vary over space or
// the batch, or that would widen the output, are left alone.
TEST(Optimize, ConvAddConstantFoldsIntoBias) {
    REQUIRE_OPS("Conv", "Add", "Relu");
    struct Case {
        Shape t;
        bool conv_bias, const_first, folds;
    };
    const Case cases[] = {{{8, 1, 1}, false, false, true}, {{1, 8, 1, 1}, true, false, true}, {{1}, false, true, true},
                          {{}, true, true, true},          {{8, 1, 5}, false, false, false}, {{1, 1, 5}, false, false, false},
                          {{2, 8, 1, 1}, false, false, false}, {{1, 1, 8, 1, 1}, false, false, false}};
    for (const auto& k : cases) {
        Model m;
        m.opsets[""] = 13;
        auto& g = m.graph;
        g.inputs = {vi("x")};
        g.outputs = {vi("y")};
        g.initializers["w"] = randn({8, 3, 3, 3}, 1, 0.3f);
        g.initializers["t"] = randn(k.t, 2);
        std::vector<std::string> conv_in = {"x", "w"};
        if (k.conv_bias) {
            g.initializers["b"] = randn({8}, 3);
            conv_in.push_back("b");
        }
        g.nodes.push_back(node("Conv", conv_in, {"c"}, {{"pads", ints({1, 1, 1, 1})}}));
        g.nodes.push_back(node("Add", k.const_first ? std::vector<std::string>{"t", "c"} : std::vector<std::string>{"c", "t"}, {"a"}));
        g.nodes.push_back(node("Relu", {"a"}, {"y"}));
        passes::OptimizeReport rep;
        const std::string what = "t " + shape_str(k.t) + (k.conv_bias ? " conv bias" : "");
        if (k.t.size() > 4) {
            // [1,1,8,1,1] widens a rank-4 output to rank 5: not a bias (and the shapes differ, so no compare).
            Model m2 = m;
            auto r = passes::optimize(m2);
            ASSERT_TRUE(r.ok()) << what;
            EXPECT_EQ(r->adds_folded, 0) << what;
            continue;
        }
        EXPECT_LT(compare(m, randn({2, 3, 5, 5}, 9), &rep), 1e-5) << what;
        EXPECT_EQ(rep.adds_folded, k.folds ? 1 : 0) << what;
    }
}

TEST(Optimize, MatMulAddClipFuseAndConstantsFold) {
    REQUIRE_OPS("MatMul", "Add", "Clip", "Mul", "Relu");
    Model m;
    m.opsets[""] = 13;
    auto& g = m.graph;
    g.inputs = {vi("x")};
    g.outputs = {vi("y")};
    g.initializers["w"] = randn({5, 4}, 1);
    g.initializers["b0"] = randn({4}, 2);
    g.initializers["two"] = Tensor::from_vector<float>(DType::F32, {4}, {2, 2, 2, 2});
    g.initializers["lo"] = Tensor::scalar_f32(-0.5f);
    g.initializers["hi"] = Tensor::scalar_f32(0.75f);
    g.nodes.push_back(node("Mul", {"b0", "two"}, {"b"}));  // constant subgraph: folded
    g.nodes.push_back(node("MatMul", {"x", "w"}, {"mm"}));
    g.nodes.push_back(node("Add", {"mm", "b"}, {"z"}));
    g.nodes.push_back(node("Clip", {"z", "lo", "hi"}, {"y"}));
    g.nodes.push_back(node("Relu", {"x"}, {"unused"}));  // dead
    passes::OptimizeReport rep;
    EXPECT_LT(compare(m, randn({3, 5}, 13), &rep), 1e-6);
    EXPECT_EQ(rep.constants_folded, 1);
    EXPECT_EQ(rep.biases_fused, 1);
    EXPECT_EQ(rep.activations_fused, 1);
    EXPECT_EQ(rep.dead_removed, 1);
    ASSERT_EQ(m.graph.nodes.size(), 1u);
    EXPECT_EQ(m.graph.nodes[0].op_type, "FusedMatMul");
}

TEST(Optimize, KeepsGraphOutputsAndCycleIsAnError) {
    Model m;
    m.opsets[""] = 13;
    auto& g = m.graph;
    g.inputs = {vi("x")};
    g.outputs = {vi("y")};
    g.nodes.push_back(node("Identity", {"x"}, {"y"}));  // produces a graph output: kept
    auto rep = passes::optimize(m);
    ASSERT_TRUE(rep.ok()) << rep.status().message();
    EXPECT_EQ(m.graph.nodes.size(), 1u);

    Model c;
    c.graph.inputs = {vi("x")};
    c.graph.outputs = {vi("a")};
    c.graph.nodes.push_back(node("Add", {"x", "b"}, {"a"}));
    c.graph.nodes.push_back(node("Relu", {"a"}, {"b"}));
    auto bad = passes::optimize(c);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.status().message().find("cycle"), std::string::npos) << bad.status().message();
}

}  // namespace
}  // namespace edgeq
