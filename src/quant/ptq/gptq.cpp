#include "quant/ptq/gptq.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "core/check.h"
#include "core/parallel.h"

namespace edgeq::quant::ptq {

namespace {

bool all_finite(std::span<const float> v, size_t* bad) {
    for (size_t i = 0; i < v.size(); ++i) {
        if (!std::isfinite(v[i])) {
            *bad = i;
            return false;
        }
    }
    return true;
}

// Upper-triangular U with U^T U = A^-1 for a symmetric positive definite A (K x K, row-major), i.e. the
// upper Cholesky factor of A^-1 that GPTQ works with, from one Cholesky and one triangular inverse:
// with J the reversal permutation, J A J = L L^T gives A^-1 = (J L^-1 J)^T (J L^-1 J), and J L^-1 J is upper.
// Returns false when A is not (numerically) positive definite.
bool upper_cholesky_of_inverse(const std::vector<double>& a, int64_t k, std::vector<double>* u) {
    const auto K = static_cast<size_t>(k);
    std::vector<double> L(K * K, 0.0);
    auto B = [&](size_t i, size_t j) { return a[(K - 1 - i) * K + (K - 1 - j)]; };
    for (size_t i = 0; i < K; ++i) {
        for (size_t j = 0; j <= i; ++j) {
            double s = B(i, j);
            const double* li = &L[i * K];
            const double* lj = &L[j * K];
            for (size_t t = 0; t < j; ++t) s -= li[t] * lj[t];
            if (i == j) {
                if (!(s > 0.0) || !std::isfinite(s)) return false;
                L[i * K + i] = std::sqrt(s);
            } else {
                L[i * K + j] = s / L[j * K + j];
            }
        }
    }
    // M = L^-1 (lower), row by row: M[i][j] = (delta_ij - sum_{t<i} L[i][t] M[t][j]) / L[i][i].
    std::vector<double> M(K * K, 0.0), acc(K);
    for (size_t i = 0; i < K; ++i) {
        std::fill(acc.begin(), acc.begin() + static_cast<std::ptrdiff_t>(i + 1), 0.0);
        for (size_t t = 0; t < i; ++t) {
            const double l = L[i * K + t];
            if (l == 0.0) continue;
            const double* mt = &M[t * K];
            for (size_t j = 0; j <= t; ++j) acc[j] += l * mt[j];
        }
        const double inv = 1.0 / L[i * K + i];
        for (size_t j = 0; j < i; ++j) M[i * K + j] = -acc[j] * inv;
        M[i * K + i] = inv;
    }
    u->assign(K * K, 0.0);
    for (size_t r = 0; r < K; ++r) {
        for (size_t c = r; c < K; ++c) {
            const double v = M[(K - 1 - r) * K + (K - 1 - c)];
            if (!std::isfinite(v)) return false;
            (*u)[r * K + c] = v;
        }
    }
    return true;
}

}  // namespace

// ---- AffineGroupQuantizer
// ------------------------------------------------------------------------------------

AffineGroupQuantizer::AffineGroupQuantizer(int bits, int64_t group, bool symmetric, int64_t rows,
                                           int64_t cols)
    : bits_(bits), group_(group), rows_(rows), cols_(cols), symmetric_(symmetric) {
    EDGEQ_CHECK(bits >= 2 && bits <= 8 && group >= 0 && rows > 0 && cols > 0);
    groups_per_row_ = group == 0 ? 1 : (cols + group - 1) / group;
    scale_.assign(static_cast<size_t>(rows * groups_per_row_), 1.0f);
    zero_.assign(static_cast<size_t>(rows * groups_per_row_), 0);
    code_.assign(static_cast<size_t>(rows * cols), 0);
}

void AffineGroupQuantizer::fit(int64_t row, int64_t g, std::span<const float> w) {
    EDGEQ_CHECK(row >= 0 && row < rows_ && g >= 0 && g < groups_per_row_);
    const size_t at = static_cast<size_t>(row * groups_per_row_ + g);
    float scale = 1.0f;
    int32_t zero = 0;
    if (symmetric_) {
        float amax = 0.0f;
        for (float v : w) amax = std::max(amax, std::fabs(v));
        if (amax > 0.0f) scale = 2.0f * amax / static_cast<float>((1 << bits_) - 1);
    } else {
        float lo = 0.0f, hi = 0.0f;
        for (float v : w) {
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
        const int maxq = (1 << bits_) - 1;
        if (hi > lo) {
            scale = (hi - lo) / static_cast<float>(maxq);
            zero =
                static_cast<int32_t>(std::clamp(std::nearbyint(-lo / scale), 0.0f, static_cast<float>(maxq)));
        }
    }
    scale_[at] = scale;
    zero_[at] = zero;
}

float AffineGroupQuantizer::round(int64_t row, int64_t col, float w) {
    EDGEQ_CHECK(row >= 0 && row < rows_ && col >= 0 && col < cols_);
    const int64_t g = group_ == 0 ? 0 : col / group_;
    const size_t at = static_cast<size_t>(row * groups_per_row_ + g);
    const float scale = scale_[at];
    const int32_t zero = zero_[at];
    float q;
    if (symmetric_) {
        const int qmax = (1 << (bits_ - 1)) - 1;
        q = std::clamp(std::nearbyint(w / scale), static_cast<float>(-qmax - 1), static_cast<float>(qmax));
    } else {
        const int maxq = (1 << bits_) - 1;
        q = std::clamp(std::nearbyint(w / scale) + static_cast<float>(zero), 0.0f, static_cast<float>(maxq));
    }
    code_[static_cast<size_t>(row * cols_ + col)] = static_cast<int32_t>(q);
    return (q - static_cast<float>(zero)) * scale;
}

GroupQuantizer AffineGroupQuantizer::callbacks() {
    GroupQuantizer q;
    q.group = group_;
    q.fit = [this](int64_t row, int64_t g, std::span<const float> w, std::span<const float>) {
        fit(row, g, w);
    };
    q.round = [this](int64_t row, int64_t col, float w) { return round(row, col, w); };
    return q;
}

std::vector<float> AffineGroupQuantizer::quantize_rtn(std::span<const float> w) {
    EDGEQ_CHECK(static_cast<int64_t>(w.size()) == rows_ * cols_);
    std::vector<float> out(w.size());
    const int64_t gw = group_ == 0 ? cols_ : group_;
    for (int64_t r = 0; r < rows_; ++r) {
        for (int64_t g = 0; g < groups_per_row_; ++g) {
            const int64_t c0 = g * gw, c1 = std::min(cols_, c0 + gw);
            fit(r, g, w.subspan(static_cast<size_t>(r * cols_ + c0), static_cast<size_t>(c1 - c0)));
            for (int64_t c = c0; c < c1; ++c) {
                const size_t at = static_cast<size_t>(r * cols_ + c);
                out[at] = round(r, c, w[at]);
            }
        }
    }
    return out;
}

// ---- HessianAccumulator
// ---------------------------------------------------------------------------------------

HessianAccumulator::HessianAccumulator(int64_t k) : k_(k) {
    EDGEQ_CHECK(k > 0);
    sum_.assign(static_cast<size_t>(k * k), 0.0);
}

Status HessianAccumulator::add(const float* x, int64_t rows, int64_t k) {
    if (k != k_) {
        return InvalidArgument("GPTQ Hessian: activation rows have " + std::to_string(k) +
                               " columns, expected " + std::to_string(k_) + " (the layer's input features)");
    }
    if (rows < 0 || (rows > 0 && x == nullptr)) return InvalidArgument("GPTQ Hessian: no activation data");
    size_t bad = 0;
    if (!all_finite({x, static_cast<size_t>(rows * k)}, &bad)) {
        return InvalidArgument("GPTQ Hessian: activation row " +
                               std::to_string(bad / static_cast<size_t>(k)) + " column " +
                               std::to_string(bad % static_cast<size_t>(k)) + " is not finite");
    }
    const auto K = static_cast<size_t>(k);
    for (int64_t n = 0; n < rows; ++n) {
        const float* xn = x + static_cast<size_t>(n) * K;
        for (size_t i = 0; i < K; ++i) {
            const double xi = xn[i];
            if (xi == 0.0) continue;
            double* row = &sum_[i * K];
            for (size_t j = i; j < K; ++j) row[j] += xi * static_cast<double>(xn[j]);
        }
    }
    n_ += rows;
    return Status::Ok();
}

Status HessianAccumulator::merge(const HessianAccumulator& other) {
    if (other.k_ != k_) {
        return InvalidArgument("GPTQ Hessian: cannot merge K=" + std::to_string(other.k_) +
                               " into K=" + std::to_string(k_));
    }
    for (size_t i = 0; i < sum_.size(); ++i) sum_[i] += other.sum_[i];
    n_ += other.n_;
    return Status::Ok();
}

std::vector<double> HessianAccumulator::hessian() const {
    const auto K = static_cast<size_t>(k_);
    std::vector<double> h(K * K, 0.0);
    if (n_ == 0) return h;
    const double f = 2.0 / static_cast<double>(n_);
    for (size_t i = 0; i < K; ++i) {
        for (size_t j = i; j < K; ++j) h[i * K + j] = h[j * K + i] = f * sum_[i * K + j];
    }
    return h;
}

// ---- GPTQ
// ---------------------------------------------------------------------------------------------------------

Result<GptqResult> gptq_quantize(std::span<const float> w, int64_t rows, int64_t cols,
                                 std::span<const double> h, const GroupQuantizer& quantizer,
                                 const GptqOptions& options) {
    if (rows <= 0 || cols <= 0) return InvalidArgument("GPTQ: empty weight matrix");
    if (static_cast<int64_t>(w.size()) != rows * cols) {
        return InvalidArgument("GPTQ: weight has " + std::to_string(w.size()) +
                               " values, expected rows*cols = " + std::to_string(rows) + "*" +
                               std::to_string(cols));
    }
    if (static_cast<int64_t>(h.size()) != cols * cols) {
        return InvalidArgument("GPTQ: Hessian has " + std::to_string(h.size()) +
                               " values, expected K*K with K = " + std::to_string(cols) +
                               " (the weight's columns)");
    }
    if (!quantizer.fit || !quantizer.round || quantizer.group < 0) {
        return InvalidArgument("GPTQ: quantizer needs fit and round callbacks and a group size >= 0");
    }
    if (options.block_size <= 0 || !(options.percdamp >= 0)) {
        return InvalidArgument("GPTQ: block_size must be > 0 and percdamp >= 0");
    }
    size_t bad = 0;
    if (!all_finite(w, &bad))
        return InvalidArgument("GPTQ: weight element " + std::to_string(bad) + " is not finite");
    for (size_t i = 0; i < h.size(); ++i) {
        if (!std::isfinite(h[i]))
            return InvalidArgument("GPTQ: Hessian element " + std::to_string(i) + " is not finite");
    }

    const int64_t K = cols;
    const auto KK = static_cast<size_t>(K);
    GptqResult res;

    // Dead columns (never active in calibration): H_cc = 1 so H stays invertible; weight zeroed as the
    // reference.
    std::vector<double> H(h.begin(), h.end());
    std::vector<float> W(w.begin(), w.end());
    std::vector<float> importance(KK);
    for (size_t c = 0; c < KK; ++c) {
        importance[c] = static_cast<float>(std::max(0.0, h[c * KK + c]) * 0.5);
        if (H[c * KK + c] == 0.0) {
            H[c * KK + c] = 1.0;
            ++res.dead_columns;
            if (options.zero_dead_columns) {
                for (int64_t r = 0; r < rows; ++r) W[static_cast<size_t>(r) * KK + c] = 0.0f;
            }
        }
    }

    // Processing order.
    std::vector<int64_t> perm(KK);
    std::iota(perm.begin(), perm.end(), 0);
    if (options.act_order) {
        std::stable_sort(perm.begin(), perm.end(),
                         [&](int64_t a, int64_t b) { return H[a * K + a] > H[b * K + b]; });
        res.perm = perm;
    }
    std::vector<int64_t> inv(KK);
    for (size_t i = 0; i < KK; ++i) inv[static_cast<size_t>(perm[i])] = static_cast<int64_t>(i);

    std::vector<double> Hp(KK * KK);
    for (size_t a = 0; a < KK; ++a) {
        for (size_t b = 0; b < KK; ++b) Hp[a * KK + b] = H[static_cast<size_t>(perm[a]) * KK + perm[b]];
    }
    double mean_diag = 0;
    for (size_t i = 0; i < KK; ++i) mean_diag += Hp[i * KK + i];
    mean_diag /= static_cast<double>(K);

    // Dampening, retried with a 10x larger percdamp while H + lambda I is not positive definite.
    std::vector<double> U;
    bool ok = false;
    double percdamp = options.percdamp;
    for (int attempt = 0; attempt <= options.max_damp_retries && !ok; ++attempt, percdamp *= 10.0) {
        if (attempt > 0 && percdamp == 0.0) percdamp = 0.01;
        const double damp = percdamp * mean_diag;
        std::vector<double> Hd = Hp;
        for (size_t i = 0; i < KK; ++i) Hd[i * KK + i] += damp;
        ok = upper_cholesky_of_inverse(Hd, K, &U);
        if (ok) {
            res.percdamp_used = percdamp;
            res.damp = damp;
        }
    }
    if (!ok) {
        return InvalidArgument("GPTQ: Hessian (K=" + std::to_string(K) +
                               ") is not positive definite even with damping percdamp=" +
                               std::to_string(percdamp / 10) + " of mean diag " + std::to_string(mean_diag) +
                               ": calibration activations are degenerate, or H is not 2 X^T X");
    }
    std::vector<float> Uf(U.begin(), U.end());
    U.clear();
    U.shrink_to_fit();

    // Working weights in processing order.
    std::vector<float> Wp(static_cast<size_t>(rows) * KK);
    for (int64_t r = 0; r < rows; ++r) {
        const float* src = &W[static_cast<size_t>(r) * KK];
        float* dst = &Wp[static_cast<size_t>(r) * KK];
        for (size_t i = 0; i < KK; ++i) dst[i] = src[perm[i]];
    }

    const int64_t gw = quantizer.group == 0 ? K : quantizer.group;
    const int64_t n_groups = (K + gw - 1) / gw;
    auto group_importance = [&](int64_t g) {
        const int64_t c0 = g * gw, c1 = std::min(K, c0 + gw);
        return std::span<const float>(importance)
            .subspan(static_cast<size_t>(c0), static_cast<size_t>(c1 - c0));
    };
    if (options.static_groups) {
        for (int64_t r = 0; r < rows; ++r) {
            for (int64_t g = 0; g < n_groups; ++g) {
                const int64_t c0 = g * gw, c1 = std::min(K, c0 + gw);
                quantizer.fit(r, g,
                              std::span<const float>(W).subspan(static_cast<size_t>(r * K + c0),
                                                                static_cast<size_t>(c1 - c0)),
                              group_importance(g));
            }
        }
    }
    std::vector<uint8_t> fitted(static_cast<size_t>(rows * n_groups), options.static_groups ? 1 : 0);

    res.dequant.assign(static_cast<size_t>(rows) * KK, 0.0f);
    std::vector<double> row_loss(static_cast<size_t>(rows), 0.0);
    const int64_t B = std::min<int64_t>(options.block_size, K);
    std::vector<float> Err(static_cast<size_t>(rows * B));
    constexpr int64_t kRowChunk = 8, kColTile = 512;

    for (int64_t i1 = 0; i1 < K; i1 += B) {
        const int64_t i2 = std::min(K, i1 + B);
        const int64_t nb = i2 - i1;
        parallel_for(rows, options.n_threads, kRowChunk, [&](int64_t r0, int64_t r1) {
            std::vector<float> gvals;
            for (int64_t r = r0; r < r1; ++r) {
                float* wr = &Wp[static_cast<size_t>(r) * KK];
                float* er = &Err[static_cast<size_t>(r * B)];
                for (int64_t i = i1; i < i2; ++i) {
                    const int64_t c = perm[static_cast<size_t>(i)];
                    const int64_t g = c / gw;
                    uint8_t& fg = fitted[static_cast<size_t>(r * n_groups + g)];
                    if (!fg) {
                        // The group's current weights: inside the block they are up to date; beyond it they
                        // still miss this block's pending (lazy) update from the columns done so far.
                        const int64_t c0 = g * gw, c1 = std::min(K, c0 + gw);
                        gvals.resize(static_cast<size_t>(c1 - c0));
                        for (int64_t cc = c0; cc < c1; ++cc) {
                            const int64_t p = inv[static_cast<size_t>(cc)];
                            EDGEQ_CHECK(p >= i);
                            float v = wr[p];
                            if (p >= i2) {
                                for (int64_t j = i1; j < i; ++j)
                                    v -= er[j - i1] * Uf[static_cast<size_t>(j) * KK + p];
                            }
                            gvals[static_cast<size_t>(cc - c0)] = v;
                        }
                        quantizer.fit(r, g, gvals, group_importance(g));
                        fg = 1;
                    }
                    const float wv = wr[i];
                    const float q = quantizer.round(r, c, wv);
                    res.dequant[static_cast<size_t>(r) * KK + static_cast<size_t>(c)] = q;
                    const float* ui = &Uf[static_cast<size_t>(i) * KK];
                    const float d = ui[i];
                    const float e = (wv - q) / d;
                    row_loss[static_cast<size_t>(r)] += 0.5 * static_cast<double>(e) * static_cast<double>(e);
                    er[i - i1] = e;
                    for (int64_t j = i + 1; j < i2; ++j) wr[j] -= e * ui[j];
                }
            }
            // Lazy update of the columns after the block: W[:, i2:] -= Err @ U[i1:i2, i2:], tiled over
            // columns.
            for (int64_t j0 = i2; j0 < K; j0 += kColTile) {
                const int64_t j1 = std::min(K, j0 + kColTile);
                for (int64_t r = r0; r < r1; ++r) {
                    float* wr = &Wp[static_cast<size_t>(r) * KK];
                    const float* er = &Err[static_cast<size_t>(r * B)];
                    for (int64_t b = 0; b < nb; ++b) {
                        const float e = er[b];
                        if (e == 0.0f) continue;
                        const float* ub = &Uf[static_cast<size_t>(i1 + b) * KK];
                        for (int64_t j = j0; j < j1; ++j) wr[j] -= e * ub[j];
                    }
                }
            }
        });
    }
    for (double l : row_loss) res.loss += l;
    return res;
}

double output_error(std::span<const float> x, int64_t n, std::span<const float> w, std::span<const float> q,
                    int64_t rows, int64_t k) {
    EDGEQ_CHECK(static_cast<int64_t>(x.size()) == n * k && static_cast<int64_t>(w.size()) == rows * k &&
                w.size() == q.size());
    std::vector<double> d(w.size());
    for (size_t i = 0; i < w.size(); ++i) d[i] = static_cast<double>(w[i]) - static_cast<double>(q[i]);
    double err = 0;
    for (int64_t s = 0; s < n; ++s) {
        const float* xs = &x[static_cast<size_t>(s * k)];
        for (int64_t r = 0; r < rows; ++r) {
            const double* dr = &d[static_cast<size_t>(r * k)];
            double acc = 0;
            for (int64_t j = 0; j < k; ++j) acc += static_cast<double>(xs[j]) * dr[j];
            err += acc * acc;
        }
    }
    return err;
}

}  // namespace edgeq::quant::ptq
