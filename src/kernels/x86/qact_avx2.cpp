// activate_f32 (kernels/qconv.h) for AVX2: act8 of act_avx2.inc, the same vector activations the GEMM and
// convolution epilogues apply (Sigmoid / Tanh within kQActAbs of the reference's std:: functions).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/qconv.h"

namespace edgeq::kernels::x86 {
namespace {
#include "kernels/x86/act_avx2.inc"
}  // namespace

void activate_f32__avx2(const Activation& a, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, act8(_mm256_loadu_ps(y + i), a));
    if (i < n) {
        const __m256i m = tail_mask8(n - i);
        _mm256_maskstore_ps(y + i, m, act8(_mm256_maskload_ps(y + i, m), a));
    }
}

}  // namespace edgeq::kernels::x86
