// gemm_f32_f32_f32 rows vs the scalar reference on awkward shapes (STYLE.md: 1–17, 31/33, 63/65, tile
// non-multiples, K across the 256 block), every bias kind and activation, and split column ranges.
#include <gtest/gtest.h>

#include "kernels/ref/ref.h"
#include "kernel_test_util.h"

namespace edgeq::kernels::test {
namespace {

struct GemmCase {
    int64_t M, N, K;
    BiasKind bias;
    Activation act;
};

// Runs row on (a, b, bias) with B packed for its nr; columns computed in `splits` ranges (as threads would).
std::vector<float> run_gemm(const KernelRow& row, const GemmCase& c, const std::vector<float>& a,
                            const std::vector<float>& b, const std::vector<float>& bias, int splits, bool unpacked = false) {
    std::vector<float> packed(static_cast<size_t>(packed_b_floats(c.K, c.N, row.nr)) + 1);
    pack_b(b.data(), c.N, 1, c.K, c.N, row.nr, packed.data());
    std::vector<float> out(static_cast<size_t>(c.M * c.N), -12345.0f);
    GemmArgs g;
    set_gemm_operands(g, c, a.data(), out.data(), bias.data());
    g.b = unpacked ? b.data() : packed.data();
    g.ldb = unpacked ? c.N : 0;
    run_column_splits(g, row.nr, splits, gemm_fn(row));
    return out;
}

void check_gemm(const KernelRow& row, const GemmCase& c, uint32_t seed, int splits = 1, bool unpacked = false) {
    std::mt19937 rng(seed);
    const auto a = random_vec(rng, static_cast<size_t>(c.M * c.K));
    const auto b = random_vec(rng, static_cast<size_t>(c.K * c.N));
    const auto bias = random_vec(rng, static_cast<size_t>(std::max(c.M, c.N)));
    const auto want = run_gemm(*find(Op::Gemm, Isa::Ref), c, a, b, bias, 1);
    const auto got = run_gemm(row, c, a, b, bias, splits, unpacked);
    std::vector<float> mag(want.size());
    for (int64_t m = 0; m < c.M; ++m)
        for (int64_t n = 0; n < c.N; ++n) {
            float s = 0;
            for (int64_t k = 0; k < c.K; ++k) s += std::fabs(a[m * c.K + k] * b[k * c.N + n]);
            s += c.bias == BiasKind::PerRow ? std::fabs(bias[m]) : c.bias == BiasKind::PerCol ? std::fabs(bias[n]) : 0.0f;
            mag[m * c.N + n] = s;
        }
    const int64_t bad = first_bad(want, got, mag, kGemmRel, kActAbs);
    if (bad >= 0) {
        const std::string shape = "M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) + " K=" + std::to_string(c.K) +
                                  " bias=" + std::to_string(static_cast<int>(c.bias)) + " act=" + act_name(c.act.kind) +
                                  " splits=" + std::to_string(splits) + (unpacked ? " unpacked-B" : "") + " (m=" + std::to_string(bad / c.N) +
                                  ", n=" + std::to_string(bad % c.N) + ")";
        ADD_FAILURE() << describe_failure(row, seed, shape, bad, want, got);
    }
}

const std::vector<int64_t> kGemmSizes = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 31, 33, 63, 65};

TEST(Gemm, AwkwardShapesMatchReference) {
    for (const KernelRow* row : runnable_rows(Op::Gemm)) {
        uint32_t seed = 1;
        for (int64_t M : kGemmSizes)
            for (int64_t N : kGemmSizes)
                for (int64_t K : {int64_t{1}, int64_t{3}, int64_t{16}, int64_t{17}, int64_t{33}, int64_t{65}}) {
                    check_gemm(*row, {M, N, K, BiasKind::None, {}}, seed++);
                    if (HasFailure()) return;
                }
        for (int64_t K : kGemmSizes) {
            check_gemm(*row, {7, 45, K, BiasKind::PerCol, {}}, seed++);
            if (HasFailure()) return;
        }
    }
}

TEST(Gemm, KBlocksBiasActivationsAndSplits) {
    for (const KernelRow* row : runnable_rows(Op::Gemm)) {
        uint32_t seed = 1000;
        for (int64_t K : {int64_t{0}, int64_t{255}, int64_t{256}, int64_t{257}, int64_t{513}, int64_t{700}}) {
            for (BiasKind bk : {BiasKind::None, BiasKind::PerRow, BiasKind::PerCol}) {
                for (const Activation& act : all_activations()) {
                    check_gemm(*row, {13, 67, K, bk, act}, seed++);
                    if (HasFailure()) return;
                }
            }
        }
        for (int splits : {2, 3, 5}) check_gemm(*row, {9, 200, 40, BiasKind::PerCol, {Act::Relu, 0, 0}}, seed++, splits);
        check_gemm(*row, {1, 1000, 784, BiasKind::PerCol, {Act::Relu, 0, 0}}, seed++, 2);  // mlp3-like GEMV
    }
}

TEST(Gemm, UnpackedBMatchesReference) {  // the 1×1-conv path reads the input rows as B directly
    for (const KernelRow* row : runnable_rows(Op::Gemm)) {
        uint32_t seed = 5000;
        for (int64_t M : {int64_t{1}, int64_t{5}, int64_t{6}, int64_t{13}})
            for (int64_t N : kGemmSizes)
                for (int64_t K : {int64_t{1}, int64_t{7}, int64_t{300}}) {
                    check_gemm(*row, {M, N, K, BiasKind::PerRow, {Act::Relu, 0, 0}}, seed++, 1 + static_cast<int>(N % 3), true);
                    if (HasFailure()) return;
                }
    }
}

TEST(Gemm, PackBTransposedSourceMatchesRowMajor) {
    std::mt19937 rng(7);
    const int64_t K = 5, N = 19;
    const auto b = random_vec(rng, static_cast<size_t>(K * N));
    std::vector<float> bt(b.size());
    for (int64_t k = 0; k < K; ++k)
        for (int64_t n = 0; n < N; ++n) bt[n * K + k] = b[k * N + n];
    for (int nr : {8, 16, 32}) {
        std::vector<float> p1(static_cast<size_t>(packed_b_floats(K, N, nr))), p2(p1.size());
        pack_b(b.data(), N, 1, K, N, nr, p1.data());
        pack_b(bt.data(), 1, K, K, N, nr, p2.data());
        EXPECT_EQ(p1, p2) << "nr=" << nr;
    }
}

TEST(Dispatch, SelectHonoursActiveIsaAndNamesFollowGrammar) {
    for (Op op : {Op::Gemm, Op::Conv2d, Op::DwConv2d, Op::MaxPool2d, Op::AvgPool2d, Op::Binary}) {
        const KernelRow& r = select(op);
        EXPECT_LE(static_cast<int>(r.isa), static_cast<int>(active_isa())) << r.name;
        EXPECT_NE(std::string(r.name).find(std::string("__") + isa_name(r.isa)), std::string::npos) << r.name;
        EXPECT_NE(find(op, Isa::Ref), nullptr);
    }
}

}  // namespace
}  // namespace edgeq::kernels::test
