// The fast executor's LSTM / GRU step (ONNX opsets 7-14, FP32). plan_rnn() decides at plan time whether a
// node can take the fast path and packs its weights; RnnStep::run() then computes, per run:
//   1. one packed GEMM  XW[S·N][dirs·G·H] = X[S·N][I] · [W_fwd | W_rev]ᵀ + bias   (every step, batch row and
//      direction at once; bias = Wb + Rb, except GRU's Rbh when linear_before_reset, which stays inside
//      r·(…))
//   2. per time step and direction: one GEMM  HR[rows][G·H] = h · Rᵀ  (R packed; GRU without
//      linear_before_reset: z, r columns first, then (r⊙h) · Rhᵀ), then the gate kernels of kernels/rnn.h.
// Threads: XW splits its columns (as Gemm steps do); the recurrence splits the batch (and the directions)
// into independent chunks, each run start to end by one thread with no synchronisation between steps. Only
// when the recurrence has at least `parallel_flops` flops; otherwise everything runs on the calling thread.
//
// INT8: when W and R are both int8 codes behind a DequantizeLinear of initializers (per tensor, or per gate
// row: axis 1, with or without zero points; what `edgeq quantize --method dynamic|static` writes), the step
// keeps them int8 (packed once here with qpack_b) and runs each product as ONNX Runtime's DynamicQuantizeLSTM
// does: the activations (X for all steps at once, then h, and GRU's r⊙h, per step) quantized to u8 at run time,
// one scale and zero point per row (DynamicQuantizeLinear per row), int32 sums, scaled back to float; the
// gates stay float. The result differs from the float-weight reference op by that activation rounding (tests:
// kQ8Tol in tests/unit/runtime/fast_rnn_test.cpp). Trace: "lstm_q8([qgemm row, ]rnn_q8_rows__<isa>, gates)".
//
// Supported: directions forward / reverse / bidirectional, optional B, sequence_lens (read every run),
// initial_h / initial_c (any producer, read every run), P (LSTM peepholes), layout 0 / 1 (opset ≥ 14),
// linear_before_reset, and X produced by a Transpose [1, 0, 2] the step absorbs (x_transposed). The default
// activations only; clip, input_forget, other activations, non-constant W / R / B / P, non-F32 tensors and
// RNN (the plain cell) are refused with a reason, and the node runs the reference op.
#pragma once

#include <functional>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "edgeq/status.h"
#include "edgeq/tensor.h"
#include "graph/graph.h"

namespace edgeq::runtime::fast {

class ThreadPool;

struct RnnStep;  // defined in rnn.cpp
struct RnnStepDeleter {
    void operator()(RnnStep* s) const;
};
using RnnStepPtr = std::unique_ptr<RnnStep, RnnStepDeleter>;

struct RnnPlanArgs {
    const graph::Node* node = nullptr;
    const graph::Graph* graph = nullptr;  // for the constant W, R, B, P
    // Optional: the constant value of a name that is not an initializer (W and R behind a DequantizeLinear of
    // int8 initializers, as dynamic quantization writes them), or nullptr.
    std::function<const Tensor*(const std::string&)> constant;
    int opset = 0;                        // of the default domain (layout exists from 14)
    Shape x_shape;                        // planned shape of X as the node sees it
    DType x_dtype = DType::F32;
    bool x_transposed =
        false;  // X is read from a Transpose [1, 0, 2]'s input (the seq and batch axes swapped)
    int threads = 1;
    int64_t parallel_flops = 0;
    int64_t parallel_flops_int8 = 0;  // the same for the INT8 recurrence (W and R int8)
};

struct RnnPlan {
    RnnStepPtr step;  // null: use the reference op
    std::string why;  // when null: the reason, for the trace
};
RnnPlan plan_rnn(const RnnPlanArgs& a);

// Kernel description for the trace, e.g. "lstm_f32(gemm_f32_f32_f32__avx512_6x32, rnn_gates_f32__avx512)".
std::string rnn_kernel_name(const RnnStep& s);
int64_t rnn_flops(const RnnStep& s);
// Output shapes (Y, Y_h, Y_c; Y_c empty for GRU).
std::vector<Shape> rnn_output_shapes(const RnnStep& s);

// in: X (as stored: transposed when absorbed), sequence_lens, initial_h, initial_c (null when absent).
// out: Y, Y_h, Y_c buffers of rnn_output_shapes() or null when nobody reads them. Errors: a sequence length
// outside [0, seq] or a state / X tensor whose shape or dtype differs from the plan.
Status run_rnn(RnnStep& s, ThreadPool& pool, const Tensor* x, const Tensor* lens, const Tensor* h0,
               const Tensor* c0, Tensor* y, Tensor* yh, Tensor* yc);

}  // namespace edgeq::runtime::fast
