// FP32 compute kernels: GEMM with packed weights, Conv2D (direct for stride 1, im2col + GEMM when strided,
// direct depthwise), pooling.
//
// Layer rules (../shared/docs/ARCHITECTURE.md): kernels see pointers, strides and sizes only; they never
// include graph/ or runtime/, never allocate (callers pass workspace) and never spawn threads (callers split
// the work with the *_begin/*_end ranges, which are independent).
//
// Every kernel has a scalar reference (kernels/ref/, always built, the specification) and optional ISA
// variants (kernels/x86/*_avx2.cpp, *_avx512.cpp). dispatch.cpp holds one row per kernel; select_*() picks the
// best row enabled by active_isa() (EDGEQ_ISA caps it). Names follow STYLE.md:
//   gemm_f32_f32_f32__avx512_6x32   C[M×N] = A[M×K] · Bpacked[K×N] + bias, activation
//   conv2d_f32__avx512_8x32          NCHW conv of one image and group: stride 1 runs direct (8 channels × 32
//                                    lanes of a zero-padded input grid, no im2col); strided convs run im2col
//                                    panels + the 6x32 GEMM; 1×1 stride 1 runs the GEMM on the input as is
//   dwconv2d_f32__avx512_direct      depthwise conv (group == channels, one filter per channel)
//   maxpool2d_f32__ref / avgpool2d_f32__ref
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/cpu.h"

namespace edgeq::kernels {

// ---- epilogue ------------------------------------------------------------------------------------------

enum class Act : uint8_t { None, Relu, LeakyRelu, Clip, Sigmoid, Tanh, HardSigmoid, HardSwish };

// LeakyRelu: alpha. Clip: [alpha, beta] = [min, max]. HardSigmoid: max(0, min(1, alpha·x + beta)).
struct Activation {
    Act kind = Act::None;
    float alpha = 0, beta = 0;
};

// The ONNX definition of each activation (what the reference ops compute).
float activate(const Activation& a, float x);
// Name for traces: "relu", "clip", ... ("" for None).
const char* act_name(Act a);

enum class BiasKind : uint8_t { None, PerRow, PerCol };  // PerRow: bias[m] (conv channels); PerCol: bias[n]

// ---- GEMM ---------------------------------------------------------------------------------------------
// Packed B: ceil(N/nr) panels; panel p holds B[k][p·nr + j] at packed[(p·K + k)·nr + j], zero-padded to nr.

inline int64_t packed_b_floats(int64_t K, int64_t N, int nr) { return ((N + nr - 1) / nr) * nr * K; }
// B element (k, n) is read at b[k·stride_k + n·stride_n] (row-major K×N: stride_k = N, stride_n = 1;
// transposed N×K source, e.g. Gemm transB=1: stride_k = 1, stride_n = K). Scalar; done once at plan time.
void pack_b(const float* b, int64_t stride_k, int64_t stride_n, int64_t K, int64_t N, int nr, float* packed);

struct GemmArgs {
    int64_t M = 0, N = 0, K = 0;
    const float* a = nullptr;   // A[m][k] at a[m·lda + k]
    int64_t lda = 0;
    const float* b = nullptr;   // packed with the kernel's nr, or row-major K×N when ldb > 0
    int64_t ldb = 0;            // 0: b is packed; > 0: b is NOT packed, B[k][n] at b[k·ldb + n]
    float* c = nullptr;         // C[m][n] at c[m·ldc + n]
    int64_t ldc = 0;
    const float* bias = nullptr;
    BiasKind bias_kind = BiasKind::None;
    Activation act;
    int64_t n_begin = 0, n_end = 0;  // columns to compute; n_begin a multiple of nr (threads split here)
};
using GemmFn = void (*)(const GemmArgs&);

// ---- FP16 / BF16-weight GEMM (kernels/ref/gemm_f16_ref.cpp, x86/gemm_half_*.cpp; docs/kernels-f16.md) -------
// C[M×N] = A[M×K] (f32) · B[K×N] + bias, act, where B holds IEEE halves (Op::GemmF16) or bfloat16 (Op::GemmBf16,
// Op::GemmBf16Dot), packed once as 16-bit panels of the row's nr columns. kpair = 1 (GemmF16, GemmBf16): panel p
// holds B[k][p·nr + j] at packed[(p·K + k)·nr + j]. kpair = 2 (GemmBf16Dot, vdpbf16ps): K is padded to even
// K2 and k pairs are interleaved per column: packed[p·K2·nr + (k/2)·nr·2 + j·2 + k%2]. Padding is zero.
// GemmF16 / GemmBf16 convert B to f32 exactly and keep A in f32 (results match an f32 GEMM on the widened B
// within kGemmRel). GemmBf16Dot rounds A to bf16 (nearest even) before vdpbf16ps: A's rounding changes the
// result by up to 2^-9 of Σ|a·b| (tests: kBf16DotRel); it is never chosen implicitly by the runtime.
// half_kpair(op) (below, after Op) gives a row's kpair.
inline int64_t packed_b_halves(int64_t K, int64_t N, int nr, int kpair) {
    return ((N + nr - 1) / nr) * nr * ((K + kpair - 1) / kpair * kpair);
}
// B element (k, n) (16-bit pattern) is read at b[k·stride_k + n·stride_n]. Done once at load time.
void pack_b_half(const uint16_t* b, int64_t stride_k, int64_t stride_n, int64_t K, int64_t N, int nr, int kpair,
                 uint16_t* packed);

struct GemmHalfArgs {
    int64_t M = 0, N = 0, K = 0;
    const float* a = nullptr;     // A[m][k] at a[m·lda + k]
    int64_t lda = 0;
    const uint16_t* b = nullptr;  // packed with the row's nr and kpair
    float* c = nullptr;           // C[m][n] at c[m·ldc + n]
    int64_t ldc = 0;
    const float* bias = nullptr;
    BiasKind bias_kind = BiasKind::None;
    Activation act;
    int64_t n_begin = 0, n_end = 0;  // columns to compute; n_begin a multiple of nr (threads split here)
};
using GemmHalfFn = void (*)(const GemmHalfArgs&);

// ---- Conv2D, one image, one group, NCHW ---------------------------------------------------------------

struct Conv2dArgs {
    int64_t C = 0, H = 0, W = 0;          // input channels (of this group), height, width
    int64_t OC = 0, OH = 0, OW = 0;       // output channels (of this group), height, width
    int64_t KH = 1, KW = 1, SH = 1, SW = 1, PT = 0, PL = 0, DH = 1, DW = 1;  // kernel, strides, top/left pads, dilations
    const float* x = nullptr;   // [C][H][W]
    const float* w = nullptr;   // [OC][C·KH·KW] (ONNX weight layout, row-major)
    const float* bias = nullptr;  // [OC] or nullptr
    float* y = nullptr;         // [OC][OH·OW]
    Activation act;
    float* work = nullptr;      // conv2d_work_floats() floats, private to the caller's thread
    int64_t p_begin = 0, p_end = 0;  // output pixels (oy·OW + ox) to compute (threads split here)
    // Winograd F(2×2, 3×3) weights (conv2d_winograd_pack_u), or nullptr. Rows that have a Winograd path use it
    // for conv2d_winograd_eligible convolutions (a thread then computes the 2×2 tiles whose first pixel lies
    // in [p_begin, p_end)); the others, and the reference, ignore it.
    const float* wino_u = nullptr;
};
using Conv2dFn = void (*)(const Conv2dArgs&);
// 3×3, stride 1, dilation 1, at least 8 input and output channels and a 2×2 output.
bool conv2d_winograd_eligible(const Conv2dArgs& a);
// U[ξ][oc][c] = (G g Gᵀ)[ξ] of every 3×3 filter g = w[oc][c] (ONNX layout), G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1].
int64_t conv2d_winograd_u_floats(int64_t C, int64_t OC);
void conv2d_winograd_pack_u(const float* w, int64_t C, int64_t OC, float* u);
// Workspace of a Winograd call (a zero-padded band of the input, the transformed input and the 16 products),
// for a thread computing up to max_pixels output pixels (OH·OW for one thread).
int64_t conv2d_winograd_work_floats(const Conv2dArgs& a, int64_t max_pixels);
// Workspace for one conv2d call, any row: a zero-padded copy of the input (+ slack for the direct path's last
// vector) + one chunk of im2col panels.
int64_t conv2d_work_floats(const Conv2dArgs& a, int nr);
// Pixels per im2col chunk (a multiple of nr).
int64_t conv2d_chunk(int64_t K, int nr);
// 1×1, stride 1, no padding: the input is already the GEMM's B (no im2col, no workspace).
bool conv2d_is_pointwise(const Conv2dArgs& a);

// Depthwise: C == OC, one KH×KW filter per channel: w [C][KH·KW]. Threads split channels.
struct DwConv2dArgs {
    int64_t C = 0, H = 0, W = 0, OH = 0, OW = 0;
    int64_t KH = 1, KW = 1, SH = 1, SW = 1, PT = 0, PL = 0, DH = 1, DW = 1;
    const float* x = nullptr;     // [C][H][W]
    const float* w = nullptr;     // [C][KH·KW]
    const float* bias = nullptr;  // [C] or nullptr
    float* y = nullptr;           // [C][OH][OW]
    Activation act;
    float* work = nullptr;        // dwconv2d_work_floats() floats (a zero-padded input plane)
    int64_t c_begin = 0, c_end = 0;
};
using DwConv2dFn = void (*)(const DwConv2dArgs&);
int64_t dwconv2d_work_floats(const DwConv2dArgs& a);

// ---- pooling, NCHW planes -----------------------------------------------------------------------------

struct Pool2dArgs {
    int64_t H = 0, W = 0, OH = 0, OW = 0;
    int64_t KH = 1, KW = 1, SH = 1, SW = 1, PT = 0, PL = 0, DH = 1, DW = 1;
    int64_t PB = 0, PR = 0;          // bottom/right pads (count_include_pad counts taps inside the pads)
    bool count_include_pad = false;  // AveragePool
    const float* x = nullptr;        // [planes][H][W]
    float* y = nullptr;              // [planes][OH][OW]
    int64_t c_begin = 0, c_end = 0;  // planes (N·C) to compute
};
using Pool2dFn = void (*)(const Pool2dArgs&);

// ---- dispatch -----------------------------------------------------------------------------------------

// ---- elementwise ---------------------------------------------------------------------------------------
// y[i] = act(a[i] ∘ b[i]) for i in [begin, end); b_scalar: b[0] for every i.
enum class BinOp : uint8_t { Add, Mul };
struct BinaryArgs {
    BinOp op = BinOp::Add;
    const float* a = nullptr;
    const float* b = nullptr;
    bool b_scalar = false;
    float* y = nullptr;
    Activation act;
    int64_t begin = 0, end = 0;
};
using BinaryFn = void (*)(const BinaryArgs&);

enum class Op : uint8_t { Gemm, Conv2d, DwConv2d, MaxPool2d, AvgPool2d, Binary, GemmF16, GemmBf16, GemmBf16Dot };
inline constexpr size_t kOpCount = 9;
inline int half_kpair(Op op) { return op == Op::GemmBf16Dot ? 2 : 1; }

struct KernelRow {
    Op op;
    Isa isa;
    const char* name;
    int mr, nr;        // register tile (GEMM-based rows); nr is the packed-B panel width
    void (*fn)();      // cast to the Op's function type with the accessors below
};

// Every row compiled into this binary (whether or not this CPU can run it).
std::span<const KernelRow> kernel_rows();
// Best row for op enabled by active_isa() (never null: the reference rows are always present).
const KernelRow& select(Op op);
// The row for (op, isa) if compiled in, else nullptr.
const KernelRow* find(Op op, Isa isa);

inline GemmFn gemm_fn(const KernelRow& r) { return reinterpret_cast<GemmFn>(r.fn); }
inline Conv2dFn conv2d_fn(const KernelRow& r) { return reinterpret_cast<Conv2dFn>(r.fn); }
inline DwConv2dFn dwconv2d_fn(const KernelRow& r) { return reinterpret_cast<DwConv2dFn>(r.fn); }
inline Pool2dFn pool2d_fn(const KernelRow& r) { return reinterpret_cast<Pool2dFn>(r.fn); }
inline BinaryFn binary_fn(const KernelRow& r) { return reinterpret_cast<BinaryFn>(r.fn); }
inline GemmHalfFn gemm_half_fn(const KernelRow& r) { return reinterpret_cast<GemmHalfFn>(r.fn); }

}  // namespace edgeq::kernels
