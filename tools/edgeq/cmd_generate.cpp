// edgeq generate MODEL.gguf -p PROMPT [-n N] [--temp T] [--top-k K] [--top-p P] [--seed S] [--threads N] [--ctx C]
//                [--json]
// Text generation with a llama-architecture GGUF model (docs/llm/runtime.md). The prompt is tokenized with BOS; the
// model then produces up to N tokens, stopping early at an end-of-generation token or BOS (llama2.c models emit BOS
// between stories), or when the context is full. Default: streams the text (prompt included) to stdout. --json: one
// object {prompt_tokens, tokens (generated ids, without the prompt), text (prompt + generation, decoded), n_generated,
// stop, seconds, tokens_per_s}.
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "llm/model.h"
#include "llm/sampler.h"
#include "llm/tokenizer.h"
#include "tools/edgeq/commands.h"

namespace edgeq::cli {
namespace {

struct GenerateCli {
    std::string model, prompt;
    int n = 128;
    int threads = 0;
    int64_t ctx = 0;
    llm::SamplerOptions so{};
    bool json = false;
    bool llama_order = false;
};

Status run(const GenerateCli& c) {
    llm::ModelOptions mo;
    mo.threads = c.threads;
    mo.llama_order = c.llama_order;
    mo.n_ctx = c.ctx;
    EDGEQ_ASSIGN_OR_RETURN(auto model, llm::Model::load(c.model, mo));
    EDGEQ_ASSIGN_OR_RETURN(llm::Tokenizer tok, llm::Tokenizer::from_gguf(model->file()));
    if (tok.n_vocab() != model->hparams().n_vocab)
        return Unsupported(c.model + ": tokenizer has " + std::to_string(tok.n_vocab()) +
                           " tokens but token_embd.weight has " + std::to_string(model->hparams().n_vocab) + " rows");
    const std::vector<int32_t> prompt = tok.encode(c.prompt, /*add_bos=*/true);
    if (prompt.empty()) return InvalidArgument("-p: the prompt is empty and the model adds no BOS token");
    if (static_cast<int64_t>(prompt.size()) >= model->n_ctx())
        return InvalidArgument("-p: the prompt has " + std::to_string(prompt.size()) +
                               " tokens, which does not fit a context of " + std::to_string(model->n_ctx()));

    llm::Sampler sampler(c.so);
    std::vector<int32_t> all = prompt, generated;
    std::string printed;
    auto stream = [&] {
        if (c.json) return;
        const std::string text = tok.decode(all);
        if (text.size() > printed.size() && text.compare(0, printed.size(), printed) == 0) {
            std::fwrite(text.data() + printed.size(), 1, text.size() - printed.size(), stdout);
            std::fflush(stdout);
            printed = text;
        }
    };
    stream();

    const auto t0 = std::chrono::steady_clock::now();
    std::string stop = "length";
    EDGEQ_ASSIGN_OR_RETURN(std::vector<float> logits, model->eval(prompt, 0));
    for (int i = 0; i < c.n; ++i) {
        EDGEQ_ASSIGN_OR_RETURN(int32_t id, sampler.sample(logits));
        if (tok.is_eog(id) || id == tok.bos()) {
            stop = "eog";
            break;
        }
        generated.push_back(id);
        all.push_back(id);
        stream();
        if (i + 1 == c.n) break;
        if (static_cast<int64_t>(all.size()) >= model->n_ctx()) {
            stop = "context";
            break;
        }
        const int32_t one[1] = {id};
        EDGEQ_ASSIGN_OR_RETURN(logits, model->eval(one, static_cast<int32_t>(all.size() - 1)));
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    if (c.json) {
        nlohmann::json j{{"model", c.model},
                         {"prompt_tokens", prompt},
                         {"tokens", generated},
                         {"text", tok.decode(all)},
                         {"n_generated", generated.size()},
                         {"stop", stop},
                         {"seconds", secs},
                         {"tokens_per_s", secs > 0 ? static_cast<double>(generated.size()) / secs : 0.0}};
        std::printf("%s\n", j.dump().c_str());
    } else {
        std::printf("\n");
        std::fprintf(stderr, "edgeq generate: %zu tokens in %.3f s (%.1f tokens/s), stop: %s\n", generated.size(), secs,
                     secs > 0 ? static_cast<double>(generated.size()) / secs : 0.0, stop.c_str());
    }
    return Status::Ok();
}

}  // namespace

void register_generate(CLI::App& app) {
    auto c = std::make_shared<GenerateCli>();
    auto* cmd = app.add_subcommand("generate", "Generate text with a llama-architecture GGUF model");
    cmd->footer("Example:\n  edgeq generate stories260K.gguf -p \"Once upon a time\" -n 64 --temp 0.8 --seed 42");
    cmd->add_option("MODEL", c->model, "GGUF model (general.architecture = llama)")->required();
    cmd->add_option("-p,--prompt", c->prompt, "Prompt text (BOS is added)")->required();
    cmd->add_option("-n,--n-predict", c->n, "Maximum number of tokens to generate (default 128)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--temp", c->so.temperature, "Temperature; <= 0 is greedy (default 0)");
    cmd->add_option("--top-k", c->so.top_k, "Keep the K most likely tokens; <= 0: all (default 40)");
    cmd->add_option("--top-p", c->so.top_p, "Nucleus sampling mass; >= 1: off (default 0.95)")->check(CLI::Range(0.0, 1.0));
    cmd->add_option("--seed", c->so.seed, "Sampling seed (default 0)");
    cmd->add_option("--threads,-t", c->threads, "Worker threads (default: all cores)")->check(CLI::Range(0, 1024));
    cmd->add_option("--ctx", c->ctx, "Context length in tokens (default: the model's context_length)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_flag("--json", c->json, "Print one JSON object instead of streaming text");
    cmd->add_flag("--llama-order", c->llama_order,
                  "Every product in the float order of llama.cpp's x86 CPU backend (its zen4 build: block types, repacked matrices, one-token products), so logits equal llama.cpp's bit for bit; slower (scalar rows)");
    cmd->callback([c] { report("generate", run(*c)); });
}

}  // namespace edgeq::cli
