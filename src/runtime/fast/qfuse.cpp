#include "runtime/fast/qfuse.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "core/check.h"
#include "core/cpu.h"
#include "kernels/qconv.h"
#include "kernels/qgemm.h"
#include "runtime/fast/thread_pool.h"
#include "runtime/ref/op.h"

namespace edgeq::runtime::fast {

namespace k = edgeq::kernels;

struct QStep {
    enum class Mode : uint8_t { Gemm, Conv, DwConv, MaxPool, AvgPool, Lut, Add, Concat };
    Mode mode = Mode::Gemm;
    bool conv = false;
    const k::QKernelRow* row = nullptr;
    std::vector<Tensor> packed;         // per group (Gemm: one), qpack_b
    std::vector<int32_t> bias, b_zero;  // [OC]; b_zero empty when all zero
    std::vector<float> multiplier, b_scale, bias_f;
    float a_scale = 1.0f;
    bool a_signed = false;
    int32_t a_zero = 0;
    k::QOut out = k::QOut::F32;
    int32_t y_zero = 0, y_min = 0, y_max = 255;
    k::Activation act;
    // Gemm / MatMul
    int64_t M = 0, N = 0, K = 0;
    // Conv
    int64_t batch = 1, C = 0, H = 0, W = 0, OC = 0, OH = 0, OW = 0, KH = 1, KW = 1, SH = 1, SW = 1, PT = 0,
            PL = 0, DH = 1, DW = 1, G = 1;
    int64_t splits = 1;
    bool pointwise = false;                  // 1×1, stride 1, no padding: A is the NHWC image
    static constexpr int64_t kChunk = 128;   // conv pixels per im2col + qgemm block (64: vgg_bn INT8 batch 64 7.2 ms, 128: 6.9)
    static constexpr int64_t kC1MaxOC = 16;  // 1-input-channel convs up to this many outputs: qdwconv
    bool one_input = false;                  // DwConv of a 1-channel Conv (every output reads plane 0)
    bool vec_act = false;                    // DwConv F32 output: kernels::activate_f32 after qdwconv
    std::vector<std::vector<uint8_t>> work;  // per thread (conv)
    std::vector<uint8_t> nhwc;  // conv: the input images in NHWC order, padded with the zero point
    int32_t pad_zero = INT32_MIN;  // the byte nhwc's borders hold (pad_borders); INT32_MIN: not written yet
    int64_t hp = 0, wp = 0;     // padded image rows / columns (the conv's pads + what taps reach)
    std::vector<int8_t> dw_w;   // depthwise weights [C][KH][KW]
    k::QMaxPoolArgs mp;         // max pooling geometry
    bool mp_nhwc = false;       // MaxPool on NHWC bytes (kernels::qmaxpool_nhwc); an NCHW side via nhwc / ybuf
    k::QAvgPoolArgs ap;         // average pooling geometry and requantization
    std::vector<uint8_t> lut;   // Lut: the 256 output bytes
    int64_t lut_n = 0;          // Lut: elements
    bool dynamic = false;       // Gemm of a DynamicQuantizeLinear -> MatMulInteger chain: x is float
    std::vector<uint8_t> xq;    // dynamic: x quantized per run (a_scale / a_zero set per run)
    // layout (qstep_set_layout): x / y bytes in NHWC order
    bool in_nhwc = false, out_nhwc = false;
    QStep* y_into = nullptr;    // qstep_write_into_padded: the output rows go into this conv's padded image
    bool x_prepadded = false;   // qstep_write_into_padded: nhwc's interior is written by the producer
    bool out_hwc = false;           // Conv, F32 output [N, OH, OW, OC]: an absorbed Transpose(0, 2, 3, 1)
    bool dw_nhwc = false;           // DwConv on the padded NHWC copy (kernels::qdwconv_nhwc)
    std::vector<int16_t> dwn_w;     // dw_nhwc: weights [KH·KW][C] − zw
    std::vector<int32_t> dwn_bias;  // dw_nhwc: bias − zx·Σw
    std::vector<uint8_t> ybuf;  // dw_nhwc / direct with an NCHW output: the NHWC result before its transpose
    bool direct = false;        // Conv with few input channels: kernels::qconv_direct on the padded NHWC copy
    std::vector<int8_t> dc_w;   // direct: packed weights (qconv_direct_pack)
    std::vector<int32_t> dc_bias;                 // direct: bias − zx·Σw
    static constexpr int64_t kDirectMaxRow = 32;  // direct when Cg·KW bytes of a window row fit 8 groups of 4
    // Conv whose window runs (KW·C bytes when DW is 1 and one group, else Cg) are multiples of 4 bytes: the qgemm
    // reads each pixel's window in the padded NHWC image (QGemmArgs::a_rows / a_koff) instead of an im2col
    // copy; koff[j] = the byte offset of k-group j from the window origin
    std::vector<int32_t> koff;
    std::vector<std::vector<const uint8_t*>> org;  // koff: per thread, the kChunk window origins of a block
    k::QAddArgs qa;                    // Add: parameters (a, b, y, n set per run)
    int64_t cat_outer = 0;             // Concat: blocks before the axis
    std::vector<int64_t> cat_bytes;    // Concat: bytes of one block of each input
    // Concat of 4-D tensors along axis 1: the pixels (N·H·W) and each input's channels, for the NHWC layout
    int64_t cat_pixels = 0;
    std::vector<int64_t> cat_channels;
    bool c1p = false;            // one_input, requantized, stride 1: kernels::qconv_c1 (pixel lanes, vpdpbusd)
    std::vector<int32_t> c1_w;   // c1p: qconv_c1_pack weights (bias0 in dc_bias)
};

void QStepDeleter::operator()(QStep* s) const {
    delete s;
}

namespace {

const Tensor* q_init_of(const graph::Graph& g, const std::string& name) {
    auto it = g.initializers.find(name);
    return it == g.initializers.end() ? nullptr : &it->second;
}

// A constant scalar (numel 1) input of a Q/DQ node.
bool scalar_f32(const graph::Graph& g, const graph::Node& n, size_t i, float* v) {
    if (i >= n.inputs.size() || n.inputs[i].empty()) return false;
    const Tensor* t = q_init_of(g, n.inputs[i]);
    if (!t || t->dtype() != DType::F32 || t->numel() != 1) return false;
    *v = t->data<float>()[0];
    return true;
}

// Zero point (optional input 2) as int: absent -> 0 with dtype `dflt`.
bool scalar_zero(const graph::Graph& g, const graph::Node& n, int32_t* z, DType* dt, DType dflt) {
    *z = 0;
    *dt = dflt;
    if (n.inputs.size() < 3 || n.inputs[2].empty()) return true;
    const Tensor* t = q_init_of(g, n.inputs[2]);
    if (!t || t->numel() != 1) return false;
    *dt = t->dtype();
    if (t->dtype() == DType::U8)
        *z = t->data<uint8_t>()[0];
    else if (t->dtype() == DType::I8)
        *z = t->data<int8_t>()[0];
    else
        return false;
    return true;
}

// The planners' "not fused" result: why, and no step.
QFusion refused(QFusion& r, std::string why) {
    r.why = std::move(why);
    r.step.reset();
    return std::move(r);
}

bool is_op(const graph::Node* n, const char* op) {
    return n && n->domain.empty() && n->op_type == op;
}

// ONNX QuantizeLinear of one float (round half to even, saturate).
int32_t quantize_one(float v, float scale, int32_t zero, int32_t qmin, int32_t qmax) {
    const float q = std::nearbyint(v / scale) + static_cast<float>(zero);
    return static_cast<int32_t>(std::clamp(q, static_cast<float>(qmin), static_cast<float>(qmax)));
}

struct Act {
    bool ok = false;
    k::Activation a;
    float lo = -INFINITY, hi = INFINITY;  // Relu / Clip bounds (for requantization)
    bool bounded = false;                 // None, Relu or Clip
};

Act act_from_name(const std::string& name, const std::vector<float>& p) {
    Act r;
    r.ok = true;
    if (name.empty()) {
        r.bounded = true;
    } else if (name == "Relu") {
        r.a.kind = k::Act::Relu;
        r.lo = 0;
        r.bounded = true;
    } else if (name == "Clip") {
        r.lo = p.size() > 0 ? p[0] : -INFINITY;
        r.hi = p.size() > 1 ? p[1] : INFINITY;
        r.a = {k::Act::Clip, r.lo, r.hi};
        r.bounded = true;
    } else if (name == "Sigmoid") {
        r.a.kind = k::Act::Sigmoid;
    } else if (name == "Tanh") {
        r.a.kind = k::Act::Tanh;
    } else if (name == "HardSwish") {
        r.a.kind = k::Act::HardSwish;
    } else if (name == "LeakyRelu") {
        r.a = {k::Act::LeakyRelu, p.size() > 0 ? p[0] : 0.01f, 0};
    } else if (name == "HardSigmoid") {
        r.a = {k::Act::HardSigmoid, p.size() > 0 ? p[0] : 0.2f, p.size() > 1 ? p[1] : 0.5f};
    } else {
        r.ok = false;
    }
    return r;
}

// A standalone activation node the qgemm epilogue applies (Clip with constant bounds). Only Relu / Clip
// (bounded) can precede a fused Q; the others are fused into a float output.
Act act_node(const graph::Graph& g, const graph::Node& n) {
    if (!n.domain.empty()) return {};
    if (n.op_type == "Relu" || n.op_type == "Sigmoid" || n.op_type == "Tanh" || n.op_type == "HardSwish")
        return act_from_name(n.op_type, {});
    if (n.op_type == "LeakyRelu") return act_from_name("LeakyRelu", {n.attr_f("alpha", 0.01f)});
    if (n.op_type == "HardSigmoid")
        return act_from_name("HardSigmoid", {n.attr_f("alpha", 0.2f), n.attr_f("beta", 0.5f)});
    if (!is_op(&n, "Clip")) return {};
    float lo = n.attr_f("min", -INFINITY), hi = n.attr_f("max", INFINITY);
    for (size_t i = 1; i < n.inputs.size() && i < 3; ++i) {
        if (n.inputs[i].empty()) continue;
        float v;
        if (!scalar_f32(g, n, i, &v)) return {};
        (i == 1 ? lo : hi) = v;
    }
    return act_from_name("Clip", {lo, hi});
}

// Conv geometry (x [N, C, H, W], y [N, OC, OH, OW], w [OC, C/G, KH, KW], attributes of n) into s; depthwise
// and 1-input-channel convs become DwConv. Returns why not, or "".
std::string conv_geometry(const graph::Node& n, const Shape& xs, const Shape& ys, const Tensor& wq, QStep& s) {
    if (xs.size() != 4 || ys.size() != 4 || wq.rank() != 4) return "not 2-D";
    const int64_t G = n.attr_i("group", 1);
    const auto st = n.attr_ints("strides", {1, 1}), dl = n.attr_ints("dilations", {1, 1});
    s.batch = xs[0], s.C = xs[1], s.H = xs[2], s.W = xs[3];
    s.OC = ys[1], s.OH = ys[2], s.OW = ys[3];
    s.G = G;
    if (G < 1 || s.C % G || s.OC % G || wq.dim(0) != s.OC || wq.dim(1) != s.C / G || st.size() != 2 ||
        dl.size() != 2 || ys[0] != s.batch)
        return "conv geometry";
    if (s.C / G == 1 && G > 1 && !(G == s.C && s.OC == s.C))
        return "depthwise with a channel multiplier";
    if (s.C / G == 1 && G > 1) s.mode = QStep::Mode::DwConv;
    // one input channel, few outputs (lenet5's first conv: K = 25, N = 6, mostly padding in a qgemm
    // tile): OC depthwise filters over the same plane (qdwconv one_input)
    if (G == 1 && s.C == 1 && s.OC <= QStep::kC1MaxOC) {
        s.mode = QStep::Mode::DwConv;
        s.one_input = true;
    }
    s.KH = wq.dim(2), s.KW = wq.dim(3), s.SH = st[0], s.SW = st[1], s.DH = dl[0], s.DW = dl[1];
    const std::string auto_pad = n.attr_s("auto_pad", "NOTSET");
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
        const int64_t th = std::max<int64_t>(0, (s.OH - 1) * s.SH + (s.KH - 1) * s.DH + 1 - s.H);
        const int64_t tw = std::max<int64_t>(0, (s.OW - 1) * s.SW + (s.KW - 1) * s.DW + 1 - s.W);
        const bool upper = auto_pad == "SAME_UPPER";
        s.PT = upper ? th / 2 : th - th / 2;
        s.PL = upper ? tw / 2 : tw - tw / 2;
    } else if (auto_pad == "NOTSET") {
        const auto p = n.attr_ints("pads", {0, 0, 0, 0});
        if (p.size() != 4) return "pads";
        s.PT = p[0], s.PL = p[1];
    }
    return "";
}

// Weights of a Conv planned by conv_geometry (int8 [OC][C/G][KH][KW], K = C/G·KH·KW per output) packed for
// its mode, scratch, thread split, flops and kernel name; s.row, s.out and s.act already set.
void conv_pack(QStep& s, const int8_t* w, int64_t Kdim, const QFuseArgs& a, QFusion& r) {
    if (s.mode == QStep::Mode::DwConv) {
        s.dw_w.assign(w, w + s.OC * s.KH * s.KW);
        s.conv = true;
        r.flops = 2 * s.batch * s.OC * s.OH * s.OW * Kdim;
        // one input plane, stride 1, requantized, weights without zero points: output pixels in the vector lanes
        // (kernels::qconv_c1, where AVX-512 VNNI and VBMI run; lenet5's first conv)
        if (s.one_input && s.out != k::QOut::F32 && s.b_zero.empty() && !s.dynamic && s.SH == 1 && s.SW == 1 &&
            s.DH == 1 && s.DW == 1 && s.KW <= k::kQConvC1MaxKW && s.OC <= k::kQConvC1MaxOC && k::qconv_c1_vector()) {
            s.c1p = true;
            s.hp = std::max(s.PT + s.H, s.OH + s.KH - 1);
            s.wp = std::max(s.PL + s.W, s.OW + s.KW - 1);
            s.c1_w.resize(static_cast<size_t>(s.KH * k::qconv_c1_groups(s.KW) * s.OC));
            s.dc_bias.resize(static_cast<size_t>(s.OC));
            k::qconv_c1_pack(w, s.bias.empty() ? nullptr : s.bias.data(), s.a_zero, s.a_signed, s.OC, s.KH, s.KW,
                             s.c1_w.data(), s.dc_bias.data());
            s.work.assign(static_cast<size_t>(std::max(1, a.threads)),
                          std::vector<uint8_t>(static_cast<size_t>(k::qconv_c1_x_bytes(s.hp, s.wp))));
            const bool big = a.threads > 1 && r.flops / std::max<int64_t>(s.batch, 1) >= a.parallel_flops;
            s.splits = big && s.batch < a.threads ? std::min<int64_t>(a.threads, s.OH) : 1;
            r.kernel = "qconv_c1_u8s8 (vpdpbusd, 16 pixels per vector)";
            return;
        }
        const bool big = a.threads > 1 && r.flops / std::max<int64_t>(s.batch, 1) >= a.parallel_flops;
        s.splits = big && s.batch < a.threads ? std::min<int64_t>(a.threads, s.OC) : 1;
        k::QDwConvArgs d;
        d.H = s.H, d.W = s.W, d.OH = s.OH, d.OW = s.OW, d.KH = s.KH, d.KW = s.KW, d.SH = s.SH, d.SW = s.SW;
        d.PT = s.PT, d.PL = s.PL, d.DH = s.DH, d.DW = s.DW;
        // the plane path's scratch, per thread, for stride 1 unless it would be large, and for other equal
        // strides on small planes (stride 2 measured faster on the row path at 32×120×160, 245 vs 290 µs, but
        // 2× slower at 128×15×20, where the row path's per-row loops are short; rows use the stack)
        const int64_t wb = k::qdwconv_work_bytes(d);
        const bool plane = (s.SH == 1 && s.SW == 1 && wb <= (int64_t{1} << 20)) ||
                           (s.SH == s.SW && wb <= (int64_t{32} << 10));
        s.work.assign(static_cast<size_t>(std::max(1, a.threads)),
                      std::vector<uint8_t>(plane ? static_cast<size_t>(wb) : 0));
        r.kernel = s.one_input ? "qconv_c1_u8s8 (qdwconv, one input plane)" : "qdwconv_u8s8";
        // a float epilogue's Sigmoid / Tanh / ...: vectorized afterwards (qdwconv's activate() is scalar)
        s.vec_act = s.out == k::QOut::F32 && s.act.kind != k::Act::None;
    } else {
        s.mode = QStep::Mode::Conv;
        const int64_t OCg = s.OC / s.G, Cg = s.C / s.G;
        std::vector<int8_t> wr(static_cast<size_t>(s.OC * Kdim));
        k::conv_weights_hwc(w, s.OC, Cg, s.KH, s.KW, wr.data());
        for (int64_t gi = 0; gi < s.G; ++gi) {
            Tensor p(DType::U8, {k::qpack_b_bytes(Kdim, OCg)});
            k::qpack_b(wr.data() + gi * OCg * Kdim, false, 1, Kdim, Kdim, OCg, p.data<uint8_t>());
            s.packed.push_back(std::move(p));
        }
        s.conv = true;
        s.pointwise = s.KH == 1 && s.KW == 1 && s.SH == 1 && s.SW == 1 && s.PT == 0 && s.PL == 0 &&
                      s.OH == s.H && s.OW == s.W;
        // padded NHWC copy (im2col then never bounds-checks): top / left pads, bottom / right as far as taps
        // reach
        if (!s.pointwise) {
            s.hp = std::max(s.PT + s.H, (s.OH - 1) * s.SH + (s.KH - 1) * s.DH + 1);
            s.wp = std::max(s.PL + s.W, (s.OW - 1) * s.SW + (s.KW - 1) * s.DW + 1);
        } else {
            s.hp = s.H, s.wp = s.W;
        }
        // + 64: qconv_direct reads up to 3 bytes past the last image
        if (s.C > 1 || !s.pointwise) s.nhwc.resize(static_cast<size_t>(s.batch * s.C * s.hp * s.wp + 64));
        // few input channels, one group, weights without zero points, requantized output: no im2col (lenet5's
        // second conv, ultraface's first)
        s.direct = !s.pointwise && s.G == 1 && s.DW == 1 && s.C * s.KW <= QStep::kDirectMaxRow &&
                   s.b_zero.empty() && !s.dynamic && s.out != k::QOut::F32 && active_isa() >= Isa::Avx512Vnni;
        const int64_t P = s.OH * s.OW;
        r.flops = 2 * s.batch * s.OC * P * Kdim;
        const bool big = a.threads > 1 && r.flops >= a.parallel_flops;
        s.splits = big && s.batch * s.G < a.threads
                       ? std::min<int64_t>(a.threads, std::max<int64_t>(1, P / QStep::kChunk))
                       : 1;
        if (s.direct) {
            s.packed.clear();
            s.dc_w.resize(static_cast<size_t>(k::qconv_direct_w_bytes(s.C, s.OC, s.KH, s.KW)));
            s.dc_bias.resize(static_cast<size_t>((s.OC + 15) / 16 * 16));
            k::qconv_direct_pack(w, s.bias.empty() ? nullptr : s.bias.data(), s.a_zero, s.a_signed, s.C, s.OC,
                                 s.KH, s.KW, s.dc_w.data(), s.dc_bias.data());
            s.ybuf.resize(static_cast<size_t>(s.batch * s.OC * P));  // until the output is NHWC
            r.kernel = "qconv_direct_nhwc_u8s8 (vpdpbusd, no im2col)";
            return;
        }
        // windows read in place: k = (ky·KW + kx)·Cg + c is byte c of pixel (ky·DH, kx·DW) of the window in the
        // padded NHWC image; a group of 4 k must not straddle two runs of contiguous bytes
        const int64_t run = s.DW == 1 && s.G == 1 ? s.KW * s.C : Cg;
        if (!s.pointwise && run % 4 == 0) {
            s.koff.resize(static_cast<size_t>(Kdim / 4));
            for (int64_t j = 0; j < Kdim / 4; ++j) {
                const int64_t k = 4 * j, ky = k / (s.KW * Cg), kx = k / Cg % s.KW, c = k % Cg;
                s.koff[static_cast<size_t>(j)] = static_cast<int32_t>((ky * s.DH * s.wp + kx * s.DW) * s.C + c);
            }
            s.org.assign(static_cast<size_t>(std::max(1, a.threads)),
                         std::vector<const uint8_t*>(static_cast<size_t>(QStep::kChunk)));
        }
        const size_t ws = static_cast<size_t>(QStep::kChunk * Kdim + QStep::kChunk * OCg * 4 + 128);
        s.work.assign(static_cast<size_t>(std::max(1, a.threads)), std::vector<uint8_t>(ws));
        r.kernel = std::string(s.pointwise        ? "qconv1x1_nhwc_u8s8 "
                               : s.koff.empty() ? "qconv_nhwc_u8s8 "
                                                : "qconv_nhwc_u8s8 (windows in place, no im2col) ") +
                   s.row->name;
    }
}

}  // namespace

QFusion plan_qfusion(const QFuseArgs& a) {
    QFusion r;
    const graph::Graph& g = *a.graph;
    const graph::Node& n = *a.node;
    auto refuse = [&](std::string why) { return refused(r, std::move(why)); };
    const bool edgeq = n.domain == "com.edgeq";
    if (!n.domain.empty() && !edgeq) return refuse("domain");
    std::string op = n.op_type;
    if (edgeq) {
        if (op.rfind("Fused", 0) != 0) return refuse("op");
        op = op.substr(5);
    }
    const bool is_conv = op == "Conv", is_gemm = op == "Gemm", is_matmul = op == "MatMul";
    if (!is_conv && !is_gemm && !is_matmul) return refuse("op");
    if (n.inputs.size() < 2 || n.outputs.size() != 1 || n.inputs[0].empty() || n.inputs[1].empty())
        return refuse("inputs");

    // ---- activation input: DQ(x_q, sx, zx)
    const graph::Node* dqx = a.producer(n.inputs[0]);
    if (!is_op(dqx, "DequantizeLinear") || dqx->inputs.empty() || dqx->inputs[0].empty())
        return refuse("input not DQ");
    float sx;
    int32_t zx;
    DType xdt, zxdt;
    if (!scalar_f32(g, *dqx, 1, &sx) || !(sx > 0) || !std::isfinite(sx)) return refuse("input scale");
    if (!a.dtype_of(dqx->inputs[0], &xdt) || (xdt != DType::U8 && xdt != DType::I8))
        return refuse("input not u8/s8");
    if (!scalar_zero(g, *dqx, &zx, &zxdt, xdt) || zxdt != xdt) return refuse("input zero point");
    const Shape* xs = a.shape_of(dqx->inputs[0]);
    const Shape* ys0 = a.shape_of(n.outputs[0]);
    if (!xs || !ys0) return refuse("shapes");

    // ---- weights: DQ(w_q int8 const, sw [1] or [OC], zw int8 const or none)
    const graph::Node* dqw = a.producer(n.inputs[1]);
    if (!is_op(dqw, "DequantizeLinear") || dqw->inputs.size() < 2) return refuse("weight not DQ");
    if (dqw->attr_i("block_size", 0) != 0) return refuse("blocked weight scale");
    const Tensor* wq = q_init_of(g, dqw->inputs[0]);
    const Tensor* sw_t = q_init_of(g, dqw->inputs[1]);
    if (!wq || wq->dtype() != DType::I8) return refuse("weight not a constant int8");
    if (!sw_t || sw_t->dtype() != DType::F32) return refuse("weight scale");
    const Tensor* zw_t =
        dqw->inputs.size() > 2 && !dqw->inputs[2].empty() ? q_init_of(g, dqw->inputs[2]) : nullptr;
    if (dqw->inputs.size() > 2 && !dqw->inputs[2].empty() && (!zw_t || zw_t->dtype() != DType::I8))
        return refuse("weight zero point");
    int64_t waxis = dqw->attr_i("axis", 1);
    if (waxis < 0) waxis += wq->rank();

    auto step = QStepPtr(new QStep());
    QStep& s = *step;
    s.a_scale = sx;
    s.a_zero = zx;
    s.a_signed = xdt == DType::I8;

    // Geometry and the output-channel axis of the weight.
    int64_t OC = 0, Kdim = 0, out_axis = 0;
    bool trans_b = false;
    std::string act_name;
    std::vector<float> act_params;
    if (edgeq) {
        act_name = n.attr_s("activation", "");
        act_params = n.attr_floats("activation_params");
    }
    if (is_conv) {
        if (std::string why = conv_geometry(n, *xs, *ys0, *wq, s); !why.empty()) return refuse(why);
        OC = s.OC;
        Kdim = (s.C / s.G) * s.KH * s.KW;
        out_axis = 0;
    } else {
        if (wq->rank() != 2 || xs->size() < 2) return refuse("weight rank");
        trans_b = is_gemm && n.attr_i("transB", 0) != 0;
        if (is_gemm && (n.attr_i("transA", 0) != 0 || n.attr_f("alpha", 1.0f) != 1.0f || xs->size() != 2))
            return refuse("Gemm transA / alpha");
        Kdim = xs->back();
        OC = trans_b ? wq->dim(0) : wq->dim(1);
        if ((trans_b ? wq->dim(1) : wq->dim(0)) != Kdim || ys0->back() != OC) return refuse("gemm geometry");
        s.K = Kdim, s.N = OC, s.M = shape_numel(*xs) / std::max<int64_t>(Kdim, 1);
        if (shape_numel(*ys0) != s.M * s.N) return refuse("gemm geometry");
        out_axis = trans_b ? 0 : 1;
    }
    if (Kdim > k::kQMaxK || Kdim < 1) return refuse("K too large");
    // weight scale / zero point per output channel
    std::vector<float> sw(static_cast<size_t>(OC));
    std::vector<int32_t> zw(static_cast<size_t>(OC), 0);
    if (sw_t->numel() == 1) {
        std::fill(sw.begin(), sw.end(), sw_t->data<float>()[0]);
    } else if (sw_t->rank() == 1 && sw_t->numel() == OC && waxis == out_axis) {
        std::copy(sw_t->data<float>(), sw_t->data<float>() + OC, sw.begin());
    } else {
        return refuse("weight scale not per-tensor / per-output-channel");
    }
    if (zw_t) {
        if (zw_t->numel() != 1 && zw_t->numel() != OC) return refuse("weight zero point shape");
        for (int64_t i = 0; i < OC; ++i)
            zw[static_cast<size_t>(i)] = zw_t->data<int8_t>()[zw_t->numel() == 1 ? 0 : i];
    }
    for (float v : sw)
        if (!(v > 0) || !std::isfinite(v)) return refuse("weight scale");
    const bool any_zw = std::any_of(zw.begin(), zw.end(), [](int32_t z) { return z != 0; });
    if (any_zw) s.b_zero = zw;

    // ---- bias: DQ(b_q int32 const, sb = sx·sw) (Conv / Gemm input 2), or a float constant (float output
    // only)
    bool float_bias = false;
    if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
        const graph::Node* dqb = a.producer(n.inputs[2]);
        if (is_op(dqb, "DequantizeLinear")) {
            const Tensor* bq = q_init_of(g, dqb->inputs[0]);
            const Tensor* sb = dqb->inputs.size() > 1 ? q_init_of(g, dqb->inputs[1]) : nullptr;
            if (!bq || bq->dtype() != DType::I32 || bq->numel() != OC || !sb || sb->dtype() != DType::F32 ||
                (sb->numel() != 1 && sb->numel() != OC))
                return refuse("bias DQ");
            if (dqb->inputs.size() > 2 && !dqb->inputs[2].empty()) {
                const Tensor* zb = q_init_of(g, dqb->inputs[2]);
                if (!zb) return refuse("bias zero point");
                for (int64_t v : zb->to_i64())
                    if (v != 0) return refuse("bias zero point");
            }
            if (is_gemm && n.attr_f("beta", 1.0f) != 1.0f) return refuse("Gemm beta");
            for (int64_t i = 0; i < OC; ++i) {
                const double want = static_cast<double>(sx) * sw[static_cast<size_t>(i)];
                const double got = sb->data<float>()[sb->numel() == 1 ? 0 : i];
                if (std::fabs(got - want) > 1e-6 * want) return refuse("bias scale != x_scale * w_scale");
            }
            s.bias.assign(bq->data<int32_t>(), bq->data<int32_t>() + OC);
            r.absorbed.push_back(dqb);  // may be shared; checked below
        } else {
            const Tensor* bt = q_init_of(g, n.inputs[2]);
            if (!bt || bt->dtype() != DType::F32 || (bt->numel() != OC && bt->numel() != 1))
                return refuse("bias");
            const float beta = is_gemm ? n.attr_f("beta", 1.0f) : 1.0f;
            s.bias_f.resize(static_cast<size_t>(OC));
            for (int64_t i = 0; i < OC; ++i)
                s.bias_f[static_cast<size_t>(i)] = beta * bt->data<float>()[bt->numel() == 1 ? 0 : i];
            float_bias = true;
        }
    }

    // ---- activation (fused attribute or a following Relu / Clip) and an optional Q
    Act act = act_from_name(act_name, act_params);
    if (!act.ok) return refuse("activation " + act_name);
    std::string out = n.outputs[0];
    std::string fused = "DQ(x)+DQ(w)";
    if (s.bias.size()) fused += "+DQ(b)";
    if (!act_name.empty()) fused += "+" + act_name;
    std::vector<const graph::Node*> tail;
    // MatMul / Gemm without C -> Add(float constant along the output channels) (mnist-8's classifier, and any
    // exporter that writes Linear as MatMul + Add): the constant becomes the step's float bias. Float output
    // only (as for a float Gemm C): a following Q stays a separate step.
    if (!is_conv && !float_bias && s.bias.empty() && act_name.empty()) {
        if (const graph::Node* c = a.sole_consumer(out);
            is_op(c, "Add") && c->inputs.size() == 2 && c->outputs.size() == 1 && !c->outputs[0].empty()) {
            const std::string& other = c->inputs[0] == out ? c->inputs[1] : c->inputs[0];
            const Tensor* bt = other != out ? q_init_of(g, other) : nullptr;
            const Shape* cs = a.shape_of(c->outputs[0]);
            bool along_oc = bt && bt->dtype() == DType::F32 && cs && *cs == *ys0 &&
                            static_cast<size_t>(bt->rank()) <= ys0->size() &&
                            (bt->numel() == 1 || bt->numel() == OC);
            if (along_oc && bt->numel() == OC && OC > 1) along_oc = bt->rank() >= 1 && bt->dim(bt->rank() - 1) == OC;
            if (along_oc) {
                s.bias_f.resize(static_cast<size_t>(OC));
                for (int64_t i = 0; i < OC; ++i)
                    s.bias_f[static_cast<size_t>(i)] = bt->data<float>()[bt->numel() == 1 ? 0 : i];
                float_bias = true;
                tail.push_back(c);
                out = c->outputs[0];
                fused += "+Add(bias)";
            }
        }
    }
    if (act_name.empty()) {
        if (const graph::Node* c = a.sole_consumer(out); c && c->inputs[0] == out && c->outputs.size() == 1) {
            Act an = act_node(g, *c);
            if (an.ok) {
                act = an;
                tail.push_back(c);
                out = c->outputs[0];
                fused += "+" + c->op_type;
            }
        }
    }
    bool requant = false;
    float sy = 1;
    int32_t zy = 0;
    DType ydt = DType::U8;
    if (const graph::Node* q = a.sole_consumer(out); is_op(q, "QuantizeLinear") && q->inputs[0] == out &&
                                                     act.bounded && !float_bias && q->outputs.size() == 1 &&
                                                     !q->outputs[0].empty()) {
        DType odt;
        if (scalar_f32(g, *q, 1, &sy) && sy > 0 && std::isfinite(sy) &&
            scalar_zero(g, *q, &zy, &ydt, DType::U8) && a.dtype_of(q->outputs[0], &odt) && odt == ydt &&
            q->attr_i("saturate", 1) == 1) {
            requant = true;
            tail.push_back(q);
            out = q->outputs[0];
            fused += "+Q";
        }
    }
    // Conv (float output) -> Transpose(perm 0, 2, 3, 1) (ultraface's heads): the GEMM's pixel-major rows are
    // that layout already, so the step writes them in place of the NCHW scatter and the Transpose does not run
    if (!requant && is_conv && s.mode != QStep::Mode::DwConv) {
        const graph::Node* t = a.sole_consumer(out);
        if (is_op(t, "Transpose") && t->inputs[0] == out && t->outputs.size() == 1 &&
            t->attr_ints("perm") == std::vector<int64_t>{0, 2, 3, 1}) {
            const Shape* ts = a.shape_of(t->outputs[0]);
            if (ts && *ts == Shape{s.batch, s.OH, s.OW, s.OC}) {
                s.out_hwc = true;
                tail.push_back(t);
                out = t->outputs[0];
                fused += "+Transpose(0,2,3,1)";
            }
        }
    }
    s.act = act.a;
    for (size_t i = 0; i < sw.size(); ++i) s.b_scale.push_back(sw[i]);
    if (requant) {
        s.out = ydt == DType::U8 ? k::QOut::U8 : k::QOut::S8;
        const int32_t qmin = ydt == DType::U8 ? 0 : -128, qmax = ydt == DType::U8 ? 255 : 127;
        s.y_zero = zy;
        s.y_min = qmin;
        s.y_max = qmax;
        if (std::isfinite(act.lo)) s.y_min = std::max(qmin, quantize_one(act.lo, sy, zy, qmin, qmax));
        if (std::isfinite(act.hi)) s.y_max = std::min(qmax, quantize_one(act.hi, sy, zy, qmin, qmax));
        if (s.y_max < s.y_min) s.y_max = s.y_min;
        for (int64_t i = 0; i < OC; ++i)
            s.multiplier.push_back(
                static_cast<float>(static_cast<double>(sx) * sw[static_cast<size_t>(i)] / sy));
        s.act = {};
        r.out_dtype = ydt;
    } else {
        s.out = k::QOut::F32;
        r.out_dtype = DType::F32;
    }
    const Shape* os = a.shape_of(out);
    if (!os || shape_numel(*os) != shape_numel(*ys0)) return refuse("output shape");

    // ---- which producers no longer run: a DQ only this node reads
    std::vector<const graph::Node*> absorbed;
    if (a.sole_consumer(n.inputs[0]) == &n) absorbed.push_back(dqx);
    if (a.sole_consumer(n.inputs[1]) == &n) absorbed.push_back(dqw);
    for (const graph::Node* b : r.absorbed)
        if (a.sole_consumer(n.inputs[2]) == &n) absorbed.push_back(b);
    for (const graph::Node* t : tail) absorbed.push_back(t);
    r.absorbed = std::move(absorbed);

    // ---- pack the weights: B[k'][n] (Conv per group: B = W_gᵀ reordered to k' = (ky·KW + kx)·Cg + c, the
    // NHWC im2col order of kernels/qconv.h)
    s.row = &k::qselect(k::QOp::Gemm8);
    const int8_t* w = wq->data<int8_t>();
    if (is_conv) {
        conv_pack(s, w, Kdim, a, r);
    } else {
        Tensor p(DType::U8, {k::qpack_b_bytes(s.K, s.N)});
        k::qpack_b(w, false, trans_b ? 1 : s.N, trans_b ? s.K : 1, s.K, s.N, p.data<uint8_t>());
        s.packed.push_back(std::move(p));
        r.flops = 2 * s.M * s.N * s.K;
        const int64_t panels = (s.N + k::kQNr - 1) / k::kQNr;
        s.splits = (a.threads > 1 && r.flops >= a.parallel_flops) ? std::min<int64_t>(a.threads, panels) : 1;
        r.kernel = std::string(is_gemm ? "qgemm_u8s8 " : "qmatmul_u8s8 ") + s.row->name;
    }
    r.fused = fused;
    r.x_q = dqx->inputs[0];
    r.x_shape = *xs;
    r.out = out;
    r.out_shape = *os;
    r.step = std::move(step);
    return r;
}

namespace {

// The per-tensor DequantizeLinear(s, z) producing n.inputs[0] (u8 / s8, scalar scale and zero point).
struct QIn {
    const graph::Node* dq = nullptr;
    float s = 1.0f;
    int32_t z = 0;
    DType dt = DType::U8;
};
std::string q_input(const QFuseArgs& a, const graph::Node& n, QIn* in) {
    const graph::Node* dq = a.producer(n.inputs[0]);
    if (!is_op(dq, "DequantizeLinear") || dq->inputs.empty() || dq->inputs[0].empty()) return "input not DQ";
    DType zdt;
    if (!scalar_f32(*a.graph, *dq, 1, &in->s) || !(in->s > 0) || !std::isfinite(in->s)) return "input scale";
    if (!a.dtype_of(dq->inputs[0], &in->dt) || (in->dt != DType::U8 && in->dt != DType::I8))
        return "input not u8/s8";
    if (!scalar_zero(*a.graph, *dq, &in->z, &zdt, in->dt) || zdt != in->dt) return "input zero point";
    in->dq = dq;
    return "";
}

// The per-tensor QuantizeLinear (u8 / s8, saturating) reading `v` as its only consumer.
struct QOutQ {
    const graph::Node* q = nullptr;
    float s = 1.0f;
    int32_t z = 0;
    DType dt = DType::U8;
};
bool q_output(const QFuseArgs& a, const std::string& v, QOutQ* o) {
    const graph::Node* c = a.sole_consumer(v);
    DType odt;
    if (!is_op(c, "QuantizeLinear") || c->inputs[0] != v || c->outputs.size() != 1 || c->outputs[0].empty())
        return false;
    if (!scalar_f32(*a.graph, *c, 1, &o->s) || !(o->s > 0) || !std::isfinite(o->s) ||
        !scalar_zero(*a.graph, *c, &o->z, &o->dt, DType::U8) || !a.dtype_of(c->outputs[0], &odt) ||
        odt != o->dt || (o->dt != DType::U8 && o->dt != DType::I8) || c->attr_i("saturate", 1) != 1)
        return false;
    o->q = c;
    return true;
}

// Pads of a 2-D window op (auto_pad SAME_* from the planned output size); false: unsupported pads.
bool window_pads(const graph::Node& n, int64_t H, int64_t W, int64_t OH, int64_t OW, int64_t KH, int64_t KW,
                 int64_t SH, int64_t SW, int64_t DH, int64_t DW, int64_t* PT, int64_t* PL) {
    const std::string auto_pad = n.attr_s("auto_pad", "NOTSET");
    *PT = *PL = 0;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
        const int64_t th = std::max<int64_t>(0, (OH - 1) * SH + (KH - 1) * DH + 1 - H);
        const int64_t tw = std::max<int64_t>(0, (OW - 1) * SW + (KW - 1) * DW + 1 - W);
        const bool upper = auto_pad == "SAME_UPPER";
        *PT = upper ? th / 2 : th - th / 2;
        *PL = upper ? tw / 2 : tw - tw / 2;
    } else if (auto_pad == "NOTSET") {
        const auto p = n.attr_ints("pads", {0, 0, 0, 0});
        if (p.size() != 4) return false;
        *PT = p[0], *PL = p[1];
    }
    return true;
}

}  // namespace

QFusion plan_qpool(const QFuseArgs& a) {
    QFusion r;
    const graph::Node& n = *a.node;
    auto refuse = [&](std::string why) { return refused(r, std::move(why)); };
    const bool avg = is_op(&n, "AveragePool");
    if ((!avg && !is_op(&n, "MaxPool")) || n.inputs.size() != 1 || n.outputs.empty() || n.outputs[0].empty())
        return refuse("op");
    if (n.outputs.size() > 1 && !n.outputs[1].empty()) return refuse("Indices output");
    if (n.attr_i("storage_order", 0) != 0) return refuse("storage_order");
    QIn in;
    if (std::string why = q_input(a, n, &in); !why.empty()) return refuse(why);
    const Shape* xs = a.shape_of(in.dq->inputs[0]);
    const Shape* ps = a.shape_of(n.outputs[0]);
    if (!xs || !ps || xs->size() != 4 || ps->size() != 4 || (*xs)[0] != (*ps)[0] || (*xs)[1] != (*ps)[1])
        return refuse("shapes");
    // Pool -> [Flatten | Reshape] -> Q (MaxPool: the same scale, zero point and type as the input DQ)
    std::vector<const graph::Node*> tail;
    std::string out = n.outputs[0];
    std::string fused = "DQ(x)";
    const graph::Node* c = a.sole_consumer(out);
    if (c && c->domain.empty() && (c->op_type == "Flatten" || c->op_type == "Reshape") &&
        c->inputs[0] == out && c->outputs.size() == 1) {
        tail.push_back(c);
        out = c->outputs[0];
        fused += "+" + c->op_type;
    }
    QOutQ q;
    if (!q_output(a, out, &q)) return refuse("output not quantized");
    if (!avg && (q.s != in.s || q.z != in.z || q.dt != in.dt))
        return refuse("output Q parameters differ from the input DQ's");
    tail.push_back(q.q);
    out = q.q->outputs[0];
    fused += "+Q";
    const Shape* os = a.shape_of(out);
    if (!os || shape_numel(*os) != shape_numel(*ps)) return refuse("output shape");

    const auto ks = n.attr_ints("kernel_shape");
    const auto st = n.attr_ints("strides", {1, 1}), dl = n.attr_ints("dilations", {1, 1});
    if (ks.size() != 2 || st.size() != 2 || dl.size() != 2) return refuse("not 2-D");
    const int64_t H = (*xs)[2], W = (*xs)[3], OH = (*ps)[2], OW = (*ps)[3];
    int64_t PT, PL;
    if (!window_pads(n, H, W, OH, OW, ks[0], ks[1], st[0], st[1], dl[0], dl[1], &PT, &PL)) return refuse("pads");
    // every window must hold an input pixel (MaxPool would give −inf, AveragePool divide by 0)
    for (int64_t o : {int64_t{0}, OH - 1})
        if (o * st[0] - PT + (ks[0] - 1) * dl[0] < 0 || o * st[0] - PT >= H) return refuse("window in padding");
    for (int64_t o : {int64_t{0}, OW - 1})
        if (o * st[1] - PL + (ks[1] - 1) * dl[1] < 0 || o * st[1] - PL >= W) return refuse("window in padding");
    auto step = QStepPtr(new QStep());
    QStep& s = *step;
    const int64_t planes = (*xs)[0] * (*xs)[1];
    if (avg) {
        if (dl[0] != 1 || dl[1] != 1) return refuse("dilations");
        const bool incl = n.attr_i("count_include_pad", 0) != 0;
        // with ceil_mode a window may overhang the padded input; ONNX clips its count there: not done here
        if (incl && n.attr_i("ceil_mode", 0) != 0) return refuse("count_include_pad with ceil_mode");
        s.mode = QStep::Mode::AvgPool;
        k::QAvgPoolArgs& m = s.ap;
        m.H = H, m.W = W, m.OH = OH, m.OW = OW, m.KH = ks[0], m.KW = ks[1], m.SH = st[0], m.SW = st[1];
        m.PT = PT, m.PL = PL;
        m.count_include_pad = incl;
        m.x_signed = in.dt == DType::I8, m.y_signed = q.dt == DType::I8;
        m.x_zero = in.z, m.y_zero = q.z;
        m.ratio = static_cast<double>(in.s) / static_cast<double>(q.s);
        m.p_begin = 0, m.p_end = planes;
        r.kernel = std::string("qavgpool_") + (m.x_signed ? "s8" : "u8") + (m.y_signed ? "s8" : "u8");
    } else {
        s.mode = QStep::Mode::MaxPool;
        k::QMaxPoolArgs& m = s.mp;
        m.H = H, m.W = W, m.OH = OH, m.OW = OW, m.KH = ks[0], m.KW = ks[1], m.SH = st[0], m.SW = st[1];
        m.DH = dl[0], m.DW = dl[1], m.PT = PT, m.PL = PL;
        m.is_signed = in.dt == DType::I8;
        m.p_begin = 0, m.p_end = planes;
        s.batch = (*xs)[0], s.C = (*xs)[1];  // for the NHWC layout (qstep_set_layout)
        s.out = m.is_signed ? k::QOut::S8 : k::QOut::U8;
        s.a_zero = s.y_zero = q.z;  // (= the input DQ's: checked above) for qstep_write_into_padded
        r.kernel = m.is_signed ? "qmaxpool_s8" : "qmaxpool_u8";
    }
    const int64_t work = shape_numel(*ps) * ks[0] * ks[1];
    s.splits = (a.threads > 1 && work >= a.parallel_elems) ? std::min<int64_t>(a.threads, planes) : 1;

    if (a.sole_consumer(n.inputs[0]) == &n) r.absorbed.push_back(in.dq);
    for (const graph::Node* t : tail) r.absorbed.push_back(t);
    r.fused = fused;
    r.x_q = in.dq->inputs[0];
    r.x_shape = *xs;
    r.out = out;
    r.out_shape = *os;
    r.out_dtype = q.dt;
    r.step = std::move(step);
    return r;
}

bool qlut_op(const graph::Node& n) {
    static const char* const kOps[] = {"Tanh",  "Sigmoid", "Relu",     "LeakyRelu", "HardSigmoid", "HardSwish",
                                       "Elu",   "Selu",    "Celu",     "Gelu",      "Softplus",    "Softsign",
                                       "Erf",   "Exp",     "Log",      "Sqrt",      "Abs",         "Neg",
                                       "Clip",  "Sin",     "Cos",      "Atan",      "Reciprocal",  "ThresholdedRelu",
                                       "Floor", "Ceil",    "Round",    "Sign",      "Mish"};
    if (!n.domain.empty()) return false;
    for (const char* o : kOps)
        if (n.op_type == o) return true;
    return false;
}

QFusion plan_qlut(const QFuseArgs& a) {
    QFusion r;
    const graph::Graph& g = *a.graph;
    const graph::Node& n = *a.node;
    auto refuse = [&](std::string why) { return refused(r, std::move(why)); };
    if (!qlut_op(n) || n.inputs.empty() || n.outputs.size() != 1 || n.outputs[0].empty()) return refuse("op");
    for (size_t i = 1; i < n.inputs.size(); ++i)  // Clip's bounds: constants
        if (!n.inputs[i].empty() && !q_init_of(g, n.inputs[i])) return refuse("non-constant input");
    QIn in;
    if (std::string why = q_input(a, n, &in); !why.empty()) return refuse(why);
    QOutQ q;
    if (!q_output(a, n.outputs[0], &q)) return refuse("output not quantized");
    const Shape* xs = a.shape_of(in.dq->inputs[0]);
    const Shape* os = a.shape_of(q.q->outputs[0]);
    if (!xs || !os || *xs != *os) return refuse("shapes");

    // The table: the reference ops DQ -> op -> Q run on the 256 byte values (so each entry is what the
    // reference executor computes for that byte).
    Tensor bytes(in.dt, {256});
    for (int i = 0; i < 256; ++i) static_cast<uint8_t*>(bytes.raw())[i] = static_cast<uint8_t>(i);
    Tensor cur = bytes;
    for (const graph::Node* node : {in.dq, &n, q.q}) {
        const OpRow* row = find_ref_op(node->domain, node->op_type);
        if (!row) return refuse("no reference op");
        OpContext ctx{*node, a.opset_of ? a.opset_of(node->domain) : 0, {}, {}, {}};
        ctx.inputs.push_back(&cur);
        for (size_t i = 1; i < node->inputs.size(); ++i)
            ctx.inputs.push_back(node->inputs[i].empty() ? nullptr : q_init_of(g, node->inputs[i]));
        ctx.outputs.resize(node->outputs.size());
        Status st = row->fn(ctx);
        if (!st.ok() || ctx.outputs.empty() || ctx.outputs[0].empty_handle() || ctx.outputs[0].numel() != 256)
            return refuse("table: " + (st.ok() ? std::string("output shape") : st.message()));
        cur = std::move(ctx.outputs[0]);
    }
    if (cur.dtype() != q.dt) return refuse("table dtype");
    auto step = QStepPtr(new QStep());
    QStep& s = *step;
    s.mode = QStep::Mode::Lut;
    s.lut.assign(static_cast<const uint8_t*>(cur.raw()), static_cast<const uint8_t*>(cur.raw()) + 256);
    s.lut_n = shape_numel(*xs);
    s.splits = (a.threads > 1 && s.lut_n >= a.parallel_elems) ? a.threads : 1;
    if (a.sole_consumer(n.inputs[0]) == &n) r.absorbed.push_back(in.dq);
    r.absorbed.push_back(q.q);
    r.kernel = "qlut_u8 (256-entry table)";
    r.fused = "DQ(x)+" + n.op_type + "+Q";
    r.x_q = in.dq->inputs[0];
    r.x_shape = *xs;
    r.out = q.q->outputs[0];
    r.out_shape = *os;
    r.out_dtype = q.dt;
    r.step = std::move(step);
    return r;
}

QFusion plan_qadd(const QFuseArgs& a) {
    QFusion r;
    const graph::Node& n = *a.node;
    auto refuse = [&](std::string why) { return refused(r, std::move(why)); };
    if (!is_op(&n, "Add") || n.inputs.size() != 2 || n.outputs.size() != 1 || n.outputs[0].empty() ||
        n.inputs[0] == n.inputs[1])
        return refuse("op");
    QIn in[2];
    for (int i = 0; i < 2; ++i) {
        const graph::Node* dq = a.producer(n.inputs[static_cast<size_t>(i)]);
        if (!dq) return refuse("input not DQ");
        graph::Node probe;  // q_input reads input 0 of its node
        probe.inputs = {n.inputs[static_cast<size_t>(i)]};
        if (std::string why = q_input(a, probe, &in[i]); !why.empty()) return refuse(why);
    }
    const Shape* as = a.shape_of(in[0].dq->inputs[0]);
    const Shape* bs = a.shape_of(in[1].dq->inputs[0]);
    const Shape* ys = a.shape_of(n.outputs[0]);
    if (!as || !bs || !ys || *as != *bs || *as != *ys) return refuse("shapes (no broadcasting)");
    std::vector<const graph::Node*> tail;
    std::string out = n.outputs[0], fused = "DQ(a)+DQ(b)";
    bool relu = false;
    if (const graph::Node* c = a.sole_consumer(out); is_op(c, "Relu") && c->inputs[0] == out && c->outputs.size() == 1) {
        relu = true;
        tail.push_back(c);
        out = c->outputs[0];
        fused += "+Relu";
    }
    QOutQ q;
    if (!q_output(a, out, &q)) return refuse("output not quantized");
    tail.push_back(q.q);
    out = q.q->outputs[0];
    fused += "+Q";
    auto step = QStepPtr(new QStep());
    QStep& s = *step;
    s.mode = QStep::Mode::Add;
    k::QAddArgs& d = s.qa;
    d.a_signed = in[0].dt == DType::I8, d.b_signed = in[1].dt == DType::I8, d.y_signed = q.dt == DType::I8;
    d.za = in[0].z, d.zb = in[1].z, d.zy = q.z;
    d.sa = in[0].s, d.sb = in[1].s, d.sy = q.s;
    d.relu = relu;
    d.n = shape_numel(*as);
    s.splits = (a.threads > 1 && d.n >= a.parallel_elems) ? a.threads : 1;
    for (int i = 0; i < 2; ++i)
        if (a.sole_consumer(n.inputs[static_cast<size_t>(i)]) == &n) r.absorbed.push_back(in[i].dq);
    for (const graph::Node* t : tail) r.absorbed.push_back(t);
    r.kernel = std::string("qadd_") + (d.a_signed ? "s8" : "u8") + (d.b_signed ? "s8" : "u8") +
               (d.y_signed ? "s8" : "u8");
    r.fused = fused;
    r.x_q = in[0].dq->inputs[0];
    r.x_more = {in[1].dq->inputs[0]};
    r.x_shape = *as;
    r.out = out;
    r.out_shape = *a.shape_of(out);
    r.out_dtype = q.dt;
    r.step = std::move(step);
    return r;
}

QFusion plan_qconcat(const QFuseArgs& a) {
    QFusion r;
    const graph::Node& n = *a.node;
    auto refuse = [&](std::string why) { return refused(r, std::move(why)); };
    if (!is_op(&n, "Concat") || n.inputs.empty() || n.outputs.size() != 1 || n.outputs[0].empty()) return refuse("op");
    std::vector<QIn> in(n.inputs.size());
    for (size_t i = 0; i < n.inputs.size(); ++i) {
        graph::Node probe;
        probe.inputs = {n.inputs[i]};
        if (n.inputs[i].empty()) return refuse("empty input");
        if (std::string why = q_input(a, probe, &in[i]); !why.empty()) return refuse(why);
        if (in[i].s != in[0].s || in[i].z != in[0].z || in[i].dt != in[0].dt)
            return refuse("inputs' DQ parameters differ");
    }
    QOutQ q;
    if (!q_output(a, n.outputs[0], &q)) return refuse("output not quantized");
    if (q.s != in[0].s || q.z != in[0].z || q.dt != in[0].dt) return refuse("output Q parameters differ from the inputs'");
    const Shape* ys = a.shape_of(n.outputs[0]);
    if (!ys || ys->empty()) return refuse("shapes");
    const int64_t rank = static_cast<int64_t>(ys->size());
    int64_t axis = n.attr_i("axis", 0);
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) return refuse("axis");
    auto step = QStepPtr(new QStep());
    QStep& s = *step;
    s.mode = QStep::Mode::Concat;
    s.cat_outer = 1;
    for (int64_t d = 0; d < axis; ++d) s.cat_outer *= (*ys)[static_cast<size_t>(d)];
    int64_t total = 0;
    for (const QIn& v : in) {
        const Shape* xs = a.shape_of(v.dq->inputs[0]);
        if (!xs || static_cast<int64_t>(xs->size()) != rank) return refuse("shapes");
        const int64_t outer = s.cat_outer;
        const int64_t bytes = shape_numel(*xs) / std::max<int64_t>(outer, 1);
        if (outer * bytes != shape_numel(*xs)) return refuse("shapes");
        s.cat_bytes.push_back(bytes);
        total += bytes;
    }
    if (total * s.cat_outer != shape_numel(*ys)) return refuse("shapes");
    if (rank == 4 && axis == 1) {
        const int64_t hw = (*ys)[2] * (*ys)[3];
        s.cat_pixels = (*ys)[0] * hw;
        for (const int64_t b : s.cat_bytes) s.cat_channels.push_back(hw > 0 ? b / hw : 0);
    }
    for (size_t i = 0; i < in.size(); ++i) {
        bool once = a.sole_consumer(n.inputs[i]) == &n;
        for (size_t j = 0; j < i; ++j) once = once && in[j].dq != in[i].dq;
        if (once) r.absorbed.push_back(in[i].dq);
    }
    r.absorbed.push_back(q.q);
    r.kernel = "qconcat (byte copy)";
    r.fused = "DQ(x)+Q";
    r.x_q = in[0].dq->inputs[0];
    for (size_t i = 1; i < in.size(); ++i) r.x_more.push_back(in[i].dq->inputs[0]);
    r.x_shape = *a.shape_of(r.x_q);
    r.out = q.q->outputs[0];
    r.out_shape = *a.shape_of(r.out);
    r.out_dtype = q.dt;
    r.step = std::move(step);
    return r;
}

namespace {

// The scalar definition of dynamic_quantize_u8's second pass (bytes from scale and zero point).
void dynamic_bytes_scalar(const float* x, int64_t n, float s, float z, uint8_t* q) {
    for (int64_t i = 0; i < n; ++i) {
        float r = std::nearbyint(x[i] / s);  // default rounding mode: half to even
        if (r != r) r = 0.0f;
        q[i] = static_cast<uint8_t>(std::clamp(r + z, 0.0f, 255.0f));
    }
}

}  // namespace

void dynamic_quantize_u8(const float* x, int64_t n, uint8_t* q, float* scale, int32_t* zero) {
    // Range: max(0, x...) / min(0, x...) in the reference's comparison order (`v > mx ? v : mx`; a NaN never
    // enters). _mm_max_ps(a, b) is `a > b ? a : b` and _mm_min_ps(a, b) `a < b ? a : b`, the same selections.
    float mx = 0.0f, mn = 0.0f;
    int64_t i = 0;
#if defined(__SSE2__)
    __m128 vmx = _mm_setzero_ps(), vmn = _mm_setzero_ps();
    for (; i + 4 <= n; i += 4) {
        const __m128 v = _mm_loadu_ps(x + i);
        vmx = _mm_max_ps(v, vmx);
        vmn = _mm_min_ps(v, vmn);
    }
    alignas(16) float lmx[4], lmn[4];
    _mm_store_ps(lmx, vmx);
    _mm_store_ps(lmn, vmn);
    for (int l = 0; l < 4; ++l) {
        mx = lmx[l] > mx ? lmx[l] : mx;
        mn = lmn[l] < mn ? lmn[l] : mn;
    }
#endif
    for (; i < n; ++i) {
        mx = x[i] > mx ? x[i] : mx;
        mn = x[i] < mn ? x[i] : mn;
    }
    const float s = mx == mn ? 1.0f : (mx - mn) / 255.0f;
    const float zf = std::clamp(0.0f - mn / s, 0.0f, 255.0f);
    const float z = zf == zf ? std::nearbyint(zf) : 0.0f;  // half to even; NaN (x has −inf) -> 0
    *scale = s;
    *zero = static_cast<int32_t>(z);
    i = 0;
#if defined(__SSE2__)
    // |x / s| ≤ 255·(1 + ε) whenever s is a normal number, so (v + 1.5·2^23) − 1.5·2^23 rounds half to even
    // exactly (the ulp there is 1). A block with |v| ≥ 2^22 or NaN (s subnormal or infinite, x NaN) and the tail
    // take the scalar definition.
    const __m128 vs = _mm_set1_ps(s), vz = _mm_set1_ps(z), magic = _mm_set1_ps(12582912.0f);
    const __m128 small = _mm_set1_ps(4194304.0f), hi = _mm_set1_ps(255.0f), lo = _mm_setzero_ps();
    const __m128 absmask = _mm_castsi128_ps(_mm_set1_epi32(0x7fffffff));
    __m128i b32[4];
    for (; i + 16 <= n; i += 16) {
        bool ok = true;
        for (int j = 0; j < 4; ++j) {
            const __m128 v = _mm_div_ps(_mm_loadu_ps(x + i + 4 * j), vs);
            ok = ok && _mm_movemask_ps(_mm_cmplt_ps(_mm_and_ps(v, absmask), small)) == 0xF;
            const __m128 r = _mm_sub_ps(_mm_add_ps(v, magic), magic);
            b32[j] = _mm_cvtps_epi32(_mm_min_ps(_mm_max_ps(_mm_add_ps(r, vz), lo), hi));
        }
        if (!ok) {
            dynamic_bytes_scalar(x + i, 16, s, z, q + i);
            continue;
        }
        const __m128i w01 = _mm_packs_epi32(b32[0], b32[1]), w23 = _mm_packs_epi32(b32[2], b32[3]);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i), _mm_packus_epi16(w01, w23));
    }
#endif
    dynamic_bytes_scalar(x + i, n - i, s, z, q + i);
}

namespace {

// A constant of one element, or of n laid along the output's channel axis (MatMulInteger: the last axis;
// ConvInteger NCHW: axis 1, shape [n, 1, 1] or [1, n, 1, 1]).
bool channel_vector(const Tensor& t, int64_t n, bool conv) {
    if (t.numel() == 1) return true;
    if (t.numel() != n) return false;
    return conv ? t.rank() >= 3 && t.dim(-3) == n : t.rank() >= 1 && t.dim(-1) == n;
}

}  // namespace

QFusion plan_qdynamic(const QFuseArgs& a) {
    QFusion r;
    const graph::Graph& g = *a.graph;
    const graph::Node& n = *a.node;
    auto refuse = [&](std::string why) { return refused(r, std::move(why)); };
    const bool conv = is_op(&n, "ConvInteger");
    if ((!conv && !is_op(&n, "MatMulInteger")) || n.inputs.size() < 3 || n.outputs.size() != 1 ||
        n.inputs[1].empty())
        return refuse("op");
    // ---- A, a_zero_point: outputs 0 and 2 of one DynamicQuantizeLinear of a float x
    const graph::Node* dql = a.producer(n.inputs[0]);
    if (!is_op(dql, "DynamicQuantizeLinear") || dql->inputs.empty() || dql->outputs.size() < 3 ||
        dql->outputs[0] != n.inputs[0] || dql->outputs[2] != n.inputs[2] || dql->outputs[1].empty())
        return refuse("input not DynamicQuantizeLinear (with its zero point)");
    const std::string& x = dql->inputs[0];
    DType xdt;
    if (!a.dtype_of(x, &xdt) || xdt != DType::F32) return refuse("input not float32");
    const Shape* xs = a.shape_of(x);
    const Shape* ys0 = a.shape_of(n.outputs[0]);
    if (!xs || !ys0 || xs->empty()) return refuse("shapes");
    // ---- weights: constant int8 / uint8, MatMulInteger B [K, N], ConvInteger W [OC, C/G, KH, KW]; zero point
    // none, scalar or one per output channel, of the weight's type. u8 weights become s8 (w − 128, zero − 128).
    const Tensor* b = q_init_of(g, n.inputs[1]);
    if (!b || (b->dtype() != DType::I8 && b->dtype() != DType::U8) || b->rank() != (conv ? 4 : 2))
        return refuse(conv ? "W not a constant 4-D int8 / uint8" : "B not a constant 2-D int8 / uint8");
    const bool b_u8 = b->dtype() == DType::U8;
    auto step = QStepPtr(new QStep());
    QStep& s = *step;
    int64_t K = 0, N = 0;
    if (conv) {
        if (std::string why = conv_geometry(n, *xs, *ys0, *b, s); !why.empty()) return refuse(why);
        K = (s.C / s.G) * s.KH * s.KW, N = s.OC;
    } else {
        K = b->dim(0), N = b->dim(1);
        if (xs->back() != K) return refuse("shapes");
        s.M = shape_numel(*xs) / K, s.N = N, s.K = K;
        if (shape_numel(*ys0) != s.M * N || ys0->back() != N) return refuse("output shape");
    }
    if (K > k::kQMaxK || K < 1 || N < 1) return refuse("K too large");
    std::vector<int32_t> zb(static_cast<size_t>(N), b_u8 ? -128 : 0);
    if (n.inputs.size() > 3 && !n.inputs[3].empty()) {
        const Tensor* z = q_init_of(g, n.inputs[3]);
        if (!z || z->dtype() != b->dtype() || !(z->numel() == 1 || (z->numel() == N && z->dim(-1) == N)))
            return refuse("weight zero point");
        for (int64_t i = 0; i < N; ++i) {
            const int64_t j = z->numel() == 1 ? 0 : i;
            zb[static_cast<size_t>(i)] = b_u8 ? int32_t{z->data<uint8_t>()[j]} - 128 : int32_t{z->data<int8_t>()[j]};
        }
    }
    // ---- Cast(to float) -> Mul(·, Mul(x_scale, w_scale const)) [-> Add(·, bias const)] [-> Relu | Clip]
    const graph::Node* cast = a.sole_consumer(n.outputs[0]);
    if (!is_op(cast, "Cast") || cast->attr_i("to", 0) != 1 || cast->outputs.size() != 1)
        return refuse("accumulator not cast to float");
    const graph::Node* mul = a.sole_consumer(cast->outputs[0]);
    if (!is_op(mul, "Mul") || mul->inputs.size() != 2 || mul->outputs.size() != 1) return refuse("no output Mul");
    const std::string& sc = mul->inputs[0] == cast->outputs[0] ? mul->inputs[1] : mul->inputs[0];
    const graph::Node* smul = a.producer(sc);
    if (!is_op(smul, "Mul") || smul->inputs.size() != 2 || a.sole_consumer(sc) != mul)
        return refuse("scale not Mul(x_scale, w_scale)");
    const bool xs_first = smul->inputs[0] == dql->outputs[1];
    if (!xs_first && smul->inputs[1] != dql->outputs[1]) return refuse("scale not Mul(x_scale, w_scale)");
    const Tensor* ws = q_init_of(g, smul->inputs[xs_first ? 1 : 0]);
    if (!ws || ws->dtype() != DType::F32 || !channel_vector(*ws, N, conv)) return refuse("weight scale");
    const Shape* ms = a.shape_of(mul->outputs[0]);
    if (!ms || *ms != *ys0) return refuse("output Mul broadcasts");
    s.dynamic = true;
    s.out = k::QOut::F32;
    for (int64_t i = 0; i < N; ++i) s.b_scale.push_back(ws->data<float>()[ws->numel() == 1 ? 0 : i]);
    if (std::any_of(zb.begin(), zb.end(), [](int32_t v) { return v != 0; })) s.b_zero = zb;
    std::vector<const graph::Node*> absorbed{cast, mul, smul};  // n itself becomes the step
    std::string out = mul->outputs[0], fused = conv ? "DynamicQuantizeLinear+ConvInteger+Cast+Mul"
                                                    : "DynamicQuantizeLinear+MatMulInteger+Cast+Mul";
    if (const graph::Node* add = a.sole_consumer(out); is_op(add, "Add") && add->inputs.size() == 2) {
        const Tensor* bias = q_init_of(g, add->inputs[add->inputs[0] == out ? 1 : 0]);
        const Shape* as = a.shape_of(add->outputs[0]);
        if (bias && bias->dtype() == DType::F32 && bias->numel() == N && channel_vector(*bias, N, conv) && as &&
            *as == *ys0) {
            s.bias_f.assign(bias->data<float>(), bias->data<float>() + N);
            absorbed.push_back(add);
            out = add->outputs[0];
            fused += "+Add";
        }
    }
    if (const graph::Node* c = a.sole_consumer(out); c && c->inputs[0] == out && c->outputs.size() == 1) {
        if (Act an = act_node(g, *c); an.ok && an.bounded && an.a.kind != k::Act::None) {  // Relu / Clip: exact
            s.act = an.a;
            absorbed.push_back(c);
            out = c->outputs[0];
            fused += "+" + c->op_type;
        }
    }
    s.row = &k::qselect(k::QOp::Gemm8);
    s.xq.resize(static_cast<size_t>(shape_numel(*xs)));
    if (conv) {
        std::vector<int8_t> w8(static_cast<size_t>(b->numel()));
        for (int64_t i = 0; i < b->numel(); ++i)
            w8[static_cast<size_t>(i)] = b_u8 ? static_cast<int8_t>(int{b->data<uint8_t>()[i]} - 128) : b->data<int8_t>()[i];
        conv_pack(s, w8.data(), K, a, r);
        r.kernel = "qdynamic_conv_u8s8 via " + r.kernel;
    } else {
        Tensor p(DType::U8, {k::qpack_b_bytes(K, N)});
        k::qpack_b(b->raw(), b_u8, N, 1, K, N, p.data<uint8_t>());
        s.packed.push_back(std::move(p));
        r.flops = 2 * s.M * N * K;
        const int64_t panels = (N + k::kQNr - 1) / k::kQNr;
        s.splits = (a.threads > 1 && r.flops >= a.parallel_flops) ? std::min<int64_t>(a.threads, panels) : 1;
        r.kernel = std::string("qdynamic_matmul_u8s8 ") + s.row->name;
    }
    r.fused = fused;
    r.x_q = x;
    r.x_shape = *xs;
    r.out = out;
    r.out_shape = *ys0;
    r.out_dtype = DType::F32;
    r.absorbed = std::move(absorbed);
    r.step = std::move(step);
    return r;
}

namespace {
// depthwise steps go NHWC only where qdwconv_nhwc has a vector build (AVX-512); below that the NCHW qdwconv
// (AVX2) is faster than the scalar NHWC loop
bool dw_nhwc_ok(const QStep& s) {
    static const bool avx512 = active_isa() >= Isa::Avx512;
    return s.mode == QStep::Mode::DwConv && !s.one_input && s.out != k::QOut::F32 && avx512;
}
}  // namespace

bool qstep_nhwc_in(const QStep& s) {
    return !s.dynamic && (s.mode == QStep::Mode::Conv || s.mode == QStep::Mode::MaxPool || dw_nhwc_ok(s));
}

bool qstep_nhwc_passes(const QStep& s) {
    return s.mode == QStep::Mode::Add || (s.mode == QStep::Mode::Concat && s.cat_pixels > 0);
}

bool qstep_nhwc_out(const QStep& s) {
    return !s.dynamic && s.out != k::QOut::F32 &&
           (s.mode == QStep::Mode::Conv || s.mode == QStep::Mode::MaxPool || dw_nhwc_ok(s));
}

std::string qstep_set_layout(QStep& s, bool in_nhwc, bool out_nhwc) {
    if (qstep_nhwc_passes(s)) {  // the whole group is NHWC: inputs and output
        EDGEQ_CHECK(in_nhwc && out_nhwc);
        s.in_nhwc = s.out_nhwc = true;
        if (s.mode == QStep::Mode::Concat) {  // per pixel, each input's channels
            s.cat_outer = s.cat_pixels;
            s.cat_bytes = s.cat_channels;
        }
        return "";
    }
    EDGEQ_CHECK(!in_nhwc || qstep_nhwc_in(s));
    EDGEQ_CHECK(!out_nhwc || qstep_nhwc_out(s));
    s.in_nhwc = in_nhwc;
    s.out_nhwc = out_nhwc;
    if (s.mode == QStep::Mode::Conv) {
        // a 1×1 convolution reads NHWC input in place: no copy
        if (in_nhwc && s.pointwise) std::vector<uint8_t>().swap(s.nhwc);
        if (out_nhwc) std::vector<uint8_t>().swap(s.ybuf);
        return "";
    }
    if (s.mode == QStep::Mode::MaxPool) {
        if (!in_nhwc && !out_nhwc) return "";
        s.mp_nhwc = true;
        if (!in_nhwc) s.nhwc.resize(static_cast<size_t>(s.batch * s.C * s.mp.H * s.mp.W));
        if (!out_nhwc) s.ybuf.resize(static_cast<size_t>(s.batch * s.C * s.mp.OH * s.mp.OW));
        return std::string(s.mp.is_signed ? "qmaxpool_nhwc_s8" : "qmaxpool_nhwc_u8");
    }
    if (s.mode != QStep::Mode::DwConv || (!in_nhwc && !out_nhwc)) return "";
    s.dw_nhwc = true;
    s.hp = std::max(s.PT + s.H, (s.OH - 1) * s.SH + (s.KH - 1) * s.DH + 1);
    s.wp = std::max(s.PL + s.W, (s.OW - 1) * s.SW + (s.KW - 1) * s.DW + 1);
    s.nhwc.resize(static_cast<size_t>(s.batch * s.C * s.hp * s.wp));
    s.dwn_w.resize(static_cast<size_t>(s.KH * s.KW * s.C));
    s.dwn_bias.resize(static_cast<size_t>(s.C));
    k::qdwconv_nhwc_pack(s.dw_w.data(), s.b_zero.empty() ? nullptr : s.b_zero.data(),
                         s.bias.empty() ? nullptr : s.bias.data(), s.a_zero, s.C, s.KH, s.KW, s.dwn_w.data(),
                         s.dwn_bias.data());
    if (!out_nhwc) s.ybuf.resize(static_cast<size_t>(s.batch * s.OC * s.OH * s.OW));
    return "qdwconv_nhwc_u8s8 (padded NHWC copy)";
}

bool qstep_write_into_padded(QStep& p, QStep& c) {
    using M = QStep::Mode;
    const bool pool = p.mode == M::MaxPool && p.mp_nhwc;  // qmaxpool_nhwc (QMaxPoolNhwcArgs::y_row)
    if (!(pool || (p.mode == M::Conv && p.direct)) || !p.out_nhwc || p.dynamic || p.y_into != nullptr) return false;
    if (c.mode != M::Conv || !c.in_nhwc || c.dynamic || c.pointwise || c.nhwc.empty() || c.x_prepadded) return false;
    const int64_t oc = pool ? p.C : p.OC, oh = pool ? p.mp.OH : p.OH, ow = pool ? p.mp.OW : p.OW;
    if (c.batch != p.batch || c.C != oc || c.H != oh || c.W != ow) return false;
    // the same bytes: c reads what p writes (its zero point fills the borders)
    if (c.a_zero != p.y_zero || c.a_signed != (p.out == k::QOut::S8)) return false;
    if (c.nhwc.size() < static_cast<size_t>(c.batch * c.C * c.hp * c.wp)) return false;
    p.y_into = &c;
    c.x_prepadded = true;
    return true;
}

namespace {

// Image t of x (NCHW, or NHWC when s.in_nhwc) into s.nhwc as the padded NHWC image [hp][wp][C] (border = the
// zero point byte).
// The borders of the padded images (s.nhwc) hold the zero point byte; pad_nhwc writes only the interior. The
// whole buffer is filled once, and again when the zero point changed (a dynamic step's is computed per run).
void pad_borders(QStep& s) {
    if (s.pad_zero == s.a_zero || s.nhwc.empty()) return;
    std::memset(s.nhwc.data(), static_cast<uint8_t>(s.a_zero), s.nhwc.size());
    s.pad_zero = s.a_zero;
}

void pad_nhwc(const QStep& s, const uint8_t* xb, int64_t t, uint8_t* nh) {
    EDGEQ_CHECK(s.pad_zero == s.a_zero);  // (pad_borders first)
    const int64_t HW = s.H * s.W, img = s.C * s.hp * s.wp;
    uint8_t* img_t = nh + t * img;
    const int64_t row = s.wp * s.C, left = s.PL * s.C;
    if (row == s.W * s.C && (s.C > 1 && !s.in_nhwc)) {  // unpadded rows: the whole image at once
        k::transpose_u8(xb + t * s.C * HW, s.C, HW, HW, img_t + s.PT * row, s.C);
        return;
    }
    if (row == s.W * s.C) {  // one channel or NHWC input: the same bytes
        std::memcpy(img_t + s.PT * row, xb + t * s.C * HW, static_cast<size_t>(s.C * HW));
        return;
    }
    for (int64_t iy = 0; iy < s.H; ++iy) {
        uint8_t* yr = img_t + (s.PT + iy) * row;
        if (s.C == 1 || s.in_nhwc)
            std::memcpy(yr + left, xb + t * s.C * HW + iy * s.W * s.C, static_cast<size_t>(s.W * s.C));
        else
            k::transpose_u8(xb + t * s.C * HW + iy * s.W, s.C, s.W, HW, yr + left, s.C);
    }
}

// pool.run(n, f) with the n tasks grouped into at most 2·threads contiguous chunks: at batch 64 a per-image task
// of a small step (padding copy, transpose, a 14×14 conv) costs less than claiming it (a contended atomic per
// task), which made such steps slower on 2 threads than on 1. f(task, thread) as for pool.run.
template <typename F>
void run_chunked(ThreadPool& pool, int64_t n, F&& f) {
    const int64_t chunks = std::min<int64_t>(n, 2 * static_cast<int64_t>(pool.threads()));
    pool.run(chunks, [&](int64_t c, int thread) {
        for (int64_t i = n * c / chunks, e = n * (c + 1) / chunks; i < e; ++i) f(i, thread);
    });
}

// MaxPool on NHWC bytes: an NCHW input is transposed into s.nhwc first, an NCHW output comes from s.ybuf;
// images × row ranges in parallel.
void run_maxpool_nhwc(QStep& s, ThreadPool& pool, const uint8_t* xb, uint8_t* yb) {
    const int64_t C = s.C, HW = s.mp.H * s.mp.W, P = s.mp.OH * s.mp.OW;
    const bool par = s.splits * s.batch > 1;
    auto each_image = [&](auto&& f) {
        if (!par)
            for (int64_t n = 0; n < s.batch; ++n) f(n, 0);
        else
            run_chunked(pool, s.batch, f);
    };
    const uint8_t* xn = xb;
    if (!s.in_nhwc) {
        each_image([&](int64_t n, int) { k::transpose_u8(xb + n * C * HW, C, HW, HW, s.nhwc.data() + n * HW * C, C); });
        xn = s.nhwc.data();
    }
    uint8_t* yn = s.out_nhwc ? yb : s.ybuf.data();
    k::QMaxPoolNhwcArgs m;
    m.C = C, m.H = s.mp.H, m.W = s.mp.W, m.OH = s.mp.OH, m.OW = s.mp.OW, m.KH = s.mp.KH, m.KW = s.mp.KW;
    m.SH = s.mp.SH, m.SW = s.mp.SW, m.PT = s.mp.PT, m.PL = s.mp.PL, m.DH = s.mp.DH, m.DW = s.mp.DW;
    m.is_signed = s.mp.is_signed;
    // image n's output: dense in yn, or the interior of the next conv's padded image n (qstep_write_into_padded)
    QStep* into = s.y_into;
    if (into) {
        pad_borders(*into);  // borders first: the kernel writes only the interior
        m.y_row = into->wp * C;
    }
    auto task = [&](int64_t t, int) {
        const int64_t part = t % s.splits, n = t / s.splits;
        k::QMaxPoolNhwcArgs b = m;
        b.x = xn + n * HW * C;
        b.y = into ? into->nhwc.data() + n * C * into->hp * into->wp + (into->PT * into->wp + into->PL) * C
                   : yn + n * P * C;
        b.oy_begin = s.mp.OH * part / s.splits, b.oy_end = s.mp.OH * (part + 1) / s.splits;
        if (b.oy_begin < b.oy_end) k::qmaxpool_nhwc(b);
    };
    if (!par)
        task(0, 0);
    else
        run_chunked(pool, s.batch * s.splits, task);
    if (!s.out_nhwc) each_image([&](int64_t n, int) { k::transpose_u8(yn + n * P * C, P, C, C, yb + n * P * C, P); });
}

// A kernel over the padded NHWC copy (depthwise: s.dw_nhwc, or s.direct): kern(x image, y image, oy0, oy1)
// over images × row ranges; an NCHW output goes through s.ybuf and a transpose.
template <typename Kern>
void run_nhwc_rows(QStep& s, ThreadPool& pool, const uint8_t* xb, uint8_t* yb, const Kern& kern) {
    const bool par = s.splits * s.batch > 1;
    pad_borders(s);
    if (s.x_prepadded) {  // the producer wrote the interior (qstep_write_into_padded)
    } else if (!par) {
        pad_nhwc(s, xb, 0, s.nhwc.data());
    } else {
        run_chunked(pool, s.batch, [&](int64_t t, int) { pad_nhwc(s, xb, t, s.nhwc.data()); });
    }
    const int64_t P = s.OH * s.OW, img = s.C * s.hp * s.wp;
    uint8_t* yn = s.out_nhwc ? yb : s.ybuf.data();
    // image n's output: dense in yn, or the interior of the next conv's padded image n
    QStep* into = s.y_into;
    if (into) pad_borders(*into);  // borders first: the kernel writes only the interior
    auto y_image = [&](int64_t n) {
        if (!into) return yn + n * P * s.OC;
        return into->nhwc.data() + n * into->C * into->hp * into->wp + (into->PT * into->wp + into->PL) * into->C;
    };
    auto task = [&](int64_t t, int) {
        const int64_t part = t % s.splits, n = t / s.splits;
        const int64_t oy0 = s.OH * part / s.splits, oy1 = s.OH * (part + 1) / s.splits;
        if (oy0 < oy1) kern(s.nhwc.data() + n * img, y_image(n), oy0, oy1);
    };
    if (!par)
        task(0, 0);
    else
        run_chunked(pool, s.batch * s.splits, task);
    if (!s.out_nhwc) {
        auto tr = [&](int64_t n, int) {
            k::transpose_u8(yn + n * P * s.OC, P, s.OC, s.OC, yb + n * P * s.OC, P);
        };
        if (!par)
            tr(0, 0);
        else
            run_chunked(pool, s.batch, tr);
    }
}

// The fields QDwNhwcArgs and QConvDirectArgs share (geometry over the padded copy, U8 / S8 epilogue), then
// kern(args) per image and row range.
template <typename Args, typename Kern>
void run_nhwc_kernel(QStep& s, ThreadPool& pool, const uint8_t* xb, uint8_t* yb, Args d, Kern kern) {
    d.C = s.C, d.OH = s.OH, d.OW = s.OW, d.wp = s.wp, d.KH = s.KH, d.KW = s.KW, d.SH = s.SH, d.SW = s.SW;
    d.DH = s.DH;
    d.a_signed = s.a_signed;
    d.out = s.out;
    d.multiplier = s.multiplier.data();
    d.y_zero = s.y_zero, d.y_min = s.y_min, d.y_max = s.y_max;
    if constexpr (std::is_same_v<Args, k::QConvDirectArgs>) {
        if (s.y_into) d.y_row = s.y_into->wp * s.y_into->C;  // rows of the next conv's padded image
    } else {
        EDGEQ_CHECK(s.y_into == nullptr);
    }
    run_nhwc_rows(s, pool, xb, yb, [&](const uint8_t* x, uint8_t* y, int64_t oy0, int64_t oy1) {
        Args e = d;
        e.x = x, e.y = y, e.oy_begin = oy0, e.oy_end = oy1;
        kern(e);
    });
}

void run_dw_nhwc(QStep& s, ThreadPool& pool, const uint8_t* xb, uint8_t* yb) {
    k::QDwNhwcArgs d;
    d.DW = s.DW;
    d.w = s.dwn_w.data();
    d.bias0 = s.dwn_bias.data();
    run_nhwc_kernel(s, pool, xb, yb, d, [](const k::QDwNhwcArgs& e) { k::qdwconv_nhwc(e); });
}

// qconv_c1 per image and row range: the image's plane padded (border = the zero point byte) in the thread's
// scratch, then the kernel (NCHW output).
void run_c1p(QStep& s, ThreadPool& pool, const uint8_t* xb, uint8_t* yb) {
    k::QConvC1Args d;
    d.OC = s.OC, d.OH = s.OH, d.OW = s.OW, d.wp = s.wp, d.KH = s.KH, d.KW = s.KW;
    d.a_signed = s.a_signed;
    d.w = s.c1_w.data();
    d.bias0 = s.dc_bias.data();
    d.out = s.out;
    d.multiplier = s.multiplier.data();
    d.y_zero = s.y_zero, d.y_min = s.y_min, d.y_max = s.y_max;
    auto task = [&](int64_t t, int thread) {
        const int64_t part = t % s.splits, n = t / s.splits;
        const int64_t oy0 = s.OH * part / s.splits, oy1 = s.OH * (part + 1) / s.splits;
        if (oy0 >= oy1) return;
        std::vector<uint8_t>& pl = s.work[static_cast<size_t>(thread)];
        std::memset(pl.data(), static_cast<uint8_t>(s.a_zero), pl.size());
        const uint8_t* xi = xb + n * s.H * s.W;
        for (int64_t iy = 0; iy < s.H; ++iy)
            std::memcpy(pl.data() + (s.PT + iy) * s.wp + s.PL, xi + iy * s.W, static_cast<size_t>(s.W));
        k::QConvC1Args e = d;
        e.x = pl.data();
        e.y = yb + n * s.OC * s.OH * s.OW;
        e.oy_begin = oy0, e.oy_end = oy1;
        k::qconv_c1(e);
    };
    const int64_t tasks = s.batch * s.splits;
    if (tasks == 1)
        task(0, 0);
    else
        pool.run(tasks, task);
}

void run_direct(QStep& s, ThreadPool& pool, const uint8_t* xb, uint8_t* yb) {
    k::QConvDirectArgs d;
    d.OC = s.OC;
    d.w = s.dc_w.data();
    d.bias0 = s.dc_bias.data();
    run_nhwc_kernel(s, pool, xb, yb, d, [](const k::QConvDirectArgs& e) { k::qconv_direct(e); });
}

void fill_epilogue(const QStep& s, k::QGemmArgs& q, int64_t col0) {
    q.a_signed = s.a_signed;
    q.a_zero = s.a_zero;
    q.b_zero = s.b_zero.empty() ? nullptr : s.b_zero.data() + col0;
    q.bias = s.bias.empty() ? nullptr : s.bias.data() + col0;
    q.out = s.out;
    q.multiplier = s.multiplier.empty() ? nullptr : s.multiplier.data() + col0;
    q.y_zero = s.y_zero, q.y_min = s.y_min, q.y_max = s.y_max;
    q.a_scale = &s.a_scale;
    q.a_scale_per_row = false;
    q.b_scale = s.b_scale.data() + col0;
    q.bias_f = s.bias_f.empty() ? nullptr : s.bias_f.data() + col0;
    q.act = s.act;
}

}  // namespace

void run_qstep(QStep& s, ThreadPool& pool, std::span<const Tensor* const> xs, Tensor& y) {
    const Tensor& x = *xs[0];
    const k::QGemmFn fn = s.row ? k::qgemm_fn(*s.row) : nullptr;  // none for MaxPool
    const size_t esz = s.out == k::QOut::F32 ? 4 : 1;
    auto* yb = y.raw();
    const auto* xb = x.raw();
    if (s.mode == QStep::Mode::Concat) {
        EDGEQ_CHECK(xs.size() == s.cat_bytes.size());
        uint8_t* o = yb;
        for (int64_t t = 0; t < s.cat_outer; ++t)
            for (size_t i = 0; i < xs.size(); ++i) {
                const auto n = static_cast<size_t>(s.cat_bytes[i]);
                const uint8_t* src = xs[i]->raw() + static_cast<size_t>(t) * n;
                if (n % 16 == 0 && n <= 256) {  // NHWC: a pixel's channel run; fixed-size moves, no call
                    for (size_t j = 0; j < n; j += 16) std::memcpy(o + j, src + j, 16);
                } else {
                    std::memcpy(o, src, n);
                }
                o += n;
            }
        return;
    }
    if (s.mode == QStep::Mode::Add) {
        EDGEQ_CHECK(xs.size() == 2);
        auto task = [&](int64_t t, int) {
            const int64_t b = s.qa.n * t / s.splits, e = s.qa.n * (t + 1) / s.splits;
            if (b >= e) return;
            k::QAddArgs d = s.qa;
            d.a = xb + b, d.b = xs[1]->raw() + b, d.y = yb + b, d.n = e - b;
            k::qadd(d);
        };
        if (s.splits <= 1)
            task(0, 0);
        else
            pool.run(s.splits, task);
        return;
    }
    if (s.dynamic) {  // DynamicQuantizeLinear of the whole tensor, then the Gemm below on the bytes
        dynamic_quantize_u8(x.data<float>(), x.numel(), s.xq.data(), &s.a_scale, &s.a_zero);
        xb = s.xq.data();
    }
    if (s.mode == QStep::Mode::Gemm) {
        k::QGemmArgs q;
        fill_epilogue(s, q, 0);
        q.M = s.M, q.N = s.N, q.K = s.K;
        q.a = xb;
        q.lda = s.K;
        q.b = s.packed[0].data<uint8_t>();
        q.c = yb;
        q.ldc = s.N;
        q.m_begin = 0, q.m_end = s.M;
        const int64_t panels = (s.N + k::kQNr - 1) / k::kQNr;
        auto task = [&](int64_t t, int) {
            k::QGemmArgs h = q;
            h.n_begin = std::min(s.N, panels * t / s.splits * k::kQNr);
            h.n_end = std::min(s.N, panels * (t + 1) / s.splits * k::kQNr);
            if (h.n_begin < h.n_end) fn(h);
        };
        if (s.splits <= 1)
            task(0, 0);
        else
            pool.run(s.splits, task);
        return;
    }
    if (s.mode == QStep::Mode::MaxPool && s.mp_nhwc) {
        run_maxpool_nhwc(s, pool, xb, yb);
        return;
    }
    if (s.mode == QStep::Mode::MaxPool || s.mode == QStep::Mode::AvgPool || s.mode == QStep::Mode::Lut) {
        const bool mx = s.mode == QStep::Mode::MaxPool, av = s.mode == QStep::Mode::AvgPool;
        const int64_t items = mx ? s.mp.p_end : av ? s.ap.p_end : s.lut_n;  // planes or bytes
        auto task = [&](int64_t t, int) {
            const int64_t b = items * t / s.splits, e = items * (t + 1) / s.splits;
            if (b >= e) return;
            if (mx) {
                k::QMaxPoolArgs m = s.mp;
                m.x = xb, m.y = yb, m.p_begin = b, m.p_end = e;
                k::qmaxpool(m);
            } else if (av) {
                k::QAvgPoolArgs m = s.ap;
                m.x = xb, m.y = yb, m.p_begin = b, m.p_end = e;
                k::qavgpool(m);
            } else {
                k::qlut_u8(s.lut.data(), xb + b, e - b, yb + b);
            }
        };
        if (s.splits <= 1)
            task(0, 0);
        else
            pool.run(s.splits, task);
        return;
    }
    if (s.mode == QStep::Mode::DwConv && s.c1p) {
        run_c1p(s, pool, xb, yb);
        return;
    }
    if (s.mode == QStep::Mode::DwConv && s.dw_nhwc) {
        run_dw_nhwc(s, pool, xb, yb);
        return;
    }
    if (s.mode == QStep::Mode::DwConv) {
        k::QDwConvArgs d;
        d.C = s.OC, d.H = s.H, d.W = s.W, d.OH = s.OH, d.OW = s.OW, d.KH = s.KH, d.KW = s.KW;
        d.SH = s.SH, d.SW = s.SW, d.PT = s.PT, d.PL = s.PL, d.DH = s.DH, d.DW = s.DW;
        d.one_input = s.one_input;
        d.a_signed = s.a_signed;
        d.a_zero = s.a_zero;
        d.w = s.dw_w.data();
        d.w_zero = s.b_zero.empty() ? nullptr : s.b_zero.data();
        d.bias = s.bias.empty() ? nullptr : s.bias.data();
        d.out = s.out;
        d.multiplier = s.multiplier.empty() ? nullptr : s.multiplier.data();
        d.y_zero = s.y_zero, d.y_min = s.y_min, d.y_max = s.y_max;
        d.a_scale = s.a_scale;
        d.b_scale = s.b_scale.data();
        d.bias_f = s.bias_f.empty() ? nullptr : s.bias_f.data();
        d.act = s.vec_act ? k::Activation{} : s.act;
        auto task = [&](int64_t t, int thread) {
            const int64_t part = t % s.splits, n = t / s.splits;
            k::QDwConvArgs e = d;
            std::vector<uint8_t>& wk = s.work[static_cast<size_t>(thread)];
            e.work = wk.data();
            e.work_bytes = static_cast<int64_t>(wk.size());
            const int64_t C_in = s.one_input ? 1 : s.C;
            e.x = xb + n * C_in * s.H * s.W;
            e.y = yb + n * s.OC * s.OH * s.OW * static_cast<int64_t>(esz);
            e.c_begin = s.OC * part / s.splits;
            e.c_end = s.OC * (part + 1) / s.splits;
            if (e.c_begin >= e.c_end) return;
            k::qdwconv(e);
            if (s.vec_act)  // the channels just written
                k::activate_f32(s.act, static_cast<float*>(e.y) + e.c_begin * s.OH * s.OW,
                                (e.c_end - e.c_begin) * s.OH * s.OW);
        };
        const int64_t tasks = s.batch * s.splits;
        if (tasks == 1)
            task(0, 0);
        else
            pool.run(tasks, task);
        return;
    }
    if (s.direct) {
        run_direct(s, pool, xb, yb);
        return;
    }
    const int64_t Cg = s.C / s.G, OCg = s.OC / s.G, P = s.OH * s.OW, Kc = Cg * s.KH * s.KW;
    // NCHW (or NHWC) -> the padded NHWC image (border = the zero point byte); a 1×1 convolution of NHWC or
    // one-channel input reads x itself
    const uint8_t* xh = xb;
    const int64_t img = s.C * s.hp * s.wp;  // padded image bytes
    if (!s.nhwc.empty()) {
        pad_borders(s);
        if (s.x_prepadded) {  // the producer wrote the interior (qstep_write_into_padded)
        } else if (s.batch == 1 || s.splits * s.batch * s.G == 1) {
            for (int64_t t = 0; t < s.batch; ++t) pad_nhwc(s, xb, t, s.nhwc.data());
        } else {
            pool.run(s.batch, [&](int64_t t, int) { pad_nhwc(s, xb, t, s.nhwc.data()); });
        }
        xh = s.nhwc.data();
    }
    auto task = [&](int64_t t, int thread) {
        const int64_t part = t % s.splits, ig = t / s.splits, gi = ig % s.G, n = ig / s.G;
        const int64_t p0 = P * part / s.splits, p1 = P * (part + 1) / s.splits;
        uint8_t* buf = s.work[static_cast<size_t>(thread)].data();
        uint8_t* a = buf;
        // the GEMM output block, 64-byte aligned after the im2col rows
        uint8_t* c = buf + ((QStep::kChunk * Kc + 63) / 64) * 64;
        k::QIm2colNhwcArgs im;
        im.C = s.C, im.c0 = gi * Cg, im.Cg = Cg;
        im.H = s.hp, im.W = s.wp, im.OH = s.OH, im.OW = s.OW, im.KH = s.KH, im.KW = s.KW;  // padded: no pads
        im.SH = s.SH, im.SW = s.SW, im.PT = 0, im.PL = 0, im.DH = s.DH, im.DW = s.DW;
        im.x = xh + n * img;
        im.pad = static_cast<uint8_t>(s.a_zero);
        k::QGemmArgs q;
        fill_epilogue(s, q, gi * OCg);
        q.N = OCg, q.K = Kc;
        q.b = s.packed[static_cast<size_t>(gi)].data<uint8_t>();
        q.c = c;
        q.ldc = OCg;
        q.n_begin = 0, q.n_end = OCg;
        uint8_t* yimg = yb + (n * s.OC + gi * OCg) * P * esz;
        for (int64_t pb = p0; pb < p1; pb += QStep::kChunk) {
            const int64_t rows = std::min(QStep::kChunk, p1 - pb);
            if (s.pointwise) {
                q.a = im.x + pb * s.C + gi * Cg;
                q.lda = s.C;
            } else if (!s.koff.empty()) {  // each pixel's window origin in the padded image (this group's bytes)
                const uint8_t** org = s.org[static_cast<size_t>(thread)].data();
                int64_t oy = pb / s.OW, ox = pb - oy * s.OW;
                for (int64_t i = 0; i < rows; ++i) {
                    org[i] = im.x + (oy * s.SH * s.wp + ox * s.SW) * s.C + gi * Cg;
                    if (++ox == s.OW) ox = 0, ++oy;
                }
                q.a = nullptr;
                q.lda = 0;
                q.a_rows = org;
                q.a_koff = s.koff.data();
            } else {
                im.p_begin = pb, im.p_end = pb + rows;
                k::im2col_nhwc_u8(im, a, Kc);
                q.a = a;
                q.lda = Kc;
            }
            q.M = rows;
            q.m_begin = 0, q.m_end = rows;
            if (s.out_nhwc || s.out_hwc) {  // straight into the NHWC output (u8 / s8, or F32 out_hwc), row stride OC
                q.c = yb + ((n * P + pb) * s.OC + gi * OCg) * static_cast<int64_t>(esz);
                q.ldc = s.OC;
                fn(q);
                continue;
            }
            fn(q);
            // pixel-major [rows][OCg] -> NCHW
            if (esz == 4)
                k::transpose_f32(reinterpret_cast<const float*>(c), rows, OCg, OCg,
                                 reinterpret_cast<float*>(yimg) + pb, P);
            else
                k::transpose_u8(c, rows, OCg, OCg, yimg + pb, P);
        }
    };
    const int64_t tasks = s.batch * s.G * s.splits;
    if (tasks == 1)
        task(0, 0);
    else
        pool.run(tasks, task);
}

}  // namespace edgeq::runtime::fast
