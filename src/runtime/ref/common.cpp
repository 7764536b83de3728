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

namespace edgeq::runtime {

size_t element_bytes(DType t) {
    const auto& tr = traits(t);
    return tr.block_size == 1 ? tr.type_size : 0;
}

bool is_packed_int(DType t) { return t == DType::I4 || t == DType::U4 || t == DType::I2 || t == DType::U2; }

Result<Tensor> unpacked(const Tensor& t, const OpContext& ctx) {
    if (element_bytes(t.dtype()) != 0) return t;
    if (!is_packed_int(t.dtype())) {
        return ctx.unsupported(std::string("element type ") + dtype_name(t.dtype()) + " (block-quantized)");
    }
    const bool is_signed = t.dtype() == DType::I4 || t.dtype() == DType::I2;
    const int per_byte = static_cast<int>(traits(t.dtype()).block_size);  // 2 or 4
    const int bits = 8 / per_byte;
    const int mask = (1 << bits) - 1;
    Tensor out(is_signed ? DType::I8 : DType::U8, t.shape());
    const uint8_t* src = t.raw();
    uint8_t* dst = out.raw();
    for (int64_t i = 0; i < t.numel(); ++i) {
        int v = (src[i / per_byte] >> (bits * (i % per_byte))) & mask;
        if (is_signed && v >= (1 << (bits - 1))) v -= (1 << bits);
        dst[i] = static_cast<uint8_t>(static_cast<int8_t>(v));
    }
    return out;
}

Tensor repacked(const Tensor& t, DType orig) {
    if (!is_packed_int(orig)) return t;
    const int per_byte = static_cast<int>(traits(orig).block_size);
    const int bits = 8 / per_byte;
    const int mask = (1 << bits) - 1;
    Tensor out(orig, t.shape());
    const uint8_t* src = t.raw();
    uint8_t* dst = out.raw();
    for (int64_t i = 0; i < t.numel(); ++i) {
        dst[i / per_byte] = static_cast<uint8_t>(dst[i / per_byte] | ((src[i] & mask) << (bits * (i % per_byte))));
    }
    return out;
}

Result<std::vector<int64_t>> input_ints(const OpContext& ctx, size_t i) {
    if (!ctx.has_input(i)) return ctx.fail("missing input " + std::to_string(i));
    const Tensor& t = ctx.in(i);
    switch (t.dtype()) {
        case DType::I8: case DType::I16: case DType::I32: case DType::I64:
        case DType::U8: case DType::U16: case DType::U32: case DType::U64:
            return t.to_i64();
        default:
            return ctx.fail("input " + std::to_string(i) + " must be an integer tensor, got " + dtype_name(t.dtype()));
    }
}

std::optional<DType> dtype_from_onnx_elem(int64_t elem_type) {
    switch (elem_type) {
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
        default: return std::nullopt;
    }
}

bool next_index(std::vector<int64_t>& idx, const Shape& shape) {
    for (size_t k = shape.size(); k-- > 0;) {
        if (++idx[k] < shape[k]) return true;
        idx[k] = 0;
    }
    return false;
}

Status check_output_size(const Shape& s, DType t, const OpContext& ctx) {
    uint64_t n = 1;
    bool too_big = false;
    for (int64_t d : s) {
        if (d < 0) return ctx.fail("output shape " + shape_str(s) + " has a negative dim");
        if (d != 0 && n > kMaxOpOutputBytes / static_cast<uint64_t>(d)) too_big = true;
        n = too_big ? n : n * static_cast<uint64_t>(d);
    }
    for (int64_t d : s)
        if (d == 0) return Status::Ok();  // empty, whatever the other dims
    if (too_big || storage_bytes(t, static_cast<int64_t>(n)) > kMaxOpOutputBytes) {
        return ctx.fail("output shape " + shape_str(s) + " would exceed " + std::to_string(kMaxOpOutputBytes >> 30) + " GiB");
    }
    return Status::Ok();
}

}  // namespace edgeq::runtime
