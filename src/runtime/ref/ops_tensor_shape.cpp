// Tensor family, shape ops: Reshape, Flatten, Squeeze, Unsqueeze, Shape, Size, Expand, Constant,
// ConstantOfShape, EyeLike, Range. Ops that only change the shape share the input buffer (any dtype, packed
// sub-byte types included); ops that move elements copy element_bytes() per element.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "runtime/ref/common.h"
#include "runtime/ref/op.h"

namespace edgeq::runtime {
namespace {

Tensor i64_vector(const std::vector<int64_t>& v) {
    return Tensor::from_vector<int64_t>(DType::I64, {static_cast<int64_t>(v.size())}, v);
}

// Axes from the `axes` attribute (opset < since) or from input `input` (opset >= since), absent -> empty.
Result<std::vector<int64_t>> axes_attr_or_input(const OpContext& ctx, int64_t since, size_t input, bool* given) {
    *given = false;
    if (ctx.opset < since) {
        if (!ctx.node.has("axes")) return std::vector<int64_t>{};
        *given = true;
        return ctx.node.attr_ints("axes");
    }
    if (!ctx.has_input(input)) return std::vector<int64_t>{};
    *given = true;
    return input_ints(ctx, input);
}

}  // namespace

// Reshape(data, shape) -> data with `shape`: 0 copies the input dim (unless allowzero=1, opset 14), one -1 is
// inferred. Opset < 5 takes `shape` as an attribute.
Status op_reshape(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input 'data'");
    const Tensor& x = ctx.in(0);
    std::vector<int64_t> want;
    if (ctx.opset < 5) {
        want = ctx.node.attr_ints("shape");
    } else {
        EDGEQ_ASSIGN_OR_RETURN(want, input_ints(ctx, 1));
    }
    const bool allowzero = ctx.node.attr_i("allowzero", 0) != 0;
    Shape out(want.size());
    int64_t infer = -1, known = 1;
    for (size_t i = 0; i < want.size(); ++i) {
        int64_t d = want[i];
        if (d == 0 && !allowzero) {
            if (static_cast<int64_t>(i) >= x.rank()) {
                return ctx.fail("shape " + shape_str(want) + ": 0 at position " + std::to_string(i) +
                                " has no input dim to copy (input " + shape_str(x.shape()) + ")");
            }
            d = x.shape()[i];
        }
        if (d == -1) {
            if (infer >= 0) return ctx.fail("shape " + shape_str(want) + " has more than one -1");
            infer = static_cast<int64_t>(i);
            continue;
        }
        if (d < 0) return ctx.fail("shape " + shape_str(want) + " has a negative dim");
        out[i] = d;
        known *= d;
    }
    if (infer >= 0) {
        if (known == 0 || x.numel() % known != 0) {
            return ctx.fail("cannot reshape " + shape_str(x.shape()) + " to " + shape_str(want));
        }
        out[static_cast<size_t>(infer)] = x.numel() / known;
    }
    if (shape_numel(out) != x.numel()) {
        return ctx.fail("cannot reshape " + shape_str(x.shape()) + " (" + std::to_string(x.numel()) +
                        " elements) to " + shape_str(out));
    }
    ctx.outputs[0] = x.reshaped(out);
    return Status::Ok();
}

// Flatten(input) -> 2-D [prod(dims[:axis]), prod(dims[axis:])], axis in [-r, r] (default 1).
Status op_flatten(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input");
    const Tensor& x = ctx.in(0);
    int64_t axis = ctx.node.attr_i("axis", 1);
    if (axis < 0) axis += x.rank();
    if (axis < 0 || axis > x.rank()) {
        return ctx.fail("axis " + std::to_string(ctx.node.attr_i("axis", 1)) + " out of range for rank " +
                        std::to_string(x.rank()));
    }
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < x.rank(); ++i) (i < axis ? outer : inner) *= x.shape()[static_cast<size_t>(i)];
    ctx.outputs[0] = x.reshaped({outer, inner});
    return Status::Ok();
}

// Squeeze(data[, axes]) removes the listed dims (each must be 1), or every dim of size 1 without (or with
// empty) axes.
// Axes: attribute before opset 13, input from 13.
Status op_squeeze(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input");
    const Tensor& x = ctx.in(0);
    bool given = false;
    EDGEQ_ASSIGN_OR_RETURN(auto axes, axes_attr_or_input(ctx, 13, 1, &given));
    std::vector<bool> drop(static_cast<size_t>(x.rank()), false);
    if (!given || axes.empty()) {  // an empty axes input squeezes every 1, as ONNX Runtime does
        for (int64_t i = 0; i < x.rank(); ++i) drop[static_cast<size_t>(i)] = x.shape()[static_cast<size_t>(i)] == 1;
    }
    for (int64_t a : axes) {
        EDGEQ_ASSIGN_OR_RETURN(int64_t ax, normalize_axis(a, x.rank(), ctx));
        if (x.rank() == 0 || x.shape()[static_cast<size_t>(ax)] != 1) {
            return ctx.fail("cannot squeeze axis " + std::to_string(a) + " of shape " + shape_str(x.shape()));
        }
        drop[static_cast<size_t>(ax)] = true;
    }
    Shape out;
    for (int64_t i = 0; i < x.rank(); ++i)
        if (!drop[static_cast<size_t>(i)]) out.push_back(x.shape()[static_cast<size_t>(i)]);
    ctx.outputs[0] = x.reshaped(out);
    return Status::Ok();
}

// Unsqueeze(data, axes) inserts dims of size 1 at `axes` (positions in the output, rank r + len(axes)).
Status op_unsqueeze(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input");
    const Tensor& x = ctx.in(0);
    bool given = false;
    EDGEQ_ASSIGN_OR_RETURN(auto axes, axes_attr_or_input(ctx, 13, 1, &given));
    if (!given) return ctx.fail("missing axes");
    const int64_t out_rank = x.rank() + static_cast<int64_t>(axes.size());
    std::vector<bool> is_new(static_cast<size_t>(out_rank), false);
    for (int64_t a : axes) {
        EDGEQ_ASSIGN_OR_RETURN(int64_t ax, normalize_axis(a, out_rank, ctx));
        if (is_new[static_cast<size_t>(ax)]) return ctx.fail("axis " + std::to_string(a) + " repeated");
        is_new[static_cast<size_t>(ax)] = true;
    }
    Shape out;
    size_t k = 0;
    for (int64_t i = 0; i < out_rank; ++i) out.push_back(is_new[static_cast<size_t>(i)] ? 1 : x.shape()[k++]);
    ctx.outputs[0] = x.reshaped(out);
    return Status::Ok();
}

// Shape(data) -> int64 [r'] = dims[start:end] (start/end since opset 15; negative counts from the back,
// clamped to [0, r]).
Status op_shape(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input");
    const Tensor& x = ctx.in(0);
    const int64_t r = x.rank();
    int64_t start = ctx.node.attr_i("start", 0);
    int64_t end = ctx.node.attr_i("end", r);
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = std::clamp<int64_t>(start, 0, r);
    end = std::clamp<int64_t>(end, 0, r);
    std::vector<int64_t> dims;
    for (int64_t i = start; i < end; ++i) dims.push_back(x.shape()[static_cast<size_t>(i)]);
    ctx.outputs[0] = i64_vector(dims);
    return Status::Ok();
}

// Size(data) -> int64 scalar, the element count.
Status op_size(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input");
    ctx.outputs[0] = Tensor::from_vector<int64_t>(DType::I64, {}, {ctx.in(0).numel()});
    return Status::Ok();
}

// Expand(input, shape) -> input broadcast (bidirectionally) with `shape`.
Status op_expand(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input");
    EDGEQ_ASSIGN_OR_RETURN(Tensor x, unpacked(ctx.in(0), ctx));
    EDGEQ_ASSIGN_OR_RETURN(auto want, input_ints(ctx, 1));
    for (int64_t d : want)
        if (d < 0) return ctx.fail("shape " + shape_str(want) + " has a negative dim");
    auto bs = broadcast_shapes({x.shape(), want});
    if (!bs.ok()) return ctx.fail(bs.status().message());
    const Shape out_shape = *bs;
    EDGEQ_RETURN_IF_ERROR(check_output_size(out_shape, x.dtype(), ctx));
    const auto st = broadcast_strides(x.shape(), out_shape);
    const size_t es = element_bytes(x.dtype());
    Tensor out(x.dtype(), out_shape);
    if (out.numel() > 0) {
        std::vector<int64_t> idx(out_shape.size(), 0);
        int64_t o = 0;
        do {
            int64_t src = 0;
            for (size_t k = 0; k < idx.size(); ++k) src += idx[k] * st[k];
            std::memcpy(out.raw() + static_cast<size_t>(o) * es, x.raw() + static_cast<size_t>(src) * es, es);
            ++o;
        } while (next_index(idx, out_shape));
    }
    ctx.outputs[0] = repacked(out, ctx.in(0).dtype());
    return Status::Ok();
}

// Constant: exactly one of value (tensor), value_float, value_floats, value_int, value_ints.
Status op_constant(OpContext& ctx) {
    const auto& n = ctx.node;
    if (const auto* a = n.attr("value")) {
        if (a->t.empty_handle()) return ctx.fail("attribute 'value' holds no tensor");
        ctx.outputs[0] = a->t;
    } else if (const auto* f = n.attr("value_float")) {
        ctx.outputs[0] = Tensor::scalar_f32(f->f);
    } else if (const auto* fs = n.attr("value_floats")) {
        ctx.outputs[0] = Tensor::from_vector<float>(DType::F32, {static_cast<int64_t>(fs->floats.size())}, fs->floats);
    } else if (const auto* i = n.attr("value_int")) {
        ctx.outputs[0] = Tensor::from_vector<int64_t>(DType::I64, {}, {i->i});
    } else if (const auto* is = n.attr("value_ints")) {
        ctx.outputs[0] = i64_vector(is->ints);
    } else if (n.has("sparse_value") || n.has("value_string") || n.has("value_strings")) {
        return ctx.unsupported("sparse and string constants");
    } else {
        return ctx.fail("no value attribute");
    }
    return Status::Ok();
}

// ConstantOfShape(shape) -> tensor of `shape` filled with the one element of attribute `value` (default
// float 0).
Status op_constant_of_shape(OpContext& ctx) {
    EDGEQ_ASSIGN_OR_RETURN(auto shape, input_ints(ctx, 0));
    for (int64_t d : shape)
        if (d < 0) return ctx.fail("shape " + shape_str(shape) + " has a negative dim");
    Tensor value = Tensor::scalar_f32(0.0f);
    if (const auto* a = ctx.node.attr("value")) {
        if (a->t.empty_handle() || a->t.numel() != 1) return ctx.fail("attribute 'value' must hold one element");
        value = a->t;
    }
    EDGEQ_ASSIGN_OR_RETURN(Tensor v, unpacked(value, ctx));
    EDGEQ_RETURN_IF_ERROR(check_output_size(shape, v.dtype(), ctx));
    const size_t es = element_bytes(v.dtype());
    Tensor out(v.dtype(), shape);
    for (int64_t i = 0; i < out.numel(); ++i) std::memcpy(out.raw() + static_cast<size_t>(i) * es, v.raw(), es);
    ctx.outputs[0] = repacked(out, value.dtype());
    return Status::Ok();
}

// EyeLike(input 2-D) -> same shape, ones on diagonal k, zeros elsewhere; type `dtype` or the input's.
Status op_eye_like(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input");
    const Tensor& x = ctx.in(0);
    if (x.rank() != 2) return ctx.fail("input must be 2-D, got " + shape_str(x.shape()));
    DType dt = x.dtype();
    if (ctx.node.has("dtype")) {
        auto d = dtype_from_onnx_elem(ctx.node.attr_i("dtype", 1));
        if (!d) return ctx.unsupported("dtype " + std::to_string(ctx.node.attr_i("dtype", 1)));
        dt = *d;
    }
    const int64_t k = ctx.node.attr_i("k", 0);
    Tensor f(DType::F32, x.shape());
    for (int64_t i = 0; i < x.dim(0); ++i) {
        const int64_t j = i + k;
        if (j >= 0 && j < x.dim(1)) f.data<float>()[i * x.dim(1) + j] = 1.0f;
    }
    if (dt != DType::F32 && dt != DType::F16 && dt != DType::BF16 && !visit_numeric(dt, [](auto) {})) {
        return ctx.unsupported(std::string("output type ") + dtype_name(dt));
    }
    ctx.outputs[0] = from_float_tensor(f, dt);
    return Status::Ok();
}

// Range(start, limit, delta) scalars -> 1-D [max(ceil((limit - start) / delta), 0)], start + i * delta.
Status op_range(OpContext& ctx) {
    for (size_t i = 0; i < 3; ++i) {
        if (!ctx.has_input(i)) return ctx.fail("missing input " + std::to_string(i));
        if (ctx.in(i).numel() != 1) return ctx.fail("input " + std::to_string(i) + " must be a scalar");
        if (ctx.in(i).dtype() != ctx.in(0).dtype()) return ctx.fail("inputs must share one type");
    }
    const DType dt = ctx.in(0).dtype();
    const bool half = dt == DType::F16 || dt == DType::BF16;  // computed in F32, rounded at the end
    if (dt == DType::BOOL || (!half && !visit_numeric(dt, [](auto) {}))) {
        return ctx.unsupported(std::string("type ") + dtype_name(dt));
    }
    const DType work = half ? DType::F32 : dt;
    const Tensor a = half ? to_float_tensor(ctx.in(0)) : ctx.in(0);
    const Tensor l = half ? to_float_tensor(ctx.in(1)) : ctx.in(1);
    const Tensor d = half ? to_float_tensor(ctx.in(2)) : ctx.in(2);
    Status st = Status::Ok();
    Tensor out;
    visit_numeric(work, [&](auto tag) {
        using T = decltype(tag);
        const T start = *a.data<T>(), limit = *l.data<T>(), delta = *d.data<T>();
        if (delta == T(0)) {
            st = ctx.fail("delta is 0");
            return;
        }
        const double n_real = std::ceil((static_cast<double>(limit) - static_cast<double>(start)) /
                                        static_cast<double>(delta));
        if (!(n_real < 4e18)) {  // also NaN (infinite or NaN inputs)
            st = ctx.fail("range of " + std::to_string(n_real) + " elements");
            return;
        }
        const int64_t n = std::max<int64_t>(static_cast<int64_t>(n_real), 0);
        st = check_output_size({n}, work, ctx);
        if (!st.ok()) return;
        out = Tensor(work, {n});
        for (int64_t i = 0; i < n; ++i) out.data<T>()[i] = static_cast<T>(start + static_cast<T>(i) * delta);
    });
    EDGEQ_RETURN_IF_ERROR(st);
    if (half) out = from_float_tensor(out, dt);
    ctx.outputs[0] = out;
    return Status::Ok();
}

}  // namespace edgeq::runtime
