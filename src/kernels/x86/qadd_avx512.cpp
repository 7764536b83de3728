// qadd (kernels/qconv.h) for AVX-512: 16 elements per step with the reference's float operations (convert
// a − za, multiply by sa; the same for b; add; Relu as max with 0; divide by sy), the quotient clamped to the
// output range − zy (clamping before rounding equals saturating after it: the bounds are integers), cvtps
// (round to nearest even, as nearbyint), + zy, truncated to bytes (in range); a masked tail.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12: _mm512_undefined_* self-initialisation
#include <immintrin.h>

#include <cstdint>

#include "kernels/qconv.h"

namespace edgeq::kernels::x86 {
namespace {

inline __m512 dq16(const void* p, bool sgn, int64_t i, __mmask16 m, __m512i z, __m512 s) {
    const __m128i v = _mm_maskz_loadu_epi8(m, static_cast<const uint8_t*>(p) + i);
    const __m512i w = sgn ? _mm512_cvtepi8_epi32(v) : _mm512_cvtepu8_epi32(v);
    return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(w, z)), s);
}

}  // namespace

void qadd__avx512(const QAddArgs& a) {
    const __m512i za = _mm512_set1_epi32(a.za), zb = _mm512_set1_epi32(a.zb), zy = _mm512_set1_epi32(a.zy);
    const __m512 sa = _mm512_set1_ps(a.sa), sb = _mm512_set1_ps(a.sb), sy = _mm512_set1_ps(a.sy);
    const __m512 lo = _mm512_set1_ps(static_cast<float>((a.y_signed ? -128 : 0) - a.zy));
    const __m512 hi = _mm512_set1_ps(static_cast<float>((a.y_signed ? 127 : 255) - a.zy));
    const __m512 zero = _mm512_setzero_ps();
    for (int64_t i = 0; i < a.n; i += 16) {
        const int64_t r = a.n - i < 16 ? a.n - i : 16;
        const __mmask16 m = static_cast<__mmask16>((1u << r) - 1u);
        __m512 f = _mm512_add_ps(dq16(a.a, a.a_signed, i, m, za, sa), dq16(a.b, a.b_signed, i, m, zb, sb));
        if (a.relu) f = _mm512_max_ps(f, zero);
        const __m512 g = _mm512_min_ps(_mm512_max_ps(_mm512_div_ps(f, sy), lo), hi);
        const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(g), zy);
        _mm_mask_storeu_epi8(static_cast<uint8_t*>(a.y) + i, m, _mm512_cvtepi32_epi8(q));
    }
}

}  // namespace edgeq::kernels::x86
