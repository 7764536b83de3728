// GGUF v3 reader and writer (spec and layout: docs/formats/gguf.md).
//
// Reader: maps the file read-only, checks every length, count, offset and shape against the file and
// returns a Status naming the file and the field on the first violation; it never trusts the file.
// Writer: builds a file from metadata + tensors, writes to "<path>.tmp.<pid>" and renames into place,
// so a failure (disk full, bad input) never leaves a partial file at the destination.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "edgeq/dtype.h"
#include "edgeq/status.h"

namespace edgeq {
class MappedFile;  // src/core/file.h
}

namespace edgeq::gguf {

inline constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
inline constexpr uint32_t kVersion = 3;
inline constexpr uint32_t kDefaultAlignment = 32;
inline constexpr int kMaxDims = 4;
inline constexpr size_t kMaxNameLength = 64;  // tensor names, excluding terminator (ggml GGML_MAX_NAME-1)
inline constexpr int kMaxArrayDepth = 8;      // arrays of arrays deeper than this are rejected

enum class ValueType : uint32_t {
    U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
    STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
const char* value_type_name(ValueType t);

// One metadata value. Scalars keep their exact GGUF type so a round trip is byte-identical.
struct Value {
    ValueType type = ValueType::U8;
    // scalars: integers in u (two's complement bits for signed), floats in f, bool in u (0/1)
    uint64_t u = 0;
    double f = 0.0;
    std::string str;            // STRING
    ValueType elem_type = ValueType::U8;  // ARRAY element type
    std::vector<Value> array;   // ARRAY elements (each has type == elem_type)

    static Value U8v(uint8_t v) { return scalar(ValueType::U8, v); }
    static Value I8v(int8_t v) { return scalar(ValueType::I8, static_cast<uint64_t>(static_cast<int64_t>(v))); }
    static Value U16v(uint16_t v) { return scalar(ValueType::U16, v); }
    static Value I16v(int16_t v) { return scalar(ValueType::I16, static_cast<uint64_t>(static_cast<int64_t>(v))); }
    static Value U32v(uint32_t v) { return scalar(ValueType::U32, v); }
    static Value I32v(int32_t v) { return scalar(ValueType::I32, static_cast<uint64_t>(static_cast<int64_t>(v))); }
    static Value U64v(uint64_t v) { return scalar(ValueType::U64, v); }
    static Value I64v(int64_t v) { return scalar(ValueType::I64, static_cast<uint64_t>(v)); }
    static Value F32v(float v) { Value x; x.type = ValueType::F32; x.f = v; return x; }
    static Value F64v(double v) { Value x; x.type = ValueType::F64; x.f = v; return x; }
    static Value Boolv(bool v) { return scalar(ValueType::BOOL, v ? 1 : 0); }
    static Value Str(std::string s) { Value x; x.type = ValueType::STRING; x.str = std::move(s); return x; }
    static Value Array(ValueType elem, std::vector<Value> items) {
        Value x; x.type = ValueType::ARRAY; x.elem_type = elem; x.array = std::move(items); return x;
    }

    bool is_integer() const;   // any of the 8 integer types (not bool)
    int64_t as_int() const;    // integer value (sign-extended for signed types); 0 for non-integers
    double as_float() const;   // F32/F64 value, or the integer value converted
    std::string to_string(size_t max_array_items = 8) const;  // human-readable, arrays abbreviated

private:
    static Value scalar(ValueType t, uint64_t v) { Value x; x.type = t; x.u = v; return x; }
};

struct KV {
    std::string key;
    Value value;
};

struct TensorInfo {
    std::string name;
    DType type = DType::F32;
    std::vector<int64_t> ne;   // ggml order: ne[0] is the row length; 1..4 dims
    uint64_t offset = 0;       // relative to the start of the data section
    uint64_t size = 0;         // bytes (row_size(type, ne[0]) * rows)

    int64_t n_elements() const;
    int64_t n_rows() const { return ne.empty() || ne[0] == 0 ? 0 : n_elements() / ne[0]; }
};

// A GGUF file opened for reading. Tensor data is a view into the mapping: valid while the File lives.
class File {
public:
    static Result<std::unique_ptr<File>> open(const std::string& path);
    ~File();
    File(const File&) = delete;
    File& operator=(const File&) = delete;

    const std::string& path() const { return path_; }
    uint32_t version() const { return version_; }
    uint32_t alignment() const { return alignment_; }
    uint64_t data_offset() const { return data_offset_; }  // absolute file offset of the data section
    uint64_t file_size() const { return size_; }
    const std::vector<KV>& kvs() const { return kvs_; }
    const std::vector<TensorInfo>& tensors() const { return tensors_; }

    const Value* find(const std::string& key) const;        // null if absent
    const TensorInfo* find_tensor(const std::string& name) const;
    std::span<const uint8_t> tensor_data(const TensorInfo& t) const;

private:
    File() = default;
    friend class Reader;
    std::string path_;
    uint32_t version_ = 0;
    uint32_t alignment_ = kDefaultAlignment;
    uint64_t data_offset_ = 0;
    uint64_t size_ = 0;
    const uint8_t* base_ = nullptr;
    std::unique_ptr<MappedFile> map_;
    std::vector<KV> kvs_;
    std::vector<TensorInfo> tensors_;
    std::map<std::string, size_t> kv_index_, tensor_index_;
};

// Builds a GGUF file in memory order: KVs in insertion order, tensors in insertion order, each tensor's
// data placed at the next aligned offset. The tensor bytes are borrowed (spans must stay valid until
// write() returns) or owned (add_tensor_owned).
class Writer {
public:
    void set(const std::string& key, Value v);     // replaces an existing key in place, else appends
    void remove(const std::string& key);
    const Value* find(const std::string& key) const;
    void set_alignment(uint32_t a);                // also written as general.alignment when != 32

    Status add_tensor(const std::string& name, DType type, std::vector<int64_t> ne,
                      std::span<const uint8_t> data);
    Status add_tensor_owned(const std::string& name, DType type, std::vector<int64_t> ne,
                            std::vector<uint8_t> data);

    // Copies all KVs and (borrowed) tensors of f; the result writes a byte-identical file.
    static Writer from_file(const File& f);

    const std::vector<KV>& kvs() const { return kvs_; }
    Status write(const std::string& path) const;   // temp file + fsync + rename

private:
    struct Pending {
        std::string name;
        DType type;
        std::vector<int64_t> ne;
        std::span<const uint8_t> data;
        std::shared_ptr<std::vector<uint8_t>> owned;
    };
    std::vector<KV> kvs_;
    std::vector<Pending> tensors_;
    uint32_t alignment_ = kDefaultAlignment;
};

}  // namespace edgeq::gguf
