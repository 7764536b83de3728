// INT8 depthwise convolution rows (kernels/x86/qconv_dw.inc) and QuantizeLinear (qconv_quant.inc) for AVX2.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/qconv.h"

namespace edgeq::kernels::x86 {
namespace {

// acc[j] = Σ_t plane[off[t] + j]·wv[t] for j < n16 (a multiple of 16): two taps per vpmaddwd (int16 pairs
// (x − za, x' − za) times (w − zw, w' − zw), each in [−255, 255]: the pair sum ≤ 2·255² fits int32 exactly),
// 16 outputs held in two registers over all taps. unpacklo/hi interleave within 128-bit lanes, so `lo` holds
// j = 0–3, 8–11 and `hi` 4–7, 12–15; vperm2i128 restores the order.
void qdw_taps_s1(const int16_t* plane, const int64_t* off, const int32_t* wv, int64_t taps, int64_t n16,
                 int32_t* acc) {
    const int64_t pairs = (taps + 1) / 2;
    __m256i w[13];
    int64_t o0[13], o1[13];
    for (int64_t p = 0; p < pairs; ++p) {
        const int32_t w0 = wv[2 * p], w1 = 2 * p + 1 < taps ? wv[2 * p + 1] : 0;
        w[p] = _mm256_set1_epi32(
            static_cast<int32_t>((static_cast<uint32_t>(w0) & 0xFFFFu) | (static_cast<uint32_t>(w1) << 16)));
        o0[p] = off[2 * p];
        o1[p] = 2 * p + 1 < taps ? off[2 * p + 1] : off[2 * p];  // weight 0
    }
    for (int64_t j = 0; j < n16; j += 16) {
        __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
        for (int64_t p = 0; p < pairs; ++p) {
            const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(plane + o0[p] + j));
            const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(plane + o1[p] + j));
            lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), w[p]));
            hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), w[p]));
        }
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + j), _mm256_permute2x128_si256(lo, hi, 0x20));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + j + 8), _mm256_permute2x128_si256(lo, hi, 0x31));
    }
}

#define QDW_NAME qdwconv_impl
#define QDW_NAME_PLANE qdwconv_plane_impl
#define QDW_PLANE_TAPS_S1 qdw_taps_s1
#include "kernels/x86/qconv_dw.inc"
#undef QDW_PLANE_TAPS_S1
#undef QDW_NAME
#undef QDW_NAME_PLANE
#define QQ_NAME quantize_impl
#include "kernels/x86/qconv_quant.inc"
#undef QQ_NAME
}  // namespace

void quantize_linear_f32__avx2(const float* x, int64_t n, float scale, int32_t zero, bool is_signed,
                               void* y) {
    quantize_impl(x, n, scale, zero, is_signed, y);
}

void qdwconv__avx2(const QDwConvArgs& a) {
    qdwconv_impl(a);
}
}  // namespace edgeq::kernels::x86
