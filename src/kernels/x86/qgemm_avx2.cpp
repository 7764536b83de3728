// qgemm_u8s8__avx2_3x16: exact INT8 GEMM without VNNI (for a 7-bit packed B it runs the 6×16 vpmaddubsw tile
// of qgemm_ymm.inc instead, exact there). B bytes are sign-extended to int16 (vpmovsxbw) and A
// bytes zero-extended, then vpmaddwd sums pairs into int32: |a·b| ≤ 255·128 so no int16 step can saturate
// (vpmaddubsw could: 2·255·(−128) < −32768). Each vpmaddwd leaves columns as (k0+k1, k2+k3) pairs; one
// vphaddd per 8 columns at the end folds them.
// qgemm_u8s4g_f32__avx2_2x16 / qgemm_u8s2g_f32__avx2_2x16: group-wise weights, where W = Q − Z ∈ [−15, 15]
// makes vpmaddubsw exact (qgemm_ymm.inc).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "core/check.h"
#include "kernels/qgemm.h"

namespace edgeq::kernels {
namespace {

#include "kernels/x86/act_avx2.inc"
#include "kernels/x86/qgemm_common.inc"
#include "kernels/x86/qgemm_ymm.inc"

struct DotMaddubs {
    static __m256i dot(__m256i acc, __m256i a, __m256i w) {
        return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(a, w), _mm256_set1_epi16(1)));
    }
};

// (k01, k23) pair sums of columns 0-3 and 4-7 → the 8 column sums in order.
inline __m256i fold_pairs(__m256i c0123, __m256i c4567) {
    return _mm256_permute4x64_epi64(_mm256_hadd_epi32(c0123, c4567), 0xD8);
}

struct Madd16 {
    static constexpr int kMR = 3, kNT = 16;
    template <int R>
    static void tile(const QTile& t) {
        const QGemmArgs& g = *t.g;
        __m256i acc[R][4];
        for (int r = 0; r < R; ++r)
            for (int q = 0; q < 4; ++q) acc[r][q] = _mm256_setzero_si256();
        const int8_t* bp = t.b;
        for (int64_t k4 = 0; k4 < t.K4; ++k4, bp += 64) {
            __m256i b[4];
            for (int q = 0; q < 4; ++q)  // columns 4q..4q+3, 4 k each, as int16
                b[q] = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bp + 16 * q)));
            const bool tail = 4 * k4 + 4 > g.K;  // (never with indirect A: K % 4 == 0)
            const int64_t off = t.koff ? t.koff[k4] : 4 * k4;
            for (int r = 0; r < R; ++r) {
                const int32_t w =
                    tail ? a_word(t.rows[r], 4 * k4, g.K, t.xor_a) : load_word(t.rows[r] + off) ^ t.xor_a;
                const __m256i av = _mm256_cvtepu8_epi16(_mm_set1_epi32(w));  // a0 a1 a2 a3 repeated, int16
                for (int q = 0; q < 4; ++q)
                    acc[r][q] = _mm256_add_epi32(acc[r][q], _mm256_madd_epi16(av, b[q]));
            }
        }
        for (int r = 0; r < R; ++r) {
            qfinish8(t, r, 0, fold_pairs(acc[r][0], acc[r][1]));
            qfinish8(t, r, 8, fold_pairs(acc[r][2], acc[r][3]));
        }
    }
};

}  // namespace

namespace x86 {
void qgemm_u8s8__avx2_3x16(const QGemmArgs& g) {
    // 7-bit B: vpmaddubsw pairs stay within ±2·255·64 < 2^15, so the 4-term dot is exact (6×16 tile)
    if (qpack_b_is_7bit(g.b, g.K, g.N))
        qgemm_drive<DpKern16<DotMaddubs>>(g);
    else
        qgemm_drive<Madd16>(g);
}
void qgemm_u8s4g_f32__avx2_2x16(const QGroupGemmArgs& g) {
    qgroup_drive<GroupKern16<DotMaddubs, 4>>(g);
}
void qgemm_u8s2g_f32__avx2_2x16(const QGroupGemmArgs& g) {
    qgroup_drive<GroupKern16<DotMaddubs, 2>>(g);
}
}  // namespace x86
}  // namespace edgeq::kernels
