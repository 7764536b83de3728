// AVX-512 VNNI GEMM on repacked Q4_0 / Q8_0 / Q4_K / Q6_K matrices (dtype/repack.h): 16 weight rows in the 16 int32
// / float lanes of a zmm. Q4_0 / Q8_0: up to 8 activation rows per pass over a group's blocks. Per block the group's quants are
// loaded (and the Q4_0 nibbles split) once; each activation row then runs 8 vpdpbusd (weights as uint8, four
// activation quants broadcast), starting from its correction -offset * sum(quants), which makes every lane
// the exact integer block sum of the reference; the float term and the add into the lane's sum are the
// reference's operations in its order (((float)isum * dx) * dy for Q4_0, (float)isum * (dx * dy) for Q8_0).
//
// Internal linkage only (see dtype/x86/lanes_x86.h): this unit is compiled with -mavx512f/bw/vl/dq/vnni.
// GCC 12 false positive inside its AVX-512 headers (_mm*_undefined_* self-initialisation).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "dtype/blocks.h"

namespace edgeq::vdot {
namespace {

constexpr int kRowsPerPass = 8;  // activation rows sharing each loaded block (8 int + 8 float accumulators)

inline int32_t load_i32(const int8_t* p) {
    int32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// Blocks in pairs (dtype/repack.cpp): quants of blocks 2c, 2c + 1, then their fp16 scales, so that a group is read
// in address order. Decoding (one activation row) reads one group at a time: 21-28 GB/s on the dev machine for
// Q8_0, where the earlier layout (all scales after all quants: a second stream per group) read 12 GB/s.
template <bool kQ4>
inline size_t quants_offset(int64_t b) {
    constexpr size_t kQb = kQ4 ? 256 : 512;
    return static_cast<size_t>(b >> 1) * (2 * kQb + 64) + static_cast<size_t>(b & 1) * kQb;
}
template <bool kQ4>
inline __m512 block_scales(const uint8_t* g, int64_t b) {
    constexpr size_t kQb = kQ4 ? 256 : 512;
    const uint8_t* p = g + static_cast<size_t>(b >> 1) * (2 * kQb + 64) + 2 * kQb + static_cast<size_t>(b & 1) * 32;
    return _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(p)));
}

// Activation rows [i0, i0 + R) against one group (16 weight rows): sums[r] lane j = output (i0 + r, row j).
template <bool kQ4, int R>
inline void group_pass(const uint8_t* qs, int64_t nb, const block_q8_0* const* ya, const int32_t* corr,
                       const float* dy, __m512* sums) {
    // Few activation rows (decoding): two accumulator chains per row, so the vpdpbusd latency is hidden.
    constexpr bool kSplit = R <= 4;
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    for (int r = 0; r < R; ++r) sums[r] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* q = qs + quants_offset<kQ4>(b);
        __m512i w[8];  // w[k] pairs with activation quants 4k..4k+3
        if constexpr (kQ4) {
            for (int m = 0; m < 4; ++m) {
                const __m512i v = _mm512_load_si512(q + 64 * m);
                w[m] = _mm512_and_si512(v, m4);
                w[m + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
            }
        } else {
            for (int k = 0; k < 8; ++k) w[k] = _mm512_load_si512(q + 64 * k);
        }
        const __m512 dx = block_scales<kQ4>(qs, b);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
            const int8_t* aq = ya[r][b].qs;
            __m512i acc = _mm512_set1_epi32(corr[r * nb + b]);
            if constexpr (kSplit) {
                __m512i acc1 = _mm512_setzero_si512();
                for (int k = 0; k < 8; k += 2) {
                    acc = _mm512_dpbusd_epi32(acc, w[k], _mm512_set1_epi32(load_i32(aq + 4 * k)));
                    acc1 = _mm512_dpbusd_epi32(acc1, w[k + 1], _mm512_set1_epi32(load_i32(aq + 4 * k + 4)));
                }
                acc = _mm512_add_epi32(acc, acc1);
            } else {
                for (int k = 0; k < 8; ++k)
                    acc = _mm512_dpbusd_epi32(acc, w[k], _mm512_set1_epi32(load_i32(aq + 4 * k)));
            }
            const __m512 f = _mm512_cvtepi32_ps(acc);
            const __m512 d = _mm512_set1_ps(dy[r * nb + b]);
            const __m512 t =
                kQ4 ? _mm512_mul_ps(_mm512_mul_ps(f, dx), d) : _mm512_mul_ps(f, _mm512_mul_ps(dx, d));
            sums[r] = _mm512_add_ps(sums[r], t);
        }
    }
}

template <bool kQ4, int R>
void rows_pass(const uint8_t* g, int64_t nb, const block_q8_0* const* ya, const int32_t* corr,
               const float* dy, float* y, size_t y_stride, __mmask16 mask) {
    __m512 sums[R];
    group_pass<kQ4, R>(g, nb, ya, corr, dy, sums);
    for (int r = 0; r < R; ++r) _mm512_mask_storeu_ps(y + static_cast<size_t>(r) * y_stride, mask, sums[r]);
}

template <bool kQ4>
void packed_gemm(const uint8_t* groups, size_t group_bytes, int64_t nb, int64_t nw, const void* act,
                 size_t a_stride, int64_t na, const int32_t* corr, const float* dy, float* y,
                 size_t y_stride) {
    using Pass = void (*)(const uint8_t*, int64_t, const block_q8_0* const*, const int32_t*, const float*,
                          float*, size_t, __mmask16);
    static constexpr Pass kPass[kRowsPerPass + 1] = {nullptr,
                                                     &rows_pass<kQ4, 1>,
                                                     &rows_pass<kQ4, 2>,
                                                     &rows_pass<kQ4, 3>,
                                                     &rows_pass<kQ4, 4>,
                                                     &rows_pass<kQ4, 5>,
                                                     &rows_pass<kQ4, 6>,
                                                     &rows_pass<kQ4, 7>,
                                                     &rows_pass<kQ4, 8>};
    const auto* ab = static_cast<const uint8_t*>(act);
    for (int64_t j0 = 0; j0 < nw; j0 += 16) {
        const uint8_t* g = groups + static_cast<size_t>(j0 / 16) * group_bytes;
        const __mmask16 mask = nw - j0 >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (nw - j0)) - 1u);
        for (int64_t i0 = 0; i0 < na; i0 += kRowsPerPass) {
            const int rn = na - i0 < kRowsPerPass ? static_cast<int>(na - i0) : kRowsPerPass;
            const block_q8_0* ya[kRowsPerPass];
            for (int r = 0; r < rn; ++r)
                ya[r] = reinterpret_cast<const block_q8_0*>(ab + static_cast<size_t>(i0 + r) * a_stride);
            kPass[rn](g, nb, ya, corr + i0 * nb, dy + i0 * nb,
                      y + static_cast<size_t>(i0) * y_stride + static_cast<size_t>(j0), y_stride, mask);
        }
    }
}

// ---- Q4_K (dtype/repack.h): one super-block of one group (2368 bytes) at a time, read in address order (the
// lane-l vectors of the four sub-block pairs are adjacent). Decoding reads one group at a time: with this order one
// weight stream reads 20+ GB/s (a [pair][lane] order, lines visited 0, 8, 16, 24, 1, 9, ..., read 8 GB/s, and
// interleaving 4 groups did not help), unlike the Q4_0 / Q8_0 layout above.
constexpr size_t kSb = 2368, kScales = 2048, kMins = 2176, kD = 2304, kDmin = 2336;

inline __m512i bytes_to_i32(const uint8_t* p) {
    return _mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(p)));
}

// Super-block b of one group against R activation rows: ggml's eight int32 lanes per weight row, one zmm per lane
// l (16 weight rows): the two-product int16 pairs of one sub-block's four-element piece (vpmaddubsw: nibble x
// quant, |pair| <= 2 * 15 * 127, no saturation) times the rows' sub-block scale (vpdpwssd with (scale, scale) pairs
// adds scale * piece) summed into lane l; then the float steps. (vpdpbusd from zero then (scale, 0) gave the same
// sums with an extra register copy per piece: 2-3 % slower when streaming.)
template <int R>
inline void q4k_superblock(const uint8_t* sb, int64_t b, const uint8_t* const* lq, const int32_t* const* bsum,
                           const float* const* dy, __m512 (*sums)[8], __m512* sumf) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512 xd = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(sb + kD)));
    const __m512 xdmin = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(sb + kDmin)));
    __m512 d[R];
    for (int r = 0; r < R; ++r) {
        const __m512 yd = _mm512_set1_ps(dy[r][b]);
        __m512i mins = _mm512_setzero_si512();
        for (int s = 0; s < 8; ++s)
            mins = _mm512_dpwssd_epi32(mins, bytes_to_i32(sb + kMins + 16 * s), _mm512_set1_epi32(bsum[r][8 * b + s]));
        sumf[r] = _mm512_sub_ps(sumf[r], _mm512_mul_ps(_mm512_mul_ps(xdmin, yd), _mm512_cvtepi32_ps(mins)));
        d[r] = _mm512_mul_ps(xd, yd);
    }
    __m512i sc[8];
    for (int s = 0; s < 8; ++s) {  // (scale, scale) int16 pairs per row
        const __m512i v = bytes_to_i32(sb + kScales + 16 * s);
        sc[s] = _mm512_or_si512(v, _mm512_slli_epi32(v, 16));
    }
    const __m512i zero = _mm512_setzero_si512();
    for (int l = 0; l < 8; ++l) {
        // Two chains per row (low and high nibbles; integer sums, so the order does not matter): the vpdpwssd
        // latency, not the throughput, bounded one chain.
        __m512i alo[R], ahi[R];
        for (int r = 0; r < R; ++r) alo[r] = ahi[r] = zero;
#pragma GCC unroll 4
        for (int jj = 0; jj < 4; ++jj) {
            const __m512i v = _mm512_load_si512(sb + 256 * l + 64 * jj);
            const __m512i lo = _mm512_and_si512(v, m4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
            for (int r = 0; r < R; ++r) {
                const auto* a = reinterpret_cast<const int8_t*>(lq[r] + 256 * b + 64 * jj + 4 * l);
                const __m512i plo = _mm512_maddubs_epi16(lo, _mm512_set1_epi32(load_i32(a)));
                const __m512i phi = _mm512_maddubs_epi16(hi, _mm512_set1_epi32(load_i32(a + 32)));
                alo[r] = _mm512_dpwssd_epi32(alo[r], plo, sc[2 * jj]);
                ahi[r] = _mm512_dpwssd_epi32(ahi[r], phi, sc[2 * jj + 1]);
            }
        }
        for (int r = 0; r < R; ++r)
            sums[r][l] = _mm512_add_ps(
                sums[r][l], _mm512_mul_ps(d[r], _mm512_cvtepi32_ps(_mm512_add_epi32(alo[r], ahi[r]))));
    }
}

// ---- Q6_K (dtype/repack.h): per super-block of a group (kQ6Sb bytes), for each lane l the 384 bytes of its six
// vectors (ql bytes 64 h + 32 p + l + 8 t for h, p in {0, 1}, then qh bytes 32 h + l + 8 t), then the scales of
// each 32-element chunk c as 16 int8 pairs (s[2c], s[2c + 1]) per row, then the 16 fp16 d.
constexpr size_t kQ6Sb = 3392, kQ6Scales = 3072, kQ6D = 3328;

// Super-block b against R activation rows: chunk c = 4 h + m (elements 32 c .. 32 c + 31) of lane l holds the
// 6-bit weights q = w + 32 of elements l, l+8 (sub-block 2c) and l+16, l+24 (sub-block 2c + 1): vpmaddubsw with the
// activation quants gives the two int16 pair sums of q * a, minus the prepared 32 * (a + a') pairs that makes them
// (q - 32) * a sums (|pair| <= 8192), and vpdpwssd with the (s[2c], s[2c + 1]) pair adds both times their scales to
// ggml's lane l (exact int32). Then sums[l] += (d * dy) * lane.
template <int R>
inline void q6k_superblock(const uint8_t* sb, int64_t b, const uint8_t* const* lq, const int32_t* const* corr,
                           const float* const* dy, __m512 (*sums)[8], __m512*) {
    const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    const __m512 xd = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(sb + kQ6D)));
    __m512 d[R];
    for (int r = 0; r < R; ++r) d[r] = _mm512_mul_ps(xd, _mm512_set1_ps(dy[r][b]));
    __m512i sc[8];
    for (int c = 0; c < 8; ++c)
        sc[c] = _mm512_cvtepi8_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(sb + kQ6Scales + 32 * c)));
    const __m512i zero = _mm512_setzero_si512();
    for (int l = 0; l < 8; ++l) {
        const uint8_t* v = sb + 384 * l;
        __m512i q[8];  // chunk c = 4 h + m
        __m512i raw[6];  // the lane's six vectors, loaded in address order (the stream the prefetchers follow)
        for (int k = 0; k < 6; ++k) raw[k] = _mm512_load_si512(v + 64 * k);
        for (int h = 0; h < 2; ++h) {
            const __m512i l0 = raw[2 * h], l1 = raw[2 * h + 1], qh = raw[4 + h];
            q[4 * h + 0] = _mm512_or_si512(_mm512_and_si512(l0, m4), _mm512_and_si512(_mm512_slli_epi16(qh, 4), m30));
            q[4 * h + 1] = _mm512_or_si512(_mm512_and_si512(l1, m4), _mm512_and_si512(_mm512_slli_epi16(qh, 2), m30));
            q[4 * h + 2] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l0, 4), m4), _mm512_and_si512(qh, m30));
            q[4 * h + 3] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l1, 4), m4),
                                           _mm512_and_si512(_mm512_srli_epi16(qh, 2), m30));
        }
        for (int r = 0; r < R; ++r) {
            const auto* a = reinterpret_cast<const int8_t*>(lq[r] + 256 * b + 4 * l);
            const int32_t* cr = corr[r] + 64 * b + l;
            __m512i a0 = zero, a1 = zero;  // two chains (integer sums: any order)
            for (int c = 0; c < 8; c += 2) {
                const __m512i t0 = _mm512_sub_epi16(_mm512_maddubs_epi16(q[c], _mm512_set1_epi32(load_i32(a + 32 * c))),
                                                    _mm512_set1_epi32(cr[8 * c]));
                const __m512i t1 = _mm512_sub_epi16(
                    _mm512_maddubs_epi16(q[c + 1], _mm512_set1_epi32(load_i32(a + 32 * c + 32))),
                    _mm512_set1_epi32(cr[8 * c + 8]));
                a0 = _mm512_dpwssd_epi32(a0, t0, sc[c]);
                a1 = _mm512_dpwssd_epi32(a1, t1, sc[c + 1]);
            }
            sums[r][l] = _mm512_add_ps(sums[r][l], _mm512_mul_ps(d[r], _mm512_cvtepi32_ps(_mm512_add_epi32(a0, a1))));
        }
    }
}

inline __m512 k_total(const __m512* sums, __m512 sumf) {
    for (int l = 0; l < 8; ++l) sumf = _mm512_add_ps(sumf, sums[l]);
    return sumf;
}

inline __mmask16 rows_mask(int64_t left) { return left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1u); }

// The two k-quant layouts: super-block bytes, prepared activation ints per super-block, the super-block pass.
template <bool kQ6>
struct KQuant {
    static constexpr size_t kSbBytes = kQ6 ? kQ6Sb : kSb;
    static constexpr size_t kCorrPerSb = kQ6 ? 64 : 8;
    template <int R>
    static void superblock(const uint8_t* sb, int64_t b, const uint8_t* const* lq, const int32_t* const* corr,
                           const float* const* dy, __m512 (*sums)[8], __m512* sumf) {
        if constexpr (kQ6) q6k_superblock<R>(sb, b, lq, corr, dy, sums, sumf);
        else q4k_superblock<R>(sb, b, lq, corr, dy, sums, sumf);
    }
};
using KQ4 = KQuant<false>;
using KQ6 = KQuant<true>;

// Activation rows [0, R) (pointers already offset) against one group; outputs sumf + sums[0] + ... + sums[7]
// (the reference's total, sumf = 0 for Q6_K).
template <class K, int R>
void k_rows_pass(const uint8_t* g, int64_t nsb, const uint8_t* const* lq, const int32_t* const* corr,
                 const float* const* dy, float* y, size_t y_stride, __mmask16 mask) {
    __m512 sums[R][8], sumf[R];
    for (int r = 0; r < R; ++r) {
        sumf[r] = _mm512_setzero_ps();
        for (int l = 0; l < 8; ++l) sums[r][l] = _mm512_setzero_ps();
    }
    for (int64_t b = 0; b < nsb; ++b)
        K::template superblock<R>(g + static_cast<size_t>(b) * K::kSbBytes, b, lq, corr, dy, sums, sumf);
    for (int r = 0; r < R; ++r)
        _mm512_mask_storeu_ps(y + static_cast<size_t>(r) * y_stride, mask, k_total(sums[r], sumf[r]));
}

// One group at a time (decoding: one weight stream in address order), activation rows in passes of 4.
template <class K>
void packed_gemm_k(const uint8_t* groups, size_t group_bytes, int64_t nsb, int64_t nw, const uint8_t* lq,
                   const int32_t* corr, const float* dy, int64_t na, float* y, size_t y_stride) {
    const size_t lq_row = static_cast<size_t>(nsb) * 256, corr_row = static_cast<size_t>(nsb) * K::kCorrPerSb;
    const auto at = [&](int64_t j0) { return groups + static_cast<size_t>(j0 / 16) * group_bytes; };
    using Pass = void (*)(const uint8_t*, int64_t, const uint8_t* const*, const int32_t* const*, const float* const*,
                          float*, size_t, __mmask16);
    static constexpr Pass kPass[5] = {nullptr, &k_rows_pass<K, 1>, &k_rows_pass<K, 2>, &k_rows_pass<K, 3>,
                                      &k_rows_pass<K, 4>};
    for (int64_t j0 = 0; j0 < nw; j0 += 16) {
        for (int64_t i0 = 0; i0 < na; i0 += 4) {
            const int rn = na - i0 < 4 ? static_cast<int>(na - i0) : 4;
            const uint8_t* lqs[4];
            const int32_t* crs[4];
            const float* dys[4];
            for (int r = 0; r < rn; ++r) {
                lqs[r] = lq + static_cast<size_t>(i0 + r) * lq_row;
                crs[r] = corr + static_cast<size_t>(i0 + r) * corr_row;
                dys[r] = dy + static_cast<size_t>(i0 + r) * static_cast<size_t>(nsb);
            }
            kPass[rn](at(j0), nsb, lqs, crs, dys, y + static_cast<size_t>(i0) * y_stride + static_cast<size_t>(j0),
                      y_stride, rows_mask(nw - j0));
        }
    }
}

}  // namespace

void packed_gemm_q4_0_avx512vnni(const uint8_t* groups, size_t group_bytes, int64_t nb, int64_t nw,
                                 const void* act, size_t a_stride, int64_t na, const int32_t* corr,
                                 const float* dy, float* y, size_t y_stride) {
    packed_gemm<true>(groups, group_bytes, nb, nw, act, a_stride, na, corr, dy, y, y_stride);
}

void packed_gemm_q8_0_avx512vnni(const uint8_t* groups, size_t group_bytes, int64_t nb, int64_t nw,
                                 const void* act, size_t a_stride, int64_t na, const int32_t* corr,
                                 const float* dy, float* y, size_t y_stride) {
    packed_gemm<false>(groups, group_bytes, nb, nw, act, a_stride, na, corr, dy, y, y_stride);
}

void packed_gemm_q4_K_avx512vnni(const uint8_t* groups, size_t group_bytes, int64_t nsb, int64_t nw,
                                 const uint8_t* lq, const int32_t* bsum, const float* dy, int64_t na, float* y,
                                 size_t y_stride) {
    packed_gemm_k<KQ4>(groups, group_bytes, nsb, nw, lq, bsum, dy, na, y, y_stride);
}

void packed_gemm_q6_K_avx512vnni(const uint8_t* groups, size_t group_bytes, int64_t nsb, int64_t nw,
                                 const uint8_t* lq, const int32_t* corr, const float* dy, int64_t na, float* y,
                                 size_t y_stride) {
    packed_gemm_k<KQ6>(groups, group_bytes, nsb, nw, lq, corr, dy, na, y, y_stride);
}

}  // namespace edgeq::vdot
