// AVX-512 (F/BW/DQ/VL) dot products of the k-quants with Q8_K (dtype/vec_dot.h): 64 elements per zmm, two
// sub-blocks of 32 per instruction. Integer parts exact (vpmaddubsw cannot saturate for these operand ranges,
// then vpmaddwd with the sub-block scale into int32); float parts accumulated in 16 lanes, so the result equals
// the reference to float rounding (bit-identical with power-of-two scales; tests/unit/dtype/vec_dot_test.cpp).
//
// Internal linkage only (see dtype/x86/lanes_x86.h): this unit is compiled with -mavx512f/bw/vl/dq.
// GCC 12 warns about the _mm*_undefined_* operands inside its own AVX-512 intrinsic headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cstdint>
#include <type_traits>

#include "dtype/blocks.h"

namespace edgeq::vdot {
namespace {

inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

inline __m512i load64(const void* p) { return _mm512_loadu_si512(p); }
inline __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m512i join(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }
// int16 lanes 0..15 = a, 16..31 = b.
inline __m512i scales2(int a, int b) {
    return join(_mm256_set1_epi16(static_cast<int16_t>(a)), _mm256_set1_epi16(static_cast<int16_t>(b)));
}

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

template <bool kQ5>
float q45_K(int64_t n, const void* w, const void* a) {
    using Block = std::conditional_t<kQ5, block_q5_K, block_q4_K>;
    const auto* x = static_cast<const Block*>(w);
    const auto* y = static_cast<const block_q8_K*>(a);
    const __m256i m4 = _mm256_set1_epi8(0x0F), m1 = _mm256_set1_epi8(0x01);
    __m512 acc = _mm512_setzero_ps();
    float mins = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        int sc[8], mn[8];
        scales_mins_k4(x[i].scales, sc, mn);
        int summ = 0;
        for (int j = 0; j < QK_K / 16; ++j) summ += y[i].bsums[j] * mn[j / 2];
        __m256i hb;
        if constexpr (kQ5) hb = load32(x[i].qh);
        __m512i sumi = _mm512_setzero_si512();
        for (int j = 0; j < 4; ++j) {  // 64 elements: sub-blocks 2j (low nibbles) and 2j+1 (high nibbles)
            const __m256i q = load32(x[i].qs + 32 * j);
            __m256i lo = _mm256_and_si256(q, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            if constexpr (kQ5) {
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j), m1), 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j + 1), m1), 4));
            }
            const __m512i p = _mm512_maddubs_epi16(join(lo, hi), load64(y[i].qs + 64 * j));
            sumi = _mm512_add_epi32(sumi, _mm512_madd_epi16(p, scales2(sc[2 * j], sc[2 * j + 1])));
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(h2f(x[i].d) * y[i].d), _mm512_cvtepi32_ps(sumi), acc);
        mins += (h2f(x[i].dmin) * y[i].d) * static_cast<float>(summ);
    }
    return _mm512_reduce_add_ps(acc) - mins;
}

}  // namespace

float q4_K_q8_K_avx512(int64_t n, const void* w, const void* a) { return q45_K<false>(n, w, a); }
float q5_K_q8_K_avx512(int64_t n, const void* w, const void* a) { return q45_K<true>(n, w, a); }

float q6_K_q8_K_avx512(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const block_q6_K*>(w);
    const auto* y = static_cast<const block_q8_K*>(a);
    const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(0x03);
    const __m512i m32 = _mm512_set1_epi8(32);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; ++i) {
        __m512i sumi = _mm512_setzero_si512();
        for (int h = 0; h < 2; ++h) {  // halves of 128 elements
            const __m256i l0 = load32(x[i].ql + 64 * h), l1 = load32(x[i].ql + 64 * h + 32);
            const __m256i qh = load32(x[i].qh + 32 * h);
            const __m256i q0 = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4));
            const __m256i q1 = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m3), 4));
            const __m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m3), 4));
            const __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m3), 4));
            const __m512i qa[2] = {join(q0, q1), join(q2, q3)};
            for (int k = 0; k < 2; ++k) {  // 64 elements = 4 sub-blocks of 16
                const __m512i yv = load64(y[i].qs + 128 * h + 64 * k);
                const __m512i p = _mm512_sub_epi16(_mm512_maddubs_epi16(qa[k], yv), _mm512_maddubs_epi16(m32, yv));
                const int8_t* s = x[i].scales + 8 * h + 4 * k;
                const __m512i scv = _mm512_inserti64x4(
                    _mm512_castsi256_si512(_mm256_set_m128i(_mm_set1_epi16(s[1]), _mm_set1_epi16(s[0]))),
                    _mm256_set_m128i(_mm_set1_epi16(s[3]), _mm_set1_epi16(s[2])), 1);
                sumi = _mm512_add_epi32(sumi, _mm512_madd_epi16(p, scv));
            }
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(h2f(x[i].d) * y[i].d), _mm512_cvtepi32_ps(sumi), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

}  // namespace edgeq::vdot
