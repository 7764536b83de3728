// INT8 recurrence row kernels (kernels/rnn.h: quantize_rows_u8, dequant_rows_s32), AVX-512F: 16 elements per
// vector, masked tails; equal to the scalar references (kernels/ref/rnn_ref.cpp) bit for bit (the same
// float operations in the same order, vdivps, and vcvtps2dq rounding in the current mode as std::nearbyint).
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

// Lane r of the result = min (Max = false) or max over the 16 lanes of v[r], r < 16: a transposing tree of
// 128-bit and 32-bit shuffles (46 operations for 16 rows instead of 16 × 8 for one reduction per row).
// min / max are exact, so the order does not change the result.
template <bool Max>
inline __m512 op(__m512 a, __m512 b) {
    return Max ? _mm512_max_ps(a, b) : _mm512_min_ps(a, b);
}
template <bool Max>
inline __m512 reduce16(const __m512* v) {
    __m512 w[8], u[4], x[2];
    for (int i = 0; i < 8; ++i)  // chunks: [row 2i, row 2i, row 2i+1, row 2i+1] (8 partials per row)
        w[i] = op<Max>(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                       _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    for (int i = 0; i < 4; ++i)  // chunk j: row 4i + j (4 partials)
        u[i] = op<Max>(_mm512_shuffle_f32x4(w[2 * i], w[2 * i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_f32x4(w[2 * i], w[2 * i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    for (int i = 0; i < 2; ++i)  // chunk j: [row 8i + j ×2, row 8i + 4 + j ×2]
        x[i] = op<Max>(_mm512_shuffle_ps(u[2 * i], u[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                       _mm512_shuffle_ps(u[2 * i], u[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    // lane 4j + l: row 4l + j
    const __m512 r = op<Max>(_mm512_shuffle_ps(x[0], x[1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_ps(x[0], x[1], _MM_SHUFFLE(3, 1, 3, 1)));
    const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_ps(idx, r);
}

// quant_row_params for up to 16 rows at once (lanes), the same operations lane by lane
inline void rows_params16(__m512 lo, __m512 hi, __mmask16 mk, float* scale, int32_t* zero) {
    const __m512 zero_v = _mm512_setzero_ps();
    lo = _mm512_min_ps(zero_v, lo);
    hi = _mm512_max_ps(zero_v, hi);
    __m512 sc = _mm512_div_ps(_mm512_sub_ps(hi, lo), _mm512_set1_ps(255.0f));
    sc = _mm512_mask_mov_ps(_mm512_set1_ps(1.0f), _mm512_cmp_ps_mask(sc, zero_v, _CMP_GT_OQ), sc);
    const __m512 neg_lo = _mm512_castsi512_ps(
        _mm512_xor_si512(_mm512_castps_si512(lo), _mm512_set1_epi32(static_cast<int32_t>(0x80000000u))));
    __m512 z = _mm512_roundscale_ps(_mm512_div_ps(neg_lo, sc), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    z = _mm512_min_ps(_mm512_max_ps(z, zero_v), _mm512_set1_ps(255.0f));
    _mm512_mask_storeu_ps(scale, mk, sc);
    _mm512_mask_storeu_epi32(zero, mk, _mm512_cvttps_epi32(z));
}

}  // namespace

namespace x86 {

void quantize_rows_u8__avx512(const QuantRowsArgs& a) {
    // row parameters 16 rows at a time (min / max of each row reduced together), then the codes row by row
    for (int64_t m0 = 0; m0 < a.rows; m0 += 16) {
        const int64_t nr = std::min<int64_t>(16, a.rows - m0);
        __m512 lo[16], hi[16];
        for (int64_t r = 0; r < 16; ++r) {
            lo[r] = hi[r] = _mm512_setzero_ps();  // (rows past the end stay 0)
            if (r >= nr) continue;
            const float* x = a.x + (m0 + r) * a.ldx;
            for (int64_t k = 0; k < a.K; k += 16) {
                const __m512 v = _mm512_maskz_loadu_ps(tail_mask16(a.K - k), x + k);  // zeros: lo ≤ 0 ≤ hi anyway
                lo[r] = _mm512_min_ps(lo[r], v);
                hi[r] = _mm512_max_ps(hi[r], v);
            }
        }
        rows_params16(reduce16<false>(lo), reduce16<true>(hi), tail_mask16(nr), a.scale + m0, a.zero + m0);
    }
    for (int64_t m = 0; m < a.rows; ++m) {
        const float* x = a.x + m * a.ldx;
        const __m512 sc = _mm512_set1_ps(a.scale[m]);
        const __m512i z = _mm512_set1_epi32(a.zero[m]);
        const __m512i zero = _mm512_setzero_si512();
        uint8_t* q = a.q + m * a.ldq;
        for (int64_t k = 0; k < a.K; k += 16) {
            const __mmask16 mk = tail_mask16(a.K - k);
            // vcvtps2dq rounds in the current mode, as std::nearbyint does (round half to even by default);
            // the clamp to [0, 255] is a max with 0 and vpmovusdb's unsigned saturation
            const __m512i v =
                _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_div_ps(_mm512_maskz_loadu_ps(mk, x + k), sc)), z);
            _mm512_mask_cvtusepi32_storeu_epi8(q + k, mk, _mm512_max_epi32(v, zero));
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
