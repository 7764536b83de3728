// Weight matrices repacked once for the AVX-512 VNNI GEMM (llama.cpp's CPU "repack" idea, edgeq's own layout):
// Q4_0, Q8_0, Q4_K and Q6_K rows in groups of kPackRows = 16, so that one vpdpbusd multiplies four weights of each of
// 16 rows (one int32 lane per weight row) by the same four activation quants (broadcast). Rows past the matrix
// end are zero.
//
// Q4_0 / Q8_0: a group holds, per 32-element block b, the quants of its 16 rows interleaved in 4-byte pieces
// (lane j of 64-byte vector k = bytes 4k..4k+3 of row j's block: Q4_0 4 vectors of nibble bytes, Q8_0 8 vectors
// of quants + 128 as uint8); blocks go in pairs, the quants of blocks 2c and 2c + 1 followed by their 2 x 16 fp16
// scales, so a group is read in address order.
// Q4_K: per super-block of 256 (kQ4KGroupSb = 2368 bytes each): 32 vectors of quant bytes in ggml's lane order
// (vector 4 * l + jj, lane j = qs bytes 32 jj + l, + 8, + 16, + 24 of row j: low nibbles elements l, l+8, l+16,
// l+24 of sub-block 2 jj, high nibbles of sub-block 2 jj + 1), the 6-bit scales [sub-block][row] and mins
// [sub-block][row] as bytes, the 16 fp16 d, the 16 fp16 dmin.
// F32 / F16 / BF16: per 16-element chunk k, the 16 rows' chunks side by side (16 x 16 elements), for the float
// tiles of dtype/vec_dot_float.h (decoding reads a whole group in address order).
// Q6_K: per super-block (3392 bytes), for each lane l six vectors (ql bytes 64 h + 32 p + l + 8 t, then qh bytes
// 32 h + l + 8 t), the rows' (s[2c], s[2c + 1]) int8 scale pairs per 32-element chunk c, the 16 fp16 d.
//
// Results are the reference's bit for bit (dtype/vec_dot.h): each output's integer sums are exact and its float
// steps are the reference's in its order. Q4_0 / Q8_0: per block (nibble or quant + offset dotted with the
// activation quants, minus offset x the activation block's quant sum), then ((float)isum * dx) * dy (Q4_0) or
// (float)isum * (dx * dy) (Q8_0) added in block order. Q4_K: ggml's eight int32 lanes per super-block (lane l: the
// elements e = l mod 8, each four-product piece times its sub-block scale by vpdpwssd), sums[l] += (d * dy) *
// lane, sumf -= (dmin * dy) * sum(bsums x mins), and sumf + sums[0] + ... + sums[7] at the end; Q6_K the same
// without the mins. So logits do not change when a model is repacked. Each super-block / block pair is read in
// address order, one group after the other (decoding reads one weight stream: 21-28 GB/s on the dev machine).
//
//   PackedMatrix p = repack_matrix(DType::Q4_0, rows, row_bytes, n_rows, n_cols);   // once, at load
//   PackedActs pa;  prepare_packed_acts(p.type, act, a_stride, na, n_cols, pa);     // once per activation set
//   packed_gemm(p, r_begin, r_end, act, a_stride, pa, y, y_stride);                 // r_begin % 16 == 0
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "edgeq/dtype.h"

namespace edgeq {

constexpr int64_t kPackRows = 16;
constexpr size_t kQ4KGroupSb = 2368;  // bytes of one super-block of a Q4_K group

struct PackedMatrix {
    struct Free {
        void operator()(uint8_t* p) const { std::free(p); }
    };
    DType type = DType::Q4_0;
    int64_t rows = 0, cols = 0;
    size_t group_bytes = 0;  // bytes of one group of kPackRows rows (a multiple of 64)
    std::unique_ptr<uint8_t[], Free> data;  // 64-byte aligned, ceil(rows / 16) groups

    const uint8_t* group(int64_t g) const { return data.get() + static_cast<size_t>(g) * group_bytes; }
    size_t bytes() const { return group_bytes * static_cast<size_t>((rows + kPackRows - 1) / kPackRows); }
};

// Per activation row, made once per activation set and shared by every packed_gemm call on it. Q4_0 / Q8_0 (nb
// blocks of 32): the integer correction (-offset x sum of the quants) and the block scale as float. Q4_K (nb
// super-blocks of 256): the quants in lane order (lq: bytes 32 j + 4 l + t of a super-block = element
// 32 j + l + 8 t), the sub-block sums of the quants (bsums of 16 added in pairs, as int16 in the low half of an
// int32, the vpdpwssd operand) and the scale.
struct PackedActs {
    int64_t na = 0, nb = 0;
    std::vector<int32_t> corr;  // [na][nb] (Q4_0, Q8_0); Q4_K: [na][nb][8] sub-block sums
    std::vector<float> dy;      // [na][nb]
    std::vector<uint8_t> lq;    // Q4_K: [na][nb * 256]
};

// Types with a packed layout: Q4_0, Q8_0, Q4_K, Q6_K, F32, F16, BF16.
bool repack_supported(DType w);
// Whether a matrix of type w should be repacked on this CPU: supported and its kernel runs (active_isa() at least
// Avx512Vnni, Avx512 for the float types; so EDGEQ_ISA=avx2 or lower keeps the row tiles).
bool repack_profitable(DType w);

// rows: n_rows rows of `cols` elements of type w, row r at rows + r * row_stride. cols a multiple of the block.
PackedMatrix repack_matrix(DType w, const void* rows, size_t row_stride, int64_t n_rows, int64_t cols);

// act: na activation rows of p.cols elements in vec_dot_type(p.type) (Q8_0, Q8_K), row i at act + i * a_stride.
void prepare_packed_acts(DType w, const void* act, size_t a_stride, int64_t na, int64_t cols, PackedActs& out);
// The scalar code of prepare_packed_acts (which runs AVX-512 for Q4_K / Q6_K where enabled): the same fields.
void prepare_packed_acts_ref(DType w, const void* act, size_t a_stride, int64_t na, int64_t cols, PackedActs& out);

// y[i * y_stride + r] = vec_dot(weight row r, activation row i) for r in [r_begin, r_end), i < pa.na;
// r_begin a multiple of kPackRows. The VNNI kernel where active_isa() allows, else packed_gemm_ref.
void packed_gemm(const PackedMatrix& p, int64_t r_begin, int64_t r_end, const void* act, size_t a_stride,
                 const PackedActs& pa, float* y, size_t y_stride);
// The scalar reference on the packed layout (the reference's operations on each output).
void packed_gemm_ref(const PackedMatrix& p, int64_t r_begin, int64_t r_end, const void* act, size_t a_stride,
                     const PackedActs& pa, float* y, size_t y_stride);
// Float types (F32, F16, BF16; dtype/vec_dot_float.h's order bit for bit): y[i * y_stride + r] = float_dot(row r,
// activation row i) for i < na, activations of the weight's type as they are (packed_gemm with prepare_packed_acts
// does the same with pa.na rows).
void packed_float_tile(const PackedMatrix& p, int64_t r_begin, int64_t r_end, const void* act, size_t a_stride,
                       int64_t na, float* y, size_t y_stride);
void packed_float_tile_ref(const PackedMatrix& p, int64_t r_begin, int64_t r_end, const void* act,
                           size_t a_stride, int64_t na, float* y, size_t y_stride);
// "packed_gemm_q4_0__avx512vnni", "packed_gemm_q8_0__ref", "packed_gemm_q4_K__avx512vnni", ...
// "packed_tile_f16__avx512", ...
const char* selected_packed_gemm_name(DType w);

}  // namespace edgeq
