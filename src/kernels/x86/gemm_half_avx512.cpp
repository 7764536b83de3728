// FP16 / BF16-weight GEMM rows for AVX-512 (kernels.h, "FP16 / BF16-weight GEMM"), 12 rows of A × 32 packed
// columns per micro-kernel call (24 zmm accumulators, so the B widening is paid once per 24 FMAs):
//   gemm_f16_f32__avx512_12x32       32 halves per k step widened by two vcvtph2ps, f32 FMAs
//   gemm_bf16_f32__avx512_12x32      32 bf16 per k step widened exactly (zero-extend, shift left 16), f32 FMAs
//   gemm_bf16dot_f32__avx512bf16_12x32   vdpbf16ps on interleaved k pairs (kpair 2): A is rounded to bf16
//                                    (vcvtneps2bf16, nearest even) per micro-kernel call into a stack buffer; each
//                                    instruction adds two exact bf16 products per lane. AVX512-BF16 instructions
//                                    ignore MXCSR: denormal inputs read as zero, denormal results flush to zero.
// The vdpbf16ps kernel carries a target attribute (the unit is compiled for AVX-512 F/BW/VL/DQ); it runs only
// where core/cpu.h reports avx512_bf16.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12: _mm512_undefined_ps() self-initialisation
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/kernels.h"

#define EDGEQ_TARGET_BF16 __attribute__((target("avx512bf16")))

namespace edgeq::kernels {
namespace {

#include "kernels/x86/act_avx512.inc"

constexpr int kMR = 12;
constexpr int kNR = 32;

struct F16 {
    static constexpr int kPair = 1;
    static __m512 widen(const uint16_t* p) {
        return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    }
};
struct Bf16 {
    static constexpr int kPair = 1;
    static __m512 widen(const uint16_t* p) {
        const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
        return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
    }
};
struct Bf16Dot {
    static constexpr int kPair = 2;
};

struct V16 {
    using Reg = __m512;
    static constexpr int kLanes = 16;
    static __m512 zero() { return _mm512_setzero_ps(); }
    static __m512 bcast(const float* p) { return _mm512_set1_ps(*p); }
    static __m512 fma(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
};

struct HArgs;
template <class L, int R>
void hkernel(const HArgs& u);

#include "kernels/x86/gemm_half_driver.inc"

// Adds the earlier K blocks, bias and activation to R rows of 32 accumulators and stores nvalid columns.
template <int R>
inline void epilogue(const HArgs& u, __m512 (&c0)[R], __m512 (&c1)[R]) {
    const __mmask16 m0 = tail_mask16(u.nvalid), m1 = tail_mask16(u.nvalid - 16);
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
            const __m512 br = u.bias_row ? _mm512_set1_ps(u.bias_row[r]) : _mm512_setzero_ps();
            v0 = act16(_mm512_add_ps(_mm512_add_ps(v0, br), bc0), u.act);
            v1 = act16(_mm512_add_ps(_mm512_add_ps(v1, br), bc1), u.act);
        }
        _mm512_mask_storeu_ps(cr, m0, v0);
        _mm512_mask_storeu_ps(cr + 16, m1, v1);
    }
}

template <int R>
EDGEQ_TARGET_BF16 void dot_kernel(const HArgs& u) {
    // A rows rounded to bf16: abuf[r][i] holds the pair (A[r][2i], A[r][2i + 1]); an odd kc pads with 0.
    alignas(64) uint16_t abuf[R][kHalfKC];
    const int64_t pairs = (u.kc + 1) / 2;
    for (int r = 0; r < R; ++r) {
        for (int64_t k = 0; k < u.kc; k += 16) {
            const __m512 v = _mm512_maskz_loadu_ps(tail_mask16(u.kc - k), u.a + r * u.lda + k);
            const __m256bh h = _mm512_cvtneps_pbh(v);
            std::memcpy(&abuf[r][k], &h, sizeof h);
        }
    }
    __m512 c0[R], c1[R];
    for (int r = 0; r < R; ++r) {
        c0[r] = _mm512_setzero_ps();
        c1[r] = _mm512_setzero_ps();
    }
    const uint16_t* b = u.b;
    for (int64_t i = 0; i < pairs; ++i, b += 2 * kNR) {
        const __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_loadu_si512(b + kNR);
#pragma GCC unroll 12
        for (int r = 0; r < R; ++r) {
            int32_t ap;
            std::memcpy(&ap, &abuf[r][2 * i], sizeof ap);
            const __m512i av = _mm512_set1_epi32(ap);
            c0[r] = _mm512_dpbf16_ps(c0[r], (__m512bh)av, (__m512bh)b0);
            c1[r] = _mm512_dpbf16_ps(c1[r], (__m512bh)av, (__m512bh)b1);
        }
    }
    epilogue<R>(u, c0, c1);
}

template <class L, int R>
void hkernel(const HArgs& u) {
    if constexpr (L::kPair == 2) {
        dot_kernel<R>(u);
    } else {
        __m512 c0[R], c1[R];
        accumulate_widened<V16, L, R>(u, c0, c1);
        epilogue<R>(u, c0, c1);
    }
}

}  // namespace

namespace x86 {
void gemm_f16_f32__avx512_12x32(const GemmHalfArgs& g) { gemm_half_driver<F16>(g); }
void gemm_bf16_f32__avx512_12x32(const GemmHalfArgs& g) { gemm_half_driver<Bf16>(g); }
void gemm_bf16dot_f32__avx512bf16_12x32(const GemmHalfArgs& g) { gemm_half_driver<Bf16Dot>(g); }
}  // namespace x86

}  // namespace edgeq::kernels
