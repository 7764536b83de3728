// FP16 / BF16 weights in the fast executor (kernels.h, "FP16 / BF16-weight GEMM"; docs/kernels-f16.md).
//
// `edgeq quantize --method fp16|bf16` stores each weight as an F16 / BF16 initializer behind Cast(to = FLOAT).
// At plan time widen_half_constant() evaluates such a Cast once (so every float kernel and reference op sees a
// constant float weight, whatever its size) and remembers the 16-bit initializer; pack_half_weights() then lets
// a Gemm / MatMul step pack that initializer for the exact-A half GEMM row (Op::GemmF16 / Op::GemmBf16, chosen
// by select(), so EDGEQ_ISA caps it) instead of packing floats; run_gemm_row() runs either kind of row.
#pragma once

#include <string>
#include <unordered_map>

#include "edgeq/tensor.h"
#include "graph/graph.h"
#include "kernels/kernels.h"

namespace edgeq::runtime::fast {

// Cast output name -> the F16 / BF16 initializer it widens.
using HalfWeights = std::unordered_map<std::string, const Tensor*>;

// The float value of n when n is Cast(to = FLOAT) of an F16 / BF16 initializer of g (recorded in `half`);
// an empty handle otherwise.
Tensor widen_half_constant(const graph::Graph& g, const graph::Node& n, HalfWeights& half);

// When b_name is a recorded half weight (K×N, or N×K with trans_b), packs it for the half GEMM row of its type
// into `packed` (DType::U16), points `row` at that row and returns true; otherwise changes nothing.
bool pack_half_weights(const HalfWeights& half, const std::string& b_name, bool trans_b, int64_t K, int64_t N,
                       const kernels::KernelRow*& row, Tensor& packed);

// Runs g (columns [n_begin, n_end)) on row: an FP32 row reads g.b, a half row reads `packed` (16-bit).
void run_gemm_row(const kernels::KernelRow& row, const kernels::GemmArgs& g, const Tensor& packed);

}  // namespace edgeq::runtime::fast
