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

// The 4 bytes of a row at k (full_word), or its last K − k < 4 bytes and zeros (tail_word: the packed B is 0
// past K, and the row's end may be the end of the buffer).
inline int32_t full_word(const uint8_t* p) {
    int32_t w;
    std::memcpy(&w, p, 4);
    return w;
}
inline int32_t tail_word(const uint8_t* row, int64_t k, int64_t K) {
    int32_t w = 0;
    std::memcpy(&w, row + k, static_cast<size_t>(K - k));
    return w;
}

// The arguments as plain locals: read through the Q8ProductArgs reference, GCC reloaded every pointer and the
// bias test after each store of the epilogue (the float stores may alias the struct as far as it knows).
struct Ctx {
    const uint8_t* q;
    int64_t ldq;
    const int32_t* zero;
    const float* scale;
    const int8_t* b;
    const int32_t* colsum;
    const float* b_scale;
    const float* bias;
    float* y;
    int64_t ldy, N, K, K4, kfull;
};

template <int R, int P>
__attribute__((noinline)) void block(const Ctx& c, int64_t m0, int64_t p0) {
    const int64_t K4 = c.K4, kfull = c.kfull;
    const int8_t* b = c.b + p0 * K4 * 64;
    __m512i acc[R][P];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
        for (int p = 0; p < P; ++p) acc[r][p] = _mm512_setzero_si512();
    const uint8_t* rows[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) rows[r] = c.q + (m0 + r) * c.ldq;
    for (int64_t k4 = 0; k4 < K4; ++k4) {
        __m512i w[P];
#pragma GCC unroll 4
        for (int p = 0; p < P; ++p) w[p] = _mm512_loadu_si512(b + (p * K4 + k4) * 64);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
            const int32_t wd = k4 < kfull ? full_word(rows[r] + 4 * k4) : tail_word(rows[r], 4 * k4, c.K);
            const __m512i av = _mm512_set1_epi32(wd);
#pragma GCC unroll 4
            for (int p = 0; p < P; ++p) acc[r][p] = _mm512_dpbusd_epi32(acc[r][p], av, w[p]);
        }
    }
    int32_t zr[R];
    float sr[R];
    float* yr[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
        zr[r] = c.zero[m0 + r];
        sr[r] = c.scale[m0 + r];
        yr[r] = c.y + (m0 + r) * c.ldy + p0 * 16;
    }
    const float* bias_p = c.bias;
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) {
        const int64_t n = (p0 + p) * 16;
        const __mmask16 mk = tail_mask16(c.N - n);
        const __m512i cs = _mm512_maskz_loadu_epi32(mk, c.colsum + n);
        const __m512 bs = _mm512_maskz_loadu_ps(mk, c.b_scale + n);
        const __m512 bias = bias_p ? _mm512_maskz_loadu_ps(mk, bias_p + n) : _mm512_setzero_ps();
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
            const __m512i d = _mm512_sub_epi32(acc[r][p], _mm512_mullo_epi32(_mm512_set1_epi32(zr[r]), cs));
            __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(d), _mm512_mul_ps(_mm512_set1_ps(sr[r]), bs));
            if (bias_p) v = _mm512_add_ps(v, bias);
            _mm512_mask_storeu_ps(yr[r] + p * 16, mk, v);
        }
    }
}

template <int R>
void rows_block(const Ctx& c, int64_t m0) {
    const int64_t panels = (c.N + 15) / 16;
    int64_t p0 = 0;
    for (; p0 + 4 <= panels; p0 += 4) block<R, 4>(c, m0, p0);
    switch (panels - p0) {
        case 3:
            block<R, 3>(c, m0, p0);
            break;
        case 2:
            block<R, 2>(c, m0, p0);
            break;
        case 1:
            block<R, 1>(c, m0, p0);
            break;
        default:
            break;
    }
}
}  // namespace

namespace x86 {

void q8_product__avx512vnni(const Q8ProductArgs& a) {
    const Ctx c{a.q,      a.ldq,     a.zero,        a.scale, static_cast<const int8_t*>(a.b),
                a.colsum, a.b_scale, a.bias,        a.y,     a.ldy,
                a.N,      a.K,       (a.K + 3) / 4, a.K / 4};
    int64_t m = 0;
    for (; m + 4 <= a.rows; m += 4) rows_block<4>(c, m);
    switch (a.rows - m) {
        case 3:
            rows_block<3>(c, m);
            break;
        case 2:
            rows_block<2>(c, m);
            break;
        case 1:
            rows_block<1>(c, m);
            break;
        default:
            break;
    }
}

}  // namespace x86
}  // namespace edgeq::kernels
