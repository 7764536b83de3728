// edgeq perplexity MODEL.gguf -f TEXT [--ctx N] [--chunks K] [--score-from P] [--batch B]
//                  [--save-logits FILE.npy | --kl-base FILE.npy] [--threads N] [--json] [--quiet]
// Perplexity of a llama-architecture GGUF model on a text file, and KL divergence against saved base logits
// (docs/llm/perplexity.md). The text is tokenized with BOS first and cut into chunks of --ctx tokens as
// llama-perplexity does (each chunk starts with BOS, evaluated from an empty cache). Every position from
// --score-from on is kept: its logits are saved / compared with the base, and its prediction of the next
// token in the chunk counts for the PPL. Default --score-from 0 scores every token after BOS (the fixtures'
// convention);
// --score-from CTX/2 scores the second half of each chunk like llama-perplexity.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/file.h"
#include "formats/data/npy.h"
#include "formats/gguf/gguf.h"
#include "llm/model.h"
#include "llm/perplexity.h"
#include "llm/tokenizer.h"
#include "tools/edgeq/commands.h"
#include "tools/edgeq/llm_inputs.h"
#include "tools/edgeq/progress.h"
#include "tools/edgeq/result_json.h"

namespace edgeq::cli {
namespace {

struct PerplexityCli {
    std::string model, text_file, save_logits, kl_base;
    int64_t ctx = 0;
    int64_t chunks = 0;
    int64_t score_from = 0;
    int64_t batch = 512;
    int threads = 0;
    bool json = false;
    bool quiet = false;
    bool llama_order = false;
    LabelOptions label;
};

// .npy (version 1.0) header for a little-endian float32 C-order array [rows, cols]; data follows it.
std::string npy_header_f32(int64_t rows, int64_t cols) {
    std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(cols) + "), }";
    const size_t fixed = 10;  // magic (6) + version (2) + header length (2)
    size_t len = dict.size() + 1;
    len += (64 - (fixed + len) % 64) % 64;
    dict.append(len - 1 - dict.size(), ' ');
    dict.push_back('\n');
    std::string h("\x93NUMPY\x01\x00", 8);
    h.push_back(static_cast<char>(len & 0xff));
    h.push_back(static_cast<char>(len >> 8));
    return h + dict;
}

Status run(const PerplexityCli& c) {
    if (!c.save_logits.empty() && !c.kl_base.empty())
        return InvalidArgument("--save-logits and --kl-base cannot be used together");
    EDGEQ_ASSIGN_OR_RETURN(std::string text, read_text(c.text_file));

    const int64_t trained = trained_context(c.model);
    if (c.ctx > 0 && trained > 0 && c.ctx > trained)
        return InvalidArgument("--ctx " + std::to_string(c.ctx) +
                               " is larger than the model's trained context of " + std::to_string(trained) +
                               " tokens (" + c.model + ": context_length)");
    const int64_t ctx = c.ctx > 0 ? c.ctx : (trained > 0 ? std::min<int64_t>(trained, 512) : 512);
    if (ctx < 2) return InvalidArgument("--ctx must be at least 2, got " + std::to_string(ctx));
    if (c.score_from < 0 || c.score_from > ctx - 2)
        return InvalidArgument("--score-from " + std::to_string(c.score_from) + " must be in [0, " +
                               std::to_string(ctx - 2) + "] for --ctx " + std::to_string(ctx));

    llm::ModelOptions mo;
    mo.threads = c.threads;
    mo.llama_order = c.llama_order;
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
    const int64_t per_chunk = ctx - c.score_from;
    const int64_t positions = n_chunks * per_chunk;

    // Base logits: mapped, not copied. Any shape whose last dimension is the vocabulary and whose rows are
    // the positions of this run ([positions, vocab], or e.g. [chunks, positions per chunk, vocab]).
    std::unique_ptr<MappedFile> base_file;
    const float* base = nullptr;
    if (!c.kl_base.empty()) {
        EDGEQ_ASSIGN_OR_RETURN(base_file, MappedFile::open(c.kl_base));
        EDGEQ_ASSIGN_OR_RETURN(data::NpyView view,
                               data::view_npy({base_file->data(), base_file->size()}, c.kl_base));
        if (view.dtype != DType::F32)
            return InvalidArgument("--kl-base " + c.kl_base + ": expected float32 logits, got " +
                                   dtype_name(view.dtype));
        const int64_t numel = shape_numel(view.shape);
        if (view.shape.empty() || view.shape.back() != V || numel != positions * V)
            return InvalidArgument(
                "--kl-base " + c.kl_base + ": shape " + shape_str(view.shape) + " does not match [" +
                std::to_string(positions) + ", " + std::to_string(V) +
                "] (positions x vocab) of this run; use the same text, --ctx, --chunks and "
                "--score-from as the base run");
        base = reinterpret_cast<const float*>(view.data.data());
    }
    std::unique_ptr<AtomicFile> out;
    if (!c.save_logits.empty()) {
        EDGEQ_ASSIGN_OR_RETURN(out, AtomicFile::create(c.save_logits));
        const std::string h = npy_header_f32(positions, V);
        EDGEQ_RETURN_IF_ERROR(out->write(h.data(), h.size()));
    }

    llm::PplAccumulator ppl;
    llm::KlAccumulator kl;
    std::vector<double> ppl_per_chunk;
    const int64_t batch = std::max<int64_t>(1, c.batch);
    // Progress on stderr: a redrawn bar with ETA on a terminal (also inside a chunk), else one plain line at
    // chunk ends (at most one per tenth of the work), nothing with --quiet.
    Progress progress("perplexity: token", n_chunks * ctx, c.quiet);
    auto chunk_text = [&](int64_t chunks_done) {
        char b[96];
        std::snprintf(b, sizeof b, "chunk %lld/%lld, PPL %.4f", static_cast<long long>(chunks_done),
                      static_cast<long long>(n_chunks), ppl.stats().ppl);
        return std::string(b);
    };
    int64_t done = 0, row = 0;
    std::vector<float> logits(static_cast<size_t>(ctx * V));
    for (int64_t ci = 0; ci < n_chunks; ++ci) {
        const std::vector<int32_t>& chunk = chunks[static_cast<size_t>(ci)];
        llm::PplAccumulator chunk_ppl;
        for (int64_t b = 0; b < ctx; b += batch) {
            const int64_t n = std::min(batch, ctx - b);
            EDGEQ_ASSIGN_OR_RETURN(
                std::vector<float> l,
                model->eval(std::span<const int32_t>(chunk.data() + b, static_cast<size_t>(n)),
                            static_cast<int32_t>(b), /*all_logits=*/true));
            std::copy(l.begin(), l.end(), logits.begin() + b * V);
            done += n;
            if (b + n < ctx && progress.redraws()) progress.update(done, chunk_text(ci));
        }
        for (int64_t p = c.score_from; p < ctx; ++p, ++row) {
            const std::span<const float> z(logits.data() + p * V, static_cast<size_t>(V));
            const int32_t next = p + 1 < ctx ? chunk[static_cast<size_t>(p + 1)] : -1;
            if (next >= 0) {
                const double nll = llm::token_nll(z, next);
                ppl.add_nll(nll);
                chunk_ppl.add_nll(nll);
            }
            if (base) kl.add(std::span<const float>(base + row * V, static_cast<size_t>(V)), z, next);
        }
        if (out) {
            EDGEQ_RETURN_IF_ERROR(out->write(logits.data() + c.score_from * V,
                                             static_cast<size_t>(per_chunk * V) * sizeof(float)));
        }
        ppl_per_chunk.push_back(chunk_ppl.stats().ppl);
        progress.update(done, chunk_text(ci + 1));
    }
    if (out) EDGEQ_RETURN_IF_ERROR(out->commit());
    progress.finish();
    const double secs = progress.elapsed();
    const llm::PplStats ps = ppl.stats();

    if (c.json) {
        nlohmann::json j{{"model", c.model},
                         {"text", c.text_file},
                         {"text_tokens", tokens.size()},
                         {"ctx", ctx},
                         {"chunks", n_chunks},
                         {"score_from", c.score_from},
                         {"positions", positions},
                         {"predictions", ps.count},
                         {"ppl", ps.ppl},
                         {"ppl_stderr", ps.ppl_stderr},
                         {"nll_mean", ps.nll_mean},
                         {"ppl_per_chunk", ppl_per_chunk},
                         {"seconds", secs},
                         {"tokens_per_s", secs > 0 ? static_cast<double>(done) / secs : 0.0}};
        if (out) {
            j["save_logits"] = c.save_logits;
            j["logits_shape"] = {positions, V};
        }
        if (base) {
            const llm::KlStats k = kl.stats();
            j["kl_base"] = c.kl_base;
            j["ppl_base"] = k.ppl_base.ppl;
            j["ln_ppl_ratio"] = k.ln_ppl_ratio;
            j["kld_mean"] = k.kld_mean;
            j["kld_stderr"] = k.kld_stderr;
            j["kld_median"] = k.kld_median;
            j["kld_p99"] = k.kld_p99;
            j["kld_p999"] = k.kld_p999;
            j["kld_max"] = k.kld_max;
            j["kld_min"] = k.kld_min;
            j["top1_agreement"] = k.top1_agreement;
            j["dp_mean"] = k.dp_mean;
            j["dp_rms"] = k.dp_rms;
            j["dp_max_abs"] = k.dp_max_abs;
        }
        ResultLabel label = label_gguf(model->file());
        c.label.apply(label);
        nlohmann::json metrics{{"ppl", ps.ppl},
                               {"ppl_stderr", ps.ppl_stderr},
                               {"tokens_per_s", j["tokens_per_s"]},
                               {"bytes", model_file_bytes(c.model)}};
        if (base) {
            metrics["kld_mean"] = j["kld_mean"];
            metrics["top1_agreement"] = j["top1_agreement"];
        }
        add_result_envelope(j, "perplexity", c.model, label, metrics);
        std::printf("%s\n", j.dump().c_str());
        return Status::Ok();
    }
    std::printf("%s on %s: %lld chunk%s of %lld tokens, %lld predictions per chunk (from position %lld)\n",
                c.model.c_str(), c.text_file.c_str(), static_cast<long long>(n_chunks),
                n_chunks == 1 ? "" : "s", static_cast<long long>(ctx),
                static_cast<long long>(ctx - 1 - c.score_from), static_cast<long long>(c.score_from));
    std::printf("Final estimate: PPL = %.4f +/- %.5f\n", ps.ppl, ps.ppl_stderr);
    if (base) {
        const llm::KlStats k = kl.stats();
        std::printf("====== Perplexity statistics ======\n");
        std::printf("Mean PPL(Q)           : %10.6f +/- %10.6f\n", k.ppl_test.ppl, k.ppl_test.ppl_stderr);
        std::printf("Mean PPL(base)        : %10.6f +/- %10.6f\n", k.ppl_base.ppl, k.ppl_base.ppl_stderr);
        std::printf("ln(PPL(Q)/PPL(base))  : %10.6f\n", k.ln_ppl_ratio);
        std::printf("====== KL divergence statistics (%lld positions) ======\n",
                    static_cast<long long>(k.positions));
        std::printf("Mean    KLD: %10.6f +/- %10.6f\n", k.kld_mean, k.kld_stderr);
        std::printf("Maximum KLD: %10.6f\n", k.kld_max);
        std::printf("99.9%%   KLD: %10.6f\n", k.kld_p999);
        std::printf("99.0%%   KLD: %10.6f\n", k.kld_p99);
        std::printf("Median  KLD: %10.6f\n", k.kld_median);
        std::printf("Minimum KLD: %10.6f\n", k.kld_min);
        std::printf("====== Token probability statistics ======\n");
        std::printf("Mean    Δp: %8.3f %%\n", 100.0 * k.dp_mean);
        std::printf("RMS     Δp: %8.3f %%\n", 100.0 * k.dp_rms);
        std::printf("Maximum |Δp|: %6.3f %%\n", 100.0 * k.dp_max_abs);
        std::printf("Same top p: %8.3f %%\n", 100.0 * k.top1_agreement);
    }
    if (out)
        std::printf("saved logits [%lld, %lld] to %s\n", static_cast<long long>(positions),
                    static_cast<long long>(V), c.save_logits.c_str());
    return Status::Ok();
}

}  // namespace

void register_perplexity(CLI::App& app) {
    auto c = std::make_shared<PerplexityCli>();
    auto* cmd =
        app.add_subcommand("perplexity",
                           "Perplexity of a llama-architecture GGUF model on a text, and KL divergence "
                           "against saved base logits\n"
                           "  edgeq perplexity model-f32.gguf -f text.txt --ctx 256 --save-logits base.npy\n"
                           "  edgeq perplexity model-q4.gguf -f text.txt --ctx 256 --kl-base base.npy");
    cmd->add_option("MODEL", c->model, "GGUF model (general.architecture = llama)")->required();
    cmd->add_option("-f,--file", c->text_file, "Text file (UTF-8); tokenized with BOS first")->required();
    cmd->add_option("--ctx,-c", c->ctx, "Tokens per chunk (default: min(512, the model's context_length))")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--chunks", c->chunks,
                    "Evaluate at most K chunks (default: all whole chunks of the text)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--score-from", c->score_from,
                    "First position of each chunk that is scored (default 0: every token after BOS; CTX/2: "
                    "llama-perplexity's second half)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--batch,-b", c->batch, "Tokens per model evaluation (default 512)")
        ->check(CLI::PositiveNumber);
    auto* save = cmd->add_option("--save-logits", c->save_logits,
                                 "Write the scored positions' logits as float32 .npy [positions, vocab]");
    auto* klb =
        cmd->add_option("--kl-base", c->kl_base,
                        "Compare with base logits saved by --save-logits (same text, --ctx, --chunks, "
                        "--score-from): KL divergence, top-1 agreement, Δp");
    save->excludes(klb);
    cmd->add_option("--threads,-t", c->threads, "Worker threads (default: all cores)")
        ->check(CLI::Range(0, 1024));
    cmd->add_flag("--json", c->json,
                  "Print one JSON object (ppl, and kld_mean, kld_max, top1_agreement, ... with "
                  "--kl-base; shared results schema: docs/results-schema.md)");
    cmd->add_flag("--quiet,-q", c->quiet, "No progress output");
    cmd->add_flag("--llama-order", c->llama_order,
                  "Every product in the float order of llama.cpp's x86 CPU backend (its zen4 build: block types, repacked matrices, one-token products), so logits equal llama.cpp's bit for bit; slower (scalar rows)");
    add_label_options(cmd, c->label);
    cmd->callback([c] { report("perplexity", run(*c)); });
}

}  // namespace edgeq::cli
