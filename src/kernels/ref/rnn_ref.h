// Declarations of the recurrent-cell gate kernels' scalar references and ISA rows (kernels/rnn.h).
#pragma once

#include "kernels/rnn.h"

namespace edgeq::kernels {
namespace ref {
void lstm_gates_f32(const LstmGateArgs& a);
void gru_lbr_f32(const GruGateArgs& a);
void gru_reset_f32(const GruGateArgs& a);
void gru_update_f32(const GruGateArgs& a);
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
}  // namespace x86
}  // namespace edgeq::kernels
