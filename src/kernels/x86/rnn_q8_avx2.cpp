// INT8 recurrence row kernels (kernels/rnn.h: quantize_rows_u8, dequant_rows_s32), AVX2: 8 elements per
// vector, masked tails; equal to the scalar references (kernels/ref/rnn_ref.cpp) bit for bit (the same
// float operations in the same order, vdivps and round-half-even as std::nearbyint).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/kernels.h"
#include "kernels/ref/rnn_ref.h"

namespace edgeq::kernels {
namespace {

#include "kernels/x86/act_avx2.inc"

float hmin(__m256 v) {
    __m128 r = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    r = _mm_min_ps(r, _mm_movehl_ps(r, r));
    return _mm_cvtss_f32(_mm_min_ss(r, _mm_shuffle_ps(r, r, 1)));
}
float hmax(__m256 v) {
    __m128 r = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    r = _mm_max_ps(r, _mm_movehl_ps(r, r));
    return _mm_cvtss_f32(_mm_max_ss(r, _mm_shuffle_ps(r, r, 1)));
}

}  // namespace

namespace x86 {

void quantize_rows_u8__avx2(const QuantRowsArgs& a) {
    for (int64_t m = 0; m < a.rows; ++m) {
        const float* x = a.x + m * a.ldx;
        __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
        for (int64_t k = 0; k < a.K; k += 8) {
            const __m256 v = _mm256_maskload_ps(x + k, tail_mask8(a.K - k));  // zeros: lo ≤ 0 ≤ hi anyway
            lo = _mm256_min_ps(lo, v);
            hi = _mm256_max_ps(hi, v);
        }
        ref::quant_row_params(hmin(lo), hmax(hi), &a.scale[m], &a.zero[m]);
        const __m256 sc = _mm256_set1_ps(a.scale[m]);
        const __m256i z = _mm256_set1_epi32(a.zero[m]);
        uint8_t* q = a.q + m * a.ldq;
        for (int64_t k = 0; k < a.K; k += 8) {
            const __m256 r =
                _mm256_round_ps(_mm256_div_ps(_mm256_maskload_ps(x + k, tail_mask8(a.K - k)), sc),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            const __m256i v = _mm256_add_epi32(_mm256_cvtps_epi32(r), z);
            // saturating packs clamp to [0, 255] exactly as the reference's clamp
            const __m128i p16 = _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
            const __m128i p8 = _mm_packus_epi16(p16, p16);
            if (a.K - k >= 8) {
                _mm_storel_epi64(reinterpret_cast<__m128i*>(q + k), p8);
            } else {
                alignas(16) uint8_t buf[16];
                _mm_store_si128(reinterpret_cast<__m128i*>(buf), p8);
                std::memcpy(q + k, buf, static_cast<size_t>(a.K - k));
            }
        }
    }
}

void dequant_rows_s32__avx2(const DequantRowsArgs& a) {
    for (int64_t m = 0; m < a.rows; ++m) {
        const int32_t* acc = a.acc + m * a.ldacc;
        float* y = a.y + m * a.ldy;
        const __m256i z = _mm256_set1_epi32(a.zero[m]);
        const __m256 sm = _mm256_set1_ps(a.scale[m]);
        for (int64_t n = 0; n < a.N; n += 8) {
            const __m256i mk = tail_mask8(a.N - n);
            const __m256i d =
                _mm256_sub_epi32(_mm256_maskload_epi32(acc + n, mk),
                                 _mm256_mullo_epi32(z, _mm256_maskload_epi32(a.colsum + n, mk)));
            const __m256 t = _mm256_mul_ps(sm, _mm256_maskload_ps(a.b_scale + n, mk));
            __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(d), t);
            if (a.bias) v = _mm256_add_ps(v, _mm256_maskload_ps(a.bias + n, mk));
            _mm256_maskstore_ps(y + n, mk, v);
        }
    }
}

}  // namespace x86
}  // namespace edgeq::kernels
