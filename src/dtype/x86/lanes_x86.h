// Helpers shared by the x86 quantizer units (quant_avx2.cpp, quant_avx512.cpp). Internal linkage on purpose:
// each unit is compiled for its own ISA, and a shared inline function would be emitted as a weak symbol that
// the linker may pick for a caller on a CPU without that ISA. Include only from *_avx2.cpp / *_avx512.cpp.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace edgeq::quants {
namespace {

// fp32 <-> fp16 with F16C. The rounding (to nearest even, subnormals, Inf, NaN kept quiet with its top
// payload bits) equals core/fp16.h's f32_to_fp16 on all 2^32 inputs; the read-back equals fp16_to_f32 on
// every value f32_to_fp16 produces (they differ only on signalling-NaN halves, which F16C quiets).
inline uint16_t fp16_of(float f) {
    return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}
inline float f32_of(uint16_t h) {
    return _cvtsh_ss(h);
}

// Lane g of out[i] = p[stride * g + i] for i = 0..7 (8x8 transpose; vgatherdps is slow on some cores).
inline void transpose8(const float* p, int stride, __m256* out) {
    __m256 r[8];
    for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(p + stride * k);
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    out[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    out[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    out[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    out[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    out[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    out[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    out[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    out[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// Lane g of out[i] = p[n * g + i], i = 0..n-1: 8 groups of n (a multiple of 8) in lanes.
template <int n>
inline void load_lanes(const float* p, __m256* out) {
    for (int c = 0; c < n; c += 8) transpose8(p + c, n, out + c);
}

}  // namespace
}  // namespace edgeq::quants
