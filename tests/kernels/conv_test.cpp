// conv2d (direct for stride 1, im2col + GEMM when strided, Winograd F(2×2, 3×3) when given its weights) and
// dwconv2d (direct) rows vs the scalar references
// over a seeded matrix of awkward shapes: channels, kernel sizes, strides, pads, dilations, pixel/channel ranges
// split as threads do.
// Also the reference pooling rows on hand-computed cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "kernels/ref/ref.h"
#include "kernel_test_util.h"

namespace edgeq::kernels::test {
namespace {

int64_t out_dim(int64_t in, int64_t k, int64_t s, int64_t p0, int64_t p1, int64_t d) {
    return (in + p0 + p1 - (k - 1) * d - 1) / s + 1;
}

std::string conv_shape(const Conv2dArgs& a) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "C=%ld H=%ld W=%ld OC=%ld OH=%ld OW=%ld k=%ldx%ld s=%ldx%ld pad=%ld,%ld dil=%ldx%ld act=%s",
                  long(a.C), long(a.H), long(a.W), long(a.OC), long(a.OH), long(a.OW), long(a.KH), long(a.KW), long(a.SH),
                  long(a.SW), long(a.PT), long(a.PL), long(a.DH), long(a.DW), act_name(a.act.kind));
    return buf;
}

// want = the reference convolution of a (a.x, a.w, a.bias point into x, w, bias); mag = the same convolution of
// |x|, |w|, |bias| without activation: the scale of each output's rounding error.
void reference_and_magnitude(Conv2dArgs a, const std::vector<float>& x, const std::vector<float>& w,
                             const std::vector<float>& bias, std::vector<float>& want, std::vector<float>& mag) {
    a.y = want.data();
    ref::conv2d_f32(a);
    std::vector<float> aw(w.size()), ax(x.size()), ab(bias.size());
    for (size_t i = 0; i < w.size(); ++i) aw[i] = std::fabs(w[i]);
    for (size_t i = 0; i < x.size(); ++i) ax[i] = std::fabs(x[i]);
    for (size_t i = 0; i < bias.size(); ++i) ab[i] = std::fabs(bias[i]);
    a.w = aw.data();
    a.x = ax.data();
    a.bias = a.bias ? ab.data() : nullptr;
    a.act = {};
    a.y = mag.data();
    ref::conv2d_f32(a);
}

TEST(Conv2d, RandomShapesMatchReference) {
    const auto rows = runnable_rows(Op::Conv2d);
    for (uint32_t seed = 1; seed <= 400; ++seed) {
        std::mt19937 rng(seed);
        auto pick = [&](std::initializer_list<int64_t> v) { return *(v.begin() + rng() % v.size()); };
        Conv2dArgs a;
        a.C = pick({1, 2, 3, 5, 8, 17, 33});
        a.H = pick({1, 2, 5, 7, 13, 17});
        a.W = pick({1, 3, 5, 8, 16, 17, 31});
        a.OC = pick({1, 2, 5, 6, 7, 13, 33});
        a.KH = pick({1, 2, 3, 5});
        a.KW = pick({1, 3, 5});
        a.SH = pick({1, 1, 2, 3});
        a.SW = pick({1, 1, 2});
        a.DH = pick({1, 1, 2});
        a.DW = pick({1, 1, 2});
        a.PT = pick({0, 1, 2});
        a.PL = pick({0, 1, 2});
        int64_t pb = pick({0, 1, 2}), pr = pick({0, 1, 2});
        if (seed % 5 == 0) {  // pointwise: 1×1, stride 1, no pads (the input is B, no im2col)
            a.KH = a.KW = a.SH = a.SW = 1;
            a.PT = a.PL = pb = pr = 0;
        }
        a.OH = out_dim(a.H, a.KH, a.SH, a.PT, pb, a.DH);
        a.OW = out_dim(a.W, a.KW, a.SW, a.PL, pr, a.DW);
        if (a.OH <= 0 || a.OW <= 0) continue;
        a.act = all_activations()[rng() % all_activations().size()];
        const int64_t K = a.C * a.KH * a.KW, P = a.OH * a.OW;
        const auto x = random_vec(rng, static_cast<size_t>(a.C * a.H * a.W));
        const auto w = random_vec(rng, static_cast<size_t>(a.OC * K));
        const auto bias = random_vec(rng, static_cast<size_t>(a.OC));
        const bool use_bias = rng() % 4 != 0;
        a.x = x.data();
        a.w = w.data();
        a.bias = use_bias ? bias.data() : nullptr;
        std::vector<float> want(static_cast<size_t>(a.OC * P)), mag(want.size());
        a.y = want.data();
        a.p_begin = 0;
        a.p_end = P;
        ref::conv2d_f32(a);
        {  // magnitude bound per output: same loops with |w·x|
            Conv2dArgs m = a;
            std::vector<float> aw(w.size()), ax(x.size()), ab(bias.size());
            for (size_t i = 0; i < w.size(); ++i) aw[i] = std::fabs(w[i]);
            for (size_t i = 0; i < x.size(); ++i) ax[i] = std::fabs(x[i]);
            for (size_t i = 0; i < bias.size(); ++i) ab[i] = std::fabs(bias[i]);
            m.w = aw.data();
            m.x = ax.data();
            m.bias = use_bias ? ab.data() : nullptr;
            m.act = {};
            m.y = mag.data();
            ref::conv2d_f32(m);
        }
        for (const KernelRow* row : rows) {
            std::vector<float> got(want.size(), -12345.0f);
            std::vector<float> work(static_cast<size_t>(conv2d_work_floats(a, row->nr) + 1));
            Conv2dArgs b = a;
            b.y = got.data();
            b.work = work.data();
            const int splits = 1 + static_cast<int>(seed % 3);  // pixel ranges as threads split them
            for (int s = 0; s < splits; ++s) {
                b.p_begin = P * s / splits;
                b.p_end = P * (s + 1) / splits;
                if (b.p_begin < b.p_end) conv2d_fn(*row)(b);
            }
            const int64_t bad = first_bad(want, got, mag, kConvRel, kActAbs);
            if (bad >= 0) {
                ADD_FAILURE() << describe_failure(*row, seed, conv_shape(a) + " splits=" + std::to_string(splits), bad, want, got);
                return;
            }
        }
    }
}

// Stride-1 shapes the direct path tiles differently: model-sized planes (28×28, 14×14), channel counts around
// the 8-row tile (6, 8, 9, 16, 17, 32, 64), many input channels (one lane tile per L1 block) and few (whole
// image per block), grids narrower than a vector (W = 1..3), pixel ranges that start and end mid-row. Also
// checks that the kernel writes nothing past conv2d_work_floats() nor outside its pixel range.
TEST(Conv2d, StrideOneModelShapesMatchReference) {
    const auto rows = runnable_rows(Op::Conv2d);
    for (uint32_t seed = 1; seed <= 60; ++seed) {
        std::mt19937 rng(seed * 7919u);
        auto pick = [&](std::initializer_list<int64_t> v) { return *(v.begin() + rng() % v.size()); };
        Conv2dArgs a;
        a.C = pick({1, 3, 6, 9, 32, 64});
        a.H = pick({1, 3, 14, 28, 19});
        a.W = pick({1, 2, 3, 14, 28, 33});
        a.OC = pick({1, 6, 8, 9, 16, 17, 32, 64});
        a.KH = pick({1, 3, 5, 3});
        a.KW = pick({1, 3, 5, 3, 2});
        if (a.KH == 1 && a.KW == 1) a.KW = 3;  // 1×1 without pads is the GEMM path (covered above)
        a.DH = pick({1, 1, 1, 2});
        a.DW = pick({1, 1, 1, 3});
        a.PT = pick({0, 1, 2});
        a.PL = pick({0, 1, 2});
        const int64_t pb = pick({0, 1, 2}), pr = pick({0, 1, 2});
        a.OH = out_dim(a.H, a.KH, 1, a.PT, pb, a.DH);
        a.OW = out_dim(a.W, a.KW, 1, a.PL, pr, a.DW);
        if (a.OH <= 0 || a.OW <= 0) continue;
        if (a.C * a.OC * a.OH * a.OW * a.KH * a.KW > 8'000'000) a.C = 3;  // keep the scalar reference quick
        a.act = all_activations()[rng() % all_activations().size()];
        const int64_t K = a.C * a.KH * a.KW, P = a.OH * a.OW;
        const auto x = random_vec(rng, static_cast<size_t>(a.C * a.H * a.W));
        const auto w = random_vec(rng, static_cast<size_t>(a.OC * K));
        const auto bias = random_vec(rng, static_cast<size_t>(a.OC));
        a.x = x.data();
        a.w = w.data();
        a.bias = rng() % 4 ? bias.data() : nullptr;
        a.p_begin = 0;
        a.p_end = P;
        std::vector<float> want(static_cast<size_t>(a.OC * P)), mag(want.size());
        reference_and_magnitude(a, x, w, bias, want, mag);
        // a pixel range that starts and ends mid-row (or the whole image): only it may be written
        const int64_t p0 = seed % 3 == 0 ? 0 : static_cast<int64_t>(rng() % static_cast<uint32_t>(P));
        const int64_t p1 = seed % 3 == 0 ? P : p0 + 1 + static_cast<int64_t>(rng() % static_cast<uint32_t>(P - p0));
        const std::string shape = conv_shape(a) + " pixels=[" + std::to_string(p0) + "," + std::to_string(p1) + ")";
        for (const KernelRow* row : rows) {
            constexpr float kUnwritten = -12345.0f, kSentinel = 777.0f;
            std::vector<float> got(want.size(), kUnwritten);
            const size_t wf = static_cast<size_t>(conv2d_work_floats(a, row->nr));
            std::vector<float> work(wf + 64, kSentinel);
            Conv2dArgs b = a;
            b.y = got.data();
            b.work = work.data();
            b.p_begin = p0;
            b.p_end = p1;
            conv2d_fn(*row)(b);
            for (size_t i = wf; i < work.size(); ++i)
                ASSERT_EQ(work[i], kSentinel) << row->name << " wrote past conv2d_work_floats() at +" << (i - wf) << ": " << shape;
            std::vector<float> expect = want;
            for (int64_t oc = 0; oc < a.OC; ++oc)
                for (int64_t p = 0; p < P; ++p)
                    if (p < p0 || p >= p1) expect[static_cast<size_t>(oc * P + p)] = kUnwritten;
            const int64_t bad = first_bad(expect, got, mag, kConvRel, kActAbs);
            if (bad >= 0) {
                ADD_FAILURE() << describe_failure(*row, seed, shape, bad, expect, got);
                return;
            }
        }
    }
}

// Winograd F(2×2, 3×3) (Conv2dArgs::wino_u; the AVX-512 row) against the reference convolution: 3×3 stride-1
// shapes with odd sizes, pads 0..2 on each side, channel counts off the vector width, every activation, and the
// pixel range split in 1..3 parts as threads split it (each 2×2 tile is computed by the part holding its first
// pixel, so the parts together write every output once). Rounding differs from the direct sum: kWinogradRel of
// the magnitude sum Σ|w·x| + |b| (a 4 × 4 transform adds a few roundings per product).
TEST(Conv2d, WinogradMatchesReference) {
    constexpr float kWinogradRel = 4e-6f;
    const auto rows = runnable_rows(Op::Conv2d);
    int ran = 0;
    for (uint32_t seed = 1; seed <= 80; ++seed) {
        std::mt19937 rng(seed * 104729u);
        auto pick = [&](std::initializer_list<int64_t> v) { return *(v.begin() + rng() % v.size()); };
        Conv2dArgs a;
        a.C = pick({8, 9, 17, 32, 33});
        a.OC = pick({8, 13, 16, 31, 32, 64});
        a.H = pick({2, 3, 7, 14, 28, 29});
        a.W = pick({2, 5, 14, 15, 28, 33, 40});
        a.KH = a.KW = 3;
        a.PT = pick({0, 1, 2});
        a.PL = pick({0, 1, 2});
        const int64_t pb = pick({0, 1, 2}), pr = pick({0, 1, 2});
        a.OH = out_dim(a.H, 3, 1, a.PT, pb, 1);
        a.OW = out_dim(a.W, 3, 1, a.PL, pr, 1);
        if (!conv2d_winograd_eligible(a)) continue;
        a.act = all_activations()[rng() % all_activations().size()];
        const int64_t P = a.OH * a.OW;
        const auto x = random_vec(rng, static_cast<size_t>(a.C * a.H * a.W));
        const auto w = random_vec(rng, static_cast<size_t>(a.OC * a.C * 9));
        const auto bias = random_vec(rng, static_cast<size_t>(a.OC));
        a.x = x.data();
        a.w = w.data();
        a.bias = rng() % 4 ? bias.data() : nullptr;
        a.p_begin = 0;
        a.p_end = P;
        std::vector<float> want(static_cast<size_t>(a.OC * P)), mag(want.size());
        reference_and_magnitude(a, x, w, bias, want, mag);
        std::vector<float> u(static_cast<size_t>(conv2d_winograd_u_floats(a.C, a.OC)));
        conv2d_winograd_pack_u(w.data(), a.C, a.OC, u.data());
        const int64_t parts = 1 + static_cast<int64_t>(seed % 3);
        const std::string shape = conv_shape(a) + " parts=" + std::to_string(parts);
        for (const KernelRow* row : rows) {
            constexpr float kUnwritten = -12345.0f, kSentinel = 777.0f;
            std::vector<float> got(want.size(), kUnwritten);
            for (int64_t part = 0; part < parts; ++part) {
                Conv2dArgs b = a;
                b.p_begin = P * part / parts;
                b.p_end = P * (part + 1) / parts;
                const size_t wf = static_cast<size_t>(std::max(conv2d_work_floats(a, row->nr),
                                                               conv2d_winograd_work_floats(a, b.p_end - b.p_begin)));
                std::vector<float> work(wf + 64, kSentinel);
                b.y = got.data();
                b.work = work.data();
                b.wino_u = u.data();
                conv2d_fn(*row)(b);
                for (size_t i = wf; i < work.size(); ++i)
                    ASSERT_EQ(work[i], kSentinel) << row->name << " wrote past its workspace at +" << (i - wf) << ": " << shape;
            }
            const int64_t bad = first_bad(want, got, mag, kWinogradRel, kActAbs);
            if (bad >= 0) {
                ADD_FAILURE() << describe_failure(*row, seed, shape, bad, want, got);
                return;
            }
        }
        ++ran;
    }
    EXPECT_GT(ran, 40);
}

// The rows that have a Winograd path take it when given U: with U zeroed the output is the activation of the bias
// alone, unlike the true convolution.
TEST(Conv2d, WinogradPathRunsWhereTheRowHasIt) {
    Conv2dArgs a;
    a.C = 16, a.OC = 16, a.H = a.W = a.OH = a.OW = 6, a.KH = a.KW = 3, a.PT = a.PL = 1;
    ASSERT_TRUE(conv2d_winograd_eligible(a));
    std::mt19937 rng(3);
    const auto x = random_vec(rng, static_cast<size_t>(a.C * a.H * a.W));
    const auto w = random_vec(rng, static_cast<size_t>(a.OC * a.C * 9));
    const std::vector<float> u(static_cast<size_t>(conv2d_winograd_u_floats(a.C, a.OC)), 0.0f);
    a.x = x.data();
    a.w = w.data();
    a.p_end = a.OH * a.OW;
    a.wino_u = u.data();
    int with_path = 0;
    for (const KernelRow* row : runnable_rows(Op::Conv2d)) {
        std::vector<float> y(static_cast<size_t>(a.OC * a.OH * a.OW), 1.0f);
        std::vector<float> work(static_cast<size_t>(
            std::max(conv2d_work_floats(a, row->nr), conv2d_winograd_work_floats(a, a.OH * a.OW))));
        Conv2dArgs b = a;
        b.y = y.data();
        b.work = work.data();
        conv2d_fn(*row)(b);
        const bool zeros = std::all_of(y.begin(), y.end(), [](float v) { return v == 0.0f; });
        if (std::string(row->name).find("avx512") != std::string::npos) {
            EXPECT_TRUE(zeros) << row->name << " did not take the Winograd path";
            ++with_path;
        } else {
            EXPECT_FALSE(zeros) << row->name << " used U";
        }
    }
    if (with_path == 0) GTEST_SKIP() << "no AVX-512 conv row on this CPU";
}

TEST(DwConv2d, RandomShapesMatchReference) {
    const auto rows = runnable_rows(Op::DwConv2d);
    for (uint32_t seed = 1; seed <= 300; ++seed) {
        std::mt19937 rng(seed);
        auto pick = [&](std::initializer_list<int64_t> v) { return *(v.begin() + rng() % v.size()); };
        DwConv2dArgs a;
        a.C = pick({1, 2, 3, 7, 16});
        a.H = pick({1, 2, 5, 7, 17, 33});
        a.W = pick({1, 3, 7, 8, 15, 16, 17, 31, 33, 65});
        a.KH = pick({1, 2, 3, 5});
        a.KW = pick({1, 3, 5});
        a.SH = pick({1, 2, 3});
        a.SW = pick({1, 1, 2, 2, 3});
        a.DH = pick({1, 1, 2});
        a.DW = pick({1, 1, 2});
        a.PT = pick({0, 1, 2});
        a.PL = pick({0, 1, 2});
        const int64_t pb = pick({0, 1, 2}), pr = pick({0, 1, 2});
        a.OH = out_dim(a.H, a.KH, a.SH, a.PT, pb, a.DH);
        a.OW = out_dim(a.W, a.KW, a.SW, a.PL, pr, a.DW);
        if (a.OH <= 0 || a.OW <= 0) continue;
        a.act = all_activations()[rng() % all_activations().size()];
        const auto x = random_vec(rng, static_cast<size_t>(a.C * a.H * a.W));
        const auto w = random_vec(rng, static_cast<size_t>(a.C * a.KH * a.KW));
        const auto bias = random_vec(rng, static_cast<size_t>(a.C));
        a.x = x.data();
        a.w = w.data();
        a.bias = rng() % 4 ? bias.data() : nullptr;
        std::vector<float> want(static_cast<size_t>(a.C * a.OH * a.OW));
        a.y = want.data();
        a.c_begin = 0;
        a.c_end = a.C;
        ref::dwconv2d_f32(a);
        const std::vector<float> mag(want.size(), static_cast<float>(a.KH * a.KW + 1));  // |w|, |x|, |bias| ≤ 1
        for (const KernelRow* row : rows) {
            std::vector<float> got(want.size(), -12345.0f);
            std::vector<float> work(static_cast<size_t>(dwconv2d_work_floats(a)));
            DwConv2dArgs b = a;
            b.y = got.data();
            b.work = work.data();
            const int splits = 1 + static_cast<int>(seed % 2);
            for (int s = 0; s < splits; ++s) {
                b.c_begin = a.C * s / splits;
                b.c_end = a.C * (s + 1) / splits;
                if (b.c_begin < b.c_end) dwconv2d_fn(*row)(b);
            }
            char shape[200];
            std::snprintf(shape, sizeof shape, "C=%ld H=%ld W=%ld OH=%ld OW=%ld k=%ldx%ld s=%ldx%ld pad=%ld,%ld dil=%ldx%ld act=%s",
                          long(a.C), long(a.H), long(a.W), long(a.OH), long(a.OW), long(a.KH), long(a.KW), long(a.SH),
                          long(a.SW), long(a.PT), long(a.PL), long(a.DH), long(a.DW), act_name(a.act.kind));
            const int64_t bad = first_bad(want, got, mag, kConvRel, kActAbs);
            if (bad >= 0) {
                ADD_FAILURE() << describe_failure(*row, seed, shape, bad, want, got);
                return;
            }
        }
    }
}

// Runs every row of `rows` on a (y unset) and compares with the reference row bit for bit; returns the first
// differing index (-1: all equal) and fills want / got.
int64_t pool_rows_first_diff(Op op, const std::vector<const KernelRow*>& rows, const Pool2dArgs& a, int64_t planes,
                             std::vector<float>& want, std::vector<float>& got, const KernelRow** bad_row) {
    want.assign(static_cast<size_t>(planes * a.OH * a.OW), 0.0f);
    Pool2dArgs r = a;
    r.y = want.data();
    pool2d_fn(*find(op, Isa::Ref))(r);
    for (const KernelRow* row : rows) {
        got.assign(want.size(), -12345.0f);
        Pool2dArgs b = a;
        b.y = got.data();
        pool2d_fn(*row)(b);
        for (size_t i = 0; i < want.size(); ++i) {
            if (!(got[i] == want[i])) {
                *bad_row = row;
                return static_cast<int64_t>(i);
            }
        }
    }
    return -1;
}

TEST(Pool2d, RandomShapesMatchReferenceBitExactly) {
    for (Op op : {Op::MaxPool2d, Op::AvgPool2d}) {
        const auto rows = runnable_rows(op);
        for (uint32_t seed = 1; seed <= 300; ++seed) {
            std::mt19937 rng(seed);
            auto pick = [&](std::initializer_list<int64_t> v) { return *(v.begin() + rng() % v.size()); };
            Pool2dArgs a;
            const int64_t planes = pick({1, 3, 4});
            a.H = pick({1, 2, 5, 8, 17, 28, 33});
            a.W = pick({1, 2, 7, 16, 17, 28, 40, 65});
            a.KH = pick({1, 2, 2, 3});
            a.KW = pick({1, 2, 2, 3});
            a.SH = pick({1, 2, 2, 3});
            a.SW = pick({1, 2, 2, 3});
            a.DH = pick({1, 1, 1, 2});
            a.DW = pick({1, 1, 1, 2});
            a.PT = pick({0, 0, 1});
            a.PL = pick({0, 0, 1});
            a.PB = pick({0, 0, 1});
            a.PR = pick({0, 0, 1});
            a.count_include_pad = rng() % 2;
            a.OH = out_dim(a.H, a.KH, a.SH, a.PT, a.PB, a.DH);
            a.OW = out_dim(a.W, a.KW, a.SW, a.PL, a.PR, a.DW);
            if (a.OH <= 0 || a.OW <= 0) continue;
            const auto x = random_vec(rng, static_cast<size_t>(planes * a.H * a.W));
            a.x = x.data();
            a.c_begin = 0;
            a.c_end = planes;
            std::vector<float> want, got;
            const KernelRow* bad = nullptr;
            const int64_t i = pool_rows_first_diff(op, rows, a, planes, want, got, &bad);
            if (i >= 0) {
                char shape[200];
                std::snprintf(shape, sizeof shape, "H=%ld W=%ld k=%ldx%ld s=%ldx%ld d=%ldx%ld pads=%ld,%ld,%ld,%ld cip=%d",
                              long(a.H), long(a.W), long(a.KH), long(a.KW), long(a.SH), long(a.SW), long(a.DH),
                              long(a.DW), long(a.PT), long(a.PL), long(a.PB), long(a.PR), int(a.count_include_pad));
                ADD_FAILURE() << describe_failure(*bad, seed, shape, i, want, got);
                return;
            }
        }
    }
}

// The 2×2 stride-2 fast path (full 8-output vectors, then a masked tail) at every width 1..40 and every pad
// combination, bit-exact with the reference.
TEST(Pool2d, TwoByTwoStrideTwoEveryWidthAndPad) {
    for (Op op : {Op::MaxPool2d, Op::AvgPool2d}) {
        const auto rows = runnable_rows(op);
        std::mt19937 rng(7);
        for (int64_t W = 1; W <= 40; ++W) {
            for (int pads = 0; pads < 16; ++pads) {
                Pool2dArgs a;
                a.H = 3 + W % 4;
                a.W = W;
                a.KH = a.KW = a.SH = a.SW = 2;
                a.PT = pads & 1, a.PL = (pads >> 1) & 1, a.PB = (pads >> 2) & 1, a.PR = (pads >> 3) & 1;
                a.count_include_pad = W % 2 == 0;
                a.OH = out_dim(a.H, 2, 2, a.PT, a.PB, 1);
                a.OW = out_dim(a.W, 2, 2, a.PL, a.PR, 1);
                if (a.OH <= 0 || a.OW <= 0) continue;
                const auto x = random_vec(rng, static_cast<size_t>(2 * a.H * a.W));
                a.x = x.data();
                a.c_end = 2;
                std::vector<float> want, got;
                const KernelRow* bad = nullptr;
                const int64_t i = pool_rows_first_diff(op, rows, a, 2, want, got, &bad);
                ASSERT_LT(i, 0) << bad->name << " W=" << W << " pads=" << pads << " at " << i << ": expected "
                                << want[static_cast<size_t>(i)] << ", got " << got[static_cast<size_t>(i)];
            }
        }
    }
}

TEST(Pool2d, ReferenceRowsOnHandComputedCases) {
    // 1 plane, 3×4 input, 2×2 window, stride 2, pads (top 1, left 1, bottom 0, right 1)
    const std::vector<float> x = {1, 2, 3, 4,  //
                                  5, 6, 7, 8,  //
                                  9, 10, 11, 12};
    Pool2dArgs a;
    a.H = 3;
    a.W = 4;
    a.KH = a.KW = 2;
    a.SH = a.SW = 2;
    a.PT = a.PL = 1;
    a.PB = 0;
    a.PR = 1;
    a.OH = out_dim(3, 2, 2, 1, 0, 1);
    a.OW = out_dim(4, 2, 2, 1, 1, 1);
    ASSERT_EQ(a.OH, 2);
    ASSERT_EQ(a.OW, 3);
    a.x = x.data();
    a.c_begin = 0;
    a.c_end = 1;
    std::vector<float> y(6);
    a.y = y.data();
    pool2d_fn(*find(Op::MaxPool2d, Isa::Ref))(a);
    EXPECT_EQ(y, (std::vector<float>{1, 3, 4, 9, 11, 12}));
    pool2d_fn(*find(Op::AvgPool2d, Isa::Ref))(a);
    EXPECT_EQ(y, (std::vector<float>{1, 2.5f, 4, 7, 8.5f, 10}));
    a.count_include_pad = true;
    pool2d_fn(*find(Op::AvgPool2d, Isa::Ref))(a);
    EXPECT_EQ(y, (std::vector<float>{0.25f, 1.25f, 1, 3.5f, 8.5f, 5}));
}

}  // namespace
}  // namespace edgeq::kernels::test
