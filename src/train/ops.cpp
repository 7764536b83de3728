#include "train/ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>

#include "core/parallel.h"
#include "train/linalg.h"

namespace edgeq::train {
namespace {

constexpr float kPi = 3.14159265358979f;

Status need_f32(const graph::Node& n, const Tensor& t, size_t i) {
    if (t.empty_handle()) return InvalidArgument(n.describe() + ": input " + std::to_string(i) + " is missing");
    if (t.dtype() != DType::F32)
        return Unsupported(n.describe() + ": input " + std::to_string(i) + " '" + n.inputs[i] +
                           "' must be float32 to train");
    return Status::Ok();
}
Status need_inputs(const graph::Node& n, const std::vector<Tensor>& in, size_t count) {
    for (size_t i = 0; i < count; ++i) {
        if (i >= in.size()) return InvalidArgument(n.describe() + ": needs " + std::to_string(count) + " inputs");
        EDGEQ_RETURN_IF_ERROR(need_f32(n, in[i], i));
    }
    return Status::Ok();
}
Tensor like(const Tensor& t) { return Tensor(DType::F32, t.shape()); }
float* F(Tensor& t) { return t.data<float>(); }
const float* F(const Tensor& t) { return t.data<float>(); }

// ---- elementwise activations ------------------------------------------------------------------------------

struct ClipBounds {
    float lo = -INFINITY, hi = INFINITY;
};
ClipBounds clip_bounds(const graph::Node& n, const std::vector<Tensor>& in) {
    ClipBounds b;
    if (n.has("min")) b.lo = n.attr_f("min", b.lo);
    if (n.has("max")) b.hi = n.attr_f("max", b.hi);
    if (in.size() > 1 && !in[1].empty_handle()) b.lo = in[1].to_f32().at(0);
    if (in.size() > 2 && !in[2].empty_handle()) b.hi = in[2].to_f32().at(0);
    return b;
}

enum class Unary { Relu, Clip, Sigmoid, Tanh, Gelu, GeluTanh, Identity };
Unary unary_kind(const graph::Node& n) {
    if (n.op_type == "Relu") return Unary::Relu;
    if (n.op_type == "Clip") return Unary::Clip;
    if (n.op_type == "Sigmoid") return Unary::Sigmoid;
    if (n.op_type == "Tanh") return Unary::Tanh;
    if (n.op_type == "Gelu") return n.attr_s("approximate", "none") == "tanh" ? Unary::GeluTanh : Unary::Gelu;
    return Unary::Identity;
}

Status unary_fwd(FwdCtx& c) {
    EDGEQ_RETURN_IF_ERROR(need_inputs(c.node, c.in, 1));
    const Unary k = unary_kind(c.node);
    const ClipBounds b = clip_bounds(c.node, c.in);
    Tensor y = like(c.in[0]);
    const float* x = F(c.in[0]);
    float* o = F(y);
    const int64_t n = y.numel();
    // One loop per kind (a switch inside the loop keeps GCC from vectorizing Relu/Clip).
    auto each = [&](auto f) {
        for (int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
    };
    switch (k) {
        case Unary::Relu: each([](float v) { return v > 0 ? v : 0.0f; }); break;
        case Unary::Clip: each([&](float v) { return std::min(std::max(v, b.lo), b.hi); }); break;
        case Unary::Sigmoid: each([](float v) { return 1.0f / (1.0f + std::exp(-v)); }); break;
        case Unary::Tanh: each([](float v) { return std::tanh(v); }); break;
        case Unary::Gelu: each([](float v) { return 0.5f * v * (1.0f + std::erf(v / std::sqrt(2.0f))); }); break;
        case Unary::GeluTanh:
            each([](float v) {
                const float u = std::sqrt(2.0f / kPi) * (v + 0.044715f * v * v * v);
                return 0.5f * v * (1.0f + std::tanh(u));
            });
            break;
        case Unary::Identity: std::copy(x, x + n, o); break;
    }
    c.out = {y};
    return Status::Ok();
}

Status unary_bwd(BwdCtx& c) {
    if (!c.want[0]) return Status::Ok();
    const Unary k = unary_kind(c.node);
    const ClipBounds b = clip_bounds(c.node, c.in);
    Tensor dx = like(c.in[0]);
    const float* x = F(c.in[0]);
    const float* y = F(c.out[0]);
    const float* dy = F(c.dy);
    float* d = F(dx);
    const int64_t n = dx.numel();
    for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        float g = 1.0f;
        switch (k) {
            case Unary::Relu: g = v > 0 ? 1.0f : 0.0f; break;
            case Unary::Clip: g = (v >= b.lo && v <= b.hi) ? 1.0f : 0.0f; break;
            case Unary::Sigmoid: g = y[i] * (1.0f - y[i]); break;
            case Unary::Tanh: g = 1.0f - y[i] * y[i]; break;
            case Unary::Gelu: {
                const float cdf = 0.5f * (1.0f + std::erf(v / std::sqrt(2.0f)));
                const float pdf = std::exp(-0.5f * v * v) / std::sqrt(2.0f * kPi);
                g = cdf + v * pdf;
                break;
            }
            case Unary::GeluTanh: {
                const float s = std::sqrt(2.0f / kPi);
                const float u = s * (v + 0.044715f * v * v * v);
                const float t = std::tanh(u);
                g = 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * s * (1.0f + 3.0f * 0.044715f * v * v);
                break;
            }
            case Unary::Identity: break;
        }
        d[i] = dy[i] * g;
    }
    c.dx[0] = dx;
    return Status::Ok();
}

// ---- broadcasting Add / Mul ---------------------------------------------------------------------------------

// Offsets of a and b for every output element (numpy broadcasting).
struct Broadcast {
    Shape out;
    std::vector<int64_t> ia, ib;
};
Result<Broadcast> broadcast(const graph::Node& n, const Shape& a, const Shape& b) {
    Broadcast r;
    const size_t R = std::max(a.size(), b.size());
    Shape pa(R, 1), pb(R, 1);
    std::copy(a.begin(), a.end(), pa.begin() + static_cast<std::ptrdiff_t>(R - a.size()));
    std::copy(b.begin(), b.end(), pb.begin() + static_cast<std::ptrdiff_t>(R - b.size()));
    r.out.resize(R);
    for (size_t i = 0; i < R; ++i) {
        if (pa[i] != pb[i] && pa[i] != 1 && pb[i] != 1)
            return InvalidArgument(n.describe() + ": shapes " + shape_str(a) + " and " + shape_str(b) +
                                   " do not broadcast");
        r.out[i] = pa[i] == 1 ? pb[i] : pa[i];
    }
    const int64_t total = shape_numel(r.out);
    r.ia.resize(static_cast<size_t>(total));
    r.ib.resize(static_cast<size_t>(total));
    std::vector<int64_t> sa(R), sb(R), idx(R, 0);
    int64_t ka = 1, kb = 1;
    for (size_t i = R; i-- > 0;) {
        sa[i] = pa[i] == 1 ? 0 : ka;
        sb[i] = pb[i] == 1 ? 0 : kb;
        ka *= pa[i];
        kb *= pb[i];
    }
    int64_t oa = 0, ob = 0;
    for (int64_t e = 0; e < total; ++e) {
        r.ia[static_cast<size_t>(e)] = oa;
        r.ib[static_cast<size_t>(e)] = ob;
        for (size_t i = R; i-- > 0;) {
            ++idx[i];
            oa += sa[i];
            ob += sb[i];
            if (idx[i] < r.out[i]) break;
            oa -= sa[i] * idx[i];
            ob -= sb[i] * idx[i];
            idx[i] = 0;
        }
    }
    return r;
}

Status binary_fwd(FwdCtx& c) {
    EDGEQ_RETURN_IF_ERROR(need_inputs(c.node, c.in, 2));
    const bool mul = c.node.op_type == "Mul";
    const Tensor &a = c.in[0], &b = c.in[1];
    const float *pa = F(a), *pb = F(b);
    if (a.shape() == b.shape()) {
        Tensor y = like(a);
        float* o = F(y);
        for (int64_t i = 0; i < y.numel(); ++i) o[i] = mul ? pa[i] * pb[i] : pa[i] + pb[i];
        c.out = {y};
        return Status::Ok();
    }
    EDGEQ_ASSIGN_OR_RETURN(Broadcast br, broadcast(c.node, a.shape(), b.shape()));
    Tensor y(DType::F32, br.out);
    float* o = F(y);
    for (size_t i = 0; i < br.ia.size(); ++i) {
        const float u = pa[br.ia[i]], v = pb[br.ib[i]];
        o[i] = mul ? u * v : u + v;
    }
    c.out = {y};
    return Status::Ok();
}

Status binary_bwd(BwdCtx& c) {
    const bool mul = c.node.op_type == "Mul";
    const Tensor &a = c.in[0], &b = c.in[1];
    const float *pa = F(a), *pb = F(b), *dy = F(c.dy);
    Tensor da, db;
    if (c.want[0]) da = like(a);
    if (c.want[1]) db = like(b);
    if (a.shape() == b.shape()) {
        for (int64_t i = 0; i < c.dy.numel(); ++i) {
            if (c.want[0]) F(da)[i] = mul ? dy[i] * pb[i] : dy[i];
            if (c.want[1]) F(db)[i] = mul ? dy[i] * pa[i] : dy[i];
        }
    } else {
        EDGEQ_ASSIGN_OR_RETURN(Broadcast br, broadcast(c.node, a.shape(), b.shape()));
        for (size_t i = 0; i < br.ia.size(); ++i) {
            if (c.want[0]) F(da)[br.ia[i]] += mul ? dy[i] * pb[br.ib[i]] : dy[i];
            if (c.want[1]) F(db)[br.ib[i]] += mul ? dy[i] * pa[br.ia[i]] : dy[i];
        }
    }
    c.dx[0] = da;
    c.dx[1] = db;
    return Status::Ok();
}

// ---- Gemm / MatMul ------------------------------------------------------------------------------------------

// Row-major copy of t (R×C) or of its transpose.
std::vector<float> maybe_t(const Tensor& t, bool trans) {
    const int64_t R = t.dim(0), C = t.dim(1);
    std::vector<float> v(static_cast<size_t>(R * C));
    if (trans)
        transpose(F(t), R, C, v.data());
    else
        std::memcpy(v.data(), F(t), v.size() * sizeof(float));
    return v;
}

Status gemm_fwd(FwdCtx& c) {
    EDGEQ_RETURN_IF_ERROR(need_inputs(c.node, c.in, 2));
    const Tensor &A = c.in[0], &B = c.in[1];
    if (A.rank() != 2 || B.rank() != 2)
        return InvalidArgument(c.node.describe() + ": A and B must be 2-D, got " + shape_str(A.shape()) + " and " +
                               shape_str(B.shape()));
    const bool ta = c.node.attr_i("transA", 0) != 0, tb = c.node.attr_i("transB", 0) != 0;
    const float alpha = c.node.attr_f("alpha", 1.0f), beta = c.node.attr_f("beta", 1.0f);
    const int64_t M = ta ? A.dim(1) : A.dim(0), K = ta ? A.dim(0) : A.dim(1);
    const int64_t KB = tb ? B.dim(1) : B.dim(0), N = tb ? B.dim(0) : B.dim(1);
    if (K != KB)
        return InvalidArgument(c.node.describe() + ": inner dimensions differ: " + shape_str(A.shape()) + " and " +
                               shape_str(B.shape()));
    const auto a = ta ? maybe_t(A, true) : std::vector<float>();
    const auto b = tb ? maybe_t(B, true) : std::vector<float>();
    Tensor y(DType::F32, {M, N});
    matmul(M, N, K, ta ? a.data() : F(A), K, tb ? b.data() : F(B), N, F(y), N, false, c.threads);
    float* o = F(y);
    if (alpha != 1.0f)
        for (int64_t i = 0; i < y.numel(); ++i) o[i] *= alpha;
    if (c.in.size() > 2 && !c.in[2].empty_handle()) {
        EDGEQ_RETURN_IF_ERROR(need_f32(c.node, c.in[2], 2));
        EDGEQ_ASSIGN_OR_RETURN(Broadcast br, broadcast(c.node, y.shape(), c.in[2].shape()));
        if (br.out != y.shape())
            return InvalidArgument(c.node.describe() + ": C " + shape_str(c.in[2].shape()) +
                                   " does not broadcast to " + shape_str(y.shape()));
        const float* pc = F(c.in[2]);
        for (size_t i = 0; i < br.ia.size(); ++i) o[i] += beta * pc[br.ib[i]];
    }
    c.out = {y};
    return Status::Ok();
}

Status gemm_bwd(BwdCtx& c) {
    const Tensor &A = c.in[0], &B = c.in[1];
    const bool ta = c.node.attr_i("transA", 0) != 0, tb = c.node.attr_i("transB", 0) != 0;
    const float alpha = c.node.attr_f("alpha", 1.0f), beta = c.node.attr_f("beta", 1.0f);
    const int64_t M = c.dy.dim(0), N = c.dy.dim(1), K = ta ? A.dim(0) : A.dim(1);
    const float* dy = F(c.dy);
    if (c.want[0]) {
        // dA' [M×K] = dY · B'^T, B'^T = (transB ? B : B^T) as [N×K]
        const auto bt = tb ? std::vector<float>() : maybe_t(B, true);
        std::vector<float> d(static_cast<size_t>(M * K));
        matmul(M, K, N, dy, N, tb ? F(B) : bt.data(), K, d.data(), K, false, c.threads);
        Tensor dA = like(A);
        if (ta)
            transpose(d.data(), M, K, F(dA));
        else
            std::memcpy(F(dA), d.data(), d.size() * sizeof(float));
        for (int64_t i = 0; i < dA.numel(); ++i) F(dA)[i] *= alpha;
        c.dx[0] = dA;
    }
    if (c.want[1]) {
        // dB' [K×N] = A'^T · dY, A'^T = (transA ? A : A^T) as [K×M]
        const auto at = ta ? std::vector<float>() : maybe_t(A, true);
        std::vector<float> d(static_cast<size_t>(K * N));
        matmul(K, N, M, ta ? F(A) : at.data(), M, dy, N, d.data(), N, false, c.threads);
        Tensor dB = like(B);
        if (tb)
            transpose(d.data(), K, N, F(dB));
        else
            std::memcpy(F(dB), d.data(), d.size() * sizeof(float));
        for (int64_t i = 0; i < dB.numel(); ++i) F(dB)[i] *= alpha;
        c.dx[1] = dB;
    }
    if (c.in.size() > 2 && c.want[2]) {
        EDGEQ_ASSIGN_OR_RETURN(Broadcast br, broadcast(c.node, c.dy.shape(), c.in[2].shape()));
        Tensor dC = like(c.in[2]);
        for (size_t i = 0; i < br.ib.size(); ++i) F(dC)[br.ib[i]] += beta * dy[i];
        c.dx[2] = dC;
    }
    return Status::Ok();
}

// MatMul: A [..., M, K] · B [K, N] (leading dims of A flattened), or A [b..., M, K] · B [b..., K, N] with equal
// batch dims.
struct MatMulDims {
    int64_t batch = 1, M = 0, K = 0, N = 0;
    bool b_batched = false;
    Shape out;
};
Result<MatMulDims> matmul_dims(const graph::Node& n, const Tensor& A, const Tensor& B) {
    MatMulDims d;
    if (A.rank() < 2 || B.rank() < 2)
        return Unsupported(n.describe() + ": training needs rank >= 2 operands, got " + shape_str(A.shape()) +
                           " and " + shape_str(B.shape()));
    d.K = A.dim(-1);
    d.N = B.dim(-1);
    if (B.dim(-2) != d.K)
        return InvalidArgument(n.describe() + ": inner dimensions differ: " + shape_str(A.shape()) + " and " +
                               shape_str(B.shape()));
    d.out = A.shape();
    d.out.back() = d.N;
    if (B.rank() == 2) {
        d.M = A.numel() / d.K;
        return d;
    }
    if (A.rank() != B.rank() || !std::equal(A.shape().begin(), A.shape().end() - 2, B.shape().begin()))
        return Unsupported(n.describe() + ": batched MatMul needs equal batch dims, got " + shape_str(A.shape()) +
                           " and " + shape_str(B.shape()));
    d.b_batched = true;
    d.M = A.dim(-2);
    d.batch = A.numel() / (d.M * d.K);
    return d;
}

Status matmul_fwd(FwdCtx& c) {
    EDGEQ_RETURN_IF_ERROR(need_inputs(c.node, c.in, 2));
    EDGEQ_ASSIGN_OR_RETURN(MatMulDims d, matmul_dims(c.node, c.in[0], c.in[1]));
    Tensor y(DType::F32, d.out);
    for (int64_t b = 0; b < d.batch; ++b)
        matmul(d.M, d.N, d.K, F(c.in[0]) + b * d.M * d.K, d.K, F(c.in[1]) + (d.b_batched ? b * d.K * d.N : 0), d.N,
               F(y) + b * d.M * d.N, d.N, false, c.threads);
    c.out = {y};
    return Status::Ok();
}

Status matmul_bwd(BwdCtx& c) {
    EDGEQ_ASSIGN_OR_RETURN(MatMulDims d, matmul_dims(c.node, c.in[0], c.in[1]));
    const Tensor &A = c.in[0], &B = c.in[1];
    Tensor dA, dB;
    if (c.want[0]) dA = like(A);
    if (c.want[1]) dB = like(B);
    std::vector<float> bt(static_cast<size_t>(d.K * d.N)), at(static_cast<size_t>(d.M * d.K));
    for (int64_t b = 0; b < d.batch; ++b) {
        const float* a = F(A) + b * d.M * d.K;
        const float* bb = F(B) + (d.b_batched ? b * d.K * d.N : 0);
        const float* dy = F(c.dy) + b * d.M * d.N;
        if (c.want[0]) {
            transpose(bb, d.K, d.N, bt.data());
            matmul(d.M, d.K, d.N, dy, d.N, bt.data(), d.K, F(dA) + b * d.M * d.K, d.K, false, c.threads);
        }
        if (c.want[1]) {
            transpose(a, d.M, d.K, at.data());
            matmul(d.K, d.N, d.M, at.data(), d.M, dy, d.N, F(dB) + (d.b_batched ? b * d.K * d.N : 0), d.N,
                   !d.b_batched && b > 0, c.threads);
        }
    }
    c.dx[0] = dA;
    c.dx[1] = dB;
    return Status::Ok();
}

// ---- Conv ---------------------------------------------------------------------------------------------------

struct ConvGeom {
    int64_t N, C, H, W, OC, OH, OW, G, Cg, OCg, K, P;
    Window w;
};
Result<ConvGeom> conv_geom(const graph::Node& n, const Tensor& x, const Tensor& wt) {
    if (x.rank() != 4 || wt.rank() != 4)
        return Unsupported(n.describe() + ": training supports 2-D convolution (NCHW), got input " +
                           shape_str(x.shape()) + " and weight " + shape_str(wt.shape()));
    const std::string ap = n.attr_s("auto_pad", "NOTSET");
    if (ap != "NOTSET" && ap != "VALID")
        return Unsupported(n.describe() + ": auto_pad " + ap + " (use explicit pads)");
    ConvGeom g{};
    g.N = x.dim(0);
    g.C = x.dim(1);
    g.H = x.dim(2);
    g.W = x.dim(3);
    g.OC = wt.dim(0);
    g.G = n.attr_i("group", 1);
    if (g.G <= 0 || g.C % g.G != 0 || g.OC % g.G != 0 || wt.dim(1) * g.G != g.C)
        return InvalidArgument(n.describe() + ": weight " + shape_str(wt.shape()) + " and group " +
                               std::to_string(g.G) + " do not fit input " + shape_str(x.shape()));
    g.Cg = g.C / g.G;
    g.OCg = g.OC / g.G;
    const auto k = n.attr_ints("kernel_shape", {wt.dim(2), wt.dim(3)});
    const auto s = n.attr_ints("strides", {1, 1});
    const auto d = n.attr_ints("dilations", {1, 1});
    const auto p = n.attr_ints("pads", {0, 0, 0, 0});
    if (k.size() != 2 || s.size() != 2 || d.size() != 2 || p.size() != 4 || k[0] != wt.dim(2) || k[1] != wt.dim(3))
        return InvalidArgument(n.describe() + ": kernel_shape/strides/dilations/pads do not describe a 2-D conv");
    g.w = Window{k[0], k[1], s[0], s[1], d[0], d[1], p[0], p[1], p[2], p[3]};
    g.OH = g.w.out_h(g.H);
    g.OW = g.w.out_w(g.W);
    if (g.OH <= 0 || g.OW <= 0) return InvalidArgument(n.describe() + ": empty output for " + shape_str(x.shape()));
    g.K = g.Cg * g.w.KH * g.w.KW;
    g.P = g.OH * g.OW;
    return g;
}
bool pointwise(const ConvGeom& g) {
    return g.w.KH == 1 && g.w.KW == 1 && g.w.SH == 1 && g.w.SW == 1 && g.w.PT == 0 && g.w.PL == 0 && g.w.PB == 0 &&
           g.w.PR == 0;
}

Status conv_fwd(FwdCtx& c) {
    EDGEQ_RETURN_IF_ERROR(need_inputs(c.node, c.in, 2));
    EDGEQ_ASSIGN_OR_RETURN(ConvGeom g, conv_geom(c.node, c.in[0], c.in[1]));
    const float* bias = nullptr;
    if (c.in.size() > 2 && !c.in[2].empty_handle()) {
        EDGEQ_RETURN_IF_ERROR(need_f32(c.node, c.in[2], 2));
        if (c.in[2].numel() != g.OC) return InvalidArgument(c.node.describe() + ": bias must have OC elements");
        bias = F(c.in[2]);
    }
    Tensor y(DType::F32, {g.N, g.OC, g.OH, g.OW});
    const float *x = F(c.in[0]), *w = F(c.in[1]);
    float* out = F(y);
    const bool pw = pointwise(g);
    parallel_for(g.N, c.threads, 1, [&](int64_t n0, int64_t n1) {
        std::vector<float> col(pw ? 0 : static_cast<size_t>(g.K * g.P));
        for (int64_t n = n0; n < n1; ++n)
            for (int64_t gi = 0; gi < g.G; ++gi) {
                const float* xin = x + (n * g.C + gi * g.Cg) * g.H * g.W;
                if (!pw) im2col(xin, g.Cg, g.H, g.W, g.w, g.OH, g.OW, col.data());
                float* yo = out + (n * g.OC + gi * g.OCg) * g.P;
                matmul(g.OCg, g.P, g.K, w + gi * g.OCg * g.K, g.K, pw ? xin : col.data(), g.P, yo, g.P);
                if (bias)
                    for (int64_t o = 0; o < g.OCg; ++o) {
                        const float bv = bias[gi * g.OCg + o];
                        for (int64_t p = 0; p < g.P; ++p) yo[o * g.P + p] += bv;
                    }
            }
    });
    c.out = {y};
    return Status::Ok();
}

Status conv_bwd(BwdCtx& c) {
    EDGEQ_ASSIGN_OR_RETURN(ConvGeom g, conv_geom(c.node, c.in[0], c.in[1]));
    const bool want_b = c.in.size() > 2 && !c.in[2].empty_handle() && c.want[2];
    const float *x = F(c.in[0]), *w = F(c.in[1]), *dy = F(c.dy);
    Tensor dx, dw = like(c.in[1]), db(DType::F32, {g.OC});
    if (c.want[0]) dx = like(c.in[0]);
    // W_g^T [K×OCg] per group, for dcol = W_g^T · dY_g.
    std::vector<float> wt(static_cast<size_t>(g.G * g.K * g.OCg));
    for (int64_t gi = 0; gi < g.G; ++gi) transpose(w + gi * g.OCg * g.K, g.OCg, g.K, wt.data() + gi * g.K * g.OCg);
    const bool pw = pointwise(g);
    std::mutex mu;
    std::vector<float> dwt(static_cast<size_t>(g.G * g.K * g.OCg), 0.0f);  // dW^T per group, summed over images
    parallel_for(g.N, c.threads, 1, [&](int64_t n0, int64_t n1) {
        std::vector<float> col(static_cast<size_t>(g.K * g.P)), dyt(static_cast<size_t>(g.P * g.OCg));
        std::vector<float> acc(dwt.size(), 0.0f), db_acc(static_cast<size_t>(g.OC), 0.0f);
        for (int64_t n = n0; n < n1; ++n)
            for (int64_t gi = 0; gi < g.G; ++gi) {
                const float* xin = x + (n * g.C + gi * g.Cg) * g.H * g.W;
                const float* dyg = dy + (n * g.OC + gi * g.OCg) * g.P;
                if (!pw) im2col(xin, g.Cg, g.H, g.W, g.w, g.OH, g.OW, col.data());
                // dW_g^T [K×OCg] += col [K×P] · dY_g^T [P×OCg]
                transpose(dyg, g.OCg, g.P, dyt.data());
                matmul(g.K, g.OCg, g.P, pw ? xin : col.data(), g.P, dyt.data(), g.OCg,
                       acc.data() + gi * g.K * g.OCg, g.OCg, true);
                if (want_b)
                    for (int64_t o = 0; o < g.OCg; ++o) {
                        float s = 0;
                        for (int64_t p = 0; p < g.P; ++p) s += dyg[o * g.P + p];
                        db_acc[static_cast<size_t>(gi * g.OCg + o)] += s;
                    }
                if (c.want[0]) {
                    float* dxin = F(dx) + (n * g.C + gi * g.Cg) * g.H * g.W;
                    if (pw) {
                        matmul(g.K, g.P, g.OCg, wt.data() + gi * g.K * g.OCg, g.OCg, dyg, g.P, dxin, g.P, true);
                    } else {
                        matmul(g.K, g.P, g.OCg, wt.data() + gi * g.K * g.OCg, g.OCg, dyg, g.P, col.data(), g.P);
                        col2im_add(col.data(), g.Cg, g.H, g.W, g.w, g.OH, g.OW, dxin);
                    }
                }
            }
        std::lock_guard<std::mutex> lock(mu);
        for (size_t i = 0; i < acc.size(); ++i) dwt[i] += acc[i];
        for (size_t i = 0; i < db_acc.size(); ++i) F(db)[i] += db_acc[i];
    });
    for (int64_t gi = 0; gi < g.G; ++gi) transpose(dwt.data() + gi * g.K * g.OCg, g.K, g.OCg, F(dw) + gi * g.OCg * g.K);
    c.dx[0] = dx;
    if (c.want[1]) c.dx[1] = dw;
    if (want_b) c.dx[2] = db;
    return Status::Ok();
}

// ---- BatchNormalization (NC[...]) ----------------------------------------------------------------------------

Status bn_fwd(FwdCtx& c) {
    EDGEQ_RETURN_IF_ERROR(need_inputs(c.node, c.in, 5));
    const Tensor& X = c.in[0];
    if (X.rank() < 2) return InvalidArgument(c.node.describe() + ": input must be at least 2-D (N, C, ...)");
    const int64_t N = X.dim(0), C = X.dim(1), S = X.numel() / (N * C);
    for (size_t i = 1; i < 5; ++i)
        if (c.in[i].numel() != C)
            return InvalidArgument(c.node.describe() + ": input " + std::to_string(i) + " must have " +
                                   std::to_string(C) + " elements");
    const float eps = c.node.attr_f("epsilon", 1e-5f), mom = c.node.attr_f("momentum", 0.9f);
    const float *x = F(X), *gamma = F(c.in[1]), *beta = F(c.in[2]);
    float *rmean = c.in[3].data<float>(), *rvar = c.in[4].data<float>();
    Tensor y = like(X), xhat = like(X), invstd(DType::F32, {C});
    float *xh = F(xhat), *yv = F(y);
    const double M = static_cast<double>(N * S);
    for (int64_t ch = 0; ch < C; ++ch) {
        float mean = rmean[ch], var = rvar[ch];
        if (c.training) {
            double s = 0, s2 = 0;
            for (int64_t n = 0; n < N; ++n) {
                const float* p = x + (n * C + ch) * S;
                for (int64_t i = 0; i < S; ++i) s += p[i];
            }
            const double m = s / M;
            for (int64_t n = 0; n < N; ++n) {
                const float* p = x + (n * C + ch) * S;
                for (int64_t i = 0; i < S; ++i) s2 += (p[i] - m) * (p[i] - m);
            }
            mean = static_cast<float>(m);
            var = static_cast<float>(s2 / M);
            rmean[ch] = mom * rmean[ch] + (1 - mom) * mean;
            rvar[ch] = mom * rvar[ch] + (1 - mom) * var;
        }
        const float is = 1.0f / std::sqrt(var + eps);
        F(invstd)[ch] = is;
        const float ga = gamma[ch], be = beta[ch];
        for (int64_t n = 0; n < N; ++n) {
            const int64_t o = (n * C + ch) * S;
            const float* xp = x + o;
            float* hp = xh + o;
            float* yp = yv + o;
            for (int64_t i = 0; i < S; ++i) {
                const float h = (xp[i] - mean) * is;
                hp[i] = h;
                yp[i] = ga * h + be;
            }
        }
    }
    c.st.saved = {xhat, invstd};
    c.out = {y};
    return Status::Ok();
}

Status bn_bwd(BwdCtx& c) {
    const Tensor& X = c.in[0];
    const int64_t N = X.dim(0), C = X.dim(1), S = X.numel() / (N * C);
    const float* gamma = F(c.in[1]);
    const float *xhat = F(c.st.saved[0]), *invstd = F(c.st.saved[1]), *dy = F(c.dy);
    Tensor dx, dg(DType::F32, {C}), dbeta(DType::F32, {C});
    if (c.want[0]) dx = like(X);
    const double M = static_cast<double>(N * S);
    for (int64_t ch = 0; ch < C; ++ch) {
        double sd = 0, sdh = 0;
        for (int64_t n = 0; n < N; ++n) {
            const int64_t o = (n * C + ch) * S;
            for (int64_t i = 0; i < S; ++i) {
                sd += dy[o + i];
                sdh += dy[o + i] * xhat[o + i];
            }
        }
        F(dg)[ch] = static_cast<float>(sdh);
        F(dbeta)[ch] = static_cast<float>(sd);
        if (!c.want[0]) continue;
        const float k = gamma[ch] * invstd[ch];
        const float md = static_cast<float>(sd / M), mdh = static_cast<float>(sdh / M);
        for (int64_t n = 0; n < N; ++n) {
            const int64_t o = (n * C + ch) * S;
            for (int64_t i = 0; i < S; ++i)
                F(dx)[o + i] = c.training ? k * (dy[o + i] - md - xhat[o + i] * mdh) : k * dy[o + i];
        }
    }
    c.dx[0] = dx;
    if (c.want[1]) c.dx[1] = dg;
    if (c.want[2]) c.dx[2] = dbeta;
    return Status::Ok();
}

// ---- pooling ------------------------------------------------------------------------------------------------

struct PoolGeom {
    int64_t planes, H, W, OH, OW;
    Window w;
    bool include_pad;
};
Result<PoolGeom> pool_geom(const graph::Node& n, const Tensor& x) {
    if (x.rank() != 4) return Unsupported(n.describe() + ": training supports 2-D pooling (NCHW)");
    const std::string ap = n.attr_s("auto_pad", "NOTSET");
    if (ap != "NOTSET" && ap != "VALID") return Unsupported(n.describe() + ": auto_pad " + ap);
    PoolGeom g{};
    g.planes = x.dim(0) * x.dim(1);
    g.H = x.dim(2);
    g.W = x.dim(3);
    if (n.op_type == "GlobalAveragePool") {
        g.w = Window{g.H, g.W};
        g.OH = g.OW = 1;
        return g;
    }
    const auto k = n.attr_ints("kernel_shape");
    const auto s = n.attr_ints("strides", {1, 1});
    const auto d = n.attr_ints("dilations", {1, 1});
    const auto p = n.attr_ints("pads", {0, 0, 0, 0});
    if (k.size() != 2 || s.size() != 2 || d.size() != 2 || p.size() != 4)
        return InvalidArgument(n.describe() + ": kernel_shape/strides/dilations/pads do not describe 2-D pooling");
    g.w = Window{k[0], k[1], s[0], s[1], d[0], d[1], p[0], p[1], p[2], p[3]};
    const bool ceil_mode = n.attr_i("ceil_mode", 0) != 0;
    g.OH = g.w.out_h(g.H, ceil_mode);
    g.OW = g.w.out_w(g.W, ceil_mode);
    g.include_pad = n.attr_i("count_include_pad", 0) != 0;
    if (g.OH <= 0 || g.OW <= 0) return InvalidArgument(n.describe() + ": empty output for " + shape_str(x.shape()));
    return g;
}

Status maxpool_fwd(FwdCtx& c) {
    EDGEQ_RETURN_IF_ERROR(need_inputs(c.node, c.in, 1));
    EDGEQ_ASSIGN_OR_RETURN(PoolGeom g, pool_geom(c.node, c.in[0]));
    Tensor y(DType::F32, {c.in[0].dim(0), c.in[0].dim(1), g.OH, g.OW});
    c.st.idx.assign(static_cast<size_t>(y.numel()), -1);
    const float* x = F(c.in[0]);
    float* o = F(y);
    const Window& w = g.w;
    if (w.PT == 0 && w.PL == 0 && w.DH == 1 && w.DW == 1 && (g.OH - 1) * w.SH + w.KH <= g.H &&
        (g.OW - 1) * w.SW + w.KW <= g.W) {
        // Every window lies inside the plane (no padding, no ceil_mode overhang): no bounds tests; the same
        // first-maximum tie rule as the general loop below.
        int32_t* idx = c.st.idx.data();
        for (int64_t pl = 0; pl < g.planes; ++pl) {
            const float* plane = x + pl * g.H * g.W;
            for (int64_t oy = 0; oy < g.OH; ++oy)
                for (int64_t ox = 0; ox < g.OW; ++ox) {
                    int64_t bi = oy * w.SH * g.W + ox * w.SW;
                    float best = plane[bi];
                    for (int64_t ky = 0; ky < w.KH; ++ky) {
                        const int64_t row = (oy * w.SH + ky) * g.W + ox * w.SW;
                        for (int64_t kx = 0; kx < w.KW; ++kx)
                            if (plane[row + kx] > best) {
                                best = plane[row + kx];
                                bi = row + kx;
                            }
                    }
                    const int64_t oi = (pl * g.OH + oy) * g.OW + ox;
                    o[oi] = best;
                    idx[oi] = static_cast<int32_t>(bi);
                }
        }
        c.out = {y};
        return Status::Ok();
    }
    for (int64_t pl = 0; pl < g.planes; ++pl)
        for (int64_t oy = 0; oy < g.OH; ++oy)
            for (int64_t ox = 0; ox < g.OW; ++ox) {
                float best = -INFINITY;
                int32_t bi = -1;
                for (int64_t ky = 0; ky < g.w.KH; ++ky) {
                    const int64_t iy = oy * g.w.SH - g.w.PT + ky * g.w.DH;
                    if (iy < 0 || iy >= g.H) continue;
                    for (int64_t kx = 0; kx < g.w.KW; ++kx) {
                        const int64_t ix = ox * g.w.SW - g.w.PL + kx * g.w.DW;
                        if (ix < 0 || ix >= g.W) continue;
                        const float v = x[(pl * g.H + iy) * g.W + ix];
                        if (bi < 0 || v > best) {
                            best = v;
                            bi = static_cast<int32_t>(iy * g.W + ix);
                        }
                    }
                }
                const int64_t oi = (pl * g.OH + oy) * g.OW + ox;
                o[oi] = bi < 0 ? 0.0f : best;
                c.st.idx[static_cast<size_t>(oi)] = bi;
            }
    c.out = {y};
    return Status::Ok();
}

Status maxpool_bwd(BwdCtx& c) {
    if (!c.want[0]) return Status::Ok();
    EDGEQ_ASSIGN_OR_RETURN(PoolGeom g, pool_geom(c.node, c.in[0]));
    Tensor dx = like(c.in[0]);
    const float* dy = F(c.dy);
    const int64_t P = g.OH * g.OW;
    for (int64_t pl = 0; pl < g.planes; ++pl)
        for (int64_t i = 0; i < P; ++i) {
            const int32_t src = c.st.idx[static_cast<size_t>(pl * P + i)];
            if (src >= 0) F(dx)[pl * g.H * g.W + src] += dy[pl * P + i];
        }
    c.dx[0] = dx;
    return Status::Ok();
}

// Taps of average-pool output (oy, ox): calls f(input offset in the plane) and returns the divisor.
template <typename Fn>
int64_t avg_taps(const PoolGeom& g, int64_t oy, int64_t ox, Fn&& f) {
    int64_t inside = 0, padded = 0;
    for (int64_t ky = 0; ky < g.w.KH; ++ky) {
        const int64_t iy = oy * g.w.SH - g.w.PT + ky * g.w.DH;
        for (int64_t kx = 0; kx < g.w.KW; ++kx) {
            const int64_t ix = ox * g.w.SW - g.w.PL + kx * g.w.DW;
            // count_include_pad counts taps inside the padded input (not beyond it, as with ceil_mode).
            if (iy < g.H + g.w.PB && ix < g.W + g.w.PR && iy >= -g.w.PT && ix >= -g.w.PL) ++padded;
            if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) continue;
            ++inside;
            f(iy * g.W + ix);
        }
    }
    return std::max<int64_t>(1, g.include_pad ? padded : inside);
}

Status avgpool_fwd(FwdCtx& c) {
    EDGEQ_RETURN_IF_ERROR(need_inputs(c.node, c.in, 1));
    EDGEQ_ASSIGN_OR_RETURN(PoolGeom g, pool_geom(c.node, c.in[0]));
    Tensor y(DType::F32, {c.in[0].dim(0), c.in[0].dim(1), g.OH, g.OW});
    const float* x = F(c.in[0]);
    for (int64_t pl = 0; pl < g.planes; ++pl)
        for (int64_t oy = 0; oy < g.OH; ++oy)
            for (int64_t ox = 0; ox < g.OW; ++ox) {
                double s = 0;
                const float* plane = x + pl * g.H * g.W;
                const int64_t cnt = avg_taps(g, oy, ox, [&](int64_t off) { s += plane[off]; });
                F(y)[(pl * g.OH + oy) * g.OW + ox] = static_cast<float>(s / static_cast<double>(cnt));
            }
    c.out = {y};
    return Status::Ok();
}

Status avgpool_bwd(BwdCtx& c) {
    if (!c.want[0]) return Status::Ok();
    EDGEQ_ASSIGN_OR_RETURN(PoolGeom g, pool_geom(c.node, c.in[0]));
    Tensor dx = like(c.in[0]);
    const float* dy = F(c.dy);
    std::vector<int64_t> taps;
    for (int64_t pl = 0; pl < g.planes; ++pl)
        for (int64_t oy = 0; oy < g.OH; ++oy)
            for (int64_t ox = 0; ox < g.OW; ++ox) {
                taps.clear();
                const int64_t cnt = avg_taps(g, oy, ox, [&](int64_t off) { taps.push_back(off); });
                const float v = dy[(pl * g.OH + oy) * g.OW + ox] / static_cast<float>(cnt);
                float* plane = F(dx) + pl * g.H * g.W;
                for (int64_t off : taps) plane[off] += v;
            }
    c.dx[0] = dx;
    return Status::Ok();
}

// ---- shape ops ----------------------------------------------------------------------------------------------

Result<Shape> reshape_target(const graph::Node& n, const std::vector<Tensor>& in, int64_t opset) {
    const Shape& xs = in[0].shape();
    if (n.op_type == "Flatten") {
        int64_t axis = n.attr_i("axis", 1);
        if (axis < 0) axis += static_cast<int64_t>(xs.size());
        if (axis < 0 || axis > static_cast<int64_t>(xs.size()))
            return InvalidArgument(n.describe() + ": axis out of range for " + shape_str(xs));
        int64_t a = 1;
        for (int64_t i = 0; i < axis; ++i) a *= xs[static_cast<size_t>(i)];
        return Shape{a, a == 0 ? 0 : in[0].numel() / a};
    }
    if (n.op_type == "Identity") return xs;
    if (in.size() < 2 || in[1].empty_handle()) return InvalidArgument(n.describe() + ": shape input missing");
    Shape s = in[1].to_i64();
    const bool allowzero = n.attr_i("allowzero", 0) != 0;
    int64_t known = 1, neg = -1;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == 0 && !allowzero) {
            if (i >= xs.size()) return InvalidArgument(n.describe() + ": 0 in shape beyond the input rank");
            s[i] = xs[i];
        }
        if (s[i] == -1) {
            if (neg >= 0) return InvalidArgument(n.describe() + ": more than one -1 in shape");
            neg = static_cast<int64_t>(i);
        } else {
            known *= s[i];
        }
    }
    if (neg >= 0) s[static_cast<size_t>(neg)] = known == 0 ? 0 : in[0].numel() / known;
    if (shape_numel(s) != in[0].numel())
        return InvalidArgument(n.describe() + ": cannot reshape " + shape_str(xs) + " to " + shape_str(s));
    return s;
}

Status reshape_fwd(FwdCtx& c) {
    EDGEQ_RETURN_IF_ERROR(need_inputs(c.node, c.in, 1));
    EDGEQ_ASSIGN_OR_RETURN(Shape s, reshape_target(c.node, c.in, c.opset));
    c.out = {c.in[0].reshaped(s)};
    return Status::Ok();
}
Status reshape_bwd(BwdCtx& c) {
    if (c.want[0]) c.dx[0] = c.dy.clone().reshaped(c.in[0].shape());
    return Status::Ok();
}

// ---- Softmax ------------------------------------------------------------------------------------------------

// [outer][D][inner] view: opset >= 13 normalizes one axis; older opsets coerce to 2-D at axis.
struct SoftmaxDims {
    int64_t outer = 1, D = 1, inner = 1;
};
Result<SoftmaxDims> softmax_dims(const graph::Node& n, const Tensor& x, int64_t opset) {
    const int64_t r = x.rank();
    int64_t axis = n.attr_i("axis", opset >= 13 ? -1 : 1);
    if (axis < 0) axis += r;
    if (axis < 0 || axis >= std::max<int64_t>(r, 1)) return InvalidArgument(n.describe() + ": axis out of range");
    SoftmaxDims d;
    for (int64_t i = 0; i < r; ++i) {
        const int64_t v = x.dim(i);
        if (i < axis)
            d.outer *= v;
        else if (i == axis || opset < 13)
            d.D *= v;
        else
            d.inner *= v;
    }
    return d;
}

Status softmax_fwd(FwdCtx& c) {
    EDGEQ_RETURN_IF_ERROR(need_inputs(c.node, c.in, 1));
    EDGEQ_ASSIGN_OR_RETURN(SoftmaxDims d, softmax_dims(c.node, c.in[0], c.opset));
    Tensor y = like(c.in[0]);
    const float* x = F(c.in[0]);
    for (int64_t o = 0; o < d.outer; ++o)
        for (int64_t in = 0; in < d.inner; ++in) {
            const int64_t base = o * d.D * d.inner + in;
            float mx = -INFINITY;
            for (int64_t k = 0; k < d.D; ++k) mx = std::max(mx, x[base + k * d.inner]);
            double s = 0;
            for (int64_t k = 0; k < d.D; ++k) {
                const float e = std::exp(x[base + k * d.inner] - mx);
                F(y)[base + k * d.inner] = e;
                s += e;
            }
            for (int64_t k = 0; k < d.D; ++k) F(y)[base + k * d.inner] /= static_cast<float>(s);
        }
    c.out = {y};
    return Status::Ok();
}

Status softmax_bwd(BwdCtx& c) {
    if (!c.want[0]) return Status::Ok();
    EDGEQ_ASSIGN_OR_RETURN(SoftmaxDims d, softmax_dims(c.node, c.in[0], c.opset));
    Tensor dx = like(c.in[0]);
    const float *y = F(c.out[0]), *dy = F(c.dy);
    for (int64_t o = 0; o < d.outer; ++o)
        for (int64_t in = 0; in < d.inner; ++in) {
            const int64_t base = o * d.D * d.inner + in;
            double dot = 0;
            for (int64_t k = 0; k < d.D; ++k) dot += dy[base + k * d.inner] * y[base + k * d.inner];
            for (int64_t k = 0; k < d.D; ++k) {
                const int64_t i = base + k * d.inner;
                F(dx)[i] = y[i] * (dy[i] - static_cast<float>(dot));
            }
        }
    c.dx[0] = dx;
    return Status::Ok();
}

// ---- LayerNormalization (last axes from `axis`) --------------------------------------------------------------

Status layernorm_fwd(FwdCtx& c) {
    EDGEQ_RETURN_IF_ERROR(need_inputs(c.node, c.in, 2));
    const Tensor& X = c.in[0];
    int64_t axis = c.node.attr_i("axis", -1);
    if (axis < 0) axis += X.rank();
    if (axis < 0 || axis >= X.rank()) return InvalidArgument(c.node.describe() + ": axis out of range");
    int64_t D = 1;
    for (int64_t i = axis; i < X.rank(); ++i) D *= X.dim(i);
    const int64_t R = X.numel() / D;
    const bool has_b = c.in.size() > 2 && !c.in[2].empty_handle();
    if (c.in[1].numel() != D || (has_b && c.in[2].numel() != D))
        return Unsupported(c.node.describe() + ": scale/bias must cover the normalized axes (" + std::to_string(D) +
                           " elements)");
    const float eps = c.node.attr_f("epsilon", 1e-5f);
    Tensor y = like(X), xhat = like(X), invstd(DType::F32, {R});
    const float *x = F(X), *gm = F(c.in[1]), *bt = has_b ? F(c.in[2]) : nullptr;
    for (int64_t r = 0; r < R; ++r) {
        const float* p = x + r * D;
        double s = 0, s2 = 0;
        for (int64_t i = 0; i < D; ++i) s += p[i];
        const double m = s / static_cast<double>(D);
        for (int64_t i = 0; i < D; ++i) s2 += (p[i] - m) * (p[i] - m);
        const float is = static_cast<float>(1.0 / std::sqrt(s2 / static_cast<double>(D) + eps));
        F(invstd)[r] = is;
        for (int64_t i = 0; i < D; ++i) {
            const float h = static_cast<float>(p[i] - m) * is;
            F(xhat)[r * D + i] = h;
            F(y)[r * D + i] = h * gm[i] + (bt ? bt[i] : 0.0f);
        }
    }
    c.st.saved = {xhat, invstd};
    c.out = {y};
    return Status::Ok();
}

Status layernorm_bwd(BwdCtx& c) {
    const Tensor& X = c.in[0];
    const int64_t D = c.in[1].numel(), R = X.numel() / D;
    const float *gm = F(c.in[1]), *xhat = F(c.st.saved[0]), *invstd = F(c.st.saved[1]), *dy = F(c.dy);
    Tensor dx, dg = like(c.in[1]), db(DType::F32, {D});
    if (c.want[0]) dx = like(X);
    std::vector<float> g(static_cast<size_t>(D));
    for (int64_t r = 0; r < R; ++r) {
        double sg = 0, sgh = 0;
        for (int64_t i = 0; i < D; ++i) {
            const float v = dy[r * D + i];
            F(dg)[i] += v * xhat[r * D + i];
            F(db)[i] += v;
            g[static_cast<size_t>(i)] = v * gm[i];
            sg += g[static_cast<size_t>(i)];
            sgh += g[static_cast<size_t>(i)] * xhat[r * D + i];
        }
        if (!c.want[0]) continue;
        const float mg = static_cast<float>(sg / static_cast<double>(D)),
                    mgh = static_cast<float>(sgh / static_cast<double>(D));
        for (int64_t i = 0; i < D; ++i)
            F(dx)[r * D + i] = invstd[r] * (g[static_cast<size_t>(i)] - mg - xhat[r * D + i] * mgh);
    }
    c.dx[0] = dx;
    if (c.want[1]) c.dx[1] = dg;
    if (c.in.size() > 2 && c.want[2]) c.dx[2] = db.reshaped(c.in[2].shape());
    return Status::Ok();
}

// ---- FakeQuant (com.edgeq, for QAT) ---------------------------------------------------------------------------
// y = clamp(round(x / s), qmin, qmax) · s with s per tensor (scale numel 1) or per slice of `axis`.
// Gradients (straight-through estimator; LSQ, Esser et al. 2020, without LSQ's gradient scale, which the caller
// may apply to the step's learning rate):
//   dy/dx = 1 where qmin <= x/s <= qmax, else 0
//   dy/ds = round(x/s) − x/s inside the range, qmin below it, qmax above it.
struct FqDims {
    int64_t outer = 1, C = 1, inner = 1;
    float qmin = -128, qmax = 127;
};
Result<FqDims> fq_dims(const graph::Node& n, const Tensor& x, const Tensor& s) {
    FqDims d;
    d.qmin = static_cast<float>(n.attr_i("qmin", -128));
    d.qmax = static_cast<float>(n.attr_i("qmax", 127));
    if (!(d.qmin < d.qmax)) return InvalidArgument(n.describe() + ": qmin must be < qmax");
    if (s.numel() == 1) {
        d.inner = x.numel();
        return d;
    }
    int64_t axis = n.attr_i("axis", 0);
    if (axis < 0) axis += x.rank();
    if (axis < 0 || axis >= x.rank() || x.dim(axis) != s.numel())
        return InvalidArgument(n.describe() + ": scale of " + std::to_string(s.numel()) +
                               " elements does not match axis of " + shape_str(x.shape()));
    d.C = s.numel();
    for (int64_t i = 0; i < axis; ++i) d.outer *= x.dim(i);
    for (int64_t i = axis + 1; i < x.rank(); ++i) d.inner *= x.dim(i);
    return d;
}

Status fakequant_fwd(FwdCtx& c) {
    EDGEQ_RETURN_IF_ERROR(need_inputs(c.node, c.in, 2));
    EDGEQ_ASSIGN_OR_RETURN(FqDims d, fq_dims(c.node, c.in[0], c.in[1]));
    Tensor y = like(c.in[0]);
    const float *x = F(c.in[0]), *sc = F(c.in[1]);
    for (int64_t ch = 0; ch < d.C; ++ch)
        if (!(sc[ch] > 0)) return InvalidArgument(c.node.describe() + ": scale must be > 0");
    for (int64_t o = 0; o < d.outer; ++o)
        for (int64_t ch = 0; ch < d.C; ++ch) {
            const float s = sc[ch];
            const int64_t base = (o * d.C + ch) * d.inner;
            for (int64_t i = 0; i < d.inner; ++i)
                F(y)[base + i] = std::min(std::max(std::nearbyint(x[base + i] / s), d.qmin), d.qmax) * s;
        }
    c.out = {y};
    return Status::Ok();
}

Status fakequant_bwd(BwdCtx& c) {
    EDGEQ_ASSIGN_OR_RETURN(FqDims d, fq_dims(c.node, c.in[0], c.in[1]));
    const float *x = F(c.in[0]), *sc = F(c.in[1]), *dy = F(c.dy);
    Tensor dx = like(c.in[0]), ds = like(c.in[1]);
    for (int64_t o = 0; o < d.outer; ++o)
        for (int64_t ch = 0; ch < d.C; ++ch) {
            const float s = sc[ch];
            const int64_t base = (o * d.C + ch) * d.inner;
            double acc = 0;
            for (int64_t i = 0; i < d.inner; ++i) {
                const float v = x[base + i] / s;
                float gs;
                if (v < d.qmin) {
                    gs = d.qmin;
                } else if (v > d.qmax) {
                    gs = d.qmax;
                } else {
                    gs = std::nearbyint(v) - v;
                    F(dx)[base + i] = dy[base + i];
                }
                acc += static_cast<double>(dy[base + i]) * gs;
            }
            F(ds)[ch] += static_cast<float>(acc);
        }
    if (c.want[0]) c.dx[0] = dx;
    if (c.want[1]) c.dx[1] = ds;
    return Status::Ok();
}

const GradOp kOps[] = {
    {"Gemm", gemm_fwd, gemm_bwd, 0b111},
    {"MatMul", matmul_fwd, matmul_bwd, 0b11},
    {"Conv", conv_fwd, conv_bwd, 0b111},
    {"BatchNormalization", bn_fwd, bn_bwd, 0b111},
    {"LayerNormalization", layernorm_fwd, layernorm_bwd, 0b111},
    {"Relu", unary_fwd, unary_bwd, 0b1},
    {"Clip", unary_fwd, unary_bwd, 0b1},
    {"Sigmoid", unary_fwd, unary_bwd, 0b1},
    {"Tanh", unary_fwd, unary_bwd, 0b1},
    {"Gelu", unary_fwd, unary_bwd, 0b1},
    {"Identity", reshape_fwd, reshape_bwd, 0b1},
    {"MaxPool", maxpool_fwd, maxpool_bwd, 0b1},
    {"AveragePool", avgpool_fwd, avgpool_bwd, 0b1},
    {"GlobalAveragePool", avgpool_fwd, avgpool_bwd, 0b1},
    {"Add", binary_fwd, binary_bwd, 0b11},
    {"Mul", binary_fwd, binary_bwd, 0b11},
    {"Flatten", reshape_fwd, reshape_bwd, 0b1},
    {"Reshape", reshape_fwd, reshape_bwd, 0b1},
    {"Softmax", softmax_fwd, softmax_bwd, 0b1},
    {"FakeQuant", fakequant_fwd, fakequant_bwd, 0b11},  // domain com.edgeq
};

}  // namespace

const GradOp* find_grad_op(const std::string& op_type) {
    for (const GradOp& op : kOps)
        if (op_type == op.op_type) return &op;
    return nullptr;
}

std::vector<std::string> grad_op_names() {
    std::vector<std::string> v;
    for (const GradOp& op : kOps) v.emplace_back(op.op_type);
    return v;
}

}  // namespace edgeq::train
