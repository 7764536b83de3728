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
// σ(x) = 1 / (1 + e^-x); exp8 clamps its argument, so 1 + e^-x stays finite.
inline __m256 sigm(__m256 v) {
    return rcp_nr(_mm256_add_ps(_mm256_set1_ps(1.0f), exp8(_mm256_sub_ps(_mm256_setzero_ps(), v))));
}
// tanh(x) = 2·σ(2x) − 1: absolute error ≈ 1e-7 (the relative error grows for |x| ≪ 1, which does not matter
// here: gates and states are compared in absolute terms).
inline __m256 tanhv(__m256 v) {
    return _mm256_fmsub_ps(_mm256_set1_ps(2.0f), sigm(_mm256_add_ps(v, v)), _mm256_set1_ps(1.0f));
}
inline __m256 ld(const float* p, __m256i m) {
    return _mm256_maskload_ps(p, m);
}
inline void st(float* p, __m256 v, __m256i m) {
    _mm256_maskstore_ps(p, m, v);
}

}  // namespace

namespace x86 {

void lstm_gates_f32__avx2(const LstmGateArgs& a) {
    const int64_t H = a.H;
    for (int64_t r = 0; r < a.rows; ++r) {
        const float* x = a.xw + r * a.ldxw;
        const float* s = a.hr + r * a.ldhr;
        float* c = a.c + r * a.ldc;
        float* h = a.h + r * a.ldh;
        float* y = a.y ? a.y + r * a.ldy : nullptr;
        for (int64_t j = 0; j < H; j += 8) {
            const __m256i m = tail_mask8(H - j);
            const __m256 cp = ld(c + j, m);
            __m256 ai = _mm256_add_ps(ld(x + j, m), ld(s + j, m));
            __m256 ao = _mm256_add_ps(ld(x + H + j, m), ld(s + H + j, m));
            __m256 af = _mm256_add_ps(ld(x + 2 * H + j, m), ld(s + 2 * H + j, m));
            const __m256 ac = _mm256_add_ps(ld(x + 3 * H + j, m), ld(s + 3 * H + j, m));
            if (a.p) {
                ai = _mm256_fmadd_ps(ld(a.p + j, m), cp, ai);
                af = _mm256_fmadd_ps(ld(a.p + 2 * H + j, m), cp, af);
            }
            const __m256 i = sigm(ai), f = sigm(af), g = tanhv(ac);
            const __m256 cn = _mm256_fmadd_ps(f, cp, _mm256_mul_ps(i, g));
            if (a.p) ao = _mm256_fmadd_ps(ld(a.p + H + j, m), cn, ao);
            const __m256 hn = _mm256_mul_ps(sigm(ao), tanhv(cn));
            st(c + j, cn, m);
            st(h + j, hn, m);
            if (y) st(y + j, hn, m);
        }
    }
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
