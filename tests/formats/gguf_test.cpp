// GGUF reader/writer tests: fixture reads and byte-exact round trips, the corrupt-file enum, every
// truncation of a small file, random corruption, value-type round trips, and all-or-nothing writes.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <csignal>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "common/shared.h"
#include "formats/gguf/gguf.h"

namespace edgeq::gguf {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

// A scratch directory per test process, removed at exit of each test's scope.
class TempDir {
public:
    TempDir() {
        dir_ = fs::temp_directory_path() /
               ("edgeq_gguf_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
        fs::create_directories(dir_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    fs::path operator/(const std::string& name) const { return dir_ / name; }
    const fs::path& path() const { return dir_; }
    std::vector<std::string> entries() const {
        std::vector<std::string> out;
        for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename().string());
        std::sort(out.begin(), out.end());
        return out;
    }

private:
    static inline int counter_ = 0;
    fs::path dir_;
};

Bytes read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_all(const fs::path& p, const Bytes& b) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// Every GGUF shipped in shared/ (fixtures and assets), sorted; empty if shared/ is absent.
std::vector<fs::path> shared_ggufs() {
    std::vector<fs::path> out;
    for (const char* dir : {"fixtures/blocks", "fixtures/llm/models", "fixtures/llm-shakespeare/models",
                            "assets/llm/shakespeare-wiki-4M"}) {
        const auto d = ::edgeq::test::shared_dir() / dir;
        if (!fs::is_directory(d)) continue;
        for (const auto& e : fs::directory_iterator(d))
            if (e.path().extension() == ".gguf") out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

// ---------------------------------------------------------------------------------------------------
// Fixtures

TEST(GgufRead, BlocksFixture) {
    EDGEQ_REQUIRE_SHARED(path, "fixtures/blocks/blocks_gauss.gguf");
    auto r = File::open(path.string());
    ASSERT_TRUE(r.ok()) << r.status().message();
    const File& f = **r;
    EXPECT_EQ(f.version(), 3u);
    EXPECT_EQ(f.alignment(), 32u);
    EXPECT_EQ(f.data_offset() % 32, 0u);
    EXPECT_EQ(f.tensors().size(), 48u);
    const TensorInfo* src = f.find_tensor("source");
    ASSERT_NE(src, nullptr);
    EXPECT_EQ(src->type, DType::F32);
    ASSERT_EQ(src->ne.size(), 2u);
    EXPECT_EQ(src->ne[0], 1024);
    EXPECT_EQ(src->ne[1], 64);
    EXPECT_EQ(src->n_elements(), 1024 * 64);
    EXPECT_EQ(src->n_rows(), 64);
    EXPECT_EQ(f.tensor_data(*src).size(), 1024u * 64 * 4);
    const TensorInfo* q = f.find_tensor("Q4_K.q");
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->type, DType::Q4_K);
    EXPECT_EQ(q->size, row_size(DType::Q4_K, 1024) * 64);
    EXPECT_EQ(f.find_tensor("no.such.tensor"), nullptr);
    ASSERT_NE(f.find("general.name"), nullptr);
    EXPECT_EQ(f.find("general.name")->type, ValueType::STRING);
    EXPECT_EQ(f.find("no.such.key"), nullptr);
}

TEST(GgufRead, AllSharedFilesOpen) {
    const auto files = shared_ggufs();
    if (files.empty()) GTEST_SKIP() << "no GGUF files under " << ::edgeq::test::shared_dir();
    for (const auto& p : files) {
        auto r = File::open(p.string());
        ASSERT_TRUE(r.ok()) << r.status().message();
        EXPECT_EQ((*r)->version(), 3u) << p;
        for (const auto& t : (*r)->tensors()) EXPECT_EQ((*r)->tensor_data(t).size(), t.size) << p << " " << t.name;
    }
}

TEST(GgufRead, LlmModelMetadata) {
    EDGEQ_REQUIRE_SHARED(path, "fixtures/llm/models/stories260K-F32.gguf");
    auto r = File::open(path.string());
    ASSERT_TRUE(r.ok()) << r.status().message();
    const Value* arch = (*r)->find("general.architecture");
    ASSERT_NE(arch, nullptr);
    EXPECT_EQ(arch->str, "llama");
    const Value* tokens = (*r)->find("tokenizer.ggml.tokens");
    ASSERT_NE(tokens, nullptr);
    EXPECT_EQ(tokens->type, ValueType::ARRAY);
    EXPECT_EQ(tokens->elem_type, ValueType::STRING);
    EXPECT_EQ(tokens->array.size(), 512u);
    EXPECT_NE((*r)->find_tensor("token_embd.weight"), nullptr);
}

// (1) Writer::from_file + write reproduces every shared GGUF byte for byte.
TEST(GgufRoundTrip, EverySharedFileByteForByte) {
    const auto files = shared_ggufs();
    if (files.empty()) GTEST_SKIP() << "no GGUF files under " << ::edgeq::test::shared_dir();
    TempDir tmp;
    for (const auto& p : files) {
        SCOPED_TRACE(p.string());
        auto r = File::open(p.string());
        ASSERT_TRUE(r.ok()) << r.status().message();
        const auto out = tmp / "out.gguf";
        const Status s = Writer::from_file(**r).write(out.string());
        ASSERT_TRUE(s.ok()) << s.message();
        const Bytes a = read_all(p), b = read_all(out);
        ASSERT_EQ(a.size(), b.size());
        const auto mm = std::mismatch(a.begin(), a.end(), b.begin());
        EXPECT_TRUE(mm.first == a.end()) << "first differing byte at " << (mm.first - a.begin());
    }
    EXPECT_GE(files.size(), 24u);  // 5 blocks + 8 llm + 11 shakespeare (+1 asset)
}

// ---------------------------------------------------------------------------------------------------
// The small file the corruption tests start from.
//   KVs:  general.architecture="test", general.alignment=u32 64, test.u32=7, test.arr=i32[1,2,3],
//         test.str="hello"
//   tensors (alignment 64): tensor.a Q8_0 [32] (34 bytes, 30 bytes padding), tensor.b F32 [8, 2]
//   (64 bytes, no padding, so every truncation of the file cuts into something required).

struct Small {
    Bytes bytes;
    uint64_t data_offset = 0;
};

Small make_small() {
    Writer w;
    w.set("general.architecture", Value::Str("test"));
    w.set_alignment(64);
    w.set("test.u32", Value::U32v(7));
    w.set("test.arr", Value::Array(ValueType::I32, {Value::I32v(1), Value::I32v(2), Value::I32v(3)}));
    w.set("test.str", Value::Str("hello"));
    Bytes qa(34);
    for (size_t i = 0; i < qa.size(); ++i) qa[i] = static_cast<uint8_t>(i + 1);
    Bytes fb(64);
    for (size_t i = 0; i < fb.size(); ++i) fb[i] = static_cast<uint8_t>(0x80 + i);
    EXPECT_TRUE(w.add_tensor_owned("tensor.a", DType::Q8_0, {32}, qa).ok());
    EXPECT_TRUE(w.add_tensor_owned("tensor.b", DType::F32, {8, 2}, fb).ok());
    TempDir tmp;
    const auto p = tmp / "small.gguf";
    const Status s = w.write(p.string());
    EXPECT_TRUE(s.ok()) << s.message();
    Small out;
    out.bytes = read_all(p);
    auto f = File::open(p.string());
    EXPECT_TRUE(f.ok()) << f.status().message();
    if (f.ok()) out.data_offset = (*f)->data_offset();
    return out;
}

// Position of the serialized GGUF string s (u64 length + bytes) in b.
size_t find_string(const Bytes& b, const std::string& s) {
    Bytes pat(8);
    const uint64_t n = s.size();
    std::memcpy(pat.data(), &n, 8);
    pat.insert(pat.end(), s.begin(), s.end());
    const auto it = std::search(b.begin(), b.end(), pat.begin(), pat.end());
    EXPECT_NE(it, b.end()) << "string '" << s << "' not in file";
    return static_cast<size_t>(it - b.begin());
}

template <typename T>
void poke(Bytes& b, size_t at, T v) {
    ASSERT_LE(at + sizeof(T), b.size());
    std::memcpy(b.data() + at, &v, sizeof(T));
}

// Offsets of one KV's fields: where its value type is, and where its value starts.
size_t kv_type_at(const Bytes& b, const std::string& key) { return find_string(b, key) + 8 + key.size(); }
size_t kv_value_at(const Bytes& b, const std::string& key) { return kv_type_at(b, key) + 4; }

// Offsets of one tensor info's fields (n_dims known from make_small()).
struct InfoAt {
    size_t name, n_dims, ne, type, offset;
};
InfoAt info_at(const Bytes& b, const std::string& name, int n_dims) {
    InfoAt i{};
    i.name = find_string(b, name);
    i.n_dims = i.name + 8 + name.size();
    i.ne = i.n_dims + 4;
    i.type = i.ne + 8 * static_cast<size_t>(n_dims);
    i.offset = i.type + 4;
    return i;
}

enum class Corruption {
    kBadMagic,
    kWrongVersion,
    kBigEndian,
    kTruncatedHeader,
    kKvCountTooLarge,
    kTensorCountTooLarge,
    kKeyLengthPastEnd,
    kStringValuePastEnd,
    kUnknownValueType,
    kUnknownArrayElementType,
    kArrayCountOverflow,
    kArrayNestingTooDeep,
    kDuplicateKey,
    kAlignmentWrongType,
    kAlignmentNotPowerOfTwo,
    kAlignmentZero,
    kTensorNameTooLong,
    kNDimsTooLarge,
    kNDimsZero,
    kNegativeNe,
    kNeProductOverflow,
    kByteSizeOverflow,
    kUnknownTensorType,
    kEdgeqOnlyTensorType,
    kRowNotMultipleOfBlock,
    kOffsetPastEnd,
    kMisalignedOffset,
    kOverlappingTensors,
    kDuplicateTensorName,
    kDataSectionPastEnd,
    kTruncatedTensorInfo,
};

struct CorruptCase {
    Corruption kind;
    const char* name;
    const char* expect;  // substring the error message must contain
};

const CorruptCase kCorruptCases[] = {
    {Corruption::kBadMagic, "bad_magic", "bad magic 'XGUF'"},
    {Corruption::kWrongVersion, "wrong_version", "unsupported version 4, expected 3"},
    {Corruption::kBigEndian, "big_endian", "big-endian GGUF"},
    {Corruption::kTruncatedHeader, "truncated_header", "truncated header: file has 20 bytes"},
    {Corruption::kKvCountTooLarge, "kv_count_too_large", "kv count 1099511627776 cannot fit"},
    {Corruption::kTensorCountTooLarge, "tensor_count_too_large", "tensor count 1099511627776 cannot fit"},
    {Corruption::kKeyLengthPastEnd, "key_length_past_end", "kv 0: key: string length 4294967296"},
    {Corruption::kStringValuePastEnd, "string_value_past_end", "key 'test.str': string value: string length 1000000"},
    {Corruption::kUnknownValueType, "unknown_value_type", "key 'test.u32': unknown value type 13"},
    {Corruption::kUnknownArrayElementType, "unknown_array_elem_type", "key 'test.arr': unknown array element type 99"},
    {Corruption::kArrayCountOverflow, "array_count_overflow", "array of 4611686018427387904 i32"},
    {Corruption::kArrayNestingTooDeep, "array_nesting", "array nesting deeper than 8 levels"},
    {Corruption::kDuplicateKey, "duplicate_key", "key 'test.arr': duplicate key"},
    {Corruption::kAlignmentWrongType, "alignment_wrong_type", "'general.alignment': has type i32, expected u32"},
    {Corruption::kAlignmentNotPowerOfTwo, "alignment_not_pow2", "alignment 48 is not a non-zero power of two"},
    {Corruption::kAlignmentZero, "alignment_zero", "alignment 0 is not a non-zero power of two"},
    {Corruption::kTensorNameTooLong, "tensor_name_too_long", "tensor name too long: 65 bytes, at most 64"},
    {Corruption::kNDimsTooLarge, "n_dims_too_large", "tensor 'tensor.b': n_dims = 5, expected 1..4"},
    {Corruption::kNDimsZero, "n_dims_zero", "tensor 'tensor.b': n_dims = 0, expected 1..4"},
    {Corruption::kNegativeNe, "negative_ne", "tensor 'tensor.b': negative dimension ne[1] = -2"},
    {Corruption::kNeProductOverflow, "ne_product_overflow", "element count of shape [1099511627776, 1099511627776] overflows int64"},
    {Corruption::kByteSizeOverflow, "byte_size_overflow", "byte size of F32 shape [4611686018427387904, 1] overflows"},
    {Corruption::kUnknownTensorType, "unknown_tensor_type", "tensor 'tensor.b': unknown tensor type 4"},
    {Corruption::kEdgeqOnlyTensorType, "edgeq_only_tensor_type", "tensor 'tensor.b': unknown tensor type 1000"},
    {Corruption::kRowNotMultipleOfBlock, "row_not_multiple", "row length ne[0] = 33 is not a multiple of the Q8_0 block size 32"},
    {Corruption::kOffsetPastEnd, "offset_past_end", "tensor 'tensor.b': offset 128 + size 64 past end of data (data section has 128 bytes"},
    {Corruption::kMisalignedOffset, "misaligned_offset", "tensor 'tensor.b': misaligned offset 65: not a multiple of the alignment 64"},
    {Corruption::kOverlappingTensors, "overlapping_tensors", "data [0, 64) overlaps tensor"},
    {Corruption::kDuplicateTensorName, "duplicate_tensor_name", "tensor 'tensor.a': duplicate tensor name (tensors 0 and 1)"},
    {Corruption::kDataSectionPastEnd, "data_section_past_end", "data section: starts at byte"},
    {Corruption::kTruncatedTensorInfo, "truncated_tensor_info", "tensor 'tensor.b': truncated: tensor offset at byte"},
};

Bytes corrupt(const Small& s, Corruption kind) {
    Bytes b = s.bytes;
    const InfoAt a = info_at(b, "tensor.a", 1), t = info_at(b, "tensor.b", 2);
    switch (kind) {
        case Corruption::kBadMagic: b[0] = 'X'; break;
        case Corruption::kWrongVersion: poke<uint32_t>(b, 4, 4); break;
        case Corruption::kBigEndian: poke<uint32_t>(b, 4, 0x03000000u); break;
        case Corruption::kTruncatedHeader: b.resize(20); break;
        case Corruption::kKvCountTooLarge: poke<uint64_t>(b, 16, uint64_t{1} << 40); break;
        case Corruption::kTensorCountTooLarge: poke<uint64_t>(b, 8, uint64_t{1} << 40); break;
        case Corruption::kKeyLengthPastEnd: poke<uint64_t>(b, 24, uint64_t{1} << 32); break;
        case Corruption::kStringValuePastEnd: poke<uint64_t>(b, kv_value_at(b, "test.str"), 1000000); break;
        case Corruption::kUnknownValueType: poke<uint32_t>(b, kv_type_at(b, "test.u32"), 13); break;
        case Corruption::kUnknownArrayElementType: poke<uint32_t>(b, kv_value_at(b, "test.arr"), 99); break;
        case Corruption::kArrayCountOverflow: poke<uint64_t>(b, kv_value_at(b, "test.arr") + 4, uint64_t{1} << 62); break;
        case Corruption::kArrayNestingTooDeep: {
            // Replace test.arr's value with 10 levels of [array of 1 array] and keep the rest of the file.
            const size_t at = kv_value_at(b, "test.arr");
            Bytes nest;
            for (int i = 0; i < 10; ++i) {
                const uint32_t et = 9;
                const uint64_t n = 1;
                nest.insert(nest.end(), reinterpret_cast<const uint8_t*>(&et), reinterpret_cast<const uint8_t*>(&et) + 4);
                nest.insert(nest.end(), reinterpret_cast<const uint8_t*>(&n), reinterpret_cast<const uint8_t*>(&n) + 8);
            }
            b.erase(b.begin() + static_cast<std::ptrdiff_t>(at), b.begin() + static_cast<std::ptrdiff_t>(at + 4 + 8 + 12));
            b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), nest.begin(), nest.end());
            break;
        }
        case Corruption::kDuplicateKey: std::memcpy(b.data() + find_string(b, "test.u32") + 8, "test.arr", 8); break;
        case Corruption::kAlignmentWrongType: poke<uint32_t>(b, kv_type_at(b, "general.alignment"), 5); break;
        case Corruption::kAlignmentNotPowerOfTwo: poke<uint32_t>(b, kv_value_at(b, "general.alignment"), 48); break;
        case Corruption::kAlignmentZero: poke<uint32_t>(b, kv_value_at(b, "general.alignment"), 0); break;
        case Corruption::kTensorNameTooLong: poke<uint64_t>(b, t.name, 65); break;
        case Corruption::kNDimsTooLarge: poke<uint32_t>(b, t.n_dims, 5); break;
        case Corruption::kNDimsZero: poke<uint32_t>(b, t.n_dims, 0); break;
        case Corruption::kNegativeNe: poke<int64_t>(b, t.ne + 8, -2); break;
        case Corruption::kNeProductOverflow:
            poke<int64_t>(b, t.ne, int64_t{1} << 40);
            poke<int64_t>(b, t.ne + 8, int64_t{1} << 40);
            break;
        case Corruption::kByteSizeOverflow:
            poke<int64_t>(b, t.ne, int64_t{1} << 62);
            poke<int64_t>(b, t.ne + 8, 1);
            break;
        case Corruption::kUnknownTensorType: poke<uint32_t>(b, t.type, 4); break;  // retired Q4_2
        case Corruption::kEdgeqOnlyTensorType: poke<uint32_t>(b, t.type, 1000); break;
        case Corruption::kRowNotMultipleOfBlock: poke<int64_t>(b, a.ne, 33); break;
        case Corruption::kOffsetPastEnd: poke<uint64_t>(b, t.offset, 128); break;
        case Corruption::kMisalignedOffset: poke<uint64_t>(b, t.offset, 65); break;
        case Corruption::kOverlappingTensors: poke<uint64_t>(b, t.offset, 0); break;
        case Corruption::kDuplicateTensorName: std::memcpy(b.data() + t.name + 8, "tensor.a", 8); break;
        case Corruption::kDataSectionPastEnd: b.resize(s.data_offset - 1); break;
        case Corruption::kTruncatedTensorInfo: b.resize(t.offset + 3); break;
    }
    return b;
}

TEST(GgufCorrupt, SmallFileIsValid) {
    const Small s = make_small();
    ASSERT_FALSE(s.bytes.empty());
    EXPECT_EQ(s.data_offset % 64, 0u);
    EXPECT_EQ(s.bytes.size(), s.data_offset + 128);
    // The end of the tensor infos must not be aligned already, or kDataSectionPastEnd tests nothing.
    const InfoAt t = info_at(s.bytes, "tensor.b", 2);
    EXPECT_LT(t.offset + 8, s.data_offset);
    TempDir tmp;
    write_all(tmp / "s.gguf", s.bytes);
    auto f = File::open((tmp / "s.gguf").string());
    ASSERT_TRUE(f.ok()) << f.status().message();
    EXPECT_EQ((*f)->alignment(), 64u);
    const TensorInfo* a = (*f)->find_tensor("tensor.a");
    const TensorInfo* b = (*f)->find_tensor("tensor.b");
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->offset, 0u);
    EXPECT_EQ(a->size, 34u);
    EXPECT_EQ(b->offset, 64u);
    EXPECT_EQ(b->size, 64u);
    EXPECT_EQ((*f)->tensor_data(*a)[0], 1);
    EXPECT_EQ((*f)->tensor_data(*b)[63], 0x80 + 63);
    // Padding between the two tensors is zeros.
    for (uint64_t i = s.data_offset + 34; i < s.data_offset + 64; ++i) EXPECT_EQ(s.bytes[i], 0) << i;
}

// (2) One corrupted variant per enum value, each rejected as Corrupt with its own message.
TEST(GgufCorrupt, EachCorruptionHasItsOwnMessage) {
    const Small s = make_small();
    ASSERT_FALSE(s.bytes.empty());
    TempDir tmp;
    std::vector<std::string> messages;
    for (const CorruptCase& c : kCorruptCases) {
        SCOPED_TRACE(c.name);
        const auto p = tmp / (std::string(c.name) + ".gguf");
        write_all(p, corrupt(s, c.kind));
        auto f = File::open(p.string());
        ASSERT_FALSE(f.ok()) << "accepted a file with " << c.name;
        EXPECT_EQ(f.status().code(), StatusCode::kCorrupt);
        const std::string& m = f.status().message();
        EXPECT_NE(m.find(c.expect), std::string::npos) << "message: " << m << "\nexpected to contain: " << c.expect;
        EXPECT_EQ(m.rfind(p.string() + ": ", 0), 0u) << "message does not start with the path: " << m;
        messages.push_back(m.substr(p.string().size()));
        if (std::getenv("EDGEQ_TEST_VERBOSE")) std::printf("  %-26s %s\n", c.name, messages.back().c_str());
    }
    // Distinct expectations, and distinct messages.
    for (size_t i = 0; i < std::size(kCorruptCases); ++i) {
        for (size_t j = i + 1; j < std::size(kCorruptCases); ++j) {
            EXPECT_EQ(std::string(kCorruptCases[j].expect).find(kCorruptCases[i].expect), std::string::npos)
                << kCorruptCases[i].name << " vs " << kCorruptCases[j].name;
            if (i < messages.size() && j < messages.size()) {
                EXPECT_NE(messages[i], messages[j]) << kCorruptCases[i].name << " vs " << kCorruptCases[j].name;
            }
        }
    }
}

TEST(GgufCorrupt, MissingAndUnreadableFiles) {
    TempDir tmp;
    auto r = File::open((tmp / "absent.gguf").string());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
    EXPECT_NE(r.status().message().find("absent.gguf"), std::string::npos);
    auto d = File::open(tmp.path().string());  // a directory
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.status().code(), StatusCode::kIoError);
    write_all(tmp / "empty.gguf", {});
    auto e = File::open((tmp / "empty.gguf").string());
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.status().message().find("truncated header: file has 0 bytes"), std::string::npos);
}

TEST(GgufCorrupt, VersionTwoIsAcceptedVersionOneIsNot) {
    Small s = make_small();
    ASSERT_FALSE(s.bytes.empty());
    TempDir tmp;
    poke<uint32_t>(s.bytes, 4, 2);
    write_all(tmp / "v2.gguf", s.bytes);
    auto f = File::open((tmp / "v2.gguf").string());
    ASSERT_TRUE(f.ok()) << f.status().message();
    EXPECT_EQ((*f)->version(), 2u);
    poke<uint32_t>(s.bytes, 4, 1);
    write_all(tmp / "v1.gguf", s.bytes);
    auto g = File::open((tmp / "v1.gguf").string());
    ASSERT_FALSE(g.ok());
    EXPECT_NE(g.status().message().find("unsupported version 1"), std::string::npos) << g.status().message();
}

// Gaps between tensors and data stored out of info order are legal (only overlap is not).
TEST(GgufCorrupt, GapsAndOutOfOrderDataAreAccepted) {
    Small s = make_small();
    ASSERT_FALSE(s.bytes.empty());
    const InfoAt a = info_at(s.bytes, "tensor.a", 1), b = info_at(s.bytes, "tensor.b", 2);
    poke<uint64_t>(s.bytes, a.offset, 64);
    poke<uint64_t>(s.bytes, b.offset, 0);
    TempDir tmp;
    write_all(tmp / "o.gguf", s.bytes);
    auto f = File::open((tmp / "o.gguf").string());
    ASSERT_TRUE(f.ok()) << f.status().message();
    EXPECT_EQ((*f)->find_tensor("tensor.a")->offset, 64u);
    EXPECT_EQ((*f)->tensor_data(*(*f)->find_tensor("tensor.b")).size(), 64u);
}

// Every proper prefix of the small file is rejected (its last tensor fills its padded slot exactly).
TEST(GgufCorrupt, EveryTruncationIsRejected) {
    const Small s = make_small();
    ASSERT_FALSE(s.bytes.empty());
    TempDir tmp;
    const auto p = tmp / "t.gguf";
    for (size_t n = 0; n < s.bytes.size(); ++n) {
        write_all(p, Bytes(s.bytes.begin(), s.bytes.begin() + static_cast<std::ptrdiff_t>(n)));
        auto f = File::open(p.string());
        ASSERT_FALSE(f.ok()) << "accepted a truncation to " << n << " of " << s.bytes.size() << " bytes";
        EXPECT_EQ(f.status().code(), StatusCode::kCorrupt) << n;
    }
    write_all(p, s.bytes);
    EXPECT_TRUE(File::open(p.string()).ok());
}

// Like llama.cpp (which maps the file and checks each tensor's bytes), a file whose last tensor is
// complete but whose trailing alignment padding is missing is accepted.
TEST(GgufCorrupt, MissingTrailingPaddingIsAccepted) {
    Writer w;
    w.set("general.architecture", Value::Str("test"));
    Bytes q(34, 7);
    ASSERT_TRUE(w.add_tensor("q", DType::Q8_0, {32}, q).ok());
    TempDir tmp;
    ASSERT_TRUE(w.write((tmp / "a.gguf").string()).ok());
    Bytes b = read_all(tmp / "a.gguf");
    b.resize(b.size() - 30);
    write_all(tmp / "b.gguf", b);
    auto f = File::open((tmp / "b.gguf").string());
    ASSERT_TRUE(f.ok()) << f.status().message();
    EXPECT_EQ((*f)->tensor_data(*(*f)->find_tensor("q")).size(), 34u);
    b.resize(b.size() - 1);
    write_all(tmp / "c.gguf", b);
    auto g = File::open((tmp / "c.gguf").string());
    ASSERT_FALSE(g.ok());
    EXPECT_NE(g.status().message().find("past end of data"), std::string::npos);
}

// Random byte corruption never crashes the reader (run under ASan in CI); accepted files stay in bounds.
TEST(GgufCorrupt, RandomCorruptionDoesNotCrash) {
    const Small s = make_small();
    ASSERT_FALSE(s.bytes.empty());
    TempDir tmp;
    const auto p = tmp / "r.gguf";
    const uint32_t seed = 12345;
    std::mt19937 rng(seed);
    int rejected = 0;
    const uint64_t meta_end = s.data_offset;
    for (int iter = 0; iter < 3000; ++iter) {
        Bytes b = s.bytes;
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int k = 0; k < flips; ++k) {
            const size_t at = rng() % meta_end;  // corrupt the metadata, where the checks are
            b[at] = static_cast<uint8_t>(rng() % 3 == 0 ? 0xff : rng());
        }
        write_all(p, b);
        auto f = File::open(p.string());
        if (!f.ok()) {
            ++rejected;
            continue;
        }
        for (const auto& t : (*f)->tensors()) {
            const auto d = (*f)->tensor_data(t);
            ASSERT_EQ(d.size(), t.size) << "seed " << seed << " iter " << iter;
            if (!d.empty()) {
                volatile uint8_t sink = d[0];
                sink = d[d.size() - 1];
                (void)sink;
            }
        }
    }
    EXPECT_GT(rejected, 0);
}

// ---------------------------------------------------------------------------------------------------
// (3) Writer round trip of every value type.

void expect_same(const Value& a, const Value& b, const std::string& where) {
    ASSERT_EQ(a.type, b.type) << where;
    switch (a.type) {
        case ValueType::F32:
        case ValueType::F64:
            if (std::isnan(a.f)) {
                EXPECT_TRUE(std::isnan(b.f)) << where;
            } else {
                EXPECT_EQ(std::bit_cast<uint64_t>(a.f), std::bit_cast<uint64_t>(b.f)) << where;
            }
            break;
        case ValueType::STRING: EXPECT_EQ(a.str, b.str) << where; break;
        case ValueType::ARRAY:
            ASSERT_EQ(a.elem_type, b.elem_type) << where;
            ASSERT_EQ(a.array.size(), b.array.size()) << where;
            for (size_t i = 0; i < a.array.size(); ++i)
                expect_same(a.array[i], b.array[i], where + "[" + std::to_string(i) + "]");
            break;
        default: EXPECT_EQ(a.u, b.u) << where; break;
    }
}

std::vector<KV> all_value_kinds() {
    using V = Value;
    std::vector<KV> kv;
    kv.push_back({"general.architecture", V::Str("test")});
    kv.push_back({"u8", V::U8v(255)});
    kv.push_back({"i8", V::I8v(-128)});
    kv.push_back({"u16", V::U16v(65535)});
    kv.push_back({"i16", V::I16v(-32768)});
    kv.push_back({"u32", V::U32v(4294967295u)});
    kv.push_back({"i32", V::I32v(std::numeric_limits<int32_t>::min())});
    kv.push_back({"u64", V::U64v(std::numeric_limits<uint64_t>::max())});
    kv.push_back({"i64", V::I64v(std::numeric_limits<int64_t>::min())});
    kv.push_back({"f32", V::F32v(-1.5e-7f)});
    kv.push_back({"f32.inf", V::F32v(std::numeric_limits<float>::infinity())});
    kv.push_back({"f32.nan", V::F32v(std::numeric_limits<float>::quiet_NaN())});
    kv.push_back({"f32.denorm", V::F32v(std::numeric_limits<float>::denorm_min())});
    kv.push_back({"f64", V::F64v(3.141592653589793)});
    kv.push_back({"f64.negzero", V::F64v(-0.0)});
    kv.push_back({"bool.t", V::Boolv(true)});
    kv.push_back({"bool.f", V::Boolv(false)});
    kv.push_back({"str", V::Str("h\xc3\xa9llo \"w\"\n")});
    kv.push_back({"str.empty", V::Str("")});
    kv.push_back({"str.nul", V::Str(std::string("a\0b", 3))});
    kv.push_back({"", V::U8v(1)});  // empty key is legal GGUF
    kv.push_back({"arr.u8", V::Array(ValueType::U8, {V::U8v(0), V::U8v(200)})});
    kv.push_back({"arr.i8", V::Array(ValueType::I8, {V::I8v(-1), V::I8v(5)})});
    kv.push_back({"arr.u16", V::Array(ValueType::U16, {V::U16v(1)})});
    kv.push_back({"arr.i16", V::Array(ValueType::I16, {V::I16v(-300)})});
    kv.push_back({"arr.u32", V::Array(ValueType::U32, {V::U32v(1), V::U32v(2)})});
    kv.push_back({"arr.i32", V::Array(ValueType::I32, {V::I32v(-7)})});
    kv.push_back({"arr.u64", V::Array(ValueType::U64, {V::U64v(1ull << 63)})});
    kv.push_back({"arr.i64", V::Array(ValueType::I64, {V::I64v(-(1ll << 62))})});
    kv.push_back({"arr.f32", V::Array(ValueType::F32, {V::F32v(0.25f), V::F32v(-2.0f)})});
    kv.push_back({"arr.f64", V::Array(ValueType::F64, {V::F64v(1e300)})});
    kv.push_back({"arr.bool", V::Array(ValueType::BOOL, {V::Boolv(true), V::Boolv(false)})});
    kv.push_back({"arr.str", V::Array(ValueType::STRING, {V::Str("a"), V::Str(""), V::Str("ccc")})});
    kv.push_back({"arr.empty", V::Array(ValueType::F32, {})});
    kv.push_back({"arr.nested",
                  V::Array(ValueType::ARRAY, {V::Array(ValueType::I32, {V::I32v(1), V::I32v(2)}),
                                              V::Array(ValueType::STRING, {V::Str("x")}),
                                              V::Array(ValueType::ARRAY, {V::Array(ValueType::U8, {V::U8v(9)})}),
                                              V::Array(ValueType::U64, {})})});
    return kv;
}

TEST(GgufWriter, EveryValueTypeRoundTrips) {
    Writer w;
    const auto kvs = all_value_kinds();
    for (const auto& kv : kvs) w.set(kv.key, kv.value);
    float data[3] = {1.0f, -2.0f, 3.5f};
    ASSERT_TRUE(w.add_tensor("t", DType::F32, {3}, {reinterpret_cast<const uint8_t*>(data), sizeof(data)}).ok());
    TempDir tmp;
    const auto p = tmp / "v.gguf";
    const Status st = w.write(p.string());
    ASSERT_TRUE(st.ok()) << st.message();
    auto f = File::open(p.string());
    ASSERT_TRUE(f.ok()) << f.status().message();
    ASSERT_EQ((*f)->kvs().size(), kvs.size());
    for (size_t i = 0; i < kvs.size(); ++i) {
        EXPECT_EQ((*f)->kvs()[i].key, kvs[i].key);
        expect_same(kvs[i].value, (*f)->kvs()[i].value, "key '" + kvs[i].key + "'");
    }
    EXPECT_EQ((*f)->find("i8")->as_int(), -128);
    EXPECT_EQ((*f)->find("i32")->as_int(), std::numeric_limits<int32_t>::min());
    EXPECT_EQ((*f)->find("u32")->as_int(), 4294967295ll);
    EXPECT_TRUE((*f)->find("u16")->is_integer());
    EXPECT_FALSE((*f)->find("bool.t")->is_integer());
    EXPECT_FALSE((*f)->find("f32")->is_integer());
    EXPECT_FLOAT_EQ(static_cast<float>((*f)->find("f32")->as_float()), -1.5e-7f);
    EXPECT_DOUBLE_EQ((*f)->find("i16")->as_float(), -32768.0);
    EXPECT_EQ((*f)->find("bool.t")->to_string(), "true");
    EXPECT_EQ((*f)->find("str")->to_string(), "\"h\xc3\xa9llo \\\"w\\\"\\n\"");
    EXPECT_EQ((*f)->find("arr.str")->to_string(2), "[\"a\", \"\", ... (3 string)]");
    EXPECT_EQ((*f)->find("arr.u32")->to_string(), "[1, 2]");
    EXPECT_EQ((*f)->find("u64")->to_string(), "18446744073709551615");
    EXPECT_EQ(std::string(value_type_name(ValueType::BOOL)), "bool");
    EXPECT_EQ(std::string(value_type_name(static_cast<ValueType>(77))), "unknown");
    // Reading back and writing again gives the same bytes.
    const auto p2 = tmp / "v2.gguf";
    ASSERT_TRUE(Writer::from_file(**f).write(p2.string()).ok());
    EXPECT_EQ(read_all(p), read_all(p2));
}

TEST(GgufWriter, LayoutAlignmentAndOrder) {
    Writer w;
    w.set("general.architecture", Value::Str("x"));
    w.set("b.key", Value::U8v(1));
    w.set("a.key", Value::U8v(2));
    w.set("b.key", Value::U8v(3));  // replaced in place
    w.set_alignment(128);
    ASSERT_NE(w.find("general.alignment"), nullptr);
    const Bytes t1(5 * 4, 1), t2(34, 2), t3(0), t4(8, 4);
    ASSERT_TRUE(w.add_tensor("z.first", DType::F32, {5}, t1).ok());
    ASSERT_TRUE(w.add_tensor("a.second", DType::Q8_0, {32}, t2).ok());
    ASSERT_TRUE(w.add_tensor("empty", DType::F32, {0, 3}, t3).ok());
    ASSERT_TRUE(w.add_tensor("last", DType::F16, {2, 2}, t4).ok());
    TempDir tmp;
    ASSERT_TRUE(w.write((tmp / "l.gguf").string()).ok());
    auto f = File::open((tmp / "l.gguf").string());
    ASSERT_TRUE(f.ok()) << f.status().message();
    EXPECT_EQ((*f)->alignment(), 128u);
    EXPECT_EQ((*f)->data_offset() % 128, 0u);
    const auto& kv = (*f)->kvs();
    ASSERT_EQ(kv.size(), 4u);
    EXPECT_EQ(kv[1].key, "b.key");
    EXPECT_EQ(kv[1].value.u, 3u);
    EXPECT_EQ(kv[2].key, "a.key");
    EXPECT_EQ(kv[3].key, "general.alignment");
    const auto& ts = (*f)->tensors();
    ASSERT_EQ(ts.size(), 4u);
    EXPECT_EQ(ts[0].name, "z.first");
    EXPECT_EQ(ts[0].offset, 0u);
    EXPECT_EQ(ts[1].offset, 128u);
    EXPECT_EQ(ts[2].offset, 256u);
    EXPECT_EQ(ts[2].size, 0u);
    EXPECT_EQ(ts[3].offset, 256u);
    EXPECT_EQ((*f)->file_size(), (*f)->data_offset() + 384);
    EXPECT_EQ((*f)->tensor_data(ts[3])[7], 4);
    w.set_alignment(32);  // back to the default: the key goes away
    EXPECT_EQ(w.find("general.alignment"), nullptr);
    w.remove("a.key");
    EXPECT_EQ(w.find("a.key"), nullptr);
    EXPECT_EQ(w.kvs().size(), 2u);
}

TEST(GgufWriter, MetadataOnlyFile) {
    Writer w;
    w.set("general.architecture", Value::Str("none"));
    TempDir tmp;
    ASSERT_TRUE(w.write((tmp / "m.gguf").string()).ok());
    auto f = File::open((tmp / "m.gguf").string());
    ASSERT_TRUE(f.ok()) << f.status().message();
    EXPECT_TRUE((*f)->tensors().empty());
    EXPECT_EQ((*f)->file_size() % 32, 0u);
}

TEST(GgufWriter, RejectsBadTensors) {
    Writer w;
    const Bytes f32x4(16);
    EXPECT_TRUE(w.add_tensor("ok", DType::F32, {4}, f32x4).ok());
    struct Bad {
        std::string name;
        DType type;
        std::vector<int64_t> ne;
        size_t bytes;
        const char* expect;
    };
    const Bad bad[] = {
        {"ok", DType::F32, {4}, 16, "duplicate tensor name 'ok'"},
        {"", DType::F32, {4}, 16, "tensor name is empty"},
        {std::string(64, 'n'), DType::F32, {4}, 16, "at most 63 allowed"},
        {"size", DType::F32, {4}, 15, "15 bytes of data, F32 of this shape needs 16"},
        {"dims0", DType::F32, {}, 0, "0 dimensions, expected 1..4"},
        {"dims5", DType::F32, {1, 1, 1, 1, 1}, 4, "5 dimensions, expected 1..4"},
        {"neg", DType::F32, {4, -1}, 0, "negative dimension ne[1]"},
        {"row", DType::Q4_K, {100}, 144, "row length 100 is not a multiple of the Q4_K block size 256"},
        {"ovf", DType::F32, {int64_t{1} << 40, int64_t{1} << 40}, 0, "element count overflows int64"},
        {"u8", DType::U8, {4}, 4, "edgeq-only"},
    };
    for (const auto& b : bad) {
        const Bytes data(b.bytes);
        const Status s = w.add_tensor(b.name, b.type, b.ne, data);
        ASSERT_FALSE(s.ok()) << b.expect;
        EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
        EXPECT_NE(s.message().find(b.expect), std::string::npos) << s.message();
    }
}

// ---------------------------------------------------------------------------------------------------
// (4) Failed writes leave nothing behind: not at the destination, not a temporary.

TEST(GgufWriter, UnwritablePathLeavesNoFile) {
    TempDir tmp;
    Writer w;
    w.set("general.architecture", Value::Str("x"));
    const auto p = tmp / "no_such_dir" / "x.gguf";
    const Status s = w.write(p.string());
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), StatusCode::kIoError);
    EXPECT_NE(s.message().find(p.string()), std::string::npos) << s.message();
    EXPECT_FALSE(fs::exists(p));
    EXPECT_TRUE(tmp.entries().empty());
}

TEST(GgufWriter, InvalidMetadataLeavesOldFileUntouched) {
    TempDir tmp;
    const auto p = tmp / "keep.gguf";
    write_all(p, Bytes{1, 2, 3});
    struct Case {
        const char* name;
        Value v;
        const char* expect;
    };
    const Case cases[] = {
        {"mixed", Value::Array(ValueType::U8, {Value::U8v(1), Value::I32v(2)}), "array element 1 has type i32, expected u8"},
        {"general.alignment", Value::U32v(48), "48 is not a non-zero power of two"},
        {"general.alignment", Value::I32v(64), "'general.alignment' has type i32, expected u32"},
    };
    for (const auto& c : cases) {
        Writer w;
        w.set("general.architecture", Value::Str("x"));
        w.set(c.name, c.v);
        const Status s = w.write(p.string());
        ASSERT_FALSE(s.ok()) << c.expect;
        EXPECT_NE(s.message().find(c.expect), std::string::npos) << s.message();
        EXPECT_EQ(read_all(p), (Bytes{1, 2, 3}));
        EXPECT_EQ(tmp.entries(), std::vector<std::string>{"keep.gguf"});
    }
    // Nesting deeper than kMaxArrayDepth.
    Value v = Value::Array(ValueType::U8, {});
    for (int i = 0; i < kMaxArrayDepth; ++i) v = Value::Array(ValueType::ARRAY, {v});
    Writer w;
    w.set("deep", v);
    const Status s = w.write(p.string());
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("nested deeper"), std::string::npos) << s.message();
    EXPECT_EQ(read_all(p), (Bytes{1, 2, 3}));
}

// A write that fails half-way (here: RLIMIT_FSIZE, EFBIG) leaves the old destination and no temporary.
TEST(GgufWriter, FailingWriteLeavesNoPartialFile) {
    TempDir tmp;
    const auto fresh = tmp / "fresh.gguf", old = tmp / "old.gguf";
    write_all(old, Bytes{9, 9, 9});
    Writer w;
    w.set("general.architecture", Value::Str("x"));
    ASSERT_TRUE(w.add_tensor_owned("big", DType::F32, {1 << 18}, Bytes(size_t{1} << 20, 0x5a)).ok());

    struct rlimit saved {};
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
    auto* prev = std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = saved;
    lim.rlim_cur = 64 * 1024;
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &lim), 0);
    const Status s1 = w.write(fresh.string());
    const Status s2 = w.write(old.string());
    ::setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, prev);

    ASSERT_FALSE(s1.ok());
    ASSERT_FALSE(s2.ok());
    EXPECT_EQ(s1.code(), StatusCode::kIoError);
    EXPECT_NE(s1.message().find(fresh.string()), std::string::npos) << s1.message();
    EXPECT_FALSE(fs::exists(fresh));
    EXPECT_EQ(read_all(old), (Bytes{9, 9, 9}));
    EXPECT_EQ(tmp.entries(), std::vector<std::string>{"old.gguf"});
    // And with the limit lifted the same writer succeeds.
    ASSERT_TRUE(w.write(fresh.string()).ok());
    EXPECT_TRUE(File::open(fresh.string()).ok());
}

}  // namespace
}  // namespace edgeq::gguf
