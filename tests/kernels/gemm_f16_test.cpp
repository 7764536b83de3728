// FP16 / BF16-weight GEMM rows (Op::GemmF16, GemmBf16, GemmBf16Dot) vs their scalar references on awkward shapes
// (1–17, 31/33, 65, tile non-multiples of 6/12 rows and 16/32 columns, odd K, K across the 256 block), bias kinds,
// activations and split column ranges; the references themselves vs the FP32 reference on the widened weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "core/fp16.h"
#include "kernels/ref/ref.h"
#include "kernel_test_util.h"

namespace edgeq::kernels::test {
namespace {

// GemmBf16Dot rounds A to bf16 (relative error ≤ 2^-9 per element): |got − exact| ≤ kBf16DotRel · Σ|a·b|.
inline constexpr float kBf16DotRel = 1.0f / 256.0f;

const Op kHalfOps[] = {Op::GemmF16, Op::GemmBf16, Op::GemmBf16Dot};

bool is_f16(Op op) { return op == Op::GemmF16; }
uint16_t to_half(Op op, float x) { return is_f16(op) ? f32_to_fp16(x) : f32_to_bf16(x); }
float widen(Op op, uint16_t h) { return is_f16(op) ? fp16_to_f32(h) : bf16_to_f32(h); }

struct HalfCase {
    int64_t M, N, K;
    BiasKind bias = BiasKind::None;
    Activation act = {};
};

std::string shape_of(const HalfCase& c, int splits) {
    return "M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) + " K=" + std::to_string(c.K) +
           " bias=" + std::to_string(static_cast<int>(c.bias)) + " act=" + act_name(c.act.kind) +
           " splits=" + std::to_string(splits);
}

// Runs row on A and the K×N row-major 16-bit B (packed here for the row's nr and kpair), columns in `splits` ranges.
std::vector<float> run_half(const KernelRow& row, const HalfCase& c, const std::vector<float>& a,
                            const std::vector<uint16_t>& b, const std::vector<float>& bias, int splits) {
    const int kp = half_kpair(row.op);
    std::vector<uint16_t> packed(static_cast<size_t>(packed_b_halves(c.K, c.N, row.nr, kp)), 0xFFFF);
    pack_b_half(b.data(), c.N, 1, c.K, c.N, row.nr, kp, packed.data());
    std::vector<float> out(static_cast<size_t>(c.M * c.N), -12345.0f);
    GemmHalfArgs g;
    set_gemm_operands(g, c, a.data(), out.data(), bias.data());
    g.b = packed.data();
    run_column_splits(g, row.nr, splits, gemm_half_fn(row));
    return out;
}

struct HalfData {
    std::vector<float> a, bias, mag;
    std::vector<uint16_t> b;
};

HalfData make_data(Op op, const HalfCase& c, uint32_t seed) {
    std::mt19937 rng(seed);
    HalfData d;
    d.a = random_vec(rng, static_cast<size_t>(c.M * c.K));
    const auto bf = random_vec(rng, static_cast<size_t>(c.K * c.N));
    d.bias = random_vec(rng, static_cast<size_t>(std::max(c.M, c.N)));
    d.b.resize(bf.size());
    for (size_t i = 0; i < bf.size(); ++i) d.b[i] = to_half(op, bf[i]);
    d.mag.assign(static_cast<size_t>(c.M * c.N), 0.0f);
    for (int64_t m = 0; m < c.M; ++m)
        for (int64_t n = 0; n < c.N; ++n) {
            float s = 0;
            for (int64_t k = 0; k < c.K; ++k) s += std::fabs(d.a[m * c.K + k] * widen(op, d.b[k * c.N + n]));
            s += c.bias == BiasKind::PerRow ? std::fabs(d.bias[m]) : c.bias == BiasKind::PerCol ? std::fabs(d.bias[n]) : 0.0f;
            d.mag[m * c.N + n] = s;
        }
    return d;
}

void check_half(const KernelRow& row, const HalfCase& c, uint32_t seed, int splits = 1) {
    const HalfData d = make_data(row.op, c, seed);
    const auto want = run_half(*find(row.op, Isa::Ref), c, d.a, d.b, d.bias, 1);
    const auto got = run_half(row, c, d.a, d.b, d.bias, splits);
    const int64_t bad = first_bad(want, got, d.mag, kGemmRel, kActAbs);
    if (bad >= 0)
        ADD_FAILURE() << describe_failure(row, seed, shape_of(c, splits) + " (m=" + std::to_string(bad / c.N) +
                                                         ", n=" + std::to_string(bad % c.N) + ")",
                                          bad, want, got);
}

const std::vector<int64_t> kSizes = {1, 2, 3, 5, 7, 11, 12, 13, 16, 17, 31, 33, 65};

TEST(GemmHalf, RowsAreRegisteredWithReferences) {
    for (Op op : kHalfOps) {
        ASSERT_NE(find(op, Isa::Ref), nullptr);
        const KernelRow& s = select(op);
        EXPECT_TRUE(isa_enabled(s.isa)) << s.name;
        for (const auto& r : kernel_rows()) {
            if (r.op == op && isa_enabled(r.isa)) {
                EXPECT_LE(r.isa, s.isa) << s.name << " chosen over " << r.name;
            }
        }
    }
    EXPECT_STREQ(find(Op::GemmF16, Isa::Avx2)->name, "gemm_f16_f32__avx2_6x16");
    EXPECT_STREQ(find(Op::GemmBf16, Isa::Avx512)->name, "gemm_bf16_f32__avx512_12x32");
    EXPECT_STREQ(find(Op::GemmBf16Dot, Isa::Avx512Bf16)->name, "gemm_bf16dot_f32__avx512bf16_12x32");
}

// The exact-A references equal the FP32 reference run on the widened weights, bit for bit (same k order), and
// pack_b_half reads a transposed (N×K) source like pack_b does.
TEST(GemmHalf, ReferencesEqualFp32GemmOnWidenedWeights) {
    for (Op op : {Op::GemmF16, Op::GemmBf16}) {
        uint32_t seed = 7;
        for (int64_t M : {1, 3, 17})
            for (int64_t N : {1, 9, 33})
                for (int64_t K : {1, 16, 65}) {
                    const HalfCase c{M, N, K, BiasKind::PerCol, {Act::Relu, 0, 0}};
                    const HalfData d = make_data(op, c, seed++);
                    const auto got = run_half(*find(op, Isa::Ref), c, d.a, d.b, d.bias, 1);
                    // FP32 reference on the widened B
                    std::vector<float> bw(d.b.size());
                    for (size_t i = 0; i < bw.size(); ++i) bw[i] = widen(op, d.b[i]);
                    std::vector<float> packed(static_cast<size_t>(packed_b_floats(K, N, ref::kRefNr)));
                    pack_b(bw.data(), N, 1, K, N, ref::kRefNr, packed.data());
                    std::vector<float> want(static_cast<size_t>(M * N));
                    GemmArgs g;
                    g.M = M;
                    g.N = N;
                    g.K = K;
                    g.a = d.a.data();
                    g.lda = K;
                    g.b = packed.data();
                    g.c = want.data();
                    g.ldc = N;
                    g.bias = d.bias.data();
                    g.bias_kind = c.bias;
                    g.act = c.act;
                    g.n_begin = 0;
                    g.n_end = N;
                    ref::gemm_f32_f32_f32(g);
                    ASSERT_EQ(got, want) << "op " << static_cast<int>(op) << " " << shape_of(c, 1);
                }
    }
    // transposed source: B^T stored N×K, read with stride_k = 1, stride_n = K
    const int64_t K = 19, N = 37;
    for (int kp : {1, 2}) {
        std::vector<uint16_t> b(static_cast<size_t>(K * N)), bt(b.size());
        for (int64_t k = 0; k < K; ++k)
            for (int64_t n = 0; n < N; ++n) b[k * N + n] = bt[n * K + k] = static_cast<uint16_t>(k * 1000 + n + 1);
        std::vector<uint16_t> p1(static_cast<size_t>(packed_b_halves(K, N, 32, kp))), p2(p1.size());
        pack_b_half(b.data(), N, 1, K, N, 32, kp, p1.data());
        pack_b_half(bt.data(), 1, K, K, N, 32, kp, p2.data());
        EXPECT_EQ(p1, p2) << "kpair " << kp;
        // kpair 2: (k, n) = (3, 5) sits in pair 1, column 5, second half; padding is zero
        if (kp == 2) {
            EXPECT_EQ(p1[static_cast<size_t>(1 * 32 * 2 + 5 * 2 + 1)], b[3 * N + 5]);
            EXPECT_EQ(p1[static_cast<size_t>(9 * 32 * 2 + 5 * 2 + 1)], 0);  // k = 19 (padding of odd K)
        }
    }
}

TEST(GemmHalf, AwkwardShapesMatchReference) {
    int rows = 0;
    for (Op op : kHalfOps) {
        for (const KernelRow* row : runnable_rows(op)) {
            ++rows;
            uint32_t seed = 1;
            for (int64_t M : kSizes)
                for (int64_t N : kSizes)
                    for (int64_t K : {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{17}, int64_t{31}, int64_t{65}}) {
                        check_half(*row, {M, N, K}, seed++);
                        if (HasFailure()) return;
                    }
            // K across the 256 block (odd K: an odd last block for the k-pair layout)
            for (int64_t K : {int64_t{255}, int64_t{257}, int64_t{300}, int64_t{513}})
                for (int64_t M : {int64_t{1}, int64_t{13}})
                    for (int64_t N : {int64_t{5}, int64_t{33}}) check_half(*row, {M, N, K}, seed++);
        }
    }
    if (rows == 0) GTEST_SKIP() << "no optimized FP16/BF16 GEMM row runs on this CPU";
}

TEST(GemmHalf, BiasActivationsAndColumnSplits) {
    for (Op op : kHalfOps) {
        for (const KernelRow* row : runnable_rows(op)) {
            uint32_t seed = 100;
            for (BiasKind bias : {BiasKind::None, BiasKind::PerRow, BiasKind::PerCol})
                for (const Activation& act : all_activations())
                    for (int splits : {1, 3}) check_half(*row, {13, 70, 37, bias, act}, seed++, splits);
        }
    }
}

// The vdpbf16ps row against the exact-A answer: A's bf16 rounding stays within kBf16DotRel of Σ|a·b|, and is
// really there (the results differ from the exact-A row somewhere).
TEST(GemmHalf, Bf16DotStaysWithinItsNamedToleranceOfExactA) {
    const KernelRow* dot = find(Op::GemmBf16Dot, Isa::Avx512Bf16);
    if (!dot || !isa_enabled(dot->isa)) GTEST_SKIP() << "AVX512-BF16 not enabled (" << isa_name(active_isa()) << ")";
    const HalfCase c{29, 45, 300, BiasKind::PerCol, {}};
    const HalfData d = make_data(Op::GemmBf16Dot, c, 42);
    const auto exact = run_half(*find(Op::GemmBf16, Isa::Ref), c, d.a, d.b, d.bias, 1);
    const auto got = run_half(*dot, c, d.a, d.b, d.bias, 2);
    const int64_t bad = first_bad(exact, got, d.mag, kBf16DotRel, kActAbs);
    EXPECT_LT(bad, 0) << (bad >= 0 ? describe_failure(*dot, 42, shape_of(c, 2), bad, exact, got) : "");
    EXPECT_NE(exact, got) << "A's rounding to bf16 should show";
}

}  // namespace
}  // namespace edgeq::kernels::test
