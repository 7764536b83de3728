// Scalar references for the integer GEMMs (kernels/qgemm.h): B packing, INT8 GEMM with its three epilogues,
// group-wise INT4/INT2 GEMM, u8 im2col and dynamic row quantization. Plain loops in the order the definitions
// in qgemm.h read; every ISA row must agree bit-exactly on integer outputs.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "kernels/qgemm.h"

namespace edgeq::kernels {
namespace {

int64_t ceil_div(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}

inline int32_t a_at(const void* a, bool is_signed, int64_t i) {
    return is_signed ? static_cast<const int8_t*>(a)[i] : static_cast<const uint8_t*>(a)[i];
}

// A[m][k] of a QGemmArgs, direct (a[m·lda + k]) or indirect (a_rows / a_koff).
inline int32_t a_elem(const QGemmArgs& g, int64_t m, int64_t k) {
    if (!g.a_rows) return a_at(g.a, g.a_signed, m * g.lda + k);
    return a_at(g.a_rows[m] + g.a_koff[k / 4], g.a_signed, k % 4);
}

// B[k][n] from the qpack_b layout.
inline int32_t packed_b_at(const int8_t* p, int64_t K, int64_t k, int64_t n) {
    const int64_t K4 = ceil_div(K, 4);
    return p[((n / kQNr) * K4 + k / 4) * 64 + (n % kQNr) * 4 + k % 4];
}

inline int32_t wrap_add(int32_t x, int32_t y) {
    return static_cast<int32_t>(static_cast<uint32_t>(x) + static_cast<uint32_t>(y));
}

// ---- group layout accessors ----
struct GroupLayout {
    int bits, group;
    bool has_zero;
    int64_t K, N, ng;
    int64_t group_bytes() const { return 128 + (has_zero ? 64 : 0) + group * 16 * bits / 8; }
    int64_t panel_bytes() const { return ng * group_bytes(); }
    int off() const { return bits == 4 ? 8 : 2; }
    // byte offset of group g of panel p
    int64_t at(int64_t p, int64_t g) const { return p * panel_bytes() + g * group_bytes(); }
    int64_t codes(int64_t p, int64_t g) const { return at(p, g) + 128 + (has_zero ? 64 : 0); }
    // (byte index within the code area, shift) of relative k and column j
    void code_pos(int64_t kr, int j, int64_t* byte, int* shift) const {
        if (bits == 4) {
            *byte = (kr / 8) * 64 + j * 4 + kr % 4;
            *shift = ((kr % 8) / 4) * 4;
        } else {
            *byte = (kr / 16) * 64 + j * 4 + kr % 4;
            *shift = ((kr % 16) / 4) * 2;
        }
    }
};

void check_group(int bits, int group) {
    EDGEQ_CHECK_MSG(bits == 4 || bits == 2, "qgemm group: bits must be 4 or 2");
    EDGEQ_CHECK_MSG(group == 32 || group == 64 || group == 128,
                    "qgemm group: group size must be 32, 64 or 128");
}

template <int kBits>
void qgemm_group_ref(const QGroupGemmArgs& g) {
    EDGEQ_CHECK(g.bits == kBits);
    check_group(g.bits, g.group);
    const GroupLayout L{g.bits, g.group, g.has_zero, g.K, g.N, ceil_div(g.K, g.group)};
    const auto* base = static_cast<const uint8_t*>(g.b);
    const int mask = (1 << kBits) - 1;
    for (int64_t m = g.m_begin; m < g.m_end; ++m) {
        const int32_t za = g.a_zero ? g.a_zero[m] : 0;
        for (int64_t n = g.n_begin; n < g.n_end; ++n) {
            const int64_t p = n / kQNr;
            const int j = static_cast<int>(n % kQNr);
            float f = 0;
            for (int64_t gi = 0; gi < L.ng; ++gi) {
                const uint8_t* grp = base + L.at(p, gi);
                float scale;
                std::memcpy(&scale, grp + j * 4, 4);
                const int32_t z = g.has_zero ? grp[128 + j * 4] - L.off() : 0;
                const uint8_t* codes = base + L.codes(p, gi);
                int32_t acc = 0;
                for (int64_t kr = 0; kr < g.group && gi * g.group + kr < g.K; ++kr) {
                    int64_t byte;
                    int shift;
                    L.code_pos(kr, j, &byte, &shift);
                    const int32_t q = ((codes[byte] >> shift) & mask) - L.off();
                    acc += (a_at(g.a, g.a_signed, m * g.lda + gi * g.group + kr) - za) * (q - z);
                }
                f = std::fma(static_cast<float>(acc), scale, f);
            }
            float y = f * g.a_scale[m];
            if (g.bias) y = y + g.bias[n];
            g.c[m * g.ldc + n] = activate(g.act, y);
        }
    }
}

}  // namespace

// ---- packing ----

int64_t qpack_b_colsum_offset(int64_t K, int64_t N) {
    return ceil_div(N, kQNr) * ceil_div(K, 4) * 64;
}

int64_t qpack_b_bytes(int64_t K, int64_t N) {
    return qpack_b_colsum_offset(K, N) + ceil_div(N, kQNr) * kQNr * 4 + 64;
}

bool qpack_b_is_7bit(const void* packed, int64_t K, int64_t N) {
    int32_t flag;
    std::memcpy(&flag, static_cast<const uint8_t*>(packed) + qpack_b_bytes(K, N) - 64, 4);
    return flag == 1;
}

void qpack_b(const void* b, bool b_unsigned, int64_t stride_k, int64_t stride_n, int64_t K, int64_t N,
             void* packed) {
    const int64_t K4 = ceil_div(K, 4), panels = ceil_div(N, kQNr);
    auto* dst = static_cast<int8_t*>(packed);
    int32_t* colsum = reinterpret_cast<int32_t*>(dst + qpack_b_colsum_offset(K, N));
    bool b7 = true;
    for (int64_t p = 0; p < panels; ++p) {
        for (int j = 0; j < kQNr; ++j) {
            const int64_t n = p * kQNr + j;
            int32_t s = 0;
            for (int64_t k = 0; k < K4 * 4; ++k) {
                int32_t v = 0;
                if (n < N && k < K) {
                    const int64_t i = k * stride_k + n * stride_n;
                    v = b_unsigned ? static_cast<const uint8_t*>(b)[i] - 128
                                   : static_cast<const int8_t*>(b)[i];
                }
                dst[(p * K4 + k / 4) * 64 + j * 4 + k % 4] = static_cast<int8_t>(v);
                s += v;
                b7 = b7 && v >= -64 && v <= 63;
            }
            colsum[n] = s;
        }
    }
    uint8_t* tail = static_cast<uint8_t*>(packed) + qpack_b_bytes(K, N) - 64;
    std::memset(tail, 0, 64);
    const int32_t flag = b7 ? 1 : 0;
    std::memcpy(tail, &flag, 4);
}

int64_t qpack_group_bytes(int bits, int group, bool has_zero, int64_t K, int64_t N) {
    check_group(bits, group);
    const GroupLayout L{bits, group, has_zero, K, N, ceil_div(K, group)};
    return ceil_div(N, kQNr) * L.panel_bytes();
}

void qpack_group(int bits, int group, const int8_t* q, int64_t stride_k, int64_t stride_n, const float* scale,
                 const int8_t* zero, int64_t K, int64_t N, void* packed) {
    check_group(bits, group);
    const bool has_zero = zero != nullptr;
    const GroupLayout L{bits, group, has_zero, K, N, ceil_div(K, group)};
    auto* base = static_cast<uint8_t*>(packed);
    std::memset(base, 0, static_cast<size_t>(qpack_group_bytes(bits, group, has_zero, K, N)));
    const int lo = -(1 << (bits - 1)), hi = (1 << (bits - 1)) - 1;
    for (int64_t p = 0; p < ceil_div(N, kQNr); ++p) {
        for (int64_t gi = 0; gi < L.ng; ++gi) {
            uint8_t* grp = base + L.at(p, gi);
            uint8_t* codes = base + L.codes(p, gi);
            for (int j = 0; j < kQNr; ++j) {
                const int64_t n = p * kQNr + j;
                if (n >= N) continue;  // zeros: scale 0, wsum 0, codes 0 (never stored)
                const int32_t z = has_zero ? zero[gi * N + n] : 0;
                EDGEQ_CHECK_MSG(z >= lo && z <= hi, "qpack_group: zero point out of range");
                const float s = scale[gi * N + n];
                std::memcpy(grp + j * 4, &s, 4);
                if (has_zero)
                    for (int t = 0; t < 4; ++t) grp[128 + j * 4 + t] = static_cast<uint8_t>(z + L.off());
                int32_t wsum = 0;
                for (int64_t kr = 0; kr < group; ++kr) {
                    const int64_t k = gi * group + kr;
                    int32_t v = z;  // padding: Q = Z contributes 0
                    if (k < K) {
                        v = q[k * stride_k + n * stride_n];
                        EDGEQ_CHECK_MSG(v >= lo && v <= hi, "qpack_group: code out of range");
                    }
                    wsum += v - z;
                    int64_t byte;
                    int shift;
                    L.code_pos(kr, j, &byte, &shift);
                    codes[byte] = static_cast<uint8_t>(codes[byte] | ((v + L.off()) << shift));
                }
                const float wf = static_cast<float>(wsum);
                std::memcpy(grp + 64 + j * 4, &wf, 4);
            }
        }
    }
}

void quantize_rows_s8(const float* x, int64_t ldx, int64_t M, int64_t K, int8_t* q, int64_t ldq,
                      float* scale) {
    for (int64_t m = 0; m < M; ++m) {
        float amax = 0;
        for (int64_t k = 0; k < K; ++k) amax = std::max(amax, std::fabs(x[m * ldx + k]));
        const float s = amax > 0 ? amax / 127.0f : 1.0f;
        scale[m] = s;
        for (int64_t k = 0; k < K; ++k) {
            const float v = std::nearbyint(x[m * ldx + k] / s);
            q[m * ldq + k] = static_cast<int8_t>(std::min(127.0f, std::max(-128.0f, v)));
        }
    }
}

void im2col_u8(const QIm2colArgs& a, uint8_t* out, int64_t ldo) {
    for (int64_t p = a.p_begin; p < a.p_end; ++p) {
        const int64_t oy = p / a.OW, ox = p % a.OW;
        uint8_t* row = out + (p - a.p_begin) * ldo;
        for (int64_t c = 0; c < a.C; ++c) {
            for (int64_t ky = 0; ky < a.KH; ++ky) {
                const int64_t iy = oy * a.SH - a.PT + ky * a.DH;
                uint8_t* dst = row + (c * a.KH + ky) * a.KW;
                if (iy < 0 || iy >= a.H) {
                    std::memset(dst, a.pad, static_cast<size_t>(a.KW));
                    continue;
                }
                const uint8_t* src = a.x + (c * a.H + iy) * a.W;
                for (int64_t kx = 0; kx < a.KW; ++kx) {
                    const int64_t ix = ox * a.SW - a.PL + kx * a.DW;
                    dst[kx] = ix < 0 || ix >= a.W ? a.pad : src[ix];
                }
            }
        }
    }
}

namespace ref {

void qgemm_u8s8(const QGemmArgs& g) {
    EDGEQ_CHECK_MSG(g.K <= kQMaxK, "qgemm: K above kQMaxK");
    EDGEQ_CHECK_MSG(!g.a_rows || (g.a_koff && g.K % 4 == 0), "qgemm: indirect A needs a_koff and K % 4 == 0");
    const auto* b = static_cast<const int8_t*>(g.b);
    for (int64_t m = g.m_begin; m < g.m_end; ++m) {
        for (int64_t n = g.n_begin; n < g.n_end; ++n) {
            const int32_t zb = g.b_zero ? g.b_zero[n] : 0;
            int32_t acc = 0;
            for (int64_t k = 0; k < g.K; ++k)
                acc += (a_elem(g, m, k) - g.a_zero) * (packed_b_at(b, g.K, k, n) - zb);
            if (g.bias) acc = wrap_add(acc, g.bias[n]);
            const int64_t i = m * g.ldc + n;
            switch (g.out) {
                case QOut::U8:
                case QOut::S8: {
                    float f = static_cast<float>(acc) * g.multiplier[n];
                    f = std::min(std::max(f, static_cast<float>(g.y_min - g.y_zero)),
                                 static_cast<float>(g.y_max - g.y_zero));
                    const int32_t q = static_cast<int32_t>(std::nearbyint(f)) + g.y_zero;
                    if (g.out == QOut::U8)
                        static_cast<uint8_t*>(g.c)[i] = static_cast<uint8_t>(q);
                    else
                        static_cast<int8_t*>(g.c)[i] = static_cast<int8_t>(q);
                    break;
                }
                case QOut::S32:
                    static_cast<int32_t*>(g.c)[i] = acc;
                    break;
                case QOut::F32: {
                    const float s = g.a_scale[g.a_scale_per_row ? m : 0] * g.b_scale[n];
                    float y = static_cast<float>(acc) * s;
                    if (g.bias_f) y = y + g.bias_f[n];
                    static_cast<float*>(g.c)[i] = activate(g.act, y);
                    break;
                }
            }
        }
    }
}

void qgemm_u8s4g_f32(const QGroupGemmArgs& g) {
    qgemm_group_ref<4>(g);
}
void qgemm_u8s2g_f32(const QGroupGemmArgs& g) {
    qgemm_group_ref<2>(g);
}

}  // namespace ref
}  // namespace edgeq::kernels
