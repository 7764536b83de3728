// INT8 recurrence row kernels (kernels/rnn.h: quantize_rows_u8, dequant_rows_s32), AVX-512F: 16 elements per
// vector, masked tails; equal to the scalar references (kernels/ref/rnn_ref.cpp) bit for bit (the same
// float operations in the same order, vdivps and round-half-even as std::nearbyint).
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

// ref::quant_row_params in registers (the same operations: one division, round half to even as nearbyint,
// clamp), without its libm nearbyint call, once per row
inline void row_params(float xmin, float xmax, float* scale, int32_t* zero) {
    const float lo = std::min(0.0f, xmin), hi = std::max(0.0f, xmax);
    float sc = (hi - lo) / 255.0f;
    if (!(sc > 0.0f)) sc = 1.0f;
    *scale = sc;
    const __m128 q = _mm_div_ss(_mm_set_ss(-lo), _mm_set_ss(sc));
    const __m128 r = _mm_roundscale_ss(q, q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    *zero = static_cast<int32_t>(std::clamp(_mm_cvtss_f32(r), 0.0f, 255.0f));
}

}  // namespace

namespace x86 {

void quantize_rows_u8__avx512(const QuantRowsArgs& a) {
    for (int64_t m = 0; m < a.rows; ++m) {
        const float* x = a.x + m * a.ldx;
        __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
        for (int64_t k = 0; k < a.K; k += 16) {
            const __m512 v = _mm512_maskz_loadu_ps(tail_mask16(a.K - k), x + k);  // zeros: lo ≤ 0 ≤ hi anyway
            lo = _mm512_min_ps(lo, v);
            hi = _mm512_max_ps(hi, v);
        }
        row_params(_mm512_reduce_min_ps(lo), _mm512_reduce_max_ps(hi), &a.scale[m], &a.zero[m]);
        const __m512 sc = _mm512_set1_ps(a.scale[m]);
        const __m512i z = _mm512_set1_epi32(a.zero[m]);
        const __m512i zero = _mm512_setzero_si512(), top = _mm512_set1_epi32(255);
        uint8_t* q = a.q + m * a.ldq;
        for (int64_t k = 0; k < a.K; k += 16) {
            const __mmask16 mk = tail_mask16(a.K - k);
            const __m512 r = _mm512_roundscale_ps(_mm512_div_ps(_mm512_maskz_loadu_ps(mk, x + k), sc),
                                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            __m512i v = _mm512_add_epi32(_mm512_cvtps_epi32(r), z);
            v = _mm512_min_epi32(_mm512_max_epi32(v, zero), top);
            _mm512_mask_cvtepi32_storeu_epi8(q + k, mk, v);
        }
    }
}

void dequant_rows_s32__avx512(const DequantRowsArgs& a) {
    for (int64_t m = 0; m < a.rows; ++m) {
        const int32_t* acc = a.acc + m * a.ldacc;
        float* y = a.y + m * a.ldy;
        const __m512i z = _mm512_set1_epi32(a.zero[m]);
        const __m512 sm = _mm512_set1_ps(a.scale[m]);
        for (int64_t n = 0; n < a.N; n += 16) {
            const __mmask16 mk = tail_mask16(a.N - n);
            const __m512i d =
                _mm512_sub_epi32(_mm512_maskz_loadu_epi32(mk, acc + n),
                                 _mm512_mullo_epi32(z, _mm512_maskz_loadu_epi32(mk, a.colsum + n)));
            const __m512 t = _mm512_mul_ps(sm, _mm512_maskz_loadu_ps(mk, a.b_scale + n));
            __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(d), t);
            if (a.bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk, a.bias + n));
            _mm512_mask_storeu_ps(y + n, mk, v);
        }
    }
}

}  // namespace x86
}  // namespace edgeq::kernels
