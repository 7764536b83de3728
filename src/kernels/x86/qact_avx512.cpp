// activate_f32 (kernels/qconv.h) for AVX-512: act16 of act_avx512.inc (Sigmoid / Tanh within kQActAbs of the
// reference's std:: functions, as in the GEMM epilogues).
// GCC 12 false positive: avx512fintrin.h's _mm512_undefined_* self-initialisation reads as uninitialised.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/qconv.h"

namespace edgeq::kernels::x86 {
namespace {
#include "kernels/x86/act_avx512.inc"
}  // namespace

#define QACT_NAME activate_f32__avx512
#define QACT_L 16
#define QACT_LOAD _mm512_loadu_ps
#define QACT_STORE _mm512_storeu_ps
#define QACT_FN act16
#include "kernels/x86/qact.inc"

}  // namespace edgeq::kernels::x86
