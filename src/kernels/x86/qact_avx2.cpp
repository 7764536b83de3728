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

#define QACT_NAME activate_f32__avx2
#define QACT_L 8
#define QACT_LOAD _mm256_loadu_ps
#define QACT_STORE _mm256_storeu_ps
#define QACT_FN act8
#include "kernels/x86/qact.inc"

}  // namespace edgeq::kernels::x86
