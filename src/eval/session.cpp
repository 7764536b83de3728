#include "eval/session.h"

#include "formats/onnx/onnx_import.h"
#include "runtime/ref/executor.h"

namespace edgeq {

Result<std::unique_ptr<Session>> Session::open(const std::string& onnx_path, const SessionOptions& opts) {
    EDGEQ_ASSIGN_OR_RETURN(auto model, onnxio::load_model(onnx_path));
    return from_model(std::move(model), opts);
}

Result<std::unique_ptr<Session>> Session::from_model(graph::Model model, const SessionOptions& opts) {
    std::unique_ptr<Session> s(new Session());
    s->opts_ = opts;
    s->model_ = std::move(model);
    if (opts.optimize) {
        EDGEQ_ASSIGN_OR_RETURN(s->report_, passes::optimize(s->model_));
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
    return runtime::run_reference(model_, inputs);
}

}  // namespace edgeq
