// gemm_f32_f32_f32__avx2_6x16 and conv2d_f32__avx2_im2col_6x16: 6 rows of A × 16 columns of packed B per
// micro-kernel call (12 ymm accumulators), K blocked by 256, bias + activation applied in registers.
#include <immintrin.h>

#include <algorithm>

#include "kernels/kernels.h"

namespace edgeq::kernels {
namespace {

#include "kernels/x86/act_avx2.inc"

constexpr int kMR = 6;
constexpr int kNR = 16;

// out[t] = in[t·stride] for t < n (im2col runs): masked 8-lane moves, gathers for stride > 1.
inline void copy_run(float* out, const float* in, int64_t n, int64_t stride) {
    if (stride == 1) {
        int64_t t = 0;
        for (; t + 8 <= n; t += 8) _mm256_storeu_ps(out + t, _mm256_loadu_ps(in + t));
        if (t < n) {
            const __m256i m = tail_mask8(n - t);
            _mm256_maskstore_ps(out + t, m, _mm256_maskload_ps(in + t, m));
        }
        return;
    }
    const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(static_cast<int>(stride)));
    for (int64_t t = 0; t < n; t += 8) {
        const __m256i m = tail_mask8(n - t);
        _mm256_maskstore_ps(out + t, m,
                            _mm256_mask_i32gather_ps(_mm256_setzero_ps(), in + t * stride, idx, _mm256_castsi256_ps(m), 4));
    }
}

struct UArgs;
template <int R, bool kMaskB>
void ukernel(const UArgs& u);

#include "kernels/x86/gemm_driver.inc"

constexpr int kVL = 8;
constexpr int kDMR = 6;  // 6 channels × 16 lanes: 12 ymm accumulators of 16
constexpr int kDNV = 2;
struct DArgs;
template <int R, int KWc>
void dkernel(const DArgs& d);

#include "kernels/x86/conv2d_direct.inc"

template <int R, int KWc>
void dkernel(const DArgs& d) {
    __m256 c0[R], c1[R];
    const float* ar[R];
    for (int r = 0; r < R; ++r) {
        c0[r] = _mm256_setzero_ps();
        c1[r] = _mm256_setzero_ps();
        ar[r] = d.w + r * d.K;
    }
    const int64_t kw = KWc > 0 ? KWc : d.KW;
    const float* bc = d.src;
    for (int64_t c = 0; c < d.C; ++c, bc += d.plane) {
        const float* br = bc;
        for (int64_t ky = 0; ky < d.KH; ++ky, br += d.row_step) {
#pragma GCC unroll 5
            for (int64_t kx = 0; kx < kw; ++kx) {
                const float* b = br + kx * d.dw;
                const __m256 b0 = _mm256_loadu_ps(b);
                const __m256 b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
                for (int r = 0; r < R; ++r) {
                    const __m256 av = _mm256_broadcast_ss(ar[r]++);
                    c0[r] = _mm256_fmadd_ps(av, b0, c0[r]);
                    c1[r] = _mm256_fmadd_ps(av, b1, c1[r]);
                }
            }
        }
    }
    for (int r = 0; r < R; ++r) {
        if (d.bias) {
            const __m256 br = _mm256_set1_ps(d.bias[r]);
            c0[r] = _mm256_add_ps(c0[r], br);
            c1[r] = _mm256_add_ps(c1[r], br);
        }
        c0[r] = act8(c0[r], d.act);
        c1[r] = act8(c1[r], d.act);
    }
    for (int v = 0; v < kDNV; ++v) {
        for (int i = 0; i < d.nseg[v]; ++i) {
            const DSeg& s = d.seg[v * kDSegMax + i];
            if (s.lo == 0 && s.hi == kVL) {
                for (int r = 0; r < R; ++r) _mm256_storeu_ps(d.y + r * d.ldy + s.delta, v == 0 ? c0[r] : c1[r]);
            } else {
                const __m256i m = _mm256_andnot_si256(tail_mask8(s.lo), tail_mask8(s.hi));
                for (int r = 0; r < R; ++r) _mm256_maskstore_ps(d.y + r * d.ldy + s.delta, m, v == 0 ? c0[r] : c1[r]);
            }
        }
    }
}

template <int R, bool kMaskB>
void ukernel(const UArgs& u) {
    __m256 c0[R], c1[R];
    const float* ar[R];
    for (int r = 0; r < R; ++r) {
        c0[r] = _mm256_setzero_ps();
        c1[r] = _mm256_setzero_ps();
        ar[r] = u.a + r * u.lda;
    }
    const __m256i m0 = tail_mask8(u.nvalid), m1 = tail_mask8(u.nvalid - 8);
    const float* b = u.b;
    for (int64_t k = 0; k < u.kc; ++k) {
        const __m256 b0 = kMaskB ? _mm256_maskload_ps(b, m0) : _mm256_loadu_ps(b);
        const __m256 b1 = kMaskB ? _mm256_maskload_ps(b + 8, m1) : _mm256_loadu_ps(b + 8);
        b += u.ldb;
#pragma GCC unroll 6
        for (int r = 0; r < R; ++r) {
            const __m256 av = _mm256_broadcast_ss(ar[r] + k);
            c0[r] = _mm256_fmadd_ps(av, b0, c0[r]);
            c1[r] = _mm256_fmadd_ps(av, b1, c1[r]);
        }
    }
    const bool full = u.nvalid == kNR;
    __m256 bc0 = _mm256_setzero_ps(), bc1 = _mm256_setzero_ps();
    if (u.last && u.bias_col) {
        bc0 = _mm256_maskload_ps(u.bias_col, m0);
        bc1 = _mm256_maskload_ps(u.bias_col + 8, m1);
    }
    for (int r = 0; r < R; ++r) {
        float* cr = u.c + r * u.ldc;
        __m256 v0 = c0[r], v1 = c1[r];
        if (u.accumulate) {
            v0 = _mm256_add_ps(v0, full ? _mm256_loadu_ps(cr) : _mm256_maskload_ps(cr, m0));
            v1 = _mm256_add_ps(v1, full ? _mm256_loadu_ps(cr + 8) : _mm256_maskload_ps(cr + 8, m1));
        }
        if (u.last) {
            if (u.bias_row) {
                const __m256 br = _mm256_set1_ps(u.bias_row[r]);
                v0 = _mm256_add_ps(v0, br);
                v1 = _mm256_add_ps(v1, br);
            }
            if (u.bias_col) {
                v0 = _mm256_add_ps(v0, bc0);
                v1 = _mm256_add_ps(v1, bc1);
            }
            v0 = act8(v0, u.act);
            v1 = act8(v1, u.act);
        }
        if (full) {
            _mm256_storeu_ps(cr, v0);
            _mm256_storeu_ps(cr + 8, v1);
        } else {
            _mm256_maskstore_ps(cr, m0, v0);
            _mm256_maskstore_ps(cr + 8, m1, v1);
        }
    }
}

}  // namespace

namespace x86 {
void gemm_f32_f32_f32__avx2_6x16(const GemmArgs& g) { gemm_driver(g); }
void conv2d_f32__avx2_6x16(const Conv2dArgs& a) { conv2d_any(a); }
}  // namespace x86

}  // namespace edgeq::kernels
