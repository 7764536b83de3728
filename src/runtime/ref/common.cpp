#include "runtime/ref/common.h"

#include <algorithm>

#include "core/fp16.h"

namespace edgeq::runtime {

Result<Shape> broadcast_shapes(const std::vector<Shape>& shapes) {
    size_t rank = 0;
    for (const auto& s : shapes) rank = std::max(rank, s.size());
    Shape out(rank, 1);
    for (const auto& s : shapes) {
        for (size_t k = 0; k < s.size(); ++k) {
            const size_t o = rank - s.size() + k;
            const int64_t d = s[k];
            if (d == out[o] || d == 1) continue;
            if (out[o] == 1) {
                out[o] = d;
                continue;
            }
            std::string all;
            for (const auto& x : shapes) all += (all.empty() ? "" : " and ") + shape_str(x);
            return InvalidArgument("shapes " + all + " cannot be broadcast together");
        }
    }
    return out;
}

std::vector<int64_t> strides_of(const Shape& s) {
    std::vector<int64_t> st(s.size(), 1);
    for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
    return st;
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
    std::vector<int64_t> st(out.size(), 0);
    const auto in_st = strides_of(in);
    const size_t off = out.size() - in.size();
    for (size_t k = 0; k < in.size(); ++k) st[off + k] = in[k] == 1 ? 0 : in_st[k];
    return st;
}

Result<int64_t> normalize_axis(int64_t axis, int64_t rank, const OpContext& ctx) {
    const int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= std::max<int64_t>(rank, 1)) {
        return ctx.fail("axis " + std::to_string(axis) + " out of range for rank " + std::to_string(rank));
    }
    return a;
}

Tensor to_float_tensor(const Tensor& t) {
    if (t.dtype() == DType::F32) return t;
    return Tensor::from_vector<float>(DType::F32, t.shape(), t.to_f32());
}

Tensor from_float_tensor(const Tensor& f32, DType t) {
    if (t == DType::F32) return f32;
    Tensor out(t, f32.shape());
    const float* x = f32.data<float>();
    const int64_t n = f32.numel();
    switch (t) {
        case DType::F16:
            for (int64_t i = 0; i < n; ++i) out.data<uint16_t>()[i] = f32_to_fp16(x[i]);
            break;
        case DType::BF16:
            for (int64_t i = 0; i < n; ++i) out.data<uint16_t>()[i] = f32_to_bf16(x[i]);
            break;
        default:
            visit_numeric(t, [&](auto tag) {
                using T = decltype(tag);
                for (int64_t i = 0; i < n; ++i) out.data<T>()[i] = static_cast<T>(x[i]);
            });
    }
    return out;
}

}  // namespace edgeq::runtime
