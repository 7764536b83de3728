// llama2.c checkpoints (Karpathy's run.c "v0"/legacy format) and tokenizer.bin, converted to a llama GGUF
// model in memory. Layout and checks: docs/formats/llama2c.md.
//
// Checkpoint (all little-endian):
//   1. header: 7 x int32 = dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
//      vocab_size < 0 means an unshared classifier (wcls stored at the end).
//   2. float32 tensors, PyTorch [out, in] row-major (= ggml ne [in, out], no transposition):
//      token_embedding [vocab, dim], rms_att [L, dim], wq [L, dim, dim], wk [L, kv_dim, dim],
//      wv [L, kv_dim, dim], wo [L, dim, dim], rms_ffn [L, dim], w1 [L, hidden, dim], w2 [L, dim, hidden],
//      w3 [L, hidden, dim], rms_final [dim], freq_cis_real/imag [seq_len, head_size/2] (skipped),
//      wcls [vocab, dim] only when unshared.
// Tokenizer: int32 max_token_length, then per token: float32 score, int32 length, bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "edgeq/status.h"
#include "formats/gguf/gguf.h"

namespace edgeq::llama2c {

struct Config {
    int32_t dim = 0, hidden_dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, vocab_size = 0, seq_len = 0;
    bool shared_classifier = true;
};

struct Tensor {
    std::string name;             // GGUF name, e.g. "blk.0.attn_q.weight"
    std::vector<int64_t> ne;      // ggml order
    std::vector<float> data;
};

// A converted model: GGUF metadata (llama architecture + SentencePiece-style tokenizer) and F32 tensors
// in the order llama.cpp's converters write them.
struct Model {
    Config config;
    std::vector<gguf::KV> kvs;
    std::vector<Tensor> tensors;
};

Result<Model> load(const std::string& checkpoint_path, const std::string& tokenizer_path);

}  // namespace edgeq::llama2c
