// Repacked Q4_0 / Q8_0 / Q4_K / Q6_K / F32 / F16 / BF16 matrices (dtype/repack.h): the VNNI GEMM and the scalar reference on the packed layout both
// equal the reference rows (vec_dot_ref; float_dot_ref for the float types) bit for bit on awkward shapes: row counts around the group of 16,
// activation-row counts around the pass of 8, one block, padded strides, row ranges starting inside the matrix,
// nothing written outside the range.
#include "dtype/repack.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "core/cpu.h"
#include "core/fp16.h"
#include "dtype/blocks.h"
#include "dtype/vec_dot.h"
#include "dtype/vec_dot_float.h"

namespace edgeq {
namespace {

std::vector<float> gauss(int64_t n, uint32_t seed, float sigma) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(0.0f, sigma);
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = g(rng);
    return v;
}

struct RepackCase {
    DType type;
    int blocks;
    int64_t rows, na, r_begin, r_end;
};

// Weight rows: quantized Gaussian data, except every third row of extreme quants (all bit patterns of Q4_0
// nibbles; Q8_0 quants of +-127) with power-of-two scales.
std::vector<uint8_t> weights(DType t, int64_t rows, int64_t n, size_t stride) {
    std::vector<uint8_t> w(stride * static_cast<size_t>(rows), 0xEE);
    std::mt19937 rng(41);
    for (int64_t r = 0; r < rows; ++r) {
        uint8_t* row = w.data() + static_cast<size_t>(r) * stride;
        const auto g = gauss(n, 100 + static_cast<uint32_t>(r), 0.02f * static_cast<float>(1 + r % 5));
        quantize(t, g.data(), row, 1, n);
        if (r % 3 != 2 || is_float_dot_type(t)) continue;  // float rows: the Gaussian data
        if (t == DType::Q6_K) {  // every 6-bit pattern, scales of both signs up to -128
            for (int64_t b = 0; b < n / 256; ++b) {
                auto& x = reinterpret_cast<block_q6_K*>(row)[b];
                x.d = f32_to_fp16(std::ldexp(1.0f, -static_cast<int>(rng() % 6)));
                for (auto& q : x.scales) q = static_cast<int8_t>(rng());
                x.scales[0] = -128;
                for (auto& q : x.ql) q = static_cast<uint8_t>(rng());
                for (auto& q : x.qh) q = static_cast<uint8_t>(rng());
            }
            continue;
        }
        if (t == DType::Q4_K) {  // every nibble and 6-bit scale / min pattern
            for (int64_t b = 0; b < n / 256; ++b) {
                auto& x = reinterpret_cast<block_q4_K*>(row)[b];
                x.d = f32_to_fp16(std::ldexp(1.0f, -static_cast<int>(rng() % 6)));
                x.dmin = f32_to_fp16(std::ldexp(1.0f, -static_cast<int>(rng() % 8)));
                for (auto& q : x.scales) q = static_cast<uint8_t>(rng());
                for (auto& q : x.qs) q = static_cast<uint8_t>(rng());
            }
            continue;
        }
        for (int64_t b = 0; b < n / 32; ++b) {
            const fp16_t d = f32_to_fp16(std::ldexp(1.0f, -static_cast<int>(rng() % 6)));
            if (t == DType::Q4_0) {
                auto& x = reinterpret_cast<block_q4_0*>(row)[b];
                x.d = d;
                for (auto& q : x.qs) q = static_cast<uint8_t>(rng());
            } else {
                auto& x = reinterpret_cast<block_q8_0*>(row)[b];
                x.d = d;
                for (auto& q : x.qs) q = static_cast<int8_t>(rng() % 2 ? 127 : -127);
            }
        }
    }
    return w;
}

std::vector<uint8_t> acts(DType t, int64_t na, int64_t n, size_t stride) {
    std::vector<uint8_t> a(stride * static_cast<size_t>(na), 0xEE);
    for (int64_t i = 0; i < na; ++i) {
        const auto g = gauss(n, 900 + static_cast<uint32_t>(i), i % 4 == 3 ? 100.0f : 1.0f);
        uint8_t* row = a.data() + static_cast<size_t>(i) * stride;
        if (is_float_dot_type(t)) {
            quantize(t, g.data(), row, 1, n);  // float activations of the weight's type
        } else {
            quantize_activation(t, g.data(), row, n);
        }
    }
    return a;
}

void check(const RepackCase& c, bool ref) {
    const bool fl = is_float_dot_type(c.type);
    const int64_t blk = c.type == DType::Q4_K || c.type == DType::Q6_K ? 256 : fl ? 16 : 32;
    const int64_t n = blk * c.blocks;
    const size_t wb = row_size(c.type, n), w_stride = wb + 2 * row_size(c.type, blk);
    const size_t ab = fl ? row_size(c.type, n) : vec_dot_act_size(c.type, n),
                 a_stride = (ab + ab / 2 + 8 + 3) & ~size_t{3};
    const auto w = weights(c.type, c.rows, n, w_stride);
    const auto a = acts(c.type, c.na, n, a_stride);
    const PackedMatrix p = repack_matrix(c.type, w.data(), w_stride, c.rows, n);
    ASSERT_EQ(p.group_bytes % 64, 0u);
    PackedActs pa, pr;
    prepare_packed_acts(c.type, a.data(), a_stride, c.na, n, pa);
    prepare_packed_acts_ref(c.type, a.data(), a_stride, c.na, n, pr);
    ASSERT_EQ(pa.corr, pr.corr);
    ASSERT_EQ(pa.dy, pr.dy);
    ASSERT_EQ(pa.lq, pr.lq);
    const size_t y_stride = static_cast<size_t>(c.rows) + 5;
    std::vector<float> y(y_stride * static_cast<size_t>(c.na), -12345.0f);
    (ref ? packed_gemm_ref : packed_gemm)(p, c.r_begin, c.r_end, a.data(), a_stride, pa, y.data(), y_stride);
    for (int64_t i = 0; i < c.na; ++i) {
        for (size_t r = 0; r < y_stride; ++r) {
            const float got = y[static_cast<size_t>(i) * y_stride + r];
            const auto rr = static_cast<int64_t>(r);
            if (rr < c.r_begin || rr >= c.r_end) {
                EXPECT_EQ(got, -12345.0f) << "wrote outside the row range: row " << r << " act " << i;
                continue;
            }
            const uint8_t* wr = w.data() + r * w_stride;
            const uint8_t* ar = a.data() + static_cast<size_t>(i) * a_stride;
            const float want = fl ? float_dot_ref(c.type, n, wr, ar) : vec_dot_ref(c.type, n, wr, ar);
            ASSERT_EQ(got, want) << (ref ? "ref " : "") << dtype_name(c.type) << " blocks " << c.blocks << " rows "
                                 << c.rows << " na " << c.na << " output (" << i << ", " << r << ")";
        }
    }
}

const RepackCase kRepackCases[] = {
    {DType::Q4_0, 1, 1, 1, 0, 1},    {DType::Q4_0, 1, 17, 9, 0, 17},   {DType::Q4_0, 3, 33, 8, 16, 33},
    {DType::Q4_0, 7, 16, 3, 0, 16},  {DType::Q4_0, 24, 40, 17, 16, 32}, {DType::Q4_0, 2, 15, 5, 0, 15},
    {DType::Q8_0, 1, 1, 1, 0, 1},    {DType::Q8_0, 1, 17, 9, 0, 17},   {DType::Q8_0, 3, 33, 8, 16, 33},
    {DType::Q8_0, 7, 16, 3, 0, 16},  {DType::Q8_0, 24, 40, 17, 16, 32}, {DType::Q8_0, 2, 31, 12, 16, 31},
    // One activation row (decoding): passes of 8, 4, 2 and 1 groups, the last group partial.
    {DType::Q4_0, 5, 245, 1, 0, 245}, {DType::Q4_0, 2, 150, 1, 32, 150}, {DType::Q4_0, 3, 128, 1, 0, 128},
    {DType::Q8_0, 3, 245, 1, 16, 245}, {DType::Q8_0, 1, 131, 1, 0, 131}, {DType::Q8_0, 4, 77, 1, 0, 77},
    // Q4_K (blocks: super-blocks of 256): passes of 4 activation rows and the rest, decoding passes of 4, 2, 1 groups.
    {DType::Q4_K, 1, 17, 9, 0, 17},   {DType::Q4_K, 3, 33, 5, 16, 33},  {DType::Q4_K, 1, 16, 3, 0, 16},
    {DType::Q4_K, 8, 40, 4, 16, 40},  {DType::Q4_K, 2, 245, 1, 0, 245}, {DType::Q4_K, 1, 100, 1, 32, 100},
    {DType::Q4_K, 3, 64, 1, 0, 64},
    {DType::Q6_K, 1, 17, 9, 0, 17},   {DType::Q6_K, 3, 33, 5, 16, 33},  {DType::Q6_K, 8, 40, 4, 16, 40},
    {DType::Q6_K, 2, 245, 1, 0, 245}, {DType::Q6_K, 1, 100, 1, 32, 100},
    // Float types (blocks: 16 elements): prefill blocks of 4 x 4 and the rest, decoding a group at a time.
    {DType::F32, 1, 17, 9, 0, 17},    {DType::F32, 5, 45, 1, 16, 45},   {DType::F32, 3, 33, 6, 0, 33},
    {DType::F16, 48, 40, 5, 16, 40},  {DType::F16, 2, 37, 1, 0, 37},    {DType::BF16, 3, 20, 4, 0, 20},
    {DType::BF16, 1, 16, 1, 0, 16},
};

TEST(Repack, ReferenceOnPackedLayoutEqualsTheRows) {
    for (const RepackCase& c : kRepackCases) check(c, true);
}

TEST(Repack, DispatchedGemmEqualsTheRows) {
    for (const RepackCase& c : kRepackCases) check(c, false);
    if (!isa_enabled(Isa::Avx512Vnni)) GTEST_SKIP() << "no VNNI: packed_gemm ran the reference";
}

TEST(Repack, SupportAndNames) {
    EXPECT_TRUE(repack_supported(DType::Q4_0));
    EXPECT_TRUE(repack_supported(DType::Q8_0));
    EXPECT_TRUE(repack_supported(DType::Q4_K));
    EXPECT_TRUE(repack_supported(DType::Q6_K));
    EXPECT_FALSE(repack_supported(DType::Q5_K));
    EXPECT_TRUE(repack_supported(DType::F16));
    EXPECT_EQ(repack_profitable(DType::F32), isa_enabled(Isa::Avx512));
    EXPECT_FALSE(repack_profitable(DType::Q5_K));
    EXPECT_EQ(repack_profitable(DType::Q4_0), isa_enabled(Isa::Avx512Vnni));
    EXPECT_STREQ(selected_packed_gemm_name(DType::Q5_K), "none");
    EXPECT_STREQ(selected_packed_gemm_name(DType::Q8_0),
                 isa_enabled(Isa::Avx512Vnni) ? "packed_gemm_q8_0__avx512vnni" : "packed_gemm_q8_0__ref");
}

}  // namespace
}  // namespace edgeq
