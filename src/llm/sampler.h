// Token sampling from logits, in llama.cpp's default chain order (common/sampling: top-k -> top-p -> temperature
// -> draw): greedy when temperature <= 0. Deterministic for a given seed (std::mt19937_64, one draw per token).
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "edgeq/status.h"

namespace edgeq::llm {

struct SamplerOptions {
    float temperature = 0.0f;  // <= 0: greedy (argmax, lowest id on ties)
    int32_t top_k = 40;        // <= 0: all tokens
    float top_p = 0.95f;       // >= 1: off
    uint64_t seed = 0;
};

class Sampler {
public:
    explicit Sampler(const SamplerOptions& o);
    // Picks the next token id from logits (one per vocabulary entry). Errors: empty logits, NaN logits.
    Result<int32_t> sample(std::span<const float> logits);
    const SamplerOptions& options() const { return o_; }

private:
    SamplerOptions o_;
    std::mt19937_64 rng_;
    struct Cand {
        int32_t id;
        float logit;
    };
    std::vector<Cand> cands_;  // reused
};

// Index of the largest value (lowest index on ties); -1 for an empty span.
int32_t argmax(std::span<const float> v);

}  // namespace edgeq::llm
