// Recurrent-cell gate kernels (kernels/rnn.h), AVX-512F: 16 hidden units per vector, masked tail.
// GCC 12 reports the _mm512_undefined_ps() inside masked intrinsics as maybe-uninitialized (a false
// positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"  // the same, once -O3 inlines them into unrolled loops
#include <immintrin.h>

#include <algorithm>

#include "kernels/kernels.h"
#include "kernels/ref/rnn_ref.h"

namespace edgeq::kernels {
namespace {

#include "kernels/x86/act_avx512.inc"

// 1 / d: rcp14 (relative error < 2^-14) and one Newton step (≈ 2^-28 before rounding); no vdivps.
inline __m512 rcp_nr(__m512 d) {
    const __m512 r = _mm512_rcp14_ps(d);
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));
}
// e^(−S·x) for S = 1 (sigmoid) or 2 (tanh) in 11 vector operations (exp16 + a negation: 16):
//   n = round(−S·x·log2 e),  s = x + n·(ln 2 / S)  (one FMA with float ln 2: |n| ≤ 126 adds ≤ 2.4e-7 relative),
//   e^(−S·x) = 2^n · e^r with r = −S·s, |r| ≤ ln2 / 2.
// e^r is the degree-5 minimax polynomial Σ c_k r^k for the relative error on [−ln2/2, ln2/2]
// (scripts/fit_exp_poly.cpp, a Remez exchange in long double: 7.2e-8; 1.9e-7 evaluated in float with FMAs —
// exp16's degree-7 Cephes polynomial is more accurate than float needs), evaluated by Horner in s with
// coefficient k times (−S)^k (a power of two: exact), so neither the negation nor the factor S costs an
// operation. The clamp keeps 2^n·e^r finite and nonzero where it matters (σ(±87) is 1 or 0 in float).
template <int S>
inline __m512 exp_neg(__m512 x) {
    constexpr float k = S == 1 ? -1.0f : -2.0f;  // (−S)
    constexpr float lim = S == 1 ? 87.0f : 43.0f;
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-lim)), _mm512_set1_ps(lim));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(k * 1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 sv = _mm512_fmadd_ps(n, _mm512_set1_ps(0.693147180559945309f / S), x);
    __m512 p = _mm512_set1_ps(8.2976194711e-3f * (k * k * k * k * k));
    p = _mm512_fmadd_ps(p, sv, _mm512_set1_ps(4.1915629251e-2f * (k * k * k * k)));
    p = _mm512_fmadd_ps(p, sv, _mm512_set1_ps(1.6667576542e-1f * (k * k * k)));
    p = _mm512_fmadd_ps(p, sv, _mm512_set1_ps(4.9998892661e-1f * (k * k)));
    p = _mm512_fmadd_ps(p, sv, _mm512_set1_ps(9.9999969107e-1f * k));
    p = _mm512_fmadd_ps(p, sv, _mm512_set1_ps(1.0000000719e+0f));
    return _mm512_scalef_ps(p, n);
}
// σ(x) = 1 / (1 + e^-x)
inline __m512 sigm(__m512 v) {
    return rcp_nr(_mm512_add_ps(_mm512_set1_ps(1.0f), exp_neg<1>(v)));
}
// tanh(x) = 2·σ(2x) − 1: absolute error ≈ 1e-7 (the relative error grows for |x| ≪ 1, which does not matter
// here: gates and states are compared in absolute terms).
inline __m512 tanhv(__m512 v) {
    const __m512 s2 = rcp_nr(_mm512_add_ps(_mm512_set1_ps(1.0f), exp_neg<2>(v)));
    return _mm512_fmsub_ps(_mm512_set1_ps(2.0f), s2, _mm512_set1_ps(1.0f));
}
inline __m512 ld(const float* p, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, p);
}
inline void st(float* p, __m512 v, __mmask16 m) {
    _mm512_mask_storeu_ps(p, m, v);
}

// The five activations of one vector of units form one dependent chain (σ(i), σ(f), tanh(g) → c' → tanh(c'),
// σ(o) → h') of ≈ 100 operations of 4-cycle latency: one vector at a time leaves the FMA units idle most of
// the time. `lstm_vecs` runs V independent vectors (other units or other rows) side by side, operation by
// operation, so their chains overlap.
struct LstmVec {
    const float *x, *s;
    float *c, *h, *y;
    int64_t j;
    __mmask16 m;
};
template <int V>
inline void lstm_vecs(const LstmGateArgs& a, const LstmVec* v) {
    const int64_t H = a.H;
    __m512 cp[V], ai[V], ao[V], af[V], ac[V];
#pragma GCC unroll 4
    for (int u = 0; u < V; ++u) {
        const LstmVec& w = v[u];
        cp[u] = ld(w.c + w.j, w.m);
        ai[u] = _mm512_add_ps(ld(w.x + w.j, w.m), ld(w.s + w.j, w.m));
        ao[u] = _mm512_add_ps(ld(w.x + H + w.j, w.m), ld(w.s + H + w.j, w.m));
        af[u] = _mm512_add_ps(ld(w.x + 2 * H + w.j, w.m), ld(w.s + 2 * H + w.j, w.m));
        ac[u] = _mm512_add_ps(ld(w.x + 3 * H + w.j, w.m), ld(w.s + 3 * H + w.j, w.m));
        if (a.p) {
            ai[u] = _mm512_fmadd_ps(ld(a.p + w.j, w.m), cp[u], ai[u]);
            af[u] = _mm512_fmadd_ps(ld(a.p + 2 * H + w.j, w.m), cp[u], af[u]);
        }
    }
    __m512 i[V], f[V], g[V], cn[V];
#pragma GCC unroll 4
    for (int u = 0; u < V; ++u) i[u] = sigm(ai[u]);
#pragma GCC unroll 4
    for (int u = 0; u < V; ++u) f[u] = sigm(af[u]);
#pragma GCC unroll 4
    for (int u = 0; u < V; ++u) g[u] = tanhv(ac[u]);
#pragma GCC unroll 4
    for (int u = 0; u < V; ++u) {
        cn[u] = _mm512_fmadd_ps(f[u], cp[u], _mm512_mul_ps(i[u], g[u]));
        if (a.p) ao[u] = _mm512_fmadd_ps(ld(a.p + H + v[u].j, v[u].m), cn[u], ao[u]);
    }
    __m512 o[V], tc[V];
#pragma GCC unroll 4
    for (int u = 0; u < V; ++u) o[u] = sigm(ao[u]);
#pragma GCC unroll 4
    for (int u = 0; u < V; ++u) tc[u] = tanhv(cn[u]);
#pragma GCC unroll 4
    for (int u = 0; u < V; ++u) {
        const LstmVec& w = v[u];
        const __m512 hn = _mm512_mul_ps(o[u], tc[u]);
        st(w.c + w.j, cn[u], w.m);
        st(w.h + w.j, hn, w.m);
        if (w.y) st(w.y + w.j, hn, w.m);
    }
}

}  // namespace

namespace x86 {

void lstm_gates_f32__avx512(const LstmGateArgs& a) {
    const int64_t H = a.H;
    constexpr int V = 4;
    LstmVec batch[V];
    int nb = 0;
    for (int64_t r = 0; r < a.rows; ++r) {
        const float* x = a.xw + r * a.ldxw;
        const float* s = a.hr + r * a.ldhr;
        float* c = a.c + r * a.ldc;
        float* h = a.h + r * a.ldh;
        float* y = a.y ? a.y + r * a.ldy : nullptr;
        for (int64_t j = 0; j < H; j += 16) {
            batch[nb++] = LstmVec{x, s, c, h, y, j, tail_mask16(H - j)};
            if (nb == V) {
                lstm_vecs<V>(a, batch);
                nb = 0;
            }
        }
    }
    // the rest, one vector at a time
    for (int u = 0; u < nb; ++u) lstm_vecs<1>(a, batch + u);
}

void gru_lbr_f32__avx512(const GruGateArgs& a) {
    const int64_t H = a.H;
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int64_t r = 0; r < a.rows; ++r) {
        const float* x = a.xw + r * a.ldxw;
        const float* s = a.hr + r * a.ldhr;
        float* h = a.h + r * a.ldh;
        float* y = a.y ? a.y + r * a.ldy : nullptr;
        for (int64_t j = 0; j < H; j += 16) {
            const __mmask16 m = tail_mask16(H - j);
            const __m512 z = sigm(_mm512_add_ps(ld(x + j, m), ld(s + j, m)));
            const __m512 rg = sigm(_mm512_add_ps(ld(x + H + j, m), ld(s + H + j, m)));
            const __m512 g = tanhv(_mm512_fmadd_ps(rg, ld(s + 2 * H + j, m), ld(x + 2 * H + j, m)));
            // (1 − z)·g + z·h
            const __m512 hn = _mm512_fmadd_ps(z, ld(h + j, m), _mm512_mul_ps(_mm512_sub_ps(one, z), g));
            st(h + j, hn, m);
            if (y) st(y + j, hn, m);
        }
    }
}

void gru_reset_f32__avx512(const GruGateArgs& a) {
    const int64_t H = a.H;
    for (int64_t r = 0; r < a.rows; ++r) {
        const float* x = a.xw + r * a.ldxw;
        float* s = a.hr + r * a.ldhr;
        const float* h = a.h + r * a.ldh;
        float* rh = a.rh + r * a.ldrh;
        for (int64_t j = 0; j < H; j += 16) {
            const __mmask16 m = tail_mask16(H - j);
            st(s + j, sigm(_mm512_add_ps(ld(x + j, m), ld(s + j, m))), m);
            const __m512 rg = sigm(_mm512_add_ps(ld(x + H + j, m), ld(s + H + j, m)));
            st(rh + j, _mm512_mul_ps(rg, ld(h + j, m)), m);
        }
    }
}

void gru_update_f32__avx512(const GruGateArgs& a) {
    const int64_t H = a.H;
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int64_t r = 0; r < a.rows; ++r) {
        const float* x = a.xw + r * a.ldxw;
        const float* s = a.hr + r * a.ldhr;
        float* h = a.h + r * a.ldh;
        float* y = a.y ? a.y + r * a.ldy : nullptr;
        for (int64_t j = 0; j < H; j += 16) {
            const __mmask16 m = tail_mask16(H - j);
            const __m512 z = ld(s + j, m);
            const __m512 g = tanhv(_mm512_add_ps(ld(x + 2 * H + j, m), ld(s + 2 * H + j, m)));
            const __m512 hn = _mm512_fmadd_ps(z, ld(h + j, m), _mm512_mul_ps(_mm512_sub_ps(one, z), g));
            st(h + j, hn, m);
            if (y) st(y + j, hn, m);
        }
    }
}

}  // namespace x86
}  // namespace edgeq::kernels
