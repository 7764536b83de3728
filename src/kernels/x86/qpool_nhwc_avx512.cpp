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

template <bool Signed>
void maxpool_nhwc(const QMaxPoolNhwcArgs& a) {
    const auto* x = static_cast<const uint8_t*>(a.x);
    auto* y = static_cast<uint8_t*>(a.y);
    const int64_t C = a.C;
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
            uint8_t* yp = y + (oy * a.OW + ox) * C;
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
