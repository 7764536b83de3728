// FakeQuant (com.edgeq, the QAT building block): forward is quantize-dequantize; gradients follow the
// straight-through estimator for x and LSQ's step-size derivative for the scale.
#include <gtest/gtest.h>

#include <cmath>

#include "unit/train/grad_check.h"

namespace edgeq::train {
namespace {

using namespace testing;

graph::Model fq_model(const Tensor& x, const Tensor& s, int64_t qmin, int64_t qmax, int64_t axis) {
    auto m = one_node("FakeQuant", {{"x", x}, {"s", s}}, {"x", "s"}, {},
                      {{"qmin", one_int(qmin)}, {"qmax", one_int(qmax)}, {"axis", one_int(axis)}});
    m.graph.nodes[0].domain = "com.edgeq";
    m.opsets["com.edgeq"] = 1;
    return m;
}

// The definitions, written independently of the op: per element v = x/s.
struct Expected {
    float y, dx_per_dy, ds_per_dy;
};
Expected expected(float x, float s, float qmin, float qmax) {
    const float v = x / s;
    const float q = std::min(std::max(std::nearbyint(v), qmin), qmax);
    if (v < qmin) return {q * s, 0.0f, qmin};
    if (v > qmax) return {q * s, 0.0f, qmax};
    return {q * s, 1.0f, std::nearbyint(v) - v};
}

void check(const Tensor& x, const Tensor& s, int64_t qmin, int64_t qmax, int64_t axis) {
    auto net = Net::create(fq_model(x, s, qmin, qmax, axis)).value();
    ASSERT_TRUE(net.forward({{"x", x}, {"s", s}}, true).ok());
    const Tensor y = net.value("y").value();
    std::mt19937 rng(3);
    const Tensor r = random_tensor(y.shape(), rng);
    ASSERT_TRUE(net.backward({{"y", r}}).ok());
    const Tensor dx = net.grad("x"), ds = net.grad("s");
    ASSERT_FALSE(dx.empty_handle());
    ASSERT_FALSE(ds.empty_handle());
    std::vector<double> want_ds(static_cast<size_t>(s.numel()), 0.0);
    const int64_t C = s.numel();
    for (int64_t i = 0; i < x.numel(); ++i) {
        // axis 0 (per output channel, the weight case) or per tensor
        const int64_t ch = C == 1 ? 0 : i / (x.numel() / x.dim(0));
        const Expected e = expected(x.data<float>()[i], s.data<float>()[ch], static_cast<float>(qmin),
                                    static_cast<float>(qmax));
        EXPECT_FLOAT_EQ(y.data<float>()[i], e.y) << i;
        EXPECT_FLOAT_EQ(dx.data<float>()[i], e.dx_per_dy * r.data<float>()[i]) << i;
        want_ds[static_cast<size_t>(ch)] += static_cast<double>(e.ds_per_dy) * r.data<float>()[i];
    }
    for (int64_t c = 0; c < C; ++c) EXPECT_NEAR(ds.data<float>()[c], want_ds[static_cast<size_t>(c)], 1e-4) << c;
}

TEST(FakeQuant, PerTensorSteLsq) {
    std::mt19937 rng(1);
    const Tensor x = random_tensor({3, 7}, rng, -2.0f, 2.0f);
    check(x, Tensor::from_vector<float>(DType::F32, {1}, {0.05f}), -8, 7, 0);  // int4: many values clipped
    check(x, Tensor::from_vector<float>(DType::F32, {1}, {0.02f}), -128, 127, 0);
}

TEST(FakeQuant, PerChannelAxis0) {
    std::mt19937 rng(2);
    const Tensor x = random_tensor({4, 2, 3, 3}, rng, -1.0f, 1.0f);
    check(x, Tensor::from_vector<float>(DType::F32, {4}, {0.3f, 0.1f, 0.05f, 0.6f}), -2, 1, 0);  // int2
}

TEST(FakeQuant, RejectsBadScale) {
    const Tensor x = Tensor::from_vector<float>(DType::F32, {2}, {1, 2});
    auto net = Net::create(fq_model(x, Tensor::from_vector<float>(DType::F32, {1}, {0.0f}), -8, 7, 0)).value();
    EXPECT_FALSE(net.forward({{"x", x}, {"s", Tensor::from_vector<float>(DType::F32, {1}, {0.0f})}}, true).ok());
    auto net2 = Net::create(fq_model(x, Tensor::from_vector<float>(DType::F32, {3}, {1, 1, 1}), -8, 7, 0)).value();
    EXPECT_FALSE(net2.forward({{"x", x}, {"s", Tensor::from_vector<float>(DType::F32, {3}, {1, 1, 1})}}, true).ok());
}

}  // namespace
}  // namespace edgeq::train
