// Declarations of every reference quantizer/dequantizer named in dtype.def (has_codec = 1).
// quantize_<T>(src, dst, nrows, n_per_row, imatrix) follows ggml_quantize_chunk: returns bytes written;
// dequantize_row_<T>(src, dst, n) writes n floats. Definitions: quant_float.cpp (F32/F16/BF16 and the
// raw integer formats), quant_legacy.cpp (Q4_0..Q8_1, IQ4_NL, TQ1_0, TQ2_0), quant_k.cpp (k-quants).
#pragma once

#include <cstddef>
#include <cstdint>

namespace edgeq::quants {

#define EDGEQ_DECLARE_CODEC(T)                                                                  \
    size_t quantize_##T(const float* src, void* dst, int64_t nrows, int64_t n_per_row,          \
                        const float* imatrix);                                                  \
    void dequantize_row_##T(const void* src, float* dst, int64_t n);

EDGEQ_DECLARE_CODEC(F32)
EDGEQ_DECLARE_CODEC(F16)
EDGEQ_DECLARE_CODEC(BF16)
EDGEQ_DECLARE_CODEC(I8)
EDGEQ_DECLARE_CODEC(U8)
EDGEQ_DECLARE_CODEC(I4)
EDGEQ_DECLARE_CODEC(U4)
EDGEQ_DECLARE_CODEC(I2)
EDGEQ_DECLARE_CODEC(U2)
EDGEQ_DECLARE_CODEC(Q4_0)
EDGEQ_DECLARE_CODEC(Q4_1)
EDGEQ_DECLARE_CODEC(Q5_0)
EDGEQ_DECLARE_CODEC(Q5_1)
EDGEQ_DECLARE_CODEC(Q8_0)
EDGEQ_DECLARE_CODEC(Q8_1)
EDGEQ_DECLARE_CODEC(IQ4_NL)
EDGEQ_DECLARE_CODEC(TQ1_0)
EDGEQ_DECLARE_CODEC(TQ2_0)
EDGEQ_DECLARE_CODEC(Q2_K)
EDGEQ_DECLARE_CODEC(Q3_K)
EDGEQ_DECLARE_CODEC(Q4_K)
EDGEQ_DECLARE_CODEC(Q5_K)
EDGEQ_DECLARE_CODEC(Q6_K)
EDGEQ_DECLARE_CODEC(Q8_K)

#undef EDGEQ_DECLARE_CODEC

}  // namespace edgeq::quants
