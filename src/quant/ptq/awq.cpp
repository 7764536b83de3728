#include "quant/ptq/awq.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "core/check.h"
#include "core/parallel.h"

namespace edgeq::quant::ptq {

namespace {

// ||X D^T||_F^2 for D [rows, K]: through the Gram matrix G = X^T X when that is cheaper (n > K), else
// directly.
class OutputLoss {
  public:
    OutputLoss(std::span<const float> x, int64_t n, int64_t k, int n_threads)
        : x_(x), n_(n), k_(k), n_threads_(n_threads) {
        if (n > k) {
            const auto K = static_cast<size_t>(k);
            gram_.assign(K * K, 0.0);
            for (int64_t s = 0; s < n; ++s) {
                const float* xs = &x[static_cast<size_t>(s) * K];
                for (size_t i = 0; i < K; ++i) {
                    const double xi = xs[i];
                    if (xi == 0.0) continue;
                    double* gi = &gram_[i * K];
                    for (size_t j = i; j < K; ++j) gi[j] += xi * static_cast<double>(xs[j]);
                }
            }
            for (size_t i = 0; i < K; ++i) {
                for (size_t j = 0; j < i; ++j) gram_[i * K + j] = gram_[j * K + i];
            }
        }
    }

    double operator()(const std::vector<double>& d, int64_t rows) const {
        const auto K = static_cast<size_t>(k_);
        std::vector<double> per_row(static_cast<size_t>(rows), 0.0);
        parallel_for(rows, n_threads_, 4, [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) {
                const double* dr = &d[static_cast<size_t>(r) * K];
                double acc = 0;
                if (!gram_.empty()) {
                    for (size_t i = 0; i < K; ++i) {
                        if (dr[i] == 0.0) continue;
                        const double* gi = &gram_[i * K];
                        double t = 0;
                        for (size_t j = 0; j < K; ++j) t += gi[j] * dr[j];
                        acc += dr[i] * t;
                    }
                } else {
                    for (int64_t s = 0; s < n_; ++s) {
                        const float* xs = &x_[static_cast<size_t>(s) * K];
                        double t = 0;
                        for (size_t j = 0; j < K; ++j) t += static_cast<double>(xs[j]) * dr[j];
                        acc += t * t;
                    }
                }
                per_row[static_cast<size_t>(r)] = acc;
            }
        });
        double total = 0;
        for (double v : per_row) total += v;
        return total;
    }

  private:
    std::span<const float> x_;
    int64_t n_, k_;
    int n_threads_;
    std::vector<double> gram_;
};

// Fit + round every (row, group) of ws [rows, K]; clip (if non-empty, [rows, groups]) clamps each group to
// [-m, m] first. importance [K] is handed to fit per group.
void quantize_all(const std::vector<float>& ws, int64_t rows, int64_t k, const GroupQuantizer& q,
                  const std::vector<float>& importance, const std::vector<float>& clip, int n_threads,
                  std::vector<float>* out) {
    const int64_t gw = q.group == 0 ? k : q.group;
    const int64_t n_groups = (k + gw - 1) / gw;
    out->assign(ws.size(), 0.0f);
    parallel_for(rows, n_threads, 1, [&](int64_t r0, int64_t r1) {
        std::vector<float> vals;
        for (int64_t r = r0; r < r1; ++r) {
            for (int64_t g = 0; g < n_groups; ++g) {
                const int64_t c0 = g * gw, c1 = std::min(k, c0 + gw);
                const float* src = &ws[static_cast<size_t>(r * k + c0)];
                vals.assign(src, src + (c1 - c0));
                if (!clip.empty()) {
                    const float m = clip[static_cast<size_t>(r * n_groups + g)];
                    for (auto& v : vals) v = std::clamp(v, -m, m);
                }
                q.fit(r, g, vals,
                      std::span<const float>(importance)
                          .subspan(static_cast<size_t>(c0), static_cast<size_t>(c1 - c0)));
                for (int64_t c = c0; c < c1; ++c) {
                    (*out)[static_cast<size_t>(r * k + c)] = q.round(r, c, vals[static_cast<size_t>(c - c0)]);
                }
            }
        }
    });
}

}  // namespace

std::vector<float> activation_mean_abs(std::span<const float> x, int64_t n, int64_t k) {
    EDGEQ_CHECK(n >= 0 && k > 0 && static_cast<int64_t>(x.size()) == n * k);
    std::vector<double> acc(static_cast<size_t>(k), 0.0);
    for (int64_t s = 0; s < n; ++s) {
        for (int64_t j = 0; j < k; ++j)
            acc[static_cast<size_t>(j)] += std::fabs(x[static_cast<size_t>(s * k + j)]);
    }
    std::vector<float> out(static_cast<size_t>(k), 0.0f);
    if (n > 0) {
        for (size_t j = 0; j < out.size(); ++j) out[j] = static_cast<float>(acc[j] / static_cast<double>(n));
    }
    return out;
}

std::vector<float> awq_effective_weights(const AwqResult& result, int64_t rows, int64_t cols) {
    EDGEQ_CHECK(static_cast<int64_t>(result.dequant.size()) == rows * cols &&
                static_cast<int64_t>(result.scales.size()) == cols);
    std::vector<float> out(result.dequant.size());
    for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < cols; ++c) {
            const size_t at = static_cast<size_t>(r * cols + c);
            out[at] = result.dequant[at] / result.scales[static_cast<size_t>(c)];
        }
    }
    return out;
}

Result<AwqResult> awq_search(std::span<const float> w, int64_t rows, int64_t cols,
                             std::span<const float> x_mean_abs, std::span<const float> x, int64_t n,
                             const GroupQuantizer& quantizer, const AwqOptions& options) {
    if (rows <= 0 || cols <= 0) return InvalidArgument("AWQ: empty weight matrix");
    const int64_t K = cols;
    if (static_cast<int64_t>(w.size()) != rows * K) {
        return InvalidArgument("AWQ: weight has " + std::to_string(w.size()) +
                               " values, expected rows*cols = " + std::to_string(rows) + "*" +
                               std::to_string(cols));
    }
    if (static_cast<int64_t>(x_mean_abs.size()) != K) {
        return InvalidArgument("AWQ: activation statistic has " + std::to_string(x_mean_abs.size()) +
                               " channels, expected " + std::to_string(K) + " (the weight's columns)");
    }
    if (n <= 0 || static_cast<int64_t>(x.size()) != n * K) {
        return InvalidArgument("AWQ: activation sample has " + std::to_string(x.size()) +
                               " values, expected n*" + std::to_string(K) + " with n > 0");
    }
    if (!quantizer.fit || !quantizer.round || quantizer.group < 0) {
        return InvalidArgument("AWQ: quantizer needs fit and round callbacks and a group size >= 0");
    }
    if (options.n_grid < 1 || options.clip_grid < 1 || !(options.max_shrink >= 0 && options.max_shrink < 1)) {
        return InvalidArgument("AWQ: n_grid and clip_grid must be >= 1 and max_shrink in [0, 1)");
    }
    for (size_t i = 0; i < w.size(); ++i) {
        if (!std::isfinite(w[i]))
            return InvalidArgument("AWQ: weight element " + std::to_string(i) + " is not finite");
    }
    for (size_t i = 0; i < x_mean_abs.size(); ++i) {
        if (!std::isfinite(x_mean_abs[i]) || x_mean_abs[i] < 0) {
            return InvalidArgument("AWQ: activation statistic of channel " + std::to_string(i) +
                                   " is negative or not finite");
        }
    }
    for (size_t i = 0; i < x.size(); ++i) {
        if (!std::isfinite(x[i])) {
            return InvalidArgument("AWQ: activation sample row " +
                                   std::to_string(i / static_cast<size_t>(K)) + " column " +
                                   std::to_string(i % static_cast<size_t>(K)) + " is not finite");
        }
    }

    const auto KK = static_cast<size_t>(K);
    const size_t N = w.size();
    std::vector<double> m2(KK, 0.0);  // mean x^2 per channel: the importance handed to fit (divided by s^2)
    for (int64_t s = 0; s < n; ++s) {
        for (size_t j = 0; j < KK; ++j) {
            const double v = x[static_cast<size_t>(s) * KK + j];
            m2[j] += v * v;
        }
    }
    for (auto& v : m2) v /= static_cast<double>(n);
    const OutputLoss loss_of(x, n, K, options.n_threads);

    std::vector<float> s(KK), ws(N), imp(KK), q, no_clip;
    std::vector<double> d(N);
    auto make_scales = [&](double alpha) {
        float lo = std::numeric_limits<float>::max(), hi = 0.0f;
        for (size_t j = 0; j < KK; ++j) {
            s[j] = std::max(static_cast<float>(std::pow(static_cast<double>(x_mean_abs[j]), alpha)), 1e-4f);
            lo = std::min(lo, s[j]);
            hi = std::max(hi, s[j]);
        }
        const float norm = std::sqrt(hi * lo);
        for (auto& v : s) v /= norm;
        for (size_t j = 0; j < KK; ++j)
            imp[j] = static_cast<float>(m2[j] / (static_cast<double>(s[j]) * s[j]));
        for (size_t i = 0; i < N; ++i) ws[i] = w[i] * s[i % KK];
    };
    auto loss_for = [&](const std::vector<float>& deq) {
        for (size_t i = 0; i < N; ++i) {
            d[i] = static_cast<double>(w[i]) - static_cast<double>(deq[i]) / static_cast<double>(s[i % KK]);
        }
        return loss_of(d, rows);
    };

    AwqResult res;
    double best = std::numeric_limits<double>::infinity();
    double best_alpha = 0.0;
    for (int i = 0; i < options.n_grid; ++i) {
        const double alpha = options.n_grid == 1 ? 0.0 : static_cast<double>(i) / (options.n_grid - 1);
        make_scales(alpha);
        quantize_all(ws, rows, K, quantizer, imp, no_clip, options.n_threads, &q);
        const double l = loss_for(q);
        res.grid_loss.push_back(l);
        if (i == 0) res.loss_rtn = l;
        if (l < best) {
            best = l;
            best_alpha = alpha;
        }
    }
    res.alpha = static_cast<float>(best_alpha);
    make_scales(best_alpha);
    res.scales = s;

    if (options.auto_clip) {
        const int64_t gw = quantizer.group == 0 ? K : quantizer.group;
        const int64_t n_groups = (K + gw - 1) / gw;
        const int64_t n_sub =
            options.clip_samples <= 0 || options.clip_samples >= n ? n : options.clip_samples;
        // Per-group Gram blocks of the scaled activations x / s on the subsample: the error of one group's
        // output contribution is d^T G_g d / n_sub.
        std::vector<std::vector<double>> gram(static_cast<size_t>(n_groups));
        for (int64_t g = 0; g < n_groups; ++g) {
            const int64_t c0 = g * gw, c1 = std::min(K, c0 + gw), m = c1 - c0;
            auto& G = gram[static_cast<size_t>(g)];
            G.assign(static_cast<size_t>(m * m), 0.0);
            for (int64_t t = 0; t < n_sub; ++t) {
                const int64_t row = t * n / n_sub;
                const float* xs = &x[static_cast<size_t>(row) * KK + static_cast<size_t>(c0)];
                for (int64_t a = 0; a < m; ++a) {
                    const double xa = static_cast<double>(xs[a]) / s[static_cast<size_t>(c0 + a)];
                    if (xa == 0.0) continue;
                    for (int64_t b = 0; b < m; ++b) {
                        G[static_cast<size_t>(a * m + b)] +=
                            xa * static_cast<double>(xs[b]) / s[static_cast<size_t>(c0 + b)];
                    }
                }
            }
            for (auto& v : G) v /= static_cast<double>(n_sub);
        }
        const int n_shrink = std::max(1, static_cast<int>(options.max_shrink * options.clip_grid));
        res.clip.assign(static_cast<size_t>(rows * n_groups), 0.0f);
        parallel_for(rows, options.n_threads, 1, [&](int64_t r0, int64_t r1) {
            std::vector<float> vals;
            std::vector<double> dd;
            for (int64_t r = r0; r < r1; ++r) {
                for (int64_t g = 0; g < n_groups; ++g) {
                    const int64_t c0 = g * gw, c1 = std::min(K, c0 + gw), m = c1 - c0;
                    const float* org = &ws[static_cast<size_t>(r * K + c0)];
                    float amax = 0.0f;
                    for (int64_t a = 0; a < m; ++a) amax = std::max(amax, std::fabs(org[a]));
                    const auto& G = gram[static_cast<size_t>(g)];
                    const auto imp_g =
                        std::span<const float>(imp).subspan(static_cast<size_t>(c0), static_cast<size_t>(m));
                    double best_err = std::numeric_limits<double>::infinity();
                    float best_m = amax;
                    for (int i_s = 0; i_s < n_shrink && amax > 0.0f; ++i_s) {
                        const float mv =
                            amax * static_cast<float>(1.0 - static_cast<double>(i_s) / options.clip_grid);
                        vals.assign(org, org + m);
                        for (auto& v : vals) v = std::clamp(v, -mv, mv);
                        quantizer.fit(r, g, vals, imp_g);
                        dd.resize(static_cast<size_t>(m));
                        for (int64_t a = 0; a < m; ++a) {
                            dd[static_cast<size_t>(a)] = static_cast<double>(quantizer.round(
                                                             r, c0 + a, vals[static_cast<size_t>(a)])) -
                                                         org[a];
                        }
                        double err = 0;
                        for (int64_t a = 0; a < m; ++a) {
                            if (dd[static_cast<size_t>(a)] == 0.0) continue;
                            double t = 0;
                            for (int64_t b = 0; b < m; ++b)
                                t += G[static_cast<size_t>(a * m + b)] * dd[static_cast<size_t>(b)];
                            err += dd[static_cast<size_t>(a)] * t;
                        }
                        if (err < best_err) {
                            best_err = err;
                            best_m = mv;
                        }
                    }
                    res.clip[static_cast<size_t>(r * n_groups + g)] = best_m;
                }
            }
        });
    }

    // Final pass: the quantizer's recorded state matches the returned weights. The clip search scores each
    // group alone on a subsample; if its choice raises the whole layer's error on X, it is dropped.
    quantize_all(ws, rows, K, quantizer, imp, res.clip, options.n_threads, &res.dequant);
    res.loss = loss_for(res.dequant);
    if (!res.clip.empty() && res.loss > best) {
        res.clip.clear();
        quantize_all(ws, rows, K, quantizer, imp, res.clip, options.n_threads, &res.dequant);
        res.loss = loss_for(res.dequant);
    }
    return res;
}

}  // namespace edgeq::quant::ptq
