// Spatial rearrangement: Resize (opset 10-19), Upsample (7/9), DepthToSpace, SpaceToDepth; and Dropout (inference).
//
// Resize is separable: along every axis d an output coordinate x maps to an input coordinate x' (coordinate
// transformation mode, computed in double as ONNX's reference does) and to a few taps (index, weight):
//   nearest  one tap, index by nearest_mode            linear  floor(x'), floor(x')+1 with 1-r, r (r = x' - floor(x'))
//   cubic    floor(x')-1 .. floor(x')+2, Keys coefficients with A = cubic_coeff_a (exclude_outside: taps outside
//            the input get weight 0 and the rest are renormalised)
// antialias (opset 18, linear/cubic, scale < 1): the kernel is stretched by 1/scale and its weights normalised.
// Tap indices are clamped to [0, in-1] (edge padding). tf_crop_and_resize gives extrapolation_value where x' falls
// outside [0, in-1] on any axis. The output value is sum over tap combinations of prod(weights) * X[taps], in double.
// Output size: sizes, or floor(in * scale) (tf_crop_and_resize: floor(in * (end - start) * scale)).
// Opset 10 Resize and Upsample: asymmetric coordinates, nearest = floor when upsampling, ceil when downsampling
// (ORT's "simple" mode).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "runtime/ref/common.h"

namespace edgeq::runtime {
namespace {

struct Tap {
    int64_t index;
    double weight;
};
struct AxisPlan {
    std::vector<std::vector<Tap>> taps;  // per output coordinate
    std::vector<bool> outside;           // per output coordinate: extrapolate (tf_crop_and_resize)
};

struct ResizeAttrs {
    std::string mode = "nearest", coord = "half_pixel", nearest = "round_prefer_floor";
    double cubic_a = -0.75, extrapolation = 0;
    bool exclude_outside = false, simple_nearest = false, antialias = false;
};

std::vector<double> cubic_coeffs(double r, double A) {
    auto near = [A](double t) { return ((A + 2) * t - (A + 3)) * t * t + 1; };          // |t| <= 1
    auto far = [A](double t) { return ((A * t - 5 * A) * t + 8 * A) * t - 4 * A; };    // 1 < |t| < 2
    return {far(r + 1), near(r), near(1 - r), far(2 - r)};
}

// Keys cubic kernel at distance t >= 0.
double cubic_kernel(double t, double A) {
    if (t <= 1) return ((A + 2) * t - (A + 3)) * t * t + 1;
    if (t < 2) return ((A * t - 5 * A) * t + 8 * A) * t - 4 * A;
    return 0;
}

Result<AxisPlan> plan_axis(const OpContext& ctx, const ResizeAttrs& a, int64_t in, int64_t out, double scale,
                           double roi_start, double roi_end) {
    AxisPlan p;
    p.taps.resize(static_cast<size_t>(out));
    p.outside.assign(static_cast<size_t>(out), false);
    const double out_f = scale * static_cast<double>(in);  // ONNX: length_resized as a real number
    for (int64_t xo = 0; xo < out; ++xo) {
        const double x = static_cast<double>(xo);
        double xi;
        if (a.coord == "half_pixel") {
            xi = (x + 0.5) / scale - 0.5;
        } else if (a.coord == "half_pixel_symmetric") {
            const double adjustment = static_cast<double>(out) / out_f;
            const double center = static_cast<double>(in) / 2;
            xi = center * (1 - adjustment) + (x + 0.5) / scale - 0.5;
        } else if (a.coord == "pytorch_half_pixel") {
            xi = out > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
        } else if (a.coord == "align_corners") {
            xi = out_f == 1 ? 0.0 : x * static_cast<double>(in - 1) / (out_f - 1);
        } else if (a.coord == "asymmetric") {
            xi = x / scale;
        } else if (a.coord == "tf_half_pixel_for_nn") {
            xi = (x + 0.5) / scale;
        } else if (a.coord == "tf_crop_and_resize") {
            xi = out_f == 1 ? (roi_end - roi_start) * static_cast<double>(in - 1) / 2
                            : x * (roi_end - roi_start) * static_cast<double>(in - 1) / (out_f - 1);
            xi += roi_start * static_cast<double>(in - 1);
            if (xi < 0 || xi > static_cast<double>(in - 1)) p.outside[static_cast<size_t>(xo)] = true;
        } else {
            return ctx.fail("unknown coordinate_transformation_mode '" + a.coord + "'");
        }
        const double fl = std::floor(xi);
        const double r = xi - fl;
        const int64_t i0 = static_cast<int64_t>(fl);
        auto clamp = [in](int64_t i) { return std::clamp<int64_t>(i, 0, in - 1); };
        std::vector<Tap>& taps = p.taps[static_cast<size_t>(xo)];
        if (a.mode == "nearest") {
            int64_t idx;
            if (a.simple_nearest) {
                idx = scale < 1 ? static_cast<int64_t>(std::ceil(xi)) : static_cast<int64_t>(xi);
            } else if (r == 0) {
                idx = i0;
            } else if (a.nearest == "round_prefer_floor") {
                idx = r <= 0.5 ? i0 : i0 + 1;
            } else if (a.nearest == "round_prefer_ceil") {
                idx = r < 0.5 ? i0 : i0 + 1;
            } else if (a.nearest == "floor") {
                idx = i0;
            } else if (a.nearest == "ceil") {
                idx = i0 + 1;
            } else {
                return ctx.fail("unknown nearest_mode '" + a.nearest + "'");
            }
            taps.push_back({clamp(idx), 1.0});
        } else if (a.antialias && scale < 1 && (a.mode == "linear" || a.mode == "cubic")) {
            // antialias (opset 18) when downsampling: the kernel stretched by 1/scale, taps floor(x')+k for k in
            // [start, 1 - start] (linear) / [start, 2 - start) (cubic), weights normalised to sum 1
            const bool lin = a.mode == "linear";
            const int64_t start = static_cast<int64_t>(std::floor((lin ? -1.0 : -2.0) / scale)) + 1;
            const int64_t end = 1 - start;  // inclusive
            std::vector<double> c;
            double sum = 0;
            for (int64_t k = start; k <= end; ++k) {
                const double t = std::fabs((static_cast<double>(k) - r) * scale);
                double v = lin ? std::max(0.0, 1 - t) : cubic_kernel(t, a.cubic_a);
                if (a.exclude_outside && (i0 + k < 0 || i0 + k >= in)) v = 0;
                c.push_back(v);
                sum += v;
            }
            for (int64_t k = start; k <= end; ++k) {
                const double v = sum != 0 ? c[static_cast<size_t>(k - start)] / sum : 0;
                if (v != 0) taps.push_back({clamp(i0 + k), v});
            }
        } else if (a.mode == "linear") {
            taps.push_back({clamp(i0), 1 - r});
            if (r != 0) taps.push_back({clamp(i0 + 1), r});
        } else if (a.mode == "cubic") {
            std::vector<double> c = cubic_coeffs(r, a.cubic_a);
            if (a.exclude_outside) {
                double sum = 0;
                for (int64_t k = 0; k < 4; ++k) {
                    const int64_t idx = i0 - 1 + k;
                    if (idx < 0 || idx >= in) c[static_cast<size_t>(k)] = 0;
                    sum += c[static_cast<size_t>(k)];
                }
                for (double& v : c) v = sum != 0 ? v / sum : 0;
            }
            for (int64_t k = 0; k < 4; ++k)
                if (c[static_cast<size_t>(k)] != 0) taps.push_back({clamp(i0 - 1 + k), c[static_cast<size_t>(k)]});
        } else {
            return ctx.fail("unknown mode '" + a.mode + "'");
        }
    }
    return p;
}

// Resizes X to `out` with per-axis scales; roi holds [starts..., ends...] over all axes (tf_crop_and_resize).
Status resize_common(OpContext& ctx, const ResizeAttrs& a, const Shape& out, const std::vector<double>& scales,
                     const std::vector<double>& roi) {
    const Tensor& X = ctx.in(0);
    const size_t r = out.size();
    std::vector<AxisPlan> plans;
    for (size_t d = 0; d < r; ++d) {
        if (scales[d] <= 0) return ctx.fail("scales must be > 0");
        if (X.dim(static_cast<int64_t>(d)) == 0 && out[d] != 0) {
            return ctx.fail("cannot resize the empty axis " + std::to_string(d) + " of " + shape_str(X.shape()));
        }
        EDGEQ_ASSIGN_OR_RETURN(AxisPlan p, plan_axis(ctx, a, X.dim(static_cast<int64_t>(d)), out[d], scales[d],
                                                     roi.empty() ? 0.0 : roi[d], roi.empty() ? 1.0 : roi[d + r]));
        plans.push_back(std::move(p));
    }
    std::vector<double> x;
    if (X.dtype() == DType::F64) {
        x.assign(X.data<double>(), X.data<double>() + X.numel());
    } else {
        const auto xf = X.to_f32();
        x.assign(xf.begin(), xf.end());
    }
    const auto in_st = strides_of(X.shape());
    const int64_t n = shape_numel(out);
    std::vector<double> y(static_cast<size_t>(n));
    std::vector<int64_t> oc(r, 0);
    std::vector<size_t> pick(r, 0);
    for (int64_t o = 0; o < n; ++o) {
        int64_t rem = o;
        bool outside = false;
        for (size_t d = r; d-- > 0;) {
            oc[d] = rem % out[d];
            rem /= out[d];
            outside = outside || plans[d].outside[static_cast<size_t>(oc[d])];
        }
        if (outside) {
            y[static_cast<size_t>(o)] = a.extrapolation;
            continue;
        }
        // odometer over the tap combinations
        double acc = 0;
        std::fill(pick.begin(), pick.end(), 0);
        while (true) {
            double w = 1;
            int64_t off = 0;
            for (size_t d = 0; d < r; ++d) {
                const Tap& t = plans[d].taps[static_cast<size_t>(oc[d])][pick[d]];
                w *= t.weight;
                off += t.index * in_st[d];
            }
            acc += w * x[static_cast<size_t>(off)];
            size_t d = r;
            while (d-- > 0) {
                if (++pick[d] < plans[d].taps[static_cast<size_t>(oc[d])].size()) break;
                pick[d] = 0;
            }
            if (d == static_cast<size_t>(-1)) break;
        }
        y[static_cast<size_t>(o)] = acc;
    }
    if (X.dtype() == DType::F64) {
        ctx.outputs[0] = Tensor::from_vector<double>(DType::F64, out, y);
    } else {
        const std::vector<float> yf(y.begin(), y.end());
        ctx.outputs[0] = from_float_tensor(Tensor::from_vector<float>(DType::F32, out, yf), X.dtype());
    }
    return Status::Ok();
}

bool resizable(DType t) {
    return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F64 || t == DType::I8 ||
           t == DType::U8 || t == DType::I32;
}

std::vector<double> float_values(const Tensor& t) {
    const auto f = t.to_f32();
    return {f.begin(), f.end()};
}

// Upsample-7/9 and Resize-10: scales for every axis, asymmetric coordinates, simple nearest.
Status resize_with_scales_v10(OpContext& ctx, const std::vector<double>& scales) {
    const Tensor& X = ctx.in(0);
    if (scales.size() != static_cast<size_t>(X.rank())) {
        return ctx.fail("scales has " + std::to_string(scales.size()) + " values for rank " + std::to_string(X.rank()));
    }
    ResizeAttrs a;
    a.mode = ctx.node.attr_s("mode", "nearest");
    if (a.mode == "bilinear") a.mode = "linear";
    a.coord = "asymmetric";
    a.simple_nearest = true;
    if (a.mode != "nearest" && a.mode != "linear") return ctx.fail("mode must be nearest or linear, got '" + a.mode + "'");
    Shape out(scales.size());
    for (size_t d = 0; d < scales.size(); ++d) {
        if (scales[d] <= 0) return ctx.fail("scales must be > 0");
        out[d] = static_cast<int64_t>(std::floor(scales[d] * static_cast<double>(X.dim(static_cast<int64_t>(d)))));
    }
    return resize_common(ctx, a, out, scales, {});
}

}  // namespace

Status op_upsample(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input X");
    if (!resizable(ctx.in(0).dtype())) return ctx.unsupported(std::string("type ") + dtype_name(ctx.in(0).dtype()));
    std::vector<double> scales;
    if (ctx.has_input(1)) {
        scales = float_values(ctx.in(1));
    } else {
        for (float s : ctx.node.attr_floats("scales")) scales.push_back(s);
    }
    return resize_with_scales_v10(ctx, scales);
}

Status op_resize(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input X");
    const Tensor& X = ctx.in(0);
    if (!resizable(X.dtype())) return ctx.unsupported(std::string("type ") + dtype_name(X.dtype()));
    if (ctx.opset < 11) {
        if (!ctx.has_input(1)) return ctx.fail("missing input scales");
        return resize_with_scales_v10(ctx, float_values(ctx.in(1)));
    }
    const size_t rank = static_cast<size_t>(X.rank());
    ResizeAttrs a;
    a.mode = ctx.node.attr_s("mode", "nearest");
    a.coord = ctx.node.attr_s("coordinate_transformation_mode", "half_pixel");
    a.nearest = ctx.node.attr_s("nearest_mode", "round_prefer_floor");
    a.cubic_a = ctx.node.attr_f("cubic_coeff_a", -0.75f);
    a.exclude_outside = ctx.node.attr_i("exclude_outside", 0) != 0;
    a.extrapolation = ctx.node.attr_f("extrapolation_value", 0.0f);
    // axes (opset 18): roi/scales/sizes name only these axes
    std::vector<int64_t> axes = ctx.node.attr_ints("axes");
    if (axes.empty()) {
        for (size_t d = 0; d < rank; ++d) axes.push_back(static_cast<int64_t>(d));
    }
    for (int64_t& ax : axes) {
        EDGEQ_ASSIGN_OR_RETURN(ax, normalize_axis(ax, static_cast<int64_t>(rank), ctx));
    }
    const size_t na = axes.size();
    const bool has_scales = ctx.has_input(2) && ctx.in(2).numel() > 0;
    const bool has_sizes = ctx.has_input(3) && ctx.in(3).numel() > 0;
    if (has_scales == has_sizes) return ctx.fail("exactly one of scales and sizes must be given");
    std::vector<double> roi;
    if (a.coord == "tf_crop_and_resize") {
        roi.assign(2 * rank, 0.0);
        for (size_t d = 0; d < rank; ++d) roi[d + rank] = 1.0;
        if (ctx.has_input(1) && ctx.in(1).numel() > 0) {
            const auto rv = float_values(ctx.in(1));
            if (rv.size() != 2 * na) return ctx.fail("roi must have " + std::to_string(2 * na) + " values");
            for (size_t k = 0; k < na; ++k) {
                roi[static_cast<size_t>(axes[k])] = rv[k];
                roi[static_cast<size_t>(axes[k]) + rank] = rv[k + na];
            }
        }
    }
    std::vector<double> scales(rank, 1.0);
    Shape out = X.shape();
    if (has_scales) {
        const auto sv = float_values(ctx.in(2));
        if (sv.size() != na) return ctx.fail("scales must have " + std::to_string(na) + " values");
        for (size_t k = 0; k < na; ++k) {
            const size_t d = static_cast<size_t>(axes[k]);
            scales[d] = sv[k];
            if (scales[d] <= 0) return ctx.fail("scales must be > 0");
            const double crop = roi.empty() ? 1.0 : roi[d + rank] - roi[d];
            out[d] = static_cast<int64_t>(std::floor(static_cast<double>(X.shape()[d]) * crop * scales[d]));
        }
    } else {
        const auto sz = ctx.in(3).to_i64();
        if (sz.size() != na) return ctx.fail("sizes must have " + std::to_string(na) + " values");
        const std::string policy = ctx.node.attr_s("keep_aspect_ratio_policy", "stretch");
        if (policy == "stretch") {
            for (size_t k = 0; k < na; ++k) {
                const size_t d = static_cast<size_t>(axes[k]);
                out[d] = sz[k];
                scales[d] = static_cast<double>(sz[k]) / static_cast<double>(X.shape()[d]);
            }
        } else if (policy == "not_larger" || policy == "not_smaller") {
            double s = policy == "not_larger" ? 1e300 : 0.0;
            for (size_t k = 0; k < na; ++k) {
                const double q = static_cast<double>(sz[k]) / static_cast<double>(X.shape()[static_cast<size_t>(axes[k])]);
                s = policy == "not_larger" ? std::min(s, q) : std::max(s, q);
            }
            for (size_t k = 0; k < na; ++k) {
                const size_t d = static_cast<size_t>(axes[k]);
                scales[d] = s;
                out[d] = static_cast<int64_t>(std::floor(s * static_cast<double>(X.shape()[d]) + 0.5));
            }
        } else {
            return ctx.fail("unknown keep_aspect_ratio_policy '" + policy + "'");
        }
    }
    for (int64_t d : out)
        if (d < 0) return ctx.fail("negative output size");
    a.antialias = ctx.node.attr_i("antialias", 0) != 0;
    return resize_common(ctx, a, out, scales, roi);
}

// DepthToSpace: X [N, C, H, W] -> [N, C/(b*b), H*b, W*b];
//   DCR: Y[n, c, h*b+i, w*b+j] = X[n, (i*b + j) * C/(b*b) + c, h, w]   CRD: X[n, c*b*b + i*b + j, h, w]
// SpaceToDepth is the inverse of DCR: Y[n, (i*b + j) * C + c, h, w] = X[n, c, h*b+i, w*b+j].
Status depth_space_common(OpContext& ctx, bool to_space) {
    if (!ctx.has_input(0)) return ctx.fail("missing input");
    const Tensor& X = ctx.in(0);
    if (X.rank() != 4) return ctx.fail("input " + shape_str(X.shape()) + " must be 4-D");
    const int64_t b = ctx.node.attr_i("blocksize", 0);
    if (b < 1) return ctx.fail("blocksize must be >= 1");
    const size_t es = storage_bytes(X.dtype(), 1);
    if (storage_bytes(X.dtype(), 2) != 2 * es) return ctx.unsupported(std::string("type ") + dtype_name(X.dtype()));
    const int64_t N = X.dim(0), C = X.dim(1), H = X.dim(2), W = X.dim(3);
    const bool crd = ctx.node.attr_s("mode", "DCR") == "CRD";
    if (to_space) {
        if (C % (b * b) != 0) return ctx.fail("channels " + std::to_string(C) + " not divisible by blocksize^2");
        const int64_t Co = C / (b * b);
        Tensor y(X.dtype(), {N, Co, H * b, W * b});
        for (int64_t n = 0; n < N; ++n)
            for (int64_t c = 0; c < Co; ++c)
                for (int64_t h = 0; h < H * b; ++h)
                    for (int64_t w = 0; w < W * b; ++w) {
                        const int64_t i = h % b, j = w % b;
                        const int64_t ci = crd ? c * b * b + i * b + j : (i * b + j) * Co + c;
                        const int64_t src = ((n * C + ci) * H + h / b) * W + w / b;
                        const int64_t dst = ((n * Co + c) * H * b + h) * W * b + w;
                        std::copy_n(X.raw() + src * es, es, y.raw() + dst * es);
                    }
        ctx.outputs[0] = y;
        return Status::Ok();
    }
    if (H % b != 0 || W % b != 0) return ctx.fail("H and W must be divisible by blocksize");
    const int64_t Ho = H / b, Wo = W / b, Co = C * b * b;
    Tensor y(X.dtype(), {N, Co, Ho, Wo});
    for (int64_t n = 0; n < N; ++n)
        for (int64_t co = 0; co < Co; ++co)
            for (int64_t h = 0; h < Ho; ++h)
                for (int64_t w = 0; w < Wo; ++w) {
                    const int64_t c = co % C, ij = co / C, i = ij / b, j = ij % b;
                    const int64_t src = ((n * C + c) * H + h * b + i) * W + w * b + j;
                    const int64_t dst = ((n * Co + co) * Ho + h) * Wo + w;
                    std::copy_n(X.raw() + src * es, es, y.raw() + dst * es);
                }
    ctx.outputs[0] = y;
    return Status::Ok();
}

Status op_depth_to_space(OpContext& ctx) { return depth_space_common(ctx, true); }
Status op_space_to_depth(OpContext& ctx) { return depth_space_common(ctx, false); }

// Dropout at inference: output = input, mask all true (BOOL from opset 10, the input type before). Training
// (opset 12 training_mode input true) with a non-zero ratio is random and not supported.
Status op_dropout(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input data");
    const Tensor& X = ctx.in(0);
    if (ctx.opset >= 12 && ctx.has_input(2) && ctx.in(2).numel() > 0 && ctx.in(2).to_i64()[0] != 0) {
        const double ratio = ctx.has_input(1) && ctx.in(1).numel() > 0 ? ctx.in(1).to_f32()[0] : 0.5;
        if (ratio != 0) return ctx.unsupported("training_mode with a non-zero ratio (random)");
    }
    ctx.outputs[0] = X;
    if (ctx.outputs.size() > 1 && !ctx.node.outputs[1].empty()) {
        if (ctx.opset >= 10) {
            Tensor mask(DType::BOOL, X.shape());
            std::fill_n(mask.raw(), mask.nbytes(), uint8_t{1});
            ctx.outputs[1] = mask;
        } else {
            const Tensor ones = Tensor::from_vector<float>(DType::F32, X.shape(), std::vector<float>(
                                                                                     static_cast<size_t>(X.numel()), 1.0f));
            ctx.outputs[1] = from_float_tensor(ones, X.dtype());
        }
    }
    return Status::Ok();
}

}  // namespace edgeq::runtime
