// Fresh names for graph rewrites (quantizer, optimizer): base, base_1, base_2, ... never equal to a name the
// graph already uses (initializers, graph inputs, node names and outputs) nor to one handed out before.
#pragma once

#include <set>
#include <string>

#include "graph/graph.h"

namespace edgeq::graph {

class UniqueNames {
public:
    explicit UniqueNames(const Graph& g);
    std::string operator()(const std::string& base);

private:
    std::set<std::string> used_;
};

}  // namespace edgeq::graph
