// AVX2 dot products of ggml block weights with their Q8 activation partner (dtype/vec_dot.h).
//
// The integer part of every block is exact and equals the reference's (u8 x s8 pair products through
// vpmaddubsw, which cannot saturate here: |products| <= 63 * 128 * 2 < 2^15, then vpmaddwd into int32). The
// float part differs from the reference only in summation order: each block's (or super-block's) integer lanes
// are converted to float and FMA-accumulated with the block scale in 8 vector lanes, summed at the end. With
// power-of-two scales this is exact and bit-identical to the reference (tests/unit/dtype/vec_dot_test.cpp).
//
// Internal linkage only (see dtype/x86/lanes_x86.h): this unit is compiled with -mavx2 -mfma -mf16c.
#include <immintrin.h>

#include <cstdint>
#include <type_traits>
#include <cstring>

#include "dtype/blocks.h"

namespace edgeq::vdot {
namespace {

inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

inline float hsum8(__m256 v) {
    __m128 r = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

// Sum over groups of 4 of u8 x s8 products, into 8 int32 lanes (no saturation for the operand ranges used here).
inline __m256i dot4(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// s8 x s8 via the sign trick: |x| * (y with x's sign).
inline __m256i dot4_ss(__m256i x, __m256i y) { return dot4(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x)); }

// 32 nibbles of a Q4 block: element j < 16 is the low nibble of byte j, element j + 16 its high nibble.
inline __m256i nibbles32(const uint8_t* qs) {
    const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    const __m256i b = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    return _mm256_and_si256(b, _mm256_set1_epi8(0x0F));
}

inline __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// Q4_K / Q5_K 6-bit scales and mins (ggml get_scale_min_k4).
inline void scales_mins_k4(const uint8_t* q, int* sc, int* mn) {
    for (int j = 0; j < 4; ++j) {
        sc[j] = q[j] & 63;
        mn[j] = q[j + 4] & 63;
    }
    for (int j = 4; j < 8; ++j) {
        sc[j] = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        mn[j] = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// Q4_K and Q5_K: per super-block, sum over 8 sub-blocks of scale * (q . y) in int32 lanes, minus the mins term
// dmin * sum(bsums * min) kept in a scalar float.
template <bool kQ5>
float q45_K(int64_t n, const void* w, const void* a) {
    using Block = std::conditional_t<kQ5, block_q5_K, block_q4_K>;
    const auto* x = static_cast<const Block*>(w);
    const auto* y = static_cast<const block_q8_K*>(a);
    const __m256i m4 = _mm256_set1_epi8(0x0F), m1 = _mm256_set1_epi8(0x01);
    __m256 acc = _mm256_setzero_ps();
    float mins = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        int sc[8], mn[8];
        scales_mins_k4(x[i].scales, sc, mn);
        int summ = 0;
        for (int j = 0; j < QK_K / 16; ++j) summ += y[i].bsums[j] * mn[j / 2];
        __m256i hb;
        if constexpr (kQ5) hb = load32(x[i].qh);
        __m256i sumi = _mm256_setzero_si256();
        for (int j = 0; j < 4; ++j) {
            const __m256i q = load32(x[i].qs + 32 * j);
            __m256i lo = _mm256_and_si256(q, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            if constexpr (kQ5) {
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j), m1), 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j + 1), m1), 4));
            }
            const __m256i p0 = _mm256_maddubs_epi16(lo, load32(y[i].qs + 64 * j));
            const __m256i p1 = _mm256_maddubs_epi16(hi, load32(y[i].qs + 64 * j + 32));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p0, _mm256_set1_epi16(static_cast<int16_t>(sc[2 * j]))));
            sumi = _mm256_add_epi32(sumi,
                                    _mm256_madd_epi16(p1, _mm256_set1_epi16(static_cast<int16_t>(sc[2 * j + 1]))));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[i].d) * y[i].d), _mm256_cvtepi32_ps(sumi), acc);
        mins += (h2f(x[i].dmin) * y[i].d) * static_cast<float>(summ);
    }
    return hsum8(acc) - mins;
}

}  // namespace

float q8_0_q8_0_avx2(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const block_q8_0*>(w);
    const auto* y = static_cast<const block_q8_0*>(a);
    const int64_t nb = n / QK8_0;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t ib = 0;
    for (; ib + 1 < nb; ib += 2) {
        const __m256i p0 = dot4_ss(load32(x[ib].qs), load32(y[ib].qs));
        const __m256i p1 = dot4_ss(load32(x[ib + 1].qs), load32(y[ib + 1].qs));
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[ib].d) * h2f(y[ib].d)), _mm256_cvtepi32_ps(p0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[ib + 1].d) * h2f(y[ib + 1].d)), _mm256_cvtepi32_ps(p1), acc1);
    }
    for (; ib < nb; ++ib) {
        const __m256i p = dot4_ss(load32(x[ib].qs), load32(y[ib].qs));
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[ib].d) * h2f(y[ib].d)), _mm256_cvtepi32_ps(p), acc0);
    }
    return hsum8(_mm256_add_ps(acc0, acc1));
}

float q4_0_q8_0_avx2(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const block_q4_0*>(w);
    const auto* y = static_cast<const block_q8_0*>(a);
    const int64_t nb = n / QK8_0;
    const __m256i off = _mm256_set1_epi8(8);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t ib = 0;
    for (; ib + 1 < nb; ib += 2) {
        const __m256i p0 = dot4_ss(_mm256_sub_epi8(nibbles32(x[ib].qs), off), load32(y[ib].qs));
        const __m256i p1 = dot4_ss(_mm256_sub_epi8(nibbles32(x[ib + 1].qs), off), load32(y[ib + 1].qs));
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[ib].d) * h2f(y[ib].d)), _mm256_cvtepi32_ps(p0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[ib + 1].d) * h2f(y[ib + 1].d)), _mm256_cvtepi32_ps(p1), acc1);
    }
    for (; ib < nb; ++ib) {
        const __m256i p = dot4_ss(_mm256_sub_epi8(nibbles32(x[ib].qs), off), load32(y[ib].qs));
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[ib].d) * h2f(y[ib].d)), _mm256_cvtepi32_ps(p), acc0);
    }
    return hsum8(_mm256_add_ps(acc0, acc1));
}

float q4_K_q8_K_avx2(int64_t n, const void* w, const void* a) { return q45_K<false>(n, w, a); }
float q5_K_q8_K_avx2(int64_t n, const void* w, const void* a) { return q45_K<true>(n, w, a); }

float q6_K_q8_K_avx2(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const block_q6_K*>(w);
    const auto* y = static_cast<const block_q8_K*>(a);
    const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(0x03), m32 = _mm256_set1_epi8(32);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; ++i) {
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; ++h) {  // halves of 128 elements
            const __m256i l0 = load32(x[i].ql + 64 * h), l1 = load32(x[i].ql + 64 * h + 32);
            const __m256i qh = load32(x[i].qh + 32 * h);
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m3), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m3), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m3), 4));
            for (int k = 0; k < 4; ++k) {
                const int8_t* q8 = y[i].qs + 128 * h + 32 * k;
                const __m256i yv = load32(q8);
                // (q - 32) . y per pair of elements: q . y - 32 . y, both below 2^15 in magnitude.
                const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q[k], yv), _mm256_maddubs_epi16(m32, yv));
                const int s = 8 * h + 2 * k;  // sub-block of the first 16 elements
                const __m256i scv = _mm256_set_m128i(_mm_set1_epi16(x[i].scales[s + 1]), _mm_set1_epi16(x[i].scales[s]));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, scv));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[i].d) * y[i].d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum8(acc);
}

}  // namespace edgeq::vdot
