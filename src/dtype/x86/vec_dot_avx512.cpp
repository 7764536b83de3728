// AVX-512 (F/BW/VL/DQ) dot products of Q4_K, Q5_K and Q6_K with Q8_K (dtype/vec_dot.h), bit-identical to the
// reference: the lane scheme of vec_dot_avx2.cpp on 64 elements per zmm. Int32 lanes l and l + 8 of a zmm both
// belong to ggml's lane l (the two 32-element groups, or four 16-element sub-blocks, of one instruction); they
// are added at the end of each super-block, which is exact, before the float steps.
//
// Internal linkage only (see dtype/x86/lanes_x86.h): this unit is compiled with -mavx512f/bw/vl/dq.
// GCC 12 false positive inside its AVX-512 headers (_mm*_undefined_* self-initialisation).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "dtype/blocks.h"
#include "dtype/x86/vec_dot_tile_x86.h"

namespace edgeq::vdot {
namespace {

inline __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m512i load64(const void* p) { return _mm512_loadu_si512(p); }
inline __m512i join(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }

// Per 128-bit lane: bytes (0, 8, 1, 9, ..., 7, 15), so int16 lane l of vpmaddubsw holds elements l and l+8.
inline __m512i pair_l_l8(__m512i v) {
    const __m512i m = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15));
    return _mm512_shuffle_epi8(v, m);
}

// 16 int16 -> 16 int32 times a per-half scale: lanes 0..7 by s0, 8..15 by s1 (vpmaddwd with (s, 0) pairs).
inline __m512i scale16x2(__m256i v, int s0, int s1) {
    const __m512i sv = join(_mm256_set1_epi32(static_cast<uint16_t>(s0)), _mm256_set1_epi32(static_cast<uint16_t>(s1)));
    return _mm512_madd_epi16(_mm512_cvtepi16_epi32(v), sv);
}

inline __m256i fold(__m512i v) { return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1)); }

inline float total(__m256 sums, float sumf) {
    alignas(32) float s[8];
    _mm256_store_ps(s, sums);
    for (int l = 0; l < 8; ++l) sumf += s[l];
    return sumf;
}

// Q4_K / Q5_K 6-bit scales (bytes 0..7 of sm) and mins (bytes 8..15) unpacked from the 12 packed bytes
// (ggml's utmp shuffle, get_scale_min_k4's values).
inline void scales_mins_k4(const uint8_t* q, uint32_t* sm) {
    constexpr uint32_t kmask1 = 0x3f3f3f3f, kmask2 = 0x0f0f0f0f, kmask3 = 0x03030303;
    uint32_t u[3];
    std::memcpy(u, q, 12);
    sm[0] = u[0] & kmask1;
    sm[1] = (u[2] & kmask2) | (((u[0] >> 6) & kmask3) << 4);
    sm[2] = u[1] & kmask1;
    sm[3] = ((u[2] >> 4) & kmask2) | (((u[1] >> 6) & kmask3) << 4);
}

// sum_j bsums[j] * min[j / 2] (exact int32): pairs of bsums added in int16, times the 8 mins.
inline int mins_dot(const int16_t* bsums, const uint32_t* sm) {
    const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bsums));
    const __m128i pairs = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
    const __m128i mins = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, static_cast<int>(sm[3]), static_cast<int>(sm[2])));
    __m128i p = _mm_madd_epi16(pairs, mins);
    p = _mm_add_epi32(p, _mm_shuffle_epi32(p, 0x4E));
    p = _mm_add_epi32(p, _mm_shuffle_epi32(p, 0xB1));
    return _mm_cvtsi128_si32(p);
}

// Tiles (dtype/vec_dot.h VecDotTileFn): activation rows in groups of four. Per weight row and super-block the
// weights are decoded once (and, for Q4_K/Q5_K, the scales unpacked once); each activation row then runs the
// row kernel's integer and float steps on its own sums, so every output equals the row's bit for bit. The
// rows are the tile with one weight row and one activation row.
template <bool kQ5>
void q45_K_tile(int64_t n, const void* w, size_t w_stride, int64_t nw, const void* a, size_t a_stride,
                int64_t na, float* out, size_t out_stride) {
    using Block = std::conditional_t<kQ5, block_q5_K, block_q4_K>;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m1 = _mm256_set1_epi8(0x01);
    for (int64_t i0 = 0; i0 < na; i0 += kTileRows) {
        const TileRows ys = tile_rows(a, a_stride, i0, na);
        for (int64_t r = 0; r < nw; ++r) {
            const Block* x = tile_weight_row<Block>(w, w_stride, r);
            __m256 sums[kTileRows];
            float sumf[kTileRows];
            for (int k = 0; k < kTileRows; ++k) sums[k] = _mm256_setzero_ps(), sumf[k] = 0.0f;
            for (int64_t i = 0; i < n / QK_K; ++i) {
                uint32_t sm[4];
                scales_mins_k4(x[i].scales, sm);
                const uint8_t* sc = reinterpret_cast<const uint8_t*>(sm);
                __m256i hb = _mm256_setzero_si256();
                if constexpr (kQ5) hb = load32(x[i].qh);
                __m512i wv[4];
                for (int j = 0; j < 4;
                     ++j) {  // 64 elements: sub-blocks 2j (low nibbles) and 2j+1 (high nibbles)
                    const __m256i q = load32(x[i].qs + 32 * j);
                    __m256i lo = _mm256_and_si256(q, m4);
                    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
                    if constexpr (kQ5) {
                        lo = _mm256_or_si256(
                            lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j), m1), 4));
                        hi = _mm256_or_si256(
                            hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j + 1), m1), 4));
                    }
                    wv[j] = pair_l_l8(join(lo, hi));
                }
                const float xd = _cvtsh_ss(x[i].d), xdmin = _cvtsh_ss(x[i].dmin);
                for (int k = 0; k < ys.n; ++k) {
                    const block_q8_K& y = ys.y[k][i];
                    const int sumi = mins_dot(y.bsums, sm);
                    __m512i aux = _mm512_setzero_si512();
                    for (int j = 0; j < 4; ++j) {
                        // 128-bit lanes of t: (sub 2j: l, l+8), (2j: 16+l, 24+l), (2j+1: l, l+8), (2j+1:
                        // 16+l, 24+l).
                        const __m512i t = _mm512_maddubs_epi16(wv[j], pair_l_l8(load64(y.qs + 64 * j)));
                        // Add the two halves of each sub-block in int16: 128-bit lanes (0 + 1) and (2 + 3).
                        const __m512i s = _mm512_add_epi16(t, _mm512_shuffle_i64x2(t, t, 0xB1));
                        const __m256i h = _mm512_castsi512_si256(
                            _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 1, 4, 5, 2, 3, 6, 7), s));
                        aux = _mm512_add_epi32(aux, scale16x2(h, sc[2 * j], sc[2 * j + 1]));
                    }
                    const float d = xd * y.d;
                    sums[k] = _mm256_add_ps(sums[k],
                                            _mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(fold(aux))));
                    const float dmin = xdmin * y.d;
                    sumf[k] -= dmin * static_cast<float>(sumi);
                }
            }
            for (int k = 0; k < ys.n; ++k)
                out[static_cast<size_t>(i0 + k) * out_stride + static_cast<size_t>(r)] =
                    total(sums[k], sumf[k]);
        }
    }
}

void q6_K_tile(int64_t n, const void* w, size_t w_stride, int64_t nw, const void* a, size_t a_stride,
               int64_t na, float* out, size_t out_stride) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(0x03);
    const __m512i m32 = _mm512_set1_epi8(32);
    for (int64_t i0 = 0; i0 < na; i0 += kTileRows) {
        const TileRows ys = tile_rows(a, a_stride, i0, na);
        for (int64_t r = 0; r < nw; ++r) {
            const block_q6_K* x = tile_weight_row<block_q6_K>(w, w_stride, r);
            __m256 sums[kTileRows];
            for (int k = 0; k < kTileRows; ++k) sums[k] = _mm256_setzero_ps();
            for (int64_t i = 0; i < n / QK_K; ++i) {
                __m512i qa[4];  // (halves of 128 elements) x (64 elements = sub-blocks s..s+3 of 16),
                                // pair-shuffled
                for (int h = 0; h < 2; ++h) {
                    const __m256i l0 = load32(x[i].ql + 64 * h), l1 = load32(x[i].ql + 64 * h + 32);
                    const __m256i qh = load32(x[i].qh + 32 * h);
                    const __m256i q0 = _mm256_or_si256(_mm256_and_si256(l0, m4),
                                                       _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4));
                    const __m256i q1 =
                        _mm256_or_si256(_mm256_and_si256(l1, m4),
                                        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m3), 4));
                    const __m256i q2 =
                        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m3), 4));
                    const __m256i q3 =
                        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m3), 4));
                    qa[2 * h] = pair_l_l8(join(q0, q1));
                    qa[2 * h + 1] = pair_l_l8(join(q2, q3));
                }
                const float xd = _cvtsh_ss(x[i].d);
                for (int k = 0; k < ys.n; ++k) {
                    const block_q8_K& y = ys.y[k][i];
                    __m512i aux = _mm512_setzero_si512();
                    for (int q = 0; q < 4; ++q) {
                        const __m512i yv = pair_l_l8(load64(y.qs + 64 * q));
                        // (q - 32) . a per (l, l+8) pair: q . a - 32 . a, both below 2^15 in magnitude.
                        const __m512i t =
                            _mm512_sub_epi16(_mm512_maddubs_epi16(qa[q], yv), _mm512_maddubs_epi16(m32, yv));
                        const int8_t* s = x[i].scales + 4 * q;
                        aux = _mm512_add_epi32(aux, scale16x2(_mm512_castsi512_si256(t), s[0], s[1]));
                        aux = _mm512_add_epi32(aux, scale16x2(_mm512_extracti64x4_epi64(t, 1), s[2], s[3]));
                    }
                    const float d = xd * y.d;
                    sums[k] = _mm256_add_ps(sums[k],
                                            _mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(fold(aux))));
                }
            }
            for (int k = 0; k < ys.n; ++k)
                out[static_cast<size_t>(i0 + k) * out_stride + static_cast<size_t>(r)] = total(sums[k], 0.0f);
        }
    }
}

}  // namespace

EDGEQ_VDOT_KQUANT_EXPORTS(avx512)

}  // namespace edgeq::vdot
