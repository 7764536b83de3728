// GGUF reader. Layout and the list of checks: docs/formats/gguf.md.
//
//   1. u32 magic "GGUF"            4. u64 kv_count            7. zero padding to `alignment`
//   2. u32 version (3; 2 accepted) 5. kv_count x KV           8. tensor data: each tensor at
//   3. u64 tensor_count            6. tensor_count x info        data_offset + info.offset
//
// Every read goes through Cursor, which checks the remaining bytes first: nothing is read past the
// mapping, and every count is bounded by the bytes left before anything is reserved for it.
#include <algorithm>
#include <bit>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <string>
#include <utility>

#include "core/file.h"
#include "formats/gguf/gguf.h"

namespace edgeq::gguf {

static_assert(std::endian::native == std::endian::little, "the GGUF reader assumes a little-endian host");

namespace {

constexpr uint64_t kHeaderSize = 24;     // magic, version, tensor_count, kv_count
constexpr uint64_t kMinKvSize = 8 + 4 + 1;               // key length, value type, smallest value
constexpr uint64_t kMinTensorInfoSize = 8 + 4 + 8 + 4 + 8;  // name length, n_dims, ne[0], type, offset
constexpr uint32_t kNumValueTypes = 13;

// Smallest encoding of one value of type t (used to bound array counts by the bytes left).
uint64_t min_value_size(ValueType t) {
    switch (t) {
        case ValueType::U8: case ValueType::I8: case ValueType::BOOL: return 1;
        case ValueType::U16: case ValueType::I16: return 2;
        case ValueType::U32: case ValueType::I32: case ValueType::F32: return 4;
        case ValueType::U64: case ValueType::I64: case ValueType::F64: return 8;
        case ValueType::STRING: return 8;
        case ValueType::ARRAY: return 4 + 8;
    }
    return 1;
}

std::string hex(uint64_t v) {
    char b[32];
    std::snprintf(b, sizeof(b), "0x%" PRIx64, v);
    return b;
}

std::string printable4(const uint8_t* p) {
    std::string s;
    for (int i = 0; i < 4; ++i) s += (p[i] >= 0x20 && p[i] < 0x7f) ? static_cast<char>(p[i]) : '?';
    return s;
}

std::string shape_string(const std::vector<int64_t>& ne) {
    std::string s = "[";
    for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
    return s + "]";
}

// Bounded little-endian reader over the mapping. `ctx` names what is being read for messages.
struct Cursor {
    const uint8_t* base;
    uint64_t size;
    uint64_t pos = 0;
    const std::string& path;
    std::string ctx;

    uint64_t left() const { return size - pos; }

    Status fail(const std::string& what) const {
        return Corrupt(path + ": " + (ctx.empty() ? "" : ctx + ": ") + what);
    }

    Status need(uint64_t n, const char* what) const {
        if (n <= left()) return Status::Ok();
        return fail("truncated: " + std::string(what) + " at byte " + std::to_string(pos) + " needs " +
                    std::to_string(n) + " bytes, only " + std::to_string(left()) + " left (file has " +
                    std::to_string(size) + " bytes)");
    }

    template <typename T>
    Status read(T& out, const char* what) {
        EDGEQ_RETURN_IF_ERROR(need(sizeof(T), what));
        std::memcpy(&out, base + pos, sizeof(T));
        pos += sizeof(T);
        return Status::Ok();
    }

    Status read_string(std::string& out, const char* what) {
        const uint64_t at = pos;
        uint64_t len = 0;
        EDGEQ_RETURN_IF_ERROR(read(len, what));
        if (len > left()) {
            return fail(std::string(what) + ": string length " + std::to_string(len) + " at byte " +
                        std::to_string(at) + " runs past end of file (" + std::to_string(left()) +
                        " bytes left, file has " + std::to_string(size) + " bytes)");
        }
        out.assign(reinterpret_cast<const char*>(base + pos), static_cast<size_t>(len));
        pos += len;
        return Status::Ok();
    }
};

Status read_value(Cursor& c, ValueType type, int depth, Value& out) {
    out.type = type;
    switch (type) {
        // Signed values are kept sign-extended in u, as the Value::I8v etc. factories do.
        case ValueType::U8: case ValueType::I8: case ValueType::BOOL: {
            uint8_t v = 0;
            EDGEQ_RETURN_IF_ERROR(c.read(v, "value"));
            out.u = type == ValueType::I8 ? static_cast<uint64_t>(int64_t{static_cast<int8_t>(v)}) : v;
            return Status::Ok();
        }
        case ValueType::U16: case ValueType::I16: {
            uint16_t v = 0;
            EDGEQ_RETURN_IF_ERROR(c.read(v, "value"));
            out.u = type == ValueType::I16 ? static_cast<uint64_t>(int64_t{static_cast<int16_t>(v)}) : v;
            return Status::Ok();
        }
        case ValueType::U32: case ValueType::I32: {
            uint32_t v = 0;
            EDGEQ_RETURN_IF_ERROR(c.read(v, "value"));
            out.u = type == ValueType::I32 ? static_cast<uint64_t>(int64_t{static_cast<int32_t>(v)}) : v;
            return Status::Ok();
        }
        case ValueType::U64: case ValueType::I64: {
            EDGEQ_RETURN_IF_ERROR(c.read(out.u, "value"));
            return Status::Ok();
        }
        case ValueType::F32: {
            float v = 0;
            EDGEQ_RETURN_IF_ERROR(c.read(v, "value"));
            out.f = v;
            return Status::Ok();
        }
        case ValueType::F64: {
            EDGEQ_RETURN_IF_ERROR(c.read(out.f, "value"));
            return Status::Ok();
        }
        case ValueType::STRING:
            return c.read_string(out.str, "string value");
        case ValueType::ARRAY: {
            if (depth >= kMaxArrayDepth) {
                return c.fail("array nesting deeper than " + std::to_string(kMaxArrayDepth) + " levels at byte " +
                              std::to_string(c.pos));
            }
            const uint64_t at = c.pos;
            uint32_t et = 0;
            EDGEQ_RETURN_IF_ERROR(c.read(et, "array element type"));
            if (et >= kNumValueTypes) {
                return c.fail("unknown array element type " + std::to_string(et) + " at byte " +
                              std::to_string(at) + " (valid types are 0..12)");
            }
            uint64_t n = 0;
            EDGEQ_RETURN_IF_ERROR(c.read(n, "array length"));
            out.elem_type = static_cast<ValueType>(et);
            const uint64_t min_size = min_value_size(out.elem_type);
            if (n > c.left() / min_size) {
                return c.fail("array of " + std::to_string(n) + " " + value_type_name(out.elem_type) +
                              " at byte " + std::to_string(at) + " runs past end of file (needs at least " +
                              std::to_string(min_size) + " bytes per element, " + std::to_string(c.left()) +
                              " bytes left)");
            }
            out.array.resize(static_cast<size_t>(n));
            for (auto& e : out.array) EDGEQ_RETURN_IF_ERROR(read_value(c, out.elem_type, depth + 1, e));
            return Status::Ok();
        }
    }
    return c.fail("unknown value type " + std::to_string(static_cast<uint32_t>(type)));
}

}  // namespace

// Parses a mapped file into a File; friend of File.
class Reader {
public:
    static Status parse(File& f);
};

Status Reader::parse(File& f) {
    const std::string& path = f.path_;
    Cursor c{f.base_, f.size_, 0, path, {}};

    // 1-4: header.
    if (f.size_ >= 4) {
        uint32_t magic = 0;
        std::memcpy(&magic, f.base_, 4);
        if (magic != kMagic) {
            return Corrupt(path + ": bad magic '" + printable4(f.base_) + "' (" + hex(magic) +
                           "), expected 'GGUF'; not a GGUF file");
        }
    }
    if (f.size_ < kHeaderSize) {
        return Corrupt(path + ": truncated header: file has " + std::to_string(f.size_) +
                       " bytes, the GGUF header needs " + std::to_string(kHeaderSize));
    }
    c.pos = 4;
    uint32_t version = 0;
    EDGEQ_RETURN_IF_ERROR(c.read(version, "version"));
    if (version != kVersion && version != 2) {
        if (version == __builtin_bswap32(kVersion) || version == __builtin_bswap32(2u)) {
            return Corrupt(path + ": big-endian GGUF (version field " + hex(version) +
                           ") is not supported; only little-endian files can be read");
        }
        return Corrupt(path + ": unsupported version " + std::to_string(version) + ", expected 3 (or 2)");
    }
    f.version_ = version;
    uint64_t n_tensors = 0, n_kv = 0;
    EDGEQ_RETURN_IF_ERROR(c.read(n_tensors, "tensor count"));
    EDGEQ_RETURN_IF_ERROR(c.read(n_kv, "kv count"));
    if (n_kv > c.left() / kMinKvSize) {
        return Corrupt(path + ": kv count " + std::to_string(n_kv) + " cannot fit in the " +
                       std::to_string(c.left()) + " bytes after the header (each KV needs at least " +
                       std::to_string(kMinKvSize) + ")");
    }
    if (n_tensors > c.left() / kMinTensorInfoSize) {
        return Corrupt(path + ": tensor count " + std::to_string(n_tensors) + " cannot fit in the " +
                       std::to_string(c.left()) + " bytes after the header (each tensor info needs at least " +
                       std::to_string(kMinTensorInfoSize) + ")");
    }

    // 5: key-value pairs.
    f.kvs_.resize(static_cast<size_t>(n_kv));
    for (uint64_t i = 0; i < n_kv; ++i) {
        KV& kv = f.kvs_[i];
        c.ctx = "kv " + std::to_string(i);
        EDGEQ_RETURN_IF_ERROR(c.read_string(kv.key, "key"));
        c.ctx = "key '" + kv.key + "'";
        if (f.kv_index_.count(kv.key)) {
            return c.fail("duplicate key (kv " + std::to_string(f.kv_index_[kv.key]) + " and kv " +
                          std::to_string(i) + ")");
        }
        f.kv_index_[kv.key] = static_cast<size_t>(i);
        const uint64_t at = c.pos;
        uint32_t t = 0;
        EDGEQ_RETURN_IF_ERROR(c.read(t, "value type"));
        if (t >= kNumValueTypes) {
            return c.fail("unknown value type " + std::to_string(t) + " at byte " + std::to_string(at) +
                          " (valid types are 0..12)");
        }
        EDGEQ_RETURN_IF_ERROR(read_value(c, static_cast<ValueType>(t), 0, kv.value));
    }
    c.ctx.clear();

    // general.alignment: u32, a non-zero power of two.
    f.alignment_ = kDefaultAlignment;
    if (const Value* a = f.find("general.alignment")) {
        if (a->type != ValueType::U32) {
            return Corrupt(path + ": key 'general.alignment': has type " + value_type_name(a->type) +
                           ", expected u32");
        }
        const auto al = static_cast<uint32_t>(a->u);
        if (al == 0 || !std::has_single_bit(al)) {
            return Corrupt(path + ": key 'general.alignment': alignment " + std::to_string(al) +
                           " is not a non-zero power of two");
        }
        f.alignment_ = al;
    }

    // 6: tensor infos.
    f.tensors_.resize(static_cast<size_t>(n_tensors));
    for (uint64_t i = 0; i < n_tensors; ++i) {
        TensorInfo& t = f.tensors_[i];
        c.ctx = "tensor " + std::to_string(i);
        EDGEQ_RETURN_IF_ERROR(c.read_string(t.name, "tensor name"));
        if (t.name.size() > kMaxNameLength) {
            return c.fail("tensor name too long: " + std::to_string(t.name.size()) + " bytes, at most " +
                          std::to_string(kMaxNameLength) + " allowed");
        }
        c.ctx = "tensor '" + t.name + "'";
        if (f.tensor_index_.count(t.name)) {
            return c.fail("duplicate tensor name (tensors " + std::to_string(f.tensor_index_[t.name]) + " and " +
                          std::to_string(i) + ")");
        }
        f.tensor_index_[t.name] = static_cast<size_t>(i);
        uint32_t n_dims = 0;
        EDGEQ_RETURN_IF_ERROR(c.read(n_dims, "n_dims"));
        if (n_dims < 1 || n_dims > static_cast<uint32_t>(kMaxDims)) {
            return c.fail("n_dims = " + std::to_string(n_dims) + ", expected 1.." + std::to_string(kMaxDims));
        }
        t.ne.resize(n_dims);
        for (uint32_t d = 0; d < n_dims; ++d) {
            uint64_t v = 0;
            EDGEQ_RETURN_IF_ERROR(c.read(v, "ne"));
            t.ne[d] = static_cast<int64_t>(v);
        }
        uint32_t type_id = 0;
        EDGEQ_RETURN_IF_ERROR(c.read(type_id, "tensor type"));
        EDGEQ_RETURN_IF_ERROR(c.read(t.offset, "tensor offset"));

        for (uint32_t d = 0; d < n_dims; ++d) {
            if (t.ne[d] < 0) {
                return c.fail("negative dimension ne[" + std::to_string(d) + "] = " + std::to_string(t.ne[d]) +
                              " in shape " + shape_string(t.ne));
            }
        }
        int64_t n_el = 1;
        for (uint32_t d = 0; d < n_dims; ++d) {
            if (__builtin_mul_overflow(n_el, t.ne[d], &n_el)) {
                return c.fail("element count of shape " + shape_string(t.ne) + " overflows int64");
            }
        }
        const auto dt = dtype_from_id(type_id);
        if (!dt || type_id >= 1000) {  // ids >= 1000 are edgeq-only formats (dtype.def)
            return c.fail("unknown tensor type " + std::to_string(type_id));
        }
        t.type = *dt;
        const DTypeTraits& tr = traits(t.type);
        if (t.ne[0] % tr.block_size != 0) {
            return c.fail("row length ne[0] = " + std::to_string(t.ne[0]) + " is not a multiple of the " +
                          tr.name + " block size " + std::to_string(tr.block_size));
        }
        uint64_t row_bytes = 0, bytes = 0;
        const uint64_t rows = t.ne[0] == 0 ? 0 : static_cast<uint64_t>(n_el / t.ne[0]);
        if (__builtin_mul_overflow(static_cast<uint64_t>(t.ne[0] / tr.block_size),
                                   static_cast<uint64_t>(tr.type_size), &row_bytes) ||
            __builtin_mul_overflow(row_bytes, rows, &bytes)) {
            return c.fail("byte size of " + std::string(tr.name) + " shape " + shape_string(t.ne) +
                          " overflows 64 bits");
        }
        t.size = bytes;
        if (t.offset % f.alignment_ != 0) {
            return c.fail("misaligned offset " + std::to_string(t.offset) + ": not a multiple of the alignment " +
                          std::to_string(f.alignment_));
        }
    }
    c.ctx.clear();

    // 7: data section starts at the next multiple of the alignment.
    const uint64_t meta_end = c.pos;
    const uint64_t data_offset = (meta_end + f.alignment_ - 1) / f.alignment_ * f.alignment_;
    if (data_offset > f.size_) {
        if (n_tensors > 0) {
            return Corrupt(path + ": data section: starts at byte " + std::to_string(data_offset) +
                           " (end of tensor infos " + std::to_string(meta_end) + " padded to alignment " +
                           std::to_string(f.alignment_) + "), past end of file (" + std::to_string(f.size_) +
                           " bytes)");
        }
        f.data_offset_ = f.size_;  // metadata-only file without trailing padding
    } else {
        f.data_offset_ = data_offset;
    }
    const uint64_t data_size = f.size_ - f.data_offset_;

    // 8: every tensor inside the data section, no two overlapping.
    for (const TensorInfo& t : f.tensors_) {
        if (t.offset > data_size || t.size > data_size - t.offset) {
            return Corrupt(path + ": tensor '" + t.name + "': offset " + std::to_string(t.offset) + " + size " +
                           std::to_string(t.size) + " past end of data (data section has " +
                           std::to_string(data_size) + " bytes, file has " + std::to_string(f.size_) + " bytes)");
        }
    }
    std::vector<size_t> order(f.tensors_.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        const TensorInfo& x = f.tensors_[a];
        const TensorInfo& y = f.tensors_[b];
        return x.offset != y.offset ? x.offset < y.offset : x.size < y.size;
    });
    const TensorInfo* last = nullptr;  // the non-empty tensor reaching furthest so far
    for (const size_t k : order) {
        const TensorInfo& cur = f.tensors_[k];
        if (cur.size == 0) continue;
        if (last && last->offset + last->size > cur.offset) {
            return Corrupt(path + ": tensor '" + cur.name + "': data [" + std::to_string(cur.offset) + ", " +
                           std::to_string(cur.offset + cur.size) + ") overlaps tensor '" + last->name + "' [" +
                           std::to_string(last->offset) + ", " + std::to_string(last->offset + last->size) + ")");
        }
        last = &cur;
    }
    return Status::Ok();
}

Result<std::unique_ptr<File>> File::open(const std::string& path) {
    EDGEQ_ASSIGN_OR_RETURN(auto map, MappedFile::open(path));
    std::unique_ptr<File> f(new File());
    f->path_ = path;
    f->size_ = map->size();
    f->base_ = map->data();
    f->map_ = std::move(map);
    EDGEQ_RETURN_IF_ERROR(Reader::parse(*f));
    return f;
}

File::~File() = default;

const Value* File::find(const std::string& key) const {
    const auto it = kv_index_.find(key);
    return it == kv_index_.end() ? nullptr : &kvs_[it->second].value;
}

const TensorInfo* File::find_tensor(const std::string& name) const {
    const auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const uint8_t> File::tensor_data(const TensorInfo& t) const {
    // Checked again so a TensorInfo from another file cannot read outside this mapping.
    if (!base_ || data_offset_ > size_) return {};
    const uint64_t data_size = size_ - data_offset_;
    if (t.offset > data_size || t.size > data_size - t.offset) return {};
    return {base_ + data_offset_ + t.offset, static_cast<size_t>(t.size)};
}

}  // namespace edgeq::gguf
