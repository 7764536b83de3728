// AVX-512 float tiles of dtype/vec_dot_float.h (F32, F16, BF16): one zmm of 16 float lanes per output, in the
// header's order bit for bit. Internal linkage only (dtype/x86/vec_dot_float_x86.h); compiled with -mavx512f/dq.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 false positives in its AVX-512 headers
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include "dtype/x86/vec_dot_float_x86.h"

namespace edgeq::vdot {
namespace {

struct Ops512 {
    using V = __m512;
    static V zero() { return _mm512_setzero_ps(); }
    template <DType T>
    static V load(const uint8_t* p) {
        if constexpr (T == DType::F32) {
            return _mm512_loadu_ps(p);
        } else if constexpr (T == DType::F16) {
            return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
        } else {
            const __m512i u = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
            return _mm512_castsi512_ps(_mm512_slli_epi32(u, 16));
        }
    }
    static V fma(V w, V a, V acc) { return _mm512_fmadd_ps(w, a, acc); }
    static V add(V x, V y) { return _mm512_add_ps(x, y); }
    static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
    static float fma1(float x, float y, float acc) { return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(x), _mm_set_ss(y), _mm_set_ss(acc))); }
    static float hsum(V v) { return hsum16_tree(v); }
};

}  // namespace

EDGEQ_FLOAT_DOT_ENTRY_POINTS(avx512, Ops512, 4, 4, 8)

}  // namespace edgeq::vdot
