// Reference elementwise binary and variadic ops, all with ONNX multidirectional (NumPy) broadcasting:
//   arithmetic  Add Sub Mul Div Pow Mod         (Div on integers truncates toward zero)
//   variadic    Min Max Sum Mean                (1..N inputs)
//   logic       And Or Xor (BOOL) BitShift (unsigned) BitwiseAnd BitwiseOr BitwiseXor (integers)
//   compare     Equal Less LessOrEqual Greater GreaterOrEqual -> BOOL
//   select      Where(cond, X, Y), PRelu(X, slope) (slope broadcasts to X)
//
// Integer ops compute in the operands' own type and wrap on overflow (two's complement, as ONNX Runtime
// does); integer division or modulo by zero gives 0 instead of trapping (ONNX leaves it undefined). F16/BF16
// operands are computed in float and rounded back to nearest even.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "runtime/ref/common.h"
#include "runtime/ref/math_common.h"

namespace edgeq::runtime {
namespace {

// ---- small shared helpers ---------------------------------------------------------------------------

using namespace math;

Status check_inputs(const OpContext& ctx, size_t min_in, size_t max_in) {
    if (ctx.num_inputs() < min_in || ctx.num_inputs() > max_in) {
        return ctx.fail("expects " + std::to_string(min_in) + (max_in == min_in ? "" : " or more") + " inputs, got " +
                        std::to_string(ctx.num_inputs()));
    }
    for (size_t i = 0; i < ctx.num_inputs(); ++i)
        if (!ctx.has_input(i)) return ctx.fail("input " + std::to_string(i) + " is missing");
    if (ctx.outputs.empty()) return ctx.fail("has no output");
    return Status::Ok();
}

Result<Shape> broadcast(const OpContext& ctx, const std::vector<Shape>& shapes) {
    auto r = broadcast_shapes(shapes);
    if (!r.ok()) return ctx.fail(r.status().message());
    return r;
}

// Walks an output shape in row-major order, tracking for every input the offset of the element that
// broadcasts onto the current output position.
class BroadcastWalk {
public:
    BroadcastWalk(const Shape& out, const std::vector<Shape>& ins) : out_(out), idx_(out.size(), 0), off_(ins.size(), 0) {
        for (const auto& s : ins) st_.push_back(broadcast_strides(s, out));
    }
    int64_t operator[](size_t k) const { return off_[k]; }
    void next() {
        for (size_t d = out_.size(); d-- > 0;) {
            ++idx_[d];
            for (size_t k = 0; k < off_.size(); ++k) off_[k] += st_[k][d];
            if (idx_[d] < out_[d]) return;
            for (size_t k = 0; k < off_.size(); ++k) off_[k] -= st_[k][d] * out_[d];
            idx_[d] = 0;
        }
    }

private:
    Shape out_;
    std::vector<int64_t> idx_, off_;
    std::vector<std::vector<int64_t>> st_;
};

// out[i] = f(a[i'], b[i'']) over the broadcast shape. Adjacent dimensions that both operands traverse alike
// (contiguously, or both broadcast) are merged first, so the loop runs over rows of the innermost merged
// dimension with constant operand steps (0 or 1) instead of stepping a multi-index per element: [1, 4420, 2]
// · [2] is 4420 rows of 2, a same-shape or scalar operand is one row.
template <typename TA, typename TB, typename R, typename F>
Tensor map2(const Tensor& a, const Tensor& b, const Shape& shape, DType out_type, F f) {
    Tensor out(out_type, shape);
    const TA* pa = a.data<TA>();
    const TB* pb = b.data<TB>();
    R* po = out.data<R>();
    const int64_t n = out.numel();
    if (n == 0) return out;
    const std::vector<int64_t> sa = broadcast_strides(a.shape(), shape), sb = broadcast_strides(b.shape(), shape);
    // merged dims, outermost first: size, a stride, b stride (dims of size 1 dropped)
    std::vector<int64_t> dn, da, db;
    for (size_t d = 0; d < shape.size(); ++d) {
        if (shape[d] == 1) continue;
        if (!dn.empty() && da.back() == sa[d] * shape[d] && db.back() == sb[d] * shape[d]) {
            dn.back() *= shape[d];
            da.back() = sa[d];
            db.back() = sb[d];
            continue;
        }
        dn.push_back(shape[d]);
        da.push_back(sa[d]);
        db.push_back(sb[d]);
    }
    if (dn.empty()) {  // a single element
        po[0] = static_cast<R>(f(pa[0], pb[0]));
        return out;
    }
    const size_t inner = dn.size() - 1;
    const int64_t L = dn[inner], ia = da[inner], ib = db[inner];
    std::vector<int64_t> idx(inner, 0);
    int64_t oa = 0, ob = 0;
    for (int64_t o = 0; o < n; o += L) {
        R* y = po + o;
        const TA* x = pa + oa;
        const TB* z = pb + ob;
        if (ia == 1 && ib == 1) {
            for (int64_t i = 0; i < L; ++i) y[i] = static_cast<R>(f(x[i], z[i]));
        } else if (ia == 1) {
            const TB zv = z[0];
            for (int64_t i = 0; i < L; ++i) y[i] = static_cast<R>(f(x[i], zv));
        } else if (ib == 1) {
            const TA xv = x[0];
            for (int64_t i = 0; i < L; ++i) y[i] = static_cast<R>(f(xv, z[i]));
        } else {
            for (int64_t i = 0; i < L; ++i) y[i] = static_cast<R>(f(x[i * ia], z[i * ib]));
        }
        for (size_t d = inner; d-- > 0;) {  // next row
            oa += da[d];
            ob += db[d];
            if (++idx[d] < dn[d]) break;
            oa -= da[d] * dn[d];
            ob -= db[d] * dn[d];
            idx[d] = 0;
        }
    }
    return out;
}


template <typename T>
T add_v(T a, T b) {
    if constexpr (std::is_integral_v<T>) return static_cast<T>(static_cast<WrapT<T>>(a) + static_cast<WrapT<T>>(b));
    else return a + b;
}
template <typename T>
T sub_v(T a, T b) {
    if constexpr (std::is_integral_v<T>) return static_cast<T>(static_cast<WrapT<T>>(a) - static_cast<WrapT<T>>(b));
    else return a - b;
}
template <typename T>
T mul_v(T a, T b) {
    if constexpr (std::is_integral_v<T>) return static_cast<T>(static_cast<WrapT<T>>(a) * static_cast<WrapT<T>>(b));
    else return a * b;
}
template <typename T>
T div_v(T a, T b) {
    if constexpr (std::is_integral_v<T>) {
        if (b == 0) return 0;
        if constexpr (std::is_signed_v<T>) {
            if (b == -1) return sub_v<T>(0, a);  // INT_MIN / -1 wraps instead of trapping
        }
        return static_cast<T>(a / b);
    } else {
        return a / b;
    }
}
// Mod: fmod = 1 is C's remainder (sign of the dividend); fmod = 0 is Python's (sign of the divisor).
template <typename T>
T mod_v(T a, T b, bool c_fmod) {
    if constexpr (std::is_integral_v<T>) {
        if (b == 0) return 0;
        if constexpr (std::is_signed_v<T>) {
            if (b == -1) return 0;
        }
        T r = static_cast<T>(a % b);
        if constexpr (std::is_signed_v<T>) {
            if (!c_fmod && r != 0 && ((r < 0) != (b < 0))) r = static_cast<T>(r + b);
        }
        return r;
    } else {
        T r = std::fmod(a, b);
        if (!c_fmod && r != 0 && ((r < 0) != (b < 0))) r += b;
        return r;
    }
}

template <typename T>
T max_v(T a, T b) {
    if constexpr (std::is_floating_point_v<T>) {
        if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<T>::quiet_NaN();
    }
    return a < b ? b : a;
}
template <typename T>
T min_v(T a, T b) {
    if constexpr (std::is_floating_point_v<T>) {
        if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<T>::quiet_NaN();
    }
    return b < a ? b : a;
}

// Float -> integer conversion without undefined behaviour: NaN gives 0, out-of-range values saturate.

// base ** exponent in the base's type. Integer ** integer is exact (wrapping); a negative integer exponent
// gives 1/base truncated (1, -1 or 0).
template <typename TA, typename TB>
TA pow_v(TA base, TB e) {
    if constexpr (std::is_integral_v<TA> && std::is_integral_v<TB>) {
        if constexpr (std::is_signed_v<TB>) {
            if (e < 0) {
                if (base == 1) return 1;
                if constexpr (std::is_signed_v<TA>) {
                    if (base == -1) return (e % 2 == 0) ? TA(1) : TA(-1);
                }
                return 0;
            }
        }
        TA r = 1, b = base;
        for (uint64_t k = static_cast<uint64_t>(e); k; k >>= 1) {
            if (k & 1) r = mul_v(r, b);
            b = mul_v(b, b);
        }
        return r;
    } else if constexpr (std::is_integral_v<TA>) {
        return to_int_checked<TA>(std::pow(static_cast<double>(base), static_cast<double>(e)));
    } else {
        return static_cast<TA>(std::pow(static_cast<double>(base), static_cast<double>(e)));
    }
}

// ---- op drivers -------------------------------------------------------------------------------------

// Two operands of one type, result in that type: f(T, T) -> T.
template <typename F>
Result<Tensor> same_type_binary(const OpContext& ctx, const Tensor& a, const Tensor& b, unsigned types, F f) {
    if (a.dtype() != b.dtype()) {
        return ctx.fail(std::string("operand types differ: ") + dtype_name(a.dtype()) + " and " + dtype_name(b.dtype()));
    }
    if (!type_in(a.dtype(), types)) return unsupported_type(ctx, a.dtype());
    EDGEQ_ASSIGN_OR_RETURN(Shape shape, broadcast(ctx, {a.shape(), b.shape()}));
    const Tensor ca = compute_view(a), cb = compute_view(b);
    Tensor out;
    visit_numeric(ca.dtype(), [&](auto tag) {
        using T = decltype(tag);
        out = map2<T, T, T>(ca, cb, shape, ca.dtype(), [&](T x, T y) -> T { return f(x, y); });
    });
    return finish(out, a.dtype());
}

template <typename F>
Status binary_op(OpContext& ctx, unsigned types, F f) {
    EDGEQ_RETURN_IF_ERROR(check_inputs(ctx, 2, 2));
    EDGEQ_ASSIGN_OR_RETURN(ctx.outputs[0], same_type_binary(ctx, ctx.in(0), ctx.in(1), types, f));
    return Status::Ok();
}

// Min/Max/Sum: folds 1..N inputs pairwise (pairwise broadcasting equals N-way broadcasting).
template <typename F>
Result<Tensor> fold_variadic(OpContext& ctx, unsigned types, F f) {
    if (ctx.num_inputs() < 1) return ctx.fail("expects at least one input");
    EDGEQ_RETURN_IF_ERROR(check_inputs(ctx, 1, ctx.num_inputs()));
    if (!type_in(ctx.in(0).dtype(), types)) return unsupported_type(ctx, ctx.in(0).dtype());
    Tensor acc = ctx.in(0);
    for (size_t i = 1; i < ctx.num_inputs(); ++i) {
        EDGEQ_ASSIGN_OR_RETURN(acc, same_type_binary(ctx, acc, ctx.in(i), types, f));
    }
    return acc;
}

// Comparison: f(T, T) -> bool, output BOOL.
template <typename F>
Status compare_op(OpContext& ctx, unsigned types, F f) {
    EDGEQ_RETURN_IF_ERROR(check_inputs(ctx, 2, 2));
    const Tensor& a = ctx.in(0);
    const Tensor& b = ctx.in(1);
    if (a.dtype() != b.dtype()) {
        return ctx.fail(std::string("operand types differ: ") + dtype_name(a.dtype()) + " and " + dtype_name(b.dtype()));
    }
    if (!type_in(a.dtype(), types)) return unsupported_type(ctx, a.dtype());
    EDGEQ_ASSIGN_OR_RETURN(Shape shape, broadcast(ctx, {a.shape(), b.shape()}));
    const Tensor ca = compute_view(a), cb = compute_view(b);
    visit_numeric(ca.dtype(), [&](auto tag) {
        using T = decltype(tag);
        ctx.outputs[0] = map2<T, T, uint8_t>(ca, cb, shape, DType::BOOL, [&](T x, T y) -> uint8_t { return f(x, y) ? 1 : 0; });
    });
    return Status::Ok();
}

}  // namespace

// ---- arithmetic -------------------------------------------------------------------------------------

Status op_add(OpContext& ctx) {
    return binary_op(ctx, kNumeric, [](auto a, auto b) { return add_v(a, b); });
}
Status op_sub(OpContext& ctx) {
    return binary_op(ctx, kNumeric, [](auto a, auto b) { return sub_v(a, b); });
}
Status op_mul(OpContext& ctx) {
    return binary_op(ctx, kNumeric, [](auto a, auto b) { return mul_v(a, b); });
}
Status op_div(OpContext& ctx) {
    return binary_op(ctx, kNumeric, [](auto a, auto b) { return div_v(a, b); });
}

Status op_mod(OpContext& ctx) {
    const bool c_fmod = ctx.node.attr_i("fmod", 0) != 0;
    return binary_op(ctx, kNumeric, [c_fmod](auto a, auto b) { return mod_v(a, b, c_fmod); });
}

// Pow(X, Y): the exponent may have a different numeric type; the result has X's type.
Status op_pow(OpContext& ctx) {
    EDGEQ_RETURN_IF_ERROR(check_inputs(ctx, 2, 2));
    const Tensor& a = ctx.in(0);
    const Tensor& b = ctx.in(1);
    if (!type_in(a.dtype(), kNumeric)) return unsupported_type(ctx, a.dtype());
    if (!type_in(b.dtype(), kNumeric)) return unsupported_type(ctx, b.dtype());
    EDGEQ_ASSIGN_OR_RETURN(Shape shape, broadcast(ctx, {a.shape(), b.shape()}));
    const Tensor ca = compute_view(a), cb = compute_view(b);
    Tensor out;
    visit_numeric(ca.dtype(), [&](auto ta) {
        using TA = decltype(ta);
        visit_numeric(cb.dtype(), [&](auto tb) {
            using TB = decltype(tb);
            out = map2<TA, TB, TA>(ca, cb, shape, ca.dtype(), [](TA x, TB y) { return pow_v<TA, TB>(x, y); });
        });
    });
    ctx.outputs[0] = finish(out, a.dtype());
    return Status::Ok();
}

// ---- variadic ---------------------------------------------------------------------------------------

Status op_max(OpContext& ctx) {
    EDGEQ_ASSIGN_OR_RETURN(ctx.outputs.at(0), fold_variadic(ctx, kNumeric, [](auto a, auto b) { return max_v(a, b); }));
    return Status::Ok();
}
Status op_min(OpContext& ctx) {
    EDGEQ_ASSIGN_OR_RETURN(ctx.outputs.at(0), fold_variadic(ctx, kNumeric, [](auto a, auto b) { return min_v(a, b); }));
    return Status::Ok();
}
Status op_sum(OpContext& ctx) {
    EDGEQ_ASSIGN_OR_RETURN(ctx.outputs.at(0), fold_variadic(ctx, kNumeric, [](auto a, auto b) { return add_v(a, b); }));
    return Status::Ok();
}

// Mean: the sum divided by the number of inputs (floating types only, as in the ONNX schema).
Status op_mean(OpContext& ctx) {
    EDGEQ_ASSIGN_OR_RETURN(Tensor sum, fold_variadic(ctx, kFloat, [](auto a, auto b) { return add_v(a, b); }));
    const DType dt = sum.dtype();
    Tensor c = compute_view(sum).clone();
    const int64_t n = c.numel();
    const double k = static_cast<double>(ctx.num_inputs());
    if (c.dtype() == DType::F64) {
        for (int64_t i = 0; i < n; ++i) c.data<double>()[i] /= k;
    } else {
        for (int64_t i = 0; i < n; ++i) c.data<float>()[i] = static_cast<float>(c.data<float>()[i] / k);
    }
    ctx.outputs[0] = finish(c, dt);
    return Status::Ok();
}

// ---- logic and bits ---------------------------------------------------------------------------------

Status op_and(OpContext& ctx) {
    return binary_op(ctx, kBool, [](auto a, auto b) { return static_cast<decltype(a)>(a && b); });
}
Status op_or(OpContext& ctx) {
    return binary_op(ctx, kBool, [](auto a, auto b) { return static_cast<decltype(a)>(a || b); });
}
Status op_xor(OpContext& ctx) {
    return binary_op(ctx, kBool, [](auto a, auto b) { return static_cast<decltype(a)>((a != 0) != (b != 0)); });
}

template <typename F>
Status bitwise_op(OpContext& ctx, F f) {
    return binary_op(ctx, kSigned | kUnsigned, [f](auto a, auto b) {
        using T = decltype(a);
        if constexpr (std::is_integral_v<T>) return static_cast<T>(f(a, b));
        else return a;  // never reached: floats are rejected by the type set
    });
}
Status op_bitwise_and(OpContext& ctx) {
    return bitwise_op(ctx, [](auto a, auto b) { return a & b; });
}
Status op_bitwise_or(OpContext& ctx) {
    return bitwise_op(ctx, [](auto a, auto b) { return a | b; });
}
Status op_bitwise_xor(OpContext& ctx) {
    return bitwise_op(ctx, [](auto a, auto b) { return a ^ b; });
}

// BitShift (unsigned types): direction "LEFT" or "RIGHT"; a shift by the bit width or more gives 0.
Status op_bitshift(OpContext& ctx) {
    const std::string dir = ctx.node.attr_s("direction", "");
    if (dir != "LEFT" && dir != "RIGHT") return ctx.fail("direction must be \"LEFT\" or \"RIGHT\", got \"" + dir + "\"");
    const bool left = dir == "LEFT";
    return binary_op(ctx, kUnsigned, [left](auto a, auto b) {
        using T = decltype(a);
        if constexpr (std::is_integral_v<T>) {
            if (static_cast<uint64_t>(b) >= sizeof(T) * 8) return T(0);
            return static_cast<T>(left ? static_cast<WrapT<T>>(a) << b : a >> b);
        } else {
            return a;
        }
    });
}

// ---- comparisons ------------------------------------------------------------------------------------

Status op_equal(OpContext& ctx) {
    return compare_op(ctx, kNumeric | kBool, [](auto a, auto b) { return a == b; });
}
Status op_less(OpContext& ctx) {
    return compare_op(ctx, kNumeric, [](auto a, auto b) { return a < b; });
}
Status op_less_or_equal(OpContext& ctx) {
    return compare_op(ctx, kNumeric, [](auto a, auto b) { return a <= b; });
}
Status op_greater(OpContext& ctx) {
    return compare_op(ctx, kNumeric, [](auto a, auto b) { return a > b; });
}
Status op_greater_or_equal(OpContext& ctx) {
    return compare_op(ctx, kNumeric, [](auto a, auto b) { return a >= b; });
}

// ---- selection --------------------------------------------------------------------------------------

// Where(condition: BOOL, X, Y) -> X's type: X where condition else Y, all three broadcast together.
// Any element type with whole-byte elements is copied as raw bytes.
Status op_where(OpContext& ctx) {
    EDGEQ_RETURN_IF_ERROR(check_inputs(ctx, 3, 3));
    const Tensor& c = ctx.in(0);
    const Tensor& x = ctx.in(1);
    const Tensor& y = ctx.in(2);
    if (c.dtype() != DType::BOOL) return ctx.fail(std::string("condition must be BOOL, got ") + dtype_name(c.dtype()));
    if (x.dtype() != y.dtype()) {
        return ctx.fail(std::string("X and Y types differ: ") + dtype_name(x.dtype()) + " and " + dtype_name(y.dtype()));
    }
    const auto& tr = traits(x.dtype());
    if (tr.block_size != 1) return unsupported_type(ctx, x.dtype());
    EDGEQ_ASSIGN_OR_RETURN(Shape shape, broadcast(ctx, {c.shape(), x.shape(), y.shape()}));
    Tensor out(x.dtype(), shape);
    const size_t es = tr.type_size;
    const uint8_t* pc = c.data<uint8_t>();
    BroadcastWalk w(shape, {c.shape(), x.shape(), y.shape()});
    const int64_t n = out.numel();
    for (int64_t i = 0; i < n; ++i, w.next()) {
        const uint8_t* src = pc[w[0]] ? x.raw() + static_cast<size_t>(w[1]) * es : y.raw() + static_cast<size_t>(w[2]) * es;
        std::copy(src, src + es, out.raw() + static_cast<size_t>(i) * es);
    }
    ctx.outputs[0] = out;
    return Status::Ok();
}

// PRelu(X, slope): x < 0 ? slope * x : x; slope broadcasts unidirectionally to X's shape (opset >= 7).
Status op_prelu(OpContext& ctx) {
    EDGEQ_RETURN_IF_ERROR(check_inputs(ctx, 2, 2));
    const Tensor& x = ctx.in(0);
    Tensor slope = ctx.in(1);
    // Before opset 7 a 1-D slope of X.dim(1) values is one slope per channel: view it as [C, 1, ..., 1].
    if (ctx.opset > 0 && ctx.opset < 7 && slope.rank() == 1 && x.rank() >= 2 && slope.numel() == x.dim(1)) {
        Shape s(static_cast<size_t>(x.rank() - 1), 1);
        s[0] = slope.numel();
        slope = slope.reshaped(s);
    }
    EDGEQ_ASSIGN_OR_RETURN(Shape shape, broadcast(ctx, {x.shape(), slope.shape()}));
    if (shape != x.shape()) {
        return ctx.fail("slope " + shape_str(slope.shape()) + " does not broadcast to X " + shape_str(x.shape()));
    }
    EDGEQ_ASSIGN_OR_RETURN(ctx.outputs[0], same_type_binary(ctx, x, slope, kFloat | kSigned, [](auto a, auto s) {
                               if constexpr (std::is_signed_v<decltype(a)>) return a < 0 ? mul_v(a, s) : a;
                               else return a;
                           }));
    return Status::Ok();
}

}  // namespace edgeq::runtime
