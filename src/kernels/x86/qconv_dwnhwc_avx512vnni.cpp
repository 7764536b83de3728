// INT8 depthwise convolution on padded NHWC bytes (kernels/qconv.h qdwconv_nhwc), AVX-512 VNNI + VBMI: four
// taps per vpdpbusd. For a block of 16 channels and taps 4g .. 4g + 3, the four taps' 16 bytes go into the
// four 128-bit lanes of one register and vpermb interleaves them so that int32 lane c holds the four taps of
// channel c; vpdpbusd multiplies them with the weights interleaved the same way (s8) and adds the four
// products into the lane: about 6 vector operations per 64 multiply-adds, where the AVX-512 row
// (qconv_dwnhwc_avx512.cpp: zero-extend, vpmaddwd, add per tap) needs 12. Taps past KH·KW repeat the last
// tap's address with weight 0. s8 activations are flipped to u8 (x ^ 0x80) and 128·Σ_t w[t][c] is subtracted
// from the accumulator's start. The sums are the reference's (exact, wrapping int32), the epilogue is the
// AVX-512 row's: equal byte for byte. Needs every packed weight (w − zw) in [-128, 127] and at most 32 taps;
// returns false otherwise (the caller then runs the AVX-512 row). kernels/qconv.cpp calls it only when the
// CPU reports avx512vbmi.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12: _mm512_undefined_* self-initialisation
#include <immintrin.h>

#include <cstdint>

#include "kernels/qconv.h"

namespace edgeq::kernels::x86 {
namespace {

#define EDGEQ_VBMI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512vbmi")))

constexpr int kMaxGroups = 8;  // 32 taps

// Bytes [16·i + c] of v (lane i = tap i, c = channel) to [4·c + i]: int32 lane c = the channel's four taps.
EDGEQ_VBMI inline __m512i interleave_index() {
    alignas(64) uint8_t idx[64];
    for (int c = 0; c < 16; ++c)
        for (int i = 0; i < 4; ++i) idx[4 * c + i] = static_cast<uint8_t>(16 * i + c);
    return _mm512_load_si512(idx);
}

// The four 16-byte runs at p[0..3] (channel mask m) in lanes 0..3.
EDGEQ_VBMI inline __m512i lanes4(const uint8_t* const* p, __mmask16 m) {
    __m512i v = _mm512_castsi128_si512(_mm_maskz_loadu_epi8(m, p[0]));
    v = _mm512_inserti32x4(v, _mm_maskz_loadu_epi8(m, p[1]), 1);
    v = _mm512_inserti32x4(v, _mm_maskz_loadu_epi8(m, p[2]), 2);
    return _mm512_inserti32x4(v, _mm_maskz_loadu_epi8(m, p[3]), 3);
}

template <bool Signed>
EDGEQ_VBMI void dw4(const QDwNhwcArgs& a) {
    const int64_t C = a.C, T = a.KH * a.KW, G4 = (T + 3) / 4;
    const auto* x = static_cast<const uint8_t*>(a.x);
    auto* y = static_cast<uint8_t*>(a.y);
    const __m512 lo = _mm512_set1_ps(static_cast<float>(a.y_min - a.y_zero));
    const __m512 hi = _mm512_set1_ps(static_cast<float>(a.y_max - a.y_zero));
    const __m512i yz = _mm512_set1_epi32(a.y_zero);
    const __m512i idx = interleave_index();
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    const bool Unsigned = a.out == QOut::U8;
    // dword 4j + L of the packed bytes <- dword 4L + j
    const __m512i pix_order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    int64_t off[4 * kMaxGroups];  // byte offsets of the taps from the window's top-left (channel 0)
    for (int64_t t = 0; t < 4 * G4; ++t) {
        const int64_t u = t < T ? t : T - 1;
        off[t] = ((u / a.KW) * a.DH * a.wp + (u % a.KW) * a.DW) * C;
    }
    const int64_t step = a.SW * C;  // bytes between horizontally adjacent windows
    for (int64_t c0 = 0; c0 < C; c0 += 16) {
        const int64_t n = C - c0 < 16 ? C - c0 : 16;
        const __mmask16 m = static_cast<__mmask16>((1u << n) - 1u);
        // weights of taps 4g .. 4g + 3 interleaved like the activations (0 for taps ≥ T and channels ≥ n)
        __m512i wg[kMaxGroups];
        __m512i b0 = _mm512_maskz_loadu_epi32(m, a.bias0 + c0);
        for (int64_t g = 0; g < G4; ++g) {
            __m128i w4[4];
            for (int i = 0; i < 4; ++i) {
                const int64_t t = 4 * g + i;
                w4[i] = t < T ? _mm256_cvtepi16_epi8(_mm256_maskz_loadu_epi16(m, a.w + t * C + c0))
                              : _mm_setzero_si128();
            }
            __m512i v = _mm512_castsi128_si512(w4[0]);
            v = _mm512_inserti32x4(v, w4[1], 1);
            v = _mm512_inserti32x4(v, w4[2], 2);
            v = _mm512_inserti32x4(v, w4[3], 3);
            wg[g] = _mm512_permutexvar_epi8(idx, v);
            // flipped s8 input: Σ (x + 128)·w = Σ x·w + 128·Σ w, so start from bias0 − 128·Σ w
            if (Signed) b0 = _mm512_sub_epi32(b0, _mm512_dpbusd_epi32(_mm512_setzero_si512(), flip, wg[g]));
        }
        const __m512 mul = _mm512_maskz_loadu_ps(m, a.multiplier + c0);
        auto requant = [&](__m512i acc) EDGEQ_VBMI {
            __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), mul);
            f = _mm512_min_ps(_mm512_max_ps(f, lo), hi);
            return _mm512_add_epi32(_mm512_cvtps_epi32(f), yz);
        };
        auto store = [&](__m512i acc, int64_t pix) EDGEQ_VBMI {
            _mm_mask_storeu_epi8(y + pix * C + c0, m, _mm512_cvtepi32_epi8(requant(acc)));
        };
        // four adjacent pixels: the int32 results (inside the output type's range) packed to bytes in two
        // steps (per 128-bit lane: pixel j's channels 4L .. 4L + 3 at dword 4L + j), dwords reordered to
        // pixel-major, then one 16-byte store per pixel (one 64-byte store when C is 16)
        auto store4 = [&](__m512i a0, __m512i a1, __m512i a2, __m512i a3, int64_t pix) EDGEQ_VBMI {
            const __m512i t01 = _mm512_packs_epi32(requant(a0), requant(a1));
            const __m512i t23 = _mm512_packs_epi32(requant(a2), requant(a3));
            const __m512i b = Unsigned ? _mm512_packus_epi16(t01, t23) : _mm512_packs_epi16(t01, t23);
            const __m512i v = _mm512_permutexvar_epi32(pix_order, b);
            uint8_t* o = y + pix * C + c0;
            if (C == 16) {
                _mm512_storeu_si512(o, v);
                return;
            }
            _mm_mask_storeu_epi8(o, m, _mm512_castsi512_si128(v));
            _mm_mask_storeu_epi8(o + C, m, _mm512_extracti32x4_epi32(v, 1));
            _mm_mask_storeu_epi8(o + 2 * C, m, _mm512_extracti32x4_epi32(v, 2));
            _mm_mask_storeu_epi8(o + 3 * C, m, _mm512_extracti32x4_epi32(v, 3));
        };
        auto taps = [&](const uint8_t* p, int64_t g) EDGEQ_VBMI {
            const uint8_t* q[4] = {p + off[4 * g], p + off[4 * g + 1], p + off[4 * g + 2],
                                   p + off[4 * g + 3]};
            __m512i v = lanes4(q, m);
            if (Signed) v = _mm512_xor_si512(v, flip);
            return _mm512_permutexvar_epi8(idx, v);
        };
        for (int64_t oy = a.oy_begin; oy < a.oy_end; ++oy) {
            const uint8_t* row = x + (oy * a.SH * a.wp) * C + c0;
            int64_t ox = 0;
            for (; ox + 4 <= a.OW; ox += 4) {
                __m512i s0 = b0, s1 = b0, s2 = b0, s3 = b0;
                const uint8_t* p = row + ox * step;
                for (int64_t g = 0; g < G4; ++g) {
                    s0 = _mm512_dpbusd_epi32(s0, taps(p, g), wg[g]);
                    s1 = _mm512_dpbusd_epi32(s1, taps(p + step, g), wg[g]);
                    s2 = _mm512_dpbusd_epi32(s2, taps(p + 2 * step, g), wg[g]);
                    s3 = _mm512_dpbusd_epi32(s3, taps(p + 3 * step, g), wg[g]);
                }
                store4(s0, s1, s2, s3, oy * a.OW + ox);
            }
            for (; ox < a.OW; ++ox) {
                __m512i s0 = b0;
                for (int64_t g = 0; g < G4; ++g)
                    s0 = _mm512_dpbusd_epi32(s0, taps(row + ox * step, g), wg[g]);
                store(s0, oy * a.OW + ox);
            }
        }
    }
}

}  // namespace

bool qdwconv_nhwc__avx512vnni(const QDwNhwcArgs& a) {
    const int64_t T = a.KH * a.KW;
    if (T > 4 * kMaxGroups || T < 1) return false;
    for (int64_t i = 0; i < T * a.C; ++i)
        if (a.w[i] < -128 || a.w[i] > 127) return false;
    if (a.a_signed)
        dw4<true>(a);
    else
        dw4<false>(a);
    return true;
}

}  // namespace edgeq::kernels::x86
