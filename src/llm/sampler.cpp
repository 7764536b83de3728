#include "llm/sampler.h"

#include <algorithm>
#include <cmath>

namespace edgeq::llm {

int32_t argmax(std::span<const float> v) {
    if (v.empty()) return -1;
    size_t best = 0;
    for (size_t i = 1; i < v.size(); ++i)
        if (v[i] > v[best]) best = i;
    return static_cast<int32_t>(best);
}

Sampler::Sampler(const SamplerOptions& o) : o_(o), rng_(o.seed) {}

Result<int32_t> Sampler::sample(std::span<const float> logits) {
    if (logits.empty()) return InvalidArgument("sampler: no logits");
    for (float l : logits)
        if (std::isnan(l)) return InvalidArgument("sampler: NaN in the logits");
    if (o_.temperature <= 0.0f) return argmax(logits);
    cands_.resize(logits.size());
    for (size_t i = 0; i < logits.size(); ++i) cands_[i] = {static_cast<int32_t>(i), logits[i]};
    auto by_logit = [](const Cand& a, const Cand& b) { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); };
    // top-k: keep the k largest logits, sorted descending.
    size_t n = cands_.size();
    if (o_.top_k > 0 && static_cast<size_t>(o_.top_k) < n) {
        n = static_cast<size_t>(o_.top_k);
        std::partial_sort(cands_.begin(), cands_.begin() + static_cast<std::ptrdiff_t>(n), cands_.end(), by_logit);
        cands_.resize(n);
    } else {
        std::sort(cands_.begin(), cands_.end(), by_logit);
    }
    // top-p on the softmax at temperature 1 (llama.cpp applies temperature after top-p): the smallest prefix whose
    // probability mass reaches p (at least one token).
    if (o_.top_p < 1.0f) {
        const double mx = cands_[0].logit;
        double sum = 0;
        std::vector<double> p(n);
        for (size_t i = 0; i < n; ++i) sum += p[i] = std::exp(static_cast<double>(cands_[i].logit) - mx);
        double cum = 0;
        size_t keep = n;
        for (size_t i = 0; i < n; ++i) {
            cum += p[i] / sum;
            if (cum >= o_.top_p) {
                keep = i + 1;
                break;
            }
        }
        cands_.resize(keep);
        n = keep;
    }
    // temperature, softmax, one draw.
    const double mx = cands_[0].logit / static_cast<double>(o_.temperature);
    std::vector<double> w(n);
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += w[i] = std::exp(cands_[i].logit / static_cast<double>(o_.temperature) - mx);
    const double u = std::uniform_real_distribution<double>(0.0, sum)(rng_);
    double acc = 0;
    for (size_t i = 0; i < n; ++i) {
        acc += w[i];
        if (u < acc) return cands_[i].id;
    }
    return cands_[n - 1].id;
}

}  // namespace edgeq::llm
