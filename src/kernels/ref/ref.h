// Declarations of the scalar reference kernels (kernels/ref/), the rows every ISA variant is tested against.
#pragma once

#include "kernels/kernels.h"

namespace edgeq::kernels::ref {

inline constexpr int kRefNr = 8;  // packed-B panel width of the reference GEMM

void gemm_f32_f32_f32(const GemmArgs& g);
void conv2d_f32(const Conv2dArgs& a);
void dwconv2d_f32(const DwConv2dArgs& a);
void maxpool2d_f32(const Pool2dArgs& a);
void avgpool2d_f32(const Pool2dArgs& a);
void binary_f32(const BinaryArgs& a);
// FP16 / BF16-weight GEMM (gemm_f16_ref.cpp); B packed with kRefNr and the op's kpair.
void gemm_f16_f32(const GemmHalfArgs& g);
void gemm_bf16_f32(const GemmHalfArgs& g);
void gemm_bf16dot_f32(const GemmHalfArgs& g);

}  // namespace edgeq::kernels::ref
