// GGUF autotune end to end on stories260K (llm/autotune.h), kept small (2 candidate types, short chunks): the
// byte budget is met, the written GGUF loads, runs and has the claimed bits per weight and the reported
// types, the reported KLD is the written model's held-out KLD, --max-kld picks the smallest step that passes
// and writes the best model even when the budget cannot be met; argument errors.
#include "llm/autotune.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "common/shared.h"
#include "formats/gguf/gguf.h"
#include "llm/model.h"

namespace edgeq::llm {
namespace {

namespace fs = std::filesystem;

struct Fixture {
    fs::path model, dir;
    AutotuneOptions o;
};

Fixture setup(const fs::path& model, const fs::path& text, const std::string& tag) {
    Fixture f;
    f.model = model;
    f.dir = fs::temp_directory_path() / ("edgeq_autotune_" + tag + "_" + std::to_string(getpid()));
    fs::create_directories(f.dir);
    std::ifstream in(text, std::ios::binary);
    f.o.text.assign(std::istreambuf_iterator<char>(in), {});
    f.o.text.resize(std::min<size_t>(f.o.text.size(), 1200));  // ~400 tokens: quick
    f.o.text_name = text.string();
    f.o.input = model.string();
    f.o.output = (f.dir / "out.gguf").string();
    f.o.candidates = {"q4_0", "q8_0"};
    f.o.ctx = 32;
    f.o.threads = 2;
    f.o.max_calib_chunks = 2;
    f.o.sens_tokens = 32;
    f.o.max_eval_chunks = 2;
    f.o.front_points = 2;
    return f;
}

TEST(Autotune, TargetBpwWritesALoadableModelWithTheClaimedSize) {
    EDGEQ_REQUIRE_SHARED(model, "fixtures/llm/models/stories260K-F32.gguf");
    EDGEQ_REQUIRE_SHARED(text, "assets/datasets/text/tinystories_sample.txt");
    Fixture f = setup(model, text, "bpw");
    f.o.target_bpw = 7.0;
    auto r = autotune_gguf(f.o);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_TRUE(r->budget_met);
    EXPECT_LE(r->bpw, 7.0);
    EXPECT_GT(r->bpw, 6.0) << "the budget should be used, not left idle";
    EXPECT_GE(r->kld, 0.0);
    EXPECT_LT(r->kld, 0.5);
    ASSERT_LT(r->chosen, r->measured.size());
    EXPECT_EQ(r->measured[r->chosen].kld, r->kld);

    // The file: claimed bpw (llama.cpp's definition over all tensors), reported types and bytes.
    auto g = gguf::File::open(f.o.output);
    ASSERT_TRUE(g.ok()) << g.status().message();
    uint64_t bytes = 0;
    int64_t params = 0;
    std::set<DType> types;
    ASSERT_EQ((*g)->tensors().size(), r->tensors.size());
    for (size_t i = 0; i < r->tensors.size(); ++i) {
        const gguf::TensorInfo& t = (*g)->tensors()[i];
        EXPECT_EQ(t.name, r->tensors[i].name);
        EXPECT_EQ(t.type, r->tensors[i].to) << t.name;
        EXPECT_EQ(t.size, r->tensors[i].bytes) << t.name;
        bytes += t.size;
        params += t.n_elements();
        if (r->tensors[i].tuned) types.insert(t.type);
    }
    EXPECT_EQ(bytes, r->bytes);
    EXPECT_DOUBLE_EQ(8.0 * static_cast<double>(bytes) / static_cast<double>(params), r->bpw);
    EXPECT_EQ(types, (std::set<DType>{DType::Q4_0, DType::Q8_0})) << "a mix at this budget";
    const gguf::TensorInfo* down = (*g)->find_tensor("blk.0.ffn_down.weight");
    ASSERT_NE(down, nullptr);
    EXPECT_EQ(down->type, DType::F16) << "rows of 172: no block type fits, F16 as llama-quantize";
    const gguf::Value* method = (*g)->find("edgeq.quantize.method");
    ASSERT_NE(method, nullptr);
    EXPECT_EQ(method->str, "autotune");

    ModelOptions mo;
    mo.threads = 2;
    mo.n_ctx = 16;
    auto m = Model::load(f.o.output, mo);
    ASSERT_TRUE(m.ok()) << m.status().message();
    auto logits = (*m)->eval(std::vector<int32_t>{1, 403, 407}, 0);
    ASSERT_TRUE(logits.ok());
    EXPECT_EQ(logits->size(), 512u);
    fs::remove_all(f.dir);
}

TEST(Autotune, MaxKldPicksTheSmallestPassingStepAndAlwaysWritesAModel) {
    EDGEQ_REQUIRE_SHARED(model, "fixtures/llm/models/stories260K-F32.gguf");
    EDGEQ_REQUIRE_SHARED(text, "assets/datasets/text/tinystories_sample.txt");
    Fixture f = setup(model, text, "kld");
    f.o.max_kld = 10.0;  // every step passes: the smallest one is written
    auto loose = autotune_gguf(f.o);
    ASSERT_TRUE(loose.ok()) << loose.status().message();
    EXPECT_TRUE(loose->budget_met);
    EXPECT_EQ(loose->measured[loose->chosen].step, 0);
    for (const auto& p : loose->measured) EXPECT_LE(loose->bpw, p.bpw + 1e-12);

    f.o.max_kld = 0.0;  // nothing quantized has zero KLD: not met, the lowest KLD found is written
    auto tight = autotune_gguf(f.o);
    ASSERT_TRUE(tight.ok()) << tight.status().message();
    EXPECT_FALSE(tight->budget_met);
    EXPECT_TRUE(fs::exists(f.o.output));
    for (const auto& p : tight->measured) EXPECT_GE(p.kld, tight->kld);
    EXPECT_LT(tight->kld, loose->kld);
    EXPECT_GT(tight->bpw, loose->bpw);
    fs::remove_all(f.dir);
}

TEST(Autotune, ArgumentErrors) {
    EDGEQ_REQUIRE_SHARED(model, "fixtures/llm/models/stories260K-F32.gguf");
    EDGEQ_REQUIRE_SHARED(text, "assets/datasets/text/tinystories_sample.txt");
    Fixture f = setup(model, text, "err");
    auto none = autotune_gguf(f.o);
    ASSERT_FALSE(none.ok());
    EXPECT_NE(none.status().message().find("exactly one budget"), std::string::npos);
    f.o.target_bpw = 5.0;
    f.o.text = "Once upon a time";
    auto shorttext = autotune_gguf(f.o);
    ASSERT_FALSE(shorttext.ok());
    EXPECT_NE(shorttext.status().message().find(f.o.text_name), std::string::npos);
    EDGEQ_REQUIRE_SHARED(q8, "fixtures/llm/models/stories260K-Q8_0.gguf");
    Fixture q = setup(q8, text, "q8");
    q.o.target_bpw = 5.0;
    auto quantized = autotune_gguf(q.o);
    ASSERT_FALSE(quantized.ok());
    EXPECT_NE(quantized.status().message().find("already quantized"), std::string::npos);
    EXPECT_FALSE(fs::exists(f.o.output));
    fs::remove_all(f.dir);
    fs::remove_all(q.dir);
}

}  // namespace
}  // namespace edgeq::llm
