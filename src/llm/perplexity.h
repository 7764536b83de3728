// Perplexity and KL-divergence statistics over language-model logits (docs/llm/perplexity.md), the numbers
// llama.cpp's `llama-perplexity` reports. Pure computation on logit rows: no model, no files.
//
// Conventions (all in double, natural log):
//   log_softmax(z)_i = z_i - max(z) - log(sum_j exp(z_j - max(z)))
//   NLL of token t under a row z = -log_softmax(z)_t;  PPL = exp(mean NLL)
//   KLD(base || test) at a position = sum_i p_base,i * (log p_base,i - log p_test,i)
//   top-1 agreement: argmax(base) == argmax(test) (llm/sampler.h argmax: lowest index on ties)
//   Δp = p_test(t) - p_base(t) for the actual next token t;  RMS Δp = sqrt(mean Δp²)
// llama.cpp stores its base log-probabilities as 16-bit codes and skips base probabilities below e^-16 in the
// KLD sum; edgeq uses the exact float32 base logits, so its KLD is the exact one (differences ~1e-7
// absolute).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "edgeq/status.h"

namespace edgeq::llm {

// out[i] = log_softmax(logits)_i (out is resized to logits.size()). logits must be non-empty and finite-max.
void log_softmax(std::span<const float> logits, std::vector<double>& out);
// -log_softmax(logits)_token. token must be in range.
double token_nll(std::span<const float> logits, int32_t token);

// The evaluation chunks of llama-perplexity: tokens (BOS already first when the model adds one) are cut into
// floor(n / ctx) consecutive chunks of ctx tokens, at most max_chunks of them (<= 0: all), and the first
// token of every chunk is replaced by bos (when bos >= 0), so each chunk is evaluated as a fresh sequence
// starting with BOS. Errors: ctx < 2, or fewer than ctx tokens.
Result<std::vector<std::vector<int32_t>>> make_chunks(std::span<const int32_t> tokens, int64_t ctx,
                                                      int64_t max_chunks, int32_t bos);

// Running perplexity: add(row, next) for every scored prediction.
struct PplStats {
    int64_t count = 0;        // predictions
    double nll_mean = 0.0;    // mean NLL (nats per token)
    double ppl = 0.0;         // exp(nll_mean)
    double ppl_stderr = 0.0;  // llama.cpp's "+/-": ppl * sqrt(var(NLL) / (count - 1)); 0 when count < 2
};
class PplAccumulator {
  public:
    void add(std::span<const float> logits, int32_t next_token) { add_nll(token_nll(logits, next_token)); }
    void add_nll(double nll);
    PplStats stats() const;

  private:
    int64_t n_ = 0;
    double sum_ = 0.0, sum2_ = 0.0;
};

// KL divergence and agreement of test logits against base logits, position by position.
struct KlStats {
    int64_t positions = 0;  // positions compared (KLD, top-1)
    double kld_mean = 0.0;
    double kld_stderr = 0.0;  // sqrt(var(KLD) / (positions - 1))
    double kld_median = 0.0;  // percentiles: linear interpolation between sorted values (numpy's default)
    double kld_p99 = 0.0;
    double kld_p999 = 0.0;  // 99.9 %
    double kld_max = 0.0;
    double kld_min = 0.0;
    double top1_agreement = 0.0;  // fraction of positions
    // Over the positions that have a next token (predictions):
    int64_t predictions = 0;
    PplStats ppl_base, ppl_test;
    double ln_ppl_ratio = 0.0;  // ln(PPL(test) / PPL(base)) = mean NLL difference
    double dp_mean = 0.0;       // mean Δp
    double dp_rms = 0.0;        // RMS Δp
    double dp_max_abs = 0.0;    // max |Δp|
};
class KlAccumulator {
  public:
    // base and test: one position's logits (same size). next_token: the actual next token, or -1 when the
    // position has none (it then counts for KLD and top-1 only).
    void add(std::span<const float> base, std::span<const float> test, int32_t next_token);
    KlStats stats() const;

  private:
    std::vector<double> kld_;
    int64_t same_top_ = 0;
    double sum_kld_ = 0.0, sum_kld2_ = 0.0;
    PplAccumulator base_, test_;
    int64_t n_dp_ = 0;
    double sum_dp_ = 0.0, sum_dp2_ = 0.0, max_dp_ = 0.0;
    std::vector<double> lb_, lt_;  // scratch
};

// Linear-interpolation percentile of sorted values (fraction in [0, 1]); values must be non-empty and sorted.
double percentile_sorted(std::span<const double> sorted, double fraction);

}  // namespace edgeq::llm
