// edgeq quantize IN OUT TYPE: llama-quantize compatible GGUF quantization, optionally with GPTQ
// (--method gptq --calib TEXT: Hessians of every matmul input collected by running the F32/F16 model in
// src/llm on the calibration text, all layers from the unquantized model in one pass; docs/llm/gptq.md).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "core/parallel.h"
#include "llm/imatrix_collector.h"
#include "llm/model.h"
#include "quant/gguf_quantize.h"
#include "tools/edgeq/commands.h"
#include "tools/edgeq/llm_inputs.h"
#include "tools/edgeq/progress.h"
#include "tools/edgeq/quantize_onnx.h"
#include "tools/edgeq/result_json.h"

namespace edgeq::cli {
namespace {

struct QuantizeCli {
    QuantizeParams p;
    std::optional<std::string> out_type, emb_type;
    bool verbose = false, quiet = false;
    OnnxQuantizeCli onnx;
    std::string type;  // TYPE (GGUF only)
    int64_t calib_chunks = 0, ctx = 0;
    double percdamp = 0.01;
    bool act_order = false;
};

bool is_onnx(const std::string& path) {
    return path.size() >= 5 && path.compare(path.size() - 5, 5, ".onnx") == 0;
}

std::string shape_list(const std::vector<int64_t>& ne) {
    std::string s = "[";
    for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
    return s + "]";
}

// GPTQ calibration: H = 2/N X^T X of every weight's input rows over the chunks of the --calib text.
Result<std::map<std::string, std::vector<double>>> collect_hessians(const QuantizeCli& c) {
    if (!c.p.llama2c_tokenizer.empty())
        return InvalidArgument(
            "--method gptq runs the model on the calibration text and needs a GGUF input; "
            "convert first: edgeq quantize IN.bin model-f32.gguf F32 --from-llama2c TOKENIZER.bin");
    EDGEQ_ASSIGN_OR_RETURN(std::string text, read_text(c.onnx.calib));
    EDGEQ_ASSIGN_OR_RETURN(const int64_t ctx,
                           llm::calibration_ctx(c.ctx, trained_context(c.p.input), c.p.input));
    llm::ModelOptions mo;
    mo.threads = c.p.threads;
    mo.n_ctx = ctx;
    EDGEQ_ASSIGN_OR_RETURN(auto model, llm::Model::load(c.p.input, mo));
    llm::ImatrixCollector collector(/*full_hessian=*/true);
    std::unique_ptr<Progress> bar;  // "edgeq quantize: GPTQ calibration chunk 3/8 (37%), ..."
    auto progress = [&](int64_t done, int64_t total, double) {
        if (!bar) bar = std::make_unique<Progress>("quantize: GPTQ calibration chunk", total, c.quiet);
        bar->update(done);
    };
    auto run_or = llm::run_calibration(*model, text, "--calib " + c.onnx.calib, ctx, c.calib_chunks,
                                       &collector, progress);
    if (!run_or.ok()) return Status(run_or.status().code(), c.p.input + ": " + run_or.status().message());
    std::map<std::string, std::vector<double>> hessians;
    for (const auto& [name, e] : collector.entries()) {
        if (!e.xtx) continue;
        hessians[name] = hessian_from_sums(*e.xtx, static_cast<int64_t>(e.sum2.size()), e.count);
    }
    return hessians;
}

Status run_quantize(QuantizeCli& c) {
    if (is_onnx(c.p.input)) {
        if (!c.type.empty())
            return InvalidArgument(
                "ONNX input takes no TYPE; use --method/--weights/--acts (see edgeq quantize --help)");
        return run_quantize_onnx(c.p.input, c.p.output, c.onnx, c.quiet, c.p.threads);
    }
    c.p.file_type = c.type;
    if (c.type.empty())
        return InvalidArgument(
            "TYPE is required for GGUF models, e.g. edgeq quantize in.gguf out.gguf Q4_K_M");
    c.p.output_tensor_type = c.out_type;
    c.p.token_embedding_type = c.emb_type;
    c.p.method = c.onnx.gptq ? "gptq" : c.onnx.method;
    if (c.p.method != "" && c.p.method != "rtn" && c.p.method != "gptq")
        return InvalidArgument("--method " + c.p.method + ": GGUF models take rtn or gptq");
    std::map<std::string, std::vector<double>> hessians;
    if (c.p.method == "gptq") {
        if (c.onnx.calib.empty())
            return InvalidArgument("--method gptq needs --calib TEXT (calibration text file)");
        EDGEQ_ASSIGN_OR_RETURN(hessians, collect_hessians(c));
        c.p.hessians = &hessians;
        c.p.gptq.percdamp = c.percdamp;
        c.p.gptq.act_order = c.act_order;
    } else if (!c.onnx.calib.empty()) {
        return InvalidArgument(
            "--calib is used by --method gptq only (for an importance matrix: edgeq imatrix)");
    }
    std::unique_ptr<Progress> bar;  // tools/edgeq/progress.h; with --verbose one line per tensor instead
    auto progress = [&](size_t i, size_t total, const TensorResult& r) {
        if (c.verbose) {
            std::fprintf(stderr, "[%4zu/%4zu] %-36s %-18s %6s -> %-6s %10.3f KiB -> %10.3f KiB%s%s\n", i + 1,
                         total, r.name.c_str(), shape_list(r.ne).c_str(), dtype_name(r.from), dtype_name(r.to),
                         static_cast<double>(r.bytes_in) / 1024.0, static_cast<double>(r.bytes_out) / 1024.0,
                         r.fallback_note.empty() ? "" : "  fallback: ", r.fallback_note.c_str());
            return;
        }
        if (!bar) bar = std::make_unique<Progress>("quantize: tensor", static_cast<int64_t>(total), c.quiet);
        if (!r.fallback_note.empty() && !c.quiet && !bar->redraws())
            std::fprintf(stderr, "warning: %s: %s\n", r.name.c_str(), r.fallback_note.c_str());
        bar->update(static_cast<int64_t>(i + 1), r.name);
    };
    EDGEQ_ASSIGN_OR_RETURN(auto rep, quantize_model(c.p, progress));
    if (bar) bar->finish();
    if (c.onnx.json) {  // results schema (docs/results-schema.md), method "gguf"
        const double bpw =
            rep.n_params ? 8.0 * static_cast<double>(rep.bytes_out) / static_cast<double>(rep.n_params) : 0.0;
        EDGEQ_ASSIGN_OR_RETURN(ResultLabel label, label_model_file(c.p.output));
        nlohmann::json j{{"input", c.p.input},        {"output", c.p.output},       {"file_type", rep.file_type},
                         {"tensors", rep.tensors.size()}, {"bytes_in", rep.bytes_in}, {"bytes_out", rep.bytes_out},
                         {"fallbacks", rep.n_fallback}, {"seconds", rep.seconds}};
        add_result_envelope(j, "quantize", c.p.output, label,
                            {{"bytes", model_file_bytes(c.p.output)}, {"input_bytes", model_file_bytes(c.p.input)},
                             {"bits_per_weight", bpw}, {"seconds", rep.seconds}});
        std::printf("%s\n", j.dump().c_str());
    } else if (!c.quiet) {
        std::printf(
            "%s -> %s (%s): %zu tensors, %.2f MiB -> %.2f MiB, %.3f bits per weight, %d fallbacks, %.2f s\n",
            c.p.input.c_str(), c.p.output.c_str(), rep.file_type.c_str(), rep.tensors.size(),
            static_cast<double>(rep.bytes_in) / 1048576.0, static_cast<double>(rep.bytes_out) / 1048576.0,
            rep.n_params ? 8.0 * static_cast<double>(rep.bytes_out) / static_cast<double>(rep.n_params) : 0.0,
            rep.n_fallback, rep.seconds);
        if (rep.bits_nominal != 8.0 * static_cast<double>(rep.bytes_out) && rep.n_params)
            std::printf("  %s levels stored in Q4_1 blocks: %.3f information bits per weight\n",
                        rep.file_type.c_str(), rep.bits_nominal / static_cast<double>(rep.n_params));
        if (c.p.method == "gptq")
            std::printf(
                "  GPTQ: %d tensors (calibration: %s), %d quantized with rounding (no Hessian or type)\n",
                rep.n_gptq, c.onnx.calib.c_str(), rep.n_rtn_fallback);
    }
    return Status::Ok();
}

}  // namespace

void register_quantize(CLI::App& app) {
    auto c = std::make_shared<QuantizeCli>();
    auto* cmd = app.add_subcommand(
        "quantize",
        "Quantize a GGUF model (or a llama2.c checkpoint) the way llama.cpp's llama-quantize does, or an "
        "ONNX model\n"
        "(post-training: dynamic, static, weight-only, fp16, bf16).\n"
        "  edgeq quantize model.gguf model-q4.gguf Q4_K_M\n"
        "  edgeq quantize model-f32.gguf model-q3.gguf Q3_K_M --method gptq --calib wiki.txt --calib-chunks "
        "8\n"
        "  edgeq quantize model.onnx model-int8.onnx --method static --calib images.npy --preprocess "
        "scale=0.0039\n"
        "TYPE: F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K_S Q3_K_M Q3_K_L Q4_K_S Q4_K_M Q5_K_S Q5_K_M "
        "Q6_K\n"
        "      IQ4_NL TQ1_0 TQ2_0, and INT4_G32 INT4_G64 INT3_G32 INT3_G64 INT2_G32 INT2_G64 (group-wise\n"
        "      asymmetric integers, stored as Q4_1 blocks; GGUF --method: rtn (default) or gptq)");
    cmd->add_option("IN", c->p.input,
                    "Input GGUF (or llama2.c checkpoint with --from-llama2c), or ONNX (.onnx)")
        ->required();
    cmd->add_option("OUT", c->p.output, "Output GGUF / ONNX (written to a temporary file, then renamed)")
        ->required();
    cmd->add_option("TYPE", c->type, "GGUF target file type, e.g. Q4_K_M (not for ONNX)");
    cmd->add_option("--imatrix", c->p.imatrix_path, "Importance matrix (llama.cpp imatrix GGUF)");
    cmd->add_option("--tensor-type", c->p.tensor_types,
                    "REGEX=TYPE: tensors whose name matches REGEX get TYPE (repeatable; first match wins)")
        ->allow_extra_args(false);  // one value per occurrence, so IN OUT [TYPE] after it stay positionals
    cmd->add_option("--output-tensor-type", c->out_type, "Type of output.weight");
    cmd->add_option("--token-embedding-type", c->emb_type, "Type of token_embd.weight");
    cmd->add_flag("--pure", c->p.pure, "No mix rules: every quantizable tensor gets the base type");
    cmd->add_flag("--allow-requantize", c->p.allow_requantize, "Allow inputs that are already quantized");
    cmd->add_option(
           "--from-llama2c", c->p.llama2c_tokenizer,
           "IN is a llama2.c checkpoint; TOKENIZER.bin is its tokenizer (writes a complete llama GGUF)")
        ->option_text("TOKENIZER.bin");
    cmd->add_option("--threads,-t", c->p.threads, "Worker threads (default: all cores)")
        ->check(CLI::Range(0, 1024));
    cmd->add_flag("--verbose,-v", c->verbose, "One line per tensor");
    cmd->add_flag("--quiet,-q", c->quiet, "No progress or summary");
    add_onnx_quantize_options(cmd, c->onnx);
    const char* g = "GGUF GPTQ (--method gptq --calib TEXT)";
    cmd->add_option("--calib-chunks", c->calib_chunks,
                    "GGUF GPTQ: use at most K chunks of --calib (default: all)")
        ->check(CLI::NonNegativeNumber)
        ->group(g);
    cmd->add_option("--ctx", c->ctx,
                    "GGUF GPTQ: tokens per calibration chunk (default: min(512, context_length))")
        ->check(CLI::NonNegativeNumber)
        ->group(g);
    cmd->add_option("--percdamp", c->percdamp,
                    "GGUF GPTQ: damping as a fraction of mean diag(H) (default 0.01)")
        ->check(CLI::Range(0.0, 10.0))
        ->group(g);
    cmd->add_flag("--act-order", c->act_order, "GGUF GPTQ: process columns by descending diag(H)")->group(g);
    cmd->callback([c] { report("quantize", run_quantize(*c)); });
}

}  // namespace edgeq::cli
