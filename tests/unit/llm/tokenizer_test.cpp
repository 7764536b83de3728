#include "llm/tokenizer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../../common/shared.h"

namespace edgeq::llm {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::unique_ptr<gguf::File> open_gguf(const fs::path& p) {
    auto f = gguf::File::open(p.string());
    EXPECT_TRUE(f.ok()) << f.status().message();
    return f.ok() ? std::move(f).value() : nullptr;
}

Tokenizer load(const gguf::File& f) {
    auto t = Tokenizer::from_gguf(f);
    EXPECT_TRUE(t.ok()) << t.status().message();
    if (!t.ok()) std::abort();
    return std::move(t).value();
}

// Writes w to a per-process temp file and opens it.
std::unique_ptr<gguf::File> write_and_open(const gguf::Writer& w, const std::string& tag) {
    const fs::path p =
        fs::temp_directory_path() / ("edgeq_tok_" + tag + "_" + std::to_string(::getpid()) + ".gguf");
    EXPECT_TRUE(w.write(p.string()).ok());
    auto f = open_gguf(p);
    fs::remove(p);  // the mapping stays valid
    return f;
}

gguf::Value str_array(const std::vector<std::string>& v) {
    std::vector<gguf::Value> a;
    for (const auto& s : v) a.push_back(gguf::Value::Str(s));
    return gguf::Value::Array(gguf::ValueType::STRING, std::move(a));
}

// ---------------------------------------------------------------------------------------------------------------
// SPM ("llama") against llama.cpp's tokens (fixtures/llm and fixtures/llm-shakespeare).

TEST(TokenizerSpm, TinyStoriesSampleMatchesLlamaCpp) {
    EDGEQ_REQUIRE_SHARED(model, "fixtures/llm/models/stories260K-F32.gguf");
    EDGEQ_REQUIRE_SHARED(tokens, "fixtures/llm/tokens_tinystories_sample.json");
    EDGEQ_REQUIRE_SHARED(text_path, "assets/datasets/text/tinystories_sample.txt");
    auto f = open_gguf(model);
    ASSERT_TRUE(f);
    const Tokenizer t = load(*f);
    EXPECT_EQ(t.kind(), Tokenizer::Kind::Spm);
    EXPECT_EQ(t.n_vocab(), 512);
    EXPECT_EQ(t.bos(), 1);
    EXPECT_EQ(t.eos(), 2);
    EXPECT_TRUE(t.is_eog(2));
    EXPECT_FALSE(t.is_eog(1));

    const auto j = nlohmann::json::parse(read_text(tokens));
    const std::string text = read_text(text_path);
    const auto want = j["ids"].get<std::vector<int32_t>>();
    ASSERT_EQ(want.size(), 1883u);
    const auto got = t.encode(text, true);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[i], want[i]) << "token " << i;

    const auto pieces = j["pieces_first_256"].get<std::vector<std::string>>();
    EXPECT_EQ(t.token_to_piece(got[0]), "");  // BOS is CONTROL: no text with special = false
    for (size_t i = 1; i < pieces.size(); ++i)
        EXPECT_EQ(t.token_to_piece(got[i]), pieces[i]) << "token " << i;

    EXPECT_EQ(t.decode(got), text);
    EXPECT_EQ(t.decode(t.encode(text, false)), text);
}

TEST(TokenizerSpm, ShakespeareChunksMatchLlamaCpp) {
    EDGEQ_REQUIRE_SHARED(model, "fixtures/llm-shakespeare/models/shakespeare-wiki-4M-Q8_0.gguf");
    EDGEQ_REQUIRE_SHARED(tokens, "fixtures/llm-shakespeare/tokens_val_chunks.json");
    auto f = open_gguf(model);
    ASSERT_TRUE(f);
    const Tokenizer t = load(*f);
    EXPECT_EQ(t.kind(), Tokenizer::Kind::Spm);
    const auto j = nlohmann::json::parse(read_text(tokens));
    ASSERT_EQ(j["chunks"].size(), 2u);
    for (const auto& c : j["chunks"]) {
        const std::string text = c["text"].get<std::string>();
        const auto want = c["ids"].get<std::vector<int32_t>>();
        const auto got = t.encode(text, true);
        EXPECT_EQ(got, want) << c["corpus"];
        const auto pieces = c["pieces"].get<std::vector<std::string>>();
        ASSERT_EQ(pieces.size(), got.size());
        for (size_t i = 1; i < got.size(); ++i) EXPECT_EQ(t.token_to_piece(got[i]), pieces[i]) << i;
        EXPECT_EQ(t.decode(got),
                  text);  // chunk 1 starts with a space: kept (only the added prefix is removed)
    }
}

TEST(TokenizerSpm, ByteFallbackEmptyAndBos) {
    EDGEQ_REQUIRE_SHARED(model, "fixtures/llm/models/stories260K-F32.gguf");
    auto f = open_gguf(model);
    ASSERT_TRUE(f);
    const Tokenizer t = load(*f);

    EXPECT_EQ(t.encode("", false), std::vector<int32_t>{});
    EXPECT_EQ(t.encode("", true), std::vector<int32_t>{1});
    EXPECT_EQ(t.decode(std::vector<int32_t>{}), "");

    const auto with = t.encode("Once upon a time", true);
    const auto without = t.encode("Once upon a time", false);
    ASSERT_FALSE(with.empty());
    EXPECT_EQ(with[0], 1);
    EXPECT_EQ(std::vector<int32_t>(with.begin() + 1, with.end()), without);
    EXPECT_EQ(t.decode(with), "Once upon a time");

    // An emoji (not in the 512-token vocabulary) and a lone 0xFF byte fall back to <0xXX> byte tokens.
    const std::string emoji = "\xF0\x9F\x99\x82";
    const auto ids = t.encode("a" + emoji + "\xff", false);
    ASSERT_GE(ids.size(), 6u);  // "▁a" or "▁" "a", then five bytes
    std::vector<std::string> tail;
    for (size_t i = ids.size() - 5; i < ids.size(); ++i) tail.push_back(t.token_text(ids[i]));
    EXPECT_EQ(tail, (std::vector<std::string>{"<0xF0>", "<0x9F>", "<0x99>", "<0x82>", "<0xFF>"}));
    for (size_t i = ids.size() - 5; i < ids.size(); ++i) EXPECT_EQ(t.token_type(ids[i]), TokenType::Byte);
    EXPECT_EQ(t.token_to_piece(ids.back()), "\xff");
    EXPECT_EQ(t.decode(ids), "a" + emoji + "\xff");

    EXPECT_EQ(t.token_to_piece(-1), "");
    EXPECT_EQ(t.token_to_piece(512), "");
}

// A hand-made SPM vocabulary: merges go by score, ties to the leftmost pair.
TEST(TokenizerSpm, MergesByScoreLeftmostOnTies) {
    const std::string sp = "\xe2\x96\x81";
    gguf::Writer w;
    w.set("tokenizer.ggml.model", gguf::Value::Str("llama"));
    std::vector<std::string> toks{"<unk>", "<s>", "</s>", sp, "a", "b", "ab", "ba", sp + "a", "<x>"};
    std::vector<float> sc{0, 0, 0, -5, -5, -5, -1, -1, -3, 0};
    std::vector<int32_t> ty{2, 3, 3, 1, 1, 1, 1, 1, 1, 4};
    std::vector<gguf::Value> s, y;
    for (float x : sc) s.push_back(gguf::Value::F32v(x));
    for (int32_t x : ty) y.push_back(gguf::Value::I32v(x));
    w.set("tokenizer.ggml.tokens", str_array(toks));
    w.set("tokenizer.ggml.scores", gguf::Value::Array(gguf::ValueType::F32, s));
    w.set("tokenizer.ggml.token_type", gguf::Value::Array(gguf::ValueType::I32, y));
    auto f = write_and_open(w, "spm");
    ASSERT_TRUE(f);
    const Tokenizer t = load(*f);
    // "▁aba": pairs ▁a(-3) ab(-1) ba(-1): tie between ab and ba -> leftmost "ab" -> ▁ ab a; then no merge
    // for "▁ab" or "aba".
    EXPECT_EQ(t.encode("aba", false), (std::vector<int32_t>{3, 6, 4}));
    // "▁ba": ▁b absent, ba(-1) -> ▁ ba
    EXPECT_EQ(t.encode("ba", false), (std::vector<int32_t>{3, 7}));
    // no byte tokens: unknown characters become <unk>, one per byte
    EXPECT_EQ(t.encode("c", false), (std::vector<int32_t>{3, 0}));
    EXPECT_EQ(t.token_to_piece(0), "");  // UNKNOWN: no text
    // USER_DEFINED tokens are split out of the text even with parse_special = false; the text after one gets
    // the prefix space again (llama.cpp: is_prev_special). Control tokens ("<s>") are not recognised.
    EXPECT_EQ(t.encode("a<x>b", false), (std::vector<int32_t>{8, 9, 3, 5}));
    EXPECT_EQ(t.token_to_piece(9), "<x>");
    EXPECT_EQ(t.encode("<s>", false), (std::vector<int32_t>{3, 0, 0, 0}));
}

// ---------------------------------------------------------------------------------------------------------------
// GPT-2 byte-level BPE. Neither fixture model is gpt2, so this is a hand-made vocabulary with known merges.

// Byte-level vocabulary: ids 0..255 are the GPT-2 unicode images of bytes 0..255, then the merged tokens.
struct Gpt2Vocab {
    std::vector<std::string> toks;
    std::vector<std::string> merges;
    static std::string image(int b) {
        int n = 0, cp = -1;
        for (int x = 0; x < 256; ++x) {
            const bool keep = (x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174;
            const int c = keep ? x : 256 + n++;
            if (x == b) cp = c;
        }
        std::string s;
        if (cp < 0x80) {
            s += static_cast<char>(cp);
        } else {
            s += static_cast<char>(0xC0 | (cp >> 6));
            s += static_cast<char>(0x80 | (cp & 0x3F));
        }
        return s;
    }
    Gpt2Vocab() {
        for (int b = 0; b < 256; ++b) toks.push_back(image(b));
        const std::string G = image(' ');  // "Ġ"
        // rank order matters: "Ġ t" (0) before "t h" (3).
        merges = {G + " t", "h e",    G + "t he", "t h", "3 4",  "1 2",    "12 3",
                  "4 5",    G + " b", "' t",      "l o", "lo w", G + " .", ". ."};
        for (const auto& m : merges) {
            const size_t sp = m.find(' ', 1);
            toks.push_back(m.substr(0, sp) + m.substr(sp + 1));
        }
        toks.push_back("<|endoftext|>");
    }
    int32_t id(const std::string& s) const {
        for (size_t i = 0; i < toks.size(); ++i)
            if (toks[i] == s) return static_cast<int32_t>(i);
        return -1;
    }
    std::unique_ptr<gguf::File> write(const std::string& pre) const {
        gguf::Writer w;
        w.set("tokenizer.ggml.model", gguf::Value::Str("gpt2"));
        if (!pre.empty()) w.set("tokenizer.ggml.pre", gguf::Value::Str(pre));
        w.set("tokenizer.ggml.tokens", str_array(toks));
        w.set("tokenizer.ggml.merges", str_array(merges));
        std::vector<gguf::Value> y(toks.size(), gguf::Value::I32v(1));
        y.back() = gguf::Value::I32v(3);
        w.set("tokenizer.ggml.token_type", gguf::Value::Array(gguf::ValueType::I32, y));
        const auto eot = static_cast<uint32_t>(toks.size() - 1);
        w.set("tokenizer.ggml.bos_token_id", gguf::Value::U32v(eot));
        w.set("tokenizer.ggml.eos_token_id", gguf::Value::U32v(eot));
        return write_and_open(w, "gpt2" + pre);
    }
};

TEST(TokenizerBpe, ByteMapAndMergeRanks) {
    const Gpt2Vocab v;
    EXPECT_EQ(Gpt2Vocab::image(' '), "\xC4\xA0");   // Ġ
    EXPECT_EQ(Gpt2Vocab::image('\n'), "\xC4\x8A");  // Ċ
    auto f = v.write("gpt-2");
    ASSERT_TRUE(f);
    const Tokenizer t = load(*f);
    EXPECT_EQ(t.kind(), Tokenizer::Kind::Bpe);
    const std::string G = Gpt2Vocab::image(' ');
    // " the": Ġt (rank 0) first, then he, then Ġt+he; merging "t h" first would strand "Ġ".
    EXPECT_EQ(t.encode(" the", false), std::vector<int32_t>{v.id(G + "the")});
    EXPECT_EQ(t.encode("the low", false),
              (std::vector<int32_t>{v.id("t"), v.id("he"), v.id(G), v.id("low")}));
    EXPECT_EQ(t.token_to_piece(v.id(G + "the")), " the");
    // gpt2 models do not add BOS unless tokenizer.ggml.add_bos_token says so
    EXPECT_EQ(t.encode("the", true), t.encode("the", false));
    EXPECT_EQ(t.encode("", true), std::vector<int32_t>{});
    EXPECT_TRUE(t.is_eog(t.eos()));
}

TEST(TokenizerBpe, Gpt2PreTokenizer) {
    const Gpt2Vocab v;
    auto f = v.write("gpt-2");
    ASSERT_TRUE(f);
    const Tokenizer t = load(*f);
    const std::string G = Gpt2Vocab::image(' ');
    // digits are one piece: "3 4" (rank 4) merges before "1 2" (rank 5)
    EXPECT_EQ(t.encode("12345", false), (std::vector<int32_t>{v.id("12"), v.id("34"), v.id("5")}));
    // two spaces before a word: "a", " ", " b" (\s+(?!\S) leaves the last space to the word)
    EXPECT_EQ(t.encode("a  b", false), (std::vector<int32_t>{v.id("a"), v.id(G), v.id(G + "b")}));
    // contraction piece "'t"
    EXPECT_EQ(t.encode("don't", false), (std::vector<int32_t>{v.id("d"), v.id("o"), v.id("n"), v.id("'t")}));
    // a space before punctuation stays with it: " ."; "..." is one piece
    EXPECT_EQ(t.encode("a ...", false), (std::vector<int32_t>{v.id("a"), v.id(G + "."), v.id("..")}));
    // " b" after a newline is not merged across pieces: "\n", " b"
    EXPECT_EQ(t.encode("\n b", false), (std::vector<int32_t>{v.id(Gpt2Vocab::image('\n')), v.id(G + "b")}));
}

TEST(TokenizerBpe, DefaultPreTokenizerSplitsPunctuationAndDigitTriples) {
    const Gpt2Vocab v;
    auto f = v.write("");  // no tokenizer.ggml.pre: llama.cpp's default BPE pre-tokenizer
    ASSERT_TRUE(f);
    const Tokenizer t = load(*f);
    // digits in groups of three: "123" "45" (the "3 4" merge cannot cross)
    EXPECT_EQ(t.encode("12345", false), (std::vector<int32_t>{v.id("123"), v.id("45")}));
    const std::string G = Gpt2Vocab::image(' ');
    // punctuation runs are split out first, leaving the space alone: "a", " ", "...", "`b" ('`' is not split
    // out)
    EXPECT_EQ(t.encode("a ...`b", false),
              (std::vector<int32_t>{v.id("a"), v.id(G), v.id(".."), v.id("."), v.id("`"), v.id("b")}));
    // the apostrophe is punctuation, its own piece
    EXPECT_EQ(t.encode("don't", false),
              (std::vector<int32_t>{v.id("d"), v.id("o"), v.id("n"), v.id("'"), v.id("t")}));
}

TEST(TokenizerBpe, RoundTripAnyBytes) {
    const Gpt2Vocab v;
    auto f = v.write("gpt-2");
    ASSERT_TRUE(f);
    const Tokenizer t = load(*f);
    const std::string s = "Hello,  world!\n\tcaf\xC3\xA9 \xF0\x9F\x99\x82 \xff 12345 don't";
    const auto ids = t.encode(s, false);
    EXPECT_EQ(t.decode(ids), s);
    std::string cat;
    for (int32_t id : ids) cat += t.token_to_piece(id);
    EXPECT_EQ(cat, s);
}

TEST(Tokenizer, Errors) {
    {
        gguf::Writer w;
        w.set("general.architecture", gguf::Value::Str("llama"));
        auto f = write_and_open(w, "nomodel");
        ASSERT_TRUE(f);
        EXPECT_FALSE(Tokenizer::from_gguf(*f).ok());
    }
    {
        gguf::Writer w;
        w.set("tokenizer.ggml.model", gguf::Value::Str("bert"));
        w.set("tokenizer.ggml.tokens", str_array({"a"}));
        auto f = write_and_open(w, "bert");
        ASSERT_TRUE(f);
        auto r = Tokenizer::from_gguf(*f);
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
    }
    {
        gguf::Writer w;
        w.set("tokenizer.ggml.model", gguf::Value::Str("llama"));
        w.set("tokenizer.ggml.tokens", str_array({"<unk>", "<s>", "</s>"}));
        w.set("tokenizer.ggml.scores", gguf::Value::Array(gguf::ValueType::F32, {gguf::Value::F32v(0)}));
        auto f = write_and_open(w, "scores");
        ASSERT_TRUE(f);
        auto r = Tokenizer::from_gguf(*f);
        ASSERT_FALSE(r.ok());
        EXPECT_NE(r.status().message().find("tokenizer.ggml.scores"), std::string::npos);
    }
    {
        const Gpt2Vocab v;
        gguf::Writer w;
        w.set("tokenizer.ggml.model", gguf::Value::Str("gpt2"));
        w.set("tokenizer.ggml.tokens", str_array(v.toks));
        auto f = write_and_open(w, "nomerges");
        ASSERT_TRUE(f);
        EXPECT_FALSE(Tokenizer::from_gguf(*f).ok());
    }
}

}  // namespace
}  // namespace edgeq::llm
