// A loaded, optimized ONNX model ready to run: the one object the CLI (run, eval, bench) and the quantizer's
// calibration use, so they all execute the same graph the same way.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "edgeq/status.h"
#include "edgeq/tensor.h"
#include "graph/graph.h"
#include "passes/optimize.h"

namespace edgeq {

struct SessionOptions {
    bool optimize = true;    // run passes::optimize after loading
    bool reference = false;  // run with the reference executor (the specification) instead of the fast plans
    int threads = 0;         // fast path: worker threads, 0 = all cores
};

class Session {
public:
    static Result<std::unique_ptr<Session>> open(const std::string& onnx_path, const SessionOptions& opts = {});
    static Result<std::unique_ptr<Session>> from_model(graph::Model model, const SessionOptions& opts = {});

    // Inputs by graph-input name; returns every graph output by name.
    Result<std::map<std::string, Tensor>> run(const std::map<std::string, Tensor>& inputs) const;

    const graph::Model& model() const { return model_; }
    const passes::OptimizeReport& optimize_report() const { return report_; }

    // The fast executor's per-step trace for the given input shapes ("" with the reference executor).
    std::string trace(const std::map<std::string, Shape>& input_shapes) const;

private:
    struct Plans;
    Session();
    graph::Model model_;
    passes::OptimizeReport report_;
    SessionOptions opts_;
    std::unique_ptr<Plans> plans_;  // fast plans cached by input shapes
public:
    ~Session();
};

}  // namespace edgeq
