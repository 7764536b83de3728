// TensorProto / SparseTensorProto → edgeq::Tensor (used by the importer and by load_tensor_pb).
//
// Data sources, in ONNX's order of precedence:
//   1. data_location == EXTERNAL: bytes from external_data {location, offset, length} relative to base_dir;
//      the location must stay inside base_dir, offset+length must lie inside the file, and length must equal
//      the tensor's storage size.
//   2. raw_data: little-endian bytes, exactly storage_bytes(dtype, numel) (packed I4/U4/I2/U2 included).
//   3. typed fields: float_data (FLOAT), double_data (DOUBLE), int64_data (INT64), uint64_data (UINT32,
//      UINT64), int32_data (INT32, INT16, INT8, UINT16, UINT8, BOOL, FLOAT16/BFLOAT16 as bit patterns, and
//      packed 4-/2-bit types: one byte of 2 or 4 elements per int32 value).
// Errors name `what` (e.g. "initializer 'conv1.weight'") and what was expected.
#pragma once

#include <string>

#include "edgeq/status.h"
#include "edgeq/tensor.h"

namespace onnx {
class TensorProto;
class SparseTensorProto;
}  // namespace onnx

namespace edgeq::onnxio {

Result<Tensor> tensor_from_proto(const onnx::TensorProto& tp, const std::string& what, const std::string& base_dir);
// Densified: values scattered into a zero tensor of shape dims (indices [NNZ] linear or [NNZ, rank]).
Result<Tensor> tensor_from_sparse_proto(const onnx::SparseTensorProto& sp, const std::string& what,
                                        const std::string& base_dir);

}  // namespace edgeq::onnxio
