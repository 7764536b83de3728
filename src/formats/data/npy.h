// NumPy .npy files <-> edgeq::Tensor (format: docs/formats/data.md).
//
// Layout of a .npy file:
//   1. magic "\x93NUMPY" (6 bytes)
//   2. version: major, minor (1 byte each): 1.0 (header length u16), 2.0 / 3.0 (header length u32; 3.0 = UTF-8)
//   3. header length HLEN, little-endian
//   4. header: a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (4, 10), } padded with
//      spaces and ended by '\n'
//   5. data: prod(shape) elements, C order
// Accepted descr: little-endian (or byte-order-free) f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1. Rejected with a
// message naming the file: Fortran order, big-endian, other types, a shape that overflows, data shorter or
// longer than the shape says.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "edgeq/status.h"
#include "edgeq/tensor.h"

namespace edgeq::data {

Result<Tensor> read_npy(const std::string& path);
// The array inside .npy bytes without copying it: checks as parse_npy does; `data` points into `bytes`.
struct NpyView {
    DType dtype = DType::F32;
    Shape shape;
    std::span<const uint8_t> data;
};
Result<NpyView> view_npy(std::span<const uint8_t> bytes, const std::string& source);
// `source` names the bytes in messages (a file, or "archive.npz: x.npy").
Result<Tensor> parse_npy(std::span<const uint8_t> bytes, const std::string& source);

// Version 1.0 (2.0 if the header does not fit), C order. Unsupported for dtypes NumPy has no type for
// (block-quantized, packed 4/2-bit, bf16).
Result<std::vector<uint8_t>> encode_npy(const Tensor& t);
// Atomic: a temporary file renamed into place (src/core/file.h AtomicFile).
Status write_npy(const std::string& path, const Tensor& t);

// "<f4" for F32, ... ("" if NumPy has no such type).
const char* npy_descr(DType t);

}  // namespace edgeq::data
