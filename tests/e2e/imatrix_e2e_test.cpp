// `edgeq imatrix`: stories260K F32 on tinystories_sample.txt -> a llama-imatrix GGUF that load_imatrix reads
// and `edgeq quantize --imatrix` uses; quantizing with it lowers the KL divergence against the F32 logits.
// Bad input gives one clear line.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/shared.h"
#include "e2e/cli_util.h"
#include "formats/gguf/gguf.h"
#include "quant/imatrix.h"

namespace edgeq {
namespace {

constexpr const char* kImxModel = "fixtures/llm/models/stories260K-F32.gguf";
constexpr const char* kImxText = "assets/datasets/text/tinystories_sample.txt";

double kld_mean(const fs::path& model, const fs::path& text, const fs::path& base) {
    const auto r = run_cli({"perplexity", model.string(), "-f", text.string(), "--ctx", "128", "-q",
                            "--kl-base", base.string(), "--json"});
    EXPECT_EQ(r.rc, 0) << r.err;
    if (r.rc != 0) return -1.0;
    return nlohmann::json::parse(r.out).at("kld_mean").get<double>();
}

TEST(ImatrixCli, WritesLlamaImatrixThatLowersQuantizedKld) {
    EDGEQ_REQUIRE_SHARED(model, kImxModel);
    EDGEQ_REQUIRE_SHARED(text, kImxText);
    const fs::path im = tmp_dir() / "imatrix.gguf";
    const auto r =
        run_cli({"imatrix", model.string(), "-f", text.string(), "-o", im.string(), "--ctx", "128"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.err.find("edgeq imatrix: chunk 1/"), std::string::npos) << r.err;   // progress on stderr
    EXPECT_NE(r.out.find("wrote 35 imatrix entries"), std::string::npos) << r.out;  // 5 layers x 7 weights
    EXPECT_TRUE(no_leftovers(tmp_dir() / "imatrix.gguf.tmp"));

    auto loaded = load_imatrix(im.string());
    ASSERT_TRUE(loaded.ok()) << loaded.status().message();
    EXPECT_EQ(loaded->entries.size(), 35u);
    ASSERT_EQ(loaded->datasets.size(), 1u);
    EXPECT_EQ(loaded->datasets[0], text.string());
    EXPECT_GE(loaded->chunk_count, 1);
    EXPECT_EQ(loaded->find("output.weight"), nullptr);  // llama-imatrix default: blk.* only
    ASSERT_NE(loaded->find("blk.2.ffn_down.weight"), nullptr);
    EXPECT_EQ(loaded->find("blk.2.ffn_down.weight")->size(), 172u);  // n_ff

    // Every weight saw every token of every chunk.
    auto f = gguf::File::open(im.string());
    ASSERT_TRUE(f.ok());
    EXPECT_EQ((*f)->find("general.type")->str, "imatrix");
    EXPECT_EQ((*f)->find("imatrix.chunk_size")->as_int(), 128);
    const float want = static_cast<float>(loaded->chunk_count * 128);
    for (const auto& t : (*f)->tensors()) {
        if (t.name.size() < 7 || t.name.substr(t.name.size() - 7) != ".counts") continue;
        float cnt = 0;
        std::memcpy(&cnt, (*f)->tensor_data(t).data(), sizeof cnt);
        EXPECT_EQ(cnt, want) << t.name;
    }

    // --process-output adds the classifier; --quiet prints nothing.
    const fs::path im_out = tmp_dir() / "imatrix_out.gguf";
    const auto q = run_cli({"imatrix", model.string(), "-f", text.string(), "-o", im_out.string(), "--ctx",
                            "128", "--chunks", "2", "--process-output", "--quiet"});
    ASSERT_EQ(q.rc, 0) << q.err;
    EXPECT_EQ(q.err, "");
    EXPECT_EQ(q.out, "");
    auto lo = load_imatrix(im_out.string());
    ASSERT_TRUE(lo.ok()) << lo.status().message();
    EXPECT_EQ(lo->entries.size(), 36u);
    EXPECT_EQ(lo->chunk_count, 2);
    EXPECT_NE(lo->find("output.weight"), nullptr);

    // Quantized with and without the imatrix, KLD against the F32 logits on the same text. Q3_K_S falls back
    // to Q4_0 on stories260K's 64-wide rows (F16 for ffn_down); IQ4_NL quantizes them directly.
    const fs::path base = tmp_dir() / "imatrix_base.npy";
    const auto s = run_cli({"perplexity", model.string(), "-f", text.string(), "--ctx", "128", "-q",
                            "--save-logits", base.string()});
    ASSERT_EQ(s.rc, 0) << s.err;
    for (const char* type : {"Q3_K_S", "IQ4_NL"}) {
        const fs::path plain = tmp_dir() / (std::string("plain_") + type + ".gguf");
        const fs::path withi = tmp_dir() / (std::string("imatrix_") + type + ".gguf");
        const auto a = run_cli({"quantize", model.string(), plain.string(), type});
        ASSERT_EQ(a.rc, 0) << a.err;
        const auto b = run_cli({"quantize", model.string(), withi.string(), type, "--imatrix", im.string()});
        ASSERT_EQ(b.rc, 0) << b.err;
        auto qf = gguf::File::open(withi.string());
        ASSERT_TRUE(qf.ok());
        EXPECT_NE((*qf)->find("quantize.imatrix.file"), nullptr);
        const double k_plain = kld_mean(plain, text, base), k_im = kld_mean(withi, text, base);
        std::printf("%s: KLD plain %.6f, with imatrix %.6f\n", type, k_plain, k_im);
        std::fflush(stdout);  // before the next fork: the child would write the buffer again
        EXPECT_GT(k_plain, 0.0) << type;
        EXPECT_GT(k_im, 0.0) << type;
        EXPECT_LT(k_im, k_plain) << type;
    }
}

TEST(ImatrixCli, ErrorsAreOneLine) {
    EDGEQ_REQUIRE_SHARED(model, kImxModel);
    EDGEQ_REQUIRE_SHARED(text, kImxText);
    const std::string m = model.string(), t = text.string();
    const fs::path out = tmp_dir() / "never_imatrix.gguf";
    const std::string o = out.string();
    expect_one_line_error(run_cli({"imatrix", m, "-f", "/nonexistent/text.txt", "-o", o}),
                          "/nonexistent/text.txt");
    expect_one_line_error(run_cli({"imatrix", "/nonexistent/model.gguf", "-f", t, "-o", o}),
                          "/nonexistent/model.gguf");
    expect_one_line_error(run_cli({"imatrix", m, "-f", t, "-o", o, "--ctx", "1024"}),
                          "--ctx 1024 is larger than the model's trained context of 512");
    const fs::path tiny = tmp_dir() / "imatrix_tiny.txt";
    std::ofstream(tiny) << "Once upon a time";
    expect_one_line_error(run_cli({"imatrix", m, "-f", tiny.string(), "-o", o, "--ctx", "64"}),
                          "fewer than one chunk of 64");
    expect_one_line_error(run_cli({"imatrix", m, "-f", t, "-o", "/nonexistent/dir/im.gguf", "--ctx", "64",
                                   "--chunks", "1", "-q"}),
                          "/nonexistent/dir/im.gguf");
    EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace edgeq
