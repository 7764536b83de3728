// Weight quantization to ONNX DequantizeLinear inputs (weight_quant.h, docs/quant/ptq-math.md).
#include "quant/ptq/weight_quant.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/check.h"

namespace edgeq::quant::ptq {

namespace {

const char* granularity_name(Granularity g) {
    switch (g) {
        case Granularity::Tensor:
            return "tensor";
        case Granularity::Channel:
            return "channel";
        case Granularity::Group:
            return "group";
    }
    return "?";
}

std::string describe(const Tensor& w, const WeightQuantSpec& s) {
    std::string d =
        "weight " + shape_str(w.shape()) + ", " + qtype_name(s.type) + " " + granularity_name(s.granularity);
    if (s.granularity != Granularity::Tensor) d += " axis " + std::to_string(s.axis);
    if (s.granularity == Granularity::Group) d += " group " + std::to_string(s.group);
    return d;
}

// Sum of imp * (v - fake_quantize(v))^2 (imp empty: weight 1).
double weighted_error(std::span<const float> v, std::span<const float> imp, const QParams& p) {
    double e = 0;
    for (size_t i = 0; i < v.size(); ++i) {
        const double d = static_cast<double>(v[i]) - fake_quantize(v[i], p);
        e += (imp.empty() ? 1.0 : imp[i]) * d * d;
    }
    return e;
}

// Parameters of one channel / group / tensor.
QParams unit_params(std::span<const float> v, std::span<const float> imp, const WeightQuantSpec& s) {
    const auto [mn_it, mx_it] = std::minmax_element(v.begin(), v.end());
    const float lo = *mn_it, hi = *mx_it;
    QParams best = params_from_range(lo, hi, s.type, s.symmetric);
    if (s.clip == Clip::None) return best;
    double best_e = weighted_error(v, imp, best), best_r = 1.0;
    const auto consider = [&](double r) {
        if (r <= 0 || r >= 1.0) return;  // r = 1 is the starting point
        const auto f = static_cast<float>(r);
        const QParams p = params_from_range(lo * f, hi * f, s.type, s.symmetric);
        const double e = weighted_error(v, imp, p);
        if (e < best_e) best_e = e, best = p, best_r = r;
    };
    for (int i = 10; i < 20; ++i) consider(i * 0.05);  // 0.50 .. 0.95
    const double c = best_r;
    for (int i = -4; i <= 4; ++i) consider(c + i * 0.01);
    return best;
}

}  // namespace

bool QuantizedWeight::zero_point_is_zero() const {
    if (zero_point.empty_handle()) return true;
    for (int32_t z : unpack_values(zero_point))
        if (z != 0) return false;
    return true;
}

Result<QuantizedWeight> quantize_weight(const Tensor& w, const WeightQuantSpec& spec,
                                        std::span<const float> importance) {
    const auto fail = [&](const std::string& why) { return InvalidArgument(describe(w, spec) + ": " + why); };
    if (w.empty_handle() || w.dtype() != DType::F32) {
        return fail(std::string("expected an F32 tensor, got ") +
                    (w.empty_handle() ? "no tensor" : dtype_name(w.dtype())));
    }
    const int64_t n = w.numel();
    if (n <= 0) return fail("empty tensor");
    const float* x = w.data<float>();
    int64_t bad = 0;
    for (int64_t i = 0; i < n; ++i) bad += !std::isfinite(x[i]);
    if (bad > 0) return fail(std::to_string(bad) + " values are not finite (NaN/Inf)");

    const int64_t rank = w.rank();
    int64_t axis = 0;
    if (spec.granularity != Granularity::Tensor) {
        if (rank < 1) return fail("per-channel / group quantization needs rank >= 1");
        axis = spec.axis < 0 ? spec.axis + rank : spec.axis;
        if (axis < 0 || axis >= rank) {
            return fail("axis " + std::to_string(spec.axis) + " out of range for rank " +
                        std::to_string(rank));
        }
    }
    int64_t group = 1;
    if (spec.granularity == Granularity::Group) {
        if (spec.group < 1) return fail("group size must be >= 1");
        group = spec.group;
    }

    // Importance: one weight per index along importance_axis.
    int64_t imp_axis = spec.importance_axis;
    if (!importance.empty()) {
        if (rank < 1) return fail("importance needs a weight of rank >= 1");
        if (imp_axis == -1) {
            if (spec.granularity == Granularity::Group)
                imp_axis = axis;
            else if (spec.granularity == Granularity::Channel && rank == 2)
                imp_axis = 1 - axis;
            else
                imp_axis = rank >= 2 ? 1 : 0;
        } else if (imp_axis < 0) {
            imp_axis += rank;
        }
        if (imp_axis < 0 || imp_axis >= rank) {
            return fail("importance_axis " + std::to_string(spec.importance_axis) +
                        " out of range for rank " + std::to_string(rank));
        }
        if (static_cast<int64_t>(importance.size()) != w.dim(imp_axis)) {
            return fail("importance has " + std::to_string(importance.size()) + " entries, expected " +
                        std::to_string(w.dim(imp_axis)) + " (dim " + std::to_string(imp_axis) + ")");
        }
        for (float v : importance) {
            if (!std::isfinite(v) || v < 0) return fail("importance entries must be finite and >= 0");
        }
    }

    // View w as [outer, D, inner] around `axis`; a unit is one (o, block, i) (Group), one channel (Channel)
    // or everything (Tensor).
    const Shape& shape = w.shape();
    int64_t outer = 1, inner = 1, d = rank > 0 ? shape[static_cast<size_t>(axis)] : 1;
    for (int64_t i = 0; i < axis; ++i) outer *= shape[static_cast<size_t>(i)];
    for (int64_t i = axis + 1; i < rank; ++i) inner *= shape[static_cast<size_t>(i)];
    int64_t imp_stride = 1;
    if (!importance.empty()) {
        for (int64_t i = imp_axis + 1; i < rank; ++i) imp_stride *= shape[static_cast<size_t>(i)];
    }
    const auto imp_of = [&](int64_t flat) {
        return importance[static_cast<size_t>((flat / imp_stride) % w.dim(imp_axis))];
    };

    Shape scale_shape;
    if (spec.granularity == Granularity::Channel) {
        scale_shape = {d};
    } else if (spec.granularity == Granularity::Group) {
        scale_shape = shape;
        scale_shape[static_cast<size_t>(axis)] = (d + group - 1) / group;
    }
    const int64_t units = shape_numel(scale_shape);

    std::vector<int32_t> q(static_cast<size_t>(n));
    std::vector<float> dq(static_cast<size_t>(n));
    std::vector<float> scales(static_cast<size_t>(units));
    std::vector<int32_t> zps(static_cast<size_t>(units));
    std::vector<int64_t> idx;
    std::vector<float> v, imp;

    const auto run_unit = [&](int64_t u) {
        v.resize(idx.size());
        for (size_t k = 0; k < idx.size(); ++k) v[k] = x[idx[k]];
        imp.clear();
        if (!importance.empty() && spec.clip != Clip::None) {
            imp.resize(idx.size());
            for (size_t k = 0; k < idx.size(); ++k) imp[k] = imp_of(idx[k]);
        }
        const QParams p = unit_params(v, imp, spec);
        scales[static_cast<size_t>(u)] = p.scale;
        zps[static_cast<size_t>(u)] = p.zero_point;
        for (size_t k = 0; k < idx.size(); ++k) {
            const int32_t qi = quantize_value(v[k], p);
            q[static_cast<size_t>(idx[k])] = qi;
            dq[static_cast<size_t>(idx[k])] = dequantize_value(qi, p);
        }
    };

    switch (spec.granularity) {
        case Granularity::Tensor:
            idx.resize(static_cast<size_t>(n));
            for (int64_t i = 0; i < n; ++i) idx[static_cast<size_t>(i)] = i;
            run_unit(0);
            break;
        case Granularity::Channel:
            for (int64_t c = 0; c < d; ++c) {
                idx.clear();
                for (int64_t o = 0; o < outer; ++o)
                    for (int64_t i = 0; i < inner; ++i) idx.push_back((o * d + c) * inner + i);
                run_unit(c);
            }
            break;
        case Granularity::Group: {
            const int64_t nb = (d + group - 1) / group;
            for (int64_t o = 0; o < outer; ++o) {
                for (int64_t b = 0; b < nb; ++b) {
                    const int64_t c_end = std::min(d, (b + 1) * group);
                    for (int64_t i = 0; i < inner; ++i) {
                        idx.clear();
                        for (int64_t c = b * group; c < c_end; ++c) idx.push_back((o * d + c) * inner + i);
                        run_unit((o * nb + b) * inner + i);
                    }
                }
            }
            break;
        }
    }

    QuantizedWeight out;
    out.q = pack_values(q, spec.type, shape);
    out.scale = Tensor::from_vector<float>(DType::F32, scale_shape, scales);
    out.zero_point = pack_values(zps, spec.type, scale_shape);
    out.axis = spec.granularity == Granularity::Tensor ? 0 : axis;
    out.block_size = spec.granularity == Granularity::Group ? group : 0;
    out.dequantized = Tensor::from_vector<float>(DType::F32, shape, dq);
    return out;
}

}  // namespace edgeq::quant::ptq
