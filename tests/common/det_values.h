// Deterministic, roughly Gaussian test values that do not depend on a standard library's distributions: the sum of
// four xorshift32 uniforms, centred and scaled to sigma. Tests whose expected values were recorded from another
// program (llama.cpp's kernels) generate their inputs with it, so the inputs are the same everywhere.
#pragma once

#include <cstdint>
#include <vector>

namespace edgeq::test {

inline std::vector<float> det_values(int64_t n, uint32_t seed, float sigma) {
    uint32_t s = seed * 2654435761u + 12345u;
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) {
        float sum = 0.0f;
        for (int k = 0; k < 4; ++k) {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            sum += static_cast<float>(s >> 8) * (1.0f / 16777216.0f);
        }
        x = sigma * (sum - 2.0f) * 1.7320508f;
    }
    return v;
}

}  // namespace edgeq::test
