// `edgeq inspect`: tables and JSON agree with the file, and bad files give one clear line.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/shared.h"
#include "e2e/cli_util.h"
#include "formats/gguf/gguf.h"

namespace edgeq {
namespace {

TEST(InspectCli, JsonMatchesFile) {
    EDGEQ_REQUIRE_SHARED(path, "fixtures/llm-shakespeare/models/shakespeare-wiki-4M-Q4_K_M.gguf");
    auto r = run_cli({"inspect", path.string(), "--json"});
    ASSERT_EQ(r.rc, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    auto f = gguf::File::open(path.string());
    ASSERT_TRUE(f.ok());
    ASSERT_EQ(j["tensors"].size(), (*f)->tensors().size());
    uint64_t bytes = 0, params = 0;
    for (size_t i = 0; i < (*f)->tensors().size(); ++i) {
        const auto& t = (*f)->tensors()[i];
        EXPECT_EQ(j["tensors"][i]["name"], t.name);
        EXPECT_EQ(j["tensors"][i]["type"], dtype_name(t.type));
        EXPECT_EQ(j["tensors"][i]["bytes"], t.size);
        EXPECT_EQ(j["tensors"][i]["ne"].get<std::vector<int64_t>>(), t.ne);
        bytes += t.size;
        params += static_cast<uint64_t>(t.n_elements());
    }
    EXPECT_EQ(j["totals"]["tensor_bytes"], bytes);
    EXPECT_EQ(j["totals"]["parameters"], params);
    // llama.cpp's own bits per weight for this file (fixtures README: 4.875)
    EXPECT_NEAR(j["totals"]["bits_per_weight"].get<double>(), 4.875, 0.001);
    EXPECT_EQ(j["totals"]["types"]["Q6_K"]["count"], 5);
    EXPECT_EQ(j["totals"]["types"]["Q4_K"]["count"], 25);
    EXPECT_EQ(j["metadata"]["general.file_type"], 15);
    EXPECT_EQ(j["metadata"]["tokenizer.ggml.tokens"].size(), 512u);
}

TEST(InspectCli, TableShowsTensorsAndTotals) {
    EDGEQ_REQUIRE_SHARED(path, "fixtures/llm/models/stories260K-Q4_0.gguf");
    auto r = run_cli({"inspect", path.string()});
    ASSERT_EQ(r.rc, 0) << r.err;
    for (const char* want : {"GGUF v3", "general.architecture", "\"llama\"", "blk.4.ffn_down.weight", "Q4_0",
                             "F16", "total: 292800 parameters"}) {
        EXPECT_NE(r.out.find(want), std::string::npos) << "missing '" << want << "' in:\n" << r.out;
    }
}

TEST(InspectCli, BadFilesGiveOneLine) {
    expect_one_line_error(run_cli({"inspect", "/nonexistent.gguf"}), "no such file");
    const fs::path junk = tmp_dir() / "junk.gguf";
    std::ofstream(junk) << "this is not a gguf file at all";
    expect_one_line_error(run_cli({"inspect", junk.string()}), "junk.gguf");
}

}  // namespace
}  // namespace edgeq
