// Tokenizers read from GGUF metadata (tokenizer.ggml.*), reproducing llama.cpp's llama_tokenize /
// llama_token_to_piece / llama_detokenize for the two common model kinds (docs/llm/tokenizer.md):
//   "llama": SentencePiece-style (llm_tokenizer_spm): text gets a prefix space, spaces become U+2581, UTF-8
//            characters are merged pairwise by highest score (ties: leftmost); characters left that are not
//            in the vocabulary fall back to <0xXX> byte tokens (else unk).
//   "gpt2":  byte-level BPE (llm_tokenizer_bpe) with tokenizer.ggml.merges, GPT-2 byte-to-unicode map and the
//            default GPT-2 pre-tokenizer pattern (hand-written; ASCII + UTF-8 letter/digit classes
//            approximated, see doc).
// Text is never parsed for special tokens (parse_special = false).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "edgeq/status.h"
#include "formats/gguf/gguf.h"

namespace edgeq::llm {

enum class TokenType : int32_t {  // llama.cpp LLAMA_TOKEN_TYPE_*
    Undefined = 0,
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
};

class Tokenizer {
public:
    enum class Kind { Spm, Bpe };

    // Reads tokenizer.ggml.{model, tokens, scores, token_type, merges, bos_token_id, eos_token_id,
    // unknown_token_id, eot_token_id, eom_token_id, add_bos_token}. Errors name the file and key.
    static Result<Tokenizer> from_gguf(const gguf::File& f);

    // As llama_tokenize(text, add_special = add_bos, parse_special = false): BOS is prepended when add_bos
    // and the model's add_bos_token flag (default true for llama, false for gpt2) allow it. Empty text -> {}
    // or {bos}.
    std::vector<int32_t> encode(std::string_view text, bool add_bos) const;

    // As llama_token_to_piece(id, lstrip = 0, special = false): normal tokens with U+2581 -> ' ' (SPM) or the
    // GPT-2 unicode map undone (BPE); byte tokens <0xXX> -> that raw byte; user-defined tokens -> their text;
    // control/unknown/unused tokens -> "". Out-of-range ids -> "". A piece may be part of a UTF-8 character.
    std::string token_to_piece(int32_t id) const;

    // Concatenated pieces, as llama_detokenize(remove_special = true, unparse_special = false): a leading BOS
    // (and, for add_eos models, a trailing EOS) is dropped; when the model adds a prefix space (SPM), one
    // leading space of the first remaining piece is removed. So decode(encode(x, b)) == x for SPM text the
    // vocabulary covers. Not done: llama.cpp's clean_spaces pass for BPE (" ." -> "."); BPE pieces are
    // concatenated as they are.
    std::string decode(std::span<const int32_t> ids) const;

    int32_t bos() const { return bos_; }
    int32_t eos() const { return eos_; }
    int32_t unk() const { return unk_; }
    int32_t n_vocab() const { return static_cast<int32_t>(tokens_.size()); }
    bool is_eog(int32_t id) const;  // eos, eot, eom
    Kind kind() const { return kind_; }
    const std::string& token_text(int32_t id) const;  // raw vocabulary text ("" if out of range)
    TokenType token_type(int32_t id) const;

private:
    Tokenizer() = default;
    void encode_spm(std::string_view text, std::vector<int32_t>& out) const;
    void encode_bpe(std::string_view text, std::vector<int32_t>& out) const;
    void bpe_word(const std::string& word, std::vector<int32_t>& out) const;
    int32_t find(std::string_view s) const;  // -1 if absent

    Kind kind_ = Kind::Spm;
    std::vector<std::string> tokens_;
    std::vector<float> scores_;
    std::vector<TokenType> types_;
    std::unordered_map<std::string, int32_t> index_;
    std::unordered_map<std::string, int32_t> merge_rank_;  // "left right" -> rank (BPE)
    int32_t byte_tokens_[256] = {};                        // <0xXX> ids (SPM), -1 if absent
    int32_t bos_ = -1, eos_ = -1, unk_ = -1, eot_ = -1, eom_ = -1;
    bool add_bos_ = true;
    bool add_eos_ = false;
    bool add_space_prefix_ = true;
    bool gpt2_pre_ = false;              // tokenizer.ggml.pre = gpt-2 (else the default BPE pre-tokenizer)
    std::vector<int32_t> user_defined_;  // USER_DEFINED token ids, longest text first (split out of raw text)
};

}  // namespace edgeq::llm
