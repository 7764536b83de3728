#include "formats/llama2c/llama2c.h"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>

#include "core/file.h"

namespace edgeq::llama2c {
namespace {

// Bounded little-endian cursor over a mapped file: every read is checked against what remains.
class Cursor {
public:
    Cursor(const MappedFile& f) : f_(f) {}
    uint64_t remaining() const { return f_.size() - pos_; }
    uint64_t pos() const { return pos_; }
    Status read(void* dst, uint64_t n, const std::string& what) {
        if (n > remaining()) {
            return Corrupt(f_.path() + ": truncated: " + what + " needs " + std::to_string(n) + " bytes at offset " +
                           std::to_string(pos_) + ", only " + std::to_string(remaining()) + " left");
        }
        std::memcpy(dst, f_.data() + pos_, n);
        pos_ += n;
        return Status::Ok();
    }
    Status skip(uint64_t n, const std::string& what) {
        if (n > remaining()) return Corrupt(f_.path() + ": truncated: " + what);
        pos_ += n;
        return Status::Ok();
    }

private:
    const MappedFile& f_;
    uint64_t pos_ = 0;
};

std::string token_text(std::string s, int id) {
    // llama2.c stores BOS/EOS as "\n<s>\n" / "\n</s>\n" and a space where SentencePiece has U+2581.
    if (id == 1 && s == "\n<s>\n") return "<s>";
    if (id == 2 && s == "\n</s>\n") return "</s>";
    std::string out;
    for (char c : s) {
        if (c == ' ') out += "\xe2\x96\x81";
        else out += c;
    }
    return out;
}

int32_t token_type(const std::string& t, int id) {
    if (t == "<unk>") return 2;                    // UNKNOWN
    if (id == 1 || id == 2) return 3;              // CONTROL (<s>, </s>)
    if (t.size() == 6 && t.rfind("<0x", 0) == 0 && t[5] == '>') return 6;  // BYTE
    return 1;                                      // NORMAL
}

}  // namespace

Result<Model> load(const std::string& checkpoint_path, const std::string& tokenizer_path) {
    EDGEQ_ASSIGN_OR_RETURN(auto ck, MappedFile::open(checkpoint_path));
    Cursor c(*ck);
    Model m;
    Config& cf = m.config;
    int32_t hdr[7];
    EDGEQ_RETURN_IF_ERROR(c.read(hdr, sizeof(hdr), "header (7 x int32)"));
    cf.dim = hdr[0]; cf.hidden_dim = hdr[1]; cf.n_layers = hdr[2]; cf.n_heads = hdr[3]; cf.n_kv_heads = hdr[4];
    cf.vocab_size = hdr[5]; cf.seq_len = hdr[6];
    cf.shared_classifier = cf.vocab_size > 0;
    if (cf.vocab_size < 0) cf.vocab_size = cf.vocab_size == INT32_MIN ? 0 : -cf.vocab_size;  // INT32_MIN: out of range below
    const std::string p = checkpoint_path + ": ";
    auto bad = [&](const std::string& what) { return Result<Model>(Corrupt(p + "header: " + what)); };
    constexpr int32_t kMax = 1 << 20;
    if (cf.dim <= 0 || cf.dim > kMax) return bad("dim " + std::to_string(cf.dim) + " out of range");
    if (cf.hidden_dim <= 0 || cf.hidden_dim > kMax) return bad("hidden_dim " + std::to_string(cf.hidden_dim) + " out of range");
    if (cf.n_layers <= 0 || cf.n_layers > 4096) return bad("n_layers " + std::to_string(cf.n_layers) + " out of range");
    if (cf.n_heads <= 0 || cf.dim % cf.n_heads != 0)
        return bad("n_heads " + std::to_string(cf.n_heads) + " does not divide dim " + std::to_string(cf.dim));
    if (cf.n_kv_heads <= 0 || cf.n_heads % cf.n_kv_heads != 0)
        return bad("n_kv_heads " + std::to_string(cf.n_kv_heads) + " does not divide n_heads");
    if (cf.vocab_size <= 0 || cf.vocab_size > kMax) return bad("vocab_size out of range");
    if (cf.seq_len <= 0 || cf.seq_len > kMax) return bad("seq_len out of range");
    const int64_t head_size = cf.dim / cf.n_heads;
    if (head_size % 2 != 0) return bad("head size " + std::to_string(head_size) + " is odd (RoPE needs pairs)");
    const int64_t kv_dim = head_size * cf.n_kv_heads;
    const int64_t D = cf.dim, H = cf.hidden_dim, L = cf.n_layers, V = cf.vocab_size;

    // Expected file size, checked before any allocation.
    const int64_t n_floats = V * D + L * (D + D * D + 2 * kv_dim * D + D * D + D + 3 * H * D) + D +
                             static_cast<int64_t>(cf.seq_len) * head_size + (cf.shared_classifier ? 0 : V * D);
    const uint64_t want = sizeof(hdr) + static_cast<uint64_t>(n_floats) * 4;
    if (ck->size() != want) {
        return Corrupt(p + "size " + std::to_string(ck->size()) + " bytes, but the header (dim " + std::to_string(D) +
                       ", hidden " + std::to_string(H) + ", layers " + std::to_string(L) + ", vocab " +
                       std::to_string(V) + (cf.shared_classifier ? ", shared" : ", unshared") +
                       " classifier) implies " + std::to_string(want));
    }

    auto read_mat = [&](const std::string& what, int64_t rows, int64_t cols, std::vector<float>& out) -> Status {
        out.resize(static_cast<size_t>(rows * cols));
        return c.read(out.data(), static_cast<uint64_t>(rows * cols) * 4, what);
    };
    // Stacked per-layer tensors are read whole, then split.
    struct Stacked { const char* what; int64_t rows, cols; std::vector<float> data; };
    std::vector<float> tok;
    EDGEQ_RETURN_IF_ERROR(read_mat("token_embedding_table", V, D, tok));
    Stacked rms_att{"rms_att_weight", 1, D, {}}, wq{"wq", D, D, {}}, wk{"wk", kv_dim, D, {}}, wv{"wv", kv_dim, D, {}},
        wo{"wo", D, D, {}}, rms_ffn{"rms_ffn_weight", 1, D, {}}, w1{"w1", H, D, {}}, w2{"w2", D, H, {}},
        w3{"w3", H, D, {}};
    for (Stacked* s : {&rms_att, &wq, &wk, &wv, &wo, &rms_ffn, &w1, &w2, &w3}) {
        EDGEQ_RETURN_IF_ERROR(read_mat(s->what, L * s->rows, s->cols, s->data));
    }
    std::vector<float> rms_final, wcls;
    EDGEQ_RETURN_IF_ERROR(read_mat("rms_final_weight", 1, D, rms_final));
    EDGEQ_RETURN_IF_ERROR(c.skip(static_cast<uint64_t>(cf.seq_len) * head_size * 4, "freq_cis tables"));
    if (!cf.shared_classifier) EDGEQ_RETURN_IF_ERROR(read_mat("wcls", V, D, wcls));

    auto add = [&](std::string name, std::vector<int64_t> ne, std::vector<float> data) {
        m.tensors.push_back({std::move(name), std::move(ne), std::move(data)});
    };
    auto layer = [&](const Stacked& s, int64_t l) {
        const size_t n = static_cast<size_t>(s.rows * s.cols);
        return std::vector<float>(s.data.begin() + static_cast<ptrdiff_t>(n * l),
                                  s.data.begin() + static_cast<ptrdiff_t>(n * (l + 1)));
    };
    add("token_embd.weight", {D, V}, tok);
    for (int64_t l = 0; l < L; ++l) {
        const std::string b = "blk." + std::to_string(l) + ".";
        add(b + "attn_norm.weight", {D}, layer(rms_att, l));
        add(b + "attn_q.weight", {D, D}, layer(wq, l));
        add(b + "attn_k.weight", {D, kv_dim}, layer(wk, l));
        add(b + "attn_v.weight", {D, kv_dim}, layer(wv, l));
        add(b + "attn_output.weight", {D, D}, layer(wo, l));
        add(b + "ffn_norm.weight", {D}, layer(rms_ffn, l));
        add(b + "ffn_gate.weight", {D, H}, layer(w1, l));
        add(b + "ffn_down.weight", {H, D}, layer(w2, l));
        add(b + "ffn_up.weight", {D, H}, layer(w3, l));
    }
    add("output_norm.weight", {D}, std::move(rms_final));
    // llama.cpp handles a missing output.weight by tying it to token_embd; writing it explicitly keeps the
    // file self-describing and gives the classifier its own quantization type.
    add("output.weight", {D, V}, cf.shared_classifier ? tok : std::move(wcls));

    // Tokenizer.
    EDGEQ_ASSIGN_OR_RETURN(auto tk, MappedFile::open(tokenizer_path));
    Cursor t(*tk);
    int32_t max_len = 0;
    EDGEQ_RETURN_IF_ERROR(t.read(&max_len, 4, "max_token_length"));
    if (max_len <= 0 || max_len > 65536)
        return Corrupt(tokenizer_path + ": max_token_length " + std::to_string(max_len) + " out of range");
    std::vector<gguf::Value> tokens, scores, types;
    tokens.reserve(static_cast<size_t>(V));
    for (int32_t i = 0; i < V; ++i) {
        float score = 0;
        int32_t len = 0;
        EDGEQ_RETURN_IF_ERROR(t.read(&score, 4, "score of token " + std::to_string(i)));
        EDGEQ_RETURN_IF_ERROR(t.read(&len, 4, "length of token " + std::to_string(i)));
        if (len < 0 || len > max_len) {
            return Corrupt(tokenizer_path + ": token " + std::to_string(i) + " has length " + std::to_string(len) +
                           " (max_token_length " + std::to_string(max_len) + ")");
        }
        std::string s(static_cast<size_t>(len), '\0');
        EDGEQ_RETURN_IF_ERROR(t.read(s.data(), static_cast<uint64_t>(len), "text of token " + std::to_string(i)));
        std::string text = token_text(s, i);
        types.push_back(gguf::Value::I32v(token_type(text, i)));
        tokens.push_back(gguf::Value::Str(std::move(text)));
        scores.push_back(gguf::Value::F32v(score));
    }
    if (t.remaining() != 0) {
        return Corrupt(tokenizer_path + ": " + std::to_string(t.remaining()) + " bytes after token " +
                       std::to_string(V - 1) + " (tokenizer has more tokens than the checkpoint's vocab_size " +
                       std::to_string(V) + "?)");
    }

    using gguf::Value;
    const std::string stem = std::filesystem::path(checkpoint_path).stem().string();
    auto kv = [&](const char* k, Value v) { m.kvs.push_back({k, std::move(v)}); };
    kv("general.architecture", Value::Str("llama"));
    kv("general.name", Value::Str(stem));
    kv("general.file_type", Value::U32v(0));
    kv("general.quantization_version", Value::U32v(2));
    kv("general.source.description",
       Value::Str("converted from llama2.c v0 checkpoint " +
                  std::filesystem::path(checkpoint_path).filename().string() + " by edgeq"));
    kv("llama.context_length", Value::U32v(static_cast<uint32_t>(cf.seq_len)));
    kv("llama.embedding_length", Value::U32v(static_cast<uint32_t>(D)));
    kv("llama.feed_forward_length", Value::U32v(static_cast<uint32_t>(H)));
    kv("llama.block_count", Value::U32v(static_cast<uint32_t>(L)));
    kv("llama.attention.head_count", Value::U32v(static_cast<uint32_t>(cf.n_heads)));
    kv("llama.attention.head_count_kv", Value::U32v(static_cast<uint32_t>(cf.n_kv_heads)));
    kv("llama.rope.dimension_count", Value::U32v(static_cast<uint32_t>(head_size)));
    kv("llama.rope.freq_base", Value::F32v(10000.0f));
    kv("llama.attention.layer_norm_rms_epsilon", Value::F32v(1e-5f));
    kv("llama.vocab_size", Value::U32v(static_cast<uint32_t>(V)));
    kv("tokenizer.ggml.model", Value::Str("llama"));
    kv("tokenizer.ggml.tokens", Value::Array(gguf::ValueType::STRING, std::move(tokens)));
    kv("tokenizer.ggml.scores", Value::Array(gguf::ValueType::F32, std::move(scores)));
    kv("tokenizer.ggml.token_type", Value::Array(gguf::ValueType::I32, std::move(types)));
    kv("tokenizer.ggml.unknown_token_id", Value::U32v(0));
    kv("tokenizer.ggml.bos_token_id", Value::U32v(1));
    kv("tokenizer.ggml.eos_token_id", Value::U32v(2));
    kv("tokenizer.ggml.add_bos_token", Value::Boolv(true));
    kv("tokenizer.ggml.add_eos_token", Value::Boolv(false));
    return m;
}

}  // namespace edgeq::llama2c
