// activate_f32 (kernels/qconv.h) for AVX-512: act16 of act_avx512.inc, the same vector activations the GEMM
// and convolution epilogues apply (Sigmoid / Tanh within kQActAbs of the reference's std:: functions).
// GCC 12 false positive: avx512fintrin.h's _mm512_undefined_* self-initialisation reads as uninitialised.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

#include "kernels/qconv.h"

namespace edgeq::kernels::x86 {
namespace {
#include "kernels/x86/act_avx512.inc"
}  // namespace

void activate_f32__avx512(const Activation& a, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, act16(_mm512_loadu_ps(y + i), a));
    if (i < n) {
        const __mmask16 m = tail_mask16(n - i);
        _mm512_mask_storeu_ps(y + i, m, act16(_mm512_maskz_loadu_ps(m, y + i), a));
    }
}

}  // namespace edgeq::kernels::x86
