// gemm_f32_f32_f32__avx512_6x32 and conv2d_f32__avx512_im2col_6x32: 6 rows of A × 32 columns of packed B
// per micro-kernel call (12 zmm accumulators), K blocked by 256, bias + activation applied in registers.
// GCC 12 false positive: avx512fintrin.h's _mm512_undefined_ps() self-initialisation reads as uninitialised.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>

#include "kernels/kernels.h"

namespace edgeq::kernels {
namespace {

#include "kernels/x86/act_avx512.inc"

constexpr int kMR = 6;
constexpr int kNR = 32;

// out[t] = in[t·stride] for t < n (im2col runs): masked 16-lane moves, gathers for stride > 1.
inline void copy_run(float* out, const float* in, int64_t n, int64_t stride) {
    if (stride == 1) {
        for (int64_t t = 0; t < n; t += 16) {
            const __mmask16 m = tail_mask16(n - t);
            _mm512_mask_storeu_ps(out + t, m, _mm512_maskz_loadu_ps(m, in + t));
        }
        return;
    }
    const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32(static_cast<int>(stride)));
    for (int64_t t = 0; t < n; t += 16) {
        const __mmask16 m = tail_mask16(n - t);
        _mm512_mask_storeu_ps(out + t, m, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, in + t * stride, 4));
    }
}

struct UArgs;
template <int R, bool kMaskB>
void ukernel(const UArgs& u);

#include "kernels/x86/gemm_driver.inc"

constexpr int kVL = 16;
constexpr int kDMR = 8;  // 8 channels × 32 lanes: 16 zmm accumulators; 8 divides the usual channel counts
constexpr int kDNV = 2;
struct DArgs;
template <int R, int KWc>
void dkernel(const DArgs& d);

#include "kernels/x86/conv2d_direct.inc"
#include "kernels/x86/conv2d_winograd_avx512.inc"

template <int R, int KWc>
void dkernel(const DArgs& d) {
    __m512 c0[R], c1[R];
    const float* ar[R];
    for (int r = 0; r < R; ++r) {
        c0[r] = _mm512_setzero_ps();
        c1[r] = _mm512_setzero_ps();
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
                const __m512 b0 = _mm512_loadu_ps(b);
                const __m512 b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 8
                for (int r = 0; r < R; ++r) {
                    const __m512 av = _mm512_set1_ps(*ar[r]++);
                    c0[r] = _mm512_fmadd_ps(av, b0, c0[r]);
                    c1[r] = _mm512_fmadd_ps(av, b1, c1[r]);
                }
            }
        }
    }
    for (int r = 0; r < R; ++r) {
        if (d.bias) {
            const __m512 br = _mm512_set1_ps(d.bias[r]);
            c0[r] = _mm512_add_ps(c0[r], br);
            c1[r] = _mm512_add_ps(c1[r], br);
        }
        c0[r] = act16(c0[r], d.act);
        c1[r] = act16(c1[r], d.act);
    }
    for (int i = 0; i < d.nseg[0]; ++i) {
        const DSeg& s = d.seg[i];
        const __mmask16 m = static_cast<__mmask16>(tail_mask16(s.hi) & ~tail_mask16(s.lo));
        for (int r = 0; r < R; ++r) _mm512_mask_storeu_ps(d.y + r * d.ldy + s.delta, m, c0[r]);
    }
    for (int i = 0; i < d.nseg[1]; ++i) {
        const DSeg& s = d.seg[kDSegMax + i];
        const __mmask16 m = static_cast<__mmask16>(tail_mask16(s.hi) & ~tail_mask16(s.lo));
        for (int r = 0; r < R; ++r) _mm512_mask_storeu_ps(d.y + r * d.ldy + s.delta, m, c1[r]);
    }
}

template <int R, bool kMaskB>
void ukernel(const UArgs& u) {
    __m512 c0[R], c1[R];
    const float* ar[R];
    for (int r = 0; r < R; ++r) {
        c0[r] = _mm512_setzero_ps();
        c1[r] = _mm512_setzero_ps();
        ar[r] = u.a + r * u.lda;
    }
    const __mmask16 m0 = tail_mask16(u.nvalid), m1 = tail_mask16(u.nvalid - 16);
    const float* b = u.b;
    for (int64_t k = 0; k < u.kc; ++k) {
        const __m512 b0 = kMaskB ? _mm512_maskz_loadu_ps(m0, b) : _mm512_loadu_ps(b);
        const __m512 b1 = kMaskB ? _mm512_maskz_loadu_ps(m1, b + 16) : _mm512_loadu_ps(b + 16);
        b += u.ldb;
#pragma GCC unroll 6
        for (int r = 0; r < R; ++r) {
            const __m512 av = _mm512_set1_ps(ar[r][k]);
            c0[r] = _mm512_fmadd_ps(av, b0, c0[r]);
            c1[r] = _mm512_fmadd_ps(av, b1, c1[r]);
        }
    }
    __m512 bc0 = _mm512_setzero_ps(), bc1 = _mm512_setzero_ps();
    if (u.last && u.bias_col) {
        bc0 = _mm512_maskz_loadu_ps(m0, u.bias_col);
        bc1 = _mm512_maskz_loadu_ps(m1, u.bias_col + 16);
    }
    for (int r = 0; r < R; ++r) {
        float* cr = u.c + r * u.ldc;
        __m512 v0 = c0[r], v1 = c1[r];
        if (u.accumulate) {
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, cr));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, cr + 16));
        }
        if (u.last) {
            if (u.bias_row) {
                const __m512 br = _mm512_set1_ps(u.bias_row[r]);
                v0 = _mm512_add_ps(v0, br);
                v1 = _mm512_add_ps(v1, br);
            }
            if (u.bias_col) {
                v0 = _mm512_add_ps(v0, bc0);
                v1 = _mm512_add_ps(v1, bc1);
            }
            v0 = act16(v0, u.act);
            v1 = act16(v1, u.act);
        }
        _mm512_mask_storeu_ps(cr, m0, v0);
        _mm512_mask_storeu_ps(cr + 16, m1, v1);
    }
}

}  // namespace

namespace x86 {
void gemm_f32_f32_f32__avx512_6x32(const GemmArgs& g) { gemm_driver(g); }
void conv2d_f32__avx512_8x32(const Conv2dArgs& a) {
    if (a.wino_u && conv2d_winograd_eligible(a)) {  // this call's tile rows: those whose first pixel is in range
        const int64_t TH = (a.OH + 1) / 2, row2 = 2 * a.OW;
        conv2d_winograd(a, std::min(TH, (a.p_begin + row2 - 1) / row2), std::min(TH, (a.p_end + row2 - 1) / row2));
        return;
    }
    conv2d_any(a);
}
}  // namespace x86

}  // namespace edgeq::kernels
