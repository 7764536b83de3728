// Integer execution of QDQ graphs in the fast executor (runtime/fast/qfuse.h) against the reference executor
// on the same QDQ graph: quantized (u8 / s8) outputs may differ by at most 1, float outputs by at most
// kFloatLsb output scales (the float path dequantizes acc·sx·sw instead of summing float products).
// Graphs built in code: Conv 3x3 pad 1 per-channel + int32 bias + Relu + Q; FusedConv (Relu attribute) with
// float output; Gemm transB with s8 activations; MatMul with a weight zero point; chained conv -> grouped
// conv; a conv large enough to split across threads; depthwise convs (float and requantized output); 1×1
// convs (NHWC, no im2col); NHWC bytes kept between consecutive integer convs; MaxPool on quantized bytes;
// weight-only DQ folded at plan time. Run at the best ISA; `EDGEQ_ISA=ref test_runtime
// --gtest_filter='FastQdq*'` covers the reference rows.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/cpu.h"
#include "formats/onnx/onnx_import.h"
#include "kernels/qconv.h"
#include "runtime/fast/executor.h"
#include "runtime/ref/executor.h"
#include "unit/runtime/attrs.h"

namespace edgeq::runtime::fast {
namespace {

using graph::Attribute;
using test::ints;
using test::one_int;
using test::str;

struct QBuilder {
    graph::Model m;
    std::mt19937 rng{7};
    QBuilder() {
        m.opsets[""] = 13;
        m.opsets["com.edgeq"] = 1;
        m.graph.name = "qdq";
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
    std::string scalar_f(const std::string& name, float v) {
        Tensor t(DType::F32, {});
        t.data<float>()[0] = v;
        m.graph.initializers[name] = t;
        return name;
    }
    std::string zero(const std::string& name, DType dt, int v) {
        Tensor t(dt, {});
        if (dt == DType::U8)
            t.data<uint8_t>()[0] = static_cast<uint8_t>(v);
        else
            t.data<int8_t>()[0] = static_cast<int8_t>(v);
        m.graph.initializers[name] = t;
        return name;
    }
    // x -> Q(sx, zx) -> DQ: returns the float value the consumer reads.
    std::string qdq(const std::string& x, float sx, DType dt, int zx) {
        const std::string s = scalar_f(x + "_s", sx), z = zero(x + "_z", dt, zx);
        node("QuantizeLinear", {x, s, z}, {x + "_q"});
        node("DequantizeLinear", {x + "_q", s, z}, {x + "_dq"});
        return x + "_dq";
    }
    // Random int8 weights [rows][...] with a float scale per output channel (per_channel, axis) or one scale;
    // DQ(w_q, scale[, zw]) -> name + "_dq". Returns the scales per output channel (OC entries).
    std::vector<float> weight(const std::string& name, Shape s, int64_t axis, bool per_channel, int zw = 0) {
        Tensor q(DType::I8, s);
        std::uniform_int_distribution<int> d(-127, 127);
        for (int64_t i = 0; i < q.numel(); ++i) q.data<int8_t>()[i] = static_cast<int8_t>(d(rng));
        const int64_t OC = s[static_cast<size_t>(axis)];
        std::uniform_real_distribution<float> sd(0.002f, 0.02f);
        std::vector<float> sc(static_cast<size_t>(OC));
        for (auto& v : sc) v = sd(rng);
        if (!per_channel) std::fill(sc.begin(), sc.end(), sc[0]);
        Tensor st = per_channel ? Tensor(DType::F32, {OC}) : Tensor(DType::F32, {});
        for (int64_t i = 0; i < st.numel(); ++i) st.data<float>()[i] = sc[static_cast<size_t>(i)];
        m.graph.initializers[name + "_q"] = q;
        m.graph.initializers[name + "_s"] = st;
        std::vector<std::string> in = {name + "_q", name + "_s"};
        if (zw) in.push_back(zero(name + "_z", DType::I8, zw));
        node("DequantizeLinear", in, {name + "_dq"}, {{"axis", one_int(axis)}});
        return sc;
    }
    // int32 bias with scale sx·sw[n] -> name + "_dq"
    void bias(const std::string& name, float sx, const std::vector<float>& sw) {
        const int64_t OC = static_cast<int64_t>(sw.size());
        Tensor q(DType::I32, {OC}), st(DType::F32, {OC});
        std::uniform_int_distribution<int> d(-3000, 3000);
        for (int64_t i = 0; i < OC; ++i) {
            q.data<int32_t>()[i] = d(rng);
            st.data<float>()[i] = sx * sw[static_cast<size_t>(i)];
        }
        m.graph.initializers[name + "_q"] = q;
        m.graph.initializers[name + "_s"] = st;
        node("DequantizeLinear", {name + "_q", name + "_s"}, {name + "_dq"}, {{"axis", one_int(0)}});
    }
    // y -> Q(sy, zy) (-> DQ when dq): returns the Q output (and makes it a graph output)
    std::string quant_out(const std::string& y, float sy, DType dt, int zy, bool dq) {
        const std::string s = scalar_f(y + "_s", sy), z = zero(y + "_z", dt, zy);
        node("QuantizeLinear", {y, s, z}, {y + "_q"});
        if (dq) node("DequantizeLinear", {y + "_q", s, z}, {y + "_dq"});
        return y + "_q";
    }
};

Tensor random_input(std::mt19937& rng, Shape shape, float lo, float hi) {
    Tensor t(DType::F32, shape);
    std::uniform_real_distribution<float> d(lo, hi);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
    return t;
}

constexpr int kQuantLsb = 1;        // integer outputs: at most 1 apart
constexpr float kFloatRel = 1e-4f;  // float outputs: relative to max(1, |ref|) ...
// ... plus this many output quantization steps where a Q -> DQ pair follows (an off-by-one code)

// Compares every graph output of the plan with the reference; returns the trace.
std::string expect_qdq_matches(const graph::Model& m, const std::map<std::string, Tensor>& inputs, int threads,
                           std::map<std::string, float> float_abs = {}) {
    Shapes shapes;
    for (const auto& [k, v] : inputs) shapes[k] = v.shape();
    auto ref = run_reference(m, inputs);
    EXPECT_TRUE(ref.ok()) << ref.status().message();
    if (!ref.ok()) return "";
    auto p = plan(m, shapes, {threads, false});
    EXPECT_TRUE(p.ok()) << p.status().message();
    if (!p.ok()) return "";
    const std::string trace = p->trace();
    for (int rep = 0; rep < 2; ++rep) {
        auto got = p->run(inputs);
        EXPECT_TRUE(got.ok()) << got.status().message();
        if (!got.ok()) return trace;
        for (const auto& [name, want] : *ref) {
            const Tensor& g = got->at(name);
            EXPECT_EQ(g.dtype(), want.dtype()) << name;
            EXPECT_EQ(g.shape(), want.shape()) << name;
            if (g.shape() != want.shape()) return trace;
            const auto a = want.to_f32(), b = g.to_f32();
            int64_t off = 0;
            for (size_t i = 0; i < a.size(); ++i) {
                float lim;
                if (want.dtype() == DType::U8 || want.dtype() == DType::I8)
                    lim = kQuantLsb;
                else
                    lim = kFloatRel * std::max(1.0f, std::fabs(a[i])) + float_abs[name];
                if (!(std::fabs(a[i] - b[i]) <= lim)) {
                    ADD_FAILURE() << "output " << name << " index " << i << " threads " << threads
                                  << ": expected " << a[i] << ", got " << b[i] << "\n"
                                  << trace;
                    return trace;
                }
                off += a[i] != b[i];
            }
            // rounding differences are rare: most codes must agree exactly
            if (want.dtype() == DType::U8 || want.dtype() == DType::I8) {
                EXPECT_LE(off * 20, static_cast<int64_t>(a.size()))
                    << name << ": " << off << " of " << a.size() << " codes differ";
            }
        }
    }
    return trace;
}

int count_ops(const std::string& s, const std::string& sub) {
    int c = 0;
    for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + 1)) ++c;
    return c;
}

TEST(FastQdq, ConvPerChannelBiasReluQ) {
    QBuilder b;
    b.input("x", {2, 3, 9, 9});
    const float sx = 2.0f / 255;
    const std::string x = b.qdq("x", sx, DType::U8, 128);
    const auto sw = b.weight("w", {8, 3, 3, 3}, 0, true);
    b.bias("b", sx, sw);
    b.node("Conv", {x, "w_dq", "b_dq"}, {"y"},
           {{"pads", ints({1, 1, 1, 1})}, {"kernel_shape", ints({3, 3})}});
    b.node("Relu", {"y"}, {"yr"});
    const std::string yq = b.quant_out("yr", 0.01f, DType::U8, 3, true);
    b.output(yq);
    b.output("yr_dq");
    std::mt19937 rng(1);
    const Tensor in = random_input(rng, {2, 3, 9, 9}, -1, 1);
    for (int threads : {1, 2}) {
        const std::string trace = expect_qdq_matches(b.m, {{"x", in}}, threads, {{"yr_dq", 0.01f}});
        // C = 3: the direct small-channel conv where VNNI runs, else im2col + qgemm
        EXPECT_EQ(count_ops(trace, "qconv_nhwc_u8s8 qgemm_u8s8__") + count_ops(trace, "qconv_direct_nhwc_u8s8"), 1)
            << trace;
        EXPECT_NE(trace.find("DQ(x)+DQ(w)+DQ(b)+Relu+Q"), std::string::npos) << trace;
        // the input Q and the output DQ run as per-tensor Q / DQ steps; the fused DQs / Relu / Q have no step
        EXPECT_EQ(count_ops(trace, "\n"), 3) << trace;
        EXPECT_EQ(count_ops(trace, "  ref"), 0) << trace;
        EXPECT_NE(trace.find("QuantizeLinear  quantize_f32_q8"), std::string::npos) << trace;
        EXPECT_NE(trace.find("DequantizeLinear  dequantize_q8_f32"), std::string::npos) << trace;
    }
}

TEST(FastQdq, FusedConvFloatOutput) {
    QBuilder b;
    b.input("x", {1, 4, 7, 6});
    const float sx = 0.02f;
    const std::string x = b.qdq("x", sx, DType::U8, 100);
    const auto sw = b.weight("w", {5, 4, 3, 2}, 0, true);
    b.bias("b", sx, sw);
    b.node("FusedConv", {x, "w_dq", "b_dq"}, {"y"},
           {{"pads", ints({1, 0, 1, 1})}, {"strides", ints({2, 1})}, {"activation", str("Relu")}},
           "com.edgeq");
    b.output("y");
    std::mt19937 rng(2);
    const std::string trace = expect_qdq_matches(b.m, {{"x", random_input(rng, {1, 4, 7, 6}, -2, 2)}}, 1);
    EXPECT_NE(trace.find("qconv_nhwc_u8s8"), std::string::npos) << trace;
}

// The padded NHWC image the integer conv builds (border = zero point): one input channel, asymmetric pads,
// dilation and stride, then a grouped dilated conv with pads wider than its taps need on one side.
TEST(FastQdq, PaddedDilatedConvs) {
    // oc1 = 4: the first conv (one input channel, few outputs) runs as qconv_c1 (qdwconv over one plane, row
    // path: unequal strides); oc1 = 18: as qconv_nhwc with a one-channel padded image
    for (const int64_t oc1 : {int64_t{4}, int64_t{18}}) {
        QBuilder b;
        b.input("x", {2, 1, 11, 9});
        const float sx = 0.02f, s1 = 0.04f;
        const std::string x = b.qdq("x", sx, DType::U8, 30);
        const auto sw1 = b.weight("w1", {oc1, 1, 5, 3}, 0, true);
        b.bias("b1", sx, sw1);
        b.node("Conv", {x, "w1_dq", "b1_dq"}, {"c1"},
               {{"pads", ints({2, 1, 3, 0})}, {"strides", ints({1, 2})}, {"dilations", ints({2, 1})}});
        const std::string q1 = b.quant_out("c1", s1, DType::U8, 128, true);
        const auto sw2 = b.weight("w2", {6, oc1 / 2, 3, 3}, 0, true);  // group 2
        b.bias("b2", s1, sw2);
        b.node("Conv", {"c1_dq", "w2_dq", "b2_dq"}, {"c2"},
               {{"pads", ints({2, 3, 1, 2})}, {"dilations", ints({2, 2})}, {"group", one_int(2)}});
        b.output(b.quant_out("c2", 0.3f, DType::U8, 128, false));
        std::mt19937 rng(13);
        const Tensor in = random_input(rng, {2, 1, 11, 9}, -0.5f, 4.5f);
        for (int threads : {1, 2}) {
            const std::string trace = expect_qdq_matches(b.m, {{"x", in}}, threads);
            EXPECT_EQ(count_ops(trace, "qconv_nhwc_u8s8") + count_ops(trace, "qconv_direct_nhwc_u8s8"),
                      oc1 == 4 ? 1 : 2)
                << trace;
            EXPECT_EQ(count_ops(trace, "qconv_c1_u8s8"), oc1 == 4 ? 1 : 0) << trace;
        }
    }
}

// Convolutions whose windows the qgemm reads in place in the padded NHWC image (no im2col): one group with
// dilation and stride (runs of KW·C bytes), two groups of 8 channels with dilation 2 (runs of Cg bytes), u8
// and s8 activations, a weight zero point (the row sums of the indirect rows), requantized and float outputs;
// and a group of 6 channels with dilation 2 (runs of 6 bytes, not whole groups of 4: im2col).
TEST(FastQdq, ConvWindowsReadInPlace) {
    for (const DType adt : {DType::U8, DType::I8}) {
        QBuilder b;
        b.input("x", {2, 12, 9, 11});  // (12·3 bytes per window row: not qconv_direct)
        const float sx = 0.02f, s1 = 0.05f, s2 = 0.2f;
        const int zx = adt == DType::U8 ? 100 : -7;
        const std::string x = b.qdq("x", sx, adt, zx);
        const auto sw1 = b.weight("w1", {16, 12, 3, 3}, 0, true);
        b.bias("b1", sx, sw1);
        b.node("Conv", {x, "w1_dq", "b1_dq"}, {"c1"},
               {{"pads", ints({2, 1, 1, 1})}, {"strides", ints({1, 2})}, {"dilations", ints({2, 1})}});
        const std::string q1 = b.quant_out("c1", s1, adt, adt == DType::U8 ? 128 : 0, true);
        const auto sw2 = b.weight("w2", {12, 8, 3, 3}, 0, false, 3);  // group 2, per tensor, zero point 3
        b.bias("b2", s1, sw2);
        b.node("Conv", {"c1_dq", "w2_dq", "b2_dq"}, {"c2"},
               {{"pads", ints({2, 2, 2, 2})}, {"dilations", ints({2, 2})}, {"group", one_int(2)}});
        b.quant_out("c2", s2, DType::U8, 128, true);
        const auto sw3 = b.weight("w3", {4, 6, 3, 2}, 0, true);  // group 2 of 6 channels, dilation 2
        b.bias("b3", s2, sw3);
        b.node("Conv", {"c2_dq", "w3_dq", "b3_dq"}, {"c3"}, {{"dilations", ints({1, 2})}, {"group", one_int(2)}});
        b.output("c3");  // float output
        std::mt19937 rng(29);
        const Tensor in = random_input(rng, {2, 12, 9, 11}, -1.5f, 2.5f);
        for (int threads : {1, 2}) {
            const std::string trace = expect_qdq_matches(b.m, {{"x", in}}, threads);
            EXPECT_EQ(count_ops(trace, "windows in place"), 2) << trace;
            EXPECT_EQ(count_ops(trace, "qconv_nhwc_u8s8"), 3) << trace;
        }
    }
}

// LeNet's first layer: one input channel, 5×5, pad 2, 6 outputs, Tanh in the float epilogue (qconv_c1: the
// plane path of qdwconv with every output reading the same plane, then the vectorized activation), and a
// 1-channel 3×3 conv with s8 activations, a weight zero point and Relu -> Q (requantizing epilogue).
TEST(FastQdq, OneInputChannelConvs) {
    QBuilder b;
    b.input("x", {3, 1, 12, 10});
    const float sx = 0.03f;
    const std::string x = b.qdq("x", sx, DType::U8, 40);
    const auto sw = b.weight("w", {6, 1, 5, 5}, 0, true);
    b.bias("b", sx, sw);
    b.node("Conv", {x, "w_dq", "b_dq"}, {"y"}, {{"pads", ints({2, 2, 2, 2})}});
    b.node("Tanh", {"y"}, {"t"});
    b.output("t");
    b.input("u", {2, 1, 9, 8});
    const std::string u = b.qdq("u", 0.02f, DType::I8, -5);
    const auto sv = b.weight("v", {3, 1, 3, 3}, 0, false, 2);  // per-tensor scale, zero point 2
    b.bias("c", 0.02f, sv);
    b.node("Conv", {u, "v_dq", "c_dq"}, {"z"}, {{"pads", ints({1, 0, 1, 2})}});
    b.node("Relu", {"z"}, {"zr"});
    b.output(b.quant_out("zr", 0.05f, DType::I8, -100, false));
    std::mt19937 rng(17);
    const Tensor in = random_input(rng, {3, 1, 12, 10}, -0.5f, 4.5f);
    const Tensor in2 = random_input(rng, {2, 1, 9, 8}, -2.5f, 2.5f);
    for (int threads : {1, 2}) {
        const std::string trace = expect_qdq_matches(b.m, {{"x", in}, {"u", in2}}, threads);
        EXPECT_EQ(count_ops(trace, "qconv_c1_u8s8"), 2) << trace;
        EXPECT_NE(trace.find("DQ(x)+DQ(w)+DQ(b)+Tanh"), std::string::npos) << trace;
        EXPECT_NE(trace.find("DQ(x)+DQ(w)+DQ(b)+Relu+Q"), std::string::npos) << trace;
    }
}

// One input channel, stride 1, requantized output (lenet5's first conv with the islands quantizer): where AVX-512
// VNNI and VBMI run, kernels::qconv_c1 (output pixels in the lanes); u8 and s8 activations, 5×5 and 7×3 kernels,
// 6 and 16 outputs, batch 3 (and rows split across threads).
TEST(FastQdq, OneInputChannelRequantizedConvs) {
    for (const bool sgn : {false, true}) {
        QBuilder b;
        const DType dt = sgn ? DType::I8 : DType::U8;
        b.input("x", {3, 1, 28, 19});
        const float sx = 0.03f;
        const std::string x = b.qdq("x", sx, dt, sgn ? -7 : 40);
        const auto sw = b.weight("w", {6, 1, 5, 5}, 0, true);
        b.bias("b", sx, sw);
        b.node("Conv", {x, "w_dq", "b_dq"}, {"y"}, {{"pads", ints({2, 2, 2, 2})}});
        b.output(b.quant_out("y", 0.08f, dt, sgn ? 3 : 120, false));
        const auto sv = b.weight("v", {16, 1, 7, 3}, 0, false);
        b.node("Conv", {x, "v_dq"}, {"z"}, {{"pads", ints({0, 1, 3, 2})}});
        b.node("Relu", {"z"}, {"zr"});
        b.output(b.quant_out("zr", 0.05f, dt, sgn ? -100 : 0, false));
        std::mt19937 rng(29);
        const Tensor in = random_input(rng, {3, 1, 28, 19}, -1.5f, 4.5f);
        for (int threads : {1, 2}) {
            const std::string trace = expect_qdq_matches(b.m, {{"x", in}}, threads);
            EXPECT_EQ(count_ops(trace, "qconv_c1_u8s8"), 2) << trace;
            EXPECT_EQ(count_ops(trace, "(vpdpbusd, 16 pixels per vector)"), kernels::qconv_c1_vector() ? 2 : 0) << trace;
            EXPECT_EQ(count_ops(trace, "dequantize_q8_f32"), 0) << trace;  // the shared input DQ does not run
        }
    }
}

TEST(FastQdq, GemmTransBSignedActivations) {
    QBuilder b;
    b.input("x", {5, 33});
    const float sx = 0.03f;
    const std::string x = b.qdq("x", sx, DType::I8, -5);
    const auto sw = b.weight("w", {17, 33}, 0, true);  // transB: [N][K], per output channel = axis 0
    b.bias("b", sx, sw);
    b.node("Gemm", {x, "w_dq", "b_dq"}, {"y"}, {{"transB", one_int(1)}});
    b.output(b.quant_out("y", 0.05f, DType::I8, 2, true));
    b.output("y_dq");  // s8 DequantizeLinear step
    std::mt19937 rng(3);
    const std::string trace =
        expect_qdq_matches(b.m, {{"x", random_input(rng, {5, 33}, -3, 3)}}, 2, {{"y_dq", 0.05f}});
    EXPECT_NE(trace.find("qgemm_u8s8 qgemm_u8s8__"), std::string::npos) << trace;
    EXPECT_NE(trace.find("+Q"), std::string::npos) << trace;
}

TEST(FastQdq, MatMulWeightZeroPointTanhFloatOutput) {
    QBuilder b;
    b.input("x", {2, 3, 40});
    const float sx = 0.01f;
    const std::string x = b.qdq("x", sx, DType::U8, 0);
    b.weight("w", {40, 20}, 1, false, 3);  // per-tensor scale, zero point 3
    b.node("MatMul", {x, "w_dq"}, {"y"});
    b.node("Tanh", {"y"}, {"t"});  // fused into the float epilogue (LeNet's Conv -> Tanh)
    b.output("t");
    std::mt19937 rng(4);
    const std::string trace = expect_qdq_matches(b.m, {{"x", random_input(rng, {2, 3, 40}, 0, 2.5f)}}, 1);
    EXPECT_NE(trace.find("qmatmul_u8s8"), std::string::npos) << trace;
    EXPECT_NE(trace.find("DQ(x)+DQ(w)+Tanh"), std::string::npos) << trace;
    EXPECT_EQ(count_ops(trace, "\n"), 2) << trace;  // input Q + the integer MatMul
}

// MatMul -> Add(constant) (mnist-8's classifier; the bias first or second, as [1, N] or as one value) then
// Relu: one integer step with the constant as its float bias.
TEST(FastQdq, MatMulAddConstantIsTheStepsBias) {
    for (int variant = 0; variant < 3; ++variant) {
        QBuilder b;
        b.input("x", {3, 70});
        const float sx = 0.02f;
        const std::string x = b.qdq("x", sx, DType::U8, 10);
        b.weight("w", {70, 13}, 1, true);
        b.node("MatMul", {x, "w_dq"}, {"y"});
        Tensor bias = variant == 2 ? Tensor(DType::F32, {}) : Tensor(DType::F32, {1, 13});
        for (int64_t i = 0; i < bias.numel(); ++i) bias.data<float>()[i] = 0.25f * static_cast<float>(i) - 1.3f;
        b.m.graph.initializers["bias"] = bias;
        if (variant == 1)
            b.node("Add", {"bias", "y"}, {"z"});
        else
            b.node("Add", {"y", "bias"}, {"z"});
        b.node("Relu", {"z"}, {"r"});
        b.output("r");
        std::mt19937 rng(11);
        const std::string trace = expect_qdq_matches(b.m, {{"x", random_input(rng, {3, 70}, -0.1f, 4)}}, 1);
        EXPECT_NE(trace.find("DQ(x)+DQ(w)+Add(bias)+Relu"), std::string::npos) << variant << "\n" << trace;
        EXPECT_EQ(count_ops(trace, "\n"), 2) << variant << "\n" << trace;  // input Q + the integer MatMul
    }
    // A bias that broadcasts along another axis ([3, 1]) is not the step's bias: Add stays a float step.
    QBuilder b;
    b.input("x", {3, 70});
    const std::string x = b.qdq("x", 0.02f, DType::U8, 10);
    b.weight("w", {70, 13}, 1, true);
    b.node("MatMul", {x, "w_dq"}, {"y"});
    Tensor bias(DType::F32, {3, 1});
    for (int64_t i = 0; i < 3; ++i) bias.data<float>()[i] = static_cast<float>(i);
    b.m.graph.initializers["bias"] = bias;
    b.node("Add", {"y", "bias"}, {"z"});
    b.output("z");
    std::mt19937 rng(12);
    const std::string trace = expect_qdq_matches(b.m, {{"x", random_input(rng, {3, 70}, 0, 4)}}, 1);
    EXPECT_EQ(trace.find("Add(bias)"), std::string::npos) << trace;
}

TEST(FastQdq, ChainedConvToGroupedConv) {
    QBuilder b;
    b.input("x", {2, 3, 10, 10});
    const float sx = 0.01f, s1 = 0.02f;
    const std::string x = b.qdq("x", sx, DType::U8, 120);
    const auto sw1 = b.weight("w1", {8, 3, 3, 3}, 0, true);
    b.bias("b1", sx, sw1);
    b.node("Conv", {x, "w1_dq", "b1_dq"}, {"c1"}, {{"pads", ints({1, 1, 1, 1})}});
    b.node("Relu", {"c1"}, {"r1"});
    const std::string q1 = b.quant_out("r1", s1, DType::U8, 0, true);
    const auto sw2 = b.weight("w2", {6, 4, 3, 3}, 0, true);  // group 2
    b.bias("b2", s1, sw2);
    b.node("Conv", {"r1_dq", "w2_dq", "b2_dq"}, {"c2"}, {{"strides", ints({2, 2})}, {"group", one_int(2)}});
    // coarse output scale: an off-by-one code of c1 moves c2 by at most 0.02·0.02·127/0.2 ≈ 0.25 code
    b.output(b.quant_out("c2", 0.2f, DType::U8, 128, false));
    std::mt19937 rng(5);
    const Tensor in = random_input(rng, {2, 3, 10, 10}, -1, 1.5f);
    for (int threads : {1, 2}) {
        const std::string trace = expect_qdq_matches(b.m, {{"x", in}}, threads);
        EXPECT_EQ(count_ops(trace, "qconv_nhwc_u8s8") + count_ops(trace, "qconv_direct_nhwc_u8s8"), 2) << trace;
        EXPECT_EQ(count_ops(trace, "\n"), 3) << trace;  // input Q + two integer convs
    }
}

TEST(FastQdq, LargeConvSplitsAcrossThreadsThenDepthwiseFloatOutput) {
    QBuilder b;
    b.input("x", {1, 16, 30, 30});
    const float sx = 0.01f;
    const std::string x = b.qdq("x", sx, DType::U8, 128);
    const auto sw = b.weight("w", {32, 16, 3, 3}, 0, true);
    b.bias("b", sx, sw);
    b.node("Conv", {x, "w_dq", "b_dq"}, {"y"}, {{"pads", ints({1, 1, 1, 1})}});
    const std::string yq = b.quant_out("y", 0.05f, DType::U8, 128, true);
    (void)yq;
    b.weight("dw", {32, 1, 3, 3}, 0, true);
    b.node("Conv", {"y_dq", "dw_dq"}, {"z"}, {{"group", one_int(32)}});
    b.output("z");
    std::mt19937 rng(6);
    const Tensor in = random_input(rng, {1, 16, 30, 30}, -1, 1);
    for (int threads : {1, 2}) {
        // an off-by-one code of y moves z by 0.05·|dw| ≤ 0.05·0.02·127 per tap
        const std::string trace = expect_qdq_matches(b.m, {{"x", in}}, threads, {{"z", 0.4f}});
        EXPECT_NE(trace.find("qconv_nhwc_u8s8"), std::string::npos) << trace;
        EXPECT_NE(trace.find("qdwconv_u8s8  [DQ(x)+DQ(w)]"), std::string::npos) << trace;  // float epilogue
        EXPECT_EQ(count_ops(trace, "\n"), 3) << trace;  // input Q, conv, depthwise
    }
}

// Depthwise with pads, strides, dilation, u8 and s8 activations, int32 bias, Relu and a Q: the
// integer depthwise step (kernels::qdwconv) with the requantizing epilogue, channels split across threads.
TEST(FastQdq, DepthwiseRequantizedSignedActivations) {
    for (const bool signed_x : {false, true}) {
        QBuilder b;
        b.input("x", {2, 24, 13, 11});
        const float sx = 0.015f;
        const DType xdt = signed_x ? DType::I8 : DType::U8;
        const std::string x = b.qdq("x", sx, xdt, signed_x ? -7 : 120);
        const auto sw = b.weight("w", {24, 1, 3, 3}, 0, true);
        b.bias("b", sx, sw);
        b.node("Conv", {x, "w_dq", "b_dq"}, {"y"},
               {{"pads", ints({1, 2, 0, 1})},
                {"strides", ints({2, 1})},
                {"dilations", ints({1, 2})},
                {"group", one_int(24)}});
        b.node("Relu", {"y"}, {"yr"});
        b.output(b.quant_out("yr", 0.02f, xdt, signed_x ? -128 : 0, false));
        std::mt19937 rng(10);
        const Tensor in = random_input(rng, {2, 24, 13, 11}, -1.5f, 1.5f);
        for (int threads : {1, 2}) {
            const std::string trace = expect_qdq_matches(b.m, {{"x", in}}, threads);
            EXPECT_NE(trace.find("qdwconv_u8s8  [DQ(x)+DQ(w)+DQ(b)+Relu+Q]"), std::string::npos) << trace;
            EXPECT_EQ(count_ops(trace, "\n"), 2) << trace;
        }
    }
}

// 1×1 convolutions read the NHWC image directly (no im2col), also per group; a 1×1 with a stride does not.
TEST(FastQdq, PointwiseConvs) {
    QBuilder b;
    b.input("x", {3, 20, 5, 7});
    const float sx = 0.01f, s1 = 0.03f;
    const std::string x = b.qdq("x", sx, DType::U8, 90);
    const auto sw1 = b.weight("w1", {36, 20, 1, 1}, 0, true);
    b.bias("b1", sx, sw1);
    b.node("Conv", {x, "w1_dq", "b1_dq"}, {"c1"});
    const std::string q1 = b.quant_out("c1", s1, DType::U8, 128, true);
    const auto sw2 = b.weight("w2", {18, 12, 1, 1}, 0, true);  // 3 groups of 12 -> 6
    b.bias("b2", s1, sw2);
    b.node("Conv", {"c1_dq", "w2_dq", "b2_dq"}, {"c2"}, {{"group", one_int(3)}});
    const std::string q2 = b.quant_out("c2", 0.1f, DType::U8, 128, true);
    b.weight("w3", {5, 18, 1, 1}, 0, false);
    b.node("Conv", {"c2_dq", "w3_dq"}, {"c3"}, {{"strides", ints({2, 2})}});
    b.output("c3");
    std::mt19937 rng(11);
    const Tensor in = random_input(rng, {3, 20, 5, 7}, -1, 1.5f);
    for (int threads : {1, 2}) {
        // c3: one code of c2 (0.1) times |w3| ≤ 0.02·127, 18 taps
        const std::string trace = expect_qdq_matches(b.m, {{"x", in}}, threads, {{"c3", 0.5f}});
        EXPECT_EQ(count_ops(trace, "qconv1x1_nhwc_u8s8"), 2) << trace;
        EXPECT_EQ(count_ops(trace, "qconv_nhwc_u8s8"), 1) << trace;
    }
}

// Consecutive integer convolutions keep NHWC bytes between them (qstep_set_layout): depthwise (NCHW in, NHWC
// out) -> 3×3 conv (NHWC both sides, padded rows copied) -> strided depthwise (kernels::qdwconv_nhwc both
// sides)
// -> a value read by two convs through their own DQs: a 1×1 conv (reads NHWC in place, NCHW graph output) and
// an unpadded 3×3 conv -> depthwise (NHWC in, NCHW out for the DQ step and the float graph output); u8 and s8
// activations, 1 and 2 threads. Output scales coarsen along the chain so an off-by-one code upstream stays
// within one code downstream.
TEST(FastQdq, NhwcBetweenIntegerConvs) {
    for (const bool sgn : {false, true}) {
        QBuilder b;
        b.input("x", {2, 5, 11, 9});
        const DType dt = sgn ? DType::I8 : DType::U8;
        const int z0 = sgn ? -5 : 128, zr = sgn ? -128 : 0;
        const float sx = 0.01f;
        const std::string x = b.qdq("x", sx, dt, sgn ? 3 : 120);
        auto dq = [&](const std::string& q, const std::string& out) {
            b.node("DequantizeLinear",
                   {q, q.substr(0, q.size() - 2) + "_s", q.substr(0, q.size() - 2) + "_z"}, {out});
        };
        const auto sw0 = b.weight("w0", {5, 1, 3, 3}, 0, true);
        b.bias("b0", sx, sw0);
        b.node("Conv", {x, "w0_dq", "b0_dq"}, {"d0"}, {{"pads", ints({1, 1, 1, 1})}, {"group", one_int(5)}});
        const float s0 = 0.05f;
        dq(b.quant_out("d0", s0, dt, z0, false), "d0_dq");
        const auto sw1 = b.weight("w1", {16, 5, 3, 3}, 0, true);
        b.bias("b1", s0, sw1);
        b.node("Conv", {"d0_dq", "w1_dq", "b1_dq"}, {"c1"}, {{"pads", ints({1, 1, 1, 1})}});
        b.node("Relu", {"c1"}, {"r1"});
        const float s1 = 0.5f;
        dq(b.quant_out("r1", s1, dt, zr, false), "r1_dq");
        const auto sw2 = b.weight("w2", {16, 1, 3, 3}, 0, true);
        b.bias("b2", s1, sw2);
        b.node("Conv", {"r1_dq", "w2_dq", "b2_dq"}, {"c2"},
               {{"pads", ints({1, 0, 1, 1})}, {"strides", ints({2, 2})}, {"group", one_int(16)}});
        const float s2 = 2.0f;
        const std::string q2 = b.quant_out("c2", s2, dt, z0, false);
        dq(q2, "c2_dq_a");
        dq(q2, "c2_dq_b");
        const auto sw3 = b.weight("w3", {8, 16, 1, 1}, 0, true);
        b.bias("b3", s2, sw3);
        b.node("Conv", {"c2_dq_a", "w3_dq", "b3_dq"}, {"c3"});
        b.output(b.quant_out("c3", 16.0f, dt, z0, false));
        const auto sw4 = b.weight("w4", {4, 16, 3, 3}, 0, true);
        b.bias("b4", s2, sw4);
        b.node("Conv", {"c2_dq_b", "w4_dq", "b4_dq"}, {"c4"});
        const float s4 = 16.0f;
        dq(b.quant_out("c4", s4, dt, z0, false), "c4_dq");
        const auto sw5 = b.weight("w5", {4, 1, 3, 3}, 0, true);
        b.bias("b5", s4, sw5);
        b.node("Conv", {"c4_dq", "w5_dq", "b5_dq"}, {"c5"},
               {{"pads", ints({1, 1, 1, 1})}, {"group", one_int(4)}});
        b.quant_out("c5", 8.0f, dt, z0, true);
        b.output("c5_dq");
        std::mt19937 rng(21);
        const Tensor in = random_input(rng, {2, 5, 11, 9}, -1, 1.5f);
        for (int threads : {1, 2}) {
            const std::string trace = expect_qdq_matches(b.m, {{"x", in}}, threads, {{"c5_dq", 8.0f}});
            if (active_isa() < Isa::Avx512) {  // depthwise stays NCHW there, and every value here touches one
                EXPECT_EQ(count_ops(trace, "qdwconv_u8s8"), 3) << trace;
                EXPECT_EQ(count_ops(trace, "[NHWC"), 0) << trace;
                continue;
            }
            EXPECT_EQ(count_ops(trace, "qdwconv_nhwc_u8s8"), 3) << trace;  // --trace names the kernel that runs
            EXPECT_EQ(count_ops(trace, "qdwconv_u8s8"), 0) << trace;
            EXPECT_EQ(count_ops(trace, "[NHWC out]"), 1) << trace;     // d0
            EXPECT_EQ(count_ops(trace, "[NHWC in/out]"), 3) << trace;  // c1, c2, c4
            EXPECT_EQ(count_ops(trace, "[NHWC in]"), 2) << trace;      // c3, c5
        }
    }
}

// vgg_bn's first two convs: a direct (few-channel) conv whose NHWC output only a padded 3×3 conv reads writes
// its rows straight into that conv's padded image (no copy; the borders hold the zero point, so a non-zero one
// must come out right), u8 and s8; where the value is also a graph output, or read by two convs, no link.
TEST(FastQdq, DirectConvWritesIntoNextConvsPaddedInput) {
    for (const int shape : {0, 1, 2}) {  // 0: linked; 1: the value is also an output; 2: two readers
        for (const bool sgn : {false, true}) {
            QBuilder b;
            b.input("x", {3, 1, 13, 11});
            const DType dt = sgn ? DType::I8 : DType::U8;
            const float sx = 0.02f;
            const std::string x = b.qdq("x", sx, dt, sgn ? -7 : 9);
            const auto sw0 = b.weight("w0", {24, 1, 3, 3}, 0, true);
            b.bias("b0", sx, sw0);
            b.node("Conv", {x, "w0_dq", "b0_dq"}, {"c0"}, {{"pads", ints({1, 1, 1, 1})}});
            b.node("Relu", {"c0"}, {"r0"});
            const float s0 = 0.04f;
            const std::string q0 = b.quant_out("r0", s0, dt, sgn ? -20 : 17, false);  // zero point: the border byte
            b.node("DequantizeLinear", {q0, "r0_s", "r0_z"}, {"r0_dq"});
            const auto sw1 = b.weight("w1", {8, 24, 3, 3}, 0, true);
            b.bias("b1", s0, sw1);
            b.node("Conv", {"r0_dq", "w1_dq", "b1_dq"}, {"c1"}, {{"pads", ints({1, 2, 1, 0})}});
            b.output(b.quant_out("c1", 0.3f, dt, sgn ? 3 : 120, false));
            if (shape == 1) b.output(q0);
            if (shape == 2) {
                const auto sw2 = b.weight("w2", {4, 24, 3, 3}, 0, true);
                b.bias("b2", s0, sw2);
                b.node("Conv", {"r0_dq", "w2_dq", "b2_dq"}, {"c2"}, {{"pads", ints({1, 1, 1, 1})}});
                b.output(b.quant_out("c2", 0.3f, dt, sgn ? 3 : 120, false));
            }
            std::mt19937 rng(29);
            const Tensor in = random_input(rng, {3, 1, 13, 11}, -1.5f, 2.5f);
            for (int threads : {1, 2}) {
                const std::string trace = expect_qdq_matches(b.m, {{"x", in}}, threads);
                if (active_isa() < Isa::Avx512Vnni) continue;  // no direct conv there
                EXPECT_EQ(count_ops(trace, "qconv_direct_nhwc_u8s8"), 1) << trace;
                EXPECT_EQ(count_ops(trace, "[into the next conv's padded input]"), shape == 0 ? 1 : 0) << trace;
                EXPECT_EQ(count_ops(trace, "[input padded by its producer]"), shape == 0 ? 1 : 0) << trace;
            }
        }
    }
}

// One Q read by one DQ that three integer convs share (ultraface's RFB branches): the DQ does not run, and the
// bytes stay NHWC from the producer into the three convs (AVX-512). Float-output convs followed by
// Transpose(0, 2, 3, 1) (ultraface's heads) write the transposed layout directly: the Transpose has no step;
// one Transpose with another perm stays a reference op.
TEST(FastQdq, SharedInputDqAndTransposedFloatOutputs) {
    QBuilder b;
    b.input("x", {2, 8, 9, 7});
    const float sx = 0.02f;
    const std::string x = b.qdq("x", sx, DType::U8, 100);
    const auto sw0 = b.weight("w0", {24, 8, 1, 1}, 0, true);
    b.bias("b0", sx, sw0);
    b.node("Conv", {x, "w0_dq", "b0_dq"}, {"c0"});
    b.node("Relu", {"c0"}, {"r0"});
    const float s0 = 0.04f;
    const std::string q0 = b.quant_out("r0", s0, DType::U8, 0, true);  // -> r0_dq, read by three convs
    const auto sw1 = b.weight("w1", {10, 24, 1, 1}, 0, true);
    b.bias("b1", s0, sw1);
    b.node("Conv", {"r0_dq", "w1_dq", "b1_dq"}, {"c1"});
    b.node("Transpose", {"c1"}, {"t1"}, {{"perm", ints({0, 2, 3, 1})}});
    b.output("t1");
    const auto sw2 = b.weight("w2", {12, 24, 3, 3}, 0, true);
    b.bias("b2", s0, sw2);
    b.node("Conv", {"r0_dq", "w2_dq", "b2_dq"}, {"c2"}, {{"pads", ints({1, 1, 1, 1})}});
    b.node("Transpose", {"c2"}, {"t2"}, {{"perm", ints({0, 2, 3, 1})}});
    b.output("t2");
    const auto sw3 = b.weight("w3", {5, 24, 3, 3}, 0, true);
    b.node("Conv", {"r0_dq", "w3_dq"}, {"c3"}, {{"pads", ints({1, 0, 1, 2})}, {"strides", ints({2, 1})}});
    b.node("Transpose", {"c3"}, {"t3"}, {{"perm", ints({0, 3, 2, 1})}});
    b.output("t3");
    std::mt19937 rng(31);
    const Tensor in = random_input(rng, {2, 8, 9, 7}, -1, 2);
    for (int threads : {1, 2}) {
        const std::string trace = expect_qdq_matches(b.m, {{"x", in}}, threads);
        EXPECT_EQ(count_ops(trace, "dequantize_q8_f32"), 0) << trace;
        EXPECT_EQ(count_ops(trace, "+Transpose(0,2,3,1)"), 2) << trace;
        EXPECT_EQ(count_ops(trace, "Transpose  ref"), 1) << trace;
        if (active_isa() >= Isa::Avx512) {
            EXPECT_EQ(count_ops(trace, "[NHWC out]"), 1) << trace;  // c0
            EXPECT_EQ(count_ops(trace, "[NHWC in]"), 3) << trace;   // c1, c2, c3
        }
    }
}

// ultraface's RFB block with the quantizer's integer Concat / Add: two convs requantized with the Concat's
// parameters -> DQ -> Concat (axis 1) -> Q (qconcat, bytes) -> conv; that conv and a shortcut conv requantized
// -> DQ + DQ -> Add -> Relu -> Q (qadd, u8) and, s8, a second Add without Relu; a Concat whose inputs'
// parameters differ stays a reference op.
TEST(FastQdq, IntegerConcatAndAdd) {
    QBuilder b;
    b.input("x", {2, 6, 7, 5});
    const float sx = 0.02f;
    const std::string x = b.qdq("x", sx, DType::U8, 100);
    auto dq = [&](const std::string& q, const std::string& out) {
        const std::string base = q.substr(0, q.size() - 2);
        b.node("DequantizeLinear", {q, base + "_s", base + "_z"}, {out});
    };
    auto conv = [&](const std::string& in, float s_in, const std::string& name, int64_t oc, int64_t c, int64_t k) {
        const auto sw = b.weight(name + "w", {oc, c, k, k}, 0, true);
        b.bias(name + "b", s_in, sw);
        const int64_t p = k / 2;
        b.node("Conv", {in, name + "w_dq", name + "b_dq"}, {name}, {{"pads", ints({p, p, p, p})}});
    };
    conv(x, sx, "ca", 8, 6, 1);
    conv(x, sx, "cb", 4, 6, 3);
    const float sc = 0.05f;
    const std::string qa = b.quant_out("ca", sc, DType::U8, 128, false), qb = b.quant_out("cb", sc, DType::U8, 128, false);
    // the concat parameters are shared: build the DQs from ca's scale / zero point names
    b.node("DequantizeLinear", {qa, "ca_s", "ca_z"}, {"ca_dq"});
    b.node("DequantizeLinear", {qb, "ca_s", "ca_z"}, {"cb_dq"});
    b.node("Concat", {"ca_dq", "cb_dq"}, {"cat"}, {{"axis", one_int(1)}});
    b.node("QuantizeLinear", {"cat", "ca_s", "ca_z"}, {"cat_q"});
    b.node("DequantizeLinear", {"cat_q", "ca_s", "ca_z"}, {"cat_dq"});
    conv("cat_dq", sc, "cc", 8, 12, 1);
    conv(x, sx, "cd", 8, 6, 3);
    dq(b.quant_out("cc", 0.06f, DType::U8, 120, false), "cc_dq");
    dq(b.quant_out("cd", 0.03f, DType::U8, 130, false), "cd_dq");
    b.node("Add", {"cc_dq", "cd_dq"}, {"sum"});
    b.node("Relu", {"sum"}, {"sum_r"});
    b.output(b.quant_out("sum_r", 0.07f, DType::U8, 0, false));
    // s8, no Relu
    conv(x, sx, "ce", 8, 6, 1);
    dq(b.quant_out("ce", 0.04f, DType::I8, -3, false), "ce_dq");
    b.node("DequantizeLinear", {"cd_q", "cd_s", "cd_z"}, {"cd_dq2"});
    b.node("Add", {"ce_dq", "cd_dq2"}, {"sum2"});
    b.output(b.quant_out("sum2", 0.05f, DType::I8, 10, false));
    // parameters differ: a reference Concat
    b.node("DequantizeLinear", {"ce_q", "ce_s", "ce_z"}, {"ce_dq2"});
    b.node("DequantizeLinear", {"cc_q", "cc_s", "cc_z"}, {"cc_dq2"});
    b.node("Concat", {"ce_dq2", "cc_dq2"}, {"cat2"}, {{"axis", one_int(1)}});
    b.output(b.quant_out("cat2", 0.05f, DType::I8, 10, false));
    std::mt19937 rng(37);
    const Tensor in = random_input(rng, {2, 6, 7, 5}, -1, 2);
    for (int threads : {1, 2}) {
        const std::string trace = expect_qdq_matches(b.m, {{"x", in}}, threads);
        EXPECT_EQ(count_ops(trace, "qconcat (byte copy)"), 1) << trace;
        EXPECT_EQ(count_ops(trace, "qadd_u8u8u8"), 1) << trace;
        EXPECT_EQ(count_ops(trace, "qadd_s8u8s8"), 1) << trace;
        EXPECT_EQ(count_ops(trace, "Concat  ref"), 1) << trace;
        // the concat sits between convs (NHWC group); the adds write graph outputs (NCHW)
        EXPECT_EQ(count_ops(trace, "qconcat (byte copy)  [DQ(x)+Q [NHWC in/out]]"), 1) << trace;
        EXPECT_EQ(count_ops(trace, "[DQ(a)+DQ(b)+Relu+Q]"), 1) << trace;
    }
}

// Channel Concat and Add between integer convs keep NHWC bytes (no transposes around them): conv -> Concat ->
// conv, conv + conv -> Add -> Relu -> conv; channel runs of 16 bytes (the fixed-size copy) and of 8 and 4 bytes.
TEST(FastQdq, NhwcThroughConcatAndAdd) {
    for (const int64_t ca : {int64_t{16}, int64_t{8}}) {
        QBuilder b;
        b.input("x", {2, 12, 7, 9});
        const float sx = 0.02f, sc = 0.05f;
        const std::string x = b.qdq("x", sx, DType::U8, 100);
        auto conv = [&](const std::string& in, float s_in, const std::string& name, int64_t oc, int64_t c,
                        int64_t k) {
            const auto sw = b.weight(name + "w", {oc, c, k, k}, 0, true);
            b.bias(name + "b", s_in, sw);
            const int64_t p = k / 2;
            b.node("Conv", {in, name + "w_dq", name + "b_dq"}, {name}, {{"pads", ints({p, p, p, p})}});
        };
        conv(x, sx, "ca", ca, 12, 1);
        conv(x, sx, "cb", ca / 2, 12, 3);
        const std::string qa = b.quant_out("ca", sc, DType::U8, 128, false);
        const std::string qb = b.quant_out("cb", sc, DType::U8, 128, false);
        b.node("DequantizeLinear", {qa, "ca_s", "ca_z"}, {"ca_dq"});
        b.node("DequantizeLinear", {qb, "ca_s", "ca_z"}, {"cb_dq"});
        b.node("Concat", {"ca_dq", "cb_dq"}, {"cat"}, {{"axis", one_int(1)}});
        b.node("QuantizeLinear", {"cat", "ca_s", "ca_z"}, {"cat_q"});
        b.node("DequantizeLinear", {"cat_q", "ca_s", "ca_z"}, {"cat_dq"});
        const int64_t cc = ca + ca / 2;
        conv("cat_dq", sc, "cc", 16, cc, 3);
        conv("cat_dq", sc, "cd", 16, cc, 1);
        b.node("DequantizeLinear", {b.quant_out("cc", 0.06f, DType::U8, 120, false), "cc_s", "cc_z"}, {"cc_dq"});
        b.node("DequantizeLinear", {b.quant_out("cd", 0.03f, DType::U8, 130, false), "cd_s", "cd_z"}, {"cd_dq"});
        b.node("Add", {"cc_dq", "cd_dq"}, {"sum"});
        b.node("Relu", {"sum"}, {"sum_r"});
        b.quant_out("sum_r", 0.07f, DType::U8, 0, true);
        conv("sum_r_dq", 0.07f, "ce", 5, 16, 3);
        b.output("ce");  // float output
        std::mt19937 rng(41);
        const Tensor in = random_input(rng, {2, 12, 7, 9}, -1, 2);
        for (int threads : {1, 2}) {
            const std::string trace = expect_qdq_matches(b.m, {{"x", in}}, threads);
            EXPECT_EQ(count_ops(trace, "qconcat (byte copy)  [DQ(x)+Q [NHWC in/out]]"), 1) << trace;
            EXPECT_EQ(count_ops(trace, "qadd_u8u8u8  [DQ(a)+DQ(b)+Relu+Q [NHWC in/out]]"), 1) << trace;
            EXPECT_EQ(count_ops(trace, "[NHWC in/out]"), 4) << trace;  // concat, cc, cd, add (ca, cb: NHWC out)
        }
    }
}

// DQ -> MaxPool -> Q with the same scale / zero point runs on the bytes (exact); with Flatten before the Q
// too; a Q with another scale keeps the float MaxPool.
TEST(FastQdq, MaxPoolOnQuantizedBytes) {
    for (const bool signed_x : {false, true}) {
        QBuilder b;
        b.input("x", {2, 5, 9, 11});
        const DType xdt = signed_x ? DType::I8 : DType::U8;
        const int zx = signed_x ? 3 : 140;
        const std::string x = b.qdq("x", 0.02f, xdt, zx);
        b.node("MaxPool", {x}, {"p"},
               {{"kernel_shape", ints({3, 2})},
                {"strides", ints({2, 2})},
                {"pads", ints({1, 0, 1, 1})},
                {"ceil_mode", one_int(1)}});
        b.node("QuantizeLinear", {"p", "x_s", "x_z"}, {"p_q"});
        b.output("p_q");
        b.node("DequantizeLinear", {"p_q", "x_s", "x_z"}, {"p_dq"});
        b.node("MaxPool", {"p_dq"}, {"p2"}, {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}});
        b.node("Flatten", {"p2"}, {"f"});
        b.node("QuantizeLinear", {"f", "x_s", "x_z"}, {"f_q"});
        b.output("f_q");
        b.node("MaxPool", {x}, {"r"}, {{"kernel_shape", ints({2, 2})}});  // x_dq read twice: DQ stays
        b.output(b.quant_out("r", 0.05f, xdt, 0, false));                 // another scale: float MaxPool
        std::mt19937 rng(12);
        const Tensor in = random_input(rng, {2, 5, 9, 11}, -2, 2);
        for (int threads : {1, 2}) {
            const std::string trace = expect_qdq_matches(b.m, {{"x", in}}, threads);
            const std::string k = signed_x ? "qmaxpool_s8" : "qmaxpool_u8";
            EXPECT_NE(trace.find(k + "  [DQ(x)+Q]"), std::string::npos) << trace;
            EXPECT_NE(trace.find(k + "  [DQ(x)+Flatten+Q]"), std::string::npos) << trace;
            EXPECT_NE(trace.find("maxpool2d_f32"), std::string::npos) << trace;
        }
        // exact: run once more and compare the pooled codes bit for bit
        auto ref = run_reference(b.m, {{"x", in}});
        auto p = plan(b.m, {{"x", in.shape()}}, {1, false});
        ASSERT_TRUE(ref.ok() && p.ok());
        auto got = p->run({{"x", in}});
        ASSERT_TRUE(got.ok());
        for (const char* o : {"p_q", "f_q"}) EXPECT_EQ(ref->at(o).to_f32(), got->at(o).to_f32()) << o;
    }
}

// MaxPool between integer convolutions keeps NHWC bytes (kernels::qmaxpool_nhwc): a pool of the quantized graph
// input (NCHW in, NHWC out) -> 3×3 conv (NHWC in/out) read by two pools: one into a 1×1 conv (NHWC in/out; the
// conv NHWC in), one to a graph output (NHWC in, NCHW out); the first pool writes into the 3×3 conv's padded
// input. Pools are exact, so the pooled graph output must
// equal the reference bit for bit; u8 and s8, 1 and 2 threads, a batch of 7 (images grouped per pool task).
TEST(FastQdq, MaxPoolKeepsNhwcBetweenConvs) {
    for (const bool sgn : {false, true}) {
        QBuilder b;
        b.input("x", {7, 6, 10, 9});  // 7 images: several per chunk of the 2-thread pool (run_chunked)
        const DType dt = sgn ? DType::I8 : DType::U8;
        const int zx = sgn ? 4 : 120, zr = sgn ? -128 : 0;
        const float sx = 0.02f;
        b.node("QuantizeLinear", {"x", b.scalar_f("x_s", sx), b.zero("x_z", dt, zx)}, {"x_q"});
        b.node("DequantizeLinear", {"x_q", "x_s", "x_z"}, {"x_dq"});
        b.node("MaxPool", {"x_dq"}, {"m0"},
               {{"kernel_shape", ints({3, 3})}, {"strides", ints({1, 1})}, {"pads", ints({1, 1, 1, 1})}});
        b.node("QuantizeLinear", {"m0", "x_s", "x_z"}, {"m0_q"});
        b.node("DequantizeLinear", {"m0_q", "x_s", "x_z"}, {"m0_dq"});
        const auto sw1 = b.weight("w1", {16, 6, 3, 3}, 0, true);
        b.bias("b1", sx, sw1);
        b.node("Conv", {"m0_dq", "w1_dq", "b1_dq"}, {"c1"}, {{"pads", ints({1, 1, 1, 1})}});
        b.node("Relu", {"c1"}, {"r1"});
        const float s1 = 0.1f;
        const std::string q1 = b.quant_out("r1", s1, dt, zr, false);
        b.node("DequantizeLinear", {q1, "r1_s", "r1_z"}, {"r1_dq_a"});
        b.node("DequantizeLinear", {q1, "r1_s", "r1_z"}, {"r1_dq_b"});
        b.node("MaxPool", {"r1_dq_a"}, {"m1"}, {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}});
        b.node("QuantizeLinear", {"m1", "r1_s", "r1_z"}, {"m1_q"});
        b.node("DequantizeLinear", {"m1_q", "r1_s", "r1_z"}, {"m1_dq"});
        const auto sw2 = b.weight("w2", {8, 16, 1, 1}, 0, true);
        b.bias("b2", s1, sw2);
        b.node("Conv", {"m1_dq", "w2_dq", "b2_dq"}, {"c2"});
        b.quant_out("c2", 1.0f, dt, zx, true);
        b.output("c2_dq");
        b.node("MaxPool", {"r1_dq_b"}, {"m2"},
               {{"kernel_shape", ints({3, 2})}, {"strides", ints({2, 3})}, {"pads", ints({0, 1, 1, 0})}});
        b.node("QuantizeLinear", {"m2", "r1_s", "r1_z"}, {"m2_q"});
        b.output("m2_q");
        std::mt19937 rng(41);
        const Tensor in = random_input(rng, {7, 6, 10, 9}, -1.5f, 1.5f);
        for (int threads : {1, 2}) {
            const std::string trace = expect_qdq_matches(b.m, {{"x", in}}, threads, {{"c2_dq", 1.0f}});
            const std::string k = sgn ? "qmaxpool_nhwc_s8" : "qmaxpool_nhwc_u8";
            EXPECT_EQ(count_ops(trace, k), 3) << trace;
            EXPECT_EQ(count_ops(trace, "[NHWC out]"), 1) << trace;     // m0
            EXPECT_EQ(count_ops(trace, "[NHWC in/out]"), 2) << trace;  // c1, m1
            EXPECT_EQ(count_ops(trace, "[NHWC in]"), 2) << trace;      // c2, m2
            // m0 writes straight into c1's padded image (qstep_write_into_padded; borders: the zero point)
            EXPECT_EQ(count_ops(trace, "[into the next conv's padded input]"), 1) << trace;
            auto ref = run_reference(b.m, {{"x", in}});
            auto p = plan(b.m, {{"x", in.shape()}}, {threads, false});
            ASSERT_TRUE(ref.ok() && p.ok());
            auto got = p->run({{"x", in}});
            ASSERT_TRUE(got.ok());
            EXPECT_EQ(ref->at("m2_q").to_f32(), got->at("m2_q").to_f32());
        }
    }
}

// DQ -> AveragePool [-> Flatten] -> Q on the bytes (kernels::qavgpool: integer window sums, within 1 of the
// reference's float mean): pads with and without count_include_pad, ceil_mode, u8 in / s8 out, a 2×2 LeNet
// pool; count_include_pad with ceil_mode is refused (float AveragePool, with the reason in the trace).
TEST(FastQdq, AveragePoolOnQuantizedBytes) {
    for (const bool signed_x : {false, true}) {
        QBuilder b;
        b.input("x", {2, 4, 10, 9});
        const DType xdt = signed_x ? DType::I8 : DType::U8;
        const std::string x = b.qdq("x", 0.02f, xdt, signed_x ? -4 : 130);
        b.node("AveragePool", {x}, {"p"},
               {{"kernel_shape", ints({3, 2})}, {"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 0})},
                {"count_include_pad", one_int(1)}});
        b.output(b.quant_out("p", 0.013f, DType::I8, 5, false));
        b.node("AveragePool", {x}, {"c"},
               {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"pads", ints({1, 0, 0, 1})},
                {"ceil_mode", one_int(1)}});
        b.output(b.quant_out("c", 0.017f, xdt, signed_x ? 0 : 20, false));
        b.node("AveragePool", {x}, {"l"}, {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}});
        b.node("Flatten", {"l"}, {"lf"});
        // (another scale than x's: with sy = sx a 2×2 mean is an exact tie for a quarter of the windows,
        // which qavgpool rounds half to even and the reference's float sum breaks either way: within 1 still,
        // but not "rare")
        b.output(b.quant_out("lf", 0.023f, xdt, signed_x ? -4 : 130, false));
        b.node("AveragePool", {x}, {"r"},
               {{"kernel_shape", ints({2, 2})}, {"pads", ints({0, 0, 1, 1})}, {"ceil_mode", one_int(1)},
                {"strides", ints({2, 2})}, {"count_include_pad", one_int(1)}});
        b.output(b.quant_out("r", 0.02f, xdt, 0, false));
        std::mt19937 rng(19);
        const Tensor in = random_input(rng, {2, 4, 10, 9}, -2, 2.5f);
        for (int threads : {1, 2}) {
            const std::string trace = expect_qdq_matches(b.m, {{"x", in}}, threads);
            const std::string k = signed_x ? "qavgpool_s8" : "qavgpool_u8";
            EXPECT_NE(trace.find(k + "s8  [DQ(x)+Q]"), std::string::npos) << trace;
            EXPECT_NE(trace.find(k + (signed_x ? "s8" : "u8") + "  [DQ(x)+Flatten+Q]"), std::string::npos)
                << trace;
            EXPECT_EQ(count_ops(trace, "qavgpool_"), 3) << trace;
            EXPECT_NE(trace.find("count_include_pad with ceil_mode"), std::string::npos) << trace;
        }
    }
}

// Byte-streaming steps large enough to split over threads (kParallelElems: input quantization, a Tanh table and a
// LeNet 2×2 average pool of a [16, 6, 28, 28] batch, 75k elements each): within 1 of the reference, and 2 threads
// give the same bytes as 1.
TEST(FastQdq, ByteStepsSplitAcrossThreads) {
    QBuilder b;
    b.input("x", {16, 6, 28, 28});
    const std::string x = b.qdq("x", 0.03f, DType::U8, 120);
    b.node("Tanh", {x}, {"t"});
    const std::string t = b.qdq("t", 1.0f / 128, DType::U8, 128);
    b.node("AveragePool", {t}, {"p"}, {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}});
    const std::string out = b.quant_out("p", 0.0093f, DType::U8, 127, false);
    b.output(out);
    std::mt19937 rng(29);
    const Tensor in = random_input(rng, {16, 6, 28, 28}, -3, 3);
    std::vector<float> got[2];
    for (int threads : {1, 2}) {
        const std::string trace = expect_qdq_matches(b.m, {{"x", in}}, threads);
        EXPECT_NE(trace.find("quantize_f32_q8"), std::string::npos) << trace;
        EXPECT_NE(trace.find("qlut_u8"), std::string::npos) << trace;
        EXPECT_NE(trace.find("qavgpool_u8u8"), std::string::npos) << trace;
        auto p = plan(b.m, {{"x", in.shape()}}, {threads, false});
        ASSERT_TRUE(p.ok());
        auto r = p->run({{"x", in}});
        ASSERT_TRUE(r.ok());
        got[threads - 1] = r->at(out).to_f32();
    }
    EXPECT_EQ(got[0], got[1]);
}

// DQ -> elementwise unary -> Q as a 256-entry table computed by the reference ops: equal to the reference
// executor byte for byte (Tanh u8 -> u8, Sigmoid s8 -> u8, LeakyRelu with alpha, Clip with constant bounds).
TEST(FastQdq, UnaryLookupTablesEqualReference) {
    QBuilder b;
    b.input("x", {3, 7, 11});
    const std::string x = b.qdq("x", 0.031f, DType::U8, 117);
    b.node("Tanh", {x}, {"t"});
    b.output(b.quant_out("t", 1.0f / 128, DType::U8, 128, false));
    b.input("u", {5, 13});
    const std::string u = b.qdq("u", 0.05f, DType::I8, 3);
    b.node("Sigmoid", {u}, {"s"});
    b.output(b.quant_out("s", 1.0f / 256, DType::U8, 0, false));
    b.node("LeakyRelu", {u}, {"l"}, {{"alpha", test::one_float(0.15f)}});
    b.output(b.quant_out("l", 0.03f, DType::I8, -20, false));
    b.node("Clip", {x, b.scalar_f("lo", -0.4f), b.scalar_f("hi", 1.1f)}, {"c"});
    b.output(b.quant_out("c", 0.01f, DType::U8, 40, false));
    std::mt19937 rng(23);
    const Tensor in = random_input(rng, {3, 7, 11}, -4.5f, 4.5f);
    const Tensor in2 = random_input(rng, {5, 13}, -7, 7);
    const std::map<std::string, Tensor> inputs = {{"x", in}, {"u", in2}};
    for (int threads : {1, 2}) {
        const std::string trace = expect_qdq_matches(b.m, inputs, threads);
        EXPECT_EQ(count_ops(trace, "qlut_u8"), 4) << trace;
        for (const char* f : {"DQ(x)+Tanh+Q", "DQ(x)+Sigmoid+Q", "DQ(x)+LeakyRelu+Q", "DQ(x)+Clip+Q"})
            EXPECT_NE(trace.find(f), std::string::npos) << f << "\n" << trace;
    }
    auto ref = run_reference(b.m, inputs);
    auto p = plan(b.m, {{"x", in.shape()}, {"u", in2.shape()}}, {1, false});
    ASSERT_TRUE(ref.ok() && p.ok());
    auto got = p->run(inputs);
    ASSERT_TRUE(got.ok());
    for (const char* o : {"t_q", "s_q", "l_q", "c_q"}) EXPECT_EQ(ref->at(o).to_f32(), got->at(o).to_f32()) << o;
}

// Weight-only quantization (float activations): no integer step; the weight DQ is evaluated at plan time so
// the float kernels run (no reference Conv, no DQ step).
TEST(FastQdq, WeightOnlyDequantizeFoldedAtPlanTime) {
    QBuilder b;
    b.input("x", {1, 3, 8, 8});
    b.weight("w", {4, 3, 3, 3}, 0, true);
    b.node("Conv", {"x", "w_dq"}, {"y"}, {{"pads", ints({1, 1, 1, 1})}});
    b.output("y");
    std::mt19937 rng(9);
    const std::string trace = expect_qdq_matches(b.m, {{"x", random_input(rng, {1, 3, 8, 8}, -1, 1)}}, 1);
    EXPECT_NE(trace.find("conv2d_f32"), std::string::npos) << trace;
    EXPECT_EQ(count_ops(trace, "\n"), 1) << trace;
}

// A real QDQ model (e.g. `edgeq quantize lenet5.onnx q.onnx --method static ...`) named by $EDGEQ_QDQ_MODEL,
// input [batch, 1, 28, 28]: fast integer plan vs reference on random inputs; prints the trace. Skips when
// unset (test_runtime cannot run the quantizer itself: it links runtime and formats only).
TEST(FastQdq, ModelFromEnvironment) {
    const char* path = std::getenv("EDGEQ_QDQ_MODEL");
    if (!path || !*path) GTEST_SKIP() << "set EDGEQ_QDQ_MODEL to a QDQ .onnx with a [N,1,28,28] input";
    auto m = onnxio::load_model(path);
    ASSERT_TRUE(m.ok()) << m.status().message();
    std::mt19937 rng(8);
    const Tensor in = random_input(rng, {4, 1, 28, 28}, -0.8f, 2.8f);
    // logits: every layer may round one code differently; named tolerance on the float output
    const std::string out = m->graph.outputs[0].name;
    for (int threads : {1, 2}) {
        const std::string trace =
            expect_qdq_matches(*m, {{m->graph.inputs[0].name, in}}, threads, {{out, 0.05f}});
        EXPECT_NE(trace.find("u8s8"), std::string::npos) << trace;
        if (threads == 1) std::printf("%s", trace.c_str());
    }
    // per-step time at batch 64 (information only, no assertion)
    auto p = plan(*m, {{m->graph.inputs[0].name, {64, 1, 28, 28}}}, {1, true});
    ASSERT_TRUE(p.ok()) << p.status().message();
    const Tensor big = random_input(rng, {64, 1, 28, 28}, -0.8f, 2.8f);
    for (int r = 0; r < 10; ++r) ASSERT_TRUE(p->run({{m->graph.inputs[0].name, big}}).ok());
    for (const auto& st : p->steps())
        std::printf(
            "%-40s %-28s %8.1f us\n", st.node.c_str(), st.kernel.substr(0, 28).c_str(),
            static_cast<double>(st.total_ns) / 1e3 / static_cast<double>(std::max<int64_t>(1, st.runs)));
}

}  // namespace
}  // namespace edgeq::runtime::fast
