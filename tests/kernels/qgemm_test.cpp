// Integer GEMM rows (kernels/qgemm.h) vs the scalar reference, bit-exact on integer outputs (and on float
// outputs whose activation is exact arithmetic), on awkward shapes, extreme values (0/255, −128/127), zero
// points, split row/column ranges; the reference itself vs a naive int64 computation from unpacked data;
// u8 im2col + qgemm vs a direct integer convolution.
#include "kernels/qgemm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <sstream>

#include "kernel_test_util.h"

namespace edgeq::kernels::test {
namespace {

inline constexpr float kQActAbs = 2e-6f;  // vector exp in Sigmoid / Tanh; every other epilogue is bit-exact

const int64_t kMs[] = {1, 2, 3, 5, 7, 8, 9, 16, 17, 33, 100};
const int64_t kNs[] = {1, 2, 3, 5, 7, 16, 17, 31, 33, 64, 100};
const int64_t kKs[] = {1, 2, 3, 4, 5, 7, 16, 17, 31, 33, 64, 100, 255, 257};

struct Shape {
    int64_t M, N, K;
};

// Deterministic subset of kMs × kNs × kKs: every value of each list appears with several partners.
std::vector<Shape> awkward_shapes() {
    std::vector<Shape> s;
    const int nm = std::size(kMs), nn = std::size(kNs);
    for (int i = 0; i < static_cast<int>(std::size(kKs)); ++i)
        for (int j = 0; j < 4; ++j) s.push_back({kMs[(i + 3 * j) % nm], kNs[(2 * i + j) % nn], kKs[i]});
    s.push_back({3, 33, 4097});  // long K: sums far outside int16
    s.push_back({1, 1024, 784});
    return s;
}

std::vector<const QKernelRow*> rows_of(QOp op, bool with_ref = false) {
    std::vector<const QKernelRow*> out;
    for (const auto& r : qkernel_rows()) {
        if (r.op != op || (r.isa == Isa::Ref && !with_ref)) continue;
        if (!qrow_supported(r)) {
            static std::set<const QKernelRow*> said;  // print each skipped row once
            if (said.insert(&r).second)
                std::printf("skip %s: this CPU lacks %s%s (detected %s)\n", r.name, isa_name(r.isa),
                            r.needs_avxvnni ? "+avxvnni" : "", isa_name(detected_isa()));
            continue;
        }
        out.push_back(&r);
    }
    return out;
}

const QKernelRow& ref_row(QOp op) {
    for (const auto& r : qkernel_rows())
        if (r.op == op && r.isa == Isa::Ref) return r;
    std::abort();
}

// ---- INT8 GEMM problem ----

struct QCase {
    Shape s;
    bool a_signed = false, extremes = false, b_zero = false, bias = false, b7 = false;
    int32_t a_zero = 0;
    QOut out = QOut::U8;
    Activation act;
    bool relu_clamp = false;
    std::string str() const {
        std::ostringstream os;
        os << "M=" << s.M << " N=" << s.N << " K=" << s.K << " a_signed=" << a_signed
           << " extremes=" << extremes << " a_zero=" << a_zero << " b7=" << b7 << " b_zero=" << b_zero
           << " bias=" << bias << " out=" << int(out) << " act=" << int(act.kind)
           << " relu_clamp=" << relu_clamp;
        return os.str();
    }
};

struct QData {
    std::vector<uint8_t> a;
    std::vector<int8_t> b;  // K×N row-major
    std::vector<uint8_t> packed;
    std::vector<int32_t> b_zero, bias;
    std::vector<float> mult, a_scale, b_scale, bias_f;
    int32_t y_zero = 0, y_min = 0, y_max = 255;
};

QData make_data(const QCase& c, uint32_t seed) {
    std::mt19937 rng(seed);
    const auto [M, N, K] = c.s;
    QData d;
    auto byte = [&](bool sgn) -> uint8_t {
        if (c.extremes) {
            const bool hi = rng() & 1;
            return sgn ? static_cast<uint8_t>(hi ? 127 : -128) : static_cast<uint8_t>(hi ? 255 : 0);
        }
        return static_cast<uint8_t>(rng());
    };
    d.a.resize(static_cast<size_t>(M * K + 3));
    for (auto& x : d.a) x = byte(c.a_signed);
    d.b.resize(static_cast<size_t>(K * N));
    for (auto& x : d.b) x = static_cast<int8_t>(byte(true));
    if (c.b7)  // 7-bit weights (reduce_range): [-64, 63], extremes -64 / 63
        for (auto& x : d.b) x = static_cast<int8_t>(c.extremes ? (x < 0 ? -64 : 63) : (x >> 1));
    d.packed.resize(static_cast<size_t>(qpack_b_bytes(K, N)));
    qpack_b(d.b.data(), false, N, 1, K, N, d.packed.data());
    std::uniform_int_distribution<int> zb(-128, 127), bias(-100000, 100000);
    d.b_zero.resize(static_cast<size_t>(N));
    for (auto& z : d.b_zero) z = c.extremes ? (rng() & 1 ? 127 : -128) : zb(rng);
    d.bias.resize(static_cast<size_t>(N));
    for (auto& b : d.bias) b = bias(rng);
    // multipliers that spread outputs over (and beyond) the output range: saturation is exercised
    std::uniform_real_distribution<float> mu(0.2f, 3.0f);
    const float base = 127.0f / (std::sqrt(static_cast<float>(K)) * 128.0f * 128.0f);
    d.mult.resize(static_cast<size_t>(N));
    for (auto& m : d.mult) m = base * mu(rng) * (c.extremes ? 8.0f : 1.0f);
    const bool s8out = c.out == QOut::S8;
    d.y_zero = s8out ? std::uniform_int_distribution<int>(-20, 20)(rng)
                     : std::uniform_int_distribution<int>(100, 150)(rng);
    d.y_min = s8out ? -128 : 0;
    d.y_max = s8out ? 127 : 255;
    if (c.relu_clamp) d.y_min = d.y_zero;
    d.a_scale = random_vec(rng, static_cast<size_t>(M), 0.001f, 0.02f);
    d.b_scale = random_vec(rng, static_cast<size_t>(N), 0.001f, 0.02f);
    d.bias_f = random_vec(rng, static_cast<size_t>(N), -1.0f, 1.0f);
    return d;
}

size_t out_elem(QOut o) {
    return o == QOut::U8 || o == QOut::S8 ? 1 : 4;
}

// A of a case laid out for indirect reading (QGemmArgs::a_rows / a_koff): k-group j of row m at
// rows[m] + koff[j], the groups 8·j + 2·(j % 2) bytes apart (unaligned, 0xCD garbage between them, which the
// kernels must not read), each row in its own region at an odd offset.
struct Indirect {
    std::vector<uint8_t> buf;
    std::vector<const uint8_t*> rows;
    std::vector<int32_t> koff;
    Indirect(const QCase& c, const QData& d) {
        const auto [M, N, K] = c.s;
        const int64_t G = K / 4, span = 8 * G + 4;
        koff.resize(static_cast<size_t>(G));
        for (int64_t j = 0; j < G; ++j)
            koff[static_cast<size_t>(j)] = static_cast<int32_t>(8 * j + 2 * (j % 2));
        buf.assign(static_cast<size_t>(M * span + 64), 0xCD);
        rows.resize(static_cast<size_t>(M));
        for (int64_t m = 0; m < M; ++m) {
            uint8_t* o = buf.data() + m * span + 1;
            rows[static_cast<size_t>(m)] = o;
            for (int64_t j = 0; j < G; ++j)
                std::memcpy(o + koff[static_cast<size_t>(j)], d.a.data() + m * K + 4 * j, 4);
        }
    }
};

// Runs a Gemm8 row with rows split in `msplit` ranges and columns in `nsplit` panel-aligned ranges (A read
// indirectly when `ind` is given).
std::vector<uint8_t> run_q(const QKernelRow& row, const QCase& c, const QData& d, int msplit, int nsplit,
                           const Indirect* ind = nullptr) {
    const auto [M, N, K] = c.s;
    const size_t es = out_elem(c.out);
    std::vector<uint8_t> out(static_cast<size_t>(M * N) * es, 0xA5);
    QGemmArgs g;
    g.M = M, g.N = N, g.K = K;
    g.a = d.a.data(), g.lda = K, g.a_signed = c.a_signed, g.a_zero = c.a_zero;
    g.b = d.packed.data();
    g.b_zero = c.b_zero ? d.b_zero.data() : nullptr;
    g.bias = c.bias ? d.bias.data() : nullptr;
    g.out = c.out;
    g.c = out.data(), g.ldc = N;
    g.multiplier = d.mult.data(), g.y_zero = d.y_zero, g.y_min = d.y_min, g.y_max = d.y_max;
    g.a_scale = d.a_scale.data(), g.a_scale_per_row = (K % 2) == 1;
    g.b_scale = d.b_scale.data(), g.bias_f = c.bias ? d.bias_f.data() : nullptr, g.act = c.act;
    if (ind) {
        g.a = nullptr, g.lda = 0;
        g.a_rows = ind->rows.data(), g.a_koff = ind->koff.data();
    }
    const int64_t panels = (N + kQNr - 1) / kQNr;
    for (int ms = 0; ms < msplit; ++ms) {
        g.m_begin = M * ms / msplit, g.m_end = M * (ms + 1) / msplit;
        for (int ns = 0; ns < nsplit; ++ns) {
            g.n_begin = std::min(N, panels * ns / nsplit * kQNr);
            g.n_end = std::min(N, panels * (ns + 1) / nsplit * kQNr);
            qgemm_fn(row)(g);
        }
    }
    return out;
}

double out_value(QOut o, const std::vector<uint8_t>& v, size_t i) {
    switch (o) {
        case QOut::U8:
            return v[i];
        case QOut::S8:
            return static_cast<int8_t>(v[i]);
        case QOut::S32: {
            int32_t x;
            std::memcpy(&x, v.data() + 4 * i, 4);
            return x;
        }
        case QOut::F32: {
            float x;
            std::memcpy(&x, v.data() + 4 * i, 4);
            return x;
        }
    }
    return 0;
}

bool exact_act(Act a) {
    return a != Act::Sigmoid && a != Act::Tanh;
}

::testing::AssertionResult compare_q(const QKernelRow& row, const QCase& c, uint32_t seed,
                                     const std::vector<uint8_t>& want, const std::vector<uint8_t>& got) {
    const size_t n = static_cast<size_t>(c.s.M * c.s.N);
    const bool exact = c.out != QOut::F32 || exact_act(c.act.kind);
    for (size_t i = 0; i < n; ++i) {
        const double w = out_value(c.out, want, i), x = out_value(c.out, got, i);
        const bool ok = exact ? std::memcmp(want.data() + i * out_elem(c.out),
                                            got.data() + i * out_elem(c.out), out_elem(c.out)) == 0
                              : std::fabs(w - x) <= kQActAbs;
        if (!ok) {
            std::ostringstream os;
            os.precision(9);
            os << row.name << " vs reference: seed=" << seed << " " << c.str() << " first bad index " << i
               << " (m " << i / c.s.N << ", n " << i % c.s.N << "): expected " << w << ", got " << x;
            return ::testing::AssertionFailure() << os.str();
        }
    }
    return ::testing::AssertionSuccess();
}

std::vector<QCase> gemm8_cases() {
    std::vector<QCase> cases;
    uint32_t v = 0;
    for (const Shape& s : awkward_shapes()) {
        for (int variant = 0; variant < 6; ++variant, ++v) {
            QCase c;
            c.s = s;
            c.a_signed = variant % 2 == 1;
            c.extremes = variant >= 4 || (v % 5 == 0);
            c.b_zero = variant == 2 || variant == 5;
            c.bias = variant != 0;
            c.b7 = (v % 4) == 1 || variant == 4;
            const int32_t zs_u[] = {0, 128, 255, 7}, zs_s[] = {0, -128, 127, -3};
            c.a_zero = c.a_signed ? zs_s[v % 4] : zs_u[v % 4];
            const QOut outs[] = {QOut::U8, QOut::S8, QOut::S32, QOut::F32};
            c.out = outs[(v + variant) % 4];
            c.relu_clamp = (v % 3) == 0;
            c.act = all_activations()[v % all_activations().size()];
            cases.push_back(c);
        }
    }
    return cases;
}

TEST(QGemm, EveryRowMatchesReferenceBitExact) {
    const auto rows = rows_of(QOp::Gemm8);
    ASSERT_FALSE(rows.empty() && detected_isa() != Isa::Ref);
    uint32_t seed = 1000;
    for (const QCase& c : gemm8_cases()) {
        ++seed;
        const QData d = make_data(c, seed);
        const auto want = run_q(ref_row(QOp::Gemm8), c, d, 1, 1);
        for (const QKernelRow* r : rows) {
            EXPECT_TRUE(compare_q(*r, c, seed, want, run_q(*r, c, d, 1, 1)));
            if (c.s.M > 2 || c.s.N > kQNr) {
                EXPECT_TRUE(compare_q(*r, c, seed, want, run_q(*r, c, d, 3, 2)))
                    << "split 3 row × 2 column ranges";
            }
        }
    }
}

// Indirect A (implicit im2col): every row, the reference included, equals its direct run on the same A
// (K a multiple of 4; awkward M / N, every epilogue, split ranges).
TEST(QGemm, IndirectRowsEqualDirect) {
    uint32_t seed = 5000;
    int n = 0;
    for (QCase c : gemm8_cases()) {
        ++seed;
        c.s.K = (c.s.K + 3) / 4 * 4;
        const QData d = make_data(c, seed);
        const Indirect ind(c, d);
        const auto want = run_q(ref_row(QOp::Gemm8), c, d, 1, 1);
        EXPECT_TRUE(
            compare_q(ref_row(QOp::Gemm8), c, seed, want, run_q(ref_row(QOp::Gemm8), c, d, 1, 1, &ind)));
        for (const QKernelRow* r : rows_of(QOp::Gemm8)) {
            EXPECT_TRUE(compare_q(*r, c, seed, want, run_q(*r, c, d, 1, 1, &ind))) << "indirect A";
            if (c.s.M > 2 || c.s.N > kQNr) {
                EXPECT_TRUE(compare_q(*r, c, seed, want, run_q(*r, c, d, 3, 2, &ind))) << "indirect A, split";
            }
            ++n;
        }
    }
    EXPECT_GT(n, 0);
}

TEST(QGemm, SevenBitFlag) {
    const int8_t full[6] = {1, -2, 3, -65, 5, 6}, narrow[6] = {1, -64, 63, 0, 5, 6};
    std::vector<uint8_t> p(static_cast<size_t>(qpack_b_bytes(3, 2)));
    qpack_b(full, false, 2, 1, 3, 2, p.data());
    EXPECT_FALSE(qpack_b_is_7bit(p.data(), 3, 2));
    qpack_b(narrow, false, 2, 1, 3, 2, p.data());
    EXPECT_TRUE(qpack_b_is_7bit(p.data(), 3, 2));
}

TEST(QGemm, ZeroRangesWriteNothing) {
    for (const QKernelRow* r : rows_of(QOp::Gemm8, true)) {
        QCase c;
        c.s = {4, 20, 9};
        c.out = QOut::S32;
        const QData d = make_data(c, 5);
        std::vector<int32_t> out(80, 77);
        QGemmArgs g;
        g.M = 4, g.N = 20, g.K = 9, g.a = d.a.data(), g.lda = 9, g.b = d.packed.data(), g.out = QOut::S32;
        g.c = out.data(), g.ldc = 20, g.m_begin = 2, g.m_end = 2, g.n_begin = 0, g.n_end = 20;
        qgemm_fn (*r)(g);
        g.m_begin = 0, g.m_end = 4, g.n_begin = 16, g.n_end = 16;
        qgemm_fn (*r)(g);
        for (int32_t x : out) ASSERT_EQ(x, 77) << r->name;
    }
}

// The reference against a naive int64 computation from the unpacked operands (so the packing is covered),
// and the requantization against its definition evaluated in double.
TEST(QGemm, ReferenceEqualsNaiveInt64) {
    uint32_t seed = 77;
    for (const QCase& base : gemm8_cases()) {
        if (base.s.M * base.s.N * base.s.K > 300000) continue;
        QCase c = base;
        const QData d = make_data(c, ++seed);
        const auto [M, N, K] = c.s;
        std::vector<int64_t> acc(static_cast<size_t>(M * N));
        for (int64_t m = 0; m < M; ++m)
            for (int64_t n = 0; n < N; ++n) {
                int64_t s = 0;
                for (int64_t k = 0; k < K; ++k) {
                    const int64_t av = c.a_signed ? static_cast<int8_t>(d.a[m * K + k]) : d.a[m * K + k];
                    s += (av - c.a_zero) * (d.b[k * N + n] - (c.b_zero ? d.b_zero[n] : 0));
                }
                acc[m * N + n] = s + (c.bias ? d.bias[n] : 0);
            }
        c.out = QOut::S32;
        const auto s32 = run_q(ref_row(QOp::Gemm8), c, d, 1, 1);
        for (size_t i = 0; i < acc.size(); ++i)
            ASSERT_EQ(out_value(QOut::S32, s32, i), static_cast<double>(acc[i])) << c.str() << " index " << i;
        c.out = base.out == QOut::S8 ? QOut::S8 : QOut::U8;
        const QData d2 = make_data(c, seed);  // same seed: same operands, output parameters for this type
        const auto q = run_q(ref_row(QOp::Gemm8), c, d2, 1, 1);
        for (size_t i = 0; i < acc.size(); ++i) {
            const float f = static_cast<float>(acc[i]) * d2.mult[i % N];  // acc fits int32 (checked above)
            const double r = std::nearbyint(static_cast<double>(f)) + d2.y_zero;
            const double want = std::clamp<double>(r, d2.y_min, d2.y_max);
            ASSERT_EQ(out_value(c.out, q, i), want) << c.str() << " index " << i;
        }
    }
}

TEST(QGemm, UnsignedWeightsPackAsShiftedSigned) {
    std::mt19937 rng(3);
    const int64_t K = 37, N = 21, M = 5;
    std::vector<uint8_t> bu(static_cast<size_t>(K * N)), a(static_cast<size_t>(M * K));
    for (auto& x : bu) x = static_cast<uint8_t>(rng());
    for (auto& x : a) x = static_cast<uint8_t>(rng());
    std::vector<uint8_t> packed(static_cast<size_t>(qpack_b_bytes(K, N)));
    qpack_b(bu.data(), true, 1, K, K, N, packed.data());  // transposed source: B[k][n] at bu[n·K + k]
    std::vector<int32_t> zb(static_cast<size_t>(N)), out(static_cast<size_t>(M * N));
    for (int64_t n = 0; n < N; ++n) zb[n] = static_cast<int32_t>(n * 11 % 256) - 128;  // u8 zero point − 128
    QGemmArgs g;
    g.M = M, g.N = N, g.K = K, g.a = a.data(), g.lda = K, g.a_zero = 9, g.b = packed.data(),
    g.b_zero = zb.data();
    g.out = QOut::S32, g.c = out.data(), g.ldc = N, g.m_end = M, g.n_end = N;
    for (const QKernelRow* r : rows_of(QOp::Gemm8, true)) {
        qgemm_fn (*r)(g);
        for (int64_t m = 0; m < M; ++m)
            for (int64_t n = 0; n < N; ++n) {
                int64_t s = 0;
                for (int64_t k = 0; k < K; ++k) s += (a[m * K + k] - 9) * (bu[n * K + k] - (n * 11 % 256));
                ASSERT_EQ(out[m * N + n], s) << r->name << " m " << m << " n " << n;
            }
    }
}

// ---- group-wise INT4 / INT2 ----

struct GCase {
    int64_t M, N, K;
    int bits, group;
    bool has_zero, a_signed, extremes, bias;
    Activation act;
    std::string str() const {
        std::ostringstream os;
        os << "M=" << M << " N=" << N << " K=" << K << " bits=" << bits << " G=" << group
           << " has_zero=" << has_zero << " a_signed=" << a_signed << " extremes=" << extremes
           << " bias=" << bias << " act=" << int(act.kind);
        return os.str();
    }
};

struct GData {
    std::vector<uint8_t> a, packed;
    std::vector<int8_t> q, zero;
    std::vector<float> scale, a_scale, bias;
    std::vector<int32_t> a_zero;
};

GData make_gdata(const GCase& c, uint32_t seed) {
    std::mt19937 rng(seed);
    GData d;
    const int lo = -(1 << (c.bits - 1)), hi = (1 << (c.bits - 1)) - 1;
    std::uniform_int_distribution<int> code(lo, hi);
    const int64_t ng = (c.K + c.group - 1) / c.group;
    d.a.resize(static_cast<size_t>(c.M * c.K + 3));
    for (auto& x : d.a)
        x = c.extremes ? static_cast<uint8_t>(rng() & 1 ? (c.a_signed ? 127 : 255) : (c.a_signed ? 128 : 0))
                       : static_cast<uint8_t>(rng());
    d.q.resize(static_cast<size_t>(c.K * c.N));
    for (auto& x : d.q) x = static_cast<int8_t>(c.extremes ? (rng() & 1 ? hi : lo) : code(rng));
    d.scale = random_vec(rng, static_cast<size_t>(ng * c.N), 0.001f, 0.05f);
    if (c.has_zero) {
        d.zero.resize(static_cast<size_t>(ng * c.N));
        for (auto& z : d.zero) z = static_cast<int8_t>(c.extremes ? (rng() & 1 ? hi : lo) : code(rng));
    }
    d.packed.resize(static_cast<size_t>(qpack_group_bytes(c.bits, c.group, c.has_zero, c.K, c.N)));
    qpack_group(c.bits, c.group, d.q.data(), c.N, 1, d.scale.data(), c.has_zero ? d.zero.data() : nullptr,
                c.K, c.N, d.packed.data());
    d.a_scale = random_vec(rng, static_cast<size_t>(c.M), 0.001f, 0.05f);
    d.bias = random_vec(rng, static_cast<size_t>(c.N));
    d.a_zero.resize(static_cast<size_t>(c.M));
    for (auto& z : d.a_zero)
        z = c.a_signed
                ? std::uniform_int_distribution<int>(-128, 127)(rng)
                : (c.extremes ? (rng() & 1 ? 255 : 0) : std::uniform_int_distribution<int>(0, 255)(rng));
    return d;
}

std::vector<float> run_g(const QKernelRow& row, const GCase& c, const GData& d, int msplit, int nsplit) {
    std::vector<float> out(static_cast<size_t>(c.M * c.N), -777.0f);
    QGroupGemmArgs g;
    g.M = c.M, g.N = c.N, g.K = c.K, g.bits = c.bits, g.group = c.group, g.has_zero = c.has_zero;
    g.a = d.a.data(), g.lda = c.K, g.a_signed = c.a_signed, g.a_zero = d.a_zero.data(),
    g.a_scale = d.a_scale.data();
    g.b = d.packed.data(), g.bias = c.bias ? d.bias.data() : nullptr, g.act = c.act, g.c = out.data(),
    g.ldc = c.N;
    const int64_t panels = (c.N + kQNr - 1) / kQNr;
    for (int ms = 0; ms < msplit; ++ms) {
        g.m_begin = c.M * ms / msplit, g.m_end = c.M * (ms + 1) / msplit;
        for (int ns = 0; ns < nsplit; ++ns) {
            g.n_begin = std::min(c.N, panels * ns / nsplit * kQNr);
            g.n_end = std::min(c.N, panels * (ns + 1) / nsplit * kQNr);
            qgroup_fn(row)(g);
        }
    }
    return out;
}

std::vector<GCase> group_cases(int bits) {
    const int64_t Ms[] = {1, 2, 3, 4, 5, 7, 9};
    const int64_t Ns[] = {1, 5, 16, 17, 31, 33, 64, 100};
    const int64_t Ks[] = {32, 33, 64, 96, 100, 128, 129, 255, 257, 300};
    const int groups[] = {32, 64, 128};
    std::vector<GCase> cases;
    int v = 0;
    for (int64_t K : Ks)
        for (int G : groups)
            for (int j = 0; j < 2; ++j, ++v) {
                GCase c{Ms[v % std::size(Ms)],
                        Ns[(3 * v + j) % std::size(Ns)],
                        K,
                        bits,
                        G,
                        (v % 2) == 1,
                        (v % 3) == 1,
                        (v % 4) == 2,
                        (v % 5) != 0,
                        all_activations()[v % all_activations().size()]};
                cases.push_back(c);
            }
    cases.push_back({3, 40, 4096, bits, 128, true, false, true, true, {Act::None, 0, 0}});
    return cases;
}

void check_group_rows(QOp op, int bits) {
    uint32_t seed = 500 + bits;
    for (const GCase& c : group_cases(bits)) {
        const GData d = make_gdata(c, ++seed);
        const auto want = run_g(ref_row(op), c, d, 1, 1);
        for (const QKernelRow* r : rows_of(op)) {
            for (int split = 0; split < 2; ++split) {
                const auto got = split ? run_g(*r, c, d, 2, 3) : run_g(*r, c, d, 1, 1);
                for (size_t i = 0; i < want.size(); ++i) {
                    const bool ok = exact_act(c.act.kind) ? std::memcmp(&want[i], &got[i], 4) == 0
                                                          : std::fabs(want[i] - got[i]) <= kQActAbs;
                    if (!ok) {
                        ADD_FAILURE() << r->name << " vs reference: seed=" << seed << " " << c.str()
                                      << " split=" << split << " first bad index " << i << ": expected "
                                      << want[i] << ", got " << got[i];
                        break;
                    }
                }
            }
        }
    }
}

TEST(QGemmGroup, Int4RowsMatchReference) {
    check_group_rows(QOp::Gemm4g, 4);
}
TEST(QGemmGroup, Int2RowsMatchReference) {
    check_group_rows(QOp::Gemm2g, 2);
}

// Reference vs the definition from the unpacked codes, scales and zero points (covers the packing).
TEST(QGemmGroup, ReferenceEqualsNaive) {
    uint32_t seed = 900;
    for (int bits : {4, 2}) {
        for (const GCase& c0 : group_cases(bits)) {
            GCase c = c0;
            c.act = {Act::None, 0, 0};
            const GData d = make_gdata(c, ++seed);
            const auto got = run_g(ref_row(bits == 4 ? QOp::Gemm4g : QOp::Gemm2g), c, d, 1, 1);
            const int64_t ng = (c.K + c.group - 1) / c.group;
            for (int64_t m = 0; m < c.M; ++m)
                for (int64_t n = 0; n < c.N; ++n) {
                    float f = 0;
                    for (int64_t gi = 0; gi < ng; ++gi) {
                        int64_t acc = 0;
                        const int32_t z = c.has_zero ? d.zero[gi * c.N + n] : 0;
                        for (int64_t k = gi * c.group; k < std::min(c.K, (gi + 1) * c.group); ++k) {
                            const int64_t av =
                                c.a_signed ? static_cast<int8_t>(d.a[m * c.K + k]) : d.a[m * c.K + k];
                            acc += (av - d.a_zero[m]) * (d.q[k * c.N + n] - z);
                        }
                        f = std::fma(static_cast<float>(acc), d.scale[gi * c.N + n], f);
                    }
                    float y = f * d.a_scale[m];
                    if (c.bias) y = y + d.bias[n];
                    ASSERT_EQ(got[m * c.N + n], y) << c.str() << " m " << m << " n " << n;
                }
        }
    }
}

TEST(QGemmGroup, QuantizeRowsS8) {
    const float x[] = {0.5f, -1.0f, 0.25f, 0.0f, 0, 0, 0, 0, 3.0f, 1.5f, -0.75f, 0.01f};
    int8_t q[12];
    float s[3];
    quantize_rows_s8(x, 4, 3, 4, q, 4, s);
    EXPECT_FLOAT_EQ(s[0], 1.0f / 127.0f);
    EXPECT_EQ(q[0], 64);  // 63.5 rounds half to even
    EXPECT_EQ(q[1], -127);
    EXPECT_EQ(s[1], 1.0f);
    EXPECT_EQ(q[4], 0);
    EXPECT_EQ(q[8], 127);
    EXPECT_EQ(q[9], 64);  // 1.5 / (3/127) = 63.5 → 64
}

// ---- u8 im2col + qgemm = direct integer convolution ----

TEST(QConv, Im2colPlusQgemmEqualsDirect) {
    struct Conv {
        int64_t C, H, W, OC, KH, KW, SH, SW, PT, PL, PB, PR, DH, DW;
    };
    const Conv convs[] = {
        {3, 7, 9, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},  {4, 8, 8, 17, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1},
        {2, 9, 6, 33, 2, 3, 1, 2, 0, 1, 1, 0, 2, 1}, {16, 5, 5, 8, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},
        {1, 11, 4, 3, 5, 2, 3, 1, 2, 0, 2, 1, 1, 2},
    };
    std::mt19937 rng(11);
    for (const Conv& v : convs) {
        const int64_t OH = (v.H + v.PT + v.PB - ((v.KH - 1) * v.DH + 1)) / v.SH + 1;
        const int64_t OW = (v.W + v.PL + v.PR - ((v.KW - 1) * v.DW + 1)) / v.SW + 1;
        const int64_t K = v.C * v.KH * v.KW, P = OH * OW;
        std::vector<uint8_t> x(static_cast<size_t>(v.C * v.H * v.W));
        for (auto& e : x) e = static_cast<uint8_t>(rng());
        std::vector<int8_t> w(static_cast<size_t>(v.OC * K));
        for (auto& e : w) e = static_cast<int8_t>(rng());
        const uint8_t xz = 117;
        std::vector<uint8_t> packed(static_cast<size_t>(qpack_b_bytes(K, v.OC)));
        qpack_b(w.data(), false, 1, K, K, v.OC, packed.data());
        QIm2colArgs ia;
        ia.C = v.C, ia.H = v.H, ia.W = v.W, ia.OH = OH, ia.OW = OW, ia.KH = v.KH, ia.KW = v.KW, ia.SH = v.SH;
        ia.SW = v.SW, ia.PT = v.PT, ia.PL = v.PL, ia.DH = v.DH, ia.DW = v.DW, ia.x = x.data(), ia.pad = xz;
        std::vector<uint8_t> cols(static_cast<size_t>(P * K));
        ia.p_begin = 0, ia.p_end = P / 2;
        im2col_u8(ia, cols.data(), K);
        ia.p_begin = P / 2, ia.p_end = P;
        im2col_u8(ia, cols.data() + (P / 2) * K, K);
        for (const QKernelRow* r : rows_of(QOp::Gemm8, true)) {
            std::vector<int32_t> y(static_cast<size_t>(P * v.OC));
            QGemmArgs g;
            g.M = P, g.N = v.OC, g.K = K, g.a = cols.data(), g.lda = K, g.a_zero = xz, g.b = packed.data();
            g.out = QOut::S32, g.c = y.data(), g.ldc = v.OC, g.m_end = P, g.n_end = v.OC;
            qgemm_fn (*r)(g);
            for (int64_t oc = 0; oc < v.OC; ++oc)
                for (int64_t p = 0; p < P; ++p) {
                    const int64_t oy = p / OW, ox = p % OW;
                    int64_t s = 0;
                    for (int64_t c = 0; c < v.C; ++c)
                        for (int64_t ky = 0; ky < v.KH; ++ky)
                            for (int64_t kx = 0; kx < v.KW; ++kx) {
                                const int64_t iy = oy * v.SH - v.PT + ky * v.DH,
                                              ix = ox * v.SW - v.PL + kx * v.DW;
                                if (iy < 0 || iy >= v.H || ix < 0 || ix >= v.W) continue;  // pad = zero point
                                s += (x[(c * v.H + iy) * v.W + ix] - xz) *
                                     w[oc * K + (c * v.KH + ky) * v.KW + kx];
                            }
                    ASSERT_EQ(y[p * v.OC + oc], s)
                        << r->name << " conv C=" << v.C << " oc " << oc << " p " << p;
                }
        }
    }
}

TEST(QGemm, SelectRespectsActiveIsa) {
    for (QOp op : {QOp::Gemm8, QOp::Gemm4g, QOp::Gemm2g}) {
        const QKernelRow& r = qselect(op);
        EXPECT_TRUE(qrow_enabled(r)) << r.name;
        EXPECT_LE(static_cast<int>(r.isa), static_cast<int>(active_isa())) << r.name;
        std::printf("qselect: %s (active isa %s)\n", r.name, isa_name(active_isa()));
    }
}

}  // namespace
}  // namespace edgeq::kernels::test
