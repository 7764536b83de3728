#include "llm/autotune.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>

#include "core/parallel.h"
#include "formats/gguf/gguf.h"
#include "llm/imatrix_collector.h"
#include "llm/model.h"
#include "llm/perplexity.h"
#include "llm/tokenizer.h"
#include "quant/gguf_autotune.h"
#include "quant/gguf_gptq.h"
#include "quant/imatrix.h"
#include "quant/recipe/llama_mix.h"

namespace edgeq::llm {
namespace {

using Chunks = std::vector<std::vector<int32_t>>;

struct Variant {
    DType type = DType::F32;
    std::vector<uint8_t> bytes;
    bool gptq = false;
};

// One weight matrix of the search.
struct Tuned {
    size_t file_index = 0;  // into gguf::File::tensors()
    Weight original;        // as loaded (to restore)
    std::vector<Variant> variants;
    std::vector<double> costs;
};

Result<std::vector<std::vector<float>>> eval_logits(Model& m, const Chunks& chunks) {
    std::vector<std::vector<float>> out;
    for (const auto& c : chunks) {
        EDGEQ_ASSIGN_OR_RETURN(auto l, m.eval(c, 0, /*all_logits=*/true));
        out.push_back(std::move(l));
    }
    return out;
}

// KLD / PPL / top-1 of the model's logits against `base` (eval_logits of the input model on the same chunks).
Result<KlStats> kld_on(Model& m, const Chunks& chunks, const std::vector<std::vector<float>>& base) {
    const int64_t V = m.hparams().n_vocab;
    KlAccumulator acc;
    for (size_t ci = 0; ci < chunks.size(); ++ci) {
        EDGEQ_ASSIGN_OR_RETURN(auto l, m.eval(chunks[ci], 0, /*all_logits=*/true));
        const int64_t n = static_cast<int64_t>(chunks[ci].size());
        for (int64_t p = 0; p < n; ++p) {
            const int32_t next = p + 1 < n ? chunks[ci][static_cast<size_t>(p + 1)] : -1;
            acc.add(std::span<const float>(base[ci].data() + p * V, static_cast<size_t>(V)),
                    std::span<const float>(l.data() + p * V, static_cast<size_t>(V)), next);
        }
    }
    return acc.stats();
}

// sum over rows of e^T H e, e = w_row - dequantized row (the layer-output error the Hessian predicts).
double hessian_error(const float* w, const Variant& v, int64_t rows, int64_t cols,
                     const std::vector<double>& h, int threads) {
    const size_t rb = row_size(v.type, cols);
    std::vector<double> per_row(static_cast<size_t>(rows));
    parallel_for(rows, threads, 4, [&](int64_t b, int64_t e) {
        std::vector<float> d(static_cast<size_t>(cols));
        std::vector<double> err(static_cast<size_t>(cols));
        for (int64_t r = b; r < e; ++r) {
            dequantize_row(v.type, v.bytes.data() + static_cast<size_t>(r) * rb, d.data(), cols);
            for (int64_t j = 0; j < cols; ++j)
                err[static_cast<size_t>(j)] =
                    static_cast<double>(w[r * cols + j]) - d[static_cast<size_t>(j)];
            double s = 0;
            for (int64_t i = 0; i < cols; ++i) {
                const double* hi = h.data() + i * cols;
                double t = 0;
                for (int64_t j = 0; j < cols; ++j) t += hi[j] * err[static_cast<size_t>(j)];
                s += err[static_cast<size_t>(i)] * t;
            }
            per_row[static_cast<size_t>(r)] = s;
        }
    });
    double s = 0;
    for (double x : per_row) s += x;
    return s;
}

// The best of round-to-nearest and GPTQ for one tensor and type (see the header).
Result<Variant> quantize_variant(DType type, const float* w, int64_t rows, int64_t cols,
                                 const std::vector<double>* h, const float* importance,
                                 const GgufGptqOptions& go, bool try_gptq, int threads) {
    Variant rtn{type, std::vector<uint8_t>(row_size(type, cols) * static_cast<size_t>(rows)), false};
    const size_t rb = row_size(type, cols);
    parallel_for(rows, threads, 4, [&](int64_t b, int64_t e) {
        quantize(type, w + b * cols, rtn.bytes.data() + static_cast<size_t>(b) * rb, e - b, cols, importance);
    });
    if (!h || !try_gptq || !gptq_supports(type)) return rtn;
    auto g = quantize_gptq(BlockTarget{type, std::nullopt}, w, rows, cols, *h, importance, go);
    if (!g.ok()) return rtn;  // e.g. a Hessian that is not positive definite: rounding only
    Variant gv{type, std::move(*g), true};
    return hessian_error(w, gv, rows, cols, *h, threads) < hessian_error(w, rtn, rows, cols, *h, threads)
               ? std::move(gv)
               : std::move(rtn);
}

std::string fmt(double v) {
    std::ostringstream s;
    s << v;
    return s.str();
}

}  // namespace

Result<AutotuneResult> autotune_gguf(const AutotuneOptions& o, const AutotuneProgress& progress) {
    const auto t0 = std::chrono::steady_clock::now();
    auto report = [&](const char* stage, int64_t done, int64_t total) {
        if (progress) progress(stage, done, total);
    };
    if (o.max_kld.has_value() == o.target_bpw.has_value())
        return InvalidArgument("autotune: give exactly one budget, --max-kld X or --target-bpw B");
    if (o.max_kld && !(*o.max_kld >= 0)) return InvalidArgument("--max-kld must be >= 0");
    if (o.target_bpw && !(*o.target_bpw > 0)) return InvalidArgument("--target-bpw must be > 0");
    if (std::filesystem::exists(o.output) && std::filesystem::exists(o.input) &&
        std::filesystem::equivalent(o.output, o.input))
        return InvalidArgument(o.output + ": output would overwrite the input");
    EDGEQ_ASSIGN_OR_RETURN(const std::vector<DType> candidates, parse_autotune_candidates(o.candidates));
    std::optional<Imatrix> imatrix;
    if (!o.imatrix_path.empty()) {
        EDGEQ_ASSIGN_OR_RETURN(imatrix, load_imatrix(o.imatrix_path));
    }

    // ---- model, text, chunks ----
    ModelOptions mo;
    mo.threads = o.threads;
    {
        // The context is needed before the K/V cache is sized: read it from a first load.
        EDGEQ_ASSIGN_OR_RETURN(auto probe, Model::load(o.input, mo));
        EDGEQ_ASSIGN_OR_RETURN(Tokenizer tok, Tokenizer::from_gguf(probe->file()));
        if (tok.n_vocab() != probe->hparams().n_vocab)
            return Unsupported(o.input + ": tokenizer has " + std::to_string(tok.n_vocab()) +
                               " tokens but token_embd.weight has " +
                               std::to_string(probe->hparams().n_vocab) + " rows");
        const int64_t trained = probe->hparams().n_ctx_train;
        const int64_t n_tok = static_cast<int64_t>(tok.encode(o.text, true).size());
        int64_t ctx = o.ctx;
        if (ctx <= 0) {
            ctx = std::min<int64_t>(256, trained > 0 ? trained : 256);
            ctx = std::min(ctx, n_tok / 2);
            if (ctx < 16)
                return InvalidArgument(
                    o.text_name + ": " + std::to_string(n_tok) +
                    " tokens; autotune needs at least 32 (a calibration and a held-out chunk)");
        } else if (trained > 0 && ctx > trained) {
            return InvalidArgument("--ctx " + std::to_string(ctx) + " is larger than the trained context (" +
                                   std::to_string(trained) + ") of " + o.input);
        }
        mo.n_ctx = ctx;
    }
    EDGEQ_ASSIGN_OR_RETURN(auto model, Model::load(o.input, mo));
    const gguf::File& file = model->file();
    EDGEQ_ASSIGN_OR_RETURN(Tokenizer tok, Tokenizer::from_gguf(file));
    const int64_t ctx = mo.n_ctx;
    const bool adds_bos = !tok.encode("", true).empty();
    auto chunks_or = make_chunks(tok.encode(o.text, true), ctx, 0, adds_bos ? tok.bos() : -1);
    if (!chunks_or.ok()) return InvalidArgument(o.text_name + ": " + chunks_or.status().message());
    Chunks all = std::move(*chunks_or);
    if (all.size() < 2)
        return InvalidArgument(
            o.text_name + ": " + std::to_string(all.size()) + " chunk of " + std::to_string(ctx) +
            " tokens; autotune needs two (calibration and held-out): lower --ctx or give more "
            "text");
    const int64_t n_all = static_cast<int64_t>(all.size());
    const int64_t n_eval = std::clamp<int64_t>(n_all / 4, 1, std::max<int64_t>(1, o.max_eval_chunks));
    const Chunks held(all.end() - n_eval, all.end());
    const Chunks calib(all.begin(), all.end() - n_eval);
    const Chunks hess_chunks(calib.begin(),
                             calib.begin() + std::min<int64_t>(static_cast<int64_t>(calib.size()),
                                                               std::max<int64_t>(1, o.max_calib_chunks)));
    const int64_t n_sens =
        std::clamp<int64_t>((o.sens_tokens + ctx - 1) / ctx, 1, static_cast<int64_t>(calib.size()));
    const Chunks sens(calib.begin(), calib.begin() + n_sens);

    AutotuneResult res;
    res.output = o.output;
    res.ctx = ctx;
    res.calib_chunks = static_cast<int64_t>(hess_chunks.size());
    res.sens_chunks = n_sens;
    res.eval_chunks = n_eval;
    res.budget = o.max_kld ? "max-kld " + fmt(*o.max_kld) : "target-bpw " + fmt(*o.target_bpw);

    // ---- input tensors: which are searched ----
    std::vector<Tuned> tuned;
    std::vector<AutotuneTensorResult> out_tensors;
    std::map<std::string, std::vector<uint8_t>> f16_fallback;  // weight matrices no candidate fits
    for (size_t i = 0; i < file.tensors().size(); ++i) {
        const gguf::TensorInfo& t = file.tensors()[i];
        AutotuneTensorResult r{t.name, t.ne, t.type, t.type, t.size};
        res.n_params += t.n_elements();
        const Weight* w = model->find_weight(t.name);
        if (w) {
            if (traits(t.type).kind == DTypeKind::Block)
                return InvalidArgument(o.input + ": tensor '" + t.name + "' is already quantized (" +
                                       dtype_name(t.type) + "); autotune needs an F32/F16/BF16 model");
            if (autotune_tensor_types(candidates, t.ne[0]).empty()) {
                if (t.type == DType::F32) {  // as llama-quantize: F16 for rows no block type can hold
                    std::vector<float> x(static_cast<size_t>(t.n_elements()));
                    for (int64_t rr = 0; rr < w->rows; ++rr)
                        dequantize_row(t.type, w->row(rr), x.data() + rr * w->cols, w->cols);
                    std::vector<uint8_t> b(row_size(DType::F16, w->cols) * static_cast<size_t>(w->rows));
                    quantize(DType::F16, x.data(), b.data(), w->rows, w->cols, nullptr);
                    r.to = DType::F16;
                    r.bytes = b.size();
                    f16_fallback[t.name] = std::move(b);
                }
            } else {
                r.tuned = true;
                tuned.push_back({i, *w, {}, {}});
            }
        }
        out_tensors.push_back(std::move(r));
    }
    if (tuned.empty()) return InvalidArgument(o.input + ": no weight matrix can take any candidate type");

    // ---- base logits, Hessians ----
    report("hessians", 0, static_cast<int64_t>(hess_chunks.size()));
    ImatrixCollector collector(/*full_hessian=*/true);
    model->set_observer(&collector);
    for (size_t ci = 0; ci < hess_chunks.size(); ++ci) {
        EDGEQ_RETURN_IF_ERROR(model->eval(hess_chunks[ci], 0, true).status());
        report("hessians", static_cast<int64_t>(ci + 1), static_cast<int64_t>(hess_chunks.size()));
    }
    model->set_observer(nullptr);
    EDGEQ_ASSIGN_OR_RETURN(const auto base_sens, eval_logits(*model, sens));
    EDGEQ_ASSIGN_OR_RETURN(const auto base_held, eval_logits(*model, held));
    {
        KlAccumulator acc;  // PPL of the input model on the held-out split
        const int64_t V = model->hparams().n_vocab;
        for (size_t ci = 0; ci < held.size(); ++ci)
            for (size_t p = 0; p < held[ci].size(); ++p) {
                const std::span<const float> z(base_held[ci].data() + p * static_cast<size_t>(V),
                                               static_cast<size_t>(V));
                acc.add(z, z, p + 1 < held[ci].size() ? held[ci][p + 1] : -1);
            }
        res.ppl_base = acc.stats().ppl_base.ppl;
    }
    for (auto& [name, b] : f16_fallback) EDGEQ_RETURN_IF_ERROR(model->set_weight_data(name, DType::F16, b));

    // ---- quantize every tensor to every candidate ----
    const int threads = model->threads();
    GgufGptqOptions go;
    go.threads = threads;
    int64_t n_variants = 0;
    for (const Tuned& t : tuned)
        n_variants += static_cast<int64_t>(autotune_tensor_types(candidates, t.original.cols).size());
    int64_t done = 0;
    report("quantize", 0, n_variants);
    for (Tuned& t : tuned) {
        const gguf::TensorInfo& ti = file.tensors()[t.file_index];
        const int64_t rows = t.original.rows, cols = t.original.cols;
        std::vector<float> x(static_cast<size_t>(rows * cols));
        for (int64_t r = 0; r < rows; ++r)
            dequantize_row(ti.type, t.original.row(r), x.data() + r * cols, cols);
        std::vector<double> h;
        const ImatrixCollector::Entry* e = collector.find(ti.name);
        if (e && e->xtx && e->count > 0) h = hessian_from_sums(*e->xtx, cols, e->count);
        std::vector<float> importance;
        if (imatrix) {
            if (const auto* v = imatrix->find(ti.name); v && static_cast<int64_t>(v->size()) == cols)
                importance = *v;
        }
        if (importance.empty() && !h.empty()) {
            importance.resize(static_cast<size_t>(cols));
            for (int64_t j = 0; j < cols; ++j)
                importance[static_cast<size_t>(j)] =
                    static_cast<float>(h[static_cast<size_t>(j * cols + j)] * 0.5);
        }
        for (DType type : autotune_tensor_types(candidates, cols)) {
            EDGEQ_ASSIGN_OR_RETURN(
                Variant v,
                quantize_variant(type, x.data(), rows, cols, h.empty() ? nullptr : &h,
                                 importance.empty() ? nullptr : importance.data(), go, o.gptq, threads));
            t.variants.push_back(std::move(v));
            report("quantize", ++done, n_variants);
        }
    }

    // ---- sensitivity: calibration KLD with one tensor lowered ----
    done = 0;
    report("sensitivity", 0, n_variants);
    for (Tuned& t : tuned) {
        for (const Variant& v : t.variants) {
            EDGEQ_RETURN_IF_ERROR(model->set_weight_data(t.original.name, v.type, v.bytes));
            EDGEQ_ASSIGN_OR_RETURN(KlStats s, kld_on(*model, sens, base_sens));
            t.costs.push_back(s.kld_mean);
            report("sensitivity", ++done, n_variants);
        }
        EDGEQ_RETURN_IF_ERROR(model->set_weight_data(
            t.original.name, t.original.type,
            {t.original.data, t.original.row_bytes * static_cast<size_t>(t.original.rows)}));
    }
    res.sens_evals = n_variants;

    // ---- allocation path ----
    std::vector<AutotuneTensor> table;
    for (const Tuned& t : tuned) {
        AutotuneTensor at{t.original.name, {}};
        for (size_t j = 0; j < t.variants.size(); ++j)
            at.options.push_back({t.variants[j].type, t.variants[j].bytes.size(), t.costs[j]});
        table.push_back(std::move(at));
    }
    EDGEQ_ASSIGN_OR_RETURN(std::vector<AllocationStep> path, greedy_allocation_path(table));
    res.path_steps = static_cast<int64_t>(path.size());
    const int64_t last = static_cast<int64_t>(path.size()) - 1;
    uint64_t fixed = 0;
    for (const auto& r : out_tensors)
        if (!r.tuned) fixed += r.bytes;
    auto bpw_of = [&](uint64_t bytes) {
        return 8.0 * static_cast<double>(bytes) / static_cast<double>(res.n_params);
    };

    // ---- held-out measurements ----
    std::map<int64_t, size_t> measured_at;  // step -> index into res.measured
    auto measure = [&](int64_t step) -> Result<AutotunePoint> {
        if (auto it = measured_at.find(step); it != measured_at.end()) return res.measured[it->second];
        const AllocationStep& s = path[static_cast<size_t>(step)];
        for (size_t i = 0; i < tuned.size(); ++i) {
            const Variant& v = tuned[i].variants[static_cast<size_t>(s.choice[i])];
            EDGEQ_RETURN_IF_ERROR(model->set_weight_data(tuned[i].original.name, v.type, v.bytes));
        }
        EDGEQ_ASSIGN_OR_RETURN(KlStats k, kld_on(*model, held, base_held));
        AutotunePoint p{step,       s.bytes + fixed, bpw_of(s.bytes + fixed), s.predicted,
                        k.kld_mean, k.kld_stderr,    k.ppl_test.ppl,          k.top1_agreement};
        measured_at[step] = res.measured.size();
        res.measured.push_back(p);
        report("verify", static_cast<int64_t>(res.measured.size()), 0);
        return p;
    };

    int64_t chosen = 0;
    if (o.target_bpw) {
        const double budget_bytes = *o.target_bpw * static_cast<double>(res.n_params) / 8.0;
        const int64_t i0 =
            budget_bytes >= static_cast<double>(fixed)
                ? step_for_bytes(path, static_cast<uint64_t>(budget_bytes - static_cast<double>(fixed)))
                : -1;
        res.budget_met = i0 >= 0;
        chosen = std::max<int64_t>(i0, 0);
        EDGEQ_RETURN_IF_ERROR(measure(chosen).status());
        if (i0 >= 0) {  // the bytes the path step leaves: smaller upgrades that still fit (step last + 1)
            AllocationStep filled =
                fill_budget(table, path[static_cast<size_t>(i0)],
                            static_cast<uint64_t>(budget_bytes - static_cast<double>(fixed)));
            if (filled.choice != path[static_cast<size_t>(i0)].choice) {
                path.push_back(std::move(filled));
                EDGEQ_RETURN_IF_ERROR(measure(last + 1).status());
            }
        }
        for (int k = 0; k < o.front_points; ++k)
            EDGEQ_RETURN_IF_ERROR(
                measure(o.front_points > 1 ? last * k / (o.front_points - 1) : last).status());
        // The lowest held-out KLD among the measured steps that fit.
        for (const AutotunePoint& p : res.measured)
            if (static_cast<double>(p.bytes) <= budget_bytes && p.kld < res.measured[measured_at[chosen]].kld)
                chosen = p.step;
    } else {
        const double x = *o.max_kld;
        int64_t i0 = step_for_cost(path, x);
        if (i0 < 0) i0 = last;
        EDGEQ_ASSIGN_OR_RETURN(const int64_t b, bisect_first(0, last, i0, [&](int64_t s) -> Result<bool> {
                                   EDGEQ_ASSIGN_OR_RETURN(AutotunePoint p, measure(s));
                                   return p.kld <= x;
                               }));
        for (int k = 0; k < o.front_points; ++k)
            EDGEQ_RETURN_IF_ERROR(
                measure(o.front_points > 1 ? last * k / (o.front_points - 1) : last).status());
        res.budget_met = b <= last;
        if (res.budget_met) {
            chosen = b;
        } else {  // best found: the lowest held-out KLD
            chosen = res.measured[0].step;
            for (const AutotunePoint& p : res.measured)
                if (p.kld < res.measured[measured_at[chosen]].kld) chosen = p.step;
        }
    }
    std::sort(res.measured.begin(), res.measured.end(),
              [](const AutotunePoint& a, const AutotunePoint& b) { return a.step < b.step; });
    for (size_t i = 0; i < res.measured.size(); ++i)
        if (res.measured[i].step == chosen) res.chosen = i;
    {
        std::vector<std::pair<uint64_t, double>> pts;
        for (const auto& p : res.measured) pts.emplace_back(p.bytes, p.kld);
        res.front = pareto_front(pts);
    }
    const AutotunePoint& best = res.measured[res.chosen];
    res.kld = best.kld;
    res.kld_stderr = best.kld_stderr;
    res.ppl = best.ppl;
    res.top1 = best.top1;

    // ---- write ----
    const AllocationStep& s = path[static_cast<size_t>(chosen)];
    std::map<DType, int64_t> params_by_type;
    for (size_t i = 0; i < tuned.size(); ++i) {
        const Variant& v = tuned[i].variants[static_cast<size_t>(s.choice[i])];
        AutotuneTensorResult& r = out_tensors[tuned[i].file_index];
        r.to = v.type;
        r.bytes = v.bytes.size();
        r.gptq = v.gptq;
        r.sensitivity = tuned[i].costs[static_cast<size_t>(s.choice[i])];
        params_by_type[v.type] += tuned[i].original.rows * tuned[i].original.cols;
    }
    gguf::Writer w;
    for (const auto& kv : file.kvs()) w.set(kv.key, kv.value);
    if (file.alignment() != gguf::kDefaultAlignment) w.set_alignment(file.alignment());
    const DType dominant =
        std::max_element(params_by_type.begin(), params_by_type.end(), [](const auto& a, const auto& b) {
            return a.second < b.second;
        })->first;
    w.remove("general.quantization_version");
    w.set("general.quantization_version", gguf::Value::U32v(2));
    for (const recipe::FileType& ft : recipe::file_types()) {
        if (ft.base == dominant) {  // llama.cpp has no "mixed" file type: the first one of the dominant type
            w.remove("general.file_type");
            w.set("general.file_type", gguf::Value::U32v(ft.ftype_id));
            break;
        }
    }
    w.set("edgeq.quantize.method", gguf::Value::Str("autotune"));
    w.set("edgeq.autotune.budget", gguf::Value::Str(res.budget));
    for (size_t i = 0; i < file.tensors().size(); ++i) {
        const gguf::TensorInfo& t = file.tensors()[i];
        const AutotuneTensorResult& r = out_tensors[i];
        if (r.tuned) {
            const auto& tt =
                *std::find_if(tuned.begin(), tuned.end(), [&](const Tuned& x) { return x.file_index == i; });
            const Variant& v =
                tt.variants[static_cast<size_t>(s.choice[static_cast<size_t>(&tt - tuned.data())])];
            EDGEQ_RETURN_IF_ERROR(w.add_tensor(t.name, v.type, t.ne, v.bytes));
        } else if (auto it = f16_fallback.find(t.name); it != f16_fallback.end()) {
            EDGEQ_RETURN_IF_ERROR(w.add_tensor(t.name, DType::F16, t.ne, it->second));
        } else {
            EDGEQ_RETURN_IF_ERROR(w.add_tensor(t.name, t.type, t.ne, file.tensor_data(t)));
        }
        res.bytes += r.bytes;
    }
    EDGEQ_RETURN_IF_ERROR(w.write(o.output));
    res.bpw = bpw_of(res.bytes);
    res.tensors = std::move(out_tensors);
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return res;
}

}  // namespace edgeq::llm
