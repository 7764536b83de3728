// Dynamic quantization on the fast path (runtime/fast/qfuse.h plan_qdynamic): DynamicQuantizeLinear ->
// MatMulInteger -> Cast -> Mul(·, Mul(x_scale, w_scale)) [-> Add bias], as `edgeq quantize --method dynamic`
// and ONNX Runtime's quantize_dynamic write it, against the reference executor on the same graph.
// The integer intermediates are bit-exact (dynamic_quantize_u8 vs the reference DynamicQuantizeLinear,
// checked byte for byte; the int32 accumulator of qgemm is exact). The float output is
// float(acc)·(x_scale·w_scale[n])
// [+ bias[n]], the graph's own order of operations, so it is equal except where the compiler contracts the
// multiply and add into an FMA on one side only: kDynRel bounds that (half an ulp of the product, relative).
// ConvInteger likewise (im2col, 1×1, one input plane, depthwise with u8 weights, groups; + bias + Relu).
// Awkward shapes: M = 1, K not a multiple of 4, N not a multiple of 16, batched rows [2, 3, K]; zero points
// non-zero (scalar and per column, int8 and uint8 B); inputs all zero, negative only, positive only.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "runtime/fast/executor.h"
#include "runtime/fast/qfuse.h"
#include "runtime/ref/executor.h"
#include "unit/runtime/attrs.h"

namespace edgeq::runtime::fast {
namespace {

using test::one_int;

constexpr float kDynRel = 1e-5f;  // float output vs the reference, relative to max(1, |ref|)

struct DynCase {
    Shape x;  // [.., K]
    int64_t N = 1;
    bool b_u8 = false;  // uint8 B (ONNX Runtime's weight_type=QUInt8)
    int zb = 0;         // B zero point (scalar), 0: none
    bool zb_per_column = false;
    bool ws_per_column = false;
    bool bias = false;
};

struct DynBuilder {
    graph::Model m;
    std::mt19937 rng{11};
    DynBuilder() {
        m.opsets[""] = 13;
        m.graph.name = "dynamic";
    }
    graph::Node& node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out) {
        graph::Node n;
        n.name = out[0] + "_node";
        n.op_type = op;
        n.inputs = std::move(in);
        n.outputs = std::move(out);
        m.graph.nodes.push_back(std::move(n));
        return m.graph.nodes.back();
    }
    void input(const std::string& name, const Shape& s, DType dt = DType::F32) {
        graph::ValueInfo vi;
        vi.name = name;
        vi.dtype = dt;
        vi.has_shape = true;
        for (int64_t d : s) vi.shape.push_back({d, ""});
        m.graph.inputs.push_back(vi);
    }
    void output(const std::string& name) {
        graph::ValueInfo vi;
        vi.name = name;
        m.graph.outputs.push_back(vi);
    }
    std::string dql(const std::string& x) {
        node("DynamicQuantizeLinear", {x}, {x + "_q", x + "_s", x + "_z"});
        return x;
    }
    // One layer reading DynamicQuantizeLinear(x); writes y. const_b = false: B is a graph input (not
    // fusable).
    void layer(const std::string& x, const std::string& y, int64_t K, const DynCase& c, bool const_b = true) {
        const int64_t N = c.N;
        const DType bt = c.b_u8 ? DType::U8 : DType::I8;
        Tensor b(bt, {K, N});
        std::uniform_int_distribution<int> d(c.b_u8 ? 0 : -127, c.b_u8 ? 255 : 127);
        for (int64_t i = 0; i < b.numel(); ++i) {
            if (c.b_u8)
                b.data<uint8_t>()[i] = static_cast<uint8_t>(d(rng));
            else
                b.data<int8_t>()[i] = static_cast<int8_t>(d(rng));
        }
        if (const_b)
            m.graph.initializers[y + "_B"] = b;
        else
            input(y + "_B", {K, N}, bt);
        std::vector<std::string> in = {x + "_q", y + "_B", x + "_z"};
        if (c.zb) {
            Tensor z(bt, c.zb_per_column ? Shape{N} : Shape{});
            for (int64_t i = 0; i < z.numel(); ++i) {
                const int v = c.zb + (c.zb_per_column ? static_cast<int>(i % 5) - 2 : 0);
                if (c.b_u8)
                    z.data<uint8_t>()[i] = static_cast<uint8_t>(v);
                else
                    z.data<int8_t>()[i] = static_cast<int8_t>(v);
            }
            m.graph.initializers[y + "_Bz"] = z;
            in.push_back(y + "_Bz");
        }
        node("MatMulInteger", in, {y + "_acc"});
        node("Cast", {y + "_acc"}, {y + "_accf"}).attrs["to"] = one_int(1);
        Tensor ws(DType::F32, c.ws_per_column ? Shape{N} : Shape{});
        std::uniform_real_distribution<float> sd(0.001f, 0.03f);
        for (int64_t i = 0; i < ws.numel(); ++i) ws.data<float>()[i] = sd(rng);
        m.graph.initializers[y + "_ws"] = ws;
        node("Mul", {x + "_s", y + "_ws"}, {y + "_scale"});
        node("Mul", {y + "_accf", y + "_scale"}, {c.bias ? y + "_scaled" : y});
        if (c.bias) {
            Tensor bias(DType::F32, {N});
            std::uniform_real_distribution<float> bd(-1.0f, 1.0f);
            for (int64_t i = 0; i < N; ++i) bias.data<float>()[i] = bd(rng);
            m.graph.initializers[y + "_bias"] = bias;
            node("Add", {y + "_scaled", y + "_bias"}, {y});
        }
    }
};

struct ConvCase {
    Shape x;  // [N, C, H, W]
    int64_t OC = 1, k = 3, stride = 1, pad = 0, group = 1;
    bool w_u8 = false;
    int zw = 0;
    bool per_channel = false;  // w_scale and zero point per output channel
};

// DynamicQuantizeLinear(x) -> ConvInteger -> Cast -> Mul(·, Mul(x_scale, w_scale [OC, 1, 1])) -> Add(bias
// [OC, 1, 1]) -> Relu, as run_dynamic writes a Conv.
void conv_layer(DynBuilder& b, const ConvCase& c) {
    const int64_t C = c.x[1], OC = c.OC;
    const DType wt = c.w_u8 ? DType::U8 : DType::I8;
    Tensor w(wt, {OC, C / c.group, c.k, c.k});
    std::uniform_int_distribution<int> d(c.w_u8 ? 0 : -127, c.w_u8 ? 255 : 127);
    for (int64_t i = 0; i < w.numel(); ++i) {
        if (c.w_u8)
            w.data<uint8_t>()[i] = static_cast<uint8_t>(d(b.rng));
        else
            w.data<int8_t>()[i] = static_cast<int8_t>(d(b.rng));
    }
    b.m.graph.initializers["W"] = w;
    std::vector<std::string> in = {"x_q", "W", "x_z"};
    if (c.zw) {
        Tensor z(wt, c.per_channel ? Shape{OC} : Shape{});
        for (int64_t i = 0; i < z.numel(); ++i) {
            const int v = c.zw + (c.per_channel ? static_cast<int>(i % 3) - 1 : 0);
            if (c.w_u8)
                z.data<uint8_t>()[i] = static_cast<uint8_t>(v);
            else
                z.data<int8_t>()[i] = static_cast<int8_t>(v);
        }
        b.m.graph.initializers["Wz"] = z;
        in.push_back("Wz");
    }
    graph::Node& cv = b.node("ConvInteger", in, {"acc"});
    cv.attrs["kernel_shape"] = test::ints({c.k, c.k});
    cv.attrs["strides"] = test::ints({c.stride, c.stride});
    cv.attrs["pads"] = test::ints({c.pad, c.pad, c.pad, c.pad});
    cv.attrs["group"] = one_int(c.group);
    b.node("Cast", {"acc"}, {"accf"}).attrs["to"] = one_int(1);
    Tensor ws(DType::F32, c.per_channel ? Shape{OC, 1, 1} : Shape{});
    Tensor bias(DType::F32, {OC, 1, 1});
    std::uniform_real_distribution<float> sd(0.001f, 0.03f), bd(-1.0f, 1.0f);
    for (int64_t i = 0; i < ws.numel(); ++i) ws.data<float>()[i] = sd(b.rng);
    for (int64_t i = 0; i < OC; ++i) bias.data<float>()[i] = bd(b.rng);
    b.m.graph.initializers["ws"] = ws;
    b.m.graph.initializers["bias"] = bias;
    b.node("Mul", {"x_s", "ws"}, {"scale"});
    b.node("Mul", {"accf", "scale"}, {"scaled"});
    b.node("Add", {"scaled", "bias"}, {"biased"});
    b.node("Relu", {"biased"}, {"y"});
}

// Runs both executors; every output within kDynRel. Returns the plan's trace.
std::string expect_matches(const graph::Model& m, const std::map<std::string, Tensor>& inputs, int threads) {
    Shapes shapes;
    for (const auto& [k, v] : inputs) shapes[k] = v.shape();
    auto ref = run_reference(m, inputs);
    EXPECT_TRUE(ref.ok()) << ref.status().message();
    if (!ref.ok()) return "";
    auto p = plan(m, shapes, {threads, false});
    EXPECT_TRUE(p.ok()) << p.status().message();
    if (!p.ok()) return "";
    const std::string trace = p->trace();
    for (int rep = 0; rep < 2; ++rep) {  // the step's per-run state (x bytes, scale) is rewritten each run
        auto got = p->run(inputs);
        EXPECT_TRUE(got.ok()) << got.status().message();
        if (!got.ok()) return trace;
        for (const auto& [name, want] : *ref) {
            const Tensor& g = got->at(name);
            EXPECT_EQ(g.shape(), want.shape()) << name;
            if (g.shape() != want.shape()) return trace;
            const auto a = want.to_f32(), b = g.to_f32();
            for (size_t i = 0; i < a.size(); ++i) {
                if (!(std::fabs(a[i] - b[i]) <= kDynRel * std::max(1.0f, std::fabs(a[i])))) {
                    ADD_FAILURE() << name << "[" << i << "] threads " << threads << ": expected " << a[i]
                                  << ", got " << b[i] << "\n"
                                  << trace;
                    return trace;
                }
            }
        }
    }
    return trace;
}

Tensor make_input(std::mt19937& rng, const Shape& s, float lo, float hi) {
    Tensor t(DType::F32, s);
    std::uniform_real_distribution<float> d(lo, hi);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = lo == hi ? lo : d(rng);
    return t;
}

int count(const std::string& s, const std::string& sub) {
    int c = 0;
    for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + 1)) ++c;
    return c;
}

TEST(FastDynamic, MatMulIntegerShapesAndZeroPoints) {
    const std::vector<DynCase> cases = {
        {{1, 5}, 3},
        {{1, 7}, 10, false, 3, false, true, true},
        {{3, 13}, 17, false, -5, true, true, true},
        {{2, 3, 9}, 20, true, 128, false, false, true},
        {{4, 33}, 40, true, 120, true, true, false},
        {{64, 70}, 33, false, 0, false, true, true},
    };
    std::mt19937 rng(5);
    for (const DynCase& c : cases) {
        DynBuilder b;
        b.input("x", c.x);
        b.dql("x");
        b.layer("x", "y", c.x.back(), c);
        b.output("y");
        // mixed signs, negative only, positive only, all zero, one tiny value
        const std::vector<std::pair<float, float>> ranges = {
            {-2.f, 3.f}, {-4.f, -0.5f}, {0.25f, 1.f}, {0.f, 0.f}};
        for (const auto& [lo, hi] : ranges) {
            for (int threads : {1, 2}) {
                SCOPED_TRACE(shape_str(c.x) + " N=" + std::to_string(c.N) + " range " + std::to_string(lo) +
                             ".." + std::to_string(hi));
                const std::string trace = expect_matches(b.m, {{"x", make_input(rng, c.x, lo, hi)}}, threads);
                EXPECT_EQ(count(trace, "qdynamic_matmul_u8s8"), 1) << trace;
                EXPECT_EQ(count(trace, "  ref"), 0)
                    << trace;  // the DynamicQuantizeLinear does not run either
                EXPECT_NE(trace.find(c.bias ? "Cast+Mul+Add" : "Cast+Mul"), std::string::npos) << trace;
            }
        }
    }
}

TEST(FastDynamic, ConvIntegerGeometries) {
    const std::vector<std::pair<ConvCase, const char*>> cases = {
        {{{1, 3, 7, 6}, 5, 3, 1, 1}, "qconv_nhwc_u8s8"},                                 // im2col, K = 27
        {{{2, 4, 7, 6}, 5, 3, 2, 1, 1, false, 5}, "qconv_nhwc_u8s8 (windows in place"},  // KW·C = 12, zw 5
        {{{2, 4, 5, 5}, 18, 1}, "qconv1x1_nhwc_u8s8"},                                   // pointwise, N = 18
        {{{1, 1, 9, 9}, 6, 5, 1, 2, 1, false, 3, true}, "qconv_c1_u8s8"},                // one input plane
        {{{2, 4, 8, 7}, 4, 3, 2, 1, 4, true, 130, true}, "qdwconv_u8s8"},      // depthwise, u8 W, stride 2
        {{{1, 6, 6, 6}, 4, 3, 1, 0, 2, false, -3, false}, "qconv_nhwc_u8s8"},  // 2 groups
    };
    std::mt19937 rng(21);
    for (const auto& [c, kernel] : cases) {
        DynBuilder b;
        b.input("x", c.x);
        b.dql("x");
        conv_layer(b, c);
        b.output("y");
        for (const auto& [lo, hi] :
             std::vector<std::pair<float, float>>{{-1.f, 2.f}, {-3.f, -1.f}, {0.f, 0.f}}) {
            for (int threads : {1, 2}) {
                SCOPED_TRACE(shape_str(c.x) + " OC=" + std::to_string(c.OC) + " range " + std::to_string(lo));
                const std::string trace = expect_matches(b.m, {{"x", make_input(rng, c.x, lo, hi)}}, threads);
                EXPECT_NE(trace.find(std::string("qdynamic_conv_u8s8 via ") + kernel), std::string::npos)
                    << trace;
                EXPECT_NE(trace.find("ConvInteger+Cast+Mul+Add+Relu"), std::string::npos) << trace;
                EXPECT_EQ(count(trace, "\n"), 1) << trace;
            }
        }
    }
}

// One plan, runs whose inputs have other ranges: the run-time zero point changes, and the padded image's
// borders (written once, pad_borders) must follow it.
TEST(FastDynamic, ConvZeroPointChangesBetweenRuns) {
    const ConvCase c{{1, 4, 7, 6}, 5, 3, 1, 1};  // (KW·C = 12: the windows are read in place)
    DynBuilder b;
    b.input("x", c.x);
    b.dql("x");
    conv_layer(b, c);
    b.output("y");
    std::mt19937 rng(23);
    for (int threads : {1, 2}) {
        auto p = plan(b.m, {{"x", c.x}}, {threads, false});
        ASSERT_TRUE(p.ok()) << p.status().message();
        for (const auto& [lo, hi] :
             std::vector<std::pair<float, float>>{{-1.f, 2.f}, {-3.f, -1.f}, {0.5f, 3.f}, {-1.f, 2.f}}) {
            const std::map<std::string, Tensor> in = {{"x", make_input(rng, c.x, lo, hi)}};
            auto want = run_reference(b.m, in);
            ASSERT_TRUE(want.ok());
            auto got = p->run(in);
            ASSERT_TRUE(got.ok());
            const auto a = want->at("y").to_f32(), g = got->at("y").to_f32();
            for (size_t i = 0; i < a.size(); ++i)
                ASSERT_LE(std::fabs(a[i] - g[i]), kDynRel * std::max(1.0f, std::fabs(a[i])))
                    << "range " << lo << " at " << i;
        }
    }
}

TEST(FastDynamic, SharedInputTwoLayersAndMlp) {
    // x feeds two MatMulIntegers through one DynamicQuantizeLinear (both fused, it is absorbed); then a
    // second dynamic layer on Relu of the first: an MLP as `edgeq quantize --method dynamic` writes it.
    DynBuilder b;
    b.input("x", {2, 11});
    b.dql("x");
    b.layer("x", "h", 11, {{2, 11}, 24, false, 0, false, true, true});
    b.layer("x", "side", 11, {{2, 11}, 5, false, 0, false, false, false});
    b.node("Relu", {"h"}, {"hr"});
    b.dql("hr");
    b.layer("hr", "y", 24, {{2, 24}, 10, false, 0, false, true, true});
    b.output("y");
    b.output("side");
    std::mt19937 rng(9);
    const std::string trace = expect_matches(b.m, {{"x", make_input(rng, {2, 11}, -1, 1)}}, 1);
    EXPECT_EQ(count(trace, "qdynamic_matmul_u8s8"), 3) << trace;
    EXPECT_EQ(count(trace, "  DynamicQuantizeLinear  "), 0) << trace;
}

TEST(FastDynamic, FallsBackWhenBIsNotConstant) {
    DynBuilder b;
    b.input("x", {3, 6});
    b.dql("x");
    DynCase c{{3, 6}, 4};
    b.layer("x", "y", 6, c, false);
    b.output("y");
    std::mt19937 rng(3);
    Tensor bt(DType::I8, {6, 4});
    for (int64_t i = 0; i < bt.numel(); ++i)
        bt.data<int8_t>()[i] = static_cast<int8_t>(static_cast<int>(i * 37 % 255) - 127);
    const std::string trace = expect_matches(b.m, {{"x", make_input(rng, {3, 6}, -1, 2)}, {"y_B", bt}}, 1);
    EXPECT_EQ(count(trace, "qdynamic_matmul_u8s8"), 0) << trace;
    EXPECT_NE(trace.find("no integer step: B not a constant"), std::string::npos) << trace;
}

// dynamic_quantize_u8 against the reference DynamicQuantizeLinear, byte for byte (scale and zero point too),
// on values that land on .5 ties, negative-only, positive-only, all-zero, NaN and +inf inputs (−inf makes
// the reference's zero point NaN, cast to an integer: undefined, so not compared).
TEST(FastDynamic, DynamicQuantizeMatchesReference) {
    std::mt19937 rng(1);
    std::vector<std::vector<float>> inputs = {
        {0.f, 0.f, 0.f},
        {-1.f, -2.f, -0.5f},
        {1.f, 2.f, 0.5f, 3.f},
        {-255.f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 127.5f, 0.f},  // scale 1 with ties
        {-3.f, std::nanf(""), 2.f},
        {1.f, std::numeric_limits<float>::infinity(), -1.f},
        {1e-40f, -1e-41f, 0.f},  // subnormal range
    };
    std::vector<float> ties(
        48);  // scale exactly 1 (range 255), every other value a .5 tie, in 16-wide blocks
    for (size_t i = 0; i < ties.size(); ++i) ties[i] = -127.5f + 5.5f * static_cast<float>(i % 47);
    ties[47] = 127.5f;
    inputs.push_back(ties);
    std::vector<float> big(1001);
    std::uniform_real_distribution<float> d(-7.f, 3.f);
    for (float& v : big) v = d(rng);
    inputs.push_back(big);
    for (const auto& v : inputs) {
        const int64_t n = static_cast<int64_t>(v.size());
        DynBuilder b;
        b.input("x", {n});
        b.dql("x");
        b.output("x_q");
        b.output("x_s");
        b.output("x_z");
        auto ref = run_reference(b.m, {{"x", Tensor::from_vector<float>(DType::F32, {n}, v)}});
        ASSERT_TRUE(ref.ok()) << ref.status().message();
        std::vector<uint8_t> q(v.size());
        float scale = 0;
        int32_t zero = -1;
        dynamic_quantize_u8(v.data(), n, q.data(), &scale, &zero);
        const Tensor& rq = ref->at("x_q");
        EXPECT_EQ(scale, ref->at("x_s").data<float>()[0]) << v[0];
        EXPECT_EQ(zero, ref->at("x_z").data<uint8_t>()[0]) << v[0];
        for (int64_t i = 0; i < n; ++i)
            ASSERT_EQ(q[static_cast<size_t>(i)], rq.data<uint8_t>()[i]) << "n " << n << " i " << i;
    }
}

}  // namespace
}  // namespace edgeq::runtime::fast
