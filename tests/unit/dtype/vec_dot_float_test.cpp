// Float rows in tinyBLAS's 16-lane order (dtype/vec_dot_float.h): the reference against the exact product and
// against the order written out by hand, and every optimized tile this CPU can run against the reference, output
// by output bit for bit, on awkward shapes (lengths that are not multiples of 16, tile remainders, padded and
// unpadded strides).
#include "dtype/vec_dot_float.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/det_values.h"
#include "core/fp16.h"

namespace edgeq {
namespace {

const DType kTypes[] = {DType::F32, DType::F16, DType::BF16};

size_t elem_bytes(DType t) { return t == DType::F32 ? 4 : 2; }

// n values of type t: Gaussian of the given sigma, with a few subnormals, zeros and large values mixed in.
std::vector<uint8_t> make_row(DType t, int64_t n, float sigma, std::mt19937& rng) {
    std::normal_distribution<float> g(0.0f, sigma);
    std::vector<uint8_t> v(static_cast<size_t>(n) * elem_bytes(t));
    for (int64_t i = 0; i < n; ++i) {
        float x = g(rng);
        const unsigned k = rng() % 16;
        if (k == 0) x = 0.0f;
        if (k == 1) x *= t == DType::F16 ? 1e-6f : 1e-39f;  // subnormal in the type
        if (k == 2) x *= t == DType::F16 ? 100.0f : 1e6f;
        if (t == DType::F32) {
            std::memcpy(&v[static_cast<size_t>(i) * 4], &x, 4);
        } else {
            const uint16_t h = t == DType::F16 ? f32_to_fp16(x) : f32_to_bf16(x);
            std::memcpy(&v[static_cast<size_t>(i) * 2], &h, 2);
        }
    }
    return v;
}

float elem(DType t, const uint8_t* p, int64_t i) {
    if (t == DType::F32) {
        float f;
        std::memcpy(&f, p + i * 4, 4);
        return f;
    }
    uint16_t h;
    std::memcpy(&h, p + i * 2, 2);
    return t == DType::F16 ? fp16_to_f32(h) : bf16_to_f32(h);
}

// Float accumulation in 16 lanes: each lane adds at most n / 16 rounded terms, then up to 7 levels of lane sums,
// and (lengths that are not a multiple of 16) up to 63 more terms added one by one.
double lane_tolerance(int64_t n, double magnitude) {
    return static_cast<double>(n / 16 + n % 64 + 8) * FLT_EPSILON * magnitude + 1e-30;
}

TEST(FloatDot, ReferenceIsCloseToTheExactProduct) {
    std::mt19937 rng(5);
    for (DType t : kTypes) {
        for (int64_t n : {1, 7, 16, 17, 64, 100, 172, 768, 2049}) {
            const auto w = make_row(t, n, 1.0f, rng), a = make_row(t, n, 0.5f, rng);
            double exact = 0.0, mag = 0.0;
            for (int64_t i = 0; i < n; ++i) {
                const double p = static_cast<double>(elem(t, w.data(), i)) * elem(t, a.data(), i);
                exact += p;
                mag += std::fabs(p);
            }
            EXPECT_NEAR(float_dot_ref(t, n, w.data(), a.data()), exact, lane_tolerance(n, mag))
                << dtype_name(t) << " n " << n;
        }
    }
}

// The order itself: 16 lanes of fused multiply-adds in element order, then lanes (l, l+8), (l, l+4), (l, l+2),
// (0, 1). Values chosen so that another order gives another float. (n a multiple of 16: tinyBLAS's order.)
TEST(FloatDot, ReferenceFollowsTheLaneOrder) {
    const int64_t n = 48;
    std::vector<float> w(n), a(n);
    for (int64_t i = 0; i < n; ++i) {
        w[i] = std::ldexp(1.0f + static_cast<float>(i) / 64.0f, static_cast<int>(i % 5) * 7 - 12);
        a[i] = (i % 3 ? 1.0f : -1.0f) * (1.0f + static_cast<float>(i * i % 11) / 16.0f);
    }
    float acc[16] = {};
    for (int64_t i = 0; i < n; ++i) acc[i % 16] = std::fma(w[i], a[i], acc[i % 16]);
    float t8[8], t4[4];
    for (int l = 0; l < 8; ++l) t8[l] = acc[l] + acc[l + 8];
    for (int l = 0; l < 4; ++l) t4[l] = t8[l] + t8[l + 4];
    const float want = (t4[0] + t4[2]) + (t4[1] + t4[3]);
    EXPECT_EQ(float_dot_ref(DType::F32, n, w.data(), a.data()), want);
    float seq = 0.0f;  // a sequential sum differs on this data, so the check above can fail
    for (int64_t i = 0; i < n; ++i) seq += w[i] * a[i];
    EXPECT_NE(seq, want);
}

// ggml_vec_dot's order: groups of 64 in 4 x 16 lanes, folded, then the rest one by one.
TEST(FloatDot, VecDotOrderFollowsGgml) {
    const int64_t n = 64 + 64 + 5;
    std::vector<float> w(n), a(n);
    for (int64_t i = 0; i < n; ++i) {
        w[i] = std::ldexp(1.0f + static_cast<float>(i % 13) / 32.0f, static_cast<int>(i % 7) * 5 - 15);
        a[i] = (i % 5 < 2 ? -1.0f : 1.0f) * (1.0f + static_cast<float>(i * 7 % 17) / 16.0f);
    }
    float acc[4][16] = {};
    for (int64_t i = 0; i < 128; ++i) acc[(i / 16) % 4][i % 16] = std::fma(w[i], a[i], acc[(i / 16) % 4][i % 16]);
    float f[16];
    for (int l = 0; l < 16; ++l) f[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
    float t8[8], t4[4];
    for (int l = 0; l < 8; ++l) t8[l] = f[l] + f[l + 8];
    for (int l = 0; l < 4; ++l) t4[l] = t8[l] + t8[l + 4];
    float want = (t4[0] + t4[2]) + (t4[1] + t4[3]);
    for (int64_t i = 128; i < n; ++i) want = std::fma(w[i], a[i], want);
    EXPECT_EQ(float_vec_dot_ref(DType::F32, n, w.data(), a.data()), want);
    EXPECT_EQ(float_dot_ref(DType::F32, n, w.data(), a.data()), want);  // n % 16 != 0: the same order
    EXPECT_NE(float_dot_ref(DType::F32, 128, w.data(), a.data()), float_vec_dot_ref(DType::F32, 128, w.data(), a.data()));
}

TEST(FloatDot, FastVecDotRowsAreBitExact) {
    int checked = 0;
    std::mt19937 rng(17);
    for (const FastVecDot& r : fast_float_vec_dots()) {
        if (!isa_enabled(r.isa)) continue;
        ++checked;
        for (int64_t n : {1, 8, 15, 16, 63, 64, 65, 128, 172, 200, 768}) {
            const auto w = make_row(r.type, n, 1.0f, rng), a = make_row(r.type, n, 2.0f, rng);
            EXPECT_EQ(r.fn(n, w.data(), a.data()), float_vec_dot_ref(r.type, n, w.data(), a.data()))
                << r.name << " n " << n;
        }
    }
    for (DType t : kTypes) {
        const auto w = make_row(t, 100, 1.0f, rng), a = make_row(t, 100, 1.0f, rng);
        EXPECT_EQ(selected_float_vec_dot(t)(100, w.data(), a.data()), float_vec_dot_ref(t, 100, w.data(), a.data()));
    }
    if (checked == 0) GTEST_SKIP() << "no optimized float row runs on this CPU";
}

// ggml_vec_dot_f32 as llama.cpp's zen4 library computes it (called through dlopen once; the bits recorded here): the
// leftover loop after the n & ~63 vector part adds rounded products in groups of 8 and fuses the last n % 8. Inputs
// det_values(n, seed, 1) . det_values(n, seed + 1000, 2); each case is one where adding every leftover product
// unfused (the order before) gives other bits.
TEST(FloatDot, VecDotF32EqualsLlamaCppsOnLeftovers) {
    using test::det_values;
    struct LeftoverCase {
        int64_t n;
        uint32_t seed, bits;
    };
    const LeftoverCase cases[] = {{23, 1, 0xc15d81f6u},  {44, 3, 0xc14e0cdeu},   {71, 1, 0x3f517a8eu},
                          {100, 1, 0x400405f4u}, {172, 19, 0x40bce5ddu}, {300, 1, 0x3f568678u}};
    for (const LeftoverCase& c : cases) {
        const auto w = det_values(c.n, c.seed, 1.0f), a = det_values(c.n, c.seed + 1000, 2.0f);
        float want;
        std::memcpy(&want, &c.bits, 4);
        EXPECT_EQ(float_vec_dot_ref(DType::F32, c.n, w.data(), a.data()), want) << "n " << c.n;
        EXPECT_EQ(selected_float_vec_dot(DType::F32)(c.n, w.data(), a.data()), want) << "n " << c.n;
    }
}

// float_vec_dot_rows: ggml_vec_dot's order on rows zero-padded to a multiple of 64 (the reference pads copies),
// whatever the row count (4 per pass and the rest) and n; the padded product equals float_vec_dot_ref's on padding.
TEST(FloatDot, VecDotRowsAreTheZeroPaddedProduct) {
    std::mt19937 rng(23);
    for (DType t : kTypes)
        for (int64_t n : {16, 48, 64, 80, 128, 192, 208})
            for (int64_t nw : {1, 3, 4, 5, 9}) {
                const size_t stride = static_cast<size_t>(n + 16) * elem_bytes(t);  // rows with a gap between
                std::vector<uint8_t> w(stride * static_cast<size_t>(nw));
                for (int64_t j = 0; j < nw; ++j) {
                    const auto r = make_row(t, n, 1.0f, rng);
                    std::memcpy(w.data() + static_cast<size_t>(j) * stride, r.data(), r.size());
                }
                const auto a = make_row(t, n, 2.0f, rng);
                std::vector<float> y(static_cast<size_t>(nw)), yr(static_cast<size_t>(nw));
                float_vec_dot_rows(t, n, w.data(), stride, nw, a.data(), y.data());
                float_vec_dot_rows_ref(t, n, w.data(), stride, nw, a.data(), yr.data());
                const int64_t n64 = (n + 63) / 64 * 64;
                std::vector<uint8_t> ap(static_cast<size_t>(n64) * elem_bytes(t), 0), wp(ap.size(), 0);
                std::memcpy(ap.data(), a.data(), a.size());
                for (int64_t j = 0; j < nw; ++j) {
                    std::memcpy(wp.data(), w.data() + static_cast<size_t>(j) * stride, static_cast<size_t>(n) * elem_bytes(t));
                    const float want = float_vec_dot_ref(t, n64, wp.data(), ap.data());
                    EXPECT_EQ(yr[static_cast<size_t>(j)], want) << dtype_name(t) << " n " << n;
                    EXPECT_EQ(y[static_cast<size_t>(j)], want) << dtype_name(t) << " n " << n << " row " << j << " of " << nw;
                }
            }
}

TEST(FloatDotTile, BitExactWithTheReference) {
    struct Shape {
        int64_t n, nw, na;
        bool padded;
    };
    const Shape shapes[] = {{1, 1, 1, false},   {7, 3, 2, true},    {16, 9, 4, false}, {17, 5, 9, true},
                            {33, 17, 3, false}, {64, 8, 8, true},   {100, 11, 13, true}, {172, 4, 1, false},
                            {8, 33, 1, true},   {48, 2, 17, false}, {768, 13, 5, false}};
    int checked = 0;
    for (const FastFloatDotTile& r : fast_float_dot_tiles()) {
        if (!isa_enabled(r.isa)) continue;
        ++checked;
        std::mt19937 rng(99);
        for (const Shape& sh : shapes) {
            const size_t rb = static_cast<size_t>(sh.n) * elem_bytes(r.type);
            const size_t ws = sh.padded ? rb + 3 * elem_bytes(r.type) : rb, as = sh.padded ? rb + 64 : rb;
            std::vector<uint8_t> w(ws * static_cast<size_t>(sh.nw)), a(as * static_cast<size_t>(sh.na));
            for (int64_t j = 0; j < sh.nw; ++j) {
                const auto row = make_row(r.type, sh.n, 1.0f, rng);
                std::memcpy(&w[static_cast<size_t>(j) * ws], row.data(), rb);
            }
            for (int64_t i = 0; i < sh.na; ++i) {
                const auto row = make_row(r.type, sh.n, 2.0f, rng);
                std::memcpy(&a[static_cast<size_t>(i) * as], row.data(), rb);
            }
            const size_t ys = static_cast<size_t>(sh.nw) + (sh.padded ? 2 : 0);
            std::vector<float> y(ys * static_cast<size_t>(sh.na), -12345.0f);
            r.fn(sh.n, w.data(), ws, sh.nw, a.data(), as, sh.na, y.data(), ys);
            for (int64_t i = 0; i < sh.na; ++i) {
                for (size_t j = 0; j < ys; ++j) {
                    const float got = y[static_cast<size_t>(i) * ys + j];
                    if (j >= static_cast<size_t>(sh.nw)) {
                        EXPECT_EQ(got, -12345.0f) << r.name << ": wrote outside the tile";
                        continue;
                    }
                    const float want = float_dot_ref(r.type, sh.n, &w[j * ws], &a[static_cast<size_t>(i) * as]);
                    EXPECT_EQ(got, want) << r.name << " n " << sh.n << " nw " << sh.nw << " na " << sh.na
                                         << " output (" << i << ", " << j << ")";
                }
            }
        }
    }
    if (checked == 0) GTEST_SKIP() << "no optimized float tile runs on this CPU";
}

TEST(FloatDotTile, DispatchPicksTheBestEnabledTile) {
    for (DType t : kTypes) {
        EXPECT_TRUE(is_float_dot_type(t));
        const FastFloatDotTile* best = nullptr;
        for (const FastFloatDotTile& r : fast_float_dot_tiles())
            if (r.type == t && isa_enabled(r.isa) && (!best || r.isa > best->isa)) best = &r;
        EXPECT_STREQ(selected_float_dot_tile_name(t), best ? best->name : "reference") << dtype_name(t);
        if (best) {
            EXPECT_EQ(selected_float_dot_tile(t), best->fn) << dtype_name(t);
        }
    }
    EXPECT_FALSE(is_float_dot_type(DType::Q8_0));
}

// The dispatching entry point, with the reference tile as the specification (also where no SIMD tile runs).
TEST(FloatDotTile, DispatchEqualsTheReferenceTile) {
    std::mt19937 rng(3);
    for (DType t : kTypes) {
        const int64_t n = 50, nw = 7, na = 6;
        const size_t rb = static_cast<size_t>(n) * elem_bytes(t);
        std::vector<uint8_t> w, a;
        for (int64_t j = 0; j < nw; ++j) {
            const auto row = make_row(t, n, 1.0f, rng);
            w.insert(w.end(), row.begin(), row.end());
        }
        for (int64_t i = 0; i < na; ++i) {
            const auto row = make_row(t, n, 1.0f, rng);
            a.insert(a.end(), row.begin(), row.end());
        }
        std::vector<float> y(nw * na), ref(nw * na);
        float_dot_tile(t, n, w.data(), rb, nw, a.data(), rb, na, y.data(), nw);
        float_dot_tile_ref(t, n, w.data(), rb, nw, a.data(), rb, na, ref.data(), nw);
        EXPECT_EQ(std::memcmp(y.data(), ref.data(), y.size() * sizeof(float)), 0) << dtype_name(t);
    }
}

}  // namespace
}  // namespace edgeq
