// Dot products and tiles of float weight rows (F32, F16, BF16) with activation rows of the same type, in the order
// of llama.cpp's x86 tinyBLAS (llamafile sgemm, AVX-512: one 16-lane float accumulator per output), used by
// llm::Model for its float matrix products and its attention (docs/llm/runtime.md, "Float rows").
//
// The order is the specification and every kernel reproduces it bit for bit, so results do not depend on
// EDGEQ_ISA. It is llama.cpp's own arithmetic on zen4 (AVX-512), F16 activations being converted to F16 once:
//
//   * n a multiple of 16 (tinyBLAS<16, __m512>, which llama.cpp uses for contiguous products): element i is
//     multiplied and added into float lane i % 16 by one fused multiply-add, elements in increasing order;
//     then the lanes are summed as _mm512_reduce_add_ps does: t8[l] = acc[l] + acc[l + 8],
//     t4[l] = t8[l] + t8[l + 4], t2[l] = t4[l] + t4[l + 2], y = t2[0] + t2[1].
//   * otherwise, and always for float_vec_dot (ggml_vec_dot_f32 / ggml_vec_dot_f16, which tinyBLAS leaves
//     rows of other lengths and non-contiguous operands to): four 16-lane accumulators over the first n & ~63
//     elements (element i of each group of 64 into accumulator (i / 16) % 4, lane i % 16, fused), folded as
//     acc0 += acc2, acc1 += acc3, acc0 += acc1, summed by the tree above; then the remaining elements one by one:
//     F32 as llama.cpp's compiled `sumf += x[i]*y[i]` runs: rounded products added in order in groups of 8, the
//     last (n - n & ~63) % 8 fused into the sum (measured against the zen4 library's ggml_vec_dot_f32, lengths 32 to
//     300: the fixtures' attention scores, head size 32, take only the unfused part), F16/BF16 as
//     float products added to a double (ggml_float).
//
// F16 and BF16 elements are converted to float exactly before the multiply. BF16 follows the F16 order (llama.cpp
// uses vdpbf16ps there, which is not reproduced). dtype/vec_dot.h's vec_dot_ref for these types sums in double
// instead; it is a different (more accurate, slower) specification and is not what Model uses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/cpu.h"
#include "dtype/vec_dot.h"
#include "edgeq/dtype.h"

namespace edgeq {

// F32, F16, BF16.
bool is_float_dot_type(DType w);

// The reference row and tile in the order above (scalar, std::fma). Abort for other types.
float float_dot_ref(DType w, int64_t n, const void* wrow, const void* act);
void float_dot_tile_ref(DType w, int64_t n, const void* wrows, size_t w_stride, int64_t nw, const void* act,
                        size_t a_stride, int64_t na, float* y, size_t y_stride);

// ggml_vec_dot's order (above) for one row, whatever n: the reference, and the best row enabled by
// active_isa() (else the reference). fast_float_vec_dots lists the optimized rows compiled in.
float float_vec_dot_ref(DType w, int64_t n, const void* wrow, const void* act);
VecDotFn selected_float_vec_dot(DType w);
std::span<const FastVecDot> fast_float_vec_dots();
// y[j] = float_vec_dot(w, n64, row j, act) for j < nw (rows w_stride bytes apart), the row and act taken as
// zero-padded from n (a multiple of 16) to n64, the next multiple of 64: ggml_vec_dot_f32's order on llama.cpp's
// padded, masked views (one-token attention). The padding's products are not formed, so a lane that is -0 stays
// -0 where the padded product would make it +0: the result can differ only in the sign of an exact zero. Four rows
// share each activation load in the SIMD rows.
void float_vec_dot_rows(DType w, int64_t n, const void* wrows, size_t w_stride, int64_t nw, const void* act, float* y);
// The reference: float_vec_dot_ref on zero-padded copies.
void float_vec_dot_rows_ref(DType w, int64_t n, const void* wrows, size_t w_stride, int64_t nw, const void* act,
                            float* y);

// Optimized tiles compiled into this binary (same contract as dtype/vec_dot.h's VecDotTileFn: y[i * y_stride + j]
// = dot(weight row j, activation row i); strides in bytes, multiples of the element size). Each output equals
// float_dot_ref's bits whatever the tile shape.
struct FastFloatDotTile {
    DType type;
    Isa isa;
    VecDotTileFn fn;
    const char* name;  // e.g. "float_dot_tile_f16__avx512"
};
std::span<const FastFloatDotTile> fast_float_dot_tiles();

// The best tile enabled by active_isa() for w, else the reference tile.
VecDotTileFn selected_float_dot_tile(DType w);
const char* selected_float_dot_tile_name(DType w);  // "reference" when no optimized tile runs
void float_dot_tile(DType w, int64_t n, const void* wrows, size_t w_stride, int64_t nw, const void* act,
                    size_t a_stride, int64_t na, float* y, size_t y_stride);

}  // namespace edgeq
