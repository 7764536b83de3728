#include "runtime/ref/executor.h"

#include <set>
#include <unordered_map>

#include "runtime/ref/op.h"

namespace edgeq::runtime {
namespace {

struct Scope {
    const Scope* parent = nullptr;
    std::unordered_map<std::string, Tensor> values;
    const Tensor* find(const std::string& n) const {
        for (const Scope* s = this; s; s = s->parent) {
            auto it = s->values.find(n);
            if (it != s->values.end()) return &it->second;
        }
        return nullptr;
    }
};

std::vector<std::string> scope_names(const Scope* s) {
    std::vector<std::string> names;
    for (; s; s = s->parent)
        for (const auto& [k, v] : s->values) names.push_back(k);
    return names;
}

// Names a subgraph reads from enclosing scopes: inputs of its nodes (and of their own subgraphs) that the
// subgraph itself does not define.
void implicit_inputs(const graph::Graph& g, std::set<std::string>& out) {
    std::set<std::string> defined;
    for (const auto& in : g.inputs) defined.insert(in.name);
    for (const auto& [name, t] : g.initializers) defined.insert(name);
    for (const auto& n : g.nodes)
        for (const auto& o : n.outputs) defined.insert(o);
    std::set<std::string> used;
    for (const auto& n : g.nodes) {
        for (const auto& in : n.inputs) used.insert(in);
        for (const auto& [k, a] : n.attrs) {
            if (a.g) implicit_inputs(*a.g, used);
            for (const auto& sg : a.graphs) implicit_inputs(*sg, used);
        }
    }
    for (const auto& u : used)
        if (!u.empty() && !defined.count(u)) out.insert(u);
    for (const auto& o : g.outputs)  // an output may name an outer value directly
        if (!defined.count(o.name)) out.insert(o.name);
}

// Every node's inputs plus the outer-scope names its subgraphs (If/Loop/Scan bodies) read: they order the
// nodes and keep those values alive until the subgraph has run.
std::vector<std::vector<std::string>> node_reads(const graph::Graph& g) {
    std::vector<std::vector<std::string>> reads(g.nodes.size());
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const auto& n = g.nodes[i];
        reads[i] = n.inputs;
        std::set<std::string> implicit;
        for (const auto& [k, a] : n.attrs) {
            if (a.g) implicit_inputs(*a.g, implicit);
            for (const auto& sg : a.graphs) implicit_inputs(*sg, implicit);
        }
        for (const auto& name : implicit) reads[i].push_back(name);
    }
    return reads;
}

Result<std::vector<Tensor>> run_graph(const graph::Model& model, const graph::Graph& g, Scope& scope,
                                      const RunOptions& opts) {
    const auto reads = node_reads(g);
    bool has_implicit = false;
    for (size_t i = 0; i < g.nodes.size(); ++i) has_implicit |= reads[i].size() != g.nodes[i].inputs.size();
    std::vector<size_t> order;
    if (!has_implicit) {
        EDGEQ_ASSIGN_OR_RETURN(order, graph::topological_order(g, scope_names(scope.parent)));
    } else {  // order a name-only copy whose nodes also list their subgraphs' outer reads
        graph::Graph deps;
        deps.inputs = g.inputs;
        deps.initializers = g.initializers;
        for (size_t i = 0; i < g.nodes.size(); ++i) {
            graph::Node n;
            n.name = g.nodes[i].name;
            n.op_type = g.nodes[i].op_type;
            n.domain = g.nodes[i].domain;
            n.inputs = reads[i];
            n.outputs = g.nodes[i].outputs;
            deps.nodes.push_back(std::move(n));
        }
        EDGEQ_ASSIGN_OR_RETURN(order, graph::topological_order(deps, scope_names(scope.parent)));
    }
    for (const auto& [name, t] : g.initializers) scope.values.emplace(name, t);

    // last use of every value (subgraph reads included), to free intermediates early
    std::unordered_map<std::string, size_t> last_use;
    for (size_t k = 0; k < order.size(); ++k)
        for (const auto& in : reads[order[k]]) last_use[in] = k;
    std::set<std::string> keep;
    for (const auto& o : g.outputs) keep.insert(o.name);

    for (size_t k = 0; k < order.size(); ++k) {
        const graph::Node& node = g.nodes[order[k]];
        const OpRow* row = find_ref_op(node.domain, node.op_type);
        if (!row) return Unsupported(node.describe() + ": operator not supported by edgeq's reference executor");
        OpContext ctx{node, model.opset(node.domain), {}, {}, {}};
        for (const auto& in : node.inputs) {
            if (in.empty()) {
                ctx.inputs.push_back(nullptr);
                continue;
            }
            const Tensor* t = scope.find(in);
            if (!t) return Corrupt(node.describe() + ": input '" + in + "' has no value");
            ctx.inputs.push_back(t);
        }
        ctx.outputs.resize(node.outputs.size());
        ctx.run_subgraph = [&](const graph::Graph& sub, const std::vector<Tensor>& sub_inputs)
            -> Result<std::vector<Tensor>> {
            Scope inner;
            inner.parent = &scope;
            if (sub_inputs.size() != sub.inputs.size()) {
                return Corrupt(node.describe() + ": subgraph '" + sub.name + "' takes " +
                               std::to_string(sub.inputs.size()) + " inputs, got " + std::to_string(sub_inputs.size()));
            }
            for (size_t i = 0; i < sub_inputs.size(); ++i) inner.values[sub.inputs[i].name] = sub_inputs[i];
            return run_graph(model, sub, inner, opts);
        };
        ctx.shape_only = opts.shape_only && opts.shape_only(node);
        EDGEQ_RETURN_IF_ERROR(row->fn(ctx));
        if (opts.on_node) opts.on_node(node, ctx.outputs);
        for (size_t i = 0; i < node.outputs.size(); ++i) {
            if (node.outputs[i].empty()) continue;
            if (ctx.outputs[i].empty_handle()) {
                return Corrupt(node.describe() + ": produced no value for output '" + node.outputs[i] + "'");
            }
            scope.values[node.outputs[i]] = std::move(ctx.outputs[i]);
        }
        for (const auto& in : reads[order[k]]) {
            auto it = last_use.find(in);
            if (it != last_use.end() && it->second == k && !keep.count(in) && !g.initializers.count(in)) {
                scope.values.erase(in);
            }
        }
    }
    std::vector<Tensor> outs;
    for (const auto& o : g.outputs) {
        const Tensor* t = scope.find(o.name);
        if (!t) return Corrupt("graph '" + g.name + "': output '" + o.name + "' was not produced");
        outs.push_back(*t);
    }
    return outs;
}

void collect_unsupported(const graph::Graph& g, std::set<std::string>& out) {
    for (const auto& n : g.nodes) {
        if (!find_ref_op(n.domain, n.op_type)) out.insert((n.domain.empty() ? "" : n.domain + ".") + n.op_type);
        for (const auto& [k, a] : n.attrs) {
            if (a.g) collect_unsupported(*a.g, out);
            for (const auto& sg : a.graphs) collect_unsupported(*sg, out);
        }
    }
}

}  // namespace

std::vector<std::string> unsupported_ops(const graph::Model& model) {
    std::set<std::string> s;
    collect_unsupported(model.graph, s);
    return {s.begin(), s.end()};
}

Result<std::map<std::string, Tensor>> run_reference(const graph::Model& model,
                                                    const std::map<std::string, Tensor>& inputs,
                                                    const RunOptions& opts) {
    const graph::Graph& g = model.graph;
    Scope scope;
    for (const auto& [name, t] : inputs) {
        const graph::ValueInfo* vi = nullptr;
        for (const auto& in : g.inputs)
            if (in.name == name) vi = &in;
        if (!vi) {
            if (g.initializers.count(name)) {  // overriding a parameter listed as an input (IR < 4 models)
                scope.values[name] = t;
                continue;
            }
            std::string names;
            for (const auto& in : g.inputs) names += (names.empty() ? "" : ", ") + in.name;
            return InvalidArgument("model has no input '" + name + "' (inputs: " + names + ")");
        }
        if (vi->dtype && *vi->dtype != t.dtype()) {
            return InvalidArgument("input '" + name + "': expected " + dtype_name(*vi->dtype) + ", got " +
                                   dtype_name(t.dtype()));
        }
        if (vi->has_shape) {
            bool ok = vi->shape.size() == t.shape().size();
            for (size_t i = 0; ok && i < vi->shape.size(); ++i)
                ok = vi->shape[i].value < 0 || vi->shape[i].value == t.shape()[i];
            if (!ok) {
                std::string want = "[";
                for (size_t i = 0; i < vi->shape.size(); ++i)
                    want += (i ? ", " : "") + (vi->shape[i].value >= 0 ? std::to_string(vi->shape[i].value)
                                                                        : (vi->shape[i].param.empty() ? "?" : vi->shape[i].param));
                return InvalidArgument("input '" + name + "': expected shape " + want + "], got " + shape_str(t.shape()));
            }
        }
        scope.values[name] = t;
    }
    for (const auto& in : g.inputs) {
        if (!scope.values.count(in.name)) return InvalidArgument("missing input '" + in.name + "'");
    }
    EDGEQ_ASSIGN_OR_RETURN(auto outs, run_graph(model, g, scope, opts));
    std::map<std::string, Tensor> result;
    for (size_t i = 0; i < g.outputs.size(); ++i) result[g.outputs[i].name] = std::move(outs[i]);
    return result;
}

}  // namespace edgeq::runtime
