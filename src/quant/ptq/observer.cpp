// Streaming activation observers and the histogram range rules (observer.h, docs/quant/ptq-math.md).
#include "quant/ptq/observer.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "core/check.h"

namespace edgeq::quant::ptq {

namespace {

// Floor division by 2^k of a (possibly negative) bin index; exact for every k.
int64_t shr_floor(int64_t g, int k) {
    if (k <= 0) return g;
    if (k >= 63) return g < 0 ? -1 : 0;
    return g >> k;  // arithmetic shift: floor for negatives (C++20)
}

int64_t floor_index(double v, double w) {
    const double f = std::floor(v / w);
    constexpr double kLim = 4.0e18;
    return static_cast<int64_t>(std::clamp(f, -kLim, kLim));
}

// |x| histogram folded from h's signed one: bin j covers [j * width, (j + 1) * width). Exact because 0 is an
// edge: signed bin g >= 0 -> j = g; g < 0 covers [g w, (g + 1) w) -> |x| in ((-g - 1) w, -g w] -> j = -g - 1.
// When the data sits far from 0 the fold would need more than num_bins() bins; then 2^k adjacent |x| bins are
// merged (j >> k, still exact) and width = w * 2^k, so the result never exceeds num_bins() bins.
std::vector<double> fold_abs(const Histogram& h, double* width) {
    const int64_t o = h.origin(), n = h.num_bins();
    const int64_t span = std::max(std::llabs(o), std::llabs(o + n));
    int k = 0;
    while (((span - 1) >> k) + 1 > n) ++k;
    std::vector<double> a(static_cast<size_t>(((span - 1) >> k) + 1), 0.0);
    for (int64_t i = 0; i < n; ++i) {
        const int64_t g = o + i;
        const int64_t j = (g >= 0 ? g : -g - 1) >> k;
        a[static_cast<size_t>(j)] += h.counts()[static_cast<size_t>(i)];
    }
    *width = std::ldexp(h.width(), k);
    return a;
}

// The value below which `mass` of the counts lie; bins start at base and have width w, counts spread
// uniformly within a bin.
double quantile(const std::vector<double>& c, double base, double w, double mass) {
    double cum = 0;
    for (size_t i = 0; i < c.size(); ++i) {
        if (c[i] > 0 && cum + c[i] >= mass) {
            const double frac = std::clamp((mass - cum) / c[i], 0.0, 1.0);
            return base + (static_cast<double>(i) + frac) * w;
        }
        cum += c[i];
    }
    return base + static_cast<double>(c.size()) * w;
}

Range clamp_range(double lo, double hi, const Histogram& h) {
    const double mn = h.min(), mx = h.max();
    lo = std::clamp(lo, mn, mx);
    hi = std::clamp(hi, mn, mx);
    if (lo > hi) lo = hi;
    return {static_cast<float>(lo), static_cast<float>(hi)};
}

Range symmetric_from_threshold(double t, const Histogram& h) {
    return clamp_range(-t, t, h);
}

// MXNet / TensorRT smoothing: move eps of mass onto every zero bin, taken evenly from the nonzero ones.
// Returns false when there is no nonzero bin or a nonzero bin would become non-positive.
bool smooth(std::vector<double>& p, double eps = 1e-4) {
    size_t zeros = 0;
    for (double v : p) zeros += v == 0;
    const size_t nonzeros = p.size() - zeros;
    if (nonzeros == 0) return false;
    const double eps1 = eps * static_cast<double>(zeros) / static_cast<double>(nonzeros);
    for (double& v : p) {
        if (v == 0) {
            v = eps;
        } else {
            v -= eps1;
            if (v <= 0) return false;
        }
    }
    return true;
}

double kl_divergence(const std::vector<double>& p, const std::vector<double>& q) {
    double sp = 0, sq = 0;
    for (size_t i = 0; i < p.size(); ++i) sp += p[i], sq += q[i];
    double kl = 0;
    for (size_t i = 0; i < p.size(); ++i) {
        const double pn = p[i] / sp, qn = q[i] / sq;
        if (pn > 0) kl += pn * std::log(pn / qn);
    }
    return kl;
}

class MinMaxObserver final : public Observer {
  public:
    MinMaxObserver(QType t, bool s) : Observer(t, s) {}
    Range range() const override { return {min(), max()}; }
    std::string spec() const override { return "minmax"; }

  protected:
    void add(std::span<const float>) override {}  // Observer keeps min / max
};

class HistogramObserver : public Observer {
  public:
    const Histogram* histogram() const override { return &hist_; }
    size_t memory_bytes() const override { return sizeof(*this) + hist_.memory_bytes() - sizeof(hist_); }
    Range range() const final {
        if (count() == 0) return {};
        return range_from(hist_);
    }

  protected:
    HistogramObserver(QType t, bool s) : Observer(t, s) {}
    void add(std::span<const float> x) override { hist_.add(x); }
    virtual Range range_from(const Histogram& h) const = 0;

  private:
    Histogram hist_;
};

class PercentileObserver final : public HistogramObserver {
  public:
    PercentileObserver(QType t, bool s, double p, std::string spec)
        : HistogramObserver(t, s), p_(p), spec_(std::move(spec)) {}
    std::string spec() const override { return spec_; }

  protected:
    Range range_from(const Histogram& h) const override { return percentile_range(h, p_, symmetric()); }

  private:
    double p_;
    std::string spec_;
};

class EntropyObserver final : public HistogramObserver {
  public:
    EntropyObserver(QType t, bool s) : HistogramObserver(t, s) {}
    std::string spec() const override { return "entropy"; }

  protected:
    Range range_from(const Histogram& h) const override { return entropy_range(h, target(), symmetric()); }
};

class MseObserver final : public HistogramObserver {
  public:
    MseObserver(QType t, bool s) : HistogramObserver(t, s) {}
    std::string spec() const override { return "mse"; }

  protected:
    Range range_from(const Histogram& h) const override { return mse_range(h, target(), symmetric()); }
};

}  // namespace

// ---------------------------------------------------------------------------------------------- Histogram

Histogram::Histogram(int64_t num_bins) {
    EDGEQ_CHECK(num_bins >= 2);
    counts_.assign(static_cast<size_t>(num_bins), 0.0);
}

int64_t Histogram::bin_of(double v) const {
    const int64_t i = floor_index(v, width_) - origin_;
    return std::clamp<int64_t>(i, 0, num_bins() - 1);
}

void Histogram::init_grid(double lo, double hi) {
    const int64_t n = num_bins();
    const double mag = std::max(std::fabs(lo), std::fabs(hi));
    double w = std::max((hi - lo) / static_cast<double>(n - 1), std::ldexp(mag, -40));
    for (;;) {
        origin_ = floor_index(lo, w);
        if (static_cast<double>(origin_ + n) * w >= hi) break;
        w *= 1.0 + 1e-9;
    }
    width_ = w;
}

void Histogram::refit(double lo, double hi, int64_t used_first, int64_t used_last) {
    const int64_t n = num_bins();
    for (int k = 0;; ++k) {
        EDGEQ_CHECK(k < 2200);
        const double w = std::ldexp(width_, k);
        const int64_t first = std::min(floor_index(lo, w), shr_floor(used_first, k));
        const int64_t last = std::max(floor_index(hi, w), shr_floor(used_last, k));
        if (last - first + 1 > n) continue;
        // Centre the spare bins so that growth on either side is absorbed by a shift (k = 0) first.
        const int64_t origin = first - (n - (last - first + 1)) / 2;
        std::vector<double> nc(static_cast<size_t>(n), 0.0);
        for (int64_t i = 0; i < n; ++i) {
            const double c = counts_[static_cast<size_t>(i)];
            if (c != 0) nc[static_cast<size_t>(shr_floor(origin_ + i, k) - origin)] += c;
        }
        counts_ = std::move(nc);
        width_ = w;
        origin_ = origin;
        return;
    }
}

void Histogram::add(std::span<const float> x) {
    if (x.empty()) return;
    float bmin = x[0], bmax = x[0];
    for (float v : x) {
        EDGEQ_CHECK_MSG(std::isfinite(v), "Histogram::add: non-finite value (observers reject them)");
        bmin = std::min(bmin, v);
        bmax = std::max(bmax, v);
    }
    const float old_value = min_, old_max = max_;
    if (total_ == 0) {
        min_ = bmin;
        max_ = bmax;
    } else {
        min_ = std::min(min_, bmin);
        max_ = std::max(max_, bmax);
    }
    total_ += static_cast<double>(x.size());
    if (!has_grid()) {
        if (min_ == max_) {
            point_count_ += static_cast<double>(x.size());
            return;
        }
        init_grid(min_, max_);
        if (point_count_ > 0) counts_[static_cast<size_t>(bin_of(old_value))] += point_count_;
        point_count_ = 0;
    } else if (bmin < lower_edge() || bmax > upper_edge()) {
        refit(min_, max_, origin_ + bin_of(old_value), origin_ + bin_of(old_max));
    }
    for (float v : x) counts_[static_cast<size_t>(bin_of(v))] += 1.0;
}

std::vector<double> Histogram::one_shot(std::span<const float> x) const {
    EDGEQ_CHECK(has_grid());
    std::vector<double> c(counts_.size(), 0.0);
    for (float v : x) c[static_cast<size_t>(bin_of(v))] += 1.0;
    return c;
}

// ---------------------------------------------------------------------------------------------- Observer

Status Observer::observe(std::span<const float> x) {
    if (x.empty()) return Status::Ok();
    size_t bad = 0;
    float bmin = std::numeric_limits<float>::infinity(), bmax = -bmin;
    for (float v : x) {
        if (!std::isfinite(v)) {
            ++bad;
            continue;
        }
        bmin = std::min(bmin, v);
        bmax = std::max(bmax, v);
    }
    if (bad > 0) {
        return InvalidArgument(std::to_string(bad) + " of " + std::to_string(x.size()) +
                               " calibration values are not finite (NaN/Inf)");
    }
    if (count_ == 0) {
        min_ = bmin;
        max_ = bmax;
    } else {
        min_ = std::min(min_, bmin);
        max_ = std::max(max_, bmax);
    }
    count_ += static_cast<int64_t>(x.size());
    add(x);
    return Status::Ok();
}

Result<std::unique_ptr<Observer>> make_observer(std::string_view spec, QType target, bool symmetric) {
    const auto bad = [&](const std::string& why) {
        return InvalidArgument("unknown calibrator \"" + std::string(spec) + "\"" + why +
                               " (expected minmax, percentile:P with 0 < P <= 100, entropy, mse)");
    };
    if (spec == "minmax") return std::unique_ptr<Observer>(new MinMaxObserver(target, symmetric));
    if (spec == "entropy") return std::unique_ptr<Observer>(new EntropyObserver(target, symmetric));
    if (spec == "mse") return std::unique_ptr<Observer>(new MseObserver(target, symmetric));
    if (spec == "percentile") {
        return std::unique_ptr<Observer>(
            new PercentileObserver(target, symmetric, 99.999, "percentile:99.999"));
    }
    constexpr std::string_view kPrefix = "percentile:";
    if (spec.substr(0, kPrefix.size()) == kPrefix) {
        const std::string_view num = spec.substr(kPrefix.size());
        double p = 0;
        const auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), p);
        if (num.empty() || ec != std::errc() || ptr != num.data() + num.size()) {
            return bad(": \"" + std::string(num) + "\" is not a number");
        }
        if (!(p > 0 && p <= 100)) return bad(": percentile out of range");
        return std::unique_ptr<Observer>(new PercentileObserver(target, symmetric, p, std::string(spec)));
    }
    return bad("");
}

// ---------------------------------------------------------------------------------------------- range rules

Range percentile_range(const Histogram& h, double percentile, bool symmetric) {
    if (!h.has_grid()) return {h.min(), h.max()};
    const double total = h.total();
    if (symmetric) {
        double w = 0;
        const std::vector<double> a = fold_abs(h, &w);
        const double t = quantile(a, 0.0, w, total * percentile / 100.0);
        return symmetric_from_threshold(t, h);
    }
    const double cut = (100.0 - percentile) / 200.0;
    const double lo = quantile(h.counts(), h.lower_edge(), h.width(), total * cut);
    const double hi = quantile(h.counts(), h.lower_edge(), h.width(), total * (1.0 - cut));
    return clamp_range(lo, hi, h);
}

Range entropy_range(const Histogram& h, QType target, bool symmetric) {
    if (!h.has_grid()) return {h.min(), h.max()};
    double w = 0;
    std::vector<double> a = fold_abs(h, &w);
    while (!a.empty() && a.back() == 0) a.pop_back();
    const bool two_sided = h.min() < 0 && h.max() > 0;
    const int64_t levels = static_cast<int64_t>(qmax(target)) - qmin(target) + 1;
    const int64_t nq = (symmetric || two_sided) ? levels / 2 : levels;
    const auto n = static_cast<int64_t>(a.size());
    if (n <= nq) return {h.min(), h.max()};

    double best_kl = std::numeric_limits<double>::infinity();
    int64_t best_i = n;
    std::vector<double> p, q;
    std::vector<double> suffix(static_cast<size_t>(n + 1), 0.0);  // suffix[i] = sum of a[i..n)
    for (int64_t i = n - 1; i >= 0; --i) {
        suffix[static_cast<size_t>(i)] = suffix[static_cast<size_t>(i + 1)] + a[static_cast<size_t>(i)];
    }
    for (int64_t i = nq; i <= n; ++i) {
        p.assign(a.begin(), a.begin() + i);
        p[static_cast<size_t>(i - 1)] +=
            suffix[static_cast<size_t>(i)];  // outliers clipped onto the last bin
        const int64_t merged = i / nq;
        q.assign(static_cast<size_t>(i), 0.0);
        for (int64_t j = 0; j < nq; ++j) {
            const int64_t start = j * merged, stop = j == nq - 1 ? i : start + merged;
            double sum = 0, nonzero = 0;
            for (int64_t k = start; k < stop; ++k) {
                sum += a[static_cast<size_t>(k)];  // Q quantizes the unclipped slice
                nonzero += p[static_cast<size_t>(k)] != 0;
            }
            if (nonzero == 0) continue;
            for (int64_t k = start; k < stop; ++k) {
                if (p[static_cast<size_t>(k)] != 0) q[static_cast<size_t>(k)] = sum / nonzero;
            }
        }
        if (!smooth(p) || !smooth(q)) continue;
        const double kl = kl_divergence(p, q);
        if (kl < best_kl) {
            best_kl = kl;
            best_i = i;
        }
    }
    return symmetric_from_threshold(static_cast<double>(best_i) * w, h);
}

double expected_mse(const Histogram& h, Range r, QType t, bool symmetric) {
    if (h.total() == 0) return 0;
    const QParams p = params_from_range(r, t, symmetric);
    const int32_t top = qmax(t);
    const double s = p.scale;
    const auto fq = [&](double x) { return static_cast<double>(fake_quantize(static_cast<float>(x), p)); };
    if (!h.has_grid()) {
        const double e = h.min() - fq(h.min());
        return e * e;
    }
    const double mn = h.min(), mx = h.max();
    double err = 0;
    for (int64_t i = 0; i < h.num_bins(); ++i) {
        const double c = h.counts()[static_cast<size_t>(i)];
        if (c == 0) continue;
        const double a = std::max(static_cast<double>(h.origin() + i) * h.width(), mn);
        const double b = std::min(static_cast<double>(h.origin() + i + 1) * h.width(), mx);
        if (!(b > a)) {
            const double e = a - fq(a);
            err += c * e * e;
            continue;
        }
        // Walk the quantization cells that intersect [a, b): level k covers x / s + zp in [k - .5, k + .5).
        double integral = 0, x0 = a;
        int32_t k = quantize_value(static_cast<float>(a), p);
        while (x0 < b) {
            const double v = (static_cast<double>(k) - p.zero_point) * s;
            double x1 = k < top ? (static_cast<double>(k) - p.zero_point + 0.5) * s : b;
            x1 = std::clamp(x1, x0, b);
            const double d1 = x1 - v, d0 = x0 - v;
            integral += (d1 * d1 * d1 - d0 * d0 * d0) / 3.0;
            x0 = x1;
            if (k >= top) break;
            ++k;
        }
        err += c * integral / (b - a);
    }
    return err / h.total();
}

namespace {

// Best ratio r in (0, 1] of f(r) over {start, 1} + a coarse grid (0.01..0.99 step 0.01) + a fine grid
// (step 0.001) around the coarse winner. Never returns an r with f(r) > f(start).
template <typename F>
double search_ratio(F&& f, double start = 1.0) {
    double best_r = start, best = f(start);
    const auto consider = [&](double r) {
        if (r <= 0 || r > 1.0) return;
        const double e = f(r);
        if (e < best) best = e, best_r = r;
    };
    consider(1.0);
    for (int i = 1; i < 100; ++i) consider(i / 100.0);
    const double c = best_r;
    for (int i = -10; i <= 10; ++i) consider(c + i * 0.001);
    return best_r;
}

}  // namespace

Range mse_range(const Histogram& h, QType target, bool symmetric) {
    if (!h.has_grid()) return {h.min(), h.max()};
    const double mn = std::min<double>(h.min(), 0.0), mx = std::max<double>(h.max(), 0.0);
    const auto err = [&](double lo, double hi) {
        return expected_mse(h, {static_cast<float>(lo), static_cast<float>(hi)}, target, symmetric);
    };
    if (symmetric) {
        const double a = std::max(-mn, mx);
        const double r = search_ratio([&](double x) { return err(-a * x, a * x); });
        return symmetric_from_threshold(a * r, h);
    }
    // Asymmetric: both ends scaled together, then each end alone (two rounds of coordinate descent).
    const double r = search_ratio([&](double x) { return err(mn * x, mx * x); });
    double lo = mn * r, hi = mx * r;
    for (int round = 0; round < 2; ++round) {
        if (mx > 0) hi = mx * search_ratio([&](double x) { return err(lo, mx * x); }, hi / mx);
        if (mn < 0) lo = mn * search_ratio([&](double x) { return err(mn * x, hi); }, lo / mn);
    }
    return clamp_range(lo, hi, h);
}

}  // namespace edgeq::quant::ptq
