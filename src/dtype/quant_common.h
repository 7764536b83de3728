// Shared rounding searches of ggml's quantizers (ggml-quants.c, llama.cpp 0ad4a86), reimplemented so
// that our quantizers produce ggml's bytes. Each function reproduces ggml's arithmetic exactly: float
// (never double) accumulators, the same summation order, division where ggml divides and multiplication
// by a reciprocal where ggml does that. The project builds with -ffp-contract=off (no fused
// multiply-add), as ggml-base is built for generic x86-64; changing any expression order below changes
// output bytes, so edit only against the fixtures (tests/unit/dtype/kquant_test.cpp).
//
// Conventions shared by all searches:
//   n       number of values in the group (sub-block), x[0..n)
//   nmax    largest quantized level (e.g. 15 for 4-bit unsigned, 4 for 3-bit signed: levels -4..3)
//   L       output levels, one per value, always stored with an offset that makes them >= 0
//   weights importance of each value in the error being minimised; nullptr means a default noted below
// "Weighted error" is  sum_i w_i * (x_i - xhat_i)^2  (or |x_i - xhat_i| with use_mad).
#pragma once

#include <climits>
#include <cstdint>
#include <cstring>

namespace edgeq::quants {

// Groups whose largest |x| is below this are treated as all-zero (ggml GROUP_MAX_EPS).
inline constexpr float kGroupMaxEps = 1e-15f;

// Round to the nearest integer, ties to even, for |v| <= 4194303 (2^22 - 1). Same trick as ggml: adding
// 1.5*2^23 puts the integer part in the low mantissa bits (one IEEE rounding = round-half-even).
// 6-bit scale sc and min m of sub-block j (0..7) from a Q4_K / Q5_K block's 12 packed bytes (ggml
// get_scale_min_k4): sub-blocks 0-3 in the low 6 bits of bytes 0-3 / 4-7, sub-blocks 4-7 in the nibbles of bytes
// 8-11 and the top two bits of bytes 0-3 (sc) and 4-7 (m).
inline void unpack_scale_min_k4(int j, const uint8_t* q, uint8_t& sc, uint8_t& m) {
    if (j < 4) {
        sc = q[j] & 63;
        m = q[j + 4] & 63;
    } else {
        sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

inline int nearest_int(float v) {
    const float shifted = v + 12582912.f;
    int32_t bits;
    std::memcpy(&bits, &shifted, sizeof bits);
    return (bits & 0x007fffff) - 0x00400000;
}

// Float -> int32 truncation as x86's cvttss2si performs it, which is what ggml's C casts (e.g. (int8_t)roundf(v))
// compile to: NaN and values outside [-2^31, 2^31) give INT32_MIN. Casting such a float directly is undefined
// behaviour in C++ (UBSan float-cast-overflow); this keeps ggml's bytes (e.g. Q8_0 of a block whose scale is
// denormal: 1/d overflows to inf and those levels become (int8_t)INT32_MIN = 0) without it.
inline int32_t trunc_i32_x86(float v) {
    return (v >= -2147483648.0f && v < 2147483648.0f) ? static_cast<int32_t>(v) : INT32_MIN;
}

// Symmetric ("type-0") quantization x ~ scale * (L - nmax), L in [0, 2*nmax - 1].
// Starts from iscale = -nmax / max (max = the value of largest magnitude, so that value maps to level 0
// i.e. -nmax), then:
//   rmse_type == 0: plain rounding, returns 1/iscale (no search);
//   rmse_type  > 0: least-squares scale for those levels, then tries 18 further iscales
//                   -(nmax + 0.1*is)/max, is = -9..9 (is != 0), keeping the one that maximises
//                   (sum w x l)^2 / (sum w l^2), i.e. minimises the weighted error with the optimal scale;
//   rmse_type  < 0: one least-squares step only, returns the mean of the LS scale and 1/iscale.
// Weights: qw if non-null, else by |rmse_type|: 1 -> x^2, 2 -> 1, 3 -> |x|, other -> sqrt(|x|).
// Returns the scale (may be negative); all-zero group (amax < kGroupMaxEps) returns 0 with L = 0.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, int rmse_type, const float* qw);

// Q3_K's symmetric search (weights x^2). x ~ scale * (L - nmax), L in [0, 2*nmax - 1].
// do_rmse: start from iscale = -nmax/max, then up to 5 passes of coordinate descent: each value's level
// is moved to its LS-optimal level given the others, when that increases (sum w x l)^2 / sum w l^2.
// Returns the LS scale sum w x l / sum w l^2. !do_rmse: plain rounding, returns 1/iscale.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L, bool do_rmse);

// Asymmetric ("type-1") quantization x ~ scale * L - the_min, L in [0, nmax], the_min >= 0 (ggml clamps
// the offset so that 0 is always representable: min = min(min(x), 0)).
// Minimises sum w_i * err_i (err = squared, or absolute if use_mad): initial rounding over [min, max],
// then nstep+1 candidate iscales (rmin + rdelta*is + nmax)/(max - min), is = 0..nstep, each with a
// weighted least-squares (scale, min) fit to its levels (min forced <= 0); the best is kept.
// weights must be non-null. Laux is scratch of n bytes. Returns scale; *the_min receives -min (>= 0).
// A degenerate group (max == min after the clamp, e.g. all zero) returns 0 with L = 0.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad);

// Same search as make_qkx2_quants, used by ggml's imatrix paths (Q2_K/Q4_K/Q5_K, Q4_1/Q5_1 impl).
// Differences: weights may be null (then w = x^2); "max <= min" is the degenerate test; candidate levels
// are computed as v = iscale*(x - min), l = v > 0 ? round(min(v, nmax)) : 0 (robust to inf/nan).
float make_qkx3_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad);

// Quantizes non-negative values (the sub-block scales or mins of a super-block) as x ~ scale * L,
// L in [0, nmax], minimising sum w_i (x_i - scale*L_i)^2 with w = quant_weights (non-null):
// picks the best of 9 iscales (nmax + 0.1*is)/max, is = -4..4, by weighted error at scale 1/iscale,
// then up to 5 passes of coordinate descent on the levels. Returns the LS scale; max < kGroupMaxEps
// returns 0 with L = 0.
float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* quant_weights);

}  // namespace edgeq::quants
