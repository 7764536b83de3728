#include "graph/names.h"

namespace edgeq::graph {

UniqueNames::UniqueNames(const Graph& g) {
    for (const auto& [k, v] : g.initializers) used_.insert(k);
    for (const auto& i : g.inputs) used_.insert(i.name);
    for (const auto& n : g.nodes) {
        used_.insert(n.name);
        for (const auto& o : n.outputs) used_.insert(o);
    }
}

std::string UniqueNames::operator()(const std::string& base) {
    std::string s = base;
    for (int i = 1; used_.count(s); ++i) s = base + "_" + std::to_string(i);
    used_.insert(s);
    return s;
}

}  // namespace edgeq::graph
