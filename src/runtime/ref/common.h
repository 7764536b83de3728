// Helpers shared by the reference ops: broadcasting, axis normalisation, dtype dispatch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "edgeq/status.h"
#include "edgeq/tensor.h"
#include "runtime/ref/op.h"

namespace edgeq::runtime {

// int64 count or index -> size_t (the ops check signs before they index).
inline size_t sz(int64_t v) { return static_cast<size_t>(v); }

// NumPy/ONNX multidirectional broadcast of shapes; error message names the shapes.
Result<Shape> broadcast_shapes(const std::vector<Shape>& shapes);
// Element strides of `in` viewed as `out` (0 where `in` is broadcast). in.size() <= out.size().
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);
// Row-major strides of a shape.
std::vector<int64_t> strides_of(const Shape& s);

// Maps a possibly negative axis into [0, rank); error if out of range.
Result<int64_t> normalize_axis(int64_t axis, int64_t rank, const OpContext& ctx);

// Calls f(T{}) with T the C++ type of a numeric dtype (F32, F64, I8..I64, U8..U64, BOOL as uint8_t);
// F16/BF16 are not dispatched here (convert to F32 first). Returns false if the dtype is not handled.
template <typename F>
bool visit_numeric(DType t, F&& f) {
    switch (t) {
        case DType::F32: f(float{}); return true;
        case DType::F64: f(double{}); return true;
        case DType::I8: f(int8_t{}); return true;
        case DType::I16: f(int16_t{}); return true;
        case DType::I32: f(int32_t{}); return true;
        case DType::I64: f(int64_t{}); return true;
        case DType::U8: f(uint8_t{}); return true;
        case DType::U16: f(uint16_t{}); return true;
        case DType::U32: f(uint32_t{}); return true;
        case DType::U64: f(uint64_t{}); return true;
        case DType::BOOL: f(uint8_t{}); return true;
        default: return false;
    }
}

// Tensor of type F32 with the same shape and values (F16/BF16/ints/...), for float-only computations.
Tensor to_float_tensor(const Tensor& t);
// Converts an F32 tensor to `t` (F16/BF16 round to nearest even; ints saturate-free C casts).
Tensor from_float_tensor(const Tensor& f32, DType t);

}  // namespace edgeq::runtime

// ---- data-movement helpers (tensor / control families) ----
#include <optional>

namespace edgeq::runtime {

// Bytes of one element for dtypes stored one element per slot (block size 1); 0 for packed/block types.
size_t element_bytes(DType t);
// Packed sub-byte integers: I4/U4/I2/U2 (several elements per byte, ONNX order).
bool is_packed_int(DType t);
// A view in which every element occupies element_bytes() bytes, for ops that move elements: I4/I2 unpack to
// I8 and U4/U2 to U8 (same values); one-element-per-slot types are returned as they are (shared buffer);
// block-quantized types are Unsupported (named with the node).
Result<Tensor> unpacked(const Tensor& t, const OpContext& ctx);
// Inverse of unpacked(): packs an I8/U8 tensor into `orig` when orig is I4/U4/I2/U2; otherwise returns t.
Tensor repacked(const Tensor& t, DType orig);
// Integer input i (shape, axes, indices, ...) as int64 values; error naming the node if missing or not an
// integer tensor.
Result<std::vector<int64_t>> input_ints(const OpContext& ctx, size_t i);
// ONNX TensorProto.DataType (the `to`/`dtype` attributes) -> DType; nullopt for types edgeq cannot hold.
std::optional<DType> dtype_from_onnx_elem(int64_t elem_type);
// Advances a row-major multi-index over `shape` (last axis fastest); false after the last index.
bool next_index(std::vector<int64_t>& idx, const Shape& shape);
// For ops whose output size comes from data (Expand, Tile, Pad, ConstantOfShape, Range, OneHot): an error
// naming the node if a dim is negative, the element count overflows, or the tensor would exceed
// kMaxOpOutputBytes — instead of an abort in the allocator.
constexpr uint64_t kMaxOpOutputBytes = uint64_t{1} << 33;  // 8 GiB
Status check_output_size(const Shape& s, DType t, const OpContext& ctx);

}  // namespace edgeq::runtime
