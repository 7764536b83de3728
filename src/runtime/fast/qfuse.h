// Integer execution of QDQ ONNX (what `edgeq quantize --method static` writes) in the fast executor.
// plan_qfusion() recognises, around one Conv / Gemm / MatMul (or com.edgeq FusedConv / FusedGemm /
// FusedMatMul with a Relu / Clip activation):
//
//   x_q (u8|s8) -> DequantizeLinear(sx, zx) --+
//   w_q (int8 constant) -> DequantizeLinear(sw per-tensor | per-output-channel, zw int8 or none) --+-->
//   Conv|Gemm|MatMul b_q (int32 constant) -> DequantizeLinear(sb = sx·sw, no zero point), optional
//   -------------------+
//        [-> Relu | Clip(constant bounds)] [-> QuantizeLinear(sy, zy scalar, u8|s8)]
//
// and turns it into one step: weights packed once (kernels::qpack_b, per conv group), the step reads x_q
// directly (the input DQ does not run), runs kernels::qgemm (a Conv: u8 im2col padded with zx per image and
// group, then qgemm, then NCHW scatter) and either
//   * requantizes to the Q's output type when a Q follows:  f = float(acc) · (sx·sw[n] / sy)  (multiplier
//     computed in double, rounded once to float), clamped to [y_min − zy, y_max − zy], rounded half to even
//     (nearbyint), + zy. [y_min, y_max] is the type range narrowed by the activation: Relu -> y_min =
//     max(qmin, zy); Clip(lo, hi) -> Q(lo), Q(hi) (QuantizeLinear is monotonic, so Q(act(y)) = clamp(Q(y))).
//     The reference computes Q(float conv + float bias) = nearbyint(y / sy) + zy; the float result differs
//     from acc·sx·sw only by float rounding, so outputs agree within 1 LSB (a tie or a value at a rounding
//     edge).
//   * or dequantizes to float: y = act(float(acc) · (sx · sw[n]) + bias_f[n]) (bias_f: FusedMatMul's float
//   bias).
// acc = Σ (x_q − zx)(w_q − zw[n]) + b_q (int32; the bias is added only when sb equals sx·sw[n] within 1e-6
// relative, else the pattern is refused and the float path runs).
// Depthwise Conv (group = C = OC) runs as kernels::qdwconv on the NCHW bytes with the same epilogues, and so
// does a Conv with one input channel and at most 16 outputs (qconv_c1: OC filters over the same plane,
// QDwConvArgs::one_input; a float epilogue's Sigmoid / Tanh then runs as kernels::activate_f32); other
// Convs transpose the input to NHWC, im2col in (ky, kx, c) order (1×1 stride-1 convs read the NHWC image
// directly) and transpose the pixel-major qgemm output back to NCHW (kernels/qconv.h); group-1 convs with
// Cg·KW ≤ 32 and a requantized output run kernels::qconv_direct (no im2col) where AVX-512 VNNI runs, and
// the transposes disappear between consecutive integer convs (qstep_set_layout below).
// Everything else (grouped with a channel multiplier, blocked weight scales, u8 weights, non-
// constant scales, Gemm with transA / alpha / beta != 1, other activations before a Q) is refused with a
// reason.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "edgeq/tensor.h"
#include "graph/graph.h"

namespace edgeq::runtime::fast {

class ThreadPool;

struct QStep;  // defined in qfuse.cpp
struct QStepDeleter {
    void operator()(QStep* s) const;
};
using QStepPtr = std::unique_ptr<QStep, QStepDeleter>;

constexpr size_t kQStepMaxInputs = 16;  // values one step reads (qconcat: its inputs)

struct QFuseArgs {
    const graph::Graph* graph = nullptr;
    const graph::Node* node = nullptr;                               // the Conv / Gemm / MatMul (or Fused*)
    std::function<const Shape*(const std::string&)> shape_of;        // planned shapes (null: unknown)
    std::function<bool(const std::string&, DType*)> dtype_of;        // planned dtypes
    std::function<const graph::Node*(const std::string&)> producer;  // node writing a value (null: none)
    // the only node reading a value (null when several, none, or it is a graph output)
    std::function<const graph::Node*(const std::string&)> sole_consumer;
    std::function<int64_t(const std::string&)> opset_of;  // the model's opset of a domain (plan_qlut)
    int threads = 1;
    int64_t parallel_flops = 0;  // integer products (conv, gemm) use a worker from this many flops
    int64_t parallel_elems = 0;  // byte-streaming steps (pools: window taps, tables, adds: elements) from this many
};

struct QFusion {
    QStepPtr step;  // null: not fused (why says why)
    std::string why;
    std::string x_q;  // the value the step reads (u8 / s8)
    std::vector<std::string> x_more;  // further values it reads (qadd: b; qconcat: the other inputs)
    std::string out;  // the value the step writes
    DType out_dtype = DType::F32;
    Shape x_shape, out_shape;
    std::vector<const graph::Node*> absorbed;  // nodes that no longer run (DQs read only here, act, Q)
    std::string kernel, fused;                 // for the trace
    int64_t flops = 0;
};

QFusion plan_qfusion(const QFuseArgs& a);

// DequantizeLinear(s, z) -> MaxPool (2-D) [-> Flatten | Reshape] -> QuantizeLinear(s, z) (the same scale, zero
// point and type, per tensor) as one step on the quantized bytes (kernels::qmaxpool; exact: kernels/qconv.h).
// a.node is the MaxPool. Refused (why) otherwise.
QFusion plan_qpool(const QFuseArgs& a);
// The same for AveragePool (a.node): DQ(sx, zx) -> AveragePool [-> Flatten | Reshape] -> Q(sy, zy), any scales,
// zero points and u8 / s8 types, as kernels::qavgpool (integer window sums, one float multiply per output;
// within 1 of the reference). Refused: dilations, count_include_pad with ceil_mode, windows in the padding.

// DequantizeLinear(sx, zx) -> elementwise unary op (Tanh, Sigmoid, Relu, LeakyRelu, HardSwish, Gelu, Exp, Clip
// with constant bounds, ...; qlut_op) -> QuantizeLinear(sy, zy), per tensor, as a 256-entry byte table
// (kernels::qlut_u8). The table is computed at plan time by running the reference ops of the three nodes on
// the 256 byte values, so the step's output equals the reference executor's byte for byte.
bool qlut_op(const graph::Node& n);
QFusion plan_qlut(const QFuseArgs& a);

// Dynamic quantization (what `edgeq quantize --method dynamic` and ONNX Runtime's quantize_dynamic write):
//
//   x (f32) -> DynamicQuantizeLinear -> (x_q, x_scale, x_zp) -> MatMulInteger(x_q, B int8|uint8 constant [K, N],
//   x_zp, b_zp none | scalar | [N]) -> Cast(float) -> Mul(·, Mul(x_scale, w_scale constant [1] | [N]))
//   [-> Add(·, bias constant [N])] [-> Relu | Clip(constant bounds)]
//
// and the same with ConvInteger(x_q [N, C, H, W], W int8|uint8 constant, x_zp, w_zp none | scalar | [OC]), w_scale
// and bias [OC, 1, 1] (the static Conv step's geometry and packing: NHWC im2col + qgemm, 1×1, qdwconv, qconv_c1;
// u8 weights stored as w − 128 with zero point − 128)
// as one step (a.node is the MatMulInteger; x [.., K] is any number of rows M): per run, x's range gives
// x_scale / x_zp and the u8 bytes exactly as DynamicQuantizeLinear (dynamic_quantize_u8), then kernels::qgemm
// (B packed once) with the F32 epilogue y = float(acc) · (x_scale · w_scale[n]) + bias[n]. Integer values are
// those of the reference; the float result is the graph's Mul(Cast(acc), Mul(x_scale, w_scale)) [+ bias] in the
// same order (equal up to the compiler's FMA contraction, tolerance in tests/unit/runtime/fast_dynamic_test.cpp).
// The DynamicQuantizeLinear itself is absorbed by the executor once every reader of its outputs is a step.
QFusion plan_qdynamic(const QFuseArgs& a);
// DynamicQuantizeLinear (opset 11) on n floats: scale = (max(0, max x) − min(0, min x)) / 255 (1 when that range
// is empty), zero = round_half_even(clamp(−min / scale, 0, 255)), q = clamp(round_half_even(x / scale) + zero,
// 0, 255) (NaN -> zero). Bit-exact with the reference op (SSE2 blocks, scalar definition for the rest).
void dynamic_quantize_u8(const float* x, int64_t n, uint8_t* q, float* scale, int32_t* zero);

// Layout of a step's bytes. Steps are planned on NCHW tensors; the executor (executor.cpp) then marks a u8 /
// s8 value NHWC when its producer can write NHWC and every reader can read it (qstep_nhwc_out /
// qstep_nhwc_in), so consecutive integer convolutions skip the NCHW <-> NHWC transposes around each one (the
// tensor keeps its NCHW shape; only the order of its bytes changes, and no other step ever sees it). Conv
// steps (im2col / 1×1 + qgemm, or kernels::qconv_direct for few input channels where AVX-512 VNNI runs) read
// and write either layout; depthwise steps (not qconv_c1) with a u8 / s8 output switch, where AVX-512 runs,
// to kernels::qdwconv_nhwc over a padded NHWC copy when either side is NHWC (an NCHW side is transposed);
// MaxPool steps switch to kernels::qmaxpool_nhwc the same way (conv -> MaxPool -> conv stays NHWC).
bool qstep_nhwc_in(const QStep& s);
bool qstep_nhwc_out(const QStep& s);
// Layout-transparent steps: qadd (elementwise, equal shapes) and qconcat of 4-D tensors along the channel axis
// (in NHWC: per pixel, each input's channel run in turn). Their inputs and output take one layout together;
// the executor makes such a group NHWC only when every producer can write NHWC and every reader can read it.
bool qstep_nhwc_passes(const QStep& s);
// Returns the step's kernel name when the layout changes which kernel runs (depthwise -> qdwconv_nhwc, MaxPool ->
// qmaxpool_nhwc), else "".
std::string qstep_set_layout(QStep& s, bool in_nhwc, bool out_nhwc);
// After the layouts: a direct convolution (kernels::qconv_direct) or NHWC max pool whose NHWC output is read only by a convolution
// that copies its input into a padded NHWC image (c's s.nhwc) writes its rows straight into that image
// (QConvDirectArgs::y_row) instead, and c skips the copy (vgg_bn INT8 batch 64: 1.6 MB per run). The producer's
// output tensor is then left unwritten: the caller links only a value with that single reader, not a graph
// output. Returns false (nothing changed) when the two do not qualify (shapes, zero point, dynamic steps, ...).
bool qstep_write_into_padded(QStep& producer, QStep& consumer);

// DequantizeLinear(sa, za)(a) + DequantizeLinear(sb, zb)(b) [-> Relu] -> QuantizeLinear(sy, zy) on same-shaped
// u8 / s8 tensors (a.node is the Add) as kernels::qadd: the reference ops' float arithmetic per element, equal
// bytes. Refused: broadcasting, non-constant or per-axis parameters.
QFusion plan_qadd(const QFuseArgs& a);
// DequantizeLinear(s, z) of every input -> Concat -> QuantizeLinear(s, z), all with the same scale, zero point
// and type, as a byte concatenation (exact: Q(DQ(q)) = q). a.node is the Concat.
QFusion plan_qconcat(const QFuseArgs& a);

// Runs the step: xs[0] is the u8 / s8 input x (planned shape), xs[1..] the values of x_more; y the preallocated
// output.
void run_qstep(QStep& s, ThreadPool& pool, std::span<const Tensor* const> xs, Tensor& y);

}  // namespace edgeq::runtime::fast
