// Declarations of the recurrent-cell gate kernels' scalar references and ISA rows (kernels/rnn.h).
#pragma once

#include "kernels/rnn.h"

namespace edgeq::kernels {
namespace ref {
void lstm_gates_f32(const LstmGateArgs& a);
void gru_lbr_f32(const GruGateArgs& a);
void gru_reset_f32(const GruGateArgs& a);
void gru_update_f32(const GruGateArgs& a);
void quantize_rows_u8(const QuantRowsArgs& a);
void dequant_rows_s32(const DequantRowsArgs& a);
void q8_product(const Q8ProductArgs& a);
// The per-row parameters of quantize_rows_u8 from the row's minimum and maximum (shared by every row).
void quant_row_params(float xmin, float xmax, float* scale, int32_t* zero);
}  // namespace ref

namespace x86 {
void lstm_gates_f32__avx2(const LstmGateArgs& a);
void gru_lbr_f32__avx2(const GruGateArgs& a);
void gru_reset_f32__avx2(const GruGateArgs& a);
void gru_update_f32__avx2(const GruGateArgs& a);
void lstm_gates_f32__avx512(const LstmGateArgs& a);
void gru_lbr_f32__avx512(const GruGateArgs& a);
void gru_reset_f32__avx512(const GruGateArgs& a);
void gru_update_f32__avx512(const GruGateArgs& a);
void quantize_rows_u8__avx2(const QuantRowsArgs& a);
void dequant_rows_s32__avx2(const DequantRowsArgs& a);
void quantize_rows_u8__avx512(const QuantRowsArgs& a);
void dequant_rows_s32__avx512(const DequantRowsArgs& a);
void q8_product__avx512vnni(const Q8ProductArgs& a);
}  // namespace x86
}  // namespace edgeq::kernels
