// The float operations of llm::Model's forward pass outside the weight products, in the arithmetic of ggml's CPU
// backend on AVX-512 (zen4, where the fixtures' llama.cpp logits come from; docs/llm/runtime.md, "Float glue"):
//
//   expf        ggml_v_expf (AVX-512): z = fma(x, log2(e), 1.5*2^23); n = z - 1.5*2^23 (round to integer);
//               b = x - n*ln2 (two fused steps, ln2 split hi/lo); j = degree-5 polynomial in b (fused steps,
//               b² reused); result j * 2^n (scalef); |n| > 192: 0 below, +inf above.
//   swiglu      y = silu(x) * g with silu(x) = x / (1 + expf(-x)): groups of 16 use the expf above, the last
//               n % 16 elements the C library's expf (ggml_vec_swiglu_f32).
//   softmax     over the scores of one query: max; e = expf(s - max) per group of 16 (the last group
//               zero-padded: llama.cpp pads the cache view to 32 positions and masks them to -inf), each group's
//               16 values summed as _mm512_reduce_add_ps and added to a double; e *= float(1 / sum).
//   kq_scores   attention scores dot(k, q) * scale with the dot product as ggml_vec_dot_f32 computes it
//               (float_vec_dot, dtype/vec_dot_float.h): llama.cpp multiplies K by the permuted, non-contiguous Q,
//               which tinyBLAS leaves to ggml's vec_dot. Head size 32 (all in its unfused leftover loop) makes the
//               shakespeare fixtures' F32 logits bit-identical; the earlier double sum did not.
//
// Everything here is scalar, fused multiply-adds by std::fma, so the values do not depend on the ISA.
#pragma once

#include <cstdint>

namespace edgeq::llm::glue {

float expf_ggml(float x);
// y[i] = silu(x[i]) * g[i] (y may alias x or g).
void swiglu(int64_t n, const float* x, const float* g, float* y);
// In place over s[0, n): s = softmax(s).
void softmax(int64_t n, float* s);
// s[p] = dot(k + p * k_stride, q over n elements) * scale for p < n_kv (ggml_vec_dot_f32's order, above).
void kq_scores(int64_t n_kv, const float* q, const float* k, int64_t k_stride, int64_t n, float scale, float* s);
// The same on the reference row (the SIMD rows give the same bits).
void kq_scores_ref(int64_t n_kv, const float* q, const float* k, int64_t k_stride, int64_t n, float scale,
                   float* s);

}  // namespace edgeq::llm::glue
