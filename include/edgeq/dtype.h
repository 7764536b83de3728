// edgeq numeric formats: the public view of src/dtype/dtype.def.
//
// Layout convention (ggml's): a tensor is rows of ne[0] elements; a row of a block type is
// ne[0] / block_size consecutive blocks. Quantize/dequantize work on whole rows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace edgeq {

enum class DType : uint32_t {
#define EDGEQ_DTYPE(name, id, blck, bytes, kind, vdt, codec) name = id,
#include "../../src/dtype/dtype.def"
#undef EDGEQ_DTYPE
};

enum class DTypeKind : uint8_t { Float, Int, Block };

// Reference quantizer of one format: quantizes nrows rows of n_per_row floats from src into dst
// (nrows * row_size bytes) and returns the bytes written. n_per_row must be a multiple of the
// block size. imatrix, when non-null, holds n_per_row importance weights (for each column, the
// mean squared activation that multiplies it); formats that cannot use it ignore it.
using QuantizeFn = size_t (*)(const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                              const float* imatrix);
// Reference dequantizer: n elements (a multiple of the block size) from src into dst.
using DequantizeRowFn = void (*)(const void* src, float* dst, int64_t n);

struct DTypeTraits {
    DType type;
    const char* name;
    uint32_t id;
    int64_t block_size;
    size_t type_size;
    DTypeKind kind;
    DType vec_dot_type;
    QuantizeFn quantize;          // null for storage-only rows
    DequantizeRowFn dequantize;   // null for storage-only rows
};

// Every row of the table, in table order.
std::span<const DTypeTraits> all_dtypes();
// Traits of a known type (aborts on a value outside the table: that is a programming error).
const DTypeTraits& traits(DType t);
// Lookups for data coming from files or users; nullopt if unknown.
std::optional<DType> dtype_from_id(uint32_t id);
std::optional<DType> dtype_from_name(std::string_view name);  // case-insensitive: "q4_k", "Q4_K"
const char* dtype_name(DType t);

inline bool has_codec(DType t) { return traits(t).quantize != nullptr; }
// Bytes of one row of n elements (n must be a multiple of the block size).
size_t row_size(DType t, int64_t n);
// Nominal bits per weight: 8 * type_size / block_size.
double bits_per_weight(DType t);

// Convenience wrappers over the table (ggml_quantize_chunk semantics).
size_t quantize(DType t, const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                const float* imatrix = nullptr);
void dequantize_row(DType t, const void* src, float* dst, int64_t n);

}  // namespace edgeq
