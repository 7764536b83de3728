// Cross-type compatibility with ggml (llama.cpp 0ad4a86), against the block fixtures in
// shared/fixtures/blocks (README section A). For every dtype with a codec and every fixture file that
// carries it:
//   (a) our dequantizer applied to ggml's `<T>.q` bytes reproduces ggml's `<T>.deq` bit for bit;
//   (b) our quantizer applied to `source` is at least as accurate as ggml's: RMSE <= ggml's RMSE for the
//       plain variant, imatrix-weighted RMSE <= ggml's for the `.imx` variant (quantized with the file's
//       `imatrix` tensor). ggml's numbers are computed here from `.deq` vs `source` (and cross-checked
//       against blocks_summary.json); the only slack is 1e-12 relative, for summation order.
// Whether our bytes equal ggml's is reported (the "bytes" column) but not required: the contract is (b).
// The test prints one table per type: file, variant, bits/weight, edgeq RMSE, ggml RMSE, ratio, bytes
// identical (and the rows where we are worse, for files small enough to have per-row numbers).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/shared.h"
#include "edgeq/dtype.h"
#include "formats/gguf/gguf.h"

namespace edgeq {
namespace {

constexpr const char* kFiles[] = {"gauss", "outliers", "uniform", "special", "row256"};
constexpr double kRelSlack = 1e-12;

std::string fixture_rel(const std::string& name) { return "fixtures/blocks/blocks_" + name + ".gguf"; }

// One opened fixture file, with its source and imatrix copied out as floats.
struct Fixture {
    std::string name;
    std::unique_ptr<gguf::File> file;
    int64_t ne0 = 0, nrows = 0;
    std::vector<float> source, imatrix;
};

std::vector<float> as_floats(const gguf::File& f, const gguf::TensorInfo& t) {
    const auto bytes = f.tensor_data(t);
    std::vector<float> v(bytes.size() / sizeof(float));
    std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
    return v;
}

// Opens (once per process) a fixture file; nullptr and a failure message if it is unreadable.
const Fixture* load_fixture(const std::string& name, const std::filesystem::path& path) {
    static std::map<std::string, std::unique_ptr<Fixture>> cache;
    if (auto it = cache.find(name); it != cache.end()) return it->second.get();
    auto r = gguf::File::open(path.string());
    if (!r.ok()) {
        ADD_FAILURE() << "cannot open " << path << ": " << r.status().message();
        return nullptr;
    }
    auto fx = std::make_unique<Fixture>();
    fx->name = name;
    fx->file = std::move(r).value();
    const auto* src = fx->file->find_tensor("source");
    const auto* imx = fx->file->find_tensor("imatrix");
    if (!src || !imx || src->type != DType::F32 || imx->type != DType::F32 || src->ne.size() != 2 ||
        imx->n_elements() != src->ne[0]) {
        ADD_FAILURE() << path << ": expected F32 `source` [ne0, rows] and F32 `imatrix` [ne0]";
        return nullptr;
    }
    fx->ne0 = src->ne[0];
    fx->nrows = src->n_rows();
    fx->source = as_floats(*fx->file, *src);
    fx->imatrix = as_floats(*fx->file, *imx);
    return (cache[name] = std::move(fx)).get();
}

// blocks_summary.json, if present (used only as a cross-check of the metrics computed here).
const nlohmann::json* summary() {
    static std::optional<nlohmann::json> j;
    static bool tried = false;
    if (!tried) {
        tried = true;
        const auto p = test::shared_file("fixtures/blocks/blocks_summary.json");
        if (!p.empty()) {
            std::ifstream in(p);
            j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
            if (j->is_discarded()) j.reset();
        }
    }
    return j ? &*j : nullptr;
}

struct Metrics {
    double rmse = 0, wrmse = 0;
    std::vector<double> row_rmse;
};

// rmse = sqrt(mean((deq - src)^2)); wrmse = sqrt(sum_ij w_j e_ij^2 / sum_ij w_j), w = imatrix.
Metrics metrics(const Fixture& fx, const std::vector<float>& deq) {
    Metrics m;
    double se = 0, wse = 0, wsum = 0;
    for (int64_t r = 0; r < fx.nrows; ++r) {
        double row_se = 0;
        for (int64_t j = 0; j < fx.ne0; ++j) {
            const size_t i = static_cast<size_t>(r * fx.ne0 + j);
            const double e = static_cast<double>(deq[i]) - static_cast<double>(fx.source[i]);
            const double w = fx.imatrix[static_cast<size_t>(j)];
            row_se += e * e;
            wse += w * e * e;
            wsum += w;
        }
        se += row_se;
        m.row_rmse.push_back(std::sqrt(row_se / static_cast<double>(fx.ne0)));
    }
    m.rmse = std::sqrt(se / static_cast<double>(fx.nrows * fx.ne0));
    m.wrmse = wsum > 0 ? std::sqrt(wse / wsum) : 0.0;
    return m;
}

std::vector<float> dequantize_all(DType t, const uint8_t* q, int64_t nrows, int64_t ne0) {
    std::vector<float> out(static_cast<size_t>(nrows * ne0));
    const size_t rs = row_size(t, ne0);
    for (int64_t r = 0; r < nrows; ++r) dequantize_row(t, q + r * rs, out.data() + r * ne0, ne0);
    return out;
}

bool leq(double ours, double ggml) { return ours <= ggml * (1.0 + kRelSlack); }

class GgmlCompat : public ::testing::TestWithParam<DType> {};

TEST_P(GgmlCompat, MatchesGgmlBlocks) {
    const DType t = GetParam();
    const char* tname = dtype_name(t);
    EDGEQ_REQUIRE_SHARED(probe, fixture_rel(kFiles[0]));
    (void)probe;

    int files_with_type = 0;
    for (const char* fname : kFiles) {
        const auto path = test::shared_file(fixture_rel(fname));
        const Fixture* fx = path.empty() ? nullptr : load_fixture(fname, path);
        if (fx && fx->file->find_tensor(std::string(tname) + ".q")) ++files_with_type;
    }
    if (files_with_type == 0) GTEST_SKIP() << "the ggml block fixtures carry no " << tname;

    std::printf("\n  %-8s %-8s %-7s %6s %13s %13s %9s %6s %s\n", "type", "file", "variant", "bpw",
                "edgeq", "ggml", "ratio", "bytes", "rows worse");
    for (const char* fname : kFiles) {
        const auto path = test::shared_file(fixture_rel(fname));
        if (path.empty()) {
            std::printf("  %-8s %-8s (fixture file missing: skipped)\n", tname, fname);
            continue;
        }
        const Fixture* fx = load_fixture(fname, path);
        if (!fx) continue;
        const nlohmann::json* js = nullptr;
        if (const auto* s = summary()) {
            const std::string key = std::string("blocks_") + fname + ".gguf";
            if (s->contains("files") && (*s)["files"].contains(key) && (*s)["files"][key]["types"].contains(tname))
                js = &(*s)["files"][key]["types"][tname];
        }

        for (const bool imx : {false, true}) {
            const std::string base = std::string(tname) + (imx ? ".imx" : "");
            const auto* tq = fx->file->find_tensor(base + ".q");
            const auto* tdeq = fx->file->find_tensor(base + ".deq");
            if (!tq) continue;
            const std::string where = std::string(fname) + " " + base;
            ASSERT_NE(tdeq, nullptr) << where << ": `.q` without `.deq`";
            ASSERT_EQ(tq->type, t) << where << ": tensor type";
            ASSERT_EQ(tq->ne, (std::vector<int64_t>{fx->ne0, fx->nrows})) << where << ": shape";
            ASSERT_EQ(tdeq->type, DType::F32) << where;
            const auto qbytes = fx->file->tensor_data(*tq);
            const size_t rs = row_size(t, fx->ne0);
            ASSERT_EQ(qbytes.size(), rs * static_cast<size_t>(fx->nrows)) << where << ": byte size";
            const std::vector<float> ggml_deq = as_floats(*fx->file, *tdeq);

            // (a) our dequantizer on ggml's bytes == ggml's floats, bitwise.
            const std::vector<float> our_deq_of_ggml = dequantize_all(t, qbytes.data(), fx->nrows, fx->ne0);
            for (size_t i = 0; i < ggml_deq.size(); ++i) {
                if (std::memcmp(&ggml_deq[i], &our_deq_of_ggml[i], sizeof(float)) != 0) {
                    ADD_FAILURE() << "dequantize mismatch: file " << fname << ", type " << base << ", row "
                                  << i / static_cast<size_t>(fx->ne0) << ", first bad index "
                                  << i % static_cast<size_t>(fx->ne0) << ": expected (ggml) "
                                  << ggml_deq[i] << ", actual (edgeq) " << our_deq_of_ggml[i];
                    break;
                }
            }

            // (b) our quantization of the source, same imatrix usage as ggml's variant.
            std::vector<uint8_t> ours(qbytes.size());
            const size_t written =
                quantize(t, fx->source.data(), ours.data(), fx->nrows, fx->ne0, imx ? fx->imatrix.data() : nullptr);
            ASSERT_EQ(written, ours.size()) << where;
            const bool identical = std::memcmp(ours.data(), qbytes.data(), ours.size()) == 0;
            const std::vector<float> our_deq = dequantize_all(t, ours.data(), fx->nrows, fx->ne0);
            for (size_t i = 0; i < our_deq.size(); ++i) {
                if (!std::isfinite(our_deq[i])) {
                    ADD_FAILURE() << where << ": non-finite output at row " << i / static_cast<size_t>(fx->ne0)
                                  << ", index " << i % static_cast<size_t>(fx->ne0) << ": " << our_deq[i];
                    break;
                }
            }
            const Metrics mo = metrics(*fx, our_deq), mg = metrics(*fx, ggml_deq);
            const double eo = imx ? mo.wrmse : mo.rmse, eg = imx ? mg.wrmse : mg.rmse;

            std::string worse = "-";
            if (fx->nrows <= 16) {
                worse.clear();
                for (int64_t r = 0; r < fx->nrows; ++r)
                    if (!leq(mo.row_rmse[r], mg.row_rmse[r])) worse += (worse.empty() ? "" : ",") + std::to_string(r);
                if (worse.empty()) worse = "none";
            }
            std::printf("  %-8s %-8s %-7s %6.4f %13.6e %13.6e %9.6f %6s %s\n", tname, fname,
                        imx ? "imx-w" : "plain", 8.0 * static_cast<double>(ours.size()) /
                                                     static_cast<double>(fx->nrows * fx->ne0),
                        eo, eg, eg > 0 ? eo / eg : (eo == 0 ? 1.0 : INFINITY), identical ? "same" : "differ",
                        worse.c_str());
            if (imx) {  // the plain RMSE of the imatrix variant, for information
                std::printf("  %-8s %-8s %-7s %6s %13.6e %13.6e %9.6f\n", "", "", "imx-rms", "", mo.rmse,
                            mg.rmse, mg.rmse > 0 ? mo.rmse / mg.rmse : 1.0);
            }
            std::fflush(stdout);

            if (imx) {
                EXPECT_TRUE(leq(mo.wrmse, mg.wrmse))
                    << where << ": imatrix-weighted RMSE edgeq " << mo.wrmse << " > ggml " << mg.wrmse;
            } else {
                EXPECT_TRUE(leq(mo.rmse, mg.rmse)) << where << ": RMSE edgeq " << mo.rmse << " > ggml " << mg.rmse;
            }

            // Cross-check of ggml's metrics with the json written by the fixture generator.
            if (js && js->contains(imx ? "imatrix" : "plain")) {
                const auto& e = (*js)[imx ? "imatrix" : "plain"];
                EXPECT_NEAR(mg.rmse, e.value("rmse", -1.0), 1e-9 * mg.rmse + 1e-30) << where << ": json rmse";
                EXPECT_NEAR(mg.wrmse, e.value("imatrix_weighted_rmse", -1.0), 1e-9 * mg.wrmse + 1e-30)
                    << where << ": json imatrix_weighted_rmse";
                EXPECT_EQ(qbytes.size(), e.value("bytes", size_t{0})) << where << ": json bytes";
            }
        }
    }
}

std::vector<DType> codec_types() {
    std::vector<DType> v;
    for (const auto& row : all_dtypes())
        if (row.quantize != nullptr) v.push_back(row.type);
    return v;
}

INSTANTIATE_TEST_SUITE_P(AllCodecs, GgmlCompat, ::testing::ValuesIn(codec_types()),
                         [](const ::testing::TestParamInfo<DType>& i) { return std::string(dtype_name(i.param)); });

}  // namespace
}  // namespace edgeq
