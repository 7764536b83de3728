// Recurrent-cell gate kernels (kernels/rnn.h), AVX2 + FMA: 8 hidden units per vector, masked tail.
#include <immintrin.h>

#include <algorithm>

#include "kernels/kernels.h"
#include "kernels/ref/rnn_ref.h"

namespace edgeq::kernels {
namespace {

#include "kernels/x86/act_avx2.inc"

// The primitives kernels/x86/rnn_gates.inc needs, 8 floats per vector
using V = __m256;
using M = __m256i;
constexpr int kLanes = 8;
inline V vset1(float f) {
    return _mm256_set1_ps(f);
}
inline V vadd(V a, V b) {
    return _mm256_add_ps(a, b);
}
inline V vmul(V a, V b) {
    return _mm256_mul_ps(a, b);
}
inline V vfmadd(V a, V b, V c) {
    return _mm256_fmadd_ps(a, b, c);
}
inline V vfmsub(V a, V b, V c) {
    return _mm256_fmsub_ps(a, b, c);
}
inline V vclamp(V x, V l) {
    return _mm256_min_ps(_mm256_max_ps(x, _mm256_sub_ps(_mm256_setzero_ps(), l)), l);
}
inline V vround(V a) {
    return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
// p·2^n from n's exponent bits (no vscalefps in AVX2); n in [−126, 126]
inline V vpow2(V p, V n) {
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}
inline V vrecip(V d) {
    return _mm256_div_ps(_mm256_set1_ps(1.0f), d);
}
inline V ld(const float* p, M m) {
    return _mm256_maskload_ps(p, m);
}
inline void st(float* p, V v, M m) {
    _mm256_maskstore_ps(p, m, v);
}
inline M tail_mask(int64_t n) {
    return tail_mask8(n);
}

#include "kernels/x86/rnn_gates.inc"

}  // namespace

namespace x86 {

void lstm_gates_f32__avx2(const LstmGateArgs& a) {
    lstm_rows(a);
}

void gru_lbr_f32__avx2(const GruGateArgs& a) {
    const int64_t H = a.H;
    const __m256 one = _mm256_set1_ps(1.0f);
    for (int64_t r = 0; r < a.rows; ++r) {
        const float* x = a.xw + r * a.ldxw;
        const float* s = a.hr + r * a.ldhr;
        float* h = a.h + r * a.ldh;
        float* y = a.y ? a.y + r * a.ldy : nullptr;
        for (int64_t j = 0; j < H; j += 8) {
            const __m256i m = tail_mask8(H - j);
            const __m256 z = sigm(_mm256_add_ps(ld(x + j, m), ld(s + j, m)));
            const __m256 rg = sigm(_mm256_add_ps(ld(x + H + j, m), ld(s + H + j, m)));
            const __m256 g = tanhv(_mm256_fmadd_ps(rg, ld(s + 2 * H + j, m), ld(x + 2 * H + j, m)));
            // (1 − z)·g + z·h
            const __m256 hn = _mm256_fmadd_ps(z, ld(h + j, m), _mm256_mul_ps(_mm256_sub_ps(one, z), g));
            st(h + j, hn, m);
            if (y) st(y + j, hn, m);
        }
    }
}

void gru_reset_f32__avx2(const GruGateArgs& a) {
    const int64_t H = a.H;
    for (int64_t r = 0; r < a.rows; ++r) {
        const float* x = a.xw + r * a.ldxw;
        float* s = a.hr + r * a.ldhr;
        const float* h = a.h + r * a.ldh;
        float* rh = a.rh + r * a.ldrh;
        for (int64_t j = 0; j < H; j += 8) {
            const __m256i m = tail_mask8(H - j);
            st(s + j, sigm(_mm256_add_ps(ld(x + j, m), ld(s + j, m))), m);
            const __m256 rg = sigm(_mm256_add_ps(ld(x + H + j, m), ld(s + H + j, m)));
            st(rh + j, _mm256_mul_ps(rg, ld(h + j, m)), m);
        }
    }
}

void gru_update_f32__avx2(const GruGateArgs& a) {
    const int64_t H = a.H;
    const __m256 one = _mm256_set1_ps(1.0f);
    for (int64_t r = 0; r < a.rows; ++r) {
        const float* x = a.xw + r * a.ldxw;
        const float* s = a.hr + r * a.ldhr;
        float* h = a.h + r * a.ldh;
        float* y = a.y ? a.y + r * a.ldy : nullptr;
        for (int64_t j = 0; j < H; j += 8) {
            const __m256i m = tail_mask8(H - j);
            const __m256 z = ld(s + j, m);
            const __m256 g = tanhv(_mm256_add_ps(ld(x + 2 * H + j, m), ld(s + 2 * H + j, m)));
            const __m256 hn = _mm256_fmadd_ps(z, ld(h + j, m), _mm256_mul_ps(_mm256_sub_ps(one, z), g));
            st(h + j, hn, m);
            if (y) st(y + j, hn, m);
        }
    }
}

}  // namespace x86
}  // namespace edgeq::kernels
