// INT8 convolution helpers, depthwise convolution and max pooling (kernels/qconv.h):
//   * transpose_u8 (SSE2 16×16 blocks + edges) == transpose_u8_ref on awkward sizes and strides;
//   * NCHW -> NHWC, (ky, kx, c) im2col and reordered weights + every qgemm row == a direct integer
//     convolution (int64, from the NCHW data and ONNX weight order), per group, with pads, strides,
//     dilations, 1×1 convolutions read straight from the NHWC image, split pixel ranges;
//   * qdwconv (AVX2 build) and qdwconv_rows (baseline build) == qdwconv_ref byte for byte (U8 / S8 outputs;
//   F32 outputs bit-exact with exact activations),
//     u8 / s8 activations, weight zero points, bias, pads / strides / dilations, channel ranges; the
//     reference against its definition computed here;
//   * qdwconv_nhwc (padded NHWC bytes, reference and AVX-512) == qdwconv_ref byte for byte after a transpose;
//   * qconv_direct (small-C conv on padded NHWC bytes, reference and VNNI) == a direct integer convolution;
//   * qmaxpool (u8 / s8) == a naive max over the window, with pads and ceil-mode-like output sizes;
//     qmaxpool_nhwc (ref and dispatched) == qmaxpool on the same image in NHWC order.
#include "kernels/qconv.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <set>

#include "kernel_test_util.h"

namespace edgeq::kernels::x86 {  // the depthwise rows that kernels::qdwconv_nhwc dispatches to (tested one by one)
void qdwconv_nhwc__avx512(const QDwNhwcArgs& a);
bool qdwconv_nhwc__avx512vnni(const QDwNhwcArgs& a);
}  // namespace edgeq::kernels::x86

namespace edgeq::kernels::test {
namespace {

TEST(QConvHelpers, TransposeU8MatchesReference) {
    std::mt19937 rng(1);
    const int64_t sizes[] = {1, 2, 3, 15, 16, 17, 31, 32, 33, 48, 64, 100};
    for (int64_t rows : sizes) {
        for (int64_t cols : sizes) {
            for (int64_t extra : {0, 5}) {
                const int64_t ldx = cols + extra, ldy = rows + 2 * extra;
                std::vector<uint8_t> x(static_cast<size_t>(rows * ldx));
                for (auto& v : x) v = static_cast<uint8_t>(rng());
                std::vector<uint8_t> want(static_cast<size_t>(cols * ldy), 0xA5), got = want;
                transpose_u8_ref(x.data(), rows, cols, ldx, want.data(), ldy);
                transpose_u8(x.data(), rows, cols, ldx, got.data(), ldy);
                ASSERT_EQ(want, got) << "rows " << rows << " cols " << cols << " ldx " << ldx << " ldy "
                                     << ldy;
                // the definition, checked once on the reference
                for (int64_t r = 0; r < rows; ++r)
                    for (int64_t c = 0; c < cols; ++c)
                        ASSERT_EQ(want[static_cast<size_t>(c * ldy + r)],
                                  x[static_cast<size_t>(r * ldx + c)]);
            }
        }
    }
    std::vector<float> xf = {1, 2, 3, 4, 5, 6}, yf(6);
    transpose_f32(xf.data(), 2, 3, 3, yf.data(), 2);
    EXPECT_EQ(yf, (std::vector<float>{1, 4, 2, 5, 3, 6}));
}

struct ConvGeom {
    int64_t C, H, W, OC, G, KH, KW, SH, SW, PT, PL, PB, PR, DH, DW;
};

// Every qgemm row on the NHWC path equals the direct integer convolution (requantized to u8 and raw S32).
TEST(QConvHelpers, NhwcIm2colPlusQgemmEqualsDirect) {
    const ConvGeom convs[] = {
        {3, 7, 9, 5, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},   {4, 8, 8, 17, 1, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1},
        {2, 9, 6, 33, 1, 2, 3, 1, 2, 0, 1, 1, 0, 2, 1},  {16, 5, 5, 8, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},
        {1, 11, 4, 3, 1, 5, 2, 3, 1, 2, 0, 2, 1, 1, 2},  {32, 12, 10, 32, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
        {12, 6, 7, 18, 3, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1}, {12, 6, 7, 18, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},
        {20, 9, 9, 36, 1, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1}, {6, 5, 13, 4, 2, 3, 3, 1, 1, 2, 2, 2, 2, 2, 3},
    };
    std::mt19937 rng(2);
    for (const ConvGeom& v : convs) {
        const int64_t OH = (v.H + v.PT + v.PB - ((v.KH - 1) * v.DH + 1)) / v.SH + 1;
        const int64_t OW = (v.W + v.PL + v.PR - ((v.KW - 1) * v.DW + 1)) / v.SW + 1;
        const int64_t Cg = v.C / v.G, OCg = v.OC / v.G, K = Cg * v.KH * v.KW, P = OH * OW;
        std::vector<uint8_t> x(static_cast<size_t>(v.C * v.H * v.W));
        for (auto& e : x) e = static_cast<uint8_t>(rng());
        std::vector<int8_t> w(static_cast<size_t>(v.OC * K));
        for (auto& e : w) e = static_cast<int8_t>(rng());
        const int32_t xz = 117;
        // direct convolution, int64
        std::vector<int64_t> want(static_cast<size_t>(v.OC * P));
        for (int64_t oc = 0; oc < v.OC; ++oc) {
            const int64_t g = oc / OCg;
            for (int64_t oy = 0; oy < OH; ++oy)
                for (int64_t ox = 0; ox < OW; ++ox) {
                    int64_t acc = 0;
                    for (int64_t c = 0; c < Cg; ++c)
                        for (int64_t ky = 0; ky < v.KH; ++ky)
                            for (int64_t kx = 0; kx < v.KW; ++kx) {
                                const int64_t iy = oy * v.SH - v.PT + ky * v.DH,
                                              ix = ox * v.SW - v.PL + kx * v.DW;
                                const int64_t xv =
                                    iy < 0 || iy >= v.H || ix < 0 || ix >= v.W
                                        ? xz
                                        : x[static_cast<size_t>(((g * Cg + c) * v.H + iy) * v.W + ix)];
                                acc += (xv - xz) *
                                       w[static_cast<size_t>(((oc * Cg + c) * v.KH + ky) * v.KW + kx)];
                            }
                    want[static_cast<size_t>(oc * P + oy * OW + ox)] = acc;
                }
        }
        // NHWC path
        std::vector<uint8_t> xh(x.size());
        transpose_u8(x.data(), v.C, v.H * v.W, v.H * v.W, xh.data(), v.C);
        std::vector<int8_t> wr(w.size());
        conv_weights_hwc(w.data(), v.OC, Cg, v.KH, v.KW, wr.data());
        const bool pointwise =
            v.KH == 1 && v.KW == 1 && v.SH == 1 && v.SW == 1 && v.PT + v.PL + v.PB + v.PR == 0;
        std::set<std::string> rows_seen;
        for (const auto& row : qkernel_rows()) {
            if (row.op != QOp::Gemm8 || !qrow_supported(row)) continue;
            rows_seen.insert(row.name);
            for (int64_t g = 0; g < v.G; ++g) {
                std::vector<uint8_t> packed(static_cast<size_t>(qpack_b_bytes(K, OCg)));
                qpack_b(wr.data() + g * OCg * K, false, 1, K, K, OCg, packed.data());
                std::vector<uint8_t> cols(static_cast<size_t>(P * K));
                QIm2colNhwcArgs ia;
                ia.C = v.C, ia.c0 = g * Cg, ia.Cg = Cg, ia.H = v.H, ia.W = v.W, ia.OH = OH, ia.OW = OW;
                ia.KH = v.KH, ia.KW = v.KW, ia.SH = v.SH, ia.SW = v.SW, ia.PT = v.PT, ia.PL = v.PL,
                ia.DH = v.DH;
                ia.DW = v.DW, ia.x = xh.data(), ia.pad = static_cast<uint8_t>(xz);
                ia.p_begin = 0, ia.p_end = P / 3;  // two ranges
                im2col_nhwc_u8(ia, cols.data(), K);
                ia.p_begin = P / 3, ia.p_end = P;
                im2col_nhwc_u8(ia, cols.data() + (P / 3) * K, K);
                for (const bool direct : {false, true}) {
                    if (direct && !pointwise) continue;
                    std::vector<int32_t> c(static_cast<size_t>(P * OCg), 0x5A5A5A5A);
                    QGemmArgs q;
                    q.M = P, q.N = OCg, q.K = K;
                    q.a = direct ? static_cast<const void*>(xh.data() + g * Cg) : cols.data();
                    q.lda = direct ? v.C : K;
                    q.a_zero = xz;
                    q.b = packed.data();
                    q.out = QOut::S32;
                    q.c = c.data();
                    q.ldc = OCg;
                    q.m_begin = 0, q.m_end = P, q.n_begin = 0, q.n_end = OCg;
                    qgemm_fn(row)(q);
                    for (int64_t p = 0; p < P; ++p)
                        for (int64_t n = 0; n < OCg; ++n)
                            ASSERT_EQ(c[static_cast<size_t>(p * OCg + n)],
                                      want[static_cast<size_t>((g * OCg + n) * P + p)])
                                << row.name << " conv C" << v.C << " G" << v.G << " K" << v.KH << "x" << v.KW
                                << " p " << p << " oc " << g * OCg + n << (direct ? " (1x1 direct)" : "");
                }
            }
        }
        EXPECT_GE(rows_seen.size(), 1u);
    }
}

struct DwCase {
    int64_t C, H, W, KH, KW, SH, SW, PT, PL, PB, PR, DH, DW;
};

std::vector<uint8_t> dw_run(void (*fn)(const QDwConvArgs&), QDwConvArgs a, int64_t out_bytes, int splits,
                            bool work = false) {
    std::vector<uint8_t> y(static_cast<size_t>(out_bytes), 0xA5);
    a.y = y.data();
    std::vector<uint8_t> scratch;
    if (work) {
        scratch.assign(static_cast<size_t>(qdwconv_work_bytes(a)), 0x5A);  // garbage the kernel must clear
        a.work = scratch.data();
        a.work_bytes = static_cast<int64_t>(scratch.size());
    }
    const int64_t C = a.c_end;
    for (int s = 0; s < splits; ++s) {
        a.c_begin = C * s / splits;
        a.c_end = C * (s + 1) / splits;
        fn(a);
    }
    return y;
}

TEST(QDwConv, MatchesReferenceBitExact) {
    const DwCase cases[] = {
        {8, 9, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},    {5, 13, 11, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
        {3, 7, 17, 5, 5, 1, 2, 2, 2, 2, 2, 1, 1},   {17, 6, 5, 3, 3, 1, 1, 0, 0, 0, 0, 2, 2},
        {4, 1, 33, 1, 3, 1, 1, 0, 1, 0, 1, 1, 1},   {2, 20, 3, 3, 2, 3, 1, 2, 0, 1, 1, 1, 1},
        {32, 30, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, {6, 15, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
        {3, 14, 9, 5, 3, 3, 3, 2, 1, 0, 2, 2, 1},
    };
    std::mt19937 rng(3);
    int checked = 0;
    for (const DwCase& v : cases) {
        const int64_t OH = (v.H + v.PT + v.PB - ((v.KH - 1) * v.DH + 1)) / v.SH + 1;
        const int64_t OW = (v.W + v.PL + v.PR - ((v.KW - 1) * v.DW + 1)) / v.SW + 1;
        std::vector<uint8_t> x(static_cast<size_t>(v.C * v.H * v.W));
        std::vector<int8_t> w(static_cast<size_t>(v.C * v.KH * v.KW));
        std::vector<int32_t> zw(static_cast<size_t>(v.C)), bias(static_cast<size_t>(v.C));
        std::vector<float> mult(static_cast<size_t>(v.C)), bsc(static_cast<size_t>(v.C)),
            bf(static_cast<size_t>(v.C));
        for (int variant = 0; variant < 6; ++variant) {
            const bool extreme = variant == 5;
            for (auto& e : x)
                e = extreme ? static_cast<uint8_t>((rng() & 1) ? 255 : 0) : static_cast<uint8_t>(rng());
            for (auto& e : w)
                e = extreme ? static_cast<int8_t>((rng() & 1) ? 127 : -128) : static_cast<int8_t>(rng());
            std::uniform_real_distribution<float> md(1e-4f, 4e-3f);
            for (int64_t c = 0; c < v.C; ++c) {
                zw[static_cast<size_t>(c)] = variant % 2 ? static_cast<int32_t>(rng() % 21) - 10 : 0;
                bias[static_cast<size_t>(c)] = static_cast<int32_t>(rng() % 20001) - 10000;
                mult[static_cast<size_t>(c)] = md(rng);
                bsc[static_cast<size_t>(c)] = md(rng);
                bf[static_cast<size_t>(c)] = md(rng) * 100;
            }
            QDwConvArgs a;
            a.C = v.C, a.H = v.H, a.W = v.W, a.OH = OH, a.OW = OW, a.KH = v.KH, a.KW = v.KW, a.SH = v.SH,
            a.SW = v.SW;
            a.PT = v.PT, a.PL = v.PL, a.DH = v.DH, a.DW = v.DW;
            a.x = x.data();
            // variants 1 and 4: every channel reads plane 0 (a 1-input-channel Conv with C outputs, qconv_c1)
            a.one_input = variant == 1 || variant == 4;
            a.a_signed = variant >= 3;
            a.a_zero =
                a.a_signed ? static_cast<int32_t>(rng() % 256) - 128 : static_cast<int32_t>(rng() % 256);
            a.w = w.data();
            a.w_zero = variant % 2 ? zw.data() : nullptr;
            a.bias = variant == 2 ? nullptr : bias.data();
            a.multiplier = mult.data();
            a.a_scale = 0.01f;
            a.b_scale = bsc.data();
            a.bias_f = variant == 4 ? nullptr : bf.data();
            a.c_begin = 0, a.c_end = v.C;
            const QOut outs[] = {QOut::U8, QOut::S8, QOut::F32};
            for (QOut out : outs) {
                a.out = out;
                a.y_zero = out == QOut::U8 ? 7 : -3;
                a.y_min = out == QOut::U8 ? (variant == 1 ? 7 : 0) : -128;  // variant 1: a fused Relu clamp
                a.y_max = out == QOut::U8 ? 255 : 127;
                for (const Activation act : {Activation{Act::None, 0, 0}, Activation{Act::Relu, 0, 0},
                                             Activation{Act::Clip, -0.5f, 0.75f}}) {
                    if (out != QOut::F32 && act.kind != Act::None) continue;
                    a.act = act;
                    const int64_t bytes = v.C * OH * OW * (out == QOut::F32 ? 4 : 1);
                    const auto want = dw_run(qdwconv_ref, a, bytes, 1);
                    // rows (baseline build), rows (AVX2 build) split in 3, plane path (needs SH == SW) both
                    // builds
                    for (int mode = 0; mode < 4; ++mode) {
                        const bool plane = mode >= 2, split = mode % 2 == 1;
                        const auto got = dw_run(mode == 0 || mode == 2 ? qdwconv_rows : qdwconv, a, bytes,
                                                split ? 3 : 1, plane);
                        ASSERT_EQ(want, got)
                            << "depthwise C" << v.C << " " << v.H << "x" << v.W << " k" << v.KH << "x" << v.KW
                            << " s" << v.SH << "," << v.SW << " variant " << variant << " one_input "
                            << a.one_input << " out "
                            << static_cast<int>(out) << " mode " << mode;
                        ++checked;
                    }
                    // the reference against the definition (int64 accumulator, same epilogue)
                    for (int64_t c = 0; c < v.C; ++c)
                        for (int64_t o = 0; o < OH * OW; o += 7) {
                            const int64_t oy = o / OW, ox = o % OW;
                            int64_t acc = a.bias ? a.bias[c] : 0;
                            for (int64_t ky = 0; ky < v.KH; ++ky)
                                for (int64_t kx = 0; kx < v.KW; ++kx) {
                                    const int64_t iy = oy * v.SH - v.PT + ky * v.DH,
                                                  ix = ox * v.SW - v.PL + kx * v.DW;
                                    if (iy < 0 || iy >= v.H || ix < 0 || ix >= v.W) continue;
                                    const int64_t xc = a.one_input ? 0 : c;
                                    const uint8_t b = x[static_cast<size_t>((xc * v.H + iy) * v.W + ix)];
                                    const int64_t xv = a.a_signed ? static_cast<int8_t>(b) : b;
                                    acc += (xv - a.a_zero) *
                                           (w[static_cast<size_t>((c * v.KH + ky) * v.KW + kx)] -
                                            (a.w_zero ? a.w_zero[c] : 0));
                                }
                            const size_t i = static_cast<size_t>(c * OH * OW + o);
                            if (out == QOut::F32) {
                                float f = static_cast<float>(acc) * (a.a_scale * bsc[static_cast<size_t>(c)]);
                                if (a.bias_f) f = f + a.bias_f[c];
                                float g;
                                std::memcpy(&g, want.data() + 4 * i, 4);
                                ASSERT_EQ(activate(act, f), g);
                            } else {
                                float f = static_cast<float>(acc) * mult[static_cast<size_t>(c)];
                                f = std::clamp(f, static_cast<float>(a.y_min - a.y_zero),
                                               static_cast<float>(a.y_max - a.y_zero));
                                const int32_t q = static_cast<int32_t>(std::nearbyint(f)) + a.y_zero;
                                ASSERT_EQ(out == QOut::U8 ? static_cast<int32_t>(want[i])
                                                          : static_cast<int8_t>(want[i]),
                                          q);
                            }
                        }
                }
            }
        }
    }
    EXPECT_GT(checked, 100);
}

// qdwconv_nhwc (padded NHWC image, packed int16 weights, bias0) == qdwconv_ref on the same NCHW data byte for
// byte, after transposing its output: u8 / s8 activations, weight zero points, no bias, pads / strides /
// dilations, channel counts around the 16-lane blocks, rows split in ranges; both the reference loop and the
// vector build.
TEST(QDwConvNhwc, EqualsNchwReferenceBitExact) {
    const DwCase cases[] = {
        {8, 9, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},    {5, 13, 11, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
        {17, 7, 17, 5, 5, 1, 2, 2, 2, 2, 2, 1, 1},  {33, 6, 5, 3, 3, 1, 1, 0, 0, 0, 0, 2, 2},
        {16, 1, 33, 1, 3, 1, 1, 0, 1, 0, 1, 1, 1},  {31, 20, 3, 3, 2, 3, 1, 2, 0, 1, 1, 1, 1},
        {48, 15, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1}, {3, 14, 9, 5, 3, 3, 3, 2, 1, 0, 2, 2, 1},
        {64, 10, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    };
    std::mt19937 rng(11);
    int checked = 0, vnni_checked = 0;
    const bool dw_vnni = active_isa() >= Isa::Avx512Vnni && __builtin_cpu_supports("avx512vbmi");
    for (const DwCase& v : cases) {
        const int64_t OH = (v.H + v.PT + v.PB - ((v.KH - 1) * v.DH + 1)) / v.SH + 1;
        const int64_t OW = (v.W + v.PL + v.PR - ((v.KW - 1) * v.DW + 1)) / v.SW + 1;
        const int64_t hp = std::max(v.PT + v.H, (OH - 1) * v.SH + (v.KH - 1) * v.DH + 1);
        const int64_t wp = std::max(v.PL + v.W, (OW - 1) * v.SW + (v.KW - 1) * v.DW + 1);
        const int64_t taps = v.KH * v.KW;
        std::vector<uint8_t> x(static_cast<size_t>(v.C * v.H * v.W));
        std::vector<int8_t> w(static_cast<size_t>(v.C * taps));
        std::vector<int32_t> zw(static_cast<size_t>(v.C)), bias(static_cast<size_t>(v.C));
        std::vector<float> mult(static_cast<size_t>(v.C));
        for (int variant = 0; variant < 4; ++variant) {
            const bool extreme = variant == 3;
            for (auto& e : x)
                e = extreme ? static_cast<uint8_t>((rng() & 1) ? 255 : 0) : static_cast<uint8_t>(rng());
            for (auto& e : w)
                e = extreme ? static_cast<int8_t>((rng() & 1) ? 127 : -128) : static_cast<int8_t>(rng());
            std::uniform_real_distribution<float> md(1e-4f, 4e-3f);
            for (int64_t c = 0; c < v.C; ++c) {
                zw[static_cast<size_t>(c)] = variant % 2 ? static_cast<int32_t>(rng() % 21) - 10 : 0;
                bias[static_cast<size_t>(c)] = static_cast<int32_t>(rng() % 20001) - 10000;
                mult[static_cast<size_t>(c)] = md(rng);
            }
            QDwConvArgs a;
            a.C = v.C, a.H = v.H, a.W = v.W, a.OH = OH, a.OW = OW, a.KH = v.KH, a.KW = v.KW, a.SH = v.SH,
            a.SW = v.SW;
            a.PT = v.PT, a.PL = v.PL, a.DH = v.DH, a.DW = v.DW;
            a.x = x.data();
            a.a_signed = variant >= 2;
            a.a_zero =
                a.a_signed ? static_cast<int32_t>(rng() % 256) - 128 : static_cast<int32_t>(rng() % 256);
            a.w = w.data();
            a.w_zero = variant % 2 ? zw.data() : nullptr;
            a.bias = variant == 2 ? nullptr : bias.data();
            a.multiplier = mult.data();
            a.c_begin = 0, a.c_end = v.C;
            // the padded NHWC image (border = the zero point byte) and the packed weights
            std::vector<uint8_t> xp(static_cast<size_t>(hp * wp * v.C), static_cast<uint8_t>(a.a_zero));
            for (int64_t c = 0; c < v.C; ++c)
                for (int64_t iy = 0; iy < v.H; ++iy)
                    for (int64_t ix = 0; ix < v.W; ++ix)
                        xp[static_cast<size_t>(((v.PT + iy) * wp + v.PL + ix) * v.C + c)] =
                            x[static_cast<size_t>((c * v.H + iy) * v.W + ix)];
            std::vector<int16_t> wt(static_cast<size_t>(taps * v.C));
            std::vector<int32_t> b0(static_cast<size_t>(v.C));
            qdwconv_nhwc_pack(w.data(), a.w_zero, a.bias, a.a_zero, v.C, v.KH, v.KW, wt.data(), b0.data());
            QDwNhwcArgs n;
            n.C = v.C, n.OH = OH, n.OW = OW, n.wp = wp, n.KH = v.KH, n.KW = v.KW, n.SH = v.SH, n.SW = v.SW;
            n.DH = v.DH, n.DW = v.DW;
            n.x = xp.data();
            n.a_signed = a.a_signed;
            n.w = wt.data();
            n.bias0 = b0.data();
            n.multiplier = mult.data();
            for (QOut out : {QOut::U8, QOut::S8}) {
                a.out = n.out = out;
                a.y_zero = n.y_zero = out == QOut::U8 ? 7 : -3;
                a.y_min = n.y_min = out == QOut::U8 ? (variant == 1 ? 7 : 0) : -128;
                a.y_max = n.y_max = out == QOut::U8 ? 255 : 127;
                const auto want = dw_run(qdwconv_ref, a, v.C * OH * OW, 1);
                // reference / dispatch / the AVX-512 row / the VNNI + VBMI row, whole / rows split in 3
                for (int mode = 0; mode < 8; ++mode) {
                    if (mode >= 4 && active_isa() < Isa::Avx512) continue;
                    if (mode >= 6 && !dw_vnni) continue;
                    std::vector<uint8_t> got(static_cast<size_t>(OH * OW * v.C), 0xA5);
                    n.y = got.data();
                    const int splits = mode % 2 ? 3 : 1;
                    bool ran = true;
                    for (int s = 0; s < splits; ++s) {
                        n.oy_begin = OH * s / splits, n.oy_end = OH * (s + 1) / splits;
                        if (mode < 2)
                            qdwconv_nhwc_ref(n);
                        else if (mode < 4)
                            qdwconv_nhwc(n);
                        else if (mode < 6)
                            x86::qdwconv_nhwc__avx512(n);
                        else
                            ran = x86::qdwconv_nhwc__avx512vnni(n);  // false: weights past s8
                    }
                    if (!ran) continue;
                    if (mode >= 6) ++vnni_checked;
                    std::vector<uint8_t> nchw(got.size());
                    transpose_u8_ref(got.data(), OH * OW, v.C, v.C, nchw.data(), OH * OW);
                    ASSERT_EQ(want, nchw) << "NHWC depthwise C" << v.C << " " << v.H << "x" << v.W << " k"
                                          << v.KH << "x" << v.KW << " s" << v.SH << "," << v.SW << " variant "
                                          << variant << " out " << static_cast<int>(out) << " mode " << mode;
                    ++checked;
                }
            }
        }
    }
    EXPECT_GE(checked, 9 * 4 * 2 * 4);
    if (dw_vnni) {
        EXPECT_GE(vnni_checked, 9 * 2 * 2 * 2);  // (variants without weight zero points at least)
    }
}

// qconv_direct (padded NHWC image, packed weights, reference loop and VNNI build) == a direct integer
// convolution from NCHW data and ONNX weight order (int64 accumulator, qdwconv's epilogue) byte for byte: u8
// / s8 activations, no bias, pads / strides / row dilation, outputs around the 16-lane blocks, pixel rows not
// a multiple of 8, rows split in ranges.
TEST(QConvDirect, EqualsDirectConvolutionBitExact) {
    struct Case {
        int64_t C, H, W, OC, KH, KW, SH, SW, PT, PL, PB, PR, DH;
    };
    const Case cases[] = {
        {3, 17, 21, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1}, {6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 0, 0, 1},
        {5, 9, 10, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1},  {1, 12, 13, 7, 5, 3, 1, 2, 2, 1, 2, 1, 2},
        {4, 7, 30, 33, 3, 5, 2, 1, 0, 2, 1, 2, 1},  {2, 5, 9, 48, 1, 3, 1, 3, 0, 0, 0, 1, 1},
        {1, 9, 28, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1},  // vgg_bn's first conv: 8 + 8 + 8 + 4 pixels, two packed blocks
    };
    std::mt19937 rng(17);
    int checked = 0;
    for (const Case& v : cases) {
        const int64_t OH = (v.H + v.PT + v.PB - ((v.KH - 1) * v.DH + 1)) / v.SH + 1;
        const int64_t OW = (v.W + v.PL + v.PR - v.KW) / v.SW + 1;
        const int64_t hp = std::max(v.PT + v.H, (OH - 1) * v.SH + (v.KH - 1) * v.DH + 1);
        const int64_t wp = std::max(v.PL + v.W, (OW - 1) * v.SW + v.KW);
        std::vector<uint8_t> x(static_cast<size_t>(v.C * v.H * v.W));
        std::vector<int8_t> w(static_cast<size_t>(v.OC * v.C * v.KH * v.KW));
        std::vector<int32_t> bias(static_cast<size_t>(v.OC));
        std::vector<float> mult(static_cast<size_t>(v.OC));
        for (int variant = 0; variant < 4; ++variant) {
            const bool extreme = variant == 3, sgn = variant >= 2;
            for (auto& e : x)
                e = extreme ? static_cast<uint8_t>((rng() & 1) ? 255 : 0) : static_cast<uint8_t>(rng());
            for (auto& e : w)
                e = extreme ? static_cast<int8_t>((rng() & 1) ? 127 : -128) : static_cast<int8_t>(rng());
            std::uniform_real_distribution<float> md(1e-5f, 1e-3f);
            for (int64_t c = 0; c < v.OC; ++c) {
                bias[static_cast<size_t>(c)] = static_cast<int32_t>(rng() % 40001) - 20000;
                mult[static_cast<size_t>(c)] = md(rng);
            }
            const int32_t za =
                sgn ? static_cast<int32_t>(rng() % 256) - 128 : static_cast<int32_t>(rng() % 256);
            const int32_t* b = variant == 1 ? nullptr : bias.data();
            // padded NHWC image (border = the zero point byte) + 3 readable bytes past it
            std::vector<uint8_t> xp(static_cast<size_t>(hp * wp * v.C + 3), static_cast<uint8_t>(za));
            for (int64_t c = 0; c < v.C; ++c)
                for (int64_t iy = 0; iy < v.H; ++iy)
                    for (int64_t ix = 0; ix < v.W; ++ix)
                        xp[static_cast<size_t>(((v.PT + iy) * wp + v.PL + ix) * v.C + c)] =
                            x[static_cast<size_t>((c * v.H + iy) * v.W + ix)];
            std::vector<int8_t> wpk(static_cast<size_t>(qconv_direct_w_bytes(v.C, v.OC, v.KH, v.KW)));
            std::vector<int32_t> b0(static_cast<size_t>((v.OC + 15) / 16 * 16));
            qconv_direct_pack(w.data(), b, za, sgn, v.C, v.OC, v.KH, v.KW, wpk.data(), b0.data());
            QConvDirectArgs a;
            a.C = v.C, a.OC = v.OC, a.OH = OH, a.OW = OW, a.wp = wp, a.KH = v.KH, a.KW = v.KW, a.SH = v.SH;
            a.SW = v.SW, a.DH = v.DH;
            a.x = xp.data();
            a.a_signed = sgn;
            a.w = wpk.data();
            a.bias0 = b0.data();
            a.multiplier = mult.data();
            for (QOut out : {QOut::U8, QOut::S8}) {
                a.out = out;
                // variant 2: y_zero 0 (ReLU-style: the vector epilogue drops the add and lets the packed store's
                // saturation clamp from below)
                a.y_zero = variant == 2 ? 0 : out == QOut::U8 ? 7 : -3;
                a.y_min = out == QOut::U8 ? (variant == 1 ? 7 : 0) : -128;
                a.y_max = out == QOut::U8 ? 255 : 127;
                // the definition, NHWC order
                std::vector<uint8_t> want(static_cast<size_t>(OH * OW * v.OC));
                for (int64_t oy = 0; oy < OH; ++oy)
                    for (int64_t ox = 0; ox < OW; ++ox)
                        for (int64_t oc = 0; oc < v.OC; ++oc) {
                            int64_t acc = b ? b[oc] : 0;
                            for (int64_t c = 0; c < v.C; ++c)
                                for (int64_t ky = 0; ky < v.KH; ++ky)
                                    for (int64_t kx = 0; kx < v.KW; ++kx) {
                                        const int64_t iy = oy * v.SH - v.PT + ky * v.DH,
                                                      ix = ox * v.SW - v.PL + kx;
                                        if (iy < 0 || iy >= v.H || ix < 0 || ix >= v.W) continue;
                                        const uint8_t xb = x[static_cast<size_t>((c * v.H + iy) * v.W + ix)];
                                        const int64_t xv = sgn ? static_cast<int8_t>(xb) : xb;
                                        acc +=
                                            (xv - za) *
                                            w[static_cast<size_t>(((oc * v.C + c) * v.KH + ky) * v.KW + kx)];
                                    }
                            float f = static_cast<float>(acc) * mult[static_cast<size_t>(oc)];
                            f = std::clamp(f, static_cast<float>(a.y_min - a.y_zero),
                                           static_cast<float>(a.y_max - a.y_zero));
                            want[static_cast<size_t>((oy * OW + ox) * v.OC + oc)] =
                                static_cast<uint8_t>(static_cast<int32_t>(std::nearbyint(f)) + a.y_zero);
                        }
                // reference / vector, whole / rows split in 3; modes 4, 5: output rows inside a wider image
                // (y_row, as when a conv writes straight into the next conv's padded input), gaps untouched
                for (int mode = 0; mode < 6; ++mode) {
                    const int64_t y_row = mode >= 4 ? (OW + 3) * v.OC : OW * v.OC;
                    std::vector<uint8_t> img(static_cast<size_t>(OH * y_row), 0xA5), got;
                    a.y = img.data();
                    a.y_row = mode >= 4 ? y_row : 0;
                    const int splits = mode % 2 ? 3 : 1;
                    for (int sp = 0; sp < splits; ++sp) {
                        a.oy_begin = OH * sp / splits, a.oy_end = OH * (sp + 1) / splits;
                        (mode % 4 < 2 ? qconv_direct_ref : qconv_direct)(a);
                    }
                    for (int64_t oy = 0; oy < OH; ++oy) {
                        got.insert(got.end(), img.begin() + oy * y_row, img.begin() + oy * y_row + OW * v.OC);
                        for (int64_t i = OW * v.OC; i < y_row; ++i)
                            ASSERT_EQ(img[static_cast<size_t>(oy * y_row + i)], 0xA5) << "gap written, mode " << mode;
                    }
                    ASSERT_EQ(want, got) << "direct conv C" << v.C << " OC" << v.OC << " " << v.H << "x"
                                         << v.W << " k" << v.KH << "x" << v.KW << " variant " << variant
                                         << " out " << static_cast<int>(out) << " mode " << mode;
                    ++checked;
                }
            }
        }
    }
    EXPECT_EQ(checked, 7 * 4 * 2 * 6);
}

// qconv_c1 (one input plane, output pixels in the lanes) against qdwconv_ref with one_input (the specification
// of a one-plane conv): u8 / s8 input, with and without bias, extreme operands, OC 1..16, KW 1..8 (one and two
// 4-tap groups), widths around the 16-pixel blocks, pads, row splits; the reference loop and the vector build.
TEST(QConvC1, EqualsOneInputDepthwiseReferenceBitExact) {
    struct Case {
        int64_t H, W, OC, KH, KW, PT, PL, PB, PR;
    };
    const Case cases[] = {
        {28, 28, 6, 5, 5, 2, 2, 2, 2}, {5, 3, 1, 1, 1, 0, 0, 0, 0},  {17, 33, 16, 3, 7, 1, 3, 1, 3},
        {9, 40, 11, 4, 8, 0, 0, 2, 0}, {12, 16, 2, 2, 4, 1, 0, 0, 1}, {1, 19, 5, 1, 6, 0, 2, 0, 3},
    };
    std::mt19937 rng(23);
    int checked = 0;
    for (const Case& v : cases) {
        const int64_t OH = v.H + v.PT + v.PB - v.KH + 1, OW = v.W + v.PL + v.PR - v.KW + 1;
        const int64_t hp = std::max(v.PT + v.H, OH + v.KH - 1), wp = std::max(v.PL + v.W, OW + v.KW - 1);
        std::vector<uint8_t> x(static_cast<size_t>(v.H * v.W));
        std::vector<int8_t> w(static_cast<size_t>(v.OC * v.KH * v.KW));
        std::vector<int32_t> bias(static_cast<size_t>(v.OC));
        std::vector<float> mult(static_cast<size_t>(v.OC));
        for (int variant = 0; variant < 4; ++variant) {
            const bool extreme = variant == 3, sgn = variant >= 2;
            for (auto& e : x)
                e = extreme ? static_cast<uint8_t>((rng() & 1) ? 255 : 0) : static_cast<uint8_t>(rng());
            for (auto& e : w)
                e = extreme ? static_cast<int8_t>((rng() & 1) ? 127 : -128) : static_cast<int8_t>(rng());
            std::uniform_real_distribution<float> md(1e-4f, 1e-2f);
            for (int64_t c = 0; c < v.OC; ++c) {
                bias[static_cast<size_t>(c)] = static_cast<int32_t>(rng() % 40001) - 20000;
                mult[static_cast<size_t>(c)] = md(rng);
            }
            const int32_t za = sgn ? static_cast<int32_t>(rng() % 256) - 128 : static_cast<int32_t>(rng() % 256);
            const int32_t* b = variant == 1 ? nullptr : bias.data();
            // the padded plane (border = the zero point byte) and the 64 readable bytes past it
            std::vector<uint8_t> xp(static_cast<size_t>(qconv_c1_x_bytes(hp, wp)), static_cast<uint8_t>(za));
            for (int64_t iy = 0; iy < v.H; ++iy)
                for (int64_t ix = 0; ix < v.W; ++ix)
                    xp[static_cast<size_t>((v.PT + iy) * wp + v.PL + ix)] = x[static_cast<size_t>(iy * v.W + ix)];
            std::vector<int32_t> wpk(static_cast<size_t>(v.KH * qconv_c1_groups(v.KW) * v.OC)), b0(static_cast<size_t>(v.OC));
            qconv_c1_pack(w.data(), b, za, sgn, v.OC, v.KH, v.KW, wpk.data(), b0.data());
            QConvC1Args a;
            a.OC = v.OC, a.OH = OH, a.OW = OW, a.wp = wp, a.KH = v.KH, a.KW = v.KW;
            a.x = xp.data();
            a.a_signed = sgn;
            a.w = wpk.data();
            a.bias0 = b0.data();
            a.multiplier = mult.data();
            QDwConvArgs d;  // the specification: OC depthwise filters over the one input plane
            d.C = v.OC, d.H = v.H, d.W = v.W, d.OH = OH, d.OW = OW, d.KH = v.KH, d.KW = v.KW, d.PT = v.PT;
            d.PL = v.PL;
            d.x = x.data();
            d.one_input = true;
            d.a_signed = sgn;
            d.a_zero = za;
            d.w = w.data();
            d.bias = b;
            d.multiplier = mult.data();
            d.c_begin = 0, d.c_end = v.OC;
            for (QOut out : {QOut::U8, QOut::S8}) {
                a.out = d.out = out;
                a.y_zero = d.y_zero = out == QOut::U8 ? 7 : -3;
                a.y_min = d.y_min = out == QOut::U8 ? (variant == 1 ? 7 : 0) : -128;
                a.y_max = d.y_max = out == QOut::U8 ? 255 : (variant == 2 ? 100 : 127);
                std::vector<uint8_t> want(static_cast<size_t>(v.OC * OH * OW));
                d.y = want.data();
                qdwconv_ref(d);
                for (int mode = 0; mode < 4; ++mode) {  // reference / vector, whole / rows split in 3
                    std::vector<uint8_t> got(want.size(), 0xA5);
                    a.y = got.data();
                    const int splits = mode % 2 ? 3 : 1;
                    for (int sp = 0; sp < splits; ++sp) {
                        a.oy_begin = OH * sp / splits, a.oy_end = OH * (sp + 1) / splits;
                        (mode < 2 ? qconv_c1_ref : qconv_c1)(a);
                    }
                    ASSERT_EQ(want, got) << "qconv_c1 OC" << v.OC << " " << v.H << "x" << v.W << " k" << v.KH << "x"
                                         << v.KW << " variant " << variant << " out " << static_cast<int>(out)
                                         << " mode " << mode << (qconv_c1_vector() ? " (vector)" : " (no vector build)");
                    ++checked;
                }
            }
        }
    }
    EXPECT_EQ(checked, 6 * 4 * 2 * 4);
}

// qadd (DQ + DQ [-> Relu] -> Q) vector build against the scalar loop: every tail length, u8 / s8 operands and
// output, Relu, scales that saturate the output both ways, extreme bytes; and the loop against the ONNX
// definition written out (DQ, add, Q with a double-rounded division as the reference op does).
TEST(QAdd, VectorEqualsReferenceAndDefinition) {
    std::mt19937 rng(41);
    int checked = 0;
    for (int64_t n : {int64_t{1}, int64_t{15}, int64_t{16}, int64_t{17}, int64_t{63}, int64_t{100}, int64_t{1000}})
        for (int variant = 0; variant < 8; ++variant) {
            QAddArgs a;
            a.n = n;
            a.a_signed = variant & 1, a.b_signed = (variant >> 1) & 1, a.y_signed = (variant >> 2) & 1;
            a.relu = (variant % 3) == 0;
            std::uniform_real_distribution<float> sd(0.001f, 0.1f);
            a.sa = sd(rng), a.sb = sd(rng);
            a.sy = variant == 5 ? 1e-4f : variant == 6 ? 10.0f : sd(rng);  // saturating / collapsing outputs
            auto zr = [&](bool sgn) {
                return sgn ? static_cast<int32_t>(rng() % 256) - 128 : static_cast<int32_t>(rng() % 256);
            };
            a.za = zr(a.a_signed), a.zb = zr(a.b_signed), a.zy = zr(a.y_signed);
            std::vector<uint8_t> xa(static_cast<size_t>(n)), xb(static_cast<size_t>(n));
            for (size_t i = 0; i < xa.size(); ++i) {
                xa[i] = variant == 7 ? static_cast<uint8_t>((rng() & 1) ? 255 : 0) : static_cast<uint8_t>(rng());
                xb[i] = variant == 7 ? static_cast<uint8_t>((rng() & 1) ? 128 : 127) : static_cast<uint8_t>(rng());
            }
            a.a = xa.data(), a.b = xb.data();
            std::vector<uint8_t> want(static_cast<size_t>(n)), got(static_cast<size_t>(n) + 1, 0xA5);
            for (int64_t i = 0; i < n; ++i) {
                const int32_t va = a.a_signed ? int32_t{static_cast<int8_t>(xa[static_cast<size_t>(i)])} : xa[static_cast<size_t>(i)];
                const int32_t vb = a.b_signed ? int32_t{static_cast<int8_t>(xb[static_cast<size_t>(i)])} : xb[static_cast<size_t>(i)];
                float f = static_cast<float>(va - a.za) * a.sa + static_cast<float>(vb - a.zb) * a.sb;
                if (a.relu) f = f > 0 ? f : 0.0f;
                double v = std::nearbyint(static_cast<double>(static_cast<float>(static_cast<double>(f) / a.sy)));
                v = std::clamp(v + a.zy, a.y_signed ? -128.0 : 0.0, a.y_signed ? 127.0 : 255.0);
                want[static_cast<size_t>(i)] = static_cast<uint8_t>(static_cast<int32_t>(v));
            }
            std::vector<uint8_t> ref(static_cast<size_t>(n));
            a.y = ref.data();
            qadd_ref(a);
            ASSERT_EQ(want, ref) << "qadd_ref n " << n << " variant " << variant;
            a.y = got.data();
            qadd(a);
            EXPECT_EQ(got[static_cast<size_t>(n)], 0xA5) << "wrote past n";
            got.resize(static_cast<size_t>(n));
            ASSERT_EQ(want, got) << "qadd n " << n << " variant " << variant;
            ++checked;
        }
    EXPECT_EQ(checked, 7 * 8);
}

// activate_f32 (the vector activations after qdwconv's float epilogue) vs activate() per element: equal
// except Sigmoid / Tanh (vector exp: within 2e-6, as the qgemm epilogues); lengths with every tail.
TEST(QActivate, VectorBuildMatchesReference) {
    constexpr float kVecExpAbs = 2e-6f;
    std::mt19937 rng(21);
    std::uniform_real_distribution<float> d(-12.0f, 12.0f);
    const Activation acts[] = {{Act::Relu, 0, 0},        {Act::LeakyRelu, 0.1f, 0}, {Act::Clip, -0.5f, 2.0f},
                               {Act::Sigmoid, 0, 0},     {Act::Tanh, 0, 0},         {Act::HardSigmoid, 0.2f, 0.5f},
                               {Act::HardSwish, 0, 0}};
    for (const Activation& act : acts)
        for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{8}, int64_t{15}, int64_t{16}, int64_t{17},
                          int64_t{100}}) {
            std::vector<float> x(static_cast<size_t>(n));
            for (auto& v : x) v = d(rng);
            if (n > 3) x[0] = 0.0f, x[1] = -0.0f, x[2] = 40.0f, x[3] = -40.0f;
            std::vector<float> want = x, got = x;
            activate_f32_ref(act, want.data(), n);
            activate_f32(act, got.data(), n);
            const bool approx = act.kind == Act::Sigmoid || act.kind == Act::Tanh;
            for (int64_t i = 0; i < n; ++i) {
                const size_t j = static_cast<size_t>(i);
                EXPECT_TRUE(approx ? std::fabs(want[j] - got[j]) <= kVecExpAbs : want[j] == got[j])
                    << act_name(act.kind) << " n " << n << " i " << i << " x " << x[j] << ": " << want[j]
                    << " vs " << got[j];
            }
        }
}

TEST(QQuantize, VectorBuildEqualsReference) {
    std::mt19937 rng(5);
    std::vector<float> x;
    for (float v : {0.0f, -0.0f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 1e30f, -1e30f, INFINITY, -INFINITY, NAN,
                    127.5f, -128.5f, 255.5f, 254.5f})
        x.push_back(v);
    std::uniform_real_distribution<float> d(-400, 400);
    for (int i = 0; i < 1000; ++i) x.push_back(d(rng));
    for (int i = 0; i < 200; ++i) x.push_back(std::nearbyint(d(rng)) * 0.5f);  // exact ties after / 0.5
    for (const float scale : {1.0f, 0.5f, 0.0123f, 3.7f}) {
        for (const bool sgn : {false, true}) {
            for (const int32_t zero : {0, 5, sgn ? -128 : 255, sgn ? 127 : 128}) {
                for (int64_t n :
                     {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{17}, int64_t{32}, int64_t{45},
                      static_cast<int64_t>(x.size()) - 5, static_cast<int64_t>(x.size())}) {
                    std::vector<uint8_t> want(x.size(), 0xA5), got(x.size(), 0xA5);
                    quantize_linear_f32_ref(x.data(), n, scale, zero, sgn, want.data());
                    quantize_linear_f32(x.data(), n, scale, zero, sgn, got.data());
                    ASSERT_EQ(want, got)
                        << "scale " << scale << " zero " << zero << " n " << n << (sgn ? " s8" : " u8");
                }
                // the definition, on the reference
                std::vector<uint8_t> q(x.size());
                quantize_linear_f32_ref(x.data(), static_cast<int64_t>(x.size()), scale, zero, sgn, q.data());
                for (size_t i = 0; i < x.size(); ++i) {
                    float v = std::nearbyint(x[i] / scale) + static_cast<float>(zero);
                    v = std::isnan(v) ? static_cast<float>(zero)
                                      : std::clamp(v, sgn ? -128.0f : 0.0f, sgn ? 127.0f : 255.0f);
                    ASSERT_EQ(sgn ? static_cast<int>(static_cast<int8_t>(q[i])) : static_cast<int>(q[i]),
                              static_cast<int>(v))
                        << x[i] << " / " << scale;
                }
            }
        }
    }
}

// qavgpool against its definition (kernels/qconv.h) written out with int64 sums from the window bounds, and
// against the float computation the reference executor does (DQ, float mean, Q) within 1; u8 / s8 in and
// out, pads, strides, count_include_pad, windows clipped by the input edge, split plane ranges.
TEST(QAvgPool, MatchesDefinitionAndFloatWithinOne) {
    struct Pool {
        int64_t H, W, OH, OW, KH, KW, SH, SW, PT, PL;
    };
    const Pool pools[] = {
        {28, 28, 14, 14, 2, 2, 2, 2, 0, 0}, {9, 11, 5, 6, 3, 2, 2, 2, 1, 0},  // last window past the edge
        {7, 7, 7, 7, 3, 3, 1, 1, 1, 1},     {10, 13, 3, 4, 4, 3, 3, 3, 0, 0},
        {5, 33, 2, 16, 2, 2, 2, 2, 0, 0},   {6, 6, 3, 3, 3, 3, 2, 2, 1, 1},
    };
    std::mt19937 rng(8);
    int64_t checked = 0, off_by_one = 0;
    for (const Pool& v : pools) {
        const int64_t planes = 3;
        std::vector<uint8_t> x(static_cast<size_t>(planes * v.H * v.W));
        for (int variant = 0; variant < 8; ++variant) {
            const bool extreme = variant == 7;
            for (auto& e : x)
                e = extreme ? static_cast<uint8_t>((rng() & 1) ? 255 : 0) : static_cast<uint8_t>(rng());
            QAvgPoolArgs a;
            a.H = v.H, a.W = v.W, a.OH = v.OH, a.OW = v.OW, a.KH = v.KH, a.KW = v.KW, a.SH = v.SH,
            a.SW = v.SW, a.PT = v.PT, a.PL = v.PL;
            a.count_include_pad = variant % 2 == 1;
            a.x_signed = variant & 2, a.y_signed = variant & 4;
            a.x_zero = a.x_signed ? static_cast<int32_t>(rng() % 256) - 128 : static_cast<int32_t>(rng() % 256);
            a.y_zero = a.y_signed ? static_cast<int32_t>(rng() % 256) - 128 : static_cast<int32_t>(rng() % 256);
            const float sx = std::uniform_real_distribution<float>(0.001f, 0.05f)(rng);
            const float sy = std::uniform_real_distribution<float>(0.001f, 0.05f)(rng);
            a.ratio = static_cast<double>(sx) / sy;
            a.x = x.data();
            std::vector<uint8_t> y(static_cast<size_t>(planes * v.OH * v.OW), 0xA5);
            a.y = y.data();
            for (int part = 0; part < 2; ++part) {  // planes split in two calls
                a.p_begin = part == 0 ? 0 : 1;
                a.p_end = part == 0 ? 1 : planes;
                qavgpool(a);
            }
            const int32_t qmin = a.y_signed ? -128 : 0, qmax = a.y_signed ? 127 : 255;
            for (int64_t p = 0; p < planes; ++p)
                for (int64_t oy = 0; oy < v.OH; ++oy)
                    for (int64_t ox = 0; ox < v.OW; ++ox) {
                        int64_t sum = 0, inside = 0;
                        float fsum = 0.0f;
                        for (int64_t ky = 0; ky < v.KH; ++ky)
                            for (int64_t kx = 0; kx < v.KW; ++kx) {
                                const int64_t iy = oy * v.SH - v.PT + ky, ix = ox * v.SW - v.PL + kx;
                                if (iy < 0 || iy >= v.H || ix < 0 || ix >= v.W) continue;
                                const uint8_t b = x[static_cast<size_t>((p * v.H + iy) * v.W + ix)];
                                const int64_t q = a.x_signed ? static_cast<int8_t>(b) : b;
                                sum += q - a.x_zero;
                                fsum += static_cast<float>(q - a.x_zero) * sx;
                                ++inside;
                            }
                        const int64_t n = a.count_include_pad ? v.KH * v.KW : inside;
                        const float f = static_cast<float>(sum) * static_cast<float>(a.ratio / static_cast<double>(n));
                        const int32_t want = std::clamp(static_cast<int32_t>(std::nearbyint(f)) + a.y_zero, qmin, qmax);
                        const float fl = std::nearbyint(fsum / static_cast<float>(n) / sy) + static_cast<float>(a.y_zero);
                        const int32_t want_float = static_cast<int32_t>(std::clamp(fl, static_cast<float>(qmin), static_cast<float>(qmax)));
                        const uint8_t gb = y[static_cast<size_t>((p * v.OH + oy) * v.OW + ox)];
                        const int32_t got = a.y_signed ? static_cast<int8_t>(gb) : gb;
                        ASSERT_EQ(want, got) << "pool " << v.H << "x" << v.W << " k" << v.KH << "x" << v.KW
                                             << " variant " << variant << " plane " << p << " at " << oy << "," << ox;
                        ASSERT_LE(std::abs(want_float - got), 1) << "variant " << variant;
                        off_by_one += want_float != got;
                        ++checked;
                    }
        }
    }
    EXPECT_LE(off_by_one * 50, checked) << off_by_one << " of " << checked << " differ from the float path";
}

// qavgpool (AVX-512BW for exact 2×2 / 2 tilings, the AVX2 loops when every window lies inside the input, else
// the reference) == qavgpool_ref byte for byte: odd widths (rows not a multiple of the vector width, W ≠ OW·SW so rows are not one flat index),
// heights that do not stack planes (H ≠ OH·SH), overlapping windows (stride < kernel), kxk windows, a row
// longer than the AVX2 chunk, padded pools (reference path); u8 / s8 in and out, random zero points, scales
// that saturate; planes split over calls. Bytes outside the written planes must stay untouched.
TEST(QAvgPool, VectorEqualsReferenceOnAwkwardShapes) {
    struct Pool {
        int64_t H, W, KH, KW, SH, SW, PT, PL;
    };
    const Pool pools[] = {
        {28, 28, 2, 2, 2, 2, 0, 0}, {10, 10, 2, 2, 2, 2, 0, 0}, {29, 31, 2, 2, 2, 2, 0, 0},
        {7, 13, 3, 3, 3, 3, 0, 0},  {17, 17, 4, 4, 4, 4, 0, 0}, {9, 67, 2, 2, 1, 1, 0, 0},
        {5, 5, 5, 5, 1, 1, 0, 0},   {12, 9, 3, 2, 3, 2, 0, 0},  {3, 2100, 1, 2, 1, 2, 0, 0},
        {6, 6, 3, 3, 2, 2, 1, 1},   {1, 33, 1, 3, 1, 3, 0, 0},  {30, 42, 2, 3, 2, 3, 0, 0},
        {64, 64, 2, 2, 2, 2, 0, 0}, {9, 12, 3, 3, 3, 3, 0, 0},  // exact tilings over several chunks / 3×3
        // exact 2×2 / 2 tilings (the AVX-512BW path): one window, odd OW, rows of more than 32 windows, rows of
        // more than 64 input bytes, a row too long for its chunk (falls back)
        {2, 2, 2, 2, 2, 2, 0, 0},   {14, 14, 2, 2, 2, 2, 0, 0}, {4, 130, 2, 2, 2, 2, 0, 0},
        {6, 66, 2, 2, 2, 2, 0, 0},  {2, 4100, 2, 2, 2, 2, 0, 0},
    };
    std::mt19937 rng(21);
    for (const Pool& v : pools) {
        const int64_t OH = (v.H + 2 * v.PT - v.KH) / v.SH + 1, OW = (v.W + 2 * v.PL - v.KW) / v.SW + 1;
        for (const int64_t planes : {int64_t{1}, int64_t{5}}) {
            std::vector<uint8_t> x(static_cast<size_t>(planes * v.H * v.W));
            for (int variant = 0; variant < 8; ++variant) {
                for (auto& e : x)
                    e = variant == 3 ? static_cast<uint8_t>((rng() & 1) ? 255 : 0) : static_cast<uint8_t>(rng());
                QAvgPoolArgs a;
                a.H = v.H, a.W = v.W, a.OH = OH, a.OW = OW, a.KH = v.KH, a.KW = v.KW, a.SH = v.SH, a.SW = v.SW;
                a.PT = v.PT, a.PL = v.PL;
                a.count_include_pad = variant % 2 == 1;
                a.x_signed = variant & 2, a.y_signed = variant & 4;
                a.x_zero = a.x_signed ? static_cast<int32_t>(rng() % 256) - 128 : static_cast<int32_t>(rng() % 256);
                a.y_zero = a.y_signed ? static_cast<int32_t>(rng() % 256) - 128 : static_cast<int32_t>(rng() % 256);
                // ratios from 0.05 to 20: small ones hit round-half cases often, large ones saturate
                a.ratio = std::exp(std::uniform_real_distribution<double>(-3.0, 3.0)(rng));
                a.x = x.data();
                std::vector<uint8_t> want(static_cast<size_t>((planes + 1) * OH * OW), 0xA5), got = want;
                const int64_t split = planes / 2;
                for (int part = 0; part < 2; ++part) {
                    a.p_begin = part == 0 ? 0 : split;
                    a.p_end = part == 0 ? split : planes;
                    if (a.p_begin == a.p_end) continue;
                    a.y = want.data();
                    qavgpool_ref(a);
                    a.y = got.data();
                    qavgpool(a);
                }
                for (size_t i = 0; i < want.size(); ++i)
                    ASSERT_EQ(want[i], got[i]) << "pool " << v.H << "x" << v.W << " k" << v.KH << "x" << v.KW
                                               << " s" << v.SH << "x" << v.SW << " planes " << planes << " variant "
                                               << variant << " at " << i;
            }
        }
    }
}

TEST(QLut, LooksUpEveryByte) {
    std::vector<uint8_t> table(256), x(1000), y(1000, 0);
    for (int i = 0; i < 256; ++i) table[static_cast<size_t>(i)] = static_cast<uint8_t>(i * 7 + 3);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<uint8_t>(i * 31);
    qlut_u8(table.data(), x.data(), 999, y.data());
    for (size_t i = 0; i < 999; ++i) ASSERT_EQ(y[i], static_cast<uint8_t>(x[i] * 7 + 3)) << i;
    EXPECT_EQ(y[999], 0);
    // the vector path (when the CPU has it) == the byte loop at every length around the 64-byte block, random
    // tables; the byte past n stays untouched
    std::mt19937 rng(5);
    for (auto& e : table) e = static_cast<uint8_t>(rng());
    for (auto& e : x) e = static_cast<uint8_t>(rng());
    for (int64_t n : {0, 1, 63, 64, 65, 127, 128, 200, 999}) {
        std::vector<uint8_t> want(1000, 0x5A), got(1000, 0x5A);
        qlut_u8_ref(table.data(), x.data(), n, want.data());
        qlut_u8(table.data(), x.data(), n, got.data());
        ASSERT_EQ(want, got) << n;
    }
}

TEST(QMaxPool, MatchesNaiveMax) {
    struct Pool {
        int64_t H, W, OH, OW, KH, KW, SH, SW, PT, PL, DH, DW;
    };
    const Pool pools[] = {
        {28, 28, 14, 14, 2, 2, 2, 2, 0, 0, 1, 1}, {9, 11, 5, 6, 3, 2, 2, 2, 1, 0, 1, 1},  // ceil-mode-like
        {7, 7, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1},     {10, 13, 4, 5, 2, 3, 3, 2, 0, 0, 2, 1},
        {5, 33, 2, 16, 2, 2, 2, 2, 0, 0, 1, 1},   {6, 6, 3, 3, 3, 3, 2, 2, 1, 1, 1, 1},
    };
    std::mt19937 rng(4);
    for (const Pool& v : pools) {
        const int64_t planes = 5;
        std::vector<uint8_t> x(static_cast<size_t>(planes * v.H * v.W));
        for (auto& e : x) e = static_cast<uint8_t>(rng());
        for (const bool sgn : {false, true}) {
            QMaxPoolArgs a;
            a.H = v.H, a.W = v.W, a.OH = v.OH, a.OW = v.OW, a.KH = v.KH, a.KW = v.KW, a.SH = v.SH,
            a.SW = v.SW;
            a.PT = v.PT, a.PL = v.PL, a.DH = v.DH, a.DW = v.DW;
            a.is_signed = sgn;
            a.x = x.data();
            std::vector<uint8_t> y(static_cast<size_t>(planes * v.OH * v.OW), 0xA5);
            a.y = y.data();
            a.p_begin = 0, a.p_end = 2;
            qmaxpool(a);
            a.p_begin = 2, a.p_end = planes;
            qmaxpool(a);
            for (int64_t p = 0; p < planes; ++p)
                for (int64_t oy = 0; oy < v.OH; ++oy)
                    for (int64_t ox = 0; ox < v.OW; ++ox) {
                        int m = -1000;
                        for (int64_t ky = 0; ky < v.KH; ++ky)
                            for (int64_t kx = 0; kx < v.KW; ++kx) {
                                const int64_t iy = oy * v.SH - v.PT + ky * v.DH,
                                              ix = ox * v.SW - v.PL + kx * v.DW;
                                if (iy < 0 || iy >= v.H || ix < 0 || ix >= v.W) continue;
                                const uint8_t b = x[static_cast<size_t>((p * v.H + iy) * v.W + ix)];
                                m = std::max(
                                    m, sgn ? static_cast<int>(static_cast<int8_t>(b)) : static_cast<int>(b));
                            }
                        const uint8_t g = y[static_cast<size_t>((p * v.OH + oy) * v.OW + ox)];
                        ASSERT_EQ(sgn ? static_cast<int>(static_cast<int8_t>(g)) : static_cast<int>(g), m)
                            << "pool " << v.H << "x" << v.W << " k" << v.KH << "x" << v.KW << " plane " << p
                            << " at " << oy << "," << ox << (sgn ? " s8" : " u8");
                    }
        }
    }
}

// NHWC max pooling (reference and dispatched AVX-512) against the planar qmaxpool above on the same image: every
// pool geometry of that test, channel counts around the 64-byte vector (1, 3, 63, 64, 65, 130) and those of the
// 2x2 stride-2 fast paths (32, 64, 128), row ranges.
TEST(QMaxPool, NhwcMatchesPlanar) {
    struct Pool {
        int64_t H, W, OH, OW, KH, KW, SH, SW, PT, PL, DH, DW;
    };
    const Pool pools[] = {
        {28, 28, 14, 14, 2, 2, 2, 2, 0, 0, 1, 1}, {9, 11, 5, 6, 3, 2, 2, 2, 1, 0, 1, 1},
        {7, 7, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1},     {10, 13, 4, 5, 2, 3, 3, 2, 0, 0, 2, 1},
        {5, 33, 2, 16, 2, 2, 2, 2, 0, 0, 1, 1},   {6, 6, 3, 3, 3, 3, 2, 2, 1, 1, 1, 1},
    };
    std::mt19937 rng(5);
    for (const Pool& v : pools)
        for (const int64_t C : {1, 3, 32, 63, 64, 65, 128, 130})  // 32 and 128: the 2x2 fast paths
            for (const bool sgn : {false, true}) {
                std::vector<uint8_t> planar(static_cast<size_t>(C * v.H * v.W)), nhwc(planar.size());
                for (auto& e : planar) e = static_cast<uint8_t>(rng());
                for (int64_t c = 0; c < C; ++c)
                    for (int64_t p = 0; p < v.H * v.W; ++p) nhwc[static_cast<size_t>(p * C + c)] = planar[static_cast<size_t>(c * v.H * v.W + p)];
                QMaxPoolArgs a;
                a.H = v.H, a.W = v.W, a.OH = v.OH, a.OW = v.OW, a.KH = v.KH, a.KW = v.KW, a.SH = v.SH, a.SW = v.SW;
                a.PT = v.PT, a.PL = v.PL, a.DH = v.DH, a.DW = v.DW;
                a.is_signed = sgn;
                a.x = planar.data();
                std::vector<uint8_t> want(static_cast<size_t>(C * v.OH * v.OW));
                a.y = want.data();
                a.p_begin = 0, a.p_end = C;
                qmaxpool(a);
                QMaxPoolNhwcArgs b;
                b.C = C, b.H = v.H, b.W = v.W, b.OH = v.OH, b.OW = v.OW, b.KH = v.KH, b.KW = v.KW, b.SH = v.SH;
                b.SW = v.SW, b.PT = v.PT, b.PL = v.PL, b.DH = v.DH, b.DW = v.DW;
                b.is_signed = sgn;
                b.x = nhwc.data();
                for (const int mode : {0, 1, 2, 3}) {  // ref / dispatched; 2, 3: rows y_row apart (gaps untouched)
                    const bool vec = mode % 2 == 1;
                    const int64_t y_row = mode >= 2 ? (v.OW + 2) * C : v.OW * C;
                    std::vector<uint8_t> img(static_cast<size_t>(v.OH * y_row + 64), 0xA5), got;
                    b.y = img.data();
                    b.y_row = mode >= 2 ? y_row : 0;
                    const int64_t mid = v.OH / 2;
                    for (auto [r0, r1] : {std::pair<int64_t, int64_t>{0, mid}, {mid, v.OH}}) {
                        b.oy_begin = r0, b.oy_end = r1;
                        vec ? qmaxpool_nhwc(b) : qmaxpool_nhwc_ref(b);
                    }
                    for (int64_t oy = 0; oy < v.OH; ++oy) {
                        got.insert(got.end(), img.begin() + oy * y_row, img.begin() + oy * y_row + v.OW * C);
                        for (int64_t i = v.OW * C; i < y_row; ++i)
                            ASSERT_EQ(img[static_cast<size_t>(oy * y_row + i)], 0xA5) << "gap written";
                    }
                    for (int64_t i = v.OH * y_row; i < static_cast<int64_t>(img.size()); ++i)
                        ASSERT_EQ(img[static_cast<size_t>(i)], 0xA5);  // bytes past the end stay untouched
                    for (int64_t c = 0; c < C; ++c)
                        for (int64_t p = 0; p < v.OH * v.OW; ++p)
                            ASSERT_EQ(got[static_cast<size_t>(p * C + c)], want[static_cast<size_t>(c * v.OH * v.OW + p)])
                                << (vec ? "dispatched" : "ref") << " pool " << v.H << "x" << v.W << " k" << v.KH << "x"
                                << v.KW << " C " << C << (sgn ? " s8" : " u8") << " channel " << c << " pixel " << p
                                << " mode " << mode;
                }
            }
}

}  // namespace
}  // namespace edgeq::kernels::test
