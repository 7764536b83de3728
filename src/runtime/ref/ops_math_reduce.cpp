// Reference reductions and ops along an axis:
//   ReduceSum ReduceMean ReduceMax ReduceMin ReduceProd ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp
//   ReduceSumSquare   axes from the `axes` attribute (before opset 13 for ReduceSum, 18 for the others) or
//                     from input 1; keepdims (default 1); noop_with_empty_axes (default 0: no axes = all)
//   ArgMax ArgMin     axis, keepdims, select_last_index -> I64
//   Softmax LogSoftmax Hardmax
//                     opset < 13: the input is coerced to 2-D [prod(dims < axis), prod(dims >= axis)]
//                     (axis default 1) and each row is normalised; opset >= 13: along one axis (default -1)
//   CumSum CumProd    axis as input 1; exclusive, reverse
// Integer types compute in their own type (wrapping) where the result is an integer of the same kind (sum,
// product, min, max, L1, sum of squares); mean, L2 and the log reductions go through double and truncate.
// Floats accumulate in double. An empty reduction gives the ONNX value: sum 0, product 1, max -inf (lowest
// integer), min +inf (largest integer), mean NaN (0 for integers), log-sum(-exp) -inf.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "runtime/ref/common.h"
#include "runtime/ref/math_common.h"

namespace edgeq::runtime {
namespace {

using namespace math;

// Double -> T: floats round, integers truncate toward zero (NaN gives 0, out of range saturates).
template <typename T>
T from_double(double v) {
    if constexpr (std::is_floating_point_v<T>) {
        return static_cast<T>(v);
    } else {
        if (std::isnan(v)) return 0;
        const long double w = v;
        if (w <= static_cast<long double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
        if (w >= static_cast<long double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
        return static_cast<T>(v);
    }
}

int64_t prod(const Shape& s, size_t from, size_t to) {
    int64_t p = 1;
    for (size_t i = from; i < to; ++i) p *= s[i];
    return p;
}

// ---- Reduce* ----------------------------------------------------------------------------------------

enum class Reduce { Sum, Mean, Max, Min, Prod, L1, L2, LogSum, LogSumExp, SumSquare };

template <typename T>
T reduce_group(Reduce r, const std::vector<T>& v) {
    const double n = static_cast<double>(v.size());
    switch (r) {
        case Reduce::Max: {
            T m = std::numeric_limits<T>::lowest();
            if constexpr (std::is_floating_point_v<T>) m = -std::numeric_limits<T>::infinity();
            for (T x : v) m = (x > m || x != x) ? x : m;
            return m;
        }
        case Reduce::Min: {
            T m = std::numeric_limits<T>::max();
            if constexpr (std::is_floating_point_v<T>) m = std::numeric_limits<T>::infinity();
            for (T x : v) m = (x < m || x != x) ? x : m;
            return m;
        }
        case Reduce::Sum: case Reduce::Prod: case Reduce::L1: case Reduce::SumSquare: {
            if constexpr (std::is_integral_v<T>) {
                using W = WrapT<T>;
                W acc = r == Reduce::Prod ? 1 : 0;
                for (T x : v) {
                    const W w = static_cast<W>(x);
                    if (r == Reduce::Sum) acc = static_cast<W>(acc + w);
                    if (r == Reduce::Prod) acc = static_cast<W>(acc * w);
                    if (r == Reduce::SumSquare) acc = static_cast<W>(acc + w * w);
                    if (r == Reduce::L1) {
                        bool neg = false;
                        if constexpr (std::is_signed_v<T>) neg = x < 0;
                        acc = static_cast<W>(neg ? acc - w : acc + w);
                    }
                }
                return static_cast<T>(acc);
            } else {
                double acc = r == Reduce::Prod ? 1 : 0;
                for (T x : v) {
                    const double d = static_cast<double>(x);
                    if (r == Reduce::Sum) acc += d;
                    if (r == Reduce::Prod) acc *= d;
                    if (r == Reduce::SumSquare) acc += d * d;
                    if (r == Reduce::L1) acc += std::fabs(d);
                }
                return static_cast<T>(acc);
            }
        }
        case Reduce::Mean: case Reduce::L2: case Reduce::LogSum: {
            double acc = 0;
            for (T x : v) acc += r == Reduce::L2 ? static_cast<double>(x) * static_cast<double>(x) : static_cast<double>(x);
            if (r == Reduce::Mean) return from_double<T>(acc / n);
            if (r == Reduce::L2) return from_double<T>(std::sqrt(acc));
            return from_double<T>(std::log(acc));
        }
        case Reduce::LogSumExp: {
            double m = -std::numeric_limits<double>::infinity();
            for (T x : v) m = std::max(m, static_cast<double>(x));
            if (std::isinf(m)) return from_double<T>(m);  // empty, all -inf, or some +inf
            double acc = 0;
            for (T x : v) acc += std::exp(static_cast<double>(x) - m);
            return from_double<T>(m + std::log(acc));
        }
    }
    return T{};
}

// Which axes a Reduce* node reduces (mask over the input's dims); *noop is set when no axes were given and
// noop_with_empty_axes asks for the input unchanged.
Result<std::vector<bool>> reduce_mask(const OpContext& ctx, int64_t rank, bool* noop) {
    std::vector<int64_t> axes;
    if (ctx.has_input(1)) {
        const Tensor& a = ctx.in(1);
        if (a.dtype() != DType::I64 && a.dtype() != DType::I32) {
            return ctx.fail(std::string("axes must be INT64, got ") + dtype_name(a.dtype()));
        }
        if (a.rank() > 1) return ctx.fail("axes must be 1-D, got " + shape_str(a.shape()));
        axes = a.to_i64();
    } else {
        axes = ctx.node.attr_ints("axes");
    }
    std::vector<bool> mask(static_cast<size_t>(rank), axes.empty());
    *noop = axes.empty() && ctx.node.attr_i("noop_with_empty_axes", 0) != 0;
    if (*noop) return std::vector<bool>(static_cast<size_t>(rank), false);
    for (int64_t a : axes) {
        const int64_t k = a < 0 ? a + rank : a;
        if (k < 0 || k >= rank) return ctx.fail("axis " + std::to_string(a) + " out of range for rank " + std::to_string(rank));
        if (mask[static_cast<size_t>(k)]) return ctx.fail("axis " + std::to_string(a) + " appears twice");
        mask[static_cast<size_t>(k)] = true;
    }
    return mask;
}

// Groups the elements of x by output position (reduced dims collapsed) and reduces each group.
template <typename T>
Tensor reduce_tensor(Reduce r, const Tensor& x, const std::vector<bool>& mask, bool keepdims) {
    const Shape& in = x.shape();
    Shape keep = in, out_shape;
    for (size_t d = 0; d < in.size(); ++d) {
        if (mask[d]) keep[d] = 1;
        if (!mask[d] || keepdims) out_shape.push_back(keep[d]);
    }
    const auto keep_st = strides_of(keep);
    std::vector<std::vector<T>> groups(static_cast<size_t>(shape_numel(keep)));
    std::vector<int64_t> idx(in.size(), 0);
    const T* px = x.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) {
        int64_t o = 0;
        for (size_t d = 0; d < in.size(); ++d)
            if (!mask[d]) o += idx[d] * keep_st[d];
        groups[static_cast<size_t>(o)].push_back(px[i]);
        for (size_t d = in.size(); d-- > 0;) {
            if (++idx[d] < in[d]) break;
            idx[d] = 0;
        }
    }
    Tensor out(x.dtype(), out_shape);
    for (size_t o = 0; o < groups.size(); ++o) out.data<T>()[o] = reduce_group<T>(r, groups[o]);
    return out;
}

Status reduce_op(OpContext& ctx, Reduce r) {
    EDGEQ_RETURN_IF_ERROR(check_arity(ctx, 1, 2));
    const Tensor& x = ctx.in(0);
    const unsigned types = (r == Reduce::Max || r == Reduce::Min) ? (kNumeric | kBool) : kNumeric;
    if (!type_in(x.dtype(), types)) return unsupported_type(ctx, x.dtype());
    bool noop = false;
    EDGEQ_ASSIGN_OR_RETURN(auto mask, reduce_mask(ctx, x.rank(), &noop));
    if (noop) {
        ctx.outputs[0] = x;
        return Status::Ok();
    }
    const bool keepdims = ctx.node.attr_i("keepdims", 1) != 0;
    const Tensor cx = compute_view(x);
    Tensor out;
    visit_numeric(cx.dtype(), [&](auto tag) { out = reduce_tensor<decltype(tag)>(r, cx, mask, keepdims); });
    ctx.outputs[0] = finish(out, x.dtype());
    return Status::Ok();
}

// ---- axis decomposition shared by ArgMax/ArgMin, Softmax family, CumSum --------------------------------

// A tensor viewed as [outer, len, inner] around an axis.
struct AxisView {
    int64_t outer = 1, len = 1, inner = 1;
};

AxisView view_at(const Shape& s, int64_t axis) {
    const size_t a = static_cast<size_t>(axis);
    return {prod(s, 0, a), s.empty() ? 1 : s[a], prod(s, a + 1, s.size())};
}

// ---- Softmax family ---------------------------------------------------------------------------------

enum class Norm { Softmax, LogSoftmax, Hardmax };

Status normalize_op(OpContext& ctx, Norm kind) {
    EDGEQ_RETURN_IF_ERROR(check_arity(ctx, 1, 1));
    const Tensor& x = ctx.in(0);
    if (!type_in(x.dtype(), kFloat)) return unsupported_type(ctx, x.dtype());
    const bool legacy = ctx.opset > 0 && ctx.opset < 13;
    const Shape& s = x.shape();
    AxisView v;
    if (x.rank() > 0) {
        EDGEQ_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx.node.attr_i("axis", legacy ? 1 : -1), x.rank(), ctx));
        v = view_at(s, axis);
        if (legacy) v = {prod(s, 0, static_cast<size_t>(axis)), prod(s, static_cast<size_t>(axis), s.size()), 1};
    }
    const Tensor cx = compute_view(x);
    Tensor out(cx.dtype(), s);
    visit_numeric(cx.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* px = cx.data<T>();
        T* po = out.data<T>();
        std::vector<double> row(static_cast<size_t>(v.len));
        for (int64_t o = 0; o < v.outer; ++o) {
            for (int64_t in = 0; in < v.inner; ++in) {
                const int64_t base = o * v.len * v.inner + in;
                double m = -std::numeric_limits<double>::infinity();
                int64_t arg = 0;
                for (int64_t k = 0; k < v.len; ++k) {
                    row[static_cast<size_t>(k)] = static_cast<double>(px[base + k * v.inner]);
                    if (row[static_cast<size_t>(k)] > m) {
                        m = row[static_cast<size_t>(k)];
                        arg = k;
                    }
                }
                double sum = 0;
                for (double r : row) sum += std::exp(r - m);
                for (int64_t k = 0; k < v.len; ++k) {
                    const double r = row[static_cast<size_t>(k)];
                    double y = 0;
                    if (kind == Norm::Softmax) y = std::exp(r - m) / sum;
                    if (kind == Norm::LogSoftmax) y = r - m - std::log(sum);
                    if (kind == Norm::Hardmax) y = k == arg ? 1 : 0;
                    po[base + k * v.inner] = static_cast<T>(y);
                }
            }
        }
    });
    ctx.outputs[0] = finish(out, x.dtype());
    return Status::Ok();
}

// ---- ArgMax / ArgMin --------------------------------------------------------------------------------

Status arg_op(OpContext& ctx, bool is_max) {
    EDGEQ_RETURN_IF_ERROR(check_arity(ctx, 1, 1));
    const Tensor& x = ctx.in(0);
    if (!type_in(x.dtype(), kNumeric)) return unsupported_type(ctx, x.dtype());
    if (x.rank() == 0) return ctx.fail("input must have rank >= 1");
    EDGEQ_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx.node.attr_i("axis", 0), x.rank(), ctx));
    const bool keepdims = ctx.node.attr_i("keepdims", 1) != 0;
    const bool last = ctx.node.attr_i("select_last_index", 0) != 0;
    const AxisView v = view_at(x.shape(), axis);
    if (v.len == 0) return ctx.fail("cannot take the arg" + std::string(is_max ? "max" : "min") + " of an empty axis");
    Shape out_shape = x.shape();
    if (keepdims) out_shape[static_cast<size_t>(axis)] = 1;
    else out_shape.erase(out_shape.begin() + axis);
    Tensor out(DType::I64, out_shape);
    const Tensor cx = compute_view(x);
    visit_numeric(cx.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* px = cx.data<T>();
        for (int64_t o = 0; o < v.outer; ++o) {
            for (int64_t in = 0; in < v.inner; ++in) {
                const int64_t base = o * v.len * v.inner + in;
                int64_t best = 0;
                for (int64_t k = 1; k < v.len; ++k) {
                    const T a = px[base + k * v.inner], b = px[base + best * v.inner];
                    const bool better = is_max ? a > b : a < b;
                    if (better || (last && a == b)) best = k;
                }
                out.data<int64_t>()[o * v.inner + in] = best;
            }
        }
    });
    ctx.outputs[0] = out;
    return Status::Ok();
}

}  // namespace

Status op_reduce_sum(OpContext& ctx) { return reduce_op(ctx, Reduce::Sum); }
Status op_reduce_mean(OpContext& ctx) { return reduce_op(ctx, Reduce::Mean); }
Status op_reduce_max(OpContext& ctx) { return reduce_op(ctx, Reduce::Max); }
Status op_reduce_min(OpContext& ctx) { return reduce_op(ctx, Reduce::Min); }
Status op_reduce_prod(OpContext& ctx) { return reduce_op(ctx, Reduce::Prod); }
Status op_reduce_l1(OpContext& ctx) { return reduce_op(ctx, Reduce::L1); }
Status op_reduce_l2(OpContext& ctx) { return reduce_op(ctx, Reduce::L2); }
Status op_reduce_log_sum(OpContext& ctx) { return reduce_op(ctx, Reduce::LogSum); }
Status op_reduce_log_sum_exp(OpContext& ctx) { return reduce_op(ctx, Reduce::LogSumExp); }
Status op_reduce_sum_square(OpContext& ctx) { return reduce_op(ctx, Reduce::SumSquare); }

Status op_softmax(OpContext& ctx) { return normalize_op(ctx, Norm::Softmax); }
Status op_log_softmax(OpContext& ctx) { return normalize_op(ctx, Norm::LogSoftmax); }
Status op_hardmax(OpContext& ctx) { return normalize_op(ctx, Norm::Hardmax); }

Status op_argmax(OpContext& ctx) { return arg_op(ctx, true); }
Status op_argmin(OpContext& ctx) { return arg_op(ctx, false); }

namespace {

// CumSum / CumProd (x, axis): running sums / products along axis; exclusive leaves out the current element
// (starting from 0 / 1), reverse runs from the end.
Status cumulative_op(OpContext& ctx, bool product) {
    EDGEQ_RETURN_IF_ERROR(check_arity(ctx, 2, 2));
    const Tensor& x = ctx.in(0);
    const Tensor& axis_t = ctx.in(1);
    if (!type_in(x.dtype(), kNumeric)) return unsupported_type(ctx, x.dtype());
    if ((axis_t.dtype() != DType::I64 && axis_t.dtype() != DType::I32) || axis_t.numel() != 1 || axis_t.rank() > 1) {
        return ctx.fail("axis must be an INT32/INT64 scalar");
    }
    if (x.rank() == 0) return ctx.fail("input must have rank >= 1");
    EDGEQ_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(axis_t.to_i64()[0], x.rank(), ctx));
    const bool exclusive = ctx.node.attr_i("exclusive", 0) != 0;
    const bool reverse = ctx.node.attr_i("reverse", 0) != 0;
    const AxisView v = view_at(x.shape(), axis);
    const Tensor cx = compute_view(x);
    Tensor out(cx.dtype(), x.shape());
    visit_numeric(cx.dtype(), [&](auto tag) {
        using T = decltype(tag);
        using Acc = std::conditional_t<std::is_floating_point_v<T>, double, WrapT<T>>;
        const T* px = cx.data<T>();
        T* po = out.data<T>();
        for (int64_t o = 0; o < v.outer; ++o) {
            for (int64_t in = 0; in < v.inner; ++in) {
                Acc acc = product ? 1 : 0;
                for (int64_t j = 0; j < v.len; ++j) {
                    const int64_t k = reverse ? v.len - 1 - j : j;
                    const int64_t at = (o * v.len + k) * v.inner + in;
                    if (exclusive) po[at] = static_cast<T>(acc);
                    const Acc xv = static_cast<Acc>(px[at]);
                    acc = static_cast<Acc>(product ? acc * xv : acc + xv);
                    if (!exclusive) po[at] = static_cast<T>(acc);
                }
            }
        }
    });
    ctx.outputs[0] = finish(out, x.dtype());
    return Status::Ok();
}

}  // namespace

Status op_cumsum(OpContext& ctx) { return cumulative_op(ctx, false); }
Status op_cumprod(OpContext& ctx) { return cumulative_op(ctx, true); }

}  // namespace edgeq::runtime
