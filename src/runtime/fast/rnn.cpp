#include "runtime/fast/rnn.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "kernels/kernels.h"
#include "kernels/qgemm.h"
#include "kernels/rnn.h"
#include "runtime/fast/thread_pool.h"

namespace edgeq::runtime::fast {

namespace k = edgeq::kernels;

// An int8 weight matrix B[k][n] for the INT8 products (kernels/rnn.h): packed for qgemm, with its per-column
// scale, zero point (empty: all 0) and colsum[n] = Σ_k (B[k][n] − zb[n]) for the activation zero point.
struct QMat {
    Tensor packed;  // qpack_b(K, N)
    int64_t K = 0, N = 0;
    std::vector<int32_t> colsum, zero;
    std::vector<float> scale;
};
// Activations quantized per row (quantize_rows_u8): codes [rows][K], scale and zero point per row.
struct QRows {
    std::vector<uint8_t> q;
    std::vector<float> scale;
    std::vector<int32_t> zero;
    void reserve(int64_t rows, int64_t K) {
        q.assign(static_cast<size_t>(std::max<int64_t>(1, rows * K)), 0);
        scale.assign(static_cast<size_t>(std::max<int64_t>(1, rows)), 1.0f);
        zero.assign(scale.size(), 0);
    }
};

// Shapes (as runtime/ref/ops_nn_rnn.cpp): X [S][N][I] (layout 1: [N][S][I]), W [dirs][G·H][I],
// R [dirs][G·H][H], B [dirs][2·G·H], Y [S][dirs][N][H] (layout 1: [N][S][dirs][H]), states [dirs][N][H]
// (layout 1: [N][dirs][H]). Inside the step the states are always [dirs][N][H].
struct RnnStep {
    bool lstm = true;
    int64_t S = 0, N = 0, I = 0, H = 0, G = 4, dirs = 1;
    bool reverse = false;  // direction "reverse": the only direction walks t = len−1 … 0
    bool x_bf = false;     // X as stored is batch-major ([N][S][I])
    bool bf = false;       // layout 1 for Y and the states
    bool lbr = false;      // GRU linear_before_reset
    Shape x_stored;        // X's shape as stored (what run() checks)
    const k::KernelRow* gemm = nullptr;
    const k::RnnKernelRow* gates = nullptr;
    Tensor w;                    // packed, K = I, N = dirs·G·H (both directions side by side)
    std::vector<float> xw_bias;  // [dirs·G·H]
    std::vector<Tensor> r;       // per direction: packed Rᵀ (GRU without lbr: the z, r columns only)
    std::vector<Tensor> rh;      // GRU without lbr, per direction: packed Rhᵀ
    std::vector<std::vector<float>> hr_bias;  // GRU lbr, per direction: [3H], Rbh in the h part
    std::vector<float> p;                     // LSTM peepholes [dirs][3H], or empty
    // INT8 (W and R int8 behind DequantizeLinear): the products run as quantize_rows_u8 → qgemm (S32) →
    // dequant_rows_s32 instead of the float GEMMs; w, r, rh above stay empty.
    bool q8 = false;
    const k::QKernelRow* qgemm = nullptr;
    QMat qw;                    // K = I, N = dirs·G·H
    std::vector<QMat> qr, qrh;  // per direction, as r and rh
    QRows xq;                   // X, [S·N] rows
    std::vector<QRows> hq;      // per thread: h (or r⊙h), [rows_max] rows
    int threads = 1;
    int64_t xw_splits = 1;  // column splits of the XW GEMM
    int64_t chunks = 1;     // batch chunks of the recurrence (per direction)
    bool parallel = false;  // run the recurrence's dirs·chunks tasks on the pool
    // buffers reused across runs
    Tensor xw;                             // [S·N][dirs·G·H]
    std::vector<float> hs, cs;             // [dirs][N][H]
    std::vector<std::vector<float>> work;  // per thread: [rows][G·H] h·Rᵀ, then [rows][H] r⊙h
    std::vector<int64_t> lens;
    int64_t rows_max = 0;
};

void RnnStepDeleter::operator()(RnnStep* s) const {
    delete s;
}

namespace {

// W or R as int8 codes behind a DequantizeLinear of initializers, per tensor or per gate row (axis 1), as
// dynamic and static quantization write them; scale and zero point expanded to the G·H gate rows.
struct Int8Weight {
    const Tensor* q = nullptr;
    std::vector<float> scale;
    std::vector<int32_t> zero;  // empty: no zero point (0)
};
bool int8_weight(const graph::Graph& g, const std::string& name, int64_t GH, Int8Weight& out) {
    const graph::Node* dq = nullptr;
    for (const auto& n : g.nodes)
        if (!n.outputs.empty() && n.outputs[0] == name) dq = &n;
    if (!dq || !dq->domain.empty() || dq->op_type != "DequantizeLinear" || dq->inputs.size() < 2)
        return false;
    if (dq->attr_i("block_size", 0) != 0) return false;
    auto init = [&](size_t i) -> const Tensor* {
        if (i >= dq->inputs.size() || dq->inputs[i].empty()) return nullptr;
        auto it = g.initializers.find(dq->inputs[i]);
        return it == g.initializers.end() ? nullptr : &it->second;
    };
    const Tensor *q = init(0), *sc = init(1), *zp = init(2);
    if (!q || q->dtype() != DType::I8 || q->rank() != 3 || !sc || sc->dtype() != DType::F32) return false;
    if (dq->inputs.size() > 2 && !dq->inputs[2].empty() && (!zp || zp->dtype() != DType::I8)) return false;
    const int64_t n = sc->numel();
    int64_t axis = dq->attr_i("axis", 1);
    if (axis < 0) axis += 3;
    if (!(n == 1 && sc->rank() <= 1) && !(sc->rank() == 1 && n == GH && axis == 1)) return false;
    if (zp && zp->numel() != n) return false;
    out.q = q;
    out.scale.resize(static_cast<size_t>(GH));
    if (zp) out.zero.resize(static_cast<size_t>(GH));
    for (int64_t j = 0; j < GH; ++j) {
        out.scale[static_cast<size_t>(j)] = sc->data<float>()[n == 1 ? 0 : j];
        if (zp) out.zero[static_cast<size_t>(j)] = zp->data<int8_t>()[n == 1 ? 0 : j];
    }
    return true;
}

// B[k][n] = w[n·K + k] (n < N rows of a [rows][K] int8 weight), column n being gate row (row0 + n) mod GH.
QMat qmat(const Int8Weight& wt, const int8_t* w, int64_t K, int64_t N, int64_t row0, int64_t GH) {
    QMat m;
    m.K = K, m.N = N;
    m.packed = Tensor(DType::U8, {k::qpack_b_bytes(K, N)});
    k::qpack_b(w, false, 1, K, K, N, m.packed.data<uint8_t>());
    m.colsum.resize(static_cast<size_t>(N));
    m.scale.resize(static_cast<size_t>(N));
    if (!wt.zero.empty()) m.zero.resize(static_cast<size_t>(N));
    for (int64_t n = 0; n < N; ++n) {
        const auto j = static_cast<size_t>((row0 + n) % GH);
        const int32_t z = wt.zero.empty() ? 0 : wt.zero[j];
        int32_t sum = 0;
        for (int64_t kk = 0; kk < K; ++kk) sum += w[n * K + kk] - z;
        m.colsum[static_cast<size_t>(n)] = sum;
        m.scale[static_cast<size_t>(n)] = wt.scale[j];
        if (!m.zero.empty()) m.zero[static_cast<size_t>(n)] = z;
    }
    return m;
}

// rows [m0, m0 + rows) of q (codes at row m·K) from a (row m − m0 at a + (m − m0)·lda)
void quantize_rows(const RnnStep& s, const float* a, int64_t lda, int64_t rows, int64_t K, QRows& q,
                   int64_t m0 = 0) {
    k::QuantRowsArgs qa;
    qa.rows = rows, qa.K = K, qa.x = a, qa.ldx = lda;
    qa.q = q.q.data() + m0 * K, qa.ldq = K, qa.scale = q.scale.data() + m0, qa.zero = q.zero.data() + m0;
    s.gates->quantize_rows_u8(qa);
}

// out[m][n] (n in [n0, n1), a multiple of kQNr for n0) = dequant(q[m] · B[:, n]) + bias[n]: qgemm writes the
// int32 sums into out itself, dequant_rows_s32 turns them into floats in place.
// (rows [m0, m0 + rows) of q: out's row 0 is q's row m0)
void qproduct(const RnnStep& s, const QMat& b, const QRows& q, int64_t rows, const float* bias, float* out,
              int64_t ldo, int64_t n0, int64_t n1, int64_t m0 = 0) {
    if (rows <= 0 || n0 >= n1) return;
    const uint8_t* qq = q.q.data() + m0 * b.K;
    const float* qs = q.scale.data() + m0;
    const int32_t* qz = q.zero.data() + m0;
    if (s.gates->q8_product && b.zero.empty()) {  // fused product + dequantization
        k::Q8ProductArgs p;
        p.rows = rows, p.N = n1 - n0, p.K = b.K;
        p.q = qq, p.ldq = b.K, p.zero = qz, p.scale = qs;
        p.b = b.packed.data<uint8_t>() + (n0 / k::kQNr) * ((b.K + 3) / 4) * 64;
        p.colsum = b.colsum.data() + n0, p.b_scale = b.scale.data() + n0;
        p.bias = bias ? bias + n0 : nullptr;
        p.y = out + n0, p.ldy = ldo;
        s.gates->q8_product(p);
        return;
    }
    auto* acc = reinterpret_cast<int32_t*>(out);
    k::QGemmArgs g;
    g.M = rows, g.N = b.N, g.K = b.K;
    g.a = qq, g.lda = b.K, g.a_zero = 0;
    g.b = b.packed.data<uint8_t>();
    g.b_zero = b.zero.empty() ? nullptr : b.zero.data();
    g.out = k::QOut::S32;
    g.c = acc, g.ldc = ldo;
    g.m_begin = 0, g.m_end = rows, g.n_begin = n0, g.n_end = n1;
    k::qgemm_fn (*s.qgemm)(g);
    k::DequantRowsArgs d;
    d.rows = rows, d.N = n1 - n0;
    d.acc = acc + n0, d.ldacc = ldo;
    d.zero = qz, d.scale = qs;
    d.colsum = b.colsum.data() + n0, d.b_scale = b.scale.data() + n0;
    d.bias = bias ? bias + n0 : nullptr;
    d.y = out + n0, d.ldy = ldo;
    s.gates->dequant_rows_s32(d);
}

std::string lower(const std::string& s) {
    std::string r;
    for (char c : s) r += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r;
}

const Tensor* constant(const graph::Graph& g, const std::string& name) {
    auto it = g.initializers.find(name);
    return it == g.initializers.end() ? nullptr : &it->second;
}

Tensor packed(const float* b, int64_t stride_k, int64_t stride_n, int64_t K, int64_t N, int nr) {
    Tensor t(DType::F32, {k::packed_b_floats(K, N, nr)});
    k::pack_b(b, stride_k, stride_n, K, N, nr, t.data<float>());
    return t;
}

void run_gemm(const k::KernelRow& row, const float* a, int64_t lda, const float* b, const float* bias,
              float* c, int64_t ldc, int64_t M, int64_t N, int64_t K) {
    if (M <= 0) return;
    k::GemmArgs g;
    g.M = M, g.N = N, g.K = K;
    g.a = a, g.lda = lda, g.b = b, g.c = c, g.ldc = ldc;
    g.bias = bias;
    g.bias_kind = bias ? k::BiasKind::PerCol : k::BiasKind::None;
    g.n_begin = 0, g.n_end = N;
    k::gemm_fn(row)(g);
}

// One direction, batch rows [r0, r1), every time step. `work` is this thread's scratch.
void recur(RnnStep& s, int64_t d, int64_t r0, int64_t r1, bool uniform, float* y, float* work, QRows* hq) {
    const int64_t H = s.H, GH = s.G * H, C = s.dirs * GH, rows = r1 - r0;
    if (rows <= 0) return;
    const bool rev = s.reverse || d == 1;
    float* hr = work;                     // [rows][GH]
    float* rhb = work + s.rows_max * GH;  // [rows][H]
    float* h = s.hs.data() + (d * s.N + r0) * H;
    float* c = s.cs.data() + (d * s.N + r0) * H;
    const float* pd = s.p.empty() ? nullptr : s.p.data() + d * 3 * H;
    const float* hr_bias = s.lbr ? s.hr_bias[static_cast<size_t>(d)].data() : nullptr;
    const int64_t gemm_n = s.lstm ? 4 * H : s.lbr ? 3 * H : 2 * H;
    const int64_t ldxw = s.x_bf ? s.S * C : C;
    const int64_t ldy = s.bf ? s.S * s.dirs * H : H;

    // Gates of rows [ra, rb) (all active, all at time t).
    auto gates = [&](int64_t ra, int64_t rb, int64_t t) {
        const int64_t o = ra - r0, n = rb - ra;
        const float* xw = s.xw.data<float>() + (s.x_bf ? ra * s.S + t : t * s.N + ra) * C + d * GH;
        float* yp = y ? y + (s.bf ? (ra * s.S + t) * s.dirs + d : (t * s.dirs + d) * s.N + ra) * H : nullptr;
        if (s.lstm) {
            k::LstmGateArgs a;
            a.rows = n, a.H = H, a.xw = xw, a.ldxw = ldxw, a.hr = hr + o * GH, a.ldhr = GH, a.p = pd;
            a.c = c + o * H, a.ldc = H, a.h = h + o * H, a.ldh = H, a.y = yp, a.ldy = ldy;
            s.gates->lstm(a);
            return;
        }
        k::GruGateArgs a;
        a.rows = n, a.H = H, a.xw = xw, a.ldxw = ldxw, a.hr = hr + o * GH, a.ldhr = GH;
        a.rh = rhb + o * H, a.ldrh = H, a.h = h + o * H, a.ldh = H, a.y = yp, a.ldy = ldy;
        if (s.lbr) {
            s.gates->gru_lbr(a);
        } else {
            s.gates->gru_reset(a);
            if (s.q8) {
                quantize_rows(s, a.rh, H, n, H, *hq);
                qproduct(s, s.qrh[static_cast<size_t>(d)], *hq, n, nullptr, a.hr + 2 * H, GH, 0, H);
            } else {
                run_gemm(*s.gemm, a.rh, H, s.rh[static_cast<size_t>(d)].data<float>(), nullptr, a.hr + 2 * H,
                         GH, n, H, H);
            }
            s.gates->gru_update(a);
        }
    };

    int64_t steps = s.S;
    if (!uniform) {
        steps = 0;
        for (int64_t i = r0; i < r1; ++i) steps = std::max(steps, s.lens[static_cast<size_t>(i)]);
    }
    for (int64_t st = 0; st < steps; ++st) {
        if (s.q8) {
            quantize_rows(s, h, H, rows, H, *hq);
            qproduct(s, s.qr[static_cast<size_t>(d)], *hq, rows, hr_bias, hr, GH, 0, gemm_n);
        } else {
            run_gemm(*s.gemm, h, H, s.r[static_cast<size_t>(d)].data<float>(), hr_bias, hr, GH, rows, gemm_n,
                     H);
        }
        if (uniform) {
            gates(r0, r1, rev ? s.S - 1 - st : st);
            continue;
        }
        // runs of consecutive active rows at the same time step (rows past their length keep their state)
        for (int64_t i = r0; i < r1;) {
            const int64_t len = s.lens[static_cast<size_t>(i)];
            if (len <= st) {
                ++i;
                continue;
            }
            const int64_t t = rev ? len - 1 - st : st;
            int64_t e = i + 1;
            while (e < r1 && s.lens[static_cast<size_t>(e)] > st &&
                   (!rev || s.lens[static_cast<size_t>(e)] == len))
                ++e;
            gates(i, e, t);
            i = e;
        }
    }
}

}  // namespace

RnnPlan plan_rnn(const RnnPlanArgs& pa) {
    RnnPlan out;
    auto refuse = [&](std::string why) {
        out.why = std::move(why);
        return std::move(out);
    };
    const graph::Node& n = *pa.node;
    const graph::Graph& g = *pa.graph;
    if (!n.domain.empty() || (n.op_type != "LSTM" && n.op_type != "GRU")) return refuse("not LSTM/GRU");
    const bool lstm = n.op_type == "LSTM";
    auto constant = [&](const graph::Graph& gr, const std::string& name) -> const Tensor* {
        if (const Tensor* t = fast::constant(gr, name)) return t;
        return pa.constant ? pa.constant(name) : nullptr;
    };
    const int64_t G = lstm ? 4 : 3;
    if (pa.x_dtype != DType::F32 || pa.x_shape.size() != 3) return refuse("X not F32 3-D");
    if (n.inputs.size() < 3) return refuse("missing W or R");
    const Tensor* W = constant(g, n.inputs[1]);
    const Tensor* R = constant(g, n.inputs[2]);
    if (!W || !R || W->dtype() != DType::F32 || R->dtype() != DType::F32)
        return refuse("W/R not constant F32");
    auto input = [&](size_t i) -> const std::string* {
        return i < n.inputs.size() && !n.inputs[i].empty() ? &n.inputs[i] : nullptr;
    };
    // an optional constant input: absent, or present with 0 elements, both mean "not given" (as the
    // reference)
    auto opt_const = [&](size_t i, const Tensor** t) {
        *t = nullptr;
        const std::string* name = input(i);
        if (!name) return true;
        const Tensor* c = constant(g, *name);
        if (!c || c->dtype() != DType::F32) return false;
        if (c->numel() > 0) *t = c;
        return true;
    };
    const Tensor *B = nullptr, *P = nullptr;
    if (!opt_const(3, &B)) return refuse("B not constant F32");
    if (lstm && !opt_const(7, &P)) return refuse("P not constant F32");
    if (n.has("clip")) return refuse("clip");
    if (lstm && n.attr_i("input_forget", 0) != 0) return refuse("input_forget");
    const std::string direction = n.attr_s("direction", "forward");
    if (direction != "forward" && direction != "reverse" && direction != "bidirectional")
        return refuse("direction");
    const int64_t dirs = direction == "bidirectional" ? 2 : 1;
    if (n.has("activations")) {
        const std::vector<std::string> defaults = lstm ? std::vector<std::string>{"sigmoid", "tanh", "tanh"}
                                                       : std::vector<std::string>{"sigmoid", "tanh"};
        const auto& names = n.attr("activations")->strings;
        if (!names.empty()) {
            if (names.size() != defaults.size() &&
                names.size() != defaults.size() * static_cast<size_t>(dirs)) {
                return refuse("activations");
            }
            for (size_t i = 0; i < names.size(); ++i)
                if (lower(names[i]) != defaults[i % defaults.size()]) return refuse("activation " + names[i]);
        }
    }
    auto s = RnnStepPtr(new RnnStep);
    s->lstm = lstm;
    s->G = G;
    s->dirs = dirs;
    s->reverse = direction == "reverse";
    s->bf = pa.opset >= 14 && n.attr_i("layout", 0) != 0;
    s->lbr = !lstm && n.attr_i("linear_before_reset", 0) != 0;
    s->x_bf = s->bf != pa.x_transposed;
    s->x_stored = pa.x_shape;
    if (pa.x_transposed) std::swap(s->x_stored[0], s->x_stored[1]);
    s->S = s->bf ? pa.x_shape[1] : pa.x_shape[0];
    s->N = s->bf ? pa.x_shape[0] : pa.x_shape[1];
    s->I = pa.x_shape[2];
    const int64_t I = s->I;
    if (W->rank() != 3 || W->dim(0) != dirs || W->dim(2) != I || W->dim(1) % G != 0 || W->dim(1) == 0) {
        return refuse("W shape");
    }
    const int64_t H = W->dim(1) / G, GH = G * H, C = dirs * GH;
    s->H = H;
    if (R->shape() != Shape{dirs, GH, H}) return refuse("R shape");
    if (B && B->shape() != Shape{dirs, 2 * GH}) return refuse("B shape");
    if (P && P->shape() != Shape{dirs, 3 * H}) return refuse("P shape");

    s->gemm = &k::select(k::Op::Gemm);
    s->gates = &k::select_rnn();
    // INT8 when both W and R are int8 codes behind DequantizeLinear (W and R above are then their dequantized
    // values, used for the shape checks only).
    Int8Weight qW, qR;
    s->q8 = I <= k::kQMaxK && H <= k::kQMaxK && int8_weight(g, n.inputs[1], GH, qW) &&
            int8_weight(g, n.inputs[2], GH, qR) && qW.q->shape() == W->shape() && qR.q->shape() == R->shape();
    int nr = s->gemm->nr;
    if (s->q8) {
        s->qgemm = &k::qselect(k::QOp::Gemm8);
        nr = s->qgemm->nr;
        s->qw = qmat(qW, qW.q->data<int8_t>(), I, C, 0, GH);
    } else {
        s->w = packed(W->data<float>(), 1, I, I, C, nr);
    }
    s->xw_bias.assign(static_cast<size_t>(C), 0.0f);
    s->hr_bias.resize(static_cast<size_t>(dirs));
    for (int64_t d = 0; d < dirs; ++d) {
        const float* Rd = R->data<float>() + d * GH * H;
        if (s->q8) {
            const int8_t* Rq = qR.q->data<int8_t>() + d * GH * H;
            if (lstm || s->lbr) {
                s->qr.push_back(qmat(qR, Rq, H, GH, 0, GH));
            } else {
                s->qr.push_back(qmat(qR, Rq, H, 2 * H, 0, GH));
                s->qrh.push_back(qmat(qR, Rq + 2 * H * H, H, H, 2 * H, GH));
            }
        } else if (lstm || s->lbr) {
            s->r.push_back(packed(Rd, 1, H, H, GH, nr));
        } else {
            s->r.push_back(packed(Rd, 1, H, H, 2 * H, nr));
            s->rh.push_back(packed(Rd + 2 * H * H, 1, H, H, H, nr));
        }
        if (s->lbr) s->hr_bias[static_cast<size_t>(d)].assign(static_cast<size_t>(GH), 0.0f);
        if (!B) continue;
        const float* Wb = B->data<float>() + d * 2 * GH;
        const float* Rb = Wb + GH;
        for (int64_t j = 0; j < GH; ++j) {
            const bool rbh_inside = s->lbr && j >= 2 * H;  // r·(h·Rhᵀ + Rbh)
            s->xw_bias[static_cast<size_t>(d * GH + j)] = rbh_inside ? Wb[j] : Wb[j] + Rb[j];
            if (rbh_inside) s->hr_bias[static_cast<size_t>(d)][static_cast<size_t>(j)] = Rb[j];
        }
    }
    if (P) s->p.assign(P->data<float>(), P->data<float>() + P->numel());

    // threads: XW splits columns when big; the recurrence splits batch rows (and directions)
    const int T = std::max(1, pa.threads);
    s->threads = T;
    const int64_t xw_flops = 2 * s->S * s->N * I * C;
    const int64_t rec_flops = 2 * s->S * s->N * dirs * GH * H;
    const int64_t panels = (C + nr - 1) / nr;
    const int64_t min_flops = s->q8 ? std::max(pa.parallel_flops, pa.parallel_flops_int8) : pa.parallel_flops;
    s->xw_splits = T > 1 && xw_flops >= min_flops ? std::min<int64_t>(T, panels) : 1;
    s->parallel = T > 1 && rec_flops >= min_flops && s->N * dirs >= 2;
    s->chunks = s->parallel ? std::max<int64_t>(1, std::min<int64_t>(s->N, (T + dirs - 1) / dirs)) : 1;
    s->rows_max = (s->N + s->chunks - 1) / s->chunks;

    s->xw = Tensor(DType::F32, {std::max<int64_t>(1, s->S * s->N * C)});
    s->hs.assign(static_cast<size_t>(dirs * s->N * H), 0.0f);
    s->cs.assign(s->hs.size(), 0.0f);
    s->work.assign(static_cast<size_t>(T),
                   std::vector<float>(static_cast<size_t>(std::max<int64_t>(1, s->rows_max * (GH + H)))));
    if (s->q8) {
        s->xq.reserve(s->S * s->N, I);
        s->hq.resize(static_cast<size_t>(T));
        for (auto& q : s->hq) q.reserve(s->rows_max, H);
    }
    out.step = std::move(s);
    return out;
}

std::string rnn_kernel_name(const RnnStep& s) {
    if (s.q8) {
        const bool fused = s.gates->q8_product && s.qw.zero.empty();
        return std::string(s.lstm ? "lstm_q8(" : "gru_q8(") +
               (fused ? "" : std::string(s.qgemm->name) + ", ") + s.gates->q8_name + ", " + s.gates->name +
               ")";
    }
    return std::string(s.lstm ? "lstm_f32(" : "gru_f32(") + s.gemm->name + ", " + s.gates->name + ")";
}

int64_t rnn_flops(const RnnStep& s) {
    const int64_t GH = s.G * s.H;
    return 2 * s.S * s.N * s.dirs * GH * (s.I + s.H);
}

std::vector<Shape> rnn_output_shapes(const RnnStep& s) {
    const Shape state = s.bf ? Shape{s.N, s.dirs, s.H} : Shape{s.dirs, s.N, s.H};
    std::vector<Shape> r = {s.bf ? Shape{s.N, s.S, s.dirs, s.H} : Shape{s.S, s.dirs, s.N, s.H}, state};
    if (s.lstm) r.push_back(state);
    return r;
}

Status run_rnn(RnnStep& s, ThreadPool& pool, const Tensor* x, const Tensor* lens, const Tensor* h0,
               const Tensor* c0, Tensor* y, Tensor* yh, Tensor* yc) {
    const int64_t S = s.S, N = s.N, H = s.H, GH = s.G * H, C = s.dirs * GH;
    if (!x || x->dtype() != DType::F32 || x->shape() != s.x_stored) {
        return InvalidArgument("X " + (x ? shape_str(x->shape()) : std::string("missing")) +
                               " differs from the planned " + shape_str(s.x_stored) +
                               "; re-plan for these shapes");
    }
    const Shape state = s.bf ? Shape{N, s.dirs, H} : Shape{s.dirs, N, H};
    auto state_in = [&](const Tensor* t, const char* what, std::vector<float>& dst) -> Status {
        if (!t || t->numel() == 0) {
            std::fill(dst.begin(), dst.end(), 0.0f);
            return Status::Ok();
        }
        if (t->dtype() != DType::F32 || t->shape() != state) {
            return InvalidArgument(std::string(what) + " is " + dtype_name(t->dtype()) +
                                   shape_str(t->shape()) + ", expected F32" + shape_str(state));
        }
        const float* src = t->data<float>();
        for (int64_t d = 0; d < s.dirs; ++d)
            for (int64_t b = 0; b < N; ++b)
                std::memcpy(dst.data() + (d * N + b) * H, src + (s.bf ? b * s.dirs + d : d * N + b) * H,
                            static_cast<size_t>(H) * sizeof(float));
        return Status::Ok();
    };
    EDGEQ_RETURN_IF_ERROR(state_in(h0, "initial_h", s.hs));
    if (s.lstm) EDGEQ_RETURN_IF_ERROR(state_in(c0, "initial_c", s.cs));

    bool uniform = true;
    if (lens && lens->numel() > 0) {
        if (lens->numel() != N || (lens->dtype() != DType::I32 && lens->dtype() != DType::I64)) {
            return InvalidArgument("sequence_lens " + std::string(dtype_name(lens->dtype())) +
                                   shape_str(lens->shape()) + " must be I32 with " + std::to_string(N) +
                                   " entries");
        }
        s.lens.resize(static_cast<size_t>(N));
        for (int64_t b = 0; b < N; ++b) {
            const int64_t l =
                lens->dtype() == DType::I32 ? lens->data<int32_t>()[b] : lens->data<int64_t>()[b];
            if (l < 0 || l > S) {
                return InvalidArgument("sequence length " + std::to_string(l) + " outside [0, " +
                                       std::to_string(S) + "]");
            }
            s.lens[static_cast<size_t>(b)] = l;
            uniform = uniform && l == S;
        }
    }
    float* yp = y ? y->data<float>() : nullptr;
    if (yp && !uniform) std::fill(yp, yp + y->numel(), 0.0f);

    // 1. XW = X · Wᵀ + bias for every step, batch row and direction. INT8 with the recurrence on the pool (one
    // direction): each recurrence task quantizes and multiplies its own batch rows first (xw_rows below), so
    // neither the row quantization nor a separate XW job is serial or waits for the slowest thread.
    const int64_t M = S * N;
    const bool xw_in_tasks = s.q8 && s.parallel && s.dirs == 1;
    auto xw_rows = [&](int64_t r0, int64_t r1) {
        const float* X = x->data<float>();
        float* xw = s.xw.data<float>();
        auto rows = [&](int64_t m0, int64_t n) {
            quantize_rows(s, X + m0 * s.I, s.I, n, s.I, s.xq, m0);
            qproduct(s, s.qw, s.xq, n, s.xw_bias.data(), xw + m0 * C, C, 0, C, m0);
        };
        if (s.x_bf)
            rows(r0 * S, (r1 - r0) * S);
        else
            for (int64_t t = 0; t < S; ++t) rows(t * N + r0, r1 - r0);
    };
    if (M > 0 && s.q8 && !xw_in_tasks) {
        quantize_rows(s, x->data<float>(), s.I, M, s.I, s.xq);
        float* xw = s.xw.data<float>();
        if (s.xw_splits <= 1) {
            qproduct(s, s.qw, s.xq, M, s.xw_bias.data(), xw, C, 0, C);
        } else {
            const int nr = s.qgemm->nr;
            const int64_t panels = (C + nr - 1) / nr;
            pool.run(s.xw_splits, [&](int64_t t, int) {
                qproduct(s, s.qw, s.xq, M, s.xw_bias.data(), xw, C,
                         std::min(C, panels * t / s.xw_splits * nr),
                         std::min(C, panels * (t + 1) / s.xw_splits * nr));
            });
        }
    } else if (M > 0 && !s.q8) {
        k::GemmArgs g;
        g.M = M, g.N = C, g.K = s.I;
        g.a = x->data<float>(), g.lda = s.I;
        g.b = s.w.data<float>();
        g.c = s.xw.data<float>(), g.ldc = C;
        g.bias = s.xw_bias.data();
        g.bias_kind = k::BiasKind::PerCol;
        g.n_begin = 0, g.n_end = C;
        const k::GemmFn fn = k::gemm_fn(*s.gemm);
        if (s.xw_splits <= 1) {
            fn(g);
        } else {
            const int nr = s.gemm->nr;
            const int64_t panels = (C + nr - 1) / nr;
            auto task = [&](int64_t t, int) {
                k::GemmArgs h = g;
                h.n_begin = std::min(C, panels * t / s.xw_splits * nr);
                h.n_end = std::min(C, panels * (t + 1) / s.xw_splits * nr);
                if (h.n_begin < h.n_end) fn(h);
            };
            pool.run(s.xw_splits, task);
        }
    }

    // 2. the recurrence: dirs · chunks independent tasks
    const int64_t tasks = s.dirs * s.chunks;
    auto task = [&](int64_t t, int thread) {
        const int64_t d = t / s.chunks, part = t % s.chunks;
        if (xw_in_tasks && M > 0) xw_rows(N * part / s.chunks, N * (part + 1) / s.chunks);
        recur(s, d, N * part / s.chunks, N * (part + 1) / s.chunks, uniform, yp,
              s.work[static_cast<size_t>(thread)].data(),
              s.q8 ? &s.hq[static_cast<size_t>(thread)] : nullptr);
    };
    if (s.parallel) {
        pool.run(tasks, task);
    } else {
        for (int64_t t = 0; t < tasks; ++t) task(t, 0);
    }

    // 3. final states
    auto state_out = [&](Tensor* t, const std::vector<float>& src) {
        if (!t) return;
        float* dst = t->data<float>();
        for (int64_t d = 0; d < s.dirs; ++d)
            for (int64_t b = 0; b < N; ++b)
                std::memcpy(dst + (s.bf ? b * s.dirs + d : d * N + b) * H, src.data() + (d * N + b) * H,
                            static_cast<size_t>(H) * sizeof(float));
    };
    state_out(yh, s.hs);
    if (s.lstm) state_out(yc, s.cs);
    return Status::Ok();
}

}  // namespace edgeq::runtime::fast
