#include "formats/data/npy.h"

#include <cstring>
#include <optional>

#include "core/file.h"

namespace edgeq::data {
namespace {

constexpr uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
constexpr int64_t kMaxNpyNumel = int64_t{1} << 46;

struct DescrRow {
    const char* code;  // without byte-order character
    DType dtype;
};
constexpr DescrRow kDescr[] = {
    {"f2", DType::F16}, {"f4", DType::F32}, {"f8", DType::F64}, {"i1", DType::I8},   {"i2", DType::I16},
    {"i4", DType::I32}, {"i8", DType::I64}, {"u1", DType::U8},  {"u2", DType::U16},  {"u4", DType::U32},
    {"u8", DType::U64}, {"b1", DType::BOOL},
};

// The header dict, parsed strictly: string keys; values are strings, True/False or tuples of integers.
class HeaderParser {
public:
    HeaderParser(std::string_view s, const std::string& src) : s_(s), src_(src) {}

    Status parse(std::string& descr, bool& fortran, Shape& shape) {
        bool have_descr = false, have_fortran = false, have_shape = false;
        ws();
        if (!eat('{')) return err("expected '{'");
        for (;;) {
            ws();
            if (eat('}')) break;
            std::string key;
            EDGEQ_RETURN_IF_ERROR(str(key));
            ws();
            if (!eat(':')) return err("expected ':' after '" + key + "'");
            ws();
            if (key == "descr") {
                EDGEQ_RETURN_IF_ERROR(str(descr));
                have_descr = true;
            } else if (key == "fortran_order") {
                if (lit("True")) fortran = true;
                else if (lit("False")) fortran = false;
                else return err("fortran_order must be True or False");
                have_fortran = true;
            } else if (key == "shape") {
                EDGEQ_RETURN_IF_ERROR(tuple(shape));
                have_shape = true;
            } else {
                return err("unexpected key '" + key + "'");
            }
            ws();
            if (eat(',')) continue;
            ws();
            if (eat('}')) break;
            return err("expected ',' or '}'");
        }
        ws();
        if (pos_ != s_.size()) return err("unexpected text after the dict");
        if (!have_descr || !have_fortran || !have_shape) {
            return err("header lacks 'descr', 'fortran_order' or 'shape'");
        }
        return Status::Ok();
    }

private:
    Status err(const std::string& m) const {
        // Quoted without its padding and with control bytes as '?', so the message stays one line.
        std::string quoted(s_.substr(0, 120));
        while (!quoted.empty() && (quoted.back() == ' ' || quoted.back() == '\n')) quoted.pop_back();
        for (char& c : quoted)
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
        return Corrupt(src_ + ": .npy header: " + m + " at offset " + std::to_string(pos_) + " in \"" + quoted + "\"");
    }
    void ws() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
    }
    bool eat(char c) {
        if (pos_ < s_.size() && s_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    bool lit(std::string_view w) {
        if (s_.substr(pos_, w.size()) == w) {
            pos_ += w.size();
            return true;
        }
        return false;
    }
    Status str(std::string& out) {
        if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) return err("expected a quoted string");
        const char q = s_[pos_++];
        const size_t end = s_.find(q, pos_);
        if (end == std::string_view::npos) return err("unterminated string");
        out.assign(s_.substr(pos_, end - pos_));
        pos_ = end + 1;
        return Status::Ok();
    }
    Status tuple(Shape& shape) {
        shape.clear();
        if (!eat('(')) return err("shape must be a tuple");
        int64_t numel = 1;
        for (;;) {
            ws();
            if (eat(')')) break;
            if (pos_ < s_.size() && s_[pos_] == '-') return err("negative dimension in shape");
            int64_t v = 0;
            size_t digits = 0;
            while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
                if (v > (kMaxNpyNumel - 9) / 10) return err("dimension too large");
                v = v * 10 + (s_[pos_] - '0');
                ++pos_;
                ++digits;
            }
            if (!digits) return err("expected an integer dimension");
            if (pos_ < s_.size() && s_[pos_] == 'L') ++pos_;  // Python 2 long suffix
            if (v > 0 && numel > kMaxNpyNumel / v) return err("shape has more than 2^46 elements");
            numel *= v;
            shape.push_back(v);
            if (shape.size() > 64) return err("more than 64 dimensions");
            ws();
            if (eat(',')) continue;
            ws();
            if (eat(')')) break;
            return err("expected ',' or ')' in shape");
        }
        return Status::Ok();
    }

    std::string_view s_;
    const std::string& src_;
    size_t pos_ = 0;
};

uint32_t rd_le(const uint8_t* p, int n) {
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

}  // namespace

const char* npy_descr(DType t) {
    switch (t) {
        case DType::F16: return "<f2";
        case DType::F32: return "<f4";
        case DType::F64: return "<f8";
        case DType::I8: return "|i1";
        case DType::I16: return "<i2";
        case DType::I32: return "<i4";
        case DType::I64: return "<i8";
        case DType::U8: return "|u1";
        case DType::U16: return "<u2";
        case DType::U32: return "<u4";
        case DType::U64: return "<u8";
        case DType::BOOL: return "|b1";
        default: return "";
    }
}

Result<NpyView> view_npy(std::span<const uint8_t> b, const std::string& src) {
    if (b.size() < 10) return Corrupt(src + ": too short for a .npy file (" + std::to_string(b.size()) + " bytes)");
    if (std::memcmp(b.data(), kMagic, 6) != 0) return Corrupt(src + ": not a .npy file (bad magic)");
    const int major = b[6], minor = b[7];
    size_t hlen_size;
    if (major == 1) hlen_size = 2;
    else if (major == 2 || major == 3) hlen_size = 4;
    else return Unsupported(src + ": .npy version " + std::to_string(major) + "." + std::to_string(minor));
    if (b.size() < 8 + hlen_size) return Corrupt(src + ": truncated .npy header");
    const uint64_t hlen = rd_le(b.data() + 8, static_cast<int>(hlen_size));
    const uint64_t data_off = 8 + hlen_size + hlen;
    if (data_off > b.size()) {
        return Corrupt(src + ": .npy header length " + std::to_string(hlen) + " runs past the end of the file (" +
                       std::to_string(b.size()) + " bytes)");
    }
    const std::string_view header(reinterpret_cast<const char*>(b.data() + 8 + hlen_size), hlen);
    std::string descr;
    bool fortran = false;
    Shape shape;
    HeaderParser hp(header, src);
    EDGEQ_RETURN_IF_ERROR(hp.parse(descr, fortran, shape));

    if (descr.size() != 3) return Unsupported(src + ": .npy dtype '" + descr + "' is not supported");
    const char order = descr[0];
    const std::string code = descr.substr(1);
    std::optional<DType> dt;
    for (const auto& r : kDescr)
        if (code == r.code) dt = r.dtype;
    if (!dt) return Unsupported(src + ": .npy dtype '" + descr + "' is not supported (f2/f4/f8/i1-i8/u1-u8/b1)");
    const bool one_byte = code[1] == '1';
    if (order == '>' && !one_byte) {
        return Unsupported(src + ": .npy dtype '" + descr + "' is big-endian; only little-endian is supported");
    }
    if (order != '<' && order != '|' && order != '=' && order != '>') {
        return Corrupt(src + ": .npy dtype '" + descr + "' has an unknown byte-order character");
    }
    if (fortran && shape.size() > 1) {
        return Unsupported(src + ": .npy array is in Fortran (column-major) order; save it with C order "
                                 "(numpy.ascontiguousarray) first");
    }
    const size_t need = storage_bytes(*dt, shape_numel(shape));
    const uint64_t have = b.size() - data_off;
    if (have < need) {
        return Corrupt(src + ": .npy data is truncated: " + descr + " " + shape_str(shape) + " needs " +
                       std::to_string(need) + " bytes, the file has " + std::to_string(have));
    }
    if (have > need) {
        return Corrupt(src + ": .npy has " + std::to_string(have - need) + " bytes after the " + descr + " " +
                       shape_str(shape) + " data");
    }
    return NpyView{*dt, shape, b.subspan(static_cast<size_t>(data_off), need)};
}

Result<Tensor> parse_npy(std::span<const uint8_t> b, const std::string& src) {
    EDGEQ_ASSIGN_OR_RETURN(NpyView v, view_npy(b, src));
    return Tensor::from_bytes(v.dtype, v.shape, v.data);
}

Result<Tensor> read_npy(const std::string& path) {
    EDGEQ_ASSIGN_OR_RETURN(auto f, MappedFile::open(path));
    return parse_npy({f->data(), static_cast<size_t>(f->size())}, path);
}

Result<std::vector<uint8_t>> encode_npy(const Tensor& t) {
    const char* descr = npy_descr(t.dtype());
    if (!*descr) return Unsupported(std::string("no .npy type for ") + dtype_name(t.dtype()));
    std::string shape = "(";
    for (size_t i = 0; i < t.shape().size(); ++i) shape += (i ? ", " : "") + std::to_string(t.shape()[i]);
    shape += t.shape().size() == 1 ? ",)" : ")";  // as NumPy writes it: (), (3,), (2, 3)
    std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
    // version 1.0: 10-byte preamble; pad with spaces so preamble + header + '\n' is a multiple of 64
    size_t pre = 10;
    if (header.size() + 1 + 64 > 65535) pre = 12;
    const size_t total = ((pre + header.size() + 1 + 63) / 64) * 64;
    header.append(total - pre - header.size() - 1, ' ');
    header.push_back('\n');
    std::vector<uint8_t> out(kMagic, kMagic + 6);
    out.push_back(pre == 10 ? 1 : 2);
    out.push_back(0);
    const uint32_t hlen = static_cast<uint32_t>(header.size());
    for (size_t i = 0; i < pre - 8; ++i) out.push_back(static_cast<uint8_t>(hlen >> (8 * i)));
    out.insert(out.end(), header.begin(), header.end());
    const auto bytes = t.bytes();
    out.insert(out.end(), bytes.begin(), bytes.end());
    return out;
}

Status write_npy(const std::string& path, const Tensor& t) {
    auto enc = encode_npy(t);
    if (!enc.ok()) return Status(enc.status().code(), path + ": " + enc.status().message());
    EDGEQ_ASSIGN_OR_RETURN(auto f, AtomicFile::create(path));
    EDGEQ_RETURN_IF_ERROR(f->write(enc.value().data(), enc.value().size()));
    return f->commit();
}

}  // namespace edgeq::data
