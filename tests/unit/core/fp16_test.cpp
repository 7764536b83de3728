// FP16 / BF16 conversions over all 65,536 bit patterns, against independent double-precision rounding.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

#include "core/fp16.h"

namespace edgeq {
namespace {

// Exact value of a binary16 pattern, computed independently with ldexp.
double fp16_value(uint16_t h) {
    const int s = h >> 15, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v;
    if (e == 0) v = std::ldexp(m, -24);
    else if (e == 31) v = m ? NAN : INFINITY;
    else v = std::ldexp(1024 + m, e - 25);
    return s ? -v : v;
}

TEST(Fp16, DecodeAllPatternsExactly) {
    for (uint32_t h = 0; h < 65536; ++h) {
        const float f = fp16_to_f32(static_cast<uint16_t>(h));
        const double want = fp16_value(static_cast<uint16_t>(h));
        if (std::isnan(want)) {
            ASSERT_TRUE(std::isnan(f)) << "pattern 0x" << std::hex << h;
            ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0);
        } else {
            ASSERT_EQ(static_cast<double>(f), want) << "pattern 0x" << std::hex << h;
            ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0) << "sign of 0x" << std::hex << h;
        }
    }
}

TEST(Fp16, RoundTripAllPatterns) {
    for (uint32_t h = 0; h < 65536; ++h) {
        const uint16_t back = f32_to_fp16(fp16_to_f32(static_cast<uint16_t>(h)));
        if (std::isnan(fp16_value(static_cast<uint16_t>(h)))) {
            EXPECT_TRUE((back & 0x7c00) == 0x7c00 && (back & 0x3ff) != 0) << std::hex << h;
            EXPECT_EQ(back & 0x8000, h & 0x8000);
        } else {
            ASSERT_EQ(back, h) << "pattern 0x" << std::hex << h;
        }
    }
}

// Every midpoint between adjacent fp16 values (and a point just either side of it) rounds to nearest,
// ties to even, including the subnormal range, the subnormal/normal boundary and overflow to Inf.
TEST(Fp16, RoundToNearestEvenAtEveryMidpoint) {
    for (uint32_t h = 0; h < 0x7c00; ++h) {  // positive finite patterns
        const double a = fp16_value(static_cast<uint16_t>(h));
        const double b = (h + 1 == 0x7c00) ? 65536.0 : fp16_value(static_cast<uint16_t>(h + 1));
        const double mid = (a + b) / 2;
        const float fm = static_cast<float>(mid);
        ASSERT_EQ(static_cast<double>(fm), mid);  // midpoints are exact in fp32
        const uint16_t want_mid = (h & 1) ? static_cast<uint16_t>(h + 1) : static_cast<uint16_t>(h);
        ASSERT_EQ(f32_to_fp16(fm), want_mid) << "midpoint above 0x" << std::hex << h;
        ASSERT_EQ(f32_to_fp16(-fm), want_mid | 0x8000) << "negative midpoint above 0x" << std::hex << h;
        ASSERT_EQ(f32_to_fp16(std::nextafter(fm, 0.f)), h) << std::hex << h;
        ASSERT_EQ(f32_to_fp16(std::nextafter(fm, INFINITY)), h + 1) << std::hex << h;
    }
}

TEST(Fp16, SpecialValues) {
    EXPECT_EQ(f32_to_fp16(INFINITY), 0x7c00);
    EXPECT_EQ(f32_to_fp16(-INFINITY), 0xfc00);
    EXPECT_EQ(f32_to_fp16(65504.f), 0x7bff);
    EXPECT_EQ(f32_to_fp16(1e6f), 0x7c00);
    EXPECT_EQ(f32_to_fp16(-0.f), 0x8000);
    EXPECT_EQ(f32_to_fp16(1e-10f), 0x0000);
    EXPECT_EQ(f32_to_fp16(std::ldexp(1.f, -24)), 0x0001);
    const uint16_t n = f32_to_fp16(NAN);
    EXPECT_TRUE((n & 0x7c00) == 0x7c00 && (n & 0x3ff) != 0);
}

TEST(Bf16, AllPatternsRoundTripAndRoundToNearestEven) {
    for (uint32_t h = 0; h < 65536; ++h) {
        const float f = bf16_to_f32(static_cast<uint16_t>(h));
        const uint16_t back = f32_to_bf16(f);
        if (std::isnan(f)) {
            EXPECT_TRUE(std::isnan(bf16_to_f32(back)));
            EXPECT_EQ(back & 0x8000, h & 0x8000);
            continue;
        }
        ASSERT_EQ(back, h) << std::hex << h;
        if ((h & 0x7fff) >= 0x7f80) continue;  // Inf: no next value
        // midpoint to the next pattern away from zero: ties to even
        const uint32_t mid_bits = (h << 16) | 0x8000u;
        const uint16_t want = (h & 1) ? static_cast<uint16_t>(h + 1) : static_cast<uint16_t>(h);
        ASSERT_EQ(f32_to_bf16(f32_from_bits(mid_bits)), want) << std::hex << h;
        ASSERT_EQ(f32_to_bf16(f32_from_bits(mid_bits + 1)), static_cast<uint16_t>(h + 1)) << std::hex << h;
        ASSERT_EQ(f32_to_bf16(f32_from_bits(mid_bits - 1)), h) << std::hex << h;
    }
}

}  // namespace
}  // namespace edgeq
