// `edgeq compare REF.gguf MODEL.gguf --data TEXT`: the GGUF half of compare (the ONNX half: eval/compare.h).
// Both llama models evaluate the same tokens (REF's tokenizer, BOS first, `chunks` chunks of `ctx` tokens);
// per layer it compares what enters every matrix product (the llm::MatmulObserver seam: attention q/k/v share
// one input, so do ffn gate/up; each distinct input is one row, named by the first weight that reads it), and
// per weight tensor the dequantized weights. Final output: KL divergence of MODEL's next-token distribution from
// REF's (mean, max), top-1 agreement, and both models' perplexity on those tokens. NaN/Inf in the logits or the
// activations, and non-finite dequantized weights, are listed as problems.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/error_stats.h"
#include "edgeq/status.h"

namespace edgeq::llm {

struct GgufTensorError : ErrorStats {
    std::string name;          // weight (or, for activations, the first weight reading that input)
    std::string type;          // MODEL's stored type (weights)
    int64_t nan = 0, inf = 0;  // MODEL side
};

struct GgufCompareOptions {
    std::string text_path;
    int64_t ctx = 128;
    int64_t chunks = 1;
    int threads = 0;
    std::function<void(int64_t done, int64_t total)> progress;  // chunks
};

struct GgufCompareReport {
    std::vector<GgufTensorError> activations;  // forward order
    std::vector<GgufTensorError> weights;      // file order
    int64_t positions = 0;
    double kld_mean = 0, kld_max = 0, top1_agreement = 0, ppl_ref = 0, ppl = 0;
    std::string first_jump;  // first activation whose SQNR is >= 6 dB below the previous row's
    double first_jump_drop_db = 0;
    std::vector<std::string> problems;
};

// Errors: unreadable files, different vocabularies or shapes, text shorter than one chunk (named).
Result<GgufCompareReport> compare_gguf(const std::string& ref_path, const std::string& model_path,
                                       const GgufCompareOptions& opts);

}  // namespace edgeq::llm
