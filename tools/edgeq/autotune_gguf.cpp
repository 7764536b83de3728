// `edgeq autotune IN.gguf OUT.gguf --data TEXT (--max-kld X | --target-bpw B)`: the GGUF half of the
// subcommand (options parsed in cmd_autotune.cpp); the search is llm/autotune.h, docs/llm/autotune.md.
#include "autotune_gguf.h"

#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "llm/autotune.h"
#include "tools/edgeq/llm_inputs.h"
#include "tools/edgeq/progress.h"
#include "tools/edgeq/result_json.h"

namespace edgeq::cli {

Status run_autotune_gguf(const GgufAutotuneCli& c) {
    if (c.objective != "size")
        return InvalidArgument("--objective " + c.objective +
                               ": GGUF autotune minimises size only (objective size)");
    llm::AutotuneOptions o;
    o.input = c.in;
    o.output = c.out;
    if (c.data.empty()) return InvalidArgument("GGUF autotune needs --data TEXT (a UTF-8 text file)");
    EDGEQ_ASSIGN_OR_RETURN(o.text, read_text(c.data));
    o.text_name = "--data " + c.data;
    o.max_kld = c.max_kld;
    o.target_bpw = c.target_bpw;
    o.candidates = c.candidates;
    o.imatrix_path = c.imatrix;
    o.ctx = c.ctx;
    o.threads = c.threads;

    // One bar per stage (stderr; plain lines when not a terminal; nothing with --quiet).
    std::unique_ptr<Progress> bar;
    std::string stage;
    auto progress = [&](const std::string& s, int64_t done, int64_t total) {
        if (c.quiet) return;
        if (s == "verify") {
            if (bar) bar.reset();
            std::fprintf(stderr, "autotune: held-out measurement %lld\n", static_cast<long long>(done));
            return;
        }
        if (s != stage || !bar) {
            stage = s;
            bar = std::make_unique<Progress>("autotune: " + s, std::max<int64_t>(total, 1), false);
        }
        bar->update(done);
    };
    EDGEQ_ASSIGN_OR_RETURN(llm::AutotuneResult r, llm::autotune_gguf(o, progress));
    bar.reset();

    nlohmann::json precision_map = nlohmann::json::object();
    for (const auto& t : r.tensors)
        if (t.tuned || t.to != t.from) precision_map[t.name] = dtype_name(t.to);
    if (c.json) {
        nlohmann::json front = nlohmann::json::array(), tensors = nlohmann::json::array();
        for (size_t i = 0; i < r.measured.size(); ++i) {
            const auto& p = r.measured[i];
            bool on_front = false;
            for (size_t f : r.front) on_front |= f == i;
            front.push_back({{"step", p.step},
                             {"bytes", p.bytes},
                             {"bits_per_weight", p.bpw},
                             {"predicted_kld", p.predicted},
                             {"kld", p.kld},
                             {"kld_stderr", p.kld_stderr},
                             {"ppl", p.ppl},
                             {"top1_agreement", p.top1},
                             {"pareto", on_front},
                             {"chosen", i == r.chosen}});
        }
        for (const auto& t : r.tensors)
            tensors.push_back({{"name", t.name},
                               {"from", dtype_name(t.from)},
                               {"type", dtype_name(t.to)},
                               {"bytes", t.bytes},
                               {"tuned", t.tuned},
                               {"gptq", t.gptq},
                               {"sensitivity", t.sensitivity}});
        nlohmann::json j{{"input", c.in},
                         {"output", r.output},
                         {"data", c.data},
                         {"budget", r.budget},
                         {"budget_met", r.budget_met},
                         {"bits_per_weight", r.bpw},
                         {"bytes", r.bytes},
                         {"n_params", r.n_params},
                         {"kld", r.kld},
                         {"kld_stderr", r.kld_stderr},
                         {"ppl", r.ppl},
                         {"ppl_base", r.ppl_base},
                         {"top1_agreement", r.top1},
                         {"ctx", r.ctx},
                         {"calibration_chunks", r.calib_chunks},
                         {"sensitivity_chunks", r.sens_chunks},
                         {"heldout_chunks", r.eval_chunks},
                         {"sensitivity_evals", r.sens_evals},
                         {"path_steps", r.path_steps},
                         {"front", front},
                         {"tensors", tensors},
                         {"precision_map", precision_map},
                         {"seconds", r.seconds}};
        ResultLabel label{"mixed", "mixed", r.bpw};
        nlohmann::json metrics{{"bits_per_weight", r.bpw},
                               {"bytes", r.bytes},
                               {"kld_mean", r.kld},
                               {"ppl", r.ppl},
                               {"top1_agreement", r.top1}};
        add_result_envelope(j, "autotune", r.output, label, metrics);
        std::printf("%s\n", j.dump().c_str());
        return Status::Ok();
    }

    std::printf("%-32s %-6s %-6s %10s %12s %s\n", "tensor", "from", "type", "bytes", "sensitivity", "method");
    for (const auto& t : r.tensors) {
        if (!t.tuned && t.to == t.from) continue;
        if (t.tuned)
            std::printf("%-32s %-6s %-6s %10llu %12.3g %s\n", t.name.c_str(), dtype_name(t.from),
                        dtype_name(t.to), static_cast<unsigned long long>(t.bytes), t.sensitivity,
                        t.gptq ? "gptq" : "rtn");
        else
            std::printf("%-32s %-6s %-6s %10llu %12s %s\n", t.name.c_str(), dtype_name(t.from),
                        dtype_name(t.to), static_cast<unsigned long long>(t.bytes), "-",
                        "no candidate fits the rows");
    }
    std::printf("\nsize / KLD front (held-out: %lld chunk%s of %lld tokens; * = written, P = Pareto)\n",
                static_cast<long long>(r.eval_chunks), r.eval_chunks == 1 ? "" : "s",
                static_cast<long long>(r.ctx));
    std::printf("  %5s %8s %10s %12s %12s %10s %7s\n", "step", "bpw", "bytes", "predicted", "KLD", "PPL",
                "top-1");
    for (size_t i = 0; i < r.measured.size(); ++i) {
        const auto& p = r.measured[i];
        bool on_front = false;
        for (size_t f : r.front) on_front |= f == i;
        std::printf("%c%c%5lld %8.4f %10llu %12.5g %12.5g %10.4f %7.3f\n", i == r.chosen ? '*' : ' ',
                    on_front ? 'P' : ' ', static_cast<long long>(p.step), p.bpw,
                    static_cast<unsigned long long>(p.bytes), p.predicted, p.kld, p.ppl, p.top1);
    }
    std::printf(
        "\n%s: %.4f bits per weight, %llu bytes of tensors; held-out KLD %.5g +/- %.2g, PPL %.4f (input "
        "%.4f), "
        "top-1 %.3f\nbudget %s: %s (%lld allocation steps, %lld sensitivity runs, %.1f s)\n",
        r.output.c_str(), r.bpw, static_cast<unsigned long long>(r.bytes), r.kld, r.kld_stderr, r.ppl,
        r.ppl_base, r.top1, r.budget.c_str(), r.budget_met ? "met" : "NOT met (best model found written)",
        static_cast<long long>(r.path_steps), static_cast<long long>(r.sens_evals), r.seconds);
    return Status::Ok();
}

}  // namespace edgeq::cli
