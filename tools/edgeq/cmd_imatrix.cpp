// edgeq imatrix MODEL.gguf -f TEXT -o imatrix.gguf [--ctx N] [--chunks K] [--process-output] [--threads N]
//              [--quiet]
// Importance matrix of a llama-architecture GGUF model on a calibration text, written in llama-imatrix's GGUF
// format (docs/llm/imatrix.md) for `edgeq quantize ... --imatrix imatrix.gguf`. The text is tokenized with
// BOS first and cut into chunks of --ctx tokens as `edgeq perplexity` does (llm/perplexity.h make_chunks:
// each chunk starts with BOS, evaluated from an empty cache); every token of every chunk is accumulated, as
// llama-imatrix does. The PPL printed is llama-imatrix's: over the second half of each chunk.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "formats/gguf/gguf.h"
#include "llm/imatrix_collector.h"
#include "llm/model.h"
#include "llm/perplexity.h"
#include "llm/tokenizer.h"
#include "tools/edgeq/commands.h"
#include "tools/edgeq/llm_inputs.h"

namespace edgeq::cli {
namespace {

struct ImatrixCli {
    std::string model, text_file, out;
    int64_t ctx = 0;
    int64_t chunks = 0;
    int threads = 0;
    bool process_output = false;
    bool quiet = false;
};

Status run(const ImatrixCli& c) {
    EDGEQ_ASSIGN_OR_RETURN(std::string text, read_text(c.text_file));
    const int64_t trained = trained_context(c.model);
    if (c.ctx > 0 && trained > 0 && c.ctx > trained)
        return InvalidArgument("--ctx " + std::to_string(c.ctx) +
                               " is larger than the model's trained context of " + std::to_string(trained) +
                               " tokens (" + c.model + ": context_length)");
    const int64_t ctx = c.ctx > 0 ? c.ctx : (trained > 0 ? std::min<int64_t>(trained, 512) : 512);
    if (ctx < 2) return InvalidArgument("--ctx must be at least 2, got " + std::to_string(ctx));

    llm::ModelOptions mo;
    mo.threads = c.threads;
    mo.n_ctx = ctx;
    EDGEQ_ASSIGN_OR_RETURN(auto model, llm::Model::load(c.model, mo));
    EDGEQ_ASSIGN_OR_RETURN(llm::Tokenizer tok, llm::Tokenizer::from_gguf(model->file()));
    const int64_t V = model->hparams().n_vocab;
    if (tok.n_vocab() != V)
        return Unsupported(c.model + ": tokenizer has " + std::to_string(tok.n_vocab()) +
                           " tokens but token_embd.weight has " + std::to_string(V) + " rows");

    const std::vector<int32_t> tokens = tok.encode(text, /*add_bos=*/true);
    const bool adds_bos = !tok.encode("", true).empty();
    auto chunks_or = llm::make_chunks(tokens, ctx, c.chunks, adds_bos ? tok.bos() : -1);
    if (!chunks_or.ok()) return InvalidArgument("-f " + c.text_file + ": " + chunks_or.status().message());
    const std::vector<std::vector<int32_t>> chunks = std::move(*chunks_or);
    const int64_t n_chunks = static_cast<int64_t>(chunks.size());

    llm::ImatrixCollector collector;
    model->set_observer(&collector);
    llm::PplAccumulator ppl;
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t ci = 0; ci < n_chunks; ++ci) {
        const std::vector<int32_t>& chunk = chunks[static_cast<size_t>(ci)];
        EDGEQ_ASSIGN_OR_RETURN(std::vector<float> logits, model->eval(chunk, 0, /*all_logits=*/true));
        for (int64_t p = ctx / 2; p + 1 < ctx; ++p)
            ppl.add(std::span<const float>(logits.data() + p * V, static_cast<size_t>(V)),
                    chunk[static_cast<size_t>(p + 1)]);
        if (!c.quiet) {
            const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            std::fprintf(stderr, "edgeq imatrix: chunk %lld/%lld, PPL %.4f, %.1f s\n",
                         static_cast<long long>(ci + 1), static_cast<long long>(n_chunks), ppl.stats().ppl,
                         el);
        }
    }
    model->set_observer(nullptr);

    llm::ImatrixFileInfo info;
    info.datasets = {c.text_file};
    info.chunk_count = n_chunks;
    info.chunk_size = ctx;
    info.include_output = c.process_output;
    EDGEQ_RETURN_IF_ERROR(llm::write_imatrix_gguf(c.out, collector, info));
    int64_t stored = 0;
    for (const auto& [name, e] : collector.entries()) stored += llm::imatrix_stores(name, c.process_output);
    if (!c.quiet) {
        std::printf("%s on %s: %lld chunk%s of %lld tokens, PPL %.4f (second half of each chunk)\n",
                    c.model.c_str(), c.text_file.c_str(), static_cast<long long>(n_chunks),
                    n_chunks == 1 ? "" : "s", static_cast<long long>(ctx), ppl.stats().ppl);
        std::printf("wrote %lld imatrix entries to %s\n", static_cast<long long>(stored), c.out.c_str());
    }
    return Status::Ok();
}

}  // namespace

void register_imatrix(CLI::App& app) {
    auto c = std::make_shared<ImatrixCli>();
    auto* cmd = app.add_subcommand(
        "imatrix",
        "Importance matrix of a llama-architecture GGUF model on a calibration text (llama-imatrix's GGUF "
        "format)\n"
        "  edgeq imatrix model-f32.gguf -f calib.txt -o imatrix.gguf --ctx 256\n"
        "  edgeq quantize model-f32.gguf model-q3.gguf Q3_K_S --imatrix imatrix.gguf");
    cmd->add_option("MODEL", c->model, "GGUF model (general.architecture = llama)")->required();
    cmd->add_option("-f,--file", c->text_file, "Calibration text (UTF-8); tokenized with BOS first")
        ->required();
    cmd->add_option("-o,--output", c->out, "Output imatrix GGUF")->required();
    cmd->add_option("--ctx,-c", c->ctx, "Tokens per chunk (default: min(512, the model's context_length))")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--chunks", c->chunks, "Process at most K chunks (default: all whole chunks of the text)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_flag("--process-output", c->process_output,
                  "Also store output.weight (llama-imatrix --process-output; default: blk.* weights only)");
    cmd->add_option("--threads,-t", c->threads, "Worker threads (default: all cores)")
        ->check(CLI::Range(0, 1024));
    cmd->add_flag("--quiet,-q", c->quiet, "No progress or summary output");
    cmd->callback([c] { report("imatrix", run(*c)); });
}

}  // namespace edgeq::cli
