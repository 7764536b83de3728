// AVX2 dot product of Q3_K weights with Q8_K activations (dtype/vec_dot.h), bit-identical to the reference
// dot_q3_K in dtype/vec_dot.cpp, which follows ggml's generic kernel: per super-block, 8 int32 lanes where lane l
// collects scale[s] * w[e] * a[e] over the elements e = l (mod 8) of every 16-element sub-block s; then
// sums[l] += d * lane (no FMA), and sums[0..7] are added in order at the end.
//
// Layout trick: a 32-element chunk holds sub-blocks A (elements 0..15) and B (16..31). One cross-lane dword
// permute + one in-lane byte shuffle put bytes (A_l, A_l+8, B_l, B_l+8) next to each other for l = 0..3 in the
// low 128 bits and l = 4..7 in the high 128 bits, so vpmaddubsw yields int16 pairs (A pair l, B pair l) and
// vpmaddwd with the (scale A, scale B) pair gives int32 lane l = sA * A pair l + sB * B pair l: exactly ggml's
// aux32 contribution. Bit extraction commutes with byte permutations, so the weight bytes (qs, hmask) are
// permuted once per super-block and the activations once per chunk.
//
// Weights w = q - 4 with q = low 2 bits | high bit << 2 in [0, 7]; q . a - 4 . a per pair: |q . a| <= 1792 and
// |4 . a| <= 1024, no int16 saturation (Q8_K quants lie in [-127, 127]). Scales s - 32 in [-32, 31].
//
// Internal linkage only (see dtype/x86/lanes_x86.h): this unit is compiled with -mavx2 -mfma -mf16c.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "dtype/blocks.h"

namespace edgeq::vdot {
namespace {

inline __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// Bytes of a 32-element chunk reordered to (A_l, A_l+8, B_l, B_l+8) for l = 0..3 | l = 4..7 (see above).
inline __m256i interleave_ab(__m256i v) {
    const __m256i perm = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    const __m256i shuf = _mm256_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15,  //
                                          0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm256_shuffle_epi8(_mm256_permutevar8x32_epi32(v, perm), shuf);
}

// The 16 scales (6 bits, minus 32) as int16 pairs: dword k = (scale 2k, scale 2k + 1) (ggml's kmask unpacking).
inline void q3k_scale_pairs(const uint8_t* packed, uint32_t* pairs) {
    constexpr uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
    uint32_t aux[3], u[4];
    std::memcpy(aux, packed, 12);
    u[0] = (aux[0] & kmask2) | (((aux[2] >> 0) & kmask1) << 4);
    u[1] = (aux[1] & kmask2) | (((aux[2] >> 2) & kmask1) << 4);
    u[2] = ((aux[0] >> 4) & kmask2) | (((aux[2] >> 4) & kmask1) << 4);
    u[3] = ((aux[1] >> 4) & kmask2) | (((aux[2] >> 6) & kmask1) << 4);
    const __m256i s16 = _mm256_sub_epi16(_mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(u))),
                                         _mm256_set1_epi16(32));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(pairs), s16);
}

}  // namespace

float q3_K_q8_K_avx2(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const block_q3_K*>(w);
    const auto* y = static_cast<const block_q8_K*>(a);
    const __m256i m3 = _mm256_set1_epi8(0x03), m1 = _mm256_set1_epi8(0x01), m4 = _mm256_set1_epi8(4);
    __m256 sums = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; ++i) {
        alignas(32) uint32_t sc[8];
        q3k_scale_pairs(x[i].scales, sc);
        const __m256i hm = interleave_ab(load32(x[i].hmask));
        __m256i aux = _mm256_setzero_si256();
        for (int j = 0; j < 2; ++j) {  // halves of 128 elements: qs bytes 32j..32j+31, 2 bits per chunk
            const __m256i q3 = interleave_ab(load32(x[i].qs + 32 * j));
            for (int s = 0; s < 4; ++s) {  // chunk k = 4j + s: elements 128j + 32s .., sub-blocks 2k, 2k + 1
                const int k = 4 * j + s;
                const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(q3, 2 * s), m3);
                const __m256i hi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hm, k), m1), 2);
                const __m256i q = _mm256_or_si256(lo, hi);
                const __m256i yv = interleave_ab(load32(y[i].qs + 32 * k));
                const __m256i t = _mm256_sub_epi16(_mm256_maddubs_epi16(q, yv), _mm256_maddubs_epi16(m4, yv));
                aux = _mm256_add_epi32(aux, _mm256_madd_epi16(t, _mm256_set1_epi32(static_cast<int>(sc[k]))));
            }
        }
        const float d = _cvtsh_ss(x[i].d) * y[i].d;
        sums = _mm256_add_ps(sums, _mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(aux)));
    }
    alignas(32) float s[8];
    _mm256_store_ps(s, sums);
    float sumf = 0.0f;
    for (int l = 0; l < 8; ++l) sumf += s[l];
    return sumf;
}

}  // namespace edgeq::vdot
