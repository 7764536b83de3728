// llama_quantize: quantizes a GGUF with the real llama.cpp (the prebuilt libllama.v0.5.0.so of npm
// @node-llama-cpp/linux-x64@3.22.1, commit 0ad4a86) through dlopen, i.e. what `llama-quantize` does, and
// compares two GGUF files tensor by tensor with its own small GGUF reader (no edgeq code involved).
//
// Usage:
//   llama_quantize --lib DIR [--threads N] [--pure] [--output-tensor-type T] [--token-embedding-type T]
//                  [--tensor-type REGEX=T]... [--imatrix FILE] [--allow-requantize] [--verbose]
//                  IN.gguf OUT.gguf FTYPE
//       calls llama_model_quantize(IN, OUT, &params) with params = llama_model_quantize_default_params()
//       plus ftype, nthread and the options given. FTYPE: F32 F16 BF16 Q4_0 Q4_1 Q8_0 Q5_0 Q5_1 Q2_K Q3_K_S
//       Q3_K_M Q3_K_L Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K IQ4_NL TQ1_0 TQ2_0; T: a ggml type name (Q8_0, q6_K,
//       ...). --imatrix FILE (a GGUF imatrix) is turned into params.imatrix and params.kv_overrides the way
//       llama-quantize --imatrix does it (see load_imatrix). Exit: 0 written and checked; 3 llama.cpp
//       refused (llama_model_quantize returned non-zero, its error line is printed); 1 OUT does not show
//       what was asked (see the post-checks below); 2 usage/ABI error.
//   llama_quantize --compare [--lib DIR] [--labels A,B] A.gguf B.gguf
//       per tensor: name, shape, type, data bytes; metadata key by key; the whole file byte by byte.
//       Prints one line per difference and a last line
//         SUMMARY tensors=<n> types=equal|DIFFER data=identical|<n>-differ metadata=identical|differs
//                 file=identical|differs
//       (data: how many tensors' bytes differ, those of a different type included).
//       Exit: 0 byte-identical files; 3 same tensor types but different bytes; 1 tensor types (or names,
//       shapes) differ; 2 usage or read error. With --lib, types are named by ggml_type_name().
//   llama_quantize --make-imatrix MODEL.gguf [--lib DIR] OUT.gguf
//       writes a deterministic synthetic imatrix GGUF for MODEL's matrices (see make_imatrix).
//
// ABI: no llama.cpp header is used. llama_model_quantize_params of this build (64 bytes) is declared below:
// the llama.h layout of the C-struct era (imatrix / kv_overrides / tt_overrides as C arrays) plus a
// trailing size_t max_buf_size, all read off the disassembly of this exact binary:
//   llama_model_quantize_default_params: stores 0 @0x00 (nthread), 7 @0x04 (ftype Q8_0), 43 @0x08 and
//     43 @0x0c (GGML_TYPE_COUNT: output_tensor_type, token_embedding_type), bytes 0,1,0,0,0,0 @0x10..0x15
//     (allow_requantize, quantize_output_tensor, only_copy, pure, keep_split, dry_run), 32 zero bytes
//     @0x18..0x37 (four pointers), 0x200000000 = 8 GiB @0x38 (max_buf_size);
//   llama_quant_init (quantize_state_impl's constructor): walks params+0x28 as {const char* pattern;
//     ggml_type type;} records of 16 bytes until pattern == NULL, compiling each pattern with std::regex;
//   llama_model_quantize_impl: reads params+0x18 as {const char* name; const float* data; size_t size;}
//     records until name == NULL (size = number of floats, memcpy'd as size*4 bytes); walks params+0x20 as
//     llama_model_kv_override records of 264 bytes (tag @0, key[128] @4, value @0x88) until key[0] == 0,
//     writing tag INT with gguf_set_val_u32; +0x30 prune_layers, +0x38 max_buf_size (0 -> 8 GiB),
//     +0x12 only_copy, +0x14 keep_split, +0x15 dry_run.
// Every run checks the layout three ways and stops on any failure:
//   1. static_assert on sizeof and every offset;
//   2. the library's llama_model_quantize_default_params() must hold exactly the values above, ggml's
//      ggml_type_name() must give the expected name for every ggml type id used, and llama.cpp's own
//      llama_ftype_name() / llama_ftype_get_default_type() must agree with our llama_ftype id table;
//   3. after quantizing, OUT (read back) must carry general.file_type = the ftype id, output.weight /
//      token_embd.weight must have the --output-tensor-type / --token-embedding-type asked for, --pure must
//      give the base type to every converted tensor whose rows fit it, each --tensor-type must have hit,
//      and with --imatrix the quantize.imatrix.* keys must be there and llama.cpp's log must show it found
//      every imatrix entry with the right size.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "llama_dl.h"

namespace {

using namespace llama_dl;

// ---- llama.h / ggml.h declarations (this build) -------------------------------------------------
struct llama_model_imatrix_data {
    const char* name;
    const float* data;
    size_t size;  // number of floats
};
static_assert(sizeof(llama_model_imatrix_data) == 24);

struct llama_model_tensor_override {
    const char* pattern;  // std::regex, searched in the tensor name; NULL ends the array
    int32_t type;         // enum ggml_type
};
static_assert(sizeof(llama_model_tensor_override) == 16);
static_assert(offsetof(llama_model_tensor_override, type) == 8);

// enum llama_model_kv_override_type: INT 0, FLOAT 1, BOOL 2, STR 3. An INT override is written to the
// output as u32 (llama_model_quantize_impl calls gguf_set_val_u32 with |val_i64|).
struct llama_model_kv_override {
    int32_t tag;
    char key[128];  // "" ends the array
    union {
        int64_t val_i64;
        double val_f64;
        bool val_bool;
        char val_str[128];
    };
};
static_assert(sizeof(llama_model_kv_override) == 264);
static_assert(offsetof(llama_model_kv_override, key) == 4);
static_assert(offsetof(llama_model_kv_override, val_i64) == 0x88);
constexpr int32_t kKvOverrideInt = 0, kKvOverrideStr = 3;

struct llama_model_quantize_params {
    int32_t nthread;               // <= 0: std::thread::hardware_concurrency()
    int32_t ftype;                 // enum llama_ftype
    int32_t output_tensor_type;    // enum ggml_type; GGML_TYPE_COUNT = not set
    int32_t token_embedding_type;  // enum ggml_type; GGML_TYPE_COUNT = not set
    bool allow_requantize;
    bool quantize_output_tensor;
    bool only_copy;
    bool pure;
    bool keep_split;
    bool dry_run;
    const llama_model_imatrix_data* imatrix;          // NULL-name-terminated array
    const llama_model_kv_override* kv_overrides;      // empty-key-terminated array
    const llama_model_tensor_override* tt_overrides;  // NULL-pattern-terminated array
    const int32_t* prune_layers;
    size_t max_buf_size;  // 0: 8 GiB
};
static_assert(sizeof(llama_model_quantize_params) == 64);
static_assert(offsetof(llama_model_quantize_params, ftype) == 0x04);
static_assert(offsetof(llama_model_quantize_params, output_tensor_type) == 0x08);
static_assert(offsetof(llama_model_quantize_params, token_embedding_type) == 0x0c);
static_assert(offsetof(llama_model_quantize_params, allow_requantize) == 0x10);
static_assert(offsetof(llama_model_quantize_params, quantize_output_tensor) == 0x11);
static_assert(offsetof(llama_model_quantize_params, only_copy) == 0x12);
static_assert(offsetof(llama_model_quantize_params, pure) == 0x13);
static_assert(offsetof(llama_model_quantize_params, keep_split) == 0x14);
static_assert(offsetof(llama_model_quantize_params, dry_run) == 0x15);
static_assert(offsetof(llama_model_quantize_params, imatrix) == 0x18);
static_assert(offsetof(llama_model_quantize_params, kv_overrides) == 0x20);
static_assert(offsetof(llama_model_quantize_params, tt_overrides) == 0x28);
static_assert(offsetof(llama_model_quantize_params, prune_layers) == 0x30);
static_assert(offsetof(llama_model_quantize_params, max_buf_size) == 0x38);

constexpr int32_t kGgmlTypeCount = 43;             // this build's GGML_TYPE_COUNT
constexpr size_t kMaxBufSizeDefault = 8ull << 30;  // LLAMA_QUANT_MAX_BUF_SIZE
constexpr uint32_t kFtypeGuessed = 1024;           // LLAMA_FTYPE_GUESSED

// ggml type ids this driver relies on, with the name ggml_type_name() must give for each.
struct GgmlTypeId {
    int32_t id;
    const char* name;
};
constexpr GgmlTypeId kGgmlTypes[] = {
    {0, "f32"},   {1, "f16"},   {2, "q4_0"},    {3, "q4_1"},  {6, "q5_0"},   {7, "q5_1"},
    {8, "q8_0"},  {9, "q8_1"},  {10, "q2_K"},   {11, "q3_K"}, {12, "q4_K"},  {13, "q5_K"},
    {14, "q6_K"}, {15, "q8_K"}, {20, "iq4_nl"}, {30, "bf16"}, {34, "tq1_0"}, {35, "tq2_0"},
};

// llama_ftype ids (src/quant/recipe/llama_mix.cpp, llama.h), llama_ftype_name() and the ggml base type
// llama_ftype_get_default_type() must give for each.
struct Ftype {
    const char* name;
    int32_t id;
    const char* llama_name;
    int32_t base;
};
constexpr Ftype kFtypes[] = {
    {"F32", 0, "all F32", 0},
    {"F16", 1, "F16", 1},
    {"BF16", 32, "BF16", 30},
    {"Q4_0", 2, "Q4_0", 2},
    {"Q4_1", 3, "Q4_1", 3},
    {"Q8_0", 7, "Q8_0", 8},
    {"Q5_0", 8, "Q5_0", 6},
    {"Q5_1", 9, "Q5_1", 7},
    {"Q2_K", 10, "Q2_K - Medium", 10},
    {"Q3_K_S", 11, "Q3_K - Small", 11},
    {"Q3_K_M", 12, "Q3_K - Medium", 11},
    {"Q3_K_L", 13, "Q3_K - Large", 11},
    {"Q4_K_S", 14, "Q4_K - Small", 12},
    {"Q4_K_M", 15, "Q4_K - Medium", 12},
    {"Q5_K_S", 16, "Q5_K - Small", 13},
    {"Q5_K_M", 17, "Q5_K - Medium", 13},
    {"Q6_K", 18, "Q6_K", 14},
    {"IQ4_NL", 25, "IQ4_NL - 4.5 bpw", 20},
    {"TQ1_0", 36, "TQ1_0 - 1.69 bpw ternary", 34},
    {"TQ2_0", 37, "TQ2_0 - 2.06 bpw ternary", 35},
};

// ---- the functions used ----------------------------------------------------------------------------
struct Ggml {
    const char* (*ggml_type_name)(int32_t);
    int64_t (*ggml_blck_size)(int32_t);
    size_t (*ggml_type_size)(int32_t);
};

struct Api {
    void (*llama_log_set)(ggml_log_callback, void*);
    void (*llama_backend_init)();
    void (*llama_backend_free)();
    llama_model_quantize_params (*llama_model_quantize_default_params)();
    uint32_t (*llama_model_quantize)(const char*, const char*, const llama_model_quantize_params*);
    const char* (*llama_ftype_name)(int32_t);
    int32_t (*llama_ftype_get_default_type)(int32_t);  // C++ symbol: ggml_type (llama_ftype)
};

Ggml bind_ggml(void* ggml_base) {
    Ggml g{};
    bind(ggml_base, "ggml_type_name", g.ggml_type_name);
    bind(ggml_base, "ggml_blck_size", g.ggml_blck_size);
    bind(ggml_base, "ggml_type_size", g.ggml_type_size);
    for (const auto& t : kGgmlTypes) {
        const char* n = g.ggml_type_name(t.id);
        if (!n || std::strcmp(n, t.name) != 0)
            die("ggml type id check failed: ggml_type_name(%d) = \"%s\", expected \"%s\"", t.id,
                n ? n : "(null)", t.name);
    }
    return g;
}

// Case-insensitive ggml type name -> id, over the ids this build has (0 .. GGML_TYPE_COUNT-1).
int32_t ggml_type_from_name(const Ggml& g, const std::string& name) {
    auto lower = [](std::string s) {
        for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return s;
    };
    for (int32_t i = 0; i < kGgmlTypeCount; ++i) {
        const char* n = g.ggml_type_name(i);
        if (n && lower(n) == lower(name)) return i;
    }
    die("unknown ggml type \"%s\"", name.c_str());
}

std::string type_name(const Ggml* g, int32_t t) {
    if (g && t >= 0 && t < kGgmlTypeCount) return g->ggml_type_name(t);
    return "type" + std::to_string(t);
}

// ggml's block and type sizes of the types edgeq writes, for --compare / --make-imatrix without --lib.
struct TypeSize {
    int32_t id;
    int64_t blck;
    size_t size;
};
constexpr TypeSize kBuiltinSizes[] = {{0, 1, 4},      {1, 1, 2},      {30, 1, 2},     {2, 32, 18},
                                      {3, 32, 20},    {6, 32, 22},    {7, 32, 24},    {8, 32, 34},
                                      {20, 32, 18},   {10, 256, 84},  {11, 256, 110}, {12, 256, 144},
                                      {13, 256, 176}, {14, 256, 210}, {34, 256, 54},  {35, 256, 66}};
Ggml builtin_ggml() {
    Ggml g{};
    g.ggml_type_name = [](int32_t) -> const char* { return nullptr; };
    g.ggml_blck_size = [](int32_t t) -> int64_t {
        for (const auto& e : kBuiltinSizes)
            if (e.id == t) return e.blck;
        return 0;
    };
    g.ggml_type_size = [](int32_t t) -> size_t {
        for (const auto& e : kBuiltinSizes)
            if (e.id == t) return e.size;
        return 0;
    };
    return g;
}

// ---- a minimal GGUF reader (independent of edgeq's) ---------------------------------------------------
struct KV {
    std::string key;
    uint32_t type = 0;
    size_t begin = 0, end = 0;  // value bytes [begin, end) in the file
};
struct TensorInfo {
    std::string name;
    std::vector<int64_t> ne;
    int32_t type = 0;
    uint64_t offset = 0;  // relative to the data section
    size_t nbytes = 0;
};
struct Gguf {
    std::string path;
    std::vector<uint8_t> bytes;
    uint32_t version = 0;
    std::vector<KV> kvs;
    std::vector<TensorInfo> tensors;
    size_t meta_end = 0;  // end of the tensor infos
    size_t data_begin = 0;
    uint32_t alignment = 32;

    const KV* find(const std::string& k) const {
        for (const auto& kv : kvs)
            if (kv.key == k) return &kv;
        return nullptr;
    }
    const TensorInfo* tensor(const std::string& n) const {
        for (const auto& t : tensors)
            if (t.name == n) return &t;
        return nullptr;
    }
    std::optional<uint32_t> u32(const std::string& k) const {
        const KV* kv = find(k);
        if (!kv || kv->type != 4) return std::nullopt;
        uint32_t v;
        std::memcpy(&v, &bytes[kv->begin], 4);
        return v;
    }
    // An array of strings (GGUF type 9 of type 8); nullopt if the key is missing or of another type.
    std::optional<std::vector<std::string>> str_array(const std::string& k) const {
        const KV* kv = find(k);
        if (!kv || kv->type != 9) return std::nullopt;
        size_t p = kv->begin;
        uint32_t et;
        uint64_t n;
        std::memcpy(&et, &bytes[p], 4);
        std::memcpy(&n, &bytes[p + 4], 8);
        p += 12;
        if (et != 8) return std::nullopt;
        std::vector<std::string> v;
        for (uint64_t i = 0; i < n; ++i) {
            uint64_t len;
            std::memcpy(&len, &bytes[p], 8);
            v.emplace_back(reinterpret_cast<const char*>(&bytes[p + 8]), len);
            p += 8 + len;
        }
        return v;
    }
    std::vector<float> f32_data(const TensorInfo& t) const {
        if (t.type != 0) die("%s: tensor %s is not F32", path.c_str(), t.name.c_str());
        std::vector<float> v(t.nbytes / 4);
        std::memcpy(v.data(), &bytes[data_begin + t.offset], t.nbytes);
        return v;
    }
};

struct Reader {
    const std::vector<uint8_t>& b;
    const std::string& path;
    size_t pos = 0;
    void need(size_t n) const {
        if (pos + n > b.size() || pos + n < pos) die("%s: truncated GGUF at byte %zu", path.c_str(), pos);
    }
    template <class T>
    T get() {
        need(sizeof(T));
        T v;
        std::memcpy(&v, &b[pos], sizeof(T));
        pos += sizeof(T);
        return v;
    }
    std::string str() {
        const auto n = get<uint64_t>();
        need(n);
        std::string s(reinterpret_cast<const char*>(&b[pos]), n);
        pos += n;
        return s;
    }
    void skip_value(uint32_t type, int depth = 0) {
        static constexpr size_t kSize[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
        if (type == 8) {
            const auto n = get<uint64_t>();
            need(n);
            pos += n;
        } else if (type == 9) {
            if (depth > 4) die("%s: nested arrays too deep", path.c_str());
            const auto et = get<uint32_t>();
            const auto n = get<uint64_t>();
            if (et <= 12 && et != 8 && et != 9) {
                if (n > b.size()) die("%s: bad array length", path.c_str());
                need(n * kSize[et]);
                pos += n * kSize[et];
            } else {
                for (uint64_t i = 0; i < n; ++i) skip_value(et, depth + 1);
            }
        } else if (type <= 12) {
            need(kSize[type]);
            pos += kSize[type];
        } else {
            die("%s: unknown GGUF value type %u at byte %zu", path.c_str(), type, pos);
        }
    }
};

Gguf read_gguf(const std::string& path, const Ggml& g) {
    Gguf f;
    f.path = path;
    std::ifstream in(path, std::ios::binary);
    if (!in) die("cannot open %s", path.c_str());
    f.bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    Reader r{f.bytes, path};
    if (r.get<uint32_t>() != 0x46554747u) die("%s: not a GGUF file", path.c_str());
    f.version = r.get<uint32_t>();
    if (f.version != 3) die("%s: GGUF version %u (expected 3)", path.c_str(), f.version);
    const auto n_tensors = r.get<uint64_t>();
    const auto n_kv = r.get<uint64_t>();
    if (n_tensors > (1u << 20) || n_kv > (1u << 20)) die("%s: implausible counts", path.c_str());
    for (uint64_t i = 0; i < n_kv; ++i) {
        KV kv;
        kv.key = r.str();
        kv.type = r.get<uint32_t>();
        kv.begin = r.pos;
        r.skip_value(kv.type);
        kv.end = r.pos;
        f.kvs.push_back(kv);
    }
    if (auto a = f.u32("general.alignment")) f.alignment = *a;
    if (f.alignment == 0 || (f.alignment & (f.alignment - 1))) die("%s: bad alignment", path.c_str());
    for (uint64_t i = 0; i < n_tensors; ++i) {
        TensorInfo t;
        t.name = r.str();
        const auto nd = r.get<uint32_t>();
        if (nd == 0 || nd > 4) die("%s: tensor %s has %u dims", path.c_str(), t.name.c_str(), nd);
        for (uint32_t d = 0; d < nd; ++d) t.ne.push_back(r.get<int64_t>());
        t.type = static_cast<int32_t>(r.get<uint32_t>());
        t.offset = r.get<uint64_t>();
        if (t.type < 0 || t.type >= kGgmlTypeCount || g.ggml_blck_size(t.type) <= 0)
            die("%s: tensor %s has unknown type %d", path.c_str(), t.name.c_str(), t.type);
        int64_t rows = 1;
        for (size_t d = 1; d < t.ne.size(); ++d) rows *= t.ne[d];
        const int64_t bs = g.ggml_blck_size(t.type);
        if (t.ne[0] % bs)
            die("%s: tensor %s: ne0 %lld not a multiple of block %lld", path.c_str(), t.name.c_str(),
                static_cast<long long>(t.ne[0]), static_cast<long long>(bs));
        t.nbytes = static_cast<size_t>(rows) * static_cast<size_t>(t.ne[0] / bs) * g.ggml_type_size(t.type);
        f.tensors.push_back(t);
    }
    f.meta_end = r.pos;
    f.data_begin = (r.pos + f.alignment - 1) / f.alignment * f.alignment;
    for (const auto& t : f.tensors)
        if (f.data_begin + t.offset + t.nbytes > f.bytes.size())
            die("%s: tensor %s runs past the end of the file", path.c_str(), t.name.c_str());
    return f;
}

// ---- importance matrix ---------------------------------------------------------------------------------
// What llama-quantize's --imatrix does before calling llama_model_quantize (tools/quantize/quantize.cpp of
// the C-struct API): load a GGUF imatrix (<w>.in_sum2 [ne0, n_mat], <w>.counts [1, n_mat], imatrix.datasets
// and imatrix.chunk_count required), pass value = in_sum2 / count per matrix (1 where count is 0) for every
// w, and add the kv overrides quantize.imatrix.file (STR, at most 127 chars), .dataset (STR, first dataset,
// if any), .entries_count (INT) and .chunks_count (INT, only if > 0).
struct Imatrix {
    std::vector<std::string> names;
    std::vector<std::vector<float>> values;
    std::vector<llama_model_imatrix_data> data;  // NULL-name-terminated
    std::vector<llama_model_kv_override> kv;     // empty-key-terminated
};

void load_imatrix(const std::string& path, const Ggml& g, Imatrix& im) {
    const Gguf f = read_gguf(path, g);
    const auto datasets = f.str_array("imatrix.datasets");
    const auto chunks = f.u32("imatrix.chunk_count");
    if (!datasets || !chunks)
        die("%s: missing imatrix metadata (imatrix.datasets, imatrix.chunk_count)", path.c_str());
    const std::string kSums = ".in_sum2";
    for (const auto& t : f.tensors) {
        if (t.name.size() <= kSums.size() ||
            t.name.compare(t.name.size() - kSums.size(), kSums.size(), kSums) != 0)
            continue;
        const std::string w = t.name.substr(0, t.name.size() - kSums.size());
        const TensorInfo* c = f.tensor(w + ".counts");
        if (!c) die("%s: %s has no %s.counts", path.c_str(), t.name.c_str(), w.c_str());
        const std::vector<float> sums = f.f32_data(t), counts = f.f32_data(*c);
        if (counts.empty() || sums.size() % counts.size())
            die("%s: bad shapes for %s", path.c_str(), w.c_str());
        const size_t ne0 = sums.size() / counts.size();
        std::vector<float> e(sums.size());
        for (size_t j = 0; j < counts.size(); ++j)
            for (size_t i = 0; i < ne0; ++i)
                e[j * ne0 + i] = counts[j] > 0.0f ? sums[j * ne0 + i] / counts[j] : 1.0f;
        im.names.push_back(w);
        im.values.push_back(std::move(e));
    }
    if (im.names.empty()) die("%s: no <weight>.in_sum2 tensors", path.c_str());
    for (size_t i = 0; i < im.names.size(); ++i)
        im.data.push_back({im.names[i].c_str(), im.values[i].data(), im.values[i].size()});
    im.data.push_back({nullptr, nullptr, 0});

    auto kv_str = [&](const char* key, const std::string& v) {
        llama_model_kv_override o{};
        o.tag = kKvOverrideStr;
        std::strncpy(o.key, key, sizeof o.key - 1);
        std::strncpy(o.val_str, v.c_str(), 127);
        o.val_str[127] = '\0';
        im.kv.push_back(o);
    };
    auto kv_int = [&](const char* key, int64_t v) {
        llama_model_kv_override o{};
        o.tag = kKvOverrideInt;
        std::strncpy(o.key, key, sizeof o.key - 1);
        o.val_i64 = v;
        im.kv.push_back(o);
    };
    kv_str("quantize.imatrix.file", path);
    if (!datasets->empty()) kv_str("quantize.imatrix.dataset", (*datasets)[0]);
    kv_int("quantize.imatrix.entries_count", static_cast<int64_t>(im.names.size()));
    if (static_cast<int32_t>(*chunks) > 0)
        kv_int("quantize.imatrix.chunks_count", static_cast<int32_t>(*chunks));
    im.kv.push_back(llama_model_kv_override{});  // key "" ends the array
}

// --make-imatrix MODEL OUT: a synthetic imatrix GGUF in llama-imatrix's layout for MODEL's matrices (every
// >= 2-D *weight but token_embd, i.e. what llama-imatrix collects from mat-muls): in_sum2 = count * v with v
// in [0.05, 4) from a fixed hash plus two loud channels per row; counts = chunks * chunk_size; one matrix
// (the last ffn_up) gets count 0, which llama-quantize turns into all-ones.
void make_imatrix(const std::string& model_path, const std::string& out_path, const Ggml& g) {
    const Gguf m = read_gguf(model_path, g);
    constexpr uint32_t kChunks = 10, kChunkSize = 256;
    const std::string dataset = "edgeq-interop-synthetic";
    std::string last_up;
    for (const auto& t : m.tensors)
        if (t.name.find("ffn_up") != std::string::npos) last_up = t.name;
    struct T {
        std::string name;
        std::vector<int64_t> ne;
        std::vector<float> v;
    };
    std::vector<T> ts;
    uint32_t salt = 0;
    for (const auto& t : m.tensors) {
        if (t.ne.size() < 2 || t.name == "token_embd.weight" || t.name.size() < 6 ||
            t.name.compare(t.name.size() - 6, 6, "weight") != 0)
            continue;
        const int64_t ne0 = t.ne[0], nmat = t.ne.size() > 2 ? t.ne[2] : 1;
        const float count = t.name == last_up ? 0.0f : static_cast<float>(kChunks * kChunkSize);
        T s{t.name + ".in_sum2", {ne0, nmat}, std::vector<float>(static_cast<size_t>(ne0 * nmat))};
        ++salt;
        for (size_t j = 0; j < s.v.size(); ++j) {
            const uint32_t h = static_cast<uint32_t>((j + 977u * salt) * 2654435761u);
            float v = 0.05f + static_cast<float>(h % 3950u) / 1000.0f;
            if (j % static_cast<size_t>(ne0) == 3 ||
                j % static_cast<size_t>(ne0) == static_cast<size_t>(ne0 / 2) + 1)
                v = 400.0f;
            s.v[j] = (count > 0 ? count : 1.0f) * v;
        }
        ts.push_back(std::move(s));
        ts.push_back({t.name + ".counts", {1, nmat}, std::vector<float>(static_cast<size_t>(nmat), count)});
    }
    std::vector<uint8_t> b;
    auto put = [&](const void* p, size_t n) {
        const auto* c = static_cast<const uint8_t*>(p);
        b.insert(b.end(), c, c + n);
    };
    auto u32 = [&](uint32_t v) { put(&v, 4); };
    auto u64 = [&](uint64_t v) { put(&v, 8); };
    auto str = [&](const std::string& s) {
        u64(s.size());
        put(s.data(), s.size());
    };
    put("GGUF", 4);
    u32(3);
    u64(ts.size());
    u64(4);
    str("general.type");
    u32(8);
    str("imatrix");
    str("imatrix.datasets");
    u32(9);
    u32(8);
    u64(1);
    str(dataset);
    str("imatrix.chunk_count");
    u32(4);
    u32(kChunks);
    str("imatrix.chunk_size");
    u32(4);
    u32(kChunkSize);
    uint64_t off = 0;
    for (const auto& t : ts) {
        str(t.name);
        u32(static_cast<uint32_t>(t.ne.size()));
        for (int64_t n : t.ne) u64(static_cast<uint64_t>(n));
        u32(0);  // F32
        u64(off);
        off += (t.v.size() * 4 + 31) / 32 * 32;
    }
    b.resize((b.size() + 31) / 32 * 32, 0);
    for (const auto& t : ts) {
        put(t.v.data(), t.v.size() * 4);
        b.resize((b.size() + 31) / 32 * 32, 0);
    }
    std::ofstream out(out_path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    if (!out) die("cannot write %s", out_path.c_str());
    std::printf("OK %s: %zu matrices, dataset \"%s\", %u chunks of %u\n", out_path.c_str(), ts.size() / 2,
                dataset.c_str(), kChunks, kChunkSize);
}

std::string shape_str(const std::vector<int64_t>& ne) {
    std::string s;
    for (size_t i = 0; i < ne.size(); ++i) s += (i ? "x" : "") + std::to_string(ne[i]);
    return s;
}

// "<gguf type> <value>" of a scalar or string value; arrays as "array[n]".
std::string kv_str(const Gguf& f, const KV& kv) {
    static const char* kNames[] = {"u8",   "i8",  "u16",   "i16", "u32", "i32", "f32",
                                   "bool", "str", "array", "u64", "i64", "f64"};
    const uint8_t* p = &f.bytes[kv.begin];
    std::string t = kv.type <= 12 ? kNames[kv.type] : "?";
    auto get = [&](auto v) {
        std::memcpy(&v, p, sizeof v);
        return v;
    };
    switch (kv.type) {
        case 0:
            return t + " " + std::to_string(get(uint8_t{}));
        case 1:
            return t + " " + std::to_string(get(int8_t{}));
        case 2:
            return t + " " + std::to_string(get(uint16_t{}));
        case 3:
            return t + " " + std::to_string(get(int16_t{}));
        case 4:
            return t + " " + std::to_string(get(uint32_t{}));
        case 5:
            return t + " " + std::to_string(get(int32_t{}));
        case 6:
            return t + " " + std::to_string(get(float{}));
        case 7:
            return t + " " + (get(uint8_t{}) ? "true" : "false");
        case 8:
            return t + " \"" + std::string(reinterpret_cast<const char*>(p + 8), get(uint64_t{})) + "\"";
        case 9: {
            uint64_t n;
            std::memcpy(&n, p + 4, 8);
            return t + "[" + std::to_string(n) + "]";
        }
        case 10:
            return t + " " + std::to_string(get(uint64_t{}));
        case 11:
            return t + " " + std::to_string(get(int64_t{}));
        case 12:
            return t + " " + std::to_string(get(double{}));
        default:
            return t;
    }
}

// ---- --compare -----------------------------------------------------------------------------------------
int compare(const Ggml& g, const Ggml* names, const std::string& pa, const std::string& pb,
            const std::string& la, const std::string& lb) {
    const Gguf a = read_gguf(pa, g), b = read_gguf(pb, g);
    bool types_equal = true;

    // Tensors: the same names in the same order, shapes, types.
    if (a.tensors.size() != b.tensors.size()) {
        std::printf("DIFF tensor count: %s %zu, %s %zu\n", la.c_str(), a.tensors.size(), lb.c_str(),
                    b.tensors.size());
        types_equal = false;
    }
    for (const auto& ta : a.tensors)
        if (!b.tensor(ta.name)) {
            std::printf("DIFF tensor %s only in %s\n", ta.name.c_str(), la.c_str());
            types_equal = false;
        }
    for (const auto& tb : b.tensors)
        if (!a.tensor(tb.name)) {
            std::printf("DIFF tensor %s only in %s\n", tb.name.c_str(), lb.c_str());
            types_equal = false;
        }
    int n_data = 0, n_order = 0;
    std::vector<std::string> data_diff;
    for (size_t i = 0; i < a.tensors.size(); ++i) {
        const TensorInfo& ta = a.tensors[i];
        const TensorInfo* tb = b.tensor(ta.name);
        if (!tb) continue;
        if (i >= b.tensors.size() || b.tensors[i].name != ta.name) ++n_order;
        if (ta.ne != tb->ne) {
            std::printf("DIFF shape %s: %s %s, %s %s\n", ta.name.c_str(), la.c_str(),
                        shape_str(ta.ne).c_str(), lb.c_str(), shape_str(tb->ne).c_str());
            types_equal = false;
            continue;
        }
        if (ta.type != tb->type) {
            std::printf("DIFF type %s [%s]: %s %s, %s %s\n", ta.name.c_str(), shape_str(ta.ne).c_str(),
                        la.c_str(), type_name(names, ta.type).c_str(), lb.c_str(),
                        type_name(names, tb->type).c_str());
            types_equal = false;
            ++n_data;  // different types: different bytes
            continue;
        }
        if (std::memcmp(&a.bytes[a.data_begin + ta.offset], &b.bytes[b.data_begin + tb->offset], ta.nbytes) !=
            0) {
            ++n_data;
            data_diff.push_back(ta.name);
            // Where and how much: blocks that differ.
            const size_t bsz = g.ggml_type_size(ta.type);
            const uint8_t* pa8 = &a.bytes[a.data_begin + ta.offset];
            const uint8_t* pb8 = &b.bytes[b.data_begin + tb->offset];
            size_t nblk = 0, first = SIZE_MAX;
            for (size_t o = 0; o < ta.nbytes; o += bsz)
                if (std::memcmp(pa8 + o, pb8 + o, std::min(bsz, ta.nbytes - o)) != 0) {
                    ++nblk;
                    if (first == SIZE_MAX) first = o / bsz;
                }
            std::printf("DIFF data %s (%s %s): %zu of %zu blocks differ, first block %zu\n", ta.name.c_str(),
                        type_name(names, ta.type).c_str(), shape_str(ta.ne).c_str(), nblk, ta.nbytes / bsz,
                        first);
        }
    }
    if (n_order) std::printf("DIFF tensor order: %d tensors at different positions\n", n_order);

    // Metadata, key by key (type and value bytes), then order.
    bool meta_equal = a.version == b.version && a.kvs.size() == b.kvs.size() && a.alignment == b.alignment;
    for (const auto& ka : a.kvs) {
        const KV* kb = b.find(ka.key);
        if (!kb) {
            std::printf("DIFF metadata key %s only in %s\n", ka.key.c_str(), la.c_str());
            meta_equal = false;
        } else if (ka.type != kb->type || ka.end - ka.begin != kb->end - kb->begin ||
                   std::memcmp(&a.bytes[ka.begin], &b.bytes[kb->begin], ka.end - ka.begin) != 0) {
            std::printf("DIFF metadata value %s: %s %s, %s %s\n", ka.key.c_str(), la.c_str(),
                        kv_str(a, ka).c_str(), lb.c_str(), kv_str(b, *kb).c_str());
            meta_equal = false;
        }
    }
    for (const auto& kb : b.kvs)
        if (!a.find(kb.key)) {
            std::printf("DIFF metadata key %s only in %s\n", kb.key.c_str(), lb.c_str());
            meta_equal = false;
        }
    if (meta_equal)
        for (size_t i = 0; i < a.kvs.size(); ++i)
            if (a.kvs[i].key != b.kvs[i].key) {
                std::printf("DIFF metadata order: key %zu is %s in %s, %s in %s\n", i, a.kvs[i].key.c_str(),
                            la.c_str(), b.kvs[i].key.c_str(), lb.c_str());
                meta_equal = false;
                break;
            }

    // The whole file.
    const bool file_equal = a.bytes == b.bytes;
    if (!file_equal) {
        size_t i = 0;
        const size_t n = std::min(a.bytes.size(), b.bytes.size());
        while (i < n && a.bytes[i] == b.bytes[i]) ++i;
        const char* where = i < std::min(a.meta_end, b.meta_end)       ? "header/metadata/tensor infos"
                            : i < std::min(a.data_begin, b.data_begin) ? "padding before the data"
                                                                       : "tensor data";
        std::printf("DIFF file: %s %zu bytes, %s %zu bytes, first difference at byte %zu (%s)\n", la.c_str(),
                    a.bytes.size(), lb.c_str(), b.bytes.size(), i, where);
    }
    std::printf("SUMMARY tensors=%zu types=%s data=%s metadata=%s file=%s\n", a.tensors.size(),
                types_equal ? "equal" : "DIFFER",
                n_data == 0 ? "identical" : (std::to_string(n_data) + "-differ").c_str(),
                meta_equal ? "identical" : "differs", file_equal ? "identical" : "differs");
    if (!types_equal) return 1;
    return file_equal ? 0 : 3;
}

void usage() {
    std::fputs(
        "usage: llama_quantize --lib DIR [--threads N] [--pure] [--output-tensor-type T]\n"
        "                      [--token-embedding-type T] [--tensor-type REGEX=T]... [--imatrix FILE]\n"
        "                      [--allow-requantize]\n"
        "                      [--verbose] IN.gguf OUT.gguf FTYPE\n"
        "       llama_quantize --compare [--lib DIR] [--labels A,B] A.gguf B.gguf\n"
        "       llama_quantize --make-imatrix MODEL.gguf [--lib DIR] OUT.imatrix.gguf\n",
        stderr);
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    g_prog = "llama_quantize";
    std::string lib_dir, labels = "A,B";
    std::vector<std::string> pos, tensor_types;
    std::optional<std::string> out_type, emb_type;
    std::string imatrix_path, make_imatrix_from;
    bool compare_mode = false, pure = false, allow_requantize = false;
    int threads = 1;
    Log log;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) usage();
            return argv[++i];
        };
        if (a == "--lib")
            lib_dir = next();
        else if (a == "--compare")
            compare_mode = true;
        else if (a == "--labels")
            labels = next();
        else if (a == "--threads")
            threads = std::atoi(next().c_str());
        else if (a == "--pure")
            pure = true;
        else if (a == "--allow-requantize")
            allow_requantize = true;
        else if (a == "--output-tensor-type")
            out_type = next();
        else if (a == "--token-embedding-type")
            emb_type = next();
        else if (a == "--tensor-type")
            tensor_types.push_back(next());
        else if (a == "--imatrix")
            imatrix_path = next();
        else if (a == "--make-imatrix")
            make_imatrix_from = next();
        else if (a == "--verbose")
            log.verbose = true;
        else if (a == "-h" || a == "--help" || (!a.empty() && a[0] == '-'))
            usage();
        else
            pos.push_back(a);
    }

    if (compare_mode) {
        if (pos.size() != 2) usage();
        const auto comma = labels.find(',');
        if (comma == std::string::npos) usage();
        // The tensor sizes need ggml's block and type sizes: from the peer's libggml-base with --lib, else
        // from a built-in table of the types edgeq writes.
        const Ggml g = lib_dir.empty() ? builtin_ggml() : bind_ggml(open_lib(lib_dir + "/libggml-base.so"));
        const Ggml* names = lib_dir.empty() ? nullptr : &g;
        return compare(g, names, pos[0], pos[1], labels.substr(0, comma), labels.substr(comma + 1));
    }

    if (!make_imatrix_from.empty()) {
        if (pos.size() != 1) usage();
        const Ggml g = lib_dir.empty() ? builtin_ggml() : bind_ggml(open_lib(lib_dir + "/libggml-base.so"));
        make_imatrix(make_imatrix_from, pos[0], g);
        return 0;
    }

    if (lib_dir.empty() || pos.size() != 3 || threads < 0) usage();
    const std::string &in_path = pos[0], &out_path = pos[1], &ftype_name = pos[2];
    const Ftype* ft = nullptr;
    for (const auto& f : kFtypes)
        if (ftype_name == f.name) ft = &f;
    if (!ft) die("unknown file type %s", ftype_name.c_str());

    const Libs libs = open_peer(lib_dir);
    const Ggml g = bind_ggml(libs.ggml_base);
    Api a{};
#define B(name) bind(libs.llama, #name, a.name)
    B(llama_log_set);
    B(llama_backend_init);
    B(llama_backend_free);
    B(llama_model_quantize_default_params);
    B(llama_model_quantize);
    B(llama_ftype_name);
#undef B
    bind(libs.llama, "_Z28llama_ftype_get_default_type11llama_ftype", a.llama_ftype_get_default_type);
    a.llama_log_set(log_cb, &log);
    a.llama_backend_init();

    // Check 2: the library's defaults through our declaration, and our ftype table through llama.cpp's names.
    const llama_model_quantize_params d = a.llama_model_quantize_default_params();
    if (d.nthread != 0 || d.ftype != 7 || d.output_tensor_type != kGgmlTypeCount ||
        d.token_embedding_type != kGgmlTypeCount || d.allow_requantize || !d.quantize_output_tensor ||
        d.only_copy || d.pure || d.keep_split || d.dry_run || d.imatrix || d.kv_overrides || d.tt_overrides ||
        d.prune_layers || d.max_buf_size != kMaxBufSizeDefault)
        die("llama_model_quantize_params layout check failed: the library's defaults do not match the "
            "declared "
            "struct");
    for (const auto& f : kFtypes) {
        const char* n = a.llama_ftype_name(f.id);
        const int32_t base = a.llama_ftype_get_default_type(f.id);
        if (!n || std::strcmp(n, f.llama_name) != 0 || base != f.base)
            die("llama_ftype check failed for %s (id %d): llama_ftype_name = \"%s\" (expected \"%s\"), "
                "default type "
                "%s (expected %s)",
                f.name, f.id, n ? n : "(null)", f.llama_name, type_name(&g, base).c_str(),
                type_name(&g, f.base).c_str());
    }
    if (const char* n = a.llama_ftype_name(static_cast<int32_t>(ft->id | kFtypeGuessed));
        !n || std::strcmp(n, ("(guessed) " + std::string(ft->llama_name)).c_str()) != 0)
        die("llama_ftype_name(%d | GUESSED) = \"%s\"", ft->id, n ? n : "(null)");

    llama_model_quantize_params p = d;
    p.nthread = threads;
    p.ftype = ft->id;
    p.pure = pure;
    p.allow_requantize = allow_requantize;
    if (out_type) p.output_tensor_type = ggml_type_from_name(g, *out_type);
    if (emb_type) p.token_embedding_type = ggml_type_from_name(g, *emb_type);
    std::vector<std::string> tt_patterns;
    std::vector<llama_model_tensor_override> tt;
    for (const auto& s : tensor_types) {
        const auto eq = s.rfind('=');
        if (eq == std::string::npos || eq == 0) die("--tensor-type expects REGEX=TYPE, got %s", s.c_str());
        tt_patterns.push_back(s.substr(0, eq));
        tt.push_back({nullptr, ggml_type_from_name(g, s.substr(eq + 1))});
    }
    if (!tt.empty()) {
        for (size_t i = 0; i < tt.size(); ++i) tt[i].pattern = tt_patterns[i].c_str();
        tt.push_back({nullptr, kGgmlTypeCount});
        p.tt_overrides = tt.data();
    }

    Imatrix im;
    if (!imatrix_path.empty()) {
        load_imatrix(imatrix_path, g, im);
        p.imatrix = im.data.data();
        p.kv_overrides = im.kv.data();
    }

    std::remove(out_path.c_str());
    const size_t log_mark = log.text.size();
    const uint32_t rc = a.llama_model_quantize(in_path.c_str(), out_path.c_str(), &p);
    const std::string qlog = log.text.substr(log_mark);
    if (rc != 0) {
        std::string err = "?";
        if (auto q = qlog.find("failed to quantize"); q != std::string::npos)
            err = qlog.substr(q, qlog.find('\n', q) - q);
        std::printf("REFUSED llama_model_quantize(%s, %s) returned %u: %s\n", ftype_name.c_str(),
                    in_path.c_str(), rc, err.c_str());
        a.llama_backend_free();
        return 3;
    }

    // Check 3: the output shows what was asked for.
    const Gguf in = read_gguf(in_path, g);
    const Gguf out = read_gguf(out_path, g);
    int bad = 0;
    auto fail = [&](const std::string& what) {
        std::printf("FAIL %s: %s\n", out_path.c_str(), what.c_str());
        ++bad;
    };
    if (out.u32("general.file_type") != static_cast<uint32_t>(ft->id))
        fail("general.file_type is not " + std::to_string(ft->id));
    if (out_type) {
        const TensorInfo* t = out.tensor("output.weight");
        if (t && t->type != p.output_tensor_type)
            fail("output.weight is " + type_name(&g, t->type) + ", --output-tensor-type asked " + *out_type);
    }
    if (emb_type) {
        const TensorInfo* t = out.tensor("token_embd.weight");
        if (!t || t->type != p.token_embedding_type)
            fail("token_embd.weight is " + (t ? type_name(&g, t->type) : std::string("missing")) +
                 ", --token-embedding-type asked " + *emb_type);
    }
    if (pure)
        for (const auto& t : out.tensors) {
            const TensorInfo* ti = in.tensor(t.name);
            if (!ti || ti->type == t.type || t.name == "output.weight" || t.name == "token_embd.weight")
                continue;
            if (t.ne[0] % g.ggml_blck_size(ft->base) == 0 && t.type != ft->base)
                fail("--pure: " + t.name + " is " + type_name(&g, t.type) + ", not " +
                     type_name(&g, ft->base));
        }
    for (size_t i = 0; i < tt.size() && tt[i].pattern; ++i) {
        const std::regex re(tt_patterns[i]);
        bool hit = false;
        for (const auto& t : out.tensors) hit |= std::regex_search(t.name, re) && t.type == tt[i].type;
        if (!hit) fail("--tensor-type " + tensor_types[i] + " matched no tensor of that type");
    }
    if (!imatrix_path.empty()) {
        // The kv overrides went through (key and u32 value) and llama.cpp found an entry for every imatrix
        // name.
        const auto n = out.u32("quantize.imatrix.entries_count");
        if (!out.find("quantize.imatrix.file") || !n || *n != im.names.size())
            fail("quantize.imatrix.* keys missing or wrong (kv_overrides not applied as declared)");
        for (const auto& name : im.names)
            if (contains(qlog, ("did not find weights for " + name + "\n").c_str()))
                fail("llama.cpp did not find the imatrix entry of " + name);
        if (contains(qlog, "imatrix size")) fail("llama.cpp reports an imatrix size mismatch");
    }
    int n_conv = 0;
    for (const auto& t : out.tensors)
        if (const TensorInfo* ti = in.tensor(t.name); ti && ti->type != t.type) ++n_conv;
    int n_fallback = 0;
    for (size_t q = 0; (q = qlog.find("required for type", q)) != std::string::npos; ++q) ++n_fallback;
    std::printf("OK %s -> %s (%s, llama.cpp \"%s\"): %zu tensors, %d converted, %d fallbacks, %zu bytes\n",
                in_path.c_str(), out_path.c_str(), ft->name, ft->llama_name, out.tensors.size(), n_conv,
                n_fallback, out.bytes.size());
    a.llama_backend_free();
    return bad ? 1 : 0;
}
