// Gate kernels of recurrent cells (ONNX LSTM and GRU, default activations: sigmoid for the gates, tanh for
// the candidate and the cell output). The matrix products are not here: the fast executor runs them with the
// GEMM rows of kernels.h (one X·Wᵀ over all steps, one H·Rᵀ per step) and passes their results in. These
// kernels do the elementwise rest of one time step for `rows` batch rows, each row addressed through its own
// strides, so the caller can point straight into the ONNX tensors (layout 0 or 1, either direction).
//
// Same layer rules as kernels.h: pointers and strides only, no allocation, no threads. Every function has a
// scalar reference (kernels/ref/rnn_ref.cpp, std::exp / std::tanh, the specification) and AVX2 / AVX-512 rows
// (kernels/x86/rnn_avx2.cpp, rnn_avx512.cpp; exp polynomial, relative error ≈ 2e-7). select_rnn() picks the
// best row enabled by active_isa() (EDGEQ_ISA caps it), independently of kernels.h's table.
//
// Gate order inside a row is ONNX's: LSTM i, o, f, c; GRU z, r, h. H = hidden size; σ = 1 / (1 + e^-x).
#pragma once

#include <cstdint>
#include <span>

#include "core/cpu.h"

namespace edgeq::kernels {

// LSTM, one step, per row r < rows and unit j < H (x = xw + r·ldxw, a = hr + r·ldhr, p = peepholes or
// nullptr):
//   i = σ(x[j] + a[j] + Pi[j]·c)       f = σ(x[2H+j] + a[2H+j] + Pf[j]·c)       g = tanh(x[3H+j] + a[3H+j])
//   c' = f·c + i·g                      o = σ(x[H+j] + a[H+j] + Po[j]·c')        h' = o·tanh(c')
// c is updated in place; h' goes to h and, when y is not null, also to y.
struct LstmGateArgs {
    int64_t rows = 0, H = 0;
    const float* xw = nullptr;  // [rows][4H] x·Wᵀ + Wb + Rb
    int64_t ldxw = 0;
    const float* hr = nullptr;  // [rows][4H] h·Rᵀ
    int64_t ldhr = 0;
    const float* p = nullptr;  // [3H] peepholes Pi, Po, Pf, or nullptr
    float* c = nullptr;        // [rows][H] cell state, in and out
    int64_t ldc = 0;
    float* h = nullptr;  // [rows][H] new hidden state
    int64_t ldh = 0;
    float* y = nullptr;  // [rows][H] copy of the new hidden state (ONNX Y), or nullptr
    int64_t ldy = 0;
};
using LstmGateFn = void (*)(const LstmGateArgs&);

// GRU, one step. xw rows hold x·Wᵀ plus the biases that are added outside the reset gate; hr rows are the
// caller's scratch, [3H] per row. Three functions, per row r and unit j:
//   gru_lbr (linear_before_reset = 1; hr = h·Rᵀ, with Rbh already added to its h part):
//     z = σ(x[j] + a[j])   r = σ(x[H+j] + a[H+j])   g = tanh(x[2H+j] + r·a[2H+j])   h' = (1 − z)·g + z·h
//   gru_reset (linear_before_reset = 0, first half; hr = h·Rᵀ for the z and r parts only):
//     a[j] := σ(x[j] + a[j]) (z kept for gru_update)   rh[j] = σ(x[H+j] + a[H+j]) · h[j]
//   gru_update (second half; the caller has written (r⊙h)·Rhᵀ into a[2H..3H)):
//     g = tanh(x[2H+j] + a[2H+j])   h' = (1 − a[j])·g + a[j]·h
// h is updated in place (h' → h, and to y when y is not null).
struct GruGateArgs {
    int64_t rows = 0, H = 0;
    const float* xw = nullptr;  // [rows][3H] x·Wᵀ + Wb (+ Rb for z, r, and for h unless linear_before_reset)
    int64_t ldxw = 0;
    float* hr = nullptr;  // [rows][3H] see above
    int64_t ldhr = 0;
    float* rh = nullptr;  // [rows][H] r ⊙ h (gru_reset's output)
    int64_t ldrh = 0;
    float* h = nullptr;  // [rows][H] hidden state, in and out
    int64_t ldh = 0;
    float* y = nullptr;  // [rows][H] copy of the new hidden state, or nullptr
    int64_t ldy = 0;
};
using GruGateFn = void (*)(const GruGateArgs&);

// INT8 recurrences (W and R int8, as dynamic / static quantization writes them behind DequantizeLinear): the
// fast executor computes each product A·Bᵀ (A = X for all steps, or h / r⊙h per step) as
//   quantize_rows_u8(A) → qgemm_u8s8 (kernels/qgemm.h, S32 output, a_zero 0) → dequant_rows_s32
// i.e. ONNX Runtime's DynamicQuantizeLSTM semantics (activations quantized at run time, int32 accumulation,
// float gates), except that A is quantized per row (batch row and time step) rather than per tensor, so a
// row's result never depends on the other rows of the batch.
//
// quantize_rows_u8: DynamicQuantizeLinear applied to each row m < rows on its own (finite x):
//   lo = min(0, min_k x[m][k])   hi = max(0, max_k x[m][k])   scale[m] = (hi − lo) / 255  (1 when hi == lo)
//   zero[m] = clamp(nearbyint(−lo / scale[m]), 0, 255)
//   q[m][k] = clamp(nearbyint(x[m][k] / scale[m]) + zero[m], 0, 255)       (round half to even)
struct QuantRowsArgs {
    int64_t rows = 0, K = 0;
    const float* x = nullptr;  // x[m][k] at x[m·ldx + k]
    int64_t ldx = 0;
    uint8_t* q = nullptr;  // q[m][k] at q[m·ldq + k]
    int64_t ldq = 0;
    float* scale = nullptr;   // [rows]
    int32_t* zero = nullptr;  // [rows]
};
using QuantRowsFn = void (*)(const QuantRowsArgs&);

// dequant_rows_s32: acc = Σ_k q[m][k]·(B[k][n] − zb[n]) from the qgemm (a_zero 0); colsum[n] = Σ_k (B[k][n] −
// zb[n]):
//   y[m][n] = float(acc[m][n] − zero[m]·colsum[n]) · (scale[m]·b_scale[n])  + bias[n]     (multiply, then
//   add)
// y may be the same memory as acc (ldy == ldacc): each element is read before it is written.
struct DequantRowsArgs {
    int64_t rows = 0, N = 0;
    const int32_t* acc = nullptr;  // acc[m][n] at acc[m·ldacc + n]
    int64_t ldacc = 0;
    const int32_t* zero = nullptr;    // [rows]
    const float* scale = nullptr;     // [rows]
    const int32_t* colsum = nullptr;  // [N]
    const float* b_scale = nullptr;   // [N]
    const float* bias = nullptr;      // [N], or nullptr
    float* y = nullptr;               // y[m][n] at y[m·ldy + n]
    int64_t ldy = 0;
};
using DequantRowsFn = void (*)(const DequantRowsArgs&);

// q8_product: the product and its dequantization in one pass, for B without zero points (symmetric int8
// weights, as edgeq's quantizer writes them by default). B is packed by qpack_b (kernels/qgemm.h: panels of
// 16 columns, K in groups of 4; K ≤ kQMaxK) and colsum[n] = Σ_k B[k][n]:
//   y[m][n] = float(Σ_k q[m][k]·B[k][n] − zero[m]·colsum[n]) · (scale[m]·b_scale[n])  + bias[n]
// i.e. qgemm_u8s8 (S32, a_zero 0) followed by dequant_rows_s32, equal to them bit for bit. Small-K shapes
// (the recurrence: K = H) spend most of qgemm's time in its per-tile setup; this kernel has none.
struct Q8ProductArgs {
    int64_t rows = 0, N = 0, K = 0;
    const uint8_t* q = nullptr;  // q[m][k] at q[m·ldq + k]
    int64_t ldq = 0;
    const int32_t* zero = nullptr;    // [rows]
    const float* scale = nullptr;     // [rows]
    const void* b = nullptr;          // qpack_b(K, N)
    const int32_t* colsum = nullptr;  // [N]
    const float* b_scale = nullptr;   // [N]
    const float* bias = nullptr;      // [N], or nullptr
    float* y = nullptr;               // y[m][n] at y[m·ldy + n]
    int64_t ldy = 0;
};
using Q8ProductFn = void (*)(const Q8ProductArgs&);

// One row per instruction set; every row implements all six functions, and q8_product where it has one
// (nullptr: the caller uses qgemm + dequant_rows_s32).
struct RnnKernelRow {
    Isa isa;
    const char* name;  // "rnn_gates_f32__avx512", ... (what the executor's trace shows)
    LstmGateFn lstm;
    GruGateFn gru_lbr, gru_reset, gru_update;
    const char* q8_name;  // "rnn_q8_rows__avx512", ... (the INT8 step's row quantize / dequantize)
    QuantRowsFn quantize_rows_u8;
    DequantRowsFn dequant_rows_s32;
    Q8ProductFn q8_product;  // or nullptr
};

// Every row compiled into this binary (whether or not this CPU can run it); the reference row is first.
std::span<const RnnKernelRow> rnn_kernel_rows();
// Best row enabled by active_isa() (the reference row is always there).
const RnnKernelRow& select_rnn();
// The row for isa if compiled in, else nullptr.
const RnnKernelRow* find_rnn(Isa isa);

}  // namespace edgeq::kernels
