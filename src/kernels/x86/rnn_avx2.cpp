// Recurrent-cell gate kernels (kernels/rnn.h), AVX2 + FMA: 8 hidden units per vector, masked tail.
#include <immintrin.h>

#include <algorithm>

#include "kernels/kernels.h"
#include "kernels/ref/rnn_ref.h"

namespace edgeq::kernels {
namespace {

#include "kernels/x86/act_avx2.inc"

// 1 / d: rcp (relative error < 1.5·2^-12) and one Newton step (≈ 2^-23 before rounding); no vdivps.
inline __m256 rcp_nr(__m256 d) {
    const __m256 r = _mm256_rcp_ps(d);
    return _mm256_mul_ps(r, _mm256_fnmadd_ps(d, r, _mm256_set1_ps(2.0f)));
}
// e^(−S·x) for S = 1 (sigmoid) or 2 (tanh): the AVX-512 file's exp_neg (kernels/x86/rnn_avx512.cpp: the
// degree-5 minimax polynomial of scripts/fit_exp_poly.cpp in s = x + n·ln2/S, coefficients times (−S)^k), with 2^n
// built from its exponent bits (no vscalefps in AVX2): the clamp keeps n in [−126, 126].
template <int S>
inline __m256 exp_neg(__m256 x) {
    constexpr float k = S == 1 ? -1.0f : -2.0f;
    constexpr float lim = S == 1 ? 87.0f : 43.0f;
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-lim)), _mm256_set1_ps(lim));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(k * 1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 sv = _mm256_fmadd_ps(n, _mm256_set1_ps(0.693147180559945309f / S), x);
    __m256 p = _mm256_set1_ps(8.2976194711e-3f * (k * k * k * k * k));
    p = _mm256_fmadd_ps(p, sv, _mm256_set1_ps(4.1915629251e-2f * (k * k * k * k)));
    p = _mm256_fmadd_ps(p, sv, _mm256_set1_ps(1.6667576542e-1f * (k * k * k)));
    p = _mm256_fmadd_ps(p, sv, _mm256_set1_ps(4.9998892661e-1f * (k * k)));
    p = _mm256_fmadd_ps(p, sv, _mm256_set1_ps(9.9999969107e-1f * k));
    p = _mm256_fmadd_ps(p, sv, _mm256_set1_ps(1.0000000719e+0f));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}
// σ(x) = 1 / (1 + e^-x)
inline __m256 sigm(__m256 v) {
    return rcp_nr(_mm256_add_ps(_mm256_set1_ps(1.0f), exp_neg<1>(v)));
}
// tanh(x) = 2·σ(2x) − 1: absolute error ≈ 1e-7 (the relative error grows for |x| ≪ 1, which does not matter
// here: gates and states are compared in absolute terms).
inline __m256 tanhv(__m256 v) {
    const __m256 s2 = rcp_nr(_mm256_add_ps(_mm256_set1_ps(1.0f), exp_neg<2>(v)));
    return _mm256_fmsub_ps(_mm256_set1_ps(2.0f), s2, _mm256_set1_ps(1.0f));
}
inline __m256 ld(const float* p, __m256i m) {
    return _mm256_maskload_ps(p, m);
}
inline void st(float* p, __m256 v, __m256i m) {
    _mm256_maskstore_ps(p, m, v);
}

// V independent vectors side by side, operation by operation, so their activation chains overlap (as the
// AVX-512 file's lstm_vecs).
struct LstmVec {
    const float *x, *s;
    float *c, *h, *y;
    int64_t j;
    __m256i m;
};
template <int V>
inline void lstm_vecs(const LstmGateArgs& a, const LstmVec* v) {
    const int64_t H = a.H;
    __m256 cp[V], ai[V], ao[V], af[V], ac[V];
#pragma GCC unroll 4
    for (int u = 0; u < V; ++u) {
        const LstmVec& w = v[u];
        cp[u] = ld(w.c + w.j, w.m);
        ai[u] = _mm256_add_ps(ld(w.x + w.j, w.m), ld(w.s + w.j, w.m));
        ao[u] = _mm256_add_ps(ld(w.x + H + w.j, w.m), ld(w.s + H + w.j, w.m));
        af[u] = _mm256_add_ps(ld(w.x + 2 * H + w.j, w.m), ld(w.s + 2 * H + w.j, w.m));
        ac[u] = _mm256_add_ps(ld(w.x + 3 * H + w.j, w.m), ld(w.s + 3 * H + w.j, w.m));
        if (a.p) {
            ai[u] = _mm256_fmadd_ps(ld(a.p + w.j, w.m), cp[u], ai[u]);
            af[u] = _mm256_fmadd_ps(ld(a.p + 2 * H + w.j, w.m), cp[u], af[u]);
        }
    }
    __m256 i[V], f[V], g[V], cn[V];
#pragma GCC unroll 4
    for (int u = 0; u < V; ++u) i[u] = sigm(ai[u]);
#pragma GCC unroll 4
    for (int u = 0; u < V; ++u) f[u] = sigm(af[u]);
#pragma GCC unroll 4
    for (int u = 0; u < V; ++u) g[u] = tanhv(ac[u]);
#pragma GCC unroll 4
    for (int u = 0; u < V; ++u) {
        cn[u] = _mm256_fmadd_ps(f[u], cp[u], _mm256_mul_ps(i[u], g[u]));
        if (a.p) ao[u] = _mm256_fmadd_ps(ld(a.p + H + v[u].j, v[u].m), cn[u], ao[u]);
    }
    __m256 o[V], tc[V];
#pragma GCC unroll 4
    for (int u = 0; u < V; ++u) o[u] = sigm(ao[u]);
#pragma GCC unroll 4
    for (int u = 0; u < V; ++u) tc[u] = tanhv(cn[u]);
#pragma GCC unroll 4
    for (int u = 0; u < V; ++u) {
        const LstmVec& w = v[u];
        const __m256 hn = _mm256_mul_ps(o[u], tc[u]);
        st(w.c + w.j, cn[u], w.m);
        st(w.h + w.j, hn, w.m);
        if (w.y) st(w.y + w.j, hn, w.m);
    }
}

}  // namespace

namespace x86 {

void lstm_gates_f32__avx2(const LstmGateArgs& a) {
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
        for (int64_t j = 0; j < H; j += 8) {
            batch[nb++] = LstmVec{x, s, c, h, y, j, tail_mask8(H - j)};
            if (nb == V) {
                lstm_vecs<V>(a, batch);
                nb = 0;
            }
        }
    }
    for (int u = 0; u < nb; ++u) lstm_vecs<1>(a, batch + u);
}

void gru_lbr_f32__avx2(const GruGateArgs& a) {
    const int64_t H = a.H;
    const __m256 one = _mm256_set1_ps(1.0f);
    for (int64_t r = 0; r < a.rows; ++r) {
        const float* x = a.xw + r * a.ldxw;
        const float* s = a.hr + r * a.ldhr;
        float* h = a.h + r * a.ldh;
        float* y = a.y ? a.y + r * a.ldy : nullptr;
        for (int64_t j = 0; j < H; j += 8) {
            const __m256i m = tail_mask8(H - j);
            const __m256 z = sigm(_mm256_add_ps(ld(x + j, m), ld(s + j, m)));
            const __m256 rg = sigm(_mm256_add_ps(ld(x + H + j, m), ld(s + H + j, m)));
            const __m256 g = tanhv(_mm256_fmadd_ps(rg, ld(s + 2 * H + j, m), ld(x + 2 * H + j, m)));
            // (1 − z)·g + z·h
            const __m256 hn = _mm256_fmadd_ps(z, ld(h + j, m), _mm256_mul_ps(_mm256_sub_ps(one, z), g));
            st(h + j, hn, m);
            if (y) st(y + j, hn, m);
        }
    }
}

void gru_reset_f32__avx2(const GruGateArgs& a) {
    const int64_t H = a.H;
    for (int64_t r = 0; r < a.rows; ++r) {
        const float* x = a.xw + r * a.ldxw;
        float* s = a.hr + r * a.ldhr;
        const float* h = a.h + r * a.ldh;
        float* rh = a.rh + r * a.ldrh;
        for (int64_t j = 0; j < H; j += 8) {
            const __m256i m = tail_mask8(H - j);
            st(s + j, sigm(_mm256_add_ps(ld(x + j, m), ld(s + j, m))), m);
            const __m256 rg = sigm(_mm256_add_ps(ld(x + H + j, m), ld(s + H + j, m)));
            st(rh + j, _mm256_mul_ps(rg, ld(h + j, m)), m);
        }
    }
}

void gru_update_f32__avx2(const GruGateArgs& a) {
    const int64_t H = a.H;
    const __m256 one = _mm256_set1_ps(1.0f);
    for (int64_t r = 0; r < a.rows; ++r) {
        const float* x = a.xw + r * a.ldxw;
        const float* s = a.hr + r * a.ldhr;
        float* h = a.h + r * a.ldh;
        float* y = a.y ? a.y + r * a.ldy : nullptr;
        for (int64_t j = 0; j < H; j += 8) {
            const __m256i m = tail_mask8(H - j);
            const __m256 z = ld(s + j, m);
            const __m256 g = tanhv(_mm256_add_ps(ld(x + 2 * H + j, m), ld(s + 2 * H + j, m)));
            const __m256 hn = _mm256_fmadd_ps(z, ld(h + j, m), _mm256_mul_ps(_mm256_sub_ps(one, z), g));
            st(h + j, hn, m);
            if (y) st(y + j, hn, m);
        }
    }
}

}  // namespace x86
}  // namespace edgeq::kernels
