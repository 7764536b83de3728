// quant/ptq/ptq.h: the ONNX post-training quantization pass, on small hand-built graphs (exact structure and
// numbers) and on the real Fashion-MNIST / ultraface models (function preserved within quantization error).
#include "quant/ptq/ptq.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "formats/data/npy.h"
#include "formats/onnx/onnx_import.h"
#include "runtime/ref/executor.h"
#include "common/shared.h"

namespace edgeq::quant::ptq {
namespace {

using graph::Model;
using graph::Node;

Tensor random_tensor(Shape s, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, scale);
    Tensor t(DType::F32, std::move(s));
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
    return t;
}

graph::ValueInfo vi(const std::string& name, Shape s) {
    graph::ValueInfo v;
    v.name = name;
    v.dtype = DType::F32;
    v.has_shape = true;
    for (int64_t d : s) v.shape.push_back({d, ""});
    return v;
}

Node node(std::string op, std::string name, std::vector<std::string> in, std::vector<std::string> out) {
    Node n;
    n.op_type = std::move(op);
    n.name = std::move(name);
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    return n;
}

// x [N, 1, 8, 8] -> Conv 3x3 (4 ch, bias) -> Relu -> MaxPool 2 -> Flatten -> Gemm (transB, 10) -> y
Model tiny_cnn(int64_t opset = 13) {
    Model m;
    m.opsets[""] = opset;
    m.ir_version = 7;
    auto& g = m.graph;
    g.inputs.push_back(vi("x", {-1, 1, 8, 8}));
    g.inputs[0].shape[0] = {-1, "N"};
    g.outputs.push_back(vi("y", {-1, 10}));
    g.initializers["w1"] = random_tensor({4, 1, 3, 3}, 1, 0.5f);
    g.initializers["b1"] = random_tensor({4}, 2, 0.1f);
    g.initializers["w2"] = random_tensor({10, 36}, 3, 0.2f);
    g.initializers["b2"] = random_tensor({10}, 4, 0.1f);
    Node conv = node("Conv", "conv1", {"x", "w1", "b1"}, {"c1"});
    graph::Attribute ks;
    ks.kind = graph::Attribute::Kind::Ints;
    ks.ints = {3, 3};
    conv.attrs["kernel_shape"] = ks;
    g.nodes.push_back(conv);
    g.nodes.push_back(node("Relu", "relu1", {"c1"}, {"r1"}));
    Node pool = node("MaxPool", "pool1", {"r1"}, {"p1"});
    ks.ints = {2, 2};
    pool.attrs["kernel_shape"] = ks;
    pool.attrs["strides"] = ks;
    g.nodes.push_back(pool);
    g.nodes.push_back(node("Flatten", "flat", {"p1"}, {"f1"}));
    Node gemm = node("Gemm", "fc", {"f1", "w2", "b2"}, {"y"});
    graph::Attribute tb;
    tb.kind = graph::Attribute::Kind::Int;
    tb.i = 1;
    gemm.attrs["transB"] = tb;
    g.nodes.push_back(gemm);
    return m;
}

CalibrationSource batches(std::vector<Tensor> xs, const std::string& input = "x") {
    auto state = std::make_shared<std::pair<std::vector<Tensor>, size_t>>(std::move(xs), 0);
    return [state, input]() -> Result<std::optional<CalibrationBatch>> {
        if (state->second >= state->first.size()) return std::optional<CalibrationBatch>();
        CalibrationBatch b;
        b[input] = state->first[state->second++];
        return std::optional<CalibrationBatch>(std::move(b));
    };
}

int count_op(const Model& m, const std::string& op) {
    int c = 0;
    for (const auto& n : m.graph.nodes) c += n.op_type == op;
    return c;
}

Tensor run1(const Model& m, const Tensor& x, const std::string& in = "x", const std::string& out = "y") {
    auto r = runtime::run_reference(m, {{in, x}});
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? r->at(out) : Tensor();
}

// max |a - b| / max |a|
double rel_err(const Tensor& a, const Tensor& b) {
    const auto va = a.to_f32(), vb = b.to_f32();
    EXPECT_EQ(va.size(), vb.size());
    double m = 0, d = 0;
    for (size_t i = 0; i < va.size() && i < vb.size(); ++i) {
        m = std::max(m, std::fabs(static_cast<double>(va[i])));
        d = std::max(d, std::fabs(static_cast<double>(va[i]) - vb[i]));
    }
    return m > 0 ? d / m : d;
}

TEST(Ptq, StaticInsertsQdqOnActivationsWeightsAndInt32Bias) {
    Model m = tiny_cnn();
    const Model fp = m;
    PtqOptions o;
    o.method = Method::Static;
    std::vector<Tensor> cal;
    for (uint32_t i = 0; i < 4; ++i) cal.push_back(random_tensor({8, 1, 8, 8}, 100 + i));
    auto rep = quantize_onnx(m, o, batches(cal));
    ASSERT_TRUE(rep.ok()) << rep.status().message();
    EXPECT_EQ(rep->nodes.size(), 2u);
    EXPECT_EQ(rep->calib_batches, 4);
    EXPECT_EQ(rep->calib_samples, 32);
    // x, relu1's output, and fc's input f1 (reached from relu1 through MaxPool/Flatten, so it shares relu1's
    // scale and zero point) -> 3 Q; 3 activation + 2 weight + 2 bias DQ.
    EXPECT_EQ(count_op(m, "QuantizeLinear"), 3);
    EXPECT_EQ(count_op(m, "DequantizeLinear"), 7);
    EXPECT_EQ(m.graph.initializers.at("f1_scale").data<float>()[0], m.graph.initializers.at("r1_scale").data<float>()[0]);
    EXPECT_EQ(m.opset(""), 13);
    bool int32_bias = false;
    for (const auto& [k, t] : m.graph.initializers) int32_bias |= t.dtype() == DType::I32;
    EXPECT_TRUE(int32_bias);
    EXPECT_TRUE(graph::verify(m.graph).ok());
    const Tensor x = random_tensor({5, 1, 8, 8}, 7);
    EXPECT_LT(rel_err(run1(fp, x), run1(m, x)), 0.05);
}

TEST(Ptq, StaticActivationScaleFollowsTheCalibrationRange) {
    Model m = tiny_cnn();
    PtqOptions o;
    o.method = Method::Static;
    o.acts = QType::U8;
    // Calibration data in [0, 2.55] exactly: scale 0.01, zero point 0 for the input x.
    Tensor x(DType::F32, {1, 1, 8, 8});
    for (int64_t i = 0; i < 64; ++i) x.data<float>()[i] = static_cast<float>(i % 52) * 0.05f;
    x.data<float>()[0] = 2.55f;
    ASSERT_TRUE(quantize_onnx(m, o, batches({x})).ok());
    const Tensor& s = m.graph.initializers.at("x_scale");
    const Tensor& z = m.graph.initializers.at("x_zero_point");
    EXPECT_FLOAT_EQ(s.data<float>()[0], 0.01f);
    EXPECT_EQ(z.dtype(), DType::U8);
    EXPECT_EQ(z.data<uint8_t>()[0], 0);
}

TEST(Ptq, DynamicUsesIntegerOps) {
    Model m = tiny_cnn();
    const Model fp = m;
    PtqOptions o;
    o.method = Method::Dynamic;
    o.acts.reset();
    auto rep = quantize_onnx(m, o, {});
    ASSERT_TRUE(rep.ok()) << rep.status().message();
    EXPECT_EQ(count_op(m, "DynamicQuantizeLinear"), 2);
    EXPECT_EQ(count_op(m, "ConvInteger"), 1);
    EXPECT_EQ(count_op(m, "MatMulInteger"), 1);
    EXPECT_EQ(count_op(m, "Conv"), 0);
    EXPECT_EQ(count_op(m, "Gemm"), 0);
    const Tensor x = random_tensor({3, 1, 8, 8}, 9);
    EXPECT_LT(rel_err(run1(fp, x), run1(m, x)), 0.05);
}

TEST(Ptq, WeightOnlyInt4GroupIsBlockedAtOpset21) {
    Model m = tiny_cnn();
    const Model fp = m;
    PtqOptions o;
    o.method = Method::WeightOnly;
    o.acts.reset();
    o.weights = QType::I4;
    o.granularity = Granularity::Group;
    o.group = 4;
    auto rep = quantize_onnx(m, o, {});
    ASSERT_TRUE(rep.ok()) << rep.status().message();
    EXPECT_EQ(m.opset(""), 21);
    int blocked = 0;
    for (const auto& n : m.graph.nodes)
        if (n.op_type == "DequantizeLinear" && n.attr_i("block_size", 0) == 4) ++blocked;
    // The Gemm weight is blocked; the conv has 1 input channel (< group), so it goes per output channel.
    EXPECT_EQ(blocked, 1);
    EXPECT_EQ(m.graph.initializers.at("w2_quantized").dtype(), DType::I4);
    EXPECT_LT(rep->bits_per_weight(), 16.0);
    const Tensor x = random_tensor({2, 1, 8, 8}, 11);
    EXPECT_LT(rel_err(run1(fp, x), run1(m, x)), 0.25);
}

TEST(Ptq, HalfPrecisionWeightsBehindCasts) {
    for (Method meth : {Method::FP16, Method::BF16}) {
        Model m = tiny_cnn();
        const Model fp = m;
        PtqOptions o;
        o.method = meth;
        o.acts.reset();
        auto rep = quantize_onnx(m, o, {});
        ASSERT_TRUE(rep.ok()) << rep.status().message();
        EXPECT_EQ(count_op(m, "Cast"), 4);  // two weights, two biases
        EXPECT_EQ(rep->weight_bytes_after * 2, rep->weight_bytes_before);
        const Tensor x = random_tensor({2, 1, 8, 8}, 13);
        EXPECT_LT(rel_err(run1(fp, x), run1(m, x)), meth == Method::FP16 ? 1e-3 : 1e-2);
    }
}

TEST(Ptq, ExcludeKeepsMatchingNodesFloat) {
    Model m = tiny_cnn();
    PtqOptions o;
    o.method = Method::WeightOnly;
    o.acts.reset();
    o.exclude = {"^conv"};
    auto rep = quantize_onnx(m, o, {});
    ASSERT_TRUE(rep.ok()) << rep.status().message();
    ASSERT_EQ(rep->nodes.size(), 1u);
    EXPECT_EQ(rep->nodes[0].node, "fc");
    ASSERT_EQ(rep->skipped.size(), 1u);
    EXPECT_NE(rep->skipped[0].find("conv1"), std::string::npos);
}

TEST(Ptq, OptionErrorsComeBeforeAnyWork) {
    PtqOptions o;
    o.method = Method::Static;
    o.acts.reset();
    EXPECT_FALSE(check_options(o).ok());
    o = {};
    o.method = Method::Dynamic;
    o.acts.reset();
    o.weights = QType::I4;
    EXPECT_NE(check_options(o).message().find("weight-only"), std::string::npos);
    o = {};
    o.calibrator = "kl";
    EXPECT_NE(check_options(o).message().find("kl"), std::string::npos);
    o = {};
    o.exclude = {"("};
    EXPECT_NE(check_options(o).message().find("--exclude"), std::string::npos);
    o = {};
    o.granularity = Granularity::Group;
    o.group = 0;
    EXPECT_FALSE(check_options(o).ok());
}

TEST(Ptq, BadCalibrationDataIsAClearError) {
    PtqOptions o;
    o.method = Method::Static;
    {
        Model m = tiny_cnn();
        auto r = quantize_onnx(m, o, batches({}));
        ASSERT_FALSE(r.ok());
        EXPECT_NE(r.status().message().find("empty"), std::string::npos) << r.status().message();
    }
    {
        Model m = tiny_cnn();
        Tensor x = random_tensor({2, 1, 8, 8}, 1);
        x.data<float>()[5] = std::nanf("");
        auto r = quantize_onnx(m, o, batches({x}));
        ASSERT_FALSE(r.ok());
        EXPECT_NE(r.status().message().find("'x'"), std::string::npos) << r.status().message();
        EXPECT_NE(r.status().message().find("NaN"), std::string::npos) << r.status().message();
    }
    {
        Model m = tiny_cnn();
        auto r = quantize_onnx(m, o, batches({random_tensor({2, 1, 9, 8}, 1)}));
        EXPECT_FALSE(r.ok());
    }
    {
        Model m = tiny_cnn();
        auto r = quantize_onnx(m, o, {});
        ASSERT_FALSE(r.ok());
        EXPECT_NE(r.status().message().find("calibration"), std::string::npos);
    }
}

TEST(Ptq, RaiseOpsetRewritesAttributesThatBecameInputs) {
    // opset 11: Unsqueeze(axes attr) -> Squeeze(axes attr) -> Softmax(axis = last).
    Model m;
    m.opsets[""] = 11;
    auto& g = m.graph;
    g.inputs.push_back(vi("x", {2, 3}));
    g.outputs.push_back(vi("y", {2, 3}));
    graph::Attribute axes;
    axes.kind = graph::Attribute::Kind::Ints;
    axes.ints = {0};
    Node u = node("Unsqueeze", "u", {"x"}, {"u1"});
    u.attrs["axes"] = axes;
    Node s = node("Squeeze", "s", {"u1"}, {"s1"});
    s.attrs["axes"] = axes;
    g.nodes = {u, s, node("Softmax", "sm", {"s1"}, {"y"})};
    graph::Attribute ax;
    ax.kind = graph::Attribute::Kind::Int;
    ax.i = 1;
    g.nodes[2].attrs["axis"] = ax;
    const Model old = m;
    ASSERT_TRUE(raise_opset(m, 21).ok());
    EXPECT_EQ(m.opset(""), 21);
    EXPECT_FALSE(m.graph.nodes[0].has("axes"));
    ASSERT_EQ(m.graph.nodes[0].inputs.size(), 2u);
    const Tensor x = random_tensor({2, 3}, 5);
    EXPECT_EQ(rel_err(run1(old, x), run1(m, x)), 0.0);

    // Softmax over axis 0 of a rank-2 input meant "flatten everything" before 13: refused, model untouched.
    Model bad = old;
    bad.graph.nodes[2].attrs["axis"].i = 0;
    const auto st = raise_opset(bad, 13);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("'sm'"), std::string::npos) << st.message();
    EXPECT_EQ(bad.opset(""), 11);
    EXPECT_TRUE(bad.graph.nodes[0].has("axes"));
}

// Real models: the quantized graph computes nearly the same logits on the ORT fixture inputs.
TEST(Ptq, FashionMnistModelsKeepTheirFunction) {
    for (const char* name : {"lenet5", "mlp3", "vgg_bn", "lstm"}) {
        EDGEQ_REQUIRE_SHARED(path, std::string("assets/fashion-mnist-models/") + name + ".onnx");
        EDGEQ_REQUIRE_SHARED(in0, std::string("fixtures/ort/") + name + ".input-0.input.npy");
        EDGEQ_REQUIRE_SHARED(in1, std::string("fixtures/ort/") + name + ".input-1.input.npy");
        auto x0 = data::read_npy(in0.string());
        auto x1 = data::read_npy(in1.string());
        ASSERT_TRUE(x0.ok() && x1.ok());
        auto fp = onnxio::load_model(path.string());
        ASSERT_TRUE(fp.ok()) << fp.status().message();
        const Tensor ref = run1(*fp, *x0, "input", "logits");
        for (Method meth : {Method::Static, Method::Dynamic, Method::WeightOnly}) {
            Model m = *fp;
            PtqOptions o;
            o.method = meth;
            if (meth != Method::Static) o.acts.reset();
            auto rep = quantize_onnx(m, o, batches({*x1, *x0}, "input"));
            ASSERT_TRUE(rep.ok()) << name << ": " << rep.status().message();
            EXPECT_FALSE(rep->nodes.empty()) << name;
            const Tensor q = run1(m, *x0, "input", "logits");
            EXPECT_LT(rel_err(ref, q), 0.1) << name << " " << method_name(meth);
        }
    }
}

}  // namespace
}  // namespace edgeq::quant::ptq
