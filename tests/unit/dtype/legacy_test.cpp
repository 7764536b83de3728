// The 32-wide and ternary block codecs (quant_legacy.cpp) on awkward shapes and values: 0..17 rows,
// one to three blocks per row, zero rows, constant rows, values so small that the fp16 scale underflows,
// huge values, and with/without an importance matrix. Checks: bytes written, no write past the end,
// finite output, error within each format's rounding bound, zero rows give exact zeros, constant rows
// come back to fp16 precision, multi-row quantization equals row-by-row. Bit-compatibility with ggml is
// ggml_compat_test.cpp's job. Failures print the seed, shape, type, row and index.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "dtype/blocks.h"
#include "edgeq/dtype.h"

namespace edgeq {
namespace {

struct Case {
    DType type;
    double plain_bound;  // max |x - xhat| / (block amax) for the plain (reference) rounding
};

// Bounds: half a quantization step relative to the block's amax (range for the min/max types, which is
// at most 2*amax), plus room for the fp16 rounding of the scale. Q4_0/Q5_0 put the signed max at the
// lowest level, so the opposite end saturates one step short (7d = 7/8 amax): a full step there.
// IQ4_NL: half the widest gap of its table (24 of d ~ amax/113); ternary: half of d = amax.
const Case kCases[] = {
    {DType::Q4_0, 1.0 / 8 + 0.01},  {DType::Q4_1, 2.0 / 30 + 0.01},  {DType::Q5_0, 1.0 / 16 + 0.01},
    {DType::Q5_1, 2.0 / 62 + 0.01}, {DType::Q8_0, 1.0 / 254 + 0.005}, {DType::Q8_1, 1.0 / 254 + 0.005},
    {DType::IQ4_NL, 0.13},          {DType::TQ1_0, 0.5 + 0.002},      {DType::TQ2_0, 0.5 + 0.002},
};

std::string case_name(const ::testing::TestParamInfo<Case>& i) { return dtype_name(i.param.type); }

class Legacy : public ::testing::TestWithParam<Case> {
protected:
    DType t() const { return GetParam().type; }
    int64_t qk() const { return traits(t()).block_size; }

    // Quantizes rows x ne0 from src into a buffer with a guard tail, checks size and guard, returns the
    // dequantized floats.
    std::vector<float> roundtrip(const std::vector<float>& src, int64_t rows, int64_t ne0, const float* imx,
                                 std::vector<uint8_t>* bytes_out = nullptr) {
        const size_t rs = row_size(t(), ne0);
        const size_t n = rs * static_cast<size_t>(rows);
        std::vector<uint8_t> q(n + 64, 0xA5);
        const size_t written = quantize(t(), src.data(), q.data(), rows, ne0, imx);
        EXPECT_EQ(written, n) << dtype_name(t()) << " rows " << rows << " ne0 " << ne0;
        for (size_t i = n; i < q.size(); ++i) {
            if (q[i] != 0xA5) {
                ADD_FAILURE() << dtype_name(t()) << ": wrote past the end at byte " << i << " (size " << n << ")";
                break;
            }
        }
        std::vector<float> out(static_cast<size_t>(rows * ne0), NAN);
        for (int64_t r = 0; r < rows; ++r) dequantize_row(t(), q.data() + r * rs, out.data() + r * ne0, ne0);
        if (bytes_out) *bytes_out = std::vector<uint8_t>(q.begin(), q.begin() + static_cast<ptrdiff_t>(n));
        return out;
    }

    // Every output finite; |x - xhat| <= bound * amax(block) + abs_slack.
    void check_error(const std::vector<float>& x, const std::vector<float>& y, int64_t ne0, double bound,
                     double abs_slack, const std::string& what) {
        const int64_t b = qk();
        for (size_t blk = 0; blk * static_cast<size_t>(b) < x.size(); ++blk) {
            double amax = 0;
            for (int64_t j = 0; j < b; ++j) amax = std::max(amax, std::fabs(double(x[blk * b + j])));
            for (int64_t j = 0; j < b; ++j) {
                const size_t i = blk * static_cast<size_t>(b) + static_cast<size_t>(j);
                ASSERT_TRUE(std::isfinite(y[i])) << what << ": row " << i / ne0 << " index " << i % ne0 << " = " << y[i];
                const double err = std::fabs(double(x[i]) - double(y[i]));
                ASSERT_LE(err, bound * amax + abs_slack)
                    << what << ": row " << i / ne0 << " index " << i % ne0 << ": expected ~" << x[i] << ", got "
                    << y[i] << " (block amax " << amax << ")";
            }
        }
    }
};

TEST_P(Legacy, RowsAndBlocksOfAwkwardCounts) {
    const uint32_t seed = 1234;
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.f, 1.f);
    std::uniform_real_distribution<float> ud(0.1f, 4.f);
    for (int64_t rows = 0; rows <= 17; ++rows) {
        for (int64_t nb : {1, 2, 3}) {
            const int64_t ne0 = nb * qk();
            std::vector<float> x(static_cast<size_t>(rows * ne0));
            for (auto& v : x) v = nd(rng);
            std::vector<float> imx(static_cast<size_t>(ne0));
            for (auto& v : imx) v = ud(rng);
            const std::string what = std::string(dtype_name(t())) + " seed " + std::to_string(seed) + " rows " +
                                     std::to_string(rows) + " ne0 " + std::to_string(ne0);
            std::vector<uint8_t> all;
            const auto y = roundtrip(x, rows, ne0, nullptr, &all);
            check_error(x, y, ne0, GetParam().plain_bound, 1e-6, what + " plain");
            const auto yi = roundtrip(x, rows, ne0, imx.data());
            check_error(x, yi, ne0, 1.0, 1e-6, what + " imatrix");  // sanity only: weighted search
            // Quantizing several rows at once == one row at a time (the imatrix paths use per-row sigma).
            for (const float* w : {static_cast<const float*>(nullptr), static_cast<const float*>(imx.data())}) {
                std::vector<uint8_t> many(row_size(t(), ne0) * static_cast<size_t>(rows));
                quantize(t(), x.data(), many.data(), rows, ne0, w);
                for (int64_t r = 0; r < rows; ++r) {
                    std::vector<uint8_t> one(row_size(t(), ne0));
                    quantize(t(), x.data() + r * ne0, one.data(), 1, ne0, w);
                    ASSERT_EQ(0, std::memcmp(one.data(), many.data() + r * one.size(), one.size()))
                        << what << (w ? " imatrix" : " plain") << ": row " << r << " differs from single-row";
                }
            }
        }
    }
}

TEST_P(Legacy, ZeroRowsWriteNothing) {
    const int64_t ne0 = 2 * qk();
    std::vector<float> x(static_cast<size_t>(ne0), 1.f);
    std::vector<uint8_t> q(16, 0x5A);
    EXPECT_EQ(quantize(t(), x.data(), q.data(), 0, ne0, nullptr), 0u);
    EXPECT_EQ(quantize(t(), x.data(), q.data(), 0, ne0, x.data()), 0u);
    for (auto b : q) EXPECT_EQ(b, 0x5A);
}

TEST_P(Legacy, ZeroAndConstantRows) {
    const int64_t ne0 = 2 * qk();
    const float consts[] = {0.f, 0.01f, -0.01f, 1.f, -3.f, 300.f, 1e-5f, -1e-5f};
    const int64_t rows = static_cast<int64_t>(std::size(consts));
    std::vector<float> x(static_cast<size_t>(rows * ne0));
    for (int64_t r = 0; r < rows; ++r) std::fill_n(x.begin() + r * ne0, ne0, consts[r]);
    std::vector<float> imx(static_cast<size_t>(ne0), 1.f);
    for (const float* w : {static_cast<const float*>(nullptr), static_cast<const float*>(imx.data())}) {
        const auto y = roundtrip(x, rows, ne0, w);
        for (int64_t r = 0; r < rows; ++r) {
            for (int64_t j = 0; j < ne0; ++j) {
                const float v = y[static_cast<size_t>(r * ne0 + j)];
                const std::string what = std::string(dtype_name(t())) + (w ? " imatrix" : " plain") +
                                         " constant " + std::to_string(consts[r]) + " index " + std::to_string(j);
                if (consts[r] == 0.f) {
                    ASSERT_EQ(v, 0.f) << what;  // exact zero, not -0 noise or NaN
                } else {
                    // Back to fp16 precision of the scale; for the 1e-5 rows the scale is an fp16 subnormal
                    // (step 2^-24), so allow up to 127 levels times half a subnormal step.
                    ASSERT_NEAR(v, consts[r], std::fabs(consts[r]) * 2e-3 + 4e-6) << what;
                }
            }
        }
    }
}

TEST_P(Legacy, TinyValuesUnderflowFp16ScaleWithoutNaN) {
    // Scales of these blocks are fp16 subnormals or flush to zero: output must stay finite and small. At 1e-38
    // and below (float denormals) 1/d overflows to inf and ggml's (int8_t)roundf(x * id) is a float->int
    // overflow: the sanitizer build (clang UBSan float-cast-overflow) fails here if a codec does that cast.
    const int64_t ne0 = 2 * qk();
    std::mt19937 rng(77);
    std::normal_distribution<float> nd(0.f, 1.f);
    for (float sigma : {1e-4f, 1e-6f, 1e-8f, 1e-12f, 1e-20f, 1e-30f, 1e-38f, 1e-40f}) {
        std::vector<float> x(static_cast<size_t>(3 * ne0));
        for (auto& v : x) v = sigma * nd(rng);
        std::vector<float> imx(static_cast<size_t>(ne0), 0.5f);
        for (const float* w : {static_cast<const float*>(nullptr), static_cast<const float*>(imx.data())}) {
            const auto y = roundtrip(x, 3, ne0, w);
            for (size_t i = 0; i < y.size(); ++i) {
                ASSERT_TRUE(std::isfinite(y[i])) << dtype_name(t()) << " sigma " << sigma << " index " << i;
                // at most the block's magnitude (plus the smallest fp16 subnormal steps)
                ASSERT_LE(std::fabs(y[i]), 10.f * sigma + 1.6e-5f) << dtype_name(t()) << " sigma " << sigma << " index " << i;
            }
        }
    }
}

TEST_P(Legacy, LargeValuesStayFinite) {
    // Block amax up to ~6e4 keeps the fp16 scales finite for every format (ternary stores d = amax).
    const int64_t ne0 = qk();
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> ud(-6e4f, 6e4f);
    std::vector<float> x(static_cast<size_t>(4 * ne0));
    for (auto& v : x) v = ud(rng);
    const auto y = roundtrip(x, 4, ne0, nullptr);
    check_error(x, y, ne0, GetParam().plain_bound, 0.0, std::string(dtype_name(t())) + " large");
}

TEST_P(Legacy, ZeroImatrixIsFinite) {
    // An imatrix of zeros gives every weight 0: the searches must not divide by zero.
    const int64_t ne0 = qk();
    std::mt19937 rng(9);
    std::normal_distribution<float> nd(0.f, 1.f);
    std::vector<float> x(static_cast<size_t>(2 * ne0));
    for (auto& v : x) v = nd(rng);
    std::vector<float> imx(static_cast<size_t>(ne0), 0.f);
    const auto y = roundtrip(x, 2, ne0, imx.data());
    for (size_t i = 0; i < y.size(); ++i) ASSERT_TRUE(std::isfinite(y[i])) << dtype_name(t()) << " index " << i;
}

INSTANTIATE_TEST_SUITE_P(Types, Legacy, ::testing::ValuesIn(kCases), case_name);

TEST(LegacyFormats, TernaryPackingsDequantizeAlike) {
    // TQ1_0 and TQ2_0 round identically; only the packing differs.
    std::mt19937 rng(11);
    std::normal_distribution<float> nd(0.f, 1.f);
    const int64_t ne0 = 2 * QK_K;
    std::vector<float> x(static_cast<size_t>(3 * ne0));
    for (auto& v : x) v = nd(rng);
    std::vector<uint8_t> q1(row_size(DType::TQ1_0, ne0) * 3), q2(row_size(DType::TQ2_0, ne0) * 3);
    quantize(DType::TQ1_0, x.data(), q1.data(), 3, ne0);
    quantize(DType::TQ2_0, x.data(), q2.data(), 3, ne0);
    std::vector<float> y1(x.size()), y2(x.size());
    dequantize_row(DType::TQ1_0, q1.data(), y1.data(), 3 * ne0);
    dequantize_row(DType::TQ2_0, q2.data(), y2.data(), 3 * ne0);
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(y1[i], y2[i]) << "index " << i;
}

TEST(LegacyFormats, TernaryLevels) {
    // Every value comes back as -d, 0 or +d with d = fp16(amax); elements placed to hit every packing
    // region of TQ1_0 (qs 32-byte part, qs 16-byte part, qh).
    std::vector<float> x(QK_K, 0.f);
    for (int i = 0; i < QK_K; ++i) x[i] = (i % 3 == 0) ? 0.9f : (i % 3 == 1) ? -0.7f : 0.2f;
    x[255] = -1.f;
    for (DType t : {DType::TQ1_0, DType::TQ2_0}) {
        std::vector<uint8_t> q(row_size(t, QK_K));
        quantize(t, x.data(), q.data(), 1, QK_K);
        std::vector<float> y(QK_K);
        dequantize_row(t, q.data(), y.data(), QK_K);
        for (int i = 0; i < QK_K; ++i) {
            const float want = (i % 3 == 0) ? 1.f : (i % 3 == 1) ? -1.f : 0.f;
            ASSERT_EQ(y[i], i == 255 ? -1.f : want) << dtype_name(t) << " index " << i;
        }
    }
}

TEST(LegacyFormats, Q8_1SumField) {
    // s = fp16(d * sum(qs)) per block, with ggml's unrounded float d = amax / 127.
    std::mt19937 rng(3);
    std::normal_distribution<float> nd(0.f, 1.f);
    std::vector<float> x(4 * QK8_1);
    for (auto& v : x) v = nd(rng);
    std::vector<block_q8_1> q(4);
    quantize(DType::Q8_1, x.data(), q.data(), 1, static_cast<int64_t>(x.size()));
    for (size_t b = 0; b < q.size(); ++b) {
        float amax = 0;
        for (int j = 0; j < QK8_1; ++j) amax = std::max(amax, std::fabs(x[b * QK8_1 + j]));
        int sum = 0;
        for (int8_t v : q[b].qs) sum += v;
        EXPECT_EQ(q[b].d, f32_to_fp16(amax / 127)) << "block " << b;
        EXPECT_EQ(q[b].s, f32_to_fp16(static_cast<float>(sum) * (amax / 127))) << "block " << b;
    }
}

TEST(LegacyFormats, Q4_0MaxMapsToLevelZero) {
    // The signed max gets level 0 (value -8*d), so d carries its sign: d = max / -8.
    std::vector<float> x(QK4_0, 0.1f);
    x[5] = -2.f;
    block_q4_0 b;
    quantize(DType::Q4_0, x.data(), &b, 1, QK4_0);
    EXPECT_EQ(fp16_to_f32(b.d), 0.25f);
    EXPECT_EQ(b.qs[5] & 0xF, 0);
    std::vector<float> y(QK4_0);
    dequantize_row(DType::Q4_0, &b, y.data(), QK4_0);
    EXPECT_EQ(y[5], -2.f);
}

}  // namespace
}  // namespace edgeq
