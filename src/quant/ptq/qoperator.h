// `--format native`: ONNX Runtime's QOperator form of a static QDQ graph.
//
// Every  DequantizeLinear(x) -> Conv | MatMul | Gemm (weights and int32 bias behind DequantizeLinear)
//        [-> Relu] -> QuantizeLinear  chain becomes one integer operator:
//   Conv   -> QLinearConv (ai.onnx)        MatMul -> QLinearMatMul (ai.onnx)
//   Gemm   -> QGemm (com.microsoft, what ONNX Runtime's own quantizer writes: ai.onnx has no quantized Gemm)
// (a Gemm whose result stays float, e.g. the logits, becomes a QGemm without y_scale: float output)
// A Relu between the operator and its QuantizeLinear is dropped when the output zero point is the type's
// minimum (the requantization clamp then is the Relu). Afterwards DequantizeLinear -> MaxPool | Flatten |
// Reshape -> QuantizeLinear with equal scale and zero point runs the op on the int8 tensor itself.
// Chains that do not qualify (int4/int2 or blocked weights, a float bias, a Relu the zero point cannot absorb,
// alpha/beta != 1, a value read elsewhere) stay QDQ and are reported in `log`.
#pragma once

#include <string>
#include <vector>

#include "edgeq/status.h"
#include "graph/graph.h"

namespace edgeq::quant::ptq {

struct QOperatorReport {
    int converted = 0;       // Conv/MatMul/Gemm chains now one integer operator
    int passthrough = 0;     // MaxPool/Flatten/Reshape now on the int8 tensor
    std::vector<std::string> kept;  // "node (op): why it stayed QDQ"
};

// Rewrites `m` in place (a static QDQ graph, as run_static leaves it). Never fails on a chain it cannot convert;
// errors only for a malformed graph.
Result<QOperatorReport> to_qoperator(graph::Model& m);

}  // namespace edgeq::quant::ptq
