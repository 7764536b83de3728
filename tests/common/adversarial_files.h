// Crafted hostile inputs for every reader (issue 10 item 2): GGUF, ONNX, llama2.c checkpoint + tokenizer, NPY,
// NPZ and IDX. Each case is a few bytes claiming something absurd (10^12 tensors, a shape whose element count
// overflows 64 bits, a negative dimension, a cycle, a tensor larger than the file, an inflated size deflate cannot
// produce). tests/formats/adversarial_test.cpp feeds them to the readers (a Status naming the problem);
// tests/e2e/adversarial_e2e_test.cpp to the CLI under a tight address-space limit (one line, non-zero exit).
#pragma once

#include <onnx/onnx_pb.h>
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace edgeq::test {

enum class BadKind { Gguf, Onnx, Llama2c, Npy, Npz, Idx };

struct BadFile {
    std::string name;       // file stem, also the test's label
    BadKind kind;
    std::string bytes;      // the file (for Llama2c: the checkpoint)
    std::string tokenizer;  // Llama2c only
    std::string needle;     // part of the expected error message
    bool gzip = false;      // Idx only: write through gzip
};

// Little-endian byte builder.
struct Bytes {
    std::string s;
    template <typename T>
    Bytes& put(T v) {
        char b[sizeof(T)];
        std::memcpy(b, &v, sizeof(T));
        s.append(b, sizeof(T));
        return *this;
    }
    Bytes& str(const std::string& v) {  // GGUF string: u64 length + bytes
        put<uint64_t>(v.size());
        s += v;
        return *this;
    }
    Bytes& raw(const std::string& v) {
        s += v;
        return *this;
    }
    Bytes& be32(uint32_t v) {
        for (int i = 3; i >= 0; --i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
        return *this;
    }
};

// ---- GGUF ---------------------------------------------------------------------------------------------------

inline Bytes gguf_header(uint64_t n_tensors, uint64_t n_kv) {
    Bytes b;
    b.raw("GGUF").put<uint32_t>(3).put<uint64_t>(n_tensors).put<uint64_t>(n_kv);
    return b;
}

// One tensor info (F32 unless type given) and `data` bytes of tensor data after the alignment padding.
inline std::string gguf_one_tensor(const std::vector<int64_t>& ne, uint64_t data = 64, uint32_t n_dims = 0,
                                   uint32_t type = 0) {
    Bytes b = gguf_header(1, 0);
    b.str("t").put<uint32_t>(n_dims ? n_dims : static_cast<uint32_t>(ne.size()));
    for (int64_t d : ne) b.put<int64_t>(d);
    b.put<uint32_t>(type).put<uint64_t>(0);
    while (b.s.size() % 32) b.s.push_back('\0');
    b.s.append(data, '\0');
    return b.s;
}

inline std::vector<BadFile> gguf_bad_files() {
    std::vector<BadFile> v;
    v.push_back({"gguf_1e12_tensors", BadKind::Gguf, gguf_header(1000000000000ull, 0).s, "",
                 "tensor count 1000000000000 cannot fit"});
    v.push_back({"gguf_1e12_kvs", BadKind::Gguf, gguf_header(0, 1000000000000ull).s, "", "kv count 1000000000000"});
    {
        Bytes b = gguf_header(0, 1);
        b.str("a").put<uint32_t>(9 /*ARRAY*/).put<uint32_t>(0 /*U8*/).put<uint64_t>(1000000000000ull);
        b.s.append(64, '\0');
        v.push_back({"gguf_1e12_array", BadKind::Gguf, b.s, "", "array of 1000000000000"});
    }
    {
        Bytes b = gguf_header(0, 1);
        b.str("s").put<uint32_t>(8 /*STRING*/).put<uint64_t>(uint64_t{1} << 63);
        v.push_back({"gguf_huge_string", BadKind::Gguf, b.s, "", "runs past end of file"});
    }
    v.push_back({"gguf_numel_overflow", BadKind::Gguf,
                 gguf_one_tensor({int64_t{1} << 32, int64_t{1} << 32, int64_t{1} << 32}), "", "overflows int64"});
    v.push_back({"gguf_bytes_overflow", BadKind::Gguf, gguf_one_tensor({int64_t{1} << 62}), "", "overflows 64 bits"});
    v.push_back({"gguf_negative_dim", BadKind::Gguf, gguf_one_tensor({4, -3}), "", "negative dimension ne[1] = -3"});
    v.push_back({"gguf_bad_ndims", BadKind::Gguf, gguf_one_tensor({4}, 64, 99), "", "n_dims = 99"});
    v.push_back({"gguf_past_eof", BadKind::Gguf, gguf_one_tensor({1 << 20, 1 << 10}), "", "past end of data"});
    return v;
}

// ---- ONNX ---------------------------------------------------------------------------------------------------

// Y = Relu(X) plus what `edit` adds; X, Y float [2].
template <typename F>
std::string onnx_model(F edit) {
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(13);
    auto* g = m.mutable_graph();
    g->set_name("adversarial");
    for (auto* vi : {g->add_input(), g->add_output()}) {
        vi->set_name(vi == &g->input(0) ? "X" : "Y");
        auto* tt = vi->mutable_type()->mutable_tensor_type();
        tt->set_elem_type(1);
        tt->mutable_shape()->add_dim()->set_dim_value(2);
    }
    auto* n = g->add_node();
    n->set_name("relu");
    n->set_op_type("Relu");
    n->add_input("X");
    n->add_output("Y");
    edit(m);
    return m.SerializeAsString();
}

inline onnx::TensorProto* onnx_initializer(onnx::ModelProto& m, std::vector<int64_t> dims) {
    auto* t = m.mutable_graph()->add_initializer();
    t->set_name("W");
    t->set_data_type(1);
    for (int64_t d : dims) t->add_dims(d);
    return t;
}

inline std::vector<BadFile> onnx_bad_files() {
    std::vector<BadFile> v;
    v.push_back({"onnx_numel_overflow", BadKind::Onnx, onnx_model([](onnx::ModelProto& m) {
                     onnx_initializer(m, {int64_t{1} << 32, int64_t{1} << 32, int64_t{1} << 32})->set_raw_data("abcd");
                 }),
                 "", "dims multiply to more than 2^46 elements"});
    v.push_back({"onnx_negative_dim", BadKind::Onnx,
                 onnx_model([](onnx::ModelProto& m) { onnx_initializer(m, {-1, 4})->set_raw_data("abcd"); }), "",
                 "negative dimension -1"});
    v.push_back({"onnx_raw_claims_more", BadKind::Onnx, onnx_model([](onnx::ModelProto& m) {
                     onnx_initializer(m, {1 << 20, 1 << 10})->set_raw_data(std::string(16, '\0'));
                 }),
                 "", "raw_data holds 16 bytes"});
    v.push_back({"onnx_typed_claims_more", BadKind::Onnx, onnx_model([](onnx::ModelProto& m) {
                     onnx_initializer(m, {1 << 30})->add_float_data(1.0f);
                 }),
                 "", "float_data holds 1 values"});
    v.push_back({"onnx_cycle", BadKind::Onnx, onnx_model([](onnx::ModelProto& m) {
                     auto* g = m.mutable_graph();
                     g->mutable_node(0)->set_input(0, "Z");  // Y = Relu(Z), Z = Relu(Y)
                     auto* n = g->add_node();
                     n->set_name("back");
                     n->set_op_type("Relu");
                     n->add_input("Y");
                     n->add_output("Z");
                 }),
                 "", "cycle"});
    v.push_back({"onnx_dangling", BadKind::Onnx,
                 onnx_model([](onnx::ModelProto& m) { m.mutable_graph()->mutable_node(0)->set_input(0, "nowhere"); }),
                 "", "input 'nowhere' is not a graph input, an initializer or any node's output"});
    v.push_back({"onnx_sparse_bomb", BadKind::Onnx, onnx_model([](onnx::ModelProto& m) {
                     auto* sp = m.mutable_graph()->add_sparse_initializer();
                     sp->add_dims(int64_t{1} << 23);
                     sp->add_dims(int64_t{1} << 23);  // 2^46 floats = 256 TiB dense, from one value
                     auto* val = sp->mutable_values();
                     val->set_name("S");
                     val->set_data_type(1);
                     val->add_dims(1);
                     val->add_float_data(1.0f);
                     auto* ix = sp->mutable_indices();
                     ix->set_data_type(7);
                     ix->add_dims(1);
                     ix->add_int64_data(5);
                 }),
                 "", "densifies to"});
    v.push_back({"onnx_garbage", BadKind::Onnx, std::string("\x0a\xff\xff\xff\xff\x0f", 6), "", "protobuf parse failed"});
    return v;
}

// ---- llama2.c -----------------------------------------------------------------------------------------------

// Header dim, hidden, layers, heads, kv_heads, vocab, seq_len; then `floats` zero floats.
inline std::string l2c_checkpoint(std::vector<int32_t> hdr, uint64_t floats) {
    Bytes b;
    for (int32_t h : hdr) b.put<int32_t>(h);
    b.s.append(floats * 4, '\0');
    return b.s;
}

// A consistent tiny model: dim 8, hidden 8, 1 layer, 2 heads, vocab 4, seq 4 (shared classifier).
inline std::string l2c_tiny() {
    const uint64_t D = 8, H = 8, L = 1, V = 4, S = 4, hs = 4, kv = 8;
    return l2c_checkpoint({8, 8, 1, 2, 2, 4, 4}, V * D + L * (D + D * D + 2 * kv * D + D * D + D + 3 * H * D) + D + S * hs);
}

inline std::string l2c_tokenizer(int32_t max_len, const std::vector<int32_t>& lens) {
    Bytes b;
    b.put<int32_t>(max_len);
    for (int32_t len : lens) {
        b.put<float>(0.0f).put<int32_t>(len);
        if (len > 0 && len < 64) b.s.append(static_cast<size_t>(len), 'a');
    }
    return b.s;
}

inline std::vector<BadFile> l2c_bad_files() {
    const std::string tok = l2c_tokenizer(8, {1, 1, 1, 1});
    std::vector<BadFile> v;
    v.push_back({"l2c_negative_dim", BadKind::Llama2c, l2c_checkpoint({-8, 8, 1, 2, 2, 4, 4}, 16), tok,
                 "dim -8 out of range"});
    v.push_back({"l2c_zero_layers", BadKind::Llama2c, l2c_checkpoint({8, 8, 0, 2, 2, 4, 4}, 16), tok,
                 "n_layers 0 out of range"});
    v.push_back({"l2c_zero_heads", BadKind::Llama2c, l2c_checkpoint({8, 8, 1, 0, 2, 4, 4}, 16), tok,
                 "n_heads 0 does not divide"});
    v.push_back({"l2c_vocab_int32_min", BadKind::Llama2c, l2c_checkpoint({8, 8, 1, 2, 2, INT32_MIN, 4}, 16), tok,
                 "vocab_size out of range"});  // found by fuzz_llama2c: negating INT32_MIN was undefined
    v.push_back({"l2c_claims_7b", BadKind::Llama2c, l2c_checkpoint({4096, 11008, 32, 32, 32, 32000, 2048}, 16), tok,
                 "implies"});
    v.push_back({"l2c_huge_token", BadKind::Llama2c, l2c_tiny(), l2c_tokenizer(8, {1, 2000000000}),
                 "token 1 has length 2000000000"});
    v.push_back({"l2c_huge_max_len", BadKind::Llama2c, l2c_tiny(), l2c_tokenizer(2000000000, {1, 1, 1, 1}),
                 "max_token_length 2000000000 out of range"});
    v.push_back({"l2c_missing_tokens", BadKind::Llama2c, l2c_tiny(), l2c_tokenizer(8, {1, 1}), "truncated"});
    return v;
}

// ---- NPY / NPZ / IDX ----------------------------------------------------------------------------------------

inline std::string npy(const std::string& dict, const std::string& data = "") {
    std::string h = dict;
    while ((10 + h.size() + 1) % 64) h.push_back(' ');
    h.push_back('\n');
    Bytes b;
    b.raw("\x93NUMPY").put<uint8_t>(1).put<uint8_t>(0).put<uint16_t>(static_cast<uint16_t>(h.size())).raw(h).raw(data);
    return b.s;
}

// A zip with one entry "x.npy": `data` stored (method 0) or claimed deflated (method 8) with the given sizes;
// local_off64 != 0 puts a ZIP64 extra field with that local-header offset in the central directory.
inline std::string zip_one(const std::string& data, uint16_t method, uint32_t usize, uint64_t local_off64 = 0,
                           uint16_t count = 1) {
    const std::string name = "x.npy";
    const uint32_t crc = static_cast<uint32_t>(
        crc32(0L, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
    Bytes b;
    b.put<uint32_t>(0x04034b50).put<uint16_t>(20).put<uint16_t>(0).put<uint16_t>(method).put<uint32_t>(0);
    b.put<uint32_t>(crc).put<uint32_t>(static_cast<uint32_t>(data.size())).put<uint32_t>(usize);
    b.put<uint16_t>(static_cast<uint16_t>(name.size())).put<uint16_t>(0).raw(name).raw(data);
    const uint32_t cd_off = static_cast<uint32_t>(b.s.size());
    Bytes extra;
    if (local_off64) extra.put<uint16_t>(1).put<uint16_t>(8).put<uint64_t>(local_off64);
    b.put<uint32_t>(0x02014b50).put<uint16_t>(20).put<uint16_t>(20).put<uint16_t>(0).put<uint16_t>(method);
    b.put<uint32_t>(0).put<uint32_t>(crc).put<uint32_t>(static_cast<uint32_t>(data.size())).put<uint32_t>(usize);
    b.put<uint16_t>(static_cast<uint16_t>(name.size())).put<uint16_t>(static_cast<uint16_t>(extra.s.size()));
    b.put<uint16_t>(0).put<uint16_t>(0).put<uint16_t>(0).put<uint32_t>(0);
    b.put<uint32_t>(local_off64 ? 0xFFFFFFFFu : 0u).raw(name).raw(extra.s);
    const uint32_t cd_size = static_cast<uint32_t>(b.s.size()) - cd_off;
    b.put<uint32_t>(0x06054b50).put<uint16_t>(0).put<uint16_t>(0).put<uint16_t>(count).put<uint16_t>(count);
    b.put<uint32_t>(cd_size).put<uint32_t>(cd_off).put<uint16_t>(0);
    return b.s;
}

inline std::string idx_header(std::vector<uint32_t> dims, uint8_t type = 0x08) {
    Bytes b;
    b.put<uint8_t>(0).put<uint8_t>(0).put<uint8_t>(type).put<uint8_t>(static_cast<uint8_t>(dims.size()));
    for (uint32_t d : dims) b.be32(d);
    return b.s;
}

inline std::vector<BadFile> data_bad_files() {
    std::vector<BadFile> v;
    v.push_back({"npy_numel_overflow", BadKind::Npy,
                 npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }"), "",
                 "shape has more than 2^46 elements"});
    v.push_back({"npy_negative_dim", BadKind::Npy, npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 3), }"),
                 "", "negative dimension"});
    v.push_back({"npy_claims_more", BadKind::Npy,
                 npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 100), }", "abcd"), "",
                 ".npy data is truncated"});
    {
        Bytes b;
        b.raw("\x93NUMPY").put<uint8_t>(2).put<uint8_t>(0).put<uint32_t>(0xFFFFFFF0u).raw("{}");
        v.push_back({"npy_header_past_eof", BadKind::Npy, b.s, "", "runs past the end of the file"});
    }
    const std::string small = npy("{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }", "abcd");
    v.push_back({"npz_inflate_bomb", BadKind::Npz, zip_one("0123456789", 8, 0xFFFFFFF0u), "",
                 "more than deflate can produce"});
    v.push_back({"npz_local_offset_wraps", BadKind::Npz,
                 zip_one(small, 0, static_cast<uint32_t>(small.size()), 0xFFFFFFFFFFFFFFFEull), "",
                 "no zip local header at offset 18446744073709551614"});
    v.push_back({"npz_1e4_entries", BadKind::Npz, zip_one(small, 0, static_cast<uint32_t>(small.size()), 0, 10000), "",
                 "zip entry count 10000 does not fit"});
    v.push_back({"idx_claims_1e12", BadKind::Idx, idx_header({1000000, 1000000}) + "abcd", "",
                 "IDX data truncated"});
    v.push_back({"idx_gz_claims_1e12", BadKind::Idx, idx_header({1000000, 1000000}) + std::string(4096, 'x'), "",
                 "IDX data truncated", true});
    v.push_back({"idx_numel_overflow", BadKind::Idx, idx_header({0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}), "",
                 "more than 2^40"});
    v.push_back({"idx_zero_dims", BadKind::Idx, idx_header({}), "", "0 dimensions"});
    return v;
}

inline std::vector<BadFile> all_bad_files() {
    std::vector<BadFile> v;
    for (auto* f : {&gguf_bad_files, &onnx_bad_files, &l2c_bad_files, &data_bad_files}) {
        auto part = f();
        v.insert(v.end(), part.begin(), part.end());
    }
    return v;
}

inline const char* bad_file_ext(BadKind k) {
    switch (k) {
        case BadKind::Gguf: return ".gguf";
        case BadKind::Onnx: return ".onnx";
        case BadKind::Llama2c: return ".bin";
        case BadKind::Npy: return ".npy";
        case BadKind::Npz: return ".npz";
        case BadKind::Idx: return ".idx";
    }
    return "";
}

// Writes the case into dir; returns the main file (the tokenizer of a Llama2c case is "<name>.tok.bin").
inline std::filesystem::path write_bad_file(const BadFile& b, const std::filesystem::path& dir) {
    const auto p = dir / (b.name + bad_file_ext(b.kind) + (b.gzip ? ".gz" : ""));
    if (b.gzip) {
        gzFile g = gzopen(p.c_str(), "wb");
        gzwrite(g, b.bytes.data(), static_cast<unsigned>(b.bytes.size()));
        gzclose(g);
    } else {
        std::ofstream(p, std::ios::binary).write(b.bytes.data(), static_cast<std::streamsize>(b.bytes.size()));
    }
    if (b.kind == BadKind::Llama2c) {
        std::ofstream(dir / (b.name + ".tok.bin"), std::ios::binary)
            .write(b.tokenizer.data(), static_cast<std::streamsize>(b.tokenizer.size()));
    }
    return p;
}

}  // namespace edgeq::test
