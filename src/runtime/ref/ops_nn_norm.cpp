// Normalizations: BatchNormalization, LayerNormalization, InstanceNormalization, GroupNormalization,
// MeanVarianceNormalization, LpNormalization, LRN.
//
// All compute in float (F16/BF16 converted; F64 in double). Means and variances are two-pass: mean = sum(x)/n,
// var = sum((x - mean)^2)/n (population variance), both sums accumulated in double in index order, then rounded
// to the compute type. y = (x - mean) / sqrt(var + epsilon) * scale + bias.
#include <cmath>
#include <string>
#include <vector>

#include "runtime/ref/common.h"
#include "runtime/ref/math_common.h"

namespace edgeq::runtime {
namespace {

using math::is_float;

std::vector<double> values(const Tensor& t) {
    if (t.dtype() == DType::F64) return {t.data<double>(), t.data<double>() + t.numel()};
    const auto f = t.to_f32();
    return {f.begin(), f.end()};
}
// Output of type `dt` from double values: F64 exact, everything else through float.
Tensor make_output(DType dt, const Shape& shape, const std::vector<double>& v) {
    if (dt == DType::F64) return Tensor::from_vector<double>(dt, shape, v);
    std::vector<float> f(v.size());
    for (size_t i = 0; i < v.size(); ++i) f[i] = static_cast<float>(v[i]);
    return from_float_tensor(Tensor::from_vector<float>(DType::F32, shape, f), dt);
}
// Rounds to the compute type of dt (float unless F64), so that float models compute in float.
double rnd(double v, DType dt) { return dt == DType::F64 ? v : static_cast<double>(static_cast<float>(v)); }

struct Moments {
    double mean = 0, var = 0;
};
// Moments of x[base + j*stride] for j < n.
Moments moments(const std::vector<double>& x, int64_t base, int64_t n, int64_t stride = 1) {
    Moments m;
    if (n == 0) return m;
    double s = 0;
    for (int64_t j = 0; j < n; ++j) s += x[static_cast<size_t>(base + j * stride)];
    m.mean = s / static_cast<double>(n);
    double q = 0;
    for (int64_t j = 0; j < n; ++j) {
        const double d = x[static_cast<size_t>(base + j * stride)] - m.mean;
        q += d * d;
    }
    m.var = q / static_cast<double>(n);
    return m;
}

}  // namespace

// BatchNormalization. X [N, C, D...], scale/B/mean/var [C] (opset < 9 with spatial = 0: [C, D...]).
// Inference: Y = (X - mean) / sqrt(var + eps) * scale + B. training_mode (opset >= 14): batch statistics, and
// outputs running_mean = mean * momentum + batch_mean * (1 - momentum), running_var likewise (population var).
Status op_batch_normalization(OpContext& ctx) {
    for (size_t i = 0; i < 5; ++i)
        if (!ctx.has_input(i)) return ctx.fail("needs inputs X, scale, B, mean, var");
    const Tensor& X = ctx.in(0);
    const DType dt = X.dtype();
    if (!is_float(dt)) return ctx.unsupported(std::string("input type ") + dtype_name(dt));
    if (X.rank() < 2) return ctx.fail("X " + shape_str(X.shape()) + " must have rank >= 2");
    const int64_t N = X.dim(0), C = X.dim(1), S = N * C != 0 ? X.numel() / (N * C) : 0;
    const bool training = ctx.opset >= 14 && ctx.node.attr_i("training_mode", 0) != 0;
    const bool extra_outputs = ctx.outputs.size() > 1 && !ctx.node.outputs[1].empty();
    if (extra_outputs && ctx.opset < 14) return ctx.unsupported("training outputs before opset 14");
    std::vector<std::vector<double>> p(4);
    for (size_t i = 0; i < 4; ++i) {
        const Tensor& t = ctx.in(i + 1);
        if (!is_float(t.dtype())) return ctx.fail("parameter " + std::to_string(i + 1) + " is not a float tensor");
        if (t.numel() != C && !(ctx.opset < 9 && t.numel() == C * S)) {
            return ctx.fail("parameter " + std::to_string(i + 1) + " " + shape_str(t.shape()) + " does not match " +
                            std::to_string(C) + " channels");
        }
        p[i] = values(t);
    }
    const double eps = ctx.node.attr_f("epsilon", 1e-5f);
    const double momentum = ctx.node.attr_f("momentum", 0.9f);
    const auto x = values(X);
    std::vector<double> mean = p[2], var = p[3];
    if (training) {
        for (int64_t c = 0; c < C; ++c) {
            double s = 0;
            for (int64_t n = 0; n < N; ++n)
                for (int64_t k = 0; k < S; ++k) s += x[static_cast<size_t>((n * C + c) * S + k)];
            const double m = N * S != 0 ? s / static_cast<double>(N * S) : 0;
            double q = 0;
            for (int64_t n = 0; n < N; ++n)
                for (int64_t k = 0; k < S; ++k) {
                    const double d = x[static_cast<size_t>((n * C + c) * S + k)] - m;
                    q += d * d;
                }
            mean[static_cast<size_t>(c)] = rnd(m, dt);
            var[static_cast<size_t>(c)] = rnd(N * S != 0 ? q / static_cast<double>(N * S) : 0, dt);
        }
    }
    std::vector<double> y(x.size());
    const bool per_elem = p[0].size() != static_cast<size_t>(C);
    for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < C; ++c)
            for (int64_t k = 0; k < S; ++k) {
                const size_t i = static_cast<size_t>((n * C + c) * S + k);
                const size_t pc = static_cast<size_t>(per_elem ? c * S + k : c);
                const size_t mc = training ? static_cast<size_t>(c) : pc;
                const double inv = rnd(std::sqrt(rnd(var[mc] + eps, dt)), dt);
                y[i] = rnd(rnd(rnd(x[i] - mean[mc], dt) / inv, dt) * p[0][pc], dt) + p[1][pc];
            }
    ctx.outputs[0] = make_output(dt, X.shape(), y);
    if (training) {
        std::vector<double> rm(static_cast<size_t>(C)), rv(static_cast<size_t>(C));
        for (size_t c = 0; c < rm.size(); ++c) {
            rm[c] = p[2][c] * momentum + mean[c] * (1 - momentum);
            rv[c] = p[3][c] * momentum + var[c] * (1 - momentum);
        }
        if (ctx.outputs.size() > 1) ctx.outputs[1] = make_output(ctx.in(3).dtype(), {C}, rm);
        if (ctx.outputs.size() > 2) ctx.outputs[2] = make_output(ctx.in(4).dtype(), {C}, rv);
    } else if (extra_outputs) {
        return ctx.fail("running mean/var outputs need training_mode = 1");
    }
    return Status::Ok();
}

// LayerNormalization (opset 17). Normalizes over axes [axis, rank); Scale and B broadcast to X.shape[axis:].
// Outputs Y, Mean and InvStdDev (X.shape[:axis] + [1] * (rank - axis)).
Status op_layer_normalization(OpContext& ctx) {
    if (!ctx.has_input(0) || !ctx.has_input(1)) return ctx.fail("needs inputs X and Scale");
    const Tensor& X = ctx.in(0);
    const DType dt = X.dtype();
    if (!is_float(dt)) return ctx.unsupported(std::string("input type ") + dtype_name(dt));
    EDGEQ_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx.node.attr_i("axis", -1), X.rank(), ctx));
    const Shape norm_shape(X.shape().begin() + axis, X.shape().end());
    const int64_t inner = shape_numel(norm_shape);
    const int64_t outer = inner ? X.numel() / inner : 0;
    const Tensor& Sc = ctx.in(1);
    const Tensor* B = ctx.has_input(2) ? &ctx.in(2) : nullptr;
    for (const Tensor* t : {&Sc, B}) {
        if (!t) continue;
        auto bs = broadcast_shapes({t->shape(), norm_shape});
        if (!bs.ok() || *bs != norm_shape) {
            return ctx.fail("Scale/B " + shape_str(t->shape()) + " do not broadcast to " + shape_str(norm_shape));
        }
    }
    const auto sc_st = broadcast_strides(Sc.shape(), norm_shape);
    const auto b_st = B ? broadcast_strides(B->shape(), norm_shape) : std::vector<int64_t>();
    const auto nst = strides_of(norm_shape);
    auto param_index = [&](int64_t j, const std::vector<int64_t>& st) {
        int64_t off = 0;
        for (size_t d = 0; d < norm_shape.size(); ++d) off += (j / nst[d] % norm_shape[d]) * st[d];
        return static_cast<size_t>(off);
    };
    const auto x = values(X), sc = values(Sc);
    const auto b = B ? values(*B) : std::vector<double>();
    const double eps = ctx.node.attr_f("epsilon", 1e-5f);
    std::vector<double> y(x.size()), mean(static_cast<size_t>(outer)), inv(static_cast<size_t>(outer));
    for (int64_t o = 0; o < outer; ++o) {
        const Moments m = moments(x, o * inner, inner);
        const double mu = rnd(m.mean, dt);
        const double is = rnd(1.0 / std::sqrt(rnd(m.var, dt) + eps), dt);
        mean[static_cast<size_t>(o)] = mu;
        inv[static_cast<size_t>(o)] = is;
        for (int64_t j = 0; j < inner; ++j) {
            const size_t i = static_cast<size_t>(o * inner + j);
            double v = rnd(rnd(x[i] - mu, dt) * is, dt) * sc[param_index(j, sc_st)];
            if (B) v = rnd(v, dt) + b[param_index(j, b_st)];
            y[i] = v;
        }
    }
    ctx.outputs[0] = make_output(dt, X.shape(), y);
    Shape stat_shape(X.shape().begin(), X.shape().begin() + axis);
    stat_shape.resize(X.shape().size(), 1);
    const DType st = ctx.node.attr_i("stash_type", 1) == 1 ? DType::F32 : dt;
    if (ctx.outputs.size() > 1) ctx.outputs[1] = make_output(st, stat_shape, mean);
    if (ctx.outputs.size() > 2) ctx.outputs[2] = make_output(st, stat_shape, inv);
    return Status::Ok();
}

// Shared by InstanceNormalization (groups = C, parameters per channel) and GroupNormalization.
// X [N, C, D...] viewed as [N, G, C/G * S]; each (n, g) row normalized, then y * scale[c or g] + bias[c or g].
Status group_norm_common(OpContext& ctx, int64_t groups, bool params_per_group) {
    if (!ctx.has_input(0) || !ctx.has_input(1) || !ctx.has_input(2)) return ctx.fail("needs inputs X, scale and B");
    const Tensor& X = ctx.in(0);
    const DType dt = X.dtype();
    if (!is_float(dt)) return ctx.unsupported(std::string("input type ") + dtype_name(dt));
    if (X.rank() < 2) return ctx.fail("X " + shape_str(X.shape()) + " must have rank >= 2");
    const int64_t N = X.dim(0), C = X.dim(1), S = N * C != 0 ? X.numel() / (N * C) : 0;
    if (groups < 1 || C % groups != 0) {
        return ctx.fail(std::to_string(groups) + " groups do not divide " + std::to_string(C) + " channels");
    }
    const int64_t want = params_per_group ? groups : C;
    if (ctx.in(1).numel() != want || ctx.in(2).numel() != want) {
        return ctx.fail("scale " + shape_str(ctx.in(1).shape()) + " and B " + shape_str(ctx.in(2).shape()) +
                        " must have " + std::to_string(want) + " elements");
    }
    const auto x = values(X), sc = values(ctx.in(1)), b = values(ctx.in(2));
    const double eps = ctx.node.attr_f("epsilon", 1e-5f);
    const int64_t Cg = C / groups, row = Cg * S;
    std::vector<double> y(x.size());
    for (int64_t n = 0; n < N; ++n) {
        for (int64_t g = 0; g < groups; ++g) {
            const int64_t base = (n * groups + g) * row;
            const Moments m = moments(x, base, row);
            const double mu = rnd(m.mean, dt);
            const double inv = rnd(std::sqrt(rnd(m.var + eps, dt)), dt);
            for (int64_t j = 0; j < row; ++j) {
                const size_t i = static_cast<size_t>(base + j);
                const size_t pc = static_cast<size_t>(params_per_group ? g : g * Cg + j / S);
                y[i] = rnd(rnd(rnd(x[i] - mu, dt) / inv, dt) * sc[pc], dt) + b[pc];
            }
        }
    }
    ctx.outputs[0] = make_output(dt, X.shape(), y);
    return Status::Ok();
}

Status op_instance_normalization(OpContext& ctx) {
    if (!ctx.has_input(0) || ctx.in(0).rank() < 2) return ctx.fail("needs X of rank >= 2");
    return group_norm_common(ctx, ctx.in(0).dim(1), false);
}

// GroupNormalization: opset 18 scale/bias per group, opset 21 per channel.
Status op_group_normalization(OpContext& ctx) {
    if (!ctx.node.has("num_groups")) return ctx.fail("missing attribute num_groups");
    return group_norm_common(ctx, ctx.node.attr_i("num_groups", 1), ctx.opset < 21);
}

// MeanVarianceNormalization: over `axes` (default [0, 2, 3]): Y = (X - mean) / (sqrt(var) + 1e-9).
Status op_mean_variance_normalization(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input X");
    const Tensor& X = ctx.in(0);
    const DType dt = X.dtype();
    if (!is_float(dt)) return ctx.unsupported(std::string("input type ") + dtype_name(dt));
    const int64_t r = X.rank();
    std::vector<bool> reduced(static_cast<size_t>(r), false);
    for (int64_t a : ctx.node.attr_ints("axes", {0, 2, 3})) {
        EDGEQ_ASSIGN_OR_RETURN(int64_t na, normalize_axis(a, r, ctx));
        reduced[static_cast<size_t>(na)] = true;
    }
    // key of an element: its index with the reduced axes set to 0
    const auto st = strides_of(X.shape());
    const int64_t n = X.numel();
    std::vector<int64_t> key(static_cast<size_t>(n));
    int64_t count = 1;
    for (int64_t d = 0; d < r; ++d)
        if (reduced[static_cast<size_t>(d)]) count *= X.dim(d);
    for (int64_t i = 0; i < n; ++i) {
        int64_t k = 0;
        for (int64_t d = 0; d < r; ++d)
            if (!reduced[static_cast<size_t>(d)]) k += (i / st[static_cast<size_t>(d)] % X.dim(d)) * st[static_cast<size_t>(d)];
        key[static_cast<size_t>(i)] = k;
    }
    const auto x = values(X);
    std::vector<double> sum(static_cast<size_t>(n), 0), sq(static_cast<size_t>(n), 0);
    for (int64_t i = 0; i < n; ++i) sum[static_cast<size_t>(key[static_cast<size_t>(i)])] += x[static_cast<size_t>(i)];
    for (int64_t i = 0; i < n; ++i) {
        const size_t k = static_cast<size_t>(key[static_cast<size_t>(i)]);
        const double d = x[static_cast<size_t>(i)] - sum[k] / static_cast<double>(count);
        sq[k] += d * d;
    }
    std::vector<double> y(x.size());
    for (int64_t i = 0; i < n; ++i) {
        const size_t k = static_cast<size_t>(key[static_cast<size_t>(i)]);
        const double mean = rnd(sum[k] / static_cast<double>(count), dt);
        const double sd = rnd(std::sqrt(rnd(sq[k] / static_cast<double>(count), dt)), dt);
        y[static_cast<size_t>(i)] = rnd(x[static_cast<size_t>(i)] - mean, dt) / rnd(sd + 1e-9, dt);
    }
    ctx.outputs[0] = make_output(dt, X.shape(), y);
    return Status::Ok();
}

// LpNormalization: Y = X / ||X||_p along `axis` (p = 1 or 2); a zero norm gives zeros.
Status op_lp_normalization(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input X");
    const Tensor& X = ctx.in(0);
    const DType dt = X.dtype();
    if (!is_float(dt)) return ctx.unsupported(std::string("input type ") + dtype_name(dt));
    EDGEQ_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx.node.attr_i("axis", -1), X.rank(), ctx));
    const int64_t p = ctx.node.attr_i("p", 2);
    if (p != 1 && p != 2) return ctx.fail("p must be 1 or 2, got " + std::to_string(p));
    const int64_t len = X.rank() ? X.dim(axis) : 1;
    const int64_t inner = shape_numel(Shape(X.shape().begin() + axis + (X.rank() ? 1 : 0), X.shape().end()));
    const int64_t outer = len * inner != 0 ? X.numel() / (len * inner) : 0;
    const auto x = values(X);
    std::vector<double> y(x.size(), 0);
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t in = 0; in < inner; ++in) {
            const int64_t base = o * len * inner + in;
            double s = 0;
            for (int64_t j = 0; j < len; ++j) {
                const double v = x[static_cast<size_t>(base + j * inner)];
                s += p == 1 ? std::fabs(v) : v * v;
            }
            const double norm = rnd(p == 1 ? s : std::sqrt(s), dt);
            for (int64_t j = 0; j < len; ++j) {
                const size_t i = static_cast<size_t>(base + j * inner);
                y[i] = norm != 0 ? x[i] / norm : 0.0;
            }
        }
    ctx.outputs[0] = make_output(dt, X.shape(), y);
    return Status::Ok();
}

// LRN across channels: Y = X / (bias + alpha / size * sum_{c' in window} X[c']^2) ^ beta,
// window [c - floor((size-1)/2), c + ceil((size-1)/2)].
Status op_lrn(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input X");
    const Tensor& X = ctx.in(0);
    const DType dt = X.dtype();
    if (!is_float(dt)) return ctx.unsupported(std::string("input type ") + dtype_name(dt));
    if (X.rank() < 2) return ctx.fail("X " + shape_str(X.shape()) + " must have rank >= 2");
    const int64_t size = ctx.node.attr_i("size", 0);
    if (size < 1) return ctx.fail("size must be >= 1");
    const double alpha = ctx.node.attr_f("alpha", 1e-4f), beta = ctx.node.attr_f("beta", 0.75f);
    const double bias = ctx.node.attr_f("bias", 1.0f);
    const int64_t N = X.dim(0), C = X.dim(1), S = N * C != 0 ? X.numel() / (N * C) : 0;
    const int64_t lo = (size - 1) / 2, hi = size - 1 - lo;
    const auto x = values(X);
    std::vector<double> y(x.size());
    for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < C; ++c)
            for (int64_t k = 0; k < S; ++k) {
                double sq = 0;
                for (int64_t cc = std::max<int64_t>(0, c - lo); cc <= std::min(C - 1, c + hi); ++cc) {
                    const double v = x[static_cast<size_t>((n * C + cc) * S + k)];
                    sq += v * v;
                }
                const size_t i = static_cast<size_t>((n * C + c) * S + k);
                y[i] = x[i] / std::pow(rnd(bias + alpha / static_cast<double>(size) * sq, dt), beta);
            }
    ctx.outputs[0] = make_output(dt, X.shape(), y);
    return Status::Ok();
}

}  // namespace edgeq::runtime
