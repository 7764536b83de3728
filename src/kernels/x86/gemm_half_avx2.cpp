// gemm_f16_f32__avx2_6x16 and gemm_bf16_f32__avx2_6x16: FP16 / BF16 weights (kernels.h, "FP16 / BF16-weight
// GEMM"), 6 rows of A × 16 packed columns per micro-kernel call (12 ymm accumulators). Each k step loads 16
// halves (32 bytes) and widens them exactly to two f32 vectors (F16: vcvtph2ps; BF16: zero-extend to 32 bits and
// shift left by 16), then FMAs in f32 like the FP32 GEMM; bias + activation in registers.
#include <immintrin.h>

#include <algorithm>

#include "kernels/kernels.h"

namespace edgeq::kernels {
namespace {

#include "kernels/x86/act_avx2.inc"

constexpr int kMR = 6;
constexpr int kNR = 16;

struct F16 {
    static constexpr int kPair = 1;
    static __m256 widen(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
};
struct Bf16 {
    static constexpr int kPair = 1;
    static __m256 widen(const uint16_t* p) {
        const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
        return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
    }
};

struct V8 {
    using Reg = __m256;
    static constexpr int kLanes = 8;
    static __m256 zero() { return _mm256_setzero_ps(); }
    static __m256 bcast(const float* p) { return _mm256_broadcast_ss(p); }
    static __m256 fma(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }
};

struct HArgs;
template <class L, int R>
void hkernel(const HArgs& u);

#include "kernels/x86/gemm_half_driver.inc"

template <class L, int R>
void hkernel(const HArgs& u) {
    __m256 c0[R], c1[R];
    accumulate_widened<V8, L, R>(u, c0, c1);
    const __m256i m0 = tail_mask8(u.nvalid), m1 = tail_mask8(u.nvalid - 8);
    __m256 bc0 = _mm256_setzero_ps(), bc1 = _mm256_setzero_ps();
    if (u.last && u.bias_col) {
        bc0 = _mm256_maskload_ps(u.bias_col, m0);
        bc1 = _mm256_maskload_ps(u.bias_col + 8, m1);
    }
    for (int r = 0; r < R; ++r) {
        float* cr = u.c + r * u.ldc;
        __m256 v0 = c0[r], v1 = c1[r];
        if (u.accumulate) {
            v0 = _mm256_add_ps(v0, _mm256_maskload_ps(cr, m0));
            v1 = _mm256_add_ps(v1, _mm256_maskload_ps(cr + 8, m1));
        }
        if (u.last) {
            const __m256 br = u.bias_row ? _mm256_set1_ps(u.bias_row[r]) : _mm256_setzero_ps();
            v0 = act8(_mm256_add_ps(_mm256_add_ps(v0, br), bc0), u.act);
            v1 = act8(_mm256_add_ps(_mm256_add_ps(v1, br), bc1), u.act);
        }
        _mm256_maskstore_ps(cr, m0, v0);
        _mm256_maskstore_ps(cr + 8, m1, v1);
    }
}

}  // namespace

namespace x86 {
void gemm_f16_f32__avx2_6x16(const GemmHalfArgs& g) { gemm_half_driver<F16>(g); }
void gemm_bf16_f32__avx2_6x16(const GemmHalfArgs& g) { gemm_half_driver<Bf16>(g); }
}  // namespace x86

}  // namespace edgeq::kernels
