// A trainable view of a graph::Model: forward over the graph IR in topological order (FP32, own op table in
// train/ops.*), reverse-mode backward from seeded output gradients, and the parameters (float initializers
// that reach a differentiable input) with their gradients.
//
// BatchNormalization in training mode normalizes with batch statistics and updates the running mean/variance
// initializers in place (running = momentum·running + (1 − momentum)·batch, ONNX's rule, population variance);
// in inference mode it uses the running statistics, as every ONNX runtime does. The model returned by model()
// shares the parameter buffers, so saving it after training writes the trained weights.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "edgeq/status.h"
#include "edgeq/tensor.h"
#include "graph/graph.h"
#include "train/ops.h"

namespace edgeq::train {

struct Param {
    std::string name;
    Tensor value;  // shares the initializer's buffer
    Tensor grad;   // same shape; accumulated by backward(), cleared by zero_grad()
};

class Net {
public:
    // Errors: an op without a gradient here (names the node and lists the supported ops), a graph that does
    // not verify, a non-float parameter feeding a differentiable input.
    static Result<Net> create(graph::Model model, int threads = 1);

    // Runs every node. feeds: graph inputs by name (F32). training: BatchNormalization uses batch statistics.
    Status forward(const std::map<std::string, Tensor>& feeds, bool training);
    // The value of any graph value after forward() (inputs, initializers, node outputs); error if unknown.
    Result<Tensor> value(const std::string& name) const;
    const std::string& input_name() const { return model_.graph.inputs.at(0).name; }
    const std::string& output_name() const { return model_.graph.outputs.at(0).name; }
    // The value a classification loss should see: the output, or the input of a final Softmax (the loss fuses
    // softmax and cross-entropy).
    std::string logits_name() const;

    // Seeds d(loss)/d(value) for the given values (usually the logits) and back-propagates through every node
    // that leads to them, accumulating into Param::grad. Input gradients are kept (input_grad()).
    Status backward(const std::map<std::string, Tensor>& seeds);
    // d(loss)/d(name) from the last backward() (graph inputs and intermediate values); empty if none flowed.
    Tensor grad(const std::string& name) const;

    std::vector<Param>& params() { return params_; }
    void zero_grad();
    const graph::Model& model() const { return model_; }
    int threads() const { return threads_; }
    void set_threads(int t) { threads_ = t < 1 ? 1 : t; }

private:
    graph::Model model_;
    std::vector<size_t> order_;
    std::vector<const GradOp*> ops_;  // per node index
    std::vector<NodeState> state_;
    std::map<std::string, Tensor> values_, grads_;
    std::vector<Param> params_;
    bool training_ = false;
    int threads_ = 1;
};

}  // namespace edgeq::train
