#include "eval/autotune.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>
#include <sstream>

#include "eval/classify.h"
#include "eval/session.h"
#include "graph/names.h"
#include "passes/optimize.h"
#include "quant/ptq/autotune.h"

namespace edgeq {
namespace {

namespace ptq = quant::ptq;

std::string regex_escape(const std::string& s) {
    std::string r;
    for (char c : s) {
        if (std::string(".^$|()[]{}*+?\\/").find(c) != std::string::npos) r += '\\';
        r += c;
    }
    return r;
}

std::string fmt(const char* f, double v) {
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return b;
}

// Output distribution of one row: the row itself when it already is one (non-negative, sums to 1), else its
// softmax.
void to_probs(const float* x, int64_t n, std::vector<double>& p) {
    p.resize(static_cast<size_t>(n));
    double sum = 0;
    bool probs = true;
    for (int64_t i = 0; i < n; ++i) {
        probs &= x[i] >= 0.0f && x[i] <= 1.0f;
        sum += x[i];
    }
    if (probs && std::fabs(sum - 1.0) < 1e-3) {
        for (int64_t i = 0; i < n; ++i) p[static_cast<size_t>(i)] = x[i] / sum;
        return;
    }
    const double mx = *std::max_element(x, x + n);
    sum = 0;
    for (int64_t i = 0; i < n; ++i)
        sum += p[static_cast<size_t>(i)] = std::exp(static_cast<double>(x[i]) - mx);
    for (auto& v : p) v /= sum;
}

struct Batch {
    Tensor x;
    int64_t start = 0, n = 0;  // first image, valid images (a fixed-batch model's last batch is padded)
};

struct EvalStats {
    int64_t correct = 0, count = 0, agree = 0;
    double kl = 0, seconds = 0;
    double accuracy() const { return count ? static_cast<double>(correct) / static_cast<double>(count) : 0; }
    double ms_per_image() const { return count ? 1000.0 * seconds / static_cast<double>(count) : 0; }
};

class Tuner {
  public:
    Tuner(const AutotuneOptions& o) : o_(o) {}

    Result<AutotuneResult> run(const graph::Model& fp32);

  private:
    Status load(const graph::Model& fp32);
    struct Quantized {
        graph::Model model;
        int64_t bytes = 0;  // tuned layers' weight bytes
        ptq::PtqReport report;
    };
    // Quantizes the prepared model with one precision per tuned layer (empty: uniform int8, no --keep rules).
    Result<Quantized> quantize(const std::vector<std::string>& prec);
    // Evaluates batches [b0, b1); `ref` (probabilities per image of those batches) gives KL / agreement.
    Result<EvalStats> evaluate(const graph::Model& m, size_t b0, size_t b1,
                               std::vector<std::vector<double>>* keep_probs,
                               const std::vector<std::vector<double>>* ref);
    std::vector<std::string> precisions(const std::vector<int>& levels) const {
        std::vector<std::string> p;
        for (int l : levels) p.push_back(cands_[static_cast<size_t>(l)]);
        return p;
    }
    std::map<std::string, std::string> named(const std::vector<std::string>& prec) const {
        std::map<std::string, std::string> m;
        for (size_t i = 0; i < prec.size(); ++i) m[layers_[i].name] = prec[i];
        return m;
    }
    void say(const std::string& s) {
        res_.log.push_back(s);
        if (o_.log) o_.log(s);
    }
    double bits(int64_t bytes) const {
        return res_.weight_params ? 8.0 * static_cast<double>(bytes) / static_cast<double>(res_.weight_params)
                                  : 0;
    }

    const AutotuneOptions& o_;
    AutotuneResult res_;
    graph::Model prepared_;
    std::vector<std::string> cands_;
    std::vector<AutotuneLayer>& layers_ = res_.layers;
    std::vector<Batch> batches_;
    std::vector<int64_t> labels_;
    std::vector<ptq::CalibrationBatch> calib_;
    std::string input_, output_;
    size_t sens_end_ = 0,
           held_end_ = 0;  // batch indices: [0, sens_end) sensitivity, [sens_end, held_end) held-out
};

Status Tuner::load(const graph::Model& fp32) {
    // Prepared float model (what quantize_onnx starts from), every Conv/Gemm/MatMul named so --keep rules can
    // address it.
    prepared_ = fp32;
    passes::OptimizeOptions oo;
    oo.fuse = false;
    EDGEQ_RETURN_IF_ERROR(passes::optimize(prepared_, oo).status());
    graph::UniqueNames names(prepared_.graph);
    for (auto& n : prepared_.graph.nodes)
        if (n.name.empty())
            n.name = names(n.op_type + "_" + (n.outputs.empty() ? std::string() : n.outputs[0]));
    if (prepared_.graph.outputs.empty()) return InvalidArgument(fp32.path + ": model has no outputs");
    output_ = prepared_.graph.outputs[0].name;

    EDGEQ_ASSIGN_OR_RETURN(auto set, ImageSet::open(prepared_, o_.images, o_.pre, o_.limit));
    input_ = set->input_name();
    EDGEQ_ASSIGN_OR_RETURN(Tensor labels_t, load_array(o_.labels, "labels"));
    labels_ = labels_t.to_i64();
    const int64_t count = set->count();
    if (static_cast<int64_t>(labels_.size()) < count)
        return InvalidArgument(o_.labels + ": " + std::to_string(labels_.size()) + " labels for " +
                               std::to_string(count) + " images in " + o_.images);
    if (count < 2)
        return InvalidArgument(o_.images + ": autotune needs at least 2 images, found " +
                               std::to_string(count));
    const int64_t B = set->batch();
    for (int64_t s = 0; s < count; s += B) {
        EDGEQ_ASSIGN_OR_RETURN(Tensor x, set->batch_at(s));
        batches_.push_back({std::move(x), s, std::min(B, count - s)});
    }
    // Splits on batch boundaries: sensitivity first, then held-out (at least one batch each when possible).
    const size_t nb = batches_.size();
    auto batches_for = [&](int64_t images) {
        return static_cast<size_t>(std::max<int64_t>(1, (images + B - 1) / B));
    };
    sens_end_ = std::min(batches_for(o_.sens_samples), nb > 1 ? nb / 2 : size_t{1});
    held_end_ = std::min(nb, sens_end_ + batches_for(o_.heldout_samples));
    if (held_end_ == sens_end_) {  // a single batch: sensitivity and held-out share it (said in the log)
        sens_end_ = nb;
        held_end_ = nb;
    }
    res_.samples = count;
    for (size_t b = 0; b < nb; ++b)
        (b < sens_end_ ? res_.sens_samples : res_.heldout_samples) += b < held_end_ ? batches_[b].n : 0;
    if (held_end_ == sens_end_) res_.heldout_samples = res_.sens_samples;

    // Calibration batches, held in memory and replayed for every configuration.
    std::unique_ptr<ImageSet> cset;
    if (o_.calib.empty()) {
        EDGEQ_ASSIGN_OR_RETURN(cset, ImageSet::open(prepared_, o_.images, o_.pre, o_.calib_samples));
    } else {
        EDGEQ_ASSIGN_OR_RETURN(cset, ImageSet::open(prepared_, o_.calib, o_.pre, o_.calib_samples));
    }
    for (int64_t s = 0; s < cset->count(); s += cset->batch()) {
        EDGEQ_ASSIGN_OR_RETURN(Tensor x, cset->batch_at(s));
        ptq::CalibrationBatch cb;
        cb[input_] = std::move(x);
        calib_.push_back(std::move(cb));
    }
    res_.calib_samples = cset->count();
    return Status::Ok();
}

Result<Tuner::Quantized> Tuner::quantize(const std::vector<std::string>& prec) {
    ptq::PtqOptions po;
    po.method = ptq::Method::Static;
    po.acts = ptq::QType::U8;
    po.granularity = o_.granularity;
    po.group = o_.group;
    po.calibrator = o_.calibrator;
    po.threads = o_.threads;
    for (size_t i = 0; i < prec.size(); ++i)
        po.keep.emplace_back("^" + regex_escape(layers_[i].name) + "$", prec[i]);
    graph::Model m = prepared_;
    size_t next = 0;
    ptq::CalibrationSource src = [&]() -> Result<std::optional<ptq::CalibrationBatch>> {
        if (next >= calib_.size()) return std::optional<ptq::CalibrationBatch>();
        return std::optional<ptq::CalibrationBatch>(calib_[next++]);
    };
    EDGEQ_ASSIGN_OR_RETURN(auto rep, ptq::quantize_onnx(m, po, src));
    ++res_.quantizations;
    int64_t bytes = rep.weight_bytes_after;  // integer and half layers
    for (size_t i = 0; i < prec.size(); ++i)
        if (prec[i] == "fp32") bytes += 4 * layers_[i].params;  // kept float: not in the report
    return Quantized{std::move(m), bytes, std::move(rep)};
}

Result<EvalStats> Tuner::evaluate(const graph::Model& m, size_t b0, size_t b1,
                                  std::vector<std::vector<double>>* keep_probs,
                                  const std::vector<std::vector<double>>* ref) {
    SessionOptions so;
    so.threads = o_.threads;
    EDGEQ_ASSIGN_OR_RETURN(auto session, Session::from_model(m, so));
    EvalStats st;
    std::vector<double> p;
    size_t row = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t b = b0; b < b1; ++b) {
        const Batch& bt = batches_[b];
        EDGEQ_ASSIGN_OR_RETURN(auto outs, session->run({{input_, bt.x}}));
        const Tensor& y = outs.at(output_);
        if (y.rank() < 1 || y.dim(0) != bt.x.dim(0))
            return Corrupt(m.path + ": output '" + output_ + "' has shape " + shape_str(y.shape()) +
                           ", expected a leading batch of " + std::to_string(bt.x.dim(0)));
        const auto l = y.to_f32();
        const int64_t classes = y.numel() / y.dim(0);
        for (int64_t i = 0; i < bt.n; ++i, ++row) {
            const float* r = l.data() + i * classes;
            const int64_t best = std::max_element(r, r + classes) - r;
            if (best == labels_[static_cast<size_t>(bt.start + i)]) ++st.correct;
            ++st.count;
            if (keep_probs || ref) to_probs(r, classes, p);
            if (keep_probs) keep_probs->push_back(p);
            if (ref) {
                const auto& q = (*ref)[row];
                double kl = 0;
                for (size_t c = 0; c < p.size(); ++c)
                    if (q[c] > 0) kl += q[c] * (std::log(q[c]) - std::log(std::max(p[c], 1e-30)));
                st.kl += kl;
                const int64_t ref_best = std::max_element(q.begin(), q.end()) - q.begin();
                if (ref_best == best) ++st.agree;
            }
        }
    }
    st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (st.count) st.kl /= static_cast<double>(st.count);
    return st;
}

Result<AutotuneResult> Tuner::run(const graph::Model& fp32) {
    // Candidates, highest precision first.
    std::set<std::string> seen;
    for (const auto& c : o_.candidates) {
        if (candidate_bits(c) == 0)
            return InvalidArgument("--candidates: unknown precision '" + c +
                                   "' (expected fp32, fp16, bf16, int8, int4, int2)");
        if (seen.insert(c).second) cands_.push_back(c);
    }
    if (cands_.empty()) return InvalidArgument("--candidates: empty list");
    std::stable_sort(cands_.begin(), cands_.end(), [](const std::string& a, const std::string& b) {
        return candidate_bits(a) > candidate_bits(b);
    });
    if (!(o_.max_drop >= 0)) return InvalidArgument("--max-drop must be >= 0");
    if (o_.objective != "size" && o_.objective != "latency")
        return InvalidArgument("--objective '" + o_.objective + "': expected size or latency");
    res_.candidates = cands_;
    EDGEQ_RETURN_IF_ERROR(load(fp32));
    const size_t nb = batches_.size();
    say("data: " + std::to_string(res_.samples) + " images (sensitivity " +
        std::to_string(res_.sens_samples) + ", held-out " + std::to_string(res_.heldout_samples) +
        (sens_end_ == held_end_ ? ", the same batch" : "") + "), calibration " +
        std::to_string(res_.calib_samples));

    // 1. float reference
    std::vector<std::vector<double>> ref;
    EDGEQ_ASSIGN_OR_RETURN(auto fs, evaluate(prepared_, 0, sens_end_, &ref, nullptr));
    EDGEQ_ASSIGN_OR_RETURN(auto fh, sens_end_ == held_end_
                                        ? Result<EvalStats>(fs)
                                        : evaluate(prepared_, sens_end_, held_end_, nullptr, nullptr));
    EDGEQ_ASSIGN_OR_RETURN(auto ff, evaluate(prepared_, 0, nb, nullptr, nullptr));
    res_.fp32_accuracy = ff.accuracy();
    res_.fp32_heldout_accuracy = fh.accuracy();
    const double threshold = fh.accuracy() - o_.max_drop - 1e-12;
    say("fp32: accuracy " + fmt("%.4f", ff.accuracy()) + " (held-out " + fmt("%.4f", fh.accuracy()) +
        "), budget: held-out accuracy >= " + fmt("%.4f", std::max(0.0, threshold)));

    // Tuned layers: what static PTQ quantizes (a uniform int8 probe also gives the reference point).
    {
        EDGEQ_ASSIGN_OR_RETURN(auto u, quantize({}));
        const ptq::PtqReport& rep = u.report;
        const graph::Model& m = u.model;
        for (const auto& n : rep.nodes) {
            AutotuneLayer l;
            l.name = n.node;
            l.op = n.op;
            l.params = n.params;
            layers_.push_back(l);
            res_.weight_params += n.params;
        }
        res_.untuned = rep.skipped;
        if (layers_.empty())
            return InvalidArgument(fp32.path + ": no Conv/Gemm/MatMul layer that static PTQ quantizes");
        res_.fp32_weight_bytes = 4 * res_.weight_params;
        EDGEQ_ASSIGN_OR_RETURN(auto us, evaluate(m, sens_end_, held_end_, nullptr, nullptr));
        AutotunePoint pt{"uniform int8",
                         {},
                         us.accuracy(),
                         rep.weight_bytes_after,
                         bits(rep.weight_bytes_after),
                         us.ms_per_image(),
                         us.accuracy() >= threshold};
        for (const auto& l : layers_) pt.precisions[l.name] = "int8";
        res_.visited.push_back(pt);
        say("uniform int8: held-out accuracy " + fmt("%.4f", us.accuracy()) + ", " +
            fmt("%.3f", pt.bits_per_weight) + " bits per weight");
    }
    const size_t L = layers_.size();

    // 2. sensitivity table
    std::vector<ptq::SearchLayer> table(L);
    const std::vector<std::string> top(L, cands_[0]);
    EDGEQ_ASSIGN_OR_RETURN(auto start, quantize(top));
    EDGEQ_ASSIGN_OR_RETURN(auto s0, evaluate(start.model, 0, sens_end_, nullptr, &ref));
    for (size_t l = 0; l < L; ++l) {
        table[l].name = layers_[l].name;
        table[l].sens.push_back(s0.kl);
        table[l].cost.push_back(o_.objective == "size" ? static_cast<double>(start.bytes)
                                                       : s0.ms_per_image());
    }
    say("sensitivity: " + std::to_string(L) + " layers x " + std::to_string(cands_.size() - 1) +
        " lower candidates, start (all " + cands_[0] + ") KL " + fmt("%.3g", s0.kl));
    for (size_t l = 0; l < L; ++l) {
        for (size_t j = 1; j < cands_.size(); ++j) {
            std::vector<std::string> prec = top;
            prec[l] = cands_[j];
            EDGEQ_ASSIGN_OR_RETURN(auto q, quantize(prec));
            EDGEQ_ASSIGN_OR_RETURN(auto st, evaluate(q.model, 0, sens_end_, nullptr, &ref));
            table[l].sens.push_back(st.kl);
            table[l].cost.push_back(o_.objective == "size" ? static_cast<double>(q.bytes)
                                                           : st.ms_per_image());
            layers_[l].kl[cands_[j]] = st.kl;
            layers_[l].agreement[cands_[j]] =
                st.count ? static_cast<double>(st.agree) / static_cast<double>(st.count) : 0;
            say("  " + layers_[l].name + " " + cands_[j] + ": KL " + fmt("%.3g", st.kl) +
                ", top-1 agreement " + fmt("%.2f %%", 100.0 * layers_[l].agreement[cands_[j]]) +
                ", weights " + std::to_string(q.bytes) + " B");
        }
    }

    // 3. greedy, verified on the held-out split
    auto verify = [&](const std::vector<int>& levels) -> Result<bool> {
        auto prec = precisions(levels);
        EDGEQ_ASSIGN_OR_RETURN(auto q, quantize(prec));
        EDGEQ_ASSIGN_OR_RETURN(auto st, evaluate(q.model, sens_end_, held_end_, nullptr, nullptr));
        const bool ok = st.accuracy() >= threshold;
        res_.visited.push_back({res_.visited.size() == 1 ? "start" : "step " + std::to_string(res_.steps++),
                                named(prec), st.accuracy(), q.bytes, bits(q.bytes), st.ms_per_image(), ok});
        return ok;
    };
    std::vector<int> levels(L, 0);
    EDGEQ_ASSIGN_OR_RETURN(bool start_ok, verify(levels));
    say("start (all " + cands_[0] + "): held-out accuracy " + fmt("%.4f", res_.visited.back().accuracy) +
        (start_ok ? "" : " misses the budget: no layer is lowered"));
    std::vector<ptq::SearchStep> accepted;
    if (start_ok) {
        EDGEQ_ASSIGN_OR_RETURN(auto sr, ptq::greedy_search(table, verify));
        for (size_t i = 0; i < sr.steps.size(); ++i) {
            const auto& s = sr.steps[i];
            const auto& pt = res_.visited[res_.visited.size() - sr.steps.size() + i];
            say(std::string(s.bisect ? "  bisect " : "  step ") + layers_[s.layer].name + " " +
                cands_[static_cast<size_t>(s.from)] + " -> " + cands_[static_cast<size_t>(s.to)] +
                ": held-out " + fmt("%.4f", pt.accuracy) + ", " + fmt("%.3f", pt.bits_per_weight) +
                " bits/weight: " + (s.accepted ? "kept" : "fails the budget"));
        }
        for (size_t a : sr.accepted) accepted.push_back(sr.steps[a]);
        levels = sr.levels;
        res_.accepted = static_cast<int64_t>(accepted.size());
    }

    // 4. whole data set; undo accepted steps (last first) while the budget is missed there
    const double full_threshold = res_.fp32_accuracy - o_.max_drop - 1e-12;
    for (;;) {
        EDGEQ_ASSIGN_OR_RETURN(auto q, quantize(precisions(levels)));
        EDGEQ_ASSIGN_OR_RETURN(auto st, evaluate(q.model, 0, nb, nullptr, nullptr));
        res_.model = std::move(q.model);
        res_.weight_bytes = q.bytes;
        res_.accuracy = st.accuracy();
        res_.budget_met = start_ok && st.accuracy() >= full_threshold;
        if (res_.budget_met || accepted.empty()) break;
        const auto s = accepted.back();
        accepted.pop_back();
        levels[s.layer] = s.from;
        ++res_.undone;
        say("whole set: accuracy " + fmt("%.4f", st.accuracy()) + " misses the budget; undo " +
            layers_[s.layer].name + " " + cands_[static_cast<size_t>(s.from)] + " -> " +
            cands_[static_cast<size_t>(s.to)]);
    }
    res_.bits_per_weight = bits(res_.weight_bytes);
    for (size_t l = 0; l < L; ++l) layers_[l].precision = cands_[static_cast<size_t>(levels[l])];
    const auto it = std::find_if(res_.visited.begin(), res_.visited.end(), [&](const AutotunePoint& p) {
        return p.precisions == named(precisions(levels)) && p.what != "uniform int8";
    });
    if (it != res_.visited.end()) res_.heldout_accuracy = it->accuracy;
    say(std::string("result: accuracy ") + fmt("%.4f", res_.accuracy) + " (fp32 " +
        fmt("%.4f", res_.fp32_accuracy) + "), " + fmt("%.3f", res_.bits_per_weight) + " bits per weight" +
        (res_.budget_met ? "" : ": the budget is NOT met; writing the best model found"));

    std::vector<ptq::ParetoPoint> pts;
    for (const auto& p : res_.visited)
        pts.push_back({p.accuracy, static_cast<double>(p.weight_bytes), p.ms_per_image});
    res_.pareto = ptq::pareto_front(pts);
    return std::move(res_);
}

}  // namespace

int candidate_bits(const std::string& name) {
    if (name == "fp32") return 32;
    if (name == "fp16" || name == "bf16") return 16;
    if (name == "int8") return 8;
    if (name == "int4") return 4;
    if (name == "int2") return 2;
    return 0;
}

Result<AutotuneResult> autotune_onnx(const graph::Model& fp32, const AutotuneOptions& opts) {
    Tuner t(opts);
    return t.run(fp32);
}

}  // namespace edgeq
