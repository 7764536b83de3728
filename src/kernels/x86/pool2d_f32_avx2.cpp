// maxpool2d_f32__avx2 / avgpool2d_f32__avx2: the reference loops with the window split into interior
// outputs (every tap inside the input: no bounds checks, no tap counting; the 2×2 stride-2 case, the common
// CNN downsampling, uses 8-lane de-interleaving) and border outputs (exactly the reference's per-tap code).
// Taps are visited in the reference's order, so results are bit-identical to it.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/kernels.h"

namespace edgeq::kernels {
namespace {

template <bool kMax>
float border(const Pool2dArgs& a, const float* xc, int64_t oy, int64_t ox) {
    float s = kMax ? -INFINITY : 0.0f;
    int64_t n = 0, n_pad = 0;
    for (int64_t ky = 0; ky < a.KH; ++ky) {
        const int64_t iy = oy * a.SH - a.PT + ky * a.DH;
        for (int64_t kx = 0; kx < a.KW; ++kx) {
            const int64_t ix = ox * a.SW - a.PL + kx * a.DW;
            if (iy >= -a.PT && iy < a.H + a.PB && ix >= -a.PL && ix < a.W + a.PR) ++n_pad;
            if (iy < 0 || iy >= a.H || ix < 0 || ix >= a.W) continue;
            s = kMax ? std::max(s, xc[iy * a.W + ix]) : s + xc[iy * a.W + ix];
            ++n;
        }
    }
    if (kMax) return s;
    const int64_t d = a.count_include_pad ? n_pad : n;
    return d > 0 ? s / static_cast<float>(d) : 0.0f;
}

// 8 outputs of a 2×2 stride-2 window from 16 columns of two input rows: a0|a1 (row 0), b0|b1 (row 1)
template <bool kMax>
inline __m256 k2s2_regs(__m256 a0, __m256 a1, __m256 b0, __m256 b1) {
    auto evens = [](__m256 lo, __m256 hi) {
        const __m256 e = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
        return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
    };
    auto odds = [](__m256 lo, __m256 hi) {
        const __m256 e = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
        return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
    };
    const __m256 x00 = evens(a0, a1), x01 = odds(a0, a1), x10 = evens(b0, b1), x11 = odds(b0, b1);
    if (kMax) {
        // reference: m = max(max(max(max(-inf, x00), x01), x10), x11)
        return _mm256_max_ps(_mm256_max_ps(_mm256_max_ps(x00, x01), x10), x11);
    }
    const __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(x00, x01), x10), x11);
    return _mm256_div_ps(s, _mm256_set1_ps(4.0f));
}

// 8 outputs of a 2×2 stride-2 window from rows r0, r1 starting at input column 2·ox
template <bool kMax>
inline __m256 k2s2(const float* r0, const float* r1) {
    return k2s2_regs<kMax>(_mm256_loadu_ps(r0), _mm256_loadu_ps(r0 + 8), _mm256_loadu_ps(r1),
                           _mm256_loadu_ps(r1 + 8));
}

// The first n (1..8) outputs of k2s2: only the 2·n input columns they read are loaded (masked loads do not
// touch the masked-off columns, which may lie past the end of the input).
template <bool kMax>
inline void k2s2_tail(const float* r0, const float* r1, float* y, int n) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(std::min(2 * n, 8)), lane);
    const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(std::max(2 * n - 8, 0)), lane);
    const __m256 v = k2s2_regs<kMax>(_mm256_maskload_ps(r0, m0), _mm256_maskload_ps(r0 + 8, m1),
                                     _mm256_maskload_ps(r1, m0), _mm256_maskload_ps(r1 + 8, m1));
    _mm256_maskstore_ps(y, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane), v);
}

template <bool kMax>
void pool(const Pool2dArgs& a) {
    // interior output range: every tap in bounds
    auto first_in = [](int64_t pad, int64_t s) { return (pad + s - 1) / s; };
    const int64_t oy0 = std::min(a.OH, first_in(a.PT, a.SH)), ox0 = std::min(a.OW, first_in(a.PL, a.SW));
    auto last_in = [](int64_t in, int64_t pad, int64_t k, int64_t d, int64_t s, int64_t out) {
        // largest o with o·s − pad + (k − 1)·d ≤ in − 1
        const int64_t num = in - 1 + pad - (k - 1) * d;
        return num < 0 ? int64_t{0} : std::min(out, num / s + 1);
    };
    const int64_t oy1 = std::max(oy0, last_in(a.H, a.PT, a.KH, a.DH, a.SH, a.OH));
    const int64_t ox1 = std::max(ox0, last_in(a.W, a.PL, a.KW, a.DW, a.SW, a.OW));
    const bool k2s2_fast = a.KH == 2 && a.KW == 2 && a.SH == 2 && a.SW == 2 && a.DH == 1 && a.DW == 1;
    for (int64_t c = a.c_begin; c < a.c_end; ++c) {
        const float* xc = a.x + c * a.H * a.W;
        float* yc = a.y + c * a.OH * a.OW;
        for (int64_t oy = 0; oy < a.OH; ++oy) {
            float* yr = yc + oy * a.OW;
            const bool row_in = oy >= oy0 && oy < oy1;
            for (int64_t ox = 0; ox < a.OW; ++ox) {
                if (!row_in || ox < ox0 || ox >= ox1) {
                    yr[ox] = border<kMax>(a, xc, oy, ox);
                    continue;
                }
                const float* base = xc + (oy * a.SH - a.PT) * a.W + (ox * a.SW - a.PL);
                if (k2s2_fast && ox + 8 <= ox1 && (ox * 2 - a.PL + 16) <= a.W) {
                    _mm256_storeu_ps(yr + ox, k2s2<kMax>(base, base + a.W));
                    ox += 7;
                    continue;
                }
                if (k2s2_fast) {  // the last < 8 interior outputs of the row: every column they read is inside
                    const int n = static_cast<int>(std::min<int64_t>(8, ox1 - ox));
                    k2s2_tail<kMax>(base, base + a.W, yr + ox, n);
                    ox += n - 1;
                    continue;
                }
                float s = kMax ? -INFINITY : 0.0f;
                for (int64_t ky = 0; ky < a.KH; ++ky) {
                    const float* r = base + ky * a.DH * a.W;
                    for (int64_t kx = 0; kx < a.KW; ++kx) s = kMax ? std::max(s, r[kx * a.DW]) : s + r[kx * a.DW];
                }
                yr[ox] = kMax ? s : s / static_cast<float>(a.KH * a.KW);
            }
        }
    }
}

}  // namespace

namespace x86 {
void maxpool2d_f32__avx2(const Pool2dArgs& a) { pool<true>(a); }
void avgpool2d_f32__avx2(const Pool2dArgs& a) { pool<false>(a); }
}  // namespace x86

}  // namespace edgeq::kernels
