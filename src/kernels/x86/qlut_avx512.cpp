// qlut_u8 (kernels/qconv.h) with AVX-512 VBMI: the 256-byte table in four registers, 64 lookups per two
// vpermi2b (index bits 0–6 pick a byte of the low or high 128-byte half) and one byte blend on bit 7.
// Compiled for VBMI here (function attributes, which GCC and clang both honour; a lambda would not inherit
// them under clang); kernels/qconv.cpp calls it only when the CPU reports avx512vbmi.
#include <immintrin.h>

#include <cstdint>

namespace edgeq::kernels::x86 {

#define EDGEQ_VBMI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi")))

namespace {
EDGEQ_VBMI inline __m512i look(__m512i t0, __m512i t1, __m512i t2, __m512i t3, __m512i v) {
    const __m512i lo = _mm512_permutex2var_epi8(t0, v, t1), hi = _mm512_permutex2var_epi8(t2, v, t3);
    return _mm512_mask_blend_epi8(_mm512_movepi8_mask(v), lo, hi);
}
}  // namespace

EDGEQ_VBMI void qlut_u8__avx512vbmi(const uint8_t* table, const uint8_t* x, int64_t n, uint8_t* y) {
    const __m512i t0 = _mm512_loadu_si512(table), t1 = _mm512_loadu_si512(table + 64);
    const __m512i t2 = _mm512_loadu_si512(table + 128), t3 = _mm512_loadu_si512(table + 192);
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) _mm512_storeu_si512(y + i, look(t0, t1, t2, t3, _mm512_loadu_si512(x + i)));
    if (i < n) {
        const __mmask64 m = ~uint64_t{0} >> (64 - (n - i));
        _mm512_mask_storeu_epi8(y + i, m, look(t0, t1, t2, t3, _mm512_maskz_loadu_epi8(m, x + i)));
    }
}

}  // namespace edgeq::kernels::x86
