#include "quant/ptq/ptq.h"

#include <algorithm>
#include <array>
#include <functional>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <regex>
#include <set>

#include "core/check.h"
#include "core/fp16.h"
#include "graph/names.h"
#include "passes/optimize.h"
#include "quant/ptq/awq.h"
#include "quant/ptq/equalize.h"
#include "quant/ptq/gptq.h"
#include "quant/ptq/observer.h"
#include "quant/ptq/qoperator.h"
#include "runtime/fast/executor.h"
#include "runtime/ref/executor.h"

namespace edgeq::quant::ptq {
namespace {

using graph::Attribute;
using graph::Graph;
using graph::Model;
using graph::Node;

// ---- graph helpers ---------------------------------------------------------------------------------------

const Tensor* f32_init(const Graph& g, const std::string& name) {
    auto it = g.initializers.find(name);
    if (it == g.initializers.end() || it->second.dtype() != DType::F32) return nullptr;
    return &it->second;
}

bool is_graph_output(const Graph& g, const std::string& name) {
    for (const auto& o : g.outputs)
        if (o.name == name) return true;
    return false;
}

std::vector<Node*> consumers(Graph& g, const std::string& value) {
    std::vector<Node*> r;
    for (auto& n : g.nodes)
        for (const auto& in : n.inputs)
            if (in == value) {
                r.push_back(&n);
                break;
            }
    return r;
}

using Namer = graph::UniqueNames;

Attribute attr_int(int64_t v) {
    Attribute a;
    a.kind = Attribute::Kind::Int;
    a.i = v;
    return a;
}

Node make_node(std::string op, std::string name, std::vector<std::string> ins, std::vector<std::string> outs) {
    Node n;
    n.op_type = std::move(op);
    n.name = std::move(name);
    n.inputs = std::move(ins);
    n.outputs = std::move(outs);
    return n;
}

// ---- which nodes ----------------------------------------------------------------------------------------

struct Target {
    size_t node = 0;           // index in graph.nodes at selection time
    std::string name, op;
    std::string weight;        // initializer name
    int64_t channel_axis = 0;  // output-channel axis of the weight
    int64_t reduce_axis = 1;   // input-channel (K / C) axis: blocked axis, importance axis
    std::string bias;          // initializer name, "" if none or not a float initializer of shape [OC]
    std::optional<QType> weights;  // --keep / --policy override of PtqOptions::weights for this node
};

// Why a node is not quantized ("" = it is).
std::string select(const Graph& g, const Node& n, Target& t) {
    if (!n.domain.empty()) return "not a default-domain op";
    t.name = n.name;
    t.op = n.op_type;
    if (n.op_type == "Conv") {
        const Tensor* w = n.inputs.size() > 1 ? f32_init(g, n.inputs[1]) : nullptr;
        if (!w) return "weight is not a float32 initializer";
        if (w->rank() < 3) return "weight rank " + std::to_string(w->rank());
        t.weight = n.inputs[1];
        t.channel_axis = 0;
        t.reduce_axis = 1;
        if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
            const Tensor* b = f32_init(g, n.inputs[2]);
            if (!b || b->rank() != 1 || b->dim(0) != w->dim(0)) return "bias is not a float32 [OC] initializer";
            t.bias = n.inputs[2];
        }
        return "";
    }
    if (n.op_type == "Gemm") {
        if (n.attr_i("transA", 0) != 0) return "transA = 1";
        if (n.attr_f("alpha", 1.0f) != 1.0f || n.attr_f("beta", 1.0f) != 1.0f) return "alpha or beta is not 1";
        const Tensor* w = n.inputs.size() > 1 ? f32_init(g, n.inputs[1]) : nullptr;
        if (!w || w->rank() != 2) return "B is not a rank-2 float32 initializer";
        t.weight = n.inputs[1];
        const bool tb = n.attr_i("transB", 0) != 0;
        t.channel_axis = tb ? 0 : 1;
        t.reduce_axis = tb ? 1 : 0;
        if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
            const Tensor* b = f32_init(g, n.inputs[2]);
            const int64_t N = w->dim(t.channel_axis);
            if (b && b->numel() == N && (b->rank() == 1 || (b->rank() == 2 && b->dim(0) == 1))) t.bias = n.inputs[2];
            else if (!b) return "C is not a float32 initializer";
        }
        return "";
    }
    if (n.op_type == "LSTM" || n.op_type == "GRU") {  // dynamic only: int8 W and R, float recurrence
        const Tensor* w = n.inputs.size() > 1 ? f32_init(g, n.inputs[1]) : nullptr;
        const Tensor* r = n.inputs.size() > 2 ? f32_init(g, n.inputs[2]) : nullptr;
        if (!w || !r || w->rank() != 3 || r->rank() != 3) return "W or R is not a rank-3 float32 initializer";
        t.weight = n.inputs[1];
        t.channel_axis = 1;  // gate rows
        t.reduce_axis = 2;
        return "";
    }
    if (n.op_type == "MatMul") {
        const Tensor* w = n.inputs.size() > 1 ? f32_init(g, n.inputs[1]) : nullptr;
        if (!w || w->rank() != 2) return "B is not a rank-2 float32 initializer";
        if (f32_init(g, n.inputs[0])) return "both inputs are constant";
        t.weight = n.inputs[1];
        t.channel_axis = 1;
        t.reduce_axis = 0;
        return "";
    }
    return "op not quantized";
}

bool excluded(const std::vector<std::regex>& ex, const Node& n) {
    for (const auto& re : ex) {
        if (!n.name.empty() && std::regex_search(n.name, re)) return true;
        for (const auto& o : n.outputs)
            if (!o.empty() && std::regex_search(o, re)) return true;
    }
    return false;
}

bool pass_through(const Node& n) {
    static const std::set<std::string> ops{"MaxPool", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze"};
    return n.domain.empty() && ops.count(n.op_type) != 0;
}

bool fusable_activation(const Node& n) {
    return n.domain.empty() && (n.op_type == "Relu" || n.op_type == "Clip");
}

// ---- calibration ----------------------------------------------------------------------------------------

// A model with extra graph outputs, run with the fast executor; plans are cached per input shape.
class Runner {
public:
    static Result<Runner> make(const Model& model, const std::vector<std::string>& tensors, int threads) {
        Runner r;
        r.m_ = model;
        std::set<std::string> outs;
        for (const auto& o : r.m_.graph.outputs) outs.insert(o.name);
        std::set<std::string> inputs;
        for (const auto& i : r.m_.graph.inputs) inputs.insert(i.name);
        for (const auto& t : tensors) {
            if (outs.count(t) || inputs.count(t)) continue;
            graph::ValueInfo vi;
            vi.name = t;
            if (const auto* v = r.m_.graph.find_value_info(t)) vi = *v;
            r.m_.graph.outputs.push_back(vi);
            outs.insert(t);
        }
        EDGEQ_ASSIGN_OR_RETURN(auto orep, passes::optimize(r.m_));
        (void)orep;
        r.po_.threads = threads > 0 ? threads : 1;
        return r;
    }
    Result<std::map<std::string, Tensor>> run(const CalibrationBatch& batch) {
        runtime::fast::Shapes shapes;
        std::vector<Shape> key;
        for (const auto& in : m_.graph.inputs) {
            auto it = batch.find(in.name);
            if (it == batch.end()) return InvalidArgument("calibration batch has no tensor for input '" + in.name + "'");
            shapes[in.name] = it->second.shape();
            key.push_back(it->second.shape());
        }
        auto& plan = plans_[key];
        if (!plan) {
            EDGEQ_ASSIGN_OR_RETURN(auto p, runtime::fast::plan(m_, shapes, po_));
            plan = std::make_unique<runtime::fast::Plan>(std::move(p));
        }
        return plan->run(batch);
    }

private:
    Model m_;
    runtime::fast::PlanOptions po_;
    std::map<std::vector<Shape>, std::unique_ptr<runtime::fast::Plan>> plans_;
};

// Receives one observed tensor of one calibration batch.
using TensorSink = std::function<Status(const std::string& name, const Tensor& value)>;

// Runs the float model on every calibration batch with `tensors` exposed as extra graph outputs and hands
// each to `sink` (which keeps bounded statistics: memory independent of the sample count).
Status calibrate(const Model& float_model, const CalibrationSource& src, const std::vector<std::string>& tensors,
                 const TensorSink& sink, int threads, PtqReport& rep) {
    EDGEQ_ASSIGN_OR_RETURN(auto runner, Runner::make(float_model, tensors, threads));
    int64_t batches = 0;
    for (;;) {
        EDGEQ_ASSIGN_OR_RETURN(auto batch, src());
        if (!batch) break;
        EDGEQ_ASSIGN_OR_RETURN(auto results, runner.run(*batch));
        for (const auto& t : tensors) {
            const Tensor* v = nullptr;
            if (auto it = results.find(t); it != results.end()) v = &it->second;
            else if (auto jt = batch->find(t); jt != batch->end()) v = &jt->second;
            if (!v) return Corrupt("calibration: tensor '" + t + "' was not produced");
            if (v->dtype() != DType::F32) return InvalidArgument("calibration: tensor '" + t + "' is not float32");
            EDGEQ_RETURN_IF_ERROR(sink(t, *v));
        }
        ++batches;
        if (rep.calib_batches == 0 || batches > rep.calib_batches) {  // count each sample once over passes
            rep.calib_batches = batches;
            const auto& first = batch->begin()->second;
            rep.calib_samples += first.rank() > 0 ? first.dim(0) : 1;
        }
    }
    if (batches == 0) return InvalidArgument("calibration data is empty (no batches)");
    return Status::Ok();
}

Status calibrate(const Model& float_model, const CalibrationSource& src, const std::vector<std::string>& tensors,
                 std::map<std::string, std::unique_ptr<Observer>>& obs, int threads, PtqReport& rep) {
    return calibrate(
        float_model, src, tensors,
        [&](const std::string& t, const Tensor& v) {
            Status s = obs.at(t)->observe({v.data<float>(), static_cast<size_t>(v.numel())});
            if (!s.ok()) return InvalidArgument("calibration tensor '" + t + "': " + s.message());
            return Status::Ok();
        },
        threads, rep);
}

// ---- rewriting helpers ------------------------------------------------------------------------------------

struct Rewriter {
    Model& m;
    Graph& g;
    Namer name;
    std::vector<Node> added;  // new nodes, appended by flush() (pushing earlier would move the nodes that
                              // callers hold references to); a topological re-sort follows
    explicit Rewriter(Model& model) : m(model), g(model.graph), name(model.graph) {}
    ~Rewriter() { flush(); }
    void flush() {
        for (auto& n : added) g.nodes.push_back(std::move(n));
        added.clear();
    }

    std::string add_init(const std::string& base, Tensor t) {
        const std::string n = name(base);
        g.initializers[n] = std::move(t);
        return n;
    }
};

Tensor scalar_tensor(DType dt, int32_t v) {
    const std::vector<int32_t> q{v};
    return pack_values(q, *qtype_from_dtype(dt), {});
}

// Q/DQ pair on activation `value` with params p; every consumer except `keep` rewired to the DQ output.
void insert_qdq(Rewriter& rw, const std::string& value, const QParams& p) {
    const std::string s = rw.add_init(value + "_scale", Tensor::scalar_f32(p.scale));
    const std::string z = rw.add_init(value + "_zero_point", scalar_tensor(to_dtype(p.type), p.zero_point));
    const std::string q = rw.name(value + "_quantized");
    const std::string dq = rw.name(value + "_dequantized");
    for (Node* c : consumers(rw.g, value))
        for (auto& in : c->inputs)
            if (in == value) in = dq;
    rw.added.push_back(make_node("QuantizeLinear", rw.name(value + "_QuantizeLinear"), {value, s, z}, {q}));
    rw.added.push_back(make_node("DequantizeLinear", rw.name(value + "_DequantizeLinear"), {q, s, z}, {dq}));
}

WeightQuantSpec weight_spec(const PtqOptions& o, const Target& t, const Tensor& w) {
    WeightQuantSpec s;
    s.type = t.weights.value_or(o.weights);
    s.granularity = o.granularity;
    s.symmetric = o.weight_symmetric;
    s.clip = o.clip;
    s.group = o.group;
    s.axis = o.granularity == Granularity::Group ? t.reduce_axis : t.channel_axis;
    s.importance_axis = t.reduce_axis;
    // ONNX blocks one axis only: a Conv whose input channels (per group) are fewer than the group, e.g. a
    // depthwise or first layer, would get one scale per handful of weights; such weights go per output channel.
    if (o.granularity == Granularity::Group && w.dim(t.reduce_axis) < o.group) {
        s.granularity = Granularity::Channel;
        s.axis = t.channel_axis;
    }
    return s;
}

std::string describe(const PtqOptions& o);
// With the node's --keep / --policy weight type.
std::string describe(const PtqOptions& o, const Target& t) {
    PtqOptions c = o;
    c.weights = t.weights.value_or(o.weights);
    return describe(c);
}

std::string describe(const PtqOptions& o) {
    std::string s = qtype_name(o.weights);
    s += o.granularity == Granularity::Tensor    ? " per-tensor"
         : o.granularity == Granularity::Channel ? " per-channel"
                                                 : " group " + std::to_string(o.group);
    s += o.weight_symmetric ? " sym" : " asym";
    if (o.clip == Clip::Mse) s += " mse-clip";
    return s;
}

int64_t tensor_bytes(const Tensor& t) { return static_cast<int64_t>(t.nbytes()); }

// Replaces input `slot` of node `n` (the float weight `wt`) by DequantizeLinear(r.q, r.scale, r.zero_point).
void emit_weight_dq(Rewriter& rw, Node& n, size_t slot, const Tensor& wt, const QuantizedWeight& r,
                    Granularity gran, QType type, PtqReport& rep) {
    const std::string w = n.inputs[slot];
    const std::string qn = rw.add_init(w + "_quantized", r.q);
    const std::string sn = rw.add_init(w + "_scale", r.scale);
    std::vector<std::string> ins{qn, sn};
    if (!r.zero_point_is_zero() || !is_signed(type)) ins.push_back(rw.add_init(w + "_zero_point", r.zero_point));
    const std::string dq = rw.name(w + "_dequantized");
    Node d = make_node("DequantizeLinear", rw.name(w + "_DequantizeLinear"), ins, {dq});
    if (gran != Granularity::Tensor) d.attrs["axis"] = attr_int(r.axis);
    if (gran == Granularity::Group) d.attrs["block_size"] = attr_int(r.block_size);
    rw.added.push_back(std::move(d));
    // Other readers of the float weight keep it; this node reads the dequantized one.
    n.inputs[slot] = dq;
    rep.weight_params += wt.numel();
    rep.weight_bytes_before += tensor_bytes(wt);
    rep.weight_bytes_after += tensor_bytes(r.q) + tensor_bytes(r.scale) + (ins.size() > 2 ? tensor_bytes(r.zero_point) : 0);
}

// Replaces initializer `weight` (input `slot` of node) by DQ(q, scale, zp); returns the quantized weight.
Result<QuantizedWeight> quantize_weight_input(Rewriter& rw, Node& n, size_t slot, const WeightQuantSpec& spec,
                                              std::span<const float> importance, PtqReport& rep) {
    const std::string w = n.inputs[slot];
    const Tensor wt = rw.g.initializers.at(w);
    auto qw = quantize_weight(wt, spec, importance);
    if (!qw.ok()) return Status(qw.status().code(), "weight '" + w + "' of " + n.describe() + ": " + qw.status().message());
    emit_weight_dq(rw, n, slot, wt, *qw, spec.granularity, spec.type, rep);
    return std::move(*qw);
}

// ---- GPTQ / AWQ helpers (rank-2 Gemm / MatMul weights) ------------------------------------------------

// The weight as W [rows = out, cols = K] row-major; `k_first`: stored [K, N] (MatMul B, Gemm transB = 0).
std::vector<float> to_out_in(const Tensor& w, bool k_first) {
    const float* p = w.data<float>();
    const int64_t d0 = w.dim(0), d1 = w.dim(1);
    if (!k_first) return std::vector<float>(p, p + d0 * d1);
    std::vector<float> r(static_cast<size_t>(d0 * d1));
    for (int64_t k = 0; k < d0; ++k)
        for (int64_t n = 0; n < d1; ++n) r[static_cast<size_t>(n * d0 + k)] = p[k * d1 + n];
    return r;
}

// DequantizeLinear inputs from the codes and parameters an AffineGroupQuantizer recorded for W [N, K], in the
// weight's stored layout (k_first: [K, N]); `deq` (W layout) becomes `dequantized`. Asymmetric codes u with
// zero z (unsigned) are stored signed as u - 2^(bits-1), z - 2^(bits-1): (q - zp) is unchanged.
QuantizedWeight weight_from_codes(const AffineGroupQuantizer& aq, int64_t N, int64_t K, bool k_first, QType type,
                                  bool symmetric, const std::vector<float>& deq) {
    const int64_t G = aq.groups_per_row();
    const int32_t off = symmetric ? 0 : (1 << (aq.bits() - 1));
    std::vector<int32_t> q(static_cast<size_t>(N * K));
    std::vector<float> dq(static_cast<size_t>(N * K));
    for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k) {
            const size_t at = static_cast<size_t>(k_first ? k * N + n : n * K + k);
            q[at] = aq.code(n, k) - off;
            dq[at] = deq[static_cast<size_t>(n * K + k)];
        }
    std::vector<float> sc;
    std::vector<int32_t> zp;
    Shape ss;
    QuantizedWeight r;
    if (aq.group() == 0) {  // per output channel
        for (int64_t n = 0; n < N; ++n) sc.push_back(aq.scale(n, 0)), zp.push_back(symmetric ? 0 : aq.zero(n, 0) - off);
        ss = {N};
        r.axis = k_first ? 1 : 0;
    } else if (k_first) {  // scale [G, N], blocked along axis 0
        for (int64_t g = 0; g < G; ++g)
            for (int64_t n = 0; n < N; ++n) sc.push_back(aq.scale(n, g)), zp.push_back(symmetric ? 0 : aq.zero(n, g) - off);
        ss = {G, N};
        r.axis = 0;
        r.block_size = aq.group();
    } else {  // scale [N, G], blocked along axis 1
        for (int64_t n = 0; n < N; ++n)
            for (int64_t g = 0; g < G; ++g) sc.push_back(aq.scale(n, g)), zp.push_back(symmetric ? 0 : aq.zero(n, g) - off);
        ss = {N, G};
        r.axis = 1;
        r.block_size = aq.group();
    }
    const Shape ws = k_first ? Shape{K, N} : Shape{N, K};
    r.q = pack_values(q, type, ws);
    r.scale = Tensor::from_vector(DType::F32, ss, sc);
    r.zero_point = pack_values(zp, type, ss);
    r.dequantized = Tensor::from_vector(DType::F32, ws, dq);
    return r;
}

// A 2-D Conv (group 1) seen as a matrix product: im2col patches [OH*OW, K], K in (kernel row, kernel column,
// input channel) order, so a run of `group` consecutive columns is `group` input channels at one kernel
// position: exactly a DequantizeLinear block along the weight's axis 1 when C is a multiple of the group.
struct ConvGeom {
    bool on = false;
    int64_t groups = 1;  // Conv group: c is the channels of one group; each group has its own GPTQ Hessian
    int64_t c = 0, kh = 0, kw = 0, sh = 1, sw = 1, dh = 1, dw = 1, ph0 = 0, pw0 = 0, ph1 = 0, pw1 = 0;
};

// The im2col rows of image `x` [C, H, W] (one row per output pixel), appended to `out`; returns the row count.
int64_t im2col(const ConvGeom& cg, const float* x, int64_t H, int64_t W, std::vector<float>& out) {
    const int64_t OH = (H + cg.ph0 + cg.ph1 - cg.dh * (cg.kh - 1) - 1) / cg.sh + 1;
    const int64_t OW = (W + cg.pw0 + cg.pw1 - cg.dw * (cg.kw - 1) - 1) / cg.sw + 1;
    if (OH <= 0 || OW <= 0) return 0;
    const int64_t K = cg.c * cg.kh * cg.kw;
    out.assign(static_cast<size_t>(OH * OW * K), 0.0f);
    for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
            float* row = out.data() + (oy * OW + ox) * K;
            for (int64_t i = 0; i < cg.kh; ++i) {
                const int64_t y = oy * cg.sh - cg.ph0 + i * cg.dh;
                if (y < 0 || y >= H) continue;
                for (int64_t j = 0; j < cg.kw; ++j) {
                    const int64_t xx = ox * cg.sw - cg.pw0 + j * cg.dw;
                    if (xx < 0 || xx >= W) continue;
                    float* dst = row + (i * cg.kw + j) * cg.c;
                    for (int64_t c = 0; c < cg.c; ++c) dst[c] = x[(c * H + y) * W + xx];
                }
            }
        }
    return OH * OW;
}

// DequantizeLinear inputs of a Conv weight [OC, C, kh, kw] from the codes of W [OC, K] in im2col order
// (ConvGeom); group: 0 (per output channel) or a divisor of C (blocks along axis 1).
QuantizedWeight conv_weight_from_codes(const AffineGroupQuantizer& aq, const Tensor& w, QType type, bool symmetric,
                                       const std::vector<float>& deq) {
    const int64_t OC = w.dim(0), C = w.dim(1), kh = w.dim(2), kw = w.dim(3), K = C * kh * kw;
    const int32_t off = symmetric ? 0 : (1 << (aq.bits() - 1));
    std::vector<int32_t> q(static_cast<size_t>(OC * K));
    std::vector<float> dq(static_cast<size_t>(OC * K));
    for (int64_t o = 0; o < OC; ++o)
        for (int64_t c = 0; c < C; ++c)
            for (int64_t p = 0; p < kh * kw; ++p) {
                const size_t at = static_cast<size_t>((o * C + c) * kh * kw + p);
                q[at] = aq.code(o, p * C + c) - off;
                dq[at] = deq[static_cast<size_t>(o * K + p * C + c)];
            }
    QuantizedWeight r;
    std::vector<float> sc;
    std::vector<int32_t> zp;
    Shape ss;
    if (aq.group() == 0) {
        for (int64_t o = 0; o < OC; ++o) sc.push_back(aq.scale(o, 0)), zp.push_back(symmetric ? 0 : aq.zero(o, 0) - off);
        ss = {OC};
        r.axis = 0;
    } else {
        const int64_t B = C / aq.group();
        for (int64_t o = 0; o < OC; ++o)
            for (int64_t b = 0; b < B; ++b)
                for (int64_t p = 0; p < kh * kw; ++p) {
                    const int64_t gi = p * B + b;  // group of columns [p*C + b*group, ...)
                    sc.push_back(aq.scale(o, gi));
                    zp.push_back(symmetric ? 0 : aq.zero(o, gi) - off);
                }
        ss = {OC, B, kh, kw};
        r.axis = 1;
        r.block_size = aq.group();
    }
    r.q = pack_values(q, type, w.shape());
    r.scale = Tensor::from_vector(DType::F32, ss, sc);
    r.zero_point = pack_values(zp, type, ss);
    r.dequantized = Tensor::from_vector(DType::F32, w.shape(), dq);
    return r;
}

// Streaming statistics of one target input [rows, K] (rows = every leading dimension; Conv: im2col rows).
struct InputStats {
    ConvGeom conv;
    int64_t k = 0;
    std::vector<std::unique_ptr<HessianAccumulator>> hessian;  // GPTQ: one per Conv group (else one)
    std::vector<double> sum_abs;                  // AWQ: sum |x| per channel
    int64_t rows = 0;
    std::vector<float> sample;                    // AWQ: the first `cap` rows
    int64_t sample_rows = 0, cap = 0;
    size_t bytes() const {
        return hessian.size() * static_cast<size_t>(k * k) * sizeof(double) + sum_abs.size() * sizeof(double) +
               sample.size() * sizeof(float);
    }
};

const Node* producer_of(const Graph& g, const std::string& v) {
    for (const auto& n : g.nodes)
        for (const auto& o : n.outputs)
            if (o == v) return &n;
    return nullptr;
}

// Folds a per-channel factor `inv_s` [K] on input 0 of `n` into the op producing it (Conv/Gemm/MatMul with a
// float weight it alone reads, directly or through a Relu, each value with this single consumer), else
// inserts Mul(x, inv_s) before n. Returns how.
std::string scale_input(Rewriter& rw, Node& n, const std::vector<float>& inv_s) {
    Graph& g = rw.g;
    const int64_t K = static_cast<int64_t>(inv_s.size());
    std::string v = n.inputs[0];
    auto single = [&](const std::string& x) { return !is_graph_output(g, x) && consumers(g, x).size() == 1; };
    const Node* p = single(v) ? producer_of(g, v) : nullptr;
    // A positive per-channel factor passes through Relu and (channel-wise, NCHW) MaxPool / AveragePool.
    for (int hop = 0; hop < 4 && p && p->domain.empty(); ++hop) {
        const bool pool = (p->op_type == "MaxPool" || p->op_type == "AveragePool") && n.op_type == "Conv";
        if (!(p->op_type == "Relu" || pool)) break;
        p = single(p->inputs[0]) ? producer_of(g, p->inputs[0]) : nullptr;
    }
    if (p && !(p->op_type == "Conv" || p->op_type == "Gemm" || p->op_type == "MatMul")) p = nullptr;
    Node* pn = p ? const_cast<Node*>(p) : nullptr;
    if (pn && pn->domain.empty() && (pn->op_type == "Conv" || pn->op_type == "Gemm" || pn->op_type == "MatMul") &&
        pn->inputs.size() > 1) {
        const Tensor* w = f32_init(g, pn->inputs[1]);
        int64_t axis = -1;
        if (w && pn->op_type == "Conv" && w->rank() >= 3 && pn->attr_i("group", 1) == 1) axis = 0;
        if (w && pn->op_type == "Gemm" && w->rank() == 2 && pn->attr_f("alpha", 1.0f) == 1.0f)
            axis = pn->attr_i("transB", 0) ? 0 : 1;
        if (w && pn->op_type == "MatMul" && w->rank() == 2) axis = 1;
        const Tensor* b = pn->op_type != "MatMul" && pn->inputs.size() > 2 && !pn->inputs[2].empty()
                              ? f32_init(g, pn->inputs[2]) : nullptr;
        const bool bias_ok = pn->op_type == "MatMul" || pn->inputs.size() < 3 || pn->inputs[2].empty() ||
                             (b && b->numel() == K && consumers(g, pn->inputs[2]).size() == 1 &&
                              (pn->op_type == "Conv" || pn->attr_f("beta", 1.0f) == 1.0f));
        if (axis >= 0 && w->dim(axis) == K && consumers(g, pn->inputs[1]).size() == 1 && bias_ok) {
            Tensor nw = w->clone();
            float* d = nw.data<float>();
            if (axis == 0) {
                const int64_t per = nw.numel() / K;
                for (int64_t c = 0; c < K; ++c)
                    for (int64_t i = 0; i < per; ++i) d[c * per + i] *= inv_s[static_cast<size_t>(c)];
            } else {
                const int64_t rows = w->dim(0);
                for (int64_t r = 0; r < rows; ++r)
                    for (int64_t c = 0; c < K; ++c) d[r * K + c] *= inv_s[static_cast<size_t>(c)];
            }
            g.initializers[pn->inputs[1]] = nw;
            if (b) {
                Tensor nb = b->clone();
                for (int64_t c = 0; c < K; ++c) nb.data<float>()[c] *= inv_s[static_cast<size_t>(c)];
                g.initializers[pn->inputs[2]] = nb;
            }
            return "scales folded into " + pn->describe();
        }
    }
    const std::string base = n.name.empty() ? n.outputs[0] : n.name;
    // Conv input [N, C, H, W]: the factor broadcasts as [C, 1, 1]
    Shape ss{K};
    if (n.op_type == "Conv")
        if (const Tensor* w = f32_init(g, n.inputs[1]))
            for (int64_t i = 2; i < w->rank(); ++i) ss.push_back(1);
    const std::string sn = rw.add_init(base + "_awq_inv_scale", Tensor::from_vector(DType::F32, ss, inv_s));
    const std::string out = rw.name(n.inputs[0] + "_awq_scaled");
    rw.added.push_back(make_node("Mul", rw.name(base + "_awq_Mul"), {n.inputs[0], sn}, {out}));
    n.inputs[0] = out;
    return "Mul inserted on the input";
}

// ---- opset ---------------------------------------------------------------------------------------------

// Default-domain ops whose meaning (not just their type list) changed at the given opset.
const std::map<std::string, std::vector<int64_t>>& breaking_changes() {
    static const std::map<std::string, std::vector<int64_t>> t{
        {"Squeeze", {13}},      {"Unsqueeze", {13}},    {"ReduceSum", {13}},       {"ReduceMean", {18}},
        {"ReduceMax", {18}},    {"ReduceMin", {18}},    {"ReduceProd", {18}},      {"ReduceL1", {18}},
        {"ReduceL2", {18}},     {"ReduceLogSum", {18}}, {"ReduceLogSumExp", {18}}, {"ReduceSumSquare", {18}},
        {"Split", {13}},        {"Pad", {11}},          {"Clip", {11}},            {"Slice", {10}},
        {"Resize", {11}},       {"Upsample", {10}},     {"TopK", {10}},            {"Dropout", {12}},
        {"Softmax", {13}},      {"LogSoftmax", {13}},   {"Hardmax", {13}},         {"Scatter", {11}},
        {"GroupNormalization", {21}},
    };
    return t;
}

Tensor i64_tensor(const std::vector<int64_t>& v) { return Tensor::from_vector(DType::I64, {static_cast<int64_t>(v.size())}, v); }

// Rewrites node `n` (opset `from`) into its form at the breaking change `v`, when the old meaning can be kept:
// attributes that became inputs move to initializers; Softmax-family axis coercion is kept when the axis is
// the last one. Returns false when it cannot (the caller reports the node).
bool upgrade_node(Graph& g, Namer& nm, Node& n, int64_t v, const std::map<std::string, int64_t>& ranks) {
    auto to_input = [&](const std::string& attr, size_t slot, bool required) {
        if (!n.has(attr)) return !required;
        const std::string in = nm((n.name.empty() ? n.outputs[0] : n.name) + "_" + attr);
        g.initializers[in] = i64_tensor(n.attr_ints(attr));
        n.attrs.erase(attr);
        if (n.inputs.size() < slot + 1) n.inputs.resize(slot + 1);
        n.inputs[slot] = in;
        return true;
    };
    const std::string& op = n.op_type;
    if (op == "Squeeze" || op == "Unsqueeze") return to_input("axes", 1, op == "Unsqueeze");
    if (op == "Split") return to_input("split", 1, false);
    if (op.rfind("Reduce", 0) == 0) {
        if (!to_input("axes", 1, false)) return false;
        return true;
    }
    if (op == "Softmax" || op == "LogSoftmax" || op == "Hardmax") {
        int64_t rank = -1;
        if (const auto* vi = g.find_value_info(n.inputs[0]); vi && vi->has_shape) rank = static_cast<int64_t>(vi->shape.size());
        else if (auto it = ranks.find(n.inputs[0]); it != ranks.end()) rank = it->second;
        if (rank < 0) return false;
        int64_t axis = n.attr_i("axis", 1);
        if (axis < 0) axis += rank;
        if (axis != rank - 1) return false;  // the old 2-D coercion over several axes has no 13+ equivalent
        n.attrs["axis"] = attr_int(axis);
        return true;
    }
    if (op == "Clip") {
        const std::string base = n.name.empty() ? n.outputs[0] : n.name;
        n.inputs.resize(3);
        if (n.has("min")) n.inputs[1] = nm(base + "_min"), g.initializers[n.inputs[1]] = Tensor::scalar_f32(n.attr_f("min", 0));
        if (n.has("max")) n.inputs[2] = nm(base + "_max"), g.initializers[n.inputs[2]] = Tensor::scalar_f32(n.attr_f("max", 0));
        n.attrs.erase("min");
        n.attrs.erase("max");
        while (!n.inputs.empty() && n.inputs.back().empty()) n.inputs.pop_back();
        return true;
    }
    if (op == "Pad" && v == 11) {
        if (n.attr_s("mode", "constant") != "constant" && n.has("value")) return false;
        const std::string base = n.name.empty() ? n.outputs[0] : n.name;
        const float value = n.attr_f("value", 0.0f);
        if (!to_input("pads", 1, true)) return false;
        if (value != 0.0f) {
            n.inputs.resize(3);
            n.inputs[2] = nm(base + "_value");
            g.initializers[n.inputs[2]] = Tensor::scalar_f32(value);
        }
        n.attrs.erase("value");
        return true;
    }
    if (op == "Slice" && v == 10) {
        if (!to_input("starts", 1, true) || !to_input("ends", 2, true)) return false;
        if (n.has("axes")) to_input("axes", 3, false);
        return true;
    }
    return false;
}

Status upgrade_graph(Graph& g, int64_t from, int64_t to, const std::map<std::string, int64_t>& ranks) {
    Namer nm(g);
    for (auto& n : g.nodes) {
        if (n.domain.empty()) {
            auto it = breaking_changes().find(n.op_type);
            if (it != breaking_changes().end())
                for (int64_t v : it->second)
                    if (from < v && v <= to && !upgrade_node(g, nm, n, v, ranks)) {
                        return Unsupported(n.describe() + " changed meaning at opset " + std::to_string(v) +
                                           " and cannot be rewritten; the model (opset " + std::to_string(from) +
                                           ") cannot be raised to opset " + std::to_string(to) +
                                           " that the quantized ops need");
                    }
        }
        for (auto& [k, a] : n.attrs) {
            if (a.g) EDGEQ_RETURN_IF_ERROR(upgrade_graph(*a.g, from, to, ranks));
            for (auto& sg : a.graphs)
                if (sg) EDGEQ_RETURN_IF_ERROR(upgrade_graph(*sg, from, to, ranks));
        }
    }
    return Status::Ok();
}

Status resort(Graph& g) {
    EDGEQ_ASSIGN_OR_RETURN(auto order, graph::topological_order(g));
    std::vector<Node> sorted;
    sorted.reserve(g.nodes.size());
    for (size_t i : order) sorted.push_back(std::move(g.nodes[i]));
    g.nodes = std::move(sorted);
    return graph::verify(g);
}

void drop_unused_initializers(Graph& g) {
    std::set<std::string> used;
    std::function<void(const Graph&)> collect = [&](const Graph& sg) {
        for (const auto& n : sg.nodes) {
            for (const auto& i : n.inputs) used.insert(i);
            for (const auto& [k, a] : n.attrs) {
                if (a.g) collect(*a.g);
                for (const auto& s : a.graphs)
                    if (s) collect(*s);
            }
        }
    };
    collect(g);
    for (const auto& o : g.outputs) used.insert(o.name);
    for (auto it = g.initializers.begin(); it != g.initializers.end();) {
        if (!used.count(it->first)) it = g.initializers.erase(it);
        else ++it;
    }
}

// ---- methods ------------------------------------------------------------------------------------------

// The value whose range the output Q/DQ of target node `n` should cover: the output of a Relu/Clip that is
// the node's only consumer, else the node's output.
std::string output_point(Graph& g, const Node& n) {
    const std::string y = n.outputs[0];
    if (is_graph_output(g, y)) return y;
    auto cs = consumers(g, y);
    if (cs.size() == 1 && fusable_activation(*cs[0])) return cs[0]->outputs[0];
    return y;
}

// Does some consumer of v (directly or through pass-through ops) belong to `targets`?
bool feeds_target(Graph& g, const std::string& v, const std::set<std::string>& target_names, int depth = 0) {
    if (depth > 16) return false;
    for (Node* c : consumers(g, v)) {
        if (target_names.count(c->name) && c->inputs[0] == v) return true;
        if (pass_through(*c) && c->inputs[0] == v && feeds_target(g, c->outputs[0], target_names, depth + 1))
            return true;
    }
    return false;
}

// Single-input ops the runtime runs on quantized bytes when DequantizeLinear / QuantizeLinear surround them
// (runtime/fast/qfuse.cpp: AveragePool as qavgpool, elementwise ops as a 256-entry table, qlut_u8): "integer
// islands" between two quantized layers. (Relu / Clip are not here: output_point folds them into the layer.)
bool island_op(const Node& n) {
    static const std::set<std::string> ops{"AveragePool", "Tanh",     "Sigmoid",  "LeakyRelu", "HardSigmoid",
                                           "HardSwish",   "Elu",      "Selu",     "Celu",      "Gelu",
                                           "Softplus",    "Softsign", "Mish"};
    return n.domain.empty() && n.inputs.size() == 1 && n.outputs.size() == 1 && ops.count(n.op_type) != 0;
}

// Does v reach a target's input through a chain of pass-through and island ops in which every value has a
// single consumer (and is no graph output)? Appends the island outputs met on the way to `islands`.
bool feeds_target_via_islands(Graph& g, const std::string& v, const std::set<std::string>& target_names,
                              std::vector<std::string>& islands, int depth = 0) {
    if (depth > 16 || is_graph_output(g, v)) return false;
    const auto cs = consumers(g, v);
    if (cs.size() != 1 || cs[0]->inputs.empty() || cs[0]->inputs[0] != v) return false;
    const Node& c = *cs[0];
    if (target_names.count(c.name)) return true;
    const bool island = island_op(c);
    if ((!island && !pass_through(c)) || c.outputs.empty()) return false;
    if (!feeds_target_via_islands(g, c.outputs[0], target_names, islands, depth + 1)) return false;
    if (island) islands.push_back(c.outputs[0]);
    return true;
}

bool is_rnn(const Node& n) {
    return n.op_type == "LSTM" || n.op_type == "GRU";
}

// LSTM / GRU (dynamic and static alike): int8 W and R (one scale per gate row, or per tensor) behind
// DequantizeLinear; X, the states and B stay float (ai.onnx has no integer LSTM/GRU). edgeq's fast RNN step
// runs such a node with int8 products (runtime/fast/rnn.h), ONNX Runtime's DynamicQuantizeLSTM semantics.
Status quantize_rnn_weights(Rewriter& rw, Node& n, const Target& t, const PtqOptions& o, PtqReport& rep) {
    WeightQuantSpec spec;
    spec.type = QType::I8;
    spec.granularity = o.granularity == Granularity::Tensor ? Granularity::Tensor : Granularity::Channel;
    spec.symmetric = o.weight_symmetric;
    spec.axis = 1;
    spec.importance_axis = 2;
    int64_t params = 0;
    for (size_t slot : {size_t{1}, size_t{2}}) {
        params += rw.m.graph.initializers.at(n.inputs[slot]).numel();
        EDGEQ_ASSIGN_OR_RETURN(auto qw, quantize_weight_input(rw, n, slot, spec, {}, rep));
        (void)qw;
    }
    rep.nodes.push_back({n.name, n.op_type, t.weight, describe(o) + " W and R (per gate row), activations int8 at run time", params});
    return Status::Ok();
}

Status run_static(Model& m, std::vector<Target>& targets, const PtqOptions& o, const CalibrationSource& calib,
                  PtqReport& rep) {
    Graph& g = m.graph;
    // Name every target node so that `feeds_target` can find them.
    Namer nm(g);
    for (auto& t : targets) {
        Node& n = g.nodes[t.node];
        if (n.name.empty()) n.name = nm(n.op_type + "_" + n.outputs[0]);
        t.name = n.name;
    }
    std::set<std::string> target_names;  // LSTM / GRU: weights only, their inputs and outputs stay float
    for (const auto& t : targets)
        if (!is_rnn(g.nodes[t.node])) target_names.insert(t.name);
    // Activation tensors: each target's input, and its output point when another target reads it.
    std::vector<std::string> acts;
    std::set<std::string> seen;
    auto want = [&](const std::string& v) {
        if (seen.insert(v).second) acts.push_back(v);
    };
    for (const auto& t : targets) {
        const Node& n = g.nodes[t.node];
        if (is_rnn(n) || f32_init(g, n.inputs[0])) continue;
        want(n.inputs[0]);
    }
    for (const auto& t : targets) {
        const Node& n = g.nodes[t.node];
        if (is_rnn(n)) continue;
        const std::string y = output_point(g, n);
        if (o.keep_io_float && is_graph_output(g, y)) continue;
        if (feeds_target(g, y, target_names)) {
            want(y);
            continue;
        }
        // Conv -> Tanh -> AveragePool -> Conv: Q/DQ on the layer's output and on each island's output (each
        // observed on its own), so the runtime keeps the whole chain on bytes (requantize, table, integer
        // pool). The island nearest the target (islands[0]) is followed by pass-through ops only: the target's
        // own input Q/DQ closes it (DQ -> AveragePool -> Flatten -> Q runs as one step), so it gets none.
        std::vector<std::string> islands;
        if (!feeds_target_via_islands(g, y, target_names, islands) || islands.empty()) continue;
        want(y);
        for (size_t i = islands.size(); i-- > 1;) want(islands[i]);
    }
    // A target input reached from another quantized tensor through pass-through ops only (MaxPool, Flatten,
    // Reshape, ...) shares that tensor's parameters: those ops never widen the value range, and equal
    // parameters let the runtime keep the data in int8 across them.
    std::map<std::string, const Node*> producer;
    for (const auto& n : g.nodes)
        for (const auto& out : n.outputs) producer[out] = &n;
    std::map<std::string, std::string> alias;
    for (const auto& a : acts) {
        std::string v = a;
        for (int depth = 0; depth < 16; ++depth) {
            auto it = producer.find(v);
            if (it == producer.end() || !pass_through(*it->second)) break;
            v = it->second->inputs[0];
            if (seen.count(v) && !alias.count(v)) {
                alias[a] = v;
                break;
            }
        }
    }
    // Integer Concat / Add (the runtime's qconcat and qadd, runtime/fast/qfuse.h): when the output of a Concat
    // or of an Add (after its Relu) is quantized, Q/DQ also goes on each input that a target layer
    // writes for it alone. A Concat's inputs take the output's parameters (the output's range is the union of
    // theirs, so nothing is clipped) and the concatenation runs on the bytes; an Add's inputs are observed on
    // their own (ONNX Runtime's QLinearAdd).
    {
        std::set<std::string> layer_outs;
        for (const auto& t : targets)
            if (!is_rnn(g.nodes[t.node])) layer_outs.insert(output_point(g, g.nodes[t.node]));
        auto root = [&](std::string v) {
            for (auto it = alias.find(v); it != alias.end(); it = alias.find(v)) v = it->second;
            return v;
        };
        for (const auto& n : g.nodes) {
            const bool cat = n.op_type == "Concat", add = n.op_type == "Add";
            if (!n.domain.empty() || (!cat && !add) || n.outputs.size() != 1 || (add && n.inputs.size() != 2)) continue;
            std::string point = n.outputs[0];
            if (add) {
                auto cs = consumers(g, point);
                if (cs.size() == 1 && !is_graph_output(g, point) && cs[0]->domain.empty() && cs[0]->op_type == "Relu")
                    point = cs[0]->outputs[0];
            }
            if (!seen.count(point)) continue;
            bool all = true;
            for (const auto& v : n.inputs)
                all = all && layer_outs.count(v) && consumers(g, v).size() == 1 && !is_graph_output(g, v);
            if (!all) continue;
            for (const auto& v : n.inputs) {
                if (seen.count(v)) continue;
                want(v);
                if (cat) alias[v] = root(point);
            }
        }
    }
    std::vector<std::string> observed;
    for (const auto& a : acts)
        if (!alias.count(a)) observed.push_back(a);
    std::map<std::string, std::unique_ptr<Observer>> obs;
    for (const auto& a : observed) {
        EDGEQ_ASSIGN_OR_RETURN(auto ob, make_observer(o.calibrator, *o.acts, o.act_symmetric));
        obs[a] = std::move(ob);
    }
    if (!calib) return InvalidArgument("static quantization needs calibration data (--calib)");
    EDGEQ_RETURN_IF_ERROR(calibrate(m, calib, observed, obs, o.threads, rep));
    for (const auto& [k, ob] : obs) rep.observer_bytes += ob->memory_bytes();

    Rewriter rw(m);
    std::map<std::string, QParams> params;
    for (const auto& a : observed) params[a] = obs.at(a)->params();
    for (const auto& [a, from] : alias) params[a] = params.at(from);
    // Weights and biases first (node indices are still valid), then the activation pairs.
    for (auto& t : targets) {
        Node& n = g.nodes[t.node];
        if (is_rnn(n)) {
            EDGEQ_RETURN_IF_ERROR(quantize_rnn_weights(rw, n, t, o, rep));
            continue;
        }
        const QParams& px = params.count(n.inputs[0]) ? params.at(n.inputs[0]) : QParams{};
        const bool x_quantized = params.count(n.inputs[0]) != 0;
        EDGEQ_ASSIGN_OR_RETURN(auto qw, quantize_weight_input(rw, n, 1, weight_spec(o, t, g.initializers.at(t.weight)), {}, rep));
        std::string how = describe(o, t) + ", acts " + qtype_name(*o.acts) + " " + o.calibrator;
        if (!t.bias.empty() && x_quantized && o.granularity != Granularity::Group) {
            // int32 bias, scale = x_scale * w_scale (per output channel), zero point 0.
            const Tensor& b = g.initializers.at(t.bias);
            const auto bv = b.to_f32();
            const auto ws = qw.scale.to_f32();
            const int64_t N = static_cast<int64_t>(bv.size());
            std::vector<float> bs(static_cast<size_t>(ws.size() == 1 ? 1 : N));
            std::vector<int32_t> bq(static_cast<size_t>(N));
            bool overflow = false;
            for (int64_t c = 0; c < N; ++c) {
                const float s = px.scale * ws[ws.size() == 1 ? 0 : static_cast<size_t>(c)];
                if (ws.size() != 1 || c == 0) bs[ws.size() == 1 ? 0 : static_cast<size_t>(c)] = s;
                const double r = std::nearbyint(static_cast<double>(bv[static_cast<size_t>(c)]) / s);
                if (std::fabs(r) > 2147483647.0) overflow = true;
                bq[static_cast<size_t>(c)] = static_cast<int32_t>(std::clamp(r, -2147483648.0, 2147483647.0));
            }
            if (!overflow) {
                const std::string qn = rw.add_init(t.bias + "_quantized", Tensor::from_vector(DType::I32, b.shape(), bq));
                const std::string sn = rw.add_init(
                    t.bias + "_scale", ws.size() == 1 ? Tensor::scalar_f32(bs[0])
                                                      : Tensor::from_vector(DType::F32, {N}, bs));
                const std::string dq = rw.name(t.bias + "_dequantized");
                Node d = make_node("DequantizeLinear", rw.name(t.bias + "_DequantizeLinear"), {qn, sn}, {dq});
                if (ws.size() != 1) d.attrs["axis"] = attr_int(0);
                n.inputs[2] = dq;
                rw.added.push_back(std::move(d));
                how += ", bias int32";
            } else {
                rep.log.push_back(n.describe() + ": bias kept float (int32 bias would overflow)");
            }
        }
        rep.nodes.push_back({n.name, n.op_type, t.weight, how, qw.q.numel()});
    }
    for (const auto& a : acts) insert_qdq(rw, a, params.at(a));
    return Status::Ok();
}

Status run_dynamic(Model& m, std::vector<Target>& targets, const PtqOptions& o, PtqReport& rep) {
    Graph& g = m.graph;
    Rewriter rw(m);
    std::map<std::string, std::array<std::string, 3>> dql;  // activation -> (q, scale, zp) outputs
    std::vector<Node> added;
    for (auto& t : targets) {
        Node& n = g.nodes[t.node];
        if (n.op_type == "LSTM" || n.op_type == "GRU") {
            EDGEQ_RETURN_IF_ERROR(quantize_rnn_weights(rw, n, t, o, rep));
            continue;
        }
        const std::string x = n.inputs[0];
        if (f32_init(g, x)) continue;
        const std::string base = n.name.empty() ? n.outputs[0] : n.name;
        // Weight as the integer op wants it: MatMulInteger B [K, N]; ConvInteger W as Conv's.
        Tensor w = g.initializers.at(t.weight);
        WeightQuantSpec spec = weight_spec(o, t, g.initializers.at(t.weight));
        if (n.op_type == "Gemm" && t.channel_axis == 0) {  // transB = 1: transpose to [K, N]
            const int64_t N = w.dim(0), K = w.dim(1);
            Tensor wt(DType::F32, {K, N});
            const float* src = w.data<float>();
            float* dst = wt.data<float>();
            for (int64_t i = 0; i < N; ++i)
                for (int64_t k = 0; k < K; ++k) dst[k * N + i] = src[i * K + k];
            w = wt;
            spec.axis = 1;
            spec.importance_axis = 0;
        }
        auto qw = quantize_weight(w, spec);
        if (!qw.ok()) return Status(qw.status().code(), "weight '" + t.weight + "' of " + n.describe() + ": " + qw.status().message());
        const std::string qn = rw.add_init(t.weight + "_quantized", qw->q);
        std::vector<std::string> ins;
        auto it = dql.find(x);
        if (it == dql.end()) {
            std::array<std::string, 3> outs{rw.name(x + "_quantized"), rw.name(x + "_scale"), rw.name(x + "_zero_point")};
            added.push_back(make_node("DynamicQuantizeLinear", rw.name(x + "_DynamicQuantizeLinear"), {x},
                                      {outs[0], outs[1], outs[2]}));
            it = dql.emplace(x, outs).first;
        }
        const auto& [xq, xs, xz] = it->second;
        const bool per_channel = o.granularity == Granularity::Channel;
        std::string wz;
        if (!qw->zero_point_is_zero()) wz = rw.add_init(t.weight + "_zero_point", qw->zero_point);
        const std::string acc = rw.name(base + "_int32");
        Node core = make_node(n.op_type == "Conv" ? "ConvInteger" : "MatMulInteger", rw.name(base + "_integer"),
                              {xq, qn, xz}, {acc});
        if (!wz.empty()) core.inputs.push_back(wz);
        if (n.op_type == "Conv") core.attrs = n.attrs;
        added.push_back(std::move(core));
        const std::string accf = rw.name(base + "_int32_float");
        Node cast = make_node("Cast", rw.name(base + "_cast"), {acc}, {accf});
        cast.attrs["to"] = attr_int(1);
        added.push_back(std::move(cast));
        // Scale: x_scale * w_scale, shaped to broadcast over the channel axis of the output.
        Tensor ws = qw->scale;
        if (per_channel && n.op_type == "Conv") {
            Shape s{ws.numel()};
            for (int64_t i = 2; i < w.rank(); ++i) s.push_back(1);
            ws = ws.reshaped(s);
        }
        const std::string wsn = rw.add_init(t.weight + "_scale", ws);
        const std::string sc = rw.name(base + "_scale");
        added.push_back(make_node("Mul", rw.name(base + "_scale_mul"), {xs, wsn}, {sc}));
        const bool has_bias = n.op_type != "MatMul" && n.inputs.size() > 2 && !n.inputs[2].empty();
        const std::string y = n.outputs[0];
        const std::string scaled = has_bias ? rw.name(base + "_scaled") : y;
        added.push_back(make_node("Mul", rw.name(base + "_output_mul"), {accf, sc}, {scaled}));
        if (has_bias) {
            std::string b = n.inputs[2];
            if (n.op_type == "Conv") {
                Tensor bt = g.initializers.at(b);
                Shape s{bt.numel()};
                for (int64_t i = 2; i < w.rank(); ++i) s.push_back(1);
                b = rw.add_init(b + "_reshaped", bt.reshaped(s));
            }
            added.push_back(make_node("Add", rw.name(base + "_bias_add"), {scaled, b}, {y}));
        }
        rep.weight_params += w.numel();
        rep.weight_bytes_before += tensor_bytes(w);
        rep.weight_bytes_after += tensor_bytes(qw->q) + tensor_bytes(qw->scale) + (wz.empty() ? 0 : tensor_bytes(qw->zero_point));
        rep.nodes.push_back({n.name, n.op_type, t.weight, describe(o) + ", acts uint8 dynamic (per tensor)", w.numel()});
        n.op_type.clear();  // removed below
    }
    std::erase_if(g.nodes, [](const Node& n) { return n.op_type.empty(); });
    for (auto& a : added) g.nodes.push_back(std::move(a));
    return Status::Ok();
}

Status run_weight_only(Model& m, std::vector<Target>& targets, const PtqOptions& o, const CalibrationSource& calib,
                       PtqReport& rep) {
    Graph& g = m.graph;
    const bool research = o.gptq || o.awq;
    const char* mname = o.gptq ? "gptq" : "awq";
    // Which targets get GPTQ / AWQ: Gemm, MatMul, and 2-D Conv with group 1 (im2col view).
    std::vector<InputStats> per_target(targets.size());
    std::map<std::string, std::vector<size_t>> readers;  // target input -> targets with statistics on it
    std::vector<bool> research_target(targets.size(), false);
    if (research) {
        for (size_t i = 0; i < targets.size(); ++i) {
            const Target& t = targets[i];
            const Node& n = g.nodes[t.node];
            const Tensor& w = g.initializers.at(t.weight);
            if (f32_init(g, n.inputs[0])) continue;
            InputStats& st = per_target[i];
            int64_t K = 0;
            if (n.op_type == "Conv") {
                std::string why;
                if (w.rank() != 4) why = std::string(mname) + " handles 2-D Conv only";
                else if (o.awq && n.attr_i("group", 1) != 1) why = "awq handles Conv with group 1 only";
                else if (n.attr_i("group", 1) < 1 || w.dim(0) % n.attr_i("group", 1) != 0)
                    why = std::string(mname) + ": group does not divide the output channels";
                else if (n.attr_s("auto_pad", "NOTSET") != "NOTSET") why = std::string(mname) + " needs explicit pads (auto_pad)";
                else if (o.granularity == Granularity::Group && w.dim(1) >= o.group && w.dim(1) % o.group != 0)
                    why = std::string(mname) + " groups need the input channels (" + std::to_string(w.dim(1)) +
                          ") to be a multiple of " + std::to_string(o.group);
                if (!why.empty()) {
                    rep.log.push_back(n.describe() + ": " + why + " (round-to-nearest)");
                    continue;
                }
                ConvGeom& cg = st.conv;
                cg.on = true;
                cg.groups = n.attr_i("group", 1);
                cg.c = w.dim(1);
                cg.kh = w.dim(2);
                cg.kw = w.dim(3);
                const auto st2 = n.has("strides") ? n.attr_ints("strides") : std::vector<int64_t>{1, 1};
                const auto di = n.has("dilations") ? n.attr_ints("dilations") : std::vector<int64_t>{1, 1};
                const auto pa = n.has("pads") ? n.attr_ints("pads") : std::vector<int64_t>{0, 0, 0, 0};
                if (st2.size() != 2 || di.size() != 2 || pa.size() != 4)
                    return InvalidArgument(n.describe() + ": strides/dilations/pads do not match a 2-D kernel");
                cg.sh = st2[0], cg.sw = st2[1], cg.dh = di[0], cg.dw = di[1];
                cg.ph0 = pa[0], cg.pw0 = pa[1], cg.ph1 = pa[2], cg.pw1 = pa[3];
                K = cg.c * cg.kh * cg.kw;
            } else {
                K = w.dim(t.reduce_axis);
            }
            if (o.gptq && K > o.max_hessian_k) {
                rep.log.push_back(n.describe() + ": gptq skipped, K = " + std::to_string(K) + " > " +
                                  std::to_string(o.max_hessian_k) + " (round-to-nearest)");
                continue;
            }
            readers[n.inputs[0]].push_back(i);
            st.k = K;
            if (o.gptq && st.hessian.empty())
                for (int64_t gi = 0; gi < st.conv.groups; ++gi) st.hessian.push_back(std::make_unique<HessianAccumulator>(K));
            if (o.awq && st.sum_abs.empty()) {
                st.sum_abs.assign(static_cast<size_t>(K), 0.0);
                st.cap = std::max<int64_t>(o.awq_sample_rows, 1);
            }
            research_target[i] = true;
        }
        if (!readers.empty()) {
            if (!calib) return InvalidArgument(std::string("--") + mname + " needs calibration data (--calib)");
            std::vector<std::string> names;
            for (const auto& [k, v] : readers) names.push_back(k);
            std::vector<float> patches;
            auto add = [&](const std::string& name, InputStats& st, const float* p, int64_t rows,
                           int64_t group) -> Status {
                    if (!st.hessian.empty()) {
                        Status s = st.hessian[static_cast<size_t>(group)]->add(p, rows, st.k);
                        if (!s.ok()) return InvalidArgument("calibration tensor '" + name + "': " + s.message());
                    }
                    if (!st.sum_abs.empty()) {
                        for (int64_t r = 0; r < rows; ++r)
                            for (int64_t c = 0; c < st.k; ++c) st.sum_abs[static_cast<size_t>(c)] += std::fabs(p[r * st.k + c]);
                        st.rows += rows;
                        const int64_t take = std::min(rows, st.cap - st.sample_rows);
                        if (take > 0) {
                            st.sample.insert(st.sample.end(), p, p + take * st.k);
                            st.sample_rows += take;
                        }
                    }
                    return Status::Ok();
            };
            auto observe = [&](const std::string& name, const Tensor& x) -> Status {
                    for (size_t i : readers.at(name)) {
                        InputStats& st = per_target[i];
                        if (st.conv.on) {
                            const int64_t C = st.conv.c * st.conv.groups;
                            if (x.rank() != 4 || x.dim(1) != C)
                                return InvalidArgument("calibration tensor '" + name + "': expected [N, " +
                                                       std::to_string(C) + ", H, W]");
                            const int64_t H = x.dim(2), W = x.dim(3);
                            for (int64_t b = 0; b < x.dim(0); ++b)
                                for (int64_t gi = 0; gi < st.conv.groups; ++gi) {  // group gi's channel planes
                                    const float* xg = x.data<float>() + (b * C + gi * st.conv.c) * H * W;
                                    const int64_t rows = im2col(st.conv, xg, H, W, patches);
                                    EDGEQ_RETURN_IF_ERROR(add(name, st, patches.data(), rows, gi));
                                }
                            continue;
                        }
                        if (x.rank() < 1 || x.dim(x.rank() - 1) != st.k)
                            return InvalidArgument("calibration tensor '" + name + "': last dimension is not " +
                                                   std::to_string(st.k));
                        EDGEQ_RETURN_IF_ERROR(add(name, st, x.data<float>(), x.numel() / st.k, 0));
                    }
                    return Status::Ok();
            };
            EDGEQ_RETURN_IF_ERROR(calibrate(m, calib, names, observe, o.threads, rep));
            for (const auto& v : per_target) rep.observer_bytes += v.bytes();
        }
    }
    Rewriter rw(m);
    // Reverse order: AWQ folds a layer's input scales into the producing layer, which must still be float.
    for (size_t i = targets.size(); i-- > 0;) {
        Target& t = targets[i];
        Node& n = g.nodes[t.node];
        if (!research_target[i]) {
            EDGEQ_ASSIGN_OR_RETURN(auto qw, quantize_weight_input(rw, n, 1, weight_spec(o, t, g.initializers.at(t.weight)), {}, rep));
            rep.nodes.push_back({n.name, n.op_type, t.weight, describe(o, t) + ", acts float", qw.q.numel()});
            continue;
        }
        const InputStats& st = per_target[i];
        const Tensor w = g.initializers.at(t.weight);
        const bool k_first = t.reduce_axis == 0;
        const bool conv = st.conv.on;
        const int64_t K = st.k, N = w.dim(t.channel_axis);
        std::vector<float> wm;
        if (conv) {  // [OC, C, kh, kw] -> [OC, K] in im2col order
            const int64_t C = st.conv.c, P = st.conv.kh * st.conv.kw;
            wm.resize(static_cast<size_t>(N * K));
            for (int64_t oc = 0; oc < N; ++oc)
                for (int64_t c = 0; c < C; ++c)
                    for (int64_t p = 0; p < P; ++p)
                        wm[static_cast<size_t>(oc * K + p * C + c)] = w.data<float>()[(oc * C + c) * P + p];
        } else {
            wm = to_out_in(w, k_first);
        }
        // Group layout as quantize_weight's (weight_spec): groups along the input channels; fewer input channels
        // than the group -> per output channel.
        const int64_t kin = conv ? st.conv.c : K;
        const int64_t group = o.granularity == Granularity::Group && kin >= o.group ? o.group : 0;
        const Granularity gran = group ? Granularity::Group : Granularity::Channel;
        const QType wtype = t.weights.value_or(o.weights);
        AffineGroupQuantizer aq(bits(wtype), group, o.weight_symmetric, N, K);
        std::vector<float> deq;
        PtqOptions od = o;
        od.clip = Clip::None;  // the research quantizer does not use the clipping search
        std::string how = describe(od, t) + ", acts float, ";
        if (o.gptq) {
            GptqOptions go;
            go.n_threads = std::max(o.threads, 1);
            // A grouped / depthwise Conv: each group's output rows see only that group's input channels, so
            // each is its own GPTQ problem (its rows, its Hessian); the quantizer's rows are offset to match.
            const int64_t G = static_cast<int64_t>(st.hessian.size()), rows_g = N / G;
            const GroupQuantizer all = aq.callbacks();
            deq.assign(static_cast<size_t>(N * K), 0.0f);
            double damp = 0;
            int64_t dead = 0;
            for (int64_t gi = 0; gi < G; ++gi) {
                const int64_t r0 = gi * rows_g;
                GroupQuantizer part = all;
                if (G > 1) {
                    part.fit = [&all, r0](int64_t row, int64_t grp, std::span<const float> v, std::span<const float> imp) {
                        all.fit(row + r0, grp, v, imp);
                    };
                    part.round = [&all, r0](int64_t row, int64_t col, float v) { return all.round(row + r0, col, v); };
                }
                const std::span<const float> wg(wm.data() + r0 * K, static_cast<size_t>(rows_g * K));
                auto r = gptq_quantize(wg, rows_g, K, st.hessian[static_cast<size_t>(gi)]->hessian(), part, go);
                if (!r.ok())
                    return Status(r.status().code(), n.describe() + ": gptq" +
                                                         (G > 1 ? " (group " + std::to_string(gi) + ")" : std::string()) +
                                                         ": " + r.status().message());
                std::copy(r->dequant.begin(), r->dequant.end(), deq.begin() + r0 * K);
                damp = std::max(damp, r->percdamp_used);
                dead += r->dead_columns;
            }
            how += "gptq (damp " + std::to_string(damp) + ", " + std::to_string(dead) + " dead columns" +
                   (G > 1 ? ", " + std::to_string(G) + " conv groups" : std::string()) + ")";
        } else {
            if (st.rows == 0) return InvalidArgument(n.describe() + ": awq: no calibration rows");
            std::vector<float> mean(static_cast<size_t>(K));
            for (int64_t c = 0; c < K; ++c)
                mean[static_cast<size_t>(c)] = static_cast<float>(st.sum_abs[static_cast<size_t>(c)] / static_cast<double>(st.rows));
            if (conv) {
                // The scale divides the layer's input channel by channel, so it must be one value per input
                // channel for every kernel position (im2col column p·C + c): the mean |x| of channel c over all
                // positions (padding zeros included, as the layer sees them).
                const int64_t C = st.conv.c, P = st.conv.kh * st.conv.kw;
                for (int64_t c = 0; c < C; ++c) {
                    double sum = 0;
                    for (int64_t p = 0; p < P; ++p) sum += mean[static_cast<size_t>(p * C + c)];
                    for (int64_t p = 0; p < P; ++p) mean[static_cast<size_t>(p * C + c)] = static_cast<float>(sum / static_cast<double>(P));
                }
            }
            AwqOptions ao;
            ao.n_threads = std::max(o.threads, 1);
            ao.auto_clip = o.clip == Clip::Mse;  // AWQ's own clipping search stands in for --clip mse
            auto r = awq_search(wm, N, K, mean, st.sample, st.sample_rows, aq.callbacks(), ao);
            if (!r.ok()) return Status(r.status().code(), n.describe() + ": awq: " + r.status().message());
            deq = std::move(r->dequant);
            // per input channel (Conv: the scales are tied across kernel positions; column c is position 0)
            std::vector<float> inv(static_cast<size_t>(conv ? st.conv.c : K));
            for (size_t c = 0; c < inv.size(); ++c) inv[c] = 1.0f / r->scales[c];
            char buf[128];
            std::snprintf(buf, sizeof buf, "awq (alpha %.2f, %ssample loss %.4g -> %.4g), ", r->alpha,
                          r->clip.empty() ? "" : "auto-clip, ", r->loss_rtn, r->loss);
            // alpha 0: every scale is 1, nothing to fold
            bool identity = true;
            for (float v : inv) identity = identity && v == 1.0f;
            how += buf + (identity ? std::string("no scaling") : scale_input(rw, n, inv));
        }
        const QuantizedWeight qw = conv ? conv_weight_from_codes(aq, w, wtype, o.weight_symmetric, deq)
                                        : weight_from_codes(aq, N, K, k_first, wtype, o.weight_symmetric, deq);
        emit_weight_dq(rw, n, 1, w, qw, gran, wtype, rep);
        rep.nodes.push_back({n.name, n.op_type, t.weight, how, qw.q.numel()});
    }
    std::reverse(rep.nodes.begin(), rep.nodes.end());
    return Status::Ok();
}

Status run_half(Model& m, std::vector<Target>& targets, DType half, PtqReport& rep) {
    Graph& g = m.graph;
    Rewriter rw(m);
    std::map<std::string, std::string> converted;  // float initializer -> Cast output
    for (auto& t : targets) {
        Node& n = g.nodes[t.node];
        for (size_t slot = 1; slot < n.inputs.size(); ++slot) {
            const std::string in = n.inputs[slot];
            const Tensor* w = in.empty() ? nullptr : f32_init(g, in);
            if (!w) continue;
            auto it = converted.find(in);
            if (it == converted.end()) {
                const auto v = w->to_f32();
                Tensor h(half, w->shape());
                auto* p = h.data<uint16_t>();
                for (size_t i = 0; i < v.size(); ++i) p[i] = half == DType::F16 ? f32_to_fp16(v[i]) : f32_to_bf16(v[i]);
                const std::string hn = rw.add_init(in + (half == DType::F16 ? "_fp16" : "_bf16"), h);
                const std::string out = rw.name(in + "_float");
                Node c = make_node("Cast", rw.name(in + "_Cast"), {hn}, {out});
                c.attrs["to"] = attr_int(1);
                rw.added.push_back(std::move(c));
                rep.weight_params += w->numel();
                rep.weight_bytes_before += tensor_bytes(*w);
                rep.weight_bytes_after += tensor_bytes(h);
                it = converted.emplace(in, out).first;
            }
            g.nodes[t.node].inputs[slot] = it->second;
        }
        const Node& nn = g.nodes[t.node];
        rep.nodes.push_back({nn.name, nn.op_type, t.weight, std::string(dtype_name(half)) + " weights, compute float32",
                             g.initializers.count(t.weight) ? g.initializers.at(t.weight).numel() : 0});
    }
    return Status::Ok();
}

// ---- cross-layer equalization --------------------------------------------------------------------------

// The equalization view of a Conv / Gemm / MatMul weight, when it has one (see cross_layer_equalize).
std::optional<WeightShape> eq_shape(Graph& g, const Node& n) {
    if (!n.domain.empty() || n.inputs.size() < 2) return std::nullopt;
    const Tensor* w = f32_init(g, n.inputs[1]);
    if (!w || consumers(g, n.inputs[1]).size() != 1) return std::nullopt;
    WeightShape s;
    if (n.op_type == "Conv") {
        if (w->rank() < 3) return std::nullopt;
        for (int64_t i = 2; i < w->rank(); ++i) s.spatial *= w->dim(i);
        const int64_t group = n.attr_i("group", 1);
        s.out_channels = w->dim(0);
        if (group == 1) {
            s.in_channels = w->dim(1);
        } else if (group == w->dim(0) && w->dim(1) == 1) {
            s.in_channels = w->dim(0);
            s.layout = WeightLayout::kDepthwise;
        } else {
            return std::nullopt;
        }
    } else if (n.op_type == "Gemm") {
        if (w->rank() != 2 || n.attr_i("transA", 0) != 0 || n.attr_f("alpha", 1.0f) != 1.0f ||
            n.attr_f("beta", 1.0f) != 1.0f)
            return std::nullopt;
        const bool tb = n.attr_i("transB", 0) != 0;
        s.out_channels = w->dim(tb ? 0 : 1);
        s.in_channels = w->dim(tb ? 1 : 0);
        s.layout = tb ? WeightLayout::kOutIn : WeightLayout::kInOut;
    } else if (n.op_type == "MatMul") {
        if (w->rank() != 2) return std::nullopt;
        s.in_channels = w->dim(0);
        s.out_channels = w->dim(1);
        s.layout = WeightLayout::kInOut;
    } else {
        return std::nullopt;
    }
    if (n.op_type != "MatMul" && n.inputs.size() > 2 && !n.inputs[2].empty()) {
        const Tensor* b = f32_init(g, n.inputs[2]);
        if (!b || b->numel() != s.out_channels || consumers(g, n.inputs[2]).size() != 1) return std::nullopt;
    }
    return s;
}

// The layer that reads `a`'s output through Relu [-> MaxPool] (each value with one consumer), or -1.
int64_t eq_next(Graph& g, const Node& a) {
    std::string v = a.outputs[0];
    auto single = [&](const std::string& x) -> Node* {
        if (is_graph_output(g, x)) return nullptr;
        auto cs = consumers(g, x);
        return cs.size() == 1 ? cs[0] : nullptr;
    };
    Node* r = single(v);
    if (!r || !r->domain.empty() || r->op_type != "Relu") return -1;
    v = r->outputs[0];
    Node* b = single(v);
    if (b && b->domain.empty() && b->op_type == "MaxPool" && b->outputs.size() == 1) {
        v = b->outputs[0];
        b = single(v);
    }
    if (!b || b->inputs.empty() || b->inputs[0] != v) return -1;
    return b - g.nodes.data();
}

}  // namespace

Result<int64_t> cross_layer_equalize(Model& m, std::vector<std::string>& log) {
    Graph& g = m.graph;
    const size_t count = g.nodes.size();
    std::vector<std::optional<WeightShape>> shapes(count);
    for (size_t i = 0; i < count; ++i) shapes[i] = eq_shape(g, g.nodes[i]);
    std::vector<int64_t> next(count, -1);
    std::vector<bool> has_prev(count, false);
    for (size_t i = 0; i < count; ++i) {
        if (!shapes[i]) continue;
        const int64_t j = eq_next(g, g.nodes[i]);
        if (j < 0 || !shapes[static_cast<size_t>(j)]) continue;
        if (shapes[static_cast<size_t>(j)]->in_channels != shapes[i]->out_channels) continue;
        next[i] = j;
        has_prev[static_cast<size_t>(j)] = true;
    }
    int64_t pairs = 0;
    for (size_t i = 0; i < count; ++i) {
        if (has_prev[i] || next[i] < 0) continue;
        std::vector<LayerWeights> layers;
        std::string names;
        for (int64_t j = static_cast<int64_t>(i); j >= 0; j = next[static_cast<size_t>(j)]) {
            Node& n = g.nodes[static_cast<size_t>(j)];
            LayerWeights lw;
            lw.shape = *shapes[static_cast<size_t>(j)];
            Tensor w = g.initializers.at(n.inputs[1]).clone();  // copies of a Model share buffers
            g.initializers[n.inputs[1]] = w;
            lw.weight = {w.data<float>(), static_cast<size_t>(w.numel())};
            if (n.op_type != "MatMul" && n.inputs.size() > 2 && !n.inputs[2].empty()) {
                Tensor b = g.initializers.at(n.inputs[2]).clone();
                g.initializers[n.inputs[2]] = b;
                lw.bias = {b.data<float>(), static_cast<size_t>(b.numel())};
            }
            layers.push_back(lw);
            names += (names.empty() ? "" : " -> ") + n.describe();
        }
        EDGEQ_ASSIGN_OR_RETURN(auto er, equalize_chain(layers));
        pairs += static_cast<int64_t>(layers.size()) - 1;
        log.push_back("equalize: " + names + " (" + std::to_string(er.iterations) + " sweeps" +
                      (er.converged ? "" : ", not converged") + ")");
    }
    return pairs;
}

namespace {

// ---- bias correction -----------------------------------------------------------------------------------

CalibrationSource replay(std::shared_ptr<std::vector<CalibrationBatch>> v);

// Empirical bias correction: b -= mean(y_q - y_fp) per output channel of each target, over the calibration
// data, y_q from the quantized model `q` (all layers quantized), y_fp from the prepared float model `fp`. The
// targets are corrected in graph order, one calibration pass each.
Status correct_biases(Model& q, const Model& fp, const std::vector<std::string>& names,
                      const std::shared_ptr<std::vector<CalibrationBatch>>& held, int threads, PtqReport& rep) {
    Graph& g = q.graph;
    auto find = [](Graph& gr, const std::string& name) -> Node* {
        for (auto& n : gr.nodes)
            if (n.name == name) return &n;
        return nullptr;
    };
    Model fpc = fp;
    struct Item {
        std::string name, y;
        int64_t channels = 0;
        bool conv = false;
        std::unique_ptr<BiasCorrectionAccumulator> acc;
    };
    std::vector<Item> items;
    for (const auto& name : names) {
        Node* n = find(g, name);
        Node* f = find(fpc.graph, name);
        if (!n || !f) continue;
        if (n->op_type == "MatMul") {
            rep.log.push_back(n->describe() + ": no bias correction for MatMul (no bias input)");
            continue;
        }
        if (n->op_type != "Conv" && n->op_type != "Gemm") continue;
        const Tensor& w = fpc.graph.initializers.at(f->inputs[1]);
        Item it;
        it.name = name;
        it.y = n->outputs[0];
        it.conv = n->op_type == "Conv";
        it.channels = it.conv ? w.dim(0) : w.dim(f->attr_i("transB", 0) ? 0 : 1);
        it.acc = std::make_unique<BiasCorrectionAccumulator>(it.channels);
        items.push_back(std::move(it));
    }
    if (items.empty()) return Status::Ok();
    Rewriter rw(q);
    for (auto& it : items) {
        // Layers in order, each measured with the layers before it already corrected (measuring all at once
        // would correct the upstream shift twice: in the upstream layer and again downstream).
        EDGEQ_ASSIGN_OR_RETURN(auto rq, Runner::make(q, {it.y}, threads));
        EDGEQ_ASSIGN_OR_RETURN(auto rf, Runner::make(fpc, {it.y}, threads));
        const CalibrationSource calib = replay(held);
        for (;;) {
            EDGEQ_ASSIGN_OR_RETURN(auto batch, calib());
            if (!batch) break;
            EDGEQ_ASSIGN_OR_RETURN(auto oq, rq.run(*batch));
            EDGEQ_ASSIGN_OR_RETURN(auto of, rf.run(*batch));
            auto ia = oq.find(it.y), ib = of.find(it.y);
            if (ia == oq.end() || ib == of.end()) return Corrupt("bias correction: tensor '" + it.y + "' was not produced");
            const Tensor& yq = ia->second;
            const Tensor& yf = ib->second;
            if (yq.dtype() != DType::F32 || yf.dtype() != DType::F32 || yq.numel() != yf.numel() || yq.rank() < 2)
                return Corrupt("bias correction: tensor '" + it.y + "' differs between the float and quantized models");
            const int64_t outer = it.conv ? yq.dim(0) : yq.numel() / it.channels;
            const int64_t inner = it.conv ? yq.numel() / (outer * it.channels) : 1;
            EDGEQ_RETURN_IF_ERROR(it.acc->add({yf.data<float>(), static_cast<size_t>(yf.numel())},
                                              {yq.data<float>(), static_cast<size_t>(yq.numel())}, outer, inner));
        }
        Node* n = find(g, it.name);
        const std::vector<double> d = it.acc->mean_error();
        double mx = 0;
        for (double v : d) mx = std::max(mx, std::fabs(v));
        const std::string b = n->inputs.size() > 2 ? n->inputs[2] : "";
        const Node* p = b.empty() ? nullptr : producer_of(g, b);
        if (b.empty()) {  // no bias: a new one
            Tensor nb(DType::F32, {it.channels});
            EDGEQ_RETURN_IF_ERROR(it.acc->apply({nb.data<float>(), static_cast<size_t>(it.channels)}));
            n->inputs.resize(3);
            n->inputs[2] = rw.add_init((n->name.empty() ? n->outputs[0] : n->name) + "_bias_corrected", nb);
        } else if (const Tensor* fb = f32_init(g, b)) {
            Tensor nb = fb->clone();
            EDGEQ_RETURN_IF_ERROR(it.acc->apply({nb.data<float>(), static_cast<size_t>(nb.numel())}));
            n->inputs[2] = rw.add_init(b + "_corrected", nb);
        } else if (p && p->op_type == "DequantizeLinear" && p->inputs.size() >= 2 && g.initializers.count(p->inputs[0]) &&
                   g.initializers.at(p->inputs[0]).dtype() == DType::I32 && f32_init(g, p->inputs[1])) {
            // int32 bias of a static node: requantize b - delta with the same scale
            const Tensor& qb = g.initializers.at(p->inputs[0]);
            const auto sc = f32_init(g, p->inputs[1])->to_f32();
            Tensor nq = qb.clone();
            int32_t* v = nq.data<int32_t>();
            for (int64_t c = 0; c < nq.numel() && c < it.channels; ++c) {
                const double s = sc[sc.size() == 1 ? 0 : static_cast<size_t>(c)];
                const double r = std::nearbyint((static_cast<double>(v[c]) * s - d[static_cast<size_t>(c)]) / s);
                v[c] = static_cast<int32_t>(std::clamp(r, -2147483648.0, 2147483647.0));
            }
            const_cast<Node*>(p)->inputs[0] = rw.add_init(p->inputs[0] + "_corrected", nq);
        } else {
            rep.log.push_back(n->describe() + ": bias correction skipped (bias is not an initializer)");
            continue;
        }
        char buf[64];
        std::snprintf(buf, sizeof buf, " (max |shift| %.3g)", mx);
        rep.log.push_back("bias correction: " + n->describe() + buf);
        for (auto& nr : rep.nodes)
            if (nr.node == it.name) nr.how += ", bias corrected";
    }
    return Status::Ok();
}

// All batches of `src`, for methods that read the calibration data more than once.
Result<std::shared_ptr<std::vector<CalibrationBatch>>> read_all(const CalibrationSource& src) {
    auto v = std::make_shared<std::vector<CalibrationBatch>>();
    for (;;) {
        EDGEQ_ASSIGN_OR_RETURN(auto b, src());
        if (!b) break;
        v->push_back(std::move(*b));
    }
    return v;
}

CalibrationSource replay(std::shared_ptr<std::vector<CalibrationBatch>> v) {
    auto i = std::make_shared<size_t>(0);
    return [v, i]() -> Result<std::optional<CalibrationBatch>> {
        if (*i >= v->size()) return std::optional<CalibrationBatch>();
        return std::optional<CalibrationBatch>((*v)[(*i)++]);
    };
}

}  // namespace

std::optional<Method> method_from_name(const std::string& s) {
    if (s == "dynamic") return Method::Dynamic;
    if (s == "static") return Method::Static;
    if (s == "weight-only" || s == "weight_only") return Method::WeightOnly;
    if (s == "fp16") return Method::FP16;
    if (s == "bf16") return Method::BF16;
    return std::nullopt;
}

const char* method_name(Method m) {
    switch (m) {
        case Method::Dynamic: return "dynamic";
        case Method::Static: return "static";
        case Method::WeightOnly: return "weight-only";
        case Method::FP16: return "fp16";
        case Method::BF16: return "bf16";
    }
    return "?";
}

Status check_options(const PtqOptions& o) {
    const bool wsigned = o.weights == QType::I8 || o.weights == QType::I4 || o.weights == QType::I2;
    switch (o.method) {
        case Method::Static:
            if (!o.acts) return InvalidArgument("--method static quantizes activations: --acts int8|uint8, not float");
            if (*o.acts != QType::I8 && *o.acts != QType::U8)
                return InvalidArgument("--acts: static activations are int8 or uint8");
            break;
        case Method::Dynamic:
            if (o.weights != QType::I8)
                return InvalidArgument(std::string("--method dynamic: weights are int8 (MatMulInteger/ConvInteger), not ") +
                                       qtype_name(o.weights) + "; use --method weight-only for int4/int2");
            if (o.granularity == Granularity::Group)
                return InvalidArgument("--method dynamic: --granularity is tensor or channel (no groups)");
            break;
        case Method::WeightOnly:
            if (o.acts) return InvalidArgument("--method weight-only keeps activations float: use --acts float");
            break;
        case Method::FP16:
        case Method::BF16: break;
    }
    if (!wsigned) return InvalidArgument("--weights: int8, int4 or int2");
    if (o.granularity == Granularity::Group && o.group < 1)
        return InvalidArgument("--granularity group:N needs N >= 1");
    if (o.gptq && o.awq) return InvalidArgument("--gptq and --awq exclude each other");
    if ((o.gptq || o.awq) && o.method != Method::WeightOnly)
        return InvalidArgument(std::string(o.gptq ? "--gptq" : "--awq") + " is for --method weight-only");
    if ((o.gptq || o.awq) && o.granularity == Granularity::Tensor)
        return InvalidArgument(std::string(o.gptq ? "--gptq" : "--awq") + ": --granularity channel or group:N (not tensor)");
    if (o.bias_correction && o.method != Method::Static && o.method != Method::WeightOnly)
        return InvalidArgument("--bias-correction is for --method static or weight-only");
    if (o.format == Format::Native && o.method != Method::Static && o.method != Method::Dynamic)
        return InvalidArgument(std::string("--format native: integer operators exist for --method static and dynamic, not ") +
                               method_name(o.method));
    for (const auto& e : o.exclude) {
        try {
            std::regex re(e);
        } catch (const std::regex_error& err) {
            return InvalidArgument("--exclude '" + e + "': not a valid regular expression (" + err.what() + ")");
        }
    }
    const bool integer_method = o.method == Method::Static || o.method == Method::Dynamic || o.method == Method::WeightOnly;
    for (const auto& [re, prec] : o.keep) {
        const std::string what = "--keep '" + re + "=" + prec + "'";
        try {
            std::regex r(re);
        } catch (const std::regex_error& err) {
            return InvalidArgument(what + ": not a valid regular expression (" + err.what() + ")");
        }
        if (prec != "fp32" && prec != "fp16" && prec != "bf16" && prec != "int8" && prec != "int4" && prec != "int2")
            return InvalidArgument(what + ": precision must be fp32, fp16, bf16, int8, int4 or int2");
        if (prec.rfind("int", 0) == 0 && !integer_method)
            return InvalidArgument(what + ": integer weights need --method static, dynamic or weight-only");
        if (o.method == Method::Dynamic && (prec == "int4" || prec == "int2"))
            return InvalidArgument(what + ": --method dynamic has int8 weights only (MatMulInteger/ConvInteger)");
    }
    if (!o.policy.empty()) {
        if (o.policy != "edge") return InvalidArgument("--policy '" + o.policy + "': known policies: edge");
        if (o.method != Method::Static && o.method != Method::WeightOnly)
            return InvalidArgument("--policy edge (int8 first/last layers, int4 elsewhere) needs --method static or weight-only");
    }
    if (o.method == Method::Static) {
        auto ob = make_observer(o.calibrator, *o.acts, o.act_symmetric);
        if (!ob.ok()) return ob.status();
    }
    return Status::Ok();
}

Status raise_opset(Model& m, int64_t target) {
    const int64_t from = m.opset("");
    if (from >= target) return Status::Ok();
    // Ranks of every value from one reference run on zero inputs (unknown dims = 1), for the Softmax-family
    // axis rule when shape inference left a value without a shape.
    std::map<std::string, int64_t> ranks;
    std::map<std::string, Tensor> zeros;
    bool inputs_known = true;
    for (const auto& in : m.graph.inputs) {
        if (!in.dtype || !in.has_shape) {
            inputs_known = false;
            break;
        }
        Shape s;
        for (const auto& d : in.shape) s.push_back(d.value > 0 ? d.value : 1);
        zeros[in.name] = Tensor(*in.dtype, s);
    }
    if (inputs_known) {
        runtime::RunOptions ro;
        ro.on_node = [&](const Node& n, const std::vector<Tensor>& outs) {
            for (size_t i = 0; i < outs.size() && i < n.outputs.size(); ++i)
                if (!outs[i].empty_handle()) ranks[n.outputs[i]] = outs[i].rank();
        };
        (void)runtime::run_reference(m, zeros, ro);  // failures only lose the ranks
        for (const auto& [k, t] : zeros) ranks[k] = t.rank();
    }
    Graph copy = m.graph;  // all or nothing
    EDGEQ_RETURN_IF_ERROR(upgrade_graph(copy, from, target, ranks));
    m.graph = std::move(copy);
    m.opsets[""] = target;
    // IR version 10 carries opset 21+ (int4), 11 carries opset 25 (int2); keep newer ones.
    const int64_t ir = target >= 25 ? 11 : target >= 21 ? 10 : target >= 19 ? 9 : 7;
    m.ir_version = std::max(m.ir_version, ir);
    return Status::Ok();
}

Result<PtqReport> quantize_onnx(Model& m, const PtqOptions& o, const CalibrationSource& calib) {
    EDGEQ_RETURN_IF_ERROR(check_options(o));
    PtqReport rep;
    // 1. prepare: standard-op optimizations only.
    passes::OptimizeOptions oo;
    oo.fuse = false;
    EDGEQ_ASSIGN_OR_RETURN(auto orep, passes::optimize(m, oo));
    if (orep.batchnorms_folded) rep.log.push_back("prepare: " + std::to_string(orep.batchnorms_folded) + " BatchNormalization folded");
    if (orep.adds_folded) rep.log.push_back("prepare: " + std::to_string(orep.adds_folded) + " Conv -> Add(constant) folded into the bias");
    if (o.equalize) {
        EDGEQ_ASSIGN_OR_RETURN(auto pairs, cross_layer_equalize(m, rep.log));
        if (pairs == 0) rep.log.push_back("equalize: no Conv/Gemm/MatMul -> Relu -> Conv/Gemm/MatMul pair found");
    }
    // 2. targets
    std::vector<std::regex> ex;
    for (const auto& e : o.exclude) ex.emplace_back(e);
    std::vector<std::pair<std::regex, std::string>> keep;
    for (const auto& [re, prec] : o.keep) keep.emplace_back(std::regex(re), prec);
    std::vector<Target> targets, half16, half_bf16;
    for (size_t i = 0; i < m.graph.nodes.size(); ++i) {
        const Node& n = m.graph.nodes[i];
        const bool rnn = n.op_type == "LSTM" || n.op_type == "GRU";
        if (n.op_type != "Conv" && n.op_type != "Gemm" && n.op_type != "MatMul" && !(rnn && (o.method == Method::Dynamic || o.method == Method::Static)))
            continue;
        Target t;
        t.node = i;
        const std::string why = select(m.graph, n, t);
        if (!why.empty()) {
            rep.skipped.push_back(n.describe() + ": " + why);
            continue;
        }
        if (excluded(ex, n)) {
            rep.skipped.push_back(n.describe() + ": excluded by --exclude");
            continue;
        }
        std::string prec;
        for (const auto& [re, p] : keep)
            if (excluded({re}, n)) {
                prec = p;
                break;
            }
        if (prec == "fp32") {
            rep.skipped.push_back(n.describe() + ": kept fp32 by --keep");
            continue;
        }
        if (prec == "fp16" || prec == "bf16") {
            (prec == "fp16" ? half16 : half_bf16).push_back(t);
            continue;
        }
        if (!prec.empty()) t.weights = prec == "int8" ? QType::I8 : prec == "int4" ? QType::I4 : QType::I2;
        targets.push_back(t);
    }
    if (o.policy == "edge") {
        // first and last in topological order: int8; the rest int4 (unless --keep set them)
        EDGEQ_ASSIGN_OR_RETURN(auto order, graph::topological_order(m.graph));
        std::vector<size_t> pos(m.graph.nodes.size());
        for (size_t i = 0; i < order.size(); ++i) pos[order[i]] = i;
        std::vector<Target*> by_pos;
        for (auto& t : targets) by_pos.push_back(&t);
        std::sort(by_pos.begin(), by_pos.end(), [&](Target* a, Target* b) { return pos[a->node] < pos[b->node]; });
        for (size_t i = 0; i < by_pos.size(); ++i) {
            const Node& n = m.graph.nodes[by_pos[i]->node];
            bool kept = false;
            for (const auto& kr : keep) kept |= excluded({kr.first}, n);
            if (!kept) by_pos[i]->weights = (i == 0 || i + 1 == by_pos.size()) ? QType::I8 : QType::I4;
        }
    }
    // Bias correction reads the calibration data twice (the method's pass, then float vs quantized): the
    // batches are held in memory for it.
    CalibrationSource src = calib;
    std::shared_ptr<std::vector<CalibrationBatch>> held;
    std::vector<std::string> names;
    if (o.bias_correction) {
        if (!calib) return InvalidArgument("--bias-correction needs calibration data (--calib)");
        EDGEQ_ASSIGN_OR_RETURN(held, read_all(calib));
        if (held->empty()) return InvalidArgument("calibration data is empty (no batches)");
        src = replay(held);
        Namer nm(m.graph);
        for (auto& t : targets) {
            Node& n = m.graph.nodes[t.node];
            if (n.name.empty()) n.name = nm(n.op_type + "_" + n.outputs[0]);
            t.name = n.name;
            names.push_back(n.name);
        }
    }
    // Shared weights: quantized once per reader (each reader gets its own DQ); fine for correctness.
    int64_t need_opset = 10;  // QuantizeLinear / MatMulInteger / ConvInteger
    if (o.method == Method::Static || o.method == Method::WeightOnly || o.method == Method::Dynamic) {
        if (o.granularity == Granularity::Channel) need_opset = 13;
        for (const auto& t : targets) {
            const QType w = t.weights.value_or(o.weights);
            if (o.granularity == Granularity::Group || w == QType::I4) need_opset = std::max<int64_t>(need_opset, 21);
            if (w == QType::I2) need_opset = 25;
        }
    }
    if (o.method == Method::BF16 || !half_bf16.empty()) need_opset = std::max<int64_t>(need_opset, 13);  // Cast from bfloat16
    if (o.method == Method::FP16) need_opset = std::max<int64_t>(m.opset(""), 7);
    EDGEQ_RETURN_IF_ERROR(raise_opset(m, need_opset));
    // --keep fp16/bf16 nodes first: run_half only appends Cast nodes, so the other targets' indices stay valid.
    if (!half16.empty()) EDGEQ_RETURN_IF_ERROR(run_half(m, half16, DType::F16, rep));
    if (!half_bf16.empty()) EDGEQ_RETURN_IF_ERROR(run_half(m, half_bf16, DType::BF16, rep));
    std::optional<Model> fp;
    if (o.bias_correction) fp = m;  // the prepared float model (copies share buffers; rewrites clone)
    switch (o.method) {
        case Method::Static: EDGEQ_RETURN_IF_ERROR(run_static(m, targets, o, src, rep)); break;
        case Method::Dynamic: EDGEQ_RETURN_IF_ERROR(run_dynamic(m, targets, o, rep)); break;
        case Method::WeightOnly: EDGEQ_RETURN_IF_ERROR(run_weight_only(m, targets, o, src, rep)); break;
        case Method::FP16: EDGEQ_RETURN_IF_ERROR(run_half(m, targets, DType::F16, rep)); break;
        case Method::BF16: EDGEQ_RETURN_IF_ERROR(run_half(m, targets, DType::BF16, rep)); break;
    }
    if (o.bias_correction) {
        EDGEQ_RETURN_IF_ERROR(resort(m.graph));
        EDGEQ_RETURN_IF_ERROR(correct_biases(m, *fp, names, held, o.threads, rep));
    }
    if (o.format == Format::Native && o.method == Method::Static) {
        // dynamic is integer operators already (DynamicQuantizeLinear -> MatMulInteger / ConvInteger)
        EDGEQ_RETURN_IF_ERROR(resort(m.graph));
        EDGEQ_ASSIGN_OR_RETURN(auto qr, to_qoperator(m));
        rep.log.push_back("native: " + std::to_string(qr.converted) + " layers as QLinearConv / QLinearMatMul / QGemm, " +
                          std::to_string(qr.passthrough) + " pooling/reshape ops on int8");
        for (const auto& k : qr.kept) rep.log.push_back("native: kept QDQ: " + k);
    }
    drop_unused_initializers(m.graph);
    // Stale inferred types of rewired values are dropped; the importer's shape inference recomputes them.
    m.graph.value_info.clear();
    EDGEQ_RETURN_IF_ERROR(resort(m.graph));
    rep.opset = m.opset("");
    return rep;
}

}  // namespace edgeq::quant::ptq
