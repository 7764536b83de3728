#include "quant/ptq/equalize.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/check.h"

namespace edgeq::quant::ptq {

namespace {

// Calls fn(out_channel, in_channel, flat_index) for every weight element of the layout.
template <typename Fn>
void for_each_weight(const WeightShape& s, Fn&& fn) {
    switch (s.layout) {
        case WeightLayout::kOutIn:
            for (int64_t o = 0; o < s.out_channels; ++o) {
                for (int64_t i = 0; i < s.in_channels; ++i) {
                    const int64_t base = (o * s.in_channels + i) * s.spatial;
                    for (int64_t k = 0; k < s.spatial; ++k) fn(o, i, base + k);
                }
            }
            break;
        case WeightLayout::kInOut:
            for (int64_t i = 0; i < s.in_channels; ++i) {
                for (int64_t o = 0; o < s.out_channels; ++o) fn(o, i, i * s.out_channels + o);
            }
            break;
        case WeightLayout::kDepthwise:
            for (int64_t o = 0; o < s.out_channels; ++o) {
                for (int64_t k = 0; k < s.spatial; ++k) fn(o, o, o * s.spatial + k);
            }
            break;
    }
}

Status validate_shape(const WeightShape& s, size_t weight_size, const char* what) {
    const std::string w(what);
    if (s.out_channels <= 0 || s.in_channels <= 0 || s.spatial <= 0) {
        return InvalidArgument(w + ": channel counts and spatial size must be positive");
    }
    if (s.layout == WeightLayout::kInOut && s.spatial != 1) {
        return InvalidArgument(w + ": the [in, out] (MatMul) layout has no spatial axis");
    }
    if (s.layout == WeightLayout::kDepthwise && s.in_channels != s.out_channels) {
        return InvalidArgument(w + ": depthwise weights need in_channels == out_channels (got " +
                               std::to_string(s.in_channels) + " and " + std::to_string(s.out_channels) +
                               ")");
    }
    if (static_cast<int64_t>(weight_size) != s.elements()) {
        return InvalidArgument(w + ": weight has " + std::to_string(weight_size) + " values, expected " +
                               std::to_string(s.elements()) + " for its shape");
    }
    return Status::Ok();
}

}  // namespace

Status validate_layer(const LayerWeights& layer, const char* what) {
    EDGEQ_RETURN_IF_ERROR(validate_shape(layer.shape, layer.weight.size(), what));
    if (!layer.bias.empty() && static_cast<int64_t>(layer.bias.size()) != layer.shape.out_channels) {
        return InvalidArgument(std::string(what) + ": bias has " + std::to_string(layer.bias.size()) +
                               " values, expected " + std::to_string(layer.shape.out_channels));
    }
    for (size_t i = 0; i < layer.weight.size(); ++i) {
        if (!std::isfinite(layer.weight[i])) {
            return InvalidArgument(std::string(what) + ": weight element " + std::to_string(i) +
                                   " is not finite");
        }
    }
    return Status::Ok();
}

std::vector<float> output_channel_ranges(const WeightShape& shape, std::span<const float> w) {
    EDGEQ_CHECK(static_cast<int64_t>(w.size()) == shape.elements());
    std::vector<float> r(static_cast<size_t>(shape.out_channels), 0.0f);
    for_each_weight(shape, [&](int64_t o, int64_t, int64_t at) {
        r[static_cast<size_t>(o)] =
            std::max(r[static_cast<size_t>(o)], std::fabs(w[static_cast<size_t>(at)]));
    });
    return r;
}

std::vector<float> input_channel_ranges(const WeightShape& shape, std::span<const float> w) {
    EDGEQ_CHECK(static_cast<int64_t>(w.size()) == shape.elements());
    std::vector<float> r(static_cast<size_t>(shape.in_channels), 0.0f);
    for_each_weight(shape, [&](int64_t, int64_t i, int64_t at) {
        r[static_cast<size_t>(i)] =
            std::max(r[static_cast<size_t>(i)], std::fabs(w[static_cast<size_t>(at)]));
    });
    return r;
}

Result<std::vector<float>> equalize_pair(LayerWeights& first, LayerWeights& second) {
    EDGEQ_RETURN_IF_ERROR(validate_layer(first, "equalization: first layer"));
    EDGEQ_RETURN_IF_ERROR(validate_layer(second, "equalization: second layer"));
    const int64_t C = first.shape.out_channels;
    if (second.shape.in_channels != C) {
        return InvalidArgument("equalization: first layer has " + std::to_string(C) +
                               " output channels but the second layer reads " +
                               std::to_string(second.shape.in_channels) + " input channels");
    }
    const auto r1 = output_channel_ranges(first.shape, first.weight);
    const auto r2 = input_channel_ranges(second.shape, second.weight);
    std::vector<float> s(static_cast<size_t>(C), 1.0f);
    for (size_t i = 0; i < s.size(); ++i) {
        if (r1[i] > 0.0f && r2[i] > 0.0f) {
            const double v = std::sqrt(static_cast<double>(r1[i]) * r2[i]) / r2[i];
            if (std::isfinite(v) && v > 0.0) s[i] = static_cast<float>(v);
        }
    }
    for_each_weight(first.shape, [&](int64_t o, int64_t, int64_t at) {
        first.weight[static_cast<size_t>(at)] /= s[static_cast<size_t>(o)];
    });
    for (size_t o = 0; o < first.bias.size(); ++o) first.bias[o] /= s[o];
    for_each_weight(second.shape, [&](int64_t, int64_t i, int64_t at) {
        second.weight[static_cast<size_t>(at)] *= s[static_cast<size_t>(i)];
    });
    return s;
}

Result<EqualizeReport> equalize_chain(std::span<LayerWeights> layers, const EqualizeOptions& options) {
    if (layers.size() < 2) return InvalidArgument("equalization: a chain needs at least two layers");
    if (options.max_iterations < 1 || !(options.tolerance >= 0)) {
        return InvalidArgument("equalization: max_iterations must be >= 1 and tolerance >= 0");
    }
    EqualizeReport rep;
    rep.scales.resize(layers.size() - 1);
    for (size_t p = 0; p + 1 < layers.size(); ++p) {
        rep.scales[p].assign(static_cast<size_t>(std::max<int64_t>(0, layers[p].shape.out_channels)), 1.0f);
    }
    for (int it = 0; it < options.max_iterations && !rep.converged; ++it) {
        bool still = false;
        for (size_t p = 0; p + 1 < layers.size(); ++p) {
            const std::string where =
                "equalization: layers " + std::to_string(p) + " -> " + std::to_string(p + 1);
            auto s = equalize_pair(layers[p], layers[p + 1]);
            if (!s.ok()) return Status(s.status().code(), where + ": " + s.status().message());
            for (size_t i = 0; i < s->size(); ++i) {
                rep.scales[p][i] *= (*s)[i];
                if (std::fabs((*s)[i] - 1.0f) > options.tolerance) still = true;
            }
        }
        rep.iterations = it + 1;
        rep.converged = !still;
    }
    return rep;
}

// ---- Bias correction
// -----------------------------------------------------------------------------------------

Status correct_bias_analytic(const WeightShape& shape, std::span<const float> w, std::span<const float> wq,
                             std::span<const float> input_mean, std::span<float> bias) {
    EDGEQ_RETURN_IF_ERROR(validate_shape(shape, w.size(), "bias correction: float weight"));
    if (wq.size() != w.size()) {
        return InvalidArgument("bias correction: quantized weight has " + std::to_string(wq.size()) +
                               " values, expected " + std::to_string(w.size()));
    }
    if (static_cast<int64_t>(input_mean.size()) != shape.in_channels) {
        return InvalidArgument("bias correction: input mean has " + std::to_string(input_mean.size()) +
                               " channels, expected " + std::to_string(shape.in_channels));
    }
    if (static_cast<int64_t>(bias.size()) != shape.out_channels) {
        return InvalidArgument("bias correction: bias has " + std::to_string(bias.size()) +
                               " values, expected " + std::to_string(shape.out_channels) +
                               " (create a zero bias for a layer without one)");
    }
    for (size_t i = 0; i < input_mean.size(); ++i) {
        if (!std::isfinite(input_mean[i])) {
            return InvalidArgument("bias correction: input mean of channel " + std::to_string(i) +
                                   " is not finite");
        }
    }
    std::vector<double> shift(bias.size(), 0.0);
    for_each_weight(shape, [&](int64_t o, int64_t i, int64_t at) {
        const auto a = static_cast<size_t>(at);
        shift[static_cast<size_t>(o)] +=
            (static_cast<double>(wq[a]) - w[a]) * input_mean[static_cast<size_t>(i)];
    });
    for (size_t o = 0; o < bias.size(); ++o) bias[o] = static_cast<float>(bias[o] - shift[o]);
    return Status::Ok();
}

BiasCorrectionAccumulator::BiasCorrectionAccumulator(int64_t channels) : channels_(channels) {
    EDGEQ_CHECK(channels > 0);
    sum_.assign(static_cast<size_t>(channels), 0.0);
}

Status BiasCorrectionAccumulator::add(std::span<const float> y_fp, std::span<const float> y_q, int64_t outer,
                                      int64_t inner) {
    if (outer < 0 || inner <= 0 || static_cast<int64_t>(y_fp.size()) != outer * channels_ * inner ||
        y_q.size() != y_fp.size()) {
        return InvalidArgument("bias correction: outputs have " + std::to_string(y_fp.size()) + " and " +
                               std::to_string(y_q.size()) +
                               " values, expected outer*channels*inner = " + std::to_string(outer) + "*" +
                               std::to_string(channels_) + "*" + std::to_string(inner));
    }
    std::vector<double> part(sum_.size(), 0.0);
    for (int64_t n = 0; n < outer; ++n) {
        for (int64_t c = 0; c < channels_; ++c) {
            const size_t base = static_cast<size_t>((n * channels_ + c) * inner);
            double acc = 0;
            for (int64_t t = 0; t < inner; ++t) {
                const float a = y_fp[base + static_cast<size_t>(t)], b = y_q[base + static_cast<size_t>(t)];
                if (!std::isfinite(a) || !std::isfinite(b)) {
                    return InvalidArgument("bias correction: output value " + std::to_string(base + t) +
                                           " is not finite");
                }
                acc += static_cast<double>(b) - a;
            }
            part[static_cast<size_t>(c)] += acc;
        }
    }
    for (size_t c = 0; c < sum_.size(); ++c) sum_[c] += part[c];
    count_ += outer * inner;
    return Status::Ok();
}

std::vector<double> BiasCorrectionAccumulator::mean_error() const {
    std::vector<double> m(sum_.size(), 0.0);
    if (count_ == 0) return m;
    for (size_t c = 0; c < m.size(); ++c) m[c] = sum_[c] / static_cast<double>(count_);
    return m;
}

Status BiasCorrectionAccumulator::apply(std::span<float> bias) const {
    if (static_cast<int64_t>(bias.size()) != channels_) {
        return InvalidArgument("bias correction: bias has " + std::to_string(bias.size()) +
                               " values, expected " + std::to_string(channels_));
    }
    if (count_ == 0) return InvalidArgument("bias correction: no calibration outputs were accumulated");
    const auto m = mean_error();
    for (size_t c = 0; c < bias.size(); ++c) bias[c] = static_cast<float>(bias[c] - m[c]);
    return Status::Ok();
}

Status correct_bias_empirical(std::span<const float> y_fp, std::span<const float> y_q, int64_t outer,
                              int64_t channels, int64_t inner, std::span<float> bias) {
    if (channels <= 0) return InvalidArgument("bias correction: channels must be positive");
    BiasCorrectionAccumulator acc(channels);
    EDGEQ_RETURN_IF_ERROR(acc.add(y_fp, y_q, outer, inner));
    return acc.apply(bias);
}

}  // namespace edgeq::quant::ptq
