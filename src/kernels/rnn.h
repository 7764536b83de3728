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

// One row per instruction set; every row implements all four functions.
struct RnnKernelRow {
    Isa isa;
    const char* name;  // "rnn_gates_f32__avx512", ... (what the executor's trace shows)
    LstmGateFn lstm;
    GruGateFn gru_lbr, gru_reset, gru_update;
};

// Every row compiled into this binary (whether or not this CPU can run it); the reference row is first.
std::span<const RnnKernelRow> rnn_kernel_rows();
// Best row enabled by active_isa() (the reference row is always there).
const RnnKernelRow& select_rnn();
// The row for isa if compiled in, else nullptr.
const RnnKernelRow* find_rnn(Isa isa);

}  // namespace edgeq::kernels
