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
#include "tools/edgeq/commands.h"
#include "tools/edgeq/llm_inputs.h"
#include "tools/edgeq/progress.h"

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
    EDGEQ_ASSIGN_OR_RETURN(const int64_t ctx, llm::calibration_ctx(c.ctx, trained_context(c.model), c.model));

    llm::ModelOptions mo;
    mo.threads = c.threads;
    mo.n_ctx = ctx;
    EDGEQ_ASSIGN_OR_RETURN(auto model, llm::Model::load(c.model, mo));
    llm::ImatrixCollector collector;
    std::unique_ptr<Progress> bar;  // tools/edgeq/progress.h: "edgeq imatrix: chunk 3/14 (21%), PPL ..."
    auto progress = [&](int64_t done, int64_t total, double ppl) {
        if (!bar) bar = std::make_unique<Progress>("imatrix: chunk", total, c.quiet);
        char extra[48];
        std::snprintf(extra, sizeof extra, "PPL %.4f", ppl);
        bar->update(done, extra);
    };
    auto run_or =
        llm::run_calibration(*model, text, "-f " + c.text_file, ctx, c.chunks, &collector, progress);
    if (!run_or.ok()) {
        if (run_or.status().code() == StatusCode::kUnsupported)
            return Unsupported(c.model + ": " + run_or.status().message());
        return run_or.status();
    }
    if (bar) bar->finish();
    const int64_t n_chunks = run_or->chunks;

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
                    n_chunks == 1 ? "" : "s", static_cast<long long>(ctx), run_or->ppl);
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
