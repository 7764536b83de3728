#include "formats/onnx/onnx_tensor.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "core/file.h"
#include "formats/onnx/onnx_import.h"

namespace edgeq::onnxio {
namespace fs = std::filesystem;

// ONNX TensorProto.DataType numbers. Debian's onnx.proto (1.12) names only 0-16; the rest are read as raw
// int32 values (onnx/onnx main: FLOAT8* 17-20, UINT4 21, INT4 22, FLOAT4E2M1 23, FLOAT8E8M0 24, UINT2 25,
// INT2 26).
namespace {
constexpr int32_t kFloat = 1, kUint8 = 2, kInt8 = 3, kUint16 = 4, kInt16 = 5, kInt32 = 6, kInt64 = 7, kString = 8,
                  kBool = 9, kFloat16 = 10, kDouble = 11, kUint32 = 12, kUint64 = 13, kComplex64 = 14,
                  kComplex128 = 15, kBfloat16 = 16, kF8E4M3FN = 17, kF8E4M3FNUZ = 18, kF8E5M2 = 19,
                  kF8E5M2FNUZ = 20, kUint4 = 21, kInt4 = 22, kF4E2M1 = 23, kF8E8M0 = 24, kUint2 = 25, kInt2 = 26;
}  // namespace

std::optional<DType> dtype_from_onnx(int32_t t) {
    switch (t) {
        case kFloat: return DType::F32;
        case kUint8: return DType::U8;
        case kInt8: return DType::I8;
        case kUint16: return DType::U16;
        case kInt16: return DType::I16;
        case kInt32: return DType::I32;
        case kInt64: return DType::I64;
        case kBool: return DType::BOOL;
        case kFloat16: return DType::F16;
        case kDouble: return DType::F64;
        case kUint32: return DType::U32;
        case kUint64: return DType::U64;
        case kBfloat16: return DType::BF16;
        case kUint4: return DType::U4;
        case kInt4: return DType::I4;
        case kUint2: return DType::U2;
        case kInt2: return DType::I2;
        default: return std::nullopt;
    }
}

int32_t onnx_from_dtype(DType t) {
    switch (t) {
        case DType::F32: return kFloat;
        case DType::U8: return kUint8;
        case DType::I8: return kInt8;
        case DType::U16: return kUint16;
        case DType::I16: return kInt16;
        case DType::I32: return kInt32;
        case DType::I64: return kInt64;
        case DType::BOOL: return kBool;
        case DType::F16: return kFloat16;
        case DType::F64: return kDouble;
        case DType::U32: return kUint32;
        case DType::U64: return kUint64;
        case DType::BF16: return kBfloat16;
        case DType::U4: return kUint4;
        case DType::I4: return kInt4;
        case DType::U2: return kUint2;
        case DType::I2: return kInt2;
        default: return 0;
    }
}

const char* onnx_type_name(int32_t t) {
    switch (t) {
        case 0: return "UNDEFINED";
        case kFloat: return "FLOAT";
        case kUint8: return "UINT8";
        case kInt8: return "INT8";
        case kUint16: return "UINT16";
        case kInt16: return "INT16";
        case kInt32: return "INT32";
        case kInt64: return "INT64";
        case kString: return "STRING";
        case kBool: return "BOOL";
        case kFloat16: return "FLOAT16";
        case kDouble: return "DOUBLE";
        case kUint32: return "UINT32";
        case kUint64: return "UINT64";
        case kComplex64: return "COMPLEX64";
        case kComplex128: return "COMPLEX128";
        case kBfloat16: return "BFLOAT16";
        case kF8E4M3FN: return "FLOAT8E4M3FN";
        case kF8E4M3FNUZ: return "FLOAT8E4M3FNUZ";
        case kF8E5M2: return "FLOAT8E5M2";
        case kF8E5M2FNUZ: return "FLOAT8E5M2FNUZ";
        case kUint4: return "UINT4";
        case kInt4: return "INT4";
        case kF4E2M1: return "FLOAT4E2M1";
        case kF8E8M0: return "FLOAT8E8M0";
        case kUint2: return "UINT2";
        case kInt2: return "INT2";
        default: return "unknown";
    }
}

namespace {

std::string type_desc(int32_t t) { return std::string(onnx_type_name(t)) + " (" + std::to_string(t) + ")"; }

// Elements per byte for the packed sub-byte integer types, else 0.
int packed_per_byte(DType t) {
    switch (t) {
        case DType::I4: case DType::U4: return 2;
        case DType::I2: case DType::U2: return 4;
        default: return 0;
    }
}

// Limit on elements of one tensor: keeps every byte count far from overflow.
constexpr int64_t kMaxOnnxNumel = int64_t{1} << 46;
// Densifying a sparse tensor: at most max(64 MiB, 4096 x the encoded sparse proto) bytes.
constexpr uint64_t kMaxSparseDenseBytes = uint64_t{64} << 20;
constexpr uint32_t kMaxSparseRatio = 4096;

Result<Shape> checked_shape(const google::protobuf::RepeatedField<int64_t>& dims, const std::string& what) {
    Shape s;
    int64_t n = 1;
    for (int64_t d : dims) {
        if (d < 0) return Corrupt(what + ": negative dimension " + std::to_string(d) + " in dims");
        if (d > 0 && n > kMaxOnnxNumel / d) return Corrupt(what + ": dims multiply to more than 2^46 elements");
        n *= d;
        s.push_back(d);
    }
    return s;
}

// Resolves an external_data location against base_dir; refuses anything that leaves the folder.
Result<fs::path> resolve_external(const std::string& location, const std::string& base_dir, const std::string& what) {
    if (base_dir.empty()) return InvalidArgument(what + ": external data '" + location + "' but the model has no folder");
    if (location.empty()) return Corrupt(what + ": external data without a 'location'");
    if (location.find('\0') != std::string::npos) return Corrupt(what + ": external data location contains NUL");
    const fs::path loc(location);
    if (loc.is_absolute() || loc.has_root_name() || loc.has_root_directory()) {
        return Corrupt(what + ": external data location '" + location + "' is absolute; it must be relative to the model");
    }
    for (const auto& part : loc.lexically_normal())
        if (part == "..") return Corrupt(what + ": external data location '" + location + "' leaves the model's folder");
    std::error_code ec;
    const fs::path base = fs::weakly_canonical(fs::path(base_dir), ec);
    if (ec) return IoError(what + ": cannot resolve model folder '" + base_dir + "': " + ec.message());
    const fs::path full = fs::weakly_canonical(base / loc, ec);
    if (ec) return IoError(what + ": cannot resolve external data '" + location + "': " + ec.message());
    // Symlinks may still point elsewhere: compare the canonical paths.
    auto rel = full.lexically_relative(base);
    if (rel.empty() || *rel.begin() == "..") {
        return Corrupt(what + ": external data '" + location + "' resolves outside the model's folder");
    }
    return full;
}

Result<Tensor> load_external(const onnx::TensorProto& tp, DType dt, const Shape& shape, const std::string& what,
                             const std::string& base_dir) {
    std::string location;
    int64_t offset = 0, length = -1;
    bool has_location = false;
    for (const auto& kv : tp.external_data()) {
        auto parse_int = [&](const std::string& v, int64_t& out) -> Status {
            if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos) {
                return Corrupt(what + ": external data '" + kv.key() + "' = '" + v + "' is not a non-negative integer");
            }
            out = std::stoll(v);
            return Status::Ok();
        };
        if (kv.key() == "location") {
            location = kv.value();
            has_location = true;
        } else if (kv.key() == "offset") {
            EDGEQ_RETURN_IF_ERROR(parse_int(kv.value(), offset));
        } else if (kv.key() == "length") {
            EDGEQ_RETURN_IF_ERROR(parse_int(kv.value(), length));
        }
    }
    if (!has_location) return Corrupt(what + ": external data without a 'location' key");
    EDGEQ_ASSIGN_OR_RETURN(auto file, resolve_external(location, base_dir, what));
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) {
        return NotFound(what + ": external data file '" + file.string() + "' does not exist");
    }
    EDGEQ_ASSIGN_OR_RETURN(auto mf, MappedFile::open(file.string()));
    const uint64_t fsize = mf->size();
    const size_t need = storage_bytes(dt, shape_numel(shape));
    if (static_cast<uint64_t>(offset) > fsize) {
        return Corrupt(what + ": external data offset " + std::to_string(offset) + " is past the end of '" +
                       file.string() + "' (" + std::to_string(fsize) + " bytes)");
    }
    if (length < 0) length = static_cast<int64_t>(fsize - static_cast<uint64_t>(offset));
    if (static_cast<uint64_t>(length) > fsize - static_cast<uint64_t>(offset)) {
        return Corrupt(what + ": external data [" + std::to_string(offset) + ", +" + std::to_string(length) +
                       ") runs past the end of '" + file.string() + "' (" + std::to_string(fsize) + " bytes)");
    }
    if (static_cast<uint64_t>(length) != need) {
        return Corrupt(what + ": external data holds " + std::to_string(length) + " bytes, " + dtype_name(dt) + " " +
                       shape_str(shape) + " needs " + std::to_string(need));
    }
    return Tensor::from_bytes(dt, shape, {mf->data() + offset, need});
}

template <typename Src, typename Dst>
Tensor from_field(DType dt, const Shape& shape, const google::protobuf::RepeatedField<Src>& f) {
    Tensor t(dt, shape);
    Dst* p = t.data<Dst>();
    for (int i = 0; i < f.size(); ++i) p[i] = static_cast<Dst>(f.Get(i));
    return t;
}

}  // namespace

Result<Tensor> tensor_from_proto(const onnx::TensorProto& tp, const std::string& what, const std::string& base_dir) {
    const int32_t et = tp.data_type();
    if (et == 0) return Corrupt(what + ": data_type is UNDEFINED (0)");
    const auto odt = dtype_from_onnx(et);
    if (!odt) return Unsupported(what + ": element type " + type_desc(et) + " is not supported by edgeq");
    const DType dt = *odt;
    if (tp.has_segment()) return Unsupported(what + ": segmented tensors are not supported");
    EDGEQ_ASSIGN_OR_RETURN(Shape shape, checked_shape(tp.dims(), what));
    const int64_t numel = shape_numel(shape);
    const size_t need = storage_bytes(dt, numel);
    const std::string desc = std::string(onnx_type_name(et)) + " " + shape_str(shape);

    if (tp.data_location() == onnx::TensorProto::EXTERNAL) return load_external(tp, dt, shape, what, base_dir);

    if (tp.has_raw_data()) {
        const std::string& raw = tp.raw_data();
        if (raw.size() != need) {
            return Corrupt(what + ": raw_data holds " + std::to_string(raw.size()) + " bytes, " + desc + " needs " +
                           std::to_string(need));
        }
        return Tensor::from_bytes(dt, shape, {reinterpret_cast<const uint8_t*>(raw.data()), raw.size()});
    }

    // Typed fields: which one this element type uses, and how many values it must hold.
    auto count_err = [&](const char* field, int64_t have, int64_t want) {
        return Corrupt(what + ": " + field + " holds " + std::to_string(have) + " values, " + desc + " needs " +
                       std::to_string(want));
    };
    switch (et) {
        case kFloat:
            if (tp.float_data_size() != numel) return count_err("float_data", tp.float_data_size(), numel);
            return from_field<float, float>(dt, shape, tp.float_data());
        case kDouble:
            if (tp.double_data_size() != numel) return count_err("double_data", tp.double_data_size(), numel);
            return from_field<double, double>(dt, shape, tp.double_data());
        case kInt64:
            if (tp.int64_data_size() != numel) return count_err("int64_data", tp.int64_data_size(), numel);
            return from_field<int64_t, int64_t>(dt, shape, tp.int64_data());
        case kUint32:
            if (tp.uint64_data_size() != numel) return count_err("uint64_data", tp.uint64_data_size(), numel);
            return from_field<uint64_t, uint32_t>(dt, shape, tp.uint64_data());
        case kUint64:
            if (tp.uint64_data_size() != numel) return count_err("uint64_data", tp.uint64_data_size(), numel);
            return from_field<uint64_t, uint64_t>(dt, shape, tp.uint64_data());
        case kInt32:
            if (tp.int32_data_size() != numel) return count_err("int32_data", tp.int32_data_size(), numel);
            return from_field<int32_t, int32_t>(dt, shape, tp.int32_data());
        case kInt16:
            if (tp.int32_data_size() != numel) return count_err("int32_data", tp.int32_data_size(), numel);
            return from_field<int32_t, int16_t>(dt, shape, tp.int32_data());
        case kUint16: case kFloat16: case kBfloat16:  // 16-bit patterns in the low half
            if (tp.int32_data_size() != numel) return count_err("int32_data", tp.int32_data_size(), numel);
            return from_field<int32_t, uint16_t>(dt, shape, tp.int32_data());
        case kInt8:
            if (tp.int32_data_size() != numel) return count_err("int32_data", tp.int32_data_size(), numel);
            return from_field<int32_t, int8_t>(dt, shape, tp.int32_data());
        case kUint8: case kBool:
            if (tp.int32_data_size() != numel) return count_err("int32_data", tp.int32_data_size(), numel);
            return from_field<int32_t, uint8_t>(dt, shape, tp.int32_data());
        default: break;
    }
    const int per = packed_per_byte(dt);
    if (per == 0) return Unsupported(what + ": element type " + type_desc(et) + " has no typed-field reader");
    const int64_t nbytes = static_cast<int64_t>(need);
    const auto& f = tp.int32_data();
    Tensor t(dt, shape);
    uint8_t* p = t.raw();
    if (f.size() == nbytes) {  // ONNX rule: each int32 value holds one byte of `per` packed elements
        for (int i = 0; i < f.size(); ++i) p[i] = static_cast<uint8_t>(f.Get(i));
        return t;
    }
    if (f.size() == numel) {  // tolerated: one element per int32 value (unpacked); pack it here
        const int bits = 8 / per;
        const unsigned mask = (1u << bits) - 1u;
        for (int64_t i = 0; i < numel; ++i) {
            const unsigned v = static_cast<unsigned>(f.Get(static_cast<int>(i))) & mask;
            p[i / per] = static_cast<uint8_t>(p[i / per] | (v << ((i % per) * bits)));
        }
        return t;
    }
    return count_err("int32_data", f.size(), nbytes);
}

Result<Tensor> tensor_from_sparse_proto(const onnx::SparseTensorProto& sp, const std::string& what,
                                        const std::string& base_dir) {
    EDGEQ_ASSIGN_OR_RETURN(Shape shape, checked_shape(sp.dims(), what));
    EDGEQ_ASSIGN_OR_RETURN(Tensor values, tensor_from_proto(sp.values(), what + " values", base_dir));
    EDGEQ_ASSIGN_OR_RETURN(Tensor indices, tensor_from_proto(sp.indices(), what + " indices", base_dir));
    if (packed_per_byte(values.dtype()) != 0) return Unsupported(what + ": sparse packed sub-byte tensors");
    if (values.rank() != 1) return Corrupt(what + ": sparse values must be 1-D, got " + shape_str(values.shape()));
    if (indices.dtype() != DType::I64) return Corrupt(what + ": sparse indices must be INT64");
    const int64_t nnz = values.dim(0);
    const int64_t rank = static_cast<int64_t>(shape.size());
    const bool linear = indices.rank() == 1;
    if (!(linear && indices.dim(0) == nnz) && !(indices.rank() == 2 && indices.dim(0) == nnz && indices.dim(1) == rank)) {
        return Corrupt(what + ": sparse indices " + shape_str(indices.shape()) + " do not match " +
                       std::to_string(nnz) + " values of rank " + std::to_string(rank));
    }
    const size_t es = storage_bytes(values.dtype(), 1);
    const int64_t numel = shape_numel(shape);
    // A few bytes of sparse proto may describe a dense tensor of 2^46 elements: bound the expansion before
    // allocating it (zeros beyond this are not a model anyone ships).
    const uint64_t dense = static_cast<uint64_t>(numel) * es;
    const uint64_t limit = std::max<uint64_t>(kMaxSparseDenseBytes, uint64_t{kMaxSparseRatio} * sp.ByteSizeLong());
    if (dense > limit) {
        return Unsupported(what + ": sparse tensor " + shape_str(shape) + " with " + std::to_string(nnz) +
                           " values densifies to " + std::to_string(dense) + " bytes, over the limit of " +
                           std::to_string(limit) + " (" + std::to_string(kMaxSparseRatio) +
                           " x its encoded size, at least 64 MiB)");
    }
    Tensor out(values.dtype(), shape);
    const int64_t* ix = indices.data<int64_t>();
    for (int64_t k = 0; k < nnz; ++k) {
        int64_t lin = 0;
        if (linear) {
            lin = ix[k];
        } else {
            for (int64_t d = 0; d < rank; ++d) {
                const int64_t v = ix[k * rank + d];
                if (v < 0 || v >= shape[static_cast<size_t>(d)]) return Corrupt(what + ": sparse index out of range");
                lin = lin * shape[static_cast<size_t>(d)] + v;
            }
        }
        if (lin < 0 || lin >= numel) return Corrupt(what + ": sparse index " + std::to_string(lin) + " out of range");
        std::memcpy(out.raw() + static_cast<size_t>(lin) * es, values.raw() + static_cast<size_t>(k) * es, es);
    }
    return out;
}

}  // namespace edgeq::onnxio
