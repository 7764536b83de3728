// edgeq demo -o demo-report [--data DIR] [--cache DIR] [--epochs 2] [--train-images N] [--qat-images N]
//            [--qat-epochs N] [--test-images N] [--bench-runs N] [--threads N] [--seed S] [--quiet]
// The end-to-end demo (issue 6 item 5), in-process: trains (or reuses a cached) FP32 Fashion-MNIST CNN
// (src/train/), quantizes it by every method — dynamic INT8 (INT4/INT2: weight-only, since dynamic
// quantization has int8 weights only), static and QAT at INT8/INT4/INT2 — evaluates each on the test set
// (eval/classify.h), times batch-1 inference (eval/session.h), prints the method × precision table and
// writes the report (report.html / report.md via eval/report.h, results.json and one edgeq.result/1 JSON per
// model). Everything is cached under --cache, keyed by a hash of the settings that produced it: the FP32
// model by the training settings and the dataset's file sizes, each quantized model by those plus its
// method, and each result by those plus the evaluation/benchmark settings.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/parallel.h"
#include "eval/classify.h"
#include "eval/report.h"
#include "eval/session.h"
#include "formats/onnx/onnx_export.h"
#include "formats/onnx/onnx_import.h"
#include "tools/edgeq/commands.h"
#include "tools/edgeq/progress.h"
#include "tools/edgeq/quantize_onnx.h"
#include "tools/edgeq/result_json.h"
#include "train/models.h"
#include "train/qat.h"
#include "train/trainer.h"

namespace edgeq::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Bump when the recipe changes so old cache entries are not reused.
constexpr const char* kRecipe = "edgeq-demo/1";

struct DemoCli {
    std::string data = "/usr/share/datasets/fashion-mnist", cache, out, arch = "cnn";
    int epochs = 2, qat_epochs = 1, threads = 0, bench_runs = 100;
    int64_t train_images = 0, qat_images = 20000, test_images = 0;
    float qat_lr = 1e-4f;
    uint64_t seed = 0;
    bool quiet = false;
};

// One quantized variant: the table's row (method) and column (precision), and how it is made.
struct Variant {
    std::string row;     // dynamic | static | qat (the table's rows)
    std::string method;  // the result's method label: dynamic, weight-only, static, qat
    std::string precision;
};

std::vector<Variant> variants() {
    std::vector<Variant> v;
    for (const char* p : {"int8", "int4", "int2"})
        v.push_back({"dynamic", std::string(p) == "int8" ? "dynamic" : "weight-only", p});
    for (const char* p : {"int8", "int4", "int2"}) v.push_back({"static", "static", p});
    for (const char* p : {"int8", "int4", "int2"}) v.push_back({"qat", "qat", p});
    return v;
}

// FNV-1a 64-bit, as 16 hex digits.
std::string hash_hex(const std::string& s) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char ch : s) {
        h ^= ch;
        h *= 1099511628211ull;
    }
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

std::string default_cache_dir() {
    if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
        return (fs::path(x) / "edgeq" / "demo").string();
    if (const char* h = std::getenv("HOME"); h && *h)
        return (fs::path(h) / ".cache" / "edgeq" / "demo").string();
    return "demo-cache";
}

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

Result<nlohmann::json> read_json(const fs::path& p) {
    std::ifstream in(p);
    if (!in) return NotFound(p.string() + ": cannot open");
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded()) return InvalidArgument(p.string() + ": not JSON");
    return j;
}

Status write_text(const fs::path& p, const std::string& text) {
    // Written to a temporary name and renamed, so an interrupted run never leaves a truncated cache entry.
    const fs::path tmp = p.string() + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary);
        if (!out) return InvalidArgument(tmp.string() + ": cannot write");
        out << text;
        if (!out) return InvalidArgument(tmp.string() + ": write failed");
    }
    std::error_code ec;
    fs::rename(tmp, p, ec);
    if (ec) return InvalidArgument(p.string() + ": " + ec.message());
    return Status::Ok();
}

Status save_model_atomic(const graph::Model& m, const fs::path& p) {
    const fs::path tmp = p.string() + ".tmp.onnx";
    EDGEQ_RETURN_IF_ERROR(onnxio::save_model(m, tmp.string()));
    std::error_code ec;
    fs::rename(tmp, p, ec);
    if (ec) return InvalidArgument(p.string() + ": " + ec.message());
    return Status::Ok();
}

std::string mib(double bytes) {
    char b[32];
    if (bytes >= 1048576.0)
        std::snprintf(b, sizeof b, "%.2f MiB", bytes / 1048576.0);
    else
        std::snprintf(b, sizeof b, "%.1f KiB", bytes / 1024.0);
    return b;
}

class Demo {
  public:
    explicit Demo(const DemoCli& c) : c_(c), threads_(c.threads > 0 ? c.threads : hardware_threads()) {}

    Status run() {
        const auto t0 = Clock::now();
        EDGEQ_RETURN_IF_ERROR(find_data());
        EDGEQ_RETURN_IF_ERROR(prepare_cache());
        EDGEQ_ASSIGN_OR_RETURN(nlohmann::json fp32, fp32_result());
        std::vector<nlohmann::json> results{fp32};
        const double fp32_acc = fp32["metrics"]["accuracy"].get<double>();
        const auto vs = variants();
        for (size_t i = 0; i < vs.size(); ++i) {
            note("[" + std::to_string(i + 1) + "/" + std::to_string(vs.size()) + "] " + vs[i].row + " " +
                 vs[i].precision);
            EDGEQ_ASSIGN_OR_RETURN(nlohmann::json r, variant_result(vs[i], fp32_acc));
            results.push_back(std::move(r));
        }
        EDGEQ_RETURN_IF_ERROR(write_report(results));
        print_table(results, seconds_since(t0));
        return Status::Ok();
    }

  private:
    void note(const std::string& s) const {
        if (!c_.quiet) std::fprintf(stderr, "edgeq demo: %s\n", s.c_str());
    }

    Status find_data() {
        const std::string hint =
            "; install Debian's Fashion-MNIST (apt-get install dataset-fashion-mnist, or "
            "scripts/install-deps.sh) "
            "or pass --data DIR with train-/t10k-images-idx3-ubyte and -labels-idx1-ubyte (.gz allowed)";
        if (!fs::is_directory(c_.data)) return NotFound("--data " + c_.data + ": no such folder" + hint);
        data_sizes_.clear();
        for (const char* split : {"train", "t10k"})
            for (const char* kind : {"images", "labels"}) {
                auto f = train::find_idx_file(c_.data, split, kind);
                if (!f.ok()) return NotFound("--data " + c_.data + ": " + f.status().message() + hint);
                std::error_code ec;
                data_sizes_ +=
                    std::string(split) + "-" + kind + "=" + std::to_string(fs::file_size(*f, ec)) + ";";
                if (std::string(split) == "t10k")
                    (std::string(kind) == "images" ? test_images_ : test_labels_) = *f;
            }
        return Status::Ok();
    }

    // The cache folder of this training run: <cache>/<hash of the training settings and the data>/.
    Status prepare_cache() {
        std::ostringstream s;
        s << kRecipe << " arch=" << c_.arch << " epochs=" << c_.epochs << " train_images=" << c_.train_images
          << " seed=" << c_.seed << " data=" << data_sizes_;
        train_key_ = s.str();
        dir_ =
            fs::path(c_.cache.empty() ? default_cache_dir() : c_.cache) / hash_hex(train_key_).substr(0, 12);
        std::error_code ec;
        fs::create_directories(dir_, ec);
        if (ec) return InvalidArgument("--cache " + dir_.string() + ": " + ec.message());
        if (fs::exists(dir_ / "settings.txt")) return Status::Ok();
        return write_text(dir_ / "settings.txt", train_key_ + "\n");
    }

    // Settings that change an evaluation or a benchmark (not the model).
    std::string eval_key() const {
        return "test_images=" + std::to_string(c_.test_images) +
               " bench_runs=" + std::to_string(c_.bench_runs) + " threads=" + std::to_string(threads_);
    }

    Result<train::Dataset> load_train(int64_t limit) {
        return train::load_idx_split(c_.data, "train", train::Normalize{}, limit);
    }

    Status train_fp32(const fs::path& path) {
        using namespace edgeq::train;
        const auto t0 = Clock::now();
        EDGEQ_ASSIGN_OR_RETURN(Dataset train, load_train(c_.train_images));
        ArchSpec spec;
        spec.arch = c_.arch;
        spec.channels = train.images.dim(1);
        spec.height = train.images.dim(2);
        spec.width = train.images.dim(3);
        spec.classes = std::max<int32_t>(train.classes, 2);
        spec.seed = c_.seed;
        EDGEQ_ASSIGN_OR_RETURN(graph::Model model, build_classifier(spec));
        model.metadata_props.emplace_back("edgeq.preprocess", Normalize{}.preprocess_arg());
        EDGEQ_ASSIGN_OR_RETURN(Net net, Net::create(std::move(model), threads_));
        FitOptions fo;
        fo.epochs = c_.epochs;
        fo.optimizer.kind = "adam";
        fo.optimizer.lr = 2e-3f;  // edgeq train's defaults
        fo.seed = c_.seed;
        fo.on_batch = batch_progress("train", c_.epochs);
        note("training the FP32 " + c_.arch + " (" + std::to_string(c_.epochs) + " epoch(s) on " +
             std::to_string(train.size()) + " images); cached as " + path.string());
        EDGEQ_ASSIGN_OR_RETURN(auto stats, fit(net, train, nullptr, fo));
        EDGEQ_RETURN_IF_ERROR(save_model_atomic(net.model(), path));
        nlohmann::json info{{"train_examples", train.size()},
                            {"epochs", c_.epochs},
                            {"final_train_loss", stats.empty() ? 0.0 : stats.back().train_loss},
                            {"seconds", seconds_since(t0)}};
        return write_text(dir_ / "fp32.train.json", info.dump() + "\n");
    }

    std::function<void(int, int64_t, int64_t, double)> batch_progress(const std::string& what, int epochs) {
        return [this, what, epochs](int epoch, int64_t done, int64_t total, double loss) {
            if (done == 1)
                bar_ = std::make_unique<Progress>("demo: " + what + " epoch " + std::to_string(epoch) + "/" +
                                                      std::to_string(epochs) + " batch",
                                                  total, c_.quiet);
            if (bar_->redraws() || done == total || done % 16 == 0)
                bar_->update(done, "loss " + std::to_string(loss).substr(0, 6));
            if (done == total) bar_.reset();
        };
    }

    // Accuracy on the test set and batch-1 latency of one model file, as an edgeq.result/1 object.
    Result<nlohmann::json> measure(const fs::path& model, const std::string& name, const ResultLabel& label,
                                   std::optional<double> fp32_acc, double make_seconds, bool cached_model) {
        const auto t0 = Clock::now();
        SessionOptions so;
        so.threads = threads_;
        EDGEQ_ASSIGN_OR_RETURN(auto session, Session::open(model.string(), so));
        ClassifyOptions co;
        co.images = test_images_;
        co.labels = test_labels_;
        const train::Normalize norm;
        co.scale = norm.scale;
        co.mean = norm.mean;
        co.std = norm.std;
        co.limit = c_.test_images;
        std::unique_ptr<Progress> bar;
        co.progress = [&](int64_t done, int64_t total) {
            if (!bar) bar = std::make_unique<Progress>("demo: eval " + name + " image", total, c_.quiet);
            bar->update(done);
        };
        EDGEQ_ASSIGN_OR_RETURN(ClassifyResult acc, eval_top1(*session, co));
        bar.reset();

        // Batch-1 latency on the first test image (the fast executor, as edgeq bench runs it).
        const graph::Model& m = session->model();
        const std::string input = m.graph.inputs.at(0).name;
        if (!first_image_) {
            EDGEQ_ASSIGN_OR_RETURN(Tensor all, load_array(test_images_, "", 1));
            if (all.dtype() != DType::U8 || all.rank() != 3)
                return InvalidArgument(test_images_ + ": expected uint8 images [N, rows, cols]");
            Tensor x(DType::F32, Shape{1, 1, all.dim(1), all.dim(2)});
            for (int64_t i = 0; i < x.numel(); ++i)
                x.data<float>()[i] =
                    (static_cast<float>(all.data<uint8_t>()[i]) * norm.scale - norm.mean) / norm.std;
            first_image_ = std::make_unique<Tensor>(std::move(x));
        }
        const std::map<std::string, Tensor> feed{{input, *first_image_}};
        for (int i = 0; i < 5; ++i) EDGEQ_RETURN_IF_ERROR(session->run(feed).status());
        std::vector<double> ms;
        const auto b0 = Clock::now();
        for (int i = 0; i < c_.bench_runs; ++i) {
            const auto a = Clock::now();
            EDGEQ_RETURN_IF_ERROR(session->run(feed).status());
            ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - a).count());
        }
        const double bench_s = seconds_since(b0);
        std::sort(ms.begin(), ms.end());
        auto rank = [&](double p) {  // nearest rank
            const size_t i = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(ms.size()))) - 1;
            return ms[std::min(i, ms.size() - 1)];
        };
        double mean = 0;
        for (double v : ms) mean += v;
        mean /= static_cast<double>(ms.size());

        nlohmann::json metrics{
            {"accuracy", acc.value},
            {"bytes", model_file_bytes(model.string())},
            {"latency_ms",
             {{"min", ms.front()}, {"p50", rank(50)}, {"p90", rank(90)}, {"p99", rank(99)}, {"mean", mean}}},
            {"throughput_per_s", bench_s > 0 ? c_.bench_runs / bench_s : 0.0}};
        if (fp32_acc) metrics["fp32_accuracy"] = *fp32_acc;
        nlohmann::json j{{"name", name},
                         {"test_correct", acc.correct},
                         {"test_count", acc.count},
                         {"bench", {{"batch", 1}, {"runs", c_.bench_runs}, {"threads", threads_}}},
                         {"make_seconds", make_seconds},
                         {"measure_seconds", seconds_since(t0)},
                         {"model_cached", cached_model}};
        add_result_envelope(j, "demo", model.string(), label, metrics);
        return j;
    }

    // Reuses <stem>.<eval hash>.json next to the model when present, else measures and stores it.
    Result<nlohmann::json> cached_result(const fs::path& model, const std::string& name,
                                         const std::string& method, const std::string& precision,
                                         std::optional<double> fp32, double make_seconds, bool cached_model) {
        const fs::path rj =
            dir_ / (model.stem().string() + "." + hash_hex(eval_key()).substr(0, 8) + ".json");
        if (cached_model && fs::exists(rj)) {
            auto j = read_json(rj);
            if (j.ok() && report::validate_result(*j, rj.string()).ok()) {
                (*j)["cached"] = true;
                return *j;
            }
        }
        EDGEQ_ASSIGN_OR_RETURN(ResultLabel label, label_model_file(model.string()));
        // The table's labels, not the inferred ones (QAT files are static QDQ files).
        label.method = method;
        label.precision = precision;
        EDGEQ_ASSIGN_OR_RETURN(nlohmann::json j,
                               measure(model, name, label, fp32, make_seconds, cached_model));
        EDGEQ_RETURN_IF_ERROR(write_text(rj, j.dump(1) + "\n"));
        j["cached"] = false;
        return j;
    }

    Result<nlohmann::json> fp32_result() {
        fp32_path_ = dir_ / "fp32.onnx";
        const bool cached = fs::exists(fp32_path_);
        const auto t0 = Clock::now();
        if (cached)
            note("reusing the cached FP32 model " + fp32_path_.string());
        else
            EDGEQ_RETURN_IF_ERROR(train_fp32(fp32_path_));
        double train_s = seconds_since(t0);
        if (auto info = read_json(dir_ / "fp32.train.json"); info.ok())
            train_s = (*info)["seconds"].get<double>();
        return cached_result(fp32_path_, "fp32", "fp32", "fp32", std::nullopt, train_s, cached);
    }

    // The settings that make a variant, beyond the FP32 model's.
    std::string variant_key(const Variant& v) const {
        std::ostringstream s;
        s << kRecipe << " " << v.method << " " << v.precision << " granularity=channel";
        if (v.row == "static") s << " calib=train:512 clip=" << (v.precision == "int8" ? "none" : "mse");
        if (v.row == "qat")
            s << " qat_images=" << c_.qat_images << " qat_epochs=" << c_.qat_epochs << " qat_lr=" << c_.qat_lr
              << " seed=" << c_.seed;
        return s.str();
    }

    Status make_variant(const Variant& v, const fs::path& out) {
        if (v.row != "qat") {
            OnnxQuantizeCli q;
            q.method = v.method;
            q.weights = v.precision;
            q.granularity = "channel";
            if (v.row == "static") {
                q.acts = "int8";
                q.calib = (fs::path(train::find_idx_file(c_.data, "train", "images").value())).string();
                q.preprocess = train::Normalize{}.preprocess_arg();
                q.calib_samples = 512;
                if (v.precision != "int8") q.clip = "mse";
            }
            const fs::path tmp = out.string() + ".tmp.onnx";
            EDGEQ_RETURN_IF_ERROR(
                run_quantize_onnx(fp32_path_.string(), tmp.string(), q, /*quiet=*/true, threads_));
            std::error_code ec;
            fs::rename(tmp, out, ec);
            if (ec) return InvalidArgument(out.string() + ": " + ec.message());
            return Status::Ok();
        }
        if (!qat_train_) {
            EDGEQ_ASSIGN_OR_RETURN(train::Dataset d, load_train(c_.qat_images));
            qat_train_ = std::make_unique<train::Dataset>(std::move(d));
        }
        EDGEQ_ASSIGN_OR_RETURN(graph::Model model, onnxio::load_model(fp32_path_.string()));
        train::QatOptions o;
        const auto w = quant::ptq::qtype_from_name(v.precision);
        EDGEQ_CHECK(w.has_value());
        o.weights = *w;
        o.quantize_acts = true;
        o.per_channel = true;
        o.fit.epochs = c_.qat_epochs;
        o.fit.optimizer.kind = "adam";
        o.fit.optimizer.lr = c_.qat_lr;
        o.fit.seed = c_.seed;
        o.fit.on_batch = batch_progress("qat " + v.precision, c_.qat_epochs);
        o.threads = threads_;
        EDGEQ_ASSIGN_OR_RETURN(train::QatReport rep, train::qat_onnx(model, o, *qat_train_, nullptr));
        (void)rep;
        model.metadata_props.emplace_back("edgeq.qat", v.precision + " weights, int8 activations, " +
                                                           std::to_string(c_.qat_epochs) + " epoch(s) on " +
                                                           std::to_string(qat_train_->size()) + " images");
        return save_model_atomic(model, out);
    }

    Result<nlohmann::json> variant_result(const Variant& v, double fp32_acc) {
        const std::string name = v.row + "-" + v.precision;
        const fs::path path = dir_ / (name + "." + hash_hex(variant_key(v)).substr(0, 8) + ".onnx");
        const bool cached = fs::exists(path);
        const auto t0 = Clock::now();
        if (!cached) EDGEQ_RETURN_IF_ERROR(make_variant(v, path));
        auto r = cached_result(path, name, v.method, v.precision, fp32_acc, seconds_since(t0), cached);
        if (r.ok() && !cached)
            (*r)["make_seconds"] = seconds_since(t0) - (*r)["measure_seconds"].get<double>();
        if (r.ok()) (*r)["variant_method"] = v.method;
        return r;
    }

    Status write_report(const std::vector<nlohmann::json>& results) {
        const fs::path out(c_.out);
        std::error_code ec;
        fs::create_directories(out / "models", ec);
        if (ec) return InvalidArgument("-o " + out.string() + ": " + ec.message());
        nlohmann::json all = nlohmann::json::array();
        for (const auto& r : results) {
            nlohmann::json j = r;
            j.erase("cached");
            EDGEQ_RETURN_IF_ERROR(report::validate_result(j, r["name"].get<std::string>()));
            EDGEQ_RETURN_IF_ERROR(
                write_text(out / "models" / (r["name"].get<std::string>() + ".json"), j.dump(1) + "\n"));
            all.push_back(std::move(j));
        }
        EDGEQ_RETURN_IF_ERROR(write_text(out / "results.json", all.dump(1) + "\n"));
        const auto rows = report::merge_rows(std::vector<nlohmann::json>(all.begin(), all.end()));
        report::ReportOptions ro;
        ro.title = "edgeq demo: Fashion-MNIST " + c_.arch + ", every method at INT8 / INT4 / INT2";
        EDGEQ_RETURN_IF_ERROR(write_text(out / "report.html", report::render_html(rows, ro)));
        return write_text(out / "report.md", report::render_markdown(rows, ro));
    }

    void print_table(const std::vector<nlohmann::json>& results, double total_s) const {
        const auto& f = results.front()["metrics"];
        const double fp_acc = f["accuracy"].get<double>(), fp_lat = f["latency_ms"]["p50"].get<double>();
        int reused = 0;
        for (const auto& r : results) reused += r.value("cached", false) ? 1 : 0;
        std::printf(
            "edgeq demo: Fashion-MNIST %s, %lld test images, latency = batch 1, p50 of %d runs, %d "
            "thread(s)\n",
            c_.arch.c_str(), static_cast<long long>(results.front()["test_count"].get<int64_t>()),
            c_.bench_runs, threads_);
        std::printf("%-9s %-12s %-6s %9s %10s %11s %11s %8s\n", "row", "method", "weights", "accuracy",
                    "% of FP32", "size", "latency", "speedup");
        for (const auto& r : results) {
            const auto& m = r["metrics"];
            const double a = m["accuracy"].get<double>(), l = m["latency_ms"]["p50"].get<double>();
            const std::string name = r["name"].get<std::string>();
            const std::string row = name == "fp32" ? "FP32" : name.substr(0, name.find('-'));
            std::printf("%-9s %-12s %-6s %8.2f%% %9.2f%% %11s %8.3f ms %7.2fx\n",
                        row == "qat" ? "QAT" : row.c_str(), r["method"].get<std::string>().c_str(),
                        r["precision"].get<std::string>().c_str(), 100 * a, 100 * a / fp_acc,
                        mib(m["bytes"].get<double>()).c_str(), l, l > 0 ? fp_lat / l : 0.0);
        }
        std::printf("\naccuracy (%% of FP32 %.2f%%)   INT8               INT4               INT2\n",
                    100 * fp_acc);
        for (const char* row : {"dynamic", "static", "qat"}) {
            std::string line = std::string(row) == "dynamic"  ? "dynamic (INT4/2 weight-only)"
                               : std::string(row) == "static" ? "static (INT8 acts)"
                                                              : "QAT (INT8 acts)";
            line.resize(30, ' ');
            for (const auto& r : results) {
                const std::string name = r["name"].get<std::string>();
                if (name.rfind(std::string(row) + "-", 0) != 0) continue;
                const double a = r["metrics"]["accuracy"].get<double>();
                char cell[40];
                std::snprintf(cell, sizeof cell, "%6.2f%% (%6.2f%%)  ", 100 * a, 100 * a / fp_acc);
                line += cell;
            }
            std::printf("%s\n", line.c_str());
        }
        std::printf(
            "dynamic quantization has int8 weights only: its INT4/INT2 cells are weight-only (float "
            "activations).\n"
            "QAT: %d epoch(s) on %s training images. %d of %zu results reused from the cache (%s).\n"
            "report: %s/report.html, %s/results.json, %s/models/*.json; total %.1f s\n",
            c_.qat_epochs, c_.qat_images > 0 ? std::to_string(c_.qat_images).c_str() : "all", reused,
            results.size(), dir_.string().c_str(), c_.out.c_str(), c_.out.c_str(), c_.out.c_str(), total_s);
    }

    const DemoCli& c_;
    const int threads_;
    std::string data_sizes_, train_key_, test_images_, test_labels_;
    fs::path dir_, fp32_path_;
    std::unique_ptr<train::Dataset> qat_train_;
    std::unique_ptr<Tensor> first_image_;  // normalized, [1, 1, rows, cols]: the benchmark input
    std::unique_ptr<Progress> bar_;
};

}  // namespace

void register_demo(CLI::App& app) {
    auto c = std::make_shared<DemoCli>();
    auto* cmd = app.add_subcommand("demo",
                                   "End-to-end demo: train a Fashion-MNIST CNN, quantize it by every method, "
                                   "evaluate, benchmark, report");
    cmd->footer(
        "Example:\n  edgeq demo -o demo-report   (first run ~5-10 min on 2 cores; a rerun reuses the cache)\n"
        "Trains (or reuses) an FP32 CNN, then dynamic INT8 (INT4/INT2: weight-only, since dynamic "
        "quantization\n"
        "has int8 weights only), static (INT8 activations) and QAT (INT8 activations) at INT8/INT4/INT2; "
        "each\n"
        "model is evaluated on the test set and timed at batch 1. Writes OUT/report.html, report.md,\n"
        "results.json and models/<name>.json (edgeq.result/1). The cache holds the models and their "
        "results,\n"
        "keyed by a hash of the settings (default $XDG_CACHE_HOME/edgeq/demo or ~/.cache/edgeq/demo).");
    cmd->add_option("--data", c->data,
                    "Folder with the four MNIST-style IDX files (default /usr/share/datasets/fashion-mnist)");
    cmd->add_option("--cache", c->cache, "Cache folder (default ~/.cache/edgeq/demo)");
    cmd->add_option("-o,--out", c->out, "Report folder, e.g. demo-report (required)")->required();
    cmd->add_option("--arch", c->arch, "Model to train: cnn (default) | mlp | dwsep")
        ->check(CLI::IsMember({"cnn", "mlp", "dwsep"}));
    cmd->add_option("--epochs", c->epochs, "FP32 training epochs (default 2)")->check(CLI::Range(1, 1000));
    cmd->add_option("--train-images", c->train_images,
                    "Train on the first N training images (default 0: all)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--qat-images", c->qat_images,
                    "QAT fine-tunes on the first N training images (default 20000; 0: all)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--qat-epochs", c->qat_epochs, "QAT epochs (default 1)")->check(CLI::Range(1, 1000));
    cmd->add_option("--qat-lr", c->qat_lr, "QAT peak learning rate (default 1e-4)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--test-images", c->test_images, "Evaluate on the first N test images (default 0: all)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--bench-runs", c->bench_runs, "Timed batch-1 runs per model (default 100)")
        ->check(CLI::Range(1, 1000000));
    cmd->add_option("--seed", c->seed, "Seed for initialization and shuffling (default 0)");
    cmd->add_option("--threads,-t", c->threads, "Worker threads (default: all cores)")
        ->check(CLI::Range(0, 1024));
    cmd->add_flag("--quiet,-q", c->quiet, "No progress on stderr");
    cmd->callback([c] { report("demo", Demo(*c).run()); });
}

}  // namespace edgeq::cli
