// AVX-512 VNNI rows (vpdpbusd: four u8·s8 products summed into each int32 lane, no intermediate saturation):
//   qgemm_u8s8__avx512vnni_8x32        8 rows × 2 panels (16 zmm accumulators), one 64-byte B load per panel
//                                      and k4, epilogue in registers (masked stores for column tails)
//   qgemm_u8s4g_f32__avx512vnni_4x32   group-wise int4 / int2: codes unpacked with shift/and/sub,
//   qgemm_u8s2g_f32__avx512vnni_4x32   per-group int dot, exact fp32 correction, FMA across groups
//   *__avx512vnni_ymm_*                the 256-bit AVX-VNNI code of qgemm_ymm.inc, EVEX-encoded (tests it
//   here)
// GCC 12 false positive: avx512fintrin.h's _mm512_undefined_* self-initialisation reads as uninitialised.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "core/check.h"
#include "kernels/qgemm.h"

namespace edgeq::kernels {
namespace {

#include "kernels/x86/act_avx2.inc"
#include "kernels/x86/act_avx512.inc"
#include "kernels/x86/qgemm_common.inc"
#include "kernels/x86/qgemm_ymm.inc"
#include "kernels/x86/qrequant_avx512.inc"

struct DotVl {
    static __m256i dot(__m256i acc, __m256i a, __m256i w) { return _mm256_dpbusd_epi32(acc, a, w); }
};

// The epilogue is forced inline (as qstore8 / qfinish8 in qgemm_ymm.inc): GCC 12 kept it out of line, a call
// per 16 outputs that made it the kernel's main cost at small K (ultraface's 1x1 conv, K = 16: 0.39 -> 0.21
// ms).
__attribute__((always_inline)) inline void qstore16(const QGemmArgs& g, int64_t m, int64_t n, int nv,
                                                    __m512i acc) {
    const __mmask16 mask = tail_mask16(nv);
    const int64_t i = m * g.ldc + n;
    switch (g.out) {
        case QOut::S32:
            _mm512_mask_storeu_epi32(static_cast<int32_t*>(g.c) + i, mask, acc);
            return;
        case QOut::F32: {
            const __m512 s = _mm512_mul_ps(_mm512_set1_ps(g.a_scale[g.a_scale_per_row ? m : 0]),
                                           _mm512_maskz_loadu_ps(mask, g.b_scale + n));
            __m512 y = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), s);
            if (g.bias_f) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(mask, g.bias_f + n));
            _mm512_mask_storeu_ps(static_cast<float*>(g.c) + i, mask, act16(y, g.act));
            return;
        }
        case QOut::U8:
        case QOut::S8: {
            __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_maskz_loadu_ps(mask, g.multiplier + n));
            f = _mm512_max_ps(f, _mm512_set1_ps(static_cast<float>(g.y_min - g.y_zero)));
            f = _mm512_min_ps(f, _mm512_set1_ps(static_cast<float>(g.y_max - g.y_zero)));
            const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(f), _mm512_set1_epi32(g.y_zero));
            // q is inside the output type's range: the truncating vpmovdb keeps its byte
            _mm512_mask_cvtepi32_storeu_epi8(static_cast<uint8_t*>(g.c) + i, mask, q);
            return;
        }
    }
}

__attribute__((always_inline)) inline void qfinish16(const QTile& t, int r, int j, __m512i acc) {
    const int nv = t.nvalid - j;
    if (nv <= 0) return;
    // (t.corr is in acc already: Dp32::body starts from it)
    if (t.zb)
        acc = _mm512_sub_epi32(
            acc, _mm512_mullo_epi32(_mm512_load_si512(t.zb + j), _mm512_set1_epi32(t.rowsum[r])));
    qstore16(*t.g, t.m0 + r, t.n0 + j, std::min(nv, 16), acc);
}

// vpdpbusd through inline asm: with the intrinsic GCC 12 kept each accumulator of the 8x32 loop in two registers
// and copied it in and out every iteration (32 zmm moves per 16 vpdpbusd; the front end, not the VNNI unit, was
// the limit). The "+v" operand ties the accumulator to one register.
__attribute__((always_inline)) inline __m512i dpbusd_tied(__m512i acc, __m512i a, __m512i w) {
    asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(w));
    return acc;
}

struct Dp32 {
    static constexpr int kMR = 8, kNT = 32;

    // Ind: indirect A (k-group k4 of row r at t.rows[r] + t.koff[k4]; K a multiple of 4). SA: signed A, whose
    // bytes are flipped to a + 128 (a vector xor after the broadcast; u8 A is broadcast straight from memory).
    template <int R, int NP, bool Ind, bool SA>
    static void body(const QTile& t) {
        const QGemmArgs& g = *t.g;
        // The accumulators start at the column corrections (bias − za'·colsum + K·za'·zb, wrapping int32 as
        // the epilogue's add was): one add per output fewer in the epilogue.
        __m512i acc[R][NP];
        for (int p = 0; p < NP; ++p) {
            const __m512i c0 = _mm512_load_si512(t.corr + 16 * p);
            for (int r = 0; r < R; ++r) acc[r][p] = c0;
        }
        const uint8_t* rows[R];
        for (int r = 0; r < R; ++r) rows[r] = t.rows[r];
        const int32_t* koff = t.koff;
        const int8_t* b0 = t.b;
        const int8_t* b1 = t.b + t.K4 * 64;
        const int64_t kfull = g.K / 4;
        const __m512i flip = _mm512_set1_epi32(static_cast<int32_t>(0x80808080u));
        for (int64_t k4 = 0; k4 < kfull; ++k4) {
            __m512i bv[NP];
            bv[0] = _mm512_loadu_si512(b0 + 64 * k4);
            if constexpr (NP == 2) bv[1] = _mm512_loadu_si512(b1 + 64 * k4);
            const int64_t off = Ind ? koff[k4] : 4 * k4;
            for (int r = 0; r < R; ++r) {
                __m512i av = _mm512_set1_epi32(load_word(rows[r] + off));
                if constexpr (SA) av = _mm512_xor_si512(av, flip);
                for (int p = 0; p < NP; ++p) acc[r][p] = dpbusd_tied(acc[r][p], av, bv[p]);
            }
        }
        if (!Ind && kfull < t.K4) {
            __m512i bv[NP];
            bv[0] = _mm512_loadu_si512(b0 + 64 * kfull);
            if constexpr (NP == 2) bv[1] = _mm512_loadu_si512(b1 + 64 * kfull);
            for (int r = 0; r < R; ++r) {
                const __m512i av = _mm512_set1_epi32(a_word(rows[r], 4 * kfull, g.K, t.xor_a));
                for (int p = 0; p < NP; ++p) acc[r][p] = _mm512_dpbusd_epi32(acc[r][p], av, bv[p]);
            }
        }
        if (g.out == QOut::U8 || g.out == QOut::S8) {
            requant_rows<R, NP>(t, acc);
            return;
        }
        for (int r = 0; r < R; ++r)
            for (int p = 0; p < NP; ++p) qfinish16(t, r, 16 * p, acc[r][p]);
    }

    // The U8 / S8 epilogue of a tile (qstore16's arithmetic): the per-column corrections and multipliers and
    // the clamp bounds loaded once per tile, not once per row (a byte store may alias QGemmArgs, so GCC reloaded
    // them after every row's store); with two full panels a row's 32 results are packed to bytes (exact: they
    // are inside the output type's range) and stored at once.
    template <int R, int NP>
    __attribute__((always_inline)) static void requant_rows(const QTile& t, __m512i (&acc)[R][NP]) {
        const QGemmArgs& g = *t.g;
        const __m512 lo = _mm512_set1_ps(static_cast<float>(g.y_min - g.y_zero));
        const __m512 hi = _mm512_set1_ps(static_cast<float>(g.y_max - g.y_zero));
        const __m512i yz = _mm512_set1_epi32(g.y_zero);
        const bool u8 = g.out == QOut::U8;
        __mmask16 mk[NP];
        __m512i zb[NP];
        __m512 mul[NP];
        for (int p = 0; p < NP; ++p) {
            const int nv = t.nvalid - 16 * p;
            mk[p] = tail_mask16(nv);
            zb[p] = t.zb ? _mm512_load_si512(t.zb + 16 * p) : _mm512_setzero_si512();
            mul[p] = _mm512_maskz_loadu_ps(mk[p], g.multiplier + t.n0 + 16 * p);
        }
        const bool full2 = NP == 2 && t.nvalid == 32;
        // (requant16 / store_bytes32: the packed store's saturation is the lower clamp where exact)
        const bool sat_lo = full2 && g.y_zero >= 0 && g.y_min == (u8 ? 0 : -128), add_yz = g.y_zero != 0;
        auto* c = static_cast<uint8_t*>(g.c) + t.m0 * g.ldc + t.n0;
        const int64_t ldc = g.ldc;
        for (int r = 0; r < R; ++r) {
            __m512i q[NP];
            for (int p = 0; p < NP; ++p) {
                __m512i a = acc[r][p];  // corrections included (body)
                if (t.zb) a = _mm512_sub_epi32(a, _mm512_mullo_epi32(zb[p], _mm512_set1_epi32(t.rowsum[r])));
                q[p] = requant16(a, mul[p], lo, hi, sat_lo, add_yz, yz);
            }
            if constexpr (NP == 2) {
                if (full2) {
                    store_bytes32(c + r * ldc, q[0], q[1], u8);
                    continue;
                }
            }
            for (int p = 0; p < NP; ++p)
                if (t.nvalid > 16 * p) _mm512_mask_cvtepi32_storeu_epi8(c + r * ldc + 16 * p, mk[p], q[p]);
        }
    }

    template <int R, bool SA>
    static void tile_a(const QTile& t) {
        if (t.koff) {
            if (t.nvalid > 16)
                body<R, 2, true, SA>(t);
            else
                body<R, 1, true, SA>(t);
        } else if (t.nvalid > 16) {
            body<R, 2, false, SA>(t);
        } else {
            body<R, 1, false, SA>(t);
        }
    }

    template <int R>
    static void tile(const QTile& t) {
        if (t.xor_a != 0)
            tile_a<R, true>(t);
        else
            tile_a<R, false>(t);
    }
};

template <int kBitsT>
struct Group32 {
    static constexpr int kMR = 4, kNT = 32, kBits = kBitsT;
    static constexpr int kSub = 8 / kBits;
    static constexpr int kBlockK = 4 * kSub;

    template <int R, int NP>
    static void body(const QGTile& t) {
        const QGroupGemmArgs& g = *t.g;
        const __m512i cmask = _mm512_set1_epi8(static_cast<char>((1 << kBits) - 1));
        const __m512i off = _mm512_set1_epi8(static_cast<char>(kBits == 4 ? 8 : 2));
        __m512 facc[R][NP];
        for (int r = 0; r < R; ++r)
            for (int p = 0; p < NP; ++p) facc[r][p] = _mm512_setzero_ps();
        alignas(64) uint8_t buf[R][128];
        const uint8_t* rows[R];
        for (int64_t gi = 0; gi < t.ng; ++gi) {
            const uint8_t* grp[NP];
            const uint8_t* codes[NP];
            __m512i z[NP];
            for (int p = 0; p < NP; ++p) {
                grp[p] = t.b + p * t.panel_bytes + gi * t.group_bytes;
                codes[p] = grp[p] + 128 + (g.has_zero ? 64 : 0);
                z[p] = g.has_zero ? _mm512_loadu_si512(grp[p] + 128) : off;
            }
            group_rows<R>(t, gi, buf, rows);
            __m512i acc[R][NP];
            for (int r = 0; r < R; ++r)
                for (int p = 0; p < NP; ++p) acc[r][p] = _mm512_setzero_si512();
            for (int blk = 0; blk < g.group / kBlockK; ++blk) {
                __m512i v[NP];
                for (int p = 0; p < NP; ++p) v[p] = _mm512_loadu_si512(codes[p] + blk * 64);
                for (int s = 0; s < kSub; ++s) {
                    __m512i w[NP];
                    for (int p = 0; p < NP; ++p)
                        w[p] = _mm512_sub_epi8(_mm512_and_si512(_mm512_srli_epi16(v[p], s * kBits), cmask),
                                               z[p]);
                    const int kk = blk * kBlockK + 4 * s;
                    for (int r = 0; r < R; ++r) {
                        const __m512i av = _mm512_set1_epi32(load_word(rows[r] + kk) ^ t.xor_a);
                        for (int p = 0; p < NP; ++p) acc[r][p] = _mm512_dpbusd_epi32(acc[r][p], av, w[p]);
                    }
                }
            }
            for (int p = 0; p < NP; ++p) {
                const auto* gf = reinterpret_cast<const float*>(grp[p]);
                const __m512 sc = _mm512_loadu_ps(gf), ws = _mm512_loadu_ps(gf + 16);
                for (int r = 0; r < R; ++r) {
                    // exact: |dot|, |za'·wsum| and the difference are integers below 2^24 (G ≤ 128)
                    const __m512 d =
                        _mm512_fnmadd_ps(_mm512_set1_ps(t.za[r]), ws, _mm512_cvtepi32_ps(acc[r][p]));
                    facc[r][p] = _mm512_fmadd_ps(d, sc, facc[r][p]);
                }
            }
        }
        for (int r = 0; r < R; ++r) {
            const int64_t m = t.m0 + r;
            for (int p = 0; p < NP; ++p) {
                const int nv = t.nvalid - 16 * p;
                if (nv <= 0) break;
                const __mmask16 mask = tail_mask16(nv);
                const int64_t n = t.n0 + 16 * p;
                __m512 y = _mm512_mul_ps(facc[r][p], _mm512_set1_ps(g.a_scale[m]));
                if (g.bias) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(mask, g.bias + n));
                _mm512_mask_storeu_ps(g.c + m * g.ldc + n, mask, act16(y, g.act));
            }
        }
    }

    template <int R>
    static void tile(const QGTile& t) {
        if (t.nvalid > 16)
            body<R, 2>(t);
        else
            body<R, 1>(t);
    }

    static void run(int rows, const QGTile& t) {
        switch (rows) {
            case 1:
                tile<1>(t);
                break;
            case 2:
                tile<2>(t);
                break;
            case 3:
                tile<3>(t);
                break;
            default:
                tile<4>(t);
                break;
        }
    }
};

}  // namespace

namespace x86 {
void qgemm_u8s8__avx512vnni_8x32(const QGemmArgs& g) {
    qgemm_drive<Dp32>(g);
}
void qgemm_u8s4g_f32__avx512vnni_4x32(const QGroupGemmArgs& g) {
    qgroup_drive<Group32<4>>(g);
}
void qgemm_u8s2g_f32__avx512vnni_4x32(const QGroupGemmArgs& g) {
    qgroup_drive<Group32<2>>(g);
}
void qgemm_u8s8__avx512vnni_ymm_6x16(const QGemmArgs& g) {
    qgemm_drive<DpKern16<DotVl>>(g);
}
void qgemm_u8s4g_f32__avx512vnni_ymm_2x16(const QGroupGemmArgs& g) {
    qgroup_drive<GroupKern16<DotVl, 4>>(g);
}
void qgemm_u8s2g_f32__avx512vnni_ymm_2x16(const QGroupGemmArgs& g) {
    qgroup_drive<GroupKern16<DotVl, 2>>(g);
}
}  // namespace x86
}  // namespace edgeq::kernels
