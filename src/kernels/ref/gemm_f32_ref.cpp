// Scalar references (the specification): activation, B packing, GEMM, Conv2D (direct loops), depthwise.
// Plain loops in the order the definitions read; optimized rows must agree within the per-op tolerances
// of tests/kernels.
#include <algorithm>
#include <cmath>

#include "kernels/kernels.h"
#include "kernels/ref/ref.h"

namespace edgeq::kernels {

float activate(const Activation& a, float x) {
    switch (a.kind) {
        case Act::None: return x;
        case Act::Relu: return std::max(x, 0.0f);
        case Act::LeakyRelu: return x < 0 ? x * a.alpha : x;
        case Act::Clip: return std::min(std::max(x, a.alpha), a.beta);
        case Act::Sigmoid: return 1.0f / (1.0f + std::exp(-x));
        case Act::Tanh: return std::tanh(x);
        case Act::HardSigmoid: return std::max(0.0f, std::min(1.0f, a.alpha * x + a.beta));
        case Act::HardSwish: return x * std::max(0.0f, std::min(1.0f, x / 6.0f + 0.5f));
    }
    return x;
}

const char* act_name(Act a) {
    switch (a) {
        case Act::None: return "";
        case Act::Relu: return "relu";
        case Act::LeakyRelu: return "leakyrelu";
        case Act::Clip: return "clip";
        case Act::Sigmoid: return "sigmoid";
        case Act::Tanh: return "tanh";
        case Act::HardSigmoid: return "hardsigmoid";
        case Act::HardSwish: return "hardswish";
    }
    return "?";
}

void pack_b(const float* b, int64_t stride_k, int64_t stride_n, int64_t K, int64_t N, int nr, float* packed) {
    const int64_t panels = (N + nr - 1) / nr;
    for (int64_t p = 0; p < panels; ++p) {
        float* dst = packed + p * K * nr;
        for (int64_t k = 0; k < K; ++k) {
            for (int64_t j = 0; j < nr; ++j) {
                const int64_t n = p * nr + j;
                dst[k * nr + j] = n < N ? b[k * stride_k + n * stride_n] : 0.0f;
            }
        }
    }
}

int64_t conv2d_chunk(int64_t K, int nr) {
    // keep one chunk of packed im2col panels around 128 KiB (L2-resident while every row block uses it)
    int64_t c = (32768 / std::max<int64_t>(K, 1)) / nr * nr;
    return std::clamp<int64_t>(c, nr, 64 * nr);
}

bool conv2d_is_pointwise(const Conv2dArgs& a) {
    return a.KH == 1 && a.KW == 1 && a.SH == 1 && a.SW == 1 && a.PT == 0 && a.PL == 0 && a.OH == a.H && a.OW == a.W;
}

int64_t conv2d_work_floats(const Conv2dArgs& a, int nr) {
    if (conv2d_is_pointwise(a)) return 0;
    const int64_t K = a.C * a.KH * a.KW;
    const int64_t hp = (a.OH - 1) * a.SH + (a.KH - 1) * a.DH + 1, wp = (a.OW - 1) * a.SW + (a.KW - 1) * a.DW + 1;
    // + 64: the direct (stride-1) path zeroes and its last vectors read up to 2·16 floats past the planes
    return conv2d_chunk(K, nr) * K + a.C * std::max(hp, a.H + a.PT) * std::max(wp, a.W + a.PL) + 64;
}

bool conv2d_winograd_eligible(const Conv2dArgs& a) {
    return a.KH == 3 && a.KW == 3 && a.SH == 1 && a.SW == 1 && a.DH == 1 && a.DW == 1 && a.C >= 8 && a.OC >= 8 &&
           a.OH >= 2 && a.OW >= 2;
}

int64_t conv2d_winograd_u_floats(int64_t C, int64_t OC) { return 16 * C * OC; }

void conv2d_winograd_pack_u(const float* w, int64_t C, int64_t OC, float* u) {
    for (int64_t oc = 0; oc < OC; ++oc)
        for (int64_t c = 0; c < C; ++c) {
            const float* g = w + (oc * C + c) * 9;
            float t[4][3];  // G g
            for (int j = 0; j < 3; ++j) {
                t[0][j] = g[j];
                t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
                t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
                t[3][j] = g[6 + j];
            }
            for (int i = 0; i < 4; ++i) {  // (G g) Gᵀ
                const float v[4] = {t[i][0], 0.5f * (t[i][0] + t[i][1] + t[i][2]), 0.5f * (t[i][0] - t[i][1] + t[i][2]),
                                    t[i][2]};
                for (int j = 0; j < 4; ++j) u[((4 * i + j) * OC + oc) * C + c] = v[j];
            }
        }
}

int64_t conv2d_winograd_work_floats(const Conv2dArgs& a, int64_t max_pixels) {
    const int64_t TW = (a.OW + 1) / 2, TH = (a.OH + 1) / 2;
    const int64_t rows = std::min(TH, (max_pixels + 2 * a.OW - 1) / (2 * a.OW) + 1);
    const int64_t T = (rows * TW + 31) / 32 * 32;  // rows of V and M padded to whole GEMM panels (nr up to 32)
    // padded band (+ 64 floats of read slack) + V + M (16 planes each, one line apart), + 64 floats: the
    // transforms' last vectors read up to 16 floats past V and M
    return a.C * (2 * rows + 2) * (2 * TW + 2) + 64 + 16 * (a.C * T + 16) + 16 * (a.OC * T + 16) + 64;
}

int64_t dwconv2d_work_floats(const DwConv2dArgs& a) {
    const int64_t hp = (a.OH - 1) * a.SH + (a.KH - 1) * a.DH + 1;
    const int64_t wp = (a.OW - 1) * a.SW + (a.KW - 1) * a.DW + 1;
    return hp * wp + 256;  // slack: vector loads may run past the last row
}

namespace ref {

// C[M×N] = A[M×K] · B[K×N] + bias, act. B packed with nr = kRefNr.
void gemm_f32_f32_f32(const GemmArgs& g) {
    const int nr = kRefNr;
    for (int64_t m = 0; m < g.M; ++m) {
        for (int64_t n = g.n_begin; n < g.n_end; ++n) {
            const float* col = g.ldb > 0 ? g.b + n : g.b + (n / nr) * g.K * nr + n % nr;
            const int64_t step = g.ldb > 0 ? g.ldb : nr;
            float s = 0;
            for (int64_t k = 0; k < g.K; ++k) s += g.a[m * g.lda + k] * col[k * step];
            if (g.bias_kind == BiasKind::PerRow) s += g.bias[m];
            if (g.bias_kind == BiasKind::PerCol) s += g.bias[n];
            g.c[m * g.ldc + n] = activate(g.act, s);
        }
    }
}

// y[oc][oy][ox] = act(bias[oc] + Σ_{c,ky,kx} w[oc][c][ky][kx] · x[c][oy·SH − PT + ky·DH][ox·SW − PL + kx·DW])
void conv2d_f32(const Conv2dArgs& a) {
    const int64_t K = a.C * a.KH * a.KW;
    for (int64_t oc = 0; oc < a.OC; ++oc) {
        for (int64_t p = a.p_begin; p < a.p_end; ++p) {
            const int64_t oy = p / a.OW, ox = p % a.OW;
            float s = 0;
            for (int64_t c = 0; c < a.C; ++c) {
                for (int64_t ky = 0; ky < a.KH; ++ky) {
                    const int64_t iy = oy * a.SH - a.PT + ky * a.DH;
                    if (iy < 0 || iy >= a.H) continue;
                    for (int64_t kx = 0; kx < a.KW; ++kx) {
                        const int64_t ix = ox * a.SW - a.PL + kx * a.DW;
                        if (ix < 0 || ix >= a.W) continue;
                        s += a.w[oc * K + (c * a.KH + ky) * a.KW + kx] * a.x[(c * a.H + iy) * a.W + ix];
                    }
                }
            }
            if (a.bias) s += a.bias[oc];
            a.y[oc * a.OH * a.OW + p] = activate(a.act, s);
        }
    }
}

void dwconv2d_f32(const DwConv2dArgs& a) {
    for (int64_t c = a.c_begin; c < a.c_end; ++c) {
        const float* xc = a.x + c * a.H * a.W;
        const float* wc = a.w + c * a.KH * a.KW;
        for (int64_t oy = 0; oy < a.OH; ++oy) {
            for (int64_t ox = 0; ox < a.OW; ++ox) {
                float s = 0;
                for (int64_t ky = 0; ky < a.KH; ++ky) {
                    const int64_t iy = oy * a.SH - a.PT + ky * a.DH;
                    if (iy < 0 || iy >= a.H) continue;
                    for (int64_t kx = 0; kx < a.KW; ++kx) {
                        const int64_t ix = ox * a.SW - a.PL + kx * a.DW;
                        if (ix < 0 || ix >= a.W) continue;
                        s += wc[ky * a.KW + kx] * xc[iy * a.W + ix];
                    }
                }
                if (a.bias) s += a.bias[c];
                a.y[(c * a.OH + oy) * a.OW + ox] = activate(a.act, s);
            }
        }
    }
}

// Max over the window's in-bounds taps (padding never wins); an all-padding window gives -inf.
void maxpool2d_f32(const Pool2dArgs& a) {
    for (int64_t c = a.c_begin; c < a.c_end; ++c) {
        const float* xc = a.x + c * a.H * a.W;
        float* yc = a.y + c * a.OH * a.OW;
        for (int64_t oy = 0; oy < a.OH; ++oy) {
            for (int64_t ox = 0; ox < a.OW; ++ox) {
                float m = -INFINITY;
                for (int64_t ky = 0; ky < a.KH; ++ky) {
                    const int64_t iy = oy * a.SH - a.PT + ky * a.DH;
                    if (iy < 0 || iy >= a.H) continue;
                    for (int64_t kx = 0; kx < a.KW; ++kx) {
                        const int64_t ix = ox * a.SW - a.PL + kx * a.DW;
                        if (ix < 0 || ix >= a.W) continue;
                        m = std::max(m, xc[iy * a.W + ix]);
                    }
                }
                yc[oy * a.OW + ox] = m;
            }
        }
    }
}

// Mean over the window. count_include_pad: divide by the taps inside the padded input (ONNX: pads count,
// the ceil_mode overhang beyond the pads does not); else by the in-bounds taps.
void avgpool2d_f32(const Pool2dArgs& a) {
    for (int64_t c = a.c_begin; c < a.c_end; ++c) {
        const float* xc = a.x + c * a.H * a.W;
        float* yc = a.y + c * a.OH * a.OW;
        for (int64_t oy = 0; oy < a.OH; ++oy) {
            for (int64_t ox = 0; ox < a.OW; ++ox) {
                float s = 0;
                int64_t n = 0, n_pad = 0;
                for (int64_t ky = 0; ky < a.KH; ++ky) {
                    const int64_t iy = oy * a.SH - a.PT + ky * a.DH;
                    for (int64_t kx = 0; kx < a.KW; ++kx) {
                        const int64_t ix = ox * a.SW - a.PL + kx * a.DW;
                        const bool in_padded = iy >= -a.PT && iy < a.H + a.PB && ix >= -a.PL && ix < a.W + a.PR;
                        if (in_padded) ++n_pad;
                        if (iy < 0 || iy >= a.H || ix < 0 || ix >= a.W) continue;
                        s += xc[iy * a.W + ix];
                        ++n;
                    }
                }
                const int64_t d = a.count_include_pad ? n_pad : n;
                yc[oy * a.OW + ox] = d > 0 ? s / static_cast<float>(d) : 0.0f;
            }
        }
    }
}

void binary_f32(const BinaryArgs& a) {
    const bool add = a.op == BinOp::Add;
    for (int64_t i = a.begin; i < a.end; ++i) {
        const float b = a.b_scalar ? a.b[0] : a.b[i];
        a.y[i] = add ? a.a[i] + b : a.a[i] * b;
    }
    if (a.act.kind != Act::None)
        for (int64_t i = a.begin; i < a.end; ++i) a.y[i] = activate(a.act, a.y[i]);
}

}  // namespace ref
}  // namespace edgeq::kernels
