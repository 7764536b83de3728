// Every optimized quantizer (dtype/quant_dispatch.cpp) against the reference codec of its type: the bytes
// must be identical, on awkward row counts, widths, special values and with/without an importance matrix.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "dtype/blocks.h"
#include "dtype/kquant_search.h"
#include "dtype/quant_dispatch.h"

namespace edgeq {
namespace {

// Gauss..Mixed: generic shapes. Scales: 16-wide sub-blocks spanning 6 decades plus all-zero ones (k-quant
// sub-blocks whose stored scale rounds to 0 keep their search levels). Grid: integers in [-127, 113] with
// a -127 in every 32-block, so IQ4_NL's first scale is exactly 1 and 2x lands on its thresholds (ties).
// Subnormal: amax so small that 1/amax overflows (ternary lround of inf). Extreme: near FLT_MAX, so that
// max - min and the scales overflow. SignedZeros: +0/-0 mixed with only positive (even 32-blocks) or only
// negative (odd) values, so the min or max is a zero whose sign is that of the first zero in scalar order.
enum class Data {
    Gauss,
    Uniform,
    Outliers,
    Zeros,
    Constant,
    Spike,
    Tiny,
    Huge,
    Ties,
    Mixed,
    Scales,
    Grid,
    Subnormal,
    Extreme,
    SignedZeros
};
constexpr int kNumData = static_cast<int>(Data::SignedZeros) + 1;
const char* data_name(Data d) {
    static const char* n[] = {"gauss",  "uniform", "outliers",  "zeros",   "constant",
                              "spike",  "tiny",    "huge",      "ties",    "mixed",
                              "scales", "grid",    "subnormal", "extreme", "signed-zeros"};
    return n[static_cast<int>(d)];
}

std::vector<float> make_data(Data kind, int64_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(0.f, 0.02f);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    std::vector<float> x(static_cast<size_t>(n));
    float sub_scale = 1.0f;
    for (int64_t i = 0; i < n; ++i) {
        float v = 0;
        switch (kind) {
            case Data::Gauss:
                v = g(rng);
                break;
            case Data::Uniform:
                v = u(rng);
                break;
            case Data::Outliers:
                v = (rng() % 97 == 0) ? (rng() % 2 ? 0.3f : -0.3f) : g(rng);
                break;
            case Data::Zeros:
                v = 0;
                break;
            case Data::Constant:
                v = (i / 32) % 2 ? 0.25f : -0.125f;
                break;
            case Data::Spike:
                v = (i % 53 == 7) ? 1.0f : 0.0f;
                break;
            case Data::Tiny:
                v = g(rng) * 1e-6f;
                break;
            case Data::Huge:
                v = g(rng) * 3e4f;
                break;
            case Data::Ties:
                v = static_cast<float>(static_cast<int>(u(rng) * 8)) * 0.5f;
                break;  // many equal |x|
            case Data::Mixed:
                v = (i / 16) % 3 == 0 ? 0.0f : g(rng) * static_cast<float>(1 + (i / 64) % 5);
                break;
            case Data::Scales:
                if (i % 16 == 0)
                    sub_scale = rng() % 5 == 0 ? 0.0f : std::pow(10.0f, -static_cast<float>(rng() % 6));
                v = g(rng) * sub_scale;
                break;
            case Data::Grid:
                v = i % 32 == 5 ? -127.0f : static_cast<float>(static_cast<int>(rng() % 241) - 127);
                break;
            case Data::Subnormal:
                v = g(rng) * 1e-38f;
                break;
            case Data::Extreme:
                v = (rng() % 7 == 0) ? (rng() % 2 ? 3e38f : -3e38f) : u(rng) * 1e37f;
                break;
            case Data::SignedZeros: {
                const uint32_t r = rng() % 4;
                v = r == 0 ? 0.0f : r == 1 ? -0.0f : std::fabs(g(rng)) * ((i / 32) % 2 ? -1.0f : 1.0f);
                break;
            }
        }
        x[static_cast<size_t>(i)] = v;
    }
    return x;
}

std::string hex_block(const uint8_t* p, size_t n) {
    std::string s;
    char buf[4];
    for (size_t i = 0; i < n; ++i) {
        std::snprintf(buf, sizeof buf, "%02x", p[i]);
        s += buf;
    }
    return s;
}

// Every case of one row; stops at the row's first mismatch (reported), so each bad row shows up once.
void check_row(const FastQuantizer& row, int& checked) {
    const auto& tr = traits(row.type);
    const int64_t blk = tr.block_size;
    for (int64_t blocks_per_row : {1, 2, 3, 5}) {
        const int64_t n_per_row = blk * blocks_per_row;
        for (int64_t nrows : {1, 2, 3, 7, 17}) {
            for (int d = 0; d < kNumData; ++d) {
                for (bool with_imx : {false, true}) {
                    const uint32_t seed = static_cast<uint32_t>(1000 * d + 10 * nrows + blocks_per_row);
                    const auto x = make_data(static_cast<Data>(d), nrows * n_per_row, seed);
                    std::vector<float> imx;
                    if (with_imx) {
                        std::mt19937 rng(seed + 1);
                        std::lognormal_distribution<float> ln(0.f, 1.f);
                        imx.resize(static_cast<size_t>(n_per_row));
                        for (auto& v : imx) v = ln(rng);
                    }
                    const size_t bytes = static_cast<size_t>(nrows) * row_size(row.type, n_per_row);
                    std::vector<uint8_t> want(bytes + 16, 0xAB), got(bytes + 16, 0xAB);
                    const float* im = with_imx ? imx.data() : nullptr;
                    ASSERT_EQ(tr.quantize(x.data(), want.data(), nrows, n_per_row, im), bytes);
                    ASSERT_EQ(row.fn(x.data(), got.data(), nrows, n_per_row, im), bytes) << row.name;
                    if (want != got) {
                        size_t i = 0;
                        while (want[i] == got[i]) ++i;
                        const size_t b = i / tr.type_size;
                        FAIL() << row.name << " (" << isa_name(row.isa)
                               << ") differs from the reference: data=" << data_name(static_cast<Data>(d))
                               << " seed=" << seed << " nrows=" << nrows << " n_per_row=" << n_per_row
                               << " imatrix=" << with_imx << " first bad byte " << i << " (block " << b
                               << ", byte " << i % tr.type_size << ")\n"
                               << "  reference " << hex_block(want.data() + b * tr.type_size, tr.type_size)
                               << "\n"
                               << "  got       " << hex_block(got.data() + b * tr.type_size, tr.type_size);
                    }
                    ++checked;
                }
            }
        }
    }
}

TEST(QuantSimd, EveryRowMatchesReferenceBytes) {
    int checked = 0;
    for (const FastQuantizer& row : fast_quantizers()) {
        if (row.isa > detected_isa()) {
            std::printf("skip %s: CPU lacks %s\n", row.name, isa_name(row.isa));
            continue;
        }
        check_row(row, checked);
    }
    std::printf("checked %d cases; active ISA %s\n", checked, isa_name(active_isa()));
}

// Rounding-level slips (a reassociated sum, a swapped operand) change a stored byte only when a value sits
// near an fp16 or level boundary, so the small cases above can miss them: also compare whole tensors of
// realistic shape (256 rows of 1024, ~262k weights per kind), with and without an imatrix.
TEST(QuantSimd, BulkTensorsMatchReferenceBytes) {
    constexpr int64_t nrows = 256, n_per_row = 1024;
    for (const FastQuantizer& row : fast_quantizers()) {
        if (row.isa > detected_isa()) continue;
        const auto& tr = traits(row.type);
        for (Data d : {Data::Gauss, Data::Outliers, Data::Scales}) {
            for (bool with_imx : {false, true}) {
                const uint32_t seed = 77 + static_cast<uint32_t>(d);
                const auto x = make_data(d, nrows * n_per_row, seed);
                std::vector<float> imx(static_cast<size_t>(n_per_row));
                std::mt19937 rng(seed + 1);
                std::lognormal_distribution<float> ln(0.f, 1.f);
                for (auto& v : imx) v = ln(rng);
                const float* im = with_imx ? imx.data() : nullptr;
                const size_t bytes = static_cast<size_t>(nrows) * row_size(row.type, n_per_row);
                std::vector<uint8_t> want(bytes), got(bytes);
                ASSERT_EQ(tr.quantize(x.data(), want.data(), nrows, n_per_row, im), bytes);
                ASSERT_EQ(row.fn(x.data(), got.data(), nrows, n_per_row, im), bytes) << row.name;
                size_t bad = 0, first = bytes;
                for (size_t b = 0; b < bytes / tr.type_size; ++b) {
                    if (std::memcmp(want.data() + b * tr.type_size, got.data() + b * tr.type_size,
                                    tr.type_size)) {
                        if (!bad) first = b;
                        ++bad;
                    }
                }
                EXPECT_EQ(bad, 0u) << row.name << " (" << isa_name(row.isa) << "): " << bad << " of "
                                   << bytes / tr.type_size
                                   << " blocks differ from the reference; data=" << data_name(d)
                                   << " seed=" << seed << " " << nrows << "x" << n_per_row
                                   << " imatrix=" << with_imx << ", first block " << first;
            }
        }
    }
}

// The k-quant search tables entry by entry, bit for bit (scales, mins, levels). A search's floats reach the
// stored bytes only after rounding to fp16 or a few bits, so a lane that drifts by an ulp (a reassociated
// sum) rarely changes a byte; here it fails.
template <typename T>
bool same_bits(const T* a, const T* b, size_t n) {
    return std::memcmp(a, b, n * sizeof(T)) == 0;
}

std::string floats_hex(const float* v, int n) {
    std::string s;
    char buf[32];
    for (int i = 0; i < n; ++i) {
        std::snprintf(buf, sizeof buf, "%s%a", i ? " " : "", static_cast<double>(v[i]));
        s += buf;
    }
    return s;
}

TEST(QuantSimd, SearchTablesMatchReferenceBits) {
    if (detected_isa() < Isa::Avx2) GTEST_SKIP() << "CPU lacks avx2";
    const quants::KSearch& ref = quants::kSearchRef;
    const quants::KSearch& simd = quants::ksearch_avx2();
    constexpr int kReps = 150;
    int checked = 0;
    for (int d = 0; d < kNumData; ++d) {
        for (int rep = 0; rep < kReps; ++rep) {
            const uint32_t seed = static_cast<uint32_t>(100000 * d + rep);
            const auto x = make_data(static_cast<Data>(d), QK_K, seed);
            std::vector<float> w(QK_K), wabs(QK_K);
            std::mt19937 rng(seed + 1);
            std::lognormal_distribution<float> ln(0.f, 1.f);
            for (int i = 0; i < QK_K; ++i) {
                w[static_cast<size_t>(i)] = ln(rng);
                wabs[static_cast<size_t>(i)] = std::fabs(x[static_cast<size_t>(i)]);
            }
            const std::string where = std::string(" data=") + data_name(static_cast<Data>(d)) +
                                      " seed=" + std::to_string(seed) + " (x = make_data(kind, 256, seed))";
            float s0[16], s1[16], m0[16], m1[16];
            // qx_16x16: Q6_K (nmax 32, with and without importance weights), Q3_K imatrix (nmax 4)
            for (const int nmax : {32, 4}) {
                for (const float* qw :
                     {static_cast<const float*>(nullptr), static_cast<const float*>(w.data())}) {
                    int8_t L0[QK_K], L1[QK_K];
                    ref.qx_16x16(x.data(), qw, nmax, L0, s0);
                    simd.qx_16x16(x.data(), qw, nmax, L1, s1);
                    ASSERT_TRUE(same_bits(s0, s1, 16) && same_bits(L0, L1, QK_K))
                        << "qx_16x16 nmax=" << nmax << " qw=" << (qw != nullptr) << where
                        << "\n  reference scales " << floats_hex(s0, 16) << "\n  avx2      scales "
                        << floats_hex(s1, 16);
                    ++checked;
                }
            }
            // qkx2_8x32 / qkx3_8x32: Q4_K and Q5_K parameters, plain and imatrix
            struct P {
                bool x3;
                int nmax;
                float rmin, rdelta;
                int nstep;
            };
            for (const P p : {P{false, 15, -1.f, 0.1f, 20}, P{false, 31, -0.5f, 0.1f, 15},
                              P{true, 15, -0.9f, 0.05f, 36}, P{true, 31, -0.9f, 0.05f, 36}}) {
                uint8_t L0[QK_K], L1[QK_K];
                (p.x3 ? ref.qkx3_8x32 : ref.qkx2_8x32)(x.data(), w.data(), p.nmax, p.rmin, p.rdelta, p.nstep,
                                                       L0, s0, m0);
                (p.x3 ? simd.qkx3_8x32 : simd.qkx2_8x32)(x.data(), w.data(), p.nmax, p.rmin, p.rdelta,
                                                         p.nstep, L1, s1, m1);
                ASSERT_TRUE(same_bits(s0, s1, 8) && same_bits(m0, m1, 8) && same_bits(L0, L1, QK_K))
                    << (p.x3 ? "qkx3_8x32" : "qkx2_8x32") << " nmax=" << p.nmax << where
                    << "\n  reference scales " << floats_hex(s0, 8) << " mins " << floats_hex(m0, 8)
                    << "\n  avx2      scales " << floats_hex(s1, 8) << " mins " << floats_hex(m1, 8);
                ++checked;
            }
            // qkx2_16x16: Q2_K's (|x| weights, mean absolute error), and the squared-error variant
            for (const bool mad : {true, false}) {
                uint8_t L0[QK_K], L1[QK_K];
                const float* ww = mad ? wabs.data() : w.data();
                ref.qkx2_16x16(x.data(), ww, 3, -0.5f, 0.1f, 15, mad, L0, s0, m0);
                simd.qkx2_16x16(x.data(), ww, 3, -0.5f, 0.1f, 15, mad, L1, s1, m1);
                ASSERT_TRUE(same_bits(s0, s1, 16) && same_bits(m0, m1, 16) && same_bits(L0, L1, QK_K))
                    << "qkx2_16x16 mad=" << mad << where << "\n  reference scales " << floats_hex(s0, 16)
                    << " mins " << floats_hex(m0, 16) << "\n  avx2      scales " << floats_hex(s1, 16)
                    << " mins " << floats_hex(m1, 16);
                ++checked;
            }
            // qkx3_16x16: Q2_K imatrix
            {
                uint8_t L0[QK_K], L1[QK_K];
                ref.qkx3_16x16(x.data(), w.data(), 3, -0.9f, 0.05f, 36, L0, s0, m0);
                simd.qkx3_16x16(x.data(), w.data(), 3, -0.9f, 0.05f, 36, L1, s1, m1);
                ASSERT_TRUE(same_bits(s0, s1, 16) && same_bits(m0, m1, 16) && same_bits(L0, L1, QK_K))
                    << "qkx3_16x16" << where << "\n  reference scales " << floats_hex(s0, 16) << " mins "
                    << floats_hex(m0, 16) << "\n  avx2      scales " << floats_hex(s1, 16) << " mins "
                    << floats_hex(m1, 16);
                ++checked;
            }
            // q3_16x16: Q3_K
            {
                int8_t L0[QK_K], L1[QK_K];
                ref.q3_16x16(x.data(), L0, s0);
                simd.q3_16x16(x.data(), L1, s1);
                ASSERT_TRUE(same_bits(s0, s1, 16) && same_bits(L0, L1, QK_K))
                    << "q3_16x16" << where << "\n  reference scales " << floats_hex(s0, 16)
                    << "\n  avx2      scales " << floats_hex(s1, 16);
                ++checked;
            }
        }
    }
    std::printf("checked %d search-table calls\n", checked);
}

TEST(QuantSimd, DispatchRespectsIsaCap) {
    for (const auto& tr : all_dtypes()) {
        if (!tr.quantize) continue;
        const QuantizeFn f = selected_quantizer(tr.type);
        ASSERT_NE(f, nullptr) << tr.name;
        if (active_isa() == Isa::Ref) {
            EXPECT_EQ(f, tr.quantize) << tr.name << ": EDGEQ_ISA=ref must select the reference";
        }
    }
}

}  // namespace
}  // namespace edgeq
