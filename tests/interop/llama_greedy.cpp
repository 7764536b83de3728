// llama_greedy: loads a GGUF in the real llama.cpp (the prebuilt libllama.v0.5.0.so of npm
// @node-llama-cpp/linux-x64@3.22.1, commit 0ad4a86) through dlopen and greedy-generates from a prompt
// exactly as the fixtures did (fixtures/README.md, section C; llm_results.json -> variants.*.greedy_*):
//
//   tokenize(prompt, add_special = true, parse_special = false)        -> BOS + prompt ids
//   llama_decode(prompt as one batch); then repeat: argmax of the last logits (first maximum wins);
//   stop when it is BOS, else append it and stop once BOS + prompt + generated = max_pos (257), else
//   llama_decode(that one token).
//   Context: n_ctx 512, n_batch = n_ubatch 512, K/V cache F32, flash attention off, 1 thread, CPU;
//   model parameters: llama.cpp's defaults.
//
// Usage:
//   llama_greedy --lib DIR [--cpu-variant NAME] [--prompt TEXT] [--max-pos N] [--threads N]
//                [--fixture llm_results.json --variant V | --expect RUN.json] [--json OUT.json] [--verbose]
//                MODEL.gguf
//   DIR is the folder holding libllama.v0.5.0.so, libggml*.so (.peers/.../bins/linux-x64).
//   --cpu-variant zen4 loads only libggml-cpu-zen4.so; default: ggml picks the best variant.
//   --json writes {model, desc, cpu_backend, prompt, prompt_ids, ids, text, stopped_at_bos}.
//   With --fixture, the prompt ids, generated ids and text must equal those of fixture variant V;
//   with --expect, those of an earlier run's --json output.
// Exit status: 0 generated (and matched, with --fixture/--expect); 1 mismatch; 2 usage or load error.
//
// ABI: the library is used without its headers, so the by-value structs below are declared here. They
// follow include/llama.h of this build (llama_model_params with load_mode/lazy_mode, 80 bytes;
// llama_context_params with n_outputs_max_per_seq, 160 bytes) and were checked against the
// disassembly of llama_{model,context}_default_params in this exact binary. A layout error would be
// silent, so three checks run every time, and any failure stops the program:
//   1. static_assert on sizeof and on the offset of every field we read or write;
//   2. the defaults returned by the library must equal the known defaults at those offsets
//      (e.g. n_batch 2048, n_threads 4, type_k F16, flash_attn AUTO, load_mode "auto");
//   3. after the context is made, llama.cpp's own getters (llama_n_ctx, llama_n_threads, ...) and its
//      log ("flash_attn = disabled", "K (f32)", "V (f32)") must report what we asked for.
// Loading the libraries, binding symbols and collecting the log are in llama_dl.h (shared with
// llama_quantize.cpp).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "llama_dl.h"

namespace {

using namespace llama_dl;

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
};

std::string piece(const Api& a, const llama_vocab* vocab, llama_token t) {
    char buf[256];
    const int32_t n = a.llama_token_to_piece(vocab, t, buf, sizeof buf, 0, false);
    if (n < 0) die("llama_token_to_piece(%d) needs %d bytes", t, -n);
    return std::string(buf, static_cast<size_t>(n));
}

std::string ids_str(const std::vector<llama_token>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? " " : "") + std::to_string(v[i]);
    return s;
}

// Compares a and b; returns "" when equal, else a description of the first difference.
std::string first_diff(const std::vector<llama_token>& got, const std::vector<llama_token>& want) {
    const size_t n = std::min(got.size(), want.size());
    for (size_t i = 0; i < n; ++i)
        if (got[i] != want[i])
            return "at index " + std::to_string(i) + ": expected " + std::to_string(want[i]) + ", got " +
                   std::to_string(got[i]);
    if (got.size() != want.size())
        return "lengths differ: expected " + std::to_string(want.size()) + ", got " +
               std::to_string(got.size()) + " (common prefix " + std::to_string(n) + ")";
    return "";
}

void usage() {
    std::fputs(
        "usage: llama_greedy --lib DIR [--cpu-variant NAME] [--prompt TEXT] [--max-pos N] [--threads N]\n"
        "                    [--fixture llm_results.json --variant V | --expect RUN.json] [--json OUT] "
        "[--verbose]\n"
        "                    MODEL.gguf\n",
        stderr);
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    g_prog = "llama_greedy";
    std::string lib_dir, cpu_variant, model_path, fixture, variant, expect, json_out;
    std::string prompt = "Once upon a time";
    int max_pos = 257, threads = 1;
    Log log;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) usage();
            return argv[++i];
        };
        if (a == "--lib")
            lib_dir = next();
        else if (a == "--cpu-variant")
            cpu_variant = next();
        else if (a == "--prompt")
            prompt = next();
        else if (a == "--max-pos")
            max_pos = std::atoi(next().c_str());
        else if (a == "--threads")
            threads = std::atoi(next().c_str());
        else if (a == "--fixture")
            fixture = next();
        else if (a == "--variant")
            variant = next();
        else if (a == "--expect")
            expect = next();
        else if (a == "--json")
            json_out = next();
        else if (a == "--verbose")
            log.verbose = true;
        else if (a == "-h" || a == "--help")
            usage();
        else if (!a.empty() && a[0] == '-')
            usage();
        else if (model_path.empty())
            model_path = a;
        else
            usage();
    }
    if (lib_dir.empty() || model_path.empty() || fixture.empty() != variant.empty() ||
        (!fixture.empty() && !expect.empty()) || max_pos < 2 || threads < 1)
        usage();

    // Load order: ggml-base, ggml, llama (RUNPATH $ORIGIN resolves their own dependencies).
    const Libs libs = open_peer(lib_dir);
    void* ggml = libs.ggml;
    void* llama = libs.llama;
    Api a{};
    bind(ggml, "ggml_backend_load_all_from_path", a.ggml_backend_load_all_from_path);
    bind(ggml, "ggml_backend_load", a.ggml_backend_load);
    bind(ggml, "ggml_backend_reg_count", a.ggml_backend_reg_count);
#define B(name) bind(llama, #name, a.name)
    B(llama_log_set);
    B(llama_backend_init);
    B(llama_backend_free);
    B(llama_model_default_params);
    B(llama_context_default_params);
    B(llama_load_mode_name);
    B(llama_flash_attn_type_name);
    B(llama_model_load_from_file);
    B(llama_model_free);
    B(llama_model_desc);
    B(llama_model_get_vocab);
    B(llama_init_from_model);
    B(llama_free);
    B(llama_n_ctx);
    B(llama_n_batch);
    B(llama_n_ubatch);
    B(llama_n_threads);
    B(llama_n_threads_batch);
    B(llama_vocab_n_tokens);
    B(llama_vocab_bos);
    B(llama_tokenize);
    B(llama_token_to_piece);
    B(llama_batch_get_one);
    B(llama_decode);
    B(llama_get_logits_ith);
    B(llama_print_system_info);
#undef B

    a.llama_log_set(log_cb, &log);
    if (cpu_variant.empty()) {
        a.ggml_backend_load_all_from_path(lib_dir.c_str());
    } else {
        const std::string p = lib_dir + "/libggml-cpu-" + cpu_variant + ".so";
        if (!a.ggml_backend_load(p.c_str())) die("ggml_backend_load(%s) failed", p.c_str());
    }
    if (a.ggml_backend_reg_count() == 0) die("no ggml backend registered from %s", lib_dir.c_str());
    a.llama_backend_init();

    // Check 2: the library's defaults, read through our struct declarations.
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

    llama_model* model = a.llama_model_load_from_file(model_path.c_str(), mp);
    if (!model) die("llama_model_load_from_file(%s) failed:\n%s", model_path.c_str(), log.text.c_str());
    char desc[128] = {};
    a.llama_model_desc(model, desc, sizeof desc);

    cp.n_ctx = 512;
    cp.n_batch = 512;
    cp.n_ubatch = 512;
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
    if (a.llama_n_ctx(ctx) != 512 || a.llama_n_batch(ctx) != 512 || a.llama_n_ubatch(ctx) != 512 ||
        a.llama_n_threads(ctx) != threads || a.llama_n_threads_batch(ctx) != threads)
        die("context settings not applied (n_ctx %u, n_batch %u, n_ubatch %u, threads %d/%d)",
            a.llama_n_ctx(ctx), a.llama_n_batch(ctx), a.llama_n_ubatch(ctx), a.llama_n_threads(ctx),
            a.llama_n_threads_batch(ctx));
    if (!contains(ctx_log, "flash_attn            = disabled") || !contains(ctx_log, "K (f32)") ||
        !contains(ctx_log, "V (f32)"))
        die("llama.cpp's log does not confirm flash_attn disabled and an F32 K/V cache:\n%s",
            ctx_log.c_str());
    std::string cpu_backend = "?";
    if (auto p = log.text.find("loaded CPU backend from "); p != std::string::npos) {
        const auto e = log.text.find('\n', p);
        cpu_backend = log.text.substr(p + 24, e - p - 24);
        if (auto s = cpu_backend.rfind('/'); s != std::string::npos) cpu_backend = cpu_backend.substr(s + 1);
    }

    // Greedy generation.
    const llama_vocab* vocab = a.llama_model_get_vocab(model);
    const int32_t n_vocab = a.llama_vocab_n_tokens(vocab);
    const llama_token bos = a.llama_vocab_bos(vocab);
    std::vector<llama_token> prompt_ids(prompt.size() + 8);
    const int32_t np =
        a.llama_tokenize(vocab, prompt.data(), static_cast<int32_t>(prompt.size()), prompt_ids.data(),
                         static_cast<int32_t>(prompt_ids.size()), true, false);
    if (np <= 0 || np >= max_pos) die("llama_tokenize returned %d", np);
    prompt_ids.resize(static_cast<size_t>(np));

    std::vector<llama_token> work = prompt_ids, gen;
    if (a.llama_decode(ctx, a.llama_batch_get_one(work.data(), np)) != 0) die("llama_decode(prompt) failed");
    std::string text = prompt;
    int n_pos = np;
    bool stopped_at_bos = false;
    for (;;) {
        const float* logits = a.llama_get_logits_ith(ctx, -1);
        if (!logits) die("llama_get_logits_ith returned null");
        llama_token best = 0;
        for (llama_token t = 1; t < n_vocab; ++t)
            if (logits[t] > logits[best]) best = t;
        if (!std::isfinite(logits[best])) die("non-finite logits at position %d", n_pos);
        if (best == bos) {
            stopped_at_bos = true;
            break;
        }
        gen.push_back(best);
        text += piece(a, vocab, best);
        if (++n_pos >= max_pos) break;
        llama_token tok = best;
        if (a.llama_decode(ctx, a.llama_batch_get_one(&tok, 1)) != 0)
            die("llama_decode failed at position %d", n_pos);
    }

    std::printf(
        "model:    %s (%s)\ncpu:      %s\nprompt:   %s\ngenerated %zu tokens%s\nids:      %s\ntext:     %s\n",
        model_path.c_str(), desc, cpu_backend.c_str(), ids_str(prompt_ids).c_str(), gen.size(),
        stopped_at_bos ? " (stopped at BOS)" : "", ids_str(gen).c_str(), text.c_str());

    if (!json_out.empty()) {
        nlohmann::json j = {{"model", model_path},
                            {"desc", desc},
                            {"cpu_backend", cpu_backend},
                            {"prompt", prompt},
                            {"prompt_ids", prompt_ids},
                            {"ids", gen},
                            {"text", text},
                            {"stopped_at_bos", stopped_at_bos}};
        std::ofstream(json_out) << j.dump(1) << "\n";
    }

    // Reference: a fixture variant (llm_results.json) or an earlier run's --json output.
    int rc = 0;
    if (!fixture.empty() || !expect.empty()) {
        const std::string& path = fixture.empty() ? expect : fixture;
        std::ifstream in(path);
        if (!in) die("cannot read %s", path.c_str());
        const nlohmann::json doc = nlohmann::json::parse(in);
        std::vector<llama_token> want_prompt, want_ids;
        std::string want_prompt_text, want_text, what;
        if (!fixture.empty()) {
            if (!doc.contains("variants") || !doc["variants"].contains(variant))
                die("%s has no variant %s", path.c_str(), variant.c_str());
            const auto& v = doc["variants"][variant];
            want_prompt_text = v.at("greedy_prompt").get<std::string>();
            want_prompt = v.at("greedy_prompt_ids").get<std::vector<llama_token>>();
            want_ids = v.at("greedy_ids").get<std::vector<llama_token>>();
            want_text = v.at("greedy_text").get<std::string>();
            what = "fixture variant " + variant;
        } else {
            want_prompt_text = doc.at("prompt").get<std::string>();
            want_prompt = doc.at("prompt_ids").get<std::vector<llama_token>>();
            want_ids = doc.at("ids").get<std::vector<llama_token>>();
            want_text = doc.at("text").get<std::string>();
            what = doc.at("model").get<std::string>() + " [" + doc.value("cpu_backend", "?") + "]";
        }
        if (want_prompt_text != prompt)
            die("reference prompt \"%s\" differs from --prompt", want_prompt_text.c_str());
        std::string d;
        if (!(d = first_diff(prompt_ids, want_prompt)).empty()) {
            std::printf("FAIL prompt ids vs %s: %s\n", what.c_str(), d.c_str());
            rc = 1;
        }
        if (!(d = first_diff(gen, want_ids)).empty()) {
            std::printf("FAIL greedy ids vs %s: %s\n", what.c_str(), d.c_str());
            rc = 1;
        }
        if (text != want_text) {
            size_t i = 0;
            while (i < text.size() && i < want_text.size() && text[i] == want_text[i]) ++i;
            std::printf("FAIL greedy text vs %s: first difference at byte %zu\n", what.c_str(), i);
            rc = 1;
        }
        if (rc == 0)
            std::printf("PASS %s: %zu greedy ids and text equal %s\n", model_path.c_str(), gen.size(),
                        what.c_str());
    }

    a.llama_free(ctx);
    a.llama_model_free(model);
    a.llama_backend_free();
    return rc;
}
