// AVX2 dot products of ggml block weights with their Q8 activation partner (dtype/vec_dot.h), bit-identical to
// the reference, which follows ggml's generic C kernels:
//   Q8_0, Q4_0   see vec_dot_legacy.inc (per-block int32 sums, float terms added in block order).
//   Q4_K, Q5_K,  ggml keeps 8 int32 lanes per super-block, lane l collecting scale * w[e] * a[e] for the elements
//   Q6_K         e = l (mod 8), then sums[l] += d * lane (no FMA), and adds sums[0..7] in order at the end. Here a
//                byte shuffle puts elements (l, l+8) next to each other so that vpmaddubsw's pair sums stay in
//                lane l; the two 16-element halves of a 32-element group are added (Q4_K/Q5_K: one scale per 32)
//                or scaled separately (Q6_K: one scale per 16), widened to int32 and scaled by vpmaddwd with
//                (scale, 0) pairs. The integer lanes are then exactly ggml's aux32, and the float steps are the
//                same IEEE operations in the same order.
// No pair sum can saturate int16: |w| <= 63, |a| <= 128, two products, and Q4_K/Q5_K add two pairs of |w| <= 31.
//
// Internal linkage only (see dtype/x86/lanes_x86.h): this unit is compiled with -mavx2 -mfma -mf16c.
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "dtype/blocks.h"
#include "dtype/x86/vec_dot_tile_x86.h"

namespace edgeq::vdot {
namespace {

inline __m256i dot4_avx2(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}
#define DOT4(u, s) dot4_avx2(u, s)
#define SUFFIX(name) name##_avx2
#include "dtype/x86/vec_dot_legacy.inc"
#undef DOT4
#undef SUFFIX

// Per 128-bit lane: bytes (0, 8, 1, 9, ..., 7, 15), so int16 lane l of vpmaddubsw holds elements l and l+8.
inline __m256i pair_l_l8(__m256i v) {
    const __m256i m = _mm256_setr_epi8(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15,  //
                                       0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
    return _mm256_shuffle_epi8(v, m);
}

// int16 x -> int32 x * s (s a signed 16-bit scale): vpmaddwd of the sign-extended value with (s, 0).
inline __m256i scale16(__m128i v, int s) {
    return _mm256_madd_epi16(_mm256_cvtepi16_epi32(v), _mm256_set1_epi32(static_cast<uint16_t>(s)));
}

// 32 elements with one scale (Q4_K/Q5_K sub-block), w already pair_l_l8-shuffled: lane l += sc * sum of w*a
// over elements l, l+8, l+16, l+24.
inline __m256i sub32(__m256i acc, __m256i w_paired, __m256i a, int sc) {
    const __m256i t = _mm256_maddubs_epi16(w_paired, pair_l_l8(a));
    const __m128i h = _mm_add_epi16(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
    return _mm256_add_epi32(acc, scale16(h, sc));
}

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

// Tiles (dtype/vec_dot.h VecDotTileFn), activation rows in groups of kTileRows: per weight row and
// super-block the weights are decoded (and pair-shuffled, Q4_K/Q5_K scales unpacked) once, then every
// activation row runs the row kernel's integer and float steps on its own sums, so each output equals the
// row's bit for bit. The rows are the tile of one weight row and one activation row.
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
                __m256i wv[8];  // sub-blocks 0..7, pair-shuffled
                for (int j = 0; j < 4; ++j) {
                    const __m256i q = load32(x[i].qs + 32 * j);
                    __m256i lo = _mm256_and_si256(q, m4);
                    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
                    if constexpr (kQ5) {
                        lo = _mm256_or_si256(
                            lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j), m1), 4));
                        hi = _mm256_or_si256(
                            hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j + 1), m1), 4));
                    }
                    wv[2 * j] = pair_l_l8(lo);
                    wv[2 * j + 1] = pair_l_l8(hi);
                }
                const float xd = _cvtsh_ss(x[i].d), xdmin = _cvtsh_ss(x[i].dmin);
                for (int k = 0; k < ys.n; ++k) {
                    const block_q8_K& y = ys.y[k][i];
                    const int sumi = mins_dot(y.bsums, sm);
                    __m256i aux = _mm256_setzero_si256();
                    for (int s = 0; s < 8; ++s) aux = sub32(aux, wv[s], load32(y.qs + 32 * s), sc[s]);
                    const float d = xd * y.d;
                    sums[k] =
                        _mm256_add_ps(sums[k], _mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(aux)));
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
    const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(0x03), m32 = _mm256_set1_epi8(32);
    for (int64_t i0 = 0; i0 < na; i0 += kTileRows) {
        const TileRows ys = tile_rows(a, a_stride, i0, na);
        for (int64_t r = 0; r < nw; ++r) {
            const block_q6_K* x = tile_weight_row<block_q6_K>(w, w_stride, r);
            __m256 sums[kTileRows];
            for (int k = 0; k < kTileRows; ++k) sums[k] = _mm256_setzero_ps();
            for (int64_t i = 0; i < n / QK_K; ++i) {
                __m256i q[8];                  // 32 elements each (sub-blocks 2c, 2c+1 of 16), pair-shuffled
                for (int h = 0; h < 2; ++h) {  // halves of 128 elements
                    const __m256i l0 = load32(x[i].ql + 64 * h), l1 = load32(x[i].ql + 64 * h + 32);
                    const __m256i qh = load32(x[i].qh + 32 * h);
                    __m256i* qq = q + 4 * h;
                    qq[0] = _mm256_or_si256(_mm256_and_si256(l0, m4),
                                            _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4));
                    qq[1] =
                        _mm256_or_si256(_mm256_and_si256(l1, m4),
                                        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m3), 4));
                    qq[2] =
                        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m3), 4));
                    qq[3] =
                        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m3), 4));
                    for (int c = 0; c < 4; ++c) qq[c] = pair_l_l8(qq[c]);
                }
                const float xd = _cvtsh_ss(x[i].d);
                for (int k = 0; k < ys.n; ++k) {
                    const block_q8_K& y = ys.y[k][i];
                    __m256i aux = _mm256_setzero_si256();
                    for (int c = 0; c < 8; ++c) {  // 32 elements = sub-blocks 2c, 2c+1 of 16
                        const __m256i yv = pair_l_l8(load32(y.qs + 32 * c));
                        // (q - 32) . a per (l, l+8) pair: q . a - 32 . a, both below 2^15 in magnitude.
                        const __m256i t =
                            _mm256_sub_epi16(_mm256_maddubs_epi16(q[c], yv), _mm256_maddubs_epi16(m32, yv));
                        aux = _mm256_add_epi32(aux, scale16(_mm256_castsi256_si128(t), x[i].scales[2 * c]));
                        aux = _mm256_add_epi32(
                            aux, scale16(_mm256_extracti128_si256(t, 1), x[i].scales[2 * c + 1]));
                    }
                    const float d = xd * y.d;
                    sums[k] =
                        _mm256_add_ps(sums[k], _mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(aux)));
                }
            }
            for (int k = 0; k < ys.n; ++k)
                out[static_cast<size_t>(i0 + k) * out_stride + static_cast<size_t>(r)] = total(sums[k], 0.0f);
        }
    }
}

}  // namespace

EDGEQ_VDOT_KQUANT_EXPORTS(avx2)

// Q2_K: the reference's integer isum (sum over 16-element sub-blocks of scale * q . a) and summs are order-free;
// its float step per super-block is sumf += dall * isum - dmin * summs.
float q2_K_q8_K_avx2(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const block_q2_K*>(w);
    const auto* y = static_cast<const block_q8_K*>(a);
    const __m256i m3 = _mm256_set1_epi8(0x03);
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const uint8_t* sc = x[i].scales;
        int summs = 0;
        for (int j = 0; j < 16; ++j) summs += y[i].bsums[j] * (sc[j] >> 4);
        __m256i acc = _mm256_setzero_si256();
        for (int k = 0; k < 2; ++k) {
            const __m256i q2 = load32(x[i].qs + 32 * k);
            for (int j = 0; j < 4; ++j) {
                const __m256i v = _mm256_and_si256(_mm256_srli_epi16(q2, 2 * j), m3);
                const __m256i p = _mm256_maddubs_epi16(v, load32(y[i].qs + 128 * k + 32 * j));
                const int is = 8 * k + 2 * j;
                const __m256i scv = _mm256_set_m128i(_mm_set1_epi16(sc[is + 1] & 0xF), _mm_set1_epi16(sc[is] & 0xF));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, scv));
            }
        }
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
        const int isum = _mm_cvtsi128_si32(s4);
        const float dall = y[i].d * _cvtsh_ss(x[i].d);
        const float dmin = y[i].d * _cvtsh_ss(x[i].dmin);
        sumf += dall * static_cast<float>(isum) - dmin * static_cast<float>(summs);
    }
    return sumf;
}

// TQ2_0: sumi = sum (q - 1) * a = q . a - sum(a) (exact), then sumf += (float)sumi * (a.d * x.d).
float tq2_0_q8_K_avx2(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const block_tq2_0*>(w);
    const auto* y = static_cast<const block_q8_K*>(a);
    const __m256i m3 = _mm256_set1_epi8(0x03);
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        __m256i acc = _mm256_setzero_si256();
        for (int j = 0; j < 2; ++j) {
            const __m256i q = load32(x[i].qs + 32 * j);
            for (int l = 0; l < 4; ++l) {
                const __m256i v = _mm256_and_si256(_mm256_srli_epi16(q, 2 * l), m3);
                acc = _mm256_add_epi32(acc, dot4_avx2(v, load32(y[i].qs + 128 * j + 32 * l)));
            }
        }
        int ysum = 0;
        for (int s = 0; s < QK_K / 16; ++s) ysum += y[i].bsums[s];
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
        const int sumi = _mm_cvtsi128_si32(s4) - ysum;
        sumf += static_cast<float>(sumi) * (y[i].d * _cvtsh_ss(x[i].d));
    }
    return sumf;
}

// llama.cpp's x86 Q8_0 order (dtype/vec_dot.h vec_dot_x86_ref): per block eight int32 lanes of four products
// (vpmaddubsw of |w| with sign(a, w), then vpmaddwd with ones: exact), converted and fused into eight float lanes
// with d = d_w * d_a; hsum_float_8 at the end.
float q8_0_q8_0_x86_avx2(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const block_q8_0*>(w);
    const auto* y = static_cast<const block_q8_0*>(a);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t ib = 0; ib < n / QK8_0; ++ib) {
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(x[ib].d) * _cvtsh_ss(y[ib].d));
        const __m256i qx = load32(x[ib].qs), qy = load32(y[ib].qs);
        const __m256i lanes = dot4_avx2(_mm256_sign_epi8(qx, qx), _mm256_sign_epi8(qy, qx));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(lanes), acc);
    }
    __m128 r = _mm_add_ps(_mm256_extractf128_ps(acc, 1), _mm256_castps256_ps128(acc));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

}  // namespace edgeq::vdot
