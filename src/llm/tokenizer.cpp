#include "llm/tokenizer.h"

#include <algorithm>
#include <cstdio>
#include <queue>

namespace edgeq::llm {
namespace {

size_t utf8_len(uint8_t c) {
    static const size_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return kLen[c >> 4];
}

// Decodes one code point at s[i] (invalid sequences: the byte itself as a code point); advances i.
uint32_t next_cpt(std::string_view s, size_t& i) {
    const auto c = static_cast<uint8_t>(s[i]);
    size_t n = utf8_len(c);
    if (n == 1 || i + n > s.size()) {
        ++i;
        return c;
    }
    uint32_t cp = c & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
    for (size_t k = 1; k < n; ++k) {
        const auto b = static_cast<uint8_t>(s[i + k]);
        if ((b & 0xC0) != 0x80) {
            ++i;
            return c;
        }
        cp = (cp << 6) | (b & 0x3F);
    }
    i += n;
    return cp;
}

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// --- Unicode classes for the GPT-2 pre-tokenizer. Exact for ASCII and Latin-1; above U+00FF an approximation
// (docs/llm/tokenizer.md): a few whitespace, digit and punctuation blocks, everything else counts as a
// letter.
bool is_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}
bool is_digit(uint32_t c) {
    return (c >= '0' && c <= '9') || c == 0xB2 || c == 0xB3 || c == 0xB9 || (c >= 0xBC && c <= 0xBE) ||
           (c >= 0x0660 && c <= 0x0669) || (c >= 0x06F0 && c <= 0x06F9) || (c >= 0x0966 && c <= 0x096F) ||
           (c >= 0x2070 && c <= 0x2079) || (c >= 0x2080 && c <= 0x2089) || (c >= 0x2150 && c <= 0x218B) ||
           (c >= 0x2460 && c <= 0x249B) || (c >= 0xFF10 && c <= 0xFF19);
}
bool is_letter(uint32_t c) {
    if (c < 0x80) return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    if (c < 0x100) return c == 0xAA || c == 0xB5 || c == 0xBA || (c >= 0xC0 && c != 0xD7 && c != 0xF7);
    if (is_space(c) || is_digit(c)) return false;
    if ((c >= 0x2000 && c <= 0x2BFF) || (c >= 0x3000 && c <= 0x303F) || (c >= 0xFE30 && c <= 0xFE4F) ||
        (c >= 0xFF00 && c <= 0xFF20) || (c >= 0xE000 && c <= 0xF8FF) || (c >= 0x1F000 && c <= 0x1FAFF) ||
        (c >= 0xD800 && c <= 0xDFFF) || (c >= 0x0300 && c <= 0x036F))
        return false;  // punctuation, symbols, emoji, private use, combining marks
    return true;
}
// [\p{P}$+<=>^~|]: the default pre-tokenizer's first split (ASCII: all punctuation and symbols but '`').
bool is_default_split_punct(uint32_t c) {
    if (c < 0x80)
        return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x5F) ||
               (c >= 0x7B && c <= 0x7E);
    if (c < 0x100)
        return c == 0xA1 || c == 0xA7 || c == 0xAB || c == 0xB6 || c == 0xB7 || c == 0xBB || c == 0xBF;
    return (c >= 0x2010 && c <= 0x2027) || (c >= 0x2030 && c <= 0x205E) || (c >= 0x3001 && c <= 0x3003) ||
           (c >= 0x3008 && c <= 0x3011);
}

// GPT-2 pattern 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ on code points
// [b, e): appends the piece lengths (in code points).
void split_gpt2(const std::vector<uint32_t>& cp, size_t b, size_t e,
                std::vector<std::pair<size_t, size_t>>& out) {
    auto at = [&](size_t i) -> uint32_t { return i < e ? cp[i] : 0xFFFFFFFFu; };
    auto other = [&](uint32_t c) {
        return c != 0xFFFFFFFFu && !is_space(c) && !is_letter(c) && !is_digit(c);
    };
    size_t i = b;
    while (i < e) {
        const uint32_t c = cp[i];
        size_t n = 0;
        if (c == '\'' && i + 1 < e) {
            const uint32_t c1 = at(i + 1), c2 = at(i + 2);
            if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd')
                n = 2;
            else if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l'))
                n = 3;
        }
        if (n == 0) {
            const size_t s = (c == ' ') ? 1 : 0;
            const uint32_t d = at(i + s);
            if (d != 0xFFFFFFFFu && is_letter(d)) {
                n = s;
                while (i + n < e && is_letter(cp[i + n])) ++n;
            } else if (d != 0xFFFFFFFFu && is_digit(d)) {
                n = s;
                while (i + n < e && is_digit(cp[i + n])) ++n;
            } else if (other(d)) {
                n = s;
                while (i + n < e && other(cp[i + n])) ++n;
            }
        }
        if (n == 0) {  // whitespace run: \s+(?!\S) leaves the last one for the next piece, else \s+
            size_t w = 0;
            while (i + w < e && is_space(cp[i + w])) ++w;
            n = (i + w < e && w > 1) ? w - 1 : w;
            if (n == 0) n = 1;  // unreachable for valid classes; keeps progress
        }
        out.push_back({i, i + n});
        i += n;
    }
}

// GPT-2 byte <-> unicode map.
struct ByteMap {
    uint32_t to_cp[256];
    std::unordered_map<uint32_t, uint8_t> to_byte;
    ByteMap() {
        uint32_t n = 0;
        for (uint32_t b = 0; b < 256; ++b) {
            const bool keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
            to_cp[b] = keep ? b : 256 + n++;
            to_byte[to_cp[b]] = static_cast<uint8_t>(b);
        }
    }
};
const ByteMap& byte_map() {
    static const ByteMap m;
    return m;
}

std::string merge_key(std::string_view a, std::string_view b) {
    std::string k = std::to_string(a.size());
    k += ':';
    k += a;
    k += b;
    return k;
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
    std::string r;
    size_t pos = 0;
    while (true) {
        const size_t p = s.find(from, pos);
        if (p == std::string_view::npos) break;
        r.append(s.substr(pos, p - pos));
        r.append(to);
        pos = p + from.size();
    }
    r.append(s.substr(pos));
    return r;
}

constexpr std::string_view kSpmSpace = "\xe2\x96\x81";  // U+2581

struct Symbol {
    int prev, next;
    size_t off, n;
};

}  // namespace

Result<Tokenizer> Tokenizer::from_gguf(const gguf::File& f) {
    auto err = [&](const std::string& what) { return Corrupt(f.path() + ": " + what); };
    const gguf::Value* model = f.find("tokenizer.ggml.model");
    if (!model || model->type != gguf::ValueType::STRING)
        return NotFound(f.path() + ": no tokenizer.ggml.model string (not a language model GGUF?)");
    Tokenizer t;
    if (model->str == "llama") {
        t.kind_ = Kind::Spm;
        t.bos_ = 1, t.eos_ = 2, t.unk_ = 0;
        t.add_bos_ = true, t.add_space_prefix_ = true;
    } else if (model->str == "gpt2") {
        t.kind_ = Kind::Bpe;
        t.bos_ = 11, t.eos_ = 11, t.unk_ = -1;
        t.add_bos_ = false, t.add_space_prefix_ = false;
        if (const auto* pre = f.find("tokenizer.ggml.pre")) {
            if (pre->type != gguf::ValueType::STRING) return err("tokenizer.ggml.pre is not a string");
            static const char* kGpt2[] = {"gpt-2",      "phi-2",      "jina-es", "jina-de", "gigachat",
                                          "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum"};
            if (std::find(std::begin(kGpt2), std::end(kGpt2), pre->str) != std::end(kGpt2))
                t.gpt2_pre_ = true;
            else if (pre->str != "default")
                return Unsupported(f.path() + ": tokenizer.ggml.pre '" + pre->str +
                                   "' not supported (only default and gpt-2 pre-tokenizers)");
        }
    } else {
        return Unsupported(f.path() + ": tokenizer.ggml.model '" + model->str +
                           "' not supported (llama, gpt2)");
    }

    const gguf::Value* toks = f.find("tokenizer.ggml.tokens");
    if (!toks || toks->type != gguf::ValueType::ARRAY || toks->elem_type != gguf::ValueType::STRING)
        return err("tokenizer.ggml.tokens missing or not an array of strings");
    if (toks->array.empty()) return err("tokenizer.ggml.tokens is empty");
    const size_t n = toks->array.size();
    t.tokens_.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        t.tokens_.push_back(toks->array[i].str);
        t.index_[toks->array[i].str] = static_cast<int32_t>(i);  // later duplicates win, as in llama.cpp
    }
    t.scores_.assign(n, 0.0f);
    if (const auto* sc = f.find("tokenizer.ggml.scores")) {
        if (sc->type != gguf::ValueType::ARRAY || sc->array.size() != n)
            return err("tokenizer.ggml.scores: expected an array of " + std::to_string(n) + " numbers");
        for (size_t i = 0; i < n; ++i) t.scores_[i] = static_cast<float>(sc->array[i].as_float());
    }
    t.types_.assign(n, TokenType::Normal);
    if (const auto* ty = f.find("tokenizer.ggml.token_type")) {
        if (ty->type != gguf::ValueType::ARRAY || ty->array.size() != n ||
            (!ty->array.empty() && !ty->array[0].is_integer()))
            return err("tokenizer.ggml.token_type: expected an array of " + std::to_string(n) + " integers");
        for (size_t i = 0; i < n; ++i) {
            const int64_t v = ty->array[i].as_int();
            if (v < 0 || v > 6)
                return err("tokenizer.ggml.token_type[" + std::to_string(i) + "] = " + std::to_string(v) +
                           " (expected 0..6)");
            t.types_[i] = static_cast<TokenType>(v);
        }
    }
    if (t.kind_ == Kind::Bpe) {
        const auto* mg = f.find("tokenizer.ggml.merges");
        if (!mg || mg->type != gguf::ValueType::ARRAY || mg->elem_type != gguf::ValueType::STRING)
            return err("tokenizer.ggml.merges missing or not an array of strings (required for gpt2)");
        for (size_t r = 0; r < mg->array.size(); ++r) {
            const std::string& m = mg->array[r].str;
            const size_t sp = m.find(' ', 1);
            if (sp == std::string::npos)
                return err("tokenizer.ggml.merges[" + std::to_string(r) + "] '" + m + "' has no space");
            t.merge_rank_.emplace(
                merge_key(std::string_view(m).substr(0, sp), std::string_view(m).substr(sp + 1)),
                static_cast<int32_t>(r));
        }
    }
    auto read_id = [&](const char* key, int32_t& id) -> Status {
        const auto* v = f.find(key);
        if (!v) return Status::Ok();
        if (!v->is_integer()) return err(std::string(key) + " is not an integer");
        const int64_t x = v->as_int();
        if (x < 0 || x >= static_cast<int64_t>(n))
            return err(std::string(key) + " = " + std::to_string(x) + " outside the vocabulary of " +
                       std::to_string(n));
        id = static_cast<int32_t>(x);
        return Status::Ok();
    };
    EDGEQ_RETURN_IF_ERROR(read_id("tokenizer.ggml.bos_token_id", t.bos_));
    EDGEQ_RETURN_IF_ERROR(read_id("tokenizer.ggml.eos_token_id", t.eos_));
    EDGEQ_RETURN_IF_ERROR(read_id("tokenizer.ggml.unknown_token_id", t.unk_));
    EDGEQ_RETURN_IF_ERROR(read_id("tokenizer.ggml.eot_token_id", t.eot_));
    EDGEQ_RETURN_IF_ERROR(read_id("tokenizer.ggml.eom_token_id", t.eom_));
    auto read_bool = [&](const char* key, bool& b) -> Status {
        const auto* v = f.find(key);
        if (!v) return Status::Ok();
        if (v->type != gguf::ValueType::BOOL) return err(std::string(key) + " is not a bool");
        b = v->u != 0;
        return Status::Ok();
    };
    EDGEQ_RETURN_IF_ERROR(read_bool("tokenizer.ggml.add_bos_token", t.add_bos_));
    EDGEQ_RETURN_IF_ERROR(read_bool("tokenizer.ggml.add_eos_token", t.add_eos_));
    EDGEQ_RETURN_IF_ERROR(read_bool("tokenizer.ggml.add_space_prefix", t.add_space_prefix_));
    // default ids may not exist in a small vocabulary
    for (int32_t* id : {&t.bos_, &t.eos_, &t.unk_})
        if (*id >= static_cast<int32_t>(n)) *id = -1;
    if (t.add_bos_ && t.bos_ < 0) return err("add_bos_token is set but the vocabulary has no BOS token");

    for (int b = 0; b < 256; ++b) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        int32_t id = t.find(buf);
        if (id < 0) id = t.find(std::string(1, static_cast<char>(b)));
        t.byte_tokens_[b] = id;
    }
    for (size_t i = 0; i < n; ++i)
        if (t.types_[i] == TokenType::UserDefined && !t.tokens_[i].empty())
            t.user_defined_.push_back(static_cast<int32_t>(i));
    std::stable_sort(t.user_defined_.begin(), t.user_defined_.end(), [&](int32_t a, int32_t b) {
        return t.tokens_[static_cast<size_t>(a)].size() > t.tokens_[static_cast<size_t>(b)].size();
    });
    return t;
}

int32_t Tokenizer::find(std::string_view s) const {
    auto it = index_.find(std::string(s));
    return it == index_.end() ? -1 : it->second;
}

const std::string& Tokenizer::token_text(int32_t id) const {
    static const std::string kEmpty;
    return id >= 0 && id < n_vocab() ? tokens_[static_cast<size_t>(id)] : kEmpty;
}

TokenType Tokenizer::token_type(int32_t id) const {
    return id >= 0 && id < n_vocab() ? types_[static_cast<size_t>(id)] : TokenType::Undefined;
}

bool Tokenizer::is_eog(int32_t id) const {
    return id >= 0 && (id == eos_ || id == eot_ || id == eom_);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos) const {
    std::vector<int32_t> out;
    const bool with_bos = add_bos && add_bos_ && bos_ >= 0;
    if (with_bos) out.push_back(bos_);
    // Fragments: raw text split at user-defined tokens (matched even with parse_special = false), longest
    // first.
    struct Frag {
        int32_t token;  // -1: raw text
        size_t off, len;
    };
    std::vector<Frag> frags;
    if (!text.empty()) frags.push_back({-1, 0, text.size()});
    for (int32_t ud : user_defined_) {
        const std::string& s = tokens_[static_cast<size_t>(ud)];
        std::vector<Frag> next;
        for (const Frag& fr : frags) {
            if (fr.token >= 0) {
                next.push_back(fr);
                continue;
            }
            size_t pos = fr.off;
            const size_t end = fr.off + fr.len;
            while (pos < end) {
                const size_t p = text.substr(0, end).find(s, pos);
                if (p == std::string_view::npos) break;
                if (p > pos) next.push_back({-1, pos, p - pos});
                next.push_back({ud, p, s.size()});
                pos = p + s.size();
            }
            if (pos < end) next.push_back({-1, pos, end - pos});
        }
        frags = std::move(next);
    }
    bool prev_special = true;
    for (const Frag& fr : frags) {
        if (fr.token >= 0) {
            out.push_back(fr.token);
            prev_special = true;
            continue;
        }
        const std::string_view raw = text.substr(fr.off, fr.len);
        if (kind_ == Kind::Spm) {
            std::string s;
            if (add_space_prefix_ && prev_special) s = " ";
            s += raw;
            encode_spm(replace_all(s, " ", kSpmSpace), out);
        } else {
            encode_bpe(raw, out);
        }
        prev_special = false;
    }
    if (add_bos && add_eos_ && eos_ >= 0) out.push_back(eos_);
    return out;
}

// llm_tokenizer_spm: split into UTF-8 characters, repeatedly merge the adjacent pair whose concatenation is
// the vocabulary token of highest score (ties: leftmost), then emit each symbol as its token or as byte
// tokens.
void Tokenizer::encode_spm(std::string_view text, std::vector<int32_t>& out) const {
    std::vector<Symbol> sym;
    for (size_t off = 0; off < text.size();) {
        const size_t n = std::min(utf8_len(static_cast<uint8_t>(text[off])), text.size() - off);
        const int idx = static_cast<int>(sym.size());
        sym.push_back({idx - 1, off + n == text.size() ? -1 : idx + 1, off, n});
        off += n;
    }
    struct Bigram {
        int left, right;
        float score;
        size_t size;
    };
    auto worse = [](const Bigram& a, const Bigram& b) {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    };
    std::priority_queue<Bigram, std::vector<Bigram>, decltype(worse)> q(worse);
    auto try_add = [&](int l, int r) {
        if (l < 0 || r < 0) return;
        const auto& L = sym[static_cast<size_t>(l)];
        const auto& R = sym[static_cast<size_t>(r)];
        const int32_t id = find(text.substr(L.off, L.n + R.n));
        if (id < 0) return;
        q.push({l, r, scores_[static_cast<size_t>(id)], L.n + R.n});
    };
    for (int i = 1; i < static_cast<int>(sym.size()); ++i) try_add(i - 1, i);
    while (!q.empty()) {
        const Bigram b = q.top();
        q.pop();
        auto& L = sym[static_cast<size_t>(b.left)];
        auto& R = sym[static_cast<size_t>(b.right)];
        if (L.n == 0 || R.n == 0 || L.n + R.n != b.size) continue;  // stale
        L.n += R.n;
        R.n = 0;
        L.next = R.next;
        if (R.next >= 0) sym[static_cast<size_t>(R.next)].prev = b.left;
        try_add(L.prev, b.left);
        try_add(b.left, L.next);
    }
    for (int i = sym.empty() ? -1 : 0; i != -1; i = sym[static_cast<size_t>(i)].next) {
        const auto& s = sym[static_cast<size_t>(i)];
        // A merged symbol is always a vocabulary token; a lone character may not be: byte fallback.
        const int32_t id = find(text.substr(s.off, s.n));
        if (id >= 0) {
            out.push_back(id);
            continue;
        }
        for (size_t k = 0; k < s.n; ++k) {
            const int32_t bt = byte_tokens_[static_cast<uint8_t>(text[s.off + k])];
            if (bt >= 0)
                out.push_back(bt);
            else if (unk_ >= 0)
                out.push_back(unk_);
        }
    }
}

// llm_tokenizer_bpe: pre-tokenize, map each piece's bytes through the GPT-2 byte-to-unicode table, then merge
// adjacent symbols by lowest merge rank (ties: leftmost).
void Tokenizer::encode_bpe(std::string_view text, std::vector<int32_t>& out) const {
    std::vector<uint32_t> cp;
    std::vector<size_t> byte_off;  // byte offset of each code point, plus the end
    for (size_t i = 0; i < text.size();) {
        byte_off.push_back(i);
        cp.push_back(next_cpt(text, i));
    }
    byte_off.push_back(text.size());
    std::vector<std::pair<size_t, size_t>> pieces;
    if (gpt2_pre_) {
        split_gpt2(cp, 0, cp.size(), pieces);
    } else {
        // default: [\p{P}$+<=>^~|]+ runs, then GPT-2, then \p{N}+, then [0-9][0-9][0-9]; each regex splits
        // the previous pieces into matches and the text between them.
        std::vector<std::pair<size_t, size_t>> p1, p2;
        size_t start = 0;
        for (size_t i = 0; i < cp.size();) {
            if (!is_default_split_punct(cp[i])) {
                ++i;
                continue;
            }
            size_t j = i;
            while (j < cp.size() && is_default_split_punct(cp[j])) ++j;
            if (i > start) p1.push_back({start, i});
            p1.push_back({i, j});
            start = i = j;
        }
        if (start < cp.size()) p1.push_back({start, cp.size()});
        for (auto [b, e] : p1) split_gpt2(cp, b, e, p2);
        auto split_runs = [&](const std::vector<std::pair<size_t, size_t>>& in, bool groups3) {
            std::vector<std::pair<size_t, size_t>> res;
            for (auto [b, e] : in) {
                size_t s = b, i = b;
                while (i < e) {
                    const bool d = groups3 ? (cp[i] >= '0' && cp[i] <= '9') : is_digit(cp[i]);
                    if (!d) {
                        ++i;
                        continue;
                    }
                    size_t j = i;
                    while (j < e && (groups3 ? (cp[j] >= '0' && cp[j] <= '9') : is_digit(cp[j]))) ++j;
                    size_t m = groups3 ? i + (j - i) / 3 * 3 : j;  // matched part
                    if (m == i) {
                        i = j;
                        continue;
                    }
                    if (i > s) res.push_back({s, i});
                    for (size_t k = i; k < m; k += groups3 ? 3 : m - i)
                        res.push_back({k, groups3 ? k + 3 : m});
                    s = i = m;
                }
                if (s < e) res.push_back({s, e});
            }
            return res;
        };
        pieces = split_runs(split_runs(p2, false), true);
    }
    const ByteMap& bm = byte_map();
    for (auto [b, e] : pieces) {
        std::string word;
        for (size_t k = byte_off[b]; k < byte_off[e]; ++k)
            append_utf8(word, bm.to_cp[static_cast<uint8_t>(text[k])]);
        bpe_word(word, out);
    }
}

void Tokenizer::bpe_word(const std::string& word, std::vector<int32_t>& out) const {
    std::vector<Symbol> sym;
    for (size_t off = 0; off < word.size();) {
        const size_t n = std::min(utf8_len(static_cast<uint8_t>(word[off])), word.size() - off);
        const int idx = static_cast<int>(sym.size());
        sym.push_back({idx - 1, off + n == word.size() ? -1 : idx + 1, off, n});
        off += n;
    }
    struct Bigram {
        int left, right;
        int32_t rank;
        std::string text;
    };
    auto worse = [](const Bigram& a, const Bigram& b) {
        return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    };
    std::priority_queue<Bigram, std::vector<Bigram>, decltype(worse)> q(worse);
    const std::string_view w(word);
    auto try_add = [&](int l, int r) {
        if (l < 0 || r < 0) return;
        const auto& L = sym[static_cast<size_t>(l)];
        const auto& R = sym[static_cast<size_t>(r)];
        auto it = merge_rank_.find(merge_key(w.substr(L.off, L.n), w.substr(R.off, R.n)));
        if (it == merge_rank_.end()) return;
        q.push({l, r, it->second, std::string(w.substr(L.off, L.n + R.n))});
    };
    for (int i = 1; i < static_cast<int>(sym.size()); ++i) try_add(i - 1, i);
    while (!q.empty()) {
        const Bigram b = q.top();
        q.pop();
        auto& L = sym[static_cast<size_t>(b.left)];
        auto& R = sym[static_cast<size_t>(b.right)];
        if (L.n == 0 || R.n == 0 || L.n + R.n != b.text.size() || w.substr(L.off, L.n + R.n) != b.text)
            continue;
        L.n += R.n;
        R.n = 0;
        L.next = R.next;
        if (R.next >= 0) sym[static_cast<size_t>(R.next)].prev = b.left;
        try_add(L.prev, b.left);
        try_add(b.left, L.next);
    }
    for (const auto& s : sym) {
        if (s.n == 0) continue;
        const int32_t id = find(w.substr(s.off, s.n));
        if (id >= 0) {
            out.push_back(id);
            continue;
        }
        for (size_t k = 0; k < s.n; ++k) {  // as llama.cpp: single bytes of the mapped text, if in the vocab
            const int32_t bt = find(w.substr(s.off + k, 1));
            if (bt >= 0) out.push_back(bt);
        }
    }
}

std::string Tokenizer::token_to_piece(int32_t id) const {
    if (id < 0 || id >= n_vocab()) return {};
    const std::string& s = tokens_[static_cast<size_t>(id)];
    switch (types_[static_cast<size_t>(id)]) {
        case TokenType::UserDefined:
            return s;
        case TokenType::Normal:
            if (kind_ == Kind::Spm) return replace_all(s, kSpmSpace, " ");
            {
                const ByteMap& bm = byte_map();
                std::string r;
                for (size_t i = 0; i < s.size();) {
                    const uint32_t c = next_cpt(s, i);
                    auto it = bm.to_byte.find(c);
                    if (it != bm.to_byte.end())
                        r += static_cast<char>(it->second);
                    else
                        append_utf8(r, c);  // not produced by the byte map: kept as is
                }
                return r;
            }
        case TokenType::Byte:
            if (s.size() == 6 && s.compare(0, 3, "<0x") == 0 && s[5] == '>') {
                auto hex = [](char c) {
                    return c >= '0' && c <= '9'   ? c - '0'
                           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                           : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                  : -1;
                };
                const int hi = hex(s[3]), lo = hex(s[4]);
                if (hi >= 0 && lo >= 0) return std::string(1, static_cast<char>(hi * 16 + lo));
            }
            return s;
        default:  // control, unknown, unused, undefined: no text (special = false)
            return {};
    }
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
    if (add_bos_ && !ids.empty() && ids.front() == bos_) ids = ids.subspan(1);
    if (add_eos_ && !ids.empty() && ids.back() == eos_) ids = ids.first(ids.size() - 1);
    std::string r;
    for (size_t i = 0; i < ids.size(); ++i) {
        std::string p = token_to_piece(ids[i]);
        if (i == 0 && add_space_prefix_ && !p.empty() && p[0] == ' ') p.erase(0, 1);
        r += p;
    }
    return r;
}

}  // namespace edgeq::llm
