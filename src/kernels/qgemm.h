// Integer GEMM kernels: INT8 (u8/s8 activations × s8 weights, int32 accumulation) and group-wise INT4 / INT2
// weights × int8 activations, plus the u8 im2col that turns an INT8 Conv into im2col + qgemm.
//
// Same layer rules as kernels.h: pointers, strides and sizes only; no allocation (the kernels use small
// fixed stack tiles), no threads (callers split rows with m_begin/m_end and columns with n_begin/n_end;
// the ranges are independent). Every kernel has a scalar reference (kernels/ref/qgemm_ref.cpp, always built,
// the specification) and ISA rows (kernels/x86/qgemm_*.cpp) that match it bit-exactly on integer outputs.
// qdispatch.cpp holds the rows; qselect() picks the best row enabled by active_isa() (EDGEQ_ISA caps it).
// Layout, exactness argument and measured speed: docs/kernels-int8.md.
//
// Names (STYLE.md):
//   qgemm_u8s8__<isa>_<mr>x<nr>        C[M×N] = epilogue(Σ_k (A−za)(B−zb)), A u8 or s8, B s8 packed
//   qgemm_u8s4g_f32__<isa>_<mr>x<nr>   C[M×N] = act(a_scale[m]·Σ_g scale[g][n]·Σ_{k∈g}(A−za)(Q−z) + bias[n]),
//   Q int4 qgemm_u8s2g_f32__<isa>_<mr>x<nr>   same with Q int2
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/cpu.h"
#include "kernels/kernels.h"

namespace edgeq::kernels {

// ---- INT8 GEMM ----------------------------------------------------------------------------------------
//
// Packed B (qpack_b), shared by every row (pack once, any ISA): panels of kQNr = 16 columns, K in groups of 4
// (the vpdpbusd operand layout), K4 = ceil(K/4):
//   byte  [(p·K4 + k4)·64 + j·4 + t] = B[4·k4 + t][16·p + j]     (0 where k ≥ K or n ≥ N)
//   int32 colsum[n] = Σ_k B[k][n] at byte offset qpack_b_colsum_offset(K, N), ceil(N/16)·16 entries
//   int32 flag: 1 when every B is in [-64, 63] ("7-bit" weights, e.g. ONNX Runtime's reduce_range), then 60
//   bytes of padding. The AVX2 row then uses vpmaddubsw, which is exact for such B (|pair| ≤ 2·255·64 <
//   2^15).
// u8 weights are stored as B − 128 (s8); the caller then passes zero points zb − 128 (exact: B − zb
// unchanged).

inline constexpr int kQNr = 16;
inline constexpr int64_t kQMaxK = 32768;  // |(a−za)(b−zb)| ≤ 255² so Σ over K ≤ 32768 terms fits int32

int64_t qpack_b_colsum_offset(int64_t K, int64_t N);
int64_t qpack_b_bytes(int64_t K, int64_t N);  // packed size; the buffer should be 64-byte aligned
// B element (k, n) is read at b[k·stride_k + n·stride_n] (bytes; int8, or uint8 when b_unsigned).
void qpack_b(const void* b, bool b_unsigned, int64_t stride_k, int64_t stride_n, int64_t K, int64_t N,
             void* packed);
// The 7-bit flag of a packed B.
bool qpack_b_is_7bit(const void* packed, int64_t K, int64_t N);

enum class QOut : uint8_t { U8, S8, S32, F32 };

// For every m in [m_begin, m_end), n in [n_begin, n_end) the accumulator is (int32, wrapping add of bias)
//   acc = Σ_{k<K} (A[m][k] − a_zero) · (B[k][n] − zb[n])  +  bias[n]         (zb[n] = b_zero ? b_zero[n] : 0)
// and C[m][n] at c[m·ldc + n] (elements of the output type) is
//   U8 / S8: f = float(acc) · multiplier[n]                      (one fp32 multiply, round to nearest)
//            f = min(max(f, float(y_min − y_zero)), float(y_max − y_zero))
//            C = int(nearbyint(f)) + y_zero                      (round half to even, as QuantizeLinear)
//            [y_min, y_max] inside the type's range; a fused Relu / Clip narrows it.
//   S32:     C = acc
//   F32:     C = act(float(acc) · (a_scale[a_scale_per_row ? m : 0] · b_scale[n]) + bias_f[n])   (no FMA)
// s8 activations (a_signed) are computed as u8 A + 128 with zero point a_zero + 128 (same value exactly).
struct QGemmArgs {
    int64_t M = 0, N = 0, K = 0;  // K ≤ kQMaxK
    const void* a = nullptr;      // A[m][k] at a[m·lda + k], uint8 (or int8 when a_signed)
    int64_t lda = 0;
    // Indirect A ("implicit im2col"), optional: with a_rows, A[m][4·j + t] is byte t of the group at
    // a_rows[m] + a_koff[j] (t < 4), and `a` / lda are unused. K must then be a multiple of 4. A convolution
    // on a padded NHWC image reads its windows in place this way: row m = the pixel's window origin, a_koff =
    // each kernel row's offset plus the position inside its run of KW·C contiguous bytes.
    const uint8_t* const* a_rows = nullptr;  // [m_end] row origins (indexed by m), or nullptr
    const int32_t* a_koff = nullptr;         // [K / 4] byte offsets, with a_rows
    bool a_signed = false;
    int32_t a_zero = 0;               // in A's type range
    const void* b = nullptr;          // qpack_b(K, N)
    const int32_t* b_zero = nullptr;  // [N] in [-128, 127], or nullptr (all 0)
    const int32_t* bias = nullptr;    // [N] int32, or nullptr
    QOut out = QOut::U8;
    void* c = nullptr;
    int64_t ldc = 0;
    // U8 / S8 (requantize)
    const float* multiplier = nullptr;  // [N]: a_scale · b_scale[n] / y_scale
    int32_t y_zero = 0, y_min = 0, y_max = 255;
    // F32 (dequantize)
    const float* a_scale = nullptr;  // [1] or [M]
    bool a_scale_per_row = false;
    const float* b_scale = nullptr;  // [N]
    const float* bias_f = nullptr;   // [N], or nullptr
    Activation act;
    int64_t m_begin = 0, m_end = 0;
    int64_t n_begin = 0, n_end = 0;  // n_begin a multiple of kQNr (threads split columns at panel edges)
};
using QGemmFn = void (*)(const QGemmArgs&);

// ---- group-wise INT4 / INT2 weights × INT8 activations, float output --------------------------------------
//
// Weights Q[K][N] signed (int4: [-8, 7], int2: [-2, 1]), one float scale and optional zero point Z (same
// range) per group of G ∈ {32, 64, 128} consecutive k and per column: W[k][n] = scale[k/G][n]·(Q[k][n] −
// Z[k/G][n]). Packed (qpack_group), panels of 16 columns, per panel and group g (ng = ceil(K/G) groups):
//   float scale[16]; float wsum[16] (Σ_{k∈g} (Q−Z), exact); if has_zero: uint8 zoff[64] (Z + off at j·4 + t);
//   then G·16·bits/8 bytes of codes Q + off (off = 8 for int4, 2 for int2), in 64-byte blocks:
//     int4, block b: byte j·4+t = (Q[8b+t] + 8) | (Q[8b+4+t] + 8) << 4
//     int2, block b: byte j·4+t = Σ_s (Q[16b+4s+t] + 2) << 2s
//   (k relative to the group start, column 16p + j; k ≥ K stores Q = Z, columns ≥ N store zeros).
// Result (per row m, column n):
//   acc_g = Σ_{k∈g, k<K} (A[m][k] − za[m]) · (Q[k][n] − Z[g][n])     (int32; exact in fp32 too, G ≤ 128)
//   f     = fma(float(acc_g), scale[g][n], f)  over g = 0, 1, ... from f = 0
//   C[m][n] = act(f · a_scale[m] + bias[n])                            (multiply, then add; no FMA)
struct QGroupGemmArgs {
    int64_t M = 0, N = 0, K = 0;
    int bits = 4;             // 4 or 2 (must match the row's op)
    int group = 32;           // 32, 64 or 128
    bool has_zero = false;    // packed with zero points
    const void* a = nullptr;  // A[m][k] at a[m·lda + k], uint8 (or int8 when a_signed)
    int64_t lda = 0;
    bool a_signed = false;
    const int32_t* a_zero = nullptr;  // [M] (dynamic per-row zero point), or nullptr (0)
    const float* a_scale = nullptr;   // [M]
    const void* b = nullptr;          // qpack_group
    const float* bias = nullptr;      // [N], or nullptr
    Activation act;
    float* c = nullptr;  // C[m][n] at c[m·ldc + n]
    int64_t ldc = 0;
    int64_t m_begin = 0, m_end = 0;
    int64_t n_begin = 0, n_end = 0;  // n_begin a multiple of kQNr
};
using QGroupGemmFn = void (*)(const QGroupGemmArgs&);

int64_t qpack_group_bytes(int bits, int group, bool has_zero, int64_t K, int64_t N);
// q[k·stride_k + n·stride_n] int8 codes in range; scale [ceil(K/G)][N] row-major; zero likewise or nullptr.
void qpack_group(int bits, int group, const int8_t* q, int64_t stride_k, int64_t stride_n, const float* scale,
                 const int8_t* zero, int64_t K, int64_t N, void* packed);

// Dynamic per-row quantization of activations for the group kernels: s8 symmetric,
// scale[m] = max|x[m][:]| / 127 (1 when the row is all zero), q = saturate(nearbyint(x / scale)).
void quantize_rows_s8(const float* x, int64_t ldx, int64_t M, int64_t K, int8_t* q, int64_t ldq,
                      float* scale);

// ---- INT8 convolution: im2col (u8, padded with the activation zero point) + qgemm ------------------------
//
// Conv of one image and group as a GEMM with the activations as A: A[p][k] for output pixel p = oy·OW + ox
// and k = (c·KH + ky)·KW + kx (the ONNX weight order, so B = W^T: qpack_b(w, bias.., stride_k = 1,
// stride_n = C·KH·KW)). The qgemm output is then pixel-major, C[p][oc] (NHWC).
struct QIm2colArgs {
    int64_t C = 0, H = 0, W = 0, OH = 0, OW = 0;
    int64_t KH = 1, KW = 1, SH = 1, SW = 1, PT = 0, PL = 0, DH = 1, DW = 1;
    const uint8_t* x = nullptr;  // [C][H][W] bytes (u8 or s8)
    uint8_t pad = 0;             // the activation zero point (its byte)
    int64_t p_begin = 0, p_end = 0;
};
// Writes rows p_begin..p_end-1 to out[(p − p_begin)·ldo + k], k < C·KH·KW.
void im2col_u8(const QIm2colArgs& a, uint8_t* out, int64_t ldo);

// ---- scalar references (the specification) ---------------------------------------------------------------
namespace ref {
void qgemm_u8s8(const QGemmArgs& g);
void qgemm_u8s4g_f32(const QGroupGemmArgs& g);
void qgemm_u8s2g_f32(const QGroupGemmArgs& g);
}  // namespace ref

// ---- dispatch (qdispatch.cpp)
// -------------------------------------------------------------------------------
enum class QOp : uint8_t { Gemm8, Gemm4g, Gemm2g };

struct QKernelRow {
    QOp op;
    Isa isa;
    bool needs_avxvnni;  // AVX-VNNI (VEX vpdpbusd on ymm): an AVX2-level row that also needs
                         // cpu_features().avxvnni
    const char* name;
    int mr, nr;
    void (*fn)();
};

// Every row compiled into this binary (whether or not this CPU can run it).
std::span<const QKernelRow> qkernel_rows();
bool qrow_supported(const QKernelRow& r);  // this CPU can run it (ignores EDGEQ_ISA)
bool qrow_enabled(const QKernelRow& r);    // supported and within active_isa()
// Best enabled row for op (never null: reference rows are always present).
const QKernelRow& qselect(QOp op);

inline QGemmFn qgemm_fn(const QKernelRow& r) {
    return reinterpret_cast<QGemmFn>(r.fn);
}
inline QGroupGemmFn qgroup_fn(const QKernelRow& r) {
    return reinterpret_cast<QGroupGemmFn>(r.fn);
}

}  // namespace edgeq::kernels
