// qgemm_u8s8__avxvnni_6x16 and the group-wise qgemm_u8s4g/u8s2g_f32__avxvnni_2x16: the 256-bit kernels of
// qgemm_ymm.inc with the VEX-encoded vpdpbusd (AVX-VNNI: Alder Lake and later, Zen 5) on CPUs without
// AVX-512. Built only when the compiler takes -mavxvnni (CMake edgeq_isa_flags()); otherwise this unit
// reports no rows. The same code runs (EVEX-encoded) in qgemm_avx512vnni.cpp's ymm rows, which is where
// machines with AVX-512 VNNI test it.
#include "kernels/qgemm.h"

#if defined(__AVXVNNI__)
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "core/check.h"

namespace edgeq::kernels {
namespace {

#include "kernels/x86/act_avx2.inc"
#include "kernels/x86/qgemm_common.inc"
#include "kernels/x86/qgemm_ymm.inc"

struct DotAvxVnni {
    static __m256i dot(__m256i acc, __m256i a, __m256i w) { return _mm256_dpbusd_avx_epi32(acc, a, w); }
};

void qgemm_u8s8__avxvnni_6x16(const QGemmArgs& g) {
    qgemm_drive<DpKern16<DotAvxVnni>>(g);
}
void qgemm_u8s4g_f32__avxvnni_2x16(const QGroupGemmArgs& g) {
    qgroup_drive<GroupKern16<DotAvxVnni, 4>>(g);
}
void qgemm_u8s2g_f32__avxvnni_2x16(const QGroupGemmArgs& g) {
    qgroup_drive<GroupKern16<DotAvxVnni, 2>>(g);
}

}  // namespace

namespace x86 {
QGemmFn qgemm_u8s8__avxvnni_fn() {
    return &qgemm_u8s8__avxvnni_6x16;
}
QGroupGemmFn qgemm_group__avxvnni_fn(int bits) {
    return bits == 4 ? &qgemm_u8s4g_f32__avxvnni_2x16 : &qgemm_u8s2g_f32__avxvnni_2x16;
}
}  // namespace x86
}  // namespace edgeq::kernels

#else

namespace edgeq::kernels::x86 {
// This compiler has no -mavxvnni: no AVX-VNNI rows in this binary.
QGemmFn qgemm_u8s8__avxvnni_fn() {
    return nullptr;
}
QGroupGemmFn qgemm_group__avxvnni_fn(int) {
    return nullptr;
}
}  // namespace edgeq::kernels::x86

#endif
