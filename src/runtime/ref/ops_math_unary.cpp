// Reference elementwise unary ops:
//   numeric     Abs Neg Sign Ceil Floor Round (half to even) Relu BitwiseNot Not
//   float       Reciprocal Sqrt Exp Log Erf Sin Cos Tan Asin Acos Atan Sinh Cosh Asinh Acosh Atanh Tanh Sigmoid
//               Softplus Softsign Mish IsNaN IsInf
//   activations LeakyRelu Elu Selu Celu HardSigmoid HardSwish Swish ThresholdedRelu Gelu Clip
//   conversion  Cast CastLike
// Integer types compute in their own type; F16/BF16 compute in float and round back to nearest even.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <optional>
#include <type_traits>
#include <vector>

#include "core/fp16.h"
#include "runtime/ref/common.h"
#include "runtime/ref/math_common.h"

namespace edgeq::runtime {
namespace {

using namespace math;

// y = f(x) elementwise, output in the input's type. f is called with the compute type T (float for
// F16/BF16) and must return T.
template <typename F>
Status unary_op(OpContext& ctx, unsigned types, F f) {
    EDGEQ_RETURN_IF_ERROR(check_arity(ctx, 1, 1));
    const Tensor& x = ctx.in(0);
    if (!type_in(x.dtype(), types)) return unsupported_type(ctx, x.dtype());
    const Tensor cx = compute_view(x);
    Tensor out(cx.dtype(), cx.shape());
    visit_numeric(cx.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* px = cx.data<T>();
        T* po = out.data<T>();
        const int64_t n = cx.numel();
        for (int64_t i = 0; i < n; ++i) po[i] = static_cast<T>(f(px[i]));
    });
    ctx.outputs[0] = finish(out, x.dtype());
    return Status::Ok();
}

// Floating-point-only unary op; f is a generic callable over float/double.
template <typename F>
Status float_op(OpContext& ctx, F f) {
    return unary_op(ctx, kFloat, [f](auto x) {
        using T = decltype(x);
        if constexpr (std::is_floating_point_v<T>) return static_cast<T>(f(x));
        else return x;  // never reached: kFloat only
    });
}

// Predicate over a float input, output BOOL.
template <typename F>
Status float_predicate(OpContext& ctx, F f) {
    EDGEQ_RETURN_IF_ERROR(check_arity(ctx, 1, 1));
    const Tensor& x = ctx.in(0);
    if (!type_in(x.dtype(), kFloat)) return unsupported_type(ctx, x.dtype());
    const Tensor cx = compute_view(x);
    Tensor out(DType::BOOL, x.shape());
    uint8_t* po = out.data<uint8_t>();
    if (cx.dtype() == DType::F64) {
        for (int64_t i = 0; i < cx.numel(); ++i) po[i] = f(cx.data<double>()[i]) ? 1 : 0;
    } else {
        for (int64_t i = 0; i < cx.numel(); ++i) po[i] = f(static_cast<double>(cx.data<float>()[i])) ? 1 : 0;
    }
    ctx.outputs[0] = out;
    return Status::Ok();
}

// Float -> integer without undefined behaviour: NaN gives 0, out-of-range values saturate.

}  // namespace

// ---- numeric ----------------------------------------------------------------------------------------

Status op_abs(OpContext& ctx) {
    return unary_op(ctx, kNumeric, [](auto x) {
        using T = decltype(x);
        if constexpr (std::is_unsigned_v<T>) return x;
        else if constexpr (std::is_integral_v<T>) return x < 0 ? static_cast<T>(WrapT<T>(0) - static_cast<WrapT<T>>(x)) : x;
        else return std::fabs(x);
    });
}

Status op_neg(OpContext& ctx) {
    return unary_op(ctx, kFloat | kSigned, [](auto x) {
        using T = decltype(x);
        if constexpr (std::is_integral_v<T>) return static_cast<T>(WrapT<T>(0) - static_cast<WrapT<T>>(x));
        else return -x;
    });
}

Status op_sign(OpContext& ctx) {
    return unary_op(ctx, kNumeric, [](auto x) {
        using T = decltype(x);
        if constexpr (std::is_unsigned_v<T>) return static_cast<T>(x > 0 ? 1 : 0);
        else if constexpr (std::is_integral_v<T>) return static_cast<T>(x > 0 ? 1 : (x < 0 ? -1 : 0));
        else return std::isnan(x) ? x : static_cast<T>(x > 0 ? 1 : (x < 0 ? -1 : 0));
    });
}

Status op_relu(OpContext& ctx) {
    return unary_op(ctx, kFloat | kSigned, [](auto x) {
        using T = decltype(x);
        if constexpr (std::is_signed_v<T>) return x < 0 ? T(0) : x;
        else return x;
    });
}

Status op_ceil(OpContext& ctx) {
    return float_op(ctx, [](auto x) { return std::ceil(x); });
}
Status op_floor(OpContext& ctx) {
    return float_op(ctx, [](auto x) { return std::floor(x); });
}
// Round: halves go to the even neighbour (std::nearbyint in the default rounding mode).
Status op_round(OpContext& ctx) {
    return float_op(ctx, [](auto x) { return std::nearbyint(x); });
}

Status op_bitwise_not(OpContext& ctx) {
    return unary_op(ctx, kSigned | kUnsigned, [](auto x) {
        using T = decltype(x);
        if constexpr (std::is_integral_v<T>) return static_cast<T>(~x);
        else return x;
    });
}

Status op_not(OpContext& ctx) {
    return unary_op(ctx, kBool, [](auto x) { return static_cast<decltype(x)>(x ? 0 : 1); });
}

// ---- float math -------------------------------------------------------------------------------------

Status op_reciprocal(OpContext& ctx) {
    return float_op(ctx, [](auto x) { return decltype(x)(1) / x; });
}
Status op_sqrt(OpContext& ctx) {
    return float_op(ctx, [](auto x) { return std::sqrt(x); });
}
Status op_exp(OpContext& ctx) {
    return float_op(ctx, [](auto x) { return std::exp(x); });
}
Status op_log(OpContext& ctx) {
    return float_op(ctx, [](auto x) { return std::log(x); });
}
Status op_erf(OpContext& ctx) {
    return float_op(ctx, [](auto x) { return std::erf(x); });
}
Status op_sin(OpContext& ctx) {
    return float_op(ctx, [](auto x) { return std::sin(x); });
}
Status op_cos(OpContext& ctx) {
    return float_op(ctx, [](auto x) { return std::cos(x); });
}
Status op_tan(OpContext& ctx) {
    return float_op(ctx, [](auto x) { return std::tan(x); });
}
Status op_asin(OpContext& ctx) {
    return float_op(ctx, [](auto x) { return std::asin(x); });
}
Status op_acos(OpContext& ctx) {
    return float_op(ctx, [](auto x) { return std::acos(x); });
}
Status op_atan(OpContext& ctx) {
    return float_op(ctx, [](auto x) { return std::atan(x); });
}
Status op_sinh(OpContext& ctx) {
    return float_op(ctx, [](auto x) { return std::sinh(x); });
}
Status op_cosh(OpContext& ctx) {
    return float_op(ctx, [](auto x) { return std::cosh(x); });
}
Status op_asinh(OpContext& ctx) {
    return float_op(ctx, [](auto x) { return std::asinh(x); });
}
Status op_acosh(OpContext& ctx) {
    return float_op(ctx, [](auto x) { return std::acosh(x); });
}
Status op_atanh(OpContext& ctx) {
    return float_op(ctx, [](auto x) { return std::atanh(x); });
}
Status op_tanh(OpContext& ctx) {
    return float_op(ctx, [](auto x) { return std::tanh(x); });
}

// Sigmoid: 1 / (1 + exp(-x)), written so that neither branch overflows.
Status op_sigmoid(OpContext& ctx) {
    return float_op(ctx, [](auto x) {
        using T = decltype(x);
        if (x >= 0) return T(1) / (T(1) + std::exp(-x));
        const T e = std::exp(x);
        return e / (T(1) + e);
    });
}

// Softplus: log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)).
Status op_softplus(OpContext& ctx) {
    return float_op(ctx, [](auto x) {
        using T = decltype(x);
        return (x > 0 ? x : T(0)) + std::log1p(std::exp(-std::fabs(x)));
    });
}

Status op_softsign(OpContext& ctx) {
    return float_op(ctx, [](auto x) { return x / (decltype(x)(1) + std::fabs(x)); });
}

// Mish: x * tanh(softplus(x)).
Status op_mish(OpContext& ctx) {
    return float_op(ctx, [](auto x) {
        using T = decltype(x);
        const T sp = (x > 0 ? x : T(0)) + std::log1p(std::exp(-std::fabs(x)));
        return x * std::tanh(sp);
    });
}

Status op_isnan(OpContext& ctx) {
    return float_predicate(ctx, [](double x) { return std::isnan(x); });
}

// IsInf: detect_negative / detect_positive (default 1 each) choose which infinities count.
Status op_isinf(OpContext& ctx) {
    const bool neg = ctx.node.attr_i("detect_negative", 1) != 0;
    const bool pos = ctx.node.attr_i("detect_positive", 1) != 0;
    return float_predicate(ctx, [neg, pos](double x) { return std::isinf(x) && ((x < 0 && neg) || (x > 0 && pos)); });
}

// ---- activations with attributes ---------------------------------------------------------------------

Status op_leaky_relu(OpContext& ctx) {
    const double alpha = ctx.node.attr_f("alpha", 0.01f);
    return float_op(ctx, [alpha](auto x) { return x < 0 ? static_cast<decltype(x)>(alpha * x) : x; });
}

Status op_elu(OpContext& ctx) {
    const double alpha = ctx.node.attr_f("alpha", 1.0f);
    return float_op(ctx, [alpha](auto x) { return x < 0 ? static_cast<decltype(x)>(alpha * std::expm1(x)) : x; });
}

Status op_selu(OpContext& ctx) {
    const double alpha = ctx.node.attr_f("alpha", 1.67326319217681884765625f);
    const double gamma = ctx.node.attr_f("gamma", 1.05070102214813232421875f);
    return float_op(ctx, [alpha, gamma](auto x) {
        using T = decltype(x);
        return static_cast<T>(x > 0 ? gamma * x : gamma * alpha * std::expm1(static_cast<double>(x)));
    });
}

// Celu: max(0, x) + min(0, alpha * (exp(x / alpha) - 1)).
Status op_celu(OpContext& ctx) {
    const double alpha = ctx.node.attr_f("alpha", 1.0f);
    if (alpha == 0) return ctx.fail("alpha must be non-zero");
    return float_op(ctx, [alpha](auto x) {
        using T = decltype(x);
        const double v = static_cast<double>(x);
        return static_cast<T>(std::max(0.0, v) + std::min(0.0, alpha * std::expm1(v / alpha)));
    });
}

// HardSigmoid: max(0, min(1, alpha * x + beta)).
Status op_hard_sigmoid(OpContext& ctx) {
    const double alpha = ctx.node.attr_f("alpha", 0.2f);
    const double beta = ctx.node.attr_f("beta", 0.5f);
    return float_op(ctx, [alpha, beta](auto x) {
        using T = decltype(x);
        return static_cast<T>(std::max(0.0, std::min(1.0, alpha * static_cast<double>(x) + beta)));
    });
}

// HardSwish: x * max(0, min(1, x / 6 + 1 / 2)).
Status op_hard_swish(OpContext& ctx) {
    return float_op(ctx, [](auto x) {
        using T = decltype(x);
        const double v = static_cast<double>(x);
        return static_cast<T>(v * std::max(0.0, std::min(1.0, v / 6.0 + 0.5)));
    });
}

// Swish (opset 24): x * sigmoid(alpha * x), alpha = 1.
Status op_swish(OpContext& ctx) {
    const double alpha = ctx.node.attr_f("alpha", 1.0f);
    return float_op(ctx, [alpha](auto x) {
        using T = decltype(x);
        const double v = static_cast<double>(x);
        return static_cast<T>(v / (1.0 + std::exp(-alpha * v)));
    });
}

// ThresholdedRelu: x > alpha ? x : 0 (alpha = 1).
Status op_thresholded_relu(OpContext& ctx) {
    const double alpha = ctx.node.attr_f("alpha", 1.0f);
    return float_op(ctx, [alpha](auto x) { return static_cast<double>(x) > alpha ? x : decltype(x)(0); });
}

// Gelu: approximate "none": x/2 (1 + erf(x / sqrt 2)); "tanh": x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
Status op_gelu(OpContext& ctx) {
    const std::string approx = ctx.node.attr_s("approximate", "none");
    if (approx != "none" && approx != "tanh") return ctx.fail("approximate must be \"none\" or \"tanh\", got \"" + approx + "\"");
    const bool use_tanh = approx == "tanh";
    return float_op(ctx, [use_tanh](auto x) {
        using T = decltype(x);
        const double v = static_cast<double>(x);
        if (use_tanh) {
            const double k = std::sqrt(2.0 / std::numbers::pi);
            return static_cast<T>(0.5 * v * (1.0 + std::tanh(k * (v + 0.044715 * v * v * v))));
        }
        return static_cast<T>(0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))));
    });
}

// Clip: opset < 11 takes float attributes min/max; from 11 optional scalar inputs min, max of the input's
// type (12: integer types too). min > max makes every output max.
Status op_clip(OpContext& ctx) {
    EDGEQ_RETURN_IF_ERROR(check_arity(ctx, 1, 3));
    const Tensor& x = ctx.in(0);
    if (!type_in(x.dtype(), kNumeric)) return unsupported_type(ctx, x.dtype());
    for (size_t i = 1; i < ctx.num_inputs(); ++i) {
        if (!ctx.has_input(i)) continue;
        if (ctx.in(i).dtype() != x.dtype()) return ctx.fail("min/max must have the input's type");
        if (ctx.in(i).numel() != 1) return ctx.fail("min/max must be scalars, got " + shape_str(ctx.in(i).shape()));
    }
    const Tensor cx = compute_view(x);
    Tensor out(cx.dtype(), cx.shape());
    Status st = Status::Ok();
    visit_numeric(cx.dtype(), [&](auto tag) {
        using T = decltype(tag);
        T lo = std::numeric_limits<T>::lowest();
        T hi = std::numeric_limits<T>::max();
        if (ctx.opset > 0 && ctx.opset < 11) {
            if constexpr (std::is_floating_point_v<T>) {
                if (ctx.node.has("min")) lo = static_cast<T>(ctx.node.attr_f("min", 0));
                if (ctx.node.has("max")) hi = static_cast<T>(ctx.node.attr_f("max", 0));
            } else {
                st = unsupported_type(ctx, x.dtype());
            }
        } else {
            if (ctx.has_input(1)) lo = compute_view(ctx.in(1)).data<T>()[0];
            if (ctx.has_input(2)) hi = compute_view(ctx.in(2)).data<T>()[0];
        }
        const T* px = cx.data<T>();
        T* po = out.data<T>();
        for (int64_t i = 0; i < cx.numel(); ++i) {
            T v = px[i] < lo ? lo : px[i];
            po[i] = v > hi ? hi : v;
        }
    });
    EDGEQ_RETURN_IF_ERROR(st);
    ctx.outputs[0] = finish(out, x.dtype());
    return Status::Ok();
}

// ---- Cast -------------------------------------------------------------------------------------------

namespace {

// ONNX TensorProto.DataType -> DType (nullopt: a type edgeq cannot hold: STRING, complex, float8, ...).
std::optional<DType> dtype_of_onnx(int64_t t) {
    switch (t) {
        case 1: return DType::F32;
        case 2: return DType::U8;
        case 3: return DType::I8;
        case 4: return DType::U16;
        case 5: return DType::I16;
        case 6: return DType::I32;
        case 7: return DType::I64;
        case 9: return DType::BOOL;
        case 10: return DType::F16;
        case 11: return DType::F64;
        case 12: return DType::U32;
        case 13: return DType::U64;
        case 16: return DType::BF16;
        case 21: return DType::U4;
        case 22: return DType::I4;
        case 25: return DType::U2;
        case 26: return DType::I2;
        default: return std::nullopt;
    }
}

bool is_sub_byte_int(DType t) { return t == DType::I4 || t == DType::U4 || t == DType::I2 || t == DType::U2; }

// One value converted as ONNX Cast does: to BOOL is "!= 0"; float -> integer truncates toward zero
// (NaN and out-of-range values, undefined in ONNX, give 0 / saturate); integer -> integer wraps.
template <typename D, typename S>
D cast_value(S x, bool to_bool) {
    if (to_bool) return static_cast<D>(x != 0 ? 1 : 0);
    if constexpr (std::is_floating_point_v<S> && std::is_integral_v<D>) return to_int_checked<D>(x);
    else return static_cast<D>(x);
}

// Packs integers into a 4- or 2-bit tensor (ONNX order: element 2i in the low nibble of byte i), saturating.
Tensor pack_sub_byte(const std::vector<double>& v, DType t, const Shape& shape) {
    Tensor out(t, shape);
    const int bits = (t == DType::I4 || t == DType::U4) ? 4 : 2;
    const bool is_signed = t == DType::I4 || t == DType::I2;
    const double lo = is_signed ? -(1 << (bits - 1)) : 0;
    const double hi = is_signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
    const int per_byte = 8 / bits;
    uint8_t* p = out.data<uint8_t>();
    for (size_t i = 0; i < v.size(); ++i) {
        const double c = std::isnan(v[i]) ? 0.0 : std::nearbyint(std::min(hi, std::max(lo, v[i])));
        const unsigned q = static_cast<unsigned>(static_cast<int>(c)) & ((1u << bits) - 1u);
        p[i / per_byte] = static_cast<uint8_t>(p[i / per_byte] | (q << (bits * static_cast<int>(i % per_byte))));
    }
    return out;
}

// F32 -> BF16 by dropping the low 16 bits (NaN stays a quiet NaN). Before opset 19 ONNX's reference (and the
// conformance data generated with it) truncated; from opset 19 Cast rounds to nearest even like F16.
Tensor truncate_to_bf16(const Tensor& f) {
    Tensor out(DType::BF16, f.shape());
    for (int64_t i = 0; i < f.numel(); ++i) {
        const float v = f.data<float>()[i];
        const uint32_t b = f32_bits(v);
        out.data<uint16_t>()[i] = std::isnan(v) ? static_cast<uint16_t>((b >> 16) | 0x40u) : static_cast<uint16_t>(b >> 16);
    }
    return out;
}

Result<Tensor> cast_tensor(const OpContext& ctx, const Tensor& x, DType to) {
    if (x.dtype() == to) return x;
    const DType from = x.dtype();
    const bool from_ok = type_in(from, kNumeric | kBool) || is_sub_byte_int(from);
    const bool to_ok = type_in(to, kNumeric | kBool) || is_sub_byte_int(to);
    if (!from_ok) return unsupported_type(ctx, from);
    if (!to_ok) return unsupported_type(ctx, to);
    // Sources without a C++ type (halves, packed integers) are widened first: exactly, to F32 / I64.
    Tensor src = x;
    if (is_half(from)) src = to_float_tensor(x);
    if (is_sub_byte_int(from)) src = Tensor::from_vector<int64_t>(DType::I64, x.shape(), x.to_i64());
    if (is_sub_byte_int(to)) {
        std::vector<double> v(static_cast<size_t>(src.numel()));
        visit_numeric(src.dtype(), [&](auto tag) {
            using S = decltype(tag);
            for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(src.data<S>()[i]);
        });
        return pack_sub_byte(v, to, x.shape());
    }
    // Halves are produced from F32 (from F64 this rounds twice; the error stays below one half-ulp + 2^-24).
    const DType mid = is_half(to) ? DType::F32 : to;
    Tensor out(mid, x.shape());
    if (src.dtype() == mid) {
        out = src;
    } else {
        const bool to_bool = mid == DType::BOOL;
        visit_numeric(src.dtype(), [&](auto stag) {
            using S = decltype(stag);
            visit_numeric(mid, [&](auto dtag) {
                using D = decltype(dtag);
                const S* ps = src.data<S>();
                D* pd = out.data<D>();
                for (int64_t i = 0; i < src.numel(); ++i) pd[i] = cast_value<D, S>(ps[i], to_bool);
            });
        });
    }
    if (to == DType::BF16 && ctx.opset > 0 && ctx.opset < 19) return truncate_to_bf16(out);
    return finish(out, to);
}

}  // namespace

// Cast(input; to): `saturate` (opset 19) only concerns float8 types, which edgeq does not hold. To BF16 rounds to
// nearest even from opset 19 and truncates before (see truncate_to_bf16).
Status op_cast(OpContext& ctx) {
    EDGEQ_RETURN_IF_ERROR(check_arity(ctx, 1, 1));
    if (!ctx.node.has("to")) return ctx.fail("attribute 'to' is required");
    const int64_t to = ctx.node.attr_i("to", 0);
    const auto dt = dtype_of_onnx(to);
    if (!dt) return ctx.unsupported("cast to ONNX data type " + std::to_string(to) + " is not supported");
    EDGEQ_ASSIGN_OR_RETURN(ctx.outputs[0], cast_tensor(ctx, ctx.in(0), *dt));
    return Status::Ok();
}

// CastLike(input, target_type): Cast to target_type's element type.
Status op_cast_like(OpContext& ctx) {
    EDGEQ_RETURN_IF_ERROR(check_arity(ctx, 2, 2));
    EDGEQ_ASSIGN_OR_RETURN(ctx.outputs[0], cast_tensor(ctx, ctx.in(0), ctx.in(1).dtype()));
    return Status::Ok();
}

}  // namespace edgeq::runtime
