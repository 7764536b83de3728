// llama_api.h: the llama.h / ggml.h declarations (this build) that the drivers built against the prebuilt
// llama.cpp of npm @node-llama-cpp/linux-x64@3.22.1 (commit 0ad4a86) share: tests/interop/llama_greedy.cpp
// and bench/peers/llama_bench.cpp. One copy of the by-value structs, their layout checks, the function table,
// and the context set-up with its checks.
//
// ABI: the library is used without its headers, so the by-value structs below are declared here. They
// follow include/llama.h of this build (llama_model_params with load_mode/lazy_mode, 80 bytes;
// llama_context_params with n_outputs_max_per_seq, 160 bytes) and were checked against the
// disassembly of llama_{model,context}_default_params in this exact binary. A layout error would be
// silent, so three checks run every time, and any failure stops the program:
//   1. static_assert on sizeof and on the offset of every field we read or write;
//   2. the defaults returned by the library must equal the known defaults at those offsets
//      (e.g. n_batch 2048, n_threads 4, type_k F16, flash_attn AUTO, load_mode "auto") — default_params();
//   3. after the context is made, llama.cpp's own getters (llama_n_ctx, llama_n_threads, ...) and its
//      log ("flash_attn = disabled", "K (f32)", "V (f32)") must report what we asked for — make_context().
// Header-only, next to llama_dl.h (loading, binding, log); each driver is built from its single .cpp file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "llama_dl.h"

namespace llama_dl {

// ---- llama.h / ggml.h declarations (this build) -------------------------------------------------
using llama_token = int32_t;
using llama_pos = int32_t;
using llama_seq_id = int32_t;
struct llama_model;
struct llama_context;
struct llama_vocab;

struct llama_model_params {
    void* devices;                      // ggml_backend_dev_t *
    const void* tensor_buft_overrides;  // const llama_model_tensor_buft_override *
    int32_t n_gpu_layers;
    int32_t split_mode;  // enum llama_split_mode
    int32_t load_mode;   // enum llama_load_mode (AUTO = -1)
    int32_t lazy_mode;   // enum llama_lazy_mode (OFF, AUTO, ON)
    int32_t main_gpu;
    const float* tensor_split;
    void* progress_callback;
    void* progress_callback_user_data;
    const void* kv_overrides;
    bool vocab_only;
    bool check_tensors;
    bool use_extra_bufts;
    bool no_host;
    bool no_alloc;
    bool load_mtp;
};
static_assert(sizeof(llama_model_params) == 80);
static_assert(offsetof(llama_model_params, n_gpu_layers) == 0x10);
static_assert(offsetof(llama_model_params, load_mode) == 0x18);
static_assert(offsetof(llama_model_params, main_gpu) == 0x20);
static_assert(offsetof(llama_model_params, kv_overrides) == 0x40);
static_assert(offsetof(llama_model_params, use_extra_bufts) == 0x4a);

struct llama_context_params {
    uint32_t n_ctx;
    uint32_t n_batch;
    uint32_t n_ubatch;
    uint32_t n_seq_max;
    uint32_t n_rs_seq;
    uint32_t n_outputs_max;
    uint32_t n_outputs_max_per_seq;
    int32_t n_threads;
    int32_t n_threads_batch;
    int32_t ctx_type;  // enum llama_context_type
    int32_t rope_scaling_type;
    int32_t pooling_type;
    int32_t attention_type;
    int32_t flash_attn_type;  // enum llama_flash_attn_type: AUTO -1, DISABLED 0, ENABLED 1
    float rope_freq_base;
    float rope_freq_scale;
    float yarn_ext_factor;
    float yarn_attn_factor;
    float yarn_beta_fast;
    float yarn_beta_slow;
    uint32_t yarn_orig_ctx;
    float defrag_thold;
    void* cb_eval;
    void* cb_eval_user_data;
    int32_t type_k;  // enum ggml_type: F32 0, F16 1
    int32_t type_v;
    void* abort_callback;
    void* abort_callback_data;
    bool embeddings;
    bool offload_kqv;
    bool no_perf;
    bool op_offload;
    bool swa_full;
    bool kv_unified;
    void* samplers;
    size_t n_samplers;
    void* ctx_other;
};
static_assert(sizeof(llama_context_params) == 160);
static_assert(offsetof(llama_context_params, n_threads) == 0x1c);
static_assert(offsetof(llama_context_params, n_threads_batch) == 0x20);
static_assert(offsetof(llama_context_params, flash_attn_type) == 0x34);
static_assert(offsetof(llama_context_params, defrag_thold) == 0x54);
static_assert(offsetof(llama_context_params, type_k) == 0x68);
static_assert(offsetof(llama_context_params, type_v) == 0x6c);
static_assert(offsetof(llama_context_params, embeddings) == 0x80);
static_assert(offsetof(llama_context_params, samplers) == 0x88);

struct llama_batch {
    int32_t n_tokens;
    llama_token* token;
    float* embd;
    llama_pos* pos;
    int32_t* n_seq_id;
    llama_seq_id** seq_id;
    int8_t* logits;
};
static_assert(sizeof(llama_batch) == 56);

constexpr int32_t kGgmlTypeF32 = 0;
constexpr int32_t kGgmlTypeF16 = 1;

// ---- the functions used ----------------------------------------------------------------------------
using llama_memory_t = void*;
struct Api {
    void (*ggml_backend_load_all_from_path)(const char*);
    void* (*ggml_backend_load)(const char*);
    size_t (*ggml_backend_reg_count)();
    void (*llama_log_set)(ggml_log_callback, void*);
    void (*llama_backend_init)();
    void (*llama_backend_free)();
    llama_model_params (*llama_model_default_params)();
    llama_context_params (*llama_context_default_params)();
    const char* (*llama_load_mode_name)(int32_t);
    const char* (*llama_flash_attn_type_name)(int32_t);
    llama_model* (*llama_model_load_from_file)(const char*, llama_model_params);
    void (*llama_model_free)(llama_model*);
    int32_t (*llama_model_desc)(const llama_model*, char*, size_t);
    const llama_vocab* (*llama_model_get_vocab)(const llama_model*);
    llama_context* (*llama_init_from_model)(llama_model*, llama_context_params);
    void (*llama_free)(llama_context*);
    uint32_t (*llama_n_ctx)(const llama_context*);
    uint32_t (*llama_n_batch)(const llama_context*);
    uint32_t (*llama_n_ubatch)(const llama_context*);
    int32_t (*llama_n_threads)(llama_context*);
    int32_t (*llama_n_threads_batch)(llama_context*);
    int32_t (*llama_vocab_n_tokens)(const llama_vocab*);
    llama_token (*llama_vocab_bos)(const llama_vocab*);
    int32_t (*llama_tokenize)(const llama_vocab*, const char*, int32_t, llama_token*, int32_t, bool, bool);
    int32_t (*llama_token_to_piece)(const llama_vocab*, llama_token, char*, int32_t, int32_t, bool);
    llama_batch (*llama_batch_get_one)(llama_token*, int32_t);
    int32_t (*llama_decode)(llama_context*, llama_batch);
    float* (*llama_get_logits_ith)(llama_context*, int32_t);
    const char* (*llama_print_system_info)();
    llama_memory_t (*llama_get_memory)(const llama_context*);
    void (*llama_memory_clear)(llama_memory_t, bool);
    void (*llama_synchronize)(llama_context*);
};

// Binds every function of Api from the opened libraries (dies naming a missing symbol).
inline Api bind_api(const Libs& libs) {
    Api a{};
    bind(libs.ggml, "ggml_backend_load_all_from_path", a.ggml_backend_load_all_from_path);
    bind(libs.ggml, "ggml_backend_load", a.ggml_backend_load);
    bind(libs.ggml, "ggml_backend_reg_count", a.ggml_backend_reg_count);
#define LLAMA_API_BIND(name) bind(libs.llama, #name, a.name)
    LLAMA_API_BIND(llama_log_set);
    LLAMA_API_BIND(llama_backend_init);
    LLAMA_API_BIND(llama_backend_free);
    LLAMA_API_BIND(llama_model_default_params);
    LLAMA_API_BIND(llama_context_default_params);
    LLAMA_API_BIND(llama_load_mode_name);
    LLAMA_API_BIND(llama_flash_attn_type_name);
    LLAMA_API_BIND(llama_model_load_from_file);
    LLAMA_API_BIND(llama_model_free);
    LLAMA_API_BIND(llama_model_desc);
    LLAMA_API_BIND(llama_model_get_vocab);
    LLAMA_API_BIND(llama_init_from_model);
    LLAMA_API_BIND(llama_free);
    LLAMA_API_BIND(llama_n_ctx);
    LLAMA_API_BIND(llama_n_batch);
    LLAMA_API_BIND(llama_n_ubatch);
    LLAMA_API_BIND(llama_n_threads);
    LLAMA_API_BIND(llama_n_threads_batch);
    LLAMA_API_BIND(llama_vocab_n_tokens);
    LLAMA_API_BIND(llama_vocab_bos);
    LLAMA_API_BIND(llama_tokenize);
    LLAMA_API_BIND(llama_token_to_piece);
    LLAMA_API_BIND(llama_batch_get_one);
    LLAMA_API_BIND(llama_decode);
    LLAMA_API_BIND(llama_get_logits_ith);
    LLAMA_API_BIND(llama_print_system_info);
    LLAMA_API_BIND(llama_get_memory);
    LLAMA_API_BIND(llama_memory_clear);
    LLAMA_API_BIND(llama_synchronize);
#undef LLAMA_API_BIND
    return a;
}

// Installs the log callback, registers the CPU backend (cpu_variant "" lets ggml pick the best variant, else
// only libggml-cpu-<variant>.so is loaded) and initialises llama.cpp.
inline void init_backend(const Api& a, const std::string& lib_dir, const std::string& cpu_variant, Log& log) {
    a.llama_log_set(log_cb, &log);
    if (cpu_variant.empty()) {
        a.ggml_backend_load_all_from_path(lib_dir.c_str());
    } else {
        const std::string p = lib_dir + "/libggml-cpu-" + cpu_variant + ".so";
        if (!a.ggml_backend_load(p.c_str())) die("ggml_backend_load(%s) failed", p.c_str());
    }
    if (a.ggml_backend_reg_count() == 0) die("no ggml backend registered from %s", lib_dir.c_str());
    a.llama_backend_init();
}

// Check 2: the library's defaults, read through our struct declarations; returns them.
inline std::pair<llama_model_params, llama_context_params> default_params(const Api& a) {
    llama_model_params mp = a.llama_model_default_params();
    const char* lm = a.llama_load_mode_name(mp.load_mode);
    if (mp.devices || mp.tensor_buft_overrides || mp.n_gpu_layers != -1 || mp.split_mode != 1 ||
        mp.main_gpu != 0 || mp.lazy_mode != 1 || !lm || std::strcmp(lm, "auto") != 0 || mp.tensor_split ||
        mp.kv_overrides || mp.vocab_only || mp.check_tensors || !mp.use_extra_bufts || mp.no_host ||
        mp.no_alloc || mp.load_mtp)
        die("llama_model_params layout check failed: the library's defaults do not match the declared "
            "struct");
    llama_context_params cp = a.llama_context_default_params();
    const char* fa = a.llama_flash_attn_type_name(cp.flash_attn_type);
    if (cp.n_ctx != 512 || cp.n_batch != 2048 || cp.n_ubatch != 512 || cp.n_seq_max != 1 ||
        cp.n_threads != 4 || cp.n_threads_batch != 4 || cp.ctx_type != 0 || cp.rope_scaling_type != -1 ||
        cp.pooling_type != -1 || cp.attention_type != -1 || cp.flash_attn_type != -1 || !fa ||
        std::strcmp(fa, "auto") != 0 || cp.rope_freq_base != 0.0f || cp.yarn_ext_factor != -1.0f ||
        cp.defrag_thold != -1.0f || cp.cb_eval || cp.type_k != kGgmlTypeF16 || cp.type_v != kGgmlTypeF16 ||
        cp.abort_callback || cp.embeddings || !cp.offload_kqv || !cp.no_perf || !cp.op_offload ||
        cp.samplers || cp.n_samplers || cp.ctx_other)
        die("llama_context_params layout check failed: the library's defaults do not match the declared "
            "struct");
    return {mp, cp};
}

// Makes a context of n_ctx positions (n_batch = n_ubatch = n_ctx), `threads` threads for decode and batch,
// flash attention disabled and an F32 K/V cache, starting from the defaults cp; then check 3.
inline llama_context* make_context(const Api& a, llama_model* model, llama_context_params cp, uint32_t n_ctx,
                                   int threads, Log& log) {
    cp.n_ctx = n_ctx;
    cp.n_batch = n_ctx;
    cp.n_ubatch = n_ctx;
    cp.n_threads = threads;
    cp.n_threads_batch = threads;
    cp.flash_attn_type = 0;  // DISABLED
    cp.type_k = kGgmlTypeF32;
    cp.type_v = kGgmlTypeF32;
    const size_t log_mark = log.text.size();
    llama_context* ctx = a.llama_init_from_model(model, cp);
    if (!ctx) die("llama_init_from_model failed:\n%s", log.text.c_str());

    // Check 3: llama.cpp reports the settings we wrote.
    const std::string ctx_log = log.text.substr(log_mark);
    if (a.llama_n_ctx(ctx) != n_ctx || a.llama_n_batch(ctx) != n_ctx || a.llama_n_ubatch(ctx) != n_ctx ||
        a.llama_n_threads(ctx) != threads || a.llama_n_threads_batch(ctx) != threads)
        die("context settings not applied (n_ctx %u, n_batch %u, n_ubatch %u, threads %d/%d)",
            a.llama_n_ctx(ctx), a.llama_n_batch(ctx), a.llama_n_ubatch(ctx), a.llama_n_threads(ctx),
            a.llama_n_threads_batch(ctx));
    if (!contains(ctx_log, "flash_attn            = disabled") || !contains(ctx_log, "K (f32)") ||
        !contains(ctx_log, "V (f32)"))
        die("llama.cpp's log does not confirm flash_attn disabled and an F32 K/V cache:\n%s",
            ctx_log.c_str());
    return ctx;
}

// The CPU backend library ggml loaded ("libggml-cpu-zen4.so"), from llama.cpp's log; "?" when not logged.
inline std::string cpu_backend_name(const Log& log) {
    std::string cpu_backend = "?";
    if (auto p = log.text.find("loaded CPU backend from "); p != std::string::npos) {
        const auto e = log.text.find('\n', p);
        cpu_backend = log.text.substr(p + 24, e - p - 24);
        if (auto s = cpu_backend.rfind('/'); s != std::string::npos) cpu_backend = cpu_backend.substr(s + 1);
    }
    return cpu_backend;
}

}  // namespace llama_dl
