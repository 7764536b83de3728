// ggml's AVX-512 float arithmetic for the forward pass's glue, in scalar code (llm/float_glue.h).
#include "llm/float_glue.h"

#include <algorithm>
#include <cmath>

#include "core/cpu.h"
#include "dtype/vec_dot_float.h"

namespace edgeq::llm::glue {
// llm/float_glue_avx512.cpp: the loops below on 16 lanes, bit for bit.
void swiglu16_avx512(int64_t n16, const float* x, const float* g, float* y);
double softmax_exp_avx512(int64_t n, float* s, float mx);

namespace {

// _mm512_reduce_add_ps's order: lanes (l, l + 8), then (l, l + 4), (l, l + 2), (0, 1).
float tree16(const float* v) {
    float t8[8], t4[4];
    for (int l = 0; l < 8; ++l) t8[l] = v[l] + v[l + 8];
    for (int l = 0; l < 4; ++l) t4[l] = t8[l] + t8[l + 4];
    return (t4[0] + t4[2]) + (t4[1] + t4[3]);
}

float silu_libm(float x) { return x / (1.0f + std::exp(-x)); }

}  // namespace

float expf_ggml(float x) {
    if (std::isnan(x)) return x;
    const float shift = 0x1.8p23f;
    const float z = std::fma(x, 0x1.715476p+0f, shift);
    const float n = z - shift;
    const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
    if (std::fabs(n) > 192.0f) return n <= 0.0f ? 0.0f : INFINITY;
    const float u = b * b;
    const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                                      std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                             u, std::fma(0x1.ffffecp-1f, b, 1.0f));
    return std::ldexp(j, static_cast<int>(n));  // scalef: j * 2^n, rounded once
}

void swiglu(int64_t n, const float* x, const float* g, float* y) {
    const int64_t n16 = n & ~int64_t{15};
    if (isa_enabled(Isa::Avx512)) {
        swiglu16_avx512(n16, x, g, y);
    } else {
        for (int64_t i = 0; i < n16; ++i) y[i] = x[i] / (1.0f + expf_ggml(0.0f - x[i])) * g[i];
    }
    for (int64_t i = n16; i < n; ++i) y[i] = silu_libm(x[i]) * g[i];
}

void softmax(int64_t n, float* s) {
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; ++i) mx = std::max(mx, s[i]);
    double sum = 0.0;
    if (isa_enabled(Isa::Avx512)) {
        sum = softmax_exp_avx512(n, s, mx);
    } else {
        for (int64_t i0 = 0; i0 < n; i0 += 16) {
            float e[16] = {};
            const int64_t m = std::min<int64_t>(16, n - i0);
            for (int64_t l = 0; l < m; ++l) s[i0 + l] = e[l] = expf_ggml(s[i0 + l] - mx);
            sum += static_cast<double>(tree16(e));
        }
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t i = 0; i < n; ++i) s[i] *= inv;
}

void kq_scores(int64_t n_kv, const float* q, const float* k, int64_t k_stride, int64_t n, float scale, float* s) {
    // ggml_vec_dot_f32 in its order (dtype/vec_dot_float.h), the selected SIMD row: the same bits as the reference
    const VecDotFn dot = selected_float_vec_dot(DType::F32);
    for (int64_t p = 0; p < n_kv; ++p) s[p] = dot(n, k + p * k_stride, q) * scale;
}

void kq_scores_ref(int64_t n_kv, const float* q, const float* k, int64_t k_stride, int64_t n, float scale,
                   float* s) {
    for (int64_t p = 0; p < n_kv; ++p) s[p] = float_vec_dot_ref(DType::F32, n, k + p * k_stride, q) * scale;
}

}  // namespace edgeq::llm::glue
