// `edgeq quantize IN.gguf OUT.gguf TYPE --method gptq --calib TEXT` on stories260K F32: the output is an
// ordinary GGUF of the requested block types that `edgeq perplexity` loads, and its KL divergence against the
// F32 logits is below plain quantization's, for a legacy type, IQ4_NL and an INT group format. Calibration
// text = tinystories_sample.txt without its first 1000 bytes; evaluation = its first 256 tokens (disjoint).
// Bad option combinations give one clear line.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/shared.h"
#include "e2e/cli_util.h"
#include "formats/gguf/gguf.h"

namespace edgeq {
namespace {

constexpr const char* kModel = "fixtures/llm/models/stories260K-F32.gguf";
constexpr const char* kText = "assets/datasets/text/tinystories_sample.txt";

fs::path calib_text(const fs::path& text) {
    const fs::path p = tmp_dir() / "gptq_calib.txt";
    std::ofstream(p, std::ios::binary) << slurp(text).substr(1000);
    return p;
}

nlohmann::json eval_kl(const fs::path& model, const fs::path& text, const fs::path& base) {
    const auto r = run_cli({"perplexity", model.string(), "-f", text.string(), "--ctx", "256", "--chunks",
                            "1", "-q", "--kl-base", base.string(), "--json"});
    EXPECT_EQ(r.rc, 0) << r.err;
    return r.rc == 0 ? nlohmann::json::parse(r.out) : nlohmann::json{{"kld_mean", -1.0}};
}

TEST(GptqCli, LowersKldVsPlainOnStories260K) {
    EDGEQ_REQUIRE_SHARED(model, kModel);
    EDGEQ_REQUIRE_SHARED(text, kText);
    const fs::path calib = calib_text(text);
    const fs::path base = tmp_dir() / "gptq_base.npy";
    const auto s = run_cli({"perplexity", model.string(), "-f", text.string(), "--ctx", "256", "--chunks",
                            "1", "-q", "--save-logits", base.string()});
    ASSERT_EQ(s.rc, 0) << s.err;

    struct Case {
        const char* type;
        DType blk_type;  // type of blk.0.attn_q.weight
    };
    for (const Case& c :
         {Case{"Q4_0", DType::Q4_0}, Case{"IQ4_NL", DType::IQ4_NL}, Case{"INT3_G32", DType::Q4_1}}) {
        SCOPED_TRACE(c.type);
        const fs::path plain = tmp_dir() / (std::string("gptq_plain_") + c.type + ".gguf");
        const fs::path gptq = tmp_dir() / (std::string("gptq_") + c.type + ".gguf");
        const auto a = run_cli({"quantize", model.string(), plain.string(), c.type, "-q"});
        ASSERT_EQ(a.rc, 0) << a.err;
        const auto b = run_cli({"quantize", model.string(), gptq.string(), c.type, "--method", "gptq",
                                "--calib", calib.string(), "--ctx", "128"});
        ASSERT_EQ(b.rc, 0) << b.err;
        EXPECT_NE(b.out.find("GPTQ: "), std::string::npos) << b.out;
        EXPECT_NE(b.err.find("GPTQ calibration chunk 1/"), std::string::npos) << b.err;
        EXPECT_TRUE(no_leftovers(gptq.string() + ".tmp"));

        auto f = gguf::File::open(gptq.string());
        ASSERT_TRUE(f.ok()) << f.status().message();
        ASSERT_NE((*f)->find("edgeq.quantize.method"), nullptr);
        EXPECT_EQ((*f)->find("edgeq.quantize.method")->str, "gptq");
        const auto* q = (*f)->find_tensor("blk.0.attn_q.weight");
        ASSERT_NE(q, nullptr);
        EXPECT_EQ(q->type, c.blk_type);
        auto fp = gguf::File::open(plain.string());
        ASSERT_TRUE(fp.ok());
        EXPECT_EQ((*f)->tensors().size(), (*fp)->tensors().size());
        for (size_t i = 0; i < (*f)->tensors().size(); ++i)  // same types and sizes as plain quantization
            EXPECT_EQ((*f)->tensors()[i].type, (*fp)->tensors()[i].type) << (*f)->tensors()[i].name;

        const auto kp = eval_kl(plain, text, base), kg = eval_kl(gptq, text, base);
        const double k_plain = kp.at("kld_mean").get<double>(), k_gptq = kg.at("kld_mean").get<double>();
        std::printf("%s: KLD plain %.6f, GPTQ %.6f\n", c.type, k_plain, k_gptq);
        std::fflush(stdout);  // before the next fork
        EXPECT_GT(k_gptq, 0.0);
        EXPECT_LT(k_gptq, k_plain);
    }
}

TEST(GptqCli, ErrorsAreOneLine) {
    EDGEQ_REQUIRE_SHARED(model, kModel);
    EDGEQ_REQUIRE_SHARED(text, kText);
    const std::string m = model.string(), t = text.string();
    const std::string o = (tmp_dir() / "never_gptq.gguf").string();
    expect_one_line_error(run_cli({"quantize", m, o, "Q4_0", "--method", "gptq"}), "needs --calib TEXT");
    expect_one_line_error(run_cli({"quantize", m, o, "Q4_0", "--calib", t}), "--method gptq only");
    expect_one_line_error(run_cli({"quantize", m, o, "Q4_0", "--method", "static"}),
                          "GGUF models take rtn or gptq");
    expect_one_line_error(run_cli({"quantize", m, o, "INT5_G32"}), "INT2_G64");  // the known list names them
    expect_one_line_error(
        run_cli({"quantize", m, o, "Q4_0", "--method", "gptq", "--calib", "/nonexistent/c.txt"}),
        "/nonexistent/c.txt");
    expect_one_line_error(
        run_cli({"quantize", m, o, "Q4_0", "--method", "gptq", "--calib", t, "--ctx", "1024"}),
        "--ctx 1024 is larger than the model's trained context of 512");
    EXPECT_TRUE(no_leftovers(o));
}

}  // namespace
}  // namespace edgeq
