// dwconv2d_f32__avx512_direct: depthwise conv, one channel at a time. The channel is first copied into a
// zero-padded plane (the workspace) so the inner loops have no bounds checks; 16 output columns per vector,
// stride 1 loads directly, stride 2 de-interleaves two loads, other strides gather.
// GCC 12 false positive: avx512fintrin.h's _mm512_undefined_ps() self-initialisation reads as uninitialised.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/kernels.h"
#include "kernels/ref/ref.h"

namespace edgeq::kernels {
namespace {

#include "kernels/x86/act_avx512.inc"

inline __m512 load_strided(const float* p, int64_t stride, __m512i idx_even, __m512i idx_gather) {
    if (stride == 1) return _mm512_loadu_ps(p);
    if (stride == 2) return _mm512_permutex2var_ps(_mm512_loadu_ps(p), idx_even, _mm512_loadu_ps(p + 16));
    return _mm512_i32gather_ps(idx_gather, p, 4);
}

// One channel: y = act(bias + Σ w·x) over the padded plane. KH/KW/S > 0: compile-time taps and stride
// (weights stay in registers); 0: taken from the arguments.
template <int KH_, int KW_, int S_>
void channel(const DwConv2dArgs& a, const float* plane, int64_t wp, const float* wc, float bias_v, float* yc, __m512i idx_even, __m512i idx_gather) {
    const int64_t KH = KH_ ? KH_ : a.KH, KW = KW_ ? KW_ : a.KW, S = S_ ? S_ : a.SW;
    __m512 w[KH_ ? KH_ * KW_ : 1];
    if constexpr (KH_ > 0)
        for (int t = 0; t < KH_ * KW_; ++t) w[t] = _mm512_set1_ps(wc[t]);
    const __m512 bias = _mm512_set1_ps(bias_v);
    for (int64_t oy = 0; oy < a.OH; ++oy) {
        for (int64_t ox = 0; ox < a.OW; ox += 16) {
            __m512 acc = bias;
            for (int64_t ky = 0; ky < KH; ++ky) {
                const float* row = plane + (oy * a.SH + ky * a.DH) * wp + ox * S;
                for (int64_t kx = 0; kx < KW; ++kx) {
                    const __m512 wv = KH_ ? w[ky * KW + kx] : _mm512_set1_ps(wc[ky * KW + kx]);
                    acc = _mm512_fmadd_ps(wv, load_strided(row + kx * a.DW, S, idx_even, idx_gather), acc);
                }
            }
            _mm512_mask_storeu_ps(yc + oy * a.OW + ox, tail_mask16(a.OW - ox), act16(acc, a.act));
        }
    }
}

void dwconv(const DwConv2dArgs& a) {
    const int64_t hp = (a.OH - 1) * a.SH + (a.KH - 1) * a.DH + 1;
    const int64_t wp = (a.OW - 1) * a.SW + (a.KW - 1) * a.DW + 1;
    const int64_t taps = a.KH * a.KW;
    const __m512i idx_even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i idx_gather = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                                  _mm512_set1_epi32(static_cast<int>(a.SW)));
    // the padding border is the same for every channel: zero once, then overwrite the interior per channel
    float* plane = a.work;
    std::memset(plane, 0, static_cast<size_t>(dwconv2d_work_floats(a)) * sizeof(float));
    for (int64_t c = a.c_begin; c < a.c_end; ++c) {
        const float* xc = a.x + c * a.H * a.W;
        for (int64_t iy = 0; iy < a.H; ++iy) {
            const int64_t py = iy + a.PT;
            if (py < 0 || py >= hp) continue;
            const int64_t x0 = std::max<int64_t>(0, -a.PL), x1 = std::min<int64_t>(a.W, wp - a.PL);
            if (x1 > x0) std::memcpy(plane + py * wp + x0 + a.PL, xc + iy * a.W + x0, static_cast<size_t>(x1 - x0) * sizeof(float));
        }
        const float* wc = a.w + c * taps;
        float* yc = a.y + c * a.OH * a.OW;
        const float bias = a.bias ? a.bias[c] : 0.0f;
        if (a.KH == 3 && a.KW == 3 && a.SW == 1) channel<3, 3, 1>(a, plane, wp, wc, bias, yc, idx_even, idx_gather);
        else if (a.KH == 3 && a.KW == 3 && a.SW == 2) channel<3, 3, 2>(a, plane, wp, wc, bias, yc, idx_even, idx_gather);
        else channel<0, 0, 0>(a, plane, wp, wc, bias, yc, idx_even, idx_gather);
    }
}

}  // namespace

namespace x86 {
void dwconv2d_f32__avx512_direct(const DwConv2dArgs& a) {
    if (a.SW > 8) {  // the workspace slack covers vector reads for strides up to 8
        ref::dwconv2d_f32(a);
        return;
    }
    dwconv(a);
}
}  // namespace x86

}  // namespace edgeq::kernels
