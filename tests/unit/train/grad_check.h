// Finite-difference gradient checking for the trainer's ops (tests/unit/train).
//
// A graph with differentiable inputs x_i (graph inputs, so their gradients are reported) and a fixed random
// weighting R of its output gives the scalar L = Σ y·R. The analytic gradient (Net::backward seeded with R) must
// match the central difference (L(x + ε) − L(x − ε)) / 2ε for every element:
//   |analytic − numeric| <= kGradAbsTol + kGradRelTol · max(|analytic|, |numeric|).
// Inputs are drawn so that no ε-step crosses a kink (Relu at 0, Clip bounds, max-pool ties).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "unit/runtime/attrs.h"
#include "train/net.h"

namespace edgeq::train::testing {

inline constexpr float kFdStep = 1e-2f;      // ε of the central difference (float32 forward)
inline constexpr float kFdStepComposite = 3e-4f;  // ε for whole networks (kinks are denser there)
inline constexpr double kGradAbsTol = 2e-3;  // absolute slack: float rounding of L divided by 2ε
inline constexpr double kGradRelTol = 2e-2;  // relative slack: O(ε²) truncation of the central difference

inline Tensor random_tensor(Shape s, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f) {
    Tensor t(DType::F32, std::move(s));
    std::uniform_real_distribution<float> u(lo, hi);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
    return t;
}

// Values in [-1, 1] whose pairwise gaps are at least `gap` and whose magnitude is at least gap/2 (no ties, no
// zero crossings within ε).
inline Tensor distinct_tensor(Shape s, std::mt19937& rng, float gap = 0.05f) {
    Tensor t(DType::F32, std::move(s));
    const int64_t n = t.numel();
    std::vector<int64_t> perm(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) perm[static_cast<size_t>(i)] = i;
    std::shuffle(perm.begin(), perm.end(), rng);
    for (int64_t i = 0; i < n; ++i)
        t.data<float>()[i] = (static_cast<float>(perm[static_cast<size_t>(i)]) - static_cast<float>(n) / 2 + 0.5f) * gap;
    return t;
}

inline graph::ValueInfo f32_input(const std::string& name, const Shape& s) {
    graph::ValueInfo v;
    v.name = name;
    v.dtype = DType::F32;
    v.onnx_elem_type = 1;
    v.has_shape = true;
    for (int64_t d : s) v.shape.push_back(graph::Dim{d, ""});
    return v;
}

// Attribute makers: tests/unit/runtime/attrs.h (test::ints, test::one_int, test::one_float, test::str).
using edgeq::test::ints;
using edgeq::test::one_float;
using edgeq::test::one_int;
using edgeq::test::str;

// One-node model: `inputs` become graph inputs (differentiable, checked), `consts` initializers.
inline graph::Model one_node(const std::string& op, const std::vector<std::pair<std::string, Tensor>>& inputs,
                             const std::vector<std::string>& input_order,
                             const std::map<std::string, Tensor>& consts,
                             std::map<std::string, graph::Attribute> attrs = {}, int64_t opset = 13) {
    graph::Model m;
    m.opsets[""] = opset;
    m.ir_version = 8;
    graph::Node n;
    n.name = "n";
    n.op_type = op;
    n.inputs = input_order;
    n.outputs = {"y"};
    n.attrs = std::move(attrs);
    m.graph.nodes.push_back(n);
    for (const auto& [name, t] : inputs) m.graph.inputs.push_back(f32_input(name, t.shape()));
    for (const auto& [name, t] : consts) m.graph.initializers[name] = t;
    m.graph.outputs.push_back(f32_input("y", {}));
    return m;
}

inline double weighted_sum(const Tensor& y, const Tensor& r) {
    double s = 0;
    for (int64_t i = 0; i < y.numel(); ++i) s += static_cast<double>(y.data<float>()[i]) * r.data<float>()[i];
    return s;
}

// Checks d(Σ y·R)/d(input) for every graph input and every parameter of the model. training: BN mode.
inline void check_gradients(const graph::Model& model, const std::map<std::string, Tensor>& feeds,
                            bool training = true, uint32_t seed = 7) {
    auto made = Net::create(model);
    ASSERT_TRUE(made.ok()) << made.status().message();
    Net net = std::move(made).value();
    ASSERT_TRUE(net.forward(feeds, training).ok());
    const std::string out = net.output_name();
    Tensor y = net.value(out).value();
    std::mt19937 rng(seed);
    const Tensor r = random_tensor(y.shape(), rng);
    net.zero_grad();
    const Status b = net.backward({{out, r}});
    ASSERT_TRUE(b.ok()) << b.message();

    // Every tensor to check: fed inputs (by value copy) and parameters (in place).
    struct Target {
        std::string name;
        Tensor value, analytic;
    };
    std::vector<Target> targets;
    for (const auto& [name, t] : feeds) targets.push_back({name, t, net.grad(name)});
    for (Param& p : net.params()) targets.push_back({p.name, p.value, p.grad.clone()});
    ASSERT_FALSE(targets.empty());
    auto loss = [&]() {
        EXPECT_TRUE(net.forward(feeds, training).ok());
        return weighted_sum(net.value(out).value(), r);
    };
    for (Target& t : targets) {
        ASSERT_FALSE(t.analytic.empty_handle()) << "no gradient reached " << t.name;
        ASSERT_EQ(t.analytic.shape(), t.value.shape()) << t.name;
        float* v = t.value.data<float>();
        for (int64_t i = 0; i < t.value.numel(); ++i) {
            const float keep = v[i];
            v[i] = keep + kFdStep;
            const double lp = loss();
            v[i] = keep - kFdStep;
            const double lm = loss();
            v[i] = keep;
            const double numeric = (lp - lm) / (2.0 * kFdStep);
            const double analytic = t.analytic.data<float>()[i];
            const double tol = kGradAbsTol + kGradRelTol * std::max(std::fabs(analytic), std::fabs(numeric));
            ASSERT_NEAR(analytic, numeric, tol) << model.graph.nodes.front().op_type << ": d/d" << t.name << "[" << i
                                                << "]";
        }
    }
}

}  // namespace edgeq::train::testing
