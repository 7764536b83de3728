// Attribute makers shared by the runtime tests that build graphs in code.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "graph/graph.h"

namespace edgeq::test {

inline graph::Attribute ints(std::vector<int64_t> v) {
    graph::Attribute a;
    a.kind = graph::Attribute::Kind::Ints;
    a.ints = std::move(v);
    return a;
}
inline graph::Attribute one_int(int64_t v) {
    graph::Attribute a;
    a.kind = graph::Attribute::Kind::Int;
    a.i = v;
    return a;
}
inline graph::Attribute one_float(float v) {
    graph::Attribute a;
    a.kind = graph::Attribute::Kind::Float;
    a.f = v;
    return a;
}
inline graph::Attribute str(std::string s) {
    graph::Attribute a;
    a.kind = graph::Attribute::Kind::String;
    a.s = std::move(s);
    return a;
}
inline graph::Attribute floats(std::vector<float> v) {
    graph::Attribute a;
    a.kind = graph::Attribute::Kind::Floats;
    a.floats = std::move(v);
    return a;
}

}  // namespace edgeq::test
