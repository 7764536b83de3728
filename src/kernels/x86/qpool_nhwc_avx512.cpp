// INT8 max pooling on NHWC bytes (kernels/qconv.h qmaxpool_nhwc) for AVX-512BW: per output pixel, the valid
// taps of its window (rows and columns clipped to the image once per pixel, not per tap), 64 channels per
// vpmaxub (u8) / vpmaxsb (s8), a masked load/store for the last block. Max is exact: equal to the reference.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12: _mm512_undefined_* self-initialisation
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "core/check.h"
#include "kernels/qconv.h"

namespace edgeq::kernels::x86 {
namespace {

template <bool Signed>
inline __m512i vmax(__m512i a, __m512i b) {
    return Signed ? _mm512_max_epi8(a, b) : _mm512_max_epu8(a, b);
}

// The 2×2 stride-2 window without padding (VGG-style pools) when C is 32 or a multiple of 64: no clipping, the
// taps as straight loads. C = 32: two output pixels per vector (input pixels 2ox .. 2ox+3 are 128 contiguous
// bytes per row; the column pairs are regrouped by 256-bit halves before the last max).
template <bool Signed>
bool maxpool_2x2(const QMaxPoolNhwcArgs& a) {
    if (a.KH != 2 || a.KW != 2 || a.SH != 2 || a.SW != 2 || a.PT != 0 || a.PL != 0 || a.DH != 1 || a.DW != 1 ||
        2 * a.OH > a.H || 2 * a.OW > a.W || (a.C != 32 && a.C % 64 != 0))
        return false;
    const auto* x = static_cast<const uint8_t*>(a.x);
    auto* y = static_cast<uint8_t*>(a.y);
    const int64_t C = a.C, row = a.W * C, y_row = a.y_row > 0 ? a.y_row : a.OW * C;
    for (int64_t oy = a.oy_begin; oy < a.oy_end; ++oy) {
        const uint8_t* r0 = x + 2 * oy * row;
        const uint8_t* r1 = r0 + row;
        uint8_t* yr = y + oy * y_row;
        if (C == 32) {
            int64_t ox = 0;
            for (; ox + 2 <= a.OW; ox += 2) {
                const uint8_t* p0 = r0 + 2 * ox * 32;
                const uint8_t* p1 = r1 + 2 * ox * 32;
                const __m512i l = vmax<Signed>(_mm512_loadu_si512(p0), _mm512_loadu_si512(p1));
                const __m512i h = vmax<Signed>(_mm512_loadu_si512(p0 + 64), _mm512_loadu_si512(p1 + 64));
                const __m512i even = _mm512_shuffle_i64x2(l, h, 0x44), odd = _mm512_shuffle_i64x2(l, h, 0xEE);
                _mm512_storeu_si512(yr + ox * 32, vmax<Signed>(even, odd));
            }
            if (ox < a.OW) {
                const __m512i v = vmax<Signed>(_mm512_loadu_si512(r0 + 2 * ox * 32), _mm512_loadu_si512(r1 + 2 * ox * 32));
                const __m256i lo = _mm512_castsi512_si256(v), hi = _mm512_extracti64x4_epi64(v, 1);
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(yr + ox * 32),
                                    Signed ? _mm256_max_epi8(lo, hi) : _mm256_max_epu8(lo, hi));
            }
            continue;
        }
        for (int64_t ox = 0; ox < a.OW; ++ox) {
            const uint8_t* p0 = r0 + 2 * ox * C;
            const uint8_t* p1 = r1 + 2 * ox * C;
            for (int64_t c = 0; c < C; c += 64) {
                const __m512i u = vmax<Signed>(_mm512_loadu_si512(p0 + c), _mm512_loadu_si512(p0 + C + c));
                const __m512i v = vmax<Signed>(_mm512_loadu_si512(p1 + c), _mm512_loadu_si512(p1 + C + c));
                _mm512_storeu_si512(yr + ox * C + c, vmax<Signed>(u, v));
            }
        }
    }
    return true;
}

template <bool Signed>
void maxpool_nhwc(const QMaxPoolNhwcArgs& a) {
    if (maxpool_2x2<Signed>(a)) return;
    const auto* x = static_cast<const uint8_t*>(a.x);
    auto* y = static_cast<uint8_t*>(a.y);
    const int64_t C = a.C, y_row = a.y_row > 0 ? a.y_row : a.OW * C;
    // first valid tap index along one axis: the smallest k with o·S − P + k·D ≥ 0; last: largest with < size
    auto first_tap = [](int64_t start, int64_t D, int64_t K) {
        int64_t k = 0;
        while (k < K && start + k * D < 0) ++k;
        return k;
    };
    auto end_tap = [](int64_t start, int64_t D, int64_t K, int64_t size) {
        int64_t k = K;
        while (k > 0 && start + (k - 1) * D >= size) --k;
        return k;
    };
    for (int64_t oy = a.oy_begin; oy < a.oy_end; ++oy) {
        const int64_t y0 = oy * a.SH - a.PT;
        const int64_t ky0 = first_tap(y0, a.DH, a.KH), ky1 = end_tap(y0, a.DH, a.KH, a.H);
        for (int64_t ox = 0; ox < a.OW; ++ox) {
            const int64_t x0 = ox * a.SW - a.PL;
            const int64_t kx0 = first_tap(x0, a.DW, a.KW), kx1 = end_tap(x0, a.DW, a.KW, a.W);
            EDGEQ_CHECK_MSG(ky0 < ky1 && kx0 < kx1, "qmaxpool_nhwc: a window lies entirely in the padding");
            uint8_t* yp = y + oy * y_row + ox * C;
            const uint8_t* first = x + ((y0 + ky0 * a.DH) * a.W + x0 + kx0 * a.DW) * C;
            for (int64_t c = 0; c < C; c += 64) {
                const int64_t n = std::min<int64_t>(64, C - c);
                const __mmask64 m = n == 64 ? ~__mmask64{0} : (__mmask64{1} << n) - 1;
                __m512i v = _mm512_maskz_loadu_epi8(m, first + c);
                for (int64_t ky = ky0; ky < ky1; ++ky) {
                    const uint8_t* row = x + ((y0 + ky * a.DH) * a.W + x0) * C + c;
                    for (int64_t kx = kx0; kx < kx1; ++kx)
                        v = vmax<Signed>(v, _mm512_maskz_loadu_epi8(m, row + kx * a.DW * C));
                }
                _mm512_mask_storeu_epi8(yp + c, m, v);
            }
        }
    }
}

}  // namespace

void qmaxpool_nhwc__avx512(const QMaxPoolNhwcArgs& a) {
    if (a.is_signed)
        maxpool_nhwc<true>(a);
    else
        maxpool_nhwc<false>(a);
}

}  // namespace edgeq::kernels::x86
