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
//   kq_scores   attention scores float(q . k) * scale with the dot product in double: the products (exact in
//               double) summed in 8 lanes (lane i % 8, in order), the lanes added as (l, l + 4), (l, l + 2), (0, 1).
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
// s[p] = float(dot(q, k + p * k_stride over n elements)) * scale for p < n_kv (the dot in double as above).
void kq_scores(int64_t n_kv, const float* q, const float* k, int64_t k_stride, int64_t n, float scale, float* s);
// The scalar code kq_scores runs where AVX-512 is off (the AVX-512 loop gives the same bits).
void kq_scores_ref(int64_t n_kv, const float* q, const float* k, int64_t k_stride, int64_t n, float scale,
                   float* s);

}  // namespace edgeq::llm::glue
