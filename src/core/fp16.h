// IEEE binary16 and bfloat16 conversions (scalar reference; exact, branch-light).
//
// fp32 -> fp16 rounds to nearest even, produces subnormals and ±Inf on overflow, and keeps NaN a
// (quiet) NaN with its sign. fp16 -> fp32 is exact. bf16 follows ggml: round to nearest even on the
// upper 16 bits, NaN forced quiet. Tested over all 65,536 patterns (tests/unit/core/fp16_test.cpp).
#pragma once

#include <cstdint>
#include <cstring>

namespace edgeq {

using fp16_t = uint16_t;
using bf16_t = uint16_t;

inline uint32_t f32_bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}
inline float f32_from_bits(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

inline float fp16_to_f32(fp16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f) return f32_from_bits(sign | 0x7f800000u | (mant << 13));  // Inf / NaN
    if (exp != 0) return f32_from_bits(sign | ((exp + 112u) << 23) | (mant << 13));
    if (mant == 0) return f32_from_bits(sign);  // ±0
    // subnormal: value = mant * 2^-24; normalise.
    int e = -1;
    do {
        ++e;
        mant <<= 1;
    } while ((mant & 0x400u) == 0);
    mant &= 0x3ffu;
    return f32_from_bits(sign | (static_cast<uint32_t>(112 - e) << 23) | (mant << 13));
}

inline fp16_t f32_to_fp16(float f) {
    const uint32_t x = f32_bits(f);
    const uint32_t sign = (x >> 16) & 0x8000u;
    const uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) {  // NaN: keep sign and top payload bits, force quiet
        return static_cast<fp16_t>(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    }
    if (ax >= 0x47800000u) return static_cast<fp16_t>(sign | 0x7c00u);  // >= 65536 -> Inf
    if (ax < 0x38800000u) {                                              // below 2^-14: subnormal or 0
        if (ax < 0x33000000u) return static_cast<fp16_t>(sign);          // < 2^-25 rounds to 0
        const uint32_t e = ax >> 23;                                     // 102..112
        const uint32_t m = (ax & 0x7fffffu) | 0x800000u;
        const uint32_t shift = 126u - e;  // value = m * 2^(e-150); result units 2^-24
        uint32_t r = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1u);
        const uint32_t half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (r & 1u))) ++r;
        return static_cast<fp16_t>(sign | r);
    }
    // normal: rebias exponent, round mantissa to 10 bits (carry may bump exponent / to Inf)
    uint32_t r = ax - 0x38000000u;  // exponent - 112
    const uint32_t rem = r & 0x1fffu;
    r >>= 13;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;
    return static_cast<fp16_t>(sign | r);
}

inline float bf16_to_f32(bf16_t h) { return f32_from_bits(static_cast<uint32_t>(h) << 16); }

inline bf16_t f32_to_bf16(float f) {
    const uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<bf16_t>((u >> 16) | 64u);  // quiet NaN
    return static_cast<bf16_t>((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

}  // namespace edgeq
