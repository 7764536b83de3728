// INT8 convolution helpers around kernels::qgemm (qgemm.h) for the runtime's integer Conv steps
// (runtime/fast/qfuse.cpp), and INT8 depthwise convolution and max pooling on quantized tensors.
//
// Layout: the runtime's tensors are NCHW. An integer Conv (group count G, Cg = C / G channels per group) runs
// per image as
//   1. x (NCHW bytes) -> NHWC bytes (transpose_u8, [C][H·W] -> [H·W][C]);
//   2. per block of output pixels: im2col_nhwc_u8 writes A[p][k'] with k' = (ky·KW + kx)·Cg + c (runs of Cg
//      contiguous bytes; 1×1 stride-1 unpadded convolutions skip it: A is the NHWC image itself, lda = C);
//   3. qgemm with B = the weights reordered to k' order (conv_weights_hwc) and packed once (qpack_b), output
//      pixel-major C[p][oc];
//   4. C -> NCHW (transpose_u8 / transpose_f32).
// Reordering k does not change the integer sum, so the result equals im2col_u8 (qgemm.h) + qgemm bit for bit
// (tests/kernels/qconv_test.cpp checks both against a direct integer convolution).
//
// qdwconv: depthwise (group = C = OC, one input channel per output channel) on NCHW bytes, the same
// accumulator and epilogues as qgemm (qgemm.h "Definitions"):
//   acc[c][oy][ox] = Σ_{ky,kx} (x[c][iy][ix] − za)·(w[c][ky][kx] − zw[c]) + bias[c]   (padding reads za, adds
//   0) U8/S8: y = nearbyint(clamp(float(acc)·multiplier[c], y_min − y_zero, y_max − y_zero)) + y_zero F32: y
//   = act(float(acc)·(a_scale·b_scale[c]) + bias_f[c])
// qdwconv_ref is the per-pixel specification; qdwconv computes the same integers row by row (vectorizable
// loops on an int16 copy of the padded input row, kernels/x86/qconv_dw.inc) and the same epilogue
// expressions.
//
// qmaxpool: MaxPool on u8 / s8 NCHW planes. DequantizeLinear(s, z) -> MaxPool -> QuantizeLinear(s, z) with
// the same (s, z) equals MaxPool on the quantized bytes exactly: DQ is monotonic, Q(DQ(q)) = q for every q
// ((q − z)·s / s rounds back to q − z: its error is below 1/2), and max commutes with monotonic maps. Padding
// never wins (ONNX MaxPool pads with −inf).
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/kernels.h"
#include "kernels/qgemm.h"

namespace edgeq::kernels {

// y[c·ldy + r] = x[r·ldx + c] for r < rows, c < cols (bytes / floats). transpose_u8 moves 16×16 blocks
// with SSE2 interleaves; transpose_u8_ref is the plain loop it is tested against.
void transpose_u8_ref(const uint8_t* x, int64_t rows, int64_t cols, int64_t ldx, uint8_t* y, int64_t ldy);
void transpose_u8(const uint8_t* x, int64_t rows, int64_t cols, int64_t ldx, uint8_t* y, int64_t ldy);
void transpose_f32(const float* x, int64_t rows, int64_t cols, int64_t ldx, float* y, int64_t ldy);

struct QIm2colNhwcArgs {
    int64_t C = 0;           // channels of the NHWC image (row stride of a pixel)
    int64_t c0 = 0, Cg = 0;  // the group's channels: c0 .. c0 + Cg − 1
    int64_t H = 0, W = 0, OH = 0, OW = 0;
    int64_t KH = 1, KW = 1, SH = 1, SW = 1, PT = 0, PL = 0, DH = 1, DW = 1;
    const uint8_t* x = nullptr;      // [H][W][C] bytes (u8 or s8)
    uint8_t pad = 0;                 // the activation zero point (its byte)
    int64_t p_begin = 0, p_end = 0;  // output pixels p = oy·OW + ox
};
// Writes rows p_begin..p_end-1 to out[(p − p_begin)·ldo + k'], k' = (ky·KW + kx)·Cg + c < KH·KW·Cg. Short
// runs are moved 8 bytes at a time, so bytes between a row's K and ldo may be overwritten (never past
// out + (p_end − p_begin)·ldo).
void im2col_nhwc_u8(const QIm2colNhwcArgs& a, uint8_t* out, int64_t ldo);

// w[oc][c][ky][kx] (ONNX order, OC × Cg × KH × KW int8) -> wr[oc][(ky·KW + kx)·Cg + c].
void conv_weights_hwc(const int8_t* w, int64_t OC, int64_t Cg, int64_t KH, int64_t KW, int8_t* wr);

struct QDwConvArgs {
    int64_t C = 0, H = 0, W = 0, OH = 0, OW = 0;
    int64_t KH = 1, KW = 1, SH = 1, SW = 1, PT = 0, PL = 0, DH = 1, DW = 1;
    const void* x = nullptr;  // one image [C][H][W], u8 (or s8 when a_signed)
    // every channel c reads input plane 0 (x is one [H][W] plane): a Conv with one input channel and C
    // outputs (group 1, OC = C) computed as C depthwise filters over the same plane ("qconv_c1")
    bool one_input = false;
    bool a_signed = false;
    int32_t a_zero = 0;
    const int8_t* w = nullptr;          // [C][KH][KW]
    const int32_t* w_zero = nullptr;    // [C] or nullptr (all 0)
    const int32_t* bias = nullptr;      // [C] int32 or nullptr
    QOut out = QOut::U8;                // U8, S8 or F32
    void* y = nullptr;                  // one image [C][OH][OW]
    const float* multiplier = nullptr;  // [C] (U8 / S8)
    int32_t y_zero = 0, y_min = 0, y_max = 255;
    float a_scale = 1.0f;            // F32
    const float* b_scale = nullptr;  // [C] (F32)
    const float* bias_f = nullptr;   // [C] or nullptr (F32)
    Activation act;                  // F32
    int64_t c_begin = 0, c_end = 0;  // channels to compute
    uint8_t* work = nullptr;  // optional scratch (64-byte aligned), qdwconv_work_bytes(): the plane path
    int64_t work_bytes = 0;
};
// Scratch of qdwconv's plane path (SH == SW): one channel's padded int16 plane + its int32 accumulators.
// Without it (or with other strides) qdwconv works row by row from stack buffers.
int64_t qdwconv_work_bytes(const QDwConvArgs& a);
namespace qdw {
// the input plane channel c reads
inline int64_t in_plane(const QDwConvArgs& a, int64_t c) {
    return a.one_input ? 0 : c;
}
// row pitch of the padded plane: every column a tap reads, and the whole padded input row
inline int64_t pitch(const QDwConvArgs& a) {
    const int64_t last = (a.OW - 1) * a.SW + (a.KW - 1) * a.DW;
    return std::max(last + 1, a.PL + a.W);
}
// rows of the plane: the input (with top padding) and every element s·j + taps reads for j < OH·pitch
// rounded up to 16
inline int64_t plane_rows(const QDwConvArgs& a) {
    const int64_t wp = pitch(a);
    const int64_t n16 = (a.OH * wp + 15) / 16 * 16;  // an ISA row may compute 16 accumulators at a time
    const int64_t max_idx = a.SH * (n16 - 1) + (a.KH - 1) * a.DH * wp + (a.KW - 1) * a.DW;
    return std::max(a.PT + a.H, max_idx / wp + 1);
}
}  // namespace qdw
void qdwconv_ref(const QDwConvArgs& a);
void qdwconv_rows(const QDwConvArgs& a);  // the row-wise loops at baseline flags (tested like qdwconv)
void qdwconv(const QDwConvArgs& a);       // the same loops built for AVX2 when active_isa() allows

// qdwconv_nhwc: the same depthwise convolution (and U8 / S8 epilogue) on one NHWC image whose padding is
// already in memory (x [hp][wp][C], border bytes = the activation zero point), for the runtime's NHWC
// integer chains (runtime/fast/qfuse.cpp keeps NHWC bytes between integer steps). The weights are packed
// once by qdwconv_nhwc_pack: wt[t][c] = w[c][t] − zw[c] (int16, t = ky·KW + kx) and
//   bias0[c] = bias[c] − a_zero·Σ_t wt[t][c]   (int32, wrapping),
// so acc[oy][ox][c] = Σ_t x[(oy·SH + ky·DH)·wp + ox·SW + kx·DW][c]·wt[t][c] + bias0[c] equals qdwconv's
// Σ (x − za)(w − zw) + bias mod 2^32 (padding reads za). qdwconv_nhwc_ref is that loop (always built);
// qdwconv_nhwc runs kernels/x86/qconv_dwnhwc_avx512.cpp (16 channels per vector: zero/sign-extended bytes
// times int16 weights with vpmaddwd, the epilogue in float lanes, rounding by cvtps (nearest even, as
// nearbyint)) when active_isa() allows AVX-512, else the reference: equal bytes either way.
struct QDwNhwcArgs {
    int64_t C = 0, OH = 0, OW = 0, wp = 0;  // wp: pixels per padded input row
    int64_t KH = 1, KW = 1, SH = 1, SW = 1, DH = 1, DW = 1;
    const void* x = nullptr;  // [hp][wp][C] u8 (s8 when a_signed), padding included
    bool a_signed = false;
    const int16_t* w = nullptr;         // [KH·KW][C] (qdwconv_nhwc_pack)
    const int32_t* bias0 = nullptr;     // [C] (qdwconv_nhwc_pack)
    QOut out = QOut::U8;                // U8 or S8
    void* y = nullptr;                  // [OH][OW][C]
    const float* multiplier = nullptr;  // [C]
    int32_t y_zero = 0, y_min = 0, y_max = 255;
    int64_t oy_begin = 0, oy_end = 0;  // output rows to compute
};
void qdwconv_nhwc_pack(const int8_t* w, const int32_t* w_zero, const int32_t* bias, int32_t a_zero, int64_t C,
                       int64_t KH, int64_t KW, int16_t* wt, int32_t* bias0);
void qdwconv_nhwc_ref(const QDwNhwcArgs& a);
void qdwconv_nhwc(const QDwNhwcArgs& a);

// qconv_direct: a group-1 convolution with few input channels (ultraface's first conv: C = 3; lenet5's
// second: C = 6, 5×5) straight from a padded NHWC image, no im2col: per kernel row ky, the KW·C bytes of a
// window row are contiguous (dilation 1 along x), read as Q = ceil(KW·C / 4) groups of 4 bytes (the last
// group's extra bytes meet zero weights), each broadcast and multiplied with 16 output channels' 4 weights by
// vpdpbusd. qconv_direct_pack lays the weights out as wp[ky][q][ob][16][4] (int8, ob = 16-output block, zero
// for k ≥ KW·C or oc ≥ OC) and
//   bias0[oc] = bias[oc] − zu·Σ_{ky,kx,c} w[oc][c][ky][kx]   (int32, wrapping; zu = a_zero, + 128 for s8
//   input, whose bytes the kernel flips to u8 by x ^ 0x80)
// so acc = Σ xu·w + bias0 equals Σ (x − za)·w + bias (weights with zero point 0 only; padding reads za). The
// U8 / S8 epilogue is qdwconv's. x must stay readable 3 bytes past the image (the last group of the last
// window). qconv_direct_ref is the scalar loop over the same packed data (always built); qconv_direct runs
// kernels/x86/qconv_direct_avx512vnni.cpp when active_isa() allows AVX-512 VNNI, else the reference.
struct QConvDirectArgs {
    int64_t C = 0, OC = 0, OH = 0, OW = 0, wp = 0;  // wp: pixels per padded input row
    int64_t KH = 1, KW = 1, SH = 1, SW = 1, DH = 1;
    const void* x = nullptr;  // [hp][wp][C] u8 (s8 when a_signed), padding included
    bool a_signed = false;
    const int8_t* w = nullptr;          // qconv_direct_pack
    const int32_t* bias0 = nullptr;     // [OC rounded up to 16]
    QOut out = QOut::U8;                // U8 or S8
    void* y = nullptr;                  // [OH][OW][OC], output rows y_row bytes apart
    int64_t y_row = 0;                  // 0: OW·OC (dense); more: rows inside a larger (padded) image
    const float* multiplier = nullptr;  // [OC]
    int32_t y_zero = 0, y_min = 0, y_max = 255;
    int64_t oy_begin = 0, oy_end = 0;
};
inline int64_t qconv_direct_groups(int64_t C, int64_t KW) {  // Q
    return (KW * C + 3) / 4;
}
inline int64_t qconv_direct_w_bytes(int64_t C, int64_t OC, int64_t KH, int64_t KW) {
    return KH * qconv_direct_groups(C, KW) * ((OC + 15) / 16) * 64;
}
// w: ONNX order [OC][C][KH][KW]; wp: qconv_direct_w_bytes; bias0: (OC + 15) / 16 · 16 entries.
void qconv_direct_pack(const int8_t* w, const int32_t* bias, int32_t a_zero, bool a_signed, int64_t C,
                       int64_t OC, int64_t KH, int64_t KW, int8_t* wp, int32_t* bias0);
void qconv_direct_ref(const QConvDirectArgs& a);
void qconv_direct(const QConvDirectArgs& a);

// qconv_c1: a group-1 convolution with ONE input channel, stride 1, dilation 1, KW ≤ 8 and OC ≤ 16 outputs
// (lenet5's first conv: 5×5, 6 outputs) with a requantized output, output pixels in the vector lanes: per
// kernel row ky and 16 output pixels ox0..ox0+15, one 64-byte load of the padded input row and a byte permute
// (vpermb) put x[ky][ox0 + j + 4g .. + 3] into lane j (g = 0, 1: taps kx = 4g .. 4g + 3), and vpdpbusd adds
// those 4 products for each output channel with its 4 weights broadcast. qconv_c1_pack lays the weights out as
// w[ky][g][oc] (int32 = 4 int8 weights kx = 4g .. 4g + 3, zero for kx ≥ KW) and
//   bias0[oc] = bias[oc] − zu·Σ_{ky,kx} w[oc][0][ky][kx]   (int32, wrapping; zu = a_zero, + 128 for s8 input,
//   whose bytes the kernel flips to u8 by x ^ 0x80)
// so acc = Σ xu·w + bias0 equals qdwconv's Σ (x − za)·w + bias with one_input (weights without zero points;
// padding reads za). The epilogue is qdwconv's U8 / S8 one; the output is NCHW [OC][OH][OW]. x is the padded
// plane [hp][wp] (border bytes = the zero point, hp ≥ OH + KH − 1, wp ≥ OW + KW − 1) and must stay readable
// 64 bytes past the start of its last row's last window (qconv_c1_x_bytes). qconv_c1_ref is the scalar loop
// over the same packed data (always built); qconv_c1 runs kernels/x86/qconv_c1_avx512vnni.cpp when
// qconv_c1_vector() (AVX-512 VNNI and VBMI), else the reference.
struct QConvC1Args {
    int64_t OC = 0, OH = 0, OW = 0, wp = 0, KH = 1, KW = 1;
    const void* x = nullptr;  // [hp][wp] u8 (s8 when a_signed), padding included
    bool a_signed = false;
    const int32_t* w = nullptr;         // qconv_c1_pack: [KH][qconv_c1_groups(KW)][OC]
    const int32_t* bias0 = nullptr;     // [OC]
    QOut out = QOut::U8;                // U8 or S8
    void* y = nullptr;                  // [OC][OH][OW]
    const float* multiplier = nullptr;  // [OC]
    int32_t y_zero = 0, y_min = 0, y_max = 255;
    int64_t oy_begin = 0, oy_end = 0;
};
constexpr int64_t kQConvC1MaxKW = 8, kQConvC1MaxOC = 16;
inline int64_t qconv_c1_groups(int64_t KW) {
    return (KW + 3) / 4;
}
inline int64_t qconv_c1_x_bytes(int64_t hp, int64_t wp) {
    return hp * wp + 64;
}
// w: ONNX order [OC][1][KH][KW]; wp: KH · qconv_c1_groups(KW) · OC entries; bias0: OC entries.
void qconv_c1_pack(const int8_t* w, const int32_t* bias, int32_t a_zero, bool a_signed, int64_t OC, int64_t KH,
                   int64_t KW, int32_t* wp, int32_t* bias0);
bool qconv_c1_vector();
void qconv_c1_ref(const QConvC1Args& a);
void qconv_c1(const QConvC1Args& a);

// qdwconv keeps one padded input row (int16) and one accumulator row (int32) on the stack; rows longer than
// this run the reference loop.
constexpr int64_t kQDwMaxRow = 4096;

// ONNX QuantizeLinear, per tensor, float -> u8 / s8 (is_signed): y = saturate(nearbyint(x / scale) + zero),
// NaN -> zero (the division, not a reciprocal multiply, as the reference op). _ref: the loop at baseline
// flags; quantize_linear_f32: the same loop built for AVX2 when active_isa() allows (equal bytes).
void quantize_linear_f32_ref(const float* x, int64_t n, float scale, int32_t zero, bool is_signed, void* y);
void quantize_linear_f32(const float* x, int64_t n, float scale, int32_t zero, bool is_signed, void* y);

// y[i] = act(y[i]) for i < n, in place: the float epilogue of integer steps whose kernel applies no vector
// activation (qdwconv). _ref: activate() per element (the ONNX definition); activate_f32: the vector
// activations of the GEMM epilogues (AVX-512 / AVX2 by active_isa(); Sigmoid / Tanh within kQActAbs of the
// reference, the others equal).
void activate_f32_ref(const Activation& a, float* y, int64_t n);
void activate_f32(const Activation& a, float* y, int64_t n);

struct QMaxPoolArgs {
    int64_t H = 0, W = 0, OH = 0, OW = 0;
    int64_t KH = 1, KW = 1, SH = 1, SW = 1, PT = 0, PL = 0, DH = 1, DW = 1;
    bool is_signed = false;
    const void* x = nullptr;  // planes [P][H][W]
    void* y = nullptr;        // planes [P][OH][OW]
    int64_t p_begin = 0, p_end = 0;
};
void qmaxpool(const QMaxPoolArgs& a);

// qmaxpool_nhwc: the same max pooling on NHWC bytes (x [H][W][C], y [OH][OW][C], one image), for the runtime's
// NHWC integer chains (a convolution -> MaxPool -> convolution keeps NHWC bytes, no transposes). Taps outside the
// image are skipped; every window must hold at least one input pixel (the planner checks it). Output rows
// [oy_begin, oy_end). qmaxpool_nhwc_ref is the scalar loop (always built); qmaxpool_nhwc runs
// kernels/x86/qpool_nhwc_avx512.cpp (64 channels per vpmaxub / vpmaxsb, masked tail) when active_isa() allows
// AVX-512: max is exact, so the bytes are equal.
struct QMaxPoolNhwcArgs {
    int64_t C = 0, H = 0, W = 0, OH = 0, OW = 0;
    int64_t KH = 1, KW = 1, SH = 1, SW = 1, PT = 0, PL = 0, DH = 1, DW = 1;
    bool is_signed = false;
    const void* x = nullptr;  // [H][W][C]
    void* y = nullptr;        // [OH][OW][C], output rows y_row bytes apart
    int64_t y_row = 0;        // 0: OW·C (dense); more: rows inside a larger (padded) image
    int64_t oy_begin = 0, oy_end = 0;
};
void qmaxpool_nhwc_ref(const QMaxPoolNhwcArgs& a);
void qmaxpool_nhwc(const QMaxPoolNhwcArgs& a);

// qavgpool: DequantizeLinear(sx, zx) -> AveragePool (2-D) -> QuantizeLinear(sy, zy) on u8 / s8 NCHW planes.
// Definition (what this kernel computes; the scalar loop is the specification):
//   S = Σ_{taps inside the input} (x − zx)   (exact int32; padding reads zx, adds 0)
//   n = KH·KW (count_include_pad) or the number of taps inside the input
//   f = float(S) · float(ratio / n)          (ratio = sx / sy in double, divided in double, rounded once)
//   y = clamp(nearbyint(f) + zy, type range)  (round half to even)
// The reference executor computes Q(Σ float(x − zx)·sx / n): the two differ only by float rounding, so by at
// most 1 where the value lies at a rounding edge. Every window must hold an input pixel (n > 0).
// qavgpool_ref is that loop per output pixel (always built); qavgpool runs kernels/x86/qavgpool_avx512.cpp
// (AVX-512BW: int16 pair sums by vpmaddubsw, 16 outputs per epilogue vector) when 2×2 / 2 windows tile the
// planes exactly, else kernels/x86/qavgpool.inc built for AVX2 when active_isa() allows and no window reaches
// the padding (column sums of KH rows, then KW of them, in int32 lanes; one float multiply; the same
// rounding), else qavgpool_ref: equal bytes either way.
struct QAvgPoolArgs {
    int64_t H = 0, W = 0, OH = 0, OW = 0;
    int64_t KH = 1, KW = 1, SH = 1, SW = 1, PT = 0, PL = 0;
    bool count_include_pad = false;
    bool x_signed = false, y_signed = false;
    int32_t x_zero = 0, y_zero = 0;
    double ratio = 1.0;  // sx / sy
    const void* x = nullptr;  // planes [P][H][W]
    void* y = nullptr;        // planes [P][OH][OW]
    int64_t p_begin = 0, p_end = 0;
};
void qavgpool_ref(const QAvgPoolArgs& a);
void qavgpool(const QAvgPoolArgs& a);

// y[i] = table[x[i] as a byte] for i < n: a DequantizeLinear -> elementwise op -> QuantizeLinear chain whose
// 256 results were computed once (runtime/fast/qfuse.cpp: by the reference ops themselves). _ref: the byte
// loop; qlut_u8: AVX-512 VBMI (two vpermi2b and a blend per 64 bytes, kernels/x86/qlut_avx512.cpp) when
// active_isa() allows AVX-512 and the CPU has VBMI, else the loop.
void qlut_u8_ref(const uint8_t* table, const uint8_t* x, int64_t n, uint8_t* y);
void qlut_u8(const uint8_t* table, const uint8_t* x, int64_t n, uint8_t* y);

// qadd: DequantizeLinear(sa, za)(a) + DequantizeLinear(sb, zb)(b) [-> Relu] -> QuantizeLinear(sy, zy), per
// tensor, elementwise over n same-shaped u8 / s8 elements (ONNX Runtime's QLinearAdd), computed with the
// reference ops' float operations: fa = float(a − za)·sa, fb = float(b − zb)·sb, f = fa + fb, Relu: max(f, 0),
// y = saturate(nearbyint(f / sy) + zy) (a float division, round half to even). qadd_ref is that loop; qadd
// runs kernels/x86/qadd_avx512.cpp (16 lanes, the same float operations; the quotient clamped to the integer
// bounds − zy before cvtps, which rounds to nearest even) when active_isa() allows AVX-512: equal bytes.
struct QAddArgs {
    const void* a = nullptr;
    const void* b = nullptr;
    void* y = nullptr;
    int64_t n = 0;
    bool a_signed = false, b_signed = false, y_signed = false;
    int32_t za = 0, zb = 0, zy = 0;
    float sa = 1.0f, sb = 1.0f, sy = 1.0f;
    bool relu = false;
};
void qadd_ref(const QAddArgs& a);
void qadd(const QAddArgs& a);

}  // namespace edgeq::kernels
