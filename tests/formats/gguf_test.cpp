// GGUF reader/writer tests: fixture reads and round trips, corrupt-file enum, value types, atomic writes.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <vector>
#include <string>

#include "common/shared.h"
#include "formats/gguf/gguf.h"

namespace edgeq::gguf {
namespace {

TEST(GgufRead, BlocksFixture) {
    EDGEQ_REQUIRE_SHARED(path, "fixtures/blocks/blocks_gauss.gguf");
    auto r = File::open(path.string());
    ASSERT_TRUE(r.ok()) << r.status().message();
    const File& f = **r;
    EXPECT_EQ(f.version(), 3u);
    EXPECT_EQ(f.alignment(), 32u);
    EXPECT_EQ(f.tensors().size(), 48u);
    const TensorInfo* src = f.find_tensor("source");
    ASSERT_NE(src, nullptr);
    EXPECT_EQ(src->type, DType::F32);
    ASSERT_EQ(src->ne.size(), 2u);
    EXPECT_EQ(src->ne[0], 1024);
    EXPECT_EQ(src->ne[1], 64);
    EXPECT_EQ(f.tensor_data(*src).size(), 1024u * 64 * 4);
    ASSERT_NE(f.find("general.name"), nullptr);
    EXPECT_EQ(f.find("general.name")->type, ValueType::STRING);
}

// Every GGUF shipped in shared/ (fixtures and assets), sorted; empty if shared/ is absent.
std::vector<std::filesystem::path> shared_ggufs() {
    std::vector<std::filesystem::path> out;
    for (const char* dir : {"fixtures/blocks", "fixtures/llm/models", "fixtures/llm-shakespeare/models",
                            "assets/llm/shakespeare-wiki-4M"}) {
        const auto d = ::edgeq::test::shared_dir() / dir;
        if (!std::filesystem::is_directory(d)) continue;
        for (const auto& e : std::filesystem::directory_iterator(d))
            if (e.path().extension() == ".gguf") out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

TEST(GgufRead, AllSharedFiles) {
    const auto files = shared_ggufs();
    if (files.empty()) GTEST_SKIP() << "no GGUF files under " << ::edgeq::test::shared_dir();
    for (const auto& p : files) {
        auto r = File::open(p.string());
        ASSERT_TRUE(r.ok()) << r.status().message();
        EXPECT_EQ((*r)->version(), 3u) << p;
        EXPECT_NE((*r)->find("general.architecture") ? 1 : ((*r)->find("general.name") ? 1 : 0), 0) << p;
        for (const auto& t : (*r)->tensors()) EXPECT_EQ((*r)->tensor_data(t).size(), t.size) << p << " " << t.name;
    }
}

}  // namespace
}  // namespace edgeq::gguf
