// q8_product (kernels/rnn.h), AVX-512 VNNI: a block of up to 4 rows × 4 panels (64 columns) of int32
// accumulators, one vpdpbusd per row, panel and group of 4 k (the qpack_b layout is vpdpbusd's operand
// layout), then the dequantizing epilogue of dequant_rows_s32 in registers (masked stores for column tails).
// No per-call or per-tile setup, which is what small-K products (the recurrence: K = H) need. Integer sums
// are exact and the float epilogue is the reference's operations in its order: equal bit for bit.
// GCC 12 reports the _mm512_undefined_ps() inside masked intrinsics as maybe-uninitialized (at -O3, once
// the loops are unrolled: uninitialized) — a false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/kernels.h"
#include "kernels/ref/rnn_ref.h"

namespace edgeq::kernels {
namespace {

#include "kernels/x86/act_avx512.inc"

// 4 bytes of a row starting at k (bytes at or past K read as 0: the packed B is 0 there anyway, and the
// row's end may be the end of the buffer).
__attribute__((noinline)) int32_t word(const uint8_t* row, int64_t k, int64_t K) {
    int32_t w = 0;
    std::memcpy(&w, row + k, static_cast<size_t>(std::min<int64_t>(4, K - k)));
    return w;
}

template <int R, int P>
void block(const Q8ProductArgs& a, int64_t m0, int64_t p0) {
    const int64_t K = a.K, K4 = (K + 3) / 4, kfull = K / 4;
    const auto* b = static_cast<const int8_t*>(a.b) + p0 * K4 * 64;
    __m512i acc[R][P];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
        for (int p = 0; p < P; ++p) acc[r][p] = _mm512_setzero_si512();
    const uint8_t* rows[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) rows[r] = a.q + (m0 + r) * a.ldq;
    for (int64_t k4 = 0; k4 < K4; ++k4) {
        __m512i w[P];
#pragma GCC unroll 4
        for (int p = 0; p < P; ++p) w[p] = _mm512_loadu_si512(b + (p * K4 + k4) * 64);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
            int32_t wd;
            if (k4 < kfull)
                std::memcpy(&wd, rows[r] + 4 * k4, 4);
            else
                wd = word(rows[r], 4 * k4, K);
            const __m512i av = _mm512_set1_epi32(wd);
#pragma GCC unroll 4
            for (int p = 0; p < P; ++p) acc[r][p] = _mm512_dpbusd_epi32(acc[r][p], av, w[p]);
        }
    }
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) {
        const int64_t n = (p0 + p) * 16;
        const __mmask16 mk = tail_mask16(a.N - n);
        const __m512i cs = _mm512_maskz_loadu_epi32(mk, a.colsum + n);
        const __m512 bs = _mm512_maskz_loadu_ps(mk, a.b_scale + n);
        const __m512 bias = a.bias ? _mm512_maskz_loadu_ps(mk, a.bias + n) : _mm512_setzero_ps();
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
            const int64_t m = m0 + r;
            const __m512i d =
                _mm512_sub_epi32(acc[r][p], _mm512_mullo_epi32(_mm512_set1_epi32(a.zero[m]), cs));
            __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(d), _mm512_mul_ps(_mm512_set1_ps(a.scale[m]), bs));
            if (a.bias) v = _mm512_add_ps(v, bias);
            _mm512_mask_storeu_ps(a.y + m * a.ldy + n, mk, v);
        }
    }
}

template <int R>
void rows_block(const Q8ProductArgs& a, int64_t m0) {
    const int64_t panels = (a.N + 15) / 16;
    int64_t p0 = 0;
    for (; p0 + 4 <= panels; p0 += 4) block<R, 4>(a, m0, p0);
    switch (panels - p0) {
        case 3:
            block<R, 3>(a, m0, p0);
            break;
        case 2:
            block<R, 2>(a, m0, p0);
            break;
        case 1:
            block<R, 1>(a, m0, p0);
            break;
        default:
            break;
    }
}

}  // namespace

namespace x86 {

void q8_product__avx512vnni(const Q8ProductArgs& a) {
    int64_t m = 0;
    for (; m + 4 <= a.rows; m += 4) rows_block<4>(a, m);
    switch (a.rows - m) {
        case 3:
            rows_block<3>(a, m);
            break;
        case 2:
            rows_block<2>(a, m);
            break;
        case 1:
            rows_block<1>(a, m);
            break;
        default:
            break;
    }
}

}  // namespace x86
}  // namespace edgeq::kernels
