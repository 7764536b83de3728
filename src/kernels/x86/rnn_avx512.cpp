// Recurrent-cell gate kernels (kernels/rnn.h), AVX-512F: 16 hidden units per vector, masked tail.
// GCC 12 reports the _mm512_undefined_ps() inside masked intrinsics as maybe-uninitialized (a false
// positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
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
// σ(x) = 1 / (1 + e^-x); exp16 clamps its argument, so 1 + e^-x stays finite.
inline __m512 sigm(__m512 v) {
    return rcp_nr(_mm512_add_ps(_mm512_set1_ps(1.0f), exp16(_mm512_sub_ps(_mm512_setzero_ps(), v))));
}
// tanh(x) = 2·σ(2x) − 1: absolute error ≈ 1e-7 (the relative error grows for |x| ≪ 1, which does not matter
// here: gates and states are compared in absolute terms).
inline __m512 tanhv(__m512 v) {
    return _mm512_fmsub_ps(_mm512_set1_ps(2.0f), sigm(_mm512_add_ps(v, v)), _mm512_set1_ps(1.0f));
}
inline __m512 ld(const float* p, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, p);
}
inline void st(float* p, __m512 v, __mmask16 m) {
    _mm512_mask_storeu_ps(p, m, v);
}

}  // namespace

namespace x86 {

void lstm_gates_f32__avx512(const LstmGateArgs& a) {
    const int64_t H = a.H;
    for (int64_t r = 0; r < a.rows; ++r) {
        const float* x = a.xw + r * a.ldxw;
        const float* s = a.hr + r * a.ldhr;
        float* c = a.c + r * a.ldc;
        float* h = a.h + r * a.ldh;
        float* y = a.y ? a.y + r * a.ldy : nullptr;
        for (int64_t j = 0; j < H; j += 16) {
            const __mmask16 m = tail_mask16(H - j);
            const __m512 cp = ld(c + j, m);
            __m512 ai = _mm512_add_ps(ld(x + j, m), ld(s + j, m));
            __m512 ao = _mm512_add_ps(ld(x + H + j, m), ld(s + H + j, m));
            __m512 af = _mm512_add_ps(ld(x + 2 * H + j, m), ld(s + 2 * H + j, m));
            const __m512 ac = _mm512_add_ps(ld(x + 3 * H + j, m), ld(s + 3 * H + j, m));
            if (a.p) {
                ai = _mm512_fmadd_ps(ld(a.p + j, m), cp, ai);
                af = _mm512_fmadd_ps(ld(a.p + 2 * H + j, m), cp, af);
            }
            const __m512 i = sigm(ai), f = sigm(af), g = tanhv(ac);
            const __m512 cn = _mm512_fmadd_ps(f, cp, _mm512_mul_ps(i, g));
            if (a.p) ao = _mm512_fmadd_ps(ld(a.p + H + j, m), cn, ao);
            const __m512 hn = _mm512_mul_ps(sigm(ao), tanhv(cn));
            st(c + j, cn, m);
            st(h + j, hn, m);
            if (y) st(y + j, hn, m);
        }
    }
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
