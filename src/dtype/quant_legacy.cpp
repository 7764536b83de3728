// Reference codecs of ggml's 32-wide block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, IQ4_NL) and the
// ternary super-block formats (TQ1_0, TQ2_0), byte-compatible with ggml (llama.cpp 0ad4a86).
// Layouts and rounding rules: docs/formats/ggml-blocks.md; structs: blocks.h.
//
// quantize_<T> follows ggml_quantize_chunk: imatrix == nullptr takes ggml's reference rounding
// (quantize_row_<t>_ref); with an imatrix, Q4_0/Q5_0 use the weighted symmetric search
// (make_qx_quants) and Q4_1/Q5_1 the weighted (scale, min) search (make_qkx3_quants), with weights
// imatrix[j] * sqrt(sigma2 + x[j]^2), sigma2 = mean of x^2 over the row. IQ4_NL always runs its own
// weighted search (weights x^2 without an imatrix). Q8_0, Q8_1, TQ1_0, TQ2_0 ignore the imatrix.
// Bit-exactness with ggml depends on the arithmetic order below (and -ffp-contract=off): keep it.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "core/fp16.h"
#include "dtype/blocks.h"
#include "dtype/quant_common.h"
#include "dtype/quants.h"

namespace edgeq::quants {
namespace {

// Index of the entry of the sorted table val[0..n) nearest to x (n a power of two); a tie goes to the
// upper entry. Exact: compares 2x with the integer sum of neighbours, as ggml's best_index_int8.
inline int best_index_int8(int n, const int8_t* val, float x) {
    const float x2 = x + x;
    int idx = 0;
    for (int step = n >> 1; step > 0; step >>= 1) {
        const int j = idx + step;
        idx = (x2 >= static_cast<float>(val[j - 1] + val[j])) ? j : idx;
    }
    return idx;
}

// sigma2 of the weighted paths: mean of x^2 over the row (sequential float sum, as ggml).
inline float row_sigma2(const float* x, int64_t n) {
    float sum_x2 = 0;
    for (int64_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
    return sum_x2 / static_cast<float>(n);
}

inline void row_weights(const float* xb, const float* qw, float sigma2, float* w, int n) {
    for (int j = 0; j < n; ++j) w[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
}

// Packs 32 five-bit values: low nibbles as Q4 (j | j+16 << 4), fifth bits into qh (bit j = element j).
inline void pack_q5(const uint8_t* L, uint8_t* qs, uint8_t* qh_out) {
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
        const uint8_t xi0 = L[j], xi1 = L[j + 16];
        qs[j] = static_cast<uint8_t>((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
        qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
        qh |= ((xi1 & 0x10u) >> 4) << (j + 16);
    }
    std::memcpy(qh_out, &qh, sizeof(qh));
}

// ---- reference (no imatrix) rows ----

// Signed-max scale: d = max / -2^(bits-1) where max is the entry of largest magnitude (with its
// sign), so that entry maps exactly to the most negative level; q = trunc(x/d + 2^(bits-1) + 0.5).
void q4_0_ref(const float* x, block_q4_0* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += QK4_0) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK4_0; ++j) {
            if (amax < std::fabs(x[j])) {
                amax = std::fabs(x[j]);
                max = x[j];
            }
        }
        const float d = max / -8;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f32_to_fp16(d);
        for (int j = 0; j < QK4_0 / 2; ++j) {
            const float x0 = x[j] * id, x1 = x[QK4_0 / 2 + j] * id;
            const uint8_t xi0 = static_cast<uint8_t>(std::min(15, static_cast<int>(static_cast<int8_t>(trunc_i32_x86(x0 + 8.5f)))));
            const uint8_t xi1 = static_cast<uint8_t>(std::min(15, static_cast<int>(static_cast<int8_t>(trunc_i32_x86(x1 + 8.5f)))));
            y[i].qs[j] = static_cast<uint8_t>(xi0 | (xi1 << 4));
        }
    }
}

void q5_0_ref(const float* x, block_q5_0* y, int64_t nb) {
    uint8_t L[QK5_0];
    for (int64_t i = 0; i < nb; ++i, x += QK5_0) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK5_0; ++j) {
            if (amax < std::fabs(x[j])) {
                amax = std::fabs(x[j]);
                max = x[j];
            }
        }
        const float d = max / -16;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f32_to_fp16(d);
        for (int j = 0; j < QK5_0; ++j) {
            L[j] = static_cast<uint8_t>(std::min(31, static_cast<int>(static_cast<int8_t>(trunc_i32_x86(x[j] * id + 16.5f)))));
        }
        pack_q5(L, y[i].qs, y[i].qh);
    }
}

// Min/max affine: d = (max - min) / (2^bits - 1), m = min, q = trunc((x - min)/d + 0.5).
void q4_1_ref(const float* x, block_q4_1* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += QK4_1) {
        float min = x[0], max = x[0];
        for (int j = 1; j < QK4_1; ++j) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        const float d = (max - min) / 15;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f32_to_fp16(d);
        y[i].m = f32_to_fp16(min);
        for (int j = 0; j < QK4_1 / 2; ++j) {
            const float x0 = (x[j] - min) * id, x1 = (x[QK4_1 / 2 + j] - min) * id;
            const uint8_t xi0 = static_cast<uint8_t>(std::min(15, static_cast<int>(static_cast<int8_t>(trunc_i32_x86(x0 + 0.5f)))));
            const uint8_t xi1 = static_cast<uint8_t>(std::min(15, static_cast<int>(static_cast<int8_t>(trunc_i32_x86(x1 + 0.5f)))));
            y[i].qs[j] = static_cast<uint8_t>(xi0 | (xi1 << 4));
        }
    }
}

void q5_1_ref(const float* x, block_q5_1* y, int64_t nb) {
    uint8_t L[QK5_1];
    for (int64_t i = 0; i < nb; ++i, x += QK5_1) {
        float min = x[0], max = x[0];
        for (int j = 1; j < QK5_1; ++j) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        const float d = (max - min) / 31;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f32_to_fp16(d);
        y[i].m = f32_to_fp16(min);
        for (int j = 0; j < QK5_1; ++j) L[j] = static_cast<uint8_t>(trunc_i32_x86((x[j] - min) * id + 0.5f));
        pack_q5(L, y[i].qs, y[i].qh);
    }
}

// Symmetric 8-bit: d = amax/127, q = round-half-away(x/d).
void q8_0_ref(const float* x, block_q8_0* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += QK8_0) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / 127;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f32_to_fp16(d);
        for (int j = 0; j < QK8_0; ++j) y[i].qs[j] = static_cast<int8_t>(trunc_i32_x86(std::round(x[j] * id)));
    }
}

void q8_1_ref(const float* x, block_q8_1* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += QK8_1) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_1; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / 127;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f32_to_fp16(d);
        int sum = 0;
        for (int j = 0; j < QK8_1 / 2; ++j) {
            y[i].qs[j] = static_cast<int8_t>(trunc_i32_x86(std::round(x[j] * id)));
            y[i].qs[QK8_1 / 2 + j] = static_cast<int8_t>(trunc_i32_x86(std::round(x[QK8_1 / 2 + j] * id)));
            sum += y[i].qs[j];
            sum += y[i].qs[QK8_1 / 2 + j];
        }
        y[i].s = f32_to_fp16(static_cast<float>(sum) * d);
    }
}

// ---- IQ4_NL: one 32-block of ggml's quantize_row_iq4_nl_impl (super block = block = 32, ntry = 7).
// weight: imatrix[j]*sqrt(sigma2 + x^2) with sigma2 = 2*mean(x^2) over the block, or x^2 without.
// Start at d = -max/values[0], fit d by weighted least squares, try 15 inverse scales
// (itry + values[0])/max, keep the best; the fp16 d is stored, indices chosen with the float scale.
void iq4_nl_block(const float* x, block_iq4_nl* y, const float* qw) {
    constexpr int kN = QK4_NL, kTry = 7;
    const int8_t* values = kvalues_iq4nl;
    float weight[kN];
    uint8_t L[kN];

    float sigma2 = 0;
    for (int j = 0; j < kN; ++j) sigma2 += x[j] * x[j];
    sigma2 *= 2.f / kN;

    if (qw) {
        for (int j = 0; j < kN; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + x[j] * x[j]);
    } else {
        for (int j = 0; j < kN; ++j) weight[j] = x[j] * x[j];
    }
    float amax = 0, max = 0;
    for (int j = 0; j < kN; ++j) {
        const float ax = std::fabs(x[j]);
        if (ax > amax) {
            amax = ax;
            max = x[j];
        }
    }
    float scale = 0;
    if (amax >= kGroupMaxEps) {
        float d = -max / values[0];
        float id = 1 / d;
        float sumqx = 0, sumq2 = 0;
        for (int j = 0; j < kN; ++j) {
            const int l = best_index_int8(16, values, id * x[j]);
            const float q = values[l];
            const float w = weight[j];
            sumqx += w * q * x[j];
            sumq2 += w * q * q;
        }
        d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
        float best = d * sumqx;
        for (int itry = -kTry; itry <= kTry; ++itry) {
            id = static_cast<float>(itry + values[0]) / max;
            sumqx = sumq2 = 0;
            for (int j = 0; j < kN; ++j) {
                const int l = best_index_int8(16, values, id * x[j]);
                const float q = values[l];
                const float w = weight[j];
                sumqx += w * q * x[j];
                sumq2 += w * q * q;
            }
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                d = sumqx / sumq2;
                best = d * sumqx;
            }
        }
        scale = d;
    }
    y->d = f32_to_fp16(scale);
    const float id = scale != 0.0f ? 1 / scale : 0;
    for (int j = 0; j < kN; ++j) L[j] = static_cast<uint8_t>(best_index_int8(16, values, id * x[j]));
    for (int j = 0; j < kN / 2; ++j) y->qs[j] = static_cast<uint8_t>(L[j] | (L[j + kN / 2] << 4));
}

// ---- ternary: d = amax over the 256-block, q = round-half-away(x/d) in {-1, 0, 1} stored as q+1.
inline int trit(float v, float id) { return static_cast<int>(std::lround(v * id)) + 1; }

// TQ1_0: 5 trits per byte in qs (the first 32 bytes cover elements 0..159 as x[m + 32n], the next 16
// bytes elements 160..239 as x[160 + m + 16n]), 4 trits per byte in qh (elements 240..255 as
// x[240 + j + 4m]). A byte holds the base-3 number t0 t1 t2 t3 t4 (t0 most significant) scaled to
// ceil(v * 256 / 243), so that trit n is ((uint8_t)(byte * 3^n) * 3) >> 8.
void tq1_0_ref(const float* x, block_tq1_0* y, int64_t nb) {
    constexpr size_t kQs = sizeof(block_tq1_0::qs), kQh = sizeof(block_tq1_0::qh);
    for (int64_t i = 0; i < nb; ++i) {
        float amax = 0.0f;
        for (int j = 0; j < QK_K; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f32_to_fp16(d);
        for (size_t j = 0; j < kQs - kQs % 32; j += 32) {
            for (size_t m = 0; m < 32; ++m) {
                unsigned q = 0;
                for (size_t n = 0; n < 5; ++n) q = q * 3 + static_cast<unsigned>(trit(x[m + n * 32], id));
                y[i].qs[j + m] = static_cast<uint8_t>((q * 256 + (243 - 1)) / 243);
            }
            x += 5 * 32;
        }
        for (size_t j = kQs - kQs % 32; j < kQs; j += 16) {
            for (size_t m = 0; m < 16; ++m) {
                unsigned q = 0;
                for (size_t n = 0; n < 5; ++n) q = q * 3 + static_cast<unsigned>(trit(x[m + n * 16], id));
                y[i].qs[j + m] = static_cast<uint8_t>((q * 256 + (243 - 1)) / 243);
            }
            x += 5 * 16;
        }
        for (size_t j = 0; j < kQh; ++j) {
            unsigned q = 0;
            for (size_t m = 0; m < 4; ++m) q = q * 3 + static_cast<unsigned>(trit(x[j + m * kQh], id));
            q *= 3;  // the first value goes to the most significant of 5 trit positions
            y[i].qh[j] = static_cast<uint8_t>((q * 256 + (243 - 1)) / 243);
        }
        x += 4 * kQh;
    }
}

// TQ2_0: 2 bits per element; byte m of the 32-byte group g holds q+1 of x[128g + m + 32n] in bits
// 2n..2n+1, n = 0..3.
void tq2_0_ref(const float* x, block_tq2_0* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i) {
        float amax = 0.0f;
        for (int j = 0; j < QK_K; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f32_to_fp16(d);
        for (size_t j = 0; j < sizeof(y->qs); j += 32) {
            for (size_t m = 0; m < 32; ++m) {
                unsigned q = 0;
                for (size_t n = 0; n < 4; ++n) q += static_cast<unsigned>(trit(x[m + n * 32], id) & 3) << (2 * n);
                y[i].qs[j + m] = static_cast<uint8_t>(q);
            }
            x += 4 * 32;
        }
    }
}

template <typename Block>
inline size_t row_bytes(int64_t n_per_row, int qk) {
    return static_cast<size_t>(n_per_row / qk) * sizeof(Block);
}

}  // namespace

// ---------------------------------------------------------------- Q4_0
size_t quantize_Q4_0(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
    EDGEQ_CHECK(n_per_row % QK4_0 == 0);
    const int64_t nb = n_per_row / QK4_0;
    auto* y = static_cast<block_q4_0*>(dst);
    if (!imatrix) {
        q4_0_ref(src, y, nrows * nb);
    } else {
        float weight[QK4_0];
        int8_t L[QK4_0];
        for (int64_t r = 0; r < nrows; ++r, src += n_per_row, y += nb) {
            const float sigma2 = row_sigma2(src, n_per_row);
            for (int64_t ib = 0; ib < nb; ++ib) {
                const float* xb = src + QK4_0 * ib;
                row_weights(xb, imatrix + QK4_0 * ib, sigma2, weight, QK4_0);
                const float d = make_qx_quants(QK4_0, 8, xb, L, 1, weight);
                y[ib].d = f32_to_fp16(d);
                for (int j = 0; j < 16; ++j) y[ib].qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
            }
        }
    }
    return static_cast<size_t>(nrows) * row_bytes<block_q4_0>(n_per_row, QK4_0);
}

void dequantize_row_Q4_0(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const block_q4_0*>(src);
    for (int64_t i = 0; i < n / QK4_0; ++i, dst += QK4_0) {
        const float d = fp16_to_f32(x[i].d);
        for (int j = 0; j < QK4_0 / 2; ++j) {
            dst[j] = static_cast<float>((x[i].qs[j] & 0x0F) - 8) * d;
            dst[j + QK4_0 / 2] = static_cast<float>((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

// ---------------------------------------------------------------- Q4_1
size_t quantize_Q4_1(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
    EDGEQ_CHECK(n_per_row % QK4_1 == 0);
    const int64_t nb = n_per_row / QK4_1;
    auto* y = static_cast<block_q4_1*>(dst);
    if (!imatrix) {
        q4_1_ref(src, y, nrows * nb);
    } else {
        float weight[QK4_1];
        uint8_t L[QK4_1], Laux[QK4_1];
        for (int64_t r = 0; r < nrows; ++r, src += n_per_row, y += nb) {
            const float sigma2 = row_sigma2(src, n_per_row);
            for (int64_t ib = 0; ib < nb; ++ib) {
                const float* xb = src + QK4_1 * ib;
                row_weights(xb, imatrix + QK4_1 * ib, sigma2, weight, QK4_1);
                float min = 0;
                const float d = make_qkx3_quants(QK4_1, 15, xb, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
                y[ib].d = f32_to_fp16(d);
                y[ib].m = f32_to_fp16(-min);
                for (int j = 0; j < 16; ++j) y[ib].qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
            }
        }
    }
    return static_cast<size_t>(nrows) * row_bytes<block_q4_1>(n_per_row, QK4_1);
}

void dequantize_row_Q4_1(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const block_q4_1*>(src);
    for (int64_t i = 0; i < n / QK4_1; ++i, dst += QK4_1) {
        const float d = fp16_to_f32(x[i].d), m = fp16_to_f32(x[i].m);
        for (int j = 0; j < QK4_1 / 2; ++j) {
            dst[j] = static_cast<float>(x[i].qs[j] & 0x0F) * d + m;
            dst[j + QK4_1 / 2] = static_cast<float>(x[i].qs[j] >> 4) * d + m;
        }
    }
}

// ---------------------------------------------------------------- Q5_0
size_t quantize_Q5_0(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
    EDGEQ_CHECK(n_per_row % QK5_0 == 0);
    const int64_t nb = n_per_row / QK5_0;
    auto* y = static_cast<block_q5_0*>(dst);
    if (!imatrix) {
        q5_0_ref(src, y, nrows * nb);
    } else {
        float weight[QK5_0];
        int8_t L[QK5_0];
        uint8_t U[QK5_0];
        for (int64_t r = 0; r < nrows; ++r, src += n_per_row, y += nb) {
            const float sigma2 = row_sigma2(src, n_per_row);
            for (int64_t ib = 0; ib < nb; ++ib) {
                const float* xb = src + QK5_0 * ib;
                row_weights(xb, imatrix + QK5_0 * ib, sigma2, weight, QK5_0);
                const float d = make_qx_quants(QK5_0, 16, xb, L, 1, weight);
                y[ib].d = f32_to_fp16(d);
                for (int j = 0; j < QK5_0; ++j) U[j] = static_cast<uint8_t>(L[j]);
                pack_q5(U, y[ib].qs, y[ib].qh);
            }
        }
    }
    return static_cast<size_t>(nrows) * row_bytes<block_q5_0>(n_per_row, QK5_0);
}

void dequantize_row_Q5_0(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const block_q5_0*>(src);
    for (int64_t i = 0; i < n / QK5_0; ++i, dst += QK5_0) {
        const float d = fp16_to_f32(x[i].d);
        uint32_t qh;
        std::memcpy(&qh, x[i].qh, sizeof(qh));
        for (int j = 0; j < QK5_0 / 2; ++j) {
            const int xh0 = static_cast<int>(((qh >> j) << 4) & 0x10);
            const int xh1 = static_cast<int>((qh >> (j + 12)) & 0x10);
            dst[j] = static_cast<float>(((x[i].qs[j] & 0x0F) | xh0) - 16) * d;
            dst[j + QK5_0 / 2] = static_cast<float>(((x[i].qs[j] >> 4) | xh1) - 16) * d;
        }
    }
}

// ---------------------------------------------------------------- Q5_1
size_t quantize_Q5_1(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
    EDGEQ_CHECK(n_per_row % QK5_1 == 0);
    const int64_t nb = n_per_row / QK5_1;
    auto* y = static_cast<block_q5_1*>(dst);
    if (!imatrix) {
        q5_1_ref(src, y, nrows * nb);
    } else {
        float weight[QK5_1];
        uint8_t L[QK5_1], Laux[QK5_1];
        for (int64_t r = 0; r < nrows; ++r, src += n_per_row, y += nb) {
            const float sigma2 = row_sigma2(src, n_per_row);
            for (int64_t ib = 0; ib < nb; ++ib) {
                const float* xb = src + QK5_1 * ib;
                row_weights(xb, imatrix + QK5_1 * ib, sigma2, weight, QK5_1);
                float min = 0;
                const float d = make_qkx3_quants(QK5_1, 31, xb, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
                y[ib].d = f32_to_fp16(d);
                y[ib].m = f32_to_fp16(-min);
                pack_q5(L, y[ib].qs, y[ib].qh);
            }
        }
    }
    return static_cast<size_t>(nrows) * row_bytes<block_q5_1>(n_per_row, QK5_1);
}

void dequantize_row_Q5_1(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const block_q5_1*>(src);
    for (int64_t i = 0; i < n / QK5_1; ++i, dst += QK5_1) {
        const float d = fp16_to_f32(x[i].d), m = fp16_to_f32(x[i].m);
        uint32_t qh;
        std::memcpy(&qh, x[i].qh, sizeof(qh));
        for (int j = 0; j < QK5_1 / 2; ++j) {
            const int xh0 = static_cast<int>(((qh >> j) << 4) & 0x10);
            const int xh1 = static_cast<int>((qh >> (j + 12)) & 0x10);
            dst[j] = static_cast<float>((x[i].qs[j] & 0x0F) | xh0) * d + m;
            dst[j + QK5_1 / 2] = static_cast<float>((x[i].qs[j] >> 4) | xh1) * d + m;
        }
    }
}

// ---------------------------------------------------------------- Q8_0 / Q8_1
size_t quantize_Q8_0(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float*) {
    EDGEQ_CHECK(n_per_row % QK8_0 == 0);
    q8_0_ref(src, static_cast<block_q8_0*>(dst), nrows * (n_per_row / QK8_0));
    return static_cast<size_t>(nrows) * row_bytes<block_q8_0>(n_per_row, QK8_0);
}

void dequantize_row_Q8_0(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const block_q8_0*>(src);
    for (int64_t i = 0; i < n / QK8_0; ++i, dst += QK8_0) {
        const float d = fp16_to_f32(x[i].d);
        for (int j = 0; j < QK8_0; ++j) dst[j] = static_cast<float>(x[i].qs[j]) * d;
    }
}

// Q8_1 is ggml's activation partner of Q4_1/Q5_1 (ggml_quantize_chunk does not take it; this is the
// row reference quantize_row_q8_1_ref). s = fp16(d * sum(qs)).
size_t quantize_Q8_1(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float*) {
    EDGEQ_CHECK(n_per_row % QK8_1 == 0);
    q8_1_ref(src, static_cast<block_q8_1*>(dst), nrows * (n_per_row / QK8_1));
    return static_cast<size_t>(nrows) * row_bytes<block_q8_1>(n_per_row, QK8_1);
}

void dequantize_row_Q8_1(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const block_q8_1*>(src);
    for (int64_t i = 0; i < n / QK8_1; ++i, dst += QK8_1) {
        const float d = fp16_to_f32(x[i].d);
        for (int j = 0; j < QK8_1; ++j) dst[j] = static_cast<float>(x[i].qs[j]) * d;
    }
}

// ---------------------------------------------------------------- IQ4_NL
size_t quantize_IQ4_NL(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
    EDGEQ_CHECK(n_per_row % QK4_NL == 0);
    const int64_t nb = n_per_row / QK4_NL;
    auto* y = static_cast<block_iq4_nl*>(dst);
    for (int64_t r = 0; r < nrows; ++r, src += n_per_row, y += nb) {
        for (int64_t ib = 0; ib < nb; ++ib) {
            iq4_nl_block(src + QK4_NL * ib, y + ib, imatrix ? imatrix + QK4_NL * ib : nullptr);
        }
    }
    return static_cast<size_t>(nrows) * row_bytes<block_iq4_nl>(n_per_row, QK4_NL);
}

void dequantize_row_IQ4_NL(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const block_iq4_nl*>(src);
    for (int64_t i = 0; i < n / QK4_NL; ++i, dst += QK4_NL) {
        const float d = fp16_to_f32(x[i].d);
        for (int j = 0; j < QK4_NL / 2; ++j) {
            dst[j] = d * static_cast<float>(kvalues_iq4nl[x[i].qs[j] & 0xf]);
            dst[j + QK4_NL / 2] = d * static_cast<float>(kvalues_iq4nl[x[i].qs[j] >> 4]);
        }
    }
}

// ---------------------------------------------------------------- TQ1_0 / TQ2_0
size_t quantize_TQ1_0(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float*) {
    EDGEQ_CHECK(n_per_row % QK_K == 0);
    tq1_0_ref(src, static_cast<block_tq1_0*>(dst), nrows * (n_per_row / QK_K));
    return static_cast<size_t>(nrows) * row_bytes<block_tq1_0>(n_per_row, QK_K);
}

void dequantize_row_TQ1_0(const void* src, float* dst, int64_t n) {
    constexpr size_t kQs = sizeof(block_tq1_0::qs), kQh = sizeof(block_tq1_0::qh);
    constexpr uint8_t pow3[6] = {1, 3, 9, 27, 81, 243};
    const auto* x = static_cast<const block_tq1_0*>(src);
    auto trit_of = [](uint8_t byte, uint8_t p) {
        const uint8_t q = static_cast<uint8_t>(byte * p);
        return static_cast<float>(((static_cast<uint16_t>(q) * 3) >> 8) - 1);
    };
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = fp16_to_f32(x[i].d);
        for (size_t j = 0; j < kQs - kQs % 32; j += 32)
            for (size_t k = 0; k < 5; ++k)
                for (size_t m = 0; m < 32; ++m) *dst++ = trit_of(x[i].qs[j + m], pow3[k]) * d;
        for (size_t j = kQs - kQs % 32; j < kQs; j += 16)
            for (size_t k = 0; k < 5; ++k)
                for (size_t m = 0; m < 16; ++m) *dst++ = trit_of(x[i].qs[j + m], pow3[k]) * d;
        for (size_t k = 0; k < 4; ++k)
            for (size_t j = 0; j < kQh; ++j) *dst++ = trit_of(x[i].qh[j], pow3[k]) * d;
    }
}

size_t quantize_TQ2_0(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float*) {
    EDGEQ_CHECK(n_per_row % QK_K == 0);
    tq2_0_ref(src, static_cast<block_tq2_0*>(dst), nrows * (n_per_row / QK_K));
    return static_cast<size_t>(nrows) * row_bytes<block_tq2_0>(n_per_row, QK_K);
}

void dequantize_row_TQ2_0(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const block_tq2_0*>(src);
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = fp16_to_f32(x[i].d);
        for (size_t j = 0; j < sizeof(x->qs); j += 32)
            for (size_t l = 0; l < 4; ++l)
                for (size_t m = 0; m < 32; ++m)
                    *dst++ = static_cast<float>(((x[i].qs[j + m] >> (l * 2)) & 3) - 1) * d;
    }
}

}  // namespace edgeq::quants
