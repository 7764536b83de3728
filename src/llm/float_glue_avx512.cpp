// AVX-512 versions of llm/float_glue.h's expf loops, bit-identical to the scalar code there (the same fused
// steps; _mm512_scalef_ps is the scalar code's ldexp). Compiled with -mavx512f/dq; called only where
// core/cpu.h enables AVX-512.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 false positives in its AVX-512 headers
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "dtype/x86/vec_dot_float_x86.h"

namespace edgeq::llm::glue {
namespace {

inline __m512 expf16(__m512 x) {
    const __m512 shift = _mm512_set1_ps(0x1.8p23f);
    const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), shift);
    const __m512 n = _mm512_sub_ps(z, shift);
    const __m512 b = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.7f7d1cp-20f),
                                      _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e4p-1f), x));
    const __m512 u = _mm512_mul_ps(b, b);
    const __m512 p = _mm512_fmadd_ps(
        _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), b, _mm512_set1_ps(0x1.573e2ep-5f)), u,
                        _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), b, _mm512_set1_ps(0x1.fffdb6p-2f))),
        u, _mm512_fmadd_ps(_mm512_set1_ps(0x1.ffffecp-1f), b, _mm512_set1_ps(1.0f)));
    const __m512 r = _mm512_scalef_ps(p, n);
    const __mmask16 big = _mm512_cmp_ps_mask(_mm512_abs_ps(n), _mm512_set1_ps(192.0f), _CMP_GT_OQ);
    if (big == 0) return r;
    const __mmask16 neg = _mm512_cmp_ps_mask(n, _mm512_setzero_ps(), _CMP_LE_OQ);
    const __m512 flushed = _mm512_mask_blend_ps(neg, _mm512_set1_ps(INFINITY), _mm512_setzero_ps());
    return _mm512_mask_blend_ps(big, r, flushed);
}

}  // namespace

void swiglu16_avx512(int64_t n16, const float* x, const float* g, float* y) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int64_t i = 0; i < n16; i += 16) {
        const __m512 xv = _mm512_loadu_ps(x + i);
        const __m512 e = expf16(_mm512_sub_ps(_mm512_setzero_ps(), xv));
        _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_div_ps(xv, _mm512_add_ps(one, e)), _mm512_loadu_ps(g + i)));
    }
}

double softmax_exp_avx512(int64_t n, float* s, float mx) {
    const __m512 m = _mm512_set1_ps(mx);
    double sum = 0.0;
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = n - i >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (n - i)) - 1u);
        const __m512 v = _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), k, s + i);
        const __m512 e = expf16(_mm512_sub_ps(v, m));
        _mm512_mask_storeu_ps(s + i, k, e);
        sum += static_cast<double>(vdot::hsum16_tree(e));
    }
    return sum;
}

}  // namespace edgeq::llm::glue
