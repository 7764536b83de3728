// Weight quantization to ONNX DequantizeLinear inputs (src/quant/ptq/weight_quant.h): known values, every
// granularity x type x symmetry against an independent DequantizeLinear reference, MSE clipping, errors.
#include "quant/ptq/weight_quant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace edgeq::quant::ptq {
namespace {

constexpr QType kAllTypes[] = {QType::I8, QType::U8, QType::I4, QType::U4, QType::I2, QType::U2};

Tensor f32(Shape shape, std::vector<float> v) {
    return Tensor::from_vector<float>(DType::F32, std::move(shape), v);
}

std::vector<float> floats(const Tensor& t) {
    return t.to_f32();
}

// ONNX DequantizeLinear (opset 21) written from the spec, independent of the implementation: the scale /
// zero point of element x[i0, .., in] is at the same index with the axis coordinate divided by block_size
// (blocked), at [i_axis] (per-axis, scale rank 1) or the scalar (per-tensor).
std::vector<float> onnx_dequantize(const QuantizedWeight& qw, const Shape& shape) {
    const std::vector<int32_t> q = unpack_values(qw.q);
    const std::vector<int32_t> zp = unpack_values(qw.zero_point);
    const std::vector<float> sc = floats(qw.scale);
    const int64_t rank = static_cast<int64_t>(shape.size());
    std::vector<float> out(q.size());
    std::vector<int64_t> idx(static_cast<size_t>(rank), 0);
    for (size_t flat = 0; flat < q.size(); ++flat) {
        int64_t rem = static_cast<int64_t>(flat);
        for (int64_t d = rank - 1; d >= 0; --d) {
            idx[static_cast<size_t>(d)] = rem % shape[static_cast<size_t>(d)];
            rem /= shape[static_cast<size_t>(d)];
        }
        int64_t s = 0;
        if (qw.scale.rank() == 0) {
            s = 0;
        } else if (qw.block_size == 0) {
            s = idx[static_cast<size_t>(qw.axis)];
        } else {
            const Shape& ss = qw.scale.shape();
            for (int64_t d = 0; d < rank; ++d) {
                int64_t c = idx[static_cast<size_t>(d)];
                if (d == qw.axis) c /= qw.block_size;
                s = s * ss[static_cast<size_t>(d)] + c;
            }
        }
        out[flat] = static_cast<float>(q[flat] - zp[static_cast<size_t>(s)]) * sc[static_cast<size_t>(s)];
    }
    return out;
}

TEST(PtqWeight, KnownPerTensorInt4Symmetric) {
    // max|w| = 7: scale 1 exactly; ties round to even; -7.5 would saturate at -8.
    const Tensor w = f32({7}, {7.f, -7.f, 2.5f, 3.5f, -2.5f, 0.5f, 1.4f});
    auto r = quantize_weight(w, {.type = QType::I4, .granularity = Granularity::Tensor, .symmetric = true});
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->q.dtype(), DType::I4);
    EXPECT_EQ(r->q.shape(), (Shape{7}));
    EXPECT_EQ(unpack_values(r->q), (std::vector<int32_t>{7, -7, 2, 4, -2, 0, 1}));
    ASSERT_EQ(r->q.nbytes(), 4u);
    EXPECT_EQ(r->q.raw()[0], 0x97);  // 7 | (-7 & 0xf) << 4
    EXPECT_EQ(r->q.raw()[1], 0x42);
    EXPECT_EQ(r->q.raw()[2], 0x0E);
    EXPECT_EQ(r->q.raw()[3], 0x01);
    EXPECT_EQ(r->scale.shape(), Shape{});
    EXPECT_EQ(floats(r->scale)[0], 1.f);
    EXPECT_EQ(r->zero_point.dtype(), DType::I4);
    EXPECT_EQ(r->zero_point.shape(), Shape{});
    EXPECT_TRUE(r->zero_point_is_zero());
    EXPECT_EQ(r->block_size, 0);
    EXPECT_EQ(floats(r->dequantized), (std::vector<float>{7, -7, 2, 4, -2, 0, 1}));
}

TEST(PtqWeight, KnownPerTensorUint4Asymmetric) {
    const Tensor w = f32({4}, {0.f, 7.5f, 1.25f, 0.75f});  // [0, 7.5] -> scale 0.5, zp 0
    auto r = quantize_weight(w, {.type = QType::U4, .granularity = Granularity::Tensor, .symmetric = false});
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(unpack_values(r->q), (std::vector<int32_t>{0, 15, 2, 2}));  // 2.5 -> 2, 1.5 -> 2
    EXPECT_EQ(floats(r->scale)[0], 0.5f);
    EXPECT_EQ(unpack_values(r->zero_point)[0], 0);

    const Tensor n = f32({3}, {-1.f, 2.f, 0.1f});  // [-1, 2]: scale 0.2, zp -8 + 5 = -3 (int4)
    auto s = quantize_weight(n, {.type = QType::I4, .granularity = Granularity::Tensor, .symmetric = false});
    ASSERT_TRUE(s.ok());
    EXPECT_FLOAT_EQ(floats(s->scale)[0], 0.2f);
    EXPECT_EQ(unpack_values(s->zero_point)[0], -3);
    EXPECT_EQ(unpack_values(s->q), (std::vector<int32_t>{-8, 7, -3}));  // 0.1 / 0.2 = 0.5 -> 0
    EXPECT_FALSE(s->zero_point_is_zero());
}

TEST(PtqWeight, KnownPerChannelBothAxes) {
    // Rows: {7, -3.5, 0.5} -> scale 1; {1.75, -0.25, 0.5} -> scale 0.25.
    const Tensor w = f32({2, 3}, {7.f, -3.5f, 0.5f, 1.75f, -0.25f, 0.5f});
    auto r = quantize_weight(w, {.type = QType::I4, .granularity = Granularity::Channel, .axis = 0});
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->scale.shape(), (Shape{2}));
    EXPECT_EQ(r->zero_point.shape(), (Shape{2}));
    EXPECT_EQ(floats(r->scale), (std::vector<float>{1.f, 0.25f}));
    EXPECT_EQ(unpack_values(r->q), (std::vector<int32_t>{7, -4, 0, 7, -1, 2}));
    EXPECT_EQ(r->axis, 0);

    // The same weight transposed ([K, N] MatMul layout), channels on axis 1 (given as -1).
    const Tensor wt = f32({3, 2}, {7.f, 1.75f, -3.5f, -0.25f, 0.5f, 0.5f});
    auto t = quantize_weight(wt, {.type = QType::I4, .granularity = Granularity::Channel, .axis = -1});
    ASSERT_TRUE(t.ok()) << t.status().message();
    EXPECT_EQ(t->axis, 1);
    EXPECT_EQ(floats(t->scale), (std::vector<float>{1.f, 0.25f}));
    EXPECT_EQ(unpack_values(t->q), (std::vector<int32_t>{7, 7, -4, -1, 0, 2}));
}

TEST(PtqWeight, KnownGroupsWithPartialLastBlock) {
    // [1, 5] blocked along axis 1 by 2: blocks {7, -1}, {3.5, -0.25}, {0.25} (partial); I4 symmetric.
    const Tensor w = f32({1, 5}, {7.f, -1.f, 3.5f, -0.25f, 0.25f});
    auto r =
        quantize_weight(w, {.type = QType::I4, .granularity = Granularity::Group, .axis = 1, .group = 2});
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->scale.shape(), (Shape{1, 3}));
    EXPECT_EQ(r->block_size, 2);
    EXPECT_EQ(r->axis, 1);
    EXPECT_EQ(floats(r->scale), (std::vector<float>{1.f, 0.5f, 0.25f / 7.f}));
    EXPECT_EQ(unpack_values(r->q), (std::vector<int32_t>{7, -1, 7, 0, 7}));  // -0.25 / 0.5 = -0.5 -> 0 (even)
}

TEST(PtqWeight, ConvBlockedAlongInputChannels) {
    // Conv W [OC=2, C=4, kh=1, kw=2], blocks of 2 input channels: scale [2, 2, 1, 2]; each block's scale is
    // max|w| / 7 over its 2 elements (same oc, kh, kw).
    std::vector<float> v(16);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 7) % 11) - 5.f;
    const Tensor w = f32({2, 4, 1, 2}, v);
    auto r =
        quantize_weight(w, {.type = QType::I4, .granularity = Granularity::Group, .axis = 1, .group = 2});
    ASSERT_TRUE(r.ok()) << r.status().message();
    ASSERT_EQ(r->scale.shape(), (Shape{2, 2, 1, 2}));
    const std::vector<float> sc = floats(r->scale);
    for (int oc = 0; oc < 2; ++oc) {
        for (int b = 0; b < 2; ++b) {
            for (int kw = 0; kw < 2; ++kw) {
                float a = 0;
                for (int c = 2 * b; c < 2 * b + 2; ++c) a = std::max(a, std::fabs(v[(oc * 4 + c) * 2 + kw]));
                EXPECT_FLOAT_EQ(sc[(oc * 2 + b) * 2 + kw], a / 7.f) << oc << " " << b << " " << kw;
            }
        }
    }
    EXPECT_EQ(floats(r->dequantized), onnx_dequantize(r.value(), w.shape()));
}

struct Case {
    Shape shape;
    Granularity g;
    int64_t axis, group;
};

// Every granularity x type x symmetry on awkward shapes: dequantized == ONNX DequantizeLinear of (q, scale,
// zero_point), values within the type range, and |w - dq| within one quantization step.
TEST(PtqWeight, MatrixAgainstOnnxDequantize) {
    const Case cases[] = {
        {{17}, Granularity::Tensor, 0, 0},          {{5, 33}, Granularity::Tensor, 0, 0},
        {{33, 17}, Granularity::Channel, 0, 0},     {{31, 9}, Granularity::Channel, 1, 0},
        {{6, 3, 3, 3}, Granularity::Channel, 0, 0}, {{65, 7}, Granularity::Group, 0, 32},
        {{7, 65}, Granularity::Group, 1, 16},       {{4, 6, 3, 3}, Granularity::Group, 1, 4},
        {{3, 5}, Granularity::Group, 1, 1},
    };
    std::mt19937 rng(1234);
    std::normal_distribution<float> g(0.f, 0.1f);
    for (const Case& c : cases) {
        std::vector<float> v(static_cast<size_t>(shape_numel(c.shape)));
        for (float& x : v) x = g(rng) + 0.02f;
        const Tensor w = f32(c.shape, v);
        for (QType t : kAllTypes) {
            for (bool sym : {false, true}) {
                for (Clip clip : {Clip::None, Clip::Mse}) {
                    const WeightQuantSpec spec{.type = t,
                                               .granularity = c.g,
                                               .axis = c.axis,
                                               .group = c.group,
                                               .symmetric = sym,
                                               .clip = clip};
                    SCOPED_TRACE(shape_str(c.shape) + " " + qtype_name(t) + (sym ? " sym" : " asym") + " g" +
                                 std::to_string(static_cast<int>(c.g)) + " clip " +
                                 std::to_string(static_cast<int>(clip)));
                    auto r = quantize_weight(w, spec);
                    ASSERT_TRUE(r.ok()) << r.status().message();
                    EXPECT_EQ(r->q.dtype(), to_dtype(t));
                    EXPECT_EQ(r->zero_point.dtype(), to_dtype(t));
                    EXPECT_EQ(r->q.shape(), c.shape);
                    EXPECT_EQ(r->zero_point.shape(), r->scale.shape());
                    EXPECT_EQ(r->dequantized.shape(), c.shape);
                    if (sym && is_signed(t)) {
                        EXPECT_TRUE(r->zero_point_is_zero());
                    }
                    Shape expect_scale;
                    if (c.g == Granularity::Channel) expect_scale = {c.shape[static_cast<size_t>(c.axis)]};
                    if (c.g == Granularity::Group) {
                        expect_scale = c.shape;
                        expect_scale[static_cast<size_t>(c.axis)] =
                            (c.shape[static_cast<size_t>(c.axis)] + c.group - 1) / c.group;
                    }
                    EXPECT_EQ(r->scale.shape(), expect_scale);
                    const std::vector<float> dq = floats(r->dequantized);
                    ASSERT_EQ(dq, onnx_dequantize(r.value(), c.shape));
                    if (clip == Clip::None) {
                        // Largest scale bounds the error of every element (one step: zero-point rounding
                        // can cost the extreme values half a step more).
                        float max_scale = 0;
                        for (float s : floats(r->scale)) max_scale = std::max(max_scale, s);
                        for (size_t i = 0; i < v.size(); ++i) {
                            ASSERT_LE(std::fabs(v[i] - dq[i]), max_scale * 1.0001f) << "at " << i;
                        }
                    }
                }
            }
        }
    }
}

double weighted_sq_error(const std::vector<float>& w, const std::vector<float>& dq,
                         const std::vector<float>& imp, int64_t cols) {
    double e = 0;
    for (size_t i = 0; i < w.size(); ++i) {
        const double d = w[i] - dq[i];
        e += (imp.empty() ? 1.0 : imp[i % static_cast<size_t>(cols)]) * d * d;
    }
    return e;
}

TEST(PtqWeight, MseClipNeverWorseAndHelpsHeavyTails) {
    // Gemm transB weight [N=24, K=96] (K = axis 1): Laplacian weights have outliers worth clipping at 4/2
    // bits.
    std::mt19937 rng(99);
    std::exponential_distribution<float> ex(20.f);
    std::bernoulli_distribution sign(0.5);
    const int64_t n = 24, k = 96;
    std::vector<float> v(static_cast<size_t>(n * k));
    for (float& x : v) x = (sign(rng) ? 1.f : -1.f) * ex(rng);
    std::uniform_real_distribution<float> u(0.1f, 4.f);
    std::vector<float> imp(static_cast<size_t>(k));
    for (float& x : imp) x = u(rng);
    const Tensor w = f32({n, k}, v);
    for (QType t : kAllTypes) {
        for (bool sym : {false, true}) {
            for (Granularity g : {Granularity::Tensor, Granularity::Channel, Granularity::Group}) {
                for (bool use_imp : {false, true}) {
                    WeightQuantSpec spec{.type = t,
                                         .granularity = g,
                                         .axis = g == Granularity::Group ? 1 : 0,
                                         .group = 32,
                                         .symmetric = sym};
                    const std::vector<float> im = use_imp ? imp : std::vector<float>{};
                    auto none = quantize_weight(w, spec, im);
                    spec.clip = Clip::Mse;
                    auto mse = quantize_weight(w, spec, im);
                    ASSERT_TRUE(none.ok() && mse.ok());
                    const double e0 = weighted_sq_error(v, floats(none->dequantized), im, k);
                    const double e1 = weighted_sq_error(v, floats(mse->dequantized), im, k);
                    SCOPED_TRACE(std::string(qtype_name(t)) + (sym ? " sym" : " asym") + " g" +
                                 std::to_string(static_cast<int>(g)) + (use_imp ? " imp" : ""));
                    EXPECT_LE(e1, e0 * (1 + 1e-12));
                    if (bits(t) <= 4) {
                        EXPECT_LT(e1, 0.97 * e0);  // heavy tails: clipping must pay off
                    }
                }
            }
        }
    }
}

TEST(PtqWeight, ImportanceSteersClipping) {
    // MatMul layout [K=2, N=64], per-channel (axis 1) I4: every channel holds one small value (row 0) and one
    // large one (row 1); importance is per K row. Weighting row 0 heavily clips the channels towards the
    // small values, so row 0's error must not exceed what it gets when row 1 is weighted heavily (and vice
    // versa).
    std::vector<float> v(128);
    std::mt19937 rng(5);
    std::normal_distribution<float> g(0.f, 1.f);
    for (size_t i = 0; i < 64; ++i) v[i] = 0.1f * g(rng);
    for (size_t i = 64; i < 128; ++i) v[i] = 2.f * g(rng);
    const Tensor w = f32({2, 64}, v);
    WeightQuantSpec spec{.type = QType::I4,
                         .granularity = Granularity::Channel,
                         .axis = 1,
                         .symmetric = true,
                         .clip = Clip::Mse};
    auto favour0 = quantize_weight(w, spec, std::vector<float>{100.f, 1.f});
    auto favour1 = quantize_weight(w, spec, std::vector<float>{1.f, 100.f});
    ASSERT_TRUE(favour0.ok() && favour1.ok()) << favour0.status().message();
    const auto row_err = [&](const QuantizedWeight& q, size_t row) {
        const std::vector<float> dq = floats(q.dequantized);
        double e = 0;
        for (size_t i = row * 64; i < row * 64 + 64; ++i) e += (v[i] - dq[i]) * (v[i] - dq[i]);
        return e;
    };
    EXPECT_LE(row_err(favour0.value(), 0), row_err(favour1.value(), 0));
    EXPECT_LE(row_err(favour1.value(), 1), row_err(favour0.value(), 1));
}

TEST(PtqWeight, AllZeroWeight) {
    for (QType t : kAllTypes) {
        for (bool sym : {false, true}) {
            auto r = quantize_weight(
                Tensor(DType::F32, {3, 4}),
                {.type = t, .granularity = Granularity::Channel, .axis = 0, .symmetric = sym});
            ASSERT_TRUE(r.ok());
            for (float s : floats(r->scale)) EXPECT_EQ(s, 1.f);
            for (float d : floats(r->dequantized)) EXPECT_EQ(d, 0.f);
        }
    }
}

TEST(PtqWeight, ClearErrors) {
    const Tensor w = f32({4, 6}, std::vector<float>(24, 0.5f));
    const auto err = [](const Result<QuantizedWeight>& r) {
        return r.ok() ? std::string("ok") : r.status().message();
    };
    const auto expect_error = [&](const Result<QuantizedWeight>& r, const std::string& needle) {
        ASSERT_FALSE(r.ok()) << needle;
        EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
        EXPECT_NE(err(r).find(needle), std::string::npos) << err(r);
        EXPECT_NE(err(r).find("[4, 6]"), std::string::npos) << err(r);  // names the shape
    };
    expect_error(quantize_weight(w, {.granularity = Granularity::Channel, .axis = 2}), "axis 2 out of range");
    expect_error(quantize_weight(w, {.granularity = Granularity::Channel, .axis = -3}), "out of range");
    expect_error(quantize_weight(w, {.granularity = Granularity::Group, .axis = 1, .group = 0}),
                 "group size");
    expect_error(
        quantize_weight(w, {.granularity = Granularity::Group, .axis = 1, .group = 2, .clip = Clip::Mse},
                        std::vector<float>(4, 1.f)),
        "importance has 4 entries, expected 6");
    expect_error(
        quantize_weight(w, {.granularity = Granularity::Channel, .axis = 0}, std::vector<float>(6, -1.f)),
        "importance entries");
    std::vector<float> nan(24, 0.f);
    nan[3] = NAN;
    nan[7] = INFINITY;
    const Tensor wn = f32({4, 6}, nan);
    expect_error(quantize_weight(wn, {}), "2 values are not finite");
    expect_error(quantize_weight(Tensor(DType::I8, {4, 6}), {}), "expected an F32 tensor");
    auto empty = quantize_weight(Tensor(DType::F32, {0, 6}), {.granularity = Granularity::Tensor});
    ASSERT_FALSE(empty.ok());
    EXPECT_NE(empty.status().message().find("empty"), std::string::npos);
    auto scalar = quantize_weight(Tensor::scalar_f32(1.f), {.granularity = Granularity::Channel});
    ASSERT_FALSE(scalar.ok());
    EXPECT_NE(scalar.status().message().find("rank"), std::string::npos) << scalar.status().message();
    // Default importance axis: MatMul [K=4, N=6] with channel axis 1 -> importance over K (axis 0).
    auto ok = quantize_weight(w, {.granularity = Granularity::Channel, .axis = 1, .clip = Clip::Mse},
                              std::vector<float>(4, 1.f));
    EXPECT_TRUE(ok.ok()) << ok.status().message();
}

}  // namespace
}  // namespace edgeq::quant::ptq
