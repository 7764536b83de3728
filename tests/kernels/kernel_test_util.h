// Helpers for kernel-vs-reference tests: seeded random data, per-op float tolerances, replayable failure
// messages (seed, shape, ISA, first bad index, expected, actual), and ISA rows this CPU can run.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/cpu.h"
#include "kernels/kernels.h"

namespace edgeq::kernels::test {

// Named tolerances: |got − want| ≤ kRel·mag + kAbs, where mag is Σ|terms| of that output (bound on rounding
// of a reordered, fused sum) and kAbs covers the vector exp used by Sigmoid/Tanh.
inline constexpr float kGemmRel = 1e-5f;
inline constexpr float kConvRel = 1e-5f;
inline constexpr float kActAbs = 2e-6f;

inline std::vector<float> random_vec(std::mt19937& rng, size_t n, float lo = -1.0f, float hi = 1.0f) {
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

// Optimized rows of op that this CPU can run; prints the rows it skips and why.
inline std::vector<const KernelRow*> runnable_rows(Op op) {
    std::vector<const KernelRow*> out;
    for (const auto& r : kernel_rows()) {
        if (r.op != op || r.isa == Isa::Ref) continue;
        if (r.isa > detected_isa()) {
            std::printf("skip %s: this CPU lacks %s (detected %s)\n", r.name, isa_name(r.isa), isa_name(detected_isa()));
            continue;
        }
        out.push_back(&r);
    }
    return out;
}

inline const std::vector<Activation>& all_activations() {
    static const std::vector<Activation> a = {
        {Act::None, 0, 0},       {Act::Relu, 0, 0},          {Act::LeakyRelu, 0.1f, 0}, {Act::Clip, -0.5f, 0.75f},
        {Act::Sigmoid, 0, 0},    {Act::Tanh, 0, 0},          {Act::HardSigmoid, 0.2f, 0.5f},
        {Act::HardSwish, 0, 0},
    };
    return a;
}

// First index where |got − want| > rel·mag[i] + abs_tol, or -1.
inline int64_t first_bad(const std::vector<float>& want, const std::vector<float>& got, const std::vector<float>& mag,
                         float rel, float abs_tol) {
    for (size_t i = 0; i < want.size(); ++i) {
        const float tol = rel * mag[i] + abs_tol;
        if (!(std::fabs(got[i] - want[i]) <= tol)) return static_cast<int64_t>(i);
    }
    return -1;
}

inline std::string describe_failure(const KernelRow& row, uint32_t seed, const std::string& shape, int64_t i,
                                    const std::vector<float>& want, const std::vector<float>& got) {
    std::ostringstream os;
    os.precision(9);
    os << row.name << " (isa " << isa_name(row.isa) << ") vs reference: seed=" << seed << " shape=" << shape
       << " first bad index " << i << ": expected " << want[static_cast<size_t>(i)] << ", got "
       << got[static_cast<size_t>(i)];
    return os.str();
}

// Fills the fields GemmArgs and GemmHalfArgs share: A (M×K row-major), C (M×N), bias and activation of case c.
template <class Args, class Case>
void set_gemm_operands(Args& g, const Case& c, const float* a, float* out, const float* bias) {
    g.M = c.M;
    g.N = c.N;
    g.K = c.K;
    g.a = a;
    g.lda = c.K;
    g.c = out;
    g.ldc = c.N;
    g.bias = bias;
    g.bias_kind = c.bias;
    g.act = c.act;
}

// Calls fn(g) on `splits` column ranges of whole nr-wide panels, as the runtime splits a GEMM across threads.
template <class Args, class Fn>
void run_column_splits(Args& g, int64_t nr, int splits, Fn&& fn) {
    const int64_t panels = (g.N + nr - 1) / nr;
    for (int s = 0; s < splits; ++s) {
        g.n_begin = std::min(g.N, panels * s / splits * nr);
        g.n_end = std::min(g.N, panels * (s + 1) / splits * nr);
        if (g.n_begin < g.n_end) fn(g);
    }
}

}  // namespace edgeq::kernels::test
