// Affine integer quantization for post-training quantization of ONNX models (docs/quant/ptq-math.md).
//
//   q = saturate(round_half_to_even(x / scale) + zero_point)      ONNX QuantizeLinear
//   x' = (q - zero_point) * scale                                  ONNX DequantizeLinear
//
// QType names the six integer targets; their storage is the DType of the same name (dtype.def: I8, U8, and
// the packed I4/U4/I2/U2, ONNX order: element 2i in the low nibble of byte i; 2-bit: four per byte from the
// lowest bits up). params_from_range() follows ONNX Runtime's compute_scale_zp (quant_utils.py).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "edgeq/dtype.h"
#include "edgeq/status.h"
#include "edgeq/tensor.h"

namespace edgeq::quant::ptq {

enum class QType : uint8_t { I8, U8, I4, U4, I2, U2 };

// Full integer range of the type: I8 [-128, 127], U8 [0, 255], I4 [-8, 7], U4 [0, 15], I2 [-2, 1], U2 [0, 3].
int32_t qmin(QType t);
int32_t qmax(QType t);
int bits(QType t);
bool is_signed(QType t);
DType to_dtype(QType t);                         // I8 -> DType::I8, ...
std::optional<QType> qtype_from_dtype(DType t);  // nullopt for non-integer-PTQ dtypes
const char* qtype_name(QType t);                 // "int8", "uint8", "int4", "uint4", "int2", "uint2"
std::optional<QType> qtype_from_name(std::string_view s);  // those names, or "i8"/"u8"/... (case-insensitive)

// The integer range params_from_range() maps onto. Asymmetric: the full range. Symmetric signed: the
// narrow range [-(2^(b-1)-1), 2^(b-1)-1] (I8 [-127,127], I4 [-7,7], I2 [-1,1]: ONNX Runtime's symmetric INT8
// range, so that -max and +max are both representable). Symmetric unsigned: the full range.
struct QRange {
    int32_t lo, hi;
};
QRange quant_range(QType t, bool symmetric);

// An observed real-valued range [lo, hi] (lo <= hi).
struct Range {
    float lo = 0.f, hi = 0.f;
};

struct QParams {
    float scale = 1.f;       // > 0 always
    int32_t zero_point = 0;  // within [qmin(type), qmax(type)]
    QType type = QType::I8;
};

// Scale and zero point for [lo, hi], as ONNX Runtime computes them:
//   lo = min(lo, 0), hi = max(hi, 0)                           (0 must be exactly representable)
//   symmetric:  a = max(|lo|, |hi|); lo = -a, hi = a
//   [qlo, qhi] = quant_range(t, symmetric)
//   scale = (hi - lo) / (qhi - qlo)                            (hi - lo in float, / in double; stored as
//   float) zero_point = symmetric ? round_half_even((qlo + qhi) / 2)  (signed: 0; U8: 128, U4: 8, U2: 2)
//                          : saturate(round_half_even(qlo - lo / scale))   (with the double scale)
// (ONNX Runtime's numpy arithmetic. Differences, deliberate: ORT's newest tables give symmetric UINT8 the
// range [0, 254] (zero point 127) and symmetric INT4 the full [-8, 7]; here symmetric unsigned types use the
// full range (zero point 128 / 8 / 2) and every signed type the narrow range above.)
// A degenerate range (scale below FLT_MIN, e.g. an all-zero tensor) gives scale = 1 and the zero point
// above (0 for asymmetric), so every value quantizes to the zero point and dequantizes to 0.
// NaN/Inf bounds are a caller bug (observers reject non-finite data): EDGEQ_CHECK.
QParams params_from_range(float lo, float hi, QType t, bool symmetric);
inline QParams params_from_range(Range r, QType t, bool symmetric) {
    return params_from_range(r.lo, r.hi, t, symmetric);
}

// ONNX QuantizeLinear of one value: x / scale (float division), round half to even, + zero point, saturate.
// NaN quantizes to the zero point.
int32_t quantize_value(float x, const QParams& p);
// ONNX DequantizeLinear: (q - zero_point) * scale.
inline float dequantize_value(int32_t q, const QParams& p) {
    return static_cast<float>(q - p.zero_point) * p.scale;
}
// dequantize_value(quantize_value(x, p), p).
inline float fake_quantize(float x, const QParams& p) {
    return dequantize_value(quantize_value(x, p), p);
}

// Whole spans (q.size() / y.size() must equal x.size(): EDGEQ_CHECK).
void quantize_values(std::span<const float> x, const QParams& p, std::span<int32_t> q);
void dequantize_values(std::span<const int32_t> q, const QParams& p, std::span<float> y);

// Integer values (already within [qmin(t), qmax(t)]: EDGEQ_CHECK) -> tensor of dtype to_dtype(t), packed for
// sub-byte types in ONNX order over the row-major flat index; any element count (odd counts leave the unused
// high bits of the last byte zero).
Tensor pack_values(std::span<const int32_t> q, QType t, Shape shape);
// The inverse: every element of an I8/U8/I4/U4/I2/U2 tensor as int32 (sign-extended for signed types).
std::vector<int32_t> unpack_values(const Tensor& q);

}  // namespace edgeq::quant::ptq
