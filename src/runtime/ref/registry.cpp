// The reference op table, built from the per-family rows ops_<family>.def:
//   EDGEQ_REF_OP(OpType, "domain", function)
#include <cstring>

#include "runtime/ref/op.h"

namespace edgeq::runtime {

#define EDGEQ_REF_OP(op, domain, fn) Status fn(OpContext&);
#include "runtime/ref/ops_control.def"
#include "runtime/ref/ops_fused.def"
#include "runtime/ref/ops_math.def"
#include "runtime/ref/ops_nn.def"
#include "runtime/ref/ops_quant.def"
#include "runtime/ref/ops_tensor.def"
#undef EDGEQ_REF_OP

namespace {
const OpRow kOps[] = {
#define EDGEQ_REF_OP(op, domain, fn) {#op, domain, &fn, EDGEQ_FAMILY},
#define EDGEQ_FAMILY "control"
#include "runtime/ref/ops_control.def"
#undef EDGEQ_FAMILY
#define EDGEQ_FAMILY "fused"
#include "runtime/ref/ops_fused.def"
#undef EDGEQ_FAMILY
#define EDGEQ_FAMILY "math"
#include "runtime/ref/ops_math.def"
#undef EDGEQ_FAMILY
#define EDGEQ_FAMILY "nn"
#include "runtime/ref/ops_nn.def"
#undef EDGEQ_FAMILY
#define EDGEQ_FAMILY "quant"
#include "runtime/ref/ops_quant.def"
#undef EDGEQ_FAMILY
#define EDGEQ_FAMILY "tensor"
#include "runtime/ref/ops_tensor.def"
#undef EDGEQ_FAMILY
#undef EDGEQ_REF_OP
    {nullptr, nullptr, nullptr, nullptr},
};
}  // namespace

std::span<const OpRow> ref_ops() { return {kOps, std::size(kOps) - 1}; }

const OpRow* find_ref_op(const std::string& domain, const std::string& op_type) {
    const std::string d = domain == "ai.onnx" ? "" : domain;
    for (const auto& r : ref_ops())
        if (op_type == r.op_type && d == r.domain) return &r;
    return nullptr;
}

}  // namespace edgeq::runtime
