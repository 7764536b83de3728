// `edgeq perplexity`: PPL on stories260K equals llama.cpp's (shared/fixtures/llm/llm_results.json, 255
// predictions over the first 256 tokens of tinystories_sample.txt), --save-logits writes those 256 positions'
// logits,
// --kl-base compares against them, progress goes to stderr, and bad input gives one clear line.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/shared.h"
#include "e2e/cli_util.h"
#include "formats/data/npy.h"

namespace edgeq {
namespace {

constexpr const char* kPplText = "assets/datasets/text/tinystories_sample.txt";

nlohmann::json ppl_llm_results() {
    const auto p = test::shared_file("fixtures/llm/llm_results.json");
    if (p.empty()) return {};
    std::ifstream in(p);
    return nlohmann::json::parse(in);
}

nlohmann::json ppl_json(const std::vector<std::string>& args) {
    std::vector<std::string> a{"perplexity"};
    a.insert(a.end(), args.begin(), args.end());
    a.push_back("--json");
    const auto r = run_cli(a);
    EXPECT_EQ(r.rc, 0) << r.err;
    if (r.rc != 0) return {};
    return nlohmann::json::parse(r.out);
}

// F32 and F16: PPL equals llama.cpp's within 0.5 % (the target).
class PerplexityStories : public ::testing::TestWithParam<const char*> {};

TEST_P(PerplexityStories, MatchesLlamaCpp) {
    const std::string v = GetParam();
    EDGEQ_REQUIRE_SHARED(model, "fixtures/llm/models/stories260K-" + v + ".gguf");
    EDGEQ_REQUIRE_SHARED(text, kPplText);
    EDGEQ_REQUIRE_SHARED(results, "fixtures/llm/llm_results.json");
    const double want = ppl_llm_results()["variants"][v]["ppl"].get<double>();
    const auto j = ppl_json({model.string(), "-f", text.string(), "--ctx", "256", "--chunks", "1", "-q"});
    ASSERT_FALSE(j.is_null());
    EXPECT_EQ(j["chunks"], 1);
    EXPECT_EQ(j["positions"], 256);
    EXPECT_EQ(j["predictions"], 255);
    EXPECT_EQ(j["text_tokens"], 1883);  // tokens_tinystories_sample.json: llama.cpp gives 1883 ids
    const double ppl = j["ppl"].get<double>();
    std::printf("stories260K %s: PPL %.6f, llama.cpp %.6f\n", v.c_str(), ppl, want);
    EXPECT_NEAR(ppl, want, 0.005 * want);
    // F32: same weights, same activations; measured 1e-7 relative. (F16: -1.2e-4; ggml rounds the activations
    // of F16 matmuls to F16.)
    if (v == "F32") {
        EXPECT_NEAR(ppl, want, 1e-5 * want);
    }
}

INSTANTIATE_TEST_SUITE_P(Stories260K, PerplexityStories, ::testing::Values("F32", "F16"));

TEST(PerplexityCli, SavedLogitsAreTheFirst256PositionsAndKlAgainstThemIsZero) {
    EDGEQ_REQUIRE_SHARED(model, "fixtures/llm/models/stories260K-F32.gguf");
    EDGEQ_REQUIRE_SHARED(text, kPplText);
    EDGEQ_REQUIRE_SHARED(ref, "fixtures/llm/logits/logits_F32.npy");
    const fs::path base = tmp_dir() / "base_f32.npy";
    const auto s = ppl_json({model.string(), "-f", text.string(), "--ctx", "256", "--chunks", "1", "-q",
                             "--save-logits", base.string()});
    ASSERT_FALSE(s.is_null());
    EXPECT_EQ(s["logits_shape"], nlohmann::json::array({256, 512}));

    auto ours = data::read_npy(base.string());
    ASSERT_TRUE(ours.ok()) << ours.status().message();
    auto theirs = data::read_npy(ref.string());
    ASSERT_TRUE(theirs.ok()) << theirs.status().message();
    ASSERT_EQ(ours->shape(), (Shape{256, 512}));
    ASSERT_EQ(theirs->shape(), ours->shape());
    const float* a = ours->data<float>();
    const float* b = theirs->data<float>();
    double max_diff = 0.0;
    for (int64_t i = 0; i < ours->numel(); ++i) max_diff = std::max(max_diff, std::fabs(double(a[i]) - b[i]));
    EXPECT_LE(max_diff, 1e-3) << "saved logits vs llama.cpp's logits_F32.npy";

    const auto k = ppl_json({model.string(), "-f", text.string(), "--ctx", "256", "--chunks", "1", "-q",
                             "--kl-base", base.string()});
    ASSERT_FALSE(k.is_null());
    EXPECT_EQ(k["kld_mean"].get<double>(), 0.0);
    EXPECT_EQ(k["kld_max"].get<double>(), 0.0);
    EXPECT_EQ(k["top1_agreement"].get<double>(), 1.0);
    EXPECT_EQ(k["dp_rms"].get<double>(), 0.0);
    EXPECT_DOUBLE_EQ(k["ppl_base"].get<double>(), k["ppl"].get<double>());
    EXPECT_DOUBLE_EQ(k["ppl"].get<double>(), s["ppl"].get<double>());
}

// --llama-order: Q8_0 products in llama.cpp's x86 order, so the saved logits are llama.cpp's logits_Q8_0.npy bit for
// bit (without it they agree to top-1 99.6 %, docs/llm/runtime.md).
TEST(PerplexityCli, LlamaOrderQ8_0LogitsEqualLlamaCpps) {
    EDGEQ_REQUIRE_SHARED(model, "fixtures/llm/models/stories260K-Q8_0.gguf");
    EDGEQ_REQUIRE_SHARED(text, kPplText);
    EDGEQ_REQUIRE_SHARED(ref, "fixtures/llm/logits/logits_Q8_0.npy");
    const fs::path out = tmp_dir() / "q8_llama_order.npy";
    const auto s = ppl_json({model.string(), "-f", text.string(), "--ctx", "256", "--chunks", "1", "-q",
                             "--llama-order", "--save-logits", out.string()});
    ASSERT_FALSE(s.is_null());
    auto ours = data::read_npy(out.string());
    ASSERT_TRUE(ours.ok()) << ours.status().message();
    auto theirs = data::read_npy(ref.string());
    ASSERT_TRUE(theirs.ok()) << theirs.status().message();
    ASSERT_EQ(ours->shape(), theirs->shape());
    EXPECT_EQ(std::memcmp(ours->data<float>(), theirs->data<float>(), static_cast<size_t>(ours->numel()) * 4), 0);
}

// A quantized model against llama.cpp's own F32 logits as the base. llama.cpp quantizes the activations of
// quantized matmuls to Q8_0/Q8_K; the fixtures' float64 forward on the dequantized weights
// (dequant_f64_forward) does not. edgeq's KLD must lie between the two (2 % slack), whichever kind of matmul
// src/llm/model.cpp uses; with ggml's activation quantization it is within 0.5 % of llama.cpp's
// (docs/llm/perplexity.md).
TEST(PerplexityCli, QuantizedAgainstLlamaCppF32Logits) {
    EDGEQ_REQUIRE_SHARED(model, "fixtures/llm/models/stories260K-Q4_0.gguf");
    EDGEQ_REQUIRE_SHARED(text, kPplText);
    EDGEQ_REQUIRE_SHARED(ref, "fixtures/llm/logits/logits_F32.npy");
    EDGEQ_REQUIRE_SHARED(results, "fixtures/llm/llm_results.json");
    const auto fx = ppl_llm_results()["variants"]["Q4_0"];
    const auto j = ppl_json({model.string(), "-f", text.string(), "--ctx", "256", "--chunks", "1", "-q",
                             "--kl-base", ref.string()});
    ASSERT_FALSE(j.is_null());
    const double kld = j["kld_mean"].get<double>(), want_kld = fx["kl_vs_F32_mean"].get<double>();
    const double wkld = fx["dequant_f64_forward"]["kl_vs_F32_mean"].get<double>();
    std::printf(
        "stories260K Q4_0 vs llama.cpp F32: PPL %.5f (llama.cpp %.5f, f64 weight-only %.5f), KLD mean %.6f "
        "(llama.cpp %.6f, f64 weight-only %.6f), max %.4f (llama.cpp %.4f), top-1 %.4f (llama.cpp %.4f)\n",
        j["ppl"].get<double>(), fx["ppl"].get<double>(), fx["dequant_f64_forward"]["ppl"].get<double>(), kld,
        want_kld, wkld, j["kld_max"].get<double>(), fx["kl_vs_F32_max"].get<double>(),
        j["top1_agreement"].get<double>(), fx["top1_agreement_vs_F32"].get<double>());
    // Between the F32-activation (weight-only) KLD and llama.cpp's, with 2 % to spare.
    EXPECT_GE(kld, 0.98 * std::min(wkld, want_kld));
    EXPECT_LE(kld, 1.02 * std::max(wkld, want_kld));
    EXPECT_NEAR(j["ppl"].get<double>(), fx["ppl"].get<double>(), 0.005 * fx["ppl"].get<double>());
    EXPECT_GT(j["kld_max"].get<double>(), kld);
    EXPECT_LT(j["top1_agreement"].get<double>(), 1.0);
    EXPECT_GT(j["top1_agreement"].get<double>(), 0.75);
    EXPECT_GT(j["dp_rms"].get<double>(), 0.0);
    // ppl_base is the F32 reference's PPL on the same tokens: llama.cpp's F32 PPL.
    EXPECT_NEAR(j["ppl_base"].get<double>(), ppl_llm_results()["variants"]["F32"]["ppl"].get<double>(), 1e-6);
}

// The fixture's llama.cpp F32 logits [2, 256, 512] written as one [256, 512] .npy per chunk (a chunk's --kl-base);
// empty paths when the file is not of that shape or cannot be written.
std::array<fs::path, 2> f32_chunk_bases(const fs::path& logits, const std::string& stem) {
    auto all = data::read_npy(logits.string());
    if (!all.ok() || all->shape() != Shape{2, 256, 512}) return {};
    const std::vector<float> flat = all->to_f32();
    std::array<fs::path, 2> out;
    for (int c = 0; c < 2; ++c) {
        const std::vector<float> chunk(flat.begin() + c * 256 * 512, flat.begin() + (c + 1) * 256 * 512);
        out[static_cast<size_t>(c)] = tmp_dir() / (stem + std::to_string(c) + ".npy");
        if (!data::write_npy(out[static_cast<size_t>(c)].string(), Tensor::from_vector(DType::F32, {256, 512}, chunk)).ok())
            return {};
    }
    return out;
}

// shakespeare-wiki-4M (real K-quant tensors): the fixture's chunk c is the first 256 tokens of val text c.
// Q4_K_M against llama.cpp's F32 logits of that chunk (the fixture's [2, 256, 512] sliced) gives llama.cpp's
// PPL per chunk and KLD (measured: within 0.1 % / 0.5 %). Only the quantized model runs here, to keep the
// test short (the F32 model's PPL equals llama.cpp's to 1e-7, docs/llm/perplexity.md); ppl_base checks the
// slicing.
TEST(PerplexityCli, ShakespeareChunksMatchLlamaCpp) {
    EDGEQ_REQUIRE_SHARED(q4, "fixtures/llm-shakespeare/models/shakespeare-wiki-4M-Q4_K_M.gguf");
    EDGEQ_REQUIRE_SHARED(res, "fixtures/llm-shakespeare/results.json");
    EDGEQ_REQUIRE_SHARED(logits, "fixtures/llm-shakespeare/logits/logits_F32.npy");
    EDGEQ_REQUIRE_SHARED(val0, "fixtures/llm-shakespeare/val_text/shakespeare_val.txt");
    EDGEQ_REQUIRE_SHARED(val1, "fixtures/llm-shakespeare/val_text/wikitext_val.txt");
    std::ifstream in(res);
    const auto fx = nlohmann::json::parse(in)["variants"];
    const auto base = f32_chunk_bases(logits, "shakespeare_f32_chunk");
    ASSERT_FALSE(base[0].empty()) << logits;
    const std::string texts[2] = {val0.string(), val1.string()};
    double kld_sum = 0.0;
    for (int c = 0; c < 2; ++c) {
        const double want = fx["F32"]["ppl_per_chunk"][c].get<double>();
        const auto k = ppl_json({q4.string(), "-f", texts[c], "--ctx", "256", "--chunks", "1", "-q", "--kl-base",
                                 base[static_cast<size_t>(c)].string()});
        ASSERT_FALSE(k.is_null());
        const double want_q = fx["Q4_K_M"]["ppl_per_chunk"][c].get<double>();
        EXPECT_NEAR(k["ppl"].get<double>(), want_q, 0.005 * want_q) << "chunk " << c;
        EXPECT_NEAR(k["ppl_base"].get<double>(), want, 1e-6 * want);
        kld_sum += k["kld_mean"].get<double>();
    }
    const double want_kld = fx["Q4_K_M"]["kl_vs_F32_mean"].get<double>();
    const double wkld = fx["Q4_K_M"]["dequant_f64_forward"]["kl_vs_F32_mean"].get<double>();
    std::printf("shakespeare Q4_K_M: KLD mean %.6f, llama.cpp %.6f, f64 weight-only %.6f\n", kld_sum / 2,
                want_kld, wkld);
    // See QuantizedAgainstLlamaCppF32Logits. On this model activation rounding is ~9 % of Q4_K_M's KLD.
    EXPECT_GE(kld_sum / 2, 0.98 * std::min(wkld, want_kld));
    EXPECT_LE(kld_sum / 2, 1.02 * std::max(wkld, want_kld));
}

// --llama-order on every shakespeare fixture variant: the logits are llama.cpp's bit for bit, so PPL per chunk and
// the KLD against llama.cpp's F32 logits over both chunks are llama.cpp's (issue: within 0.5 %; measured: equal to
// the printed digits, the difference being the float64 arithmetic of the two KL sums).
TEST(PerplexityCli, LlamaOrderGivesLlamaCppsPplAndKldOnEveryVariant) {
    EDGEQ_REQUIRE_SHARED(res, "fixtures/llm-shakespeare/results.json");
    EDGEQ_REQUIRE_SHARED(logits, "fixtures/llm-shakespeare/logits/logits_F32.npy");
    EDGEQ_REQUIRE_SHARED(val0, "fixtures/llm-shakespeare/val_text/shakespeare_val.txt");
    EDGEQ_REQUIRE_SHARED(val1, "fixtures/llm-shakespeare/val_text/wikitext_val.txt");
    std::ifstream in(res);
    const auto fx = nlohmann::json::parse(in)["variants"];
    const auto base = f32_chunk_bases(logits, "shakespeare_f32_lo_chunk");
    ASSERT_FALSE(base[0].empty()) << logits;
    const std::string texts[2] = {val0.string(), val1.string()};
    for (const char* v : {"Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q4_K_M", "Q4_K_S", "Q4_0", "Q3_K_M", "Q2_K", "IQ4_NL",
                          "TQ2_0"}) {
        EDGEQ_REQUIRE_SHARED(model, std::string("fixtures/llm-shakespeare/models/shakespeare-wiki-4M-") + v + ".gguf");
        double kld_sum = 0.0, top1_sum = 0.0;
        for (int c = 0; c < 2; ++c) {
            const auto k = ppl_json({model.string(), "-f", texts[c], "--ctx", "256", "--chunks", "1", "-q",
                                     "--llama-order", "--kl-base", base[static_cast<size_t>(c)].string()});
            ASSERT_FALSE(k.is_null()) << v;
            const double want = fx[v]["ppl_per_chunk"][c].get<double>();
            EXPECT_NEAR(k["ppl"].get<double>(), want, 1e-5 * want) << v << " chunk " << c;
            kld_sum += k["kld_mean"].get<double>();
            top1_sum += k["top1_agreement"].get<double>();
        }
        const double want_kld = fx[v]["kl_vs_F32_mean"].get<double>();
        const double want_top1 = fx[v]["top1_agreement_vs_F32"].get<double>();
        std::printf("shakespeare %s --llama-order: KLD mean %.8g, llama.cpp %.8g; top-1 vs F32 %.6f, llama.cpp %.6f\n",
                    v, kld_sum / 2, want_kld, top1_sum / 2, want_top1);
        std::fflush(stdout);  // before the next child process
        EXPECT_NEAR(kld_sum / 2, want_kld, 1e-4 * want_kld) << v;
        EXPECT_NEAR(top1_sum / 2, want_top1, 1e-9) << v;
    }
}

TEST(PerplexityCli, ChunksScoreFromAndProgress) {
    EDGEQ_REQUIRE_SHARED(model, "fixtures/llm/models/stories260K-Q8_0.gguf");
    EDGEQ_REQUIRE_SHARED(text, kPplText);
    // 1883 tokens / 128 = 14 whole chunks; 3 requested. --score-from 64: 64 positions, 63 predictions per
    // chunk.
    const auto r = run_cli({"perplexity", model.string(), "-f", text.string(), "--ctx", "128", "--chunks",
                            "3", "--score-from", "64", "--batch", "50", "--json"});
    ASSERT_EQ(r.rc, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["chunks"], 3);
    EXPECT_EQ(j["positions"], 3 * 64);
    EXPECT_EQ(j["predictions"], 3 * 63);
    ASSERT_EQ(j["ppl_per_chunk"].size(), 3u);
    double nll = 0.0;
    for (const auto& p : j["ppl_per_chunk"]) nll += std::log(p.get<double>());
    EXPECT_NEAR(std::exp(nll / 3.0), j["ppl"].get<double>(),
                1e-9 * j["ppl"].get<double>());  // equal-size chunks
    // stderr is not a terminal here: one plain progress line per chunk, no carriage returns.
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 3) << r.err;
    EXPECT_NE(r.err.find("chunk 3/3"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\r'), std::string::npos);

    // The batch size does not change the logits.
    const auto d = ppl_json(
        {model.string(), "-f", text.string(), "--ctx", "128", "--chunks", "3", "--score-from", "64", "-q"});
    ASSERT_FALSE(d.is_null());
    EXPECT_EQ(d["ppl"].get<double>(), j["ppl"].get<double>());

    const auto q = run_cli(
        {"perplexity", model.string(), "-f", text.string(), "--ctx", "128", "--chunks", "2", "--quiet"});
    ASSERT_EQ(q.rc, 0) << q.err;
    EXPECT_EQ(q.err, "");
    EXPECT_NE(q.out.find("Final estimate: PPL = "), std::string::npos) << q.out;
}

TEST(PerplexityCli, ErrorsAreOneLine) {
    EDGEQ_REQUIRE_SHARED(model, "fixtures/llm/models/stories260K-F32.gguf");
    EDGEQ_REQUIRE_SHARED(text, kPplText);
    const std::string m = model.string(), t = text.string();
    expect_one_line_error(run_cli({"perplexity", m, "-f", "/nonexistent/text.txt"}), "/nonexistent/text.txt");
    expect_one_line_error(run_cli({"perplexity", "/nonexistent/model.gguf", "-f", t}),
                          "/nonexistent/model.gguf");
    expect_one_line_error(run_cli({"perplexity", m, "-f", t, "--ctx", "1024"}),
                          "--ctx 1024 is larger than the model's trained context of 512");
    const fs::path tiny = tmp_dir() / "tiny.txt";
    std::ofstream(tiny) << "Once upon a time";
    expect_one_line_error(run_cli({"perplexity", m, "-f", tiny.string(), "--ctx", "64"}),
                          "fewer than one chunk of 64");
    expect_one_line_error(run_cli({"perplexity", m, "-f", t, "--ctx", "64", "--score-from", "63"}),
                          "--score-from 63");
    // Base logits from another run shape: 256 positions, this run has 2 x 128.
    EDGEQ_REQUIRE_SHARED(ref, "fixtures/llm/logits/logits_F32.npy");
    expect_one_line_error(
        run_cli({"perplexity", m, "-f", t, "--ctx", "128", "--chunks", "1", "--kl-base", ref.string()}),
        "does not match [128, 512]");
    expect_one_line_error(run_cli({"perplexity", m, "-f", t, "--kl-base", "/nonexistent/base.npy"}),
                          "/nonexistent/base.npy");
    const fs::path out = tmp_dir() / "never.npy";
    EXPECT_NE(
        run_cli({"perplexity", m, "-f", t, "--save-logits", out.string(), "--kl-base", ref.string()}).rc, 0);
    EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace edgeq
