// INT8 depthwise convolution on padded NHWC bytes (kernels/qconv.h qdwconv_nhwc) for AVX-512: 16 channels per
// vector (masked for the last block), four output pixels per weight load. Each tap: 16 bytes zero- (u8) or
// sign- (s8) extended to int32 lanes, times the int16 weight zero-extended to int32 lanes with vpmaddwd (the
// high halves multiply by 0, so the lane is x·w exactly), summed in int32 (wrapping like the reference).
// Epilogue: float(acc)·multiplier, clamp to [y_min − y_zero, y_max − y_zero], cvtps (round to nearest even
// under the default MXCSR, as nearbyint), + y_zero, truncated to bytes (already in range).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12: _mm512_undefined_* self-initialisation
#include <immintrin.h>

#include <cstdint>

#include "kernels/qconv.h"

namespace edgeq::kernels::x86 {
namespace {

template <bool Signed>
inline __m512i load16(const uint8_t* p, __mmask16 m) {
    const __m128i b = _mm_maskz_loadu_epi8(m, p);
    return Signed ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
}

template <bool Signed>
void dw_nhwc(const QDwNhwcArgs& a) {
    const int64_t C = a.C, taps = a.KH * a.KW;
    const auto* x = static_cast<const uint8_t*>(a.x);
    auto* y = static_cast<uint8_t*>(a.y);
    const __m512 lo = _mm512_set1_ps(static_cast<float>(a.y_min - a.y_zero));
    const __m512 hi = _mm512_set1_ps(static_cast<float>(a.y_max - a.y_zero));
    const __m512i yz = _mm512_set1_epi32(a.y_zero);
    constexpr int64_t kMaxTaps = 64;
    int64_t off[kMaxTaps];  // tap offsets in pixels from the window's top-left
    for (int64_t ky = 0; ky < a.KH; ++ky)
        for (int64_t kx = 0; kx < a.KW; ++kx) off[ky * a.KW + kx] = ky * a.DH * a.wp + kx * a.DW;
    const int64_t step = a.SW * C;  // bytes between horizontally adjacent windows
    for (int64_t oy = a.oy_begin; oy < a.oy_end;
         ++oy)  // rows outer: a row's pixels stay in cache over blocks
        for (int64_t c0 = 0; c0 < C; c0 += 16) {
            const int64_t n = C - c0 < 16 ? C - c0 : 16;
            const __mmask16 m = static_cast<__mmask16>((1u << n) - 1u);
            __m512i w[kMaxTaps];
            for (int64_t t = 0; t < taps; ++t)
                w[t] = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, a.w + t * C + c0));
            const __m512i b0 = _mm512_maskz_loadu_epi32(m, a.bias0 + c0);
            const __m512 mul = _mm512_maskz_loadu_ps(m, a.multiplier + c0);
            auto store = [&](__m512i acc, int64_t pix) {
                __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), mul);
                f = _mm512_min_ps(_mm512_max_ps(f, lo), hi);
                const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(f), yz);
                _mm_mask_storeu_epi8(y + pix * C + c0, m, _mm512_cvtepi32_epi8(q));
            };
            {
                const uint8_t* row = x + (oy * a.SH * a.wp) * C + c0;
                int64_t ox = 0;
                for (; ox + 4 <= a.OW; ox += 4) {
                    __m512i s0 = b0, s1 = b0, s2 = b0, s3 = b0;
                    const uint8_t* p = row + ox * step;
                    for (int64_t t = 0; t < taps; ++t) {
                        const uint8_t* q = p + off[t] * C;
                        s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(load16<Signed>(q, m), w[t]));
                        s1 = _mm512_add_epi32(s1, _mm512_madd_epi16(load16<Signed>(q + step, m), w[t]));
                        s2 = _mm512_add_epi32(s2, _mm512_madd_epi16(load16<Signed>(q + 2 * step, m), w[t]));
                        s3 = _mm512_add_epi32(s3, _mm512_madd_epi16(load16<Signed>(q + 3 * step, m), w[t]));
                    }
                    const int64_t pix = oy * a.OW + ox;
                    store(s0, pix);
                    store(s1, pix + 1);
                    store(s2, pix + 2);
                    store(s3, pix + 3);
                }
                for (; ox < a.OW; ++ox) {
                    __m512i s0 = b0;
                    const uint8_t* p = row + ox * step;
                    for (int64_t t = 0; t < taps; ++t)
                        s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(load16<Signed>(p + off[t] * C, m), w[t]));
                    store(s0, oy * a.OW + ox);
                }
            }
        }
}

}  // namespace

void qdwconv_nhwc__avx512(const QDwNhwcArgs& a) {
    if (a.KH * a.KW > 64) {  // (more taps than the register file of weights above: the reference loop)
        qdwconv_nhwc_ref(a);
        return;
    }
    if (a.a_signed)
        dw_nhwc<true>(a);
    else
        dw_nhwc<false>(a);
}

}  // namespace edgeq::kernels::x86
