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
    static float hsum(V v) { return hsum16_tree(v); }
};

}  // namespace

EDGEQ_FLOAT_DOT_ENTRY_POINTS(avx512, Ops512, 4, 4, 8)

// Repacked float matrices (dtype/repack.h): decoding takes a whole group of 16 rows per pass.
void float_packed_tile_avx512(DType t, int64_t n, const void* w, int64_t nw, const void* a, size_t as, int64_t na,
                              float* y, size_t ys) {
    switch (t) {
        case DType::F32: return float_packed_tile<Ops512, DType::F32, 4, 4, 16>(n, w, nw, a, as, na, y, ys);
        case DType::F16: return float_packed_tile<Ops512, DType::F16, 4, 4, 16>(n, w, nw, a, as, na, y, ys);
        default: return float_packed_tile<Ops512, DType::BF16, 4, 4, 16>(n, w, nw, a, as, na, y, ys);
    }
}

}  // namespace edgeq::vdot
