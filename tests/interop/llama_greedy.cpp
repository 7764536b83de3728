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
// ABI: the library is used without its headers; the by-value struct declarations, their three layout checks
// (static_assert, the library's defaults, llama.cpp's getters and log after the context is made) and the
// function table are in llama_api.h (shared with bench/peers/llama_bench.cpp); loading the libraries,
// binding symbols and collecting the log are in llama_dl.h (shared with llama_quantize.cpp).
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

#include "llama_api.h"
#include "llama_dl.h"

namespace {

using namespace llama_dl;

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
    const Api a = bind_api(open_peer(lib_dir));
    init_backend(a, lib_dir, cpu_variant, log);
    auto [mp, cp] = default_params(a);  // check 2

    llama_model* model = a.llama_model_load_from_file(model_path.c_str(), mp);
    if (!model) die("llama_model_load_from_file(%s) failed:\n%s", model_path.c_str(), log.text.c_str());
    char desc[128] = {};
    a.llama_model_desc(model, desc, sizeof desc);

    llama_context* ctx = make_context(a, model, cp, 512, threads, log);  // check 3 inside
    const std::string cpu_backend = cpu_backend_name(log);

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
