// The 'quant' family, part 1: the QDQ ops QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear
// (ONNX opsets 10-25). Integer kernels (QLinearConv, QLinearMatMul, MatMulInteger, ConvInteger) are in
// ops_quant_int.cpp.
//
//   QuantizeLinear        y = saturate(round_half_even(x / y_scale) + y_zero_point)
//   DequantizeLinear      y = (x - x_zero_point) * x_scale
//   DynamicQuantizeLinear uint8 y, y_scale, y_zero_point from x's range (always including 0)
//
// Granularity follows the scale's shape (the zero point has the same shape):
//   one element                                   per tensor
//   1-D of x.shape[axis]                          per axis (opset 13)
//   rank of x; shape[axis] = ceil(D / block_size)  blocked along `axis` (opset 21); the last block may be short
// Quantized types: U8, I8, U16, I16, U4, I4, U2, I2 (sub-byte types packed ONNX-style, low bits first) and,
// for DequantizeLinear only, I32 (biases). The quantized type is the zero point's, else `output_dtype`,
// else uint8. Float8/float4 types are reported as unsupported.
//
// Precision: QuantizeLinear divides in the scale's type (or `precision`, opset 23), as the spec says:
// x and y_scale are rounded to that type, the quotient is rounded to it, then rounded half to even to an
// integer. DequantizeLinear subtracts exactly in integers and multiplies in float32 (float64 for a double
// scale), then rounds to the output type (the scale's, or `output_dtype`).
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "runtime/ref/common.h"
#include "runtime/ref/op.h"

namespace edgeq::runtime {
namespace {

struct QRange {
    int64_t lo, hi;
};

// Range of a quantized integer type; nullopt if `t` is not one.
std::optional<QRange> quant_range(DType t) {
    switch (t) {
        case DType::U8: return QRange{0, 255};
        case DType::I8: return QRange{-128, 127};
        case DType::U16: return QRange{0, 65535};
        case DType::I16: return QRange{-32768, 32767};
        case DType::U4: return QRange{0, 15};
        case DType::I4: return QRange{-8, 7};
        case DType::U2: return QRange{0, 3};
        case DType::I2: return QRange{-2, 1};
        case DType::I32: return QRange{std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
        default: return std::nullopt;
    }
}

bool is_float_type(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F64; }

// ONNX TensorProto.DataType of an attribute (output_dtype, precision) -> DType. nullopt: not one we handle.
std::optional<DType> dtype_from_onnx(int64_t e) {
    switch (e) {
        case 1: return DType::F32;
        case 2: return DType::U8;
        case 3: return DType::I8;
        case 4: return DType::U16;
        case 5: return DType::I16;
        case 6: return DType::I32;
        case 10: return DType::F16;
        case 11: return DType::F64;
        case 16: return DType::BF16;
        case 21: return DType::U4;
        case 22: return DType::I4;
        case 25: return DType::U2;
        case 26: return DType::I2;
        default: return std::nullopt;
    }
}

// ONNX float8/float4/float6 element types: valid quantized types that edgeq does not implement.
bool is_onnx_minifloat(int64_t e) { return (e >= 17 && e <= 20) || e == 23 || e == 24 || e == 27 || e == 28; }

// Values of an integer tensor as int64 (packed sub-byte types sign- or zero-extended). False if not integer.
bool read_ints(const Tensor& t, std::vector<int64_t>& out) {
    const int64_t n = t.numel();
    out.assign(static_cast<size_t>(n), 0);
    const uint8_t* p = t.raw();
    switch (t.dtype()) {
        case DType::I4:
        case DType::U4:
            for (int64_t i = 0; i < n; ++i) {
                const int v = (p[i / 2] >> (4 * (i % 2))) & 0xF;
                out[static_cast<size_t>(i)] = (t.dtype() == DType::I4 && v >= 8) ? v - 16 : v;
            }
            return true;
        case DType::I2:
        case DType::U2:
            for (int64_t i = 0; i < n; ++i) {
                const int v = (p[i / 4] >> (2 * (i % 4))) & 0x3;
                out[static_cast<size_t>(i)] = (t.dtype() == DType::I2 && v >= 2) ? v - 4 : v;
            }
            return true;
        case DType::U8:
        case DType::I8:
        case DType::U16:
        case DType::I16:
        case DType::I32:
        case DType::I64:
        case DType::U32:
            out = t.to_i64();
            return true;
        default: return false;
    }
}

// Tensor of integer type `t` holding `v` (values already within the type's range).
Tensor write_ints(DType t, const Shape& shape, const std::vector<int64_t>& v) {
    Tensor out(t, shape);
    uint8_t* p = out.raw();
    const size_t n = v.size();
    switch (t) {
        case DType::I4:
        case DType::U4:
            for (size_t i = 0; i < n; ++i) p[i / 2] |= static_cast<uint8_t>((v[i] & 0xF) << (4 * (i % 2)));
            break;
        case DType::I2:
        case DType::U2:
            for (size_t i = 0; i < n; ++i) p[i / 4] |= static_cast<uint8_t>((v[i] & 0x3) << (2 * (i % 4)));
            break;
        default:
            visit_numeric(t, [&](auto tag) {
                using T = decltype(tag);
                for (size_t i = 0; i < n; ++i) out.data<T>()[i] = static_cast<T>(v[i]);
            });
    }
    return out;
}

// Values of a float or integer tensor as double (F64 and integers without going through float).
std::vector<double> read_doubles(const Tensor& t) {
    std::vector<double> out(static_cast<size_t>(t.numel()));
    if (t.dtype() == DType::F64) {
        std::copy(t.data<double>(), t.data<double>() + t.numel(), out.begin());
    } else if (t.dtype() == DType::I32 || t.dtype() == DType::I64) {
        const auto v = t.to_i64();
        for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<double>(v[i]);
    } else {
        const auto v = t.to_f32();
        for (size_t i = 0; i < v.size(); ++i) out[i] = v[i];
    }
    return out;
}

// v rounded to the nearest value of float type p (round half to even at every step).
double round_to(DType p, double v) {
    switch (p) {
        case DType::F32: return static_cast<float>(v);
        case DType::F16: return fp16_to_f32(f32_to_fp16(static_cast<float>(v)));
        case DType::BF16: return bf16_to_f32(f32_to_bf16(static_cast<float>(v)));
        default: return v;
    }
}

// Round half to even without depending on the FP environment. NaN stays NaN.
double round_half_even(double v) {
    double r = std::floor(v);
    const double d = v - r;
    if (d > 0.5 || (d == 0.5 && std::fmod(r, 2.0) != 0.0)) r += 1.0;
    return r;
}

// Which scale / zero-point element applies to each element of x.
struct QLayout {
    bool per_tensor = true;
    int64_t dim = 1;     // x.shape[axis]
    int64_t inner = 1;   // product of x.shape after axis
    int64_t block = 0;   // 0: per axis; > 0: blocked
    int64_t sdim = 1;    // scale.shape[axis] (blocked)

    int64_t index(int64_t i) const {
        if (per_tensor) return 0;
        const int64_t a = (i / inner) % dim;
        if (block == 0) return a;
        const int64_t o = i / (inner * dim);
        return (o * sdim + a / block) * inner + i % inner;
    }
};

Result<QLayout> quant_layout(const OpContext& ctx, const Tensor& x, const Tensor& scale, const Tensor* zp) {
    const int64_t block = ctx.node.attr_i("block_size", 0);
    if (block != 0 && ctx.opset < 21) return ctx.fail("block_size needs opset 21 (model has " + std::to_string(ctx.opset) + ")");
    if (block < 0) return ctx.fail("block_size must be positive, got " + std::to_string(block));
    if (scale.numel() == 0) return ctx.fail("scale is empty");
    if (zp) {
        const bool both_single = zp->numel() == 1 && scale.numel() == 1;
        if (!both_single && zp->shape() != scale.shape()) {
            return ctx.fail("zero point shape " + shape_str(zp->shape()) + " differs from scale shape " +
                            shape_str(scale.shape()));
        }
    }
    QLayout l;
    if (scale.numel() == 1) return l;  // per tensor (also a 1-element 1-D or blocked scale, as ONNX's reference)
    l.per_tensor = false;
    if (ctx.opset != 0 && ctx.opset < 13) {
        return ctx.fail("scale must be a scalar before opset 13, got shape " + shape_str(scale.shape()));
    }
    EDGEQ_ASSIGN_OR_RETURN(const int64_t axis, normalize_axis(ctx.node.attr_i("axis", 1), x.rank(), ctx));
    if (x.rank() == 0) return ctx.fail("a non-scalar scale needs a non-scalar input");
    l.dim = x.dim(axis);
    for (int64_t d = axis + 1; d < x.rank(); ++d) l.inner *= x.dim(d);
    if (block == 0) {
        if (scale.rank() != 1 || scale.dim(0) != l.dim) {
            return ctx.fail("per-axis scale must be 1-D of size " + std::to_string(l.dim) + " (input " +
                            shape_str(x.shape()) + ", axis " + std::to_string(axis) + "), got " +
                            shape_str(scale.shape()));
        }
        return l;
    }
    l.block = block;
    l.sdim = (l.dim + block - 1) / block;
    bool ok = scale.rank() == x.rank();
    for (int64_t d = 0; ok && d < x.rank(); ++d) ok = scale.dim(d) == (d == axis ? l.sdim : x.dim(d));
    if (!ok) {
        return ctx.fail("blocked scale shape " + shape_str(scale.shape()) + " does not fit input " +
                        shape_str(x.shape()) + " with axis " + std::to_string(axis) + " and block_size " +
                        std::to_string(block));
    }
    return l;
}

}  // namespace

Status op_quantize_linear(OpContext& ctx) {
    if (!ctx.has_input(0) || !ctx.has_input(1)) return ctx.fail("needs inputs x and y_scale");
    const Tensor& x = ctx.in(0);
    const Tensor& scale = ctx.in(1);
    const Tensor* zp = ctx.has_input(2) ? &ctx.in(2) : nullptr;
    if (!is_float_type(x.dtype()) && x.dtype() != DType::I32) {
        return ctx.unsupported(std::string("input type ") + dtype_name(x.dtype()));
    }
    if (!is_float_type(scale.dtype())) return ctx.fail(std::string("scale must be a float, got ") + dtype_name(scale.dtype()));

    // Output type: the zero point's, else output_dtype, else uint8.
    std::optional<DType> attr_type;
    if (const int64_t e = ctx.node.attr_i("output_dtype", 0); e != 0) {
        attr_type = dtype_from_onnx(e);
        if (is_onnx_minifloat(e)) return ctx.unsupported("float8/float4 output_dtype " + std::to_string(e));
        if (!attr_type || !quant_range(*attr_type) || *attr_type == DType::I32) {
            return ctx.fail("output_dtype " + std::to_string(e) + " is not a quantized integer type");
        }
    }
    DType out_type = attr_type.value_or(DType::U8);
    if (zp) {
        if (attr_type && *attr_type != zp->dtype()) {
            return ctx.fail(std::string("output_dtype ") + dtype_name(*attr_type) + " differs from zero point type " +
                            dtype_name(zp->dtype()));
        }
        out_type = zp->dtype();
    }
    const auto range = quant_range(out_type);
    if (!range || out_type == DType::I32) {
        return ctx.unsupported(std::string("quantizing to ") + dtype_name(out_type));
    }

    // Division precision: `precision` (opset 23), else the scale's type.
    DType prec = scale.dtype();
    if (const int64_t e = ctx.node.attr_i("precision", 0); e != 0) {
        const auto p = dtype_from_onnx(e);
        if (!p || !is_float_type(*p)) return ctx.unsupported("precision " + std::to_string(e));
        prec = *p;
    }
    EDGEQ_ASSIGN_OR_RETURN(const QLayout l, quant_layout(ctx, x, scale, zp));
    if (ctx.shape_only) {  // validated above; the planner's shape pass wants only the output's shape and type
        ctx.outputs[0] = Tensor(out_type, x.shape());
        return Status::Ok();
    }

    const std::vector<double> xv = read_doubles(x);
    const std::vector<double> sv = read_doubles(scale);
    std::vector<int64_t> zv(1, 0);
    if (zp && !read_ints(*zp, zv)) return ctx.fail("zero point is not an integer tensor");
    std::vector<int64_t> q(xv.size());
    for (size_t i = 0; i < xv.size(); ++i) {
        const size_t k = static_cast<size_t>(l.index(static_cast<int64_t>(i)));
        const double s = round_to(prec, sv[k]);
        double v = round_half_even(round_to(prec, round_to(prec, xv[i]) / s));
        if (std::isnan(v)) v = 0;
        v += static_cast<double>(zp ? zv[k] : 0);
        v = std::clamp(v, static_cast<double>(range->lo), static_cast<double>(range->hi));
        q[i] = static_cast<int64_t>(v);
    }
    ctx.outputs[0] = write_ints(out_type, x.shape(), q);
    return Status::Ok();
}

Status op_dequantize_linear(OpContext& ctx) {
    if (!ctx.has_input(0) || !ctx.has_input(1)) return ctx.fail("needs inputs x and x_scale");
    const Tensor& x = ctx.in(0);
    const Tensor& scale = ctx.in(1);
    const Tensor* zp = ctx.has_input(2) ? &ctx.in(2) : nullptr;
    if (!quant_range(x.dtype())) return ctx.unsupported(std::string("dequantizing ") + dtype_name(x.dtype()));
    if (!is_float_type(scale.dtype())) return ctx.fail(std::string("scale must be a float, got ") + dtype_name(scale.dtype()));
    if (zp && zp->dtype() != x.dtype()) {
        return ctx.fail(std::string("zero point type ") + dtype_name(zp->dtype()) + " differs from input type " +
                        dtype_name(x.dtype()));
    }
    DType out_type = scale.dtype();
    if (const int64_t e = ctx.node.attr_i("output_dtype", 0); e != 0) {
        const auto t = dtype_from_onnx(e);
        if (!t || !is_float_type(*t)) return ctx.fail("output_dtype " + std::to_string(e) + " is not a float type");
        out_type = *t;
    }
    EDGEQ_ASSIGN_OR_RETURN(const QLayout l, quant_layout(ctx, x, scale, zp));
    if (ctx.shape_only) {
        ctx.outputs[0] = Tensor(out_type, x.shape());
        return Status::Ok();
    }

    std::vector<int64_t> xv, zv(1, 0);
    read_ints(x, xv);
    if (zp) read_ints(*zp, zv);
    const std::vector<double> sv = read_doubles(scale);
    const int64_t n = x.numel();
    if (out_type == DType::F64 || scale.dtype() == DType::F64) {
        std::vector<double> y(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) {
            const size_t k = static_cast<size_t>(l.index(i));
            y[static_cast<size_t>(i)] = static_cast<double>(xv[static_cast<size_t>(i)] - (zp ? zv[k] : 0)) * sv[k];
        }
        if (out_type == DType::F64) {
            ctx.outputs[0] = Tensor::from_vector<double>(DType::F64, x.shape(), y);
            return Status::Ok();
        }
        std::vector<float> yf(y.begin(), y.end());
        ctx.outputs[0] = from_float_tensor(Tensor::from_vector<float>(DType::F32, x.shape(), yf), out_type);
        return Status::Ok();
    }
    std::vector<float> y(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
        const size_t k = static_cast<size_t>(l.index(i));
        const float d = static_cast<float>(xv[static_cast<size_t>(i)] - (zp ? zv[k] : 0));
        y[static_cast<size_t>(i)] = d * static_cast<float>(sv[k]);
    }
    ctx.outputs[0] = from_float_tensor(Tensor::from_vector<float>(DType::F32, x.shape(), y), out_type);
    return Status::Ok();
}

// DynamicQuantizeLinear (opset 11), uint8, computed in float32 as the spec's formula:
//   x_max = max(0, max(x)), x_min = min(0, min(x))
//   y_scale = (x_max - x_min) / 255                       (1 when x_max == x_min, i.e. x all zeros)
//   y_zero_point = round_half_even(saturate(0 - x_min / y_scale))
//   y = saturate(round_half_even(x / y_scale) + y_zero_point)
Status op_dynamic_quantize_linear(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("needs input x");
    const Tensor& x = ctx.in(0);
    if (x.dtype() != DType::F32 && x.dtype() != DType::F16 && x.dtype() != DType::BF16) {
        return ctx.unsupported(std::string("input type ") + dtype_name(x.dtype()));
    }
    const std::vector<float> xv = x.to_f32();
    float mx = 0.0f, mn = 0.0f;
    for (float v : xv) {
        if (v > mx) mx = v;
        if (v < mn) mn = v;
    }
    const float scale = mx == mn ? 1.0f : (mx - mn) / 255.0f;
    const float zp_f = std::clamp(0.0f - mn / scale, 0.0f, 255.0f);
    const float zp = static_cast<float>(round_half_even(zp_f));
    std::vector<int64_t> y(xv.size());
    for (size_t i = 0; i < xv.size(); ++i) {
        double v = round_half_even(static_cast<float>(xv[i] / scale));
        if (std::isnan(v)) v = 0;
        y[i] = static_cast<int64_t>(std::clamp(v + zp, 0.0, 255.0));
    }
    ctx.outputs[0] = write_ints(DType::U8, x.shape(), y);
    if (ctx.outputs.size() > 1) {
        ctx.outputs[1] = from_float_tensor(Tensor::from_vector<float>(DType::F32, {}, {scale}), x.dtype());
    }
    if (ctx.outputs.size() > 2) {
        ctx.outputs[2] = write_ints(DType::U8, {}, {static_cast<int64_t>(zp)});
    }
    return Status::Ok();
}

}  // namespace edgeq::runtime
