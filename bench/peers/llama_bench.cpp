// llama_bench: llama.cpp's side of the LLM speed benchmark (bench/llm_speed.sh, docs/llm/speed.md): the
// prebuilt libllama.v0.5.0.so of npm @node-llama-cpp/linux-x64@3.22.1 (commit 0ad4a86), driven through dlopen
// with the declarations of tests/interop/llama_api.h (the same ones, and the same layout checks, as the
// interop driver tests/interop/llama_greedy.cpp). edgeq's side is bench/llm_bench.cpp `run`.
//
// Protocol (identical to llm_bench run):
//   model loaded once with llama.cpp's default model parameters (mmap), CPU backend;
//   per thread count T: a context of --ctx positions (n_batch = n_ubatch = ctx, n_threads = n_threads_batch =
//   T, F32 K/V cache, flash attention off: the computation edgeq does); prompt = --prompt fixed token ids
//   (259 + 7919 i mod (n_vocab - 259)), decoded as ONE llama_batch_get_one batch (logits of the last token
//   only); then --decode tokens one at a time; one untimed warm-up pass (prompt + 2 tokens), then --reps
//   repetitions, each after llama_memory_clear; prefill tok/s = prompt / best prefill time, decode tok/s =
//   decode / best decode time (steady_clock around llama_decode, which is synchronous on the CPU backend;
//   llama_synchronize is called before reading the clock).
//
// Usage: llama_bench --lib DIR [--cpu-variant NAME] [--threads 1,2] [--prompt 64] [--decode 16] [--reps 3]
//                    [--ctx 512] [--verbose] MODEL.gguf
// Prints one JSON line per thread count:
// {"impl":"llama.cpp","cpu_backend","threads","prefill_tps","decode_tps"}. Build: c++ -std=c++20 -O2 -I
// tests/interop bench/peers/llama_bench.cpp -ldl (bench/llm_speed.sh does it). Exit status: 0 measured; 2
// usage, load or decode error.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "../llm_protocol.h"
#include "llama_api.h"
#include "llama_dl.h"

namespace {

using namespace llama_dl;
using Clock = std::chrono::steady_clock;

void usage() {
    std::fputs(
        "usage: llama_bench --lib DIR [--cpu-variant NAME] [--threads 1,2] [--prompt 64] [--decode 16] "
        "[--reps 3]\n"
        "                   [--ctx 512] [--verbose] MODEL.gguf\n",
        stderr);
    std::exit(2);
}

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
    g_prog = "llama_bench";
    std::string lib_dir, cpu_variant, model_path;
    llm_protocol::RunOptions o;
    Log log;
    for (int i = 1; i < argc; ++i) {
        if (llm_protocol::parse_option(argc, argv, i, o, usage)) continue;
        const std::string a = argv[i];
        if ((a == "--lib" || a == "--cpu-variant") && i + 1 < argc)
            (a == "--lib" ? lib_dir : cpu_variant) = argv[++i];
        else if (a == "--verbose")
            log.verbose = true;
        else if (a.empty() || a[0] == '-' || !model_path.empty())
            usage();
        else
            model_path = a;
    }
    if (lib_dir.empty() || model_path.empty() || !o.valid()) usage();
    const int prompt = o.prompt, decode = o.decode, reps = o.reps, ctx = o.ctx;

    const Api a = bind_api(open_peer(lib_dir));
    init_backend(a, lib_dir, cpu_variant, log);
    auto [mp, cp] = default_params(a);
    llama_model* model = a.llama_model_load_from_file(model_path.c_str(), mp);
    if (!model) die("llama_model_load_from_file(%s) failed:\n%s", model_path.c_str(), log.text.c_str());
    const int32_t n_vocab = a.llama_vocab_n_tokens(a.llama_model_get_vocab(model));
    if (n_vocab <= 259)
        die("%s: vocab of %d tokens is too small for the benchmark's ids", model_path.c_str(), n_vocab);
    std::vector<llama_token> ids(static_cast<size_t>(prompt + decode));
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = llm_protocol::token(i, n_vocab);

    for (int T : o.threads) {
        llama_context* ctx_ = make_context(a, model, cp, static_cast<uint32_t>(ctx), T, log);
        const std::string cpu_backend = cpu_backend_name(log);
        llama_memory_t mem = a.llama_get_memory(ctx_);
        auto dec = [&](llama_token* t, int n) {
            if (a.llama_decode(ctx_, a.llama_batch_get_one(t, n)) != 0)
                die("llama_decode(%d tokens) failed", n);
        };
        dec(ids.data(), prompt);  // warm-up
        dec(&ids[static_cast<size_t>(prompt)], 1);
        dec(&ids[static_cast<size_t>(prompt) + 1], 1);
        a.llama_synchronize(ctx_);
        double best_prefill = 1e30, best_decode = 1e30;
        for (int r = 0; r < reps; ++r) {
            a.llama_memory_clear(mem, true);
            const auto t0 = Clock::now();
            dec(ids.data(), prompt);
            a.llama_synchronize(ctx_);
            best_prefill = std::min(best_prefill, seconds_since(t0));
            const auto t1 = Clock::now();
            for (int j = 0; j < decode; ++j) dec(&ids[static_cast<size_t>(prompt + j)], 1);
            a.llama_synchronize(ctx_);
            best_decode = std::min(best_decode, seconds_since(t1));
        }
        std::printf(
            "{\"impl\":\"llama.cpp\",\"cpu_backend\":\"%s\",\"threads\":%d,\"prompt\":%d,\"decode\":%d,"
            "\"reps\":%d,\"prefill_tps\":%.3f,\"decode_tps\":%.3f}\n",
            cpu_backend.c_str(), T, prompt, decode, reps, prompt / best_prefill, decode / best_decode);
        std::fflush(stdout);
        a.llama_free(ctx_);
    }
    a.llama_model_free(model);
    a.llama_backend_free();
    return 0;
}
