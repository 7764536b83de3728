// The optimized FP32 executor. plan() turns a model and its input shapes into a Plan once: every value name
// becomes a slot index, shapes are fixed (one reference run with zero inputs records them), Conv / Gemm /
// MatMul / LSTM / GRU weights (and com.edgeq Fused* variants from passes::optimize) are packed for the
// selected kernel, and per-thread workspaces and output buffers are allocated. Plan::run() then walks a flat
// step list: kernel steps (kernels/: GEMM, im2col conv, depthwise conv, pooling; LSTM / GRU in rnn.h) write
// into buffers reused across runs; every other node runs its reference op (runtime/ref), so a Plan runs any
// model the reference executor runs and agrees with it within float rounding
// (tests/unit/runtime/fast_executor_test.cpp, fast_rnn_test.cpp). An LSTM / GRU the fast step does not cover
// (clip, other activations, ...) runs its reference op and its trace line says why: "ref (no fast LSTM:
// clip)". Shape arithmetic that the planned input shapes fix (Shape of a value whose shape cannot depend on
// data, then Gather / Concat / ConstantOfShape /
// ... on constants) is folded at plan time: those nodes have no step (executor.cpp, foldable_op()).
// QDQ graphs (DequantizeLinear -> Conv / Gemm / MatMul with int8 weights [-> Relu / Clip] [-> QuantizeLinear])
// run as integer steps (qfuse.h: u8 im2col + qgemm, requantized or dequantized in the epilogue); their trace
// kernel reads "qconv_u8s8 <qgemm row>", and the absorbed DQ / activation / Q nodes have no step. This needs
// the weight DQs unfolded (passes::OptimizeOptions::keep_weight_dequantize, which Session sets).
//
// Threads: PlanOptions::threads workers (the caller included) split GEMM columns / conv pixels / depthwise
// channels of large nodes; a node too small to pay for the hand-off runs on the calling thread.
// The Plan keeps a pointer to the model: the model must outlive it. A Plan is not safe to run from two
// threads at once (it owns its buffers); make one Plan per thread instead.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "edgeq/status.h"
#include "edgeq/tensor.h"
#include "graph/graph.h"

namespace edgeq::runtime::fast {

using Shapes = std::map<std::string, Shape>;  // graph input name -> shape to plan for

struct PlanOptions {
    int threads = 1;       // total threads, the caller's included (>= 1)
    bool profile = false;  // time every step (StepInfo::total_ns, runs)
};

// One step of the plan, in execution order, for traces and reports.
struct StepInfo {
    std::string node;    // node name (or "#index" when unnamed)
    std::string op;      // "Conv", "com.edgeq.FusedGemm", ...
    std::string kernel;  // kernel row that ran, e.g. "conv2d_f32__avx512_im2col_6x32", or "ref" (reference op;
                         // "ref (no fast GRU: <reason>)" for a recurrent node the fast step refused)
    std::string fused;   // what the plan folded into this step beyond the node itself, e.g. "Add(bias)+Relu"
    int64_t flops = 0;   // 2·MACs of a kernel step (0 for reference ops)
    int64_t total_ns = 0;  // with PlanOptions::profile
    int64_t runs = 0;
};

class Plan {
public:
    Plan(Plan&&) noexcept;
    Plan& operator=(Plan&&) noexcept;
    ~Plan();

    // Inputs in graph-input order (input_names()); shapes and dtypes must equal the planned ones.
    // Returns the graph outputs in output_names() order; they are the caller's (never reused by later runs).
    Result<std::vector<Tensor>> run(std::span<const Tensor> inputs);
    // By name, like runtime::run_reference.
    Result<std::map<std::string, Tensor>> run(const std::map<std::string, Tensor>& inputs);

    const std::vector<std::string>& input_names() const;
    const std::vector<std::string>& output_names() const;
    const std::vector<StepInfo>& steps() const;
    int threads() const;
    // One line per step: "node  op  kernel  [fused]".
    std::string trace() const;

private:
    struct Impl;
    explicit Plan(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
    friend Result<Plan> plan(const graph::Model&, const Shapes&, const PlanOptions&);
};

// Errors: an input shape missing or contradicting the model's declaration, or what the reference executor
// reports for the shape-recording run (unsupported op, bad model).
Result<Plan> plan(const graph::Model& model, const Shapes& input_shapes, const PlanOptions& opts = {});

}  // namespace edgeq::runtime::fast
