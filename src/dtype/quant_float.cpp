// Reference codecs of the plain formats: F32, F16, BF16 (value conversions) and the raw integer formats
// I8, U8, I4, U4, I2, U2. The integer formats store values, not scales: quantize rounds half to even and
// saturates to the format's range (ONNX QuantizeLinear with scale 1, zero point 0); the affine scale and
// zero point travel with the tensor (quant/quantizers). Packing follows ONNX: element 2i in the low
// nibble of byte i, 2i+1 in the high nibble; I2/U2 pack four 2-bit values from the lowest bits up.
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "dtype/quants.h"

namespace edgeq::quants {
namespace {

// Round half to even, then saturate to [lo, hi]. NaN maps to 0.
inline int32_t round_sat(float x, int32_t lo, int32_t hi) {
    if (std::isnan(x)) return 0;
    const float r = std::nearbyint(x);  // default rounding mode: to nearest even
    if (r <= static_cast<float>(lo)) return lo;
    if (r >= static_cast<float>(hi)) return hi;
    return static_cast<int32_t>(r);
}

}  // namespace

size_t quantize_F32(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float*) {
    const size_t n = static_cast<size_t>(nrows * n_per_row);
    std::memcpy(dst, src, n * sizeof(float));
    return n * sizeof(float);
}
void dequantize_row_F32(const void* src, float* dst, int64_t n) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

size_t quantize_F16(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float*) {
    const int64_t n = nrows * n_per_row;
    auto* y = static_cast<fp16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) y[i] = f32_to_fp16(src[i]);
    return static_cast<size_t>(n) * 2;
}
void dequantize_row_F16(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const fp16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_f32(x[i]);
}

size_t quantize_BF16(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float*) {
    const int64_t n = nrows * n_per_row;
    auto* y = static_cast<bf16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) y[i] = f32_to_bf16(src[i]);
    return static_cast<size_t>(n) * 2;
}
void dequantize_row_BF16(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const bf16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(x[i]);
}

size_t quantize_I8(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float*) {
    const int64_t n = nrows * n_per_row;
    auto* y = static_cast<int8_t*>(dst);
    for (int64_t i = 0; i < n; ++i) y[i] = static_cast<int8_t>(round_sat(src[i], -128, 127));
    return static_cast<size_t>(n);
}
void dequantize_row_I8(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const int8_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(x[i]);
}

size_t quantize_U8(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float*) {
    const int64_t n = nrows * n_per_row;
    auto* y = static_cast<uint8_t*>(dst);
    for (int64_t i = 0; i < n; ++i) y[i] = static_cast<uint8_t>(round_sat(src[i], 0, 255));
    return static_cast<size_t>(n);
}
void dequantize_row_U8(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const uint8_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(x[i]);
}

size_t quantize_I4(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float*) {
    const int64_t n = nrows * n_per_row;
    auto* y = static_cast<uint8_t*>(dst);
    for (int64_t i = 0; i < n; i += 2) {
        const int32_t lo = round_sat(src[i], -8, 7), hi = round_sat(src[i + 1], -8, 7);
        y[i / 2] = static_cast<uint8_t>((lo & 0xf) | ((hi & 0xf) << 4));
    }
    return static_cast<size_t>(n / 2);
}
void dequantize_row_I4(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const uint8_t*>(src);
    for (int64_t i = 0; i < n; i += 2) {
        const int8_t b = static_cast<int8_t>(x[i / 2]);
        dst[i] = static_cast<float>(static_cast<int8_t>(static_cast<uint8_t>(b << 4)) >> 4);
        dst[i + 1] = static_cast<float>(b >> 4);
    }
}

size_t quantize_U4(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float*) {
    const int64_t n = nrows * n_per_row;
    auto* y = static_cast<uint8_t*>(dst);
    for (int64_t i = 0; i < n; i += 2) {
        y[i / 2] = static_cast<uint8_t>(round_sat(src[i], 0, 15) | (round_sat(src[i + 1], 0, 15) << 4));
    }
    return static_cast<size_t>(n / 2);
}
void dequantize_row_U4(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const uint8_t*>(src);
    for (int64_t i = 0; i < n; i += 2) {
        dst[i] = static_cast<float>(x[i / 2] & 0xf);
        dst[i + 1] = static_cast<float>(x[i / 2] >> 4);
    }
}

size_t quantize_I2(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float*) {
    const int64_t n = nrows * n_per_row;
    auto* y = static_cast<uint8_t*>(dst);
    for (int64_t i = 0; i < n; i += 4) {
        uint8_t b = 0;
        for (int j = 0; j < 4; ++j) b |= static_cast<uint8_t>((round_sat(src[i + j], -2, 1) & 3) << (2 * j));
        y[i / 4] = b;
    }
    return static_cast<size_t>(n / 4);
}
void dequantize_row_I2(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const uint8_t*>(src);
    for (int64_t i = 0; i < n; i += 4) {
        for (int j = 0; j < 4; ++j) {
            const int v = (x[i / 4] >> (2 * j)) & 3;
            dst[i + j] = static_cast<float>(v >= 2 ? v - 4 : v);
        }
    }
}

size_t quantize_U2(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float*) {
    const int64_t n = nrows * n_per_row;
    auto* y = static_cast<uint8_t*>(dst);
    for (int64_t i = 0; i < n; i += 4) {
        uint8_t b = 0;
        for (int j = 0; j < 4; ++j) b |= static_cast<uint8_t>(round_sat(src[i + j], 0, 3) << (2 * j));
        y[i / 4] = b;
    }
    return static_cast<size_t>(n / 4);
}
void dequantize_row_U2(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const uint8_t*>(src);
    for (int64_t i = 0; i < n; i += 4) {
        for (int j = 0; j < 4; ++j) dst[i + j] = static_cast<float>((x[i / 4] >> (2 * j)) & 3);
    }
}

}  // namespace edgeq::quants
