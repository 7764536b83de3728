// edgeq compare REF.onnx MODEL.onnx --data IMAGES [--labels LABELS] [--preprocess ...] [--limit N] [--batch B]
//               [--strict] [--json] [--quiet]
// edgeq compare REF.gguf MODEL.gguf --data TEXT [--ctx N] [--chunks K] [--threads N] [--strict] [--json]
// Per-layer error of MODEL against REF on the same inputs (eval/compare.h for the matching rules and the
// statistics): SQNR, cosine, max abs error, overflow rate of each quantized tensor, NaN/Inf and extreme values,
// the first layer where the error jumps, and final-output agreement. GGUF (llm/compare.h): per matmul input
// and per weight tensor, then KLD / top-1 agreement / perplexity of the next-token distributions.
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "eval/compare.h"
#include "eval/image_set.h"
#include "llm/compare.h"
#include "tools/edgeq/commands.h"
#include "tools/edgeq/progress.h"
#include "tools/edgeq/result_json.h"

namespace edgeq::cli {
namespace {

struct CompareCli {
    std::string ref, model, preprocess;
    CompareOptions o;
    bool json = false, strict = false, quiet = false;
    int64_t ctx = 128, chunks = 1;
    int threads = 0;
    LabelOptions label;
};

// JSON number, or null for ±inf / NaN (JSON has neither).
nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

nlohmann::json stats_json(const TensorErrorStats& s) {
    nlohmann::json j{{"name", s.name},
                     {"matched_as", s.matched_as},
                     {"count", s.count},
                     {"sqnr_db", num(s.sqnr_db())},
                     {"exact", s.count > 0 && s.sum_err2 == 0},
                     {"cosine", num(s.cosine())},
                     {"max_abs_err", s.max_abs_err},
                     {"mse", s.mse()},
                     {"nan", s.nan},
                     {"inf", s.inf},
                     {"extreme", s.extreme},
                     {"nan_ref", s.nan_ref},
                     {"inf_ref", s.inf_ref}};
    if (!s.op.empty()) j["op"] = s.op, j["node"] = s.node;
    j["overflow_rate"] = s.quantized ? nlohmann::json(s.overflow_rate()) : nlohmann::json(nullptr);
    return j;
}

std::string db(double v) {
    if (std::isinf(v)) return v > 0 ? "exact" : "-inf";
    char b[32];
    std::snprintf(b, sizeof b, "%.1f", v);
    return b;
}

void print_table(const CompareCli& c, const CompareReport& r) {
    std::printf("compare %s vs %s: %lld samples, reference executor\n\n", c.model.c_str(), c.ref.c_str(),
                static_cast<long long>(r.samples));
    std::printf("| # | value | op | compared with | SQNR dB | cosine | max abs err | overflow %% |\n"
                "|---|---|---|---|---|---|---|---|\n");
    int i = 0;
    for (const auto& s : r.layers) {
        if (!s.count) continue;
        char ov[32] = "-";
        if (s.quantized) std::snprintf(ov, sizeof ov, "%.3f", 100.0 * s.overflow_rate());
        std::printf("| %d | %s | %s | %s | %s | %.6f | %.4g | %s |%s\n", ++i, s.name.c_str(), s.op.c_str(),
                    s.matched_as.c_str(), db(s.sqnr_db()).c_str(), s.cosine(), s.max_abs_err, ov,
                    s.name == r.first_jump ? "  <- first jump" : "");
    }
    if (!r.weights.empty()) {
        std::printf("\n| weight | compared with | SQNR dB | cosine | max abs err |\n|---|---|---|---|---|\n");
        for (const auto& s : r.weights)
            if (s.count)
                std::printf("| %s | %s | %s | %.6f | %.4g |\n", s.name.c_str(), s.matched_as.c_str(),
                            db(s.sqnr_db()).c_str(), s.cosine(), s.max_abs_err);
    }
    std::printf("\n");
    for (size_t k = 0; k < r.outputs.size(); ++k) {
        const auto& s = r.outputs[k];
        const auto& a = r.agreement[k];
        std::printf("output %s: SQNR %s dB, cosine %.6f, max abs err %.4g, ", s.name.c_str(), db(s.sqnr_db()).c_str(),
                    s.cosine(), s.max_abs_err);
        if (a.classifier) std::printf("top-1 agreement %.2f %%\n", 100.0 * a.top1_agreement);
        else std::printf("PSNR %s dB\n", db(a.psnr_db).c_str());
    }
    if (r.has_labels)
        std::printf("accuracy: REF %.2f %%, MODEL %.2f %%\n", 100.0 * r.ref_accuracy, 100.0 * r.accuracy);
    if (!r.first_jump.empty())
        std::printf("first error jump: %s (SQNR %.1f dB below its inputs)\n", r.first_jump.c_str(),
                    r.first_jump_drop_db);
    else
        std::printf("no layer loses >= %.1f dB of SQNR from its inputs\n", c.o.jump_db);
    if (!r.largest_drop.empty())
        std::printf("largest drop: %s (%.1f dB)\n", r.largest_drop.c_str(), r.largest_drop_db);
    std::printf("%lld REF values had no counterpart in MODEL\n", static_cast<long long>(r.unmatched));
    if (r.problems.empty()) std::printf("no NaN, Inf or extreme values\n");
    for (const auto& p : r.problems) std::printf("problem: %s\n", p.c_str());
}

nlohmann::json gguf_stats_json(const llm::GgufTensorError& s) {
    nlohmann::json j{{"name", s.name},         {"count", s.count},          {"sqnr_db", num(s.sqnr_db())},
                     {"cosine", num(s.cosine())}, {"max_abs_err", s.max_abs_err}, {"nan", s.nan},
                     {"inf", s.inf}};
    if (!s.type.empty()) j["type"] = s.type;
    return j;
}

Status run_gguf(CompareCli& c) {
    if (!has_gguf_magic(c.ref) || !has_gguf_magic(c.model))
        return InvalidArgument("REF and MODEL must both be GGUF or both ONNX (" + c.ref + ", " + c.model + ")");
    llm::GgufCompareOptions o;
    o.text_path = c.o.images, o.ctx = c.ctx, o.chunks = c.chunks, o.threads = c.threads;
    std::unique_ptr<Progress> progress;
    o.progress = [&](int64_t done, int64_t total) {
        if (!progress) progress = std::make_unique<Progress>("compare: chunk", total, c.quiet);
        progress->update(done);
    };
    EDGEQ_ASSIGN_OR_RETURN(llm::GgufCompareReport r, llm::compare_gguf(c.ref, c.model, o));
    if (progress) progress->finish();
    if (c.json) {
        nlohmann::json layers = nlohmann::json::array(), weights = nlohmann::json::array();
        for (const auto& s : r.activations) layers.push_back(gguf_stats_json(s));
        for (const auto& s : r.weights) weights.push_back(gguf_stats_json(s));
        nlohmann::json j{{"ref", c.ref},          {"positions", r.positions}, {"layers", layers},
                         {"weights", weights},    {"kld_mean", r.kld_mean},   {"kld_max", r.kld_max},
                         {"top1_agreement", r.top1_agreement}, {"ppl_ref", r.ppl_ref}, {"ppl", r.ppl},
                         {"problems", r.problems},
                         {"first_jump", r.first_jump.empty() ? nlohmann::json(nullptr)
                                                             : nlohmann::json{{"name", r.first_jump},
                                                                              {"drop_db", r.first_jump_drop_db}}}};
        EDGEQ_ASSIGN_OR_RETURN(ResultLabel label, label_model_file(c.model));
        c.label.apply(label);
        add_result_envelope(j, "compare", c.model, label,
                            {{"kld_mean", r.kld_mean}, {"top1_agreement", r.top1_agreement}, {"ppl", r.ppl},
                             {"fp32_ppl", r.ppl_ref}, {"bytes", model_file_bytes(c.model)}});
        std::printf("%s\n", j.dump().c_str());
    } else {
        std::printf("compare %s vs %s: %lld positions\n\n| # | matmul input | SQNR dB | cosine | max abs err |\n"
                    "|---|---|---|---|---|\n",
                    c.model.c_str(), c.ref.c_str(), static_cast<long long>(r.positions));
        int i = 0;
        for (const auto& s : r.activations)
            std::printf("| %d | %s | %s | %.6f | %.4g |%s\n", ++i, s.name.c_str(), db(s.sqnr_db()).c_str(), s.cosine(),
                        s.max_abs_err, s.name == r.first_jump ? "  <- first jump" : "");
        std::printf("\n| weight | type | SQNR dB | cosine | max abs err |\n|---|---|---|---|---|\n");
        for (const auto& s : r.weights)
            std::printf("| %s | %s | %s | %.6f | %.4g |\n", s.name.c_str(), s.type.c_str(), db(s.sqnr_db()).c_str(),
                        s.cosine(), s.max_abs_err);
        std::printf("\nKLD mean %.6f, max %.6f; top-1 agreement %.2f %%; PPL %.4f (REF %.4f)\n", r.kld_mean,
                    r.kld_max, 100.0 * r.top1_agreement, r.ppl, r.ppl_ref);
        if (r.problems.empty()) std::printf("no NaN or Inf values\n");
        for (const auto& p : r.problems) std::printf("problem: %s\n", p.c_str());
    }
    if (c.strict && !r.problems.empty())
        return InvalidArgument(std::to_string(r.problems.size()) + " problem(s), first: " + r.problems.front() +
                               " (--strict)");
    return Status::Ok();
}

Status run(CompareCli& c) {
    if (has_gguf_magic(c.ref) || has_gguf_magic(c.model)) return run_gguf(c);
    EDGEQ_ASSIGN_OR_RETURN(Preprocess pre, parse_preprocess(c.preprocess));
    c.o.scale = pre.scale, c.o.mean = pre.mean, c.o.std = pre.std;
    std::unique_ptr<Progress> progress;
    c.o.progress = [&](int64_t done, int64_t total) {
        if (!progress) progress = std::make_unique<Progress>("compare: image", total, c.quiet);
        progress->update(done);
    };
    EDGEQ_ASSIGN_OR_RETURN(CompareReport r, compare_onnx(c.ref, c.model, c.o));
    if (progress) progress->finish();
    if (c.json) {
        nlohmann::json layers = nlohmann::json::array(), weights = nlohmann::json::array(),
                       outputs = nlohmann::json::array();
        for (const auto& s : r.layers)
            if (s.count) layers.push_back(stats_json(s));
        for (const auto& s : r.weights)
            if (s.count) weights.push_back(stats_json(s));
        double agreement = -1;
        for (size_t k = 0; k < r.outputs.size(); ++k) {
            nlohmann::json o = stats_json(r.outputs[k]);
            if (r.agreement[k].classifier) {
                o["top1_agreement"] = r.agreement[k].top1_agreement;
                if (agreement < 0) agreement = r.agreement[k].top1_agreement;
            } else {
                o["psnr_db"] = num(r.agreement[k].psnr_db);
            }
            outputs.push_back(o);
        }
        nlohmann::json j{{"ref", c.ref},
                         {"samples", r.samples},
                         {"layers", layers},
                         {"weights", weights},
                         {"outputs", outputs},
                         {"unmatched", r.unmatched},
                         {"problems", r.problems},
                         {"first_jump", r.first_jump.empty() ? nlohmann::json(nullptr)
                                                             : nlohmann::json{{"name", r.first_jump},
                                                                              {"drop_db", num(r.first_jump_drop_db)}}},
                         {"largest_drop", r.largest_drop.empty() ? nlohmann::json(nullptr)
                                                                 : nlohmann::json{{"name", r.largest_drop},
                                                                                  {"drop_db", num(r.largest_drop_db)}}}};
        nlohmann::json metrics{{"samples", r.samples}, {"bytes", model_file_bytes(c.model)}};
        if (agreement >= 0) metrics["top1_agreement"] = agreement;
        if (r.has_labels) metrics["accuracy"] = r.accuracy, metrics["fp32_accuracy"] = r.ref_accuracy;
        EDGEQ_ASSIGN_OR_RETURN(ResultLabel label, label_model_file(c.model));
        c.label.apply(label);
        add_result_envelope(j, "compare", c.model, label, metrics);
        std::printf("%s\n", j.dump().c_str());
    } else {
        print_table(c, r);
    }
    if (c.strict && !r.problems.empty())
        return InvalidArgument(std::to_string(r.problems.size()) + " problem(s), first: " + r.problems.front() +
                               " (--strict)");
    return Status::Ok();
}

}  // namespace

void register_compare(CLI::App& app) {
    auto c = std::make_shared<CompareCli>();
    auto* cmd = app.add_subcommand(
        "compare", "Per-layer error of a quantized ONNX or GGUF model against its reference on the same inputs");
    cmd->footer("Example:\n  edgeq compare model.onnx model-int8.onnx --data t10k-images-idx3-ubyte.gz \\\n"
                "                --labels t10k-labels-idx1-ubyte.gz --preprocess scale=0.00392156862745098 --strict\n"
                "  edgeq compare model-f32.gguf model-q4_k_m.gguf --data wiki.test.txt --ctx 256 --chunks 4");
    cmd->add_option("REF", c->ref, "Reference (FP32) model: ONNX or GGUF")->required();
    cmd->add_option("MODEL", c->model, "Quantized / converted model of the same format")->required();
    cmd->add_option("--data", c->o.images, "ONNX: images (IDX (.gz), .npy, .npz); GGUF: a text file")->required();
    cmd->add_option("--labels", c->o.labels, "Labels (IDX, .npy, .npz): also report both models' accuracy");
    cmd->add_option("--preprocess", c->preprocess, "scale=S,mean=M,std=D: input = (pixel*S - M)/D (default 1,0,1)");
    cmd->add_option("--limit", c->o.limit, "Samples to run (default 256; 0 = all)")->check(CLI::NonNegativeNumber);
    cmd->add_option("--batch", c->o.batch, "Batch size (default 16, or the model's fixed batch)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--jump-db", c->o.jump_db, "SQNR drop (dB) from a layer's inputs that counts as a jump (default 6)");
    cmd->add_option("--extreme", c->o.extreme_threshold, "|value| above this counts as extreme (default 1e6)");
    cmd->add_option("--ctx", c->ctx, "GGUF: tokens per chunk (default 128)")->check(CLI::Range(2, 1 << 20));
    cmd->add_option("--chunks", c->chunks, "GGUF: chunks of text to evaluate (default 1)")->check(CLI::PositiveNumber);
    cmd->add_option("--threads,-t", c->threads, "GGUF: worker threads (default: all cores)")->check(CLI::Range(0, 1024));
    cmd->add_flag("--strict", c->strict, "Exit non-zero when any NaN, Inf or extreme value is found");
    cmd->add_flag("--json", c->json, "Print one JSON object (docs/results-schema.md; layers, weights, outputs)");
    cmd->add_flag("--quiet,-q", c->quiet, "No progress output");
    add_label_options(cmd, c->label);
    cmd->callback([c] { report("compare", run(*c)); });
}

}  // namespace edgeq::cli
