// Llama-architecture decoder on a GGUF file (docs/llm/runtime.md).
//
// The weights stay in the file's read-only mapping in their stored type (F32, F16, Q8_0, Q4_0, ..., anything
// src/dtype can dequantize). Matrix products follow llama.cpp's CPU backend: each activation row is converted once
// to the weight type's vec_dot_type (Q8_0, Q8_1, Q8_K; F16 for F16 weights; dtype/vec_dot.h) and every weight row
// is dotted with it on its blocks by vec_dot (integer block sums, ggml's float order; the AVX2/AVX-512 rows give
// the reference's bits, so results do not depend on EDGEQ_ISA). F32/F16/BF16 weights use the float tiles of
// dtype/vec_dot_float.h (tinyBLAS's lane order). The token embedding row of each token is dequantized when it is
// looked up. The K/V cache is F32, V stored transposed; softmax/SwiGLU follow ggml (llm/float_glue.h).
//
// The forward pass is llama.cpp's LLM_ARCH_LLAMA graph: RMSNorm (eps from metadata) -> Q/K/V -> RoPE mode NORM
// (adjacent pairs (x[2i], x[2i+1]) of the first n_rot dims, theta = pos * base^(-2i/n_rot)) -> grouped-query causal
// attention (scale 1/sqrt(head_dim), softmax) -> output projection -> residual; RMSNorm -> SwiGLU FFN
// (down(silu(gate(x)) * up(x))) -> residual; final RMSNorm -> output (or token_embd when output is absent).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "dtype/repack.h"
#include "edgeq/dtype.h"
#include "edgeq/status.h"
#include "formats/gguf/gguf.h"

namespace edgeq::llm {

struct HParams {
    int64_t n_vocab = 0;      // rows of token_embd
    int64_t n_embd = 0;       // llama.embedding_length
    int64_t n_layer = 0;      // llama.block_count
    int64_t n_ff = 0;         // llama.feed_forward_length
    int64_t n_head = 0;       // llama.attention.head_count
    int64_t n_head_kv = 0;    // llama.attention.head_count_kv (default n_head)
    int64_t n_rot = 0;        // llama.rope.dimension_count (default head_dim)
    int64_t n_ctx_train = 0;  // llama.context_length
    float rms_eps = 0.0f;     // llama.attention.layer_norm_rms_epsilon
    float rope_base = 10000.0f;  // llama.rope.freq_base (default 10000)

    int64_t head_dim() const { return n_embd / n_head; }
    int64_t n_embd_kv() const { return head_dim() * n_head_kv; }
};

// A 2-D weight matrix viewed in the mapping: `rows` rows of `cols` elements (ggml ne = [cols, rows]).
struct Weight {
    std::string name;
    DType type = DType::F32;
    int64_t cols = 0;
    int64_t rows = 0;
    size_t row_bytes = 0;
    const uint8_t* data = nullptr;
    // Q4_0/Q8_0 rows repacked at load for the VNNI GEMM (dtype/repack.h; same results), or null.
    std::shared_ptr<const PackedMatrix> packed{};
    // llama.cpp's x86 float order (vec_dot_x86_ref; ModelOptions::llama_order) instead of ggml's generic one;
    // x86_repacked: the order of llama.cpp's repacked gemm / gemv kernels (vec_dot_x86_repacked_fn) instead.
    bool x86_order = false;
    bool x86_repacked = false;

    const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes; }
};

// The matmul seam: y[r] = vec_dot(w.row(r), quantize_activation(x)) for r in [r_begin, r_end) (F32 weights: the
// double-accumulated dot with x). matmul does the same for n_x activation vectors at once (x: n_x x w.cols,
// y: n_x x w.rows, both row-major), quantizing each activation row once. Types without a vec_dot (none of the
// GGUF weight types) fall back to dequantizing each row and dotting it with x in double.
void matvec(const Weight& w, const float* x, float* y, int64_t r_begin, int64_t r_end);
void matmul(const Weight& w, const float* x, int64_t n_x, float* y, int64_t r_begin, int64_t r_end);

// Sees the F32 input rows of every weight matrix product of the forward pass (attn q/k/v/output, ffn
// gate/up/down, the output classifier), before they are converted to the weight's vec_dot type: w is the
// weight, x the n_x activation rows of w.cols floats (row-major). Called on the thread that runs Model::eval,
// once per product, before the product's rows are split among the workers. Used by imatrix collection
// (llm/imatrix.h).
class MatmulObserver {
public:
    virtual ~MatmulObserver() = default;
    virtual void observe(const Weight& w, const float* x, int64_t n_x) = 0;
};

struct ModelOptions {
    int threads = 0;    // <= 0: all hardware threads
    int64_t n_ctx = 0;  // K/V cache length in tokens; <= 0: llama.context_length
    // Repack the Q4_0/Q8_0 matrices at load for the AVX-512 VNNI GEMM (dtype/repack.h; same logits bit for bit,
    // the file pages released so memory stays the same): prompt processing about 1.9x faster than the row tiles,
    // decoding about the same (Q8_0) or 1.1-1.2x faster (Q4_0; docs/llm/speed.md, session 15). No effect on a
    // CPU without AVX-512 VNNI or with EDGEQ_ISA below avx512_vnni.
    bool repack = true;
    // Every block type in the float order of llama.cpp's x86 CPU backend as its zen4 build runs it
    // (dtype/vec_dot.h vec_dot_x86_ref and vec_dot_x86_repacked_fn) instead of ggml's generic order that the fast
    // kernels keep: the 32-wide types in the AVX2 / tinyBLAS lane order, the k-quants and TQ2_0 in their AVX2
    // kernels' lane order, and the matrices llama.cpp repacks (Q4_0 / IQ4_NL / Q4_K / Q2_K with a multiple of 8
    // rows, not the tied output) in its repacked gemm / gemv order (4 rows of a batch at a time, the batch's last
    // n % 4 rows one at a time), and float weights of a one-token batch as ggml_vec_dot_f32 / _f16 (not repacked). The fixtures' logits then equal llama.cpp's bit for bit (the generic order
    // differs in the last bits, which moves a few near-tied positions). Slower: one scalar row per output (an AVX2
    // row for Q8_0), no repacking (`edgeq perplexity / generate --llama-order`).
    bool llama_order = false;
};

class Model {
public:
    // Opens and maps the GGUF file, reads the hyper-parameters and checks every tensor's presence, shape and type.
    // Errors name the file and the key or tensor.
    static Result<std::unique_ptr<Model>> load(const std::string& path, const ModelOptions& o = {});

    const HParams& hparams() const { return hp_; }
    const gguf::File& file() const { return *file_; }
    int64_t n_ctx() const { return n_ctx_; }
    int threads() const { return threads_; }
    void set_threads(int n);
    // For A/B speed measurements (bench/llm_bench run --baseline): the session-4 schedule, one vec_dot per
    // output (no tiles) and threads spawned per matrix product and attention (core/parallel_for) instead of
    // the pool. Logits are the same bit for bit either way.
    void set_baseline_schedule(bool on) { baseline_ = on; }

    // Evaluates tokens at positions n_past, n_past+1, ... and stores their K/V in the cache (entries at positions
    // >= n_past are overwritten, so n_past may rewind). Returns the logits of the last token (n_vocab values), or of
    // every token (tokens.size() x n_vocab, row-major) when all_logits (without it the last layer's FFN runs on the
    // last token's row only, as llama.cpp does; a MatmulObserver then sees one row there). Errors: empty tokens,
    // token id out of range, n_past < 0 or beyond the cached positions, n_past + tokens.size() > n_ctx.
    Result<std::vector<float>> eval(std::span<const int32_t> tokens, int32_t n_past, bool all_logits = false);

    // Number of positions currently in the K/V cache.
    int64_t n_cached() const { return n_cached_; }

    // Installs an observer of the matmul inputs (nullptr: none, the default). Not owned; it must outlive its
    // use by eval.
    void set_observer(MatmulObserver* o) { observer_ = o; }

    // Points the weight matrix `name` (token_embd.weight, output.weight, blk.N.attn_q.weight, ...) at other
    // bytes of the same shape: `data` holds rows x row_size(type, cols) bytes of `type` (any dtype with a
    // codec) and must outlive its use by eval. Used to measure one tensor quantized while the others stay
    // as loaded (llm/autotune.h); passing the file's own type and bytes restores it. A tied classifier
    // (no output.weight) follows token_embd.weight. Errors: unknown weight name, wrong byte count.
    Status set_weight_data(const std::string& name, DType type, std::span<const uint8_t> data);
    // The weight matrix `name` as currently bound, or null.
    const Weight* find_weight(const std::string& name) const;

private:
    struct Layer {
        std::vector<float> attn_norm, ffn_norm;
        Weight wq, wk, wv, wo, w_gate, w_up, w_down;
    };
    Model() = default;
    void mm(const Weight& w, const float* x, int64_t n_x, float* y);  // all rows, threaded
    // Several products of the same activations (Q·K·V, gate and up) as one job on the pool: one hand-off and
    // one wait instead of one per matrix; activations quantized once per distinct weight type and layout.
    struct MmJob {
        const Weight* w;
        float* y;
    };
    void mm_group(std::span<const MmJob> jobs, const float* x, int64_t n_x);
    // Calls fn(begin, end) on chunks of [0, n) of `grain` items (the last may be shorter) on the pool.
    template <typename F>
    void parallel(int64_t n, int64_t grain, int threads, F&& fn);

    std::unique_ptr<gguf::File> file_;
    HParams hp_;
    Weight tok_embd_, output_;
    bool tied_output_ = false;
    std::vector<float> output_norm_;
    std::vector<Layer> layers_;
    int threads_ = 1;
    bool baseline_ = false;
    bool llama_order_ = false;  // ModelOptions::llama_order
    std::unique_ptr<ThreadPool> pool_;  // threads_ workers (the caller included), made by set_threads
    struct Scratch {  // eval's activations, reused across calls
        std::vector<float> x, xn, q, k, v, att, proj, g, u, rope_cs;
    } scratch_;
    MatmulObserver* observer_ = nullptr;
    int64_t n_ctx_ = 0;
    int64_t n_cached_ = 0;
    int64_t v_stride_ = 0;                  // n_ctx rounded up to 16
    std::vector<float> k_cache_;            // [n_layer][n_ctx][n_embd_kv]
    std::vector<float> v_cache_;            // transposed: [n_layer][n_embd_kv][v_stride_]
};

}  // namespace edgeq::llm
