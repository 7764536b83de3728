// Helpers shared by the reference math ops (ops_math_elementwise.cpp, ops_math_unary.cpp, ops_math_reduce.cpp):
// type sets, the F16/BF16 compute view and its rounding back, arity checks, and the wrapping integer type.
#pragma once

#include <cmath>
#include <limits>
#include <string>
#include <type_traits>

#include "runtime/ref/common.h"

namespace edgeq::runtime::math {

enum TypeSet : unsigned { kFloat = 1, kSigned = 2, kUnsigned = 4, kBool = 8, kNumeric = 1 | 2 | 4 };

inline bool is_half(DType t) { return t == DType::F16 || t == DType::BF16; }

inline bool type_in(DType t, unsigned set) {
    switch (t) {
        case DType::F32: case DType::F64: case DType::F16: case DType::BF16: return (set & kFloat) != 0;
        case DType::I8: case DType::I16: case DType::I32: case DType::I64: return (set & kSigned) != 0;
        case DType::U8: case DType::U16: case DType::U32: case DType::U64: return (set & kUnsigned) != 0;
        case DType::BOOL: return (set & kBool) != 0;
        default: return false;
    }
}

// The tensor the computation reads: F16/BF16 widened to F32, everything else as is.
inline Tensor compute_view(const Tensor& t) { return is_half(t.dtype()) ? to_float_tensor(t) : t; }
// Rounds an F32 result back to F16/BF16 when the op's type was a half type.
inline Tensor finish(const Tensor& out, DType want) {
    return out.dtype() == want ? out : from_float_tensor(out, want);
}

// min_in..max_in inputs, the first min_in of them present, and an output.
inline Status check_arity(const OpContext& ctx, size_t min_in, size_t max_in) {
    if (ctx.num_inputs() < min_in || ctx.num_inputs() > max_in) {
        return ctx.fail("expects " + std::to_string(min_in) + (max_in == min_in ? "" : "-" + std::to_string(max_in)) +
                        " inputs, got " + std::to_string(ctx.num_inputs()));
    }
    for (size_t i = 0; i < min_in; ++i)
        if (!ctx.has_input(i)) return ctx.fail("input " + std::to_string(i) + " is missing");
    if (ctx.outputs.empty()) return ctx.fail("has no output");
    return Status::Ok();
}

inline Status unsupported_type(const OpContext& ctx, DType t) {
    return ctx.unsupported(std::string("element type ") + dtype_name(t) + " is not supported");
}

// The unsigned type integer arithmetic on T wraps in: at least as wide as int, so that no operand is promoted
// to a signed int that could overflow; converted back modulo 2^bits. (T itself for non-integers.)
template <typename T, bool = std::is_integral_v<T>>
struct Wrap {
    using type = T;
};
template <typename T>
struct Wrap<T, true> {
    using type = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;
};
template <typename T>
using WrapT = typename Wrap<T>::type;

// Float -> integer conversion without undefined behaviour: NaN gives 0, out-of-range values saturate.
template <typename D, typename S>
D to_int_checked(S x) {
    if (std::isnan(x)) return 0;
    const long double v = static_cast<long double>(x);
    if (v <= static_cast<long double>(std::numeric_limits<D>::lowest())) return std::numeric_limits<D>::lowest();
    if (v >= static_cast<long double>(std::numeric_limits<D>::max())) return std::numeric_limits<D>::max();
    return static_cast<D>(x);
}

// The NN ops' float types (F64 included) and their compute tensor: F64 stays, F32/F16/BF16 become F32.
inline bool is_float(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F64; }
inline Tensor compute_tensor(const Tensor& t) { return t.dtype() == DType::F64 ? t : to_float_tensor(t); }
inline Tensor output_tensor(const Tensor& computed, DType want) {
    return computed.dtype() == want ? computed : from_float_tensor(computed, want);
}

}  // namespace edgeq::runtime::math
