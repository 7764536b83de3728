// GGUF GPTQ (src/quant/gguf_gptq.h): the block element access reproduces ggml's bits and dequantized values,
// GPTQ with the real ggml block quantizers lowers the Hessian-weighted error tr((W-Q) H (W-Q)^T) below plain
// rounding (ggml's quantizers / the INT group fit) for legacy, k-quant and INT group types, the output is
// ordinary blocks (dequantize_row reads it), and bad input is reported.
#include "quant/gguf_gptq.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "dtype/blocks.h"

namespace edgeq {
namespace {

const DType kTypes[] = {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::IQ4_NL,
                        DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K};

std::vector<float> gaussian(int64_t count, uint32_t seed, float sigma = 0.02f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, sigma);
    std::vector<float> v(static_cast<size_t>(count));
    for (auto& x : v) x = nd(rng);
    return v;
}

// H = 2 C with C_ij = s_i s_j rho^|i-j| (AR(1) correlation, uneven column scales s): positive definite.
std::vector<double> correlated_hessian(int64_t k, double rho, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> nd(0.0, 0.5);
    std::vector<double> s(static_cast<size_t>(k));
    for (auto& v : s) v = std::exp(nd(rng));
    std::vector<double> h(static_cast<size_t>(k * k));
    for (int64_t i = 0; i < k; ++i) {
        for (int64_t j = 0; j < k; ++j)
            h[static_cast<size_t>(i * k + j)] =
                2.0 * s[static_cast<size_t>(i)] * s[static_cast<size_t>(j)] * std::pow(rho, std::abs(i - j));
    }
    return h;
}

std::vector<float> dequantize(DType t, const std::vector<uint8_t>& q, int64_t rows, int64_t cols) {
    std::vector<float> out(static_cast<size_t>(rows * cols));
    const size_t rb = row_size(t, cols);
    for (int64_t r = 0; r < rows; ++r) dequantize_row(t, q.data() + r * rb, out.data() + r * cols, cols);
    return out;
}

// sum over rows of (w - q)^T H (w - q)
double weighted_error(const std::vector<float>& w, const std::vector<float>& q, const std::vector<double>& h,
                      int64_t rows, int64_t k) {
    double total = 0;
    std::vector<double> d(static_cast<size_t>(k));
    for (int64_t r = 0; r < rows; ++r) {
        for (int64_t j = 0; j < k; ++j)
            d[static_cast<size_t>(j)] =
                static_cast<double>(w[static_cast<size_t>(r * k + j)]) - q[static_cast<size_t>(r * k + j)];
        for (int64_t i = 0; i < k; ++i) {
            double acc = 0;
            for (int64_t j = 0; j < k; ++j)
                acc += h[static_cast<size_t>(i * k + j)] * d[static_cast<size_t>(j)];
            total += d[static_cast<size_t>(i)] * acc;
        }
    }
    return total;
}

TEST(GgufGptqLevels, ReadWriteAndValuesMatchGgmlBlocks) {
    const int64_t cols = 512, rows = 4;
    const auto w = gaussian(rows * cols, 7);
    for (DType t : kTypes) {
        SCOPED_TRACE(dtype_name(t));
        const size_t rb = row_size(t, cols);
        std::vector<uint8_t> q(rb * rows);
        quantize(t, w.data(), q.data(), rows, cols, nullptr);
        const auto deq = dequantize(t, q, rows, cols);
        const int64_t blck = traits(t).block_size;
        const size_t ts = traits(t).type_size;
        for (int64_t r = 0; r < rows; ++r) {
            for (int64_t c = 0; c < cols; ++c) {
                const uint8_t* b = q.data() + r * rb + (c / blck) * ts;
                const int e = static_cast<int>(c % blck);
                const int lv = block_level(t, b, e);
                ASSERT_GE(lv, 0);
                ASSERT_LT(lv, block_levels(t));
                ASSERT_EQ(grid_value(t, block_grid(t, b, e), lv), deq[static_cast<size_t>(r * cols + c)])
                    << "row " << r << " col " << c;
            }
        }
        // Rewriting every level into a copy whose level bits were scrambled gives the same bytes.
        std::vector<uint8_t> copy = q;
        for (int64_t r = 0; r < rows; ++r) {
            for (int64_t c = 0; c < cols; ++c) {
                uint8_t* b = copy.data() + r * rb + (c / blck) * ts;
                set_block_level(t, b, static_cast<int>(c % blck),
                                static_cast<int>((c * 7 + r) % block_levels(t)));
            }
        }
        for (int64_t r = 0; r < rows; ++r) {
            for (int64_t c = 0; c < cols; ++c) {
                const size_t off = r * rb + (c / blck) * ts;
                set_block_level(t, copy.data() + off, static_cast<int>(c % blck),
                                block_level(t, q.data() + off, static_cast<int>(c % blck)));
            }
        }
        EXPECT_EQ(copy, q);
    }
}

TEST(GgufGptqLevels, NearestLevelIsNearest) {
    const auto w = gaussian(256, 11);
    for (DType t : kTypes) {
        SCOPED_TRACE(dtype_name(t));
        std::vector<uint8_t> q(row_size(t, 256));
        quantize(t, w.data(), q.data(), 1, 256, nullptr);
        const int64_t blck = traits(t).block_size;
        for (int e = 0; e < blck; e += 5) {
            const ElementGrid g = block_grid(t, q.data(), e);
            for (float v : {-0.05f, -0.013f, 0.0f, 0.0071f, 0.04f}) {
                const int best = nearest_level(t, g, v, block_levels(t) - 1);
                for (int l = 0; l < block_levels(t); ++l)
                    ASSERT_LE(std::fabs(v - grid_value(t, g, best)), std::fabs(v - grid_value(t, g, l)));
            }
        }
    }
}

struct Case {
    BlockTarget target;
    const char* name;
};

TEST(GgufGptq, LowersHessianWeightedErrorVsRounding) {
    const int64_t rows = 12, cols = 512;
    const auto h = correlated_hessian(cols, 0.9, 3);
    const auto w = gaussian(rows * cols, 5);
    const Case cases[] = {
        {{DType::Q8_0, std::nullopt}, "Q8_0"},
        {{DType::Q4_0, std::nullopt}, "Q4_0"},
        {{DType::Q5_1, std::nullopt}, "Q5_1"},
        {{DType::IQ4_NL, std::nullopt}, "IQ4_NL"},
        {{DType::Q2_K, std::nullopt}, "Q2_K"},
        {{DType::Q3_K, std::nullopt}, "Q3_K"},
        {{DType::Q4_K, std::nullopt}, "Q4_K"},
        {{DType::Q5_K, std::nullopt}, "Q5_K"},
        {{DType::Q6_K, std::nullopt}, "Q6_K"},
        {{DType::Q4_1, IntGroupFormat{4, 32}}, "INT4_G32"},
        {{DType::Q4_1, IntGroupFormat{3, 64}}, "INT3_G64"},
        {{DType::Q4_1, IntGroupFormat{2, 32}}, "INT2_G32"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        const DType t = c.target.type;
        std::vector<uint8_t> rtn;
        if (c.target.int_format) {
            rtn = quantize_int_group_rtn(*c.target.int_format, w.data(), rows, cols, nullptr, 1);
        } else {
            rtn.resize(row_size(t, cols) * rows);
            quantize(t, w.data(), rtn.data(), rows, cols, nullptr);
        }
        GgufGptqOptions o;
        o.threads = 2;
        GgufGptqStats st;
        auto g = quantize_gptq(c.target, w.data(), rows, cols, h, nullptr, o, &st);
        ASSERT_TRUE(g.ok()) << g.status().message();
        ASSERT_EQ(g->size(), rtn.size());
        const double e_rtn = weighted_error(w, dequantize(t, rtn, rows, cols), h, rows, cols);
        const double e_gptq = weighted_error(w, dequantize(t, *g, rows, cols), h, rows, cols);
        EXPECT_LT(e_gptq, 0.8 * e_rtn) << "rtn " << e_rtn << " gptq " << e_gptq;
        EXPECT_EQ(st.dead_columns, 0);
        if (c.target.int_format) {  // levels stay within 2^bits
            const int maxl = (1 << c.target.int_format->bits) - 1;
            for (int64_t r = 0; r < rows; ++r) {
                for (int64_t col = 0; col < cols; ++col) {
                    const uint8_t* b = g->data() + r * row_size(t, cols) + (col / 32) * traits(t).type_size;
                    ASSERT_LE(block_level(t, b, static_cast<int>(col % 32)), maxl);
                }
            }
        }
    }
}

TEST(GgufGptq, IntGroupSharesScalesAcrossBlocksOfAGroup) {
    const int64_t rows = 3, cols = 128;
    const auto w = gaussian(rows * cols, 13);
    const auto q = quantize_int_group_rtn({3, 64}, w.data(), rows, cols, nullptr, 1);
    const auto* b = reinterpret_cast<const block_q4_1*>(q.data());
    for (int64_t i = 0; i < rows * cols / 32; i += 2) {
        EXPECT_EQ(b[i].d, b[i + 1].d);
        EXPECT_EQ(b[i].m, b[i + 1].m);
    }
}

TEST(GgufGptq, NamesAndErrors) {
    ASSERT_TRUE(int_group_format("int3_g64").has_value());
    EXPECT_EQ(int_group_format("INT3_G64")->bits, 3);
    EXPECT_EQ(int_group_format("INT3_G64")->group, 64);
    EXPECT_FALSE(int_group_format("INT5_G32").has_value());
    EXPECT_FALSE(int_group_format("Q4_0").has_value());
    EXPECT_DOUBLE_EQ(int_group_bits_per_weight({2, 64}), 2.5);

    const auto w = gaussian(2 * 96, 1);
    const auto h = correlated_hessian(96, 0.5, 1);
    auto bad_cols = quantize_gptq({DType::Q4_K, std::nullopt}, w.data(), 2, 96, h, nullptr, {});
    ASSERT_FALSE(bad_cols.ok());
    EXPECT_NE(bad_cols.status().message().find("multiple of the 256"), std::string::npos);
    auto bad_type = quantize_gptq({DType::TQ2_0, std::nullopt}, w.data(), 2, 96, h, nullptr, {});
    ASSERT_FALSE(bad_type.ok());
    EXPECT_NE(bad_type.status().message().find("TQ2_0"), std::string::npos);
    auto bad_h = quantize_gptq({DType::Q4_0, std::nullopt}, w.data(), 2, 96,
                               std::span<const double>(h).first(10), nullptr, {});
    EXPECT_FALSE(bad_h.ok());
}

TEST(GgufGptq, HessianFromSums) {
    // x rows (1, 2) and (3, -1): sum x x^T = [[10, -1], [-1, 5]]; H = 2/2 * that.
    const std::vector<double> upper = {10, -1, 0, 5};  // [1][0] unused
    const auto h = hessian_from_sums(upper, 2, 2);
    EXPECT_EQ(h, (std::vector<double>{10, -1, -1, 5}));
}

}  // namespace
}  // namespace edgeq
