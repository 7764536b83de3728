// Streaming activation observers for static post-training quantization (docs/quant/ptq-math.md).
//
// One Observer per activation tensor. The calibration driver feeds it every batch's values with observe();
// afterwards range() is the real-valued range to quantize to and params() the ONNX scale / zero point for the
// target type. Memory is independent of the number of samples: min-max keeps two floats, the histogram
// observers one Histogram of a fixed number of bins that is re-binned (widened by a power-of-two factor) when
// a batch falls outside it.
//
//   spec                what range() returns
//   "minmax"            [min, max] of everything observed
//   "percentile:P"      0 < P <= 100. Symmetric: [-t, t] with t the P-th percentile of |x|. Asymmetric:
//                       [(100-P)/2-th percentile, (100+P)/2-th percentile] of x (ONNX Runtime's rule).
//                       "percentile" alone means P = 99.999 (ONNX Runtime's default).
//   "entropy"           TensorRT's KL-divergence calibration: threshold t on the |x| histogram minimising
//                       KL(P || Q) between the clipped reference and its quantisation to the target's levels.
//   "mse"               the range minimising the expected squared error of fake_quantize() for the
//                       target type and symmetry, integrated over the histogram (values uniform in a bin).
// The histogram calibrators clamp their result to the observed [min, max]; every result r satisfies
// min <= r.lo <= r.hi <= max, except that nothing observed gives {0, 0}.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "edgeq/status.h"
#include "quant/ptq/qparams.h"

namespace edgeq::quant::ptq {

// A fixed-size histogram over a grid of equal bins whose edges are integer multiples of the bin width
// (so 0 is always an edge): bin i covers [(origin + i) * width, (origin + i + 1) * width), the last bin is
// closed. When add() sees a value outside the grid it re-bins: width *= 2^k with the smallest k >= 0 for
// which all data seen so far fits in the bin count (k = 0: the window only shifts), the spare bins split
// evenly on both sides, and each old bin's count moves, whole, into the new bin that contains it (old edges
// are a superset of the new ones, so no count is split or interpolated). The result equals a one-shot
// histogram of all data on the final grid up to floating-point rounding at bin edges.
class Histogram {
  public:
    static constexpr int64_t kDefaultBins = 2048;
    explicit Histogram(int64_t num_bins = kDefaultBins);

    // Adds finite values (the caller has rejected NaN/Inf; EDGEQ_CHECK). Until two distinct values have been
    // seen no grid exists (counts held as a point mass); the first spread fixes width = span / (bins - 1)
    // (at least max|x| * 2^-40, so origins stay small).
    void add(std::span<const float> x);
    // Counts this histogram's grid would give x without widening; used to check merging (tests). EDGEQ_CHECK
    // that the grid exists.
    std::vector<double> one_shot(std::span<const float> x) const;

    int64_t num_bins() const { return static_cast<int64_t>(counts_.size()); }
    bool has_grid() const { return width_ > 0; }
    double width() const { return width_; }
    int64_t origin() const { return origin_; }
    double lower_edge() const { return static_cast<double>(origin_) * width_; }
    double upper_edge() const { return static_cast<double>(origin_ + num_bins()) * width_; }
    const std::vector<double>& counts() const { return counts_; }  // all zero while !has_grid()
    double total() const { return total_; }
    float min() const { return min_; }  // exact extremes of everything added (0 when total() == 0)
    float max() const { return max_; }
    size_t memory_bytes() const { return sizeof(*this) + counts_.capacity() * sizeof(double); }

  private:
    void init_grid(double lo, double hi);
    // New grid covering data [lo, hi] and the old occupied global bins [used_first, used_last].
    void refit(double lo, double hi, int64_t used_first, int64_t used_last);
    int64_t bin_of(double v) const;  // clamped to [0, bins)
    std::vector<double> counts_;
    double width_ = 0;
    int64_t origin_ = 0;
    double total_ = 0;
    float min_ = 0, max_ = 0;
    double point_count_ = 0;  // values equal to min_ == max_ seen before the grid exists
};

class Observer {
  public:
    virtual ~Observer() = default;
    // Adds one batch. Empty spans are ignored. A batch with NaN or +-Inf is rejected whole (nothing is added)
    // with InvalidArgument "N of M calibration values are not finite (NaN/Inf)"; the caller prefixes the
    // tensor name.
    Status observe(std::span<const float> x);
    // The range to quantize to (see the table above). {0, 0} if nothing has been observed.
    virtual Range range() const = 0;
    // params_from_range(range(), target(), symmetric()).
    QParams params() const { return params_from_range(range(), target_, symmetric_); }
    // "minmax", "percentile:99.99", "entropy", "mse".
    virtual std::string spec() const = 0;
    int64_t count() const { return count_; }  // values observed
    float min() const { return min_; }        // exact extremes (0 when count() == 0)
    float max() const { return max_; }
    QType target() const { return target_; }
    bool symmetric() const { return symmetric_; }
    // The histogram (nullptr for minmax).
    virtual const Histogram* histogram() const { return nullptr; }
    // Bytes held; constant once the first batch has been seen (bounded-memory calibration).
    virtual size_t memory_bytes() const { return sizeof(*this); }

  protected:
    Observer(QType target, bool symmetric) : target_(target), symmetric_(symmetric) {}
    virtual void add(std::span<const float> x) = 0;  // finite values only

  private:
    QType target_;
    bool symmetric_;
    int64_t count_ = 0;
    float min_ = 0, max_ = 0;
};

// Parses spec (table above; case-sensitive, no spaces). Errors: InvalidArgument naming the spec and the
// accepted forms, e.g.
//   unknown calibrator "kl" (expected minmax, percentile:P with 0 < P <= 100, entropy, mse)
Result<std::unique_ptr<Observer>> make_observer(std::string_view spec, QType target, bool symmetric);

// The range-selection rules on an existing histogram (what the observers call; exposed for tests and for
// callers that merge histograms themselves). All return ranges clamped to [h.min(), h.max()].
Range percentile_range(const Histogram& h, double percentile, bool symmetric);
Range entropy_range(const Histogram& h, QType target, bool symmetric);
Range mse_range(const Histogram& h, QType target, bool symmetric);
// Expected squared quantization error per value of fake_quantize(., params_from_range(r, t, symmetric)) over
// the histogram, each bin's count spread uniformly over the bin (exact integral, including clipping error).
double expected_mse(const Histogram& h, Range r, QType t, bool symmetric);

}  // namespace edgeq::quant::ptq
