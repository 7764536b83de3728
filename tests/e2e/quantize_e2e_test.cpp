// End-to-end: `edgeq quantize` against llama.cpp's own outputs (../shared/fixtures), the llama2.c converter
// against the reference converter's GGUF, and the CLI's behaviour on bad input.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "common/shared.h"
#include "e2e/cli_util.h"
#include "formats/gguf/gguf.h"
#include "quant/gguf_quantize.h"

namespace edgeq {
namespace {

namespace fs = std::filesystem;

std::unique_ptr<gguf::File> open_or_die(const fs::path& p) {
    auto f = gguf::File::open(p.string());
    EXPECT_TRUE(f.ok()) << f.status().message();
    return f.ok() ? std::move(f).value() : nullptr;
}

// Same tensors (names, order, types, shapes) and the same tensor bytes.
void expect_same_tensors(const gguf::File& a, const gguf::File& b, bool compare_bytes) {
    ASSERT_EQ(a.tensors().size(), b.tensors().size());
    for (size_t i = 0; i < a.tensors().size(); ++i) {
        const auto& ta = a.tensors()[i];
        const auto* tb = b.find_tensor(ta.name);
        ASSERT_NE(tb, nullptr) << ta.name;
        EXPECT_EQ(dtype_name(ta.type), std::string(dtype_name(tb->type))) << "tensor " << ta.name;
        EXPECT_EQ(ta.ne, tb->ne) << ta.name;
        if (compare_bytes && ta.type == tb->type) {
            auto da = a.tensor_data(ta), db = b.tensor_data(*tb);
            EXPECT_TRUE(da.size() == db.size() && std::equal(da.begin(), da.end(), db.begin()))
                << "tensor bytes differ: " << ta.name;
        }
    }
}

struct Variant {
    const char* model_dir;   // under shared/
    const char* f32;         // F32 source under shared/
    const char* prefix;      // fixture file prefix
    const char* type;
};

class LlamaCppFileTypes : public ::testing::TestWithParam<Variant> {};

// edgeq quantize (F32 fixture GGUF -> TYPE) chooses the same type for every tensor as llama.cpp, and since the
// codecs are ggml-exact, writes the very same file, byte for byte.
TEST_P(LlamaCppFileTypes, SameTensorTypesAndBytesAsLlamaCpp) {
    const Variant v = GetParam();
    EDGEQ_REQUIRE_SHARED(src, v.f32);
    EDGEQ_REQUIRE_SHARED(ref, std::string(v.model_dir) + "/" + v.prefix + "-" + v.type + ".gguf");
    const fs::path out = tmp_dir() / (std::string(v.prefix) + "-" + v.type + ".gguf");
    QuantizeParams p;
    p.input = src.string();
    p.output = out.string();
    p.file_type = v.type;
    p.threads = 2;
    auto rep = quantize_model(p);
    ASSERT_TRUE(rep.ok()) << rep.status().message();
    auto a = open_or_die(out), b = open_or_die(ref);
    ASSERT_TRUE(a && b);
    expect_same_tensors(*a, *b, true);
    EXPECT_TRUE(slurp(out) == slurp(ref)) << "file differs from llama.cpp's " << ref;
    fs::remove(out);
}

INSTANTIATE_TEST_SUITE_P(
    Stories260K, LlamaCppFileTypes,
    ::testing::Values(Variant{"fixtures/llm/models", "fixtures/llm/models/stories260K-F32.gguf", "stories260K", "Q8_0"},
                      Variant{"fixtures/llm/models", "fixtures/llm/models/stories260K-F32.gguf", "stories260K", "Q4_0"},
                      Variant{"fixtures/llm/models", "fixtures/llm/models/stories260K-F32.gguf", "stories260K", "Q4_K_M"},
                      Variant{"fixtures/llm/models", "fixtures/llm/models/stories260K-F32.gguf", "stories260K", "Q5_K_S"},
                      Variant{"fixtures/llm/models", "fixtures/llm/models/stories260K-F32.gguf", "stories260K", "Q6_K"},
                      Variant{"fixtures/llm/models", "fixtures/llm/models/stories260K-F32.gguf", "stories260K", "Q2_K"}),
    [](const auto& i) { return std::string(i.param.type); });

#define SHAKESPEARE(T)                                                                                         \
    Variant {                                                                                                  \
        "fixtures/llm-shakespeare/models", "assets/llm/shakespeare-wiki-4M/shakespeare-wiki-4M-F32.gguf",     \
            "shakespeare-wiki-4M", T                                                                           \
    }
INSTANTIATE_TEST_SUITE_P(Shakespeare4M, LlamaCppFileTypes,
                         ::testing::Values(SHAKESPEARE("Q8_0"), SHAKESPEARE("Q6_K"), SHAKESPEARE("Q5_K_M"),
                                           SHAKESPEARE("Q5_K_S"), SHAKESPEARE("Q4_K_M"), SHAKESPEARE("Q4_K_S"),
                                           SHAKESPEARE("Q4_0"), SHAKESPEARE("Q3_K_M"), SHAKESPEARE("Q2_K"),
                                           SHAKESPEARE("IQ4_NL"), SHAKESPEARE("TQ2_0")),
                         [](const auto& i) { return std::string(i.param.type); });

// F16: llama.cpp's MOSTLY_F16 output has the same tensor bytes as the fixture (see fixtures README, f16_crosscheck).
TEST(Quantize, F16TensorsEqualLlamaCpp) {
    EDGEQ_REQUIRE_SHARED(src, "fixtures/llm/models/stories260K-F32.gguf");
    EDGEQ_REQUIRE_SHARED(ref, "fixtures/llm/models/stories260K-F16.gguf");
    const fs::path out = tmp_dir() / "s-F16.gguf";
    QuantizeParams p;
    p.input = src.string();
    p.output = out.string();
    p.file_type = "F16";
    auto rep = quantize_model(p);
    ASSERT_TRUE(rep.ok()) << rep.status().message();
    auto a = open_or_die(out), b = open_or_die(ref);
    ASSERT_TRUE(a && b);
    expect_same_tensors(*a, *b, true);
}

// --from-llama2c: same tensors (bytes) and tokenizer as the reference converter's F32 GGUF.
void check_llama2c(const std::string& bin, const std::string& ref_gguf) {
    EDGEQ_REQUIRE_SHARED(ck, bin);
    EDGEQ_REQUIRE_SHARED(tok, "assets/llm/stories260K/tok512.bin");
    EDGEQ_REQUIRE_SHARED(ref, ref_gguf);
    const fs::path out = tmp_dir() / "l2c-F32.gguf";
    auto r = run_cli({"quantize", ck.string(), out.string(), "F32", "--from-llama2c", tok.string()});
    ASSERT_EQ(r.rc, 0) << r.err;
    auto a = open_or_die(out), b = open_or_die(ref);
    ASSERT_TRUE(a && b);
    expect_same_tensors(*a, *b, true);
    for (const auto& kv : b->kvs()) {
        if (kv.key == "general.source.description" || kv.key == "general.license") continue;
        const auto* mine = a->find(kv.key);
        ASSERT_NE(mine, nullptr) << "missing key " << kv.key;
        EXPECT_EQ(mine->to_string(SIZE_MAX), kv.value.to_string(SIZE_MAX)) << kv.key;
        EXPECT_EQ(mine->type, kv.value.type) << kv.key;
    }
}
TEST(Llama2c, Stories260KMatchesReferenceConverter) {
    check_llama2c("assets/llm/stories260K/stories260K.bin", "fixtures/llm/models/stories260K-F32.gguf");
}
TEST(Llama2c, UnsharedClassifierMatchesReferenceConverter) {
    check_llama2c("assets/llm/shakespeare-wiki-4M/shakespeare-wiki-4M.bin",
                  "assets/llm/shakespeare-wiki-4M/shakespeare-wiki-4M-F32.gguf");
}

// Builds an imatrix GGUF (llama.cpp layout) with skewed importances for every 2-D weight of a model.
fs::path make_imatrix(const gguf::File& model, uint32_t seed) {
    std::mt19937 rng(seed);
    std::lognormal_distribution<float> dist(0.0f, 1.5f);
    gguf::Writer w;
    w.set("general.type", gguf::Value::Str("imatrix"));
    w.set("imatrix.datasets", gguf::Value::Array(gguf::ValueType::STRING, {gguf::Value::Str("synthetic")}));
    w.set("imatrix.chunk_count", gguf::Value::U32v(10));
    w.set("imatrix.chunk_size", gguf::Value::U32v(512));
    for (const auto& t : model.tensors()) {
        if (t.ne.size() < 2 || t.name.find("_norm") != std::string::npos) continue;
        std::vector<float> sums(static_cast<size_t>(t.ne[0]));
        for (auto& s : sums) s = dist(rng) * 100.0f;
        const float count = 100.0f;
        std::vector<uint8_t> sb(sums.size() * 4), cb(4);
        std::memcpy(sb.data(), sums.data(), sb.size());
        std::memcpy(cb.data(), &count, 4);
        EXPECT_TRUE(w.add_tensor_owned(t.name + ".in_sum2", DType::F32, {t.ne[0], 1}, std::move(sb)).ok());
        EXPECT_TRUE(w.add_tensor_owned(t.name + ".counts", DType::F32, {1, 1}, std::move(cb)).ok());
    }
    const fs::path p = tmp_dir() / "imatrix.gguf";
    EXPECT_TRUE(w.write(p.string()).ok());
    return p;
}

// Importance-weighted squared error of a quantized tensor against the F32 source.
double weighted_err(const gguf::File& q, const gguf::File& src, const std::string& name, const std::vector<float>& w) {
    const auto* tq = q.find_tensor(name);
    const auto* ts = src.find_tensor(name);
    const int64_t ne0 = ts->ne[0];
    std::vector<float> row(static_cast<size_t>(ne0));
    const size_t rs = row_size(tq->type, ne0);
    double e = 0;
    for (int64_t r = 0; r < ts->n_rows(); ++r) {
        dequantize_row(tq->type, q.tensor_data(*tq).data() + static_cast<size_t>(r) * rs, row.data(), ne0);
        const auto* x = reinterpret_cast<const float*>(src.tensor_data(*ts).data()) + r * ne0;
        for (int64_t j = 0; j < ne0; ++j) e += w[static_cast<size_t>(j)] * (row[j] - x[j]) * (row[j] - x[j]);
    }
    return e;
}

TEST(Quantize, ImatrixLowersWeightedErrorAndKeepsTypes) {
    EDGEQ_REQUIRE_SHARED(src, "assets/llm/shakespeare-wiki-4M/shakespeare-wiki-4M-F32.gguf");
    auto s = open_or_die(src);
    ASSERT_TRUE(s);
    const fs::path imx = make_imatrix(*s, 7);
    const fs::path plain = tmp_dir() / "imx-plain.gguf", weighted = tmp_dir() / "imx-weighted.gguf";
    ASSERT_EQ(run_cli({"quantize", src.string(), plain.string(), "Q4_K_M"}).rc, 0);
    auto r = run_cli({"quantize", src.string(), weighted.string(), "Q4_K_M", "--imatrix", imx.string()});
    ASSERT_EQ(r.rc, 0) << r.err;
    auto a = open_or_die(plain), b = open_or_die(weighted);
    auto im = open_or_die(imx);
    ASSERT_TRUE(a && b && im);
    expect_same_tensors(*a, *b, false);  // the imatrix changes rounding, not types
    ASSERT_NE(b->find("quantize.imatrix.file"), nullptr);
    EXPECT_EQ(b->find("quantize.imatrix.entries_count")->as_int(), 30);
    int better = 0, total = 0;
    for (const auto& t : a->tensors()) {
        if (t.type == DType::F32) continue;
        const auto* sums = im->find_tensor(t.name + ".in_sum2");
        ASSERT_NE(sums, nullptr);
        std::vector<float> w(static_cast<size_t>(t.ne[0]));
        std::memcpy(w.data(), im->tensor_data(*sums).data(), w.size() * 4);
        const double ep = weighted_err(*a, *s, t.name, w), ew = weighted_err(*b, *s, t.name, w);
        ++total;
        if (ew < ep) ++better;
    }
    EXPECT_EQ(better, total) << "imatrix-weighted error should drop on every quantized tensor";
}

TEST(Quantize, OverridesAndPure) {
    EDGEQ_REQUIRE_SHARED(src, "assets/llm/shakespeare-wiki-4M/shakespeare-wiki-4M-F32.gguf");
    const fs::path out = tmp_dir() / "ovr.gguf";
    auto r = run_cli({"quantize", src.string(), out.string(), "Q4_K_M", "--tensor-type", "ffn_(up|gate)=Q8_0",
                      "--tensor-type", "attn_q=Q5_0", "--output-tensor-type", "Q8_0", "--token-embedding-type", "F16"});
    ASSERT_EQ(r.rc, 0) << r.err;
    auto f = open_or_die(out);
    ASSERT_TRUE(f);
    for (const auto& t : f->tensors()) {
        std::string want;
        if (t.name == "output.weight") want = "Q8_0";
        else if (t.name == "token_embd.weight") want = "F16";
        else if (t.name.find("ffn_up") != std::string::npos || t.name.find("ffn_gate") != std::string::npos) want = "Q8_0";
        else if (t.name.find("attn_q") != std::string::npos) want = "Q5_0";
        else if (t.ne.size() == 1) want = "F32";
        else continue;
        EXPECT_EQ(dtype_name(t.type), want) << t.name;
    }
    ASSERT_EQ(run_cli({"quantize", src.string(), out.string(), "Q4_K_M", "--pure"}).rc, 0);
    f = open_or_die(out);
    ASSERT_TRUE(f);
    for (const auto& t : f->tensors()) EXPECT_EQ(dtype_name(t.type), std::string(t.ne.size() == 1 ? "F32" : "Q4_K")) << t.name;
}

TEST(QuantizeCli, BadInputGivesOneLineAndNoFile) {
    EDGEQ_REQUIRE_SHARED(src, "fixtures/llm/models/stories260K-F32.gguf");
    EDGEQ_REQUIRE_SHARED(q8, "fixtures/llm/models/stories260K-Q8_0.gguf");
    const fs::path out = tmp_dir() / "bad" / "out.gguf";
    fs::create_directories(out.parent_path());
    expect_one_line_error(run_cli({"quantize", "/nonexistent/model.gguf", out.string(), "Q4_0"}), "no such file");
    expect_one_line_error(run_cli({"quantize", src.string(), out.string(), "Q9_9"}), "unknown type 'Q9_9'");
    expect_one_line_error(run_cli({"quantize", src.string(), out.string(), "Q4_K_M", "--pure"}),
                          "is not a multiple of 256, required by type Q4_K (chosen by --pure)");
    expect_one_line_error(run_cli({"quantize", src.string(), out.string(), "Q8_0", "--tensor-type", "ffn_down=Q4_K"}),
                          "required by type Q4_K");
    expect_one_line_error(run_cli({"quantize", src.string(), out.string(), "Q8_0", "--output-tensor-type", "Q7"}),
                          "unknown tensor type 'Q7'");
    expect_one_line_error(run_cli({"quantize", src.string(), out.string(), "Q8_0", "--tensor-type", "([=Q8_0"}),
                          "bad regular expression");
    expect_one_line_error(run_cli({"quantize", q8.string(), out.string(), "Q4_0"}), "--allow-requantize");
    expect_one_line_error(run_cli({"quantize", src.string(), out.string(), "Q4_0", "--imatrix", src.string()}),
                          "not a llama.cpp imatrix");
    // a corrupt input: the first 1000 bytes of a model
    const fs::path trunc = tmp_dir() / "bad" / "trunc.gguf";
    {
        const std::string all = slurp(src);
        std::ofstream(trunc, std::ios::binary).write(all.data(), 1000);
    }
    auto r = run_cli({"quantize", trunc.string(), out.string(), "Q4_0"});
    EXPECT_NE(r.rc, 0);
    EXPECT_NE(r.err.find("trunc.gguf"), std::string::npos) << r.err;
    fs::remove(trunc);
    // "disk full": the output may not exceed 100 kB
    expect_one_line_error(run_cli({"quantize", "-q", src.string(), out.string(), "Q8_0"}, 100000), "write failed");
    EXPECT_TRUE(no_leftovers(out)) << "partial output left in " << out.parent_path();
}

// Multi-threaded quantization (rows split over threads) writes the same bytes as one thread.
TEST(QuantizeCli, ThreadCountDoesNotChangeOutput) {
    EDGEQ_REQUIRE_SHARED(src, "assets/llm/shakespeare-wiki-4M/shakespeare-wiki-4M-F32.gguf");
    const fs::path a = tmp_dir() / "t1.gguf", b = tmp_dir() / "t3.gguf";
    ASSERT_EQ(run_cli({"quantize", "-q", "-t", "1", src.string(), a.string(), "Q3_K_M"}).rc, 0);
    ASSERT_EQ(run_cli({"quantize", "-q", "-t", "3", src.string(), b.string(), "Q3_K_M"}).rc, 0);
    EXPECT_TRUE(slurp(a) == slurp(b));
}

TEST(QuantizeCli, FailedRunKeepsExistingOutput) {
    EDGEQ_REQUIRE_SHARED(src, "fixtures/llm/models/stories260K-F32.gguf");
    const fs::path out = tmp_dir() / "keep.gguf";
    ASSERT_EQ(run_cli({"quantize", src.string(), out.string(), "Q8_0"}).rc, 0);
    const std::string before = slurp(out);
    EXPECT_NE(run_cli({"quantize", src.string(), out.string(), "Q4_0"}, 50000).rc, 0);
    EXPECT_TRUE(slurp(out) == before) << "a failed run must leave the previous file untouched";
}

}  // namespace
}  // namespace edgeq
