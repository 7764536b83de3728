// AVX2 quantizers, byte-identical to the reference codecs (quant_legacy.cpp, quant_k.cpp).
//
// How exactness is kept: every value is produced by the same IEEE single-precision operations, in the same
// order, as the scalar reference. Q8_0/Q4_0 vectorize element-wise work and order-free maxima; the k-quant
// searches run 8 sub-blocks in 8 lanes, each lane replaying the scalar loop (no reassociated sums). This file is
// compiled with -mavx2 only (cmake: *_avx2.cpp) and used only when the CPU has AVX2 (dtype/quant_dispatch.cpp).
// Tests: tests/unit/dtype/quant_simd_test.cpp compares every function here with the reference.
#include <immintrin.h>

#include <cstring>

#include "core/fp16.h"
#include "dtype/blocks.h"
#include "dtype/kquant_search.h"
#include "dtype/quants.h"

namespace edgeq::quants {
namespace {

// ggml's nearest_int on 8 lanes: (bits(v + 1.5*2^23) & 0x7fffff) - 0x400000.
inline __m256i nearest_int8(__m256 v) {
    const __m256 s = _mm256_add_ps(v, _mm256_set1_ps(12582912.f));
    return _mm256_sub_epi32(_mm256_and_si256(_mm256_castps_si256(s), _mm256_set1_epi32(0x007fffff)),
                            _mm256_set1_epi32(0x00400000));
}

inline __m256i clamp8(__m256i v, int lo, int hi) {
    return _mm256_max_epi32(_mm256_set1_epi32(lo), _mm256_min_epi32(_mm256_set1_epi32(hi), v));
}

inline __m256 abs8(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

// Max of |x| over 32 floats, ignoring NaN like the scalar `std::max(amax, fabs(x))` (max_ps returns its
// second operand when either is NaN, so the accumulator goes second). Order-free, hence exact.
inline float absmax32(const float* x) {
    __m256 acc = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) acc = _mm256_max_ps(abs8(_mm256_loadu_ps(x + 8 * k)), acc);
    __m128 m = _mm_max_ps(_mm256_extractf128_ps(acc, 1), _mm256_castps256_ps128(acc));
    m = _mm_max_ps(_mm_movehl_ps(m, m), m);
    m = _mm_max_ss(_mm_movehdup_ps(m), m);
    return _mm_cvtss_f32(m);
}

// std::round (half away from zero), exactly: t = trunc(y); y - t is exact; add sign(y) when |y - t| >= 0.5.
inline __m256 round_away8(__m256 y) {
    const __m256 t = _mm256_round_ps(y, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 frac = abs8(_mm256_sub_ps(y, t));
    const __m256 one = _mm256_or_ps(_mm256_and_ps(y, _mm256_set1_ps(-0.0f)), _mm256_set1_ps(1.0f));
    return _mm256_add_ps(t, _mm256_and_ps(_mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ), one));
}

// Lane g of the result = p[stride * g + i] (gather of one element from each of 8 sub-blocks).
inline __m256 gather8(const float* p, int stride, int i) {
    const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(stride));
    return _mm256_i32gather_ps(p + i, idx, 4);
}

// ---- Q8_0 -----------------------------------------------------------------------------------------

void q8_0_avx2(const float* x, block_q8_0* y, int64_t nb) {
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int64_t i = 0; i < nb; ++i, x += QK8_0) {
        const float amax = absmax32(x);
        const float d = amax / 127;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f32_to_fp16(d);
        const __m256 vid = _mm256_set1_ps(id);
        __m256i q[4];
        for (int k = 0; k < 4; ++k) {
            q[k] = _mm256_cvttps_epi32(round_away8(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), vid)));
        }
        const __m256i q01 = _mm256_packs_epi32(q[0], q[1]), q23 = _mm256_packs_epi32(q[2], q[3]);
        const __m256i b = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(q01, q23), perm);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs), b);
    }
}

// ---- Q4_0 (reference path) -----------------------------------------------------------------------

void q4_0_avx2(const float* x, block_q4_0* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += QK4_0) {
        const float amax = absmax32(x);
        // the value of the first element with |x| == amax (scalar: strict '<' keeps the first)
        float max = 0.0f;
        if (amax > 0.0f) {
            const __m256 va = _mm256_set1_ps(amax);
            for (int k = 0; k < 4; ++k) {
                const int m = _mm256_movemask_ps(_mm256_cmp_ps(abs8(_mm256_loadu_ps(x + 8 * k)), va, _CMP_EQ_OQ));
                if (m) {
                    max = x[8 * k + __builtin_ctz(static_cast<unsigned>(m))];
                    break;
                }
            }
        }
        const float d = max / -8;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f32_to_fp16(d);
        const __m256 vid = _mm256_set1_ps(id), half = _mm256_set1_ps(8.5f);
        alignas(32) int32_t q[QK4_0];
        for (int k = 0; k < 4; ++k) {
            const __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), vid), half);
            _mm256_store_si256(reinterpret_cast<__m256i*>(q + 8 * k),
                               _mm256_min_epi32(_mm256_cvttps_epi32(v), _mm256_set1_epi32(15)));
        }
        for (int j = 0; j < QK4_0 / 2; ++j) y[i].qs[j] = static_cast<uint8_t>(q[j] | (q[j + 16] << 4));
    }
}

// ---- k-quant searches ------------------------------------------------------------------------------

// make_qx_quants(16, 32, x, L, rmse_type = 1, qw) for 8 sub-blocks of 16 at once (x, qw: 128 floats).
void qx_8x16_nmax32(const float* x, const float* qw, int8_t* L, float* scales) {
    constexpr int n = 16, nmax = 32;
    __m256 xt[n], wt[n];
    for (int i = 0; i < n; ++i) {
        xt[i] = gather8(x, n, i);
        wt[i] = qw ? gather8(qw, n, i) : _mm256_mul_ps(xt[i], xt[i]);
    }
    __m256 amax = _mm256_setzero_ps(), vmax = _mm256_setzero_ps();
    for (int i = 0; i < n; ++i) {
        const __m256 a = abs8(xt[i]);
        const __m256 gt = _mm256_cmp_ps(a, amax, _CMP_GT_OQ);
        amax = _mm256_blendv_ps(amax, a, gt);
        vmax = _mm256_blendv_ps(vmax, xt[i], gt);
    }
    const __m256 zero_group = _mm256_cmp_ps(amax, _mm256_set1_ps(1e-15f), _CMP_LT_OQ);

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
    __m256 scale = _mm256_and_ps(_mm256_div_ps(sumlx, suml2),
                                 _mm256_cmp_ps(suml2, _mm256_setzero_ps(), _CMP_NEQ_UQ));
    __m256 best = _mm256_mul_ps(scale, sumlx);
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        const float c = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is));
        pass(_mm256_div_ps(_mm256_set1_ps(c), vmax), Ln, sumlx, suml2);
        const __m256 take = _mm256_and_ps(
            _mm256_cmp_ps(suml2, _mm256_setzero_ps(), _CMP_GT_OQ),
            _mm256_cmp_ps(_mm256_mul_ps(sumlx, sumlx), _mm256_mul_ps(best, suml2), _CMP_GT_OQ));
        if (_mm256_movemask_ps(take) == 0) continue;
        const __m256i takei = _mm256_castps_si256(take);
        for (int i = 0; i < n; ++i) Lt[i] = _mm256_blendv_epi8(Lt[i], Ln[i], takei);
        const __m256 s = _mm256_div_ps(sumlx, suml2);
        scale = _mm256_blendv_ps(scale, s, take);
        best = _mm256_blendv_ps(best, _mm256_mul_ps(s, sumlx), take);
    }
    alignas(32) float sc[8];
    alignas(32) int32_t lv[n][8];
    _mm256_store_ps(sc, _mm256_andnot_ps(zero_group, scale));
    const __m256i keep = _mm256_castps_si256(_mm256_cmp_ps(amax, _mm256_set1_ps(1e-15f), _CMP_GE_OQ));
    for (int i = 0; i < n; ++i) {
        const __m256i l = _mm256_and_si256(_mm256_add_epi32(Lt[i], _mm256_set1_epi32(nmax)), keep);
        _mm256_store_si256(reinterpret_cast<__m256i*>(lv[i]), l);
    }
    for (int g = 0; g < 8; ++g) {
        scales[g] = sc[g];
        for (int i = 0; i < n; ++i) L[n * g + i] = static_cast<int8_t>(lv[i][g]);
    }
}

void qx_16x16_avx2(const float* x, const float* qw, int8_t* L, float* scales) {
    qx_8x16_nmax32(x, qw, L, scales);
    qx_8x16_nmax32(x + 128, qw ? qw + 128 : nullptr, L + 128, scales + 8);
}

// make_qkx2_quants(32, nmax, x, w, L, &min, ..., rmin, rdelta, nstep, use_mad = false) for the 8 sub-blocks
// of 32 of one super-block, one per lane.
void qkx2_8x32_avx2(const float* x, const float* w, int nmax, float rmin, float rdelta, int nstep, uint8_t* L,
                    float* scales, float* mins) {
    constexpr int n = 32;
    __m256 xt[n], wt[n];
    for (int i = 0; i < n; ++i) {
        xt[i] = gather8(x, n, i);
        wt[i] = gather8(w, n, i);
    }
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
    const __m256 degenerate = _mm256_cmp_ps(hi, lo, _CMP_EQ_OQ);
    const __m256 vnmax = _mm256_set1_ps(static_cast<float>(nmax));

    __m256i Lt[n], La[n];
    __m256 iscale = _mm256_div_ps(vnmax, _mm256_sub_ps(hi, lo));
    __m256 scale = _mm256_div_ps(_mm256_set1_ps(1.0f), iscale);
    __m256 best_err = _mm256_setzero_ps();
    for (int i = 0; i < n; ++i) {
        const __m256i l = clamp8(nearest_int8(_mm256_mul_ps(iscale, _mm256_sub_ps(xt[i], lo))), 0, nmax);
        Lt[i] = l;
        __m256 diff = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(scale, _mm256_cvtepi32_ps(l)), lo), xt[i]);
        diff = _mm256_mul_ps(diff, diff);
        best_err = _mm256_add_ps(best_err, _mm256_mul_ps(wt[i], diff));
    }
    for (int is = 0; is <= nstep; ++is) {
        const float c = rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax);
        iscale = _mm256_div_ps(_mm256_set1_ps(c), _mm256_sub_ps(hi, lo));
        __m256 sum_l = _mm256_setzero_ps(), sum_l2 = _mm256_setzero_ps(), sum_xl = _mm256_setzero_ps();
        for (int i = 0; i < n; ++i) {
            const __m256i l = clamp8(nearest_int8(_mm256_mul_ps(iscale, _mm256_sub_ps(xt[i], lo))), 0, nmax);
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
            __m256 diff = _mm256_sub_ps(
                _mm256_add_ps(_mm256_mul_ps(this_scale, _mm256_cvtepi32_ps(La[i])), this_min), xt[i]);
            diff = _mm256_mul_ps(diff, diff);
            err = _mm256_add_ps(err, _mm256_mul_ps(wt[i], diff));
        }
        const __m256 take = _mm256_and_ps(valid, _mm256_cmp_ps(err, best_err, _CMP_LT_OQ));
        if (_mm256_movemask_ps(take) == 0) continue;
        const __m256i takei = _mm256_castps_si256(take);
        for (int i = 0; i < n; ++i) Lt[i] = _mm256_blendv_epi8(Lt[i], La[i], takei);
        best_err = _mm256_blendv_ps(best_err, err, take);
        scale = _mm256_blendv_ps(scale, this_scale, take);
        lo = _mm256_blendv_ps(lo, this_min, take);
    }
    alignas(32) float sc[8], mn[8];
    alignas(32) int32_t lv[n][8];
    _mm256_store_ps(sc, _mm256_andnot_ps(degenerate, scale));
    _mm256_store_ps(mn, _mm256_sub_ps(_mm256_setzero_ps(), lo));
    const __m256i live = _mm256_xor_si256(_mm256_castps_si256(degenerate), _mm256_set1_epi32(-1));
    for (int i = 0; i < n; ++i) _mm256_store_si256(reinterpret_cast<__m256i*>(lv[i]), _mm256_and_si256(Lt[i], live));
    for (int g = 0; g < 8; ++g) {
        scales[g] = sc[g];
        mins[g] = mn[g];
        for (int i = 0; i < n; ++i) L[n * g + i] = static_cast<uint8_t>(lv[i][g]);
    }
}

const KSearch kSearchAvx2{&qx_16x16_avx2, &qkx2_8x32_avx2};

}  // namespace

size_t quantize_Q8_0_avx2(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float*) {
    q8_0_avx2(src, static_cast<block_q8_0*>(dst), nrows * (n_per_row / QK8_0));
    return static_cast<size_t>(nrows * (n_per_row / QK8_0)) * sizeof(block_q8_0);
}

size_t quantize_Q4_0_avx2(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
    if (imatrix) return quantize_Q4_0(src, dst, nrows, n_per_row, imatrix);
    q4_0_avx2(src, static_cast<block_q4_0*>(dst), nrows * (n_per_row / QK4_0));
    return static_cast<size_t>(nrows * (n_per_row / QK4_0)) * sizeof(block_q4_0);
}

size_t quantize_Q4_K_avx2(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
    return quantize_Q4_K_with(kSearchAvx2, src, dst, nrows, n_per_row, imatrix);
}
size_t quantize_Q5_K_avx2(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
    return quantize_Q5_K_with(kSearchAvx2, src, dst, nrows, n_per_row, imatrix);
}
size_t quantize_Q6_K_avx2(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
    return quantize_Q6_K_with(kSearchAvx2, src, dst, nrows, n_per_row, imatrix);
}

}  // namespace edgeq::quants
