#include "llm/perplexity.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/check.h"
#include "llm/sampler.h"

namespace edgeq::llm {
namespace {

// max(z) + log(sum exp(z - max(z))), in double.
double log_sum_exp(std::span<const float> z) {
    EDGEQ_CHECK(!z.empty());
    double mx = z[0];
    for (float v : z) mx = std::max(mx, static_cast<double>(v));
    double s = 0.0;
    for (float v : z) s += std::exp(static_cast<double>(v) - mx);
    return mx + std::log(s);
}

double stderr_of(double sum, double sum2, int64_t n) {
    if (n < 2) return 0.0;
    const double mean = sum / static_cast<double>(n);
    const double var = sum2 / static_cast<double>(n) - mean * mean;
    return var > 0.0 ? std::sqrt(var / static_cast<double>(n - 1)) : 0.0;
}

}  // namespace

void log_softmax(std::span<const float> logits, std::vector<double>& out) {
    const double lse = log_sum_exp(logits);
    out.resize(logits.size());
    for (size_t i = 0; i < logits.size(); ++i) out[i] = static_cast<double>(logits[i]) - lse;
}

double token_nll(std::span<const float> logits, int32_t token) {
    EDGEQ_CHECK(token >= 0 && static_cast<size_t>(token) < logits.size());
    return log_sum_exp(logits) - static_cast<double>(logits[static_cast<size_t>(token)]);
}

Result<std::vector<std::vector<int32_t>>> make_chunks(std::span<const int32_t> tokens, int64_t ctx,
                                                      int64_t max_chunks, int32_t bos) {
    if (ctx < 2)
        return InvalidArgument("the context must hold at least 2 tokens, got " + std::to_string(ctx));
    const int64_t n = static_cast<int64_t>(tokens.size());
    if (n < ctx)
        return InvalidArgument("the text has " + std::to_string(n) + " tokens, fewer than one chunk of " +
                               std::to_string(ctx));
    int64_t k = n / ctx;
    if (max_chunks > 0) k = std::min(k, max_chunks);
    std::vector<std::vector<int32_t>> chunks(static_cast<size_t>(k));
    for (int64_t c = 0; c < k; ++c) {
        auto first = tokens.begin() + c * ctx;
        chunks[static_cast<size_t>(c)].assign(first, first + ctx);
        if (bos >= 0) chunks[static_cast<size_t>(c)][0] = bos;
    }
    return chunks;
}

void PplAccumulator::add_nll(double nll) {
    ++n_;
    sum_ += nll;
    sum2_ += nll * nll;
}

PplStats PplAccumulator::stats() const {
    PplStats s;
    s.count = n_;
    if (n_ == 0) return s;
    s.nll_mean = sum_ / static_cast<double>(n_);
    s.ppl = std::exp(s.nll_mean);
    s.ppl_stderr = s.ppl * stderr_of(sum_, sum2_, n_);
    return s;
}

double percentile_sorted(std::span<const double> sorted, double fraction) {
    EDGEQ_CHECK(!sorted.empty());
    if (fraction <= 0.0) return sorted.front();
    if (fraction >= 1.0) return sorted.back();
    const double p = fraction * static_cast<double>(sorted.size() - 1);
    const size_t i = static_cast<size_t>(p);
    const double f = p - static_cast<double>(i);
    const size_t j = std::min(i + 1, sorted.size() - 1);
    return (1.0 - f) * sorted[i] + f * sorted[j];
}

void KlAccumulator::add(std::span<const float> base, std::span<const float> test, int32_t next_token) {
    EDGEQ_CHECK(base.size() == test.size() && !base.empty());
    log_softmax(base, lb_);
    log_softmax(test, lt_);
    double kld = 0.0;
    for (size_t i = 0; i < lb_.size(); ++i) {
        const double pb = std::exp(lb_[i]);
        if (pb > 0.0) kld += pb * (lb_[i] - lt_[i]);
    }
    kld_.push_back(kld);
    sum_kld_ += kld;
    sum_kld2_ += kld * kld;
    if (argmax(base) == argmax(test)) ++same_top_;
    if (next_token >= 0) {
        EDGEQ_CHECK(static_cast<size_t>(next_token) < base.size());
        const size_t t = static_cast<size_t>(next_token);
        base_.add_nll(-lb_[t]);
        test_.add_nll(-lt_[t]);
        const double dp = std::exp(lt_[t]) - std::exp(lb_[t]);
        ++n_dp_;
        sum_dp_ += dp;
        sum_dp2_ += dp * dp;
        max_dp_ = std::max(max_dp_, std::fabs(dp));
    }
}

KlStats KlAccumulator::stats() const {
    KlStats s;
    s.positions = static_cast<int64_t>(kld_.size());
    if (s.positions > 0) {
        const double n = static_cast<double>(s.positions);
        s.kld_mean = sum_kld_ / n;
        s.kld_stderr = stderr_of(sum_kld_, sum_kld2_, s.positions);
        std::vector<double> sorted = kld_;
        std::sort(sorted.begin(), sorted.end());
        s.kld_median = percentile_sorted(sorted, 0.5);
        s.kld_p99 = percentile_sorted(sorted, 0.99);
        s.kld_p999 = percentile_sorted(sorted, 0.999);
        s.kld_max = sorted.back();
        s.kld_min = sorted.front();
        s.top1_agreement = static_cast<double>(same_top_) / n;
    }
    s.predictions = n_dp_;
    s.ppl_base = base_.stats();
    s.ppl_test = test_.stats();
    if (n_dp_ > 0) {
        const double n = static_cast<double>(n_dp_);
        s.ln_ppl_ratio = s.ppl_test.nll_mean - s.ppl_base.nll_mean;
        s.dp_mean = sum_dp_ / n;
        s.dp_rms = std::sqrt(sum_dp2_ / n);
        s.dp_max_abs = max_dp_;
    }
    return s;
}

}  // namespace edgeq::llm
