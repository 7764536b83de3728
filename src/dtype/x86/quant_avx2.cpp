// AVX2 quantizers, byte-identical to the reference codecs (quant_legacy.cpp, quant_k.cpp).
//
// How exactness is kept: every value is produced by the same IEEE single-precision operations, in the same
// order, as the scalar reference (no reassociated sums, no FMA: -ffp-contract=off). Three patterns:
//   element-wise   Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, TQ1_0, TQ2_0 and the final index pass of IQ4_NL vectorize
//                  work that is independent per element; maxima/minima are order-free except for which of
//                  +0/-0 wins, which is fixed up by taking the first zero in scalar order.
//   lane-per-group the searches (k-quant sub-blocks, IQ4_NL blocks) run one group per lane; each lane replays
//                  the scalar loop in order, data-dependent branches become per-lane masks.
//   scalar glue    the few per-super-block steps (scale of scales) stay scalar, copied from the reference.
// The reference's integer conversions are mirrored including their out-of-range behaviour (e.g. C's
// float->int8_t compiles to cvttss2si + low byte). fp16 uses F16C, identical to core/fp16.h's f32_to_fp16
// for all 2^32 inputs (and the read-back of a value it produced).
//
// Only code with internal linkage lives here: this file is compiled with -mavx2 -mf16c -mfma (cmake:
// *_avx2.cpp), and an inline function from a shared header instantiated here could be emitted as a weak
// symbol the linker then picks for non-AVX2 callers. So no core/fp16.h or quant_common.h helpers and no
// std::min/max; only intrinsics and the local helpers below. Used only when the CPU has AVX2+F16C+FMA
// (dtype/quant_dispatch.cpp). Tests: tests/unit/dtype/quant_simd_test.cpp compares every function here with
// the reference.
#include <immintrin.h>

#include <cfloat>
#include <cstring>

#include "dtype/blocks.h"
#include "dtype/kquant_search.h"
#include "dtype/quant_common.h"  // only its out-of-line searches (make_qx_quants, make_qp_quants)
#include "dtype/quants.h"
#include "dtype/x86/lanes_x86.h"

namespace edgeq::quants {
namespace {

// ---- helpers ----------------------------------------------------------------------------------------

inline int imin(int a, int b) {
    return a < b ? a : b;
}
inline int imax(int a, int b) {
    return a > b ? a : b;
}

// quant_common.h's nearest_int (round half to even via 1.5*2^23), scalar.
inline int nearest_int1(float v) {
    const float s = v + 12582912.f;
    int32_t b;
    std::memcpy(&b, &s, sizeof b);
    return (b & 0x007fffff) - 0x00400000;
}

// ggml's nearest_int on 8 lanes: (bits(v + 1.5*2^23) & 0x7fffff) - 0x400000.
inline __m256i nearest_int8(__m256 v) {
    const __m256 s = _mm256_add_ps(v, _mm256_set1_ps(12582912.f));
    return _mm256_sub_epi32(_mm256_and_si256(_mm256_castps_si256(s), _mm256_set1_epi32(0x007fffff)),
                            _mm256_set1_epi32(0x00400000));
}

inline __m256i clamp8(__m256i v, int lo, int hi) {
    return _mm256_max_epi32(_mm256_set1_epi32(lo), _mm256_min_epi32(_mm256_set1_epi32(hi), v));
}

inline __m256 abs8(__m256 v) {
    return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
}
inline __m256 neg8(__m256 v) {
    return _mm256_xor_ps(v, _mm256_set1_ps(-0.0f));
}

// C's static_cast<int8_t>(float) as compiled (cvttss2si, then the low byte, sign-extended).
inline __m256i cvt_int8(__m256 v) {
    return _mm256_srai_epi32(_mm256_slli_epi32(_mm256_cvttps_epi32(v), 24), 24);
}

inline float hmax8(__m256 acc) {
    __m128 m = _mm_max_ps(_mm256_extractf128_ps(acc, 1), _mm256_castps256_ps128(acc));
    m = _mm_max_ps(_mm_movehl_ps(m, m), m);
    m = _mm_max_ss(_mm_movehdup_ps(m), m);
    return _mm_cvtss_f32(m);
}
inline float hmin8(__m256 acc) {
    __m128 m = _mm_min_ps(_mm256_extractf128_ps(acc, 1), _mm256_castps256_ps128(acc));
    m = _mm_min_ps(_mm_movehl_ps(m, m), m);
    m = _mm_min_ss(_mm_movehdup_ps(m), m);
    return _mm_cvtss_f32(m);
}

// Max of |x| over 32 floats, ignoring NaN like the scalar `std::max(amax, fabs(x))` (max_ps returns its
// second operand when either is NaN, so the accumulator goes second). Order-free, hence exact.
inline float absmax32(const float* x) {
    __m256 acc = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) acc = _mm256_max_ps(abs8(_mm256_loadu_ps(x + 8 * k)), acc);
    return hmax8(acc);
}

inline float absmax256(const float* x) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int k = 0; k < 256; k += 32) {
        a0 = _mm256_max_ps(abs8(_mm256_loadu_ps(x + k)), a0);
        a1 = _mm256_max_ps(abs8(_mm256_loadu_ps(x + k + 8)), a1);
        a2 = _mm256_max_ps(abs8(_mm256_loadu_ps(x + k + 16)), a2);
        a3 = _mm256_max_ps(abs8(_mm256_loadu_ps(x + k + 24)), a3);
    }
    return hmax8(_mm256_max_ps(_mm256_max_ps(a0, a1), _mm256_max_ps(a2, a3)));
}

// The first x[j] (j < 32) that compares equal to v (i.e. the signed zero the scalar loop keeps), else v.
inline float first_equal32(const float* x, float v) {
    const __m256 vv = _mm256_set1_ps(v);
    for (int k = 0; k < 4; ++k) {
        const int m = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + 8 * k), vv, _CMP_EQ_OQ));
        if (m) return x[8 * k + __builtin_ctz(static_cast<unsigned>(m))];
    }
    return v;
}

// Scalar `min = max = x[0]; for j: if (x[j] < min) min = x[j]; if (x[j] > max) max = x[j];` over 32 floats.
// min_ps(v, acc) is exactly `v < acc ? v : acc` per lane, NaN included (a NaN x[0] sticks, later NaNs are
// skipped); merging lanes can only change which of +0/-0 is kept, so a zero result is replaced by the first
// zero in scalar order.
inline void minmax32(const float* x, float& mn, float& mx) {
    const __m256 x0 = _mm256_set1_ps(x[0]);
    __m256 lo = x0, hi = x0;
    for (int k = 0; k < 4; ++k) {
        const __m256 v = _mm256_loadu_ps(x + 8 * k);
        lo = _mm256_min_ps(v, lo);
        hi = _mm256_max_ps(v, hi);
    }
    mn = hmin8(lo);
    mx = hmax8(hi);
    if (mn == 0.0f) mn = first_equal32(x, 0.0f);
    if (mx == 0.0f) mx = first_equal32(x, 0.0f);
}

// The value of the first element of largest magnitude (scalar: `if (amax < fabs(x[j]))`, strict, so the
// first one wins), 0 when all are zero.
inline float signed_absmax32(const float* x) {
    const float amax = absmax32(x);
    if (!(amax > 0.0f)) return 0.0f;
    const __m256 va = _mm256_set1_ps(amax);
    for (int k = 0; k < 4; ++k) {
        const int m = _mm256_movemask_ps(_mm256_cmp_ps(abs8(_mm256_loadu_ps(x + 8 * k)), va, _CMP_EQ_OQ));
        if (m) return x[8 * k + __builtin_ctz(static_cast<unsigned>(m))];
    }
    return 0.0f;
}

// 32 int32 values in [-128, 127] (q[0] holds elements 0..7, ...) as 32 bytes in element order.
inline __m256i bytes32(const __m256i* q) {
    const __m256i q01 = _mm256_packs_epi32(q[0], q[1]), q23 = _mm256_packs_epi32(q[2], q[3]);
    return _mm256_permutevar8x32_epi32(_mm256_packs_epi16(q01, q23),
                                       _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// Q4-style nibble pair: byte j = b[j] | (b[j + 16] << 4), truncated to 8 bits as the scalar uint8_t math.
inline __m128i nibbles16(__m256i b) {
    const __m128i lo = _mm256_castsi256_si128(b), hi = _mm256_extracti128_si256(b, 1);
    return _mm_or_si128(lo, _mm_slli_epi16(_mm_and_si128(hi, _mm_set1_epi8(0x0F)), 4));
}

// quant_legacy.cpp's pack_q5: low nibbles as Q4 (masked), bit 4 of element j into bit j of qh.
inline void pack_q5(__m256i b, uint8_t* qs, uint8_t* qh) {
    const __m128i lo = _mm256_castsi256_si128(b), hi = _mm256_extracti128_si256(b, 1);
    const __m128i m = _mm_set1_epi8(0x0F);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs),
                     _mm_or_si128(_mm_and_si128(lo, m), _mm_slli_epi16(_mm_and_si128(hi, m), 4)));
    const uint32_t bits = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_slli_epi16(b, 3)));
    std::memcpy(qh, &bits, sizeof bits);
}

// Per lane: the value of the first element of largest |x| (strict '>' from 0, as signed_absmax) and |it|.
template <int n>
inline void lane_signed_absmax(const __m256* xt, __m256& vmax, __m256& amax) {
    amax = _mm256_setzero_ps();
    vmax = _mm256_setzero_ps();
    for (int i = 0; i < n; ++i) {
        const __m256 a = abs8(xt[i]);
        const __m256 gt = _mm256_cmp_ps(a, amax, _CMP_GT_OQ);
        amax = _mm256_blendv_ps(amax, a, gt);
        vmax = _mm256_blendv_ps(vmax, xt[i], gt);
    }
}

// ---- Q8_0 -----------------------------------------------------------------------------------------

// std::round (half away from zero), exactly: t = trunc(y); y - t is exact; add sign(y) when |y - t| >= 0.5.
inline __m256 round_away8(__m256 y) {
    const __m256 t = _mm256_round_ps(y, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 frac = abs8(_mm256_sub_ps(y, t));
    const __m256 one = _mm256_or_ps(_mm256_and_ps(y, _mm256_set1_ps(-0.0f)), _mm256_set1_ps(1.0f));
    return _mm256_add_ps(t, _mm256_and_ps(_mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ), one));
}

void q8_0_avx2(const float* x, block_q8_0* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += QK8_0) {
        const float amax = absmax32(x);
        const float d = amax / 127;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = fp16_of(d);
        const __m256 vid = _mm256_set1_ps(id);
        __m256i q[4];
        for (int k = 0; k < 4; ++k) {
            q[k] = cvt_int8(round_away8(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), vid)));
        }
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs), bytes32(q));
    }
}

// ---- Q4_0 / Q5_0 (reference path): d = max / -2^(b-1), q = min(2^b - 1, int8(x*id + 2^(b-1) + 0.5)) ----

void q4_0_avx2(const float* x, block_q4_0* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += QK4_0) {
        const float max = signed_absmax32(x);
        const float d = max / -8;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = fp16_of(d);
        const __m256 vid = _mm256_set1_ps(id), half = _mm256_set1_ps(8.5f);
        __m256i q[4];
        for (int k = 0; k < 4; ++k) {
            const __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), vid), half);
            q[k] = _mm256_min_epi32(cvt_int8(v), _mm256_set1_epi32(15));
        }
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs), nibbles16(bytes32(q)));
    }
}

void q5_0_avx2(const float* x, block_q5_0* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += QK5_0) {
        const float max = signed_absmax32(x);
        const float d = max / -16;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = fp16_of(d);
        const __m256 vid = _mm256_set1_ps(id), half = _mm256_set1_ps(16.5f);
        __m256i q[4];
        for (int k = 0; k < 4; ++k) {
            const __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), vid), half);
            q[k] = _mm256_min_epi32(cvt_int8(v), _mm256_set1_epi32(31));
        }
        pack_q5(bytes32(q), y[i].qs, y[i].qh);
    }
}

// ---- Q4_1 / Q5_1 (reference path): d = (max - min)/(2^b - 1), q = trunc((x - min)*id + 0.5) ----------

void q4_1_avx2(const float* x, block_q4_1* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += QK4_1) {
        float mn, mx;
        minmax32(x, mn, mx);
        const float d = (mx - mn) / 15;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = fp16_of(d);
        y[i].m = fp16_of(mn);
        const __m256 vmin = _mm256_set1_ps(mn), vid = _mm256_set1_ps(id), half = _mm256_set1_ps(0.5f);
        __m256i q[4];
        for (int k = 0; k < 4; ++k) {
            const __m256 v =
                _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + 8 * k), vmin), vid), half);
            q[k] = _mm256_min_epi32(cvt_int8(v), _mm256_set1_epi32(15));
        }
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs), nibbles16(bytes32(q)));
    }
}

void q5_1_avx2(const float* x, block_q5_1* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += QK5_1) {
        float mn, mx;
        minmax32(x, mn, mx);
        const float d = (mx - mn) / 31;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = fp16_of(d);
        y[i].m = fp16_of(mn);
        const __m256 vmin = _mm256_set1_ps(mn), vid = _mm256_set1_ps(id), half = _mm256_set1_ps(0.5f);
        __m256i q[4];
        for (int k = 0; k < 4; ++k) {
            const __m256 v =
                _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + 8 * k), vmin), vid), half);
            // (uint8_t)(int)v: the low byte, as a signed byte for the saturating packs
            q[k] = _mm256_srai_epi32(_mm256_slli_epi32(_mm256_cvttps_epi32(v), 24), 24);
        }
        pack_q5(bytes32(q), y[i].qs, y[i].qh);
    }
}

// ---- TQ1_0 / TQ2_0: d = amax over the 256-block, trit = lround(x*id) + 1 -------------------------------

// 32 trits of x[0..32) as bytes in element order. Finite |x*id| <= ~1 (|x| <= amax, id = 1/amax), so
// lround is 0 or ±1 by comparing with ±0.5; x*id = ±inf (a subnormal amax makes id inf) or NaN is out of
// lround's range, and the low 32 bits of its result (0x8000000000000000) are 0: trit 1, as an in-range 0.
inline __m256i trits32(const float* x, __m256 vid) {
    const __m256 h = _mm256_set1_ps(0.5f), big = _mm256_set1_ps(FLT_MAX);
    __m256i p[4], n[4];
    for (int k = 0; k < 4; ++k) {
        const __m256 y = _mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), vid);
        p[k] = _mm256_castps_si256(
            _mm256_and_ps(_mm256_cmp_ps(y, h, _CMP_GE_OQ), _mm256_cmp_ps(y, big, _CMP_LE_OQ)));
        n[k] = _mm256_castps_si256(
            _mm256_and_ps(_mm256_cmp_ps(y, neg8(h), _CMP_LE_OQ), _mm256_cmp_ps(y, neg8(big), _CMP_GE_OQ)));
    }
    return _mm256_sub_epi8(_mm256_add_epi8(_mm256_set1_epi8(1), bytes32(n)), bytes32(p));  // masks are -1
}

void tq2_0_avx2(const float* x, block_tq2_0* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += QK_K) {
        const float d = absmax256(x);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = fp16_of(d);
        const __m256 vid = _mm256_set1_ps(id);
        for (int g = 0; g < 2; ++g) {  // byte m of group g: x[128g + m + 32n] in bits 2n..2n+1
            const float* xg = x + 128 * g;
            const __m256i t0 = trits32(xg, vid), t1 = trits32(xg + 32, vid);
            const __m256i t2 = trits32(xg + 64, vid), t3 = trits32(xg + 96, vid);
            const __m256i q =
                _mm256_or_si256(_mm256_or_si256(t0, _mm256_slli_epi16(t1, 2)),
                                _mm256_or_si256(_mm256_slli_epi16(t2, 4), _mm256_slli_epi16(t3, 6)));
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs + 32 * g), q);
        }
    }
}

// q*3 + t on bytes (Horner step of the base-3 number; stays <= 242).
inline __m256i horner3(__m256i q, __m256i t) {
    return _mm256_add_epi8(_mm256_add_epi8(_mm256_add_epi8(q, q), q), t);
}
inline __m128i horner3(__m128i q, __m128i t) {
    return _mm_add_epi8(_mm_add_epi8(_mm_add_epi8(q, q), q), t);
}

// The scalar (q*256 + 242) / 243 for bytes q <= 242: the 16-bit word q<<8 | 242 times 8631, >> 21
// (checked exhaustively for q = 0..242).
inline __m256i tq1_byte(__m256i q) {
    const __m256i c = _mm256_set1_epi8(static_cast<char>(242)), m = _mm256_set1_epi16(8631);
    const __m256i lo = _mm256_srli_epi16(_mm256_mulhi_epu16(_mm256_unpacklo_epi8(c, q), m), 5);
    const __m256i hi = _mm256_srli_epi16(_mm256_mulhi_epu16(_mm256_unpackhi_epi8(c, q), m), 5);
    return _mm256_packus_epi16(lo, hi);
}
inline __m128i tq1_byte(__m128i q) {
    const __m128i c = _mm_set1_epi8(static_cast<char>(242)), m = _mm_set1_epi16(8631);
    const __m128i lo = _mm_srli_epi16(_mm_mulhi_epu16(_mm_unpacklo_epi8(c, q), m), 5);
    const __m128i hi = _mm_srli_epi16(_mm_mulhi_epu16(_mm_unpackhi_epi8(c, q), m), 5);
    return _mm_packus_epi16(lo, hi);
}

void tq1_0_avx2(const float* x, block_tq1_0* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += QK_K) {
        const float d = absmax256(x);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = fp16_of(d);
        const __m256 vid = _mm256_set1_ps(id);
        __m256i t[8];
        for (int k = 0; k < 8; ++k) t[k] = trits32(x + 32 * k, vid);
        // qs[0..32): x[m + 32n], n = 0..4
        __m256i q = t[0];
        for (int k = 1; k < 5; ++k) q = horner3(q, t[k]);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs), tq1_byte(q));
        // qs[32..48): x[160 + m + 16n], n = 0..4
        __m128i q2 = _mm256_castsi256_si128(t[5]);
        q2 = horner3(q2, _mm256_extracti128_si256(t[5], 1));
        q2 = horner3(q2, _mm256_castsi256_si128(t[6]));
        q2 = horner3(q2, _mm256_extracti128_si256(t[6], 1));
        q2 = horner3(q2, _mm256_castsi256_si128(t[7]));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs + 32), tq1_byte(q2));
        // qh[0..4): x[240 + j + 4m], m = 0..3, then one more trit position
        alignas(16) uint8_t tb[16];
        _mm_store_si128(reinterpret_cast<__m128i*>(tb), _mm256_extracti128_si256(t[7], 1));
        for (int j = 0; j < 4; ++j) {
            unsigned qh = 0;
            for (int m = 0; m < 4; ++m) qh = qh * 3 + tb[j + 4 * m];
            qh *= 3;
            y[i].qh[j] = static_cast<uint8_t>((qh * 256 + (243 - 1)) / 243);
        }
    }
}

// ---- IQ4_NL -----------------------------------------------------------------------------------------

// best_index_int8(16, kvalues_iq4nl, v) compares 2v with t_j = values[j-1] + values[j] (integers, exact in
// float) at j = 8, then idx+4, idx+2, idx+1: 1, 2, 4 and 8 candidate thresholds per step. The path bits so
// far index those candidates: t4/t12, t2[] = {t2, t6, t10, t14}, t1[] = {t1, t3, .., t15}.
struct Iq4Tables {
    __m256 t1, t2, v_even, v_odd;
    float t4, t8, t12;
};

inline Iq4Tables iq4_tables() {
    auto t = [](int j) { return static_cast<float>(kvalues_iq4nl[j - 1] + kvalues_iq4nl[j]); };
    auto v = [](int j) { return static_cast<float>(kvalues_iq4nl[j]); };
    Iq4Tables T;
    T.t1 = _mm256_setr_ps(t(1), t(3), t(5), t(7), t(9), t(11), t(13), t(15));
    T.t2 = _mm256_setr_ps(t(2), t(6), t(10), t(14), 0, 0, 0, 0);
    T.v_even = _mm256_setr_ps(v(0), v(2), v(4), v(6), v(8), v(10), v(12), v(14));
    T.v_odd = _mm256_setr_ps(v(1), v(3), v(5), v(7), v(9), v(11), v(13), v(15));
    T.t4 = t(4);
    T.t8 = t(8);
    T.t12 = t(12);
    return T;
}

// The search per lane: returns idx >> 1 (0..7) and, in b1, the mask of idx's low bit. Ties go to the upper
// entry (>=), NaN to index 0, as the scalar.
inline __m256i iq4_search8(const Iq4Tables& T, __m256 v, __m256& b1) {
    const __m256 x2 = _mm256_add_ps(v, v);
    const __m256 b8 = _mm256_cmp_ps(x2, _mm256_set1_ps(T.t8), _CMP_GE_OQ);
    const __m256 b4 =
        _mm256_cmp_ps(x2, _mm256_blendv_ps(_mm256_set1_ps(T.t4), _mm256_set1_ps(T.t12), b8), _CMP_GE_OQ);
    const __m256i p2 = _mm256_sub_epi32(_mm256_and_si256(_mm256_castps_si256(b8), _mm256_set1_epi32(2)),
                                        _mm256_castps_si256(b4));  // masks are -1
    const __m256 b2 = _mm256_cmp_ps(x2, _mm256_permutevar8x32_ps(T.t2, p2), _CMP_GE_OQ);
    const __m256i p3 = _mm256_sub_epi32(_mm256_add_epi32(p2, p2), _mm256_castps_si256(b2));
    b1 = _mm256_cmp_ps(x2, _mm256_permutevar8x32_ps(T.t1, p3), _CMP_GE_OQ);
    return p3;
}

inline __m256i iq4_index8(const Iq4Tables& T, __m256 v) {
    __m256 b1;
    const __m256i p3 = iq4_search8(T, v, b1);
    return _mm256_sub_epi32(_mm256_add_epi32(p3, p3), _mm256_castps_si256(b1));
}

// kvalues_iq4nl[best_index_int8(16, kvalues_iq4nl, v)] per lane.
inline __m256 iq4_value8(const Iq4Tables& T, __m256 v) {
    __m256 b1;
    const __m256i p3 = iq4_search8(T, v, b1);
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(T.v_even, p3), _mm256_permutevar8x32_ps(T.v_odd, p3),
                            b1);
}

// The scale search of quant_legacy.cpp's iq4_nl_block for 8 blocks of 32 (xb, and qwb unless null: 8 x 32
// floats), block g in lane g. Writes the float scale of each block.
void iq4_nl_search8(const Iq4Tables& T, const float* xb, const float* qwb, float* scale) {
    constexpr int n = QK4_NL, kTry = 7;
    __m256 xt[n], wt[n];
    load_lanes<n>(xb, xt);
    if (qwb) {
        __m256 sigma2 = _mm256_setzero_ps();
        for (int i = 0; i < n; ++i) sigma2 = _mm256_add_ps(sigma2, _mm256_mul_ps(xt[i], xt[i]));
        sigma2 = _mm256_mul_ps(sigma2, _mm256_set1_ps(2.f / n));
        load_lanes<n>(qwb, wt);
        for (int i = 0; i < n; ++i) {
            wt[i] = _mm256_mul_ps(wt[i], _mm256_sqrt_ps(_mm256_add_ps(sigma2, _mm256_mul_ps(xt[i], xt[i]))));
        }
    } else {
        for (int i = 0; i < n; ++i) wt[i] = _mm256_mul_ps(xt[i], xt[i]);
    }
    __m256 vmax, amax;
    lane_signed_absmax<n>(xt, vmax, amax);

    auto pass = [&](__m256 id, __m256& sumqx, __m256& sumq2) {
        sumqx = _mm256_setzero_ps();
        sumq2 = _mm256_setzero_ps();
        for (int i = 0; i < n; ++i) {
            const __m256 q = iq4_value8(T, _mm256_mul_ps(id, xt[i]));
            const __m256 wq = _mm256_mul_ps(wt[i], q);
            sumqx = _mm256_add_ps(sumqx, _mm256_mul_ps(wq, xt[i]));
            sumq2 = _mm256_add_ps(sumq2, _mm256_mul_ps(wq, q));
        }
    };
    const __m256 zero = _mm256_setzero_ps();
    __m256 d = _mm256_div_ps(neg8(vmax), _mm256_set1_ps(static_cast<float>(kvalues_iq4nl[0])));
    __m256 sumqx, sumq2;
    pass(_mm256_div_ps(_mm256_set1_ps(1.0f), d), sumqx, sumq2);
    d = _mm256_and_ps(_mm256_div_ps(sumqx, sumq2), _mm256_cmp_ps(sumq2, zero, _CMP_GT_OQ));
    __m256 best = _mm256_mul_ps(d, sumqx);
    for (int itry = -kTry; itry <= kTry; ++itry) {
        pass(_mm256_div_ps(_mm256_set1_ps(static_cast<float>(itry + kvalues_iq4nl[0])), vmax), sumqx, sumq2);
        const __m256 take =
            _mm256_and_ps(_mm256_cmp_ps(sumq2, zero, _CMP_GT_OQ),
                          _mm256_cmp_ps(_mm256_mul_ps(sumqx, sumqx), _mm256_mul_ps(best, sumq2), _CMP_GT_OQ));
        if (_mm256_movemask_ps(take) == 0) continue;
        const __m256 nd = _mm256_div_ps(sumqx, sumq2);
        d = _mm256_blendv_ps(d, nd, take);
        best = _mm256_blendv_ps(best, _mm256_mul_ps(nd, sumqx), take);
    }
    _mm256_storeu_ps(scale, _mm256_and_ps(d, _mm256_cmp_ps(amax, _mm256_set1_ps(1e-15f), _CMP_GE_OQ)));
}

// Final pass of one block: fp16 scale, indices chosen with the float scale.
void iq4_nl_store(const Iq4Tables& T, const float* x, float scale, block_iq4_nl& y) {
    y.d = fp16_of(scale);
    const __m256 vid = _mm256_set1_ps(scale != 0.0f ? 1 / scale : 0);
    __m256i q[4];
    for (int k = 0; k < 4; ++k) q[k] = iq4_index8(T, _mm256_mul_ps(vid, _mm256_loadu_ps(x + 8 * k)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y.qs), nibbles16(bytes32(q)));
}

// nrows x nb blocks (contiguous); block b of a row uses imatrix + 32b.
void iq4_nl_avx2(const float* src, block_iq4_nl* y, int64_t nrows, int64_t nb, const float* imatrix) {
    constexpr int n = QK4_NL;
    const Iq4Tables T = iq4_tables();
    const int64_t total = nrows * nb;
    alignas(32) float xb[8 * n], wb[8 * n], sc[8];
    for (int64_t b0 = 0; b0 < total; b0 += 8) {
        const int cnt = total - b0 < 8 ? static_cast<int>(total - b0) : 8;
        const float* xs = src + n * b0;
        const float* xin = xs;
        if (cnt < 8) {  // pad with zero blocks (their lanes are discarded)
            std::memset(xb, 0, sizeof xb);
            std::memcpy(xb, xs, sizeof(float) * n * static_cast<size_t>(cnt));
            xin = xb;
        }
        const float* qin = nullptr;
        if (imatrix) {
            std::memset(wb, 0, sizeof wb);
            for (int g = 0; g < cnt; ++g)
                std::memcpy(wb + n * g, imatrix + n * ((b0 + g) % nb), sizeof(float) * n);
            qin = wb;
        }
        iq4_nl_search8(T, xin, qin, sc);
        for (int g = 0; g < cnt; ++g) iq4_nl_store(T, xs + n * g, sc[g], y[b0 + g]);
    }
}

// ---- k-quant searches ------------------------------------------------------------------------------

// make_qx_quants(n, nmax, x, L, rmse_type = 1, qw) for 8 groups of n (group g at x + n*g, qw likewise; qw
// null: weights x^2), group g in lane g. Out: lv[i][g] = level of element i of group g (offset by nmax as the
// scalar's L, 0 for an all-zero group), scales[g].
template <int n>
void qx_8xn(const float* x, const float* qw, int nmax, int32_t (*lv)[8], float* scales) {
    __m256 xt[n], wt[n];
    load_lanes<n>(x, xt);
    if (qw) {
        load_lanes<n>(qw, wt);
    } else {
        for (int i = 0; i < n; ++i) wt[i] = _mm256_mul_ps(xt[i], xt[i]);
    }
    __m256 vmax, amax;
    lane_signed_absmax<n>(xt, vmax, amax);

    __m256i Lt[n], Ln[n];
    auto pass = [&](__m256 iscale, __m256i* Lout, __m256& sumlx, __m256& suml2) {
        sumlx = _mm256_setzero_ps();
        suml2 = _mm256_setzero_ps();
        for (int i = 0; i < n; ++i) {
            const __m256i l = clamp8(nearest_int8(_mm256_mul_ps(iscale, xt[i])), -nmax, nmax - 1);
            Lout[i] = l;
            const __m256 lf = _mm256_cvtepi32_ps(l);
            sumlx = _mm256_add_ps(sumlx, _mm256_mul_ps(_mm256_mul_ps(wt[i], xt[i]), lf));
            suml2 = _mm256_add_ps(suml2, _mm256_mul_ps(_mm256_mul_ps(wt[i], lf), lf));
        }
    };
    __m256 sumlx, suml2;
    pass(_mm256_div_ps(_mm256_set1_ps(static_cast<float>(-nmax)), vmax), Lt, sumlx, suml2);
    __m256 scale =
        _mm256_and_ps(_mm256_div_ps(sumlx, suml2), _mm256_cmp_ps(suml2, _mm256_setzero_ps(), _CMP_NEQ_UQ));
    __m256 best = _mm256_mul_ps(scale, sumlx);
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        const float c = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is));
        pass(_mm256_div_ps(_mm256_set1_ps(c), vmax), Ln, sumlx, suml2);
        const __m256 take =
            _mm256_and_ps(_mm256_cmp_ps(suml2, _mm256_setzero_ps(), _CMP_GT_OQ),
                          _mm256_cmp_ps(_mm256_mul_ps(sumlx, sumlx), _mm256_mul_ps(best, suml2), _CMP_GT_OQ));
        if (_mm256_movemask_ps(take) == 0) continue;
        const __m256i takei = _mm256_castps_si256(take);
        for (int i = 0; i < n; ++i) Lt[i] = _mm256_blendv_epi8(Lt[i], Ln[i], takei);
        const __m256 sc = _mm256_div_ps(sumlx, suml2);
        scale = _mm256_blendv_ps(scale, sc, take);
        best = _mm256_blendv_ps(best, _mm256_mul_ps(sc, sumlx), take);
    }
    const __m256 live = _mm256_cmp_ps(amax, _mm256_set1_ps(1e-15f), _CMP_GE_OQ);
    _mm256_storeu_ps(scales, _mm256_and_ps(live, scale));
    for (int i = 0; i < n; ++i) {
        const __m256i l = _mm256_add_epi32(Lt[i], _mm256_set1_epi32(nmax));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(lv[i]),
                            _mm256_and_si256(l, _mm256_castps_si256(live)));
    }
}

// lv[i][g] (8 groups of n in lanes) back to element order: L[n*g + i].
template <int n, typename T>
inline void unlane(const int32_t (*lv)[8], T* L) {
    for (int g = 0; g < 8; ++g) {
        for (int i = 0; i < n; ++i) L[n * g + i] = static_cast<T>(lv[i][g]);
    }
}

void qx_16x16_avx2(const float* x, const float* qw, int nmax, int8_t* L, float* scales) {
    alignas(32) int32_t lv[16][8];
    for (int h = 0; h < 2; ++h) {
        qx_8xn<16>(x + 128 * h, qw ? qw + 128 * h : nullptr, nmax, lv, scales + 8 * h);
        unlane<16>(lv, L + 128 * h);
    }
}

// make_qkx2_quants (kX3: make_qkx3_quants)(n, nmax, x, w, L, &min, ..., rmin, rdelta, nstep, use_mad = kMad)
// for 8 groups of n (group g at x + n*g, w + n*g), group g in lane g. w null: |x| (Q2_K's weights) for qkx2,
// x^2 for qkx3 (the scalar's default). Out: lv[i][g] = level of element i of group g, scales[g], mins[g].
template <int n, bool kMad, bool kX3>
void qkx_8xn(const float* x, const float* w, int nmax, float rmin, float rdelta, int nstep, int32_t (*lv)[8],
             float* scales, float* mins) {
    __m256 xt[n], wt[n];
    load_lanes<n>(x, xt);
    if (w) {
        load_lanes<n>(w, wt);
    } else {
        for (int i = 0; i < n; ++i) wt[i] = kX3 ? _mm256_mul_ps(xt[i], xt[i]) : abs8(xt[i]);
    }
    auto err_term = [](__m256 wi, __m256 diff) {
        diff = kMad ? abs8(diff) : _mm256_mul_ps(diff, diff);
        return _mm256_mul_ps(wi, diff);
    };
    __m256 lo = xt[0], hi = xt[0];
    __m256 sum_w = wt[0];
    __m256 sum_x = _mm256_mul_ps(sum_w, xt[0]);
    for (int i = 1; i < n; ++i) {
        lo = _mm256_blendv_ps(lo, xt[i], _mm256_cmp_ps(xt[i], lo, _CMP_LT_OQ));
        hi = _mm256_blendv_ps(hi, xt[i], _mm256_cmp_ps(xt[i], hi, _CMP_GT_OQ));
        sum_w = _mm256_add_ps(sum_w, wt[i]);
        sum_x = _mm256_add_ps(sum_x, _mm256_mul_ps(wt[i], xt[i]));
    }
    lo = _mm256_blendv_ps(lo, _mm256_setzero_ps(), _mm256_cmp_ps(lo, _mm256_setzero_ps(), _CMP_GT_OQ));
    const __m256 degenerate = _mm256_cmp_ps(hi, lo, kX3 ? _CMP_LE_OQ : _CMP_EQ_OQ);
    const __m256 vnmax = _mm256_set1_ps(static_cast<float>(nmax));

    __m256i Lt[n], La[n];
    __m256 iscale = _mm256_div_ps(vnmax, _mm256_sub_ps(hi, lo));
    __m256 scale = _mm256_div_ps(_mm256_set1_ps(1.0f), iscale);
    __m256 best_err = _mm256_setzero_ps();
    for (int i = 0; i < n; ++i) {
        const __m256i l = clamp8(nearest_int8(_mm256_mul_ps(iscale, _mm256_sub_ps(xt[i], lo))), 0, nmax);
        Lt[i] = l;
        const __m256 diff =
            _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(scale, _mm256_cvtepi32_ps(l)), lo), xt[i]);
        best_err = _mm256_add_ps(best_err, err_term(wt[i], diff));
    }
    for (int is = 0; nstep >= 1 && is <= nstep; ++is) {  // scalar: nstep < 1 returns the first rounding
        const float c = rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax);
        iscale = _mm256_div_ps(_mm256_set1_ps(c), _mm256_sub_ps(hi, lo));
        __m256 sum_l = _mm256_setzero_ps(), sum_l2 = _mm256_setzero_ps(), sum_xl = _mm256_setzero_ps();
        for (int i = 0; i < n; ++i) {
            const __m256 v = _mm256_mul_ps(iscale, _mm256_sub_ps(xt[i], lo));
            // qkx3: v > 0 ? nearest_int(std::min(v, nmax)) : 0 (min_ps(a, b) is a < b ? a : b, as std::min(v,
            // a))
            const __m256i l =
                kX3 ? _mm256_and_si256(nearest_int8(_mm256_min_ps(vnmax, v)),
                                       _mm256_castps_si256(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ)))
                    : clamp8(nearest_int8(v), 0, nmax);
            La[i] = l;
            const __m256 lf = _mm256_cvtepi32_ps(l);
            const __m256 wl = _mm256_mul_ps(wt[i], lf);
            sum_l = _mm256_add_ps(sum_l, wl);
            sum_l2 = _mm256_add_ps(sum_l2, _mm256_mul_ps(wl, lf));
            sum_xl = _mm256_add_ps(sum_xl, _mm256_mul_ps(wl, xt[i]));
        }
        const __m256 D = _mm256_sub_ps(_mm256_mul_ps(sum_w, sum_l2), _mm256_mul_ps(sum_l, sum_l));
        // degenerate lanes (max == min) keep the scalar early-return result: never updated
        const __m256 valid = _mm256_andnot_ps(degenerate, _mm256_cmp_ps(D, _mm256_setzero_ps(), _CMP_GT_OQ));
        if (_mm256_movemask_ps(valid) == 0) continue;
        __m256 this_scale =
            _mm256_div_ps(_mm256_sub_ps(_mm256_mul_ps(sum_w, sum_xl), _mm256_mul_ps(sum_x, sum_l)), D);
        __m256 this_min =
            _mm256_div_ps(_mm256_sub_ps(_mm256_mul_ps(sum_l2, sum_x), _mm256_mul_ps(sum_l, sum_xl)), D);
        const __m256 pos = _mm256_cmp_ps(this_min, _mm256_setzero_ps(), _CMP_GT_OQ);
        this_min = _mm256_blendv_ps(this_min, _mm256_setzero_ps(), pos);
        this_scale = _mm256_blendv_ps(this_scale, _mm256_div_ps(sum_xl, sum_l2), pos);
        __m256 err = _mm256_setzero_ps();
        for (int i = 0; i < n; ++i) {
            const __m256 diff = _mm256_sub_ps(
                _mm256_add_ps(_mm256_mul_ps(this_scale, _mm256_cvtepi32_ps(La[i])), this_min), xt[i]);
            err = _mm256_add_ps(err, err_term(wt[i], diff));
        }
        const __m256 take = _mm256_and_ps(valid, _mm256_cmp_ps(err, best_err, _CMP_LT_OQ));
        if (_mm256_movemask_ps(take) == 0) continue;
        const __m256i takei = _mm256_castps_si256(take);
        for (int i = 0; i < n; ++i) Lt[i] = _mm256_blendv_epi8(Lt[i], La[i], takei);
        best_err = _mm256_blendv_ps(best_err, err, take);
        scale = _mm256_blendv_ps(scale, this_scale, take);
        lo = _mm256_blendv_ps(lo, this_min, take);
    }
    _mm256_storeu_ps(scales, _mm256_andnot_ps(degenerate, scale));
    _mm256_storeu_ps(mins, neg8(lo));
    const __m256i live = _mm256_xor_si256(_mm256_castps_si256(degenerate), _mm256_set1_epi32(-1));
    for (int i = 0; i < n; ++i)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(lv[i]), _mm256_and_si256(Lt[i], live));
}

void qkx2_8x32_avx2(const float* x, const float* w, int nmax, float rmin, float rdelta, int nstep, uint8_t* L,
                    float* scales, float* mins) {
    alignas(32) int32_t lv[32][8];
    qkx_8xn<32, false, false>(x, w, nmax, rmin, rdelta, nstep, lv, scales, mins);
    unlane<32>(lv, L);
}

void qkx3_8x32_avx2(const float* x, const float* w, int nmax, float rmin, float rdelta, int nstep, uint8_t* L,
                    float* scales, float* mins) {
    alignas(32) int32_t lv[32][8];
    qkx_8xn<32, false, true>(x, w, nmax, rmin, rdelta, nstep, lv, scales, mins);
    unlane<32>(lv, L);
}

// make_q3_quants(16, 4, x, L, do_rmse = true) for 8V sub-blocks of 16 (x: 128V floats), sub-block 8v + g in
// lane g of vector v. The V vectors are independent chains, interleaved to hide the descent's latency (each
// element's step waits on the previous one through a division). The coordinate descent runs all lanes
// until none changed in a pass (at most 5): a lane whose pass changed nothing would change nothing again,
// so running it on is the scalar early exit.
// Out: lv[v][i][g] = level (0..7) of element i of sub-block 8v + g, scales[8v + g].
template <int V>
void q3_lanes(const float* x, int32_t (*lv)[16][8], float* scales) {
    constexpr int n = 16, nmax = 4;
    __m256 xt[n][V], wt[n][V], wx[n][V], Lf[n][V];
    __m256 vmax[V], amax[V], sumlx[V], suml2[V];
    const __m256 zero = _mm256_setzero_ps();
    for (int v = 0; v < V; ++v) {
        __m256 xv[n];
        load_lanes<n>(x + 8 * n * v, xv);
        for (int i = 0; i < n; ++i) {
            xt[i][v] = xv[i];
            wt[i][v] = _mm256_mul_ps(xv[i], xv[i]);
            wx[i][v] = _mm256_mul_ps(wt[i][v], xv[i]);
        }
        lane_signed_absmax<n>(xv, vmax[v], amax[v]);
        const __m256 iscale = _mm256_div_ps(_mm256_set1_ps(static_cast<float>(-nmax)), vmax[v]);
        sumlx[v] = zero;
        suml2[v] = zero;
        for (int i = 0; i < n; ++i) {
            const __m256 l =
                _mm256_cvtepi32_ps(clamp8(nearest_int8(_mm256_mul_ps(iscale, xv[i])), -nmax, nmax - 1));
            Lf[i][v] = l;
            sumlx[v] = _mm256_add_ps(sumlx[v], _mm256_mul_ps(wx[i][v], l));
            suml2[v] = _mm256_add_ps(suml2[v], _mm256_mul_ps(_mm256_mul_ps(wt[i][v], l), l));
        }
    }
    for (int pass = 0; pass < 5; ++pass) {
        __m256 changed = zero;
        for (int i = 0; i < n; ++i) {
            for (int v = 0; v < V; ++v) {
                const __m256 L = Lf[i][v];
                __m256 slx = _mm256_sub_ps(sumlx[v], _mm256_mul_ps(wx[i][v], L));
                __m256 sl2 = _mm256_sub_ps(suml2[v], _mm256_mul_ps(_mm256_mul_ps(wt[i][v], L), L));
                const __m256 nl = _mm256_cvtepi32_ps(
                    clamp8(nearest_int8(_mm256_div_ps(_mm256_mul_ps(xt[i][v], sl2), slx)), -nmax, nmax - 1));
                __m256 take =
                    _mm256_and_ps(_mm256_cmp_ps(slx, zero, _CMP_GT_OQ), _mm256_cmp_ps(nl, L, _CMP_NEQ_OQ));
                slx = _mm256_add_ps(slx, _mm256_mul_ps(wx[i][v], nl));
                sl2 = _mm256_add_ps(sl2, _mm256_mul_ps(_mm256_mul_ps(wt[i][v], nl), nl));
                take = _mm256_and_ps(take, _mm256_cmp_ps(sl2, zero, _CMP_GT_OQ));
                take = _mm256_and_ps(
                    take, _mm256_cmp_ps(_mm256_mul_ps(_mm256_mul_ps(slx, slx), suml2[v]),
                                        _mm256_mul_ps(_mm256_mul_ps(sumlx[v], sumlx[v]), sl2), _CMP_GT_OQ));
                Lf[i][v] = _mm256_blendv_ps(L, nl, take);
                sumlx[v] = _mm256_blendv_ps(sumlx[v], slx, take);
                suml2[v] = _mm256_blendv_ps(suml2[v], sl2, take);
                changed = _mm256_or_ps(changed, take);
            }
        }
        if (_mm256_movemask_ps(changed) == 0) break;
    }
    for (int v = 0; v < V; ++v) {
        const __m256 live = _mm256_cmp_ps(amax[v], _mm256_set1_ps(1e-15f), _CMP_GE_OQ);
        const __m256 sc =
            _mm256_and_ps(_mm256_div_ps(sumlx[v], suml2[v]), _mm256_cmp_ps(suml2[v], zero, _CMP_GT_OQ));
        _mm256_storeu_ps(scales + 8 * v, _mm256_and_ps(sc, live));
        for (int i = 0; i < n; ++i) {
            const __m256i l = _mm256_add_epi32(_mm256_cvttps_epi32(Lf[i][v]), _mm256_set1_epi32(nmax));
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(lv[v][i]),
                                _mm256_and_si256(l, _mm256_castps_si256(live)));
        }
    }
}

void qkx2_16x16_avx2(const float* x, const float* w, int nmax, float rmin, float rdelta, int nstep,
                     bool use_mad, uint8_t* L, float* scales, float* mins) {
    alignas(32) int32_t lv[16][8];
    for (int h = 0; h < 2; ++h) {
        const int o = 128 * h;
        if (use_mad) {
            qkx_8xn<16, true, false>(x + o, w + o, nmax, rmin, rdelta, nstep, lv, scales + 8 * h,
                                     mins + 8 * h);
        } else {
            qkx_8xn<16, false, false>(x + o, w + o, nmax, rmin, rdelta, nstep, lv, scales + 8 * h,
                                      mins + 8 * h);
        }
        unlane<16>(lv, L + o);
    }
}

void qkx3_16x16_avx2(const float* x, const float* w, int nmax, float rmin, float rdelta, int nstep,
                     uint8_t* L, float* scales, float* mins) {
    alignas(32) int32_t lv[16][8];
    for (int h = 0; h < 2; ++h) {
        const int o = 128 * h;
        qkx_8xn<16, false, true>(x + o, w + o, nmax, rmin, rdelta, nstep, lv, scales + 8 * h, mins + 8 * h);
        unlane<16>(lv, L + o);
    }
}

void q3_16x16_avx2(const float* x, int8_t* L, float* scales) {
    constexpr int n = 16;
    alignas(32) int32_t lv[2][n][8];
    q3_lanes<2>(x, lv, scales);
    for (int h = 0; h < 2; ++h) unlane<n>(lv[h], L + 8 * n * h);
}

const KSearch kSearchAvx2{&qx_16x16_avx2,   &qkx2_8x32_avx2,  &qkx3_8x32_avx2,
                          &qkx2_16x16_avx2, &qkx3_16x16_avx2, &q3_16x16_avx2};

// quant_k.cpp's pack_2bit: byte (h/4 + l) = L[h+l] | L[h+l+32] << 2 | L[h+l+64] << 4 | L[h+l+96] << 6.
inline void pack_2bit_avx2(const uint8_t* L, uint8_t* qs) {
    for (int h = 0; h < 2; ++h) {
        const uint8_t* p = L + 128 * h;
        const __m256i l0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(p));
        const __m256i l1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 32));
        const __m256i l2 = _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 64));
        const __m256i l3 = _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 96));
        const __m256i q =
            _mm256_or_si256(_mm256_or_si256(l0, _mm256_slli_epi16(l1, 2)),
                            _mm256_or_si256(_mm256_slli_epi16(l2, 4), _mm256_slli_epi16(l3, 6)));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs + 32 * h), q);
    }
}

// sum of x^2 over the super-block, sequential as the scalar.
inline float sum_sq256(const float* x) {
    float s = 0;
    for (int j = 0; j < QK_K; ++j) s += x[j] * x[j];
    return s;
}

// The imatrix paths' weights qw[j] * sqrt(sigma2 + x[j]^2) for n (a multiple of 8) values.
inline void imx_weights(const float* x, const float* qw, float sigma2, float* w, int n) {
    const __m256 s2 = _mm256_set1_ps(sigma2);
    for (int j = 0; j < n; j += 8) {
        const __m256 v = _mm256_loadu_ps(x + j);
        _mm256_storeu_ps(w + j, _mm256_mul_ps(_mm256_loadu_ps(qw + j),
                                              _mm256_sqrt_ps(_mm256_add_ps(s2, _mm256_mul_ps(v, v)))));
    }
}

// sw[g] = sequential sum of w[16g .. 16g+16) from 0, for the 16 sub-blocks of a super-block.
inline void sub_sums16(const float* w, float* sw) {
    for (int h = 0; h < 2; ++h) {
        __m256 wt[16];
        load_lanes<16>(w + 128 * h, wt);
        __m256 acc = _mm256_setzero_ps();
        for (int i = 0; i < 16; ++i) acc = _mm256_add_ps(acc, wt[i]);
        _mm256_storeu_ps(sw + 8 * h, acc);
    }
}

// ---- Q2_K ----------------------------------------------------------------------------------------------

// Requantize with the stored scales (b.scales, b.d, b.dmin set), pack. A sub-block whose scale is 0 keeps
// its search levels lv (2 lane vectors of 8 sub-blocks).
void q2_K_store(const float* x, const int32_t (*lv)[16][8], block_q2_K& b) {
    const float dall = f32_of(b.d), mall = f32_of(b.dmin);
    float d[QK_K / 16], m[QK_K / 16];
    for (int j = 0; j < QK_K / 16; ++j) {
        d[j] = dall * (b.scales[j] & 0xF);
        m[j] = mall * (b.scales[j] >> 4);
    }
    alignas(32) uint8_t L[QK_K];
    for (int h = 0; h < QK_K / 32; ++h) {
        __m256i q[4];
        for (int k = 0; k < 4; ++k) {
            const int j = 2 * h + k / 2;
            const __m256 v = _mm256_add_ps(_mm256_loadu_ps(x + 32 * h + 8 * k), _mm256_set1_ps(m[j]));
            q[k] = clamp8(nearest_int8(_mm256_div_ps(v, _mm256_set1_ps(d[j]))), 0, 3);
        }
        _mm256_store_si256(reinterpret_cast<__m256i*>(L + 32 * h), bytes32(q));
    }
    for (int j = 0; j < QK_K / 16; ++j) {
        if (d[j] != 0.0f) continue;
        for (int i = 0; i < 16; ++i) L[16 * j + i] = static_cast<uint8_t>(lv[j / 8][i][j % 8]);
    }
    pack_2bit_avx2(L, b.qs);
}

// Reference path: qkx2 search (weights |x|, mean absolute error), scales and mins to 4 bits against their
// maxima.
void q2_K_ref_block(const float* x, block_q2_K& b) {
    constexpr float q4scale = 15.f;
    alignas(32) int32_t lv[2][16][8];
    float scales[QK_K / 16], mins[QK_K / 16];
    for (int h = 0; h < 2; ++h) {
        qkx_8xn<16, true, false>(x + 128 * h, nullptr, 3, -0.5f, 0.1f, 15, lv[h], scales + 8 * h,
                                 mins + 8 * h);
    }
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < QK_K / 16; ++j) {
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    if (max_scale > 0) {
        const float iscale = q4scale / max_scale;
        for (int j = 0; j < QK_K / 16; ++j)
            b.scales[j] = static_cast<uint8_t>(nearest_int1(iscale * scales[j]));
        b.d = fp16_of(max_scale / q4scale);
    } else {
        std::memset(b.scales, 0, sizeof b.scales);
        b.d = fp16_of(0.f);
    }
    if (max_min > 0) {
        const float iscale = q4scale / max_min;
        for (int j = 0; j < QK_K / 16; ++j) {
            b.scales[j] = static_cast<uint8_t>(b.scales[j] | (nearest_int1(iscale * mins[j]) << 4));
        }
        b.dmin = fp16_of(max_min / q4scale);
    } else {
        b.dmin = fp16_of(0.f);
    }
    q2_K_store(x, lv, b);
}

// imatrix path: qkx3 search with weights qw*sqrt(sigma2 + x^2), scales and mins by make_qp_quants.
void q2_K_imx_block(const float* x, const float* qw, block_q2_K& b) {
    alignas(32) int32_t lv[2][16][8];
    alignas(32) float weight[QK_K];
    float scales[QK_K / 16], mins[QK_K / 16], sw[QK_K / 16];
    uint8_t Ls[QK_K / 16], Lm[QK_K / 16];
    imx_weights(x, qw, sum_sq256(x) / QK_K, weight, QK_K);
    sub_sums16(weight, sw);
    for (int h = 0; h < 2; ++h) {
        qkx_8xn<16, false, true>(x + 128 * h, weight + 128 * h, 3, -0.9f, 0.05f, 36, lv[h], scales + 8 * h,
                                 mins + 8 * h);
    }
    b.d = fp16_of(make_qp_quants(QK_K / 16, 15, scales, Ls, sw));
    b.dmin = fp16_of(make_qp_quants(QK_K / 16, 15, mins, Lm, sw));
    for (int j = 0; j < QK_K / 16; ++j) b.scales[j] = static_cast<uint8_t>(Ls[j] | (Lm[j] << 4));
    q2_K_store(x, lv, b);
}

// ---- Q3_K ----------------------------------------------------------------------------------------------

// quant_k.cpp's pack_scales_q3: 16 6-bit values (stored + 32) into 12 bytes.
void pack_scales_q3_1(const int* l6, uint8_t* q) {
    std::memset(q, 0, 12);
    for (int j = 0; j < QK_K / 16; ++j) {
        const int l = l6[j];
        if (j < 8) {
            q[j] = static_cast<uint8_t>(l & 0xF);
        } else {
            q[j - 8] = static_cast<uint8_t>(q[j - 8] | ((l & 0xF) << 4));
        }
        q[j % 4 + 8] = static_cast<uint8_t>(q[j % 4 + 8] | ((l >> 4) << (2 * (j / 4))));
    }
}

// Requantize with the stored scales (b.d set; sc[j] = stored 6-bit scale - 32), pack levels 0..7. A sub-block
// whose scale is 0 keeps its search levels lv (2 lane vectors of 8 sub-blocks).
void q3_K_store(const float* x, const int32_t (*lv)[16][8], const int* sc, block_q3_K& b) {
    const float dall = f32_of(b.d);
    float d[QK_K / 16];
    for (int j = 0; j < QK_K / 16; ++j) d[j] = dall * sc[j];
    alignas(32) uint8_t L[QK_K];
    for (int h = 0; h < QK_K / 32; ++h) {
        __m256i q[4];
        for (int k = 0; k < 4; ++k) {
            const __m256 v =
                _mm256_div_ps(_mm256_loadu_ps(x + 32 * h + 8 * k), _mm256_set1_ps(d[2 * h + k / 2]));
            q[k] = _mm256_add_epi32(clamp8(nearest_int8(v), -4, 3), _mm256_set1_epi32(4));
        }
        _mm256_store_si256(reinterpret_cast<__m256i*>(L + 32 * h), bytes32(q));
    }
    for (int j = 0; j < QK_K / 16; ++j) {
        if (d[j] != 0.0f) continue;
        for (int i = 0; i < 16; ++i) L[16 * j + i] = static_cast<uint8_t>(lv[j / 8][i][j % 8]);
    }
    // levels 0..7: bit 2 into hmask[e % 32] bit e / 32, low 2 bits as Q2_K
    __m256i hmask = _mm256_setzero_si256();
    for (int k = 0; k < QK_K / 32; ++k) {
        __m256i* p = reinterpret_cast<__m256i*>(L + 32 * k);
        const __m256i l = _mm256_load_si256(p);
        const __m256i hbit = _mm256_and_si256(_mm256_srli_epi16(l, 2), _mm256_set1_epi8(1));
        hmask = _mm256_or_si256(hmask, _mm256_sll_epi16(hbit, _mm_cvtsi32_si128(k)));
        _mm256_store_si256(p, _mm256_and_si256(l, _mm256_set1_epi8(3)));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(b.hmask), hmask);
    pack_2bit_avx2(L, b.qs);
}

// Reference path, from the make_q3_quants results: scales to 6 bits against the one of largest magnitude.
void q3_K_ref_finish(const float* x, const int32_t (*lv)[16][8], const float* scales, block_q3_K& b) {
    float max_scale = 0, amax = 0;
    for (int j = 0; j < QK_K / 16; ++j) {
        const float a = __builtin_fabsf(scales[j]);
        if (a > amax) {
            amax = a;
            max_scale = scales[j];
        }
    }
    int l6[QK_K / 16], sc[QK_K / 16];
    if (max_scale) {
        const float iscale = -32.f / max_scale;
        for (int j = 0; j < QK_K / 16; ++j) {
            const int l = static_cast<int8_t>(nearest_int1(iscale * scales[j]));
            l6[j] = imax(-32, imin(31, l)) + 32;
            sc[j] = l6[j] - 32;
        }
        pack_scales_q3_1(l6, b.scales);
        b.d = fp16_of(1 / iscale);
    } else {
        std::memset(b.scales, 0, sizeof b.scales);
        for (int j = 0; j < QK_K / 16; ++j) sc[j] = -32;
        b.d = fp16_of(0.f);
    }
    q3_K_store(x, lv, sc, b);
}

// imatrix path: make_qx_quants(16, 4) with weights qw*sqrt(sigma2 + x^2), then the scales by
// make_qx_quants(16, 32) weighted by the sub-block weight sums.
void q3_K_imx_block(const float* x, const float* qw, block_q3_K& b) {
    alignas(32) int32_t lv[2][16][8];
    alignas(32) float weight[QK_K];
    float scales[QK_K / 16], sw[QK_K / 16];
    imx_weights(x, qw, 2 * sum_sq256(x) / QK_K, weight, QK_K);
    sub_sums16(weight, sw);
    for (int h = 0; h < 2; ++h) qx_8xn<16>(x + 128 * h, weight + 128 * h, 4, lv[h], scales + 8 * h);
    int8_t Lsc[QK_K / 16];
    const float d_block = make_qx_quants(QK_K / 16, 32, scales, Lsc, 1, sw);
    int l6[QK_K / 16], sc[QK_K / 16];
    for (int j = 0; j < QK_K / 16; ++j) {
        l6[j] = Lsc[j];
        sc[j] = (l6[j] & 63) - 32;
    }
    pack_scales_q3_1(l6, b.scales);
    b.d = fp16_of(d_block);
    q3_K_store(x, lv, sc, b);
}

// ---- imatrix paths of Q4_0, Q5_0 (make_qx_quants) and Q4_1, Q5_1 (make_qkx3_quants) -----------------------

// For each row: sigma2 = mean of x^2 over the row (sequential), then groups of up to 8 blocks of 32 with
// their weights qw*sqrt(sigma2 + x^2), zero-padded to 8: fn(xb, wb, cnt, index of the first block).
template <typename Fn>
void imx_rows8(const float* src, int64_t nrows, int64_t n_per_row, const float* imatrix, Fn&& fn) {
    constexpr int n = 32;
    const int64_t nb = n_per_row / n;
    alignas(32) float xb[8 * n], wb[8 * n];
    for (int64_t r = 0; r < nrows; ++r) {
        const float* x = src + r * n_per_row;
        float sum_x2 = 0;
        for (int64_t j = 0; j < n_per_row; ++j) sum_x2 += x[j] * x[j];
        const float sigma2 = sum_x2 / static_cast<float>(n_per_row);
        for (int64_t b0 = 0; b0 < nb; b0 += 8) {
            const int cnt = nb - b0 < 8 ? static_cast<int>(nb - b0) : 8;
            if (cnt < 8) {
                std::memset(xb, 0, sizeof xb);
                std::memset(wb, 0, sizeof wb);
            }
            std::memcpy(xb, x + n * b0, sizeof(float) * n * static_cast<size_t>(cnt));
            imx_weights(x + n * b0, imatrix + n * b0, sigma2, wb, n * cnt);
            fn(static_cast<const float*>(xb), static_cast<const float*>(wb), cnt, r * nb + b0);
        }
    }
}

// Levels of lane g (lv[i][g], values 0..31) as 32 bytes in element order.
inline __m256i lane_bytes32(const int32_t (*lv)[8], int g) {
    alignas(32) uint8_t u[32];
    for (int i = 0; i < 32; ++i) u[i] = static_cast<uint8_t>(lv[i][g]);
    return _mm256_load_si256(reinterpret_cast<const __m256i*>(u));
}

void q4_0_imx(const float* src, block_q4_0* y, int64_t nrows, int64_t n_per_row, const float* imatrix) {
    imx_rows8(src, nrows, n_per_row, imatrix, [&](const float* xb, const float* wb, int cnt, int64_t ib) {
        alignas(32) int32_t lv[32][8];
        float sc[8];
        qx_8xn<32>(xb, wb, 8, lv, sc);
        for (int g = 0; g < cnt; ++g) {
            y[ib + g].d = fp16_of(sc[g]);
            _mm_storeu_si128(reinterpret_cast<__m128i*>(y[ib + g].qs), nibbles16(lane_bytes32(lv, g)));
        }
    });
}

void q5_0_imx(const float* src, block_q5_0* y, int64_t nrows, int64_t n_per_row, const float* imatrix) {
    imx_rows8(src, nrows, n_per_row, imatrix, [&](const float* xb, const float* wb, int cnt, int64_t ib) {
        alignas(32) int32_t lv[32][8];
        float sc[8];
        qx_8xn<32>(xb, wb, 16, lv, sc);
        for (int g = 0; g < cnt; ++g) {
            y[ib + g].d = fp16_of(sc[g]);
            pack_q5(lane_bytes32(lv, g), y[ib + g].qs, y[ib + g].qh);
        }
    });
}

void q4_1_imx(const float* src, block_q4_1* y, int64_t nrows, int64_t n_per_row, const float* imatrix) {
    imx_rows8(src, nrows, n_per_row, imatrix, [&](const float* xb, const float* wb, int cnt, int64_t ib) {
        alignas(32) int32_t lv[32][8];
        float sc[8], mn[8];
        qkx_8xn<32, false, true>(xb, wb, 15, -0.9f, 0.05f, 36, lv, sc, mn);
        for (int g = 0; g < cnt; ++g) {
            y[ib + g].d = fp16_of(sc[g]);
            y[ib + g].m = fp16_of(-mn[g]);
            _mm_storeu_si128(reinterpret_cast<__m128i*>(y[ib + g].qs), nibbles16(lane_bytes32(lv, g)));
        }
    });
}

void q5_1_imx(const float* src, block_q5_1* y, int64_t nrows, int64_t n_per_row, const float* imatrix) {
    imx_rows8(src, nrows, n_per_row, imatrix, [&](const float* xb, const float* wb, int cnt, int64_t ib) {
        alignas(32) int32_t lv[32][8];
        float sc[8], mn[8];
        qkx_8xn<32, false, true>(xb, wb, 31, -0.9f, 0.05f, 36, lv, sc, mn);
        for (int g = 0; g < cnt; ++g) {
            y[ib + g].d = fp16_of(sc[g]);
            y[ib + g].m = fp16_of(-mn[g]);
            pack_q5(lane_bytes32(lv, g), y[ib + g].qs, y[ib + g].qh);
        }
    });
}

template <typename Block>
size_t blocks_bytes(int64_t nrows, int64_t n_per_row, int qk) {
    return static_cast<size_t>(nrows * (n_per_row / qk)) * sizeof(Block);
}

}  // namespace

const KSearch& ksearch_avx2() {
    return kSearchAvx2;
}

// ---- entry points (signature of QuantizeFn; rows of a multiple of the block size, else the reference,
// which reports the error) ----------------------------------------------------------------------------------

size_t quantize_Q8_0_avx2(const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                          const float* imatrix) {
    if (n_per_row % QK8_0) return quantize_Q8_0(src, dst, nrows, n_per_row, imatrix);
    q8_0_avx2(src, static_cast<block_q8_0*>(dst), nrows * (n_per_row / QK8_0));
    return blocks_bytes<block_q8_0>(nrows, n_per_row, QK8_0);
}

size_t quantize_Q4_0_avx2(const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                          const float* imatrix) {
    if (n_per_row % QK4_0) return quantize_Q4_0(src, dst, nrows, n_per_row, imatrix);
    if (imatrix) {
        q4_0_imx(src, static_cast<block_q4_0*>(dst), nrows, n_per_row, imatrix);
    } else {
        q4_0_avx2(src, static_cast<block_q4_0*>(dst), nrows * (n_per_row / QK4_0));
    }
    return blocks_bytes<block_q4_0>(nrows, n_per_row, QK4_0);
}

size_t quantize_Q4_1_avx2(const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                          const float* imatrix) {
    if (n_per_row % QK4_1) return quantize_Q4_1(src, dst, nrows, n_per_row, imatrix);
    if (imatrix) {
        q4_1_imx(src, static_cast<block_q4_1*>(dst), nrows, n_per_row, imatrix);
    } else {
        q4_1_avx2(src, static_cast<block_q4_1*>(dst), nrows * (n_per_row / QK4_1));
    }
    return blocks_bytes<block_q4_1>(nrows, n_per_row, QK4_1);
}

size_t quantize_Q5_0_avx2(const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                          const float* imatrix) {
    if (n_per_row % QK5_0) return quantize_Q5_0(src, dst, nrows, n_per_row, imatrix);
    if (imatrix) {
        q5_0_imx(src, static_cast<block_q5_0*>(dst), nrows, n_per_row, imatrix);
    } else {
        q5_0_avx2(src, static_cast<block_q5_0*>(dst), nrows * (n_per_row / QK5_0));
    }
    return blocks_bytes<block_q5_0>(nrows, n_per_row, QK5_0);
}

size_t quantize_Q5_1_avx2(const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                          const float* imatrix) {
    if (n_per_row % QK5_1) return quantize_Q5_1(src, dst, nrows, n_per_row, imatrix);
    if (imatrix) {
        q5_1_imx(src, static_cast<block_q5_1*>(dst), nrows, n_per_row, imatrix);
    } else {
        q5_1_avx2(src, static_cast<block_q5_1*>(dst), nrows * (n_per_row / QK5_1));
    }
    return blocks_bytes<block_q5_1>(nrows, n_per_row, QK5_1);
}

size_t quantize_IQ4_NL_avx2(const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                            const float* imatrix) {
    if (n_per_row % QK4_NL) return quantize_IQ4_NL(src, dst, nrows, n_per_row, imatrix);
    iq4_nl_avx2(src, static_cast<block_iq4_nl*>(dst), nrows, n_per_row / QK4_NL, imatrix);
    return blocks_bytes<block_iq4_nl>(nrows, n_per_row, QK4_NL);
}

// TQ1_0/TQ2_0 ignore the imatrix, as the reference does.
size_t quantize_TQ1_0_avx2(const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                           const float* imatrix) {
    if (n_per_row % QK_K) return quantize_TQ1_0(src, dst, nrows, n_per_row, imatrix);
    tq1_0_avx2(src, static_cast<block_tq1_0*>(dst), nrows * (n_per_row / QK_K));
    return blocks_bytes<block_tq1_0>(nrows, n_per_row, QK_K);
}

size_t quantize_TQ2_0_avx2(const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                           const float* imatrix) {
    if (n_per_row % QK_K) return quantize_TQ2_0(src, dst, nrows, n_per_row, imatrix);
    tq2_0_avx2(src, static_cast<block_tq2_0*>(dst), nrows * (n_per_row / QK_K));
    return blocks_bytes<block_tq2_0>(nrows, n_per_row, QK_K);
}

size_t quantize_Q2_K_avx2(const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                          const float* imatrix) {
    if (n_per_row % QK_K) return quantize_Q2_K(src, dst, nrows, n_per_row, imatrix);
    auto* y = static_cast<block_q2_K*>(dst);
    const int64_t nb = n_per_row / QK_K;
    for (int64_t r = 0; r < nrows; ++r) {
        for (int64_t i = 0; i < nb; ++i) {
            const float* x = src + r * n_per_row + QK_K * i;
            if (imatrix) {
                q2_K_imx_block(x, imatrix + QK_K * i, y[r * nb + i]);
            } else {
                q2_K_ref_block(x, y[r * nb + i]);
            }
        }
    }
    return blocks_bytes<block_q2_K>(nrows, n_per_row, QK_K);
}

size_t quantize_Q3_K_avx2(const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                          const float* imatrix) {
    if (n_per_row % QK_K) return quantize_Q3_K(src, dst, nrows, n_per_row, imatrix);
    auto* y = static_cast<block_q3_K*>(dst);
    const int64_t nb = n_per_row / QK_K;
    if (imatrix) {
        for (int64_t r = 0; r < nrows; ++r) {
            for (int64_t i = 0; i < nb; ++i) {
                q3_K_imx_block(src + r * n_per_row + QK_K * i, imatrix + QK_K * i, y[r * nb + i]);
            }
        }
        return blocks_bytes<block_q3_K>(nrows, n_per_row, QK_K);
    }
    const int64_t total = nrows * nb;  // the reference path treats the rows as one long row
    alignas(32) int32_t lv[4][16][8];
    float scales[2 * QK_K / 16];
    int64_t i = 0;
    for (; i + 1 < total; i += 2) {  // two super-blocks per search: 4 independent lane vectors
        q3_lanes<4>(src + QK_K * i, lv, scales);
        q3_K_ref_finish(src + QK_K * i, lv, scales, y[i]);
        q3_K_ref_finish(src + QK_K * (i + 1), lv + 2, scales + 16, y[i + 1]);
    }
    if (i < total) {
        q3_lanes<2>(src + QK_K * i, lv, scales);
        q3_K_ref_finish(src + QK_K * i, lv, scales, y[i]);
    }
    return blocks_bytes<block_q3_K>(nrows, n_per_row, QK_K);
}

size_t quantize_Q4_K_avx2(const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                          const float* imatrix) {
    return quantize_Q4_K_with(kSearchAvx2, src, dst, nrows, n_per_row, imatrix);
}
size_t quantize_Q5_K_avx2(const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                          const float* imatrix) {
    return quantize_Q5_K_with(kSearchAvx2, src, dst, nrows, n_per_row, imatrix);
}
size_t quantize_Q6_K_avx2(const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                          const float* imatrix) {
    return quantize_Q6_K_with(kSearchAvx2, src, dst, nrows, n_per_row, imatrix);
}

}  // namespace edgeq::quants
