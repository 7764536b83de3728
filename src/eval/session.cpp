#include "eval/session.h"

#include "formats/onnx/onnx_import.h"
#include "core/parallel.h"
#include "runtime/fast/executor.h"
#include "runtime/ref/executor.h"

namespace edgeq {

// Fast plans are built per set of input shapes (a Plan fixes shapes) and reused; a Plan is not re-entrant, so
// runs are serialized by the mutex.
struct Session::Plans {
    std::mutex mu;
    std::map<std::string, runtime::fast::Plan> by_shape;
};

Session::Session() : plans_(std::make_unique<Plans>()) {}
Session::~Session() = default;

namespace {
std::string shape_key(const std::map<std::string, Shape>& shapes) {
    std::string k;
    for (const auto& [n, s] : shapes) k += n + shape_str(s) + ";";
    return k;
}
}  // namespace

Result<std::unique_ptr<Session>> Session::open(const std::string& onnx_path, const SessionOptions& opts) {
    EDGEQ_ASSIGN_OR_RETURN(auto model, onnxio::load_model(onnx_path));
    return from_model(std::move(model), opts);
}

Result<std::unique_ptr<Session>> Session::from_model(graph::Model model, const SessionOptions& opts) {
    std::unique_ptr<Session> s(new Session());
    s->opts_ = opts;
    s->model_ = std::move(model);
    if (opts.optimize) {
        passes::OptimizeOptions oo;
        oo.keep_weight_dequantize = true;  // the fast executor runs QDQ Conv / Gemm / MatMul as integer steps
        EDGEQ_ASSIGN_OR_RETURN(s->report_, passes::optimize(s->model_, oo));
    }
    const auto missing = runtime::unsupported_ops(s->model_);
    if (!missing.empty()) {
        std::string list;
        for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
        return Unsupported(s->model_.path + ": operators not supported by edgeq: " + list);
    }
    return s;
}

Result<std::map<std::string, Tensor>> Session::run(const std::map<std::string, Tensor>& inputs) const {
    if (opts_.reference) return runtime::run_reference(model_, inputs);
    const auto& g = model_.graph;
    for (const auto& [name, t] : inputs) {  // same checks and messages as the reference executor
        bool known = g.initializers.count(name) != 0;
        for (const auto& in : g.inputs) known = known || in.name == name;
        if (!known) {
            std::string names;
            for (const auto& in : g.inputs) names += (names.empty() ? "" : ", ") + in.name;
            return InvalidArgument("model has no input '" + name + "' (inputs: " + names + ")");
        }
    }
    for (const auto& in : g.inputs)
        if (!inputs.count(in.name)) return InvalidArgument("missing input '" + in.name + "'");
    std::map<std::string, Shape> shapes;
    for (const auto& [n, t] : inputs) shapes[n] = t.shape();
    std::lock_guard<std::mutex> lock(plans_->mu);
    const std::string key = shape_key(shapes);
    auto it = plans_->by_shape.find(key);
    if (it == plans_->by_shape.end()) {
        runtime::fast::PlanOptions po;
        po.threads = opts_.threads > 0 ? opts_.threads : hardware_threads();
        EDGEQ_ASSIGN_OR_RETURN(auto p, runtime::fast::plan(model_, shapes, po));
        it = plans_->by_shape.emplace(key, std::move(p)).first;
    }
    return it->second.run(inputs);
}

std::string Session::trace(const std::map<std::string, Shape>& input_shapes) const {
    if (opts_.reference) return "";
    runtime::fast::PlanOptions po;
    po.threads = opts_.threads > 0 ? opts_.threads : hardware_threads();
    auto p = runtime::fast::plan(model_, input_shapes, po);
    return p.ok() ? p->trace() : p.status().message();
}

}  // namespace edgeq
