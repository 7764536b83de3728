// Reference dot products (ggml's generic C order) and llama.cpp's x86 activation quantizers; the dispatch table.
#include "dtype/vec_dot.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "core/check.h"
#include "core/fp16.h"
#include "dtype/blocks.h"
#include "dtype/quant_common.h"
#include "dtype/quants.h"

namespace edgeq {
namespace vdot {
// Optimized rows (dtype/x86/vec_dot_avx2.cpp, vec_dot_avx512.cpp, vec_dot_avx512vnni.cpp).
float q8_0_q8_0_avx2(int64_t, const void*, const void*);
float q8_0_q8_0_x86_avx2(int64_t, const void*, const void*);
float q4_0_q8_0_avx2(int64_t, const void*, const void*);
float q4_K_q8_K_avx2(int64_t, const void*, const void*);
float q5_K_q8_K_avx2(int64_t, const void*, const void*);
float q6_K_q8_K_avx2(int64_t, const void*, const void*);
float q5_0_q8_0_avx2(int64_t, const void*, const void*);
float q5_0_q8_0_avx512vnni(int64_t, const void*, const void*);
float iq4_nl_q8_0_avx2(int64_t, const void*, const void*);
float iq4_nl_q8_0_avx512vnni(int64_t, const void*, const void*);
float q4_1_q8_1_avx2(int64_t, const void*, const void*);
float q4_1_q8_1_avx512vnni(int64_t, const void*, const void*);
float q5_1_q8_1_avx2(int64_t, const void*, const void*);
float q5_1_q8_1_avx512vnni(int64_t, const void*, const void*);
float q2_K_q8_K_avx2(int64_t, const void*, const void*);
float q3_K_q8_K_avx2(int64_t, const void*, const void*);  // dtype/x86/vec_dot_q3k_avx2.cpp
float tq2_0_q8_K_avx2(int64_t, const void*, const void*);
float q4_K_q8_K_avx512(int64_t, const void*, const void*);
void quantize_q8_K_avx512(const float* x, void* dst, int64_t n);
void quantize_q8_0_avx512(const float* x, void* dst, int64_t n, bool q81);
float q5_K_q8_K_avx512(int64_t, const void*, const void*);
float q6_K_q8_K_avx512(int64_t, const void*, const void*);
float q8_0_q8_0_avx512vnni(int64_t, const void*, const void*);
float q4_0_q8_0_avx512vnni(int64_t, const void*, const void*);
// llama.cpp's x86 orders for the super-block types and the repacked matrices (dtype/vec_dot_x86_order.cpp, scalar).
float q2_K_q8_K_x86_ref(int64_t, const void*, const void*);
float q3_K_q8_K_x86_ref(int64_t, const void*, const void*);
float q4_K_q8_K_x86_ref(int64_t, const void*, const void*);
float q5_K_q8_K_x86_ref(int64_t, const void*, const void*);
float q6_K_q8_K_x86_ref(int64_t, const void*, const void*);
float tq2_0_q8_K_x86_ref(int64_t, const void*, const void*);
float q4_0_q8_0_x86_repacked(int64_t, const void*, const void*);
float iq4_nl_q8_0_x86_repacked(int64_t, const void*, const void*);
float q4_K_q8_K_x86_gemm4(int64_t, const void*, const void*);
float q4_K_q8_K_x86_gemv(int64_t, const void*, const void*);
float q2_K_q8_K_x86_gemm4(int64_t, const void*, const void*);
float q2_K_q8_K_x86_gemv(int64_t, const void*, const void*);
// Tiles (same units).
#define EDGEQ_TILE_DECL(name) \
    void name(int64_t, const void*, size_t, int64_t, const void*, size_t, int64_t, float*, size_t);
EDGEQ_TILE_DECL(q8_0_q8_0_tile_avx2)
EDGEQ_TILE_DECL(q4_0_q8_0_tile_avx2)
EDGEQ_TILE_DECL(q5_0_q8_0_tile_avx2)
EDGEQ_TILE_DECL(iq4_nl_q8_0_tile_avx2)
EDGEQ_TILE_DECL(q4_1_q8_1_tile_avx2)
EDGEQ_TILE_DECL(q5_1_q8_1_tile_avx2)
EDGEQ_TILE_DECL(q8_0_q8_0_tile_avx512vnni)
EDGEQ_TILE_DECL(q4_0_q8_0_tile_avx512vnni)
EDGEQ_TILE_DECL(q5_0_q8_0_tile_avx512vnni)
EDGEQ_TILE_DECL(iq4_nl_q8_0_tile_avx512vnni)
EDGEQ_TILE_DECL(q4_1_q8_1_tile_avx512vnni)
EDGEQ_TILE_DECL(q5_1_q8_1_tile_avx512vnni)
EDGEQ_TILE_DECL(q4_K_q8_K_tile_avx2)
EDGEQ_TILE_DECL(q5_K_q8_K_tile_avx2)
EDGEQ_TILE_DECL(q6_K_q8_K_tile_avx2)
EDGEQ_TILE_DECL(q4_K_q8_K_tile_avx512)
EDGEQ_TILE_DECL(q5_K_q8_K_tile_avx512)
EDGEQ_TILE_DECL(q6_K_q8_K_tile_avx512)
#undef EDGEQ_TILE_DECL
}  // namespace vdot

namespace {

float h2f(fp16_t h) { return fp16_to_f32(h); }

// ---- activation quantizers --------------------------------------------------------------------------

// llama.cpp's x86 quantize_row_q8_0 / quantize_row_q8_1 (AVX path): one float multiply by 127/amax, then
// round half to even.
template <bool kQ81>
void q8_x86(const float* x, void* dst, int64_t n) {
    EDGEQ_CHECK(n % QK8_0 == 0);
    for (int64_t i = 0; i < n / QK8_0; ++i, x += QK8_0) {
        float amax = 0.0f;
        // std::max, not std::fmax: the same value for every input (amax starts at 0, and a NaN |x| leaves it as
        // fmax does), but it vectorizes instead of calling fmaxf per element.
        for (int j = 0; j < QK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / 127.f;
        const float id = amax != 0.0f ? 127.f / amax : 0.0f;
        int8_t* qs;
        if constexpr (kQ81) {
            auto& b = static_cast<block_q8_1*>(dst)[i];
            b.d = f32_to_fp16(d);
            qs = b.qs;
        } else {
            auto& b = static_cast<block_q8_0*>(dst)[i];
            b.d = f32_to_fp16(d);
            qs = b.qs;
        }
        int sum = 0;
        for (int j = 0; j < QK8_0; ++j) {
            const float v = x[j] * id;
            qs[j] = static_cast<int8_t>(quants::nearest_int(v));
            sum += qs[j];
        }
        if constexpr (kQ81) static_cast<block_q8_1*>(dst)[i].s = f32_to_fp16(d * static_cast<float>(sum));
    }
}

// ---- reference dot products: ggml_vec_dot_<w>_<a>_generic ------------------------------------------

float dot_f32(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const float*>(w);
    const auto* y = static_cast<const float*>(a);
    double s = 0.0;
    for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * static_cast<double>(y[i]);
    return static_cast<float>(s);
}

float dot_f16(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const fp16_t*>(w);
    const auto* y = static_cast<const fp16_t*>(a);
    double s = 0.0;  // ggml_float; each fp16 x fp16 product is exact in float
    for (int64_t i = 0; i < n; ++i) s += static_cast<double>(h2f(x[i]) * h2f(y[i]));
    return static_cast<float>(s);
}

float dot_bf16(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const bf16_t*>(w);
    const auto* y = static_cast<const bf16_t*>(a);
    double s = 0.0;
    for (int64_t i = 0; i < n; ++i) s += static_cast<double>(bf16_to_f32(x[i]) * bf16_to_f32(y[i]));
    return static_cast<float>(s);
}

float dot_q4_0(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const block_q4_0*>(w);
    const auto* y = static_cast<const block_q8_0*>(a);
    float sumf = 0;
    for (int64_t ib = 0; ib < n / QK8_0; ++ib) {
        int s0 = 0, s1 = 0;
        for (int j = 0; j < QK8_0 / 2; ++j) {
            s0 += ((x[ib].qs[j] & 0x0F) - 8) * y[ib].qs[j];
            s1 += ((x[ib].qs[j] >> 4) - 8) * y[ib].qs[j + QK8_0 / 2];
        }
        sumf += static_cast<float>(s0 + s1) * h2f(x[ib].d) * h2f(y[ib].d);
    }
    return sumf;
}

float dot_q4_1(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const block_q4_1*>(w);
    const auto* y = static_cast<const block_q8_1*>(a);
    float sumf = 0;
    for (int64_t ib = 0; ib < n / QK8_1; ++ib) {
        int s0 = 0, s1 = 0;
        for (int j = 0; j < QK8_1 / 2; ++j) {
            s0 += (x[ib].qs[j] & 0x0F) * y[ib].qs[j];
            s1 += (x[ib].qs[j] >> 4) * y[ib].qs[j + QK8_1 / 2];
        }
        sumf += (h2f(x[ib].d) * h2f(y[ib].d)) * static_cast<float>(s0 + s1) + h2f(x[ib].m) * h2f(y[ib].s);
    }
    return sumf;
}

float dot_q5_0(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const block_q5_0*>(w);
    const auto* y = static_cast<const block_q8_0*>(a);
    float sumf = 0;
    for (int64_t ib = 0; ib < n / QK8_0; ++ib) {
        uint32_t qh;
        std::memcpy(&qh, x[ib].qh, sizeof qh);
        int s0 = 0, s1 = 0;
        for (int j = 0; j < QK8_0 / 2; ++j) {
            const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
            const int h1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
            s0 += (((x[ib].qs[j] & 0x0F) | h0) - 16) * y[ib].qs[j];
            s1 += (((x[ib].qs[j] >> 4) | h1) - 16) * y[ib].qs[j + QK8_0 / 2];
        }
        sumf += (h2f(x[ib].d) * h2f(y[ib].d)) * static_cast<float>(s0 + s1);
    }
    return sumf;
}

float dot_q5_1(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const block_q5_1*>(w);
    const auto* y = static_cast<const block_q8_1*>(a);
    float sumf = 0;
    for (int64_t ib = 0; ib < n / QK8_1; ++ib) {
        uint32_t qh;
        std::memcpy(&qh, x[ib].qh, sizeof qh);
        int s0 = 0, s1 = 0;
        for (int j = 0; j < QK8_1 / 2; ++j) {
            const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
            const int h1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
            s0 += ((x[ib].qs[j] & 0x0F) | h0) * y[ib].qs[j];
            s1 += ((x[ib].qs[j] >> 4) | h1) * y[ib].qs[j + QK8_1 / 2];
        }
        sumf += (h2f(x[ib].d) * h2f(y[ib].d)) * static_cast<float>(s0 + s1) + h2f(x[ib].m) * h2f(y[ib].s);
    }
    return sumf;
}

float dot_q8_0(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const block_q8_0*>(w);
    const auto* y = static_cast<const block_q8_0*>(a);
    float sumf = 0;
    for (int64_t ib = 0; ib < n / QK8_0; ++ib) {
        int s = 0;
        for (int j = 0; j < QK8_0; ++j) s += x[ib].qs[j] * y[ib].qs[j];
        sumf += static_cast<float>(s) * (h2f(x[ib].d) * h2f(y[ib].d));
    }
    return sumf;
}

// llama.cpp's x86 order for the 32-wide types (vec_dot.h vec_dot_x86_ref): the block's 32 integer weights in
// element order, eight int32 lanes of four products, fused into eight float lanes with d = d_w * d_a; Q4_1 / Q5_1
// add m_w * s_a per block to a separate float sum (rounded product, then added) and that sum after hsum_float_8.
template <DType T>
float dot_x86(int64_t n, const void* w, const void* a) {
    constexpr bool kMin = T == DType::Q4_1 || T == DType::Q5_1;
    using Act = std::conditional_t<kMin, block_q8_1, block_q8_0>;
    const auto* y = static_cast<const Act*>(a);
    float acc[8] = {};
    float summs = 0.0f;
    for (int64_t ib = 0; ib < n / 32; ++ib) {
        int q[32];
        float dw = 0.0f, mw = 0.0f;
        if constexpr (T == DType::Q8_0) {
            const auto& b = static_cast<const block_q8_0*>(w)[ib];
            for (int j = 0; j < 32; ++j) q[j] = b.qs[j];
            dw = h2f(b.d);
        } else if constexpr (T == DType::Q4_0 || T == DType::IQ4_NL || T == DType::Q4_1) {
            using B = std::conditional_t<T == DType::Q4_0, block_q4_0,
                                         std::conditional_t<T == DType::IQ4_NL, block_iq4_nl, block_q4_1>>;
            const auto& b = static_cast<const B*>(w)[ib];
            for (int j = 0; j < 16; ++j) {
                const int lo = b.qs[j] & 0x0F, hi = b.qs[j] >> 4;
                if constexpr (T == DType::IQ4_NL) {
                    q[j] = kvalues_iq4nl[lo], q[j + 16] = kvalues_iq4nl[hi];
                } else {
                    const int off = T == DType::Q4_0 ? 8 : 0;
                    q[j] = lo - off, q[j + 16] = hi - off;
                }
            }
            dw = h2f(b.d);
            if constexpr (T == DType::Q4_1) mw = h2f(b.m);
        } else {  // Q5_0, Q5_1
            using B = std::conditional_t<T == DType::Q5_0, block_q5_0, block_q5_1>;
            const auto& b = static_cast<const B*>(w)[ib];
            uint32_t qh;
            std::memcpy(&qh, b.qh, sizeof qh);
            const int off = T == DType::Q5_0 ? 16 : 0;
            for (int j = 0; j < 16; ++j) {
                q[j] = ((b.qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4)) - off;
                q[j + 16] = ((b.qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4)) - off;
            }
            dw = h2f(b.d);
            if constexpr (T == DType::Q5_1) mw = h2f(b.m);
        }
        if constexpr (kMin) summs += mw * h2f(y[ib].s);  // not fused (-ffp-contract=off)
        const float d = dw * h2f(y[ib].d);
        for (int l = 0; l < 8; ++l) {
            int sum = 0;
            for (int j = 4 * l; j < 4 * l + 4; ++j) sum += q[j] * y[ib].qs[j];
            acc[l] = std::fma(d, static_cast<float>(sum), acc[l]);
        }
    }
    float t[4];
    for (int l = 0; l < 4; ++l) t[l] = acc[l + 4] + acc[l];
    const float r = (t[0] + t[2]) + (t[1] + t[3]);
    if constexpr (kMin) return r + summs;
    return r;
}

VecDotFn x86_ref_fn(DType w) {
    switch (w) {
        case DType::Q8_0: return &dot_x86<DType::Q8_0>;
        case DType::Q4_0: return &dot_x86<DType::Q4_0>;
        case DType::Q4_1: return &dot_x86<DType::Q4_1>;
        case DType::Q5_0: return &dot_x86<DType::Q5_0>;
        case DType::Q5_1: return &dot_x86<DType::Q5_1>;
        case DType::IQ4_NL: return &dot_x86<DType::IQ4_NL>;
        case DType::Q2_K: return &vdot::q2_K_q8_K_x86_ref;
        case DType::Q3_K: return &vdot::q3_K_q8_K_x86_ref;
        case DType::Q4_K: return &vdot::q4_K_q8_K_x86_ref;
        case DType::Q5_K: return &vdot::q5_K_q8_K_x86_ref;
        case DType::Q6_K: return &vdot::q6_K_q8_K_x86_ref;
        case DType::TQ2_0: return &vdot::tq2_0_q8_K_x86_ref;
        default: return nullptr;
    }
}

float dot_iq4_nl(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const block_iq4_nl*>(w);
    const auto* y = static_cast<const block_q8_0*>(a);
    float sumf = 0;
    for (int64_t ib = 0; ib < n / QK4_NL; ++ib) {
        const float d = h2f(y[ib].d) * h2f(x[ib].d);
        int s0 = 0, s1 = 0;
        for (int j = 0; j < QK4_NL / 2; ++j) {
            s0 += y[ib].qs[j] * kvalues_iq4nl[x[ib].qs[j] & 0xf];
            s1 += y[ib].qs[j + QK4_NL / 2] * kvalues_iq4nl[x[ib].qs[j] >> 4];
        }
        sumf += d * static_cast<float>(s0 + s1);
    }
    return sumf;
}

float dot_q2_K(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const block_q2_K*>(w);
    const auto* y = static_cast<const block_q8_K*>(a);
    float sumf = 0;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const uint8_t* q2 = x[i].qs;
        const int8_t* q8 = y[i].qs;
        const uint8_t* sc = x[i].scales;
        int summs = 0;
        for (int j = 0; j < 16; ++j) summs += y[i].bsums[j] * (sc[j] >> 4);
        const float dall = y[i].d * h2f(x[i].d);
        const float dmin = y[i].d * h2f(x[i].dmin);
        int isum = 0, is = 0;
        for (int k = 0; k < QK_K / 128; ++k) {
            for (int shift = 0; shift < 8; shift += 2) {
                int d = sc[is++] & 0xF, isuml = 0;
                for (int l = 0; l < 16; ++l) isuml += q8[l] * ((q2[l] >> shift) & 3);
                isum += d * isuml;
                d = sc[is++] & 0xF;
                isuml = 0;
                for (int l = 16; l < 32; ++l) isuml += q8[l] * ((q2[l] >> shift) & 3);
                isum += d * isuml;
                q8 += 32;
            }
            q2 += 32;
        }
        sumf += dall * static_cast<float>(isum) - dmin * static_cast<float>(summs);
    }
    return sumf;
}

// The k-quant kernels below share ggml's "8 int32 lanes, 8 float lanes" structure: element e of a super-block
// adds scale * w[e] * a[e] to int lane e % 8; each super-block then adds d * lane to the float lane; the lanes are
// summed at the end (after the per-block min corrections of Q4_K/Q5_K went into the scalar sum).
struct Lanes {
    float sums[8] = {};
    int32_t aux32[8];
    void begin() { std::memset(aux32, 0, sizeof aux32); }
    // 16 elements of one sub-block with one scale.
    void add16(const int8_t* q8, const int8_t* w, int scale) {
        for (int l = 0; l < 8; ++l) aux32[l] += scale * static_cast<int16_t>(q8[l] * w[l]);
        for (int l = 0; l < 8; ++l) aux32[l] += scale * static_cast<int16_t>(q8[l + 8] * w[l + 8]);
    }
    void end(float d) {
        for (int l = 0; l < 8; ++l) sums[l] += d * static_cast<float>(aux32[l]);
    }
    float total(float sumf) const {
        for (int l = 0; l < 8; ++l) sumf += sums[l];
        return sumf;
    }
};

float dot_q3_K(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const block_q3_K*>(w);
    const auto* y = static_cast<const block_q8_K*>(a);
    Lanes L;
    int8_t aux8[QK_K];
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const uint8_t* q3 = x[i].qs;
        const uint8_t* hm = x[i].hmask;
        int8_t* p = aux8;
        uint8_t m = 1;
        for (int j = 0; j < QK_K; j += 128, q3 += 32) {
            for (int shift = 0; shift < 8; shift += 2, p += 32, m <<= 1) {
                for (int l = 0; l < 32; ++l) p[l] = static_cast<int8_t>(((q3[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
            }
        }
        int8_t scales[16];
        for (int j = 0; j < 16; ++j) {
            const int lo = j < 8 ? (x[i].scales[j] & 0xF) : (x[i].scales[j - 8] >> 4);
            const int hi = (x[i].scales[8 + j % 4] >> (2 * (j / 4))) & 3;
            scales[j] = static_cast<int8_t>((lo | (hi << 4)) - 32);
        }
        L.begin();
        for (int j = 0; j < QK_K / 16; ++j) L.add16(y[i].qs + 16 * j, aux8 + 16 * j, scales[j]);
        L.end(h2f(x[i].d) * y[i].d);
    }
    return L.total(0.0f);
}

// 6-bit scale and min j (0..7) of Q4_K/Q5_K (ggml get_scale_min_k4).
inline void scale_min_k4(int j, const uint8_t* q, int& sc, int& m) {
    if (j < 4) {
        sc = q[j] & 63;
        m = q[j + 4] & 63;
    } else {
        sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

template <bool kQ5>
float dot_q45_K(int64_t n, const void* w, const void* a) {
    using Block = std::conditional_t<kQ5, block_q5_K, block_q4_K>;
    const auto* x = static_cast<const Block*>(w);
    const auto* y = static_cast<const block_q8_K*>(a);
    Lanes L;
    float sumf = 0;
    int8_t aux8[QK_K];
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const uint8_t* q4 = x[i].qs;
        int8_t* p = aux8;
        uint8_t m = 1;
        for (int j = 0; j < QK_K / 64; ++j, q4 += 32) {
            for (int l = 0; l < 32; ++l) p[l] = static_cast<int8_t>(q4[l] & 0xF);
            if constexpr (kQ5) {
                for (int l = 0; l < 32; ++l) p[l] = static_cast<int8_t>(p[l] + ((x[i].qh[l] & m) ? 16 : 0));
            }
            p += 32;
            m <<= 1;
            for (int l = 0; l < 32; ++l) p[l] = static_cast<int8_t>(q4[l] >> 4);
            if constexpr (kQ5) {
                for (int l = 0; l < 32; ++l) p[l] = static_cast<int8_t>(p[l] + ((x[i].qh[l] & m) ? 16 : 0));
            }
            p += 32;
            m <<= 1;
        }
        int sc[8], mn[8];
        for (int j = 0; j < 8; ++j) scale_min_k4(j, x[i].scales, sc[j], mn[j]);
        int sumi = 0;
        for (int j = 0; j < QK_K / 16; ++j) sumi += y[i].bsums[j] * mn[j / 2];
        L.begin();
        for (int j = 0; j < QK_K / 16; ++j) L.add16(y[i].qs + 16 * j, aux8 + 16 * j, sc[j / 2]);
        L.end(h2f(x[i].d) * y[i].d);
        const float dmin = h2f(x[i].dmin) * y[i].d;
        sumf -= dmin * static_cast<float>(sumi);
    }
    return L.total(sumf);
}

float dot_q6_K(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const block_q6_K*>(w);
    const auto* y = static_cast<const block_q8_K*>(a);
    Lanes L;
    int8_t aux8[QK_K];
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const uint8_t* ql = x[i].ql;
        const uint8_t* qh = x[i].qh;
        int8_t* p = aux8;
        for (int j = 0; j < QK_K; j += 128, p += 128, ql += 64, qh += 32) {
            for (int l = 0; l < 32; ++l) {
                p[l + 0] = static_cast<int8_t>(((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
                p[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
                p[l + 64] = static_cast<int8_t>(((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                p[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
            }
        }
        L.begin();
        for (int j = 0; j < QK_K / 16; ++j) L.add16(y[i].qs + 16 * j, aux8 + 16 * j, x[i].scales[j]);
        L.end(h2f(x[i].d) * y[i].d);
    }
    return L.total(0.0f);
}

float dot_tq1_0(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const block_tq1_0*>(w);
    const auto* y = static_cast<const block_q8_K*>(a);
    static constexpr uint8_t pow3[6] = {1, 3, 9, 27, 81, 243};
    constexpr size_t nqs = sizeof(x->qs), nqh = sizeof(x->qh);
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        auto trit = [](uint8_t byte, int l) {
            const uint8_t q = static_cast<uint8_t>(byte * pow3[l]);
            return static_cast<int>((static_cast<uint16_t>(q) * 3) >> 8) - 1;
        };
        int sum = 0;
        for (size_t j = 0; j < nqs - nqs % 32; j += 32)
            for (int l = 0; l < 5; ++l)
                for (size_t m = 0; m < 32; ++m) sum += trit(x[i].qs[j + m], l) * y[i].qs[j * 5 + l * 32 + m];
        for (size_t j = nqs - nqs % 32; j < nqs; j += 16)
            for (int l = 0; l < 5; ++l)
                for (size_t m = 0; m < 16; ++m) sum += trit(x[i].qs[j + m], l) * y[i].qs[j * 5 + l * 16 + m];
        for (int l = 0; l < 4; ++l)
            for (size_t j = 0; j < nqh; ++j) sum += trit(x[i].qh[j], l) * y[i].qs[nqs * 5 + l * nqh + j];
        sumf += static_cast<float>(sum) * (h2f(x[i].d) * y[i].d);
    }
    return sumf;
}

float dot_tq2_0(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const block_tq2_0*>(w);
    const auto* y = static_cast<const block_q8_K*>(a);
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        int32_t sumi = 0;
        for (size_t j = 0; j < sizeof(x->qs); j += 32)
            for (size_t l = 0; l < 4; ++l)
                for (size_t k = 0; k < 32; ++k)
                    sumi += y[i].qs[j * 4 + l * 32 + k] * (((x[i].qs[j + k] >> (l * 2)) & 3) - 1);
        const float d = y[i].d * h2f(x[i].d);
        sumf += static_cast<float>(sumi) * d;
    }
    return sumf;
}

VecDotFn ref_fn(DType w) {
    switch (w) {
        case DType::F32: return &dot_f32;
        case DType::F16: return &dot_f16;
        case DType::BF16: return &dot_bf16;
        case DType::Q4_0: return &dot_q4_0;
        case DType::Q4_1: return &dot_q4_1;
        case DType::Q5_0: return &dot_q5_0;
        case DType::Q5_1: return &dot_q5_1;
        case DType::Q8_0: return &dot_q8_0;
        case DType::IQ4_NL: return &dot_iq4_nl;
        case DType::Q2_K: return &dot_q2_K;
        case DType::Q3_K: return &dot_q3_K;
        case DType::Q4_K: return &dot_q45_K<false>;
        case DType::Q5_K: return &dot_q45_K<true>;
        case DType::Q6_K: return &dot_q6_K;
        case DType::TQ1_0: return &dot_tq1_0;
        case DType::TQ2_0: return &dot_tq2_0;
        default: return nullptr;
    }
}

constexpr FastVecDot kDotRows[] = {
    {DType::Q8_0, Isa::Avx2, &vdot::q8_0_q8_0_avx2, "vec_dot_q8_0_q8_0__avx2"},
    {DType::Q4_0, Isa::Avx2, &vdot::q4_0_q8_0_avx2, "vec_dot_q4_0_q8_0__avx2"},
    {DType::Q5_0, Isa::Avx2, &vdot::q5_0_q8_0_avx2, "vec_dot_q5_0_q8_0__avx2"},
    {DType::IQ4_NL, Isa::Avx2, &vdot::iq4_nl_q8_0_avx2, "vec_dot_iq4_nl_q8_0__avx2"},
    {DType::Q4_1, Isa::Avx2, &vdot::q4_1_q8_1_avx2, "vec_dot_q4_1_q8_1__avx2"},
    {DType::Q5_1, Isa::Avx2, &vdot::q5_1_q8_1_avx2, "vec_dot_q5_1_q8_1__avx2"},
    {DType::Q2_K, Isa::Avx2, &vdot::q2_K_q8_K_avx2, "vec_dot_q2_K_q8_K__avx2"},
    {DType::Q3_K, Isa::Avx2, &vdot::q3_K_q8_K_avx2, "vec_dot_q3_K_q8_K__avx2"},
    {DType::TQ2_0, Isa::Avx2, &vdot::tq2_0_q8_K_avx2, "vec_dot_tq2_0_q8_K__avx2"},
    {DType::Q4_K, Isa::Avx2, &vdot::q4_K_q8_K_avx2, "vec_dot_q4_K_q8_K__avx2"},
    {DType::Q5_K, Isa::Avx2, &vdot::q5_K_q8_K_avx2, "vec_dot_q5_K_q8_K__avx2"},
    {DType::Q6_K, Isa::Avx2, &vdot::q6_K_q8_K_avx2, "vec_dot_q6_K_q8_K__avx2"},
    {DType::Q4_K, Isa::Avx512, &vdot::q4_K_q8_K_avx512, "vec_dot_q4_K_q8_K__avx512"},
    {DType::Q5_K, Isa::Avx512, &vdot::q5_K_q8_K_avx512, "vec_dot_q5_K_q8_K__avx512"},
    {DType::Q6_K, Isa::Avx512, &vdot::q6_K_q8_K_avx512, "vec_dot_q6_K_q8_K__avx512"},
    {DType::Q8_0, Isa::Avx512Vnni, &vdot::q8_0_q8_0_avx512vnni, "vec_dot_q8_0_q8_0__avx512vnni"},
    {DType::Q4_0, Isa::Avx512Vnni, &vdot::q4_0_q8_0_avx512vnni, "vec_dot_q4_0_q8_0__avx512vnni"},
    {DType::Q5_0, Isa::Avx512Vnni, &vdot::q5_0_q8_0_avx512vnni, "vec_dot_q5_0_q8_0__avx512vnni"},
    {DType::IQ4_NL, Isa::Avx512Vnni, &vdot::iq4_nl_q8_0_avx512vnni, "vec_dot_iq4_nl_q8_0__avx512vnni"},
    {DType::Q4_1, Isa::Avx512Vnni, &vdot::q4_1_q8_1_avx512vnni, "vec_dot_q4_1_q8_1__avx512vnni"},
    {DType::Q5_1, Isa::Avx512Vnni, &vdot::q5_1_q8_1_avx512vnni, "vec_dot_q5_1_q8_1__avx512vnni"},
};

constexpr FastVecDotTile kTiles[] = {
    {DType::Q8_0, Isa::Avx2, &vdot::q8_0_q8_0_tile_avx2, "vec_dot_tile_q8_0_q8_0__avx2"},
    {DType::Q4_0, Isa::Avx2, &vdot::q4_0_q8_0_tile_avx2, "vec_dot_tile_q4_0_q8_0__avx2"},
    {DType::Q5_0, Isa::Avx2, &vdot::q5_0_q8_0_tile_avx2, "vec_dot_tile_q5_0_q8_0__avx2"},
    {DType::IQ4_NL, Isa::Avx2, &vdot::iq4_nl_q8_0_tile_avx2, "vec_dot_tile_iq4_nl_q8_0__avx2"},
    {DType::Q4_1, Isa::Avx2, &vdot::q4_1_q8_1_tile_avx2, "vec_dot_tile_q4_1_q8_1__avx2"},
    {DType::Q5_1, Isa::Avx2, &vdot::q5_1_q8_1_tile_avx2, "vec_dot_tile_q5_1_q8_1__avx2"},
    {DType::Q4_K, Isa::Avx2, &vdot::q4_K_q8_K_tile_avx2, "vec_dot_tile_q4_K_q8_K__avx2"},
    {DType::Q5_K, Isa::Avx2, &vdot::q5_K_q8_K_tile_avx2, "vec_dot_tile_q5_K_q8_K__avx2"},
    {DType::Q6_K, Isa::Avx2, &vdot::q6_K_q8_K_tile_avx2, "vec_dot_tile_q6_K_q8_K__avx2"},
    {DType::Q4_K, Isa::Avx512, &vdot::q4_K_q8_K_tile_avx512, "vec_dot_tile_q4_K_q8_K__avx512"},
    {DType::Q5_K, Isa::Avx512, &vdot::q5_K_q8_K_tile_avx512, "vec_dot_tile_q5_K_q8_K__avx512"},
    {DType::Q6_K, Isa::Avx512, &vdot::q6_K_q8_K_tile_avx512, "vec_dot_tile_q6_K_q8_K__avx512"},
    {DType::Q8_0, Isa::Avx512Vnni, &vdot::q8_0_q8_0_tile_avx512vnni, "vec_dot_tile_q8_0_q8_0__avx512vnni"},
    {DType::Q4_0, Isa::Avx512Vnni, &vdot::q4_0_q8_0_tile_avx512vnni, "vec_dot_tile_q4_0_q8_0__avx512vnni"},
    {DType::Q5_0, Isa::Avx512Vnni, &vdot::q5_0_q8_0_tile_avx512vnni, "vec_dot_tile_q5_0_q8_0__avx512vnni"},
    {DType::IQ4_NL, Isa::Avx512Vnni, &vdot::iq4_nl_q8_0_tile_avx512vnni,
     "vec_dot_tile_iq4_nl_q8_0__avx512vnni"},
    {DType::Q4_1, Isa::Avx512Vnni, &vdot::q4_1_q8_1_tile_avx512vnni, "vec_dot_tile_q4_1_q8_1__avx512vnni"},
    {DType::Q5_1, Isa::Avx512Vnni, &vdot::q5_1_q8_1_tile_avx512vnni, "vec_dot_tile_q5_1_q8_1__avx512vnni"},
};

const FastVecDotTile* best_tile(DType t) {
    const FastVecDotTile* best = nullptr;
    for (const auto& r : kTiles) {
        if (r.type == t && isa_enabled(r.isa) && (!best || r.isa > best->isa)) best = &r;
    }
    return best;
}

const FastVecDot* best_dot_row(DType t) {
    const FastVecDot* best = nullptr;
    for (const auto& r : kDotRows) {
        if (r.type == t && isa_enabled(r.isa) && (!best || r.isa > best->isa)) best = &r;
    }
    return best;
}

}  // namespace

bool has_vec_dot(DType w) { return ref_fn(w) != nullptr; }

DType vec_dot_type(DType w) { return traits(w).vec_dot_type; }

size_t vec_dot_act_size(DType w, int64_t n) {
    EDGEQ_CHECK(has_vec_dot(w));
    return row_size(vec_dot_type(w), n);
}

namespace {
void quantize_act(DType w, const float* x, void* act, int64_t n, bool vector) {
    EDGEQ_CHECK(has_vec_dot(w));
    switch (vec_dot_type(w)) {
        case DType::F32: std::memcpy(act, x, static_cast<size_t>(n) * sizeof(float)); return;
        case DType::F16: {
            auto* y = static_cast<fp16_t*>(act);
            for (int64_t i = 0; i < n; ++i) y[i] = f32_to_fp16(x[i]);
            return;
        }
        case DType::BF16: {
            auto* y = static_cast<bf16_t*>(act);
            for (int64_t i = 0; i < n; ++i) y[i] = f32_to_bf16(x[i]);
            return;
        }
        case DType::Q8_0:
        case DType::Q8_1: {
            const bool q81 = vec_dot_type(w) == DType::Q8_1;
            EDGEQ_CHECK(n % QK8_0 == 0);
            if (vector && isa_enabled(Isa::Avx512)) return vdot::quantize_q8_0_avx512(x, act, n, q81);  // same bytes
            return q81 ? q8_x86<true>(x, act, n) : q8_x86<false>(x, act, n);
        }
        case DType::Q8_K:
            if (vector && isa_enabled(Isa::Avx512)) return vdot::quantize_q8_K_avx512(x, act, n);  // the same bytes
            quants::quantize_Q8_K(x, act, 1, n, nullptr);
            return;
        default: EDGEQ_CHECK(false && "no activation format");
    }
}
}  // namespace

void quantize_activation(DType w, const float* x, void* act, int64_t n) { quantize_act(w, x, act, n, true); }

void quantize_activation_ref(DType w, const float* x, void* act, int64_t n) { quantize_act(w, x, act, n, false); }

VecDotFn vec_dot_ref_fn(DType w) {
    VecDotFn f = ref_fn(w);
    EDGEQ_CHECK(f != nullptr);
    return f;
}

float vec_dot_ref(DType w, int64_t n, const void* wrow, const void* act) {
    EDGEQ_CHECK(n % traits(w).block_size == 0);
    return vec_dot_ref_fn(w)(n, wrow, act);
}

std::span<const FastVecDot> fast_vec_dots() { return kDotRows; }

VecDotFn selected_vec_dot(DType w) {
    const FastVecDot* r = best_dot_row(w);
    return r ? r->fn : vec_dot_ref_fn(w);
}

const char* selected_vec_dot_name(DType w) {
    const FastVecDot* r = best_dot_row(w);
    return r ? r->name : "reference";
}

bool has_vec_dot_x86(DType w) { return x86_ref_fn(w) != nullptr; }

float vec_dot_x86_ref(DType w, int64_t n, const void* wrow, const void* act) {
    const VecDotFn f = x86_ref_fn(w);
    EDGEQ_CHECK(f != nullptr && n % 32 == 0);
    return f(n, wrow, act);
}

bool has_vec_dot_x86_repacked(DType w) {
    return w == DType::Q4_0 || w == DType::IQ4_NL || w == DType::Q4_K || w == DType::Q2_K;
}

VecDotFn vec_dot_x86_repacked_fn(DType w, bool gemm) {
    switch (w) {
        case DType::Q4_0: return &vdot::q4_0_q8_0_x86_repacked;
        case DType::IQ4_NL: return &vdot::iq4_nl_q8_0_x86_repacked;
        case DType::Q4_K: return gemm ? &vdot::q4_K_q8_K_x86_gemm4 : &vdot::q4_K_q8_K_x86_gemv;
        case DType::Q2_K: return gemm ? &vdot::q2_K_q8_K_x86_gemm4 : &vdot::q2_K_q8_K_x86_gemv;
        default: EDGEQ_CHECK_MSG(false, "no repacked x86 order for this type");
    }
    return nullptr;
}

VecDotFn selected_vec_dot_x86(DType w) {
    if (w == DType::Q8_0 && isa_enabled(Isa::Avx2)) return &vdot::q8_0_q8_0_x86_avx2;
    const VecDotFn f = x86_ref_fn(w);
    EDGEQ_CHECK(f != nullptr);
    return f;
}

float vec_dot(DType w, int64_t n, const void* wrow, const void* act) {
    EDGEQ_CHECK(n % traits(w).block_size == 0);
    return selected_vec_dot(w)(n, wrow, act);
}

std::span<const FastVecDotTile> fast_vec_dot_tiles() {
    return kTiles;
}

VecDotTileFn selected_vec_dot_tile(DType w) {
    const FastVecDotTile* t = best_tile(w);
    return t ? t->fn : nullptr;
}

const char* selected_vec_dot_tile_name(DType w) {
    const FastVecDotTile* t = best_tile(w);
    return t ? t->name : "rows";
}

void vec_dot_tile(DType w, int64_t n, const void* wrows, size_t w_stride, int64_t nw, const void* act,
                  size_t a_stride, int64_t na, float* y, size_t y_stride) {
    EDGEQ_CHECK(n % traits(w).block_size == 0);
    if (const VecDotTileFn tile = selected_vec_dot_tile(w)) {
        tile(n, wrows, w_stride, nw, act, a_stride, na, y, y_stride);
        return;
    }
    const auto* wb = static_cast<const uint8_t*>(wrows);
    const auto* ab = static_cast<const uint8_t*>(act);
    const VecDotFn f = selected_vec_dot(w);
    for (int64_t i = 0; i < na; ++i)
        for (int64_t j = 0; j < nw; ++j)
            y[static_cast<size_t>(i) * y_stride + static_cast<size_t>(j)] =
                f(n, wb + static_cast<size_t>(j) * w_stride, ab + static_cast<size_t>(i) * a_stride);
}

}  // namespace edgeq
