// Automatic mixed precision for GGUF LLMs (the library behind `edgeq autotune IN.gguf OUT.gguf --data TEXT
// (--max-kld X | --target-bpw B)`; method and measurements in docs/llm/autotune.md).
//
//   1. The text is tokenized (BOS first) and cut into chunks of ctx tokens (make_chunks). The last quarter
//      of the chunks (at most max_eval_chunks) is the held-out split; the rest is the calibration split.
//   2. Calibration: Hessians H = 2/N X^T X of every matmul input of the input model (ImatrixCollector) on
//      up to max_calib_chunks calibration chunks.
//   3. Every weight matrix is quantized to each candidate type (quant/gguf_autotune.h: the candidates, with
//      llama-quantize's fallbacks for short rows) by round-to-nearest (ggml's quantizers weighted by the
//      imatrix, or by diag(H)/2) and by GPTQ (quant/gguf_gptq.h) when the type and a Hessian allow; the one
//      with the lower Hessian-weighted output error tr(E H E^T) is kept.
//   4. Sensitivity: the mean KLD against the input model's logits on the sensitivity chunks (the first
//      calibration chunks, about sens_tokens tokens) with only that tensor in that type.
//   5. Greedy allocation path by KLD decrease per byte (greedy_allocation_path); the budget picks a step.
//   6. Verification on the held-out split; --max-kld bisects along the path for the smallest step whose
//      held-out KLD meets the budget; --target-bpw keeps the lowest held-out KLD among the measured steps
//      that fit. A few more steps are measured for the size / KLD front.
//   7. The best model found is written (temp file + rename) even when the budget is not met.
// Bits per weight are llama.cpp's: 8 * all tensor bytes / all parameters (norms and F16 fallbacks count).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "edgeq/dtype.h"
#include "edgeq/status.h"

namespace edgeq::llm {

struct AutotuneOptions {
    std::string input, output;
    std::string text;               // calibration + held-out text (UTF-8)
    std::string text_name;          // for messages (the --data path)
    std::optional<double> max_kld;  // exactly one of these two
    std::optional<double> target_bpw;
    std::vector<std::string> candidates;  // block type names; empty: q2_k q3_k q4_k q5_k q6_k q8_0
    std::string imatrix_path;             // optional llama.cpp imatrix: RTN / GPTQ block-fit weights
    int64_t ctx = 0;                      // 0: min(256, trained context), lowered to fit 2 chunks
    int threads = 0;
    bool gptq = true;               // try GPTQ per tensor (kept when its Hessian-weighted error is lower)
    int64_t max_calib_chunks = 16;  // chunks for the Hessians
    int64_t sens_tokens = 512;      // tokens per sensitivity measurement (whole chunks, at least one)
    int64_t max_eval_chunks = 8;    // held-out chunks
    int front_points = 6;           // extra path steps measured on held-out text for the front
};

struct AutotuneTensorResult {
    std::string name;
    std::vector<int64_t> ne;
    DType from = DType::F32, to = DType::F32;
    uint64_t bytes = 0;
    bool tuned = false;      // searched (false: copied, or F16 because no candidate fits its rows)
    bool gptq = false;       // the chosen bytes came from GPTQ
    double sensitivity = 0;  // calibration KLD with only this tensor in `to` (tuned tensors)
};

struct AutotunePoint {
    int64_t step = 0;    // index on the allocation path
    uint64_t bytes = 0;  // all tensors
    double bpw = 0;
    double predicted = 0;                               // sum of the sensitivities
    double kld = 0, kld_stderr = 0, ppl = 0, top1 = 0;  // held-out
};

struct AutotuneResult {
    std::string output;
    std::vector<AutotuneTensorResult> tensors;  // file order
    uint64_t bytes = 0;                         // all tensor bytes of the written model
    int64_t n_params = 0;
    double bpw = 0;
    double kld = 0, kld_stderr = 0, ppl = 0, top1 = 0;  // held-out, of the written model
    double ppl_base = 0;                                // held-out PPL of the input model
    bool budget_met = false;
    std::string budget;                   // "max-kld 0.01" / "target-bpw 4.88"
    std::vector<AutotunePoint> measured;  // every held-out measurement, by step
    std::vector<size_t> front;            // indexes into measured: the size / KLD Pareto front
    size_t chosen = 0;                    // index into measured of the written model
    int64_t ctx = 0, calib_chunks = 0, sens_chunks = 0, eval_chunks = 0, path_steps = 0;
    int64_t sens_evals = 0;
    double seconds = 0;
};

// stage: "hessians", "quantize", "sensitivity", "verify"; done of total units of that stage.
using AutotuneProgress = std::function<void(const std::string& stage, int64_t done, int64_t total)>;

// Errors: not a llama GGUF, a tensor that is already quantized (needs F32/F16/BF16 weights), no or both
// budgets, bad candidates, text too short for two chunks, output == input, write failures.
Result<AutotuneResult> autotune_gguf(const AutotuneOptions& o, const AutotuneProgress& progress = {});

}  // namespace edgeq::llm
