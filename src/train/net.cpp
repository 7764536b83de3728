#include "train/net.h"

#include <set>

namespace edgeq::train {

Result<Net> Net::create(graph::Model model, int threads) {
    Net net;
    EDGEQ_RETURN_IF_ERROR(graph::verify(model.graph));
    if (model.graph.inputs.empty() || model.graph.outputs.empty())
        return InvalidArgument("model '" + model.path + "': needs a graph input and output to train");
    EDGEQ_ASSIGN_OR_RETURN(net.order_, graph::topological_order(model.graph));
    net.ops_.resize(model.graph.nodes.size());
    net.state_.resize(model.graph.nodes.size());
    std::set<std::string> trainable;
    for (size_t i = 0; i < model.graph.nodes.size(); ++i) {
        const graph::Node& n = model.graph.nodes[i];
        if (n.op_type == "Constant") continue;
        const bool onnx = n.domain.empty() || n.domain == "ai.onnx";
        const GradOp* op = (onnx && n.op_type != "FakeQuant") || (n.domain == "com.edgeq" && n.op_type == "FakeQuant")
                               ? find_grad_op(n.op_type)
                               : nullptr;
        if (!op) {
            std::string list;
            for (const auto& s : grad_op_names()) list += (list.empty() ? "" : ", ") + s;
            return Unsupported(n.describe() + ": no gradient for this op (training supports " + list + ")");
        }
        net.ops_[i] = op;
        for (size_t k = 0; k < n.inputs.size() && k < 32; ++k)
            if ((op->diff_inputs >> k) & 1u) trainable.insert(n.inputs[k]);
    }
    for (auto& [name, t] : model.graph.initializers) {
        if (!trainable.count(name)) continue;
        if (t.dtype() != DType::F32)
            return Unsupported("initializer '" + name + "' is " + std::string(dtype_name(t.dtype())) +
                               ": training needs float32 parameters");
        net.params_.push_back(Param{name, t, Tensor(DType::F32, t.shape())});
    }
    net.model_ = std::move(model);
    net.threads_ = threads < 1 ? 1 : threads;
    return net;
}

std::string Net::logits_name() const {
    const std::string& out = output_name();
    for (const graph::Node& n : model_.graph.nodes)
        if (!n.outputs.empty() && n.outputs[0] == out && n.op_type == "Softmax") return n.inputs.at(0);
    return out;
}

Status Net::forward(const std::map<std::string, Tensor>& feeds, bool training) {
    values_.clear();
    grads_.clear();
    training_ = training;
    for (const auto& [name, t] : model_.graph.initializers) values_[name] = t;
    for (const graph::ValueInfo& vi : model_.graph.inputs) {
        auto it = feeds.find(vi.name);
        if (it == feeds.end()) return InvalidArgument("graph input '" + vi.name + "' is not fed");
        values_[vi.name] = it->second;
    }
    const int64_t opset = model_.opset();
    for (size_t idx : order_) {
        const graph::Node& n = model_.graph.nodes[idx];
        if (n.op_type == "Constant") {
            const graph::Attribute* a = n.attr("value");
            if (!a || a->kind != graph::Attribute::Kind::Tensor)
                return Unsupported(n.describe() + ": only Constant 'value' tensors are supported");
            values_[n.outputs.at(0)] = a->t;
            continue;
        }
        FwdCtx c{n, {}, {}, state_[idx], training, threads_, opset};
        for (const std::string& in : n.inputs) c.in.push_back(in.empty() ? Tensor() : values_.at(in));
        EDGEQ_RETURN_IF_ERROR(ops_[idx]->forward(c));
        for (size_t k = 0; k < n.outputs.size() && k < c.out.size(); ++k)
            if (!n.outputs[k].empty()) values_[n.outputs[k]] = c.out[k];
    }
    return Status::Ok();
}

Result<Tensor> Net::value(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end()) return NotFound("no value '" + name + "' (run forward first)");
    return it->second;
}

Tensor Net::grad(const std::string& name) const {
    auto it = grads_.find(name);
    return it == grads_.end() ? Tensor() : it->second;
}

void Net::zero_grad() {
    for (Param& p : params_) std::fill(p.grad.data<float>(), p.grad.data<float>() + p.grad.numel(), 0.0f);
}

static void add_into(std::map<std::string, Tensor>& grads, const std::string& name, const Tensor& g) {
    auto it = grads.find(name);
    if (it == grads.end()) {
        grads[name] = g;
        return;
    }
    // Never mutate a tensor an op may still share: accumulate into a fresh one.
    Tensor sum = it->second.clone();
    float* d = sum.data<float>();
    const float* s = g.data<float>();
    for (int64_t i = 0; i < sum.numel(); ++i) d[i] += s[i];
    it->second = sum;
}

Status Net::backward(const std::map<std::string, Tensor>& seeds) {
    grads_.clear();
    for (const auto& [name, g] : seeds) {
        auto v = values_.find(name);
        if (v == values_.end()) return InvalidArgument("backward: no value '" + name + "' (run forward first)");
        if (g.dtype() != DType::F32 || g.shape() != v->second.shape())
            return InvalidArgument("backward: gradient for '" + name + "' must be float32 " +
                                   shape_str(v->second.shape()) + ", got " + shape_str(g.shape()));
        add_into(grads_, name, g);
    }
    std::set<std::string> param_names;
    for (const Param& p : params_) param_names.insert(p.name);
    const int64_t opset = model_.opset();
    for (size_t r = order_.size(); r-- > 0;) {
        const size_t idx = order_[r];
        const graph::Node& n = model_.graph.nodes[idx];
        if (n.op_type == "Constant" || n.outputs.empty()) continue;
        auto dy = grads_.find(n.outputs[0]);
        if (dy == grads_.end()) continue;
        std::vector<Tensor> in, out;
        for (const std::string& s : n.inputs) in.push_back(s.empty() ? Tensor() : values_.at(s));
        for (const std::string& s : n.outputs) out.push_back(s.empty() ? Tensor() : values_.at(s));
        BwdCtx c{n, in, out, dy->second, {}, {}, state_[idx], training_, threads_, opset};
        c.want.assign(n.inputs.size(), false);
        c.dx.assign(n.inputs.size(), Tensor());
        for (size_t k = 0; k < n.inputs.size() && k < 32; ++k)
            c.want[k] = !n.inputs[k].empty() && ((ops_[idx]->diff_inputs >> k) & 1u) != 0 &&
                        (!model_.graph.initializers.count(n.inputs[k]) || param_names.count(n.inputs[k]));
        EDGEQ_RETURN_IF_ERROR(ops_[idx]->backward(c));
        for (size_t k = 0; k < n.inputs.size(); ++k)
            if (c.want[k] && !c.dx[k].empty_handle()) add_into(grads_, n.inputs[k], c.dx[k]);
    }
    for (Param& p : params_) {
        auto it = grads_.find(p.name);
        if (it == grads_.end()) continue;
        float* d = p.grad.data<float>();
        const float* s = it->second.data<float>();
        for (int64_t i = 0; i < p.grad.numel(); ++i) d[i] += s[i];
    }
    return Status::Ok();
}

}  // namespace edgeq::train
