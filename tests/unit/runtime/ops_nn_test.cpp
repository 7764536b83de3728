// Reference 'nn' ops on one-node models with hand-computed expectations.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "common/shared.h"
#include "formats/data/npy.h"
#include "formats/onnx/onnx_import.h"
#include "graph/graph.h"
#include "runtime/ref/executor.h"

namespace edgeq::runtime {
namespace {

using graph::Attribute;

Attribute ints(std::vector<int64_t> v) {
    Attribute a;
    a.kind = Attribute::Kind::Ints;
    a.ints = std::move(v);
    return a;
}
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
Attribute str(std::string v) {
    Attribute a;
    a.kind = Attribute::Kind::String;
    a.s = std::move(v);
    return a;
}
Attribute strs(std::vector<std::string> v) {
    Attribute a;
    a.kind = Attribute::Kind::Strings;
    a.strings = std::move(v);
    return a;
}

Tensor f32t(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(DType::F32, std::move(s), v); }

// Runs one node; inputs named in0, in1, ... ("" entries are omitted inputs); returns outputs out0, out1, ...
Result<std::vector<Tensor>> run_node(const std::string& op, const std::vector<Tensor>& inputs,
                                     std::map<std::string, Attribute> attrs, size_t n_outputs = 1,
                                     int64_t opset = 17) {
    graph::Model m;
    m.opsets[""] = opset;
    graph::Node n;
    n.name = "n";
    n.op_type = op;
    n.attrs = std::move(attrs);
    std::map<std::string, Tensor> feeds;
    for (size_t i = 0; i < inputs.size(); ++i) {
        if (inputs[i].empty_handle()) {
            n.inputs.push_back("");
            continue;
        }
        const std::string name = "in" + std::to_string(i);
        n.inputs.push_back(name);
        graph::ValueInfo vi;
        vi.name = name;
        m.graph.inputs.push_back(vi);
        feeds[name] = inputs[i];
    }
    for (size_t i = 0; i < n_outputs; ++i) {
        const std::string name = "out" + std::to_string(i);
        n.outputs.push_back(name);
        graph::ValueInfo vi;
        vi.name = name;
        m.graph.outputs.push_back(vi);
    }
    m.graph.nodes.push_back(n);
    EDGEQ_ASSIGN_OR_RETURN(auto res, run_reference(m, feeds));
    std::vector<Tensor> outs;
    for (size_t i = 0; i < n_outputs; ++i) outs.push_back(res["out" + std::to_string(i)]);
    return outs;
}

void expect_tensor(const Tensor& t, const Shape& shape, const std::vector<float>& want, float tol = 1e-5f) {
    ASSERT_EQ(shape_str(t.shape()), shape_str(shape));
    const auto got = t.to_f32();
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i)
        ASSERT_NEAR(got[i], want[i], tol) << "at flat index " << i << ": expected " << want[i] << ", got " << got[i];
}

std::vector<float> iota(int64_t n, float start = 0) {
    std::vector<float> v(static_cast<size_t>(n));
    for (size_t i = 0; i < v.size(); ++i) v[i] = start + static_cast<float>(i);
    return v;
}

TEST(NnConv, PaddedStrided2d) {
    // X 1x1x3x3 = 0..8, W 1x1x2x2 = 1, pads 1, stride 2 -> 2x2 windows over the padded 5x5 image
    auto r = run_node("Conv", {f32t({1, 1, 3, 3}, iota(9)), f32t({1, 1, 2, 2}, {1, 1, 1, 1})},
                      {{"pads", ints({1, 1, 1, 1})}, {"strides", ints({2, 2})}});
    ASSERT_TRUE(r.ok()) << r.status().message();
    // windows: rows {-1,0},{1,2} x cols {-1,0},{1,2}
    expect_tensor((*r)[0], {1, 1, 2, 2}, {0, 1 + 2, 3 + 6, 4 + 5 + 7 + 8});
}

TEST(NnConv, GroupsDilationBias) {
    // 2 channels, group 2 (depthwise), 1-D, dilation 2, kernel 2: y[c][o] = w0*x[o] + w1*x[o+2] + b
    auto r = run_node("Conv",
                      {f32t({1, 2, 5}, {1, 2, 3, 4, 5, 10, 20, 30, 40, 50}), f32t({2, 1, 2}, {1, 2, 3, -1}),
                       f32t({2}, {0.5f, -0.5f})},
                      {{"group", int1(2)}, {"dilations", ints({2})}});
    ASSERT_TRUE(r.ok()) << r.status().message();
    expect_tensor((*r)[0], {1, 2, 3}, {1 + 6 + 0.5f, 2 + 8 + 0.5f, 3 + 10 + 0.5f, 30 - 30 - 0.5f, 60 - 40 - 0.5f,
                                       90 - 50 - 0.5f});
}

TEST(NnConv, SameUpperAndGroupsOf2) {
    // X 1x4x2x2, group 2, each output channel sums its group's two input channels with kernel 1
    auto r = run_node("Conv", {f32t({1, 4, 2, 2}, iota(16)), f32t({2, 2, 1, 1}, {1, 1, 1, 1})},
                      {{"group", int1(2)}, {"auto_pad", str("SAME_UPPER")}});
    ASSERT_TRUE(r.ok()) << r.status().message();
    expect_tensor((*r)[0], {1, 2, 2, 2}, {4, 6, 8, 10, 20, 22, 24, 26});
}

TEST(NnConv, BadShapesFail) {
    auto r = run_node("Conv", {f32t({1, 3, 4, 4}, iota(48)), f32t({1, 2, 3, 3}, iota(18))}, {});
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("Conv"), std::string::npos);
}

TEST(NnConvTranspose, Stride2) {
    // 1-D: x = [1, 2], w = [1, 1, 1], stride 2 -> length 5: [1, 1, 1+2, 2, 2]
    auto r = run_node("ConvTranspose", {f32t({1, 1, 2}, {1, 2}), f32t({1, 1, 3}, {1, 1, 1})}, {{"strides", ints({2})}});
    ASSERT_TRUE(r.ok()) << r.status().message();
    expect_tensor((*r)[0], {1, 1, 5}, {1, 1, 3, 2, 2});
}

TEST(NnPool, MaxPoolCeilModeWithIndices) {
    // 1x1x3x3, kernel 2, stride 2, ceil_mode: windows {0,1}x{0,1}, {0,1}x{2}, {2}x{0,1}, {2}x{2}
    auto r = run_node("MaxPool", {f32t({1, 1, 3, 3}, {1, 9, 2, 3, 4, 5, 8, 6, 7})},
                      {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}, {"ceil_mode", int1(1)}}, 2);
    ASSERT_TRUE(r.ok()) << r.status().message();
    expect_tensor((*r)[0], {1, 1, 2, 2}, {9, 5, 8, 7});
    expect_tensor((*r)[1], {1, 1, 2, 2}, {1, 5, 6, 8});
}

TEST(NnPool, AveragePoolPadsCountIncludePad) {
    const Tensor x = f32t({1, 1, 2, 2}, {1, 2, 3, 4});
    std::map<std::string, Attribute> a{{"kernel_shape", ints({2, 2})}, {"pads", ints({1, 1, 0, 0})}};
    auto r = run_node("AveragePool", {x}, a);
    ASSERT_TRUE(r.ok()) << r.status().message();
    expect_tensor((*r)[0], {1, 1, 2, 2}, {1, 1.5f, 2, 2.5f});
    a["count_include_pad"] = int1(1);
    r = run_node("AveragePool", {x}, a);
    ASSERT_TRUE(r.ok()) << r.status().message();
    expect_tensor((*r)[0], {1, 1, 2, 2}, {0.25f, 0.75f, 1, 2.5f});
}

TEST(NnPool, GlobalPools) {
    const Tensor x = f32t({1, 2, 2}, {1, 2, 3, 5});
    auto r = run_node("GlobalAveragePool", {x}, {});
    ASSERT_TRUE(r.ok()) << r.status().message();
    expect_tensor((*r)[0], {1, 2, 1}, {1.5f, 4});
    r = run_node("GlobalMaxPool", {x}, {});
    ASSERT_TRUE(r.ok()) << r.status().message();
    expect_tensor((*r)[0], {1, 2, 1}, {2, 5});
}

TEST(NnGemm, TransposesAlphaBetaBroadcastC) {
    // A^T with A = [[1, 3], [2, 4]] (so A' = [[1, 2], [3, 4]]), B^T with B = I, C row [10, 20]
    auto r = run_node("Gemm", {f32t({2, 2}, {1, 3, 2, 4}), f32t({2, 2}, {1, 0, 0, 1}), f32t({2}, {10, 20})},
                      {{"transA", int1(1)}, {"transB", int1(1)}, {"alpha", flt(2)}, {"beta", flt(0.5f)}});
    ASSERT_TRUE(r.ok()) << r.status().message();
    expect_tensor((*r)[0], {2, 2}, {2 + 5, 4 + 10, 6 + 5, 8 + 10});
}

TEST(NnMatMul, BatchedBroadcastAnd1d) {
    // A [2, 1, 2] @ B [2] -> [2, 1]
    auto r = run_node("MatMul", {f32t({2, 1, 2}, {1, 2, 3, 4}), f32t({2}, {1, 10})}, {});
    ASSERT_TRUE(r.ok()) << r.status().message();
    expect_tensor((*r)[0], {2, 1}, {21, 43});
    // ints: [1, 2] x [2, 2] broadcast over A's batch
    auto ri = run_node("MatMul",
                       {Tensor::from_vector<int32_t>(DType::I32, {2, 1, 2}, {1, 2, 3, 4}),
                        Tensor::from_vector<int32_t>(DType::I32, {2, 2}, {1, 0, 0, -1})},
                       {});
    ASSERT_TRUE(ri.ok()) << ri.status().message();
    expect_tensor((*ri)[0], {2, 1, 2}, {1, -2, 3, -4});
}

TEST(NnLstm, OneStepHandComputed) {
    // hidden 1, input 1, one step from h0 = 0, c0 = 0: gates a = W * x + biases (R irrelevant with h0 = 0)
    // W rows i, o, f, c = [1, 2, 3, 4]; B Wb = [0.5, 0, 0, -1], Rb = 0; x = 1
    const float x = 1;
    auto sig = [](float v) { return 1.0f / (1.0f + std::exp(-v)); };
    const float i = sig(1 * x + 0.5f), o = sig(2 * x), cc = std::tanh(4 * x - 1);
    const float c = i * cc, h = o * std::tanh(c);
    auto r = run_node("LSTM",
                      {f32t({1, 1, 1}, {x}), f32t({1, 4, 1}, {1, 2, 3, 4}), f32t({1, 4, 1}, {9, 9, 9, 9}),
                       f32t({1, 8}, {0.5f, 0, 0, -1, 0, 0, 0, 0})},
                      {{"hidden_size", int1(1)}}, 3);
    ASSERT_TRUE(r.ok()) << r.status().message();
    expect_tensor((*r)[0], {1, 1, 1, 1}, {h});
    expect_tensor((*r)[1], {1, 1, 1}, {h});
    expect_tensor((*r)[2], {1, 1, 1}, {c});
}

TEST(NnRnn, ReverseWithSequenceLens) {
    // Relu RNN, hidden 1: h_t = relu(x_t + h_{t-1}); batch 0 has length 2 of 3, walked backwards
    auto r = run_node("RNN",
                      {f32t({3, 1, 1}, {1, 2, 4}), f32t({1, 1, 1}, {1}), f32t({1, 1, 1}, {1}), Tensor(),
                       Tensor::from_vector<int32_t>(DType::I32, {1}, {2})},
                      {{"hidden_size", int1(1)}, {"direction", str("reverse")}, {"activations", strs({"Relu"})}}, 2);
    ASSERT_TRUE(r.ok()) << r.status().message();
    expect_tensor((*r)[0], {3, 1, 1, 1}, {3, 2, 0});
    expect_tensor((*r)[1], {1, 1, 1}, {3});
    // the same in double (computed in double)
    auto f64 = [](Shape sh, std::vector<double> v) { return Tensor::from_vector<double>(DType::F64, std::move(sh), v); };
    r = run_node("RNN",
                 {f64({3, 1, 1}, {1, 2, 4}), f64({1, 1, 1}, {1}), f64({1, 1, 1}, {1}), Tensor(),
                  Tensor::from_vector<int32_t>(DType::I32, {1}, {2})},
                 {{"hidden_size", int1(1)}, {"direction", str("reverse")}, {"activations", strs({"Relu"})}}, 2);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ((*r)[0].dtype(), DType::F64);
    expect_tensor((*r)[0], {3, 1, 1, 1}, {3, 2, 0});
}

TEST(NnResize, LinearHalfPixelAndNearest) {
    const Tensor x = f32t({1, 1, 1, 2}, {0, 4});
    const Tensor scales = f32t({4}, {1, 1, 1, 2});
    auto r = run_node("Resize", {x, Tensor(), scales}, {{"mode", str("linear")}}, 1, 13);
    ASSERT_TRUE(r.ok()) << r.status().message();
    // half_pixel: x' = (x + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25 (clamped at the edges)
    expect_tensor((*r)[0], {1, 1, 1, 4}, {0, 1, 3, 4});
    r = run_node("Resize", {x, Tensor(), scales}, {{"mode", str("nearest")}}, 1, 13);
    ASSERT_TRUE(r.ok()) << r.status().message();
    // round_prefer_floor: -0.25 -> 0, 0.25 -> 0, 0.75 -> 1, 1.25 -> 1
    expect_tensor((*r)[0], {1, 1, 1, 4}, {0, 0, 4, 4});
}

// ONNX's test_resize_downsample_scales_{linear,cubic}_antialias (opset 18; newer than Debian's test data).
TEST(NnResize, AntialiasDownsample) {
    const Tensor x = f32t({1, 1, 4, 4}, iota(16, 1));
    const Tensor scales = f32t({4}, {1, 1, 0.6f, 0.6f});
    auto r = run_node("Resize", {x, Tensor(), scales}, {{"mode", str("linear")}, {"antialias", int1(1)}}, 1, 18);
    ASSERT_TRUE(r.ok()) << r.status().message();
    expect_tensor((*r)[0], {1, 1, 2, 2}, {2.875f, 4.5f, 9.375f, 11.0f}, 1e-4f);
    r = run_node("Resize", {x, Tensor(), scales}, {{"mode", str("cubic")}, {"antialias", int1(1)}}, 1, 18);
    ASSERT_TRUE(r.ok()) << r.status().message();
    expect_tensor((*r)[0], {1, 1, 2, 2}, {2.5180721f, 4.2858863f, 9.589329f, 11.357142f}, 1e-4f);
}

TEST(NnDepthToSpace, DcrAndCrdAndInverse) {
    const Tensor x = f32t({1, 4, 1, 1}, {0, 1, 2, 3});
    auto r = run_node("DepthToSpace", {x}, {{"blocksize", int1(2)}});
    ASSERT_TRUE(r.ok()) << r.status().message();
    expect_tensor((*r)[0], {1, 1, 2, 2}, {0, 1, 2, 3});
    auto back = run_node("SpaceToDepth", {(*r)[0]}, {{"blocksize", int1(2)}});
    ASSERT_TRUE(back.ok()) << back.status().message();
    expect_tensor((*back)[0], {1, 4, 1, 1}, {0, 1, 2, 3});
    const Tensor x2 = f32t({1, 8, 1, 1}, iota(8));
    r = run_node("DepthToSpace", {x2}, {{"blocksize", int1(2)}, {"mode", str("CRD")}});
    ASSERT_TRUE(r.ok()) << r.status().message();
    expect_tensor((*r)[0], {1, 2, 2, 2}, iota(8));
    r = run_node("DepthToSpace", {x2}, {{"blocksize", int1(2)}});
    ASSERT_TRUE(r.ok()) << r.status().message();
    expect_tensor((*r)[0], {1, 2, 2, 2}, {0, 2, 4, 6, 1, 3, 5, 7});
}

TEST(NnNorm, LayerAndInstanceNormalization) {
    const Tensor x = f32t({1, 2, 2}, {1, 3, 2, 6});
    auto r = run_node("LayerNormalization", {x, f32t({2}, {1, 2}), f32t({2}, {0, 1})}, {{"epsilon", flt(0)}}, 3);
    ASSERT_TRUE(r.ok()) << r.status().message();
    expect_tensor((*r)[0], {1, 2, 2}, {-1, 3, -1, 3});
    expect_tensor((*r)[1], {1, 2, 1}, {2, 4});
    expect_tensor((*r)[2], {1, 2, 1}, {1, 0.5f});
    r = run_node("InstanceNormalization", {x, f32t({2}, {1, 1}), f32t({2}, {0, 0})}, {{"epsilon", flt(0)}});
    ASSERT_TRUE(r.ok()) << r.status().message();
    expect_tensor((*r)[0], {1, 2, 2}, {-1, 1, -1, 1});
}

TEST(NnPool, LpPoolAndGlobalLpPool) {
    auto r = run_node("LpPool", {f32t({1, 1, 3}, {3, 4, 0})}, {{"kernel_shape", ints({2})}, {"p", int1(2)}});
    ASSERT_TRUE(r.ok()) << r.status().message();
    expect_tensor((*r)[0], {1, 1, 2}, {5, 4});
    r = run_node("GlobalLpPool", {f32t({1, 1, 3}, {1, -2, 2})}, {{"p", int1(1)}});
    ASSERT_TRUE(r.ok()) << r.status().message();
    expect_tensor((*r)[0], {1, 1, 1}, {5});
}

TEST(NnNorm, GroupNormalizationPerGroupAndPerChannel) {
    const Tensor x = f32t({1, 4, 1}, {1, 3, 2, 6});
    auto r = run_node("GroupNormalization", {x, f32t({2}, {1, 2}), f32t({2}, {0, 1})},
                      {{"num_groups", int1(2)}, {"epsilon", flt(0)}}, 1, 18);
    ASSERT_TRUE(r.ok()) << r.status().message();
    expect_tensor((*r)[0], {1, 4, 1}, {-1, 1, -1, 3});
    r = run_node("GroupNormalization", {x, f32t({4}, {1, 1, 2, 2}), f32t({4}, {0, 0, 1, 1})},
                 {{"num_groups", int1(2)}, {"epsilon", flt(0)}}, 1, 21);
    ASSERT_TRUE(r.ok()) << r.status().message();
    expect_tensor((*r)[0], {1, 4, 1}, {-1, 1, -1, 3});
}

// Malformed nodes give an error naming the node, never a crash.
TEST(NnErrors, BadInputsFailCleanly) {
    const Tensor x4 = f32t({1, 2, 3, 3}, iota(18));
    struct Bad {
        const char* op;
        std::vector<Tensor> in;
        std::map<std::string, Attribute> attrs;
    };
    const std::vector<Bad> cases = {
        {"Conv", {x4, f32t({1, 2, 5, 5}, iota(50))}, {}},                                 // kernel larger than input
        {"Conv", {x4, f32t({2, 2, 1, 1}, iota(4)), f32t({3}, iota(3))}, {}},               // bias size
        {"Conv", {x4, f32t({2, 1, 1, 1}, iota(2))}, {{"group", int1(3)}}},                // group does not divide C
        {"Conv", {x4, f32t({2, 2, 1, 1}, iota(4))}, {{"strides", ints({1})}}},            // strides rank
        {"ConvTranspose", {x4, f32t({3, 1, 1, 1}, iota(3))}, {}},                        // W channels
        {"MaxPool", {x4}, {}},                                                           // no kernel_shape
        {"AveragePool", {f32t({4}, iota(4))}, {{"kernel_shape", ints({2})}}},             // rank < 3
        {"Gemm", {f32t({2, 3}, iota(6)), f32t({2, 3}, iota(6))}, {}},                     // inner dims
        {"MatMul", {f32t({2, 3}, iota(6)), f32t({2, 3}, iota(6))}, {}},                   // inner dims
        {"BatchNormalization", {x4, f32t({3}, iota(3)), f32t({2}, iota(2)), f32t({2}, iota(2)), f32t({2}, iota(2))}, {}},
        {"LayerNormalization", {x4, f32t({4}, iota(4))}, {}},                             // scale shape
        {"Resize", {x4, Tensor(), f32t({2}, {1, 2})}, {}},                                 // scales count
        {"Resize", {f32t({1, 0}, {}), Tensor(), Tensor(), Tensor::from_vector<int64_t>(DType::I64, {2}, {1, 4})}, {}},
        {"DepthToSpace", {x4}, {{"blocksize", int1(2)}}},                                // C not divisible
        {"LSTM", {f32t({1, 1, 2}, iota(2)), f32t({1, 8, 3}, iota(24)), f32t({1, 8, 2}, iota(16))}, {}},  // W input size
        {"GRU", {f32t({1, 1, 2}, iota(2)), f32t({1, 6, 2}, iota(12)), f32t({1, 6, 3}, iota(18))}, {}},   // R shape
        {"RNN", {f32t({2, 1, 1}, iota(2)), f32t({1, 1, 1}, {1}), f32t({1, 1, 1}, {1}), Tensor(),
                 Tensor::from_vector<int32_t>(DType::I32, {1}, {3})}, {}},              // sequence length > seq
    };
    for (const auto& c : cases) {
        auto r = run_node(c.op, c.in, c.attrs);
        ASSERT_FALSE(r.ok()) << c.op << " accepted a malformed node";
        EXPECT_NE(r.status().message().find(c.op), std::string::npos) << r.status().message();
    }
}

// Whole models from ../shared against ONNX Runtime 1.30's outputs (fixtures/ort/index.json); their Conv, Gemm,
// MatMul, pools, BatchNormalization and LSTM are this family's. Tolerance (the fixtures' hint): 1e-4 absolute +
// 1e-5 relative — mnist-8's logits reach ~2000, where one float ulp is 1.2e-4.
TEST(NnRealModels, MatchOnnxRuntime) {
    struct Case {
        const char* model;
        const char* prefix;
        std::vector<std::pair<std::string, std::string>> inputs, outputs;  // (graph name, fixture tensor name)
    };
    const std::vector<Case> cases = {
        {"assets/onnx_models/mnist-8/model.onnx", "mnist-8", {{"Input3", "Input3"}}, {{"Plus214_Output_0", "Plus214_Output_0"}}},
        {"assets/onnx_models/ultraface-RFB-320/version-RFB-320.onnx", "ultraface-RFB-320", {{"input", "input"}},
         {{"scores", "scores"}, {"boxes", "boxes"}}},
        {"assets/fashion-mnist-models/lenet5.onnx", "lenet5", {{"input", "input"}}, {{"logits", "logits"}}},
        {"assets/fashion-mnist-models/mlp3.onnx", "mlp3", {{"input", "input"}}, {{"logits", "logits"}}},
        {"assets/fashion-mnist-models/vgg_bn.onnx", "vgg_bn", {{"input", "input"}}, {{"logits", "logits"}}},
        {"assets/fashion-mnist-models/lstm.onnx", "lstm", {{"input", "input"}}, {{"logits", "logits"}}},
    };
    int ran = 0;
    for (const auto& c : cases) {
        const auto model_path = test::shared_file(c.model);
        if (model_path.empty()) continue;
        auto model = onnxio::load_model(model_path.string());
        ASSERT_TRUE(model.ok()) << c.model << ": " << model.status().message();
        for (const char* id : {"input-0", "input-1"}) {
            std::map<std::string, Tensor> feeds;
            bool have = true;
            for (const auto& [gname, fname] : c.inputs) {
                const auto f = test::shared_file(std::string("fixtures/ort/") + c.prefix + "." + id + "." + fname + ".npy");
                if (f.empty()) have = false;
                if (!have) break;
                auto t = data::read_npy(f.string());
                ASSERT_TRUE(t.ok()) << t.status().message();
                feeds[gname] = *t;
            }
            if (!have) continue;
            auto out = run_reference(*model, feeds);
            ASSERT_TRUE(out.ok()) << c.model << ": " << out.status().message();
            for (const auto& [gname, fname] : c.outputs) {
                const auto f = test::shared_file(std::string("fixtures/ort/") + c.prefix + "." + id + "." + fname + ".npy");
                ASSERT_FALSE(f.empty());
                auto want = data::read_npy(f.string());
                ASSERT_TRUE(want.ok()) << want.status().message();
                const Tensor& got = (*out)[gname];
                ASSERT_EQ(shape_str(got.shape()), shape_str(want->shape())) << c.prefix << " " << gname;
                const auto g = got.to_f32(), w = want->to_f32();
                double max_excess = -1;  // max over i of |got - ORT| - (1e-4 + 1e-5 * |ORT|)
                size_t worst = 0;
                for (size_t i = 0; i < g.size(); ++i) {
                    const double e = std::fabs(static_cast<double>(g[i]) - w[i]) - (1e-4 + 1e-5 * std::fabs(w[i]));
                    if (e > max_excess || i == 0) {
                        max_excess = e;
                        worst = i;
                    }
                }
                EXPECT_LE(max_excess, 0.0) << c.prefix << " " << id << " " << gname << ": at " << worst << " ORT "
                                         << w[worst] << ", got " << g[worst];
                ++ran;
            }
        }
    }
    if (ran == 0) GTEST_SKIP() << "no shared models/fixtures under " << test::shared_dir();
}

}  // namespace
}  // namespace edgeq::runtime
