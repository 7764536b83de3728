// FP32 model latency: edgeq's fast executor (runtime/fast, after passes::optimize) vs ONNX Runtime, measured in
// the same run by scripts/bench-onnx.sh (which runs bench/peers/ort_bench.js first and passes its JSON here).
//
// Usage: onnx_bench [--ort ORT.json] [--threads 1,2] [--batches 1,64] [--runs1 300] [--runs64 40] [--rounds 5]
//                   [--json OUT.json] [--trace] [--profile] MODEL_SPEC...
//   MODEL_SPEC = name=path.onnx=d1xd2x... (input shape without the batch dimension), as ort_bench.js takes.
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

int usage() {
    std::fprintf(stderr,
                 "usage: onnx_bench [--ort ORT.json] [--threads 1,2] [--batches 1,64] [--runs1 N] [--runs64 N] "
                 "[--rounds N] [--json OUT] [--trace] [--profile] name=path.onnx=d1xd2x...\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::string ort_path, json_out;
    std::vector<int64_t> threads_list = {1, 2}, batches = {1, 64};
    int runs1 = 300, runs64 = 40, rounds = 5;
    bool trace = false, profile = false;
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
        else if (a.rfind("--", 0) == 0) return usage();
        else {
            const size_t p1 = a.find('='), p2 = a.rfind('=');
            if (p1 == std::string::npos || p2 == p1) return usage();
            specs.push_back({a.substr(0, p1), a.substr(p1 + 1, p2 - p1 - 1), parse_ints(a.substr(p2 + 1), 'x')});
        }
    }
    if (specs.empty()) return usage();

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
        auto opt = passes::optimize(model);
        if (!opt.ok()) {
            std::fprintf(stderr, "onnx_bench: %s: optimize: %s\n", spec.name.c_str(), opt.status().message().c_str());
            return 1;
        }
        const std::string input = model.graph.inputs.at(0).name;
        for (int64_t threads : threads_list) {
            for (int64_t batch : batches) {
                Shape shape = {batch};
                shape.insert(shape.end(), spec.inner.begin(), spec.inner.end());
                char cell[64];
                nlohmann::json row = {{"model", spec.name}, {"batch", batch}, {"threads", threads}};
                auto p = runtime::fast::plan(model, {{input, shape}}, {static_cast<int>(threads), profile});
                double p50 = -1, p90 = -1;
                if (!p.ok()) {
                    row["not_applicable"] = true;
                    row["error"] = p.status().message();
                } else {
                    if (trace && threads == threads_list.front() && batch == batches.front())
                        std::printf("\n%s plan (%d steps):\n%s", spec.name.c_str(), static_cast<int>(p->steps().size()), p->trace().c_str());
                    Tensor x(DType::F32, shape);
                    std::mt19937 rng(1);
                    std::uniform_real_distribution<float> d(-1, 1);
                    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = d(rng);
                    const std::vector<Tensor> in = {x};
                    const int runs = batch == 1 ? runs1 : runs64;
                    for (int i = 0; i < std::max(10, runs / 10); ++i) {
                        auto r = p->run(std::span<const Tensor>(in));
                        if (!r.ok()) {
                            std::fprintf(stderr, "onnx_bench: %s: %s\n", spec.name.c_str(), r.status().message().c_str());
                            return 1;
                        }
                    }
                    std::vector<double> p50s, p90s;
                    for (int r = 0; r < rounds; ++r) {
                        std::vector<double> t;
                        for (int i = 0; i < runs; ++i) {
                            const auto t0 = std::chrono::steady_clock::now();
                            auto res = p->run(std::span<const Tensor>(in));
                            t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
                        }
                        p50s.push_back(pct(t, 50));
                        p90s.push_back(pct(t, 90));
                    }
                    p50 = median(p50s);
                    p90 = median(p90s);
                    row["p50_ms"] = p50;
                    row["p90_ms"] = p90;
                    if (profile && threads == threads_list.front()) {
                        std::printf("\n%s batch %ld threads %ld: per-step time (mean over %ld runs)\n", spec.name.c_str(),
                                    static_cast<long>(batch), static_cast<long>(threads), static_cast<long>(p->steps()[0].runs));
                        for (const auto& s : p->steps()) {
                            const double ms = s.runs ? static_cast<double>(s.total_ns) / static_cast<double>(s.runs) / 1e6 : 0;
                            std::printf("  %8.4f ms  %6.1f GFLOP/s  %-28s %-22s %s %s\n", ms, s.flops && ms > 0 ? s.flops / ms / 1e6 : 0.0,
                                        s.node.c_str(), s.op.c_str(), s.kernel.c_str(), s.fused.c_str());
                        }
                    }
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
