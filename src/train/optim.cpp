#include "train/optim.h"

#include <cmath>

namespace edgeq::train {

void Optimizer::ensure_state(const std::vector<Param>& params, bool second) {
    if (s1_.size() == params.size()) return;
    s1_.clear();
    s2_.clear();
    for (const Param& p : params) {
        s1_.emplace_back(static_cast<size_t>(p.value.numel()), 0.0f);
        if (second) s2_.emplace_back(static_cast<size_t>(p.value.numel()), 0.0f);
    }
}

namespace {

class Sgd final : public Optimizer {
public:
    explicit Sgd(const OptimizerOptions& o) : Optimizer(o) {}
    void step(std::vector<Param>& params) override {
        ensure_state(params, false);
        for (size_t k = 0; k < params.size(); ++k) {
            float* p = params[k].value.data<float>();
            const float* g = params[k].grad.data<float>();
            float* v = s1_[k].data();
            for (int64_t i = 0; i < params[k].value.numel(); ++i) {
                const float gi = g[i] + opt_.weight_decay * p[i];
                v[i] = opt_.momentum * v[i] + gi;
                p[i] -= opt_.lr * v[i];
            }
        }
    }
};

class Adam final : public Optimizer {
public:
    explicit Adam(const OptimizerOptions& o) : Optimizer(o) {}
    void step(std::vector<Param>& params) override {
        ensure_state(params, true);
        ++t_;
        const float c1 = 1.0f - std::pow(opt_.beta1, static_cast<float>(t_));
        const float c2 = 1.0f - std::pow(opt_.beta2, static_cast<float>(t_));
        for (size_t k = 0; k < params.size(); ++k) {
            float* p = params[k].value.data<float>();
            const float* g = params[k].grad.data<float>();
            float *m = s1_[k].data(), *v = s2_[k].data();
            for (int64_t i = 0; i < params[k].value.numel(); ++i) {
                const float gi = g[i] + opt_.weight_decay * p[i];
                m[i] = opt_.beta1 * m[i] + (1 - opt_.beta1) * gi;
                v[i] = opt_.beta2 * v[i] + (1 - opt_.beta2) * gi * gi;
                p[i] -= opt_.lr * (m[i] / c1) / (std::sqrt(v[i] / c2) + opt_.eps);
            }
        }
    }

private:
    int64_t t_ = 0;
};

}  // namespace

Result<std::unique_ptr<Optimizer>> make_optimizer(const OptimizerOptions& o) {
    if (!(o.lr > 0)) return InvalidArgument("learning rate must be > 0, got " + std::to_string(o.lr));
    if (o.kind == "sgd") return std::unique_ptr<Optimizer>(new Sgd(o));
    if (o.kind == "adam") return std::unique_ptr<Optimizer>(new Adam(o));
    return InvalidArgument("optimizer '" + o.kind + "': expected sgd or adam");
}

}  // namespace edgeq::train
