#include "runtime/fast/executor.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "kernels/kernels.h"
#include "kernels/qconv.h"
#include "runtime/fast/half_gemm.h"
#include "runtime/fast/qfuse.h"
#include "runtime/fast/rnn.h"
#include "runtime/fast/thread_pool.h"
#include "runtime/ref/executor.h"
#include "runtime/ref/op.h"

namespace edgeq::runtime::fast {
namespace {

namespace k = edgeq::kernels;

constexpr const char* kEdgeq = "com.edgeq";
// Below this many flops a node runs on the calling thread: waking a worker costs more than it saves.
constexpr int64_t kParallelFlops = 400000;
// The INT8 recurrence's products do 4× the multiply-adds per instruction (vpdpbusd: 64 u8×s8 per zmm, vfmadd:
// 16 floats), so the same time is 4× the flops (its X·Wᵀ at batch 1, 0.4 MFLOP, 1-2 µs, no longer splits: 2
// threads were slower than 1). Not for the integer conv / gemm steps: splitting ultraface's 0.4-1.6 MFLOP
// convs at batch 1 does pay (2 threads 2.06 ms, 2.74 ms with this threshold).
constexpr int64_t kParallelFlopsInt8 = 4 * kParallelFlops;
// Steps that stream bytes (integer pools: window taps; tables, adds, Q/DQ: elements) cost 20-200 ps an element
// (lenet5 at batch 64: the first average pool, 301k taps, 22 µs; its first Tanh table, 301k bytes, 7 µs):
// 64k elements is about the time of kParallelFlops.
constexpr int64_t kParallelElems = 64 * 1024;

enum class Kind : uint8_t { Ref, Gemm, Conv, DwConv, Pool, Binary, Rnn, QGemm, QLinear, Softmax };

struct Step {
    Kind kind = Kind::Ref;
    const graph::Node* node = nullptr;
    const OpRow* ref = nullptr;
    std::unique_ptr<OpContext> ctx;  // reference call (Ref steps, and kernel steps whose input shape changed)
    std::vector<int> in, out;        // slots; -1 = omitted
    std::vector<int> release;        // slots whose last reader is this step (reference results only)
    StepInfo* info = nullptr;

    // kernel steps
    const k::KernelRow* row = nullptr;
    Shape in_shape;                  // planned shape of input 0, checked every run
    DType in_dtype = DType::F32;     // planned dtype of input 0 (u8 / s8 for QGemm)
    int out_slot = -1;               // where the kernel writes (the last absorbed node's output)
    Tensor weights;                  // packed B (Gemm) or the conv weight tensor (shared with the model)
    std::vector<float> bias;
    std::vector<float> wino_u;       // Conv: Winograd weights per group (kernels::conv2d_winograd_pack_u), or empty
    k::Activation act;
    int64_t batch = 1, groups = 1, splits = 1;
    k::GemmArgs gemm;
    k::Conv2dArgs conv;
    k::DwConv2dArgs dw;
    k::Pool2dArgs pool;
    k::BinaryArgs bin;
    int b_slot = -1;  // Binary: the second operand's slot
    // QLinear: per-tensor QuantizeLinear (F32 -> U8 / I8) or DequantizeLinear (U8 / I8 -> F32), same arithmetic
    // as the reference op: q = saturate(nearbyint(x / scale) + zero) with a float division; x = float(q − zero) ·
    // scale
    bool quantize = false;
    // Softmax / LogSoftmax over `sm_rows` contiguous rows of `sm_len` floats (run_softmax)
    int64_t sm_rows = 0, sm_len = 0;
    bool sm_log = false;
    float q_scale = 1.0f;
    int32_t q_zero = 0;
    QStepPtr qstep;  // QGemm: integer Conv / Gemm / MatMul of a QDQ pattern (qfuse.h); reads in[0], writes out_slot
    RnnStepPtr rnn;  // Rnn (LSTM / GRU): inputs in `in` (X possibly before an absorbed Transpose), outputs in
                     // `out` (-1 where nobody reads them: not computed)
    int64_t in_group_stride = 0, out_group_stride = 0, w_group_stride = 0, in_image = 0, out_image = 0;
};

struct Activation {
    bool ok = false;
    k::Activation a;
};

// The value of DequantizeLinear node d when every input is an initializer (quantized weights), evaluated with
// the reference op; empty when d is not such a node or the op reports an error (it then runs, and reports, at
// run time).
Tensor dequantize_constant(const graph::Graph& g, const graph::Node& d, int64_t opset) {
    if (!d.domain.empty() || d.op_type != "DequantizeLinear" || d.outputs.size() != 1 || d.outputs[0].empty()) return {};
    for (const auto& in : d.inputs)
        if (!in.empty() && !g.initializers.count(in)) return {};
    const OpRow* row = find_ref_op("", "DequantizeLinear");
    if (!row) return {};
    OpContext ctx{d, opset, {}, {}, {}};
    for (const auto& in : d.inputs) ctx.inputs.push_back(in.empty() ? nullptr : &g.initializers.at(in));
    ctx.outputs.resize(1);
    if (!row->fn(ctx).ok()) return {};
    return std::move(ctx.outputs[0]);
}

const Tensor* init_of(const graph::Graph& g, const std::string& name) {
    auto it = g.initializers.find(name);
    return it == g.initializers.end() ? nullptr : &it->second;
}

Activation parse_fused_activation(const graph::Node& n) {
    Activation r;
    const std::string act = n.attr_s("activation", "");
    const auto p = n.attr_floats("activation_params");
    auto param = [&](size_t i, float d) { return i < p.size() ? p[i] : d; };
    r.ok = true;
    if (act.empty()) r.a.kind = k::Act::None;
    else if (act == "Relu") r.a.kind = k::Act::Relu;
    else if (act == "LeakyRelu") r.a = {k::Act::LeakyRelu, param(0, 0.01f), 0};
    else if (act == "Clip") r.a = {k::Act::Clip, param(0, -INFINITY), param(1, INFINITY)};
    else if (act == "Sigmoid") r.a.kind = k::Act::Sigmoid;
    else if (act == "Tanh") r.a.kind = k::Act::Tanh;
    else if (act == "HardSigmoid") r.a = {k::Act::HardSigmoid, param(0, 0.2f), param(1, 0.5f)};
    else if (act == "HardSwish") r.a.kind = k::Act::HardSwish;
    else r.ok = false;
    return r;
}

// A standalone ONNX activation node the kernels can apply in their epilogue.
Activation activation_node(const graph::Graph& g, const graph::Node& n) {
    Activation r;
    if (!n.domain.empty() || n.inputs.empty()) return r;
    const std::string& op = n.op_type;
    r.ok = true;
    if (op == "Relu") r.a.kind = k::Act::Relu;
    else if (op == "Sigmoid") r.a.kind = k::Act::Sigmoid;
    else if (op == "Tanh") r.a.kind = k::Act::Tanh;
    else if (op == "HardSwish") r.a.kind = k::Act::HardSwish;
    else if (op == "LeakyRelu") r.a = {k::Act::LeakyRelu, n.attr_f("alpha", 0.01f), 0};
    else if (op == "HardSigmoid") r.a = {k::Act::HardSigmoid, n.attr_f("alpha", 0.2f), n.attr_f("beta", 0.5f)};
    else if (op == "Clip") {
        float lo = n.attr_f("min", -INFINITY), hi = n.attr_f("max", INFINITY);
        for (size_t i = 1; i < n.inputs.size() && i < 3; ++i) {
            if (n.inputs[i].empty()) continue;
            const Tensor* t = init_of(g, n.inputs[i]);
            if (!t || t->dtype() != DType::F32 || t->numel() != 1) return {};
            (i == 1 ? lo : hi) = t->data<float>()[0];
        }
        r.a = {k::Act::Clip, lo, hi};
    } else {
        r.ok = false;
    }
    return r;
}

// Pads (begin h, begin w, end h, end w) of a 2-D window op from its attributes and planned shapes.
void window_pads(const graph::Node& n, int64_t H, int64_t W, int64_t OH, int64_t OW, int64_t KH, int64_t KW,
                 int64_t SH, int64_t SW, int64_t DH, int64_t DW, int64_t pads[4]) {
    const std::string auto_pad = n.attr_s("auto_pad", "NOTSET");
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
        const int64_t th = std::max<int64_t>(0, (OH - 1) * SH + (KH - 1) * DH + 1 - H);
        const int64_t tw = std::max<int64_t>(0, (OW - 1) * SW + (KW - 1) * DW + 1 - W);
        const bool upper = auto_pad == "SAME_UPPER";
        pads[0] = upper ? th / 2 : th - th / 2;
        pads[1] = upper ? tw / 2 : tw - tw / 2;
        pads[2] = th - pads[0];
        pads[3] = tw - pads[1];
        return;
    }
    const auto p = n.attr_ints("pads", {0, 0, 0, 0});
    for (int i = 0; i < 4; ++i) pads[i] = (auto_pad == "NOTSET" && p.size() == 4) ? p[static_cast<size_t>(i)] : 0;
}

std::string step_name(const graph::Node& n, size_t i) { return n.name.empty() ? "#" + std::to_string(i) : n.name; }

// ---- plan-time folding of shape arithmetic ---------------------------------------------------------------
// With every input shape fixed by the plan, Shape / Size of a value whose shape cannot depend on data are
// constants, and so is deterministic arithmetic on constants (PyTorch's exports build zero initial states and
// reshape targets this way: Shape -> Gather -> Unsqueeze -> Concat -> ConstantOfShape). Such nodes run once,
// in the shape-recording reference run, and their outputs stay in their slots like initializers.

// Deterministic ops folded when all their inputs are constants (small outputs only).
bool foldable_op(const std::string& op) {
    static const std::unordered_set<std::string> ops = {
        "Constant", "Shape",   "Size",      "Gather",     "Unsqueeze", "Squeeze", "Concat", "ConstantOfShape",
        "Reshape",  "Slice",   "Cast",      "Identity",   "Add",       "Sub",     "Mul",    "Div",
        "Equal",    "Less",    "Greater",   "Not",        "And",       "Or",      "Where",  "Range",
        "Expand",   "Flatten", "Transpose", "ReduceProd", "Neg",       "Abs",     "Max",    "Min",
        "Floor",    "Ceil",    "Mod",       "Tile",       "Sqrt"};
    return ops.count(op) > 0;
}
constexpr int64_t kFoldMaxElements = 1 << 16;

// Ops whose output shape depends on input shapes and attributes only, whatever the values of ALL their
// inputs. Any other op needs its inputs after the first to be constants (Reshape's shape, Slice's starts,
// Expand's shape, TopK's k, ...) and never has a data-dependent output shape otherwise, except the ones
// listed below.
bool shape_from_input_shapes(const std::string& domain, const std::string& op) {
    static const std::unordered_set<std::string> ops = {"Add",
                                                        "Sub",
                                                        "Mul",
                                                        "Div",
                                                        "Pow",
                                                        "Max",
                                                        "Min",
                                                        "Sum",
                                                        "Mean",
                                                        "Where",
                                                        "Equal",
                                                        "Less",
                                                        "Greater",
                                                        "LessOrEqual",
                                                        "GreaterOrEqual",
                                                        "And",
                                                        "Or",
                                                        "Xor",
                                                        "Mod",
                                                        "PRelu",
                                                        "BitShift",
                                                        "MatMul",
                                                        "Gemm",
                                                        "Conv",
                                                        "BatchNormalization",
                                                        "InstanceNormalization",
                                                        "LayerNormalization",
                                                        "LSTM",
                                                        "GRU",
                                                        "RNN",
                                                        "Concat",
                                                        "Gather",
                                                        "GatherElements",
                                                        "GatherND",
                                                        "ScatterND",
                                                        "ScatterElements",
                                                        "QuantizeLinear",
                                                        "DequantizeLinear",
                                                        "Clip",
                                                        "Einsum",
                                                        "MatMulInteger",
                                                        "ConvInteger",
                                                        "QLinearConv",
                                                        "QLinearMatMul"};
    if (domain == "com.edgeq") return op.rfind("Fused", 0) == 0;
    return domain.empty() && ops.count(op) > 0;
}
// Output shape depends on the values of the first input (or of every input): never static unless all are
// constant.
bool shape_from_values(const std::string& op) {
    return op == "NonZero" || op == "Unique" || op == "Compress" || op == "ConstantOfShape" ||
           op == "Range" || op == "NonMaxSuppression" || op == "StringNormalizer";
}

}  // namespace

struct Plan::Impl {
    const graph::Model* model = nullptr;
    bool delegate = false;  // subgraphs (If/Loop/Scan): run the whole model with the reference executor
    PlanOptions opts;
    std::vector<Tensor> slots;
    std::vector<int> input_slots, output_slots;
    std::vector<std::string> input_names, output_names;
    std::vector<Shape> input_shapes;
    std::vector<DType> input_dtypes;
    std::vector<Step> steps;
    std::vector<StepInfo> infos;
    std::vector<std::vector<float>> work;  // per thread
    std::unique_ptr<ThreadPool> pool;

    Status run_ref(Step& s);
    Status run_step(Step& s);
    void run_gemm(Step& s);
    void run_conv(Step& s);
    void run_dwconv(Step& s);
    void run_pool(Step& s);
    void run_binary(Step& s);
    void run_qlinear(Step& s);
    void run_softmax(Step& s);
};

// Softmax (LogSoftmax) of each contiguous row: m = max, e = exp(x − m) in float, sum in double, y = e · (1/sum)
// (x − m − log sum). The reference op computes in double throughout; the difference is a few float ulps
// (kSoftmaxTol in tests/unit/runtime/fast_executor_test.cpp). NaN / ±inf propagate as in the reference.
void Plan::Impl::run_softmax(Step& s) {
    const float* x = slots[static_cast<size_t>(s.in[0])].data<float>();
    float* y = slots[static_cast<size_t>(s.out_slot)].data<float>();
    const int64_t L = s.sm_len, R = s.sm_rows;
    auto task = [&](int64_t t, int) {
        const int64_t b = R * t / s.splits, e = R * (t + 1) / s.splits;
        for (int64_t r = b; r < e; ++r) {
            const float* xr = x + r * L;
            float* yr = y + r * L;
            float m = -std::numeric_limits<float>::infinity();
            for (int64_t k = 0; k < L; ++k) m = xr[k] > m ? xr[k] : m;
            double sum = 0;
            for (int64_t k = 0; k < L; ++k) {
                const float v = std::exp(xr[k] - m);
                if (!s.sm_log) yr[k] = v;
                sum += static_cast<double>(v);
            }
            if (s.sm_log) {
                const double ls = std::log(sum);
                for (int64_t k = 0; k < L; ++k)
                    yr[k] = static_cast<float>(static_cast<double>(xr[k]) - static_cast<double>(m) - ls);
            } else {
                const float inv = static_cast<float>(1.0 / sum);
                for (int64_t k = 0; k < L; ++k) yr[k] *= inv;
            }
        }
    };
    if (s.splits <= 1) task(0, 0);
    else pool->run(s.splits, task);
}

void Plan::Impl::run_qlinear(Step& s) {
    const Tensor& x = slots[static_cast<size_t>(s.in[0])];
    Tensor& y = slots[static_cast<size_t>(s.out_slot)];
    const int64_t n = x.numel();
    const float sc = s.q_scale;
    const int32_t z = s.q_zero;
    const bool sgn = (s.quantize ? y.dtype() : x.dtype()) == DType::I8;
    auto task = [&](int64_t t, int) {
        const int64_t b = n * t / s.splits, e = n * (t + 1) / s.splits;
        if (s.quantize) {  // the same arithmetic, vectorized (kernels/qconv.h)
            k::quantize_linear_f32(x.data<float>() + b, e - b, sc, z, sgn, static_cast<uint8_t*>(y.raw()) + b);
        } else {
            float* yf = y.data<float>();
            for (int64_t i = b; i < e; ++i) {
                const int32_t q = sgn ? x.data<int8_t>()[i] : x.data<uint8_t>()[i];
                yf[i] = static_cast<float>(q - z) * sc;
            }
        }
    };
    if (s.splits <= 1) task(0, 0);
    else pool->run(s.splits, task);
}

Status Plan::Impl::run_ref(Step& s) {
    OpContext& ctx = *s.ctx;
    for (auto& o : ctx.outputs) o = Tensor();
    EDGEQ_RETURN_IF_ERROR(s.ref->fn(ctx));
    for (size_t i = 0; i < s.out.size(); ++i) {
        if (s.out[i] < 0) continue;
        if (ctx.outputs[i].empty_handle()) {
            return Corrupt(s.node->describe() + ": produced no value for output '" + s.node->outputs[i] + "'");
        }
        slots[static_cast<size_t>(s.out[i])] = std::move(ctx.outputs[i]);
    }
    return Status::Ok();
}

void Plan::Impl::run_gemm(Step& s) {
    k::GemmArgs g = s.gemm;
    g.a = slots[static_cast<size_t>(s.in[0])].data<float>();
    g.c = slots[static_cast<size_t>(s.out_slot)].data<float>();
    const auto fn = [&s](const k::GemmArgs& h) { run_gemm_row(*s.row, h, s.weights); };
    if (s.splits <= 1) {
        fn(g);
        return;
    }
    const int64_t panels = (g.N + s.row->nr - 1) / s.row->nr;
    auto task = [&](int64_t t, int) {
        k::GemmArgs h = g;
        h.n_begin = std::min(g.N, panels * t / s.splits * s.row->nr);
        h.n_end = std::min(g.N, panels * (t + 1) / s.splits * s.row->nr);
        if (h.n_begin < h.n_end) fn(h);
    };
    pool->run(s.splits, task);
}

void Plan::Impl::run_conv(Step& s) {
    const float* x = slots[static_cast<size_t>(s.in[0])].data<float>();
    float* y = slots[static_cast<size_t>(s.out_slot)].data<float>();
    const k::Conv2dFn fn = k::conv2d_fn(*s.row);
    const int64_t P = s.conv.OH * s.conv.OW;
    auto task = [&](int64_t t, int thread) {
        const int64_t part = t % s.splits, ig = t / s.splits, g = ig % s.groups, n = ig / s.groups;
        k::Conv2dArgs a = s.conv;
        a.x = x + n * s.in_image + g * s.in_group_stride;
        a.w = s.weights.data<float>() + g * s.w_group_stride;
        a.bias = s.bias.empty() ? nullptr : s.bias.data() + g * s.conv.OC;
        a.y = y + n * s.out_image + g * s.out_group_stride;
        a.work = work[static_cast<size_t>(thread)].data();
        if (!s.wino_u.empty()) a.wino_u = s.wino_u.data() + g * k::conv2d_winograd_u_floats(a.C, a.OC);
        a.p_begin = P * part / s.splits;
        a.p_end = P * (part + 1) / s.splits;
        if (a.p_begin < a.p_end) fn(a);
    };
    pool->run(s.batch * s.groups * s.splits, task);
}

void Plan::Impl::run_dwconv(Step& s) {
    const float* x = slots[static_cast<size_t>(s.in[0])].data<float>();
    float* y = slots[static_cast<size_t>(s.out_slot)].data<float>();
    const k::DwConv2dFn fn = k::dwconv2d_fn(*s.row);
    auto task = [&](int64_t t, int thread) {
        const int64_t part = t % s.splits, n = t / s.splits;
        k::DwConv2dArgs a = s.dw;
        a.x = x + n * s.in_image;
        a.y = y + n * s.out_image;
        a.work = work[static_cast<size_t>(thread)].data();
        a.c_begin = s.dw.C * part / s.splits;
        a.c_end = s.dw.C * (part + 1) / s.splits;
        if (a.c_begin < a.c_end) fn(a);
    };
    pool->run(s.batch * s.splits, task);
}

void Plan::Impl::run_pool(Step& s) {
    k::Pool2dArgs a = s.pool;
    a.x = slots[static_cast<size_t>(s.in[0])].data<float>();
    a.y = slots[static_cast<size_t>(s.out_slot)].data<float>();
    const k::Pool2dFn fn = k::pool2d_fn(*s.row);
    const int64_t planes = s.pool.c_end;
    auto task = [&](int64_t t, int) {
        k::Pool2dArgs b = a;
        b.c_begin = planes * t / s.splits;
        b.c_end = planes * (t + 1) / s.splits;
        if (b.c_begin < b.c_end) fn(b);
    };
    pool->run(s.splits, task);
}

void Plan::Impl::run_binary(Step& s) {
    k::BinaryArgs a = s.bin;
    a.a = slots[static_cast<size_t>(s.in[0])].data<float>();
    a.b = slots[static_cast<size_t>(s.b_slot)].data<float>();
    a.y = slots[static_cast<size_t>(s.out_slot)].data<float>();
    const k::BinaryFn fn = k::binary_fn(*s.row);
    const int64_t n = s.bin.end;
    auto task = [&](int64_t t, int) {
        k::BinaryArgs b = a;
        b.begin = n * t / s.splits / 16 * 16;
        b.end = t + 1 == s.splits ? n : n * (t + 1) / s.splits / 16 * 16;
        if (b.begin < b.end) fn(b);
    };
    pool->run(s.splits, task);
}

Status Plan::Impl::run_step(Step& s) {
    if (s.kind != Kind::Ref) {
        const Tensor& x = slots[static_cast<size_t>(s.in[0])];
        if (x.dtype() != s.in_dtype || x.shape() != s.in_shape) {
            // a shape the plan did not see (only data-dependent shapes can get here: inputs are checked)
            return InvalidArgument(s.node->describe() + ": input shape " + shape_str(x.shape()) +
                                      " differs from the planned " + shape_str(s.in_shape) + "; re-plan for these shapes");
        }
    }
    switch (s.kind) {
        case Kind::Ref: return run_ref(s);
        case Kind::Gemm: run_gemm(s); break;
        case Kind::Conv: run_conv(s); break;
        case Kind::DwConv: run_dwconv(s); break;
        case Kind::Pool: run_pool(s); break;
        case Kind::QLinear: run_qlinear(s); break;
        case Kind::Softmax: run_softmax(s); break;
        case Kind::QGemm: {
            std::array<const Tensor*, kQStepMaxInputs> xs{};
            for (size_t i = 0; i < s.in.size(); ++i) xs[i] = &slots[static_cast<size_t>(s.in[i])];
            run_qstep(*s.qstep, *pool, std::span<const Tensor* const>(xs.data(), s.in.size()),
                      slots[static_cast<size_t>(s.out_slot)]);
            break;
        }
        case Kind::Rnn: {
            auto in = [&](size_t i) {
                return i < s.in.size() && s.in[i] >= 0 ? &slots[static_cast<size_t>(s.in[i])] : nullptr;
            };
            auto out = [&](size_t i) {
                return i < s.out.size() && s.out[i] >= 0 ? &slots[static_cast<size_t>(s.out[i])] : nullptr;
            };
            return run_rnn(*s.rnn, *pool, in(0), in(4), in(5), in(6), out(0), out(1), out(2));
        }
        case Kind::Binary: {
            const Tensor& b = slots[static_cast<size_t>(s.b_slot)];
            if (b.dtype() != DType::F32 || (s.bin.b_scalar ? b.numel() != 1 : b.shape() != s.in_shape)) {
                return InvalidArgument(s.node->describe() + ": operand shape " + shape_str(b.shape()) + " differs from the plan");
            }
            run_binary(s);
            break;
        }
    }
    return Status::Ok();
}

Result<Plan> plan(const graph::Model& model, const Shapes& input_shapes, const PlanOptions& opts) {
    auto impl = std::make_unique<Plan::Impl>();
    impl->model = &model;
    impl->opts = opts;
    impl->opts.threads = std::max(1, opts.threads);
    const graph::Graph& g = model.graph;

    for (const auto& vi : g.inputs) {
        impl->input_names.push_back(vi.name);
        auto it = input_shapes.find(vi.name);
        if (it == input_shapes.end()) {
            if (!vi.has_shape) return InvalidArgument("plan: no shape given for input '" + vi.name + "'");
            Shape s;
            for (const auto& d : vi.shape) {
                if (d.value < 0) return InvalidArgument("plan: input '" + vi.name + "' has a dynamic dimension; give its shape");
                s.push_back(d.value);
            }
            impl->input_shapes.push_back(s);
        } else {
            if (vi.has_shape) {
                bool ok = vi.shape.size() == it->second.size();
                for (size_t i = 0; ok && i < vi.shape.size(); ++i) ok = vi.shape[i].value < 0 || vi.shape[i].value == it->second[i];
                if (!ok) return InvalidArgument("plan: input '" + vi.name + "': shape " + shape_str(it->second) +
                                                " contradicts the model's declaration");
            }
            impl->input_shapes.push_back(it->second);
        }
        impl->input_dtypes.push_back(vi.dtype.value_or(DType::F32));
    }
    for (const auto& [name, s] : input_shapes) {
        bool known = false;
        for (const auto& vi : g.inputs) known = known || vi.name == name;
        if (!known) return InvalidArgument("plan: model has no input '" + name + "'");
    }
    for (const auto& o : g.outputs) impl->output_names.push_back(o.name);

    // Subgraph-bearing models run whole in the reference executor (outer-scope capture is its business).
    for (const auto& n : g.nodes)
        for (const auto& [an, a] : n.attrs)
            if (a.g || !a.graphs.empty()) impl->delegate = true;
    if (impl->delegate) return Plan(std::move(impl));

    // Shapes of every value: one reference run on zero inputs of the planned shapes.
    std::unordered_map<std::string, Shape> shapes;
    std::unordered_map<std::string, DType> dtypes;
    std::unordered_set<std::string> constants, static_shape;  // see foldable_op()
    std::unordered_map<std::string, Tensor> folded_values;
    std::unordered_set<const graph::Node*> folded_nodes;
    {
        std::map<std::string, Tensor> zeros;
        for (size_t i = 0; i < g.inputs.size(); ++i) {
            zeros[g.inputs[i].name] = Tensor(impl->input_dtypes[i], impl->input_shapes[i]);
            shapes[g.inputs[i].name] = impl->input_shapes[i];
            dtypes[g.inputs[i].name] = impl->input_dtypes[i];
        }
        for (const auto& [name, t] : g.initializers) constants.insert(name), static_shape.insert(name);
        for (const auto& vi : g.inputs)
            static_shape.insert(vi.name), constants.erase(vi.name);  // overridable
        RunOptions ro;
        ro.on_node = [&](const graph::Node& n, const std::vector<Tensor>& outs) {
            bool all_const = true, rest_const = true, all_static = true;
            for (size_t i = 0; i < n.inputs.size(); ++i) {
                if (n.inputs[i].empty()) continue;
                const bool c = constants.count(n.inputs[i]) > 0;
                all_const = all_const && c;
                if (i > 0) rest_const = rest_const && c;
                all_static = all_static && (c || static_shape.count(n.inputs[i]) > 0);
            }
            int64_t out_elems = 0;
            for (const auto& t : outs) out_elems += t.empty_handle() ? 0 : t.numel();
            const bool shape_only = (n.op_type == "Shape" || n.op_type == "Size") && all_static;
            const bool fold = n.domain.empty() && foldable_op(n.op_type) && (all_const || shape_only) &&
                              out_elems <= kFoldMaxElements && outs.size() == n.outputs.size();
            const bool out_static =
                fold || (all_static && (shape_from_values(n.op_type)
                                            ? all_const
                                            : rest_const || shape_from_input_shapes(n.domain, n.op_type)));
            for (size_t i = 0; i < n.outputs.size() && i < outs.size(); ++i) {
                if (n.outputs[i].empty() || outs[i].empty_handle()) continue;
                shapes[n.outputs[i]] = outs[i].shape();
                dtypes[n.outputs[i]] = outs[i].dtype();
                if (out_static) static_shape.insert(n.outputs[i]);
                if (fold) constants.insert(n.outputs[i]), folded_values[n.outputs[i]] = outs[i];
            }
            if (fold) folded_nodes.insert(&n);
        };
        // Nodes with a non-constant input only need their outputs' shapes here: heavy ops skip their
        // arithmetic (a batch-1000 reference Conv would cost seconds). Constant-only nodes compute, for folding.
        ro.shape_only = [&](const graph::Node& n) {
            for (const auto& in : n.inputs)
                if (!in.empty() && !constants.count(in)) return true;
            return false;
        };
        auto r = run_reference(model, zeros, ro);
        if (!r.ok()) return r.status();
    }

    // Slots: initializers, inputs, then node outputs.
    std::unordered_map<std::string, int> slot_of;
    auto slot = [&](const std::string& name) {
        auto it = slot_of.find(name);
        if (it != slot_of.end()) return it->second;
        const int id = static_cast<int>(impl->slots.size());
        impl->slots.emplace_back();
        slot_of.emplace(name, id);
        return id;
    };
    for (const auto& [name, t] : g.initializers) impl->slots[static_cast<size_t>(slot(name))] = t;
    for (const auto& vi : g.inputs) impl->input_slots.push_back(slot(vi.name));
    for (const auto& [name, t] : folded_values) impl->slots[static_cast<size_t>(slot(name))] = t;

    EDGEQ_ASSIGN_OR_RETURN(auto order, graph::topological_order(g));
    std::unordered_map<std::string, std::vector<size_t>> consumers;  // value -> node indices
    for (size_t i = 0; i < g.nodes.size(); ++i)
        for (const auto& in : g.nodes[i].inputs)
            if (!in.empty()) consumers[in].push_back(i);
    std::set<std::string> graph_outputs;
    for (const auto& o : g.outputs) graph_outputs.insert(o.name);
    std::vector<bool> absorbed(g.nodes.size(), false);

    // The single consumer of `value` if it is the only reader and not a graph output.
    auto sole_consumer = [&](const std::string& value) -> const graph::Node* {
        auto it = consumers.find(value);
        if (it == consumers.end() || it->second.size() != 1 || graph_outputs.count(value)) return nullptr;
        const graph::Node* c = &g.nodes[it->second[0]];
        size_t uses = 0;
        for (const auto& in : c->inputs) uses += in == value;
        return uses == 1 ? c : nullptr;
    };
    auto shape_of = [&](const std::string& v) -> const Shape* {
        auto it = shapes.find(v);
        return it == shapes.end() ? nullptr : &it->second;
    };
    auto f32 = [&](const std::string& v) {
        auto it = dtypes.find(v);
        return it != dtypes.end() && it->second == DType::F32;
    };

    const int T = impl->opts.threads;
    int64_t work_floats = 0;

    // LSTM / GRU nodes the fast RNN step takes (planned before the loop: a Transpose [1, 0, 2] feeding X only
    // is absorbed into the step, and it comes first in topological order).
    std::unordered_map<std::string, size_t> producer;
    for (size_t i = 0; i < g.nodes.size(); ++i)
        for (const auto& o : g.nodes[i].outputs)
            if (!o.empty()) producer[o] = i;
    std::unordered_map<size_t, RnnPlan> rnn_plans;
    std::unordered_map<size_t, std::string> rnn_x;  // node -> the value its step reads X from
    // W and R of a dynamically quantized LSTM/GRU sit behind DequantizeLinear(int8 initializers): dequantized
    // once here for the RNN step (the DequantizeLinear itself is folded below with the other weight DQs).
    std::unordered_map<std::string, Tensor> rnn_dq_values;
    auto rnn_dq_constant = [&](const std::string& name) -> const Tensor* {
        if (auto it = rnn_dq_values.find(name); it != rnn_dq_values.end()) return &it->second;
        auto pit = producer.find(name);
        if (pit == producer.end()) return nullptr;
        Tensor v = dequantize_constant(g, g.nodes[pit->second], model.opset(""));
        if (v.empty_handle()) return nullptr;
        return &rnn_dq_values.emplace(name, std::move(v)).first->second;
    };
    for (size_t ni : order) {
        const graph::Node& n = g.nodes[ni];
        if (!n.domain.empty() || (n.op_type != "LSTM" && n.op_type != "GRU") || n.inputs.empty() ||
            n.inputs[0].empty())
            continue;
        const std::string& x = n.inputs[0];
        const Shape* xs = shape_of(x);
        if (!xs || !f32(x)) {
            rnn_plans[ni].why = "X not F32";
            continue;
        }
        RnnPlanArgs a;
        a.node = &n;
        a.graph = &g;
        a.constant = rnn_dq_constant;
        a.opset = model.opset("");
        a.x_shape = *xs;
        a.threads = T;
        a.parallel_flops = kParallelFlops;
        a.parallel_flops_int8 = kParallelFlopsInt8;
        const graph::Node* tr = nullptr;
        if (auto it = producer.find(x); it != producer.end() && sole_consumer(x) == &n) {
            const graph::Node& p = g.nodes[it->second];
            if (p.domain.empty() && p.op_type == "Transpose" && p.inputs.size() == 1 &&
                p.attr_ints("perm") == std::vector<int64_t>{1, 0, 2} && f32(p.inputs[0]) &&
                !absorbed[it->second])
                tr = &p;
        }
        a.x_transposed = tr != nullptr;
        RnnPlan rp = plan_rnn(a);
        if (rp.step) {
            const auto want = rnn_output_shapes(*rp.step);
            for (size_t i = 0; i < n.outputs.size() && i < want.size(); ++i) {
                const Shape* os = n.outputs[i].empty() ? nullptr : shape_of(n.outputs[i]);
                if (os && (*os != want[i] || !f32(n.outputs[i]))) {
                    rp.step.reset();
                    rp.why = "output " + std::to_string(i) + " shape";
                }
            }
        }
        if (rp.step && tr) absorbed[static_cast<size_t>(tr - g.nodes.data())] = true;
        rnn_x[ni] = rp.step && tr ? tr->inputs[0] : x;
        rnn_plans[ni] = std::move(rp);
    }
    // QDQ Conv / Gemm / MatMul that run as integer steps (qfuse.h); their absorbed DQ / activation / Q nodes
    // do not run.
    std::unordered_map<size_t, QFusion> qfusions;
    std::unordered_map<size_t, std::string> qrefused;
    {
        QFuseArgs qa;
        qa.graph = &g;
        qa.shape_of = shape_of;
        qa.dtype_of = [&](const std::string& v, DType* d) {
            auto it = dtypes.find(v);
            if (it == dtypes.end()) return false;
            *d = it->second;
            return true;
        };
        qa.producer = [&](const std::string& v) -> const graph::Node* {
            auto it = producer.find(v);
            return it == producer.end() || absorbed[it->second] ? nullptr : &g.nodes[it->second];
        };
        qa.sole_consumer = sole_consumer;
        qa.opset_of = [&](const std::string& d) { return model.opset(d); };
        qa.threads = T;
        qa.parallel_flops = kParallelFlops;
        qa.parallel_elems = kParallelElems;
        for (size_t ni : order) {
            const graph::Node& n = g.nodes[ni];
            if (absorbed[ni] || folded_nodes.count(&n)) continue;
            const bool cand = (n.domain.empty() && (n.op_type == "Conv" || n.op_type == "Gemm" || n.op_type == "MatMul")) ||
                              (n.domain == kEdgeq && (n.op_type == "FusedConv" || n.op_type == "FusedGemm" || n.op_type == "FusedMatMul"));
            // DQ -> MaxPool / AveragePool -> Q and DQ -> elementwise unary -> Q on the bytes
            const bool qpool = n.domain.empty() && (n.op_type == "MaxPool" || n.op_type == "AveragePool");
            const bool qlut = !qpool && qlut_op(n);
            // DQ -> Add [-> Relu] -> Q and DQ -> Concat -> Q (equal parameters) on the bytes
            const bool qadd = n.domain.empty() && n.op_type == "Add";
            const bool qcat = n.domain.empty() && n.op_type == "Concat" && n.inputs.size() <= kQStepMaxInputs;
            // DynamicQuantizeLinear -> MatMulInteger | ConvInteger -> Cast -> Mul [-> Add] (dynamic quantization)
            const bool qdyn = n.domain.empty() && (n.op_type == "MatMulInteger" || n.op_type == "ConvInteger");
            if (!qpool && !qlut && !qdyn && !qadd && !qcat && (!cand || n.inputs.size() < 2)) continue;
            if (n.inputs.empty() || n.inputs[0].empty()) continue;
            if (auto it = producer.find(n.inputs[qpool || qlut || qdyn || qadd || qcat ? 0 : 1]);
                it == producer.end() || g.nodes[it->second].op_type != (qdyn ? "DynamicQuantizeLinear" : "DequantizeLinear"))
                continue;  // not a QDQ node
            qa.node = &n;
            QFusion f = qdyn ? plan_qdynamic(qa) : qpool ? plan_qpool(qa) : qlut ? plan_qlut(qa)
                        : qadd ? plan_qadd(qa) : qcat ? plan_qconcat(qa) : plan_qfusion(qa);
            if (!f.step) {
                qrefused[ni] = f.why;
                continue;
            }
            bool clash = false;  // an absorbed node already taken by another step
            for (const graph::Node* a : f.absorbed) clash = clash || absorbed[static_cast<size_t>(a - g.nodes.data())];
            if (clash) {
                qrefused[ni] = "shared nodes";
                continue;
            }
            for (const graph::Node* a : f.absorbed) absorbed[static_cast<size_t>(a - g.nodes.data())] = true;
            qfusions[ni] = std::move(f);
        }
        // A DynamicQuantizeLinear whose readers all became dynamic steps (each quantizes x itself) no longer runs.
        for (size_t ni : order) {
            const graph::Node& n = g.nodes[ni];
            if (absorbed[ni] || n.op_type != "DynamicQuantizeLinear" || !n.domain.empty()) continue;
            bool unread = true;
            for (const auto& o : n.outputs) {
                if (o.empty()) continue;
                if (graph_outputs.count(o)) unread = false;
                if (auto it = consumers.find(o); it != consumers.end())
                    for (size_t c : it->second) unread = unread && (absorbed[c] || qfusions.count(c));
            }
            if (unread) absorbed[ni] = true;
        }
        // A DequantizeLinear of activations read only by integer steps that read its bytes (several convs sharing
        // one input: each step's x is the DQ's input) would compute a float tensor nobody reads: it no longer
        // runs (and its bytes may stay NHWC between those steps).
        for (size_t ni : order) {
            const graph::Node& n = g.nodes[ni];
            if (absorbed[ni] || !n.domain.empty() || n.op_type != "DequantizeLinear" || n.inputs.empty() ||
                n.outputs.size() != 1 || n.outputs[0].empty() || graph_outputs.count(n.outputs[0]))
                continue;
            auto it = consumers.find(n.outputs[0]);
            if (it == consumers.end()) continue;
            bool unread = true;
            for (size_t c : it->second) {
                auto f = qfusions.find(c);
                const auto& cin = g.nodes[c].inputs;
                unread = unread && f != qfusions.end() && f->second.x_q == n.inputs[0] && cin[0] == n.outputs[0] &&
                         std::count(cin.begin(), cin.end(), n.outputs[0]) == 1;
            }
            if (unread) absorbed[ni] = true;
        }
    }
    // Every other DequantizeLinear of constants (weights of a node the integer step refused, weight-only
    // quantized models) is evaluated once here, so the float kernels below see constant float weights; so is
    // every Cast(to = FLOAT) of an F16 / BF16 initializer (fp16 / bf16 models: half_gemm.h).
    std::unordered_map<std::string, Tensor> plan_consts;
    HalfWeights half_weights;  // Cast(F16 / BF16 initializer) outputs: Gemm / MatMul pack the 16-bit weights
    for (size_t ni : order) {
        const graph::Node& n = g.nodes[ni];
        if (absorbed[ni]) continue;  // (a folded half Cast, e.g. a small bias, is widened again: cinit sees it)
        Tensor v = folded_nodes.count(&n) ? Tensor() : dequantize_constant(g, n, model.opset(""));
        if (v.empty_handle()) v = widen_half_constant(g, n, half_weights);
        if (v.empty_handle()) continue;
        plan_consts[n.outputs[0]] = v;
        folded_values[n.outputs[0]] = v;
        impl->slots[static_cast<size_t>(slot(n.outputs[0]))] = v;
        folded_nodes.insert(&n);
    }
    auto cinit = [&](const std::string& name) -> const Tensor* {
        if (const Tensor* t = init_of(g, name)) return t;
        auto it = plan_consts.find(name);
        return it == plan_consts.end() ? nullptr : &it->second;
    };
    auto is_f32_const = [&](const std::string& name) {
        const Tensor* t = cinit(name);
        return t && t->dtype() == DType::F32;
    };
    impl->steps.reserve(order.size());
    impl->infos.reserve(order.size());

    for (size_t oi = 0; oi < order.size(); ++oi) {
        const size_t ni = order[oi];
        if (absorbed[ni] || folded_nodes.count(&g.nodes[ni])) continue;
        const graph::Node& n = g.nodes[ni];
        Step s;
        s.node = &n;
        s.ref = find_ref_op(n.domain, n.op_type);
        if (!s.ref) return Unsupported(n.describe() + ": operator not supported by edgeq's reference executor");
        StepInfo info;
        info.node = step_name(n, ni);
        info.op = (n.domain.empty() ? "" : n.domain + ".") + n.op_type;
        info.kernel = "ref";

        const std::string op = n.op_type;
        const bool onnx = n.domain.empty(), edgeq = n.domain == kEdgeq;
        const Shape* xs = n.inputs.empty() || n.inputs[0].empty() ? nullptr : shape_of(n.inputs[0]);
        const Shape* ys = n.outputs.empty() || n.outputs[0].empty() ? nullptr : shape_of(n.outputs[0]);
        const bool f32_io = xs && ys && f32(n.inputs[0]) && f32(n.outputs[0]) && n.outputs.size() == 1;
        bool kernel = false;
        bool absorb_ok = false;       // may absorb a following bias Add / activation
        int64_t bias_len = 0;         // bias length an absorbed Add must match
        bool bias_per_channel = false;

        // ---- integer step of a QDQ pattern (planned above) --------------------------------------------------
        if (auto it = qfusions.find(ni); it != qfusions.end()) {
            QFusion& f = it->second;
            s.kind = Kind::QGemm;
            s.qstep = std::move(f.step);
            s.in_shape = f.x_shape;
            s.in_dtype = dtypes.at(f.x_q);
            s.in.push_back(slot(f.x_q));
            for (const std::string& v : f.x_more) s.in.push_back(slot(v));
            s.out_slot = slot(f.out);
            s.out.push_back(s.out_slot);
            impl->slots[static_cast<size_t>(s.out_slot)] = Tensor(f.out_dtype, f.out_shape);
            info.kernel = f.kernel;
            info.fused = f.fused;
            info.flops = f.flops;
            impl->steps.push_back(std::move(s));
            impl->infos.push_back(std::move(info));
            continue;
        }
        if (auto it = qrefused.find(ni); it != qrefused.end()) info.kernel = "ref (no integer step: " + it->second + ")";

        // ---- per-tensor QuantizeLinear / DequantizeLinear (u8 / s8) ----------------------------------------
        if (onnx && (op == "QuantizeLinear" || op == "DequantizeLinear") && xs && ys && *xs == *ys &&
            n.outputs.size() == 1 && n.inputs.size() >= 2 && !n.has("output_dtype") && !n.has("precision") &&
            n.attr_i("block_size", 0) == 0) {
            const bool quantize = op == "QuantizeLinear";
            const Tensor* st = init_of(g, n.inputs[1]);
            const Tensor* zt = n.inputs.size() > 2 && !n.inputs[2].empty() ? init_of(g, n.inputs[2]) : nullptr;
            const bool has_z = n.inputs.size() > 2 && !n.inputs[2].empty();
            auto dt = [&](const std::string& v) {
                auto it = dtypes.find(v);
                return it == dtypes.end() ? DType::F32 : it->second;
            };
            const DType xd = dt(n.inputs[0]), yd = dt(n.outputs[0]);
            const DType qd = quantize ? yd : xd;
            bool ok = st && st->dtype() == DType::F32 && st->numel() == 1 && (qd == DType::U8 || qd == DType::I8) &&
                      (quantize ? xd == DType::F32 : yd == DType::F32) && (!has_z || (zt && zt->numel() == 1 && zt->dtype() == qd));
            if (ok) {
                s.kind = Kind::QLinear;
                s.quantize = quantize;
                s.q_scale = st->data<float>()[0];
                s.q_zero = !zt ? 0 : qd == DType::U8 ? zt->data<uint8_t>()[0] : zt->data<int8_t>()[0];
                s.in_shape = *xs;
                s.in_dtype = xd;
                s.in.push_back(slot(n.inputs[0]));
                s.out_slot = slot(n.outputs[0]);
                s.out.push_back(s.out_slot);
                impl->slots[static_cast<size_t>(s.out_slot)] = Tensor(yd, *ys);
                const int64_t elems = shape_numel(*xs);
                s.splits = (T > 1 && elems >= kParallelElems) ? T : 1;
                info.kernel = quantize ? "quantize_f32_q8" : "dequantize_q8_f32";
                impl->steps.push_back(std::move(s));
                impl->infos.push_back(std::move(info));
                continue;
            }
        }

        // ---- Softmax / LogSoftmax over the last axis (opset < 13: the 2-D view from `axis`, also contiguous) --
        if (f32_io && onnx && (op == "Softmax" || op == "LogSoftmax") && *xs == *ys && !xs->empty()) {
            const bool legacy = model.opset("") < 13;
            const int64_t rank = static_cast<int64_t>(xs->size());
            int64_t axis = n.attr_i("axis", legacy ? 1 : -1);
            if (axis < 0) axis += rank;
            int64_t len = 1;
            for (int64_t i = std::max<int64_t>(axis, 0); i < rank; ++i) len *= (*xs)[static_cast<size_t>(i)];
            if (axis >= 0 && axis < rank && (legacy || axis == rank - 1) && len > 0) {
                s.kind = Kind::Softmax;
                s.sm_len = len;
                s.sm_rows = shape_numel(*xs) / len;
                s.sm_log = op == "LogSoftmax";
                s.in_shape = *xs;
                s.in.push_back(slot(n.inputs[0]));
                s.out_slot = slot(n.outputs[0]);
                s.out.push_back(s.out_slot);
                impl->slots[static_cast<size_t>(s.out_slot)] = Tensor(DType::F32, *ys);
                const int64_t work = shape_numel(*xs) * 16;  // an exp costs about 16 multiply-adds
                s.splits = (T > 1 && work >= kParallelFlops) ? std::min<int64_t>(T, s.sm_rows) : 1;
                info.kernel = s.sm_log ? "log_softmax_rows_f32" : "softmax_rows_f32";
                impl->steps.push_back(std::move(s));
                impl->infos.push_back(std::move(info));
                continue;
            }
        }

        // ---- Gemm / MatMul (+ Fused) with constant weights -----------------------------------------------
        if (f32_io && ((onnx && (op == "Gemm" || op == "MatMul")) || (edgeq && (op == "FusedGemm" || op == "FusedMatMul"))) &&
            n.inputs.size() >= 2 && is_f32_const(n.inputs[1])) {
            const bool is_gemm = op == "Gemm" || op == "FusedGemm";
            const Tensor& B = *cinit(n.inputs[1]);
            Activation act = edgeq ? parse_fused_activation(n) : Activation{true, {}};
            const bool trans_a = is_gemm && n.attr_i("transA", 0) != 0;
            const bool trans_b = is_gemm && n.attr_i("transB", 0) != 0;
            const float alpha = is_gemm ? n.attr_f("alpha", 1.0f) : 1.0f, beta = is_gemm ? n.attr_f("beta", 1.0f) : 1.0f;
            if (act.ok && !trans_a && B.rank() == 2 && xs->size() >= 2 && (!is_gemm || xs->size() == 2)) {
                const int64_t K = xs->back(), N = trans_b ? B.dim(0) : B.dim(1);
                const int64_t M = shape_numel(*xs) / std::max<int64_t>(K, 1);
                bool ok = (trans_b ? B.dim(1) : B.dim(0)) == K && ys->back() == N && shape_numel(*ys) == M * N;
                std::vector<float> bias;
                if (ok && n.inputs.size() >= 3 && !n.inputs[2].empty()) {
                    const Tensor* C = cinit(n.inputs[2]);
                    const bool shape_ok = C && C->dtype() == DType::F32 &&
                                          (C->numel() == 1 || (C->numel() == N && (C->rank() == 1 || (C->rank() == 2 && C->dim(0) == 1))));
                    if (!shape_ok) {
                        ok = false;
                    } else {
                        const float* c = C->data<float>();
                        const float scale = is_gemm ? beta : 1.0f;
                        bias.resize(static_cast<size_t>(N));
                        for (int64_t j = 0; j < N; ++j) bias[static_cast<size_t>(j)] = scale * c[C->numel() == 1 ? 0 : j];
                    }
                }
                if (ok) {
                    s.kind = Kind::Gemm;
                    s.row = &k::select(k::Op::Gemm);
                    if (alpha != 1.0f || !pack_half_weights(half_weights, n.inputs[1], trans_b, K, N, s.row, s.weights)) {
                        s.weights = Tensor(DType::F32, {k::packed_b_floats(K, N, s.row->nr)});
                        k::pack_b(B.data<float>(), trans_b ? 1 : N, trans_b ? K : 1, K, N, s.row->nr, s.weights.data<float>());
                        float* w = s.weights.data<float>();
                        for (int64_t i = 0; alpha != 1.0f && i < s.weights.numel(); ++i) w[i] *= alpha;
                    }
                    const int nr = s.row->nr;
                    s.bias = std::move(bias);
                    s.act = act.a;
                    s.gemm.M = M;
                    s.gemm.N = N;
                    s.gemm.K = K;
                    s.gemm.lda = K;
                    s.gemm.ldc = N;
                    s.gemm.n_begin = 0;
                    s.gemm.n_end = N;
                    const int64_t flops = 2 * M * N * K;
                    const int64_t panels = (N + nr - 1) / nr;
                    s.splits = (T > 1 && flops >= kParallelFlops) ? std::min<int64_t>(T, panels) : 1;
                    info.flops = flops;
                    kernel = true;
                    absorb_ok = act.a.kind == k::Act::None;
                    bias_len = N;
                }
            }
        }

        // ---- Conv (+ FusedConv), 2-D, constant weights --------------------------------------------------
        if (!kernel && f32_io && ((onnx && op == "Conv") || (edgeq && op == "FusedConv")) && n.inputs.size() >= 2 &&
            is_f32_const(n.inputs[1]) && xs->size() == 4 && ys->size() == 4) {
            const Tensor& Wt = *cinit(n.inputs[1]);
            Activation act = edgeq ? parse_fused_activation(n) : Activation{true, {}};
            const int64_t N = (*xs)[0], C = (*xs)[1], H = (*xs)[2], W = (*xs)[3];
            const int64_t OC = (*ys)[1], OH = (*ys)[2], OW = (*ys)[3];
            const int64_t G = n.attr_i("group", 1);
            const auto st = n.attr_ints("strides", {1, 1}), dl = n.attr_ints("dilations", {1, 1});
            bool ok = act.ok && Wt.rank() == 4 && G >= 1 && C % G == 0 && OC % G == 0 && Wt.dim(0) == OC && Wt.dim(1) == C / G &&
                      st.size() == 2 && dl.size() == 2 && (*ys)[0] == N;
            std::vector<float> bias;
            if (ok && n.inputs.size() >= 3 && !n.inputs[2].empty()) {
                const Tensor* Bt = cinit(n.inputs[2]);
                if (!Bt || Bt->dtype() != DType::F32 || Bt->numel() != OC) ok = false;
                else bias.assign(Bt->data<float>(), Bt->data<float>() + OC);
            }
            if (ok) {
                const int64_t KH = Wt.dim(2), KW = Wt.dim(3);
                int64_t pads[4];
                window_pads(n, H, W, OH, OW, KH, KW, st[0], st[1], dl[0], dl[1], pads);
                s.weights = Wt;
                s.bias = std::move(bias);
                s.act = act.a;
                s.batch = N;
                s.in_image = C * H * W;
                s.out_image = OC * OH * OW;
                const int64_t Kc = (C / G) * KH * KW;
                const int64_t flops = 2 * N * OC * OH * OW * Kc;
                info.flops = flops;
                if (G == C && G == OC && Wt.dim(1) == 1) {
                    s.kind = Kind::DwConv;
                    s.row = &k::select(k::Op::DwConv2d);
                    k::DwConv2dArgs& a = s.dw;
                    a.C = C, a.H = H, a.W = W, a.OH = OH, a.OW = OW, a.KH = KH, a.KW = KW;
                    a.SH = st[0], a.SW = st[1], a.PT = pads[0], a.PL = pads[1], a.DH = dl[0], a.DW = dl[1];
                    a.w = s.weights.data<float>();
                    s.splits = (T > 1 && flops / std::max<int64_t>(N, 1) >= kParallelFlops) ? std::min<int64_t>(T, C) : 1;
                    if (N >= T && T > 1 && flops >= kParallelFlops) s.splits = 1;
                    work_floats = std::max(work_floats, k::dwconv2d_work_floats(a));
                } else {
                    s.kind = Kind::Conv;
                    s.row = &k::select(k::Op::Conv2d);
                    k::Conv2dArgs& a = s.conv;
                    a.C = C / G, a.H = H, a.W = W, a.OC = OC / G, a.OH = OH, a.OW = OW, a.KH = KH, a.KW = KW;
                    a.SH = st[0], a.SW = st[1], a.PT = pads[0], a.PL = pads[1], a.DH = dl[0], a.DW = dl[1];
                    s.groups = G;
                    s.in_group_stride = (C / G) * H * W;
                    s.out_group_stride = (OC / G) * OH * OW;
                    s.w_group_stride = (OC / G) * Kc;
                    const bool big = T > 1 && flops >= kParallelFlops;
                    s.splits = big && N * G < T ? std::min<int64_t>(T, std::max<int64_t>(1, OH * OW / s.row->nr)) : 1;
                    work_floats = std::max(work_floats, k::conv2d_work_floats(a, s.row->nr));
                    // 3×3 stride-1 convolutions on the AVX-512 row: Winograd F(2×2, 3×3) (2.25× fewer multiplies;
                    // vgg_bn's 32- and 64-channel layers ran the direct kernel at 65–70 % of the FMA peak).
                    if (k::conv2d_winograd_eligible(a) && isa_enabled(Isa::Avx512)) {
                        const int64_t per_group = k::conv2d_winograd_u_floats(a.C, a.OC);
                        s.wino_u.resize(static_cast<size_t>(G * per_group));
                        for (int64_t gi = 0; gi < G; ++gi)
                            k::conv2d_winograd_pack_u(Wt.data<float>() + gi * s.w_group_stride, a.C, a.OC,
                                                      s.wino_u.data() + gi * per_group);
                        work_floats = std::max(work_floats, k::conv2d_winograd_work_floats(a, OH * OW));
                    }
                }
                kernel = true;
                absorb_ok = act.a.kind == k::Act::None;
                bias_len = OC;
                bias_per_channel = true;
            }
        }

        // ---- pooling, 2-D ----------------------------------------------------------------------------------
        if (!kernel && f32_io && onnx && xs->size() == 4 && ys->size() == 4 &&
            (op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool" || op == "GlobalMaxPool")) {
            const bool global = op.rfind("Global", 0) == 0;
            const bool is_max = op == "MaxPool" || op == "GlobalMaxPool";
            const int64_t H = (*xs)[2], W = (*xs)[3], OH = (*ys)[2], OW = (*ys)[3];
            const auto ks = global ? std::vector<int64_t>{H, W} : n.attr_ints("kernel_shape");
            const auto st = global ? std::vector<int64_t>{1, 1} : n.attr_ints("strides", {1, 1});
            const auto dl = global ? std::vector<int64_t>{1, 1} : n.attr_ints("dilations", {1, 1});
            const bool cip = n.attr_i("count_include_pad", 0) != 0, ceil_mode = n.attr_i("ceil_mode", 0) != 0;
            const bool ok = ks.size() == 2 && st.size() == 2 && dl.size() == 2 && n.attr_i("storage_order", 0) == 0 &&
                            !(cip && ceil_mode) && (*xs)[0] == (*ys)[0] && (*xs)[1] == (*ys)[1];
            if (ok) {
                int64_t pads[4] = {0, 0, 0, 0};
                if (!global) window_pads(n, H, W, OH, OW, ks[0], ks[1], st[0], st[1], dl[0], dl[1], pads);
                s.kind = Kind::Pool;
                s.row = &k::select(is_max ? k::Op::MaxPool2d : k::Op::AvgPool2d);
                k::Pool2dArgs& a = s.pool;
                a.H = H, a.W = W, a.OH = OH, a.OW = OW, a.KH = ks[0], a.KW = ks[1], a.SH = st[0], a.SW = st[1];
                a.PT = pads[0], a.PL = pads[1], a.PB = pads[2], a.PR = pads[3], a.DH = dl[0], a.DW = dl[1];
                a.count_include_pad = cip;
                a.c_begin = 0;
                a.c_end = (*xs)[0] * (*xs)[1];
                // Pooling is memory-bound: a tap costs about what a multiply-add does in the GEMM, but a pool
                // reads each input once, so it pays for the hand-off at a quarter of the GEMM's threshold.
                const int64_t work = shape_numel(*ys) * ks[0] * ks[1];
                s.splits = (T > 1 && work >= kParallelFlops / 4) ? std::min<int64_t>(T, a.c_end) : 1;
                kernel = true;
            }
        }

        // ---- Add / Mul of same-shaped tensors or a scalar (residual adds, scales) ------------------------
        if (!kernel && f32_io && onnx && (op == "Add" || op == "Mul") && n.inputs.size() == 2 && !n.inputs[1].empty()) {
            const Shape* bs = shape_of(n.inputs[1]);
            if (bs && f32(n.inputs[1]) && *xs == *ys) {
                const bool same = *bs == *ys, scalar = shape_numel(*bs) == 1;
                if (same || scalar) {
                    s.kind = Kind::Binary;
                    s.row = &k::select(k::Op::Binary);
                    s.bin.op = op == "Add" ? k::BinOp::Add : k::BinOp::Mul;
                    s.bin.b_scalar = !same;
                    s.bin.begin = 0;
                    s.bin.end = shape_numel(*ys);
                    s.splits = (T > 1 && s.bin.end >= 8 * kParallelFlops) ? T : 1;
                    s.b_slot = slot(n.inputs[1]);
                    kernel = true;
                    absorb_ok = true;
                    bias_len = -1;  // no bias to absorb; an activation may follow
                }
            }
        }

        // ---- LSTM / GRU (planned above) -------------------------------------------------------------------
        if (auto it = rnn_plans.find(ni); it != rnn_plans.end()) {
            RnnPlan& rp = it->second;
            if (!rp.step) {
                info.kernel = "ref (no fast " + op + ": " + rp.why + ")";
            } else {
                s.kind = Kind::Rnn;
                s.rnn = std::move(rp.step);
                info.kernel = rnn_kernel_name(*s.rnn);
                info.flops = rnn_flops(*s.rnn);
                const std::string& x = rnn_x[ni];
                if (x != n.inputs[0]) info.fused = "Transpose(X)";
                s.in_shape = *shape_of(x);
                for (size_t i = 0; i < n.inputs.size(); ++i)
                    s.in.push_back(i == 0 ? slot(x) : n.inputs[i].empty() ? -1 : slot(n.inputs[i]));
                const auto shapes_out = rnn_output_shapes(*s.rnn);
                for (size_t i = 0; i < n.outputs.size(); ++i) {
                    const std::string& o = n.outputs[i];
                    const bool read =
                        !o.empty() && i < shapes_out.size() && (consumers.count(o) || graph_outputs.count(o));
                    s.out.push_back(read ? slot(o) : -1);
                    if (read)
                        impl->slots[static_cast<size_t>(s.out.back())] = Tensor(DType::F32, shapes_out[i]);
                }
            }
        }

        // ---- inputs/outputs, absorbed bias Add and activation --------------------------------------------
        if (s.kind != Kind::Rnn) {
            for (const auto& in : n.inputs) s.in.push_back(in.empty() ? -1 : slot(in));
            for (const auto& o : n.outputs) s.out.push_back(o.empty() ? -1 : slot(o));
        }
        if (kernel) {
            s.in_shape = *xs;
            std::string out_name = n.outputs[0];
            std::string fused;
            // Add of a constant bias (per channel for conv, per column for GEMM) with the same output shape
            if (absorb_ok) {
                if (const graph::Node* c = sole_consumer(out_name); c && c->domain.empty() && c->op_type == "Add" &&
                                                                 c->inputs.size() == 2 && c->outputs.size() == 1) {
                    const std::string& other = c->inputs[0] == out_name ? c->inputs[1] : c->inputs[0];
                    const Tensor* bt = cinit(other);
                    const Shape* cs = shape_of(c->outputs[0]);
                    bool fits = bias_len > 0 && bt && bt->dtype() == DType::F32 && bt->numel() == bias_len && cs && *cs == *ys;
                    if (fits && bias_per_channel) {  // [OC,1,1] or [1,OC,1,1]
                        const Shape& bs = bt->shape();
                        fits = (bs.size() == 3 && bs[1] == 1 && bs[2] == 1) || (bs.size() == 4 && bs[0] == 1 && bs[2] == 1 && bs[3] == 1);
                    } else if (fits) {  // [N] or [1,N]
                        fits = bt->rank() == 1 || (bt->rank() == 2 && bt->dim(0) == 1);
                    }
                    if (fits) {
                        if (s.bias.empty()) s.bias.assign(static_cast<size_t>(bias_len), 0.0f);
                        for (int64_t i = 0; i < bias_len; ++i) s.bias[static_cast<size_t>(i)] += bt->data<float>()[i];
                        absorbed[static_cast<size_t>(c - g.nodes.data())] = true;
                        out_name = c->outputs[0];
                        fused = "Add(bias)";
                    }
                }
                if (const graph::Node* c = sole_consumer(out_name)) {
                    const Activation act = activation_node(g, *c);
                    const Shape* cs = c->outputs.size() == 1 ? shape_of(c->outputs[0]) : nullptr;
                    if (act.ok && cs && *cs == *ys && c->inputs[0] == out_name) {
                        s.act = act.a;
                        absorbed[static_cast<size_t>(c - g.nodes.data())] = true;
                        out_name = c->outputs[0];
                        fused += (fused.empty() ? "" : "+") + c->op_type;
                    }
                }
            }
            info.fused = fused;
            s.out_slot = slot(out_name);
            // kernel steps write into a buffer allocated once (graph outputs are cloned out at the end of run)
            impl->slots[static_cast<size_t>(s.out_slot)] = Tensor(DType::F32, *ys);
            s.bias.shrink_to_fit();
            if (s.kind == Kind::Gemm) {
                s.gemm.b = s.weights.data<float>();
                s.gemm.bias = s.bias.empty() ? nullptr : s.bias.data();
                s.gemm.bias_kind = s.bias.empty() ? k::BiasKind::None : k::BiasKind::PerCol;
                s.gemm.act = s.act;
            } else if (s.kind == Kind::Conv) {
                s.conv.act = s.act;
            } else if (s.kind == Kind::DwConv) {
                s.dw.act = s.act;
                s.dw.bias = s.bias.empty() ? nullptr : s.bias.data();
            } else if (s.kind == Kind::Binary) {
                s.bin.act = s.act;
            }
            info.kernel = s.row->name;
            if (!s.wino_u.empty()) info.kernel += " (winograd F(2x2,3x3))";
            if (auto it = qrefused.find(ni); it != qrefused.end())
                info.fused += (info.fused.empty() ? "" : " ") + ("float: no integer step: " + it->second);
            if (s.act.kind != k::Act::None && info.fused.empty()) info.fused = std::string("act:") + k::act_name(s.act.kind);
        }
        impl->steps.push_back(std::move(s));
        impl->infos.push_back(std::move(info));
    }

    // NHWC between integer steps (qfuse.h qstep_set_layout): a u8 / s8 value written by a step that can write
    // NHWC and read only by steps that read it as their NHWC-capable input x (not a graph output) keeps NHWC
    // bytes; every other reader (a reference op, a DequantizeLinear step) sees NCHW as before.
    {
        std::vector<std::vector<size_t>> readers(impl->slots.size());
        for (size_t i = 0; i < impl->steps.size(); ++i) {
            const Step& st = impl->steps[i];
            for (int in : st.in)
                if (in >= 0) readers[static_cast<size_t>(in)].push_back(i);
            if (st.b_slot >= 0) readers[static_cast<size_t>(st.b_slot)].push_back(i);
        }
        std::set<int> out_slots;
        for (const auto& o : g.outputs)
            if (auto it = slot_of.find(o.name); it != slot_of.end()) out_slots.insert(it->second);
        // Layout-transparent steps (qstep_nhwc_passes: qadd, channel qconcat) tie their inputs and output into
        // one group (union-find over slots); a group is NHWC when every slot in it is written by a step that can
        // write NHWC (or by a transparent step of the group), is not a graph output, and is read only as the
        // NHWC-capable x of a step (or by a transparent step of the group).
        std::vector<int> grp(impl->slots.size());
        for (size_t i = 0; i < grp.size(); ++i) grp[i] = static_cast<int>(i);
        auto find = [&](int v) {  // the group's root (with path halving)
            while (grp[static_cast<size_t>(v)] != v) {
                int& parent = grp[static_cast<size_t>(v)];
                parent = grp[static_cast<size_t>(parent)];
                v = parent;
            }
            return v;
        };
        auto passes = [&](const Step& st) { return st.kind == Kind::QGemm && qstep_nhwc_passes(*st.qstep); };
        std::vector<int> writer(impl->slots.size(), -1);
        for (size_t i = 0; i < impl->steps.size(); ++i) {
            const Step& st = impl->steps[i];
            if (st.out_slot >= 0) writer[static_cast<size_t>(st.out_slot)] = static_cast<int>(i);
            if (!passes(st)) continue;
            for (int in : st.in)
                if (in >= 0) grp[static_cast<size_t>(find(in))] = find(st.out_slot);
        }
        std::vector<char> ok(impl->slots.size(), 1);  // per group root: can be NHWC
        std::vector<char> member(impl->slots.size(), 0);  // the slot is written by some step
        for (size_t v = 0; v < impl->slots.size(); ++v) {
            const int pi = writer[v];
            if (pi < 0) continue;
            member[v] = 1;
            const Step& p = impl->steps[static_cast<size_t>(pi)];
            bool good = p.kind == Kind::QGemm && (qstep_nhwc_out(*p.qstep) || qstep_nhwc_passes(*p.qstep)) &&
                        !out_slots.count(static_cast<int>(v)) && !readers[v].empty();
            for (size_t r : readers[v]) {
                const Step& c = impl->steps[r];
                good = good && c.kind == Kind::QGemm &&
                       (passes(c) || (c.in.size() == 1 && c.in[0] == static_cast<int>(v) && qstep_nhwc_in(*c.qstep)));
                good = good && c.b_slot != static_cast<int>(v);
            }
            if (!good) ok[static_cast<size_t>(find(static_cast<int>(v)))] = 0;
        }
        // every input of a transparent step must be a written slot (not a graph input or constant)
        for (const Step& st : impl->steps) {
            if (!passes(st)) continue;
            for (int in : st.in)
                if (in < 0 || !member[static_cast<size_t>(in)]) ok[static_cast<size_t>(find(st.out_slot))] = 0;
        }
        std::vector<bool> nhwc(impl->slots.size(), false);
        for (size_t v = 0; v < impl->slots.size(); ++v)
            nhwc[v] = member[v] && ok[static_cast<size_t>(find(static_cast<int>(v)))];
        for (size_t i = 0; i < impl->steps.size(); ++i) {
            Step& st = impl->steps[i];
            if (st.kind != Kind::QGemm) continue;
            const bool in = nhwc[static_cast<size_t>(st.in[0])], out = nhwc[static_cast<size_t>(st.out_slot)];
            if (!in && !out) continue;
            if (std::string k = qstep_set_layout(*st.qstep, in, out); !k.empty()) impl->infos[i].kernel = std::move(k);
            impl->infos[i].fused += in && out ? " [NHWC in/out]" : in ? " [NHWC in]" : " [NHWC out]";
        }
        // A direct conv whose NHWC output only one padding conv reads writes into that conv's padded image
        // (qstep_write_into_padded): the copy between them goes.
        for (size_t i = 0; i < impl->steps.size(); ++i) {
            Step& p = impl->steps[i];
            if (p.kind != Kind::QGemm || p.out_slot < 0) continue;
            const auto v = static_cast<size_t>(p.out_slot);
            if (!nhwc[v] || out_slots.count(p.out_slot) || readers[v].size() != 1) continue;
            const size_t ci = readers[v][0];
            Step& c = impl->steps[ci];
            if (ci <= i || c.kind != Kind::QGemm || c.in.size() != 1 || c.in[0] != p.out_slot || c.b_slot == p.out_slot)
                continue;
            if (qstep_write_into_padded(*p.qstep, *c.qstep)) {
                impl->infos[i].fused += " [into the next conv's padded input]";
                impl->infos[ci].fused += " [input padded by its producer]";
            }
        }
    }

    // Reference contexts (bound to slot addresses, which no longer move) and release lists.
    std::vector<int> last_use(impl->slots.size(), -1);
    std::vector<bool> keep(impl->slots.size(), false);
    for (const auto& [name, t] : g.initializers) keep[static_cast<size_t>(slot_of[name])] = true;
    for (const auto& [name, t] : folded_values) keep[static_cast<size_t>(slot_of[name])] = true;
    for (int id : impl->input_slots) keep[static_cast<size_t>(id)] = true;
    for (const auto& o : g.outputs) {
        auto it = slot_of.find(o.name);
        if (it == slot_of.end()) return Corrupt("graph '" + g.name + "': output '" + o.name + "' is never produced");
        impl->output_slots.push_back(it->second);
        keep[static_cast<size_t>(it->second)] = true;
    }
    for (size_t i = 0; i < impl->steps.size(); ++i) {
        Step& s = impl->steps[i];
        s.info = &impl->infos[i];
        if (s.kind == Kind::Rnn) {
            for (int o : s.out)
                if (o >= 0) keep[static_cast<size_t>(o)] = true;  // persistent buffers
        } else if (s.kind != Kind::Ref) {
            keep[static_cast<size_t>(s.out_slot)] = true;  // persistent buffer
        }
        for (int in : s.in)
            if (in >= 0) last_use[static_cast<size_t>(in)] = static_cast<int>(i);
        s.ctx = std::make_unique<OpContext>(OpContext{*s.node, model.opset(s.node->domain), {}, {}, {}});
        for (int in : s.in) s.ctx->inputs.push_back(in < 0 ? nullptr : &impl->slots[static_cast<size_t>(in)]);
        s.ctx->outputs.resize(s.node->outputs.size());
        s.ctx->run_subgraph = [](const graph::Graph&, const std::vector<Tensor>&) -> Result<std::vector<Tensor>> {
            return Unsupported("subgraphs are run by the reference executor");
        };
    }
    for (size_t id = 0; id < last_use.size(); ++id)
        if (last_use[id] >= 0 && !keep[id]) impl->steps[static_cast<size_t>(last_use[id])].release.push_back(static_cast<int>(id));

    impl->work.assign(static_cast<size_t>(T), std::vector<float>(static_cast<size_t>(work_floats)));
    impl->pool = std::make_unique<ThreadPool>(T);
    return Plan(std::move(impl));
}

Plan::Plan(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Plan::Plan(Plan&&) noexcept = default;
Plan& Plan::operator=(Plan&&) noexcept = default;
Plan::~Plan() = default;

const std::vector<std::string>& Plan::input_names() const { return impl_->input_names; }
const std::vector<std::string>& Plan::output_names() const { return impl_->output_names; }
const std::vector<StepInfo>& Plan::steps() const { return impl_->infos; }
int Plan::threads() const { return impl_->opts.threads; }

std::string Plan::trace() const {
    std::string out;
    if (impl_->delegate) return "(model has subgraphs: whole model runs in the reference executor)\n";
    for (const auto& s : impl_->infos) {
        out += s.node + "  " + s.op + "  " + s.kernel;
        if (!s.fused.empty()) out += "  [" + s.fused + "]";
        out += "\n";
    }
    return out;
}

Result<std::vector<Tensor>> Plan::run(std::span<const Tensor> inputs) {
    Impl& m = *impl_;
    if (inputs.size() != m.input_names.size()) {
        return InvalidArgument("run: expected " + std::to_string(m.input_names.size()) + " inputs, got " +
                               std::to_string(inputs.size()));
    }
    for (size_t i = 0; i < inputs.size(); ++i) {
        if (inputs[i].dtype() != m.input_dtypes[i] || inputs[i].shape() != m.input_shapes[i]) {
            return InvalidArgument("run: input '" + m.input_names[i] + "' is " + dtype_name(inputs[i].dtype()) +
                                   shape_str(inputs[i].shape()) + ", the plan was made for " + dtype_name(m.input_dtypes[i]) +
                                   shape_str(m.input_shapes[i]));
        }
    }
    if (m.delegate) {
        std::map<std::string, Tensor> named;
        for (size_t i = 0; i < inputs.size(); ++i) named[m.input_names[i]] = inputs[i];
        EDGEQ_ASSIGN_OR_RETURN(auto outs, run_reference(*m.model, named));
        std::vector<Tensor> r;
        for (const auto& name : m.output_names) r.push_back(outs[name]);
        return r;
    }
    for (size_t i = 0; i < inputs.size(); ++i) m.slots[static_cast<size_t>(m.input_slots[i])] = inputs[i];
    for (Step& s : m.steps) {
        if (m.opts.profile) {
            const auto t0 = std::chrono::steady_clock::now();
            EDGEQ_RETURN_IF_ERROR(m.run_step(s));
            s.info->total_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
            ++s.info->runs;
        } else {
            EDGEQ_RETURN_IF_ERROR(m.run_step(s));
        }
        for (int id : s.release) m.slots[static_cast<size_t>(id)] = Tensor();
    }
    std::vector<Tensor> outs;
    outs.reserve(m.output_slots.size());
    for (int id : m.output_slots) outs.push_back(m.slots[static_cast<size_t>(id)].clone());
    for (size_t i = 0; i < inputs.size(); ++i) m.slots[static_cast<size_t>(m.input_slots[i])] = Tensor();
    return outs;
}

Result<std::map<std::string, Tensor>> Plan::run(const std::map<std::string, Tensor>& inputs) {
    std::vector<Tensor> in;
    for (const auto& name : impl_->input_names) {
        auto it = inputs.find(name);
        if (it == inputs.end()) return InvalidArgument("missing input '" + name + "'");
        in.push_back(it->second);
    }
    if (inputs.size() != in.size()) {
        for (const auto& [name, t] : inputs)
            if (std::find(impl_->input_names.begin(), impl_->input_names.end(), name) == impl_->input_names.end())
                return InvalidArgument("model has no input '" + name + "'");
    }
    EDGEQ_ASSIGN_OR_RETURN(auto outs, run(std::span<const Tensor>(in)));
    std::map<std::string, Tensor> r;
    for (size_t i = 0; i < outs.size(); ++i) r[impl_->output_names[i]] = std::move(outs[i]);
    return r;
}

}  // namespace edgeq::runtime::fast
