// Full-Hessian collection (ImatrixCollector(full_hessian = true), for GGUF GPTQ): over two chunks of
// stories260K, every weight's sum x x^T equals the outer products of the activation rows that weight
// multiplied (recorded by a second observer), its diagonal equals the imatrix sums, and weights fed the same
// input (attn_q/k/v, ffn_gate/up) share one sum while the others do not.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "common/shared.h"
#include "llm/imatrix_collector.h"
#include "llm/model.h"

namespace edgeq::llm {
namespace {

constexpr double kRelTol = 1e-9;  // the same double products, summed in the same order

// Forwards to the collector and keeps a copy of every input row per weight.
class Recorder : public MatmulObserver {
  public:
    explicit Recorder(MatmulObserver* next) : next_(next) {}
    void observe(const Weight& w, const float* x, int64_t n_x) override {
        auto& v = rows[w.name];
        v.insert(v.end(), x, x + n_x * w.cols);
        next_->observe(w, x, n_x);
    }
    std::map<std::string, std::vector<float>> rows;

  private:
    MatmulObserver* next_;
};

TEST(HessianCollector, SumsEqualOuterProductsOfTheInputs) {
    EDGEQ_REQUIRE_SHARED(path, "fixtures/llm/models/stories260K-F32.gguf");
    ModelOptions o;
    o.threads = 1;
    o.n_ctx = 64;
    auto m = Model::load(path.string(), o);
    ASSERT_TRUE(m.ok()) << m.status().message();
    ImatrixCollector c(/*full_hessian=*/true);
    Recorder rec(&c);
    (*m)->set_observer(&rec);
    for (const std::vector<int32_t>& toks : {std::vector<int32_t>{1, 403, 407, 261, 378, 11, 300},
                                             std::vector<int32_t>{1, 45, 7, 290, 299, 12}}) {
        ASSERT_TRUE((*m)->eval(toks, 0, true).ok());
    }
    (*m)->set_observer(nullptr);

    ASSERT_EQ(c.entries().size(), 36u);  // 5 layers x 7 + output
    for (const auto& [name, e] : c.entries()) {
        SCOPED_TRACE(name);
        ASSERT_NE(e.xtx, nullptr);
        const auto K = static_cast<int64_t>(e.sum2.size());
        const std::vector<float>& x = rec.rows.at(name);
        ASSERT_EQ(static_cast<int64_t>(x.size()), e.count * K);
        for (int64_t i = 0; i < K; i += 3) {
            for (int64_t j = i; j < K; j += 5) {
                double want = 0;
                for (int64_t t = 0; t < e.count; ++t)
                    want += static_cast<double>(x[t * K + i]) * x[t * K + j];
                const double got = (*e.xtx)[static_cast<size_t>(i * K + j)];
                ASSERT_NEAR(got, want, kRelTol * (std::fabs(want) + 1e-12)) << i << "," << j;
            }
            ASSERT_NEAR((*e.xtx)[static_cast<size_t>(i * K + i)], e.sum2[static_cast<size_t>(i)],
                        kRelTol * e.sum2[static_cast<size_t>(i)]);
        }
    }
    const auto& E = c.entries();
    EXPECT_EQ(E.at("blk.1.attn_q.weight").xtx, E.at("blk.1.attn_k.weight").xtx);
    EXPECT_EQ(E.at("blk.1.attn_q.weight").xtx, E.at("blk.1.attn_v.weight").xtx);
    EXPECT_EQ(E.at("blk.1.ffn_gate.weight").xtx, E.at("blk.1.ffn_up.weight").xtx);
    EXPECT_NE(E.at("blk.1.attn_q.weight").xtx, E.at("blk.1.ffn_gate.weight").xtx);
    EXPECT_NE(E.at("blk.1.attn_q.weight").xtx, E.at("blk.2.attn_q.weight").xtx);
    EXPECT_NE(E.at("blk.1.attn_output.weight").xtx, E.at("blk.1.ffn_down.weight").xtx);

    // Without full_hessian nothing but the diagonal is kept.
    ImatrixCollector d;
    (*m)->set_observer(&d);
    ASSERT_TRUE((*m)->eval(std::vector<int32_t>{1, 403, 407}, 0, true).ok());
    (*m)->set_observer(nullptr);
    EXPECT_EQ(d.entries().at("blk.0.attn_q.weight").xtx, nullptr);
}

}  // namespace
}  // namespace edgeq::llm
