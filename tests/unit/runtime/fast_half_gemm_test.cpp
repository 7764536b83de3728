// The fast executor on weight-only FP16 / BF16 models (runtime/fast/half_gemm.h): MatMul and Gemm whose weight
// is Cast(to = FLOAT) of an F16 / BF16 initializer (what `edgeq quantize --method fp16|bf16` writes) run the
// half GEMM rows on the packed 16-bit weights, agree with the reference executor, and name the row in the trace;
// alpha != 1 keeps the FP32 row. Weights larger than the planner's 65,536-element constant folding, so the Cast
// is widened by half_gemm.cpp, not by the generic folding.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "common/graph_io.h"
#include "core/fp16.h"
#include "runtime/fast/executor.h"
#include "runtime/ref/executor.h"
#include "unit/runtime/attrs.h"

namespace edgeq::runtime::fast {
namespace {

graph::Node make(const std::string& op, std::vector<std::string> in, std::string out,
                 std::map<std::string, graph::Attribute> attrs = {}) {
    graph::Node n;
    n.name = out + "_node";
    n.op_type = op;
    n.inputs = std::move(in);
    n.outputs = {std::move(out)};
    n.attrs = std::move(attrs);
    return n;
}

// x[M, K] -> op(x, Cast(w16)) [+ Cast(bias16)] -> y; w16 is K×N (MatMul) or N×K (Gemm transB = 1).
graph::Model half_model(DType half, const std::string& op, int64_t M, int64_t K, int64_t N, float alpha, std::mt19937& rng) {
    graph::Model m = test::model_x_to_y("half", {M, K});
    std::uniform_real_distribution<float> d(-0.5f, 0.5f);
    auto init16 = [&](const std::string& name, Shape s) {
        Tensor t(half, s);
        for (int64_t i = 0; i < t.numel(); ++i)
            t.data<uint16_t>()[i] = half == DType::F16 ? f32_to_fp16(d(rng)) : f32_to_bf16(d(rng));
        m.graph.initializers[name] = t;
    };
    const bool gemm = op == "Gemm";
    init16("w16", gemm ? Shape{N, K} : Shape{K, N});
    m.graph.nodes.push_back(make("Cast", {"w16"}, "w", {{"to", test::one_int(1)}}));
    if (gemm) {
        init16("b16", {N});
        m.graph.nodes.push_back(make("Cast", {"b16"}, "b", {{"to", test::one_int(1)}}));
        m.graph.nodes.push_back(
            make("Gemm", {"x", "w", "b"}, "y", {{"transB", test::one_int(1)}, {"alpha", test::one_float(alpha)}}));
    } else {
        m.graph.nodes.push_back(make("MatMul", {"x", "w"}, "y"));
    }
    return m;
}

void check(DType half, const std::string& op, float alpha, const std::string& want_kernel) {
    std::mt19937 rng(9);
    const int64_t M = 5, K = 300, N = 257;  // K·N > 65,536: not folded by the generic constant folding
    const graph::Model m = half_model(half, op, M, K, N, alpha, rng);
    Tensor xt(DType::F32, {M, K});
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    for (int64_t i = 0; i < xt.numel(); ++i) xt.data<float>()[i] = d(rng);
    const std::map<std::string, Tensor> in{{"x", xt}};
    auto ref = run_reference(m, in);
    ASSERT_TRUE(ref.ok()) << ref.status().message();
    for (int threads : {1, 2}) {
        auto p = plan(m, {{"x", xt.shape()}}, {threads, false});
        ASSERT_TRUE(p.ok()) << p.status().message();
        EXPECT_NE(p->trace().find(want_kernel), std::string::npos) << p->trace();
        for (int rep = 0; rep < 2; ++rep) {
            auto got = p->run(in);
            ASSERT_TRUE(got.ok()) << got.status().message();
            const auto a = ref->at("y").to_f32(), b = got->at("y").to_f32();
            ASSERT_EQ(a.size(), b.size());
            for (size_t i = 0; i < a.size(); ++i)  // |terms| ≤ 0.5, K = 300: sums reordered in f32
                ASSERT_NEAR(a[i], b[i], 1e-4f) << op << " " << dtype_name(half) << " index " << i << "\n" << p->trace();
        }
    }
}

TEST(FastHalfGemm, MatMulOnF16WeightsRunsTheF16Row) { check(DType::F16, "MatMul", 1.0f, "gemm_f16_f32__"); }
TEST(FastHalfGemm, GemmTransBOnBf16WeightsRunsTheBf16Row) { check(DType::BF16, "Gemm", 1.0f, "gemm_bf16_f32__"); }
TEST(FastHalfGemm, AlphaKeepsTheFp32Row) { check(DType::F16, "Gemm", 0.5f, "gemm_f32_f32_f32__"); }

}  // namespace
}  // namespace edgeq::runtime::fast
