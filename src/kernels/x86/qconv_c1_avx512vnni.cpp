// qconv_c1 (kernels/qconv.h) for AVX-512 VNNI + VBMI: one input plane, output pixels in the lanes. Per kernel
// row, one 64-byte load of the padded input row at ox0 and one vpermb per 4-tap group give lane j the bytes
// x[ox0 + j + 4g .. + 3]; each output channel's 4 weights of that group are broadcast and vpdpbusd adds the 4
// products into its 16 accumulators (OC ≤ 16 accumulators live in registers: OC is a template argument).
// Epilogue as qconv_direct: float(acc)·multiplier, clamp, cvtps (nearest even), + y_zero, truncated to bytes
// (in range), masked store of the row's remaining pixels. Compiled with VNNI flags; the VBMI permute comes from
// the function's target attribute, and kernels/qconv.cpp calls it only when the CPU reports avx512vbmi.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12: _mm512_undefined_* self-initialisation
#include <immintrin.h>

#include <cstdint>
#include <utility>

#include "core/check.h"
#include "kernels/qconv.h"

namespace edgeq::kernels::x86 {
namespace {

template <int OC>
__attribute__((target("avx512vbmi"))) void c1_rows(const QConvC1Args& a) {
    const auto* x = static_cast<const uint8_t*>(a.x);
    const int64_t G = qconv_c1_groups(a.KW);
    alignas(64) uint8_t ib[2][64];
    for (int j = 0; j < 16; ++j)
        for (int t = 0; t < 4; ++t) {
            ib[0][4 * j + t] = static_cast<uint8_t>(j + t);
            ib[1][4 * j + t] = static_cast<uint8_t>(j + 4 + t);
        }
    const __m512i idx0 = _mm512_load_si512(ib[0]), idx1 = _mm512_load_si512(ib[1]);
    const __m512i flip = _mm512_set1_epi8(a.a_signed ? static_cast<char>(0x80) : 0);
    const __m512 lo = _mm512_set1_ps(static_cast<float>(a.y_min - a.y_zero));
    const __m512 hi = _mm512_set1_ps(static_cast<float>(a.y_max - a.y_zero));
    const __m512i yz = _mm512_set1_epi32(a.y_zero);
    const int64_t plane = a.OH * a.OW;
    auto* y = static_cast<uint8_t*>(a.y);
    for (int64_t oy = a.oy_begin; oy < a.oy_end; ++oy)
        for (int64_t ox0 = 0; ox0 < a.OW; ox0 += 16) {
            const int64_t n = a.OW - ox0 < 16 ? a.OW - ox0 : 16;
            const __mmask16 m = static_cast<__mmask16>((1u << n) - 1u);
            __m512i acc[OC];
            for (int oc = 0; oc < OC; ++oc) acc[oc] = _mm512_set1_epi32(a.bias0[oc]);
            for (int64_t ky = 0; ky < a.KH; ++ky) {
                const __m512i v = _mm512_xor_si512(_mm512_loadu_si512(x + (oy + ky) * a.wp + ox0), flip);
                const int32_t* wk = a.w + ky * G * OC;
                const __m512i g0 = _mm512_permutexvar_epi8(idx0, v);
                for (int oc = 0; oc < OC; ++oc)
                    acc[oc] = _mm512_dpbusd_epi32(acc[oc], g0, _mm512_set1_epi32(wk[oc]));
                if (G > 1) {
                    const __m512i g1 = _mm512_permutexvar_epi8(idx1, v);
                    for (int oc = 0; oc < OC; ++oc)
                        acc[oc] = _mm512_dpbusd_epi32(acc[oc], g1, _mm512_set1_epi32(wk[OC + oc]));
                }
            }
            uint8_t* yo = y + oy * a.OW + ox0;
            for (int oc = 0; oc < OC; ++oc) {
                __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc[oc]), _mm512_set1_ps(a.multiplier[oc]));
                f = _mm512_min_ps(_mm512_max_ps(f, lo), hi);
                const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(f), yz);
                _mm_mask_storeu_epi8(yo + oc * plane, m, _mm512_cvtepi32_epi8(q));
            }
        }
}

template <int... I>
void dispatch(const QConvC1Args& a, std::integer_sequence<int, I...>) {
    using Fn = void (*)(const QConvC1Args&);
    static constexpr Fn fns[] = {c1_rows<I + 1>...};
    fns[a.OC - 1](a);
}

}  // namespace

void qconv_c1__avx512vnni(const QConvC1Args& a) {
    EDGEQ_CHECK(a.OC >= 1 && a.OC <= kQConvC1MaxOC);
    dispatch(a, std::make_integer_sequence<int, kQConvC1MaxOC>{});
}

}  // namespace edgeq::kernels::x86
