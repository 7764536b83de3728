// AVX-512 VNNI dot products of Q8_0 and Q4_0 with Q8_0 (dtype/vec_dot.h): two 32-element blocks per zmm,
// vpdpbusd (u8 x s8, exact int32, no saturation) on |x| and y with x's sign, then one FMA per block pair with the
// two blocks' scale products in the low and high 8 lanes. Integer parts exact; float parts accumulated in 16 lanes
// (bit-identical to the reference with power-of-two scales; tests/unit/dtype/vec_dot_test.cpp).
// Activation and Q8_0 weight quants must lie in [-127, 127] (what every quantizer produces): the sign trick
// cannot negate -128.
//
// Internal linkage only (see dtype/x86/lanes_x86.h): this unit is compiled with -mavx512f/bw/vl/dq/vnni.
// GCC 12 warns about the _mm*_undefined_* operands inside its own AVX-512 intrinsic headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cstdint>

#include "dtype/blocks.h"

namespace edgeq::vdot {
namespace {

inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

inline __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m512i join(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }

inline __m512i dot4_ss(__m512i x, __m512i y) {
    const __m512i ax = _mm512_abs_epi8(x);
    // y with x's sign: negate where x < 0, zero where x == 0 (vpsignb has no zmm form).
    const __mmask64 neg = _mm512_movepi8_mask(x);
    const __m512i sy = _mm512_mask_sub_epi8(y, neg, _mm512_setzero_si512(), y);
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), ax, sy);
}
inline __m256i dot4_ss(__m256i x, __m256i y) {
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

inline __m256i nibbles32(const uint8_t* qs) {
    const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(0x0F));
}

inline __m512 scales2(float a, float b) {
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(a)), _mm256_set1_ps(b), 1);
}

inline float hsum8(__m256 v) {
    __m128 r = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

// Shared loop: Load(ib) returns the block's 32 weight values as int8.
template <typename WBlock, typename Load>
float q_q8_0(int64_t n, const WBlock* x, const block_q8_0* y, Load wq) {
    const int64_t nb = n / QK8_0;
    __m512 acc = _mm512_setzero_ps();
    int64_t ib = 0;
    for (; ib + 1 < nb; ib += 2) {
        const __m512i p = dot4_ss(join(wq(ib), wq(ib + 1)), join(load32(y[ib].qs), load32(y[ib + 1].qs)));
        const __m512 d = scales2(h2f(x[ib].d) * h2f(y[ib].d), h2f(x[ib + 1].d) * h2f(y[ib + 1].d));
        acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(p), acc);
    }
    const __m256 lo = _mm512_castps512_ps256(acc), hi = _mm512_extractf32x8_ps(acc, 1);
    __m256 acc8 = _mm256_add_ps(lo, hi);
    if (ib < nb) {
        const __m256i p = dot4_ss(wq(ib), load32(y[ib].qs));
        acc8 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[ib].d) * h2f(y[ib].d)), _mm256_cvtepi32_ps(p), acc8);
    }
    return hsum8(acc8);
}

}  // namespace

float q8_0_q8_0_avx512vnni(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const block_q8_0*>(w);
    return q_q8_0(n, x, static_cast<const block_q8_0*>(a), [&](int64_t ib) { return load32(x[ib].qs); });
}

float q4_0_q8_0_avx512vnni(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const block_q4_0*>(w);
    const __m256i off = _mm256_set1_epi8(8);
    return q_q8_0(n, x, static_cast<const block_q8_0*>(a),
                  [&](int64_t ib) { return _mm256_sub_epi8(nibbles32(x[ib].qs), off); });
}

}  // namespace edgeq::vdot
