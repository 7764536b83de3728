// GGUF writer. Produces the layout of docs/formats/gguf.md exactly as ggml's gguf_write_to_file does:
// header, KVs and tensor infos in insertion order, zero padding to the alignment, then each tensor's
// bytes followed by zero padding to the alignment. Everything is validated before the output file is
// created; the bytes go through AtomicFile, so the destination is never left half-written.
#include <bit>
#include <cstring>
#include <string>
#include <utility>

#include "core/file.h"
#include "formats/gguf/gguf.h"

namespace edgeq::gguf {

namespace {

constexpr uint32_t kMaxWriteNameLength = kMaxNameLength - 1;  // ggml rejects names of GGML_MAX_NAME (64) bytes

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

struct Buf {
    std::vector<uint8_t> b;
    template <typename T>
    void put(T v) {
        const size_t at = b.size();
        b.resize(at + sizeof(T));
        std::memcpy(b.data() + at, &v, sizeof(T));
    }
    void put_string(const std::string& s) {
        put<uint64_t>(s.size());
        b.insert(b.end(), s.begin(), s.end());
    }
};

bool valid_type(ValueType t) { return static_cast<uint32_t>(t) <= static_cast<uint32_t>(ValueType::F64); }

Status put_value(Buf& out, const Value& v, const std::string& key, int depth) {
    switch (v.type) {
        case ValueType::U8: case ValueType::I8: case ValueType::BOOL:
            out.put(static_cast<uint8_t>(v.u));
            return Status::Ok();
        case ValueType::U16: case ValueType::I16:
            out.put(static_cast<uint16_t>(v.u));
            return Status::Ok();
        case ValueType::U32: case ValueType::I32:
            out.put(static_cast<uint32_t>(v.u));
            return Status::Ok();
        case ValueType::U64: case ValueType::I64:
            out.put(v.u);
            return Status::Ok();
        case ValueType::F32:
            out.put(static_cast<float>(v.f));
            return Status::Ok();
        case ValueType::F64:
            out.put(v.f);
            return Status::Ok();
        case ValueType::STRING:
            out.put_string(v.str);
            return Status::Ok();
        case ValueType::ARRAY: {
            if (depth >= kMaxArrayDepth) {
                return InvalidArgument("gguf write: key '" + key + "': arrays nested deeper than " +
                                       std::to_string(kMaxArrayDepth) + " levels");
            }
            if (!valid_type(v.elem_type)) {
                return InvalidArgument("gguf write: key '" + key + "': invalid array element type " +
                                       std::to_string(static_cast<uint32_t>(v.elem_type)));
            }
            out.put(static_cast<uint32_t>(v.elem_type));
            out.put<uint64_t>(v.array.size());
            for (size_t i = 0; i < v.array.size(); ++i) {
                const Value& e = v.array[i];
                if (e.type != v.elem_type) {
                    return InvalidArgument("gguf write: key '" + key + "': array element " + std::to_string(i) +
                                           " has type " + value_type_name(e.type) + ", expected " +
                                           value_type_name(v.elem_type));
                }
                EDGEQ_RETURN_IF_ERROR(put_value(out, e, key, depth + 1));
            }
            return Status::Ok();
        }
    }
    return InvalidArgument("gguf write: key '" + key + "': invalid value type " +
                           std::to_string(static_cast<uint32_t>(v.type)));
}

// Checks name, shape and type; returns the tensor's byte size in *bytes.
Status check_tensor(const std::string& name, DType type, const std::vector<int64_t>& ne, uint64_t* bytes) {
    const std::string where = "gguf: tensor '" + name + "': ";
    if (name.empty()) return InvalidArgument("gguf: tensor name is empty");
    if (name.size() > kMaxWriteNameLength) {
        return InvalidArgument(where + "name is " + std::to_string(name.size()) + " bytes, at most " +
                               std::to_string(kMaxWriteNameLength) + " allowed");
    }
    if (ne.empty() || ne.size() > static_cast<size_t>(kMaxDims)) {
        return InvalidArgument(where + std::to_string(ne.size()) + " dimensions, expected 1.." +
                               std::to_string(kMaxDims));
    }
    const DTypeTraits& tr = traits(type);
    if (tr.id >= 1000) return InvalidArgument(where + "type " + tr.name + " is edgeq-only; GGUF cannot carry it");
    int64_t n = 1;
    for (size_t d = 0; d < ne.size(); ++d) {
        if (ne[d] < 0) return InvalidArgument(where + "negative dimension ne[" + std::to_string(d) + "]");
        if (__builtin_mul_overflow(n, ne[d], &n)) return InvalidArgument(where + "element count overflows int64");
    }
    if (ne[0] % tr.block_size != 0) {
        return InvalidArgument(where + "row length " + std::to_string(ne[0]) + " is not a multiple of the " +
                               tr.name + " block size " + std::to_string(tr.block_size));
    }
    const uint64_t rows = ne[0] == 0 ? 0 : static_cast<uint64_t>(n / ne[0]);
    uint64_t row_bytes = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(ne[0] / tr.block_size), uint64_t{tr.type_size}, &row_bytes) ||
        __builtin_mul_overflow(row_bytes, rows, bytes)) {
        return InvalidArgument(where + "byte size overflows 64 bits");
    }
    return Status::Ok();
}

}  // namespace

void Writer::set(const std::string& key, Value v) {
    if (key == "general.alignment" && v.type == ValueType::U32) alignment_ = static_cast<uint32_t>(v.u);
    for (auto& kv : kvs_) {
        if (kv.key == key) {
            kv.value = std::move(v);
            return;
        }
    }
    kvs_.push_back({key, std::move(v)});
}

void Writer::remove(const std::string& key) {
    if (key == "general.alignment") alignment_ = kDefaultAlignment;
    for (auto it = kvs_.begin(); it != kvs_.end(); ++it) {
        if (it->key == key) {
            kvs_.erase(it);
            return;
        }
    }
}

const Value* Writer::find(const std::string& key) const {
    for (const auto& kv : kvs_)
        if (kv.key == key) return &kv.value;
    return nullptr;
}

void Writer::set_alignment(uint32_t a) {
    if (a == kDefaultAlignment) {
        remove("general.alignment");
    } else {
        set("general.alignment", Value::U32v(a));
    }
    alignment_ = a;
}

Status Writer::add_tensor(const std::string& name, DType type, std::vector<int64_t> ne,
                          std::span<const uint8_t> data) {
    uint64_t bytes = 0;
    EDGEQ_RETURN_IF_ERROR(check_tensor(name, type, ne, &bytes));
    for (const auto& t : tensors_) {
        if (t.name == name) return InvalidArgument("gguf: duplicate tensor name '" + name + "'");
    }
    if (data.size() != bytes) {
        return InvalidArgument("gguf: tensor '" + name + "': " + std::to_string(data.size()) + " bytes of data, " +
                               dtype_name(type) + " of this shape needs " + std::to_string(bytes));
    }
    tensors_.push_back({name, type, std::move(ne), data, nullptr});
    return Status::Ok();
}

Status Writer::add_tensor_owned(const std::string& name, DType type, std::vector<int64_t> ne,
                                std::vector<uint8_t> data) {
    auto owned = std::make_shared<std::vector<uint8_t>>(std::move(data));
    EDGEQ_RETURN_IF_ERROR(add_tensor(name, type, std::move(ne), std::span<const uint8_t>(*owned)));
    tensors_.back().owned = std::move(owned);
    return Status::Ok();
}

Writer Writer::from_file(const File& f) {
    Writer w;
    w.kvs_ = f.kvs();
    w.alignment_ = f.alignment();
    for (const auto& t : f.tensors()) w.tensors_.push_back({t.name, t.type, t.ne, f.tensor_data(t), nullptr});
    return w;
}

Status Writer::write(const std::string& path) const {
    // Effective alignment: general.alignment if present (must be a u32 power of two), else the default.
    uint32_t alignment = kDefaultAlignment;
    if (const Value* a = find("general.alignment")) {
        if (a->type != ValueType::U32) {
            return InvalidArgument(path + ": key 'general.alignment' has type " + value_type_name(a->type) +
                                   ", expected u32");
        }
        alignment = static_cast<uint32_t>(a->u);
        if (alignment == 0 || !std::has_single_bit(alignment)) {
            return InvalidArgument(path + ": key 'general.alignment' = " + std::to_string(alignment) +
                                   " is not a non-zero power of two");
        }
    }

    Buf meta;
    meta.put(kMagic);
    meta.put(kVersion);
    meta.put<uint64_t>(tensors_.size());
    meta.put<uint64_t>(kvs_.size());
    for (size_t i = 0; i < kvs_.size(); ++i) {
        const KV& kv = kvs_[i];
        for (size_t j = 0; j < i; ++j) {
            if (kvs_[j].key == kv.key) return InvalidArgument(path + ": duplicate key '" + kv.key + "'");
        }
        if (!valid_type(kv.value.type)) {
            return InvalidArgument(path + ": key '" + kv.key + "': invalid value type " +
                                   std::to_string(static_cast<uint32_t>(kv.value.type)));
        }
        meta.put_string(kv.key);
        meta.put(static_cast<uint32_t>(kv.value.type));
        EDGEQ_RETURN_IF_ERROR(put_value(meta, kv.value, kv.key, 0));
    }
    uint64_t offset = 0;
    for (const Pending& t : tensors_) {
        meta.put_string(t.name);
        meta.put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
        for (const int64_t d : t.ne) meta.put(static_cast<uint64_t>(d));
        meta.put(traits(t.type).id);
        meta.put(offset);
        offset += align_up(t.data.size(), alignment);
    }
    const uint64_t data_start = align_up(meta.b.size(), alignment);
    meta.b.resize(data_start, 0);

    EDGEQ_ASSIGN_OR_RETURN(auto out, AtomicFile::create(path));
    EDGEQ_RETURN_IF_ERROR(out->write(meta.b.data(), meta.b.size()));
    for (const Pending& t : tensors_) {
        EDGEQ_RETURN_IF_ERROR(out->write(t.data.data(), t.data.size()));
        EDGEQ_RETURN_IF_ERROR(out->write_zeros(align_up(t.data.size(), alignment) - t.data.size()));
    }
    return out->commit();
}

}  // namespace edgeq::gguf
