// Running error statistics of an approximation q against a reference r, element by element: what `edgeq
// compare` reports per tensor for ONNX (eval/compare.h) and GGUF (llm/compare.h).
//   SQNR = 10·log10(Σr² / Σ(r−q)²) dB (+inf when equal), cosine = Σrq / sqrt(Σr²·Σq²), MSE, max |r − q|.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace edgeq {

struct ErrorStats {
    int64_t count = 0;  // elements seen (finite or not)
    double sum_ref2 = 0, sum_err2 = 0, sum_q2 = 0, dot = 0;
    double max_abs_err = 0;

    // One finite pair (callers count non-finite values themselves and skip them here).
    void add(double r, double q) {
        const double e = r - q;
        sum_ref2 += r * r, sum_q2 += q * q, dot += r * q, sum_err2 += e * e;
        max_abs_err = std::max(max_abs_err, std::fabs(e));
    }
    double sqnr_db() const {
        if (sum_err2 <= 0) return std::numeric_limits<double>::infinity();
        if (sum_ref2 <= 0) return -std::numeric_limits<double>::infinity();
        return 10.0 * std::log10(sum_ref2 / sum_err2);
    }
    double cosine() const {
        if (sum_ref2 <= 0 || sum_q2 <= 0) return sum_ref2 == sum_q2 ? 1.0 : 0.0;
        return dot / std::sqrt(sum_ref2 * sum_q2);
    }
    double mse() const { return count ? sum_err2 / double(count) : 0.0; }
};

}  // namespace edgeq
