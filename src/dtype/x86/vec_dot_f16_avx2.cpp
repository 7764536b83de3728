// AVX2 (+F16C, FMA) float tiles of dtype/vec_dot_float.h (F32, F16, BF16): each output's 16 float lanes are two
// ymm (lanes 0-7 and 8-15), in the header's order bit for bit, so AVX2 and AVX-512 give the same values.
// Internal linkage only (dtype/x86/vec_dot_float_x86.h); compiled with -mavx2 -mf16c -mfma.
#include <immintrin.h>

#include "dtype/x86/vec_dot_float_x86.h"

namespace edgeq::vdot {
namespace {

struct Ops256 {
    struct V {
        __m256 lo, hi;
    };
    static V zero() { return {_mm256_setzero_ps(), _mm256_setzero_ps()}; }
    template <DType T>
    static __m256 load8(const uint8_t* p) {
        if constexpr (T == DType::F32) {
            return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
        } else if constexpr (T == DType::F16) {
            return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
        } else {
            const __m256i u = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
            return _mm256_castsi256_ps(_mm256_slli_epi32(u, 16));
        }
    }
    template <DType T>
    static V load(const uint8_t* p) {
        return {load8<T>(p), load8<T>(p + 8 * kElemBytes<T>)};
    }
    static V fma(V w, V a, V acc) { return {_mm256_fmadd_ps(w.lo, a.lo, acc.lo), _mm256_fmadd_ps(w.hi, a.hi, acc.hi)}; }
    static V add(V x, V y) { return {_mm256_add_ps(x.lo, y.lo), _mm256_add_ps(x.hi, y.hi)}; }
    static void store(float* p, V v) {
        _mm256_storeu_ps(p, v.lo);
        _mm256_storeu_ps(p + 8, v.hi);
    }
    static float hsum(V v) {
        const __m256 t8 = _mm256_add_ps(v.lo, v.hi);
        const __m128 t4 = _mm_add_ps(_mm256_castps256_ps128(t8), _mm256_extractf128_ps(t8, 1));
        const __m128 t2 = _mm_add_ps(t4, _mm_movehl_ps(t4, t4));
        return _mm_cvtss_f32(_mm_add_ss(t2, _mm_movehdup_ps(t2)));
    }
};

}  // namespace

EDGEQ_FLOAT_DOT_ENTRY_POINTS(avx2, Ops256, 2, 2, 4)

}  // namespace edgeq::vdot
