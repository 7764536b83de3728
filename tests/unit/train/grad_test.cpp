// Every op's gradient against central finite differences (tolerances in grad_check.h), on small awkward shapes.
#include <gtest/gtest.h>

#include "unit/train/grad_check.h"
#include "train/models.h"
#include "train/trainer.h"

namespace edgeq::train {
namespace {

using namespace testing;

Tensor i64(Shape s, std::vector<int64_t> v) { return Tensor::from_vector<int64_t>(DType::I64, std::move(s), v); }

TEST(Grad, GemmAllTransposes) {
    std::mt19937 rng(1);
    for (int ta = 0; ta < 2; ++ta)
        for (int tb = 0; tb < 2; ++tb) {
            const Tensor a = random_tensor(ta ? Shape{5, 3} : Shape{3, 5}, rng);
            const Tensor b = random_tensor(tb ? Shape{7, 5} : Shape{5, 7}, rng);
            const Tensor c = random_tensor({7}, rng);
            auto m = one_node("Gemm", {{"a", a}, {"b", b}, {"c", c}}, {"a", "b", "c"}, {},
                              {{"transA", one_int(ta)}, {"transB", one_int(tb)}, {"alpha", one_float(0.7f)},
                               {"beta", one_float(1.3f)}});
            SCOPED_TRACE("transA " + std::to_string(ta) + " transB " + std::to_string(tb));
            check_gradients(m, {{"a", a}, {"b", b}, {"c", c}});
        }
}

TEST(Grad, GemmBiasColumnBroadcastAndNoBias) {
    std::mt19937 rng(2);
    const Tensor a = random_tensor({4, 6}, rng), b = random_tensor({6, 3}, rng), c = random_tensor({4, 1}, rng);
    check_gradients(one_node("Gemm", {{"a", a}, {"b", b}, {"c", c}}, {"a", "b", "c"}, {}), {{"a", a}, {"b", b}, {"c", c}});
    check_gradients(one_node("Gemm", {{"a", a}, {"b", b}}, {"a", "b"}, {}), {{"a", a}, {"b", b}});
}

TEST(Grad, MatMulFlattenedAndBatched) {
    std::mt19937 rng(3);
    const Tensor a = random_tensor({2, 3, 5}, rng), b = random_tensor({5, 4}, rng);
    check_gradients(one_node("MatMul", {{"a", a}, {"b", b}}, {"a", "b"}, {}), {{"a", a}, {"b", b}});
    const Tensor bb = random_tensor({2, 5, 4}, rng);
    check_gradients(one_node("MatMul", {{"a", a}, {"b", bb}}, {"a", "b"}, {}), {{"a", a}, {"b", bb}});
}

struct ConvCase {
    const char* name;
    Shape x, w;
    int64_t group;
    std::vector<int64_t> strides, pads, dilations;
    bool bias;
};

TEST(Grad, ConvStridesPadsGroupsDepthwise) {
    const ConvCase cases[] = {
        {"3x3 stride 2 pad 1", {2, 3, 7, 6}, {4, 3, 3, 3}, 1, {2, 2}, {1, 1, 1, 1}, {1, 1}, true},
        {"grouped, asymmetric pads", {1, 4, 5, 6}, {6, 2, 3, 2}, 2, {1, 2}, {0, 1, 1, 0}, {1, 1}, true},
        {"depthwise stride 2 dilation 2", {2, 3, 8, 7}, {3, 1, 3, 3}, 3, {2, 2}, {2, 1, 1, 2}, {2, 2}, false},
        {"pointwise 1x1", {2, 5, 3, 4}, {3, 5, 1, 1}, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}, true},
        {"1x1 stride 2 (im2col)", {1, 2, 5, 5}, {3, 2, 1, 1}, 1, {2, 2}, {0, 0, 0, 0}, {1, 1}, false},
    };
    std::mt19937 rng(4);
    for (const ConvCase& c : cases) {
        SCOPED_TRACE(c.name);
        const Tensor x = random_tensor(c.x, rng), w = random_tensor(c.w, rng), b = random_tensor({c.w[0]}, rng);
        std::vector<std::pair<std::string, Tensor>> in{{"x", x}, {"w", w}};
        std::vector<std::string> order{"x", "w"};
        std::map<std::string, Tensor> feeds{{"x", x}, {"w", w}};
        if (c.bias) {
            in.push_back({"b", b});
            order.push_back("b");
            feeds["b"] = b;
        }
        auto m = one_node("Conv", in, order, {},
                          {{"group", one_int(c.group)}, {"strides", ints(c.strides)},
                           {"pads", ints(c.pads)}, {"dilations", ints(c.dilations)}});
        check_gradients(m, feeds);
    }
}

TEST(Grad, BatchNormTrainingAndInference) {
    std::mt19937 rng(5);
    for (const Shape& s : {Shape{3, 2, 3, 4}, Shape{5, 3}}) {
        const int64_t C = s[1];
        const Tensor x = random_tensor(s, rng), g = random_tensor({C}, rng, 0.5f, 1.5f), b = random_tensor({C}, rng);
        const std::map<std::string, Tensor> stats{{"mean", random_tensor({C}, rng)},
                                                  {"var", random_tensor({C}, rng, 0.5f, 2.0f)}};
        auto m = one_node("BatchNormalization", {{"x", x}, {"g", g}, {"b", b}}, {"x", "g", "b", "mean", "var"}, stats,
                          {{"epsilon", one_float(1e-3f)}});
        SCOPED_TRACE(shape_str(s));
        check_gradients(m, {{"x", x}, {"g", g}, {"b", b}}, /*training=*/true);
        check_gradients(m, {{"x", x}, {"g", g}, {"b", b}}, /*training=*/false);
    }
}

TEST(Grad, BatchNormUpdatesRunningStatistics) {
    const Tensor x = Tensor::from_vector<float>(DType::F32, {4, 1}, {1, 2, 3, 6});
    const std::map<std::string, Tensor> init{{"g", Tensor::from_vector<float>(DType::F32, {1}, {1})},
                                             {"b", Tensor::from_vector<float>(DType::F32, {1}, {0})},
                                             {"mean", Tensor::from_vector<float>(DType::F32, {1}, {0})},
                                             {"var", Tensor::from_vector<float>(DType::F32, {1}, {1})}};
    auto m = one_node("BatchNormalization", {{"x", x}}, {"x", "g", "b", "mean", "var"}, init,
                      {{"momentum", one_float(0.75f)}});
    auto net = Net::create(m).value();
    ASSERT_TRUE(net.forward({{"x", x}}, true).ok());
    // batch mean 3, population variance (4 + 1 + 0 + 9) / 4 = 3.5
    EXPECT_FLOAT_EQ(net.model().graph.initializers.at("mean").data<float>()[0], 0.25f * 3.0f);
    EXPECT_FLOAT_EQ(net.model().graph.initializers.at("var").data<float>()[0], 0.75f + 0.25f * 3.5f);
    ASSERT_TRUE(net.forward({{"x", x}}, false).ok());  // inference: running statistics, unchanged
    EXPECT_FLOAT_EQ(net.model().graph.initializers.at("mean").data<float>()[0], 0.75f);
}

TEST(Grad, LayerNormalization) {
    std::mt19937 rng(6);
    const Tensor x = random_tensor({3, 2, 5}, rng), g = random_tensor({5}, rng), b = random_tensor({5}, rng);
    check_gradients(one_node("LayerNormalization", {{"x", x}, {"g", g}, {"b", b}}, {"x", "g", "b"}, {}, {}, 17),
                    {{"x", x}, {"g", g}, {"b", b}});
}

TEST(Grad, Activations) {
    std::mt19937 rng(7);
    const Tensor x = distinct_tensor({2, 3, 7}, rng, 0.045f);  // |x| >= 0.0225 > ε: no step crosses 0
    for (const char* op : {"Relu", "Sigmoid", "Tanh", "Gelu", "Identity"}) {
        SCOPED_TRACE(op);
        check_gradients(one_node(op, {{"x", x}}, {"x"}, {}), {{"x", x}});
    }
    check_gradients(one_node("Gelu", {{"x", x}}, {"x"}, {}, {{"approximate", str("tanh")}}, 20), {{"x", x}});
    // Clip bounds between grid points (x takes values (k + 0.5)·0.045).
    const std::map<std::string, Tensor> bounds{{"lo", Tensor::scalar_f32(-0.405f)}, {"hi", Tensor::scalar_f32(0.27f)}};
    check_gradients(one_node("Clip", {{"x", x}}, {"x", "lo", "hi"}, bounds), {{"x", x}});
}

TEST(Grad, MaxPoolStridePadCeil) {
    std::mt19937 rng(8);
    const Tensor x = distinct_tensor({2, 2, 7, 6}, rng, 0.03f);
    check_gradients(one_node("MaxPool", {{"x", x}}, {"x"}, {},
                             {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})},
                              {"pads", ints({1, 1, 1, 1})}}),
                    {{"x", x}});
    check_gradients(one_node("MaxPool", {{"x", x}}, {"x"}, {},
                             {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})},
                              {"ceil_mode", one_int(1)}}),
                    {{"x", x}});
    // Windows inside the plane (no pads, no overhang): the bounds-free loop.
    check_gradients(one_node("MaxPool", {{"x", x}}, {"x"}, {},
                             {{"kernel_shape", ints({3, 2})}, {"strides", ints({2, 1})}}),
                    {{"x", x}});
}

// Forward values against the definition, on the bounds-free path (windows inside the plane, with ties and NaN)
// and the general one (pads): the maximum, the first one in scan order on ties, NaN when the first tap is NaN.
TEST(Grad, MaxPoolForwardMatchesTheDefinition) {
    std::mt19937 rng(3);
    Tensor x = distinct_tensor({1, 3, 7, 9}, rng, 0.03f);
    float* v = x.data<float>();
    v[0] = v[1] = v[9] = v[10] = 0.5f;  // a tie in the first window
    v[63 + 2 * 9 + 4] = NAN;              // plane 1: first tap of window (oy 1, ox 2) for stride 2, no pad
    struct Case {
        std::vector<int64_t> k, s, p;
    };
    for (const Case& c : {Case{{2, 2}, {2, 2}, {0, 0, 0, 0}}, Case{{3, 2}, {1, 3}, {0, 0, 0, 0}},
                          Case{{2, 3}, {2, 2}, {1, 0, 0, 1}}}) {
        auto made = Net::create(one_node("MaxPool", {{"x", x}}, {"x"}, {},
                                         {{"kernel_shape", ints(c.k)}, {"strides", ints(c.s)}, {"pads", ints(c.p)}}));
        ASSERT_TRUE(made.ok()) << made.status().message();
        Net net = std::move(made).value();
        ASSERT_TRUE(net.forward({{"x", x}}, false).ok());
        const Tensor y = net.value(net.output_name()).value();
        const int64_t H = 7, W = 9;
        const int64_t OH = (H + c.p[0] + c.p[2] - c.k[0]) / c.s[0] + 1, OW = (W + c.p[1] + c.p[3] - c.k[1]) / c.s[1] + 1;
        ASSERT_EQ(y.shape(), (Shape{1, 3, OH, OW}));
        for (int64_t pl = 0; pl < 3; ++pl)
            for (int64_t oy = 0; oy < OH; ++oy)
                for (int64_t ox = 0; ox < OW; ++ox) {
                    bool first = true;
                    float best = 0;
                    for (int64_t ky = 0; ky < c.k[0]; ++ky)
                        for (int64_t kx = 0; kx < c.k[1]; ++kx) {
                            const int64_t iy = oy * c.s[0] - c.p[0] + ky, ix = ox * c.s[1] - c.p[1] + kx;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                            const float t = v[(pl * H + iy) * W + ix];
                            if (first || t > best) best = t;
                            first = false;
                        }
                    const float got = y.data<float>()[(pl * OH + oy) * OW + ox];
                    if (std::isnan(best))
                        EXPECT_TRUE(std::isnan(got)) << pl << " " << oy << " " << ox;
                    else
                        EXPECT_EQ(got, best) << pl << " " << oy << " " << ox;
                }
    }
}

TEST(Grad, AveragePoolAndGlobal) {
    std::mt19937 rng(9);
    const Tensor x = random_tensor({2, 3, 5, 7}, rng);
    for (int include : {0, 1}) {
        SCOPED_TRACE(include);
        check_gradients(one_node("AveragePool", {{"x", x}}, {"x"}, {},
                                 {{"kernel_shape", ints({3, 2})}, {"strides", ints({2, 2})},
                                  {"pads", ints({1, 0, 1, 1})}, {"count_include_pad", one_int(include)}}),
                        {{"x", x}});
    }
    check_gradients(one_node("GlobalAveragePool", {{"x", x}}, {"x"}, {}), {{"x", x}});
}

TEST(Grad, AddMulBroadcast) {
    std::mt19937 rng(10);
    const Tensor a = random_tensor({2, 3, 4}, rng), b = random_tensor({3, 1}, rng), c = random_tensor({2, 3, 4}, rng);
    for (const char* op : {"Add", "Mul"}) {
        SCOPED_TRACE(op);
        check_gradients(one_node(op, {{"a", a}, {"b", b}}, {"a", "b"}, {}), {{"a", a}, {"b", b}});
        check_gradients(one_node(op, {{"b", b}, {"a", a}}, {"b", "a"}, {}), {{"a", a}, {"b", b}});
        check_gradients(one_node(op, {{"a", a}, {"c", c}}, {"a", "c"}, {}), {{"a", a}, {"c", c}});
    }
}

TEST(Grad, FlattenReshapeSoftmax) {
    std::mt19937 rng(11);
    const Tensor x = random_tensor({2, 3, 2, 2}, rng);
    check_gradients(one_node("Flatten", {{"x", x}}, {"x"}, {}, {{"axis", one_int(2)}}), {{"x", x}});
    check_gradients(one_node("Reshape", {{"x", x}}, {"x", "s"}, {{"s", i64({3}, {0, -1, 3})}}), {{"x", x}});
    check_gradients(one_node("Softmax", {{"x", x}}, {"x"}, {}, {{"axis", one_int(1)}}), {{"x", x}});
    check_gradients(one_node("Softmax", {{"x", x}}, {"x"}, {}, {{"axis", one_int(1)}}, 11), {{"x", x}});
}

TEST(Grad, SoftmaxCrossEntropy) {
    std::mt19937 rng(12);
    Tensor logits = random_tensor({4, 5}, rng, -2, 2);
    const std::vector<int32_t> y{0, 4, 2, 2};
    Tensor d;
    const float l0 = softmax_cross_entropy(logits, y, &d).value();
    EXPECT_GT(l0, 0.0f);
    for (int64_t i = 0; i < logits.numel(); ++i) {
        float& v = logits.data<float>()[i];
        const float keep = v;
        v = keep + kFdStep;
        const double lp = softmax_cross_entropy(logits, y, nullptr).value();
        v = keep - kFdStep;
        const double lm = softmax_cross_entropy(logits, y, nullptr).value();
        v = keep;
        const double numeric = (lp - lm) / (2 * kFdStep), analytic = d.data<float>()[i];
        EXPECT_NEAR(analytic, numeric, kGradAbsTol + kGradRelTol * std::fabs(numeric)) << i;
    }
    EXPECT_FALSE(softmax_cross_entropy(logits, {0, 1, 5, 0}, nullptr).ok());  // label out of range
    EXPECT_FALSE(softmax_cross_entropy(logits, {0, 1}, nullptr).ok());        // count mismatch
}

// Whole built models: every parameter of a tiny CNN / dwsep net / MLP (batch statistics included).
TEST(Grad, BuiltClassifiersEndToEnd) {
    for (const char* arch : {"mlp", "cnn", "dwsep"}) {
        SCOPED_TRACE(arch);
        ArchSpec s;
        s.arch = arch;
        s.channels = 1;
        s.height = s.width = 4;
        s.classes = 3;
        s.seed = 3;
        graph::Model m = build_classifier(s).value();
        // A composite net has many Relu/MaxPool kinks that batch statistics move together, so the step is
        // smaller here (kFdStepComposite); about five elements of every parameter are checked.
        std::mt19937 rng(13);
        const Tensor x = random_tensor({8, 1, 4, 4}, rng);
        auto net = Net::create(m).value();
        ASSERT_TRUE(net.forward({{"input", x}}, true).ok());
        const Tensor r = random_tensor({8, 3}, rng);
        net.zero_grad();
        ASSERT_TRUE(net.backward({{"logits", r}}).ok());
        auto loss = [&] {
            EXPECT_TRUE(net.forward({{"input", x}}, true).ok());
            return weighted_sum(net.value("logits").value(), r);
        };
        const double l0 = loss();
        int checked = 0, kinks = 0;
        for (Param& p : net.params()) {
            float* v = p.value.data<float>();
            for (int64_t i = 0; i < p.value.numel(); i += std::max<int64_t>(1, p.value.numel() / 5)) {
                const float keep = v[i];
                v[i] = keep + kFdStepComposite;
                const double lp = loss();
                v[i] = keep - kFdStepComposite;
                const double lm = loss();
                v[i] = keep;
                // One-sided differences that disagree mean a kink lies within ±ε: not a smooth point, skipped.
                const double fwd = (lp - l0) / kFdStepComposite, bwd = (l0 - lm) / kFdStepComposite;
                if (std::fabs(fwd - bwd) > kGradAbsTol + kGradRelTol * std::max(std::fabs(fwd), std::fabs(bwd))) {
                    ++kinks;
                    continue;
                }
                ++checked;
                const double numeric = (lp - lm) / (2 * kFdStepComposite), analytic = p.grad.data<float>()[i];
                EXPECT_NEAR(analytic, numeric,
                            kGradAbsTol + kGradRelTol * std::max(std::fabs(analytic), std::fabs(numeric)))
                    << p.name << "[" << i << "]";
            }
        }
        EXPECT_GT(checked, 8 * kinks) << "too few smooth points checked";
    }
}

TEST(Grad, UnsupportedOpIsNamed) {
    std::mt19937 rng(14);
    const Tensor x = random_tensor({2, 2}, rng);
    auto r = Net::create(one_node("Erf", {{"x", x}}, {"x"}, {}));
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("Erf"), std::string::npos);
    EXPECT_NE(r.status().message().find("Conv"), std::string::npos);  // lists what is supported
}

}  // namespace
}  // namespace edgeq::train
