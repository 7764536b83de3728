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

// 32 floats per step with the reference's operations in its order: vdivps (IEEE division), vroundps to nearest
// even (= nearbyint in the default rounding mode), + zero, NaN -> zero, clamp, then exact int32 -> byte packs
// (the values are already in range). The tail goes through the scalar loop. GCC -O2 does not vectorize that
// loop by itself (nearbyint + the very-cheap cost model), which made ultraface's input QuantizeLinear ≈ 2 ms.
void quantize_linear_f32__avx2(const float* x, int64_t n, float scale, int32_t zero, bool is_signed,
                               void* y) {
    const __m256 vs = _mm256_set1_ps(scale), vz = _mm256_set1_ps(static_cast<float>(zero));
    const __m256 lo = _mm256_set1_ps(is_signed ? -128.0f : 0.0f), hi = _mm256_set1_ps(is_signed ? 127.0f : 255.0f);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    auto one = [&](const float* p) {
        __m256 v = _mm256_add_ps(_mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(p), vs),
                                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
                                 vz);
        const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
        // std::max(v, lo) = v < lo ? lo : v; std::min(., hi) = hi < . ? hi : .
        v = _mm256_blendv_ps(v, lo, _mm256_cmp_ps(v, lo, _CMP_LT_OQ));
        v = _mm256_blendv_ps(v, hi, _mm256_cmp_ps(hi, v, _CMP_LT_OQ));
        v = _mm256_blendv_ps(v, vz, nan);
        return _mm256_cvttps_epi32(v);
    };
    int64_t i = 0;
    auto* out = static_cast<uint8_t*>(y);
    for (; i + 32 <= n; i += 32) {
        const __m256i ab = _mm256_packs_epi32(one(x + i), one(x + i + 8));
        const __m256i cd = _mm256_packs_epi32(one(x + i + 16), one(x + i + 24));
        const __m256i b = is_signed ? _mm256_packs_epi16(ab, cd) : _mm256_packus_epi16(ab, cd);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm256_permutevar8x32_epi32(b, order));
    }
    quantize_impl(x + i, n - i, scale, zero, is_signed, out + i);
}

void qdwconv__avx2(const QDwConvArgs& a) {
    qdwconv_impl(a);
}
}  // namespace edgeq::kernels::x86
