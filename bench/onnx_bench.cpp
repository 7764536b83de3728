// FP32 model latency: edgeq's fast executor (runtime/fast, after passes::optimize) vs ONNX Runtime, measured in
// the same run by scripts/bench-onnx.sh (which runs bench/peers/ort_bench.js first and passes its JSON here).
//
// Usage: onnx_bench [--ort ORT.json] [--threads 1,2] [--batches 1,64] [--runs1 300] [--runs64 40] [--rounds 5]
//                   [--json OUT.json] [--trace] [--profile] [--int8] MODEL_SPEC...
//   MODEL_SPEC = name=path.onnx=d1xd2x... (input shape without the batch dimension), as ort_bench.js takes.
//   --int8: INT8 static (QDQ) vs FP32 of edgeq itself. MODEL_SPEC = name=fp32.onnx,int8.onnx=d1xd2x...; the
//   INT8 file is what `edgeq quantize --method static` wrote (bench/onnx_bench_int8.sh makes them and runs
//   this). Both run on the fast executor (the INT8 one with its weight DQs kept, as Session does, so the QDQ
//   patterns run as integer steps); prints FP32 ms, INT8 ms and the speedup FP32 / INT8 per (model, batch,
//   threads). Both are planned and warmed up first, then their rounds alternate (FP32, INT8, FP32, …) so that a
//   stretch of machine slowdown hits both; the speedup is the median of the per-round ratios.
// Per (model, batch, threads): plan once, warm up, then `rounds` rounds of `runs` timed Plan::run calls on one
// random input; p50/p90 are medians over rounds of the per-round percentiles (same statistic as ort_bench.js).
// A batch the model's declared input shape refuses is "n/a" (ORT refuses it too). Prints a Markdown table with
// the ratio edgeq/ORT (< 1: edgeq faster). No assertions: timings are reported, never checked.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/cpu.h"
#include "formats/onnx/onnx_import.h"
#include "kernels/kernels.h"
#include "kernels/qgemm.h"
#include "passes/optimize.h"
#include "runtime/fast/executor.h"

namespace {

using namespace edgeq;

struct Spec {
    std::string name, path;
    Shape inner;
};

std::vector<int64_t> parse_ints(const std::string& s, char sep) {
    std::vector<int64_t> v;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, sep))
        if (!item.empty()) v.push_back(std::stoll(item));
    return v;
}

double pct(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    const size_t i = static_cast<size_t>(std::clamp<double>(std::round(p / 100.0 * static_cast<double>(v.size() - 1)), 0,
                                                             static_cast<double>(v.size() - 1)));
    return v[i];
}
double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[(v.size() - 1) / 2];
}

std::string loadavg() {
    std::ifstream f("/proc/loadavg");
    std::string a, b, c;
    f >> a >> b >> c;
    return a + " " + b + " " + c;
}

struct Timing {
    double p50 = -1, p90 = -1;
    std::string error;  // plan refused (e.g. a batch the declared input shape does not allow)
};

// One model planned for one input shape, warmed up; round(runs) times `runs` Plan::run calls on one random input
// and returns that round's (p50, p90) in ms.
struct Bench {
    std::unique_ptr<runtime::fast::Plan> plan;
    std::vector<Tensor> in;
    std::string name, error;

    Bench(const graph::Model& model, const std::string& nm, const Shape& shape, int threads, int runs, bool trace,
          bool profile)
        : name(nm) {
        const std::string input = model.graph.inputs.at(0).name;
        auto p = runtime::fast::plan(model, {{input, shape}}, {threads, profile});
        if (!p.ok()) {
            error = p.status().message();
            return;
        }
        plan = std::make_unique<runtime::fast::Plan>(std::move(*p));
        if (trace)
            std::printf("\n%s plan (%d steps):\n%s", name.c_str(), static_cast<int>(plan->steps().size()),
                        plan->trace().c_str());
        Tensor x(DType::F32, shape);
        std::mt19937 rng(1);
        std::uniform_real_distribution<float> d(-1, 1);
        for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = d(rng);
        in = {x};
        for (int i = 0; i < std::max(10, runs / 10); ++i) {
            auto r = plan->run(std::span<const Tensor>(in));
            if (!r.ok()) {
                std::fprintf(stderr, "onnx_bench: %s: %s\n", name.c_str(), r.status().message().c_str());
                std::exit(1);
            }
        }
    }
    std::pair<double, double> round(int runs) {
        std::vector<double> t;
        for (int i = 0; i < runs; ++i) {
            const auto t0 = std::chrono::steady_clock::now();
            auto res = plan->run(std::span<const Tensor>(in));
            t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        }
        return {pct(t, 50), pct(t, 90)};
    }
    void print_profile(int64_t batch, int threads) const {
        std::printf("\n%s batch %ld threads %d: per-step time (mean over %ld runs)\n", name.c_str(),
                    static_cast<long>(batch), threads, static_cast<long>(plan->steps()[0].runs));
        for (const auto& s : plan->steps()) {
            const double ms = s.runs ? static_cast<double>(s.total_ns) / static_cast<double>(s.runs) / 1e6 : 0;
            std::printf("  %8.4f ms  %6.1f GFLOP/s  %-28s %-22s %s %s\n", ms, s.flops && ms > 0 ? s.flops / ms / 1e6 : 0.0,
                        s.node.c_str(), s.op.c_str(), s.kernel.c_str(), s.fused.c_str());
        }
    }
};

std::string fmt_ms(double v) {
    if (v <= 0) return "n/a";
    char b[32];
    std::snprintf(b, sizeof b, v < 1 ? "%.4f" : "%.3f", v);
    return b;
}

Result<graph::Model> load_optimized(const std::string& path, bool keep_weight_dq) {
    EDGEQ_ASSIGN_OR_RETURN(auto model, onnxio::load_model(path));
    passes::OptimizeOptions oo;
    oo.keep_weight_dequantize = keep_weight_dq;
    auto opt = passes::optimize(model, oo);
    if (!opt.ok()) return opt.status();
    return model;
}

// --int8: FP32 vs INT8 (QDQ) of edgeq itself, per (model, batch, threads).
int run_int8(const std::vector<Spec>& specs, const std::vector<int64_t>& threads_list, const std::vector<int64_t>& batches,
             int runs1, int runs64, int rounds, bool trace, bool profile, const std::string& json_out) {
    std::printf("edgeq INT8 (static QDQ, integer steps: qgemm %s) vs FP32 (%s, %s); active ISA %s; load average at start %s\n",
                kernels::qselect(kernels::QOp::Gemm8).name, kernels::select(kernels::Op::Gemm).name,
                kernels::select(kernels::Op::Conv2d).name, isa_name(active_isa()), loadavg().c_str());
    nlohmann::json out = nlohmann::json::array();
    std::vector<std::string> table;
    double worst = 0;
    std::string worst_row;
    for (const Spec& spec : specs) {
        const size_t comma = spec.path.find(',');
        if (comma == std::string::npos) {
            std::fprintf(stderr, "onnx_bench --int8: %s: want name=fp32.onnx,int8.onnx=shape\n", spec.name.c_str());
            return 2;
        }
        auto fp = load_optimized(spec.path.substr(0, comma), false);
        auto q8 = load_optimized(spec.path.substr(comma + 1), true);
        for (auto* m : {&fp, &q8})
            if (!m->ok()) {
                std::fprintf(stderr, "onnx_bench: %s: %s\n", spec.name.c_str(), m->status().message().c_str());
                return 1;
            }
        for (int64_t threads : threads_list) {
            for (int64_t batch : batches) {
                Shape shape = {batch};
                shape.insert(shape.end(), spec.inner.begin(), spec.inner.end());
                const int runs = batch == 1 ? runs1 : runs64;
                const bool first = threads == threads_list.front() && batch == batches.front();
                // FP32 and INT8 rounds alternate (a machine that slows down for a while slows both), and the
                // speedup is the median of the per-round ratios (each from two adjacent rounds)
                Bench fb(*fp, spec.name + " fp32", shape, static_cast<int>(threads), runs, trace && first,
                         profile && threads == threads_list.front());
                Bench qb(*q8, spec.name + " int8", shape, static_cast<int>(threads), runs, trace && first,
                         profile && threads == threads_list.front());
                Timing f, q;
                f.error = fb.error, q.error = qb.error;
                double ratio = -1;
                if (fb.plan && qb.plan) {
                    std::vector<double> f50, q50, ratios;
                    for (int r = 0; r < rounds; ++r) {
                        f50.push_back(fb.round(runs).first);
                        q50.push_back(qb.round(runs).first);
                        ratios.push_back(f50.back() / q50.back());
                    }
                    f.p50 = median(f50), q.p50 = median(q50), ratio = median(ratios);
                    if (profile && threads == threads_list.front()) {
                        fb.print_profile(batch, static_cast<int>(threads));
                        qb.print_profile(batch, static_cast<int>(threads));
                    }
                }
                nlohmann::json row = {{"model", spec.name}, {"batch", batch}, {"threads", threads}};
                std::string speed = "-";
                if (ratio > 0) {
                    char b[32];
                    std::snprintf(b, sizeof b, "%.2fx", ratio);
                    speed = b;
                    row["fp32_p50_ms"] = f.p50;
                    row["int8_p50_ms"] = q.p50;
                    row["speedup"] = ratio;
                    if (worst == 0 || ratio < worst) {
                        worst = ratio;
                        worst_row = spec.name + " batch " + std::to_string(batch) + " threads " + std::to_string(threads);
                    }
                } else {
                    row["not_applicable"] = true;
                    row["error"] = f.error.empty() ? q.error : f.error;
                }
                table.push_back("| " + spec.name + " | " + std::to_string(batch) + " | " + std::to_string(threads) + " | " +
                                fmt_ms(f.p50) + " | " + fmt_ms(q.p50) + " | " + speed + " |");
                std::fprintf(stderr, "edgeq %s batch %ld threads %ld: fp32 %s ms, int8 %s ms\n", spec.name.c_str(),
                             static_cast<long>(batch), static_cast<long>(threads), fmt_ms(f.p50).c_str(), fmt_ms(q.p50).c_str());
                out.push_back(row);
            }
        }
    }
    std::printf("\n| model | batch | threads | FP32 p50 ms | INT8 p50 ms | INT8 speedup |\n|---|---|---|---|---|---|\n");
    for (const auto& l : table) std::printf("%s\n", l.c_str());
    if (worst > 0) std::printf("\nsmallest INT8 speedup: %s at %.2fx (goal: >= 2x)\n", worst_row.c_str(), worst);
    std::printf("load average at end %s\n", loadavg().c_str());
    if (!json_out.empty()) {
        std::ofstream f(json_out);
        f << nlohmann::json{{"isa", isa_name(active_isa())}, {"results", out}}.dump(1) << "\n";
    }
    return 0;
}

int usage() {
    std::fprintf(stderr,
                 "usage: onnx_bench [--ort ORT.json] [--threads 1,2] [--batches 1,64] [--runs1 N] [--runs64 N] "
                 "[--rounds N] [--json OUT] [--trace] [--profile] [--int8] name=path.onnx[,int8.onnx]=d1xd2x...\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::string ort_path, json_out;
    std::vector<int64_t> threads_list = {1, 2}, batches = {1, 64};
    int runs1 = 300, runs64 = 40, rounds = 5;
    bool trace = false, profile = false, int8 = false;
    std::vector<Spec> specs;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "onnx_bench: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--ort") ort_path = next();
        else if (a == "--json") json_out = next();
        else if (a == "--threads") threads_list = parse_ints(next(), ',');
        else if (a == "--batches") batches = parse_ints(next(), ',');
        else if (a == "--runs1") runs1 = std::stoi(next());
        else if (a == "--runs64") runs64 = std::stoi(next());
        else if (a == "--rounds") rounds = std::stoi(next());
        else if (a == "--trace") trace = true;
        else if (a == "--profile") profile = true;
        else if (a == "--int8") int8 = true;
        else if (a.rfind("--", 0) == 0) return usage();
        else {
            const size_t p1 = a.find('='), p2 = a.rfind('=');
            if (p1 == std::string::npos || p2 == p1) return usage();
            specs.push_back({a.substr(0, p1), a.substr(p1 + 1, p2 - p1 - 1), parse_ints(a.substr(p2 + 1), 'x')});
        }
    }
    if (specs.empty()) return usage();
    if (int8) return run_int8(specs, threads_list, batches, runs1, runs64, rounds, trace, profile, json_out);

    // ORT's numbers, keyed by (model, batch, threads)
    std::map<std::tuple<std::string, int64_t, int64_t>, nlohmann::json> ort;
    std::string ort_version = "-";
    if (!ort_path.empty()) {
        std::ifstream f(ort_path);
        if (!f) {
            std::fprintf(stderr, "onnx_bench: cannot read %s\n", ort_path.c_str());
            return 1;
        }
        const auto j = nlohmann::json::parse(f, nullptr, false);
        if (j.is_discarded()) {
            std::fprintf(stderr, "onnx_bench: %s is not JSON\n", ort_path.c_str());
            return 1;
        }
        ort_version = j.value("onnxruntime", "?");
        for (const auto& r : j["results"]) ort[{r["model"].get<std::string>(), r["batch"].get<int64_t>(), r["threads"].get<int64_t>()}] = r;
    }

    std::printf("edgeq fast path (kernels: %s, %s, %s; active ISA %s) vs ONNX Runtime %s; load average at start %s\n",
                kernels::select(kernels::Op::Gemm).name, kernels::select(kernels::Op::Conv2d).name,
                kernels::select(kernels::Op::DwConv2d).name, isa_name(active_isa()), ort_version.c_str(), loadavg().c_str());
    nlohmann::json out = nlohmann::json::array();
    std::vector<std::string> table;
    double worst = 0;
    std::string worst_row;
    for (const Spec& spec : specs) {
        auto loaded = onnxio::load_model(spec.path);
        if (!loaded.ok()) {
            std::fprintf(stderr, "onnx_bench: %s: %s\n", spec.name.c_str(), loaded.status().message().c_str());
            return 1;
        }
        graph::Model model = std::move(*loaded);
        // As edgeq run / eval::Session: weight DequantizeLinear kept so QDQ files run on the integer steps.
        passes::OptimizeOptions oo;
        oo.keep_weight_dequantize = true;
        auto opt = passes::optimize(model, oo);
        if (!opt.ok()) {
            std::fprintf(stderr, "onnx_bench: %s: optimize: %s\n", spec.name.c_str(), opt.status().message().c_str());
            return 1;
        }
        for (int64_t threads : threads_list) {
            for (int64_t batch : batches) {
                Shape shape = {batch};
                shape.insert(shape.end(), spec.inner.begin(), spec.inner.end());
                char cell[64];
                nlohmann::json row = {{"model", spec.name}, {"batch", batch}, {"threads", threads}};
                const int runs = batch == 1 ? runs1 : runs64;
                Bench bench(model, spec.name, shape, static_cast<int>(threads), runs,
                            trace && threads == threads_list.front() && batch == batches.front(),
                            profile && threads == threads_list.front());
                double p50 = -1, p90 = -1;
                if (!bench.plan) {
                    row["not_applicable"] = true;
                    row["error"] = bench.error;
                } else {
                    std::vector<double> p50s, p90s;
                    for (int r = 0; r < rounds; ++r) {
                        const auto [a50, a90] = bench.round(runs);
                        p50s.push_back(a50);
                        p90s.push_back(a90);
                    }
                    p50 = median(p50s);
                    p90 = median(p90s);
                    row["p50_ms"] = p50;
                    row["p90_ms"] = p90;
                    if (profile && threads == threads_list.front()) bench.print_profile(batch, static_cast<int>(threads));
                }
                double ort_p50 = -1;
                auto it = ort.find({spec.name, batch, threads});
                if (it != ort.end() && it->second.contains("p50_ms") && it->second["p50_ms"].is_number())
                    ort_p50 = it->second["p50_ms"].get<double>();
                if (ort_p50 > 0) row["ort_p50_ms"] = ort_p50;
                std::string ratio = "-";
                if (p50 > 0 && ort_p50 > 0) {
                    std::snprintf(cell, sizeof cell, "%.2f", p50 / ort_p50);
                    ratio = cell;
                    row["ratio"] = p50 / ort_p50;
                    if (p50 / ort_p50 > worst) {
                        worst = p50 / ort_p50;
                        worst_row = spec.name + " batch " + std::to_string(batch) + " threads " + std::to_string(threads);
                    }
                }
                auto ms = [&](double v) {
                    if (v <= 0) return std::string("n/a");
                    char b[32];
                    std::snprintf(b, sizeof b, v < 1 ? "%.4f" : "%.3f", v);
                    return std::string(b);
                };
                table.push_back("| " + spec.name + " | " + std::to_string(batch) + " | " + std::to_string(threads) + " | " + ms(p50) +
                                " | " + (ort.empty() ? "-" : ms(ort_p50)) + " | " + ratio + " |");
                std::fprintf(stderr, "edgeq %s batch %ld threads %ld: %s ms\n", spec.name.c_str(), static_cast<long>(batch),
                             static_cast<long>(threads), ms(p50).c_str());
                out.push_back(row);
            }
        }
    }
    std::printf("\n| model | batch | threads | edgeq p50 ms | ORT p50 ms | edgeq/ORT |\n|---|---|---|---|---|---|\n");
    for (const auto& l : table) std::printf("%s\n", l.c_str());
    if (worst > 0) std::printf("\nslowest relative to ORT: %s at %.2fx (goal: <= 1.5x)\n", worst_row.c_str(), worst);
    std::printf("load average at end %s\n", loadavg().c_str());
    if (!json_out.empty()) {
        std::ofstream f(json_out);
        f << nlohmann::json{{"onnxruntime", ort_version}, {"isa", isa_name(active_isa())}, {"results", out}}.dump(1) << "\n";
    }
    return 0;
}
