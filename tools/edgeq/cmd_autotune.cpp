// edgeq autotune IN.onnx OUT.onnx --data IMAGES --labels LABELS --max-drop X% [--objective size|latency]
//                [--candidates int2,int4,int8,fp16] [--calib IMAGES] [--preprocess ...] [--json] [--quiet]
// edgeq autotune IN.gguf OUT.gguf --data TEXT (--max-kld X | --target-bpw B) [--imatrix F] [--ctx N]
// ONNX: eval/autotune.h (static INT8 activations, per-layer weight precision, greedy by sensitivity per byte,
// verified on held-out images). GGUF: autotune_gguf.h.
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "eval/autotune.h"
#include "formats/onnx/onnx_export.h"
#include "formats/onnx/onnx_import.h"
#include "tools/edgeq/autotune_gguf.h"
#include "tools/edgeq/commands.h"
#include "tools/edgeq/result_json.h"

namespace edgeq::cli {
namespace {

struct AutotuneCli {
    std::string in, out, data, labels, preprocess, calib, max_drop, objective = "size", candidates,
                                                                    granularity;
    std::string imatrix;
    std::optional<double> max_kld, target_bpw;
    int64_t calib_samples = 256, sens_samples = 1000, heldout_samples = 2000, limit = 0;
    int ctx = 0, threads = 0;
    bool json = false, quiet = false;
    CLI::App* cmd = nullptr;
};

bool given(const AutotuneCli& c, const char* opt) {
    return c.cmd->count(opt) > 0;
}

bool gguf_by_name_or_magic(const std::string& path) { return path.ends_with(".gguf") || has_gguf_magic(path); }

std::vector<std::string> split_list(const std::string& s) {
    std::vector<std::string> r;
    size_t a = 0;
    while (a <= s.size()) {
        size_t b = s.find(',', a);
        if (b == std::string::npos) b = s.size();
        if (b > a) r.push_back(s.substr(a, b - a));
        a = b + 1;
    }
    return r;
}

// "0.5%" -> 0.005; "0.005" -> 0.005 (a fraction; values above 0.2 without '%' are refused as ambiguous).
Result<double> parse_drop(const std::string& s) {
    const bool pct = !s.empty() && s.back() == '%';
    const std::string num = pct ? s.substr(0, s.size() - 1) : s;
    double v = 0;
    try {
        size_t used = 0;
        v = std::stod(num, &used);
        if (used != num.size()) throw std::invalid_argument(s);
    } catch (const std::exception&) {
        return InvalidArgument("--max-drop '" + s + "': expected a percentage like 0.5%");
    }
    if (!(v >= 0) || !std::isfinite(v)) return InvalidArgument("--max-drop '" + s + "': must be >= 0");
    if (!pct && v > 0.2)
        return InvalidArgument("--max-drop '" + s + "': ambiguous; write " + s +
                               "% (points of top-1) or a fraction <= 0.2");
    return pct ? v / 100.0 : v;
}

Status run_gguf(const AutotuneCli& c) {
    for (const char* o : {"--labels", "--preprocess", "--max-drop", "--calib", "--granularity",
                          "--calib-samples", "--sens-samples", "--heldout-samples", "--limit"})
        if (given(c, o))
            return InvalidArgument(
                std::string(o) +
                " is for ONNX models; GGUF takes --data TEXT with --max-kld X or --target-bpw B");
    if (c.data.empty())
        return InvalidArgument("GGUF autotune needs --data TEXT (UTF-8 text to measure KLD on)");
    GgufAutotuneCli g;
    g.in = c.in;
    g.out = c.out;
    g.data = c.data;
    g.max_kld = c.max_kld;
    g.target_bpw = c.target_bpw;
    g.candidates = split_list(c.candidates);
    g.objective = c.objective;
    g.imatrix = c.imatrix;
    g.ctx = c.ctx;
    g.threads = c.threads;
    g.json = c.json;
    g.quiet = c.quiet;
    return run_autotune_gguf(g);
}

Status run_onnx(const AutotuneCli& c) {
    for (const char* o : {"--max-kld", "--target-bpw", "--imatrix", "--ctx"})
        if (given(c, o))
            return InvalidArgument(std::string(o) +
                                   " is for GGUF models; ONNX takes --labels and --max-drop X%");
    if (c.data.empty() || c.labels.empty())
        return InvalidArgument("ONNX autotune needs --data IMAGES and --labels LABELS (as `edgeq eval`)");
    if (c.max_drop.empty())
        return InvalidArgument("ONNX autotune needs an accuracy budget: --max-drop X% (e.g. 0.5%)");
    AutotuneOptions o;
    EDGEQ_ASSIGN_OR_RETURN(o.max_drop, parse_drop(c.max_drop));
    o.images = c.data;
    o.labels = c.labels;
    o.calib = c.calib;
    EDGEQ_ASSIGN_OR_RETURN(o.pre, parse_preprocess(c.preprocess));
    o.objective = c.objective;
    if (!c.candidates.empty()) o.candidates = split_list(c.candidates);
    if (c.granularity.empty() || c.granularity == "channel")
        o.granularity = quant::ptq::Granularity::Channel;
    else if (c.granularity == "tensor")
        o.granularity = quant::ptq::Granularity::Tensor;
    else if (c.granularity.rfind("group:", 0) == 0 && c.granularity.size() > 6 &&
             c.granularity.find_first_not_of("0123456789", 6) == std::string::npos &&
             std::stoll(c.granularity.substr(6)) > 0) {
        o.granularity = quant::ptq::Granularity::Group;
        o.group = std::stoll(c.granularity.substr(6));
    } else {
        return InvalidArgument("--granularity '" + c.granularity + "': expected tensor, channel or group:N");
    }
    o.calib_samples = c.calib_samples;
    o.sens_samples = c.sens_samples;
    o.heldout_samples = c.heldout_samples;
    o.limit = c.limit;
    o.threads = c.threads;
    if (!c.quiet && !c.json)
        o.log = [](const std::string& s) { std::fprintf(stderr, "edgeq autotune: %s\n", s.c_str()); };
    if (c.in == c.out) return InvalidArgument("OUT must differ from IN (" + c.in + ")");
    EDGEQ_ASSIGN_OR_RETURN(graph::Model model, onnxio::load_model(c.in));
    EDGEQ_ASSIGN_OR_RETURN(AutotuneResult r, autotune_onnx(model, o));
    EDGEQ_RETURN_IF_ERROR(onnxio::save_model(r.model, c.out));  // temp file + rename
    const int64_t bytes = model_file_bytes(c.out);

    if (c.json) {
        nlohmann::json pm = nlohmann::json::object(), sens = nlohmann::json::array(),
                       pareto = nlohmann::json::array();
        for (const auto& l : r.layers) {
            pm[l.name] = l.precision;
            sens.push_back({{"name", l.name},
                            {"op", l.op},
                            {"params", l.params},
                            {"precision", l.precision},
                            {"kl", l.kl},
                            {"top1_agreement", l.agreement}});
        }
        for (const auto& u : r.untuned) {  // "node 'NAME' (Op): why"
            const size_t a = u.find('\''), b = a == std::string::npos ? a : u.find('\'', a + 1);
            if (b != std::string::npos) pm[u.substr(a + 1, b - a - 1)] = "fp32";
        }
        for (size_t i : r.pareto) {
            const auto& p = r.visited[i];
            pareto.push_back({{"what", p.what},
                              {"heldout_accuracy", p.accuracy},
                              {"weight_bytes", p.weight_bytes},
                              {"bits_per_weight", p.bits_per_weight},
                              {"ms_per_image", p.ms_per_image},
                              {"within_budget", p.passed},
                              {"precision_map", p.precisions}});
        }
        nlohmann::json j{{"input", c.in},
                         {"output", c.out},
                         {"objective", o.objective},
                         {"max_drop", o.max_drop},
                         {"candidates", r.candidates},
                         {"budget_met", r.budget_met},
                         {"accuracy", r.accuracy},
                         {"fp32_accuracy", r.fp32_accuracy},
                         {"heldout_accuracy", r.heldout_accuracy},
                         {"fp32_heldout_accuracy", r.fp32_heldout_accuracy},
                         {"bits_per_weight", r.bits_per_weight},
                         {"weight_bytes", r.weight_bytes},
                         {"weight_params", r.weight_params},
                         {"bytes", bytes},
                         {"samples", r.samples},
                         {"sens_samples", r.sens_samples},
                         {"heldout_samples", r.heldout_samples},
                         {"calib_samples", r.calib_samples},
                         {"visited", r.visited.size()},
                         {"steps", r.steps},
                         {"accepted", r.accepted},
                         {"undone", r.undone},
                         {"precision_map", pm},
                         {"sensitivity", sens},
                         {"pareto", pareto},
                         {"skipped", r.untuned},
                         {"log", r.log}};
        std::set<std::string> precs;
        for (const auto& l : r.layers) precs.insert(l.precision);
        const ResultLabel label{"static", precs.size() == 1 ? *precs.begin() : "mixed", r.bits_per_weight};
        add_result_envelope(j, "autotune", c.out, label,
                            {{"accuracy", r.accuracy},
                             {"fp32_accuracy", r.fp32_accuracy},
                             {"accuracy_metric", "top1"},
                             {"samples", r.samples},
                             {"bytes", bytes},
                             {"input_bytes", model_file_bytes(c.in)}});
        std::printf("%s\n", j.dump().c_str());
        return Status::Ok();
    }
    if (c.quiet) return Status::Ok();
    std::printf(
        "precision per layer (sensitivity = mean KL vs fp32 on %lld images when only that layer is "
        "lowered):\n",
        static_cast<long long>(r.sens_samples));
    std::printf("  %-28s %-7s %10s %-6s", "layer", "op", "params", "chosen");
    for (size_t k = 1; k < r.candidates.size(); ++k) std::printf(" %11s", ("KL " + r.candidates[k]).c_str());
    std::printf("\n");
    for (const auto& l : r.layers) {
        std::printf("  %-28s %-7s %10lld %-6s", l.name.c_str(), l.op.c_str(),
                    static_cast<long long>(l.params), l.precision.c_str());
        for (size_t k = 1; k < r.candidates.size(); ++k) std::printf(" %11.3g", l.kl.at(r.candidates[k]));
        std::printf("\n");
    }
    for (const auto& u : r.untuned) std::printf("  kept float: %s\n", u.c_str());
    std::printf("Pareto front of the %zu configurations measured (held-out %lld images):\n", r.visited.size(),
                static_cast<long long>(r.heldout_samples));
    std::printf("  %-14s %9s %12s %9s %10s %s\n", "config", "accuracy", "weight bytes", "bits/w", "ms/image",
                "budget");
    for (size_t i : r.pareto) {
        const auto& p = r.visited[i];
        std::printf("  %-14s %8.2f%% %12lld %9.3f %10.4f %s\n", p.what.c_str(), 100.0 * p.accuracy,
                    static_cast<long long>(p.weight_bytes), p.bits_per_weight, p.ms_per_image,
                    p.passed ? "ok" : "over");
    }
    std::printf(
        "%s -> %s: top-1 %.2f %% (fp32 %.2f %%, drop %.2f points, budget %.2f) on %lld images, %.3f bits per "
        "weight (%lld of %lld fp32 weight bytes), file %lld bytes; budget %s\n",
        c.in.c_str(), c.out.c_str(), 100.0 * r.accuracy, 100.0 * r.fp32_accuracy,
        100.0 * (r.fp32_accuracy - r.accuracy), 100.0 * o.max_drop, static_cast<long long>(r.samples),
        r.bits_per_weight, static_cast<long long>(r.weight_bytes),
        static_cast<long long>(r.fp32_weight_bytes), static_cast<long long>(bytes),
        r.budget_met ? "met" : "NOT met: wrote the best model found (the highest-precision start)");
    return Status::Ok();
}

Status run(const AutotuneCli& c) {
    return gguf_by_name_or_magic(c.in) ? run_gguf(c) : run_onnx(c);
}

}  // namespace

void register_autotune(CLI::App& app) {
    auto c = std::make_shared<AutotuneCli>();
    auto* cmd = app.add_subcommand(
        "autotune", "Per-layer mixed precision within an accuracy (ONNX) or KLD / size (GGUF) budget");
    c->cmd = cmd;
    cmd->footer(
        "Examples:\n"
        "  edgeq autotune vgg_bn.onnx vgg_mixed.onnx --data t10k-images-idx3-ubyte.gz --labels "
        "t10k-labels-idx1-ubyte.gz \\\n"
        "                 --preprocess scale=0.00392156862745098,mean=0.2860,std=0.3530 --max-drop 0.5% "
        "--json\n"
        "  edgeq autotune model.gguf model-mixed.gguf --data wiki.txt --target-bpw 4.8\n"
        "ONNX: activations static INT8 (QDQ) calibrated on --calib (default: the first images of --data); "
        "each\n"
        "Conv/Gemm/MatMul weight gets one of --candidates. Sensitivity (KL vs fp32) on the first "
        "--sens-samples images,\n"
        "each greedy step verified on the next --heldout-samples, final accuracy on all of --data. "
        "docs/mixed.md");
    cmd->add_option("IN", c->in, "Input model (.onnx or .gguf)")->required();
    cmd->add_option("OUT", c->out,
                    "Output model (written atomically; written even when the budget is missed)")
        ->required();
    cmd->add_option("--data", c->data, "ONNX: images (IDX, .npy, .npz); GGUF: UTF-8 text");
    cmd->add_option("--labels", c->labels, "ONNX: labels (IDX, .npy, .npz)");
    cmd->add_option("--preprocess", c->preprocess, "ONNX: scale=S,mean=M,std=D (as `edgeq eval`)");
    cmd->add_option("--max-drop", c->max_drop, "ONNX: allowed top-1 drop vs fp32, e.g. 0.5% (points)");
    cmd->add_option("--objective", c->objective, "size | latency (default size)");
    cmd->add_option("--candidates", c->candidates,
                    "Comma list. ONNX: of fp32,fp16,bf16,int8,int4,int2 (default int2,int4,int8,fp16); GGUF: "
                    "block types");
    cmd->add_option("--calib", c->calib, "ONNX: calibration images (default: the first images of --data)");
    cmd->add_option("--calib-samples", c->calib_samples, "ONNX: calibration images used (default 256)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--sens-samples", c->sens_samples,
                    "ONNX: images for the sensitivity table (default 1000)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--heldout-samples", c->heldout_samples,
                    "ONNX: held-out images verifying each step (default 2000)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--limit", c->limit, "ONNX: use the first N images of --data only (all splits)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--granularity", c->granularity,
                    "ONNX: weight scales: tensor | channel | group:N (default channel)");
    cmd->add_option("--max-kld", c->max_kld, "GGUF: budget, mean KLD vs the input model");
    cmd->add_option("--target-bpw", c->target_bpw, "GGUF: budget, bits per weight");
    cmd->add_option("--imatrix", c->imatrix, "GGUF: importance matrix (.dat / .gguf)");
    cmd->add_option("--ctx", c->ctx, "GGUF: context length for the KLD measurement")
        ->check(CLI::NonNegativeNumber);
    cmd->add_flag("--json", c->json,
                  "Print one JSON object (docs/results-schema.md; output, bits_per_weight, accuracy, "
                  "fp32_accuracy, precision_map, pareto, budget_met, ...)");
    cmd->add_flag("--quiet,-q", c->quiet, "No progress output");
    cmd->add_option("--threads,-t", c->threads, "Worker threads (default: all cores)")
        ->check(CLI::Range(0, 1024));
    cmd->callback([c] { report("autotune", run(*c)); });
}

}  // namespace edgeq::cli
