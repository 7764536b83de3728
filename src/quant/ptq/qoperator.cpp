// QDQ -> QOperator rewrite (see qoperator.h).
#include "quant/ptq/qoperator.h"

#include <map>
#include <set>

#include "graph/graph.h"
#include "graph/names.h"

namespace edgeq::quant::ptq {
namespace {

using graph::Graph;
using graph::Model;
using graph::Node;

constexpr size_t kNone = static_cast<size_t>(-1);

struct Index {
    std::map<std::string, size_t> producer;
    std::map<std::string, std::vector<size_t>> readers;
    std::set<std::string> outputs;
    explicit Index(const Graph& g) {
        for (size_t i = 0; i < g.nodes.size(); ++i) {
            for (const auto& o : g.nodes[i].outputs)
                if (!o.empty()) producer[o] = i;
            for (const auto& in : g.nodes[i].inputs)
                if (!in.empty()) readers[in].push_back(i);
        }
        for (const auto& o : g.outputs) outputs.insert(o.name);
    }
    size_t prod(const std::string& v) const {
        auto it = producer.find(v);
        return it == producer.end() ? kNone : it->second;
    }
    // the one node reading v (kNone if none, several, or v is a graph output)
    size_t only_reader(const std::string& v) const {
        auto it = readers.find(v);
        if (outputs.count(v) || it == readers.end() || it->second.size() != 1) return kNone;
        return it->second[0];
    }
};

const Tensor* init(const Graph& g, const std::string& name) {
    auto it = g.initializers.find(name);
    return it == g.initializers.end() ? nullptr : &it->second;
}

std::string input(const Node& n, size_t i) { return i < n.inputs.size() ? n.inputs[i] : std::string(); }

bool is_q8(DType t) { return t == DType::U8 || t == DType::I8; }

// A DequantizeLinear of constant (q, scale[, zero]) with an int8/uint8 (or int32 for bias) q.
struct Deq {
    size_t node = kNone;
    std::string q, scale, zero;  // zero may be ""
    int64_t axis = 1;
    const Tensor* qt = nullptr;
    const Tensor* st = nullptr;
    const Tensor* zt = nullptr;
};

// The DequantizeLinear producing v, if it is one; `constant`: q must be an initializer.
bool deq_of(const Graph& g, const Index& ix, const std::string& v, bool constant, Deq& d, std::string& why) {
    d.node = ix.prod(v);
    if (d.node == kNone || g.nodes[d.node].op_type != "DequantizeLinear" || !g.nodes[d.node].domain.empty()) {
        why = "'" + v + "' is not produced by DequantizeLinear";
        return false;
    }
    const Node& n = g.nodes[d.node];
    d.q = input(n, 0), d.scale = input(n, 1), d.zero = input(n, 2);
    d.axis = n.attr_i("axis", 1);
    if (n.attr_i("block_size", 0) != 0) {
        why = "blocked (group-wise) scales";
        return false;
    }
    d.qt = init(g, d.q);
    d.st = init(g, d.scale);
    d.zt = d.zero.empty() ? nullptr : init(g, d.zero);
    if ((constant && !d.qt) || !d.st || d.st->dtype() != DType::F32 || (!d.zero.empty() && !d.zt)) {
        why = "'" + v + "': quantization parameters are not constants";
        return false;
    }
    return true;
}

Tensor zeros_like_scale(DType t, const Tensor& scale) {
    return scale.rank() == 0 ? Tensor(t, {}) : Tensor(t, {scale.numel()});
}

}  // namespace

Result<QOperatorReport> to_qoperator(Model& m) {
    Graph& g = m.graph;
    QOperatorReport rep;
    graph::UniqueNames fresh(g);

    // 1. Conv / MatMul / Gemm chains
    {
        const Index ix(g);
        std::set<size_t> drop;
        std::map<size_t, Node> replace;
        for (size_t i = 0; i < g.nodes.size(); ++i) {
            const Node& n = g.nodes[i];
            if (!n.domain.empty() || (n.op_type != "Conv" && n.op_type != "MatMul" && n.op_type != "Gemm")) continue;
            auto keep = [&](const std::string& why) { rep.kept.push_back(n.describe() + ": " + why); };
            std::string why;
            Deq dx, dw;
            if (!deq_of(g, ix, input(n, 0), false, dx, why)) continue;  // not a quantized layer: silent
            if (!deq_of(g, ix, input(n, 1), true, dw, why)) {
                keep(why);
                continue;
            }
            if (dx.st->numel() != 1 || (dx.zt && dx.zt->numel() != 1)) {
                keep("input quantized per axis");
                continue;
            }
            if (!is_q8(dw.qt->dtype())) {
                keep(std::string("weights are ") + dtype_name(dw.qt->dtype()) + " (QLinear ops take int8/uint8)");
                continue;
            }
            // per-output-channel scales: Conv W [M, C, ...] axis 0; MatMul B [K, N] axis 1; Gemm op(B) columns
            const bool per_channel = dw.st->numel() != 1;
            const bool gemm = n.op_type == "Gemm";
            const bool trans_b = gemm && n.attr_i("transB", 0) != 0;
            const int64_t want_axis = n.op_type == "Conv" ? 0 : (gemm ? (trans_b ? 0 : 1) : 1);
            const int64_t axis = dw.axis < 0 ? dw.axis + dw.qt->rank() : dw.axis;
            if (per_channel && (axis != want_axis || dw.st->rank() != 1)) {
                keep("weight scales along axis " + std::to_string(dw.axis) + ", not the output channels");
                continue;
            }
            if (gemm && (n.attr_f("alpha", 1.0f) != 1.0f || n.attr_f("beta", 1.0f) != 1.0f || n.attr_i("transA", 0) != 0)) {
                keep("Gemm with alpha/beta != 1 or transA");
                continue;
            }
            // bias: absent or DequantizeLinear(int32, zero 0)
            std::string bias;
            size_t bias_node = kNone;
            if (n.op_type != "MatMul" && !input(n, 2).empty()) {
                Deq db;
                if (!deq_of(g, ix, input(n, 2), true, db, why) || db.qt->dtype() != DType::I32) {
                    keep("bias is not an int32 DequantizeLinear");
                    continue;
                }
                if (db.zt) {
                    bool zero = true;
                    for (int64_t v : db.zt->to_i64()) zero = zero && v == 0;
                    if (!zero) {
                        keep("bias zero point is not 0");
                        continue;
                    }
                }
                if (db.qt->rank() != 1) {
                    keep("bias is not 1-D");
                    continue;
                }
                bias = db.q;
                bias_node = db.node;
            }
            // output: [Relu ->] QuantizeLinear, each the only reader
            size_t r = ix.only_reader(n.outputs[0]);
            size_t relu = kNone;
            if (r != kNone && g.nodes[r].op_type == "Relu" && g.nodes[r].domain.empty()) {
                relu = r;
                r = ix.only_reader(g.nodes[r].outputs[0]);
            }
            const bool quantized_out = r != kNone && g.nodes[r].op_type == "QuantizeLinear" && g.nodes[r].domain.empty();
            // a float result (e.g. the logits) only from QGemm, which may omit y_scale
            const bool float_out = !quantized_out && gemm && relu == kNone;
            if (!quantized_out && !float_out) {
                keep("output is not quantized by one QuantizeLinear");
                continue;
            }
            const Node* q = quantized_out ? &g.nodes[r] : nullptr;
            const Tensor* ys = q ? init(g, input(*q, 1)) : nullptr;
            const Tensor* yz = q && !input(*q, 2).empty() ? init(g, input(*q, 2)) : nullptr;
            if (q && (!ys || ys->numel() != 1 || !yz || yz->numel() != 1 || !is_q8(yz->dtype()))) {
                keep("output quantization is not per-tensor int8/uint8 with constant parameters");
                continue;
            }
            if (relu != kNone) {
                const int64_t z = yz->to_i64()[0];
                const int64_t qmin = yz->dtype() == DType::U8 ? 0 : -128;
                if (z != qmin) {
                    keep("Relu kept: output zero point " + std::to_string(z) + " is not the type minimum");
                    continue;
                }
            }
            if (dx.zero.empty()) {
                keep("input DequantizeLinear has no zero point");
                continue;
            }
            const std::string xz = dx.zero;
            std::string wz = dw.zero;
            if (wz.empty()) {
                wz = fresh(dw.q + "_zero_point");
                g.initializers[wz] = zeros_like_scale(dw.qt->dtype(), *dw.st);
            } else if (per_channel && dw.zt->numel() == 1) {  // QLinear ops want per-channel zero points per channel
                const std::string z2 = fresh(dw.q + "_zero_point");
                Tensor zt = zeros_like_scale(dw.qt->dtype(), *dw.st);
                const int64_t z = dw.zt->to_i64()[0];
                for (int64_t k = 0; k < zt.numel(); ++k) {
                    if (zt.dtype() == DType::I8) zt.data<int8_t>()[k] = static_cast<int8_t>(z);
                    else zt.data<uint8_t>()[k] = static_cast<uint8_t>(z);
                }
                g.initializers[z2] = std::move(zt);
                wz = z2;
            }
            Node qn;
            qn.name = n.name.empty() ? fresh(n.op_type + "_quant") : n.name;
            qn.outputs = {q ? q->outputs[0] : n.outputs[0]};
            const std::string y_scale = q ? input(*q, 1) : std::string(), y_zero = q ? input(*q, 2) : std::string();
            if (n.op_type == "Conv") {
                qn.op_type = "QLinearConv";
                qn.inputs = {dx.q, dx.scale, xz, dw.q, dw.scale, wz, y_scale, y_zero};
                if (!bias.empty()) qn.inputs.push_back(bias);
                qn.attrs = n.attrs;
            } else if (n.op_type == "MatMul") {
                qn.op_type = "QLinearMatMul";
                qn.inputs = {dx.q, dx.scale, xz, dw.q, dw.scale, wz, y_scale, y_zero};
            } else {
                qn.op_type = "QGemm";
                qn.domain = "com.microsoft";
                qn.inputs = {dx.q, dx.scale, xz, dw.q, dw.scale, wz, bias, y_scale, y_zero};
                while (qn.inputs.back().empty()) qn.inputs.pop_back();
                for (const char* a : {"transA", "transB", "alpha"})
                    if (n.has(a)) qn.attrs[a] = *n.attr(a);
            }
            replace[i] = std::move(qn);
            if (q) drop.insert(r);
            if (relu != kNone) drop.insert(relu);
            (void)bias_node;  // its DequantizeLinear goes with the unused-node sweep below
            ++rep.converted;
        }
        std::vector<Node> nodes;
        for (size_t i = 0; i < g.nodes.size(); ++i) {
            if (drop.count(i)) continue;
            auto it = replace.find(i);
            nodes.push_back(it != replace.end() ? std::move(it->second) : std::move(g.nodes[i]));
        }
        g.nodes = std::move(nodes);
        if (rep.converted > 0 && !m.opsets.count("com.microsoft")) {
            for (const auto& n : g.nodes)
                if (n.domain == "com.microsoft") m.opsets["com.microsoft"] = 1;
        }
    }

    // 2. DequantizeLinear -> MaxPool | Flatten | Reshape -> QuantizeLinear with the same parameters: the op runs
    //    on the int8 tensor (MaxPool takes int8/uint8 from opset 12)
    for (bool changed = true; changed;) {
        changed = false;
        const Index ix(g);
        for (size_t i = 0; i < g.nodes.size() && !changed; ++i) {
            Node& p = g.nodes[i];
            const bool pool = p.op_type == "MaxPool" && m.opset("") >= 12 && p.outputs.size() == 1;
            if (!p.domain.empty() || !(pool || p.op_type == "Flatten" || p.op_type == "Reshape")) continue;
            Deq d;
            std::string why;
            if (!deq_of(g, ix, input(p, 0), false, d, why) || d.st->numel() != 1) continue;
            if (ix.only_reader(input(p, 0)) != i) continue;
            const size_t r = ix.only_reader(p.outputs[0]);
            if (r == kNone || g.nodes[r].op_type != "QuantizeLinear") continue;
            const Node& q = g.nodes[r];
            const Tensor* qs = init(g, input(q, 1));
            const Tensor* qz = input(q, 2).empty() ? nullptr : init(g, input(q, 2));
            if (!qs || qs->numel() != 1 || !qz || qz->numel() != 1 || !d.zt) continue;
            if (qs->to_f32()[0] != d.st->to_f32()[0] || qz->to_i64()[0] != d.zt->to_i64()[0] || qz->dtype() != d.zt->dtype())
                continue;
            const std::string out = q.outputs[0];
            const size_t dq_node = d.node;
            p.inputs[0] = d.q;
            p.outputs[0] = out;
            std::vector<Node> nodes;
            for (size_t k = 0; k < g.nodes.size(); ++k)
                if (k != r && k != dq_node) nodes.push_back(std::move(g.nodes[k]));
            g.nodes = std::move(nodes);
            ++rep.passthrough;
            changed = true;
        }
    }

    // 3. DequantizeLinear nodes nobody reads any more
    for (bool changed = true; changed;) {
        changed = false;
        const Index ix(g);
        std::vector<Node> nodes;
        for (auto& n : g.nodes) {
            const bool unused = n.op_type == "DequantizeLinear" && n.outputs.size() == 1 && !ix.outputs.count(n.outputs[0]) &&
                                !ix.readers.count(n.outputs[0]);
            if (unused) {
                changed = true;
                continue;
            }
            nodes.push_back(std::move(n));
        }
        g.nodes = std::move(nodes);
    }
    EDGEQ_ASSIGN_OR_RETURN(auto order, graph::topological_order(g));
    std::vector<Node> sorted;
    for (size_t i : order) sorted.push_back(std::move(g.nodes[i]));
    g.nodes = std::move(sorted);
    return rep;
}

}  // namespace edgeq::quant::ptq
