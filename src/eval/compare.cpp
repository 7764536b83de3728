// Per-layer comparison of two ONNX models on the same inputs (eval/compare.h).
#include "eval/compare.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "eval/classify.h"
#include "eval/image_set.h"
#include "formats/onnx/onnx_import.h"
#include "graph/graph.h"
#include "runtime/ref/executor.h"

namespace edgeq {

namespace {

using graph::Graph;
using graph::Model;
using graph::Node;

// How a REF value is found in MODEL.
struct Match {
    std::string model_name;    // MODEL tensor compared with REF's value
    bool dequantize = false;   // model_name is an integer tensor: apply (v - zero_point) * scale
    std::string qparams_node;  // MODEL tensor whose producer holds the scale / zero point ("" = none)
};

struct QParams {
    float scale = 1.0f;
    int64_t zero_point = 0;
};

// Per-tensor scale and zero point of the integer output of `n` (QuantizeLinear and the QOperators), read from
// MODEL's initializers; nullopt for any other producer or a per-axis scale.
std::optional<QParams> output_qparams(const Graph& g, const Node& n) {
    size_t si = 0, zi = 0;
    if (n.op_type == "QuantizeLinear") si = 1, zi = 2;
    else if (n.op_type == "QLinearConv" || n.op_type == "QLinearMatMul") si = 6, zi = 7;
    else if (n.op_type == "QGemm") si = 7, zi = 8;
    else return std::nullopt;
    if (si >= n.inputs.size() || n.inputs[si].empty()) return std::nullopt;
    const auto s = g.initializers.find(n.inputs[si]);
    if (s == g.initializers.end() || s->second.numel() != 1) return std::nullopt;
    QParams q;
    q.scale = s->second.to_f32()[0];
    if (zi < n.inputs.size() && !n.inputs[zi].empty()) {
        const auto z = g.initializers.find(n.inputs[zi]);
        if (z == g.initializers.end() || z->second.numel() != 1) return std::nullopt;
        q.zero_point = z->second.to_i64()[0];
    }
    return q;
}

// Range of an integer dtype; false for non-integer types.
bool int_range(DType t, int64_t& lo, int64_t& hi) {
    switch (t) {
    case DType::U8: lo = 0, hi = 255; return true;
    case DType::I8: lo = -128, hi = 127; return true;
    case DType::U16: lo = 0, hi = 65535; return true;
    case DType::I16: lo = -32768, hi = 32767; return true;
    case DType::U4: lo = 0, hi = 15; return true;
    case DType::I4: lo = -8, hi = 7; return true;
    case DType::U2: lo = 0, hi = 3; return true;
    case DType::I2: lo = -2, hi = 1; return true;
    default: return false;
    }
}

bool is_float(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F64; }

// Adds one sample pair to the statistics (both as float, same length).
void accumulate(TensorErrorStats& s, const std::vector<float>& ref, const std::vector<float>& q, double extreme,
                const std::optional<std::pair<double, double>>& range) {
    for (size_t i = 0; i < ref.size(); ++i) {
        const double r = ref[i], v = q[i];
        if (std::isnan(r)) ++s.nan_ref;
        else if (std::isinf(r)) ++s.inf_ref;
        if (std::isnan(v)) ++s.nan;
        else if (std::isinf(v)) ++s.inf;
        else if (std::fabs(v) > extreme) ++s.extreme;
        if (!std::isfinite(r) || !std::isfinite(v)) continue;
        s.add(r, v);
        if (range && (r < range->first || r > range->second)) ++s.overflow;
    }
    s.count += static_cast<int64_t>(ref.size());
}

// Non-finite / extreme values of every float initializer of `m`, as problem lines.
void scan_weights(const Model& m, const std::string& which, double extreme, std::vector<std::string>& problems) {
    for (const auto& [name, t] : m.graph.initializers) {
        if (!is_float(t.dtype())) continue;
        int64_t nan = 0, inf = 0, ext = 0;
        for (float v : t.to_f32()) {
            if (std::isnan(v)) ++nan;
            else if (std::isinf(v)) ++inf;
            else if (std::fabs(v) > extreme) ++ext;
        }
        if (nan) problems.push_back(which + " weight '" + name + "': " + std::to_string(nan) + " NaN");
        if (inf) problems.push_back(which + " weight '" + name + "': " + std::to_string(inf) + " Inf");
        if (ext) problems.push_back(which + " weight '" + name + "': " + std::to_string(ext) + " values beyond ±" +
                                    std::to_string(extreme));
    }
}

void report_tensor_problems(const TensorErrorStats& s, const std::string& what, std::vector<std::string>& problems) {
    if (s.nan_ref) problems.push_back("REF " + what + " '" + s.name + "': " + std::to_string(s.nan_ref) + " NaN");
    if (s.inf_ref) problems.push_back("REF " + what + " '" + s.name + "': " + std::to_string(s.inf_ref) + " Inf");
    if (s.nan) problems.push_back("MODEL " + what + " '" + s.matched_as + "': " + std::to_string(s.nan) + " NaN");
    if (s.inf) problems.push_back("MODEL " + what + " '" + s.matched_as + "': " + std::to_string(s.inf) + " Inf");
    if (s.extreme)
        problems.push_back("MODEL " + what + " '" + s.matched_as + "': " + std::to_string(s.extreme) +
                           " extreme values");
}

int64_t argmax_row(const std::vector<float>& v, int64_t row, int64_t c) {
    int64_t best = 0;
    for (int64_t j = 1; j < c; ++j)
        if (v[static_cast<size_t>(row * c + j)] > v[static_cast<size_t>(row * c + best)]) best = j;
    return best;
}

}  // namespace

Result<CompareReport> compare_onnx(const std::string& ref_path, const std::string& model_path,
                                   const CompareOptions& opts) {
    EDGEQ_ASSIGN_OR_RETURN(Model ref, onnxio::load_model(ref_path));
    EDGEQ_ASSIGN_OR_RETURN(Model mod, onnxio::load_model(model_path));
    for (const auto* m : {&ref, &mod}) {
        const auto missing = runtime::unsupported_ops(*m);
        if (!missing.empty())
            return Unsupported((m == &ref ? ref_path : model_path) + ": the reference executor lacks op " +
                                 missing.front());
    }
    if (mod.graph.inputs.size() != 1)
        return InvalidArgument(model_path + ": compare needs a model with one input, it has " +
                               std::to_string(mod.graph.inputs.size()));
    Preprocess pre;
    pre.scale = opts.scale, pre.mean = opts.mean, pre.std = opts.std;
    EDGEQ_ASSIGN_OR_RETURN(auto images, ImageSet::open(ref, opts.images, pre, opts.limit, opts.batch));
    if (opts.batch == 0 && images->dynamic_batch()) {  // a fixed batch (e.g. 1) is used as it is
        EDGEQ_ASSIGN_OR_RETURN(images, ImageSet::open(ref, opts.images, pre, opts.limit, 16));
    }
    const std::string mod_input = mod.graph.inputs[0].name;

    std::vector<int64_t> labels;
    CompareReport rep;
    if (!opts.labels.empty()) {
        EDGEQ_ASSIGN_OR_RETURN(Tensor lt, load_array(opts.labels, "labels"));
        labels = lt.to_i64();
        if (static_cast<int64_t>(labels.size()) < images->count())
            return InvalidArgument(opts.labels + ": " + std::to_string(labels.size()) + " labels for " +
                                   std::to_string(images->count()) + " images");
        rep.has_labels = true;
    }

    // MODEL's producers, for the matching rules and the quantization parameters.
    std::map<std::string, const Node*> mod_producer;
    for (const Node& n : mod.graph.nodes)
        for (const auto& o : n.outputs)
            if (!o.empty()) mod_producer[o] = &n;
    auto match_value = [&](const std::string& name) -> std::optional<Match> {
        if (mod_producer.count(name + "_dequantized")) {
            Match m{name + "_dequantized", false, ""};
            if (mod_producer.count(name + "_quantized")) m.qparams_node = name + "_quantized";
            return m;
        }
        if (auto p = mod_producer.find(name + "_quantized");
            p != mod_producer.end() && output_qparams(mod.graph, *p->second))
            return Match{name + "_quantized", true, name + "_quantized"};
        if (mod_producer.count(name)) return Match{name, false, ""};
        return std::nullopt;
    };

    // REF's values in topological order, with their matches.
    EDGEQ_ASSIGN_OR_RETURN(auto order, graph::topological_order(ref.graph));
    std::map<std::string, size_t> layer_index;  // REF value -> index in rep.layers
    std::map<std::string, Match> matches;       // REF value (or weight) -> MODEL tensor
    std::set<std::string> wanted;               // MODEL tensors to keep while MODEL runs
    for (size_t idx : order) {
        const Node& n = ref.graph.nodes[idx];
        for (const auto& o : n.outputs) {
            if (o.empty()) continue;
            auto m = match_value(o);
            if (!m) {
                ++rep.unmatched;
                continue;
            }
            TensorErrorStats s;
            s.name = o, s.op = n.op_type, s.node = n.name, s.matched_as = m->model_name;
            layer_index[o] = rep.layers.size();
            rep.layers.push_back(s);
            matches[o] = *m;
            wanted.insert(m->model_name);
            if (!m->qparams_node.empty()) wanted.insert(m->qparams_node);
        }
    }
    std::map<std::string, size_t> weight_index;
    for (const auto& [name, t] : ref.graph.initializers) {
        if (!is_float(t.dtype()) || t.rank() < 1 || t.numel() < 2) continue;
        std::optional<Match> m;
        if (mod_producer.count(name + "_dequantized")) m = Match{name + "_dequantized", false, ""};
        else if (mod_producer.count(name + "_float")) m = Match{name + "_float", false, ""};  // fp16/bf16 -> Cast
        else if (mod_producer.count(name)) m = Match{name, false, ""};
        else if (auto w = mod.graph.initializers.find(name);
                 w != mod.graph.initializers.end() && w->second.numel() == t.numel())
            m = Match{name, false, ""};
        if (!m) continue;
        TensorErrorStats s;
        s.name = name, s.matched_as = m->model_name;
        weight_index[name] = rep.weights.size();
        rep.weights.push_back(s);
        matches["\x01" + name] = *m;
        wanted.insert(m->model_name);
    }
    scan_weights(ref, "REF", opts.extreme_threshold, rep.problems);
    scan_weights(mod, "MODEL", opts.extreme_threshold, rep.problems);

    std::vector<TensorErrorStats> outs;
    std::vector<OutputAgreement> agree;
    std::vector<int64_t> agree_count;
    std::vector<double> peak;
    for (const auto& o : ref.graph.outputs) {
        TensorErrorStats s;
        s.name = o.name, s.matched_as = o.name;
        outs.push_back(s);
        OutputAgreement a;
        a.name = o.name;
        agree.push_back(a);
        agree_count.push_back(0);
        peak.push_back(0);
    }
    int64_t ref_correct = 0, mod_correct = 0;

    const int64_t total = images->count();
    for (int64_t start = 0; start < total; start += images->batch()) {
        EDGEQ_ASSIGN_OR_RETURN(Tensor x, images->batch_at(start));
        const int64_t nimg = images->batch_images(start);
        std::map<std::string, Tensor> ref_vals, mod_vals;
        runtime::RunOptions ro;
        ro.on_node = [&](const Node& n, const std::vector<Tensor>& outv) {
            for (size_t i = 0; i < n.outputs.size() && i < outv.size(); ++i)
                if (layer_index.count(n.outputs[i]) && is_float(outv[i].dtype()))
                    ref_vals[n.outputs[i]] = outv[i].clone();
        };
        EDGEQ_ASSIGN_OR_RETURN(auto ref_out, runtime::run_reference(ref, {{images->input_name(), x}}, ro));
        runtime::RunOptions mo;
        mo.on_node = [&](const Node& n, const std::vector<Tensor>& outv) {
            for (size_t i = 0; i < n.outputs.size() && i < outv.size(); ++i)
                if (wanted.count(n.outputs[i])) mod_vals[n.outputs[i]] = outv[i].clone();
        };
        auto mod_run = runtime::run_reference(mod, {{mod_input, x}}, mo);
        if (!mod_run.ok()) return Status(mod_run.status().code(), model_path + ": " + mod_run.status().message());
        const auto& mod_out = *mod_run;

        // Activations.
        for (auto& s : rep.layers) {
            const auto r = ref_vals.find(s.name);
            const Match& m = matches[s.name];
            const auto q = mod_vals.find(m.model_name);
            if (r == ref_vals.end() || q == mod_vals.end() || r->second.numel() != q->second.numel()) continue;
            std::vector<float> qv = q->second.to_f32();
            std::optional<std::pair<double, double>> range;
            const Tensor* qt = m.dequantize ? &q->second : nullptr;
            if (!m.qparams_node.empty()) {
                if (auto it = mod_vals.find(m.qparams_node); it != mod_vals.end()) qt = &it->second;
            }
            int64_t lo = 0, hi = 0;
            if (qt && int_range(qt->dtype(), lo, hi)) {
                const std::string& qname = m.dequantize ? m.model_name : m.qparams_node;
                if (auto qp = output_qparams(mod.graph, *mod_producer.at(qname))) {
                    if (m.dequantize)
                        for (auto& v : qv) v = (v - float(qp->zero_point)) * qp->scale;
                    const double half = 0.5 * qp->scale;
                    range = std::make_pair(double(lo - qp->zero_point) * qp->scale - half,
                                           double(hi - qp->zero_point) * qp->scale + half);
                    s.quantized = true;
                }
            }
            accumulate(s, r->second.to_f32(), qv, opts.extreme_threshold, range);
        }
        // Weights: once.
        if (start == 0)
            for (auto& s : rep.weights) {
                const Tensor& r = ref.graph.initializers.at(s.name);
                const Match& m = matches["\x01" + s.name];
                const Tensor* q = nullptr;
                if (auto it = mod_vals.find(m.model_name); it != mod_vals.end()) q = &it->second;
                else if (auto w = mod.graph.initializers.find(m.model_name); w != mod.graph.initializers.end())
                    q = &w->second;
                if (q && q->numel() == r.numel()) accumulate(s, r.to_f32(), q->to_f32(), opts.extreme_threshold, {});
            }
        // Outputs.
        for (size_t i = 0; i < outs.size(); ++i) {
            const auto r = ref_out.find(outs[i].name);
            const auto q = mod_out.find(outs[i].name);
            if (r == ref_out.end() || q == mod_out.end() || r->second.numel() != q->second.numel()) continue;
            const std::vector<float> rv = r->second.to_f32(), qv = q->second.to_f32();
            accumulate(outs[i], rv, qv, opts.extreme_threshold, {});
            for (float v : rv)
                if (std::isfinite(v)) peak[i] = std::max(peak[i], double(std::fabs(v)));
            const Tensor& rt = r->second;
            if (rt.rank() == 2 && rt.dim(1) > 1) {
                agree[i].classifier = true;
                const int64_t c = rt.dim(1);
                for (int64_t b = 0; b < nimg && b < rt.dim(0); ++b) {
                    const int64_t ra = argmax_row(rv, b, c), qa = argmax_row(qv, b, c);
                    agree_count[i] += ra == qa;
                    if (i == 0 && rep.has_labels) {
                        ref_correct += ra == labels[static_cast<size_t>(start + b)];
                        mod_correct += qa == labels[static_cast<size_t>(start + b)];
                    }
                }
            }
        }
        rep.samples += nimg;
        if (opts.progress) opts.progress(rep.samples, total);
    }

    for (size_t i = 0; i < outs.size(); ++i) {
        if (agree[i].classifier) agree[i].top1_agreement = rep.samples ? double(agree_count[i]) / double(rep.samples) : 0;
        const double mse = outs[i].mse();
        agree[i].psnr_db = mse > 0 ? 10.0 * std::log10(peak[i] * peak[i] / mse) : std::numeric_limits<double>::infinity();
    }
    if (rep.has_labels && rep.samples) {
        rep.ref_accuracy = double(ref_correct) / double(rep.samples);
        rep.accuracy = double(mod_correct) / double(rep.samples);
    }
    rep.outputs = std::move(outs);
    rep.agreement = std::move(agree);

    // First jump: among layers with at least one inexact matched input (the first quantized layer always
    // starts from exact inputs; its own SQNR is in the table).
    const double inf = std::numeric_limits<double>::infinity();
    rep.largest_drop_db = -inf;
    for (size_t idx : order) {
        const Node& n = ref.graph.nodes[idx];
        double in_sqnr = inf;
        for (const auto& in : n.inputs)
            if (auto it = layer_index.find(in); it != layer_index.end() && rep.layers[it->second].count)
                in_sqnr = std::min(in_sqnr, rep.layers[it->second].sqnr_db());
        for (const auto& o : n.outputs) {
            auto it = layer_index.find(o);
            if (it == layer_index.end() || !rep.layers[it->second].count || !std::isfinite(in_sqnr)) continue;
            const double drop = in_sqnr - rep.layers[it->second].sqnr_db();
            if (drop >= opts.jump_db && rep.first_jump.empty()) rep.first_jump = o, rep.first_jump_drop_db = drop;
            if (drop > rep.largest_drop_db) rep.largest_drop_db = drop, rep.largest_drop = o;
        }
    }

    for (const auto& s : rep.layers) report_tensor_problems(s, "activation", rep.problems);
    for (const auto& s : rep.outputs) report_tensor_problems(s, "output", rep.problems);
    return rep;
}

}  // namespace edgeq
