// INT8 convolution helpers, depthwise convolution and max pooling on quantized bytes (kernels/qconv.h).
// Plain C++ loops written so the compiler vectorizes them; every function here is exact integer arithmetic
// (or byte moves) with the same epilogue expression as the qgemm reference.
#include "kernels/qconv.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/check.h"
#include "core/cpu.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace edgeq::kernels {
namespace {

inline int32_t wrap_add_i32(int32_t x, int32_t y) {
    return static_cast<int32_t>(static_cast<uint32_t>(x) + static_cast<uint32_t>(y));
}

template <typename T>
void transpose_t(const T* x, int64_t rows, int64_t cols, int64_t ldx, T* y, int64_t ldy) {
    constexpr int64_t kB = 32;
    for (int64_t r0 = 0; r0 < rows; r0 += kB) {
        const int64_t r1 = std::min(rows, r0 + kB);
        for (int64_t c0 = 0; c0 < cols; c0 += kB) {
            const int64_t c1 = std::min(cols, c0 + kB);
            for (int64_t c = c0; c < c1; ++c) {
                T* yr = y + c * ldy;
                for (int64_t r = r0; r < r1; ++r) yr[r] = x[r * ldx + c];
            }
        }
    }
}

// The U8 / S8 / F32 epilogue of one accumulator (qgemm.h "Definitions"; same expressions as ref::qgemm_u8s8).
inline void store(const QDwConvArgs& a, int64_t c, int32_t acc, int64_t i) {
    if (a.bias) acc = wrap_add_i32(acc, a.bias[c]);
    if (a.out == QOut::F32) {
        const float s = a.a_scale * a.b_scale[c];
        float y = static_cast<float>(acc) * s;
        if (a.bias_f) y = y + a.bias_f[c];
        static_cast<float*>(a.y)[i] = activate(a.act, y);
        return;
    }
    float f = static_cast<float>(acc) * a.multiplier[c];
    f = std::min(std::max(f, static_cast<float>(a.y_min - a.y_zero)), static_cast<float>(a.y_max - a.y_zero));
    const int32_t q = static_cast<int32_t>(std::nearbyint(f)) + a.y_zero;
    if (a.out == QOut::U8)
        static_cast<uint8_t*>(a.y)[i] = static_cast<uint8_t>(q);
    else
        static_cast<int8_t*>(a.y)[i] = static_cast<int8_t>(q);
}

inline int32_t x_at(const QDwConvArgs& a, int64_t i) {
    return a.a_signed ? static_cast<const int8_t*>(a.x)[i] : static_cast<const uint8_t*>(a.x)[i];
}

// Calls f(iy, ix) for every tap of output (oy, ox)'s window that lies inside the H×W input (any pooling args).
template <typename Args, typename F>
void window_taps(const Args& a, int64_t oy, int64_t ox, F&& f) {
    for (int64_t ky = 0; ky < a.KH; ++ky) {
        const int64_t iy = oy * a.SH - a.PT + ky * a.DH;
        if (iy < 0 || iy >= a.H) continue;
        for (int64_t kx = 0; kx < a.KW; ++kx) {
            const int64_t ix = ox * a.SW - a.PL + kx * a.DW;
            if (ix >= 0 && ix < a.W) f(iy, ix);
        }
    }
}

template <typename T>
void qmaxpool_t(const QMaxPoolArgs& a) {
    const T* x = static_cast<const T*>(a.x);
    T* y = static_cast<T*>(a.y);
    // windows that never reach the padding: no bounds checks, rows accumulated tap by tap (vectorizable)
    const bool inside = a.PT == 0 && a.PL == 0 && (a.OH - 1) * a.SH + (a.KH - 1) * a.DH < a.H &&
                        (a.OW - 1) * a.SW + (a.KW - 1) * a.DW < a.W;
    for (int64_t p = a.p_begin; p < a.p_end; ++p) {
        const T* xp = x + p * a.H * a.W;
        T* yp = y + p * a.OH * a.OW;
        for (int64_t oy = 0; oy < a.OH; ++oy) {
            T* yr = yp + oy * a.OW;
            if (inside) {
                std::fill(yr, yr + a.OW, std::numeric_limits<T>::lowest());
                for (int64_t ky = 0; ky < a.KH; ++ky) {
                    const T* xr = xp + (oy * a.SH + ky * a.DH) * a.W;
                    for (int64_t kx = 0; kx < a.KW; ++kx) {
                        const T* src = xr + kx * a.DW;
                        if (a.SW == 2)
                            for (int64_t ox = 0; ox < a.OW; ++ox) yr[ox] = std::max(yr[ox], src[2 * ox]);
                        else
                            for (int64_t ox = 0; ox < a.OW; ++ox) yr[ox] = std::max(yr[ox], src[ox * a.SW]);
                    }
                }
                continue;
            }
            for (int64_t ox = 0; ox < a.OW; ++ox) {
                T m = std::numeric_limits<T>::lowest();
                bool any = false;
                window_taps(a, oy, ox, [&](int64_t iy, int64_t ix) {
                    m = std::max(m, xp[iy * a.W + ix]);
                    any = true;
                });
                EDGEQ_CHECK_MSG(any, "qmaxpool: a window lies entirely in the padding");
                yr[ox] = m;
            }
        }
    }
}

template <typename TX, typename TY>
void qavgpool_t(const QAvgPoolArgs& a) {
    const TX* x = static_cast<const TX*>(a.x);
    TY* y = static_cast<TY*>(a.y);
    const int32_t qmin = std::numeric_limits<TY>::min(), qmax = std::numeric_limits<TY>::max();
    const float lo = static_cast<float>(qmin - a.y_zero), hi = static_cast<float>(qmax - a.y_zero);
    const int64_t taps = a.KH * a.KW;
    // Window multiplier: ratio / n, one double division per distinct n (interior windows share m_full).
    const float m_full = static_cast<float>(a.ratio / static_cast<double>(taps));
    // Round half to even as std::nearbyint does in the default rounding mode, without the libm call: adding and
    // subtracting 1.5 * 2^23 leaves the nearest integer (ties to even) for |f| < 2^22; f is clamped to the
    // output type's range first, so that always holds.
    constexpr float kRound = 12582912.0f;
    for (int64_t p = a.p_begin; p < a.p_end; ++p) {
        const TX* xp = x + p * a.H * a.W;
        TY* yp = y + p * a.OH * a.OW;
        for (int64_t oy = 0; oy < a.OH; ++oy) {
            const int64_t y0 = oy * a.SH - a.PT;
            const int64_t ya = std::max<int64_t>(0, y0), yb = std::min(a.H, y0 + a.KH);
            for (int64_t ox = 0; ox < a.OW; ++ox) {
                const int64_t x0 = ox * a.SW - a.PL;
                const int64_t xa = std::max<int64_t>(0, x0), xb = std::min(a.W, x0 + a.KW);
                int32_t sum = 0;
                for (int64_t iy = ya; iy < yb; ++iy)
                    for (int64_t ix = xa; ix < xb; ++ix) sum += static_cast<int32_t>(xp[iy * a.W + ix]);
                const int64_t inside = std::max<int64_t>(0, yb - ya) * std::max<int64_t>(0, xb - xa);
                EDGEQ_CHECK_MSG(inside > 0, "qavgpool: a window lies entirely in the padding");
                sum -= static_cast<int32_t>(inside) * a.x_zero;
                const int64_t n = a.count_include_pad ? taps : inside;
                const float m = n == taps ? m_full : static_cast<float>(a.ratio / static_cast<double>(n));
                float f = std::min(std::max(static_cast<float>(sum) * m, lo), hi);
                f = (f + kRound) - kRound;  // (the build never uses -ffast-math, which could fold this)
                yp[oy * a.OW + ox] = static_cast<TY>(static_cast<int32_t>(f) + a.y_zero);
            }
        }
    }
}

#if defined(__SSE2__)
// y[c·ldy + r] = x[r·ldx + c] for a 16×16 byte block: four rounds of interleaves (8, 16, 32, 64 bits).
inline void transpose16x16_u8(const uint8_t* x, int64_t ldx, uint8_t* y, int64_t ldy) {
    __m128i r[16], t[16];
    for (int i = 0; i < 16; ++i) r[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i * ldx));
    // t[i]: 16-bit lanes j = rows (2i, 2i+1) at column j; t[i + 8]: columns 8 + j
    for (int i = 0; i < 8; ++i) {
        t[i] = _mm_unpacklo_epi8(r[2 * i], r[2 * i + 1]);
        t[i + 8] = _mm_unpackhi_epi8(r[2 * i], r[2 * i + 1]);
    }
    // r[cb + k]: 32-bit lanes j = rows 4k..4k+3 at column cb + j (cb = 0, 4, 8, 12)
    for (int h = 0; h < 2; ++h)
        for (int k = 0; k < 4; ++k) {
            r[h * 8 + k] = _mm_unpacklo_epi16(t[h * 8 + 2 * k], t[h * 8 + 2 * k + 1]);
            r[h * 8 + 4 + k] = _mm_unpackhi_epi16(t[h * 8 + 2 * k], t[h * 8 + 2 * k + 1]);
        }
    // t[cb + i]: 64-bit lanes = columns cb, cb+1 (rows 8i..8i+7); t[cb + 2 + i]: columns cb+2, cb+3
    for (int cb = 0; cb < 16; cb += 4)
        for (int i = 0; i < 2; ++i) {
            t[cb + i] = _mm_unpacklo_epi32(r[cb + 2 * i], r[cb + 2 * i + 1]);
            t[cb + 2 + i] = _mm_unpackhi_epi32(r[cb + 2 * i], r[cb + 2 * i + 1]);
        }
    for (int cb = 0; cb < 16; cb += 4) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y + (cb + 0) * ldy),
                         _mm_unpacklo_epi64(t[cb], t[cb + 1]));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y + (cb + 1) * ldy),
                         _mm_unpackhi_epi64(t[cb], t[cb + 1]));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y + (cb + 2) * ldy),
                         _mm_unpacklo_epi64(t[cb + 2], t[cb + 3]));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y + (cb + 3) * ldy),
                         _mm_unpackhi_epi64(t[cb + 2], t[cb + 3]));
    }
}
#endif

}  // namespace

void transpose_u8(const uint8_t* x, int64_t rows, int64_t cols, int64_t ldx, uint8_t* y, int64_t ldy) {
#if defined(__SSE2__)
    const int64_t r16 = rows / 16 * 16, c16 = cols / 16 * 16;
    for (int64_t r = 0; r < r16; r += 16)
        for (int64_t c = 0; c < c16; c += 16) transpose16x16_u8(x + r * ldx + c, ldx, y + c * ldy + r, ldy);
    // edges: columns c16.. of every row, rows r16.. of the first c16 columns
    if (c16 < cols) transpose_t(x + c16, rows, cols - c16, ldx, y + c16 * ldy, ldy);
    if (r16 < rows) transpose_t(x + r16 * ldx, rows - r16, c16, ldx, y + r16, ldy);
#else
    transpose_t(x, rows, cols, ldx, y, ldy);
#endif
}
void transpose_u8_ref(const uint8_t* x, int64_t rows, int64_t cols, int64_t ldx, uint8_t* y, int64_t ldy) {
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) y[c * ldy + r] = x[r * ldx + c];
}
void transpose_f32(const float* x, int64_t rows, int64_t cols, int64_t ldx, float* y, int64_t ldy) {
    transpose_t(x, rows, cols, ldx, y, ldy);
}

void im2col_nhwc_u8(const QIm2colNhwcArgs& a, uint8_t* out, int64_t ldo) {
    const size_t cg = static_cast<size_t>(a.Cg);
    // a whole kernel row is one contiguous run when the pixels are adjacent and hold only this group
    const bool runs = a.DW == 1 && a.Cg == a.C;
    uint8_t* const out_end = out + (a.p_end - a.p_begin) * ldo;  // (ldo ≥ K: the last row may end before)
    int64_t oy = a.p_begin / std::max<int64_t>(a.OW, 1), ox = a.p_begin - oy * a.OW;
    for (int64_t p = a.p_begin; p < a.p_end; ++p, ++ox) {
        if (ox == a.OW) ox = 0, ++oy;
        uint8_t* row = out + (p - a.p_begin) * ldo;
        const int64_t ix0 = ox * a.SW - a.PL;
        for (int64_t ky = 0; ky < a.KH; ++ky) {
            const int64_t iy = oy * a.SH - a.PT + ky * a.DH;
            uint8_t* dst = row + ky * a.KW * a.Cg;
            if (iy < 0 || iy >= a.H) {
                std::memset(dst, a.pad, cg * static_cast<size_t>(a.KW));
                continue;
            }
            const uint8_t* src = a.x + iy * a.W * a.C + a.c0;
            if (runs && ix0 >= 0 && ix0 + a.KW <= a.W) {
                const int64_t n = a.Cg * a.KW;
                if (n <= 8 && ix0 * a.C + 8 <= a.W * a.C && dst + 8 <= out_end) {
                    // a few bytes (first layers: 1–3 channels): one 8-byte move; the bytes past n are inside
                    // this image row and inside `out`, and later taps / rows overwrite them
                    std::memcpy(dst, src + ix0 * a.C, 8);
                } else if (n <= 16) {
                    for (int64_t i = 0; i < n; ++i) dst[i] = src[ix0 * a.C + i];
                } else {
                    std::memcpy(dst, src + ix0 * a.C, static_cast<size_t>(n));
                }
                continue;
            }
            if (a.Cg == 1) {  // bytes (a first convolution on one channel)
                for (int64_t kx = 0; kx < a.KW; ++kx) {
                    const int64_t ix = ix0 + kx * a.DW;
                    dst[kx] = ix < 0 || ix >= a.W ? a.pad : src[ix * a.C];
                }
                continue;
            }
            for (int64_t kx = 0; kx < a.KW; ++kx) {
                const int64_t ix = ix0 + kx * a.DW;
                if (ix < 0 || ix >= a.W)
                    std::memset(dst + kx * a.Cg, a.pad, cg);
                else
                    std::memcpy(dst + kx * a.Cg, src + ix * a.C, cg);
            }
        }
    }
}

void conv_weights_hwc(const int8_t* w, int64_t OC, int64_t Cg, int64_t KH, int64_t KW, int8_t* wr) {
    const int64_t K = Cg * KH * KW;
    for (int64_t oc = 0; oc < OC; ++oc)
        for (int64_t c = 0; c < Cg; ++c)
            for (int64_t t = 0; t < KH * KW; ++t) wr[oc * K + t * Cg + c] = w[oc * K + c * KH * KW + t];
}

void qdwconv_ref(const QDwConvArgs& a) {
    for (int64_t c = a.c_begin; c < a.c_end; ++c) {
        const int32_t zw = a.w_zero ? a.w_zero[c] : 0;
        for (int64_t oy = 0; oy < a.OH; ++oy) {
            for (int64_t ox = 0; ox < a.OW; ++ox) {
                int32_t acc = 0;
                for (int64_t ky = 0; ky < a.KH; ++ky) {
                    const int64_t iy = oy * a.SH - a.PT + ky * a.DH;
                    if (iy < 0 || iy >= a.H) continue;
                    for (int64_t kx = 0; kx < a.KW; ++kx) {
                        const int64_t ix = ox * a.SW - a.PL + kx * a.DW;
                        if (ix < 0 || ix >= a.W) continue;
                        acc += (x_at(a, (qdw::in_plane(a, c) * a.H + iy) * a.W + ix) - a.a_zero) *
                               (static_cast<int32_t>(a.w[(c * a.KH + ky) * a.KW + kx]) - zw);
                    }
                }
                store(a, c, acc, (c * a.OH + oy) * a.OW + ox);
            }
        }
    }
}

int64_t qdwconv_work_bytes(const QDwConvArgs& a) {
    const int64_t wp = qdw::pitch(a);
    return (qdw::plane_rows(a) * wp * 2 + 63) / 64 * 64 + (a.OH * wp + 15) / 16 * 16 * 4;
}

namespace {
#define QDW_NAME qdwconv_rows_impl
#define QDW_NAME_PLANE qdwconv_plane_impl
#include "kernels/x86/qconv_dw.inc"
#undef QDW_NAME
#undef QDW_NAME_PLANE
#define QQ_NAME quantize_impl
#include "kernels/x86/qconv_quant.inc"
#undef QQ_NAME
}  // namespace

void quantize_linear_f32_ref(const float* x, int64_t n, float scale, int32_t zero, bool is_signed, void* y) {
    quantize_impl(x, n, scale, zero, is_signed, y);
}

void qdwconv_rows(const QDwConvArgs& a) {
    qdwconv_rows_impl(a);
}

void qdwconv_nhwc_pack(const int8_t* w, const int32_t* w_zero, const int32_t* bias, int32_t a_zero, int64_t C,
                       int64_t KH, int64_t KW, int16_t* wt, int32_t* bias0) {
    const int64_t taps = KH * KW;
    for (int64_t c = 0; c < C; ++c) {
        const int32_t zw = w_zero ? w_zero[c] : 0;
        int32_t sum = 0;
        for (int64_t t = 0; t < taps; ++t) {
            const int32_t v = int32_t{w[c * taps + t]} - zw;
            wt[t * C + c] = static_cast<int16_t>(v);
            sum += v;
        }
        bias0[c] = wrap_add_i32(bias ? bias[c] : 0, static_cast<int32_t>(static_cast<uint32_t>(-a_zero) *
                                                                     static_cast<uint32_t>(sum)));
    }
}

void qdwconv_nhwc_ref(const QDwNhwcArgs& a) {
    EDGEQ_CHECK(a.out == QOut::U8 || a.out == QOut::S8);
    const int64_t C = a.C;
    QDwConvArgs e;  // for store(): the same epilogue as qdwconv
    e.out = a.out, e.y = a.y, e.multiplier = a.multiplier;
    e.y_zero = a.y_zero, e.y_min = a.y_min, e.y_max = a.y_max;
    for (int64_t oy = a.oy_begin; oy < a.oy_end; ++oy)
        for (int64_t ox = 0; ox < a.OW; ++ox)
            for (int64_t c = 0; c < C; ++c) {
                int32_t acc = 0;
                for (int64_t ky = 0; ky < a.KH; ++ky)
                    for (int64_t kx = 0; kx < a.KW; ++kx) {
                        const int64_t i = ((oy * a.SH + ky * a.DH) * a.wp + ox * a.SW + kx * a.DW) * C + c;
                        const int32_t xv = a.a_signed ? int32_t{static_cast<const int8_t*>(a.x)[i]}
                                                      : int32_t{static_cast<const uint8_t*>(a.x)[i]};
                        acc += xv * a.w[(ky * a.KW + kx) * C + c];
                    }
                store(e, c, wrap_add_i32(acc, a.bias0[c]), (oy * a.OW + ox) * C + c);
            }
}

void qconv_direct_pack(const int8_t* w, const int32_t* bias, int32_t a_zero, bool a_signed, int64_t C,
                       int64_t OC, int64_t KH, int64_t KW, int8_t* wp, int32_t* bias0) {
    const int64_t Q = qconv_direct_groups(C, KW), OB = (OC + 15) / 16;
    std::fill(wp, wp + qconv_direct_w_bytes(C, OC, KH, KW), int8_t{0});
    std::fill(bias0, bias0 + OB * 16, 0);
    const int32_t zu = a_zero + (a_signed ? 128 : 0);
    for (int64_t oc = 0; oc < OC; ++oc) {
        int32_t sum = 0;
        for (int64_t ky = 0; ky < KH; ++ky)
            for (int64_t kx = 0; kx < KW; ++kx)
                for (int64_t c = 0; c < C; ++c) {
                    const int8_t v = w[((oc * C + c) * KH + ky) * KW + kx];
                    const int64_t k = kx * C + c;
                    wp[(((ky * Q + k / 4) * OB + oc / 16) * 16 + oc % 16) * 4 + k % 4] = v;
                    sum += v;
                }
        bias0[oc] = wrap_add_i32(bias ? bias[oc] : 0,
                             static_cast<int32_t>(static_cast<uint32_t>(-zu) * static_cast<uint32_t>(sum)));
    }
}

void qconv_direct_ref(const QConvDirectArgs& a) {
    EDGEQ_CHECK(a.out == QOut::U8 || a.out == QOut::S8);
    const int64_t Q = qconv_direct_groups(a.C, a.KW), OB = (a.OC + 15) / 16;
    const auto* x = static_cast<const uint8_t*>(a.x);
    const uint8_t flip = a.a_signed ? 0x80 : 0;
    const int64_t y_row = a.y_row > 0 ? a.y_row : a.OW * a.OC;
    QDwConvArgs e;  // for store(): the same epilogue as qdwconv
    e.out = a.out, e.y = a.y, e.multiplier = a.multiplier;
    e.y_zero = a.y_zero, e.y_min = a.y_min, e.y_max = a.y_max;
    for (int64_t oy = a.oy_begin; oy < a.oy_end; ++oy)
        for (int64_t ox = 0; ox < a.OW; ++ox)
            for (int64_t oc = 0; oc < a.OC; ++oc) {
                int32_t acc = 0;
                for (int64_t ky = 0; ky < a.KH; ++ky) {
                    const uint8_t* row = x + ((oy * a.SH + ky * a.DH) * a.wp + ox * a.SW) * a.C;
                    for (int64_t k = 0; k < Q * 4; ++k)
                        acc += int32_t{static_cast<uint8_t>(row[k] ^ flip)} *
                               a.w[(((ky * Q + k / 4) * OB + oc / 16) * 16 + oc % 16) * 4 + k % 4];
                }
                store(e, oc, wrap_add_i32(acc, a.bias0[oc]), oy * y_row + ox * a.OC + oc);
            }
}

void qconv_c1_pack(const int8_t* w, const int32_t* bias, int32_t a_zero, bool a_signed, int64_t OC, int64_t KH,
                   int64_t KW, int32_t* wp, int32_t* bias0) {
    EDGEQ_CHECK(KW <= kQConvC1MaxKW && OC <= kQConvC1MaxOC);
    const int64_t G = qconv_c1_groups(KW);
    const int32_t zu = a_zero + (a_signed ? 128 : 0);
    for (int64_t oc = 0; oc < OC; ++oc) {
        int32_t sum = 0;
        for (int64_t ky = 0; ky < KH; ++ky)
            for (int64_t g = 0; g < G; ++g) {
                uint32_t v = 0;
                for (int64_t t = 0; t < 4; ++t) {
                    const int64_t kx = 4 * g + t;
                    const int8_t b = kx < KW ? w[(oc * KH + ky) * KW + kx] : int8_t{0};
                    v |= uint32_t{static_cast<uint8_t>(b)} << (8 * t);
                    sum += b;
                }
                wp[(ky * G + g) * OC + oc] = static_cast<int32_t>(v);
            }
        bias0[oc] = wrap_add_i32(bias ? bias[oc] : 0,
                             static_cast<int32_t>(static_cast<uint32_t>(-zu) * static_cast<uint32_t>(sum)));
    }
}

void qconv_c1_ref(const QConvC1Args& a) {
    EDGEQ_CHECK(a.out == QOut::U8 || a.out == QOut::S8);
    const int64_t G = qconv_c1_groups(a.KW);
    const auto* x = static_cast<const uint8_t*>(a.x);
    const uint8_t flip = a.a_signed ? 0x80 : 0;
    QDwConvArgs e;  // for store(): the same epilogue as qdwconv
    e.out = a.out, e.y = a.y, e.multiplier = a.multiplier;
    e.y_zero = a.y_zero, e.y_min = a.y_min, e.y_max = a.y_max;
    for (int64_t oc = 0; oc < a.OC; ++oc)
        for (int64_t oy = a.oy_begin; oy < a.oy_end; ++oy)
            for (int64_t ox = 0; ox < a.OW; ++ox) {
                int32_t acc = 0;
                for (int64_t ky = 0; ky < a.KH; ++ky)
                    for (int64_t g = 0; g < G; ++g) {
                        const auto wv = static_cast<uint32_t>(a.w[(ky * G + g) * a.OC + oc]);
                        for (int64_t t = 0; t < 4; ++t)
                            acc += int32_t{static_cast<uint8_t>(x[(oy + ky) * a.wp + ox + 4 * g + t] ^ flip)} *
                                   int32_t{static_cast<int8_t>(wv >> (8 * t))};
                    }
                store(e, oc, wrap_add_i32(acc, a.bias0[oc]), (oc * a.OH + oy) * a.OW + ox);
            }
}

// kernels/x86/qconv_dw_avx2.cpp (an AVX-512 build of the same loops measured no faster on Zen 4, and a
// register-blocked 16-output plane loop in portable code slower: neither kept; the AVX2 file has a vpmaddwd
// tap-pair loop for stride 1 instead)
namespace x86 {
void qdwconv__avx2(const QDwConvArgs& a);
void quantize_linear_f32__avx2(const float* x, int64_t n, float scale, int32_t zero, bool is_signed, void* y);
void activate_f32__avx2(const Activation& a, float* y, int64_t n);
void activate_f32__avx512(const Activation& a, float* y, int64_t n);
bool qavgpool_inside__avx2(const QAvgPoolArgs& a);
bool qavgpool_2x2__avx512(const QAvgPoolArgs& a);
void qlut_u8__avx512vbmi(const uint8_t* table, const uint8_t* x, int64_t n, uint8_t* y);
void qdwconv_nhwc__avx512(const QDwNhwcArgs& a);
bool qdwconv_nhwc__avx512vnni(const QDwNhwcArgs& a);
void qconv_direct__avx512vnni(const QConvDirectArgs& a);
void qconv_c1__avx512vnni(const QConvC1Args& a);
void qadd__avx512(const QAddArgs& a);
void qmaxpool_nhwc__avx512(const QMaxPoolNhwcArgs& a);
}  // namespace x86

void activate_f32_ref(const Activation& a, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = activate(a, y[i]);
}

void activate_f32(const Activation& a, float* y, int64_t n) {
    static const Isa isa = active_isa();
    if (a.kind == Act::None) return;
    if (isa >= Isa::Avx512)
        x86::activate_f32__avx512(a, y, n);
    else if (isa >= Isa::Avx2)
        x86::activate_f32__avx2(a, y, n);
    else
        activate_f32_ref(a, y, n);
}

void quantize_linear_f32(const float* x, int64_t n, float scale, int32_t zero, bool is_signed, void* y) {
    static const Isa isa = active_isa();
    if (isa >= Isa::Avx2)
        x86::quantize_linear_f32__avx2(x, n, scale, zero, is_signed, y);
    else
        quantize_impl(x, n, scale, zero, is_signed, y);
}

void qdwconv(const QDwConvArgs& a) {
    static const Isa isa = active_isa();
    if (isa >= Isa::Avx2)
        x86::qdwconv__avx2(a);
    else
        qdwconv_rows(a);
}

void qdwconv_nhwc(const QDwNhwcArgs& a) {
    static const Isa isa = active_isa();
    static const bool vnni_vbmi = isa >= Isa::Avx512Vnni && __builtin_cpu_supports("avx512vbmi");
    if (a.out != QOut::U8 && a.out != QOut::S8) {
        qdwconv_nhwc_ref(a);
        return;
    }
    if (vnni_vbmi && x86::qdwconv_nhwc__avx512vnni(a)) return;  // (false: weights past s8, > 32 taps)
    if (isa >= Isa::Avx512)
        x86::qdwconv_nhwc__avx512(a);
    else
        qdwconv_nhwc_ref(a);
}

void qconv_direct(const QConvDirectArgs& a) {
    static const Isa isa = active_isa();
    if (isa >= Isa::Avx512Vnni && (a.out == QOut::U8 || a.out == QOut::S8))
        x86::qconv_direct__avx512vnni(a);
    else
        qconv_direct_ref(a);
}

void qadd_ref(const QAddArgs& a) {
    auto at = [](const void* p, bool sgn, int64_t i) {
        return sgn ? int32_t{static_cast<const int8_t*>(p)[i]} : int32_t{static_cast<const uint8_t*>(p)[i]};
    };
    const float lo = a.y_signed ? -128.0f : 0.0f, hi = a.y_signed ? 127.0f : 255.0f;
    for (int64_t i = 0; i < a.n; ++i) {
        const float fa = static_cast<float>(at(a.a, a.a_signed, i) - a.za) * a.sa;
        const float fb = static_cast<float>(at(a.b, a.b_signed, i) - a.zb) * a.sb;
        float f = fa + fb;
        if (a.relu) f = std::max(f, 0.0f);
        const float q = std::clamp(std::nearbyint(f / a.sy) + static_cast<float>(a.zy), lo, hi);
        if (a.y_signed)
            static_cast<int8_t*>(a.y)[i] = static_cast<int8_t>(q);
        else
            static_cast<uint8_t*>(a.y)[i] = static_cast<uint8_t>(q);
    }
}

void qadd(const QAddArgs& a) {
    static const Isa isa = active_isa();
    if (isa >= Isa::Avx512)
        x86::qadd__avx512(a);
    else
        qadd_ref(a);
}

bool qconv_c1_vector() {
    static const bool ok = active_isa() >= Isa::Avx512Vnni && __builtin_cpu_supports("avx512vbmi");
    return ok;
}

void qconv_c1(const QConvC1Args& a) {
    if (qconv_c1_vector() && (a.out == QOut::U8 || a.out == QOut::S8))
        x86::qconv_c1__avx512vnni(a);
    else
        qconv_c1_ref(a);
}

void qavgpool_ref(const QAvgPoolArgs& a) {
    if (a.x_signed)
        a.y_signed ? qavgpool_t<int8_t, int8_t>(a) : qavgpool_t<int8_t, uint8_t>(a);
    else
        a.y_signed ? qavgpool_t<uint8_t, int8_t>(a) : qavgpool_t<uint8_t, uint8_t>(a);
}

void qavgpool(const QAvgPoolArgs& a) {
    static const Isa isa = active_isa();
    if (isa >= Isa::Avx512 && x86::qavgpool_2x2__avx512(a)) return;
    if (isa >= Isa::Avx2 && x86::qavgpool_inside__avx2(a)) return;
    qavgpool_ref(a);
}

void qlut_u8_ref(const uint8_t* table, const uint8_t* x, int64_t n, uint8_t* y) {
    for (int64_t i = 0; i < n; ++i) y[i] = table[x[i]];
}

void qlut_u8(const uint8_t* table, const uint8_t* x, int64_t n, uint8_t* y) {
    static const bool vbmi = active_isa() >= Isa::Avx512 && __builtin_cpu_supports("avx512vbmi");
    if (vbmi)
        x86::qlut_u8__avx512vbmi(table, x, n, y);
    else
        qlut_u8_ref(table, x, n, y);
}

void qmaxpool(const QMaxPoolArgs& a) {
    if (a.is_signed)
        qmaxpool_t<int8_t>(a);
    else
        qmaxpool_t<uint8_t>(a);
}

namespace {
template <typename T>
void qmaxpool_nhwc_t(const QMaxPoolNhwcArgs& a) {
    const T* x = static_cast<const T*>(a.x);
    T* y = static_cast<T*>(a.y);
    const int64_t y_row = a.y_row > 0 ? a.y_row : a.OW * a.C;
    for (int64_t oy = a.oy_begin; oy < a.oy_end; ++oy)
        for (int64_t ox = 0; ox < a.OW; ++ox) {
            T* yp = y + oy * y_row + ox * a.C;
            bool any = false;
            window_taps(a, oy, ox, [&](int64_t iy, int64_t ix) {
                const T* xp = x + (iy * a.W + ix) * a.C;
                for (int64_t c = 0; c < a.C; ++c) yp[c] = any ? std::max(yp[c], xp[c]) : xp[c];
                any = true;
            });
            EDGEQ_CHECK_MSG(any, "qmaxpool_nhwc: a window lies entirely in the padding");
        }
}
}  // namespace

void qmaxpool_nhwc_ref(const QMaxPoolNhwcArgs& a) {
    if (a.is_signed)
        qmaxpool_nhwc_t<int8_t>(a);
    else
        qmaxpool_nhwc_t<uint8_t>(a);
}

void qmaxpool_nhwc(const QMaxPoolNhwcArgs& a) {
    static const Isa isa = active_isa();
    if (isa >= Isa::Avx512)
        x86::qmaxpool_nhwc__avx512(a);
    else
        qmaxpool_nhwc_ref(a);
}

}  // namespace edgeq::kernels
