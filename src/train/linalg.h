// Dense FP32 building blocks for the trainer: matrix products on the fast GEMM kernels (kernels.h, unpacked B),
// transposes and im2col/col2im. Callers pass contiguous row-major buffers; nothing here keeps state.
#pragma once

#include <cstdint>

namespace edgeq::train {

// C[M×N] = A[M×K] · B[K×N] (row-major, leading dimensions lda/ldb/ldc); accumulate: C += A·B.
// Rows of C are split over up to `threads` threads.
void matmul(int64_t M, int64_t N, int64_t K, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
            int64_t ldc, bool accumulate = false, int threads = 1);
// dst[c][r] = src[r][c] for an R×C source.
void transpose(const float* src, int64_t R, int64_t C, float* dst);

// Geometry of one 2-D convolution / pooling window (NCHW; pads top/left/bottom/right).
struct Window {
    int64_t KH = 1, KW = 1, SH = 1, SW = 1, DH = 1, DW = 1, PT = 0, PL = 0, PB = 0, PR = 0;
    int64_t out_h(int64_t H, bool ceil_mode = false) const;
    int64_t out_w(int64_t W, bool ceil_mode = false) const;
};

// col[(c·KH + ky)·KW + kx][oy·OW + ox] = x[c][oy·SH - PT + ky·DH][ox·SW - PL + kx·DW] (0 outside).
void im2col(const float* x, int64_t C, int64_t H, int64_t W, const Window& w, int64_t OH, int64_t OW, float* col);
// The adjoint of im2col: dx[c][iy][ix] += every col entry that im2col read from there.
void col2im_add(const float* col, int64_t C, int64_t H, int64_t W, const Window& w, int64_t OH, int64_t OW,
                float* dx);

}  // namespace edgeq::train
