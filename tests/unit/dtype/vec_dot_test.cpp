// Dot products of block weights with quantized activations (dtype/vec_dot.h): the reference against the
// dequantized math, llama.cpp's x86 activation quantizers, and every optimized row this CPU can run against the
// reference on awkward lengths (1, 2, 3, 7, 9 blocks).
#include "dtype/vec_dot.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "dtype/blocks.h"

namespace edgeq {
namespace {

const DType kWeightTypes[] = {DType::F32,  DType::F16,    DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0,
                              DType::Q5_1, DType::Q8_0,   DType::IQ4_NL, DType::Q2_K, DType::Q3_K, DType::Q4_K,
                              DType::Q5_K, DType::Q6_K, DType::TQ1_0, DType::TQ2_0};
const int kBlockCounts[] = {1, 2, 3, 7, 9, 16};

std::vector<float> gauss(int64_t n, uint32_t seed, float sigma = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(0.0f, sigma);
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = g(rng);
    return v;
}

// Elements of a row of n values whose blocks are 256 wide for k-quants/ternary and 32 otherwise.
int64_t row_len(DType t, int blocks) {
    const int64_t b = traits(t).block_size;
    return (b == 1 ? 32 : b) * blocks;
}

std::vector<float> dequant(DType t, const void* p, int64_t n) {
    std::vector<float> y(static_cast<size_t>(n));
    dequantize_row(t, p, y.data(), n);
    return y;
}

TEST(VecDot, TableCoversTheWeightTypes) {
    for (DType t : kWeightTypes) {
        EXPECT_TRUE(has_vec_dot(t)) << dtype_name(t);
        EXPECT_GT(vec_dot_act_size(t, row_len(t, 1)), 0u);
    }
    EXPECT_EQ(vec_dot_type(DType::Q4_K), DType::Q8_K);
    EXPECT_EQ(vec_dot_type(DType::Q5_1), DType::Q8_1);
    EXPECT_EQ(vec_dot_type(DType::IQ4_NL), DType::Q8_0);
    EXPECT_FALSE(has_vec_dot(DType::Q8_K));
    EXPECT_FALSE(has_vec_dot(DType::IQ2_XXS));
}

// The reference equals the dot product of the dequantized weight row with the dequantized activation row up to
// float rounding of the per-block terms: any layout error (nibble order, high bits, scale packing) is far larger.
TEST(VecDot, ReferenceMatchesDequantizedProduct) {
    for (DType t : kWeightTypes) {
        for (int blocks : kBlockCounts) {
            const int64_t n = row_len(t, blocks);
            const auto w = gauss(n, 11u + static_cast<uint32_t>(blocks));
            const auto x = gauss(n, 97u + static_cast<uint32_t>(blocks), 0.5f);
            std::vector<uint8_t> wq(row_size(t, n)), xq(vec_dot_act_size(t, n));
            quantize(t, w.data(), wq.data(), 1, n);
            quantize_activation(t, x.data(), xq.data(), n);
            const auto wd = dequant(t, wq.data(), n), xd = dequant(vec_dot_type(t), xq.data(), n);
            double exact = 0.0, mag = 0.0;
            for (int64_t i = 0; i < n; ++i) {
                exact += static_cast<double>(wd[i]) * xd[i];
                mag += std::fabs(static_cast<double>(wd[i]) * xd[i]);
            }
            const float got = vec_dot_ref(t, n, wq.data(), xq.data());
            // Terms are rounded to float once per block and once per sum: 4 eps per block of the magnitude; Q4_1/
            // Q5_1 also carry the fp16-rounded block sum s = d * sum(q) of Q8_1 (2^-11 relative, of |m| * |s|).
            double tol = 4.0 * blocks * FLT_EPSILON * mag + 1e-6;
            if (vec_dot_type(t) == DType::Q8_1) {  // |m * s| * 2^-11 per block (m: offset at the block's start)
                const auto* ya = reinterpret_cast<const block_q8_1*>(xq.data());
                for (int64_t b = 0; b < n / QK8_1; ++b) {
                    const float m = t == DType::Q4_1 ? fp16_to_f32(reinterpret_cast<const block_q4_1*>(wq.data())[b].m)
                                                     : fp16_to_f32(reinterpret_cast<const block_q5_1*>(wq.data())[b].m);
                    tol += std::fabs(static_cast<double>(m) * fp16_to_f32(ya[b].s)) * std::ldexp(1.0, -11);
                }
            }
            EXPECT_NEAR(got, exact, tol) << dtype_name(t) << " blocks " << blocks;
        }
    }
}

// llama.cpp's x86 quantize_row_q8_0 rounds x * (127 / amax) half to even; quantize_row_q8_0_ref rounds x / d
// (d = amax / 127) half away from zero. With amax = 127 both scales are 1 and 2.5 shows the difference.
TEST(VecDot, Q8ActivationsRoundLikeLlamaCppX86) {
    std::vector<float> x(32, 0.0f);
    x[0] = 127.0f;
    x[1] = 2.5f;
    x[2] = -3.5f;
    x[3] = 0.5f;
    x[4] = 1.49f;
    block_q8_0 b{};
    quantize_activation(DType::Q8_0, x.data(), &b, 32);
    EXPECT_EQ(fp16_to_f32(b.d), 1.0f);
    EXPECT_EQ(b.qs[0], 127);
    EXPECT_EQ(b.qs[1], 2);
    EXPECT_EQ(b.qs[2], -4);
    EXPECT_EQ(b.qs[3], 0);
    EXPECT_EQ(b.qs[4], 1);
    block_q8_0 r{};
    quantize(DType::Q8_0, x.data(), &r, 1, 32);  // the reference codec (ggml_quantize_chunk)
    EXPECT_EQ(r.qs[1], 3);

    block_q8_1 b1{};
    quantize_activation(DType::Q4_1, x.data(), &b1, 32);
    int sum = 0;
    for (int8_t q : b1.qs) sum += q;
    EXPECT_EQ(sum, 127 + 2 - 4 + 0 + 1);
    EXPECT_EQ(fp16_to_f32(b1.d), 1.0f);
    EXPECT_EQ(b1.s, f32_to_fp16(static_cast<float>(sum)));  // s = d * sum(q)

    // Q8_K is quantize_row_q8_K_ref: equal to the codec.
    const auto g = gauss(512, 5);
    std::vector<uint8_t> a(vec_dot_act_size(DType::Q4_K, 512)), c(row_size(DType::Q8_K, 512));
    quantize_activation(DType::Q4_K, g.data(), a.data(), 512);
    quantize(DType::Q8_K, g.data(), c.data(), 1, 512);
    EXPECT_EQ(a, c);
}

// Q8_K activations (the AVX-512 quantizer where it runs) equal the reference codec byte for byte on awkward
// blocks: an all-zero block, the max reached twice with both signs (the first one wins), negative max, exact
// halves after scaling, NaN elements, denormals, huge values.
TEST(VecDot, ActivationsEqualTheCodecAndTheScalarCode) {
    constexpr int64_t n = 256 * 7;
    std::vector<float> x = gauss(n, 11);
    for (int64_t j = 0; j < 256; ++j) x[j] = 0.0f;                              // block 0: zeros
    x[256 + 5] = -9.0f, x[256 + 77] = 9.0f;                                     // block 1: -9 first
    x[512 + 200] = -50.0f;                                                      // block 2: negative max
    for (int64_t j = 0; j < 256; ++j) x[768 + j] = static_cast<float>(j % 255 - 127) * 0.5f;  // block 3: halves
    x[768 + 3] = -63.5f;
    x[1024 + 9] = NAN, x[1024 + 100] = 3.0f;                                    // block 4: NaN ignored
    for (int64_t j = 0; j < 256; ++j) x[1280 + j] = 1e-40f * static_cast<float>(j - 128);  // block 5: denormals
    x[1536 + 17] = 3e38f, x[1536 + 18] = -1e38f;                                // block 6: huge
    std::vector<uint8_t> a(vec_dot_act_size(DType::Q6_K, n)), c(row_size(DType::Q8_K, n));
    quantize_activation(DType::Q6_K, x.data(), a.data(), n);
    quantize(DType::Q8_K, x.data(), c.data(), 1, n);
    for (int64_t b = 0; b < n / 256; ++b)
        EXPECT_EQ(0, std::memcmp(a.data() + b * sizeof(block_q8_K), c.data() + b * sizeof(block_q8_K), sizeof(block_q8_K)))
            << "block " << b;
    // The same blocks through every activation format: the dispatched quantizer equals its scalar code.
    for (DType w : {DType::Q4_0, DType::Q4_1, DType::Q4_K, DType::F16}) {
        std::vector<uint8_t> v(vec_dot_act_size(w, n)), r(vec_dot_act_size(w, n));
        quantize_activation(w, x.data(), v.data(), n);
        quantize_activation_ref(w, x.data(), r.data(), n);
        EXPECT_EQ(v, r) << dtype_name(w);
    }
}

// ---- optimized rows --------------------------------------------------------------------------------------

std::vector<uint8_t> random_bytes(size_t n, std::mt19937& rng) {
    std::vector<uint8_t> v(n);
    for (auto& b : v) b = static_cast<uint8_t>(rng());
    return v;
}

// Power-of-two fp16 scale 2^-e, e in [0, 4]: finite, and products of scales and small sums stay exact.
fp16_t pow2_h(std::mt19937& rng) { return f32_to_fp16(std::ldexp(1.0f, -static_cast<int>(rng() % 5))); }

// A weight row of random bits with power-of-two scales (and int8 quants kept in [-127, 127]).
std::vector<uint8_t> exact_weights(DType t, int64_t n, std::mt19937& rng) {
    auto v = random_bytes(row_size(t, n), rng);
    const int64_t nb = n / traits(t).block_size;
    for (int64_t i = 0; i < nb; ++i) {
        switch (t) {
            case DType::Q8_0: {
                auto& b = reinterpret_cast<block_q8_0*>(v.data())[i];
                b.d = pow2_h(rng);
                for (auto& q : b.qs) q = q == -128 ? -127 : q;
                break;
            }
            case DType::Q4_0: reinterpret_cast<block_q4_0*>(v.data())[i].d = pow2_h(rng); break;
            case DType::Q5_0: reinterpret_cast<block_q5_0*>(v.data())[i].d = pow2_h(rng); break;
            case DType::IQ4_NL: reinterpret_cast<block_iq4_nl*>(v.data())[i].d = pow2_h(rng); break;
            case DType::Q4_1: {
                auto& b = reinterpret_cast<block_q4_1*>(v.data())[i];
                b.d = pow2_h(rng);
                b.m = pow2_h(rng);
                break;
            }
            case DType::Q5_1: {
                auto& b = reinterpret_cast<block_q5_1*>(v.data())[i];
                b.d = pow2_h(rng);
                b.m = pow2_h(rng);
                break;
            }
            case DType::Q4_K: {
                auto& b = reinterpret_cast<block_q4_K*>(v.data())[i];
                b.d = pow2_h(rng);
                b.dmin = pow2_h(rng);
                break;
            }
            case DType::Q5_K: {
                auto& b = reinterpret_cast<block_q5_K*>(v.data())[i];
                b.d = pow2_h(rng);
                b.dmin = pow2_h(rng);
                break;
            }
            case DType::Q6_K: reinterpret_cast<block_q6_K*>(v.data())[i].d = pow2_h(rng); break;
            case DType::Q2_K: {
                auto& b = reinterpret_cast<block_q2_K*>(v.data())[i];
                b.d = pow2_h(rng);
                b.dmin = pow2_h(rng);
                break;
            }
            case DType::Q3_K: reinterpret_cast<block_q3_K*>(v.data())[i].d = pow2_h(rng); break;
            case DType::TQ2_0: reinterpret_cast<block_tq2_0*>(v.data())[i].d = pow2_h(rng); break;
            default: ADD_FAILURE() << "no exact-data generator for " << dtype_name(t);
        }
    }
    return v;
}

// An activation row with power-of-two scales, quants in [-15, 15] (odd rows) or [-127, 127], consistent bsums.
std::vector<uint8_t> exact_acts(DType t, int64_t n, std::mt19937& rng) {
    std::vector<uint8_t> v(vec_dot_act_size(t, n));
    const int qmax = rng() % 2 ? 15 : 127;
    std::uniform_int_distribution<int> q(-qmax, qmax);
    if (vec_dot_type(t) == DType::Q8_0) {
        for (int64_t i = 0; i < n / QK8_0; ++i) {
            auto& b = reinterpret_cast<block_q8_0*>(v.data())[i];
            b.d = pow2_h(rng);
            for (auto& x : b.qs) x = static_cast<int8_t>(q(rng));
        }
    } else if (vec_dot_type(t) == DType::Q8_1) {
        for (int64_t i = 0; i < n / QK8_1; ++i) {
            auto& b = reinterpret_cast<block_q8_1*>(v.data())[i];
            b.d = pow2_h(rng);
            int sum = 0;
            for (auto& x : b.qs) sum += x = static_cast<int8_t>(q(rng));
            b.s = f32_to_fp16(fp16_to_f32(b.d) * static_cast<float>(sum));  // s = d * sum(q)
        }
    } else {
        for (int64_t i = 0; i < n / QK_K; ++i) {
            auto& b = reinterpret_cast<block_q8_K*>(v.data())[i];
            b.d = std::ldexp(1.0f, -static_cast<int>(rng() % 4));
            for (auto& x : b.qs) x = static_cast<int8_t>(q(rng));
            for (int s = 0; s < QK_K / 16; ++s) {
                int sum = 0;
                for (int l = 0; l < 16; ++l) sum += b.qs[16 * s + l];
                b.bsums[s] = static_cast<int16_t>(sum);
            }
        }
    }
    return v;
}

// Every optimized row reproduces the reference bit for bit (same integer lane sums, same float operations in the
// same order). Random blocks: all bit patterns of quants, scales and high bits (fp16 block scales kept finite as
// powers of two, so that some sums are also checked against the exact value), and activations of small and full
// range.
TEST(VecDotFast, BitExactOnRandomBlocks) {
    int checked = 0;
    for (const FastVecDot& r : fast_vec_dots()) {
        if (!isa_enabled(r.isa)) continue;
        std::mt19937 rng(1234);
        for (int blocks : kBlockCounts) {
            for (int rep = 0; rep < 8; ++rep) {
                const int64_t n = row_len(r.type, blocks);
                const auto w = exact_weights(r.type, n, rng);
                const auto a = exact_acts(r.type, n, rng);
                const float ref = vec_dot_ref(r.type, n, w.data(), a.data());
                EXPECT_EQ(r.fn(n, w.data(), a.data()), ref) << r.name << " blocks " << blocks << " rep " << rep;
                const auto wd = dequant(r.type, w.data(), n), ad = dequant(vec_dot_type(r.type), a.data(), n);
                double exact = 0.0;
                for (int64_t i = 0; i < n; ++i) exact += static_cast<double>(wd[i]) * ad[i];
                checked += static_cast<double>(ref) == exact;  // the reference itself is right where it is exact
            }
        }
    }
    if (fast_vec_dots().empty() || !isa_enabled(Isa::Avx2)) GTEST_SKIP() << "no optimized row runs on this CPU";
    EXPECT_GT(checked, 20);
}

// Real data: quantized Gaussian weights and activations (full-range Q8 quants, arbitrary scales).
TEST(VecDotFast, BitExactOnQuantizedData) {
    int checked = 0;
    for (const FastVecDot& r : fast_vec_dots()) {
        if (!isa_enabled(r.isa)) continue;
        for (int blocks : kBlockCounts) {
            for (uint32_t seed = 0; seed < 4; ++seed) {
                const int64_t n = row_len(r.type, blocks);
                const auto w = gauss(n, 300 + seed * 17 + static_cast<uint32_t>(blocks));
                const auto x = gauss(n, 900 + seed * 31 + static_cast<uint32_t>(blocks), 3.0f);
                std::vector<uint8_t> wq(row_size(r.type, n)), xq(vec_dot_act_size(r.type, n));
                quantize(r.type, w.data(), wq.data(), 1, n);
                quantize_activation(r.type, x.data(), xq.data(), n);
                const float ref = vec_dot_ref(r.type, n, wq.data(), xq.data());
                EXPECT_EQ(r.fn(n, wq.data(), xq.data()), ref) << r.name << " blocks " << blocks << " seed " << seed;
                ++checked;
            }
        }
    }
    if (checked == 0) GTEST_SKIP() << "no optimized row runs on this CPU";
}

// llama.cpp's x86 Q8_0 order (vec_dot_x86_ref): the AVX2 row equals the reference bit for bit (quantized Gaussian
// data, extreme quants -128 / 127, awkward lengths), both equal the dequantized product where that is exact, and on
// real data the two orders (generic, x86) differ by float rounding only.
TEST(VecDotQ8_0X86, RowEqualsReferenceAndTheExactProduct) {
    const DType t = DType::Q8_0;
    int differ = 0, exact_checked = 0;
    for (int blocks : kBlockCounts) {
        for (uint32_t seed = 0; seed < 6; ++seed) {
            const int64_t n = row_len(t, blocks);
            const auto w = gauss(n, 500 + seed * 13 + static_cast<uint32_t>(blocks));
            const auto x = gauss(n, 700 + seed * 29 + static_cast<uint32_t>(blocks), 3.0f);
            std::vector<uint8_t> wq(row_size(t, n)), xq(vec_dot_act_size(t, n));
            quantize(t, w.data(), wq.data(), 1, n);
            quantize_activation(t, x.data(), xq.data(), n);
            if (seed == 5) {  // extremes: weights -128 / 127, activations ±127 (the quantizer's range; llama.cpp's
                              // sign trick needs a != -128, and quantize_activation never writes it)
                auto* bw = reinterpret_cast<block_q8_0*>(wq.data());
                auto* bx = reinterpret_cast<block_q8_0*>(xq.data());
                for (int64_t b = 0; b < n / QK8_0; ++b)
                    for (int j = 0; j < QK8_0; ++j) {
                        bw[b].qs[j] = static_cast<int8_t>(j % 3 ? -128 : 127);
                        bx[b].qs[j] = static_cast<int8_t>(j % 2 ? -127 : 127);
                    }
            }
            const float ref = vec_dot_x86_ref(t, n, wq.data(), xq.data());
            EXPECT_EQ(selected_vec_dot_x86(t)(n, wq.data(), xq.data()), ref) << "blocks " << blocks << " seed " << seed;
            const float generic = vec_dot_ref(t, n, wq.data(), xq.data());
            EXPECT_NEAR(ref, generic, 1e-5f * (std::fabs(generic) + 1.0f));
            differ += ref != generic;
        }
    }
    // power-of-two scales and small quants: every step exact, so both orders give the exact product
    std::mt19937 rng(99);
    for (int blocks : kBlockCounts) {
        const int64_t n = row_len(t, blocks);
        const auto w = exact_weights(t, n, rng);
        auto a = exact_acts(t, n, rng);
        for (int64_t b = 0; b < n / QK8_0; ++b)  // the quantizer's range (see above)
            for (int8_t& q : reinterpret_cast<block_q8_0*>(a.data())[b].qs) q = q == -128 ? int8_t{-127} : q;
        const auto wd = dequant(t, w.data(), n), ad = dequant(t, a.data(), n);
        double exact = 0.0;
        for (int64_t i = 0; i < n; ++i) exact += static_cast<double>(wd[i]) * ad[i];
        const float ref = vec_dot_x86_ref(t, n, w.data(), a.data());
        exact_checked += static_cast<double>(ref) == exact;
        EXPECT_EQ(selected_vec_dot_x86(t)(n, w.data(), a.data()), ref);
    }
    EXPECT_GT(exact_checked, 2);
    EXPECT_GT(differ, 0);  // the orders are really different (else this test would not tell them apart)
}

// The other 32-wide types in llama.cpp's x86 order: equal to the exact product where every step is exact (power-of-
// two scales, small quants), within float rounding of the generic order on quantized Gaussian data, and the
// selected row (the reference for these) gives the same bits.
TEST(VecDotX86, EveryTypeIsTheProductInItsOwnOrder) {
    for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::IQ4_NL}) {
        ASSERT_TRUE(has_vec_dot_x86(t)) << dtype_name(t);
        std::mt19937 rng(41);
        int exact_checked = 0, differ = 0;
        for (int blocks : kBlockCounts) {
            const int64_t n = row_len(t, blocks);
            auto w = exact_weights(t, n, rng);
            auto a = exact_acts(t, n, rng);
            const size_t ab = vec_dot_act_size(t, 32);  // one activation block (Q8_0 / Q8_1: qs after the halves)
            for (int64_t b = 0; b < n / 32; ++b)  // the quantizer's range [-127, 127]
                for (size_t k = ab - 32; k < ab; ++k) {
                    auto& q = reinterpret_cast<int8_t&>(a[static_cast<size_t>(b) * ab + k]);
                    q = q == -128 ? int8_t{-127} : q;
                }
            const auto wd = dequant(t, w.data(), n), ad = dequant(vec_dot_type(t), a.data(), n);
            double exact = 0.0;
            for (int64_t i = 0; i < n; ++i) exact += static_cast<double>(wd[i]) * ad[i];
            const float x86 = vec_dot_x86_ref(t, n, w.data(), a.data());
            if (t != DType::Q4_1 && t != DType::Q5_1) exact_checked += static_cast<double>(x86) == exact;
            EXPECT_EQ(selected_vec_dot_x86(t)(n, w.data(), a.data()), x86) << dtype_name(t);
            const auto wg = gauss(n, 11 + static_cast<uint32_t>(blocks)), xg = gauss(n, 23 + static_cast<uint32_t>(blocks), 2.0f);
            std::vector<uint8_t> wq(row_size(t, n)), xq(vec_dot_act_size(t, n));
            quantize(t, wg.data(), wq.data(), 1, n);
            quantize_activation(t, xg.data(), xq.data(), n);
            const float o = vec_dot_x86_ref(t, n, wq.data(), xq.data()), g = vec_dot_ref(t, n, wq.data(), xq.data());
            EXPECT_NEAR(o, g, 1e-5f * (std::fabs(g) + 1.0f)) << dtype_name(t) << " blocks " << blocks;
            differ += o != g;
        }
        if (t != DType::Q4_1 && t != DType::Q5_1) {
            EXPECT_GT(exact_checked, 2) << dtype_name(t);
        }
        EXPECT_GT(differ, 0) << dtype_name(t);
    }
}

TEST(VecDotFast, DispatchPicksTheBestEnabledRow) {
    for (DType t : kWeightTypes) {
        const FastVecDot* best = nullptr;
        for (const FastVecDot& r : fast_vec_dots())
            if (r.type == t && isa_enabled(r.isa) && (!best || r.isa > best->isa)) best = &r;
        EXPECT_STREQ(selected_vec_dot_name(t), best ? best->name : "reference") << dtype_name(t);
        EXPECT_EQ(selected_vec_dot(t), best ? best->fn : vec_dot_ref_fn(t)) << dtype_name(t);
    }
}

}  // namespace
// Tiles: every output of every optimized tile (and of vec_dot_tile's dispatch, which leaves short remainders
// to the rows) equals the reference row's bit for bit, on awkward shapes: one block, weight- and
// activation-row counts that are not multiples of the tile, padded strides; nothing outside the tile is
// written.
TEST(VecDotTile, BitExactWithTheReferenceRows) {
    struct Shape {
        int blocks;
        int64_t nw, na;
    };
    const Shape shapes[] = {{1, 1, 1}, {1, 3, 9}, {2, 5, 8}, {3, 11, 13}, {7, 2, 4}, {9, 9, 17}, {1, 17, 6},
                           {40, 3, 5}};  // 40 k-quant super-blocks: the AVX-512 tiles' heap scratch
    auto check = [&](DType t, const char* name,
                     const std::function<void(int64_t, const void*, size_t, int64_t, const void*, size_t,
                                              int64_t, float*, size_t)>& tile) {
        std::mt19937 rng(77);
        for (const Shape& sh : shapes) {
            const int64_t n = row_len(t, sh.blocks);
            const size_t wb = row_size(t, n), ab = vec_dot_act_size(t, n);
            const size_t w_stride = wb + 2 * row_size(t, row_len(t, 1)), a_stride = (ab + ab / 2 + 8 + 3) & ~size_t{3};  // padded, block-aligned
            std::vector<uint8_t> w(w_stride * static_cast<size_t>(sh.nw)),
                a(a_stride * static_cast<size_t>(sh.na));
            for (int64_t j = 0; j < sh.nw; ++j) {
                std::vector<uint8_t> row;
                if (j % 2) {  // quantized Gaussian data
                    row.resize(wb);
                    const auto g = gauss(n, 500 + static_cast<uint32_t>(j));
                    quantize(t, g.data(), row.data(), 1, n);
                } else {
                    row = exact_weights(t, n, rng);
                }
                std::memcpy(w.data() + static_cast<size_t>(j) * w_stride, row.data(), wb);
            }
            for (int64_t i = 0; i < sh.na; ++i) {
                std::vector<uint8_t> row;
                if (i % 3 == 1) {
                    row.resize(ab);
                    const auto g = gauss(n, 700 + static_cast<uint32_t>(i), 3.0f);
                    quantize_activation(t, g.data(), row.data(), n);
                } else {
                    row = exact_acts(t, n, rng);
                }
                std::memcpy(a.data() + static_cast<size_t>(i) * a_stride, row.data(), ab);
            }
            const size_t y_stride = static_cast<size_t>(sh.nw) + 3;
            std::vector<float> y(y_stride * static_cast<size_t>(sh.na), -12345.0f);
            tile(n, w.data(), w_stride, sh.nw, a.data(), a_stride, sh.na, y.data(), y_stride);
            for (int64_t i = 0; i < sh.na; ++i) {
                for (size_t j = 0; j < y_stride; ++j) {
                    const float got = y[static_cast<size_t>(i) * y_stride + j];
                    if (j >= static_cast<size_t>(sh.nw)) {
                        EXPECT_EQ(got, -12345.0f) << name << ": wrote outside the tile";
                        continue;
                    }
                    const float ref = vec_dot_ref(t, n, w.data() + j * w_stride,
                                                  a.data() + static_cast<size_t>(i) * a_stride);
                    EXPECT_EQ(got, ref) << name << " blocks " << sh.blocks << " nw " << sh.nw << " na "
                                        << sh.na << " output (" << i << ", " << j << ")";
                }
            }
        }
    };
    int checked = 0;
    for (const FastVecDotTile& r : fast_vec_dot_tiles()) {
        if (!isa_enabled(r.isa)) continue;
        check(r.type, r.name, r.fn);
        ++checked;
    }
    for (DType t : kWeightTypes) {
        if (t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::TQ1_0)
            continue;  // no exact-data generator
        check(t, selected_vec_dot_tile_name(t),
              [t](int64_t n, const void* w, size_t ws, int64_t nw, const void* a, size_t as, int64_t na,
                  float* y, size_t ys) { vec_dot_tile(t, n, w, ws, nw, a, as, na, y, ys); });
    }
    if (checked == 0) GTEST_SKIP() << "no optimized tile runs on this CPU";
}

TEST(VecDotTile, DispatchPicksTheBestEnabledTile) {
    for (DType t : kWeightTypes) {
        const FastVecDotTile* best = nullptr;
        for (const FastVecDotTile& r : fast_vec_dot_tiles())
            if (r.type == t && isa_enabled(r.isa) && (!best || r.isa > best->isa)) best = &r;
        EXPECT_STREQ(selected_vec_dot_tile_name(t), best ? best->name : "rows") << dtype_name(t);
        EXPECT_EQ(selected_vec_dot_tile(t), best ? best->fn : nullptr) << dtype_name(t);
    }
}

}  // namespace edgeq
