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
#include "kernels/qgemm.h"
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
// The INT8 step (int8 W and R behind DequantizeLinear) quantizes X, h (and GRU's r⊙h) per row to u8 at run
// time, as ONNX Runtime's DynamicQuantizeLSTM does, while the reference op multiplies the dequantized weights
// with the float activations: the difference is that activation rounding (≤ half a step of 1/255 of each
// row's range per element), carried through the sums and the recurrence. |fast − ref| ≤ kQ8Tol·max(1, |ref|).
constexpr float kQ8Tol = 0.05f;

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
Attribute rnn_str(std::string s) {
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
Attribute rnn_ints(std::vector<int64_t> v) {
    Attribute a;
    a.kind = Attribute::Kind::Ints;
    a.ints = std::move(v);
    return a;
}

Tensor rnn_random_tensor(std::mt19937& rng, const Shape& shape, float scale) {
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
    const Isa best = active_isa() >= Isa::Avx512Vnni ? Isa::Avx512Vnni
                     : active_isa() >= Isa::Avx512   ? Isa::Avx512
                                                     : active_isa();
    EXPECT_EQ(&kernels::select_rnn(), kernels::find_rnn(best));
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
                    auto xw = random_vec(rng, static_cast<size_t>(nrows * ldx), 4.0f);
                    // saturated gates: far outside the activations' clamp range (σ → 0 / 1, tanh → ±1)
                    const float extreme[] = {200.0f, -200.0f, 1e30f, -1e30f, 88.5f, -44.0f};
                    for (size_t e = 0; e < std::size(extreme); ++e) xw[e * 3 % xw.size()] = extreme[e];
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
    add_input("x", rnn_random_tensor(rng, xs, 1.0f));
    const float ws = 1.0f / std::sqrt(static_cast<float>(std::max<int64_t>(H, 2)));
    m.graph.initializers["w"] = rnn_random_tensor(rng, {dirs, G * H, c.input}, 0.8f);
    m.graph.initializers["r"] = rnn_random_tensor(rng, {dirs, G * H, H}, 1.5f * ws);
    std::vector<std::string> in = {"x", "w", "r", "", "", "", "", ""};
    if (c.bias) {
        m.graph.initializers["b"] = rnn_random_tensor(rng, {dirs, 2 * G * H}, 0.5f);
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
        add_input("h0", rnn_random_tensor(rng, ss, 1.0f));
        in[5] = "h0";
        if (lstm) {
            add_input("c0", rnn_random_tensor(rng, ss, 1.0f));
            in[6] = "c0";
        }
    }
    if (c.peep && lstm) {
        m.graph.initializers["p"] = rnn_random_tensor(rng, {dirs, 3 * H}, 0.5f);
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
    n.attrs["direction"] = rnn_str(c.direction);
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
std::string check_built(const Case& c, const Built& b, int threads, float tol, float* max_err = nullptr);
std::string check(const Case& c, int threads, unsigned seed = 1) {
    return check_built(c, build(c, seed), threads, kRnnTol);
}
std::string check_built(const Case& c, const Built& b, int threads, float tol, float* max_err) {
    SCOPED_TRACE(c.name() + " threads=" + std::to_string(threads));
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
                const float lim = tol * std::max(1.0f, std::fabs(a[i]));
                if (max_err)
                    *max_err = std::max(*max_err, std::fabs(a[i] - v[i]) / std::max(1.0f, std::fabs(a[i])));
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

// Dynamic and static quantization store W and R as int8 behind DequantizeLinear (one scale per gate row, or
// per tensor; with zero points when asymmetric). Rewrites b's W and R that way (the float values become the
// dequantized codes, so the reference runs the same weights).
void int8_weights(Built& b, bool per_row, bool zero_points) {
    auto& g = b.m.graph;
    for (const std::string w : {"w", "r"}) {
        const Tensor f = g.initializers.at(w);
        const int64_t rows = f.dim(1), cols = f.dim(2);
        const int64_t ns = per_row ? rows : 1;
        std::vector<float> lo(static_cast<size_t>(ns), 0.0f), hi(static_cast<size_t>(ns), 0.0f);
        const float* v = f.data<float>();
        auto idx = [&](int64_t i) { return static_cast<size_t>(per_row ? (i / cols) % rows : 0); };
        for (int64_t i = 0; i < f.numel(); ++i) {
            lo[idx(i)] = std::min(lo[idx(i)], v[i]);
            hi[idx(i)] = std::max(hi[idx(i)], v[i]);
        }
        std::vector<float> scale(static_cast<size_t>(ns));
        std::vector<int8_t> zero(static_cast<size_t>(ns), 0);
        for (size_t j = 0; j < scale.size(); ++j) {
            if (zero_points) {
                scale[j] = std::max((hi[j] - lo[j]) / 255.0f, 1e-8f);
                zero[j] =
                    static_cast<int8_t>(std::clamp(std::lrint(-128.0f - lo[j] / scale[j]), -128L, 127L));
            } else {
                scale[j] = std::max(std::max(hi[j], -lo[j]) / 127.0f, 1e-8f);
            }
        }
        Tensor q(DType::I8, f.shape());
        for (int64_t i = 0; i < f.numel(); ++i)
            q.data<int8_t>()[i] =
                static_cast<int8_t>(std::clamp(std::lrint(v[i] / scale[idx(i)]) + zero[idx(i)], -128L, 127L));
        g.initializers.erase(w);
        g.initializers[w + "_q"] = q;
        const Shape ss = per_row ? Shape{rows} : Shape{};
        g.initializers[w + "_s"] = Tensor::from_vector<float>(DType::F32, ss, scale);
        graph::Node d;
        d.name = w + "_dq";
        d.op_type = "DequantizeLinear";
        d.inputs = {w + "_q", w + "_s"};
        if (zero_points) {
            g.initializers[w + "_z"] = Tensor::from_vector<int8_t>(DType::I8, ss, zero);
            d.inputs.push_back(w + "_z");
        }
        d.outputs = {w};
        if (per_row) d.attrs["axis"] = int1(1);
        g.nodes.insert(g.nodes.begin(), d);
    }
}

// ... and the planner then runs the INT8 step (u8 activations per row × int8 weights, int32 sums, float
// gates): within kQ8Tol of the reference over cells, directions, weight formats, awkward hidden sizes (not
// multiples of 16), batch 1 / 3 / 64, sequence 1 / 7, threads 1 / 2.
TEST(FastRnnQ8, Int8WeightsRunTheInt8StepWithinTolerance) {
    struct Dims {
        int64_t batch, hidden, seq, input;
    };
    const Dims dims[] = {{1, 5, 7, 3}, {3, 17, 7, 28}, {64, 33, 1, 5}, {3, 1, 7, 1}, {1, 64, 7, 28}};
    float worst = 0.0f;
    int n = 0;
    for (const char* cell : {"LSTM", "GRU", "GRU(lbr)"}) {
        for (const char* dir : {"forward", "bidirectional"}) {
            for (const Dims& d : dims) {
                Case c;
                c.cell = std::string(cell).substr(0, std::string(cell).find('('));
                c.lbr = std::string(cell) == "GRU(lbr)";
                c.direction = dir;
                c.batch = d.batch, c.hidden = d.hidden, c.seq = d.seq, c.input = d.input;
                c.init = n % 2 == 0;
                c.peep = n % 3 == 0;
                c.lens = n % 4 == 1;
                Built b = build(c, static_cast<unsigned>(100 + n));
                const bool zero_points = n % 3 == 1;  // qgemm + dequant_rows_s32 (else the fused q8_product)
                int8_weights(b, /*per_row=*/n % 5 != 4, zero_points);
                SCOPED_TRACE(std::string(zero_points ? "zero points" : "symmetric") +
                             (n % 5 == 4 ? " per tensor" : ""));
                const std::string trace = check_built(c, b, 1 + (n % 2), kQ8Tol, &worst);
                EXPECT_NE(trace.find(c.cell == "LSTM" ? "lstm_q8(" : "gru_q8("), std::string::npos) << trace;
                EXPECT_EQ(trace.find("DequantizeLinear"), std::string::npos) << trace;  // folded at plan time
                if (::testing::Test::HasFailure()) return;
                ++n;
            }
        }
    }
    std::printf("INT8 step vs reference: worst |fast − ref| / max(1, |ref|) = %.4f (kQ8Tol %.2f)\n", worst,
                kQ8Tol);
}

// The INT8 recurrence on the pool (batch chunks; for one direction each chunk's task also quantizes and multiplies
// its own rows of X): 2 and 3 threads give the same bytes as 1 (rows are quantized one by one, so a row's result
// never depends on the others), and all are within kQ8Tol of the reference. Large enough to pass the INT8
// parallel threshold; both X layouts, sequence lengths, both directions, LSTM and GRU.
TEST(FastRnnQ8, ParallelRecurrenceEqualsOneThread) {
    int n = 0;
    for (const char* cell : {"LSTM", "GRU"}) {
        for (const char* dir : {"forward", "bidirectional"}) {
            for (const bool layout1 : {false, true}) {
                Case c;
                c.cell = cell;
                c.direction = dir;
                c.batch = 13, c.hidden = 64, c.seq = 9, c.input = 28;
                c.layout1 = layout1;
                c.lens = n % 2 == 1;
                c.init = n % 3 == 0;
                Built b = build(c, static_cast<unsigned>(300 + n));
                int8_weights(b, /*per_row=*/true, /*zero_points=*/false);
                Shapes shapes;
                for (const auto& [k, v] : b.inputs) shapes[k] = v.shape();
                std::map<std::string, std::vector<float>> first;
                for (int threads : {1, 2, 3}) {
                    SCOPED_TRACE(c.name() + " threads=" + std::to_string(threads));
                    check_built(c, b, threads, kQ8Tol);
                    auto p = plan(b.m, shapes, {threads, false});
                    ASSERT_TRUE(p.ok()) << p.status().message();
                    auto got = p->run(b.inputs);
                    ASSERT_TRUE(got.ok()) << got.status().message();
                    for (const auto& [name, t] : *got) {
                        if (threads == 1)
                            first[name] = t.to_f32();
                        else
                            EXPECT_EQ(first[name], t.to_f32()) << name;
                    }
                }
                if (::testing::Test::HasFailure()) return;
                ++n;
            }
        }
    }
}

// W and R behind a DequantizeLinear that the INT8 step cannot take (here: per-input-column scales, axis 2)
// still run the float step on the dequantized weights, with the reference's results.
TEST(FastRnnQ8, OtherDequantizeLinearWeightsRunTheFloatStep) {
    Case c;
    c.direction = "bidirectional";
    c.batch = 3, c.hidden = 9, c.seq = 5, c.input = 4;
    Built b = build(c, 4);
    auto& g = b.m.graph;
    const Tensor f = g.initializers.at("w");
    Tensor q(DType::I8, f.shape());
    std::vector<float> scale(static_cast<size_t>(f.dim(2)), 0.01f);
    for (int64_t i = 0; i < f.numel(); ++i)
        q.data<int8_t>()[i] =
            static_cast<int8_t>(std::clamp(std::lrint(f.data<float>()[i] / 0.01f), -128L, 127L));
    g.initializers.erase("w");
    g.initializers["w_q"] = q;
    g.initializers["w_s"] = Tensor::from_vector<float>(DType::F32, {f.dim(2)}, scale);
    graph::Node d;
    d.name = "w_dq";
    d.op_type = "DequantizeLinear";
    d.inputs = {"w_q", "w_s"};
    d.outputs = {"w"};
    d.attrs["axis"] = int1(2);
    g.nodes.insert(g.nodes.begin(), d);
    const std::string trace = check_built(c, b, 1, kRnnTol);
    EXPECT_NE(trace.find("lstm_f32("), std::string::npos) << trace;
}

// ---- INT8 row kernels: every row vs the scalar reference, bit for bit
// ----------------------------------------

TEST(RnnQ8Kernels, QuantizeRowsMatchesReference) {
    const auto rows = kernels::rnn_kernel_rows();
    const kernels::RnnKernelRow& ref = rows[0];
    for (const auto& row : rows) {
        if (row.isa == Isa::Ref || !isa_enabled(row.isa)) continue;
        for (int64_t K : {1, 3, 7, 8, 15, 16, 17, 28, 64, 67}) {
            for (int64_t M : {1, 3, 5, 16, 17, 37}) {  // (the AVX-512 row reduces 16 rows together)
                SCOPED_TRACE(std::string(row.q8_name) + " K=" + std::to_string(K) +
                             " M=" + std::to_string(M));
                std::mt19937 rng(static_cast<unsigned>(K * 13 + M));
                const int64_t ldx = K + 2, ldq = K + 3;
                auto x = random_vec(rng, static_cast<size_t>(M * ldx), 3.0f);
                for (int64_t k = 0; k < K; ++k) x[static_cast<size_t>(k)] = 0.0f;  // an all-zero row
                if (M > 1)  // a positive-only row, with exact halves of its step (rounding ties)
                    for (int64_t k = 0; k < K; ++k)
                        x[static_cast<size_t>(ldx + k)] = 0.5f * static_cast<float>(k % 4);
                std::vector<uint8_t> q[2];
                std::vector<float> sc[2];
                std::vector<int32_t> z[2];
                for (int i = 0; i < 2; ++i) {
                    q[i].assign(static_cast<size_t>(M * ldq), 0xAB);
                    sc[i].assign(static_cast<size_t>(M), -1.0f);
                    z[i].assign(static_cast<size_t>(M), -1);
                    kernels::QuantRowsArgs a;
                    a.rows = M, a.K = K, a.x = x.data(), a.ldx = ldx, a.q = q[i].data(), a.ldq = ldq;
                    a.scale = sc[i].data(), a.zero = z[i].data();
                    (i == 0 ? ref : row).quantize_rows_u8(a);
                }
                EXPECT_EQ(q[0], q[1]);  // bytes past each row's K untouched in both
                EXPECT_EQ(sc[0], sc[1]);
                EXPECT_EQ(z[0], z[1]);
                EXPECT_EQ(sc[0][0], 1.0f);  // the all-zero row
                EXPECT_EQ(z[0][0], 0);
                // the codes dequantize to within half a step of x
                for (int64_t m = 0; m < M; ++m)
                    for (int64_t k = 0; k < K; ++k) {
                        const float back = sc[0][static_cast<size_t>(m)] *
                                           static_cast<float>(q[0][static_cast<size_t>(m * ldq + k)] -
                                                              z[0][static_cast<size_t>(m)]);
                        EXPECT_LE(std::fabs(back - x[static_cast<size_t>(m * ldx + k)]),
                                  0.5f * sc[0][static_cast<size_t>(m)] * 1.0001f);
                    }
            }
        }
    }
}

TEST(RnnQ8Kernels, ProductAndDequantMatchReferenceAndQgemm) {
    const auto rows = kernels::rnn_kernel_rows();
    const kernels::RnnKernelRow& ref = rows[0];
    ASSERT_NE(ref.q8_product, nullptr);
    // (K 255 / 256 with extreme columns: colsum −128·K and 127·K)
    for (int64_t K : {1, 3, 5, 28, 64, 67, 255, 256}) {
        for (int64_t N : {1, 16, 17, 64, 100, 256}) {
            for (int64_t M : {1, 3, 5, 64}) {
                if (K >= 255 && (M == 3 || N == 100)) continue;  // (time)
                SCOPED_TRACE("K=" + std::to_string(K) + " N=" + std::to_string(N) +
                             " M=" + std::to_string(M));
                std::mt19937 rng(static_cast<unsigned>(K * 1000 + N * 10 + M));
                std::uniform_int_distribution<int> u8(0, 255), s8(-128, 127);
                std::vector<uint8_t> q(static_cast<size_t>(M * K));
                for (auto& v : q) v = static_cast<uint8_t>(u8(rng));
                std::vector<int8_t> w(static_cast<size_t>(N * K));  // [N][K], B = wᵀ
                for (auto& v : w) v = static_cast<int8_t>(s8(rng));
                for (int64_t n = 0; n < std::min<int64_t>(N, 2); ++n)  // colsum −128·K and 127·K
                    for (int64_t k = 0; k < K; ++k) w[static_cast<size_t>(n * K + k)] = n == 0 ? -128 : 127;
                std::vector<int32_t> zero(static_cast<size_t>(M)), colsum(static_cast<size_t>(N), 0);
                for (auto& v : zero) v = u8(rng);
                for (int64_t n = 0; n < N; ++n)
                    for (int64_t k = 0; k < K; ++k)
                        colsum[static_cast<size_t>(n)] += w[static_cast<size_t>(n * K + k)];
                const auto scale = random_vec(rng, static_cast<size_t>(M), 0.05f);
                const auto bscale = random_vec(rng, static_cast<size_t>(N), 0.02f);
                const auto bias = random_vec(rng, static_cast<size_t>(N), 1.0f);
                Tensor packed(DType::U8, {kernels::qpack_b_bytes(K, N)});
                kernels::qpack_b(w.data(), false, 1, K, K, N, packed.data<uint8_t>());
                const int64_t ldy = N + 5;
                // reference: qgemm_u8s8 (S32) + dequant_rows_s32, the product's definition
                std::vector<float> want(static_cast<size_t>(M * ldy), -3.0f);
                {
                    kernels::QGemmArgs g;
                    g.M = M, g.N = N, g.K = K, g.a = q.data(), g.lda = K, g.b = packed.data<uint8_t>();
                    g.out = kernels::QOut::S32, g.c = want.data(), g.ldc = ldy;
                    g.m_end = M, g.n_end = N;
                    kernels::ref::qgemm_u8s8(g);
                    kernels::DequantRowsArgs d;
                    d.rows = M, d.N = N, d.acc = reinterpret_cast<const int32_t*>(want.data()), d.ldacc = ldy;
                    d.zero = zero.data(), d.scale = scale.data(), d.colsum = colsum.data(),
                    d.b_scale = bscale.data();
                    d.bias = bias.data(), d.y = want.data(), d.ldy = ldy;
                    ref.dequant_rows_s32(d);
                }
                for (const auto& row : rows) {
                    if (!isa_enabled(row.isa)) continue;
                    SCOPED_TRACE(row.q8_name);
                    std::vector<int32_t> acc(static_cast<size_t>(M * ldy));
                    {
                        kernels::QGemmArgs g;
                        g.M = M, g.N = N, g.K = K, g.a = q.data(), g.lda = K, g.b = packed.data<uint8_t>();
                        g.out = kernels::QOut::S32, g.c = acc.data(), g.ldc = ldy;
                        g.m_end = M, g.n_end = N;
                        kernels::ref::qgemm_u8s8(g);
                    }
                    std::vector<float> got(static_cast<size_t>(M * ldy), -3.0f);
                    kernels::DequantRowsArgs d;
                    d.rows = M, d.N = N, d.acc = acc.data(), d.ldacc = ldy, d.zero = zero.data(),
                    d.scale = scale.data();
                    d.colsum = colsum.data(), d.b_scale = bscale.data(), d.bias = bias.data(),
                    d.y = got.data(), d.ldy = ldy;
                    row.dequant_rows_s32(d);
                    for (int64_t m = 0; m < M; ++m)
                        for (int64_t n = 0; n < N; ++n)
                            ASSERT_EQ(want[static_cast<size_t>(m * ldy + n)],
                                      got[static_cast<size_t>(m * ldy + n)])
                                << "dequant_rows_s32 m=" << m << " n=" << n;
                    if (!row.q8_product) continue;
                    std::vector<float> fused(static_cast<size_t>(M * ldy), -3.0f);
                    kernels::Q8ProductArgs p;
                    p.rows = M, p.N = N, p.K = K, p.q = q.data(), p.ldq = K, p.zero = zero.data(),
                    p.scale = scale.data();
                    p.b = packed.data<uint8_t>(), p.colsum = colsum.data(), p.b_scale = bscale.data();
                    p.bias = bias.data(), p.y = fused.data(), p.ldy = ldy;
                    row.q8_product(p);
                    for (int64_t m = 0; m < M; ++m) {
                        for (int64_t n = 0; n < N; ++n)
                            ASSERT_EQ(want[static_cast<size_t>(m * ldy + n)],
                                      fused[static_cast<size_t>(m * ldy + n)])
                                << "q8_product m=" << m << " n=" << n;
                        for (int64_t n = N; n < ldy; ++n)
                            ASSERT_EQ(fused[static_cast<size_t>(m * ldy + n)], -3.0f) << "wrote past N";
                    }
                }
            }
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
            t.attrs["perm"] = rnn_ints({1, 0, 2});
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
        const Tensor x = rnn_random_tensor(rng, {batch, 1, 28, 28}, 2.0f);
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
