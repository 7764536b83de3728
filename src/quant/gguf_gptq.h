// GPTQ for GGUF tensors (docs/llm/gptq.md): the column-by-column error propagation of quant/ptq/gptq.h
// (gptq_quantize, unchanged) driven by the real ggml block quantizers, so that the output is ordinary ggml
// blocks that llama.cpp and edgeq dequantize bit-identically.
//
// How a block type plugs into GPTQ's GroupQuantizer contract:
//   group = the type's block (32 for Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/IQ4_NL, 256 for the k-quant super-blocks);
//   fit   = when GPTQ reaches a block's first column, the block's current (error-updated) weights are
//           quantized by the ggml quantizer of the type (quantize() of edgeq/dtype.h, optionally weighted by
//           an importance vector); that fixes the block's scales / mins / sub-block scales;
//   round = an element is set to the nearest level of its (sub-)block's grid under those fixed scales, and
//           the level is written into the block's bits; GPTQ then spreads the rounding error over the
//           columns not yet quantized.
// Plain group-wise integer formats INT{2,3,4}_G{32,64} (asymmetric, 2^bits levels, one fp16 scale and one
// fp16 offset per group) have no ggml type; they are stored in Q4_1 blocks whose levels are restricted to
// 0 .. 2^bits - 1 and whose (d, m) are shared by the 1 or 2 blocks of a group. Every runtime that reads
// Q4_1 (edgeq, llama.cpp) runs them; the file is Q4_1-sized (5 bits per weight) while the information is
// bits + 32/group bits per weight (int_group_bits_per_weight; a packed edgeq type is not implemented).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "edgeq/dtype.h"
#include "edgeq/status.h"

namespace edgeq {

// ---- Plain group-wise integer formats ----------------------------------------------------------------
struct IntGroupFormat {
    int bits = 4;        // 2, 3 or 4
    int64_t group = 32;  // 32 or 64 columns
};

// "INT4_G32", "INT3_G64", ... (case-insensitive); nullopt for any other name.
std::optional<IntGroupFormat> int_group_format(const std::string& name);
std::string int_group_name(const IntGroupFormat& f);
// Information content: bits per level + one fp16 scale and one fp16 offset per group.
inline double int_group_bits_per_weight(const IntGroupFormat& f) {
    return f.bits + 32.0 / static_cast<double>(f.group);
}
// The names int_group_format accepts, space separated.
std::string int_group_format_names();

// What one tensor is quantized to: a ggml block type, or an INT group format carried in Q4_1.
struct BlockTarget {
    DType type = DType::Q4_0;
    std::optional<IntGroupFormat> int_format;  // set: type is Q4_1
};

// Types GPTQ handles: Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 IQ4_NL Q2_K Q3_K Q4_K Q5_K Q6_K.
bool gptq_supports(DType t);

// Round-to-nearest for an INT group format: per group, the (lo, hi) range among a few clipped candidates
// that minimises sum importance_j (w_j - q_j)^2 (importance 1 when null), fp16 scale/offset, nearest level.
// W is [rows, cols] row-major (a GGUF tensor with ne = [cols, rows]); cols % 32 == 0 (group 64: % 64).
// Returns rows * row_size(Q4_1, cols) bytes.
std::vector<uint8_t> quantize_int_group_rtn(const IntGroupFormat& f, const float* w, int64_t rows,
                                            int64_t cols, const float* importance, int threads);

struct GgufGptqOptions {
    double percdamp = 0.01;    // GPTQ damping, fraction of mean diag(H)
    int64_t block_size = 128;  // GPTQ lazy-batch width
    bool act_order = false;    // process columns by descending diag(H) (groups stay contiguous)
    int threads = 1;
};

struct GgufGptqStats {
    double percdamp_used = 0;
    int64_t dead_columns = 0;
};

// GPTQ of W [rows, cols] against H [cols, cols] (row-major, symmetric, 2/N X^T X as
// quant::ptq::HessianAccumulator builds it). importance (cols values, or null) weights the ggml quantizer's
// scale search at each block fit (llama.cpp's imatrix semantics: mean x^2 per column; the caller passes
// diag(H)/2 or an imatrix). Returns rows * row_size(target.type, cols) bytes of ggml blocks.
// Errors: unsupported type, cols not a multiple of the block, size mismatches, H not positive definite.
Result<std::vector<uint8_t>> quantize_gptq(const BlockTarget& target, const float* w, int64_t rows,
                                           int64_t cols, std::span<const double> h, const float* importance,
                                           const GgufGptqOptions& options, GgufGptqStats* stats = nullptr);

// H = 2/N X^T X from the upper triangle of sum x x^T (k*k row-major, entries j >= i used) and N rows.
std::vector<double> hessian_from_sums(std::span<const double> xtx_upper, int64_t k, int64_t n);

// ---- Element access to ggml blocks (GPTQ's rounding; exposed for tests) ---------------------------------
// Element e of a block of type t holds a level q in [0, block_levels(t)); its value is
//   a * (q + off) + b   (IQ4_NL: a * kvalues_iq4nl[q]),
// with a, b fixed by the block's scales (block_grid). block_level / set_block_level read / write the bits.
struct ElementGrid {
    float a = 0, b = 0;
    int off = 0;
};
int block_levels(DType t);
ElementGrid block_grid(DType t, const uint8_t* block, int e);
int block_level(DType t, const uint8_t* block, int e);
void set_block_level(DType t, uint8_t* block, int e, int q);
float grid_value(DType t, const ElementGrid& g, int q);
// The level of the grid nearest to w (ties: the lower level), restricted to [0, max_level].
int nearest_level(DType t, const ElementGrid& g, float w, int max_level);

}  // namespace edgeq
