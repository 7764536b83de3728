// Helpers shared by the reference ops: broadcasting, axis normalisation, dtype dispatch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "edgeq/status.h"
#include "edgeq/tensor.h"
#include "runtime/ref/op.h"

namespace edgeq::runtime {

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
