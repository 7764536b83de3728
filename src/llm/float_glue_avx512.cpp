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

// Four positions at a time (four independent FMA chains); the products of two floats are exact in double, so
// the fused multiply-add equals the scalar code's multiply then add.
void kq_scores_avx512(int64_t n_kv, const float* q, const float* k, int64_t k_stride, int64_t n, float scale,
                      float* s) {
    const auto lane_sum = [](__m512d a) {
        const __m256d t4 = _mm256_add_pd(_mm512_castpd512_pd256(a), _mm512_extractf64x4_pd(a, 1));
        const __m128d t2 = _mm_add_pd(_mm256_castpd256_pd128(t4), _mm256_extractf128_pd(t4, 1));
        return _mm_cvtsd_f64(_mm_add_sd(t2, _mm_unpackhi_pd(t2, t2)));
    };
    const auto load8 = [](const float* p, int64_t left) {
        const __mmask8 m = left >= 8 ? __mmask8(0xFF) : static_cast<__mmask8>((1u << left) - 1u);
        return _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, p));
    };
    int64_t p = 0;
    for (; p + 4 <= n_kv; p += 4) {
        const float* k0 = k + p * k_stride;
        __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t i = 0; i < n; i += 8) {
            const __m512d qv = load8(q + i, n - i);
            a0 = _mm512_fmadd_pd(qv, load8(k0 + i, n - i), a0);
            a1 = _mm512_fmadd_pd(qv, load8(k0 + k_stride + i, n - i), a1);
            a2 = _mm512_fmadd_pd(qv, load8(k0 + 2 * k_stride + i, n - i), a2);
            a3 = _mm512_fmadd_pd(qv, load8(k0 + 3 * k_stride + i, n - i), a3);
        }
        s[p] = static_cast<float>(lane_sum(a0)) * scale;
        s[p + 1] = static_cast<float>(lane_sum(a1)) * scale;
        s[p + 2] = static_cast<float>(lane_sum(a2)) * scale;
        s[p + 3] = static_cast<float>(lane_sum(a3)) * scale;
    }
    for (; p < n_kv; ++p) {
        const float* kp = k + p * k_stride;
        __m512d a = _mm512_setzero_pd();
        for (int64_t i = 0; i < n; i += 8) a = _mm512_fmadd_pd(load8(q + i, n - i), load8(kp + i, n - i), a);
        s[p] = static_cast<float>(lane_sum(a)) * scale;
    }
}

}  // namespace edgeq::llm::glue
