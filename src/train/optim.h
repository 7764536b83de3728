// Optimizers over Net parameters (PyTorch conventions, so their hyper-parameters transfer):
//   SGD:  g' = g + wd·p;  v = μ·v + g';  p -= lr·v                       (μ = 0: plain SGD)
//   Adam: g' = g + wd·p;  m = β1·m + (1-β1)·g';  v = β2·v + (1-β2)·g'²;
//         p -= lr · (m / (1-β1^t)) / (sqrt(v / (1-β2^t)) + eps)
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "edgeq/status.h"
#include "train/net.h"

namespace edgeq::train {

struct OptimizerOptions {
    std::string kind = "adam";  // "sgd" | "adam"
    float lr = 1e-3f;
    float momentum = 0.9f;      // SGD
    float weight_decay = 0.0f;
    float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;  // Adam
};

class Optimizer {
public:
    virtual ~Optimizer() = default;
    // One update of every parameter from its grad (state is kept per parameter, by position).
    virtual void step(std::vector<Param>& params) = 0;
    void set_lr(float lr) { opt_.lr = lr; }
    float lr() const { return opt_.lr; }

protected:
    explicit Optimizer(const OptimizerOptions& o) : opt_(o) {}
    OptimizerOptions opt_;
    std::vector<std::vector<float>> s1_, s2_;  // momentum / first and second moments
    void ensure_state(const std::vector<Param>& params, bool second);
};

// InvalidArgument for an unknown kind or a non-positive learning rate.
Result<std::unique_ptr<Optimizer>> make_optimizer(const OptimizerOptions& o);

}  // namespace edgeq::train
