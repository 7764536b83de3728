// ggml k-quants Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and Q8_K: reference quantizers and dequantizers,
// byte-compatible with ggml (llama.cpp 0ad4a86, ggml-quants.c).
//
// quantize_<T> follows ggml_quantize_chunk: without an imatrix it is ggml's quantize_row_<t>_ref (weights
// derived from the values); with one it is quantize_row_<t>_impl (weights from the imatrix, scales of the
// sub-blocks fitted with make_qp_quants / make_qx_quants). Q8_K is ggml's activation format: it has no
// imatrix path. Every float expression keeps ggml's operand order (see quant_common.h); scales are
// rounded to fp16 and read back before the final requantization pass, exactly as ggml does.
//
// Element -> storage maps (e = index in the 256-element super-block):
//   Q2_K  2-bit q: qs[(e/128)*32 + e%32] bits 2*((e%128)/32); sub-block e/16; scales[s] = sc | m<<4
//   Q3_K  low 2 bits as Q2_K; high bit hmask[e%32] bit e/32 (set: q, clear: q-4); 6-bit scale s=e/16:
//         low nibble scales[s%8] (>>4 when s>=8), high 2 bits scales[8 + s%4] bits 2*(s/4); x = d*(sc-32)*q
//   Q4_K  4-bit q: qs[(e/64)*32 + e%32] nibble (e%64)/32; sub-block e/32 with 6-bit sc and m (below)
//   Q5_K  low 4 bits as Q4_K; fifth bit qh[e%32] bit e/32
//   Q6_K  low 4 bits ql[(e/128)*64 + e%32 + 32*(r&1)] nibble r>>1 with r = (e%128)/32; high 2 bits
//         qh[(e/128)*32 + e%32] bits 2*r; int8 scale e/16; x = d*sc*(q-32)
//   Q8_K  f32 d, int8 q, bsums[s] = sum of q over e/16 == s
//
// Status vs ggml (tests/unit/dtype/kquant_test.cpp, all five blocks_*.gguf fixtures): dequantization is
// bitwise identical, and quantization is byte-identical for every type on both paths (plain and imatrix).
// Only deliberate difference: Q8_K of an all-zero block also zeroes bsums (ggml leaves them unwritten).
//
// Numbers (blocks_gauss.gguf, N(0, 0.02), 64x1024; identical for ggml and edgeq):
//   type  bpw     RMSE plain  imatrix-weighted RMSE: plain -> with imatrix
//   Q2_K  2.625   5.889e-3    5.725e-3 -> 2.452e-3
//   Q3_K  3.4375  3.005e-3    3.016e-3 -> 1.727e-3
//   Q4_K  4.5     1.423e-3    1.411e-3 -> 7.133e-4
//   Q5_K  5.5     7.224e-4    7.288e-4 -> 3.978e-4
//   Q6_K  6.5625  3.547e-4    3.425e-4 -> 2.027e-4
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "core/fp16.h"
#include "dtype/blocks.h"
#include "dtype/quant_common.h"
#include "dtype/kquant_search.h"
#include "dtype/quants.h"

namespace edgeq::quants {

// Reference entries of the search table (defined below, with kSearchRef).
void qx_16x16_ref(const float* x, const float* qw, int nmax, int8_t* L, float* scales);
void qkx2_16x16_ref(const float* x, const float* w, int nmax, float rmin, float rdelta, int nstep,
                    bool use_mad, uint8_t* L, float* scales, float* mins);
void qkx3_16x16_ref(const float* x, const float* w, int nmax, float rmin, float rdelta, int nstep, uint8_t* L,
                    float* scales, float* mins);
void q3_16x16_ref(const float* x, int8_t* L, float* scales);

namespace {

// ---- shared packing -------------------------------------------------------------------------------

// 2-bit levels (Q2_K quants, Q3_K low bits) of one super-block: 4 levels per byte.
void pack_2bit(const uint8_t* L, uint8_t* qs) {
    for (int h = 0; h < QK_K; h += 128) {
        for (int l = 0; l < 32; ++l) {
            qs[h / 4 + l] = static_cast<uint8_t>(L[h + l] | (L[h + l + 32] << 2) | (L[h + l + 64] << 4) |
                                                 (L[h + l + 96] << 6));
        }
    }
}
inline int unpack_2bit(const uint8_t* qs, int e) {
    return (qs[(e / 128) * 32 + e % 32] >> (2 * ((e % 128) / 32))) & 3;
}

// Q4_K/Q5_K: 8 pairs (sc, m) of 6-bit values in 12 bytes. Sub-blocks 0-3 keep both whole in bytes
// 0-3 / 4-7; sub-blocks 4-7 keep their low nibbles in bytes 8-11 and their top two bits in the top bits
// of bytes 0-3 (sc) and 4-7 (m).
void pack_scale_min_k4(const uint8_t* ls, const uint8_t* lm, uint8_t* q) {
    for (int j = 0; j < QK_K / 32; ++j) {
        if (j < 4) {
            q[j] = ls[j];
            q[j + 4] = lm[j];
        } else {
            q[j + 4] = static_cast<uint8_t>((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
            q[j - 4] |= static_cast<uint8_t>((ls[j] >> 4) << 6);
            q[j] |= static_cast<uint8_t>((lm[j] >> 4) << 6);
        }
    }
}

// Q3_K: 16 6-bit scales (stored +32) in 12 bytes.
void pack_scales_q3(const int* l6, uint8_t* q) {
    std::memset(q, 0, 12);
    for (int j = 0; j < QK_K / 16; ++j) {
        const int l = l6[j];
        if (j < 8) {
            q[j] = static_cast<uint8_t>(l & 0xF);
        } else {
            q[j - 8] |= static_cast<uint8_t>((l & 0xF) << 4);
        }
        q[j % 4 + 8] |= static_cast<uint8_t>((l >> 4) << (2 * (j / 4)));
    }
}
inline int unpack_scale_q3(const uint8_t* q, int j) {
    const int lo = j < 8 ? q[j] & 0xF : q[j - 8] >> 4;
    const int hi = (q[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (lo | (hi << 4)) - 32;
}

// 4-bit levels (Q4_K quants, Q5_K low bits): 2 per byte, 32-element halves in the two nibbles.
void pack_4bit(const uint8_t* L, uint8_t* qs) {
    for (int j = 0; j < QK_K; j += 64) {
        for (int l = 0; l < 32; ++l) qs[j / 2 + l] = static_cast<uint8_t>((L[j + l] & 0xF) | ((L[j + l + 32] & 0xF) << 4));
    }
}
inline int unpack_4bit(const uint8_t* qs, int e) {
    return (qs[(e / 64) * 32 + e % 32] >> (4 * ((e % 64) / 32))) & 0xF;
}

// Q3_K: levels 0..7 -> low 2 bits into qs, bit 2 into hmask.
void pack_q3_levels(uint8_t* L, block_q3_K& b) {
    std::memset(b.hmask, 0, sizeof b.hmask);
    for (int e = 0; e < QK_K; ++e) {
        if (L[e] > 3) {
            b.hmask[e % 32] |= static_cast<uint8_t>(1u << (e / 32));
            L[e] = static_cast<uint8_t>(L[e] - 4);
        }
    }
    pack_2bit(L, b.qs);
}

// Q4_K/Q5_K final pass: requantize each sub-block of 32 with its stored (fp16-rounded) scale and min.
// Sub-blocks whose scale is 0 keep the levels of the search (as ggml does).
void requantize_k4(const float* x, fp16_t dh, fp16_t dminh, const uint8_t* scales, int nmax, uint8_t* L) {
    for (int j = 0; j < QK_K / 32; ++j) {
        uint8_t sc, m;
        unpack_scale_min_k4(j, scales, sc, m);
        const float d = fp16_to_f32(dh) * sc;
        if (!d) continue;
        const float dm = fp16_to_f32(dminh) * m;
        for (int ii = 0; ii < 32; ++ii) {
            const int l = nearest_int((x[32 * j + ii] + dm) / d);
            L[32 * j + ii] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
        }
    }
}

// Q2_K final pass (sub-blocks of 16, 4-bit sc in the low nibble, m in the high nibble).
void requantize_q2(const float* x, const block_q2_K& b, uint8_t* L) {
    const float dall = fp16_to_f32(b.d), mall = fp16_to_f32(b.dmin);
    for (int j = 0; j < QK_K / 16; ++j) {
        const float d = dall * (b.scales[j] & 0xF);
        if (!d) continue;
        const float m = mall * (b.scales[j] >> 4);
        for (int ii = 0; ii < 16; ++ii) {
            const int l = nearest_int((x[16 * j + ii] + m) / d);
            L[16 * j + ii] = static_cast<uint8_t>(std::max(0, std::min(3, l)));
        }
    }
}

// Q3_K final pass: symmetric, levels -4..3 stored +4.
void requantize_q3(const float* x, const block_q3_K& b, uint8_t* L) {
    for (int j = 0; j < QK_K / 16; ++j) {
        const float d = fp16_to_f32(b.d) * unpack_scale_q3(b.scales, j);
        if (!d) continue;
        for (int ii = 0; ii < 16; ++ii) {
            const int l = nearest_int(x[16 * j + ii] / d);
            L[16 * j + ii] = static_cast<uint8_t>(std::max(-4, std::min(3, l)) + 4);
        }
    }
}

// Row-length check shared by all quantizers.
inline void check_row(int64_t n_per_row) {
    EDGEQ_CHECK_MSG(n_per_row > 0 && n_per_row % QK_K == 0, "k-quant rows must be a multiple of 256");
}

// Runs one super-block quantizer over all rows. ggml's ref path treats the tensor as one long row and
// its imatrix path goes row by row with the imatrix indexed by column; both reduce to this loop.
template <typename Block, typename Fn>
size_t for_each_block(const float* src, void* dst, int64_t nrows, int64_t n_per_row, Fn&& fn) {
    check_row(n_per_row);
    const int64_t nb = n_per_row / QK_K;
    auto* out = static_cast<Block*>(dst);
    for (int64_t r = 0; r < nrows; ++r) {
        for (int64_t i = 0; i < nb; ++i) fn(src + r * n_per_row + i * QK_K, out[r * nb + i], i);
    }
    return static_cast<size_t>(nrows * nb) * sizeof(Block);
}

// ---- Q2_K -----------------------------------------------------------------------------------------

void q2_K_ref(const float* x, block_q2_K& b) {
    constexpr float q4scale = 15.f;
    uint8_t L[QK_K];
    float weights[QK_K], mins[QK_K / 16], scales[QK_K / 16];
    for (int l = 0; l < QK_K; ++l) weights[l] = std::fabs(x[l]);
    qkx2_16x16_ref(x, weights, 3, -0.5f, 0.1f, 15, true, L, scales, mins);
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < QK_K / 16; ++j) {
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    if (max_scale > 0) {
        const float iscale = q4scale / max_scale;
        for (int j = 0; j < QK_K / 16; ++j) b.scales[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
        b.d = f32_to_fp16(max_scale / q4scale);
    } else {
        std::memset(b.scales, 0, sizeof b.scales);
        b.d = f32_to_fp16(0.f);
    }
    if (max_min > 0) {
        const float iscale = q4scale / max_min;
        for (int j = 0; j < QK_K / 16; ++j) {
            b.scales[j] = static_cast<uint8_t>(b.scales[j] | (nearest_int(iscale * mins[j]) << 4));
        }
        b.dmin = f32_to_fp16(max_min / q4scale);
    } else {
        b.dmin = f32_to_fp16(0.f);
    }
    requantize_q2(x, b, L);
    pack_2bit(L, b.qs);
}

void q2_K_imx(const float* x, block_q2_K& b, const float* qw) {
    uint8_t L[QK_K], Ls[QK_K / 16], Lm[QK_K / 16];
    float mins[QK_K / 16], scales[QK_K / 16], sw[QK_K / 16], weight[QK_K];
    float sumx2 = 0;
    for (int j = 0; j < QK_K; ++j) sumx2 += x[j] * x[j];
    const float sigma2 = sumx2 / QK_K;
    for (int j = 0; j < QK_K / 16; ++j) {
        const float* w = qw + 16 * j;
        float* wj = weight + 16 * j;
        for (int l = 0; l < 16; ++l) wj[l] = w[l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
        sw[j] = 0;
        for (int l = 0; l < 16; ++l) sw[j] += wj[l];
    }
    qkx3_16x16_ref(x, weight, 3, -0.9f, 0.05f, 36, L, scales, mins);
    const float dm = make_qp_quants(QK_K / 16, 15, scales, Ls, sw);
    const float mm = make_qp_quants(QK_K / 16, 15, mins, Lm, sw);
    b.d = f32_to_fp16(dm);
    b.dmin = f32_to_fp16(mm);
    for (int j = 0; j < QK_K / 16; ++j) b.scales[j] = static_cast<uint8_t>(Ls[j] | (Lm[j] << 4));
    requantize_q2(x, b, L);
    pack_2bit(L, b.qs);
}

// ---- Q3_K -----------------------------------------------------------------------------------------

void q3_K_ref(const float* x, block_q3_K& b) {
    int8_t Ls[QK_K];
    float scales[QK_K / 16];
    q3_16x16_ref(x, Ls, scales);
    float max_scale = 0, amax = 0;
    for (int j = 0; j < QK_K / 16; ++j) {
        const float a = std::fabs(scales[j]);
        if (a > amax) {
            amax = a;
            max_scale = scales[j];
        }
    }
    if (max_scale) {
        const float iscale = -32.f / max_scale;
        int l6[QK_K / 16];
        for (int j = 0; j < QK_K / 16; ++j) {
            const int l = static_cast<int8_t>(nearest_int(iscale * scales[j]));
            l6[j] = std::max(-32, std::min(31, l)) + 32;
        }
        pack_scales_q3(l6, b.scales);
        b.d = f32_to_fp16(1 / iscale);
    } else {
        std::memset(b.scales, 0, sizeof b.scales);
        b.d = f32_to_fp16(0.f);
    }
    uint8_t L[QK_K];
    for (int e = 0; e < QK_K; ++e) L[e] = static_cast<uint8_t>(Ls[e]);
    requantize_q3(x, b, L);
    pack_q3_levels(L, b);
}

void q3_K_imx(const float* x, block_q3_K& b, const float* qw) {
    int8_t Ls8[QK_K], Lsc[QK_K / 16];
    float scales[QK_K / 16], weight[QK_K], sw[QK_K / 16];
    float sumx2 = 0;
    for (int j = 0; j < QK_K; ++j) sumx2 += x[j] * x[j];
    const float sigma2 = 2 * sumx2 / QK_K;
    for (int j = 0; j < QK_K / 16; ++j) {
        const float* w = qw + 16 * j;
        float* wj = weight + 16 * j;
        for (int l = 0; l < 16; ++l) wj[l] = w[l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
        float sumw = 0;
        for (int l = 0; l < 16; ++l) sumw += wj[l];
        sw[j] = sumw;
    }
    qx_16x16_ref(x, weight, 4, Ls8, scales);
    const float d_block = make_qx_quants(QK_K / 16, 32, scales, Lsc, 1, sw);
    int l6[QK_K / 16];
    for (int j = 0; j < QK_K / 16; ++j) l6[j] = Lsc[j];
    pack_scales_q3(l6, b.scales);
    b.d = f32_to_fp16(d_block);
    uint8_t L[QK_K];
    for (int e = 0; e < QK_K; ++e) L[e] = static_cast<uint8_t>(Ls8[e]);
    requantize_q3(x, b, L);
    pack_q3_levels(L, b);
}

// ---- Q4_K / Q5_K ----------------------------------------------------------------------------------
// Same scale search; Q4_K has 16 levels, Q5_K 32 and a fifth bit plane. The reference path uses
// (rmin, rdelta, nstep) = (-1, 0.1, 20) for Q4_K and (-0.5, 0.1, 15) for Q5_K.

struct K4Scales {
    uint8_t packed[K_SCALE_SIZE];
    fp16_t d, dmin;
};

// Reference path: per-sub-block qkx2 search with weights av_x + |x|, then scales/mins rounded to 6 bits
// against their maxima. Fills L with the search levels (0..nmax).
K4Scales k4_ref_scales(const KSearch& search, const float* x, int nmax, float rmin, float rdelta, int nstep,
                       uint8_t* L) {
    uint8_t ls[QK_K / 32], lm[QK_K / 32];
    float weights[QK_K], mins[QK_K / 32], scales[QK_K / 32];
    for (int j = 0; j < QK_K / 32; ++j) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
        const float av_x = std::sqrt(sum_x2 / 32);
        for (int l = 0; l < 32; ++l) weights[32 * j + l] = av_x + std::fabs(x[32 * j + l]);
    }
    search.qkx2_8x32(x, weights, nmax, rmin, rdelta, nstep, L, scales, mins);
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < QK_K / 32; ++j) {
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < QK_K / 32; ++j) {
        ls[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[j])));
        lm[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[j])));
    }
    K4Scales s{};
    pack_scale_min_k4(ls, lm, s.packed);
    s.d = f32_to_fp16(max_scale / 63.f);
    s.dmin = f32_to_fp16(max_min / 63.f);
    return s;
}

// imatrix path: qkx3 search with weights qw*sqrt(sigma2 + x^2), then make_qp_quants on the scales and
// on the mins, weighted by each sub-block's total weight.
K4Scales k4_imx_scales(const KSearch& search, const float* x, int nmax, const float* qw, uint8_t* L) {
    uint8_t ls[QK_K / 32], lm[QK_K / 32];
    float weights[QK_K], sw[QK_K / 32], mins[QK_K / 32], scales[QK_K / 32];
    float sum_x2 = 0;
    for (int l = 0; l < QK_K; ++l) sum_x2 += x[l] * x[l];
    const float sigma2 = 2 * sum_x2 / QK_K;
    for (int j = 0; j < QK_K / 32; ++j) {
        const float* w = qw + 32 * j;
        float* wj = weights + 32 * j;
        for (int l = 0; l < 32; ++l) wj[l] = w[l] * std::sqrt(sigma2 + x[32 * j + l] * x[32 * j + l]);
        float sumw = 0;
        for (int l = 0; l < 32; ++l) sumw += wj[l];
        sw[j] = sumw;
    }
    search.qkx3_8x32(x, weights, nmax, -0.9f, 0.05f, 36, L, scales, mins);
    const float d_block = make_qp_quants(QK_K / 32, 63, scales, ls, sw);
    const float m_block = make_qp_quants(QK_K / 32, 63, mins, lm, sw);
    K4Scales s{};
    pack_scale_min_k4(ls, lm, s.packed);
    s.d = f32_to_fp16(d_block);
    s.dmin = f32_to_fp16(m_block);
    return s;
}

void store_q4_K(const float* x, const K4Scales& s, uint8_t* L, block_q4_K& b) {
    b.d = s.d;
    b.dmin = s.dmin;
    std::memcpy(b.scales, s.packed, K_SCALE_SIZE);
    requantize_k4(x, s.d, s.dmin, s.packed, 15, L);
    pack_4bit(L, b.qs);
}

void store_q5_K(const float* x, const K4Scales& s, uint8_t* L, block_q5_K& b) {
    b.d = s.d;
    b.dmin = s.dmin;
    std::memcpy(b.scales, s.packed, K_SCALE_SIZE);
    requantize_k4(x, s.d, s.dmin, s.packed, 31, L);
    std::memset(b.qh, 0, sizeof b.qh);
    for (int e = 0; e < QK_K; ++e) {
        if (L[e] > 15) {
            b.qh[e % 32] |= static_cast<uint8_t>(1u << (e / 32));
            L[e] = static_cast<uint8_t>(L[e] - 16);
        }
    }
    pack_4bit(L, b.qs);
}

// ---- Q6_K -----------------------------------------------------------------------------------------

// qw == nullptr: reference path (make_qx_quants weights x^2); else the raw imatrix weights.
void q6_K_block(const KSearch& search, const float* x, block_q6_K& b, const float* qw) {
    int8_t L[QK_K];
    float scales[QK_K / 16];
    search.qx_16x16(x, qw, 32, L, scales);
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < QK_K / 16; ++ib) {
        const float a = std::fabs(scales[ib]);
        if (a > max_abs_scale) {
            max_abs_scale = a;
            max_scale = scales[ib];
        }
    }
    if (max_abs_scale < kGroupMaxEps) {
        std::memset(&b, 0, sizeof b);
        b.d = f32_to_fp16(0.f);
        return;
    }
    const float iscale = -128.f / max_scale;
    b.d = f32_to_fp16(1 / iscale);
    for (int ib = 0; ib < QK_K / 16; ++ib) {
        b.scales[ib] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
    }
    for (int j = 0; j < QK_K / 16; ++j) {
        const float d = fp16_to_f32(b.d) * b.scales[j];
        if (!d) continue;
        for (int ii = 0; ii < 16; ++ii) {
            const int l = nearest_int(x[16 * j + ii] / d);
            L[16 * j + ii] = static_cast<int8_t>(std::max(-32, std::min(31, l)) + 32);
        }
    }
    for (int h = 0; h < QK_K; h += 128) {
        uint8_t* ql = b.ql + h / 2;
        uint8_t* qh = b.qh + h / 4;
        for (int l = 0; l < 32; ++l) {
            const int q1 = L[h + l], q2 = L[h + l + 32], q3 = L[h + l + 64], q4 = L[h + l + 96];
            ql[l] = static_cast<uint8_t>((q1 & 0xF) | ((q3 & 0xF) << 4));
            ql[l + 32] = static_cast<uint8_t>((q2 & 0xF) | ((q4 & 0xF) << 4));
            qh[l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
        }
    }
}

// ---- Q8_K -----------------------------------------------------------------------------------------

void q8_K_block(const float* x, block_q8_K& b) {
    float vmax = 0, amax = 0;
    for (int j = 0; j < QK_K; ++j) {
        const float a = std::fabs(x[j]);
        if (a > amax) {
            amax = a;
            vmax = x[j];
        }
    }
    if (!amax) {  // ggml leaves bsums untouched here; we zero the whole block
        std::memset(&b, 0, sizeof b);
        return;
    }
    const float iscale = -127.f / vmax;
    for (int j = 0; j < QK_K; ++j) b.qs[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[j])));
    for (int s = 0; s < QK_K / 16; ++s) {
        int sum = 0;
        for (int l = 0; l < 16; ++l) sum += b.qs[16 * s + l];
        b.bsums[s] = static_cast<int16_t>(sum);
    }
    b.d = 1 / iscale;
}

}  // namespace

// ---- reference search table -----------------------------------------------------------------------

void qx_16x16_ref(const float* x, const float* qw, int nmax, int8_t* L, float* scales) {
    for (int g = 0; g < QK_K / 16; ++g) {
        scales[g] = make_qx_quants(16, nmax, x + 16 * g, L + 16 * g, 1, qw ? qw + 16 * g : nullptr);
    }
}

void qkx2_8x32_ref(const float* x, const float* w, int nmax, float rmin, float rdelta, int nstep, uint8_t* L,
                   float* scales, float* mins) {
    uint8_t scratch[32];
    for (int g = 0; g < QK_K / 32; ++g) {
        scales[g] = make_qkx2_quants(32, nmax, x + 32 * g, w + 32 * g, L + 32 * g, &mins[g], scratch, rmin, rdelta,
                                     nstep, false);
    }
}

void qkx3_8x32_ref(const float* x, const float* w, int nmax, float rmin, float rdelta, int nstep, uint8_t* L,
                   float* scales, float* mins) {
    uint8_t scratch[32];
    for (int g = 0; g < QK_K / 32; ++g) {
        scales[g] = make_qkx3_quants(32, nmax, x + 32 * g, w + 32 * g, L + 32 * g, &mins[g], scratch, rmin,
                                     rdelta, nstep, false);
    }
}

void qkx2_16x16_ref(const float* x, const float* w, int nmax, float rmin, float rdelta, int nstep,
                    bool use_mad, uint8_t* L, float* scales, float* mins) {
    uint8_t scratch[16];
    for (int g = 0; g < QK_K / 16; ++g) {
        scales[g] = make_qkx2_quants(16, nmax, x + 16 * g, w + 16 * g, L + 16 * g, &mins[g], scratch, rmin,
                                     rdelta, nstep, use_mad);
    }
}

void qkx3_16x16_ref(const float* x, const float* w, int nmax, float rmin, float rdelta, int nstep, uint8_t* L,
                    float* scales, float* mins) {
    uint8_t scratch[16];
    for (int g = 0; g < QK_K / 16; ++g) {
        scales[g] = make_qkx3_quants(16, nmax, x + 16 * g, w + 16 * g, L + 16 * g, &mins[g], scratch, rmin,
                                     rdelta, nstep, false);
    }
}

void q3_16x16_ref(const float* x, int8_t* L, float* scales) {
    for (int g = 0; g < QK_K / 16; ++g) scales[g] = make_q3_quants(16, 4, x + 16 * g, L + 16 * g, true);
}

const KSearch kSearchRef{&qx_16x16_ref,   &qkx2_8x32_ref,  &qkx3_8x32_ref,
                         &qkx2_16x16_ref, &qkx3_16x16_ref, &q3_16x16_ref};

// ---- public entry points --------------------------------------------------------------------------

size_t quantize_Q2_K(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
    return for_each_block<block_q2_K>(src, dst, nrows, n_per_row, [&](const float* x, block_q2_K& b, int64_t i) {
        if (imatrix) {
            q2_K_imx(x, b, imatrix + i * QK_K);
        } else {
            q2_K_ref(x, b);
        }
    });
}

size_t quantize_Q3_K(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
    return for_each_block<block_q3_K>(src, dst, nrows, n_per_row, [&](const float* x, block_q3_K& b, int64_t i) {
        if (imatrix) {
            q3_K_imx(x, b, imatrix + i * QK_K);
        } else {
            q3_K_ref(x, b);
        }
    });
}

size_t quantize_Q4_K_with(const KSearch& search, const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                          const float* imatrix) {
    return for_each_block<block_q4_K>(src, dst, nrows, n_per_row, [&](const float* x, block_q4_K& b, int64_t i) {
        uint8_t L[QK_K];
        const K4Scales s = imatrix ? k4_imx_scales(search, x, 15, imatrix + i * QK_K, L)
                                   : k4_ref_scales(search, x, 15, -1.f, 0.1f, 20, L);
        store_q4_K(x, s, L, b);
    });
}

size_t quantize_Q5_K_with(const KSearch& search, const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                          const float* imatrix) {
    return for_each_block<block_q5_K>(src, dst, nrows, n_per_row, [&](const float* x, block_q5_K& b, int64_t i) {
        uint8_t L[QK_K];
        const K4Scales s = imatrix ? k4_imx_scales(search, x, 31, imatrix + i * QK_K, L)
                                   : k4_ref_scales(search, x, 31, -0.5f, 0.1f, 15, L);
        store_q5_K(x, s, L, b);
    });
}

size_t quantize_Q6_K_with(const KSearch& search, const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                          const float* imatrix) {
    return for_each_block<block_q6_K>(src, dst, nrows, n_per_row, [&](const float* x, block_q6_K& b, int64_t i) {
        q6_K_block(search, x, b, imatrix ? imatrix + i * QK_K : nullptr);
    });
}

size_t quantize_Q4_K(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
    return quantize_Q4_K_with(kSearchRef, src, dst, nrows, n_per_row, imatrix);
}
size_t quantize_Q5_K(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
    return quantize_Q5_K_with(kSearchRef, src, dst, nrows, n_per_row, imatrix);
}
size_t quantize_Q6_K(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
    return quantize_Q6_K_with(kSearchRef, src, dst, nrows, n_per_row, imatrix);
}

size_t quantize_Q8_K(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* /*imatrix*/) {
    return for_each_block<block_q8_K>(src, dst, nrows, n_per_row,
                                      [&](const float* x, block_q8_K& b, int64_t) { q8_K_block(x, b); });
}

// Dequantizers: per element, the same float expression as ggml's dequantize_row_<t>.

void dequantize_row_Q2_K(const void* src, float* dst, int64_t n) {
    EDGEQ_CHECK(n % QK_K == 0);
    const auto* blocks = static_cast<const block_q2_K*>(src);
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const block_q2_K& b = blocks[i];
        const float d = fp16_to_f32(b.d), dmin = fp16_to_f32(b.dmin);
        float* y = dst + i * QK_K;
        for (int e = 0; e < QK_K; ++e) {
            const uint8_t sc = b.scales[e / 16];
            const float dl = d * (sc & 0xF), ml = dmin * (sc >> 4);
            y[e] = dl * unpack_2bit(b.qs, e) - ml;
        }
    }
}

void dequantize_row_Q3_K(const void* src, float* dst, int64_t n) {
    EDGEQ_CHECK(n % QK_K == 0);
    const auto* blocks = static_cast<const block_q3_K*>(src);
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const block_q3_K& b = blocks[i];
        const float d_all = fp16_to_f32(b.d);
        float* y = dst + i * QK_K;
        for (int e = 0; e < QK_K; ++e) {
            const float dl = d_all * unpack_scale_q3(b.scales, e / 16);
            const int q = unpack_2bit(b.qs, e) - ((b.hmask[e % 32] >> (e / 32)) & 1 ? 0 : 4);
            y[e] = dl * q;
        }
    }
}

void dequantize_row_Q4_K(const void* src, float* dst, int64_t n) {
    EDGEQ_CHECK(n % QK_K == 0);
    const auto* blocks = static_cast<const block_q4_K*>(src);
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const block_q4_K& b = blocks[i];
        const float d = fp16_to_f32(b.d), dmin = fp16_to_f32(b.dmin);
        float* y = dst + i * QK_K;
        for (int j = 0; j < QK_K / 32; ++j) {
            uint8_t sc, m;
            unpack_scale_min_k4(j, b.scales, sc, m);
            const float dl = d * sc, ml = dmin * m;
            for (int l = 0; l < 32; ++l) y[32 * j + l] = dl * unpack_4bit(b.qs, 32 * j + l) - ml;
        }
    }
}

void dequantize_row_Q5_K(const void* src, float* dst, int64_t n) {
    EDGEQ_CHECK(n % QK_K == 0);
    const auto* blocks = static_cast<const block_q5_K*>(src);
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const block_q5_K& b = blocks[i];
        const float d = fp16_to_f32(b.d), dmin = fp16_to_f32(b.dmin);
        float* y = dst + i * QK_K;
        for (int j = 0; j < QK_K / 32; ++j) {
            uint8_t sc, m;
            unpack_scale_min_k4(j, b.scales, sc, m);
            const float dl = d * sc, ml = dmin * m;
            for (int l = 0; l < 32; ++l) {
                const int e = 32 * j + l;
                const int q = unpack_4bit(b.qs, e) + ((b.qh[l] >> j) & 1 ? 16 : 0);
                y[e] = dl * q - ml;
            }
        }
    }
}

void dequantize_row_Q6_K(const void* src, float* dst, int64_t n) {
    EDGEQ_CHECK(n % QK_K == 0);
    const auto* blocks = static_cast<const block_q6_K*>(src);
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const block_q6_K& b = blocks[i];
        const float d = fp16_to_f32(b.d);
        float* y = dst + i * QK_K;
        for (int e = 0; e < QK_K; ++e) {
            const int h = e / 128, r = (e % 128) / 32, l = e % 32;
            const int lo = (b.ql[h * 64 + l + 32 * (r & 1)] >> (4 * (r >> 1))) & 0xF;
            const int hi = (b.qh[h * 32 + l] >> (2 * r)) & 3;
            y[e] = d * b.scales[e / 16] * ((lo | (hi << 4)) - 32);
        }
    }
}

void dequantize_row_Q8_K(const void* src, float* dst, int64_t n) {
    EDGEQ_CHECK(n % QK_K == 0);
    const auto* blocks = static_cast<const block_q8_K*>(src);
    for (int64_t i = 0; i < n / QK_K; ++i) {
        for (int e = 0; e < QK_K; ++e) dst[i * QK_K + e] = blocks[i].d * blocks[i].qs[e];
    }
}

}  // namespace edgeq::quants
