// com.edgeq fused ops: base op (Conv / Gemm / MatMul) computed by its reference implementation, then
// FusedMatMul's bias (3rd input, broadcast over the last dimension) and the activation named by the
// "activation" attribute with "activation_params" (LeakyRelu: alpha; HardSigmoid: alpha, beta; Clip: min, max).
#include <algorithm>
#include <cmath>

#include "runtime/ref/common.h"
#include "runtime/ref/op.h"

namespace edgeq::runtime {
namespace {

Status apply_activation(OpContext& ctx, Tensor& y) {
    const std::string act = ctx.node.attr_s("activation", "");
    if (act.empty()) return Status::Ok();
    if (y.dtype() != DType::F32) return ctx.unsupported("fused activation on " + std::string(dtype_name(y.dtype())));
    const auto p = ctx.node.attr_floats("activation_params");
    auto param = [&](size_t i, float d) { return i < p.size() ? p[i] : d; };
    float* v = y.data<float>();
    const int64_t n = y.numel();
    if (act == "Relu") {
        for (int64_t i = 0; i < n; ++i) v[i] = std::max(v[i], 0.0f);
    } else if (act == "LeakyRelu") {
        const float a = param(0, 0.01f);
        for (int64_t i = 0; i < n; ++i) v[i] = v[i] < 0 ? v[i] * a : v[i];
    } else if (act == "Clip") {
        const float lo = param(0, -INFINITY), hi = param(1, INFINITY);
        for (int64_t i = 0; i < n; ++i) v[i] = std::min(std::max(v[i], lo), hi);
    } else if (act == "Sigmoid") {
        for (int64_t i = 0; i < n; ++i) v[i] = 1.0f / (1.0f + std::exp(-v[i]));
    } else if (act == "Tanh") {
        for (int64_t i = 0; i < n; ++i) v[i] = std::tanh(v[i]);
    } else if (act == "HardSigmoid") {
        const float a = param(0, 0.2f), b = param(1, 0.5f);
        for (int64_t i = 0; i < n; ++i) v[i] = std::max(0.0f, std::min(1.0f, a * v[i] + b));
    } else if (act == "HardSwish") {
        for (int64_t i = 0; i < n; ++i) v[i] = v[i] * std::max(0.0f, std::min(1.0f, v[i] / 6.0f + 0.5f));
    } else {
        return ctx.unsupported("unknown fused activation '" + act + "'");
    }
    return Status::Ok();
}

Status run_base(OpContext& ctx, const char* base, size_t n_inputs) {
    const OpRow* row = find_ref_op("", base);
    if (!row) return ctx.unsupported(std::string("base op ") + base + " missing");
    OpContext inner{ctx.node, ctx.node.attr_i("edgeq_opset", 13), {}, {}, ctx.run_subgraph};
    inner.shape_only = ctx.shape_only;
    for (size_t i = 0; i < std::min(n_inputs, ctx.inputs.size()); ++i) inner.inputs.push_back(ctx.inputs[i]);
    inner.outputs.resize(1);
    EDGEQ_RETURN_IF_ERROR(row->fn(inner));
    ctx.outputs[0] = std::move(inner.outputs[0]);
    return Status::Ok();
}

}  // namespace

Status op_fused_conv(OpContext& ctx) {
    EDGEQ_RETURN_IF_ERROR(run_base(ctx, "Conv", 3));
    return apply_activation(ctx, ctx.outputs[0]);
}

Status op_fused_gemm(OpContext& ctx) {
    EDGEQ_RETURN_IF_ERROR(run_base(ctx, "Gemm", 3));
    return apply_activation(ctx, ctx.outputs[0]);
}

Status op_fused_matmul(OpContext& ctx) {
    EDGEQ_RETURN_IF_ERROR(run_base(ctx, "MatMul", 2));
    Tensor& y = ctx.outputs[0];
    if (ctx.has_input(2)) {
        const Tensor& b = ctx.in(2);
        if (y.dtype() != DType::F32 || b.dtype() != DType::F32 || y.rank() < 1 || b.numel() != y.dim(-1)) {
            return ctx.fail("bias " + shape_str(b.shape()) + " does not match the last dimension of " + shape_str(y.shape()));
        }
        y = y.clone();  // the base op's output is ours, but be explicit about not aliasing inputs
        float* v = y.data<float>();
        const float* bb = b.data<float>();
        const int64_t n = b.numel(), rows = y.numel() / std::max<int64_t>(n, 1);
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t j = 0; j < n; ++j) v[r * n + j] += bb[j];
    } else if (y.dtype() == DType::F32) {
        y = y.clone();
    }
    return apply_activation(ctx, y);
}

}  // namespace edgeq::runtime
