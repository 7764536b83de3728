// GGUF metadata values: type names, conversions, printing.
#include <cstdio>
#include <string>

#include "formats/gguf/gguf.h"

namespace edgeq::gguf {

const char* value_type_name(ValueType t) {
    switch (t) {
        case ValueType::U8: return "u8";
        case ValueType::I8: return "i8";
        case ValueType::U16: return "u16";
        case ValueType::I16: return "i16";
        case ValueType::U32: return "u32";
        case ValueType::I32: return "i32";
        case ValueType::F32: return "f32";
        case ValueType::BOOL: return "bool";
        case ValueType::STRING: return "string";
        case ValueType::ARRAY: return "array";
        case ValueType::U64: return "u64";
        case ValueType::I64: return "i64";
        case ValueType::F64: return "f64";
    }
    return "unknown";
}

bool Value::is_integer() const {
    switch (type) {
        case ValueType::U8: case ValueType::I8: case ValueType::U16: case ValueType::I16:
        case ValueType::U32: case ValueType::I32: case ValueType::U64: case ValueType::I64:
            return true;
        default:
            return false;
    }
}

int64_t Value::as_int() const {
    switch (type) {
        case ValueType::U8: return static_cast<uint8_t>(u);
        case ValueType::I8: return static_cast<int8_t>(static_cast<uint8_t>(u));
        case ValueType::U16: return static_cast<uint16_t>(u);
        case ValueType::I16: return static_cast<int16_t>(static_cast<uint16_t>(u));
        case ValueType::U32: return static_cast<uint32_t>(u);
        case ValueType::I32: return static_cast<int32_t>(static_cast<uint32_t>(u));
        case ValueType::U64: return static_cast<int64_t>(u);  // values above INT64_MAX wrap
        case ValueType::I64: return static_cast<int64_t>(u);
        default: return 0;
    }
}

double Value::as_float() const {
    if (type == ValueType::F32 || type == ValueType::F64) return f;
    if (type == ValueType::U64) return static_cast<double>(u);
    if (type == ValueType::BOOL) return u ? 1.0 : 0.0;
    return static_cast<double>(as_int());
}

namespace {

void append_quoted(std::string& out, const std::string& s) {
    out += '"';
    for (const char c : s) {
        const auto uc = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (uc < 0x20 || uc == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\x%02x", uc);
            out += buf;
        } else {
            out += c;
        }
    }
    out += '"';
}

}  // namespace

std::string Value::to_string(size_t max_array_items) const {
    char buf[64];
    switch (type) {
        case ValueType::F32:
            std::snprintf(buf, sizeof(buf), "%.9g", f);
            return buf;
        case ValueType::F64:
            std::snprintf(buf, sizeof(buf), "%.17g", f);
            return buf;
        case ValueType::BOOL:
            return u == 0 ? "false" : (u == 1 ? "true" : "true(" + std::to_string(u) + ")");
        case ValueType::U64:
            return std::to_string(u);
        case ValueType::STRING: {
            std::string out;
            append_quoted(out, str);
            return out;
        }
        case ValueType::ARRAY: {
            std::string out = "[";
            const size_t n = array.size() < max_array_items ? array.size() : max_array_items;
            for (size_t i = 0; i < n; ++i) {
                if (i) out += ", ";
                out += array[i].to_string(max_array_items);
            }
            if (n < array.size()) {
                out += n ? ", ... " : "... ";
                out += "(" + std::to_string(array.size()) + " " + value_type_name(elem_type) + ")";
            }
            out += "]";
            return out;
        }
        default:
            if (is_integer()) return std::to_string(as_int());
            return "?";
    }
}

int64_t TensorInfo::n_elements() const {
    int64_t n = 1;
    for (const int64_t d : ne) n *= d;
    return n;
}

}  // namespace edgeq::gguf
