// Dot products of a ggml block-quantized weight row with an activation row quantized to the weight's partner
// format (DTypeTraits::vec_dot_type: Q8_0, Q8_1 or Q8_K; F16/BF16 for half-precision weights), as llama.cpp's
// CPU backend computes matrix products (docs/llm/runtime.md, "Activation quantization").
//
//   std::vector<uint8_t> qa(vec_dot_act_size(w, n));
//   quantize_activation(w, x, qa.data(), n);           // once per activation row
//   float y = vec_dot(w, n, wrow, qa.data());          // once per weight row
//
// quantize_activation reproduces llama.cpp's x86 activation quantizers bit for bit: Q8_0/Q8_1 use the AVX path
// (d = amax/127, q = round-half-even(x * (127/amax)), which differs from quantize_row_q8_0_ref's roundf(x / d)
// on a few elements), Q8_K is quantize_row_q8_K_ref, F16/BF16 are round-to-nearest-even conversions.
//
// vec_dot_ref is the specification: per block the integer sums, then the float scale multiply-adds in the order of
// ggml's generic C kernels (ggml_vec_dot_<w>_<q8>_generic; F32/F16/BF16: products summed in double). The
// optimized rows (AVX2; AVX-512 for Q4_K/Q5_K/Q6_K; AVX-512 VNNI for the 32-wide types) compute the same integer
// sums and the same float operations in the same order, so every row returns the reference's value bit for bit
// and results do not depend on EDGEQ_ISA (tests/unit/dtype/vec_dot_test.cpp). Q8 quants must lie in [-127, 127],
// which every quantizer guarantees (the optimized rows' sign trick cannot negate -128).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/cpu.h"
#include "edgeq/dtype.h"

namespace edgeq {

// y = dot(weight row w (n elements), activation row a (n elements in vec_dot_type(w))).
using VecDotFn = float (*)(int64_t n, const void* w, const void* a);

// True for the weight types with a dot product: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL, Q2_K,
// Q3_K, Q4_K, Q5_K, Q6_K, TQ1_0, TQ2_0.
bool has_vec_dot(DType w);
// The activation format of weight type w (traits(w).vec_dot_type).
DType vec_dot_type(DType w);
// Bytes of one activation row of n elements for weight type w. n must be a multiple of w's block size.
size_t vec_dot_act_size(DType w, int64_t n);
// Converts n floats into the activation format of w (llama.cpp x86 arithmetic, see above).
void quantize_activation(DType w, const float* x, void* act, int64_t n);
// The scalar code of quantize_activation (which runs AVX-512 for Q8_0 / Q8_1 / Q8_K where enabled): the same bytes.
void quantize_activation_ref(DType w, const float* x, void* act, int64_t n);

// Reference dot product (ggml generic order). Aborts for a type without has_vec_dot.
VecDotFn vec_dot_ref_fn(DType w);
float vec_dot_ref(DType w, int64_t n, const void* wrow, const void* act);

// llama.cpp's x86 order (what its zen4 backend runs for a matrix it does not repack), not ggml's generic one:
// * the 32-wide block types Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL (the AVX2 paths of ggml_vec_dot_<w>_q8_0 /
//   _q8_1 and tinyBLAS_Q0_AVX): per block the 32 integer weights in element order (Q4_0: nibble - 8, Q5_0: 5-bit
//   - 16, IQ4_NL: the table value), eight int32 lanes of four products (lane l: elements 4l .. 4l + 3), each
//   converted to float and fused into float lane l with d = d_w * d_a (rounded product); the lanes summed as
//   hsum_float_8: t[l] = lane[l + 4] + lane[l] (l < 4), t[0] + t[2] and t[1] + t[3], their sum. Q4_1 / Q5_1 also
//   add m_w * s_a per block (rounded, then added) into a separate float and add it last.
// * the super-block types Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, TQ2_0 (the AVX2 paths of ggml_vec_dot_<w>_q8_K): per
//   super-block eight int32 lanes, lane l = sum of scale * w * a over the elements e with e % 32 in [4l, 4l + 3],
//   fused into float lane l with d = d_a * d_w, hsum_float_8 at the end; the mins and offsets as each kernel
//   takes them (dtype/vec_dot_x86_order.cpp).
// llm::ModelOptions::llama_order runs it. Activation quants must lie in [-127, 127], as quantize_activation writes
// them (llama.cpp's sign trick, kept by the AVX2 row).
bool has_vec_dot_x86(DType w);
float vec_dot_x86_ref(DType w, int64_t n, const void* wrow, const void* act);
// The AVX2 row where there is one (Q8_0) and AVX2 is enabled (the same bits), else the reference. Aborts for a
// type without has_vec_dot_x86.
VecDotFn selected_vec_dot_x86(DType w);

// llama.cpp's order for a matrix its CPU backend repacks into 8-row interleaved blocks (ggml-cpu "repack": Q4_0,
// IQ4_NL and Q4_K when the matrix has a multiple of 8 rows and the CPU has AVX2; Q2_K likewise with AVX-512, as on
// the zen4 backend). Activation rows go 4 at a time through its gemm kernel (the first n - n % 4 rows of a batch
// of n > 3) and one at a time through its gemv kernel (the rest). Per output, each group of G weights gives an
// exact integer sum fused into one float, acc = fma(float(isum), d_w * d_a, acc), the mins likewise into a second
// float subtracted at the end. G: Q4_0 / IQ4_NL 32; Q4_K 64 (gemm) / 256 (gemv); Q2_K 128 (gemm) / 256 (gemv).
bool has_vec_dot_x86_repacked(DType w);
// The dot product for weight type w in the gemm (true) or gemv (false) kernel's order. Aborts for a type without
// has_vec_dot_x86_repacked.
VecDotFn vec_dot_x86_repacked_fn(DType w, bool gemm);

// Optimized rows compiled into this binary (whether or not this CPU can run them).
struct FastVecDot {
    DType type;
    Isa isa;
    VecDotFn fn;
    const char* name;  // e.g. "vec_dot_q4_K_q8_K__avx2"
};
std::span<const FastVecDot> fast_vec_dots();

// The row vec_dot uses for w: the best one enabled by active_isa(), else the reference.
VecDotFn selected_vec_dot(DType w);
const char* selected_vec_dot_name(DType w);
float vec_dot(DType w, int64_t n, const void* wrow, const void* act);

// Tiles (matrix products: LLM prefill and decoding): y[i * y_stride + j] = dot(weight row j, activation row i)
// for j < nw, i < na, weight row j at w + j * w_stride bytes, activation row i at a + i * a_stride bytes.
// Strides keep the blocks aligned (a multiple of 4 bytes, or of the block size: blocks hold uint16/float fields). The
// optimized tiles keep every output's integer sums and float operations those of the row kernel, so each output
// equals vec_dot's bit for bit (tests/unit/dtype/vec_dot_test.cpp). 32-wide types: groups of 8 activation rows
// share each decoded weight block, one float lane per activation row; the remaining rows (decoding: all) put 8
// weight rows in the float lanes. k-quants: groups of 4 activation rows share each decoded super-block.
using VecDotTileFn = void (*)(int64_t n, const void* w, size_t w_stride, int64_t nw, const void* a,
                              size_t a_stride, int64_t na, float* y, size_t y_stride);
struct FastVecDotTile {
    DType type;
    Isa isa;
    VecDotTileFn fn;
    const char* name;  // e.g. "vec_dot_tile_q4_0_q8_0__avx512vnni"
};
std::span<const FastVecDotTile> fast_vec_dot_tiles();
// The best tile enabled by active_isa() for w, or nullptr (vec_dot_tile then loops the selected row).
VecDotTileFn selected_vec_dot_tile(DType w);
const char* selected_vec_dot_tile_name(DType w);  // "rows" where there is no tile
// The tile above with the selected tile, or the selected row kernel per output where w has no tile.
void vec_dot_tile(DType w, int64_t n, const void* wrows, size_t w_stride, int64_t nw, const void* act,
                  size_t a_stride, int64_t na, float* y, size_t y_stride);

}  // namespace edgeq
