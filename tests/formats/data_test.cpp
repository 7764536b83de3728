// Data readers: .npy (read/write, every header version, corrupt-file enum), IDX (plain and gzip, MNIST and
// Fashion-MNIST), .npz (stored and deflated entries, ZIP64 extra fields, corruption).
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/shared.h"
#include "formats/data/idx.h"
#include "formats/data/npy.h"
#include "formats/data/npz.h"

namespace edgeq::data {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

class TempDir {
public:
    TempDir() {
        dir_ = fs::temp_directory_path() /
               ("edgeq_data_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
        fs::create_directories(dir_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    fs::path operator/(const std::string& name) const { return dir_ / name; }
    const fs::path& path() const { return dir_; }

private:
    static inline int counter_ = 0;
    fs::path dir_;
};

void write_file(const fs::path& p, const Bytes& b) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
Bytes str_bytes(const std::string& s) { return {s.begin(), s.end()}; }

void expect_error(const Status& s, StatusCode code, const std::string& needle) {
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(static_cast<int>(s.code()), static_cast<int>(code)) << s.message();
    EXPECT_NE(s.message().find(needle), std::string::npos) << "message: " << s.message() << "\nwanted: " << needle;
}

// A .npy file with the given header dict and data bytes (version major.0, padded to 64).
Bytes npy_bytes(const std::string& dict, const Bytes& data, int major = 1) {
    const size_t pre = major == 1 ? 10 : 12;
    std::string h = dict;
    while ((pre + h.size() + 1) % 64) h.push_back(' ');
    h.push_back('\n');
    Bytes b = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(major), 0};
    for (size_t i = 0; i < pre - 8; ++i) b.push_back(static_cast<uint8_t>(h.size() >> (8 * i)));
    b.insert(b.end(), h.begin(), h.end());
    b.insert(b.end(), data.begin(), data.end());
    return b;
}

Result<Tensor> parse(const Bytes& b) { return parse_npy(b, "t.npy"); }

// ---------------------------------------------------------------------------------------------------------
// .npy

TEST(Npy, RoundTripEveryType) {
    TempDir d;
    for (DType t : {DType::F16, DType::F32, DType::F64, DType::I8, DType::I16, DType::I32, DType::I64, DType::U8,
                    DType::U16, DType::U32, DType::U64, DType::BOOL}) {
        SCOPED_TRACE(dtype_name(t));
        for (const Shape& s : {Shape{}, Shape{7}, Shape{2, 3}, Shape{2, 0, 4}, Shape{3, 1, 5, 2}}) {
            Tensor x(t, s);
            for (size_t i = 0; i < x.nbytes(); ++i) x.raw()[i] = static_cast<uint8_t>(i * 37 + 11);
            if (t == DType::BOOL)
                for (size_t i = 0; i < x.nbytes(); ++i) x.raw()[i] &= 1;
            const auto p = d / "x.npy";
            ASSERT_TRUE(write_npy(p.string(), x).ok());
            EXPECT_EQ(fs::file_size(p) % 64, x.nbytes() % 64) << "header padded to 64";
            auto y = read_npy(p.string());
            ASSERT_TRUE(y.ok()) << y.status().message();
            EXPECT_EQ(y->dtype(), t);
            EXPECT_EQ(y->shape(), s);
            ASSERT_EQ(y->nbytes(), x.nbytes());
            EXPECT_EQ(std::memcmp(y->raw(), x.raw(), x.nbytes()), 0);
        }
    }
    // no NumPy type: refused without touching the destination
    const auto p = d / "q.npy";
    expect_error(write_npy(p.string(), Tensor(DType::Q4_K, {256})), StatusCode::kUnsupported, "Q4_K");
    EXPECT_FALSE(fs::exists(p));
}

TEST(Npy, HeaderTextMatchesNumpy) {
    auto b = encode_npy(Tensor(DType::F32, {4, 10}));
    ASSERT_TRUE(b.ok());
    const std::string s(b->begin() + 10, b->end());
    EXPECT_EQ(s.substr(0, 51), "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    EXPECT_NE(s.find("(4, 10), }"), std::string::npos) << s;
    auto one = encode_npy(Tensor(DType::I64, {3}));
    ASSERT_TRUE(one.ok());
    EXPECT_NE(std::string(one->begin(), one->end()).find("'shape': (3,), }"), std::string::npos);
}

TEST(Npy, HeaderVersions) {
    const Bytes data = {1, 0, 2, 0, 3, 0};
    for (int major : {1, 2, 3}) {
        auto t = parse(npy_bytes("{'descr': '<i2', 'fortran_order': False, 'shape': (3,), }", data, major));
        ASSERT_TRUE(t.ok()) << t.status().message();
        EXPECT_EQ(t->to_i64(), (std::vector<int64_t>{1, 2, 3}));
    }
    // key order, double quotes, no trailing comma, 1-D Fortran (same as C), byte-order-free and '=' codes
    auto t = parse(npy_bytes("{\"shape\": (2,), \"fortran_order\": True, \"descr\": \"|u1\"}", {7, 9}));
    ASSERT_TRUE(t.ok()) << t.status().message();
    EXPECT_EQ(t->to_i64(), (std::vector<int64_t>{7, 9}));
    auto s = parse(npy_bytes("{'descr': '=i4', 'fortran_order': False, 'shape': (), }", {5, 0, 0, 0}));
    ASSERT_TRUE(s.ok()) << s.status().message();
    EXPECT_EQ(s->shape(), Shape{});
    EXPECT_EQ(s->to_i64(), (std::vector<int64_t>{5}));
}

TEST(Npy, CorruptFiles) {
    const std::string ok_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";
    const Bytes data(16, 0);
    ASSERT_TRUE(parse(npy_bytes(ok_dict, data)).ok());

    expect_error(parse(str_bytes("\x93NUMP")).status(), StatusCode::kCorrupt, "too short");
    expect_error(parse(str_bytes("PK\x03\x04 not a npy file")).status(), StatusCode::kCorrupt, "bad magic");
    Bytes v9 = npy_bytes(ok_dict, data);
    v9[6] = 9;
    expect_error(parse(v9).status(), StatusCode::kUnsupported, "version 9.0");
    Bytes hl = npy_bytes(ok_dict, data);
    hl[8] = 0xff;
    hl[9] = 0xff;
    expect_error(parse(hl).status(), StatusCode::kCorrupt, "header length 65535 runs past the end");
    expect_error(parse(npy_bytes(ok_dict, Bytes(15, 0))).status(), StatusCode::kCorrupt,
                 "data is truncated: <f4 [2, 2] needs 16 bytes, the file has 15");
    expect_error(parse(npy_bytes(ok_dict, Bytes(20, 0))).status(), StatusCode::kCorrupt, "4 bytes after");
    expect_error(parse(npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", data)).status(),
                 StatusCode::kUnsupported, "Fortran");
    expect_error(parse(npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }", data)).status(),
                 StatusCode::kUnsupported, "big-endian");
    expect_error(parse(npy_bytes("{'descr': '<c8', 'fortran_order': False, 'shape': (2, 2), }", data)).status(),
                 StatusCode::kUnsupported, "'<c8' is not supported");
    expect_error(parse(npy_bytes("{'descr': '<U10', 'fortran_order': False, 'shape': (2, 2), }", data)).status(),
                 StatusCode::kUnsupported, "'<U10'");
    expect_error(parse(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 2), }", data)).status(),
                 StatusCode::kCorrupt, "negative dimension");
    expect_error(
        parse(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }", data))
            .status(),
        StatusCode::kCorrupt, "more than 2^46");
    expect_error(parse(npy_bytes("{'descr': '<f4', 'shape': (2, 2), }", data)).status(), StatusCode::kCorrupt,
                 "lacks");
    expect_error(parse(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'x': 1}", data)).status(),
                 StatusCode::kCorrupt, "unexpected key 'x'");
    expect_error(parse(npy_bytes("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2, 2)}", data)).status(),
                 StatusCode::kCorrupt, "True or False");
    expect_error(parse(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': [2, 2]}", data)).status(),
                 StatusCode::kCorrupt, "tuple");
    expect_error(parse(npy_bytes("{'descr': '<f4, 'fortran_order': False, 'shape': (2, 2)}", data)).status(),
                 StatusCode::kCorrupt, ".npy header");
    expect_error(read_npy("/nonexistent/x.npy").status(), StatusCode::kNotFound, "/nonexistent/x.npy");
}

TEST(Npy, OrtFixturesReadable) {
    const auto dir = test::shared_dir() / "fixtures/ort";
    if (!fs::is_directory(dir)) GTEST_SKIP() << "shared fixtures missing: " << dir << " (set EDGEQ_SHARED)";
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir)) {
        if (e.path().extension() != ".npy") continue;
        SCOPED_TRACE(e.path().string());
        auto t = read_npy(e.path().string());
        ASSERT_TRUE(t.ok()) << t.status().message();
        EXPECT_EQ(t->dtype(), DType::F32);
        EXPECT_GT(t->numel(), 0);
        ++n;
    }
    EXPECT_GE(n, 20);
    auto lenet_in = read_npy((dir / "lenet5.input-0.input.npy").string());
    ASSERT_TRUE(lenet_in.ok());
    EXPECT_EQ(lenet_in->shape(), (Shape{4, 1, 28, 28}));
    auto lenet_out = read_npy((dir / "lenet5.input-0.logits.npy").string());
    ASSERT_TRUE(lenet_out.ok());
    EXPECT_EQ(lenet_out->shape(), (Shape{4, 10}));
    for (float v : lenet_out->to_f32()) EXPECT_TRUE(std::isfinite(v));
}

// ---------------------------------------------------------------------------------------------------------
// IDX

Bytes gzip(const Bytes& in) {
    z_stream zs{};
    EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    Bytes out(deflateBound(&zs, static_cast<uLong>(in.size())) + 32);
    zs.next_in = const_cast<Bytef*>(in.data());
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

Bytes idx_bytes(std::vector<uint32_t> dims, size_t data_len, uint8_t type = 0x08) {
    Bytes b = {0, 0, type, static_cast<uint8_t>(dims.size())};
    for (uint32_t d : dims)
        for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(d >> s));
    for (size_t i = 0; i < data_len; ++i) b.push_back(static_cast<uint8_t>(i));
    return b;
}

TEST(Idx, FashionMnistT10k) {
    const std::string img = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
    const std::string lab = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
    if (!fs::exists(img) || !fs::exists(lab)) GTEST_SKIP() << "dataset-fashion-mnist not installed (scripts/install-deps.sh)";
    auto x = read_idx(img);
    ASSERT_TRUE(x.ok()) << x.status().message();
    EXPECT_EQ(x->dtype(), DType::U8);
    EXPECT_EQ(x->shape(), (Shape{10000, 28, 28}));
    auto y = read_idx(lab);
    ASSERT_TRUE(y.ok()) << y.status().message();
    EXPECT_EQ(y->shape(), (Shape{10000}));
    std::vector<int> counts(10, 0);
    for (int64_t i = 0; i < y->numel(); ++i) {
        ASSERT_LT(y->data<uint8_t>()[i], 10);
        ++counts[y->data<uint8_t>()[i]];
    }
    for (int c : counts) EXPECT_EQ(c, 1000);  // Fashion-MNIST t10k is balanced
}

TEST(Idx, MnistT10k) {
    EDGEQ_REQUIRE_SHARED(img, "assets/datasets/mnist/t10k-images-idx3-ubyte.gz");
    EDGEQ_REQUIRE_SHARED(lab, "assets/datasets/mnist/t10k-labels-idx1-ubyte.gz");
    auto x = read_idx(img.string());
    ASSERT_TRUE(x.ok()) << x.status().message();
    EXPECT_EQ(x->shape(), (Shape{10000, 28, 28}));
    auto y = read_idx(lab.string());
    ASSERT_TRUE(y.ok()) << y.status().message();
    EXPECT_EQ(y->shape(), (Shape{10000}));
    EXPECT_EQ(y->data<uint8_t>()[0], 7);  // the first MNIST test digit is a 7
}

TEST(Idx, PlainGzipAndCorrupt) {
    TempDir d;
    const Bytes good = idx_bytes({2, 3, 4}, 24);
    write_file(d / "a.idx", good);
    write_file(d / "a.idx.gz", gzip(good));
    for (const char* name : {"a.idx", "a.idx.gz"}) {
        auto t = read_idx((d / name).string());
        ASSERT_TRUE(t.ok()) << t.status().message();
        EXPECT_EQ(t->shape(), (Shape{2, 3, 4}));
        EXPECT_EQ(t->data<uint8_t>()[23], 23);
    }
    auto err = [&](const Bytes& b, StatusCode code, const std::string& needle, bool gz = false) {
        write_file(d / "bad", gz ? gzip(b) : b);
        expect_error(read_idx((d / "bad").string()).status(), code, needle);
    };
    err({0, 0}, StatusCode::kCorrupt, "too short");
    err({1, 2, 8, 1, 0, 0, 0, 0}, StatusCode::kCorrupt, "not an IDX file");
    err(idx_bytes({4}, 4, 0x0D), StatusCode::kUnsupported, "element type");
    err({0, 0, 8, 0}, StatusCode::kCorrupt, "0 dimensions");
    err({0, 0, 8, 3, 0, 0}, StatusCode::kCorrupt, "truncated in the dimensions");
    err(idx_bytes({2, 3, 4}, 23), StatusCode::kCorrupt, "needs 24 bytes, found 23");
    err(idx_bytes({2, 3, 4}, 23), StatusCode::kCorrupt, "needs 24 bytes, found 23", true);
    err(idx_bytes({2, 3, 4}, 25), StatusCode::kCorrupt, "data after");
    err(idx_bytes({0xFFFFFFFF, 0xFFFFFFFF}, 0), StatusCode::kCorrupt, "more than 2^40");
    // a gzip stream cut short
    Bytes gz = gzip(idx_bytes({100, 100}, 10000));
    gz.resize(gz.size() / 2);
    write_file(d / "cut.gz", gz);
    auto cut = read_idx((d / "cut.gz").string());
    EXPECT_FALSE(cut.ok());
    EXPECT_NE(cut.status().message().find("cut.gz"), std::string::npos) << cut.status().message();
    expect_error(read_idx((d / "missing.gz").string()).status(), StatusCode::kNotFound, "missing.gz");
}

TEST(Idx, PrefixReadsOnlyTheFirstItems) {
    TempDir d;
    const Bytes good = idx_bytes({5, 2, 3}, 30);
    write_file(d / "a.idx.gz", gzip(good));
    for (int64_t k : {0, 1, 3, 5, 9}) {
        int64_t items = -1;
        auto t = read_idx((d / "a.idx.gz").string(), k, &items);
        ASSERT_TRUE(t.ok()) << t.status().message();
        EXPECT_EQ(items, 5);
        const int64_t n = std::min<int64_t>(k, 5);
        EXPECT_EQ(t->shape(), (Shape{n, 2, 3}));
        for (int64_t i = 0; i < n * 6; ++i) EXPECT_EQ(t->data<uint8_t>()[i], i);
    }
    // Only the prefix is read: data missing (or extra) after it is not seen; the full read still reports it.
    write_file(d / "short.idx", idx_bytes({5, 2, 3}, 20));
    EXPECT_TRUE(read_idx((d / "short.idx").string(), 3).ok());
    expect_error(read_idx((d / "short.idx").string(), 4).status(), StatusCode::kCorrupt, "needs 24 bytes, found 20");
    expect_error(read_idx((d / "short.idx").string()).status(), StatusCode::kCorrupt, "needs 30 bytes, found 20");
    // The header is still checked in full.
    write_file(d / "huge.idx", idx_bytes({0xFFFFFFFF, 0xFFFFFFFF}, 0));
    expect_error(read_idx((d / "huge.idx").string(), 1).status(), StatusCode::kCorrupt, "more than 2^40");
}

// ---------------------------------------------------------------------------------------------------------
// .npz: archives built here (stored and deflated entries, optional ZIP64 extra fields as numpy writes them)

struct ZipEntry {
    std::string name;
    Bytes data;
    bool deflate = false;
};

void put(Bytes& b, uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

Bytes raw_deflate(const Bytes& in) {
    z_stream zs{};
    EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    Bytes out(deflateBound(&zs, static_cast<uLong>(in.size())) + 32);
    zs.next_in = const_cast<Bytef*>(in.data());
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

// zip64_cd: local and central sizes as 0xFFFFFFFF with the real ones in ZIP64 extra fields (as numpy.savez
// writes them with force_zip64).
Bytes make_zip(const std::vector<ZipEntry>& entries, bool zip64_cd = false) {
    Bytes out, cd;
    for (const auto& e : entries) {
        const Bytes body = e.deflate ? raw_deflate(e.data) : e.data;
        const uint32_t crc = static_cast<uint32_t>(crc32(crc32(0, Z_NULL, 0), e.data.data(), static_cast<uInt>(e.data.size())));
        const uint64_t off = out.size();
        put(out, 0x04034b50, 4);
        put(out, 20, 2);
        put(out, 0, 2);
        put(out, e.deflate ? 8 : 0, 2);
        put(out, 0, 4);
        put(out, crc, 4);
        put(out, zip64_cd ? 0xFFFFFFFFu : body.size(), 4);  // numpy's force_zip64: sizes in the extra field
        put(out, zip64_cd ? 0xFFFFFFFFu : e.data.size(), 4);
        put(out, e.name.size(), 2);
        put(out, zip64_cd ? 20 : 0, 2);
        out.insert(out.end(), e.name.begin(), e.name.end());
        if (zip64_cd) {
            put(out, 1, 2);
            put(out, 16, 2);
            put(out, e.data.size(), 8);
            put(out, body.size(), 8);
        }
        out.insert(out.end(), body.begin(), body.end());
        put(cd, 0x02014b50, 4);
        put(cd, 20, 2);
        put(cd, 20, 2);
        put(cd, 0, 2);
        put(cd, e.deflate ? 8 : 0, 2);
        put(cd, 0, 4);
        put(cd, crc, 4);
        put(cd, zip64_cd ? 0xFFFFFFFFu : body.size(), 4);
        put(cd, zip64_cd ? 0xFFFFFFFFu : e.data.size(), 4);
        put(cd, e.name.size(), 2);
        put(cd, zip64_cd ? 20 : 0, 2);
        put(cd, 0, 2);
        put(cd, 0, 2);
        put(cd, 0, 2);
        put(cd, 0, 4);
        put(cd, off, 4);
        cd.insert(cd.end(), e.name.begin(), e.name.end());
        if (zip64_cd) {
            put(cd, 1, 2);
            put(cd, 16, 2);
            put(cd, e.data.size(), 8);
            put(cd, body.size(), 8);
        }
    }
    const uint64_t cd_off = out.size();
    out.insert(out.end(), cd.begin(), cd.end());
    put(out, 0x06054b50, 4);
    put(out, 0, 2);
    put(out, 0, 2);
    put(out, entries.size(), 2);
    put(out, entries.size(), 2);
    put(out, cd.size(), 4);
    put(out, cd_off, 4);
    put(out, 0, 2);
    return out;
}

TEST(Npz, StoredAndDeflatedEntries) {
    TempDir d;
    Tensor a = Tensor::from_vector<float>(DType::F32, {2, 2}, {1, 2, 3, 4});
    Tensor b = Tensor::from_vector<int64_t>(DType::I64, {3}, {-1, 0, 1});
    Tensor big(DType::F32, {64, 64});  // compresses well
    for (bool z64 : {false, true}) {
        SCOPED_TRACE(z64 ? "zip64 extra fields" : "plain");
        write_file(d / "x.npz", make_zip({{"a.npy", encode_npy(a).value(), false},
                                           {"b.npy", encode_npy(b).value(), true},
                                           {"big.npy", encode_npy(big).value(), true},
                                           {"README.txt", str_bytes("not an array"), false},
                                           {"dir/", {}, false}},
                                          z64));
        auto m = read_npz((d / "x.npz").string());
        ASSERT_TRUE(m.ok()) << m.status().message();
        ASSERT_EQ(m->size(), 3u);
        EXPECT_EQ(m->at("a").to_f32(), (std::vector<float>{1, 2, 3, 4}));
        EXPECT_EQ(m->at("b").to_i64(), (std::vector<int64_t>{-1, 0, 1}));
        EXPECT_EQ(m->at("big").shape(), (Shape{64, 64}));
    }
}

TEST(Npz, CorruptArchives) {
    TempDir d;
    const Bytes npy = encode_npy(Tensor::from_vector<float>(DType::F32, {4}, {1, 2, 3, 4})).value();
    const Bytes good = make_zip({{"x.npy", npy, true}});
    auto err = [&](const Bytes& b, StatusCode code, const std::string& needle) {
        write_file(d / "bad.npz", b);
        expect_error(read_npz((d / "bad.npz").string()).status(), code, needle);
    };
    err(Bytes(10, 0), StatusCode::kCorrupt, "too short");
    err(Bytes(100, 0), StatusCode::kCorrupt, "no zip end-of-central-directory");
    const size_t cd_crc = good.size() - 22 - (46 + 5) + 16;  // the central directory's CRC (the one checked)
    Bytes crc = good;
    crc[cd_crc] ^= 0xff;
    err(crc, StatusCode::kCorrupt, "CRC-32 mismatch");
    Bytes cdoff = good;
    cdoff[good.size() - 6] = 0xff;  // central directory offset far past the end
    cdoff[good.size() - 5] = 0xff;
    err(cdoff, StatusCode::kCorrupt, "lies outside the file");
    // data corrupted inside the deflate stream
    Bytes body = good;
    for (size_t i = 30 + 5; i < 30 + 5 + 8; ++i) body[i] ^= 0x5a;
    write_file(d / "bad.npz", body);
    EXPECT_FALSE(read_npz((d / "bad.npz").string()).ok());
    // the entry is a broken .npy: the message names archive and entry
    Bytes short_npy(npy.begin(), npy.end() - 2);
    err(make_zip({{"x.npy", short_npy, false}}), StatusCode::kCorrupt, "bad.npz: x.npy: .npy data is truncated");
    // unsupported compression method
    Bytes bz = make_zip({{"x.npy", npy, false}});
    bz[8] = 12;                                  // local header method
    bz[bz.size() - 22 - (46 + 5) + 10] = 12;     // central directory method
    err(bz, StatusCode::kUnsupported, "compression method 12");
    err(make_zip({{"x.npy", npy, false}, {"x.npy", npy, false}}), StatusCode::kCorrupt, "appears twice");
    expect_error(read_npz((d / "none.npz").string()).status(), StatusCode::kNotFound, "none.npz");
}

}  // namespace
}  // namespace edgeq::data
