#include "passes/optimize.h"

#include <cmath>
#include <map>
#include <set>
#include <unordered_map>

#include "graph/names.h"
#include "runtime/ref/op.h"

namespace edgeq::passes {
namespace {

using graph::Graph;
using graph::Model;
using graph::Node;

constexpr const char* kEdgeqDomain = "com.edgeq";

// Who reads each value: node indices (a node reading a value twice is listed twice).
std::unordered_map<std::string, std::vector<size_t>> consumers_of(const Graph& g) {
    std::unordered_map<std::string, std::vector<size_t>> c;
    for (size_t i = 0; i < g.nodes.size(); ++i)
        for (const auto& in : g.nodes[i].inputs)
            if (!in.empty()) c[in].push_back(i);
    return c;
}

std::set<std::string> graph_outputs(const Graph& g) {
    std::set<std::string> s;
    for (const auto& o : g.outputs) s.insert(o.name);
    return s;
}

// Values read by subgraphs (If/Loop bodies may capture outer names): never rewritten away.
void collect_captured(const Graph& g, std::set<std::string>& out) {
    for (const auto& n : g.nodes)
        for (const auto& [k, a] : n.attrs) {
            std::vector<const Graph*> subs;
            if (a.g) subs.push_back(a.g.get());
            for (const auto& s : a.graphs) subs.push_back(s.get());
            for (const Graph* s : subs) {
                for (const auto& sn : s->nodes)
                    for (const auto& in : sn.inputs) out.insert(in);
                collect_captured(*s, out);
            }
        }
}

void rename_uses(Graph& g, const std::string& from, const std::string& to) {
    for (auto& n : g.nodes)
        for (auto& in : n.inputs)
            if (in == from) in = to;
}

bool is_nondeterministic(const Node& n) {
    static const std::set<std::string> ops = {"RandomNormal", "RandomUniform", "RandomNormalLike",
                                              "RandomUniformLike", "Multinomial", "Bernoulli",
                                              "If", "Loop", "Scan"};
    return ops.count(n.op_type) != 0;
}

// ---- 1. constant folding --------------------------------------------------------------------------

std::optional<Shape> static_shape(const Graph& g, const std::string& name) {
    if (auto it = g.initializers.find(name); it != g.initializers.end()) return it->second.shape();
    const graph::ValueInfo* vi = g.find_value_info(name);
    if (!vi || !vi->has_shape) return std::nullopt;
    Shape s;
    for (const auto& d : vi->shape) {
        if (d.value < 0) return std::nullopt;
        s.push_back(d.value);
    }
    return s;
}

Status fold_constants(Model& m, const OptimizeOptions& opts, OptimizeReport& rep) {
    Graph& g = m.graph;
    EDGEQ_ASSIGN_OR_RETURN(auto order, graph::topological_order(g));
    const auto outs = graph_outputs(g);
    std::vector<bool> removed(g.nodes.size(), false);
    for (size_t idx : order) {
        Node& n = g.nodes[idx];
        if (!n.domain.empty() || is_nondeterministic(n)) continue;
        std::vector<Tensor> results;
        if ((n.op_type == "Shape" || n.op_type == "Size") && !n.inputs.empty()) {
            auto s = static_shape(g, n.inputs[0]);
            if (!s) continue;
            if (n.op_type == "Size") {
                results.push_back(Tensor::from_vector<int64_t>(DType::I64, {}, {shape_numel(*s)}));
            } else {
                const int64_t r = static_cast<int64_t>(s->size());
                int64_t start = n.attr_i("start", 0), end = n.attr_i("end", r);
                if (start < 0) start += r;
                if (end < 0) end += r;
                start = std::clamp<int64_t>(start, 0, r);
                end = std::clamp<int64_t>(end, 0, r);
                std::vector<int64_t> dims(s->begin() + start, s->begin() + std::max(start, end));
                results.push_back(Tensor::from_vector<int64_t>(DType::I64, {static_cast<int64_t>(dims.size())}, dims));
            }
        } else {
            bool all_const = true;
            for (const auto& in : n.inputs)
                if (!in.empty() && !g.initializers.count(in)) all_const = false;
            if (!all_const) continue;
            if (opts.keep_weight_dequantize && n.op_type == "DequantizeLinear" && !n.inputs.empty()) {
                const DType t = g.initializers.at(n.inputs[0]).dtype();
                if (t == DType::I8 || t == DType::U8 || t == DType::I32) continue;
            }
            if (opts.keep_weight_dequantize && n.op_type == "Cast" && n.attr_i("to", 0) == 1 && n.inputs.size() == 1 &&
                n.outputs.size() == 1 && !outs.count(n.outputs[0])) {
                // fp16 / bf16 weights read only as B of Gemm / MatMul: the fast executor's half GEMM packs the halves
                // (other readers, e.g. a Conv a BatchNorm folds into, get the folded float copy)
                const DType t = g.initializers.at(n.inputs[0]).dtype();
                bool gemm_b_only = t == DType::F16 || t == DType::BF16;
                for (const Node& c : g.nodes)
                    for (size_t i = 0; i < c.inputs.size(); ++i)
                        if (c.inputs[i] == n.outputs[0] && !(i == 1 && (c.op_type == "Gemm" || c.op_type == "MatMul")))
                            gemm_b_only = false;
                if (gemm_b_only) continue;
            }
            const runtime::OpRow* row = runtime::find_ref_op(n.domain, n.op_type);
            if (!row) continue;
            runtime::OpContext ctx{n, m.opset(n.domain), {}, {}, {}};
            for (const auto& in : n.inputs) ctx.inputs.push_back(in.empty() ? nullptr : &g.initializers.at(in));
            ctx.outputs.resize(n.outputs.size());
            if (!row->fn(ctx).ok()) continue;  // leave it to run time (which will report the error)
            int64_t bytes = 0;
            bool complete = true;
            for (size_t i = 0; i < ctx.outputs.size(); ++i) {
                if (!n.outputs[i].empty() && ctx.outputs[i].empty_handle()) complete = false;
                if (!ctx.outputs[i].empty_handle()) bytes += static_cast<int64_t>(ctx.outputs[i].nbytes());
            }
            if (!complete || bytes > opts.max_folded_bytes) continue;
            results = std::move(ctx.outputs);
        }
        for (size_t i = 0; i < n.outputs.size() && i < results.size(); ++i) {
            if (!n.outputs[i].empty()) g.initializers[n.outputs[i]] = results[i];
        }
        removed[idx] = true;
        ++rep.constants_folded;
        rep.log.push_back("folded " + n.describe());
        (void)outs;
    }
    std::vector<Node> kept;
    for (size_t i = 0; i < g.nodes.size(); ++i)
        if (!removed[i]) kept.push_back(std::move(g.nodes[i]));
    g.nodes = std::move(kept);
    return Status::Ok();
}

// ---- 2. Identity / Dropout ------------------------------------------------------------------------

void remove_identity(Model& m, OptimizeReport& rep) {
    Graph& g = m.graph;
    const auto outs = graph_outputs(g);
    std::vector<Node> kept;
    for (auto& n : g.nodes) {
        bool drop = false;
        if (n.domain.empty() && (n.op_type == "Identity" || n.op_type == "Dropout") && !n.inputs.empty() &&
            !n.outputs.empty() && !outs.count(n.outputs[0])) {
            drop = true;
            if (n.op_type == "Dropout") {
                const auto uses = consumers_of(g);
                if (n.outputs.size() > 1 && !n.outputs[1].empty() && (uses.count(n.outputs[1]) || outs.count(n.outputs[1])))
                    drop = false;  // the mask is used
                if (n.inputs.size() > 2 && !n.inputs[2].empty()) {  // training_mode must be a constant false
                    auto it = g.initializers.find(n.inputs[2]);
                    if (it == g.initializers.end() || it->second.to_i64().at(0) != 0) drop = false;
                }
            }
        }
        if (drop) {
            rename_uses(g, n.outputs[0], n.inputs[0]);
            ++rep.identities_removed;
            rep.log.push_back("removed " + n.describe());
        } else {
            kept.push_back(std::move(n));
        }
    }
    g.nodes = std::move(kept);
}

// ---- 3. BatchNormalization folding ----------------------------------------------------------------

// A private copy of initializer `name` for node rewriting: a new name when something else also reads it, and
// always a new buffer (Tensor copies share buffers, so another copy of the model may hold the same one).
std::string own_initializer(Graph& g, const std::string& name, size_t uses) {
    if (uses <= 1) {
        g.initializers[name] = g.initializers.at(name).clone();
        return name;
    }
    std::string fresh = name + "_edgeq";
    while (g.initializers.count(fresh)) fresh += "_";
    g.initializers[fresh] = g.initializers.at(name).clone();
    return fresh;
}

bool all_initializers(const Graph& g, const Node& n, size_t from, size_t to) {
    for (size_t i = from; i < to; ++i)
        if (i >= n.inputs.size() || n.inputs[i].empty() || !g.initializers.count(n.inputs[i])) return false;
    return true;
}

void fold_batchnorm(Model& m, OptimizeReport& rep) {
    Graph& g = m.graph;
    for (bool changed = true; changed;) {
        changed = false;
        const auto uses = consumers_of(g);
        const auto outs = graph_outputs(g);
        std::map<std::string, size_t> producer;
        for (size_t i = 0; i < g.nodes.size(); ++i)
            for (const auto& o : g.nodes[i].outputs) producer[o] = i;
        for (size_t bi = 0; bi < g.nodes.size() && !changed; ++bi) {
            Node& bn = g.nodes[bi];
            if (!bn.domain.empty() || bn.op_type != "BatchNormalization" || bn.inputs.size() < 5) continue;
            if (bn.attr_i("training_mode", 0) != 0) continue;
            bool extra_outputs = false;
            for (size_t k = 1; k < bn.outputs.size(); ++k)
                if (!bn.outputs[k].empty()) extra_outputs = true;
            if (extra_outputs || !all_initializers(g, bn, 1, 5)) continue;
            auto pit = producer.find(bn.inputs[0]);
            if (pit == producer.end()) continue;
            Node& p = g.nodes[pit->second];
            const std::string& y = bn.inputs[0];
            if (!p.domain.empty() || uses.at(y).size() != 1 || outs.count(y)) continue;
            const bool conv = p.op_type == "Conv", convt = p.op_type == "ConvTranspose", gemm = p.op_type == "Gemm";
            if (!conv && !convt && !gemm) continue;
            if (p.inputs.size() < 2 || !g.initializers.count(p.inputs[1])) continue;
            if (p.inputs.size() > 2 && !p.inputs[2].empty() && !g.initializers.count(p.inputs[2])) continue;
            const Tensor& W0 = g.initializers.at(p.inputs[1]);
            if (W0.dtype() != DType::F32) continue;
            const auto scale = g.initializers.at(bn.inputs[1]).to_f32(), beta = g.initializers.at(bn.inputs[2]).to_f32();
            const auto mean = g.initializers.at(bn.inputs[3]).to_f32(), var = g.initializers.at(bn.inputs[4]).to_f32();
            const int64_t C = static_cast<int64_t>(scale.size());
            if (static_cast<int64_t>(beta.size()) != C || static_cast<int64_t>(mean.size()) != C ||
                static_cast<int64_t>(var.size()) != C)
                continue;
            const double eps = bn.attr_f("epsilon", 1e-5f);
            std::vector<float> s(static_cast<size_t>(C)), t(static_cast<size_t>(C));
            for (int64_t c = 0; c < C; ++c) {
                const double sc = static_cast<double>(scale[c]) / std::sqrt(static_cast<double>(var[c]) + eps);
                s[c] = static_cast<float>(sc);
                t[c] = static_cast<float>(static_cast<double>(beta[c]) - static_cast<double>(mean[c]) * sc);
            }
            // output-channel count and layout of W
            int64_t M = 0;
            bool transB = false;
            float alpha = 1, gbeta = 1;
            if (conv) M = W0.dim(0);
            if (convt) M = W0.dim(1) * p.attr_i("group", 1);
            if (gemm) {
                if (W0.rank() != 2) continue;
                transB = p.attr_i("transB", 0) != 0;
                alpha = p.attr_f("alpha", 1.f);
                gbeta = p.attr_f("beta", 1.f);
                M = transB ? W0.dim(0) : W0.dim(1);
            }
            if (M != C) continue;
            std::vector<float> bias(static_cast<size_t>(C), 0.f);
            if (p.inputs.size() > 2 && !p.inputs[2].empty()) {
                const Tensor& B = g.initializers.at(p.inputs[2]);
                if (B.numel() == C) {
                    bias = B.to_f32();
                } else if (gemm && B.numel() == 1) {
                    bias.assign(static_cast<size_t>(C), B.to_f32()[0]);
                } else {
                    continue;
                }
                if (gemm)
                    for (auto& b : bias) b *= gbeta;
            }
            // rewrite W
            const std::string wname = own_initializer(g, p.inputs[1], uses.at(p.inputs[1]).size());
            p.inputs[1] = wname;
            Tensor& W = g.initializers.at(wname);
            float* w = W.data<float>();
            if (conv) {
                const int64_t per = W.numel() / M;
                for (int64_t o = 0; o < M; ++o)
                    for (int64_t k = 0; k < per; ++k) w[o * per + k] *= s[static_cast<size_t>(o)];
            } else if (convt) {
                const int64_t group = p.attr_i("group", 1), cin = W.dim(0), mg = W.dim(1);
                const int64_t ks = W.numel() / (cin * mg);
                for (int64_t c = 0; c < cin; ++c) {
                    const int64_t grp = c / (cin / group);
                    for (int64_t j = 0; j < mg; ++j)
                        for (int64_t k = 0; k < ks; ++k) w[(c * mg + j) * ks + k] *= s[static_cast<size_t>(grp * mg + j)];
                }
            } else {
                const int64_t rows = W.dim(0), cols = W.dim(1);
                for (int64_t r = 0; r < rows; ++r)
                    for (int64_t c2 = 0; c2 < cols; ++c2) w[r * cols + c2] *= s[static_cast<size_t>(transB ? r : c2)] * alpha;
                p.attrs.erase("alpha");
                p.attrs.erase("beta");
            }
            for (int64_t c = 0; c < C; ++c) bias[c] = bias[c] * s[c] + t[c];
            std::string bname = p.outputs[0] + "_bias_edgeq";
            while (g.initializers.count(bname)) bname += "_";
            g.initializers[bname] = Tensor::from_vector<float>(DType::F32, {C}, bias);
            if (p.inputs.size() < 3) p.inputs.resize(3);
            p.inputs[2] = bname;
            p.outputs[0] = bn.outputs[0];
            rep.log.push_back("folded " + bn.describe() + " into " + p.describe());
            ++rep.batchnorms_folded;
            g.nodes.erase(g.nodes.begin() + static_cast<ptrdiff_t>(bi));
            changed = true;
        }
    }
}

// Conv followed by Add of a constant that is the same over the batch and the spatial positions (shape [M,1,1],
// [1,M,1,1], [1] or a scalar; what PyTorch exports for a bias=False conv plus a separate bias, and mnist-8's
// Conv -> Add(B)): the constant becomes (part of) the conv's bias, so the quantizer and the integer executor see
// one biased Conv. Exact in real arithmetic; the float sum b + t is rounded once, where the graph rounded
// (conv + b) + t after the accumulation (same as ONNX Runtime's ConvAddFusion).
void fold_conv_add(Model& m, OptimizeReport& rep) {
    Graph& g = m.graph;
    for (bool changed = true; changed;) {
        changed = false;
        const auto uses = consumers_of(g);
        const auto outs = graph_outputs(g);
        std::set<std::string> captured;
        collect_captured(g, captured);
        for (size_t i = 0; i < g.nodes.size() && !changed; ++i) {
            Node& p = g.nodes[i];
            if (!p.domain.empty() || p.op_type != "Conv" || p.outputs.empty() || p.inputs.size() < 2) continue;
            if (!g.initializers.count(p.inputs[1])) continue;
            const bool has_bias = p.inputs.size() > 2 && !p.inputs[2].empty();
            if (has_bias && !g.initializers.count(p.inputs[2])) continue;
            const std::string& y = p.outputs[0];
            auto u = uses.find(y);
            if (u == uses.end() || u->second.size() != 1 || outs.count(y) || captured.count(y)) continue;
            const size_t ci = u->second[0];
            const Node& c = g.nodes[ci];
            if (!c.domain.empty() || c.op_type != "Add" || c.inputs.size() != 2 || c.outputs.size() != 1) continue;
            const std::string& other = c.inputs[0] == y ? c.inputs[1] : c.inputs[0];
            auto it = g.initializers.find(other);
            if (it == g.initializers.end() || it->second.dtype() != DType::F32) continue;
            const Tensor& W = g.initializers.at(p.inputs[1]);
            const Tensor& T = it->second;
            if (W.dtype() != DType::F32 || W.rank() < 3) continue;
            const int64_t M = W.dim(0), r = W.rank(), k = T.rank();
            // Right-aligned broadcasting: T's last dims line up with the output's; only the channel axis (1) may
            // differ from 1, and T must not add axes the output lacks (that would change the output shape).
            if (k > r) continue;
            bool per_channel = true;
            for (int64_t d = 0; d < k; ++d) {
                const int64_t axis = r - k + d, n = T.dim(d);
                if (n != 1 && !(axis == 1 && n == M)) per_channel = false;
            }
            if (!per_channel) continue;
            const auto t = T.to_f32();
            std::vector<float> bias(static_cast<size_t>(M), 0.f);
            if (has_bias) {
                const Tensor& B = g.initializers.at(p.inputs[2]);
                if (B.dtype() != DType::F32 || B.numel() != M) continue;
                bias = B.to_f32();
            }
            for (int64_t o = 0; o < M; ++o) bias[static_cast<size_t>(o)] += t[t.size() == 1 ? 0 : static_cast<size_t>(o)];
            std::string bname = c.outputs[0] + "_bias_edgeq";
            while (g.initializers.count(bname)) bname += "_";
            g.initializers[bname] = Tensor::from_vector<float>(DType::F32, {M}, bias);
            if (p.inputs.size() < 3) p.inputs.resize(3);
            p.inputs[2] = bname;
            p.outputs[0] = c.outputs[0];
            rep.log.push_back("folded " + c.describe() + " into the bias of " + p.describe());
            ++rep.adds_folded;
            g.nodes.erase(g.nodes.begin() + static_cast<ptrdiff_t>(ci));
            changed = true;
        }
    }
}

// ---- 4. bias + activation fusion ------------------------------------------------------------------

struct Act {
    std::string name;
    std::vector<float> params;
};

std::optional<Act> activation_of(const Graph& g, const Node& n) {
    if (!n.domain.empty()) return std::nullopt;
    const std::string& op = n.op_type;
    if (op == "Relu" || op == "Sigmoid" || op == "Tanh" || op == "HardSwish") return Act{op, {}};
    if (op == "LeakyRelu") return Act{op, {n.attr_f("alpha", 0.01f)}};
    if (op == "HardSigmoid") return Act{op, {n.attr_f("alpha", 0.2f), n.attr_f("beta", 0.5f)}};
    if (op == "Clip") {
        float lo = -INFINITY, hi = INFINITY;
        if (n.has("min") || n.has("max")) {
            lo = n.attr_f("min", lo);
            hi = n.attr_f("max", hi);
        }
        for (size_t k = 1; k < n.inputs.size() && k < 3; ++k) {
            if (n.inputs[k].empty()) continue;
            auto it = g.initializers.find(n.inputs[k]);
            if (it == g.initializers.end() || it->second.dtype() != DType::F32 || it->second.numel() != 1) return std::nullopt;
            (k == 1 ? lo : hi) = it->second.to_f32()[0];
        }
        return Act{op, {lo, hi}};
    }
    return std::nullopt;
}

void set_activation(Node& n, const Act& a) {
    graph::Attribute s;
    s.kind = graph::Attribute::Kind::String;
    s.s = a.name;
    n.attrs["activation"] = s;
    graph::Attribute p;
    p.kind = graph::Attribute::Kind::Floats;
    p.floats = a.params;
    n.attrs["activation_params"] = p;
}

void fuse(Model& m, OptimizeReport& rep) {
    Graph& g = m.graph;
    const int64_t base_opset = m.opset("");
    auto to_fused = [&](Node& n) {
        if (n.domain == kEdgeqDomain) return;
        graph::Attribute o;
        o.kind = graph::Attribute::Kind::Int;
        o.i = base_opset;
        n.attrs["edgeq_opset"] = o;
        n.op_type = "Fused" + n.op_type;
        n.domain = kEdgeqDomain;
    };
    for (bool changed = true; changed;) {
        changed = false;
        const auto uses = consumers_of(g);
        const auto outs = graph_outputs(g);
        std::set<std::string> captured;
        collect_captured(g, captured);
        for (size_t i = 0; i < g.nodes.size() && !changed; ++i) {
            Node& p = g.nodes[i];
            const bool fusable = (p.domain.empty() && (p.op_type == "Conv" || p.op_type == "Gemm" || p.op_type == "MatMul")) ||
                                 (p.domain == kEdgeqDomain && !p.has("activation"));
            if (!fusable || p.outputs.empty()) continue;
            const std::string& y = p.outputs[0];
            auto u = uses.find(y);
            if (u == uses.end() || u->second.size() != 1 || outs.count(y) || captured.count(y)) continue;
            Node& c = g.nodes[u->second[0]];
            // MatMul + Add(constant bias over the last dim)
            const bool is_matmul = (p.domain.empty() && p.op_type == "MatMul") || (p.domain == kEdgeqDomain && p.op_type == "FusedMatMul");
            if (is_matmul && c.domain.empty() && c.op_type == "Add" && c.inputs.size() == 2 && p.inputs.size() == 2 &&
                g.initializers.count(p.inputs[1])) {
                const std::string& other = c.inputs[0] == y ? c.inputs[1] : c.inputs[0];
                auto it = g.initializers.find(other);
                const Tensor& B = g.initializers.at(p.inputs[1]);
                if (it != g.initializers.end() && it->second.dtype() == DType::F32 && it->second.rank() == 1 &&
                    B.rank() == 2 && it->second.dim(0) == B.dim(1)) {
                    to_fused(p);
                    p.inputs.push_back(other);
                    p.outputs[0] = c.outputs[0];
                    rep.log.push_back("fused bias " + c.describe() + " into " + p.describe());
                    ++rep.biases_fused;
                    g.nodes.erase(g.nodes.begin() + static_cast<ptrdiff_t>(u->second[0]));
                    changed = true;
                    continue;
                }
            }
            if (auto act = activation_of(g, c)) {
                to_fused(p);
                set_activation(p, *act);
                p.outputs[0] = c.outputs[0];
                rep.log.push_back("fused " + c.describe() + " into " + p.describe());
                ++rep.activations_fused;
                g.nodes.erase(g.nodes.begin() + static_cast<ptrdiff_t>(u->second[0]));
                changed = true;
            }
        }
    }
    bool any = false;
    for (const auto& n : g.nodes)
        if (n.domain == kEdgeqDomain) any = true;
    if (any) m.opsets[kEdgeqDomain] = 1;
}

// ---- 5. dead code ---------------------------------------------------------------------------------

void remove_dead(Model& m, OptimizeReport& rep) {
    Graph& g = m.graph;
    std::set<std::string> needed = graph_outputs(g);
    collect_captured(g, needed);
    std::vector<bool> live(g.nodes.size(), false);
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t i = g.nodes.size(); i-- > 0;) {
            if (live[i]) continue;
            bool used = false;
            for (const auto& o : g.nodes[i].outputs)
                if (!o.empty() && needed.count(o)) used = true;
            if (!used) continue;
            live[i] = true;
            changed = true;
            for (const auto& in : g.nodes[i].inputs) needed.insert(in);
        }
    }
    std::vector<Node> kept;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        if (live[i]) {
            kept.push_back(std::move(g.nodes[i]));
        } else {
            ++rep.dead_removed;
            rep.log.push_back("removed unused " + g.nodes[i].describe());
        }
    }
    g.nodes = std::move(kept);
    for (auto it = g.initializers.begin(); it != g.initializers.end();) {
        it = needed.count(it->first) ? std::next(it) : g.initializers.erase(it);
    }
}

// QLinearConv / QLinearMatMul / com.microsoft.QGemm with constant parameters become the equivalent
// DequantizeLinear -> Conv / MatMul / Gemm -> QuantizeLinear chain (weights and the int32 bias behind their own
// DequantizeLinear): the form the fast executor fuses into its integer kernels (and, without an integer
// executor, a float convolution instead of the reference integer loops). Same function up to the float
// rounding of the accumulation.
void expand_qoperator(Model& m, OptimizeReport& rep) {
    Graph& g = m.graph;
    graph::UniqueNames fresh(g);
    auto init = [&](const std::string& name) -> const Tensor* {
        auto it = g.initializers.find(name);
        return name.empty() || it == g.initializers.end() ? nullptr : &it->second;
    };
    auto in = [](const Node& n, size_t i) { return i < n.inputs.size() ? n.inputs[i] : std::string(); };
    auto node = [&](std::string op, const std::string& base, std::vector<std::string> ins, std::string out) {
        Node d;
        d.op_type = std::move(op);
        d.name = fresh(base);
        d.inputs = std::move(ins);
        while (!d.inputs.empty() && d.inputs.back().empty()) d.inputs.pop_back();
        d.outputs = {std::move(out)};
        return d;
    };
    auto axis_attr = [](int64_t a) {
        graph::Attribute at;
        at.kind = graph::Attribute::Kind::Int;
        at.i = a;
        return at;
    };
    std::vector<Node> out;
    for (auto& n : g.nodes) {
        const bool conv = n.domain.empty() && n.op_type == "QLinearConv";
        const bool mm = n.domain.empty() && n.op_type == "QLinearMatMul";
        const bool qgemm = n.domain == "com.microsoft" && n.op_type == "QGemm";
        if (!conv && !mm && !qgemm) {
            out.push_back(std::move(n));
            continue;
        }
        // input slots: x, x_scale, x_zp, w, w_scale, w_zp, [bias,] y_scale, y_zp
        const size_t ys_i = qgemm ? 7 : 6, yz_i = ys_i + 1;
        const std::string bias = conv ? in(n, 8) : qgemm ? in(n, 6) : std::string();
        const Tensor* xs = init(in(n, 1));
        const Tensor* ws = init(in(n, 4));
        const Tensor* w = init(in(n, 3));
        const bool y_quantized = !in(n, ys_i).empty();
        bool ok = xs && ws && w && xs->numel() == 1 && xs->dtype() == DType::F32 && ws->dtype() == DType::F32 &&
                  (ws->numel() == 1 || ws->rank() == 1) && (!y_quantized || init(in(n, ys_i))) &&
                  (bias.empty() || (init(bias) && init(bias)->dtype() == DType::I32 && init(bias)->rank() <= 1));
        if (qgemm) ok = ok && n.attr_i("transA", 0) == 0 && n.attr_f("alpha", 1.0f) == 1.0f && w->rank() == 2;
        if (!ok) {
            out.push_back(std::move(n));
            continue;
        }
        const bool trans_b = qgemm && n.attr_i("transB", 0) != 0;
        const int64_t w_axis = conv ? 0 : (trans_b ? 0 : 1);
        const std::string base = n.name.empty() ? n.op_type : n.name;
        const std::string xf = fresh(base + "_x_float"), wf = fresh(base + "_w_float"), yf = fresh(base + "_y_float");
        out.push_back(node("DequantizeLinear", base + "_x_dequantize", {in(n, 0), in(n, 1), in(n, 2)}, xf));
        Node dw = node("DequantizeLinear", base + "_w_dequantize", {in(n, 3), in(n, 4), in(n, 5)}, wf);
        if (ws->numel() != 1) dw.attrs["axis"] = axis_attr(w_axis);
        out.push_back(std::move(dw));
        std::string bf;
        if (!bias.empty()) {  // int32 bias on the x_scale * w_scale grid
            const float sx = xs->to_f32()[0];
            std::vector<float> bs = ws->to_f32();
            for (auto& v : bs) v *= sx;
            const std::string bs_name = fresh(base + "_bias_scale");
            g.initializers[bs_name] = bs.size() == 1 ? Tensor::scalar_f32(bs[0])
                                                     : Tensor::from_vector(DType::F32, {static_cast<int64_t>(bs.size())}, bs);
            bf = fresh(base + "_bias_float");
            Node db = node("DequantizeLinear", base + "_bias_dequantize", {bias, bs_name}, bf);
            if (bs.size() != 1) db.attrs["axis"] = axis_attr(0);
            out.push_back(std::move(db));
        }
        const std::string y = y_quantized ? yf : n.outputs[0];
        Node op;
        op.name = fresh(base + "_float");
        op.outputs = {y};
        if (conv) {
            op.op_type = "Conv";
            op.inputs = {xf, wf};
            if (!bf.empty()) op.inputs.push_back(bf);
            op.attrs = n.attrs;
        } else if (mm) {
            op.op_type = "MatMul";
            op.inputs = {xf, wf};
        } else {
            op.op_type = "Gemm";
            op.inputs = {xf, wf};
            if (!bf.empty()) op.inputs.push_back(bf);
            if (trans_b) op.attrs["transB"] = axis_attr(1);
        }
        out.push_back(std::move(op));
        if (y_quantized) out.push_back(node("QuantizeLinear", base + "_y_quantize", {yf, in(n, ys_i), in(n, yz_i)}, n.outputs[0]));
        ++rep.qoperators_expanded;
    }
    g.nodes = std::move(out);
    // A MaxPool that reads int8 bytes straight from a (per-tensor) QuantizeLinear, as QOperator files do, becomes
    // DequantizeLinear -> MaxPool -> QuantizeLinear with that scale and zero point: exact (max commutes with a
    // monotonic quantizer) and the pattern the fast executor runs on the bytes.
    std::map<std::string, std::pair<std::string, std::string>> quantized_by;  // value -> (scale, zero point)
    for (const auto& n : g.nodes)
        if (n.domain.empty() && n.op_type == "QuantizeLinear" && n.outputs.size() == 1 && init(in(n, 1)) &&
            init(in(n, 1))->numel() == 1 && !in(n, 2).empty() && init(in(n, 2)) && init(in(n, 2))->numel() == 1)
            quantized_by[n.outputs[0]] = {in(n, 1), in(n, 2)};
    std::vector<Node> pooled;
    for (auto& n : g.nodes) {
        auto it = n.domain.empty() && n.op_type == "MaxPool" && n.outputs.size() == 1 && !n.inputs.empty()
                      ? quantized_by.find(n.inputs[0])
                      : quantized_by.end();
        if (it == quantized_by.end()) {
            pooled.push_back(std::move(n));
            continue;
        }
        const auto [s, z] = it->second;
        const std::string base = n.name.empty() ? "MaxPool" : n.name;
        const std::string xf = fresh(base + "_x_float"), yf = fresh(base + "_y_float"), yq = n.outputs[0];
        pooled.push_back(node("DequantizeLinear", base + "_x_dequantize", {n.inputs[0], s, z}, xf));
        n.inputs[0] = xf;
        n.outputs[0] = yf;
        pooled.push_back(std::move(n));
        pooled.push_back(node("QuantizeLinear", base + "_y_quantize", {yf, s, z}, yq));
        ++rep.qoperators_expanded;
    }
    g.nodes = std::move(pooled);
}

}  // namespace

Result<OptimizeReport> optimize(Model& m, const OptimizeOptions& opts) {
    OptimizeReport rep;
    EDGEQ_RETURN_IF_ERROR(graph::verify(m.graph));
    if (opts.expand_qoperator) expand_qoperator(m, rep);
    if (opts.fold_constants) EDGEQ_RETURN_IF_ERROR(fold_constants(m, opts, rep));
    if (opts.remove_identity) remove_identity(m, rep);
    if (opts.fold_batchnorm) fold_batchnorm(m, rep);
    if (opts.fold_conv_add) fold_conv_add(m, rep);
    if (opts.fuse) fuse(m, rep);
    if (opts.remove_dead) remove_dead(m, rep);
    EDGEQ_RETURN_IF_ERROR(graph::verify(m.graph));
    return rep;
}

}  // namespace edgeq::passes
