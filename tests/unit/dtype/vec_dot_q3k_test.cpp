// vec_dot_q3_K_q8_K__avx2 (dtype/x86/vec_dot_q3k_avx2.cpp) against the reference dot_q3_K, bit for bit, on the
// cases its int16 pair sums and scale unpacking must survive: every high-bit pattern (all set, all clear, random),
// extreme quants (q = 0 → w = -4 and q = 7 → w = 3) against ±127 activations, every 6-bit scale (0 → -32,
// 63 → +31), random bits, real quantized data, and row lengths of 1..9 super-blocks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "dtype/blocks.h"
#include "dtype/vec_dot.h"
#include "edgeq/dtype.h"

namespace edgeq {
namespace {

const FastVecDot* q3k_row() {
    for (const FastVecDot& r : fast_vec_dots())
        if (r.type == DType::Q3_K && r.isa == Isa::Avx2) return &r;
    return nullptr;
}

// Activations: int8 quants from gen, d = 2^-e, consistent bsums.
template <typename Gen>
std::vector<block_q8_K> acts(int blocks, Gen gen, std::mt19937& rng) {
    std::vector<block_q8_K> a(static_cast<size_t>(blocks));
    for (auto& b : a) {
        b.d = std::ldexp(1.0f, -static_cast<int>(rng() % 4));
        for (int l = 0; l < QK_K; ++l) b.qs[l] = static_cast<int8_t>(gen(l));
        for (int s = 0; s < QK_K / 16; ++s) {
            int sum = 0;
            for (int l = 0; l < 16; ++l) sum += b.qs[16 * s + l];
            b.bsums[s] = static_cast<int16_t>(sum);
        }
    }
    return a;
}

// Weights: random bytes, then hmask / qs / scales overwritten by the case, d a power of two.
std::vector<block_q3_K> weights(int blocks, int hmask_mode, int q_mode, int scale_mode, std::mt19937& rng) {
    std::vector<block_q3_K> w(static_cast<size_t>(blocks));
    for (auto& b : w) {
        auto* bytes = reinterpret_cast<uint8_t*>(&b);
        for (size_t i = 0; i < sizeof b; ++i) bytes[i] = static_cast<uint8_t>(rng());
        b.d = f32_to_fp16(std::ldexp(1.0f, -static_cast<int>(rng() % 5)));
        if (hmask_mode == 1) std::memset(b.hmask, 0xFF, sizeof b.hmask);  // no -4 offset anywhere
        if (hmask_mode == 2) std::memset(b.hmask, 0x00, sizeof b.hmask);  // -4 everywhere
        if (q_mode == 1) std::memset(b.qs, 0x00, sizeof b.qs);
        if (q_mode == 2) std::memset(b.qs, 0xFF, sizeof b.qs);
        if (scale_mode == 1) std::memset(b.scales, 0x00, sizeof b.scales);  // every scale -32
        if (scale_mode == 2) std::memset(b.scales, 0xFF, sizeof b.scales);  // every scale +31
    }
    return w;
}

TEST(VecDotQ3K, RowIsRegisteredAndSelected) {
    const FastVecDot* r = q3k_row();
    ASSERT_NE(r, nullptr);
    EXPECT_STREQ(r->name, "vec_dot_q3_K_q8_K__avx2");
    if (isa_enabled(Isa::Avx2)) EXPECT_STREQ(selected_vec_dot_name(DType::Q3_K), "vec_dot_q3_K_q8_K__avx2");
    else EXPECT_STREQ(selected_vec_dot_name(DType::Q3_K), "reference");
}

TEST(VecDotQ3K, BitExactOnExtremeAndRandomBlocks) {
    const FastVecDot* r = q3k_row();
    ASSERT_NE(r, nullptr);
    if (!isa_enabled(Isa::Avx2)) GTEST_SKIP() << "AVX2 disabled or absent (" << isa_name(active_isa()) << ")";
    std::mt19937 rng(77);
    std::uniform_int_distribution<int> full(-127, 127);
    int cases = 0;
    for (int blocks : {1, 2, 3, 5, 9}) {
        for (int hm = 0; hm < 3; ++hm) {
            for (int qm = 0; qm < 3; ++qm) {
                for (int sm = 0; sm < 3; ++sm) {
                    for (int am = 0; am < 4; ++am) {
                        const auto w = weights(blocks, hm, qm, sm, rng);
                        const auto a = acts(
                            blocks,
                            [&](int l) {
                                switch (am) {
                                    case 0: return 127;
                                    case 1: return -127;
                                    case 2: return l % 2 ? 127 : -127;
                                    default: return full(rng);
                                }
                            },
                            rng);
                        const int64_t n = int64_t{blocks} * QK_K;
                        const float want = vec_dot_ref(DType::Q3_K, n, w.data(), a.data());
                        const float got = r->fn(n, w.data(), a.data());
                        EXPECT_EQ(got, want) << "blocks " << blocks << " hmask " << hm << " q " << qm << " scales " << sm
                                             << " acts " << am;
                        ++cases;
                    }
                }
            }
        }
    }
    EXPECT_EQ(cases, 5 * 3 * 3 * 3 * 4);
}

// A single non-zero weight and activation at each position: catches a wrong element order, high bit or scale index
// (every position lands in its own lane and sub-block), with the expected value known exactly.
TEST(VecDotQ3K, EveryPositionAndScaleIndex) {
    const FastVecDot* r = q3k_row();
    ASSERT_NE(r, nullptr);
    if (!isa_enabled(Isa::Avx2)) GTEST_SKIP() << "AVX2 disabled or absent";
    std::mt19937 rng(5);
    auto w = weights(1, 0, 0, 0, rng);
    w[0].d = f32_to_fp16(1.0f);
    for (int e = 0; e < QK_K; ++e) {
        auto a = acts(1, [&](int l) { return l == e ? 3 : 0; }, rng);
        a[0].d = 1.0f;
        const float want = vec_dot_ref(DType::Q3_K, QK_K, w.data(), a.data());
        std::vector<float> deq(QK_K);
        dequantize_row(DType::Q3_K, w.data(), deq.data(), QK_K);
        EXPECT_EQ(want, 3.0f * deq[static_cast<size_t>(e)]) << "reference, element " << e;
        EXPECT_EQ(r->fn(QK_K, w.data(), a.data()), want) << "element " << e;
    }
}

TEST(VecDotQ3K, BitExactOnQuantizedData) {
    const FastVecDot* r = q3k_row();
    ASSERT_NE(r, nullptr);
    if (!isa_enabled(Isa::Avx2)) GTEST_SKIP() << "AVX2 disabled or absent";
    for (int blocks : {1, 4, 7}) {
        for (uint32_t seed = 0; seed < 6; ++seed) {
            const int64_t n = int64_t{blocks} * QK_K;
            std::mt19937 rng(seed * 101 + static_cast<uint32_t>(blocks));
            std::normal_distribution<float> g(0.0f, 1.0f + static_cast<float>(seed));
            std::vector<float> wf(static_cast<size_t>(n)), xf(static_cast<size_t>(n));
            for (auto& v : wf) v = g(rng);
            for (auto& v : xf) v = g(rng);
            std::vector<uint8_t> wq(row_size(DType::Q3_K, n)), xq(vec_dot_act_size(DType::Q3_K, n));
            quantize(DType::Q3_K, wf.data(), wq.data(), 1, n);
            quantize_activation(DType::Q3_K, xf.data(), xq.data(), n);
            EXPECT_EQ(r->fn(n, wq.data(), xq.data()), vec_dot_ref(DType::Q3_K, n, wq.data(), xq.data()))
                << "blocks " << blocks << " seed " << seed;
        }
    }
}

}  // namespace
}  // namespace edgeq
