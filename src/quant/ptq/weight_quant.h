// Weight quantization for ONNX post-training quantization (docs/quant/ptq-math.md): an F32 weight becomes
// the three inputs of an ONNX DequantizeLinear node (q, scale, zero_point) plus its axis / block_size
// attributes.
//
//   granularity  scale / zero_point shape                       DQ attributes
//   Tensor       {} (scalar)                                     axis unused (0), block_size 0
//   Channel      {C}, C = w.dim(axis)                            axis, block_size 0
//   Group        w's shape with dim(axis) -> ceil(dim / group)   axis, block_size = group   (opset 21
//   blocked)
//
// Typical layouts: MatMul B [K, N]: Channel axis 1, Group axis 0 (K). Gemm transB=1 B [N, K]: Channel axis 0,
// Group axis 1. Conv W [OC, C/g, kh, kw]: Channel axis 0, Group axis 1. Each channel / group / the whole
// tensor gets its own params_from_range() over its values (optionally clipped, below).
#pragma once

#include <cstdint>
#include <span>

#include "edgeq/status.h"
#include "edgeq/tensor.h"
#include "quant/ptq/qparams.h"

namespace edgeq::quant::ptq {

enum class Granularity : uint8_t { Tensor, Channel, Group };
enum class Clip : uint8_t {
    None,  // range = [min, max] of each channel / group
    Mse,   // range = ratio * [min, max], ratio from a two-stage grid search (0.50..1.00 step 0.05, then
           // +-0.04 step 0.01 around the best) minimising sum(importance * (w - dequantized)^2); ratio 1 is a
           // candidate, so the error is never above Clip::None's.
};

struct WeightQuantSpec {
    QType type = QType::I8;
    Granularity granularity = Granularity::Channel;
    int64_t axis = 0;   // Channel: the channel axis; Group: the blocked axis. Negative counts from the end.
    int64_t group = 0;  // Group: block size along axis (>= 1; the last block may be partial). Else unused.
    bool symmetric = true;
    Clip clip = Clip::None;
    // The axis of w that indexes `importance` (the reduction / input-channel axis K). -1: the blocked axis
    // for Group; for Channel on a rank-2 weight the other axis; otherwise axis 1 (Conv's input channels).
    int64_t importance_axis = -1;
};

struct QuantizedWeight {
    Tensor q;                // dtype to_dtype(spec.type), shape of w (sub-byte types packed, ONNX order)
    Tensor scale;            // F32, shape per the table above
    Tensor zero_point;       // dtype of q, shape of scale (packed too); all zero for symmetric signed types
    int64_t axis = 0;        // DQ "axis" (normalised to >= 0; 0 for Tensor)
    int64_t block_size = 0;  // DQ "block_size" (Group only)
    Tensor dequantized;      // F32, shape of w: exactly what DequantizeLinear(q, scale, zero_point) yields
    bool zero_point_is_zero() const;  // every zero point is 0 (the DQ input may be omitted)
};

// Quantizes w (F32, rank >= 1 for Channel/Group). importance, if non-empty, has w.dim(importance_axis)
// entries (for each input channel, the mean squared activation that multiplies it; >= 0, finite) and weights
// the clipping objective; it is ignored with Clip::None. Errors (InvalidArgument, naming the shape and spec):
// w not F32, empty w, NaN/Inf in w, axis out of range, group < 1, importance of the wrong length or with
// negative / non-finite entries.
Result<QuantizedWeight> quantize_weight(const Tensor& w, const WeightQuantSpec& spec,
                                        std::span<const float> importance = {});

}  // namespace edgeq::quant::ptq
