// llama.cpp's x86 float orders that ggml's generic C kernels do not have, scalar code (dtype/vec_dot.h
// vec_dot_x86_ref and vec_dot_x86_repacked_fn document the contracts):
//   1. the super-block types Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and TQ2_0 as the AVX2 paths of ggml_vec_dot_<w>_q8_K
//      compute them (what llama.cpp's zen4 backend runs for a matrix it does not repack);
//   2. the matrices llama.cpp's CPU backend repacks into 8-row interleaved blocks (Q4_0, IQ4_NL, Q4_K, Q2_K): its
//      ggml_gemm_* (4 activation rows at a time) and ggml_gemv_* (one row) kernels.
// Both were established by comparing with the kernels of llama.cpp's prebuilt zen4 backend on random and
// adversarial blocks, bit for bit (docs/llm/runtime.md "Accuracy"); tests/unit/dtype/vec_dot_llama_order_test.cpp
// keeps llama.cpp's outputs on fixed inputs as golden values.
//
// 1. The AVX2 vec_dot kernels. Every one of them reads a super-block's 256 weights as eight 32-byte chunks
// (element order) against the matching 32 activation bytes, multiplies byte pairs (vpmaddubsw) and pairs of pairs
// with the sub-block scale (vpmaddwd), and adds the chunks' eight int32 lanes: int lane l collects
// scale(e) * w(e) * a(e) over the elements e with e % 32 in [4l, 4l + 3]. Per super-block each lane is then fused
// into float lane l as fma(d, float(lane), acc) with d = d_a * d_w (rounded product), and the eight float lanes
// are summed at the end as hsum_float_8: t[l] = acc[l + 4] + acc[l], (t[0] + t[2]) + (t[1] + t[3]). Per type:
//   * Q3_K: signed weights (2 low bits minus 4 where the high bit is clear), 16-element sub-block scales - 32.
//   * Q6_K, TQ2_0: unsigned weights (Q6_K 0..63, TQ2_0 0..2); the offset (32 times the sub-block scale, 1) is
//     taken out of lane l with the activation block sums of the 16-element groups 2l and 2l + 1:
//     lane l -= off * (bsums[2l] * s[2l] + bsums[2l + 1] * s[2l + 1]) (llama.cpp 0ad4a86's binary; a source
//     version that subtracts 32 per element gives other lanes).
//   * Q2_K: weights 0..3, scale = low nibble; the mins (high nibble) enter the same float lanes first, per
//     super-block: acc[l] = fma(-(d_a * dmin_w), m[2l] * bsums[2l] + m[2l + 1] * bsums[2l + 1], acc[l]).
//   * Q4_K / Q5_K: weights 0..15 / 0..31 with 32-element sub-block scales; the mins use the 32-element sums
//     S_j = bsums[2j] + bsums[2j + 1]: Q4_K keeps four float lanes accm[k] = fma(-(d_a * dmin_w),
//     m[2k] * S_2k + m[2k + 1] * S_2k+1, accm[k]) and adds (accm[0] + accm[2]) + (accm[1] + accm[3]) after
//     hsum_float_8; Q5_K fuses the whole integer min sum into one float, summs = fma(-(d_a * dmin_w), sum,
//     summs), added last.
// Integer sums are exact (no int16 saturation is possible with Q8_K quants in [-127, 127]), so only the float
// order above decides the result.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/fp16.h"
#include "dtype/blocks.h"
#include "edgeq/dtype.h"

namespace edgeq::vdot {
namespace {

// One super-block decoded: integer weights in element order and the scale of each 16-element group.
struct Decoded {
    int q[QK_K];
    int scale16[QK_K / 16];
};

// Int lane l of the AVX2 kernels: sum over e with e % 32 in [4l, 4l + 3] of scale16[e / 16] * q[e] * a[e].
void int_lanes(const Decoded& b, const int8_t* a, int32_t lane[8]) {
    for (int l = 0; l < 8; ++l) lane[l] = 0;
    for (int e = 0; e < QK_K; ++e) lane[(e % 32) / 4] += b.scale16[e / 16] * b.q[e] * a[e];
}

float hsum_float_8(const float acc[8]) {
    float t[4];
    for (int l = 0; l < 4; ++l) t[l] = acc[l + 4] + acc[l];
    return (t[0] + t[2]) + (t[1] + t[3]);
}

// The 2-bit fields of 64 bytes (Q2_K, Q3_K's low bits, TQ2_0): element 128h + 32j + l is bits 2j of byte
// 32h + l.
void unpack_2bit(const uint8_t* qs, Decoded& b) {
    for (int h = 0; h < 2; ++h)
        for (int j = 0; j < 4; ++j)
            for (int l = 0; l < 32; ++l) b.q[128 * h + 32 * j + l] = (qs[32 * h + l] >> (2 * j)) & 3;
}

// 6-bit scales and mins of Q4_K / Q5_K (ggml's get_scale_min_k4 packing).
void scales_mins_k4(const uint8_t* s, int sc[8], int mn[8]) {
    for (int j = 0; j < 4; ++j) {
        sc[j] = s[j] & 63;
        mn[j] = s[j + 4] & 63;
        sc[j + 4] = (s[j + 8] & 0xF) | ((s[j] >> 6) << 4);
        mn[j + 4] = (s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4);
    }
}

// Q4_K / Q5_K weights: 32 bytes hold elements 64j .. 64j + 31 (low nibbles) and 64j + 32 .. 64j + 63 (high).
void decode_q45(const uint8_t* qs, const uint8_t* qh, Decoded& b) {
    for (int j = 0; j < 4; ++j)
        for (int l = 0; l < 32; ++l) {
            int lo = qs[32 * j + l] & 0xF, hi = qs[32 * j + l] >> 4;
            if (qh) {
                lo |= ((qh[l] >> (2 * j)) & 1) << 4;
                hi |= ((qh[l] >> (2 * j + 1)) & 1) << 4;
            }
            b.q[64 * j + l] = lo;
            b.q[64 * j + 32 + l] = hi;
        }
}

}  // namespace

float q2_K_q8_K_x86_ref(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const block_q2_K*>(w);
    const auto* y = static_cast<const block_q8_K*>(a);
    float acc[8] = {};
    Decoded b;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        unpack_2bit(x[i].qs, b);
        for (int g = 0; g < 16; ++g) b.scale16[g] = x[i].scales[g] & 0xF;
        const float d = y[i].d * fp16_to_f32(x[i].d);
        const float dmin = -(y[i].d * fp16_to_f32(x[i].dmin));
        for (int l = 0; l < 8; ++l) {
            const int m = (x[i].scales[2 * l] >> 4) * y[i].bsums[2 * l] +
                          (x[i].scales[2 * l + 1] >> 4) * y[i].bsums[2 * l + 1];
            acc[l] = std::fma(dmin, static_cast<float>(m), acc[l]);
        }
        int32_t lane[8];
        int_lanes(b, y[i].qs, lane);
        for (int l = 0; l < 8; ++l) acc[l] = std::fma(d, static_cast<float>(lane[l]), acc[l]);
    }
    return hsum_float_8(acc);
}

float q3_K_q8_K_x86_ref(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const block_q3_K*>(w);
    const auto* y = static_cast<const block_q8_K*>(a);
    float acc[8] = {};
    Decoded b;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        unpack_2bit(x[i].qs, b);
        for (int h = 0; h < 2; ++h)  // minus 4 where the high bit (hmask bit 4h + j of byte l) is clear
            for (int j = 0; j < 4; ++j)
                for (int l = 0; l < 32; ++l)
                    if (!(x[i].hmask[l] & (1 << (4 * h + j)))) b.q[128 * h + 32 * j + l] -= 4;
        for (int g = 0; g < 16; ++g) {  // 4 low bits from scales[0..7], 2 high bits from scales[8..11]
            const int lo = g < 8 ? (x[i].scales[g] & 0xF) : (x[i].scales[g - 8] >> 4);
            const int hi = (x[i].scales[8 + g % 4] >> (2 * (g / 4))) & 3;
            b.scale16[g] = (lo | (hi << 4)) - 32;
        }
        const float d = y[i].d * fp16_to_f32(x[i].d);
        int32_t lane[8];
        int_lanes(b, y[i].qs, lane);
        for (int l = 0; l < 8; ++l) acc[l] = std::fma(d, static_cast<float>(lane[l]), acc[l]);
    }
    return hsum_float_8(acc);
}

template <bool kQ5>
float q45_K_q8_K_x86_ref(int64_t n, const void* w, const void* a) {
    using Block = std::conditional_t<kQ5, block_q5_K, block_q4_K>;
    const auto* x = static_cast<const Block*>(w);
    const auto* y = static_cast<const block_q8_K*>(a);
    float acc[8] = {}, accm[4] = {}, summs = 0.0f;
    Decoded b;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        if constexpr (kQ5)
            decode_q45(x[i].qs, x[i].qh, b);
        else
            decode_q45(x[i].qs, nullptr, b);
        int sc[8], mn[8];
        scales_mins_k4(x[i].scales, sc, mn);
        for (int g = 0; g < 16; ++g) b.scale16[g] = sc[g / 2];
        const float d = y[i].d * fp16_to_f32(x[i].d);
        const float dmin = -(y[i].d * fp16_to_f32(x[i].dmin));
        int s32[8];  // activation sums of the 32-element sub-blocks
        for (int j = 0; j < 8; ++j) s32[j] = y[i].bsums[2 * j] + y[i].bsums[2 * j + 1];
        int prod[4];
        for (int k = 0; k < 4; ++k) prod[k] = mn[2 * k] * s32[2 * k] + mn[2 * k + 1] * s32[2 * k + 1];
        if constexpr (kQ5) {
            summs = std::fma(dmin, static_cast<float>(prod[0] + prod[1] + prod[2] + prod[3]), summs);
        } else {
            for (int k = 0; k < 4; ++k) accm[k] = std::fma(dmin, static_cast<float>(prod[k]), accm[k]);
        }
        int32_t lane[8];
        int_lanes(b, y[i].qs, lane);
        for (int l = 0; l < 8; ++l) acc[l] = std::fma(d, static_cast<float>(lane[l]), acc[l]);
    }
    if constexpr (kQ5) return hsum_float_8(acc) + summs;
    return hsum_float_8(acc) + ((accm[0] + accm[2]) + (accm[1] + accm[3]));
}

float q4_K_q8_K_x86_ref(int64_t n, const void* w, const void* a) {
    return q45_K_q8_K_x86_ref<false>(n, w, a);
}
float q5_K_q8_K_x86_ref(int64_t n, const void* w, const void* a) {
    return q45_K_q8_K_x86_ref<true>(n, w, a);
}

float q6_K_q8_K_x86_ref(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const block_q6_K*>(w);
    const auto* y = static_cast<const block_q8_K*>(a);
    float acc[8] = {};
    Decoded b;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        for (int h = 0; h < 2; ++h) {
            const uint8_t* ql = x[i].ql + 64 * h;
            const uint8_t* qh = x[i].qh + 32 * h;
            int* q = b.q + 128 * h;
            for (int l = 0; l < 32;
                 ++l) {  // unsigned 6-bit weights; the offset 32 comes out of the lanes below
                q[l] = (ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4);
                q[l + 32] = (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4);
                q[l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
                q[l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
            }
        }
        for (int g = 0; g < 16; ++g) b.scale16[g] = x[i].scales[g];
        const float d = y[i].d * fp16_to_f32(x[i].d);
        int32_t lane[8];
        int_lanes(b, y[i].qs, lane);
        for (int l = 0; l < 8; ++l) {
            lane[l] -=
                32 * (y[i].bsums[2 * l] * b.scale16[2 * l] + y[i].bsums[2 * l + 1] * b.scale16[2 * l + 1]);
            acc[l] = std::fma(d, static_cast<float>(lane[l]), acc[l]);
        }
    }
    return hsum_float_8(acc);
}

float tq2_0_q8_K_x86_ref(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const block_tq2_0*>(w);
    const auto* y = static_cast<const block_q8_K*>(a);
    float acc[8] = {};
    Decoded b;
    for (int g = 0; g < 16; ++g) b.scale16[g] = 1;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        unpack_2bit(x[i].qs, b);  // weights 0..2 (q - 1 with the offset below)
        const float d = y[i].d * fp16_to_f32(x[i].d);
        int32_t lane[8];
        int_lanes(b, y[i].qs, lane);
        for (int l = 0; l < 8; ++l) {
            lane[l] -= y[i].bsums[2 * l] + y[i].bsums[2 * l + 1];  // the weights are q - 1
            acc[l] = std::fma(d, static_cast<float>(lane[l]), acc[l]);
        }
    }
    return hsum_float_8(acc);
}

// 2. The repacked kernels. Per output, in element order, each group of G weights gives an exact integer sum
// (sub-block scales applied) fused into one float: acc = fma(float(isum_g), d_w * d_a, acc); the mins
// likewise, accm = fma(float(imin_g), dmin_w * d_a, accm) with imin_g the sum of min * activation block sum
// over the group's sub-blocks; the result is acc - accm. G: Q4_0 / IQ4_NL 32 (gemm and gemv); Q4_K 64 in the
// gemm, 256 in the gemv; Q2_K 128 in the gemm, 256 in the gemv.
namespace {

float repacked_32(bool iq4nl, int64_t n, const void* w, const void* a) {
    const auto* y = static_cast<const block_q8_0*>(a);
    float acc = 0.0f;
    for (int64_t ib = 0; ib < n / 32; ++ib) {
        const uint8_t* qs;
        fp16_t d;
        if (iq4nl) {
            const auto& b = static_cast<const block_iq4_nl*>(w)[ib];
            qs = b.qs, d = b.d;
        } else {
            const auto& b = static_cast<const block_q4_0*>(w)[ib];
            qs = b.qs, d = b.d;
        }
        int isum = 0;
        for (int j = 0; j < 16; ++j) {
            const int lo = qs[j] & 0xF, hi = qs[j] >> 4;
            const int wl = iq4nl ? kvalues_iq4nl[lo] : lo - 8, wh = iq4nl ? kvalues_iq4nl[hi] : hi - 8;
            isum += wl * y[ib].qs[j] + wh * y[ib].qs[j + 16];
        }
        acc = std::fma(static_cast<float>(isum), fp16_to_f32(d) * fp16_to_f32(y[ib].d), acc);
    }
    return acc;
}

// Q4_K / Q2_K: group sums of G elements; mins per 16-element group m16[g] (activation sums bsums[g]).
float repacked_k(int64_t n, const void* w, const void* a, DType t, int G) {
    const auto* y = static_cast<const block_q8_K*>(a);
    float acc = 0.0f, accm = 0.0f;
    Decoded b;
    int m16[QK_K / 16];
    for (int64_t i = 0; i < n / QK_K; ++i) {
        float dw, dmw;
        if (t == DType::Q4_K) {
            const auto& x = static_cast<const block_q4_K*>(w)[i];
            decode_q45(x.qs, nullptr, b);
            int sc[8], mn[8];
            scales_mins_k4(x.scales, sc, mn);
            for (int g = 0; g < 16; ++g) b.scale16[g] = sc[g / 2], m16[g] = mn[g / 2];
            dw = fp16_to_f32(x.d), dmw = fp16_to_f32(x.dmin);
        } else {  // Q2_K
            const auto& x = static_cast<const block_q2_K*>(w)[i];
            unpack_2bit(x.qs, b);
            for (int g = 0; g < 16; ++g) b.scale16[g] = x.scales[g] & 0xF, m16[g] = x.scales[g] >> 4;
            dw = fp16_to_f32(x.d), dmw = fp16_to_f32(x.dmin);
        }
        const float d = dw * y[i].d, dmin = dmw * y[i].d;
        for (int g0 = 0; g0 < QK_K; g0 += G) {
            int isum = 0, imin = 0;
            for (int e = g0; e < g0 + G; ++e) isum += b.scale16[e / 16] * b.q[e] * y[i].qs[e];
            for (int g = g0 / 16; g < (g0 + G) / 16; ++g) imin += m16[g] * y[i].bsums[g];
            acc = std::fma(static_cast<float>(isum), d, acc);
            accm = std::fma(static_cast<float>(imin), dmin, accm);
        }
    }
    return acc - accm;
}

}  // namespace

float q4_0_q8_0_x86_repacked(int64_t n, const void* w, const void* a) {
    return repacked_32(false, n, w, a);
}
float iq4_nl_q8_0_x86_repacked(int64_t n, const void* w, const void* a) {
    return repacked_32(true, n, w, a);
}
float q4_K_q8_K_x86_gemm4(int64_t n, const void* w, const void* a) {
    return repacked_k(n, w, a, DType::Q4_K, 64);
}
float q4_K_q8_K_x86_gemv(int64_t n, const void* w, const void* a) {
    return repacked_k(n, w, a, DType::Q4_K, QK_K);
}
float q2_K_q8_K_x86_gemm4(int64_t n, const void* w, const void* a) {
    return repacked_k(n, w, a, DType::Q2_K, 128);
}
float q2_K_q8_K_x86_gemv(int64_t n, const void* w, const void* a) {
    return repacked_k(n, w, a, DType::Q2_K, QK_K);
}

}  // namespace edgeq::vdot
