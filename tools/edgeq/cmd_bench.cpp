// edgeq bench MODEL [--batch B] [--threads N] [--warmup W] [--runs R] [--top N] [--json] [--quiet]
//
// ONNX: the optimized model on the fast executor with random inputs of batch B: latency of one inference
//   (min, p50, p90, p99, mean), throughput in samples/s, then one profiled pass: the --top slowest steps (10; 0: all) with their
//   kernels.
// GGUF (llama): prompt processing of B tokens (one eval call), then decoding: latency of one token, tokens/s.
// Both: peak RSS of the process, model file size, energy per inference from Linux powercap (RAPL) counters
// when the machine exposes them (else the reason). Timings are wall-clock (steady_clock).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/session.h"
#include "llm/model.h"
#include "runtime/fast/executor.h"
#include "tools/edgeq/commands.h"
#include "tools/edgeq/progress.h"
#include "tools/edgeq/result_json.h"

namespace edgeq::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct BenchCli {
    std::string model;
    int64_t batch = 1;
    int threads = 0;
    int warmup = 5;
    int top = 10;  // profile steps listed (0: all)
    int runs = 50;
    bool json = false, quiet = false;
    LabelOptions label;
};

struct Latency {
    double min = 0, p50 = 0, p90 = 0, p99 = 0, mean = 0;
};

Latency summarize(std::vector<double> ms) {
    Latency l;
    if (ms.empty()) return l;
    std::sort(ms.begin(), ms.end());
    auto pct = [&](double p) {  // nearest rank
        const size_t i = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(ms.size()))) - 1;
        return ms[std::min(i, ms.size() - 1)];
    };
    l.min = ms.front();
    l.p50 = pct(50), l.p90 = pct(90), l.p99 = pct(99);
    double s = 0;
    for (double v : ms) s += v;
    l.mean = s / static_cast<double>(ms.size());
    return l;
}

int64_t peak_rss_bytes() {
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<int64_t>(ru.ru_maxrss) * 1024;  // Linux: KiB
}

// Linux powercap energy counters (intel-rapl, also used by AMD's RAPL driver): package domains only.
struct Energy {
    std::vector<std::string> files;
    std::vector<int64_t> max_uj;
    std::string why;  // non-empty: unavailable
    static Energy open() {
        Energy e;
        const fs::path root = "/sys/class/powercap";
        std::error_code ec;
        if (!fs::exists(root, ec)) {
            e.why = "no /sys/class/powercap (kernel without powercap, or a virtual machine that hides RAPL)";
            return e;
        }
        for (const auto& d : fs::directory_iterator(root, ec)) {
            const std::string name = d.path().filename().string();
            // top-level package zones: intel-rapl:0, intel-rapl:1 (not the sub-zones intel-rapl:0:0)
            if (name.rfind("intel-rapl:", 0) != 0 || std::count(name.begin(), name.end(), ':') != 1) continue;
            const fs::path f = d.path() / "energy_uj";
            std::ifstream in(f);
            int64_t v = 0;
            if (!(in >> v)) {
                e.why = f.string() + " is not readable (needs root or a kernel that allows it)";
                continue;
            }
            std::ifstream mx(d.path() / "max_energy_range_uj");
            int64_t m = 0;
            mx >> m;
            e.files.push_back(f.string());
            e.max_uj.push_back(m);
        }
        if (e.files.empty() && e.why.empty()) e.why = "no RAPL package zone under /sys/class/powercap";
        if (!e.files.empty()) e.why.clear();
        return e;
    }
    std::vector<int64_t> read() const {
        std::vector<int64_t> v;
        for (const auto& f : files) {
            std::ifstream in(f);
            int64_t x = 0;
            in >> x;
            v.push_back(x);
        }
        return v;
    }
    // joules between two readings (counter wrap handled)
    double joules(const std::vector<int64_t>& a, const std::vector<int64_t>& b) const {
        double uj = 0;
        for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
            int64_t d = b[i] - a[i];
            if (d < 0 && max_uj[i] > 0) d += max_uj[i];
            uj += static_cast<double>(d);
        }
        return uj * 1e-6;
    }
};

nlohmann::json latency_json(const Latency& l) {
    return {{"min", l.min}, {"p50", l.p50}, {"p90", l.p90}, {"p99", l.p99}, {"mean", l.mean}};
}

nlohmann::json energy_json(const Energy& e, double joules, double units) {
    if (!e.why.empty()) return {{"available", false}, {"reason", e.why}};
    return {{"available", true}, {"joules_total", joules}, {"joules_per_inference", units > 0 ? joules / units : 0.0},
            {"source", "powercap RAPL package counters (whole package, not just this process)"}};
}

int default_threads(int t) {
    if (t > 0) return t;
    const unsigned hc = std::thread::hardware_concurrency();
    return hc ? static_cast<int>(hc) : 1;
}

Status bench_onnx(const BenchCli& c, nlohmann::json& out) {
    SessionOptions so;
    so.threads = c.threads;
    EDGEQ_ASSIGN_OR_RETURN(auto session, Session::open(c.model, so));
    const graph::Model& m = session->model();
    runtime::fast::Shapes shapes;
    std::vector<std::pair<std::string, Tensor>> inputs;
    std::mt19937 rng(1234);
    for (const auto& vi : m.graph.inputs) {
        if (m.graph.initializers.count(vi.name)) continue;
        if (!vi.dtype || !vi.has_shape) {
            return InvalidArgument(c.model + ": input '" + vi.name + "' has no declared type and shape; bench needs both");
        }
        Shape s;
        for (size_t i = 0; i < vi.shape.size(); ++i) {
            const int64_t d = vi.shape[i].value;
            if (i == 0 && (d < 0 || c.batch != 1)) {
                if (d > 0 && d != c.batch) {
                    return InvalidArgument(c.model + ": input '" + vi.name + "' fixes the batch at " + std::to_string(d) +
                                           "; use --batch " + std::to_string(d));
                }
                s.push_back(c.batch);
            } else if (d < 0) {
                return InvalidArgument(c.model + ": input '" + vi.name + "' dimension " + std::to_string(i) + " ('" +
                                       vi.shape[i].param + "') is not fixed; bench cannot guess it");
            } else {
                s.push_back(d);
            }
        }
        Tensor t(*vi.dtype, s);
        if (*vi.dtype == DType::F32) {
            std::normal_distribution<float> nd(0.0f, 1.0f);
            for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = nd(rng);
        }
        shapes[vi.name] = s;
        inputs.emplace_back(vi.name, std::move(t));
    }
    const int T = default_threads(c.threads);
    EDGEQ_ASSIGN_OR_RETURN(auto plan, runtime::fast::plan(m, shapes, {T, false}));
    std::vector<Tensor> feed;
    for (const auto& name : plan.input_names()) {
        auto it = std::find_if(inputs.begin(), inputs.end(), [&](const auto& p) { return p.first == name; });
        if (it == inputs.end()) return InvalidArgument(c.model + ": planned input '" + name + "' has no tensor");
        feed.push_back(it->second);
    }
    for (int i = 0; i < c.warmup; ++i) EDGEQ_RETURN_IF_ERROR(plan.run(feed).status());
    const Energy energy = Energy::open();
    const auto e0 = energy.read();
    std::vector<double> ms;
    Progress progress("bench: run", c.runs, c.quiet);
    const auto t0 = Clock::now();
    for (int i = 0; i < c.runs; ++i) {
        const auto a = Clock::now();
        EDGEQ_RETURN_IF_ERROR(plan.run(feed).status());
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - a).count());
        progress.update(i + 1);  // outside the timed span of a run
    }
    progress.finish();
    const double total_s = std::chrono::duration<double>(Clock::now() - t0).count();
    const double joules = energy.why.empty() ? energy.joules(e0, energy.read()) : 0.0;
    const Latency l = summarize(ms);
    // per-step profile: a separate plan that times every step
    EDGEQ_ASSIGN_OR_RETURN(auto prof, runtime::fast::plan(m, shapes, {T, true}));
    const int prof_runs = std::max(3, std::min(c.runs, 20));
    for (int i = 0; i < prof_runs; ++i) EDGEQ_RETURN_IF_ERROR(prof.run(feed).status());
    std::vector<runtime::fast::StepInfo> steps = prof.steps();
    int64_t all_ns = 0;
    for (const auto& s : steps) all_ns += s.total_ns;
    std::sort(steps.begin(), steps.end(), [](const auto& a, const auto& b) { return a.total_ns > b.total_ns; });
    nlohmann::json top = nlohmann::json::array();
    for (size_t i = 0; i < steps.size() && (c.top == 0 || i < static_cast<size_t>(c.top)); ++i) {
        const auto& s = steps[i];
        const double per_run = s.runs > 0 ? static_cast<double>(s.total_ns) / static_cast<double>(s.runs) * 1e-6 : 0.0;
        top.push_back({{"node", s.node}, {"op", s.op}, {"kernel", s.kernel}, {"ms", per_run},
                       {"share", all_ns > 0 ? static_cast<double>(s.total_ns) / static_cast<double>(all_ns) : 0.0}});
    }
    out = {{"model", c.model},
           {"format", "onnx"},
           {"batch", c.batch},
           {"threads", T},
           {"warmup", c.warmup},
           {"runs", c.runs},
           {"unit", "inference"},
           {"latency_ms", latency_json(l)},
           {"throughput_per_s", total_s > 0 ? static_cast<double>(c.batch) * c.runs / total_s : 0.0},
           {"peak_rss_bytes", peak_rss_bytes()},
           {"model_bytes", model_file_bytes(c.model)},
           {"energy", energy_json(energy, joules, c.runs)},
           {"top_nodes", top}};
    return Status::Ok();
}

Status bench_gguf(const BenchCli& c, nlohmann::json& out) {
    llm::ModelOptions mo;
    EDGEQ_ASSIGN_OR_RETURN(auto model, llm::Model::load(c.model, mo));
    const int T = default_threads(c.threads);
    model->set_threads(T);
    const int64_t n_ctx = model->n_ctx();
    const int64_t prompt = std::max<int64_t>(1, c.batch);
    if (prompt + c.warmup + c.runs > n_ctx) {
        return InvalidArgument(c.model + ": --batch " + std::to_string(prompt) + " + --warmup + --runs tokens exceed the context of " +
                               std::to_string(n_ctx) + "; lower them");
    }
    const int64_t vocab = model->hparams().n_vocab;
    std::mt19937 rng(99);
    std::uniform_int_distribution<int32_t> tok(1, static_cast<int32_t>(std::max<int64_t>(2, vocab) - 1));
    std::vector<int32_t> p(static_cast<size_t>(prompt));
    for (auto& t : p) t = tok(rng);
    const auto a = Clock::now();
    EDGEQ_RETURN_IF_ERROR(model->eval(p, 0).status());
    const double prefill_s = std::chrono::duration<double>(Clock::now() - a).count();
    int32_t n_past = static_cast<int32_t>(prompt);
    for (int i = 0; i < c.warmup; ++i) {
        const int32_t t = tok(rng);
        EDGEQ_RETURN_IF_ERROR(model->eval({&t, 1}, n_past++).status());
    }
    const Energy energy = Energy::open();
    const auto e0 = energy.read();
    std::vector<double> ms;
    Progress progress("bench: token", c.runs, c.quiet);
    const auto t0 = Clock::now();
    for (int i = 0; i < c.runs; ++i) {
        const int32_t t = tok(rng);
        const auto b = Clock::now();
        EDGEQ_RETURN_IF_ERROR(model->eval({&t, 1}, n_past++).status());
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - b).count());
        progress.update(i + 1);  // outside the timed span of a token
    }
    progress.finish();
    const double total_s = std::chrono::duration<double>(Clock::now() - t0).count();
    const double joules = energy.why.empty() ? energy.joules(e0, energy.read()) : 0.0;
    out = {{"model", c.model},
           {"format", "gguf"},
           {"batch", prompt},
           {"threads", T},
           {"warmup", c.warmup},
           {"runs", c.runs},
           {"unit", "token"},
           {"latency_ms", latency_json(summarize(ms))},
           {"throughput_per_s", total_s > 0 ? c.runs / total_s : 0.0},
           {"prefill_tokens_per_s", prefill_s > 0 ? static_cast<double>(prompt) / prefill_s : 0.0},
           {"peak_rss_bytes", peak_rss_bytes()},
           {"model_bytes", model_file_bytes(c.model)},
           {"energy", energy_json(energy, joules, c.runs)},
           {"top_nodes", nlohmann::json::array()}};
    return Status::Ok();
}

Status bench(const BenchCli& c) {
    std::error_code ec;
    if (!fs::exists(c.model, ec)) return NotFound(c.model + ": no such file");
    if (c.batch < 1) return InvalidArgument("--batch must be >= 1");
    if (c.runs < 1) return InvalidArgument("--runs must be >= 1");
    nlohmann::json j;
    if (has_gguf_magic(c.model)) EDGEQ_RETURN_IF_ERROR(bench_gguf(c, j));
    else EDGEQ_RETURN_IF_ERROR(bench_onnx(c, j));
    if (c.json) {
        EDGEQ_ASSIGN_OR_RETURN(ResultLabel label, label_model_file(c.model));
        c.label.apply(label);
        add_result_envelope(j, "bench", c.model, label,
                            {{"latency_ms", j["latency_ms"]},
                             {"throughput_per_s", j["throughput_per_s"]},
                             {"peak_rss_bytes", j["peak_rss_bytes"]},
                             {"bytes", j["model_bytes"]}});
        std::printf("%s\n", j.dump().c_str());
        return Status::Ok();
    }
    const auto& l = j["latency_ms"];
    const bool gguf = j["format"] == "gguf";
    std::printf("%s  (%s, batch %lld, %d threads, %d runs after %d warm-up)\n", c.model.c_str(),
                gguf ? "GGUF: one decoded token" : "ONNX: one inference", static_cast<long long>(c.batch),
                j["threads"].get<int>(), c.runs, c.warmup);
    std::printf("  latency ms   min %.4f  p50 %.4f  p90 %.4f  p99 %.4f  mean %.4f\n", l["min"].get<double>(),
                l["p50"].get<double>(), l["p90"].get<double>(), l["p99"].get<double>(), l["mean"].get<double>());
    std::printf("  throughput   %.1f %s/s\n", j["throughput_per_s"].get<double>(), gguf ? "tokens" : "samples");
    if (gguf) std::printf("  prefill      %.1f tokens/s (%lld tokens)\n", j["prefill_tokens_per_s"].get<double>(),
                          static_cast<long long>(c.batch));
    std::printf("  peak RSS     %.1f MiB   model %.2f MiB\n", j["peak_rss_bytes"].get<double>() / 1048576.0,
                j["model_bytes"].get<double>() / 1048576.0);
    const auto& e = j["energy"];
    if (e["available"].get<bool>()) std::printf("  energy       %.4f J per %s\n", e["joules_per_inference"].get<double>(), gguf ? "token" : "inference");
    else std::printf("  energy       unavailable: %s\n", e["reason"].get<std::string>().c_str());
    if (!j["top_nodes"].empty()) {
        std::printf("  slowest steps (profiled pass):\n");
        for (const auto& s : j["top_nodes"])
            std::printf("    %9.4f ms %5.1f %%  %-28s %-24s %s\n", s["ms"].get<double>(), 100.0 * s["share"].get<double>(),
                        s["node"].get<std::string>().c_str(), s["op"].get<std::string>().c_str(),
                        s["kernel"].get<std::string>().c_str());
    }
    return Status::Ok();
}

}  // namespace

void register_bench(CLI::App& app) {
    auto c = std::make_shared<BenchCli>();
    auto* cmd = app.add_subcommand("bench", "Latency, throughput, memory and per-node profile of an ONNX or GGUF model");
    cmd->footer(
        "Examples:\n"
        "  edgeq bench model.onnx --batch 64 --threads 2 --runs 100\n"
        "  edgeq bench model-Q4_K_M.gguf --batch 64 --json      (prompt of 64 tokens, then decode)\n"
        "ONNX: random inputs of the model's shape with batch B; latency of one inference. GGUF: prefill of B tokens,\n"
        "then latency of one decoded token. Energy from Linux powercap (RAPL) counters when readable.");
    cmd->add_option("MODEL", c->model, "ONNX (.onnx) or GGUF (.gguf) model")->required();
    cmd->add_option("--batch,-b", c->batch, "ONNX: batch size; GGUF: prompt tokens before decoding (default 1)");
    cmd->add_option("--threads,-t", c->threads, "Worker threads (default: all cores)")->check(CLI::Range(0, 1024));
    cmd->add_option("--warmup", c->warmup, "Untimed runs first (default 5)")->check(CLI::Range(0, 1000000));
    cmd->add_option("--runs", c->runs, "Timed runs (default 50)")->check(CLI::Range(1, 1000000));
    cmd->add_option("--top", c->top, "ONNX: profiled steps listed, slowest first (default 10; 0: every step)")
        ->check(CLI::Range(0, 1000000));
    cmd->add_flag("--json", c->json, "Print one JSON object: latency_ms {min,p50,p90,p99,mean}, throughput_per_s, "
                                      "peak_rss_bytes, model_bytes, energy, top_nodes, and the shared results "
                                      "schema (docs/results-schema.md)");
    cmd->add_flag("--quiet,-q", c->quiet, "No progress output");
    add_label_options(cmd, c->label);
    cmd->callback([c] { report("bench", bench(*c)); });
}

}  // namespace edgeq::cli
