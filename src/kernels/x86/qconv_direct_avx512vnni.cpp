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

#include "kernels/x86/qrequant_avx512.inc"

struct Ctx {
    const QConvDirectArgs* a;
    int64_t Q, OB, pix_step;  // groups per kernel row, output blocks, bytes between adjacent windows
    int64_t y_row;            // bytes between output rows
    __m512 lo, hi;
    __m512i yz, flip;
};

inline __m512i bcast4(const uint8_t* p, __m512i flip) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm512_xor_si512(_mm512_set1_epi32(v), flip);
}

// vpdpbusd with the accumulator tied to one register (GCC 12 copies intrinsic accumulators in and out of
// loops: see qgemm_avx512vnni.cpp).
__attribute__((always_inline)) inline __m512i dpbusd_tied(__m512i acc, __m512i a, __m512i w) {
    asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(w));
    return acc;
}

// NP output pixels starting at (oy, ox), NB output blocks from ob (each window group broadcast once for all NB
// blocks). With two full blocks a pixel's 32 results are packed to bytes and stored at once (saturating packs
// of values already clamped into the output range: the same bytes as the truncating store).
template <int NP, int NB>
inline void block(const Ctx& c, int64_t oy, int64_t ox, int64_t ob) {
    const QConvDirectArgs& a = *c.a;
    const auto* x = static_cast<const uint8_t*>(a.x);
    __m512i acc[NP][NB];
    for (int j = 0; j < NB; ++j) {
        const __m512i b0 = _mm512_loadu_si512(a.bias0 + (ob + j) * 16);
        for (int p = 0; p < NP; ++p) acc[p][j] = b0;
    }
    for (int64_t ky = 0; ky < a.KH; ++ky) {
        const uint8_t* row = x + ((oy * a.SH + ky * a.DH) * a.wp + ox * a.SW) * a.C;
        const int8_t* wk = a.w + ((ky * c.Q) * c.OB + ob) * 64;
        for (int64_t q = 0; q < c.Q; ++q) {
            __m512i w[NB];
            for (int j = 0; j < NB; ++j) w[j] = _mm512_loadu_si512(wk + (q * c.OB + j) * 64);
            for (int p = 0; p < NP; ++p) {
                const __m512i av = bcast4(row + p * c.pix_step + 4 * q, c.flip);
                for (int j = 0; j < NB; ++j) acc[p][j] = dpbusd_tied(acc[p][j], av, w[j]);
            }
        }
    }
    __mmask16 m[NB];
    __m512 mul[NB];
    for (int j = 0; j < NB; ++j) {
        const int64_t n = a.OC - (ob + j) * 16 < 16 ? a.OC - (ob + j) * 16 : 16;
        m[j] = static_cast<__mmask16>((1u << n) - 1u);
        mul[j] = _mm512_maskz_loadu_ps(m[j], a.multiplier + (ob + j) * 16);
    }
    const bool packed = NB == 2 && m[1] == 0xffff;
    const bool u8 = a.out == QOut::U8;
    // (requant16 / store_bytes32: the packed store's saturation is the lower clamp where exact)
    const bool sat_lo = packed && a.y_zero >= 0 && a.y_min == (u8 ? 0 : -128), add_yz = a.y_zero != 0;
    auto* y = static_cast<uint8_t*>(a.y) + oy * c.y_row + ox * a.OC + ob * 16;
    for (int p = 0; p < NP; ++p) {
        __m512i qv[NB];
        for (int j = 0; j < NB; ++j) {
            qv[j] = requant16(acc[p][j], mul[j], c.lo, c.hi, sat_lo, add_yz, c.yz);
        }
        if constexpr (NB == 2) {
            if (packed) {
                store_bytes32(y + p * a.OC, qv[0], qv[1], u8);
                continue;
            }
        }
        for (int j = 0; j < NB; ++j) _mm_mask_storeu_epi8(y + p * a.OC + j * 16, m[j], _mm512_cvtepi32_epi8(qv[j]));
    }
}

template <int NP>
inline void blocks(const Ctx& c, int64_t oy, int64_t ox) {
    int64_t ob = 0;
    for (; ob + 2 <= c.OB; ob += 2) block<NP, 2>(c, oy, ox, ob);
    if (ob < c.OB) block<NP, 1>(c, oy, ox, ob);
}

}  // namespace

void qconv_direct__avx512vnni(const QConvDirectArgs& a) {
    Ctx c;
    c.a = &a;
    c.Q = qconv_direct_groups(a.C, a.KW);
    c.OB = (a.OC + 15) / 16;
    c.pix_step = a.SW * a.C;
    c.y_row = a.y_row > 0 ? a.y_row : a.OW * a.OC;
    c.lo = _mm512_set1_ps(static_cast<float>(a.y_min - a.y_zero));
    c.hi = _mm512_set1_ps(static_cast<float>(a.y_max - a.y_zero));
    c.yz = _mm512_set1_epi32(a.y_zero);
    c.flip = _mm512_set1_epi8(a.a_signed ? static_cast<char>(0x80) : 0);
    for (int64_t oy = a.oy_begin; oy < a.oy_end; ++oy) {
        int64_t ox = 0;
        for (; ox + 8 <= a.OW; ox += 8) blocks<8>(c, oy, ox);
        for (; ox + 4 <= a.OW; ox += 4) blocks<4>(c, oy, ox);
        for (; ox < a.OW; ++ox) blocks<1>(c, oy, ox);
    }
}

}  // namespace edgeq::kernels::x86
