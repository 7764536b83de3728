// AVX-512 (F/BW/VL/DQ) dot products of Q4_K, Q5_K and Q6_K with Q8_K (dtype/vec_dot.h), bit-identical to the
// reference: ggml keeps 8 int32 lanes per super-block (lane l: the elements e = l mod 8). Here each 32-element
// group of weights and activations is put in "lane order" (lane_order: int32 lane l holds elements l, l+8, l+16,
// l+24), so vpmaddubsw + vpmaddwd (with the sub-block scales) give parts of ggml's lane l directly; a zmm holds
// two groups, whose lanes l and l + 8 are added at the end of each super-block (exact) before the float steps.
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

// The 32 bytes of a 32-element group reordered so that int32 lane l (of 8) holds elements l, l+8, l+16, l+24:
// per 128-bit lane (l, l+8) byte pairs, 64-bit pieces regrouped, then the pairs of l and l+16 joined. vpmaddubsw
// then sums two products of the same ggml lane l and vpmaddwd two of those, so an int32 lane is exactly a part of
// ggml's aux32[l]. Applied to both 256-bit halves of a zmm.
inline __m512i lane_order(__m512i v) {
    const __m512i p1 = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15));
    const __m512i p2 = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15));
    const __m512i q = _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 2, 1, 3, 4, 6, 5, 7), _mm512_shuffle_epi8(v, p1));
    return _mm512_shuffle_epi8(q, p2);
}
inline __m256i lane_order(__m256i v) { return _mm512_castsi512_si256(lane_order(_mm512_castsi256_si512(v))); }

// Tiles (dtype/vec_dot.h VecDotTileFn): activation rows in groups of kTileRows. The group's activation quants are
// put in lane order once (stack or heap scratch) and its bsums added in pairs; per weight row and super-block the
// weights are decoded once into lane order and the scales and mins unpacked once; each activation row then takes
// 4 x (vpmaddubsw, vpmaddwd with the sub-block scale, add) for ggml's eight int32 lanes and the row kernel's float
// steps, so every output equals the row's bit for bit. The rows are the tile with one weight row and one
// activation row.
template <bool kQ5>
void q45_K_tile(int64_t n, const void* w, size_t w_stride, int64_t nw, const void* a, size_t a_stride,
                int64_t na, float* out, size_t out_stride) {
    using Block = std::conditional_t<kQ5, block_q5_K, block_q4_K>;
    const int64_t nsb = n / QK_K;
    // Scratch per activation row: n lane-ordered quants, then nsb x 8 bsum pairs.
    const size_t row_bytes = static_cast<size_t>(n) + static_cast<size_t>(nsb) * 16;
    constexpr size_t kStack = 4 * (8192 + 32 * 16);
    alignas(64) uint8_t stack[kStack];
    uint8_t* heap = row_bytes * kTileRows > kStack ? new uint8_t[row_bytes * kTileRows] : nullptr;
    uint8_t* scratch = heap ? heap : stack;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m1 = _mm256_set1_epi8(0x01);
    for (int64_t i0 = 0; i0 < na; i0 += kTileRows) {
        const TileRows ys = tile_rows(a, a_stride, i0, na);
        for (int k = 0; k < ys.n; ++k) {
            uint8_t* s = scratch + static_cast<size_t>(k) * row_bytes;
            auto* pairs = reinterpret_cast<int16_t*>(s + n);
            for (int64_t i = 0; i < nsb; ++i) {
                for (int j = 0; j < 4; ++j)
                    _mm512_storeu_si512(s + QK_K * i + 64 * j, lane_order(load64(ys.y[k][i].qs + 64 * j)));
                const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ys.y[k][i].bsums));
                _mm_storeu_si128(reinterpret_cast<__m128i*>(pairs + 8 * i),
                                 _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1)));
            }
        }
        for (int64_t r = 0; r < nw; ++r) {
            const Block* x = tile_weight_row<Block>(w, w_stride, r);
            __m256 sums[kTileRows];
            float sumf[kTileRows];
            for (int k = 0; k < kTileRows; ++k) sums[k] = _mm256_setzero_ps(), sumf[k] = 0.0f;
            for (int64_t i = 0; i < nsb; ++i) {
                uint32_t sm[4];
                scales_mins_k4(x[i].scales, sm);
                const uint8_t* sc = reinterpret_cast<const uint8_t*>(sm);
                __m256i hb = _mm256_setzero_si256();
                if constexpr (kQ5) hb = lane_order(load32(x[i].qh));
                __m512i wv[4], sv[4];  // 64 elements: sub-blocks 2j (low nibbles) and 2j+1 (high), lane order
                for (int j = 0; j < 4; ++j) {
                    const __m256i q = lane_order(load32(x[i].qs + 32 * j));
                    __m256i lo = _mm256_and_si256(q, m4);
                    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
                    if constexpr (kQ5) {
                        lo = _mm256_or_si256(
                            lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j), m1), 4));
                        hi = _mm256_or_si256(
                            hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j + 1), m1), 4));
                    }
                    wv[j] = join(lo, hi);
                    sv[j] = join(_mm256_set1_epi16(static_cast<int16_t>(sc[2 * j])),
                                 _mm256_set1_epi16(static_cast<int16_t>(sc[2 * j + 1])));
                }
                const __m128i mins = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, static_cast<int>(sm[3]), static_cast<int>(sm[2])));
                const float xd = _cvtsh_ss(x[i].d), xdmin = _cvtsh_ss(x[i].dmin);
                for (int k = 0; k < ys.n; ++k) {
                    const uint8_t* s = scratch + static_cast<size_t>(k) * row_bytes;
                    const auto* pairs = reinterpret_cast<const int16_t*>(s + n);
                    // sum_j bsums[j] * min[j / 2] (exact int32).
                    __m128i p = _mm_madd_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(pairs + 8 * i)), mins);
                    p = _mm_add_epi32(p, _mm_shuffle_epi32(p, 0x4E));
                    p = _mm_add_epi32(p, _mm_shuffle_epi32(p, 0xB1));
                    const int sumi = _mm_cvtsi128_si32(p);
                    __m512i aux = _mm512_setzero_si512();
                    for (int j = 0; j < 4; ++j) {
                        const __m512i t = _mm512_maddubs_epi16(wv[j], load64(s + QK_K * i + 64 * j));
                        aux = _mm512_add_epi32(aux, _mm512_madd_epi16(t, sv[j]));
                    }
                    const float yd = ys.y[k][i].d;
                    const float d = xd * yd;
                    sums[k] = _mm256_add_ps(sums[k],
                                            _mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(fold(aux))));
                    const float dmin = xdmin * yd;
                    sumf[k] -= dmin * static_cast<float>(sumi);
                }
            }
            for (int k = 0; k < ys.n; ++k)
                out[static_cast<size_t>(i0 + k) * out_stride + static_cast<size_t>(r)] =
                    total(sums[k], sumf[k]);
        }
    }
    delete[] heap;
}

void q6_K_tile(int64_t n, const void* w, size_t w_stride, int64_t nw, const void* a, size_t a_stride,
               int64_t na, float* out, size_t out_stride) {
    const int64_t nsb = n / QK_K;
    // Scratch per activation row: n lane-ordered quants, then n / 2 int16 pair sums 32 * (a + a') of them (the
    // -32 of q - 32, per vpmaddubsw pair, as ggml subtracts it).
    const size_t row_bytes = 2 * static_cast<size_t>(n);
    constexpr size_t kStack = 4 * 2 * 8192;
    alignas(64) uint8_t stack[kStack];
    uint8_t* heap = row_bytes * kTileRows > kStack ? new uint8_t[row_bytes * kTileRows] : nullptr;
    uint8_t* scratch = heap ? heap : stack;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(0x03);
    const __m512i m32 = _mm512_set1_epi8(32);
    for (int64_t i0 = 0; i0 < na; i0 += kTileRows) {
        const TileRows ys = tile_rows(a, a_stride, i0, na);
        for (int k = 0; k < ys.n; ++k) {
            uint8_t* s = scratch + static_cast<size_t>(k) * row_bytes;
            for (int64_t i = 0; i < nsb; ++i) {
                for (int j = 0; j < 4; ++j) {
                    const __m512i v = lane_order(load64(ys.y[k][i].qs + 64 * j));
                    _mm512_storeu_si512(s + QK_K * i + 64 * j, v);
                    _mm512_storeu_si512(s + n + QK_K * i + 64 * j, _mm512_maddubs_epi16(m32, v));
                }
            }
        }
        for (int64_t r = 0; r < nw; ++r) {
            const block_q6_K* x = tile_weight_row<block_q6_K>(w, w_stride, r);
            __m256 sums[kTileRows];
            for (int k = 0; k < kTileRows; ++k) sums[k] = _mm256_setzero_ps();
            for (int64_t i = 0; i < nsb; ++i) {
                __m512i qa[4], sv[4];  // 64 elements (sub-blocks 4c..4c+3 of 16) in lane order; their scales
                for (int h = 0; h < 2; ++h) {  // halves of 128 elements
                    const __m256i l0 = lane_order(load32(x[i].ql + 64 * h)), l1 = lane_order(load32(x[i].ql + 64 * h + 32));
                    const __m256i qh = lane_order(load32(x[i].qh + 32 * h));
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
                    qa[2 * h] = join(q0, q1);
                    qa[2 * h + 1] = join(q2, q3);
                }
                for (int c = 0; c < 4; ++c) {
                    // int16 pairs of a 32-element group: (l, l+8) of its first sub-block, (l+16, l+24) of its second.
                    const int8_t* s = x[i].scales + 4 * c;
                    sv[c] = join(_mm256_set1_epi32(static_cast<int>((static_cast<uint32_t>(static_cast<uint16_t>(s[1])) << 16) |
                                                                    static_cast<uint16_t>(s[0]))),
                                 _mm256_set1_epi32(static_cast<int>((static_cast<uint32_t>(static_cast<uint16_t>(s[3])) << 16) |
                                                                    static_cast<uint16_t>(s[2]))));
                }
                const float xd = _cvtsh_ss(x[i].d);
                for (int k = 0; k < ys.n; ++k) {
                    const uint8_t* s = scratch + static_cast<size_t>(k) * row_bytes;
                    __m512i aux = _mm512_setzero_si512();
                    for (int c = 0; c < 4; ++c) {
                        // (q - 32) . a per pair: q . a - 32 . a, both below 2^15 in magnitude.
                        const __m512i t = _mm512_sub_epi16(_mm512_maddubs_epi16(qa[c], load64(s + QK_K * i + 64 * c)),
                                                           load64(s + n + QK_K * i + 64 * c));
                        aux = _mm512_add_epi32(aux, _mm512_madd_epi16(t, sv[c]));
                    }
                    const float d = xd * ys.y[k][i].d;
                    sums[k] = _mm256_add_ps(sums[k],
                                            _mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(fold(aux))));
                }
            }
            for (int k = 0; k < ys.n; ++k)
                out[static_cast<size_t>(i0 + k) * out_stride + static_cast<size_t>(r)] = total(sums[k], 0.0f);
        }
    }
    delete[] heap;
}

}  // namespace

EDGEQ_VDOT_KQUANT_EXPORTS(avx512)

// dtype/repack.cpp prepare_packed_acts for Q4_K / Q6_K, one activation row: quants in lane order (lane_order per 32
// bytes), per super-block the Q4_K sub-block sums (bsums in pairs, int16 in an int32) or the Q6_K (32 (a + a'))
// int16 pairs per chunk and lane (vpmaddubsw of 32 with the lane-ordered quants), and the scales.
void lane_order_q8_K_avx512(const block_q8_K* y, int64_t nsb, bool q6, uint8_t* lq, int32_t* corr, float* dy) {
    const __m512i m32 = _mm512_set1_epi8(32);
    for (int64_t b = 0; b < nsb; ++b) {
        for (int j = 0; j < 4; ++j) {
            const __m512i v = lane_order(load64(y[b].qs + 64 * j));
            _mm512_storeu_si512(lq + QK_K * b + 64 * j, v);
            if (q6) _mm512_storeu_si512(corr + 64 * b + 16 * j, _mm512_maddubs_epi16(m32, v));
        }
        if (!q6) {
            const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].bsums));
            const __m128i pairs = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(corr + 8 * b), _mm256_cvtepu16_epi32(pairs));
        }
        dy[b] = y[b].d;
    }
}

// Q8_0 / Q8_1 activation rows with q8_x86's bytes (dtype/vec_dot.cpp: llama.cpp's x86 quantize_row_q8_0/1): per
// block amax = max |x| ignoring NaN, d = amax / 127, q = round-half-even(x * (127 / amax)) (|x * id| <= 127 plus one
// rounding, so no clamp; a NaN gives 0x80000000, low byte 0 as nearest_int's 0), Q8_1's s = fp16(d * sum(q)).
void quantize_q8_0_avx512(const float* x, void* dst, int64_t n, bool q81) {
    for (int64_t i = 0; i < n / 32; ++i, x += 32) {
        const __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x1), _mm512_max_ps(_mm512_abs_ps(x0), _mm512_setzero_ps())));
        const float d = amax / 127.f;
        const float id = amax != 0.0f ? 127.f / amax : 0.0f;
        const __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(x0, _mm512_set1_ps(id)));
        const __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(x1, _mm512_set1_ps(id)));
        const __m128i b0 = _mm512_cvtepi32_epi8(q0), b1 = _mm512_cvtepi32_epi8(q1);
        int8_t* qs;
        if (q81) {
            auto& b = static_cast<block_q8_1*>(dst)[i];
            b.d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
            qs = b.qs;
            const int sum = _mm512_reduce_add_epi32(_mm512_add_epi32(_mm512_cvtepi8_epi32(b0), _mm512_cvtepi8_epi32(b1)));
            b.s = _cvtss_sh(d * static_cast<float>(sum), _MM_FROUND_TO_NEAREST_INT);
        } else {
            auto& b = static_cast<block_q8_0*>(dst)[i];
            b.d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
            qs = b.qs;
        }
        _mm_storeu_si128(reinterpret_cast<__m128i*>(qs), b0);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + 16), b1);
    }
}

// Q8_K activation rows (dtype/vec_dot.h quantize_activation) with the reference's bits (dtype/quant_k.cpp
// q8_K_block): amax over |x| ignoring NaN (vmaxps returns its second operand when one is NaN), the first element
// reaching it as the signed max, iscale = -127 / max, q = min(127, round-half-even(iscale * x)) (vcvtps2dq under the
// default rounding mode: nearest_int's result for |v| < 2^22; a NaN gives 0x80000000, whose low byte is nearest_int's
// 0), one bsum per vector of 16. An all-zero block is all zero.
void quantize_q8_K_avx512(const float* x, void* dst, int64_t n) {
    auto* blocks = static_cast<block_q8_K*>(dst);
    for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K) {
        block_q8_K& b = blocks[i];
        __m512 am = _mm512_setzero_ps();
        for (int k = 0; k < 16; ++k) am = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + 16 * k)), am);
        const float amax = _mm512_reduce_max_ps(am);
        if (!(amax > 0.0f)) {
            std::memset(&b, 0, sizeof b);
            continue;
        }
        float vmax = 0.0f;
        for (int k = 0; k < 16; ++k) {
            const __mmask16 m = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + 16 * k)), _mm512_set1_ps(amax), _CMP_EQ_OQ);
            if (m) {
                vmax = x[16 * k + __builtin_ctz(m)];
                break;
            }
        }
        const float iscale = -127.f / vmax;
        const __m512 is = _mm512_set1_ps(iscale);
        for (int k = 0; k < 16; ++k) {
            const __m512i q = _mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(is, _mm512_loadu_ps(x + 16 * k))),
                                               _mm512_set1_epi32(127));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(b.qs + 16 * k), _mm512_cvtepi32_epi8(q));
            // the int8 values, as the reference sums them (a NaN's 0x80000000 counts as 0)
            b.bsums[k] = static_cast<int16_t>(_mm512_reduce_add_epi32(_mm512_cvtepi8_epi32(_mm512_cvtepi32_epi8(q))));
        }
        b.d = 1 / iscale;
    }
}

}  // namespace edgeq::vdot
