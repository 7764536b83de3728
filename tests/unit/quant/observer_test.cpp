// PTQ math: quantization parameters (ONNX Runtime's compute_scale_zp), ONNX rounding, packing, and the
// streaming activation observers (src/quant/ptq/qparams.h, observer.h).
#include "quant/ptq/observer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "edgeq/dtype.h"
#include "quant/ptq/qparams.h"

namespace edgeq::quant::ptq {
namespace {

constexpr QType kAllTypes[] = {QType::I8, QType::U8, QType::I4, QType::U4, QType::I2, QType::U2};

// ------------------------------------------------------------------------------------------- QType / QParams

TEST(PtqQParams, TypeRanges) {
    EXPECT_EQ(qmin(QType::I8), -128);
    EXPECT_EQ(qmax(QType::I8), 127);
    EXPECT_EQ(qmin(QType::U8), 0);
    EXPECT_EQ(qmax(QType::U8), 255);
    EXPECT_EQ(qmin(QType::I4), -8);
    EXPECT_EQ(qmax(QType::I4), 7);
    EXPECT_EQ(qmax(QType::U4), 15);
    EXPECT_EQ(qmin(QType::I2), -2);
    EXPECT_EQ(qmax(QType::I2), 1);
    EXPECT_EQ(qmax(QType::U2), 3);
    EXPECT_EQ(quant_range(QType::I8, true).lo, -127);
    EXPECT_EQ(quant_range(QType::I4, true).lo, -7);
    EXPECT_EQ(quant_range(QType::I2, true).lo, -1);
    EXPECT_EQ(quant_range(QType::U8, true).lo, 0);
    EXPECT_EQ(quant_range(QType::I8, false).lo, -128);
    for (QType t : kAllTypes) {
        EXPECT_EQ(qtype_from_dtype(to_dtype(t)), t);
        EXPECT_EQ(qtype_from_name(qtype_name(t)), t);
    }
    EXPECT_EQ(qtype_from_name("U4"), QType::U4);
    EXPECT_FALSE(qtype_from_name("int3").has_value());
    EXPECT_FALSE(qtype_from_dtype(DType::F32).has_value());
}

// Values as ONNX Runtime's compute_scale_zp gives them (hand-computed: scale = float32(dr / qr),
// zero_point = round_half_even(qmin - rmin / scale)).
TEST(PtqQParams, KnownValuesAsymmetric) {
    QParams p = params_from_range(-1.f, 3.f, QType::U8, false);
    EXPECT_FLOAT_EQ(p.scale, 4.f / 255.f);
    EXPECT_EQ(p.zero_point, 64);                         // 63.75 -> 64
    p = params_from_range(0.5f, 2.f, QType::U8, false);  // widened to include 0
    EXPECT_FLOAT_EQ(p.scale, 2.f / 255.f);
    EXPECT_EQ(p.zero_point, 0);
    p = params_from_range(-4.f, -2.f, QType::U8, false);  // hi widened to 0
    EXPECT_FLOAT_EQ(p.scale, 4.f / 255.f);
    EXPECT_EQ(p.zero_point, 255);
    p = params_from_range(-1.f, 2.f, QType::I4, false);
    EXPECT_FLOAT_EQ(p.scale, 0.2f);
    EXPECT_EQ(p.zero_point, -3);  // -8 + 5
    p = params_from_range(-1.f, 1.f, QType::I8, false);
    EXPECT_FLOAT_EQ(p.scale, 2.f / 255.f);
    // ORT divides by the float64 scale 2/255: -128 + 127.5 = -0.5 -> 0 (half to even). With the float32
    // scale it would be 127.499992 and round to -1.
    EXPECT_EQ(p.zero_point, 0);
    p = params_from_range(-3.f, 0.f, QType::U2, false);
    EXPECT_FLOAT_EQ(p.scale, 1.f);
    EXPECT_EQ(p.zero_point, 3);
}

TEST(PtqQParams, KnownValuesSymmetric) {
    QParams p = params_from_range(-2.f, 1.f, QType::I8, true);
    EXPECT_FLOAT_EQ(p.scale, 2.f / 127.f);
    EXPECT_EQ(p.zero_point, 0);
    p = params_from_range(-2.f, 1.f, QType::U8, true);
    EXPECT_FLOAT_EQ(p.scale, 4.f / 255.f);
    EXPECT_EQ(p.zero_point, 128);  // round(127.5) -> 128
    p = params_from_range(0.f, 7.f, QType::I4, true);
    EXPECT_FLOAT_EQ(p.scale, 1.f);
    EXPECT_EQ(p.zero_point, 0);
    p = params_from_range(-7.5f, 0.f, QType::U4, true);
    EXPECT_FLOAT_EQ(p.scale, 1.f);
    EXPECT_EQ(p.zero_point, 8);  // round(7.5) -> 8
    p = params_from_range(-0.5f, 0.25f, QType::I2, true);
    EXPECT_FLOAT_EQ(p.scale, 0.5f);  // [-1, 1]: scale = max|x|
    EXPECT_EQ(p.zero_point, 0);
    p = params_from_range(-1.5f, 1.5f, QType::U2, true);
    EXPECT_FLOAT_EQ(p.scale, 1.f);
    EXPECT_EQ(p.zero_point, 2);  // round(1.5) -> 2
}

TEST(PtqQParams, DegenerateRangeHasNonZeroScale) {
    for (QType t : kAllTypes) {
        for (bool sym : {false, true}) {
            const QParams p = params_from_range(0.f, 0.f, t, sym);
            EXPECT_EQ(p.scale, 1.f) << qtype_name(t) << " sym " << sym;
            const int32_t expect_zp = sym && !is_signed(t) ? (qmax(t) + 1) / 2 : 0;
            EXPECT_EQ(p.zero_point, expect_zp) << qtype_name(t) << " sym " << sym;
            EXPECT_EQ(fake_quantize(0.f, p), 0.f);
            const QParams tiny =
                params_from_range(-1e-42f, 1e-42f, t, sym);  // denormal range: scale < FLT_MIN
            EXPECT_EQ(tiny.scale, 1.f);
        }
    }
}

TEST(PtqQParams, ZeroIsExactlyRepresentable) {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(-10.f, 10.f);
    for (int it = 0; it < 200; ++it) {
        float a = u(rng), b = u(rng);
        if (a > b) std::swap(a, b);
        for (QType t : kAllTypes) {
            for (bool sym : {false, true}) {
                const QParams p = params_from_range(a, b, t, sym);
                ASSERT_GT(p.scale, 0.f);
                ASSERT_GE(p.zero_point, qmin(t));
                ASSERT_LE(p.zero_point, qmax(t));
                ASSERT_EQ(fake_quantize(0.f, p), 0.f) << a << " " << b << " " << qtype_name(t);
            }
        }
    }
}

TEST(PtqQParams, RoundHalfToEvenAndSaturate) {
    const QParams p{1.f, 0, QType::I8};
    EXPECT_EQ(quantize_value(0.5f, p), 0);
    EXPECT_EQ(quantize_value(1.5f, p), 2);
    EXPECT_EQ(quantize_value(2.5f, p), 2);
    EXPECT_EQ(quantize_value(-0.5f, p), 0);
    EXPECT_EQ(quantize_value(-1.5f, p), -2);
    EXPECT_EQ(quantize_value(-2.5f, p), -2);
    EXPECT_EQ(quantize_value(2.4999f, p), 2);
    EXPECT_EQ(quantize_value(200.f, p), 127);
    EXPECT_EQ(quantize_value(-200.f, p), -128);
    EXPECT_EQ(quantize_value(1e30f, p), 127);
    EXPECT_EQ(quantize_value(-INFINITY, p), -128);
    const QParams h{0.5f, 10, QType::U8};
    EXPECT_EQ(quantize_value(0.25f, h), 10);  // 0.5 -> 0, + 10
    EXPECT_EQ(quantize_value(0.75f, h), 12);  // 1.5 -> 2, + 10
    EXPECT_EQ(quantize_value(-20.f, h), 0);   // saturates low
    EXPECT_EQ(quantize_value(NAN, h), 10);    // NaN -> zero point
    EXPECT_FLOAT_EQ(dequantize_value(12, h), 1.f);
    const QParams s4{1.f, 0, QType::I4};
    EXPECT_EQ(quantize_value(7.5f, s4), 7);    // 8 saturates to 7
    EXPECT_EQ(quantize_value(-8.5f, s4), -8);  // -8 (even) stays
    EXPECT_EQ(quantize_value(-9.f, s4), -8);
    const QParams u2{1.f, 2, QType::U2};
    EXPECT_EQ(quantize_value(-2.f, u2), 0);
    EXPECT_EQ(quantize_value(5.f, u2), 3);
}

TEST(PtqQParams, QuantizeDequantizeErrorBound) {
    std::mt19937 rng(11);
    std::normal_distribution<float> g(0.f, 3.f);
    std::vector<float> x(4097);
    for (float& v : x) v = g(rng);
    const auto [mn, mx] = std::minmax_element(x.begin(), x.end());
    for (QType t : kAllTypes) {
        for (bool sym : {false, true}) {
            const QParams p = params_from_range(*mn, *mx, t, sym);
            std::vector<int32_t> q(x.size());
            std::vector<float> y(x.size());
            quantize_values(x, p, q);
            dequantize_values(q, p, y);
            for (size_t i = 0; i < x.size(); ++i) {
                // In range: half a step; the extreme values may lose up to one step to zero-point rounding.
                ASSERT_LE(std::fabs(x[i] - y[i]), p.scale * 1.0f + 1e-6f)
                    << qtype_name(t) << " sym " << sym << " at " << i << ": x " << x[i] << " got " << y[i];
            }
        }
    }
}

TEST(PtqPack, SubByteOnnxOrder) {
    // I4: element 2i low nibble, 2i+1 high nibble; odd count leaves the last high nibble zero.
    Tensor t = pack_values(std::vector<int32_t>{1, -2, 7, -8, 3}, QType::I4, {5});
    ASSERT_EQ(t.dtype(), DType::I4);
    ASSERT_EQ(t.nbytes(), 3u);
    EXPECT_EQ(t.raw()[0], 0xE1);
    EXPECT_EQ(t.raw()[1], 0x87);
    EXPECT_EQ(t.raw()[2], 0x03);
    EXPECT_EQ(unpack_values(t), (std::vector<int32_t>{1, -2, 7, -8, 3}));

    Tensor u2 = pack_values(std::vector<int32_t>{0, 1, 2, 3, 3}, QType::U2, {5});
    ASSERT_EQ(u2.nbytes(), 2u);
    EXPECT_EQ(u2.raw()[0], 0xE4);
    EXPECT_EQ(u2.raw()[1], 0x03);
    Tensor i2 = pack_values(std::vector<int32_t>{-2, -1, 0, 1}, QType::I2, {2, 2});
    EXPECT_EQ(i2.raw()[0], 0x4E);
    EXPECT_EQ(unpack_values(i2), (std::vector<int32_t>{-2, -1, 0, 1}));
    Tensor u4 = pack_values(std::vector<int32_t>{15, 0, 9, 6}, QType::U4, {4});
    EXPECT_EQ(u4.raw()[0], 0x0F);
    EXPECT_EQ(u4.raw()[1], 0x69);
    Tensor i8 = pack_values(std::vector<int32_t>{-128, 127, -1}, QType::I8, {3});
    EXPECT_EQ(i8.raw()[0], 0x80);
    EXPECT_EQ(i8.raw()[2], 0xFF);
}

TEST(PtqPack, AgreesWithDtypeTableCodec) {
    std::mt19937 rng(3);
    for (QType t : kAllTypes) {
        std::uniform_int_distribution<int32_t> d(qmin(t), qmax(t));
        std::vector<int32_t> q(64);
        for (auto& v : q) v = d(rng);
        const Tensor packed = pack_values(q, t, {8, 8});
        std::vector<float> ref(q.size());
        edgeq::dequantize_row(to_dtype(t), packed.raw(), ref.data(), static_cast<int64_t>(q.size()));
        for (size_t i = 0; i < q.size(); ++i)
            ASSERT_EQ(ref[i], static_cast<float>(q[i])) << qtype_name(t) << " " << i;
        EXPECT_EQ(unpack_values(packed), q);
    }
}

// ------------------------------------------------------------------------------------------- observers

std::unique_ptr<Observer> make(std::string_view spec, QType t = QType::I8, bool sym = true) {
    auto r = make_observer(spec, t, sym);
    EXPECT_TRUE(r.ok()) << spec << ": " << r.status().message();
    return std::move(r).value();
}

// N(0, 1) plus a few large outliers: the distribution clipping calibrators exist for.
std::vector<float> gaussian_with_outliers(size_t n, uint32_t seed, float outlier, size_t outliers) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(0.f, 1.f);
    std::vector<float> x(n);
    for (float& v : x) v = g(rng);
    for (size_t i = 0; i < outliers; ++i) {
        x[i * (n / outliers)] = (i % 2 ? -outlier : outlier) * (1.f + 0.01f * static_cast<float>(i));
    }
    return x;
}

TEST(PtqObserver, MinMaxStreams) {
    auto o = make("minmax");
    EXPECT_EQ(o->range().lo, 0.f);
    EXPECT_EQ(o->range().hi, 0.f);
    ASSERT_TRUE(o->observe(std::vector<float>{1.f, 2.f}).ok());
    ASSERT_TRUE(o->observe(std::vector<float>{-3.f, 0.5f}).ok());
    ASSERT_TRUE(o->observe(std::vector<float>{}).ok());
    EXPECT_EQ(o->range().lo, -3.f);
    EXPECT_EQ(o->range().hi, 2.f);
    EXPECT_EQ(o->count(), 4);
    EXPECT_EQ(o->histogram(), nullptr);
    EXPECT_FLOAT_EQ(o->params().scale, 3.f / 127.f);
}

TEST(PtqObserver, SpecParsing) {
    for (const char* ok :
         {"minmax", "entropy", "mse", "percentile:99.99", "percentile:100", "percentile:50"}) {
        auto r = make_observer(ok, QType::U8, false);
        ASSERT_TRUE(r.ok()) << ok << ": " << r.status().message();
        EXPECT_EQ(r.value()->spec(), ok);
    }
    auto def = make_observer("percentile", QType::U8, false);
    ASSERT_TRUE(def.ok());
    EXPECT_EQ(def.value()->spec(), "percentile:99.999");
    for (const char* bad : {"", "kl", "MinMax", "percentile:", "percentile:abc", "percentile:0",
                            "percentile:101", "percentile:99x", "percentile:-5", "percentile:nan", "mse:3"}) {
        auto r = make_observer(bad, QType::U8, false);
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
        EXPECT_NE(r.status().message().find("\"" + std::string(bad) + "\""), std::string::npos)
            << r.status().message();
        EXPECT_NE(r.status().message().find("expected minmax"), std::string::npos) << r.status().message();
    }
}

TEST(PtqObserver, NonFiniteDataIsRejectedWithCount) {
    for (const char* spec : {"minmax", "percentile:99", "entropy", "mse"}) {
        auto o = make(spec);
        ASSERT_TRUE(o->observe(std::vector<float>{1.f, -1.f}).ok());
        const Status s = o->observe(std::vector<float>{0.f, NAN, 3.f, INFINITY, -INFINITY});
        ASSERT_FALSE(s.ok()) << spec;
        EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
        EXPECT_NE(s.message().find("3 of 5"), std::string::npos) << s.message();
        EXPECT_NE(s.message().find("NaN"), std::string::npos) << s.message();
        // The bad batch is dropped whole.
        EXPECT_EQ(o->count(), 2) << spec;
        EXPECT_EQ(o->range().hi, 1.f) << spec;
    }
}

TEST(PtqObserver, ClippingCalibratorsAreTighterThanMinMax) {
    // 1M samples of N(0, 1) with 2 outliers at +-40 (as in a ReLU6-free activation with rare spikes). For
    // INT8, clipping lowers the MSE only when outliers are rarer than about 1 / (12 * 127^2) ~ 5e-6 of the
    // samples: 2e-6 here, so all three calibrators should clip.
    const std::vector<float> x = gaussian_with_outliers(1000000, 5, 40.f, 2);
    for (bool sym : {true, false}) {
        const QType t = sym ? QType::I8 : QType::U8;
        auto mm = make("minmax", t, sym);
        std::vector<std::unique_ptr<Observer>> obs;
        for (const char* s : {"percentile:99.99", "entropy", "mse"}) obs.push_back(make(s, t, sym));
        for (size_t b = 0; b < x.size(); b += 5000) {  // 200 batches
            const std::span<const float> batch(x.data() + b, 5000);
            ASSERT_TRUE(mm->observe(batch).ok());
            for (auto& o : obs) ASSERT_TRUE(o->observe(batch).ok());
        }
        const Range full = mm->range();
        ASSERT_GE(full.hi, 40.f);
        const Histogram& h = *obs[0]->histogram();
        for (auto& o : obs) {
            const Range r = o->range();
            SCOPED_TRACE(o->spec() + (sym ? " symmetric" : " asymmetric"));
            EXPECT_GE(r.lo, full.lo);
            EXPECT_LE(r.hi, full.hi);
            EXPECT_LE(r.lo, r.hi);
            // The bulk (|x| < 3.5 holds ~99.95 %) stays inside, the outliers are clipped.
            EXPECT_LT(r.hi, 0.5f * full.hi);
            EXPECT_GT(r.hi, 2.5f);
            EXPECT_LT(r.lo, -2.5f);
            EXPECT_GT(r.lo, 0.5f * full.lo);
            // And the expected quantization error is lower than min-max's.
            EXPECT_LT(expected_mse(h, r, t, sym), expected_mse(h, full, t, sym));
        }
    }
}

TEST(PtqObserver, MseRangeMinimisesExpectedError) {
    const std::vector<float> x = gaussian_with_outliers(50000, 9, 12.f, 8);
    for (QType t : kAllTypes) {
        for (bool sym : {true, false}) {
            auto o = make("mse", t, sym);
            ASSERT_TRUE(o->observe(x).ok());
            const Histogram& h = *o->histogram();
            const Range r = o->range();
            const double best = expected_mse(h, r, t, sym);
            EXPECT_LE(best, expected_mse(h, {o->min(), o->max()}, t, sym)) << qtype_name(t) << " " << sym;
            for (double f : {0.3, 0.6, 0.9}) {
                const Range other{static_cast<float>(o->min() * f), static_cast<float>(o->max() * f)};
                EXPECT_LE(best, expected_mse(h, other, t, sym) * (1 + 1e-9)) << qtype_name(t) << " " << f;
            }
        }
    }
}

// expected_mse integrates over the histogram; it must agree with the empirical error of the samples.
TEST(PtqObserver, ExpectedMseMatchesEmpirical) {
    std::mt19937 rng(21);
    std::normal_distribution<float> g(0.5f, 2.f);
    std::vector<float> x(300000);
    for (float& v : x) v = g(rng);
    Histogram h;
    h.add(x);
    for (QType t : {QType::I8, QType::U8, QType::I4, QType::U2}) {
        for (bool sym : {true, false}) {
            for (float clip : {1.0f, 0.5f, 0.2f}) {
                const Range r{h.min() * clip, h.max() * clip};
                const QParams p = params_from_range(r, t, sym);
                double emp = 0;
                for (float v : x) emp += std::pow(static_cast<double>(v) - fake_quantize(v, p), 2);
                emp /= static_cast<double>(x.size());
                EXPECT_NEAR(expected_mse(h, r, t, sym), emp, 0.03 * emp + 1e-9)
                    << qtype_name(t) << " sym " << sym << " clip " << clip;
            }
        }
    }
}

TEST(PtqObserver, PercentileOnUniform) {
    std::vector<float> x(100001);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) / 100000.f;  // 0 .. 1
    auto a = make("percentile:90", QType::U8, false);
    ASSERT_TRUE(a->observe(x).ok());
    EXPECT_NEAR(a->range().lo, 0.05f, 2e-3f);
    EXPECT_NEAR(a->range().hi, 0.95f, 2e-3f);
    auto full = make("percentile:100", QType::U8, false);
    ASSERT_TRUE(full->observe(x).ok());
    EXPECT_FLOAT_EQ(full->range().lo, 0.f);
    EXPECT_NEAR(full->range().hi, 1.f, 1e-6f);

    for (float& v : x) v = 2.f * v - 1.f;  // -1 .. 1
    auto s = make("percentile:90", QType::I8, true);
    ASSERT_TRUE(s->observe(x).ok());
    EXPECT_NEAR(s->range().hi, 0.9f, 3e-3f);
    EXPECT_NEAR(s->range().lo, -0.9f, 3e-3f);
}

TEST(PtqObserver, EntropyKeepsBoundedUniformData) {
    // Uniform data has no tail worth clipping: the KL threshold stays near the maximum.
    std::mt19937 rng(4);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    std::vector<float> x(200000);
    for (float& v : x) v = u(rng);
    auto e = make("entropy", QType::I8, true);
    ASSERT_TRUE(e->observe(x).ok());
    EXPECT_GT(e->range().hi, 0.9f);
    // One-sided (ReLU-like) data, asymmetric uint8: lo stays at the data minimum (0).
    for (float& v : x) v = std::fabs(v);
    auto r = make("entropy", QType::U8, false);
    ASSERT_TRUE(r->observe(x).ok());
    EXPECT_EQ(r->range().lo, r->min());
    EXPECT_GT(r->range().hi, 0.9f);
}

TEST(PtqHistogram, StreamingMergeEqualsOneShotWithinABin) {
    std::mt19937 rng(13);
    std::normal_distribution<float> g(0.3f, 1.f);
    std::vector<float> all;
    Histogram h;
    double first_width = 0;
    for (int b = 0; b < 40; ++b) {
        std::vector<float> batch(777 + b);
        const float spread = std::pow(1.15f, static_cast<float>(b));  // every batch wider: re-binning
        for (float& v : batch) v = g(rng) * spread + (b % 3 == 0 ? 0.5f * spread : 0.f);
        h.add(batch);
        if (b == 0) first_width = h.width();
        all.insert(all.end(), batch.begin(), batch.end());
    }
    ASSERT_GT(h.width(), 16 * first_width);  // it did widen (by powers of two)
    const double ratio = std::log2(h.width() / first_width);
    EXPECT_NEAR(ratio, std::round(ratio), 1e-9);
    EXPECT_EQ(h.total(), static_cast<double>(all.size()));
    EXPECT_LE(h.lower_edge(), h.min());
    EXPECT_GE(h.upper_edge(), h.max());

    const std::vector<double> ref = h.one_shot(all);
    double cs = 0, cr = 0, cr_prev = 0, diff = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
        cs += h.counts()[i];
        cr_prev = cr;
        cr += ref[i];
        const double cr_next = cr + (i + 1 < ref.size() ? ref[i + 1] : 0.0);
        // Cumulative counts agree up to moving a value by one bin (rounding at a bin edge).
        ASSERT_GE(cs, cr_prev) << "bin " << i;
        ASSERT_LE(cs, cr_next) << "bin " << i;
        diff += std::fabs(h.counts()[i] - ref[i]);
    }
    EXPECT_LE(diff, 0.001 * static_cast<double>(all.size()));
}

TEST(PtqHistogram, PointMassThenSpread) {
    Histogram h(64);
    h.add(std::vector<float>(100, 0.f));
    EXPECT_FALSE(h.has_grid());
    EXPECT_EQ(h.total(), 100);
    h.add(std::vector<float>{-1.f, 1.f});
    ASSERT_TRUE(h.has_grid());
    double sum = 0;
    for (double c : h.counts()) sum += c;
    EXPECT_EQ(sum, 102);
    // 0 is a bin edge: the zeros sit in the bin starting at 0.
    const int64_t zero_bin = -h.origin();
    EXPECT_EQ(h.counts()[static_cast<size_t>(zero_bin)], 100);
    EXPECT_EQ(h.min(), -1.f);
    EXPECT_EQ(h.max(), 1.f);
}

TEST(PtqHistogram, ConstantDataGivesExactRange) {
    for (const char* spec : {"percentile:99", "entropy", "mse"}) {
        auto o = make(spec, QType::U8, false);
        ASSERT_TRUE(o->observe(std::vector<float>(50, 2.5f)).ok());
        EXPECT_EQ(o->range().lo, 2.5f) << spec;
        EXPECT_EQ(o->range().hi, 2.5f) << spec;
        EXPECT_FLOAT_EQ(o->params().scale, 2.5f / 255.f);
    }
}

// Data far from 0 (bin origin ~ 1e6 bins away): the |x| fold is coarsened, not 1e6 bins long, and every
// calibrator still returns a range inside the data.
TEST(PtqObserver, DataFarFromZero) {
    std::mt19937 rng(8);
    std::uniform_real_distribution<float> u(1000.f, 1001.f);
    std::vector<float> x(20000);
    for (float& v : x) v = u(rng);
    for (const char* spec : {"percentile:99", "entropy", "mse"}) {
        for (bool sym : {true, false}) {
            auto o = make(spec, sym ? QType::I8 : QType::U8, sym);
            ASSERT_TRUE(o->observe(x).ok());
            std::vector<float> neg(x);
            for (float& v : neg) v = -2.f * v;  // [-2002, -2000]: now two clusters far apart
            if (!sym) {
                ASSERT_TRUE(o->observe(neg).ok());
            }
            const Range r = o->range();
            EXPECT_GE(r.lo, o->min()) << spec;
            EXPECT_LE(r.hi, o->max()) << spec;
            EXPECT_GT(r.hi, 990.f) << spec << " sym " << sym;
            EXPECT_LE(o->histogram()->counts().size(), 2048u);
        }
    }
}

TEST(PtqObserver, MemoryDoesNotGrowWithBatches) {
    std::mt19937 rng(17);
    std::normal_distribution<float> g(0.f, 1.f);
    for (const char* spec : {"minmax", "percentile:99.9", "entropy", "mse"}) {
        auto o = make(spec, QType::U8, false);
        std::vector<float> batch(4096);
        size_t after_first = 0;
        for (int b = 0; b < 300; ++b) {
            const float spread = 1.f + 0.05f * static_cast<float>(b);
            for (float& v : batch) v = g(rng) * spread;
            ASSERT_TRUE(o->observe(batch).ok());
            if (b == 0) after_first = o->memory_bytes();
            ASSERT_EQ(o->memory_bytes(), after_first) << spec << " batch " << b;
        }
        EXPECT_EQ(o->count(), 300 * 4096);
        EXPECT_LT(after_first, 64u * 1024u) << spec;
    }
}

}  // namespace
}  // namespace edgeq::quant::ptq
