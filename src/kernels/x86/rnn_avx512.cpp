// Recurrent-cell gate kernels (kernels/rnn.h), AVX-512F: 16 hidden units per vector, masked tail.
// GCC 12 reports the _mm512_undefined_ps() inside masked intrinsics as maybe-uninitialized (a false
// positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"  // the same, once -O3 inlines them into unrolled loops
#include <immintrin.h>

#include <algorithm>

#include "kernels/kernels.h"
#include "kernels/ref/rnn_ref.h"

namespace edgeq::kernels {
namespace {

#include "kernels/x86/act_avx512.inc"

// The primitives kernels/x86/rnn_gates.inc needs, 16 floats per vector
using V = __m512;
using M = __mmask16;
constexpr int kLanes = 16;
inline V vset1(float f) {
    return _mm512_set1_ps(f);
}
inline V vadd(V a, V b) {
    return _mm512_add_ps(a, b);
}
inline V vmul(V a, V b) {
    return _mm512_mul_ps(a, b);
}
inline V vfmadd(V a, V b, V c) {
    return _mm512_fmadd_ps(a, b, c);
}
inline V vfmsub(V a, V b, V c) {
    return _mm512_fmsub_ps(a, b, c);
}
// |x| limited to l, x's sign kept: one vrangeps (imm 0b0010: the smaller magnitude, sign of the first operand);
// a NaN stays NaN
inline V vclamp(V x, V l) {
    return _mm512_range_ps(x, l, 0x02);
}
inline V vround(V a) {
    return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
inline V vpow2(V p, V n) {
    return _mm512_scalef_ps(p, n);
}
inline V vrecip(V d) {
    return _mm512_div_ps(_mm512_set1_ps(1.0f), d);
}
inline V ld(const float* p, M m) {
    return _mm512_maskz_loadu_ps(m, p);
}
inline void st(float* p, V v, M m) {
    _mm512_mask_storeu_ps(p, m, v);
}
inline M tail_mask(int64_t n) {
    return tail_mask16(n);
}

#include "kernels/x86/rnn_gates.inc"

}  // namespace

namespace x86 {

void lstm_gates_f32__avx512(const LstmGateArgs& a) {
    lstm_rows(a);
}

void gru_lbr_f32__avx512(const GruGateArgs& a) {
    const int64_t H = a.H;
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int64_t r = 0; r < a.rows; ++r) {
        const float* x = a.xw + r * a.ldxw;
        const float* s = a.hr + r * a.ldhr;
        float* h = a.h + r * a.ldh;
        float* y = a.y ? a.y + r * a.ldy : nullptr;
        for (int64_t j = 0; j < H; j += 16) {
            const __mmask16 m = tail_mask16(H - j);
            const __m512 z = sigm(_mm512_add_ps(ld(x + j, m), ld(s + j, m)));
            const __m512 rg = sigm(_mm512_add_ps(ld(x + H + j, m), ld(s + H + j, m)));
            const __m512 g = tanhv(_mm512_fmadd_ps(rg, ld(s + 2 * H + j, m), ld(x + 2 * H + j, m)));
            // (1 − z)·g + z·h
            const __m512 hn = _mm512_fmadd_ps(z, ld(h + j, m), _mm512_mul_ps(_mm512_sub_ps(one, z), g));
            st(h + j, hn, m);
            if (y) st(y + j, hn, m);
        }
    }
}

void gru_reset_f32__avx512(const GruGateArgs& a) {
    const int64_t H = a.H;
    for (int64_t r = 0; r < a.rows; ++r) {
        const float* x = a.xw + r * a.ldxw;
        float* s = a.hr + r * a.ldhr;
        const float* h = a.h + r * a.ldh;
        float* rh = a.rh + r * a.ldrh;
        for (int64_t j = 0; j < H; j += 16) {
            const __mmask16 m = tail_mask16(H - j);
            st(s + j, sigm(_mm512_add_ps(ld(x + j, m), ld(s + j, m))), m);
            const __m512 rg = sigm(_mm512_add_ps(ld(x + H + j, m), ld(s + H + j, m)));
            st(rh + j, _mm512_mul_ps(rg, ld(h + j, m)), m);
        }
    }
}

void gru_update_f32__avx512(const GruGateArgs& a) {
    const int64_t H = a.H;
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int64_t r = 0; r < a.rows; ++r) {
        const float* x = a.xw + r * a.ldxw;
        const float* s = a.hr + r * a.ldhr;
        float* h = a.h + r * a.ldh;
        float* y = a.y ? a.y + r * a.ldy : nullptr;
        for (int64_t j = 0; j < H; j += 16) {
            const __mmask16 m = tail_mask16(H - j);
            const __m512 z = ld(s + j, m);
            const __m512 g = tanhv(_mm512_add_ps(ld(x + 2 * H + j, m), ld(s + 2 * H + j, m)));
            const __m512 hn = _mm512_fmadd_ps(z, ld(h + j, m), _mm512_mul_ps(_mm512_sub_ps(one, z), g));
            st(h + j, hn, m);
            if (y) st(y + j, hn, m);
        }
    }
}

}  // namespace x86
}  // namespace edgeq::kernels
