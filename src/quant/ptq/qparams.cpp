// Affine quantization parameters and ONNX QuantizeLinear / DequantizeLinear semantics (qparams.h).
#include "quant/ptq/qparams.h"

#include <strings.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "core/check.h"

namespace edgeq::quant::ptq {

namespace {

struct QTypeRow {
    QType type;
    const char* name;
    const char* short_name;
    DType dtype;
    int bits;
    bool is_signed;
};

constexpr QTypeRow kRows[] = {
    {QType::I8, "int8", "i8", DType::I8, 8, true}, {QType::U8, "uint8", "u8", DType::U8, 8, false},
    {QType::I4, "int4", "i4", DType::I4, 4, true}, {QType::U4, "uint4", "u4", DType::U4, 4, false},
    {QType::I2, "int2", "i2", DType::I2, 2, true}, {QType::U2, "uint2", "u2", DType::U2, 2, false},
};

const QTypeRow& row(QType t) {
    const auto i = static_cast<size_t>(t);
    EDGEQ_CHECK(i < std::size(kRows));
    return kRows[i];
}

bool iequals(std::string_view a, const char* b) {
    return a.size() == std::strlen(b) && strncasecmp(a.data(), b, a.size()) == 0;
}

}  // namespace

int bits(QType t) {
    return row(t).bits;
}
bool is_signed(QType t) {
    return row(t).is_signed;
}
int32_t qmin(QType t) {
    return is_signed(t) ? -(1 << (bits(t) - 1)) : 0;
}
int32_t qmax(QType t) {
    return is_signed(t) ? (1 << (bits(t) - 1)) - 1 : (1 << bits(t)) - 1;
}
DType to_dtype(QType t) {
    return row(t).dtype;
}
const char* qtype_name(QType t) {
    return row(t).name;
}

std::optional<QType> qtype_from_dtype(DType t) {
    for (const auto& r : kRows)
        if (r.dtype == t) return r.type;
    return std::nullopt;
}

std::optional<QType> qtype_from_name(std::string_view s) {
    for (const auto& r : kRows)
        if (iequals(s, r.name) || iequals(s, r.short_name)) return r.type;
    return std::nullopt;
}

QRange quant_range(QType t, bool symmetric) {
    if (symmetric && is_signed(t)) return {-qmax(t), qmax(t)};
    return {qmin(t), qmax(t)};
}

QParams params_from_range(float lo_f, float hi_f, QType t, bool symmetric) {
    EDGEQ_CHECK_MSG(std::isfinite(lo_f) && std::isfinite(hi_f), "params_from_range: non-finite range");
    // The arithmetic follows ONNX Runtime's numpy code: range in float32, scale in float64 (stored as
    // float32 at the end), zero point from the float64 scale.
    float lo = std::min(lo_f, 0.f), hi = std::max(hi_f, 0.f);
    if (symmetric) {
        const float a = std::max(std::fabs(lo), std::fabs(hi));
        lo = -a;
        hi = a;
    }
    const QRange qr = quant_range(t, symmetric);
    const float dr_f = hi - lo;
    const double dr = std::isfinite(dr_f) ? static_cast<double>(dr_f) : static_cast<double>(hi) - lo;
    const double scale = dr / static_cast<double>(qr.hi - qr.lo);
    QParams p;
    p.type = t;
    const auto sym_zp = static_cast<int32_t>(std::nearbyint((qr.lo + qr.hi) / 2.0));
    if (!(scale >= static_cast<double>(FLT_MIN))) {
        p.scale = 1.f;
        p.zero_point = symmetric ? sym_zp : 0;
        return p;
    }
    p.scale = static_cast<float>(scale);
    if (symmetric) {
        p.zero_point = sym_zp;
    } else {
        const double zp = std::nearbyint(static_cast<double>(qr.lo) - static_cast<double>(lo) / scale);
        p.zero_point = static_cast<int32_t>(std::clamp<double>(zp, qr.lo, qr.hi));
    }
    return p;
}

int32_t quantize_value(float x, const QParams& p) {
    if (std::isnan(x)) return p.zero_point;
    const float r = std::nearbyint(x / p.scale);  // default rounding mode: half to even
    // Saturate in float before converting: r may be far outside int32.
    const float v = r + static_cast<float>(p.zero_point);
    const int32_t lo = qmin(p.type), hi = qmax(p.type);
    if (!(v > static_cast<float>(lo))) return lo;
    if (v >= static_cast<float>(hi)) return hi;
    return static_cast<int32_t>(v);
}

void quantize_values(std::span<const float> x, const QParams& p, std::span<int32_t> q) {
    EDGEQ_CHECK(q.size() == x.size());
    for (size_t i = 0; i < x.size(); ++i) q[i] = quantize_value(x[i], p);
}

void dequantize_values(std::span<const int32_t> q, const QParams& p, std::span<float> y) {
    EDGEQ_CHECK(y.size() == q.size());
    for (size_t i = 0; i < q.size(); ++i) y[i] = dequantize_value(q[i], p);
}

Tensor pack_values(std::span<const int32_t> q, QType t, Shape shape) {
    EDGEQ_CHECK(shape_numel(shape) == static_cast<int64_t>(q.size()));
    Tensor out(to_dtype(t), std::move(shape));
    uint8_t* dst = out.raw();
    const int b = bits(t);
    const int per_byte = 8 / b;
    const uint32_t mask = (1u << b) - 1;
    const int32_t lo = qmin(t), hi = qmax(t);
    for (size_t i = 0; i < q.size(); ++i) {
        EDGEQ_CHECK(q[i] >= lo && q[i] <= hi);
        if (b == 8) {
            dst[i] = static_cast<uint8_t>(q[i] & 0xff);
        } else {
            const int shift = static_cast<int>(i % per_byte) * b;
            dst[i / per_byte] |= static_cast<uint8_t>((static_cast<uint32_t>(q[i]) & mask) << shift);
        }
    }
    return out;
}

std::vector<int32_t> unpack_values(const Tensor& q) {
    const auto t = qtype_from_dtype(q.dtype());
    EDGEQ_CHECK_MSG(t.has_value(), "unpack_values: not an I8/U8/I4/U4/I2/U2 tensor");
    const int b = bits(*t);
    const int per_byte = 8 / b;
    const uint32_t mask = (1u << b) - 1;
    const bool sgn = is_signed(*t);
    const auto n = static_cast<size_t>(q.numel());
    const uint8_t* src = q.raw();
    std::vector<int32_t> out(n);
    for (size_t i = 0; i < n; ++i) {
        const int shift = static_cast<int>(i % per_byte) * b;
        const uint32_t u = (static_cast<uint32_t>(src[i / per_byte]) >> shift) & mask;
        int32_t v = static_cast<int32_t>(u);
        if (sgn && (u >> (b - 1))) v -= (1 << b);
        out[i] = v;
    }
    return out;
}

}  // namespace edgeq::quant::ptq
