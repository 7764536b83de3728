// Integer 2×2 / stride-2 AveragePool on quantized NCHW planes (kernels/qconv.h qavgpool) for AVX-512BW, when
// the windows tile the planes exactly (no padding, H = 2·OH, W = 2·OW: LeNet's pools). Three dense passes over
// a chunk of output rows, in int16 (a 2×2 sum of bytes fits: u8 ≤ 1020, s8 in [−512, 508]):
//   1. h[k] = x[2k] + x[2k+1] over the chunk's input bytes (vpmaddubsw with ones: 64 bytes → 32 pair sums);
//      W is even, so pairs never straddle two rows and input row i's pair sums are h[i·OW, (i+1)·OW);
//   2. s[o·OW + j] = h[2o·OW + j] + h[(2o+1)·OW + j]: the window sums, output rows packed densely;
//   3. the epilogue of qavgpool_ref 16 outputs at a time: int32(s) − 4·zx, float, × float(ratio / 4), clamp
//      to the output range − zy, + and − 1.5·2^23 (round half to even), + zy, truncated to bytes.
// The window sums are exact and the float operations are the reference's, in its order: equal bytes.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12: _mm512_undefined_* self-initialisation
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "kernels/qconv.h"

namespace edgeq::kernels::x86 {
namespace {

constexpr int64_t kChunk = 4096;  // int16 pair sums held per chunk (an output row: 2·OW of them)

inline __mmask32 mask32(int64_t n) {
    return n >= 32 ? ~__mmask32{0} : static_cast<__mmask32>((1u << n) - 1);
}
inline __mmask64 mask64(int64_t n) {
    return n >= 64 ? ~__mmask64{0} : static_cast<__mmask64>((uint64_t{1} << n) - 1);
}

template <bool XSigned>
void pool(const QAvgPoolArgs& a, int32_t qmin, int32_t qmax) {
    const int64_t W = a.W, OW = a.OW;
    const auto* x = static_cast<const uint8_t*>(a.x) + a.p_begin * a.H * W;
    auto* y = static_cast<uint8_t*>(a.y) + a.p_begin * a.OH * OW;
    const int64_t rows = (a.p_end - a.p_begin) * a.OH;  // output rows of all the planes, stacked
    const int64_t rc = std::max<int64_t>(1, kChunk / (2 * OW));
    const float lo = static_cast<float>(qmin - a.y_zero), hi = static_cast<float>(qmax - a.y_zero);
    const __m512 m = _mm512_set1_ps(static_cast<float>(a.ratio / 4.0));
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi), round = _mm512_set1_ps(12582912.0f);
    const __m512i zsum = _mm512_set1_epi32(4 * a.x_zero), yz = _mm512_set1_epi32(a.y_zero);
    const __m512i ones = _mm512_set1_epi8(1);
    alignas(64) int16_t h[kChunk + 32];
    alignas(64) int16_t s[kChunk / 2 + 32];
    for (int64_t r0 = 0; r0 < rows; r0 += rc) {
        const int64_t nr = std::min(rows, r0 + rc) - r0;
        const uint8_t* xc = x + r0 * 2 * W;
        // 1. pair sums of the 2·nr input rows
        const int64_t nb = nr * 2 * W;
        for (int64_t i = 0; i < nb; i += 64) {
            const __m512i v = _mm512_maskz_loadu_epi8(mask64(nb - i), xc + i);
            const __m512i p = XSigned ? _mm512_maddubs_epi16(ones, v) : _mm512_maddubs_epi16(v, ones);
            _mm512_store_si512(h + i / 2, p);
        }
        // 2. window sums, output rows packed
        for (int64_t o = 0; o < nr; ++o) {
            const int16_t* h0 = h + 2 * o * OW;
            for (int64_t j = 0; j < OW; j += 32) {
                const __mmask32 mk = mask32(OW - j);
                const __m512i v = _mm512_add_epi16(_mm512_maskz_loadu_epi16(mk, h0 + j),
                                                   _mm512_maskz_loadu_epi16(mk, h0 + OW + j));
                _mm512_mask_storeu_epi16(s + o * OW + j, mk, v);
            }
        }
        // 3. the epilogue
        const int64_t n = nr * OW;
        uint8_t* yc = y + r0 * OW;
        for (int64_t i = 0; i < n; i += 16) {
            const __mmask16 mk = static_cast<__mmask16>(mask32(std::min<int64_t>(16, n - i)));
            const __m512i v = _mm512_sub_epi32(
                _mm512_cvtepi16_epi32(_mm256_maskz_loadu_epi16(mk, s + i)), zsum);
            __m512 f = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(v), m), vlo), vhi);
            f = _mm512_sub_ps(_mm512_add_ps(f, round), round);
            _mm512_mask_cvtepi32_storeu_epi8(yc + i, mk, _mm512_add_epi32(_mm512_cvttps_epi32(f), yz));
        }
    }
}

}  // namespace

bool qavgpool_2x2__avx512(const QAvgPoolArgs& a) {
    if (a.KH != 2 || a.KW != 2 || a.SH != 2 || a.SW != 2 || a.PT != 0 || a.PL != 0 || a.OH <= 0 || a.OW <= 0 ||
        a.H != 2 * a.OH || a.W != 2 * a.OW || a.OW > kChunk / 2)
        return false;
    const int32_t qmin = a.y_signed ? -128 : 0, qmax = a.y_signed ? 127 : 255;
    if (a.x_signed)
        pool<true>(a, qmin, qmax);
    else
        pool<false>(a, qmin, qmax);
    return true;
}

}  // namespace edgeq::kernels::x86
