// AVX-512 VNNI dot products of the 32-wide block types (Q8_0, Q4_0, Q5_0, IQ4_NL, Q4_1, Q5_1; dtype/vec_dot.h): vec_dot_legacy.inc with vpdpbusd
// (VL form on 256-bit vectors: exact int32 sums of u8 x s8 groups of 4, one instruction instead of two),
// bit-identical to the reference.
//
// Internal linkage only (see dtype/x86/lanes_x86.h): this unit is compiled with -mavx512f/bw/vl/dq/vnni.
// GCC 12 false positive inside its AVX-512 headers (_mm*_undefined_* self-initialisation).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "dtype/blocks.h"

namespace edgeq::vdot {
namespace {

inline __m256i dot4_vnni(__m256i u, __m256i s) { return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s); }
#define DOT4(u, s) dot4_vnni(u, s)
#define SUFFIX(name) name##_avx512vnni
#include "dtype/x86/vec_dot_legacy.inc"
#undef DOT4
#undef SUFFIX

}  // namespace
}  // namespace edgeq::vdot
