// The fast executor's LSTM / GRU step (runtime/fast/rnn.*, kernels/rnn.h):
//  - every gate-kernel row (AVX2, AVX-512) against the scalar reference row on awkward widths and strides;
//  - the planned step against the reference executor (runtime/ref, the specification) over cells × directions
//  ×
//    layouts × optional inputs (B, sequence_lens, initial_h / initial_c, P, unused Y) × shapes (batch 1/3/7,
//    hidden 1/5/17/64, seq 1/9), at 1 and 2 threads and over repeated runs;
//  - what must fall back to the reference op (clip, input_forget, other activations) and says so in the
//  trace;
//  - an absorbed Transpose [1, 0, 2] in front of X, bad sequence lengths at run time, and the lstm.onnx
//  model.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>

#include "common/shared.h"
#include "formats/onnx/onnx_import.h"
#include "kernels/rnn.h"
#include "runtime/fast/executor.h"
#include "runtime/ref/executor.h"

namespace edgeq::runtime::fast {
namespace {

using graph::Attribute;

// |fast − ref| ≤ tol · max(1, |ref|). The gate kernels differ from std::exp / std::tanh by ≈ 2e-7 relative;
// the executor also sums x·W, h·R and the biases in another order than the reference op, and the recurrence
// carries those differences through up to 9 steps.
constexpr float kGateTol = 2e-6f;
constexpr float kRnnTol = 2e-5f;

Attribute int1(int64_t v) {
    Attribute a;
    a.kind = Attribute::Kind::Int;
    a.i = v;
    return a;
}
Attribute flt(float v) {
    Attribute a;
    a.kind = Attribute::Kind::Float;
    a.f = v;
    return a;
}
Attribute str(std::string s) {
    Attribute a;
    a.kind = Attribute::Kind::String;
    a.s = std::move(s);
    return a;
}
Attribute strs(std::vector<std::string> v) {
    Attribute a;
    a.kind = Attribute::Kind::Strings;
    a.strings = std::move(v);
    return a;
}
Attribute ints(std::vector<int64_t> v) {
    Attribute a;
    a.kind = Attribute::Kind::Ints;
    a.ints = std::move(v);
    return a;
}

Tensor random_tensor(std::mt19937& rng, const Shape& shape, float scale) {
    Tensor t(DType::F32, shape);
    std::uniform_real_distribution<float> d(-scale, scale);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
    return t;
}

std::vector<float> random_vec(std::mt19937& rng, size_t n, float scale) {
    std::uniform_real_distribution<float> d(-scale, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

// ---- gate kernels: every ISA row vs the reference row ----------------------------------------------------

void expect_near_vec(const std::vector<float>& want, const std::vector<float>& got, float tol,
                     const std::string& what) {
    ASSERT_EQ(want.size(), got.size()) << what;
    for (size_t i = 0; i < want.size(); ++i)
        ASSERT_LE(std::fabs(want[i] - got[i]), tol * std::max(1.0f, std::fabs(want[i])))
            << what << " at " << i << ": reference = " << want[i] << ", got " << got[i];
}

TEST(RnnGates, EveryRowMatchesReference) {
    const auto rows = kernels::rnn_kernel_rows();
    ASSERT_FALSE(rows.empty());
    const kernels::RnnKernelRow& ref = rows[0];
    ASSERT_EQ(ref.isa, Isa::Ref);
    EXPECT_EQ(&kernels::select_rnn(),
              kernels::find_rnn(active_isa() >= Isa::Avx512 ? Isa::Avx512 : active_isa()));
    for (const auto& row : rows) {
        if (row.isa == Isa::Ref) continue;
        if (!isa_enabled(row.isa)) {
            std::printf("skip %s: this CPU (or EDGEQ_ISA) lacks %s\n", row.name, isa_name(row.isa));
            continue;
        }
        for (int64_t H : {1, 5, 8, 15, 16, 17, 33, 64}) {
            for (int64_t nrows : {1, 3}) {
                for (int variant = 0; variant < 2; ++variant) {  // peepholes / y copy on or off
                    const std::string what = std::string(row.name) + " H=" + std::to_string(H) +
                                             " rows=" + std::to_string(nrows) +
                                             " variant=" + std::to_string(variant);
                    SCOPED_TRACE(what);
                    std::mt19937 rng(static_cast<unsigned>(H * 31 + nrows * 7 + variant));
                    const int64_t ldx = 4 * H + 3, lds = 4 * H + 1,
                                  ld = H + 2;  // strides wider than the rows
                    const auto xw = random_vec(rng, static_cast<size_t>(nrows * ldx), 4.0f);
                    const auto hr = random_vec(rng, static_cast<size_t>(nrows * lds), 4.0f);
                    const auto p = random_vec(rng, static_cast<size_t>(3 * H), 1.0f);
                    const auto c0 = random_vec(rng, static_cast<size_t>(nrows * ld), 2.0f);
                    const auto h0 = random_vec(rng, static_cast<size_t>(nrows * ld), 1.0f);
                    // LSTM
                    std::vector<float> c[2] = {c0, c0}, h[2] = {h0, h0}, y[2];
                    for (int k = 0; k < 2; ++k) {
                        y[k].assign(static_cast<size_t>(nrows * ld), -7.0f);
                        kernels::LstmGateArgs a;
                        a.rows = nrows, a.H = H, a.xw = xw.data(), a.ldxw = ldx, a.hr = hr.data(),
                        a.ldhr = lds;
                        a.p = variant ? p.data() : nullptr;
                        a.c = c[k].data(), a.ldc = ld, a.h = h[k].data(), a.ldh = ld;
                        a.y = variant ? y[k].data() : nullptr, a.ldy = ld;
                        (k == 0 ? ref : row).lstm(a);
                    }
                    expect_near_vec(c[0], c[1], kGateTol, "lstm c");
                    expect_near_vec(h[0], h[1], kGateTol, "lstm h");
                    expect_near_vec(y[0], y[1], kGateTol, "lstm y");
                    // GRU: lbr, then reset + update
                    std::vector<float> gh[2] = {h0, h0}, gy[2], ghr[2], grh[2];
                    for (int k = 0; k < 2; ++k) {
                        const auto& r = k == 0 ? ref : row;
                        gy[k].assign(static_cast<size_t>(nrows * ld), -7.0f);
                        grh[k].assign(static_cast<size_t>(nrows * ld), -7.0f);
                        ghr[k] = hr;
                        kernels::GruGateArgs a;
                        a.rows = nrows, a.H = H, a.xw = xw.data(), a.ldxw = ldx, a.hr = ghr[k].data(),
                        a.ldhr = lds;
                        a.rh = grh[k].data(), a.ldrh = ld, a.h = gh[k].data(), a.ldh = ld;
                        a.y = variant ? gy[k].data() : nullptr, a.ldy = ld;
                        r.gru_lbr(a);
                        r.gru_reset(a);
                        r.gru_update(a);
                    }
                    expect_near_vec(gh[0], gh[1], kGateTol, "gru h");
                    expect_near_vec(gy[0], gy[1], kGateTol, "gru y");
                    expect_near_vec(ghr[0], ghr[1], kGateTol, "gru z");
                    expect_near_vec(grh[0], grh[1], kGateTol, "gru r*h");
                }
            }
        }
    }
}

// ---- the planned step vs the reference executor ----------------------------------------------------------

struct Case {
    std::string cell = "LSTM";  // LSTM or GRU
    bool lbr = false;
    std::string direction = "forward";
    int64_t batch = 1, hidden = 1, seq = 1, input = 3;
    bool layout1 = false;
    bool bias = true, lens = false, init = false, peep = false;
    bool lens_const = false;  // sequence_lens as an initializer (else a graph input)
    bool y_unused = false;    // Y not read by anyone (only Y_h / Y_c are outputs)
    std::map<std::string, Attribute> extra;

    std::string name() const {
        std::string s = cell + (lbr ? "(lbr)" : "") + " " + direction + " N=" + std::to_string(batch) +
                        " H=" + std::to_string(hidden) + " S=" + std::to_string(seq) +
                        " layout=" + (layout1 ? "1" : "0");
        if (bias) s += " B";
        if (lens) s += lens_const ? " lens(const)" : " lens";
        if (init) s += " init";
        if (peep) s += " P";
        if (y_unused) s += " Y-unused";
        return s;
    }
};

struct Built {
    graph::Model m;
    std::map<std::string, Tensor> inputs;
};

Built build(const Case& c, unsigned seed) {
    Built b;
    std::mt19937 rng(seed);
    graph::Model& m = b.m;
    m.opsets[""] = c.layout1 ? 14 : 13;
    m.graph.name = "rnn";
    const bool lstm = c.cell == "LSTM";
    const int64_t G = lstm ? 4 : 3, dirs = c.direction == "bidirectional" ? 2 : 1, H = c.hidden;
    const Shape xs = c.layout1 ? Shape{c.batch, c.seq, c.input} : Shape{c.seq, c.batch, c.input};
    const Shape ss = c.layout1 ? Shape{c.batch, dirs, H} : Shape{dirs, c.batch, H};
    auto add_input = [&](const std::string& name, const Tensor& t) {
        graph::ValueInfo vi;
        vi.name = name;
        vi.dtype = t.dtype();
        vi.has_shape = true;
        for (int64_t d : t.shape()) vi.shape.push_back({d, ""});
        m.graph.inputs.push_back(vi);
        b.inputs[name] = t;
    };
    add_input("x", random_tensor(rng, xs, 1.0f));
    const float ws = 1.0f / std::sqrt(static_cast<float>(std::max<int64_t>(H, 2)));
    m.graph.initializers["w"] = random_tensor(rng, {dirs, G * H, c.input}, 0.8f);
    m.graph.initializers["r"] = random_tensor(rng, {dirs, G * H, H}, 1.5f * ws);
    std::vector<std::string> in = {"x", "w", "r", "", "", "", "", ""};
    if (c.bias) {
        m.graph.initializers["b"] = random_tensor(rng, {dirs, 2 * G * H}, 0.5f);
        in[3] = "b";
    }
    if (c.lens) {
        std::vector<int32_t> l(static_cast<size_t>(c.batch));
        std::uniform_int_distribution<int32_t> d(0, static_cast<int32_t>(c.seq));
        for (auto& v : l) v = d(rng);
        l[0] = static_cast<int32_t>(c.seq);  // the longest
        if (c.batch > 2)
            l[2] = 0, l[1] = static_cast<int32_t>(c.seq > 1 ? c.seq - 1 : 1);  // empty, one short
        const Tensor t = Tensor::from_vector<int32_t>(DType::I32, {c.batch}, l);
        if (c.lens_const)
            m.graph.initializers["lens"] = t;
        else
            add_input("lens", t);
        in[4] = "lens";
    }
    if (c.init) {
        add_input("h0", random_tensor(rng, ss, 1.0f));
        in[5] = "h0";
        if (lstm) {
            add_input("c0", random_tensor(rng, ss, 1.0f));
            in[6] = "c0";
        }
    }
    if (c.peep && lstm) {
        m.graph.initializers["p"] = random_tensor(rng, {dirs, 3 * H}, 0.5f);
        in[7] = "p";
    }
    while (!in.empty() && in.back().empty()) in.pop_back();
    if (!lstm && in.size() > 6) in.resize(6);
    graph::Node n;
    n.name = "rnn";
    n.op_type = c.cell;
    n.inputs = in;
    n.outputs = {c.y_unused ? "" : "y", "yh"};
    if (lstm) n.outputs.push_back("yc");
    n.attrs = c.extra;
    n.attrs["hidden_size"] = int1(H);
    n.attrs["direction"] = str(c.direction);
    if (c.layout1) n.attrs["layout"] = int1(1);
    if (!lstm && c.lbr) n.attrs["linear_before_reset"] = int1(1);
    m.graph.nodes.push_back(n);
    for (const auto& o : n.outputs) {
        if (o.empty()) continue;
        graph::ValueInfo vi;
        vi.name = o;
        m.graph.outputs.push_back(vi);
    }
    return b;
}

// Plans c at `threads`, runs three times (buffers are reused), compares every output with the reference.
// Returns the plan's trace.
std::string check(const Case& c, int threads, unsigned seed = 1) {
    SCOPED_TRACE(c.name() + " threads=" + std::to_string(threads));
    const Built b = build(c, seed);
    auto ref = run_reference(b.m, b.inputs);
    EXPECT_TRUE(ref.ok()) << ref.status().message();
    if (!ref.ok()) return "";
    Shapes shapes;
    for (const auto& [k, v] : b.inputs) shapes[k] = v.shape();
    auto p = plan(b.m, shapes, {threads, false});
    EXPECT_TRUE(p.ok()) << p.status().message();
    if (!p.ok()) return "";
    for (int rep = 0; rep < 3; ++rep) {
        auto got = p->run(b.inputs);
        EXPECT_TRUE(got.ok()) << got.status().message();
        if (!got.ok()) return p->trace();
        for (const auto& [name, want] : *ref) {
            EXPECT_TRUE(got->count(name)) << name;
            if (!got->count(name)) continue;
            const Tensor& g = got->at(name);
            EXPECT_EQ(g.shape(), want.shape()) << name;
            if (g.shape() != want.shape()) continue;
            const auto a = want.to_f32(), v = g.to_f32();
            for (size_t i = 0; i < a.size(); ++i) {
                const float lim = kRnnTol * std::max(1.0f, std::fabs(a[i]));
                if (std::fabs(a[i] - v[i]) > lim) {
                    ADD_FAILURE() << "output " << name << " index " << i << " run " << rep << ": reference "
                                  << a[i] << ", got " << v[i] << "\n"
                                  << p->trace();
                    return p->trace();
                }
            }
        }
    }
    return p->trace();
}

TEST(FastRnn, MatchesReferenceOverOptionsAndShapes) {
    struct Dims {
        int64_t batch, hidden, seq;
    };
    const Dims dims[] = {{1, 1, 1}, {3, 5, 9}, {7, 17, 9}, {1, 64, 9}, {7, 64, 1}, {3, 17, 1}};
    int n = 0;
    for (const char* cell : {"LSTM", "GRU", "GRU(lbr)"}) {
        for (const char* dir : {"forward", "reverse", "bidirectional"}) {
            for (int layout = 0; layout < 2; ++layout) {
                for (int opts = 0; opts < 4; ++opts) {
                    for (const Dims& d : dims) {
                        Case c;
                        c.cell = std::string(cell).substr(0, std::string(cell).find('('));
                        c.lbr = std::string(cell) == "GRU(lbr)";
                        c.direction = dir;
                        c.layout1 = layout == 1;
                        c.batch = d.batch, c.hidden = d.hidden, c.seq = d.seq;
                        c.input = 1 + (n % 7);
                        // opts 0: nothing optional; 1: B + initial states + P; 2: B + lens (+ P);
                        // 3: everything, lens as a constant, Y unused
                        c.bias = opts != 0;
                        c.init = opts == 1 || opts == 3;
                        c.peep = opts != 0;
                        c.lens = opts >= 2;
                        c.lens_const = opts == 3;
                        c.y_unused = opts == 3;
                        const std::string trace = check(c, 1 + (n % 2), static_cast<unsigned>(n));
                        const std::string kernel = c.cell == "LSTM" ? "lstm_f32(" : "gru_f32(";
                        EXPECT_NE(trace.find(kernel), std::string::npos) << c.name() << "\n" << trace;
                        if (::testing::Test::HasFailure()) return;
                        ++n;
                    }
                }
            }
        }
    }
}

TEST(FastRnn, ThreadsSplitBatchAndDirections) {
    // big enough for the recurrence and XW to split (≥ 0.4 MFLOP), batch not a multiple of the thread count
    for (const char* dir : {"forward", "bidirectional"}) {
        for (const char* cell : {"LSTM", "GRU"}) {
            Case c;
            c.cell = cell;
            c.direction = dir;
            c.batch = 13, c.hidden = 33, c.seq = 9, c.input = 28;
            c.lens = true;
            c.init = true;
            for (int threads : {1, 2, 3}) check(c, threads);
        }
    }
}

// Dynamic quantization stores W and R as int8 behind DequantizeLinear (one scale per gate row): the planner
// dequantizes them once and still runs the fast step, with the reference's results.
TEST(FastRnn, WeightsBehindDequantizeLinearRunOnTheStep) {
    for (const char* cell : {"LSTM", "GRU"}) {
        Case c;
        c.cell = cell;
        c.direction = "bidirectional";
        c.batch = 3, c.hidden = 9, c.seq = 5;
        Built b = build(c, 4);
        auto& g = b.m.graph;
        for (const std::string w : {"w", "r"}) {
            const Tensor f = g.initializers.at(w);
            const int64_t rows = f.dim(1), cols = f.dim(2), dirs = f.dim(0);
            std::vector<float> scale(static_cast<size_t>(rows), 0.0f);
            const float* v = f.data<float>();
            for (int64_t i = 0; i < f.numel(); ++i) {
                float& s = scale[static_cast<size_t>((i / cols) % rows)];
                s = std::max(s, std::fabs(v[i]) / 127.0f);
            }
            Tensor q(DType::I8, f.shape());
            for (int64_t i = 0; i < f.numel(); ++i)
                q.data<int8_t>()[i] = static_cast<int8_t>(std::lrint(v[i] / scale[static_cast<size_t>((i / cols) % rows)]));
            (void)dirs;
            g.initializers.erase(w);
            g.initializers[w + "_q"] = q;
            g.initializers[w + "_s"] = Tensor::from_vector<float>(DType::F32, {rows}, scale);
            graph::Node d;
            d.name = w + "_dq";
            d.op_type = "DequantizeLinear";
            d.inputs = {w + "_q", w + "_s"};
            d.outputs = {w};
            d.attrs["axis"] = int1(1);
            g.nodes.insert(g.nodes.begin(), d);
        }
        SCOPED_TRACE(cell);
        auto ref = run_reference(b.m, b.inputs);
        ASSERT_TRUE(ref.ok()) << ref.status().message();
        Shapes shapes;
        for (const auto& [k, t] : b.inputs) shapes[k] = t.shape();
        auto p = plan(b.m, shapes, {1, false});
        ASSERT_TRUE(p.ok()) << p.status().message();
        EXPECT_NE(p->trace().find(c.cell == "LSTM" ? "lstm_f32" : "gru_f32"), std::string::npos) << p->trace();
        EXPECT_EQ(p->trace().find("DequantizeLinear"), std::string::npos) << p->trace();  // folded at plan time
        auto got = p->run(b.inputs);
        ASSERT_TRUE(got.ok()) << got.status().message();
        for (const auto& [name, want] : *ref) {
            const auto a = want.to_f32(), v = got->at(name).to_f32();
            ASSERT_EQ(a.size(), v.size()) << name;
            for (size_t i = 0; i < a.size(); ++i)
                ASSERT_NEAR(a[i], v[i], kRnnTol * std::max(1.0f, std::fabs(a[i]))) << name << " " << i;
        }
    }
}

TEST(FastRnn, UnsupportedAttributesFallBackToReferenceOp) {
    struct Fb {
        std::string cell;
        std::map<std::string, Attribute> extra;
        std::string why;
    };
    const Fb cases[] = {
        {"LSTM", {{"clip", flt(0.5f)}}, "clip"},
        {"LSTM", {{"input_forget", int1(1)}}, "input_forget"},
        {"LSTM", {{"activations", strs({"Sigmoid", "Relu", "Tanh"})}}, "activation Relu"},
        {"GRU", {{"activations", strs({"HardSigmoid", "Tanh"})}}, "activation HardSigmoid"},
    };
    for (const auto& f : cases) {
        Case c;
        c.cell = f.cell;
        c.batch = 3, c.hidden = 5, c.seq = 4;
        c.extra = f.extra;
        const std::string trace = check(c, 1);
        EXPECT_NE(trace.find("ref (no fast " + f.cell + ": " + f.why + ")"), std::string::npos) << trace;
    }
    // the default activations spelled out (any case, for both directions) still take the fast path
    Case c;
    c.direction = "bidirectional";
    c.batch = 2, c.hidden = 3, c.seq = 2;
    c.extra = {{"activations", strs({"sigmoid", "TANH", "Tanh", "Sigmoid", "tanh", "Tanh"})}};
    EXPECT_NE(check(c, 1).find("lstm_f32("), std::string::npos);
}

TEST(FastRnn, AbsorbsTransposeInFrontOfX) {
    for (int layout = 0; layout < 2; ++layout) {
        for (const char* cell : {"LSTM", "GRU"}) {
            Case c;
            c.cell = cell;
            c.layout1 = layout == 1;
            c.batch = 5, c.hidden = 17, c.seq = 6, c.input = 4;
            c.lens = true;
            Built b = build(c, 9);
            // x is fed transposed: x_t [dim1, dim0, I] -> Transpose [1, 0, 2] -> the node's X
            Tensor x = b.inputs["x"];
            Tensor xt(DType::F32, {x.dim(1), x.dim(0), x.dim(2)});
            for (int64_t i = 0; i < x.dim(0); ++i)
                for (int64_t j = 0; j < x.dim(1); ++j)
                    for (int64_t k = 0; k < x.dim(2); ++k)
                        xt.data<float>()[(j * x.dim(0) + i) * x.dim(2) + k] =
                            x.data<float>()[(i * x.dim(1) + j) * x.dim(2) + k];
            b.inputs.erase("x");
            b.inputs["xt"] = xt;
            b.m.graph.inputs[0].name = "xt";
            b.m.graph.inputs[0].shape = {{xt.dim(0), ""}, {xt.dim(1), ""}, {xt.dim(2), ""}};
            graph::Node t;
            t.name = "tr";
            t.op_type = "Transpose";
            t.inputs = {"xt"};
            t.outputs = {"x"};
            t.attrs["perm"] = ints({1, 0, 2});
            b.m.graph.nodes.insert(b.m.graph.nodes.begin(), t);
            auto ref = run_reference(b.m, b.inputs);
            ASSERT_TRUE(ref.ok()) << ref.status().message();
            Shapes shapes;
            for (const auto& [k, v] : b.inputs) shapes[k] = v.shape();
            for (int threads : {1, 2}) {
                auto p = plan(b.m, shapes, {threads, false});
                ASSERT_TRUE(p.ok()) << p.status().message();
                EXPECT_NE(p->trace().find("[Transpose(X)]"), std::string::npos) << p->trace();
                EXPECT_EQ(p->steps().size(), 1u) << p->trace();
                auto got = p->run(b.inputs);
                ASSERT_TRUE(got.ok()) << got.status().message();
                for (const auto& [name, want] : *ref) {
                    const auto a = want.to_f32(), v = got->at(name).to_f32();
                    ASSERT_EQ(a.size(), v.size());
                    for (size_t i = 0; i < a.size(); ++i)
                        ASSERT_NEAR(a[i], v[i], kRnnTol * std::max(1.0f, std::fabs(a[i])))
                            << name << " " << i;
                }
            }
            // the transposed value also read elsewhere: the Transpose stays a step of its own
            b.m.graph.outputs.push_back(graph::ValueInfo{});
            b.m.graph.outputs.back().name = "x";
            auto p = plan(b.m, shapes, {1, false});
            ASSERT_TRUE(p.ok()) << p.status().message();
            EXPECT_EQ(p->trace().find("Transpose(X)"), std::string::npos) << p->trace();
            auto got = p->run(b.inputs);
            ASSERT_TRUE(got.ok()) << got.status().message();
            const auto a = ref->at("yh").to_f32(), v = got->at("yh").to_f32();
            for (size_t i = 0; i < a.size(); ++i)
                ASSERT_NEAR(a[i], v[i], kRnnTol * std::max(1.0f, std::fabs(a[i])));
        }
    }
}

TEST(FastRnn, RejectsSequenceLengthsOutsideTheSequence) {
    Case c;
    c.batch = 2, c.hidden = 4, c.seq = 3;
    c.lens = true;
    Built b = build(c, 5);
    Shapes shapes;
    for (const auto& [k, v] : b.inputs) shapes[k] = v.shape();
    auto p = plan(b.m, shapes);
    ASSERT_TRUE(p.ok()) << p.status().message();
    for (int32_t bad : {-1, 4}) {
        b.inputs["lens"] = Tensor::from_vector<int32_t>(DType::I32, {2}, {1, bad});
        auto r = p->run(b.inputs);
        ASSERT_FALSE(r.ok());
        EXPECT_NE(r.status().message().find("sequence length " + std::to_string(bad)), std::string::npos)
            << r.status().message();
    }
    b.inputs["lens"] = Tensor::from_vector<int32_t>(DType::I32, {2}, {1, 3});
    EXPECT_TRUE(p->run(b.inputs).ok());
}

// ---- the Fashion-MNIST lstm model
// --------------------------------------------------------------------------

TEST(FastRnnModels, FashionMnistLstm) {
    EDGEQ_REQUIRE_SHARED(path, "assets/fashion-mnist-models/lstm.onnx");
    auto m = onnxio::load_model(path.string());
    ASSERT_TRUE(m.ok()) << m.status().message();
    const std::string input = m->graph.inputs[0].name;
    std::mt19937 rng(11);
    for (int64_t batch : {1, 7, 64}) {
        const Tensor x = random_tensor(rng, {batch, 1, 28, 28}, 2.0f);
        auto ref = run_reference(*m, {{input, x}});
        ASSERT_TRUE(ref.ok()) << ref.status().message();
        for (int threads : {1, 2}) {
            auto p = plan(*m, {{input, x.shape()}}, {threads, false});
            ASSERT_TRUE(p.ok()) << p.status().message();
            EXPECT_NE(p->trace().find("lstm_f32("), std::string::npos) << p->trace();
            EXPECT_NE(p->trace().find("[Transpose(X)]"), std::string::npos) << p->trace();
            auto got = p->run({{input, x}});
            ASSERT_TRUE(got.ok()) << got.status().message();
            for (const auto& [name, want] : *ref) {
                const auto a = want.to_f32(), v = got->at(name).to_f32();
                ASSERT_EQ(a.size(), v.size());
                for (size_t i = 0; i < a.size(); ++i)
                    ASSERT_NEAR(a[i], v[i], 1e-4f * std::max(1.0f, std::fabs(a[i])))
                        << "batch " << batch << " threads " << threads << " " << name << " " << i;
            }
        }
    }
}

}  // namespace
}  // namespace edgeq::runtime::fast
