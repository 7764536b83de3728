#include "train/linalg.h"

#include <algorithm>
#include <vector>

#include "core/parallel.h"
#include "kernels/kernels.h"

namespace edgeq::train {

void matmul(int64_t M, int64_t N, int64_t K, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
            int64_t ldc, bool accumulate, int threads) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        if (!accumulate)
            for (int64_t m = 0; m < M; ++m) std::fill(c + m * ldc, c + m * ldc + N, 0.0f);
        return;
    }
    static const kernels::GemmFn gemm = kernels::gemm_fn(kernels::select(kernels::Op::Gemm));
    const int64_t work = M * N * K;
    const int t = work < (1 << 18) ? 1 : threads;
    parallel_for(M, t, 8, [&](int64_t m0, int64_t m1) {
        kernels::GemmArgs g;
        g.M = m1 - m0;
        g.N = N;
        g.K = K;
        g.a = a + m0 * lda;
        g.lda = lda;
        g.b = b;
        g.ldb = ldb;
        g.n_begin = 0;
        g.n_end = N;
        if (!accumulate) {
            g.c = c + m0 * ldc;
            g.ldc = ldc;
            gemm(g);
            return;
        }
        std::vector<float> tmp(static_cast<size_t>(g.M * N));
        g.c = tmp.data();
        g.ldc = N;
        gemm(g);
        for (int64_t m = 0; m < g.M; ++m) {
            float* dst = c + (m0 + m) * ldc;
            const float* src = tmp.data() + m * N;
            for (int64_t n = 0; n < N; ++n) dst[n] += src[n];
        }
    });
}

void transpose(const float* src, int64_t R, int64_t C, float* dst) {
    constexpr int64_t kT = 32;
    for (int64_t r0 = 0; r0 < R; r0 += kT)
        for (int64_t c0 = 0; c0 < C; c0 += kT) {
            const int64_t r1 = std::min(R, r0 + kT), c1 = std::min(C, c0 + kT);
            for (int64_t r = r0; r < r1; ++r)
                for (int64_t c = c0; c < c1; ++c) dst[c * R + r] = src[r * C + c];
        }
}

static int64_t out_size(int64_t in, int64_t pads, int64_t k, int64_t s, int64_t d, bool ceil_mode) {
    const int64_t span = in + pads - (d * (k - 1) + 1);
    if (span < 0) return 0;
    return (ceil_mode ? (span + s - 1) / s : span / s) + 1;
}
int64_t Window::out_h(int64_t H, bool ceil_mode) const { return out_size(H, PT + PB, KH, SH, DH, ceil_mode); }
int64_t Window::out_w(int64_t W, bool ceil_mode) const { return out_size(W, PL + PR, KW, SW, DW, ceil_mode); }

void im2col(const float* x, int64_t C, int64_t H, int64_t W, const Window& w, int64_t OH, int64_t OW, float* col) {
    const int64_t P = OH * OW;
    for (int64_t c = 0; c < C; ++c)
        for (int64_t ky = 0; ky < w.KH; ++ky)
            for (int64_t kx = 0; kx < w.KW; ++kx) {
                float* row = col + ((c * w.KH + ky) * w.KW + kx) * P;
                const float* plane = x + c * H * W;
                for (int64_t oy = 0; oy < OH; ++oy) {
                    const int64_t iy = oy * w.SH - w.PT + ky * w.DH;
                    float* r = row + oy * OW;
                    if (iy < 0 || iy >= H) {
                        std::fill(r, r + OW, 0.0f);
                        continue;
                    }
                    const float* src = plane + iy * W;
                    for (int64_t ox = 0; ox < OW; ++ox) {
                        const int64_t ix = ox * w.SW - w.PL + kx * w.DW;
                        r[ox] = (ix >= 0 && ix < W) ? src[ix] : 0.0f;
                    }
                }
            }
}

void col2im_add(const float* col, int64_t C, int64_t H, int64_t W, const Window& w, int64_t OH, int64_t OW,
                float* dx) {
    const int64_t P = OH * OW;
    for (int64_t c = 0; c < C; ++c)
        for (int64_t ky = 0; ky < w.KH; ++ky)
            for (int64_t kx = 0; kx < w.KW; ++kx) {
                const float* row = col + ((c * w.KH + ky) * w.KW + kx) * P;
                float* plane = dx + c * H * W;
                for (int64_t oy = 0; oy < OH; ++oy) {
                    const int64_t iy = oy * w.SH - w.PT + ky * w.DH;
                    if (iy < 0 || iy >= H) continue;
                    const float* r = row + oy * OW;
                    float* dst = plane + iy * W;
                    for (int64_t ox = 0; ox < OW; ++ox) {
                        const int64_t ix = ox * w.SW - w.PL + kx * w.DW;
                        if (ix >= 0 && ix < W) dst[ix] += r[ox];
                    }
                }
            }
}

}  // namespace edgeq::train
