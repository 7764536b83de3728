// Control family: If, Loop, Scan. Bodies run through ctx.run_subgraph (outer-scope values visible). Sequence
// and optional values are not represented in edgeq and so are not supported here.
#include <algorithm>
#include <cstring>

#include "runtime/ref/common.h"
#include "runtime/ref/op.h"

namespace edgeq::runtime {
namespace {


const graph::Graph* graph_attr(const OpContext& ctx, const std::string& name) {
    const graph::Attribute* a = ctx.node.attr(name);
    return a && a->g ? a->g.get() : nullptr;
}

Result<bool> scalar_bool(const Tensor& t, const OpContext& ctx, const std::string& what) {
    if (t.numel() != 1 || element_bytes(t.dtype()) == 0) return ctx.fail(what + " must be a single bool element");
    return t.to_i64()[0] != 0;
}

// Stacks same-shape tensors along a new axis `axis` (0..rank): out.shape = shape with n inserted at axis.
Result<Tensor> stack(const std::vector<Tensor>& parts, int64_t axis, const OpContext& ctx, const std::string& what) {
    const Tensor& p0 = parts[0];
    for (const Tensor& p : parts) {
        if (p.shape() != p0.shape() || p.dtype() != p0.dtype()) {
            return ctx.fail(what + ": iterations produced different shapes/types " + shape_str(p0.shape()) + " and " +
                            shape_str(p.shape()));
        }
    }
    if (axis < 0) axis += p0.rank() + 1;
    if (axis < 0 || axis > p0.rank()) return ctx.fail(what + ": axis out of range");
    std::vector<Tensor> us;
    for (const Tensor& p : parts) {
        EDGEQ_ASSIGN_OR_RETURN(Tensor u, unpacked(p, ctx));
        us.push_back(u);
    }
    const int64_t n = static_cast<int64_t>(parts.size());
    Shape s = p0.shape();
    s.insert(s.begin() + axis, n);
    int64_t outer = 1, inner = 1;
    for (int64_t k = 0; k < p0.rank(); ++k) (k < axis ? outer : inner) *= p0.shape()[sz(k)];
    const size_t es = element_bytes(us[0].dtype());
    Tensor out(us[0].dtype(), s);
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t j = 0; j < n; ++j)
            if (inner) std::memcpy(out.raw() + sz((o * n + j) * inner) * es, us[sz(j)].raw() + sz(o * inner) * es, sz(inner) * es);
    return repacked(out, p0.dtype());
}

// Slice j of t along axis, with that axis removed.
Result<Tensor> take(const Tensor& t, int64_t axis, int64_t j, const OpContext& ctx) {
    EDGEQ_ASSIGN_OR_RETURN(Tensor u, unpacked(t, ctx));
    const int64_t n = u.shape()[sz(axis)];
    int64_t outer = 1, inner = 1;
    for (int64_t k = 0; k < u.rank(); ++k) {
        if (k < axis) outer *= u.shape()[sz(k)];
        if (k > axis) inner *= u.shape()[sz(k)];
    }
    Shape s = u.shape();
    s.erase(s.begin() + axis);
    const size_t es = element_bytes(u.dtype());
    Tensor out(u.dtype(), s);
    for (int64_t o = 0; o < outer; ++o)
        if (inner) std::memcpy(out.raw() + sz(o * inner) * es, u.raw() + sz((o * n + j) * inner) * es, sz(inner) * es);
    return repacked(out, t.dtype());
}

// An empty scan output (zero iterations): the body's declared type and shape with 0 inserted at axis.
Result<Tensor> empty_scan_output(const graph::ValueInfo& vi, int64_t axis, const OpContext& ctx) {
    if (!vi.dtype) return ctx.unsupported("zero iterations and no declared type for scan output '" + vi.name + "'");
    Shape s;
    for (const auto& d : vi.shape) s.push_back(std::max<int64_t>(d.value, 0));
    if (axis < 0) axis += static_cast<int64_t>(s.size()) + 1;
    if (axis < 0 || axis > static_cast<int64_t>(s.size())) axis = 0;
    s.insert(s.begin() + axis, 0);
    return Tensor(*vi.dtype, s);
}

}  // namespace

// If(cond) runs then_branch or else_branch (no inputs) and returns its outputs.
Status op_if(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input 'cond'");
    EDGEQ_ASSIGN_OR_RETURN(bool cond, scalar_bool(ctx.in(0), ctx, "cond"));
    const graph::Graph* g = graph_attr(ctx, cond ? "then_branch" : "else_branch");
    if (!g) return ctx.fail(std::string("missing graph attribute '") + (cond ? "then_branch" : "else_branch") + "'");
    EDGEQ_ASSIGN_OR_RETURN(auto outs, ctx.run_subgraph(*g, {}));
    if (outs.size() != ctx.outputs.size()) {
        return ctx.fail("branch '" + g->name + "' returns " + std::to_string(outs.size()) + " values for " +
                        std::to_string(ctx.outputs.size()) + " outputs");
    }
    for (size_t i = 0; i < outs.size(); ++i) ctx.outputs[i] = outs[i];
    return Status::Ok();
}

// Loop(M?, cond?, v_initial...) with body(iteration_num, cond, v...) -> (cond, v..., scan...). Runs while
// i < M (if given) and cond (if given; then the body's cond output each iteration). Outputs: the final
// loop-carried values, then each scan output stacked over the iterations (new axis 0).
Status op_loop(OpContext& ctx) {
    const graph::Graph* body = graph_attr(ctx, "body");
    if (!body) return ctx.fail("missing graph attribute 'body'");
    const size_t n_carried = ctx.num_inputs() >= 2 ? ctx.num_inputs() - 2 : 0;
    if (body->inputs.size() != n_carried + 2) {
        return ctx.fail("body takes " + std::to_string(body->inputs.size()) + " inputs, expected " + std::to_string(n_carried + 2));
    }
    if (body->outputs.size() < n_carried + 1) return ctx.fail("body returns too few outputs");
    const size_t n_scan = body->outputs.size() - 1 - n_carried;
    if (ctx.outputs.size() != n_carried + n_scan) {
        return ctx.fail("node has " + std::to_string(ctx.outputs.size()) + " outputs, body gives " +
                        std::to_string(n_carried + n_scan));
    }
    int64_t max_trip = -1;  // -1: unbounded
    if (ctx.has_input(0)) {
        if (ctx.in(0).numel() != 1) return ctx.fail("M must be a scalar");
        EDGEQ_ASSIGN_OR_RETURN(auto m, input_ints(ctx, 0));
        max_trip = m[0];
    }
    bool cond = true;
    if (ctx.has_input(1)) {
        EDGEQ_ASSIGN_OR_RETURN(cond, scalar_bool(ctx.in(1), ctx, "cond"));
    }
    std::vector<Tensor> carried;
    for (size_t i = 0; i < n_carried; ++i) {
        if (!ctx.has_input(2 + i)) return ctx.unsupported("omitted (optional) loop-carried value");
        carried.push_back(ctx.in(2 + i));
    }
    if (max_trip < 0 && !ctx.has_input(1)) return ctx.fail("neither M nor cond given: the loop never ends");
    std::vector<std::vector<Tensor>> scans(n_scan);
    for (int64_t it = 0; (max_trip < 0 || it < max_trip) && cond; ++it) {
        if (it >= (int64_t{1} << 31)) return ctx.fail("loop exceeded 2^31 iterations");
        std::vector<Tensor> in;
        in.push_back(Tensor::from_vector<int64_t>(DType::I64, {}, {it}));
        in.push_back(Tensor::from_vector<uint8_t>(DType::BOOL, {}, {static_cast<uint8_t>(cond)}));
        for (const Tensor& c : carried) in.push_back(c);
        EDGEQ_ASSIGN_OR_RETURN(auto out, ctx.run_subgraph(*body, in));
        if (out.size() != body->outputs.size()) return ctx.fail("body returned the wrong number of values");
        EDGEQ_ASSIGN_OR_RETURN(cond, scalar_bool(out[0], ctx, "body output cond"));
        for (size_t i = 0; i < n_carried; ++i) carried[i] = out[1 + i];
        for (size_t k = 0; k < n_scan; ++k) scans[k].push_back(out[1 + n_carried + k]);
    }
    for (size_t i = 0; i < n_carried; ++i) ctx.outputs[i] = carried[i];
    for (size_t k = 0; k < n_scan; ++k) {
        if (scans[k].empty()) {
            EDGEQ_ASSIGN_OR_RETURN(ctx.outputs[n_carried + k], empty_scan_output(body->outputs[1 + n_carried + k], 0, ctx));
        } else {
            EDGEQ_ASSIGN_OR_RETURN(ctx.outputs[n_carried + k], stack(scans[k], 0, ctx, "scan output " + std::to_string(k)));
        }
    }
    return Status::Ok();
}

namespace {

// One Scan over states + scan inputs (no batch axis): the opset 9+ semantics.
Status run_scan(OpContext& ctx, const graph::Graph& body, std::vector<Tensor> states, const std::vector<Tensor>& scan_in,
                const std::vector<int64_t>& in_axes, const std::vector<int64_t>& in_dirs,
                const std::vector<int64_t>& out_axes, const std::vector<int64_t>& out_dirs,
                std::vector<Tensor>& results) {
    const size_t n_state = states.size(), m = scan_in.size();
    if (body.inputs.size() != n_state + m) return ctx.fail("body takes " + std::to_string(body.inputs.size()) + " inputs");
    if (body.outputs.size() < n_state) return ctx.fail("body returns too few outputs");
    const size_t k_out = body.outputs.size() - n_state;
    int64_t len = -1;
    std::vector<int64_t> axes(m);
    for (size_t j = 0; j < m; ++j) {
        EDGEQ_ASSIGN_OR_RETURN(axes[j], normalize_axis(in_axes[j], scan_in[j].rank(), ctx));
        if (scan_in[j].rank() == 0) return ctx.fail("scan input must have rank >= 1");
        const int64_t l = scan_in[j].shape()[sz(axes[j])];
        if (len >= 0 && l != len) return ctx.fail("scan inputs have different sequence lengths");
        len = l;
    }
    if (len < 0) return ctx.fail("no scan inputs");
    std::vector<std::vector<Tensor>> outs(k_out);
    for (int64_t t = 0; t < len; ++t) {
        std::vector<Tensor> in = states;
        for (size_t j = 0; j < m; ++j) {
            EDGEQ_ASSIGN_OR_RETURN(Tensor s, take(scan_in[j], axes[j], in_dirs[j] ? len - 1 - t : t, ctx));
            in.push_back(s);
        }
        EDGEQ_ASSIGN_OR_RETURN(auto out, ctx.run_subgraph(body, in));
        for (size_t i = 0; i < n_state; ++i) states[i] = out[i];
        for (size_t k = 0; k < k_out; ++k) outs[k].push_back(out[n_state + k]);
    }
    results = states;
    for (size_t k = 0; k < k_out; ++k) {
        if (outs[k].empty()) {
            EDGEQ_ASSIGN_OR_RETURN(Tensor e, empty_scan_output(body.outputs[n_state + k], out_axes[k], ctx));
            results.push_back(e);
            continue;
        }
        if (out_dirs[k]) std::reverse(outs[k].begin(), outs[k].end());
        EDGEQ_ASSIGN_OR_RETURN(Tensor s, stack(outs[k], out_axes[k], ctx, "scan output " + std::to_string(k)));
        results.push_back(s);
    }
    return Status::Ok();
}

std::vector<int64_t> ints_or(const graph::Node& n, const std::string& a, size_t count, int64_t dflt) {
    std::vector<int64_t> v = n.attr_ints(a);
    if (v.empty()) v.assign(count, dflt);
    return v;
}

}  // namespace

// Scan(states..., scan_inputs...) (opset 9+): runs body once per element along each scan input's axis
// (scan_input_axes, reversed where scan_input_directions is 1), threading the states; outputs are the final
// states and the per-iteration outputs stacked along scan_output_axes. Opset 8: a leading
// sequence_lens input and a batch axis 0 on every input and output.
Status op_scan(OpContext& ctx) {
    const graph::Graph* body = graph_attr(ctx, "body");
    if (!body) return ctx.fail("missing graph attribute 'body'");
    const int64_t m = ctx.node.attr_i("num_scan_inputs", -1);
    const size_t first = ctx.opset < 9 ? 1 : 0;  // opset 8: input 0 is sequence_lens
    if (m < 1 || sz(m) + first > ctx.num_inputs()) return ctx.fail("bad num_scan_inputs");
    const size_t n_state = ctx.num_inputs() - first - sz(m);
    if (body->outputs.size() < n_state) return ctx.fail("body returns too few outputs");
    const size_t k_out = body->outputs.size() - n_state;
    if (ctx.outputs.size() != n_state + k_out) return ctx.fail("node outputs do not match the body");
    std::vector<Tensor> states, scan_in;
    for (size_t i = first; i < ctx.num_inputs(); ++i) {
        if (!ctx.has_input(i)) return ctx.fail("input " + std::to_string(i) + " is missing");
        (i < first + n_state ? states : scan_in).push_back(ctx.in(i));
    }
    std::vector<Tensor> results;
    if (ctx.opset >= 9) {
        const auto in_axes = ints_or(ctx.node, "scan_input_axes", sz(m), 0);
        const auto in_dirs = ints_or(ctx.node, "scan_input_directions", sz(m), 0);
        const auto out_axes = ints_or(ctx.node, "scan_output_axes", k_out, 0);
        const auto out_dirs = ints_or(ctx.node, "scan_output_directions", k_out, 0);
        if (in_axes.size() != sz(m) || in_dirs.size() != sz(m) || out_axes.size() != k_out || out_dirs.size() != k_out) {
            return ctx.fail("scan axes/directions attributes have the wrong length");
        }
        EDGEQ_RETURN_IF_ERROR(run_scan(ctx, *body, states, scan_in, in_axes, in_dirs, out_axes, out_dirs, results));
    } else {
        // opset 8: batch axis 0 everywhere, scan along axis 1 of scan inputs.
        const auto dirs = ints_or(ctx.node, "directions", sz(m), 0);
        if (dirs.size() != sz(m)) return ctx.fail("directions has the wrong length");
        if (states.empty() && scan_in.empty()) return ctx.fail("no inputs");
        const int64_t batch = (states.empty() ? scan_in[0] : states[0]).rank() > 0 ? (states.empty() ? scan_in[0] : states[0]).dim(0) : 0;
        for (const auto* list : {&states, &scan_in})
            for (const Tensor& t : *list)
                if (t.rank() < 1 || t.dim(0) != batch) return ctx.fail("inputs must share batch axis 0");
        if (ctx.has_input(0)) {
            EDGEQ_ASSIGN_OR_RETURN(auto lens, input_ints(ctx, 0));
            for (int64_t l : lens)
                if (scan_in[0].rank() < 2 || l != scan_in[0].dim(1)) return ctx.unsupported("sequence_lens shorter than the sequence");
        }
        std::vector<std::vector<Tensor>> per_batch(n_state + k_out);
        for (int64_t b = 0; b < batch; ++b) {
            std::vector<Tensor> st, sc, res;
            for (const Tensor& t : states) {
                EDGEQ_ASSIGN_OR_RETURN(Tensor s, take(t, 0, b, ctx));
                st.push_back(s);
            }
            for (const Tensor& t : scan_in) {
                EDGEQ_ASSIGN_OR_RETURN(Tensor s, take(t, 0, b, ctx));
                sc.push_back(s);
            }
            EDGEQ_RETURN_IF_ERROR(run_scan(ctx, *body, st, sc, std::vector<int64_t>(sz(m), 0), dirs,
                                           std::vector<int64_t>(k_out, 0), std::vector<int64_t>(k_out, 0), res));
            for (size_t i = 0; i < res.size(); ++i) per_batch[i].push_back(res[i]);
        }
        if (batch == 0) return ctx.unsupported("empty batch");
        for (size_t i = 0; i < per_batch.size(); ++i) {
            EDGEQ_ASSIGN_OR_RETURN(Tensor s, stack(per_batch[i], 0, ctx, "output " + std::to_string(i)));
            results.push_back(s);
        }
    }
    for (size_t i = 0; i < results.size() && i < ctx.outputs.size(); ++i) ctx.outputs[i] = results[i];
    return Status::Ok();
}

}  // namespace edgeq::runtime
