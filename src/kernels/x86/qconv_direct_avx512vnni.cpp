// Direct small-channel INT8 convolution on padded NHWC bytes (kernels/qconv.h qconv_direct) for AVX-512 VNNI:
// eight output pixels at a time per 16-output block, each 4-byte group of a window row broadcast and
// multiplied into int32 lanes by vpdpbusd (u8 × s8, 4 products per lane), the weights of a (ky, group, block)
// read once per eight pixels. Epilogue as qdwconv_nhwc: float(acc)·multiplier, clamp, cvtps (nearest even),
// + y_zero, truncated to bytes (in range), masked store of the block's outputs.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12: _mm512_undefined_* self-initialisation
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/qconv.h"

namespace edgeq::kernels::x86 {
namespace {

struct Ctx {
    const QConvDirectArgs* a;
    int64_t Q, OB, pix_step;  // groups per kernel row, output blocks, bytes between adjacent windows
    __m512 lo, hi;
    __m512i yz, flip;
};

inline __m512i bcast4(const uint8_t* p, __m512i flip) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm512_xor_si512(_mm512_set1_epi32(v), flip);
}

// NP output pixels starting at (oy, ox), output block ob.
template <int NP>
inline void block(const Ctx& c, int64_t oy, int64_t ox, int64_t ob) {
    const QConvDirectArgs& a = *c.a;
    const auto* x = static_cast<const uint8_t*>(a.x);
    const __m512i b0 = _mm512_loadu_si512(a.bias0 + ob * 16);
    __m512i acc[NP];
    for (int p = 0; p < NP; ++p) acc[p] = b0;
    for (int64_t ky = 0; ky < a.KH; ++ky) {
        const uint8_t* row = x + ((oy * a.SH + ky * a.DH) * a.wp + ox * a.SW) * a.C;
        const int8_t* wk = a.w + ((ky * c.Q) * c.OB + ob) * 64;
        for (int64_t q = 0; q < c.Q; ++q) {
            const __m512i w = _mm512_loadu_si512(wk + q * c.OB * 64);
            for (int p = 0; p < NP; ++p)
                acc[p] = _mm512_dpbusd_epi32(acc[p], bcast4(row + p * c.pix_step + 4 * q, c.flip), w);
        }
    }
    const int64_t n = a.OC - ob * 16 < 16 ? a.OC - ob * 16 : 16;
    const __mmask16 m = static_cast<__mmask16>((1u << n) - 1u);
    const __m512 mul = _mm512_maskz_loadu_ps(m, a.multiplier + ob * 16);
    auto* y = static_cast<uint8_t*>(a.y) + (oy * a.OW + ox) * a.OC + ob * 16;
    for (int p = 0; p < NP; ++p) {
        __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc[p]), mul);
        f = _mm512_min_ps(_mm512_max_ps(f, c.lo), c.hi);
        const __m512i qv = _mm512_add_epi32(_mm512_cvtps_epi32(f), c.yz);
        _mm_mask_storeu_epi8(y + p * a.OC, m, _mm512_cvtepi32_epi8(qv));
    }
}

}  // namespace

void qconv_direct__avx512vnni(const QConvDirectArgs& a) {
    Ctx c;
    c.a = &a;
    c.Q = qconv_direct_groups(a.C, a.KW);
    c.OB = (a.OC + 15) / 16;
    c.pix_step = a.SW * a.C;
    c.lo = _mm512_set1_ps(static_cast<float>(a.y_min - a.y_zero));
    c.hi = _mm512_set1_ps(static_cast<float>(a.y_max - a.y_zero));
    c.yz = _mm512_set1_epi32(a.y_zero);
    c.flip = _mm512_set1_epi8(a.a_signed ? static_cast<char>(0x80) : 0);
    for (int64_t oy = a.oy_begin; oy < a.oy_end; ++oy) {
        int64_t ox = 0;
        for (; ox + 8 <= a.OW; ox += 8)
            for (int64_t ob = 0; ob < c.OB; ++ob) block<8>(c, oy, ox, ob);
        for (; ox < a.OW; ++ox)
            for (int64_t ob = 0; ob < c.OB; ++ob) block<1>(c, oy, ox, ob);
    }
}

}  // namespace edgeq::kernels::x86
