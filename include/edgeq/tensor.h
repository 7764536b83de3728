// edgeq::Tensor — a dense n-d array: dtype (dtype.def), shape (row-major, outermost first, as ONNX/NumPy),
// and a shared, 64-byte aligned buffer. Copying a Tensor shares the buffer (cheap); clone() copies the data.
//
// Packed sub-byte integer types (I4/U4/I2/U2) store ceil(numel / per_byte) bytes, ONNX order (element 2i in the
// low nibble of byte i). Block-quantized types (Q4_K, ...) are rows of blocks along the last dimension.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "edgeq/dtype.h"

namespace edgeq {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& s);        // product of dims (1 for a scalar shape {})
std::string shape_str(const Shape& s);      // "[1, 3, 224, 224]"
size_t storage_bytes(DType t, int64_t numel);

class Tensor {
public:
    Tensor() = default;
    // Zero-initialised tensor of the given type and shape.
    Tensor(DType dtype, Shape shape);
    // Wraps existing bytes (copied).
    static Tensor from_bytes(DType dtype, Shape shape, std::span<const uint8_t> bytes);
    template <typename T>
    static Tensor from_vector(DType dtype, Shape shape, const std::vector<T>& v) {
        return from_bytes(dtype, std::move(shape),
                          {reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(T)});
    }
    static Tensor scalar_f32(float v) { return from_vector<float>(DType::F32, {}, {v}); }

    bool empty_handle() const { return !buf_; }  // default-constructed: "no tensor" (omitted optional input)
    DType dtype() const { return dtype_; }
    const Shape& shape() const { return shape_; }
    int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
    int64_t dim(int64_t i) const { return shape_[static_cast<size_t>(i < 0 ? i + rank() : i)]; }
    int64_t numel() const { return shape_numel(shape_); }
    size_t nbytes() const { return storage_bytes(dtype_, numel()); }

    uint8_t* raw() { return buf_ ? buf_->data() : nullptr; }
    const uint8_t* raw() const { return buf_ ? buf_->data() : nullptr; }
    template <typename T>
    T* data() { return reinterpret_cast<T*>(raw()); }
    template <typename T>
    const T* data() const { return reinterpret_cast<const T*>(raw()); }
    std::span<const uint8_t> bytes() const { return {raw(), nbytes()}; }

    // Same buffer, new shape (numel must match).
    Tensor reshaped(Shape shape) const;
    Tensor clone() const;
    // Values as float (any dtype with a codec, plus BOOL/I16/I32/I64/U16/U32/U64/F64) / as int64 (integer types).
    std::vector<float> to_f32() const;
    std::vector<int64_t> to_i64() const;

private:
    struct Buffer {
        explicit Buffer(size_t n);
        ~Buffer();
        Buffer(const Buffer&) = delete;
        Buffer& operator=(const Buffer&) = delete;
        uint8_t* data() { return p; }
        uint8_t* p = nullptr;     // 64-byte aligned
        void* base = nullptr;     // what calloc returned (p rounded up to 64 bytes), when not mapped
        size_t n = 0;
        size_t alloc = 0;     // bytes allocated (n rounded up, plus over-read room)
        bool mapped = false;  // large buffer mapped straight from the kernel (munmap, not free)
    };
    DType dtype_ = DType::F32;
    Shape shape_;
    std::shared_ptr<Buffer> buf_;
};

}  // namespace edgeq
