// k-quant codecs (Q2_K..Q6_K, Q8_K; src/dtype/quant_k.cpp) against ggml and against themselves.
//
// Golden data: shared/fixtures/blocks/blocks_*.gguf, written by llama.cpp 0ad4a86 (fixtures/README.md §A):
//   (a) our dequantizer on ggml's <T>.q / <T>.imx.q reproduces <T>.deq / <T>.imx.deq bit for bit;
//   (b) our quantizer on `source` (plain, and with `imatrix`) reproduces ggml's bytes, and its RMSE
//       (plain) / imatrix-weighted RMSE (imatrix) is <= ggml's.
// Fixture-free: round-trip error bounds on awkward row counts, all-zero rows, the imatrix lowering the
// weighted error, row-by-row == whole-tensor quantization, no write past the returned size, Q8_K sums.
// Failures print file, type, path (plain/imatrix), row, first bad index, expected and actual.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/shared.h"
#include "dtype/blocks.h"
#include "dtype/quants.h"
#include "edgeq/dtype.h"
#include "formats/gguf/gguf.h"

namespace {

using namespace edgeq;

struct KType {
    const char* name;
    DType type;
    size_t block_bytes;
    QuantizeFn quantize;
    DequantizeRowFn dequantize;
    double max_rel_rmse;  // plain round-trip bound, rmse/rms on N(0,1) data (worst shape seen: ~0.86x)
};

const KType kTypes[] = {
    {"Q2_K", DType::Q2_K, sizeof(block_q2_K), quants::quantize_Q2_K, quants::dequantize_row_Q2_K, 0.36},
    {"Q3_K", DType::Q3_K, sizeof(block_q3_K), quants::quantize_Q3_K, quants::dequantize_row_Q3_K, 0.18},
    {"Q4_K", DType::Q4_K, sizeof(block_q4_K), quants::quantize_Q4_K, quants::dequantize_row_Q4_K, 0.088},
    {"Q5_K", DType::Q5_K, sizeof(block_q5_K), quants::quantize_Q5_K, quants::dequantize_row_Q5_K, 0.044},
    {"Q6_K", DType::Q6_K, sizeof(block_q6_K), quants::quantize_Q6_K, quants::dequantize_row_Q6_K, 0.022},
    {"Q8_K", DType::Q8_K, sizeof(block_q8_K), quants::quantize_Q8_K, quants::dequantize_row_Q8_K, 0.0085},
};
// The types ggml's fixtures cover (Q8_K is activation-only: ggml_quantize_chunk does not produce it).
constexpr int kFixtureTypes = 5;

std::string fmt_float(float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g (0x%08x)", static_cast<double>(v), bits);
    return buf;
}

std::vector<float> gaussian(size_t n, uint32_t seed, float sigma = 1.f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.f, sigma);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    return v;
}

// imatrix-like weights: mean of squared activations with log-normal per-column scale and a few
// 8x "outlier channels" (the construction the fixtures use).
std::vector<float> synthetic_imatrix(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.f, 1.f);
    std::uniform_real_distribution<float> ud(0.f, 1.f);
    std::vector<float> w(n);
    for (auto& x : w) {
        float s = std::exp(nd(rng));
        if (ud(rng) < 0.02f) s *= 8.f;
        x = s * s;
    }
    return w;
}

struct Err {
    double rmse = 0, wrmse = 0;
};
// RMSE of deq vs src, and imatrix-weighted RMSE sqrt(sum w_j e_ij^2 / sum w_j) (blocks_summary.json).
Err errors(const float* src, const float* deq, int64_t nrows, int64_t ncols, const float* w) {
    double se = 0, wse = 0, ws = 0;
    for (int64_t r = 0; r < nrows; ++r) {
        for (int64_t c = 0; c < ncols; ++c) {
            const double e = static_cast<double>(deq[r * ncols + c]) - src[r * ncols + c];
            se += e * e;
            if (w) {
                wse += w[c] * e * e;
                ws += w[c];
            }
        }
    }
    Err out;
    out.rmse = std::sqrt(se / static_cast<double>(nrows * ncols));
    out.wrmse = ws > 0 ? std::sqrt(wse / ws) : 0;
    return out;
}

double rms(const std::vector<float>& v) {
    double s = 0;
    for (float x : v) s += static_cast<double>(x) * x;
    return std::sqrt(s / static_cast<double>(v.size()));
}

// ---- table wiring -----------------------------------------------------------------------------

TEST(KQuantTable, RowsPointAtTheKQuantCodecs) {
    for (const KType& k : kTypes) {
        SCOPED_TRACE(k.name);
        const DTypeTraits& t = traits(k.type);
        EXPECT_EQ(t.block_size, QK_K);
        EXPECT_EQ(t.type_size, k.block_bytes);
        EXPECT_EQ(t.quantize, k.quantize);
        EXPECT_EQ(t.dequantize, k.dequantize);
        EXPECT_EQ(t.vec_dot_type, DType::Q8_K);
    }
}

// ---- fixture-free properties ------------------------------------------------------------------

// Awkward row counts (1, 2, 3, 5, 7, 17, 33) and row lengths (1..3 super-blocks), plain and imatrix.
TEST(KQuantRoundTrip, ErrorBoundsOnAwkwardShapes) {
    const int64_t row_counts[] = {1, 2, 3, 5, 7, 17, 33};
    const int64_t row_lens[] = {256, 512, 768};
    for (const KType& k : kTypes) {
        for (int64_t nrows : row_counts) {
            for (int64_t ncols : row_lens) {
                const uint32_t seed = static_cast<uint32_t>(1000 + nrows * 7 + ncols);
                const auto src = gaussian(static_cast<size_t>(nrows * ncols), seed);
                const auto imx = synthetic_imatrix(static_cast<size_t>(ncols), seed + 1);
                for (int use_imx = 0; use_imx < 2; ++use_imx) {
                    SCOPED_TRACE(testing::Message() << k.name << " nrows=" << nrows << " ncols=" << ncols
                                                    << " seed=" << seed << (use_imx ? " imatrix" : " plain"));
                    const size_t bytes = static_cast<size_t>(nrows * ncols / QK_K) * k.block_bytes;
                    std::vector<uint8_t> q(bytes + 64, 0xA5);  // guard bytes after the end
                    const size_t written =
                        k.quantize(src.data(), q.data(), nrows, ncols, use_imx ? imx.data() : nullptr);
                    ASSERT_EQ(written, bytes);
                    ASSERT_EQ(written, row_size(k.type, ncols) * static_cast<size_t>(nrows));
                    for (size_t i = bytes; i < q.size(); ++i) ASSERT_EQ(q[i], 0xA5) << "wrote past the end at " << i;
                    std::vector<float> deq(src.size());
                    k.dequantize(q.data(), deq.data(), nrows * ncols);
                    const double rel = errors(src.data(), deq.data(), nrows, ncols, nullptr).rmse / rms(src);
                    // the imatrix path trades plain error for weighted error: allow it 25% more
                    EXPECT_LE(rel, k.max_rel_rmse * (use_imx ? 1.25 : 1.0));
                    for (size_t i = 0; i < deq.size(); ++i) ASSERT_TRUE(std::isfinite(deq[i])) << "index " << i;
                }
            }
        }
    }
}

// Quantizing all rows at once equals quantizing each row alone (imatrix indexed by column, not by
// position in the tensor).
TEST(KQuantRoundTrip, WholeTensorEqualsRowByRow) {
    const int64_t nrows = 5, ncols = 768;
    const auto src = gaussian(static_cast<size_t>(nrows * ncols), 77);
    const auto imx = synthetic_imatrix(static_cast<size_t>(ncols), 78);
    for (const KType& k : kTypes) {
        for (int use_imx = 0; use_imx < 2; ++use_imx) {
            SCOPED_TRACE(testing::Message() << k.name << (use_imx ? " imatrix" : " plain"));
            const float* w = use_imx ? imx.data() : nullptr;
            const size_t rs = row_size(k.type, ncols);
            std::vector<uint8_t> all(rs * nrows), one(rs * nrows);
            k.quantize(src.data(), all.data(), nrows, ncols, w);
            for (int64_t r = 0; r < nrows; ++r) k.quantize(src.data() + r * ncols, one.data() + r * rs, 1, ncols, w);
            for (size_t i = 0; i < all.size(); ++i) {
                ASSERT_EQ(all[i], one[i]) << "row " << i / rs << " byte " << i % rs;
            }
        }
    }
}

// All-zero rows (and an all-zero super-block next to non-zero ones) dequantize to exactly +0/-0.
TEST(KQuantRoundTrip, ZeroRowsDequantizeToZero) {
    const int64_t nrows = 3, ncols = 512;
    std::vector<float> src(static_cast<size_t>(nrows * ncols), 0.f);
    const auto noise = gaussian(static_cast<size_t>(ncols), 5);
    // row 1: first super-block zero, second random; rows 0 and 2 all zero
    for (int64_t c = 256; c < ncols; ++c) src[static_cast<size_t>(ncols + c)] = noise[static_cast<size_t>(c)];
    const auto imx = synthetic_imatrix(static_cast<size_t>(ncols), 6);
    for (const KType& k : kTypes) {
        for (int use_imx = 0; use_imx < 2; ++use_imx) {
            SCOPED_TRACE(testing::Message() << k.name << (use_imx ? " imatrix" : " plain"));
            std::vector<uint8_t> q(row_size(k.type, ncols) * nrows);
            k.quantize(src.data(), q.data(), nrows, ncols, use_imx ? imx.data() : nullptr);
            std::vector<float> deq(src.size(), 1.f);
            k.dequantize(q.data(), deq.data(), nrows * ncols);
            for (int64_t i = 0; i < nrows * ncols; ++i) {
                if (src[static_cast<size_t>(i)] != 0.f) continue;
                ASSERT_EQ(deq[static_cast<size_t>(i)], 0.f) << "row " << i / ncols << " col " << i % ncols;
            }
        }
    }
}

// With an imatrix the weighted error is lower than without (what the imatrix is for).
TEST(KQuantImatrix, LowersWeightedError) {
    const int64_t nrows = 32, ncols = 1024;
    const auto src = gaussian(static_cast<size_t>(nrows * ncols), 2024, 0.02f);
    const auto imx = synthetic_imatrix(static_cast<size_t>(ncols), 2025);
    for (int t = 0; t < kFixtureTypes; ++t) {  // Q8_K has no imatrix path
        const KType& k = kTypes[t];
        SCOPED_TRACE(k.name);
        std::vector<uint8_t> q(row_size(k.type, ncols) * nrows);
        std::vector<float> deq(src.size());
        k.quantize(src.data(), q.data(), nrows, ncols, nullptr);
        k.dequantize(q.data(), deq.data(), nrows * ncols);
        const Err plain = errors(src.data(), deq.data(), nrows, ncols, imx.data());
        k.quantize(src.data(), q.data(), nrows, ncols, imx.data());
        k.dequantize(q.data(), deq.data(), nrows * ncols);
        const Err weighted = errors(src.data(), deq.data(), nrows, ncols, imx.data());
        EXPECT_LT(weighted.wrmse, 0.9 * plain.wrmse) << "plain " << plain.wrmse << " imatrix " << weighted.wrmse;
    }
}

// Q8_K: |q| <= 127, the largest-magnitude value maps to -127 / +127, bsums are the sub-block sums.
TEST(KQuantQ8K, BlockInvariants) {
    const auto src = gaussian(3 * QK_K, 31);
    std::vector<block_q8_K> b(3);
    quants::quantize_Q8_K(src.data(), b.data(), 1, 3 * QK_K, nullptr);
    for (int i = 0; i < 3; ++i) {
        float amax = 0;
        for (int e = 0; e < QK_K; ++e) amax = std::max(amax, std::fabs(src[static_cast<size_t>(i * QK_K + e)]));
        EXPECT_NEAR(std::fabs(b[static_cast<size_t>(i)].d), amax / 127.f, amax * 1e-6f);
        int maxq = 0;
        for (int s = 0; s < QK_K / 16; ++s) {
            int sum = 0;
            for (int l = 0; l < 16; ++l) {
                const int q = b[static_cast<size_t>(i)].qs[16 * s + l];
                sum += q;
                maxq = std::max(maxq, std::abs(q));
            }
            EXPECT_EQ(b[static_cast<size_t>(i)].bsums[s], sum) << "block " << i << " sub-block " << s;
        }
        EXPECT_EQ(maxq, 127);
    }
}

// ---- ggml fixtures ------------------------------------------------------------------------------

struct Fixture {
    std::unique_ptr<gguf::File> file;
    std::string name;
    int64_t ncols = 0, nrows = 0;
    const float* source = nullptr;
    const float* imatrix = nullptr;

    const gguf::TensorInfo* tensor(const std::string& n) const { return file->find_tensor(n); }
    const uint8_t* data(const gguf::TensorInfo* t) const { return file->tensor_data(*t).data(); }
};

// Opens blocks_<stem>.gguf; returns false (after ADD_FAILURE) when it is unreadable.
bool open_fixture(const std::filesystem::path& path, Fixture& fx) {
    auto r = gguf::File::open(path.string());
    if (!r.ok()) {
        ADD_FAILURE() << "cannot open " << path << ": " << r.status().message();
        return false;
    }
    fx.file = std::move(r.value());
    fx.name = path.filename().string();
    const gguf::TensorInfo* src = fx.tensor("source");
    const gguf::TensorInfo* imx = fx.tensor("imatrix");
    if (!src || !imx || src->type != DType::F32 || imx->type != DType::F32 || src->ne.size() != 2) {
        ADD_FAILURE() << fx.name << ": missing or malformed source/imatrix tensor";
        return false;
    }
    fx.ncols = src->ne[0];
    fx.nrows = src->ne[1];
    if (imx->n_elements() != fx.ncols) {
        ADD_FAILURE() << fx.name << ": imatrix has " << imx->n_elements() << " elements, want " << fx.ncols;
        return false;
    }
    fx.source = reinterpret_cast<const float*>(fx.data(src));
    fx.imatrix = reinterpret_cast<const float*>(fx.data(imx));
    return true;
}

class KQuantFixture : public testing::TestWithParam<const char*> {};

// (a) our dequantizer reproduces ggml's floats bit for bit.
TEST_P(KQuantFixture, DequantizeMatchesGgmlBitwise) {
    const std::string rel = std::string("fixtures/blocks/blocks_") + GetParam() + ".gguf";
    EDGEQ_REQUIRE_SHARED(path, rel);
    Fixture fx;
    if (!open_fixture(path, fx)) return;
    for (int t = 0; t < kFixtureTypes; ++t) {
        const KType& k = kTypes[t];
        for (const char* variant : {"", ".imx"}) {
            const std::string qn = std::string(k.name) + variant + ".q", dn = std::string(k.name) + variant + ".deq";
            const gguf::TensorInfo* qt = fx.tensor(qn);
            const gguf::TensorInfo* dt = fx.tensor(dn);
            ASSERT_TRUE(qt && dt) << fx.name << ": missing " << qn << " or " << dn;
            ASSERT_EQ(qt->type, k.type) << fx.name << " " << qn;
            ASSERT_EQ(dt->n_elements(), fx.nrows * fx.ncols) << fx.name << " " << dn;
            const auto* expected = reinterpret_cast<const float*>(fx.data(dt));
            std::vector<float> got(static_cast<size_t>(fx.nrows * fx.ncols));
            for (int64_t r = 0; r < fx.nrows; ++r) {
                k.dequantize(fx.data(qt) + r * row_size(k.type, fx.ncols), got.data() + r * fx.ncols, fx.ncols);
            }
            int64_t nbad = 0, first = -1;
            for (int64_t i = 0; i < fx.nrows * fx.ncols; ++i) {
                if (std::memcmp(&got[static_cast<size_t>(i)], &expected[i], 4) != 0) {
                    if (first < 0) first = i;
                    ++nbad;
                }
            }
            EXPECT_EQ(nbad, 0) << fx.name << " " << qn << ": " << nbad << " values differ; first at row "
                               << first / fx.ncols << " index " << first % fx.ncols << ": expected "
                               << fmt_float(first >= 0 ? expected[first] : 0.f) << ", actual "
                               << fmt_float(first >= 0 ? got[static_cast<size_t>(first)] : 0.f);
        }
    }
}

// (b) our quantizer reproduces ggml's bytes; whatever the bytes, its error may not exceed ggml's.
TEST_P(KQuantFixture, QuantizeMatchesGgml) {
    const std::string rel = std::string("fixtures/blocks/blocks_") + GetParam() + ".gguf";
    EDGEQ_REQUIRE_SHARED(path, rel);
    Fixture fx;
    if (!open_fixture(path, fx)) return;
    const int64_t n = fx.nrows * fx.ncols;
    for (int t = 0; t < kFixtureTypes; ++t) {
        const KType& k = kTypes[t];
        for (int use_imx = 0; use_imx < 2; ++use_imx) {
            const std::string qn = std::string(k.name) + (use_imx ? ".imx" : "") + ".q";
            const std::string where = fx.name + " " + k.name + (use_imx ? " imatrix" : " plain");
            const gguf::TensorInfo* qt = fx.tensor(qn);
            ASSERT_TRUE(qt) << fx.name << ": missing " << qn;
            const std::span<const uint8_t> expected = fx.file->tensor_data(*qt);
            const size_t rs = row_size(k.type, fx.ncols);
            ASSERT_EQ(expected.size(), rs * static_cast<size_t>(fx.nrows)) << where;

            std::vector<uint8_t> got(expected.size());
            const size_t written =
                k.quantize(fx.source, got.data(), fx.nrows, fx.ncols, use_imx ? fx.imatrix : nullptr);
            ASSERT_EQ(written, expected.size()) << where;

            size_t nbad = 0, first = SIZE_MAX;
            for (size_t i = 0; i < got.size(); ++i) {
                if (got[i] != expected[i]) {
                    if (first == SIZE_MAX) first = i;
                    ++nbad;
                }
            }
            if (nbad) {
                const size_t blocks_per_row = rs / k.block_bytes;
                ADD_FAILURE() << where << ": " << nbad << " bytes differ from ggml; first at row " << first / rs
                              << " block " << (first % rs) / k.block_bytes << " of " << blocks_per_row
                              << " byte " << (first % rs) % k.block_bytes << ": expected 0x" << std::hex
                              << int{expected[first]} << ", actual 0x" << int{got[first]} << std::dec;
            }

            // Error check (the hard requirement): ours <= ggml's, plain RMSE or imatrix-weighted RMSE.
            std::vector<float> ours(static_cast<size_t>(n)), theirs(static_cast<size_t>(n));
            k.dequantize(got.data(), ours.data(), n);
            k.dequantize(expected.data(), theirs.data(), n);
            const Err eo = errors(fx.source, ours.data(), fx.nrows, fx.ncols, fx.imatrix);
            const Err eg = errors(fx.source, theirs.data(), fx.nrows, fx.ncols, fx.imatrix);
            if (use_imx) {
                EXPECT_LE(eo.wrmse, eg.wrmse * (1 + 1e-12)) << where << ": imatrix-weighted RMSE above ggml's";
            } else {
                EXPECT_LE(eo.rmse, eg.rmse * (1 + 1e-12)) << where << ": RMSE above ggml's";
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Blocks, KQuantFixture,
                         testing::Values("gauss", "outliers", "uniform", "special", "row256"),
                         [](const testing::TestParamInfo<const char*>& p) { return std::string(p.param); });

}  // namespace
