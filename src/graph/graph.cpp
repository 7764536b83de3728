#include "graph/graph.h"

#include <set>
#include <unordered_map>

namespace edgeq::graph {

const Attribute* Node::attr(const std::string& a) const {
    auto it = attrs.find(a);
    return it == attrs.end() ? nullptr : &it->second;
}
int64_t Node::attr_i(const std::string& a, int64_t dflt) const {
    const Attribute* x = attr(a);
    return x ? x->i : dflt;
}
float Node::attr_f(const std::string& a, float dflt) const {
    const Attribute* x = attr(a);
    return x ? x->f : dflt;
}
std::string Node::attr_s(const std::string& a, const std::string& dflt) const {
    const Attribute* x = attr(a);
    return x ? x->s : dflt;
}
std::vector<int64_t> Node::attr_ints(const std::string& a, std::vector<int64_t> dflt) const {
    const Attribute* x = attr(a);
    return x ? x->ints : dflt;
}
std::vector<float> Node::attr_floats(const std::string& a, std::vector<float> dflt) const {
    const Attribute* x = attr(a);
    return x ? x->floats : dflt;
}
std::string Node::describe() const {
    return "node '" + name + "' (" + (domain.empty() ? "" : domain + ".") + op_type + ")";
}

const ValueInfo* Graph::find_value_info(const std::string& n) const {
    for (const auto* list : {&inputs, &outputs, &value_info})
        for (const auto& v : *list)
            if (v.name == n) return &v;
    return nullptr;
}

Result<std::vector<size_t>> topological_order(const Graph& g, const std::vector<std::string>& outer) {
    std::unordered_map<std::string, size_t> producer;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        for (const auto& o : g.nodes[i].outputs) {
            if (o.empty()) continue;
            if (!producer.emplace(o, i).second) {
                return Corrupt("value '" + o + "' is produced twice: by " + g.nodes[producer[o]].describe() +
                               " and " + g.nodes[i].describe());
            }
        }
    }
    std::set<std::string> available(outer.begin(), outer.end());
    for (const auto& in : g.inputs) available.insert(in.name);
    for (const auto& [name, t] : g.initializers) available.insert(name);
    // Kahn's algorithm in node order (stable: keeps the file order where it is already valid).
    std::vector<int> missing(g.nodes.size(), 0);
    std::unordered_map<std::string, std::vector<size_t>> consumers;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        std::set<std::string> seen;
        for (const auto& in : g.nodes[i].inputs) {
            if (in.empty() || available.count(in) || !seen.insert(in).second) continue;
            if (!producer.count(in)) {
                return Corrupt(g.nodes[i].describe() + ": input '" + in +
                               "' is not a graph input, an initializer or any node's output");
            }
            ++missing[i];
            consumers[in].push_back(i);
        }
    }
    std::vector<size_t> order, ready;
    for (size_t i = g.nodes.size(); i-- > 0;)
        if (missing[i] == 0) ready.push_back(i);
    while (!ready.empty()) {
        const size_t i = ready.back();
        ready.pop_back();
        order.push_back(i);
        std::vector<size_t> now;
        for (const auto& o : g.nodes[i].outputs) {
            auto it = consumers.find(o);
            if (it == consumers.end()) continue;
            for (size_t c : it->second)
                if (--missing[c] == 0) now.push_back(c);
        }
        for (size_t k = now.size(); k-- > 0;) ready.push_back(now[k]);
    }
    if (order.size() != g.nodes.size()) {
        for (size_t i = 0; i < g.nodes.size(); ++i)
            if (missing[i] > 0) return Corrupt("graph has a cycle through " + g.nodes[i].describe());
    }
    return order;
}

Status verify(const Graph& g, const std::vector<std::string>& outer) {
    EDGEQ_ASSIGN_OR_RETURN(auto order, topological_order(g, outer));
    (void)order;
    std::set<std::string> defined(outer.begin(), outer.end());
    for (const auto& in : g.inputs) defined.insert(in.name);
    for (const auto& [name, t] : g.initializers) defined.insert(name);
    for (const auto& n : g.nodes)
        for (const auto& o : n.outputs) defined.insert(o);
    for (const auto& o : g.outputs) {
        if (!defined.count(o.name)) return Corrupt("graph output '" + o.name + "' is never produced");
    }
    return Status::Ok();
}

}  // namespace edgeq::graph
