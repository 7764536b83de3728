// Reference 'math' ops (ops_math*.cpp): one-node models through runtime::run_reference. Expected values
// are worked out by hand from the ONNX operator spec (or NumPy's documented semantics it defers to).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "graph/graph.h"
#include "runtime/ref/executor.h"
#include "runtime/ref/op.h"

namespace edgeq::runtime {
namespace {

using graph::Attribute;

Attribute attr_i(int64_t v) {
    Attribute a;
    a.kind = Attribute::Kind::Int;
    a.i = v;
    return a;
}
Attribute attr_f(float v) {
    Attribute a;
    a.kind = Attribute::Kind::Float;
    a.f = v;
    return a;
}
Attribute attr_s(const std::string& v) {
    Attribute a;
    a.kind = Attribute::Kind::String;
    a.s = v;
    return a;
}
Attribute attr_ints(std::vector<int64_t> v) {
    Attribute a;
    a.kind = Attribute::Kind::Ints;
    a.ints = std::move(v);
    return a;
}

// Runs one `op` node on `inputs` (an empty-handle Tensor = omitted optional input) at `opset`.
Result<std::vector<Tensor>> run_op(const std::string& op, const std::vector<Tensor>& inputs,
                                   std::map<std::string, Attribute> attrs = {}, int64_t opset = 17, size_t n_out = 1) {
    graph::Model m;
    m.opsets[""] = opset;
    graph::Node n;
    n.name = "n0";
    n.op_type = op;
    n.attrs = std::move(attrs);
    std::map<std::string, Tensor> feeds;
    for (size_t i = 0; i < inputs.size(); ++i) {
        if (inputs[i].empty_handle()) {
            n.inputs.push_back("");
            continue;
        }
        const std::string name = "x" + std::to_string(i);
        graph::ValueInfo vi;
        vi.name = name;
        vi.dtype = inputs[i].dtype();
        m.graph.inputs.push_back(vi);
        n.inputs.push_back(name);
        feeds[name] = inputs[i];
    }
    for (size_t i = 0; i < n_out; ++i) {
        graph::ValueInfo vi;
        vi.name = "y" + std::to_string(i);
        m.graph.outputs.push_back(vi);
        n.outputs.push_back(vi.name);
    }
    m.graph.nodes.push_back(n);
    EDGEQ_ASSIGN_OR_RETURN(auto outs, run_reference(m, feeds));
    std::vector<Tensor> r;
    for (size_t i = 0; i < n_out; ++i) r.push_back(outs["y" + std::to_string(i)]);
    return r;
}

Tensor f32(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(DType::F32, std::move(s), v); }
Tensor f64(Shape s, std::vector<double> v) { return Tensor::from_vector<double>(DType::F64, std::move(s), v); }
Tensor i32(Shape s, std::vector<int32_t> v) { return Tensor::from_vector<int32_t>(DType::I32, std::move(s), v); }
Tensor i64(Shape s, std::vector<int64_t> v) { return Tensor::from_vector<int64_t>(DType::I64, std::move(s), v); }
Tensor i8(Shape s, std::vector<int8_t> v) { return Tensor::from_vector<int8_t>(DType::I8, std::move(s), v); }
Tensor u8(Shape s, std::vector<uint8_t> v) { return Tensor::from_vector<uint8_t>(DType::U8, std::move(s), v); }
Tensor bools(Shape s, std::vector<uint8_t> v) { return Tensor::from_vector<uint8_t>(DType::BOOL, std::move(s), v); }

template <typename T>
std::vector<T> values(const Tensor& t) {
    return {t.data<T>(), t.data<T>() + t.numel()};
}

// One output, checked for dtype, shape and (float) values within 1e-5 relative + 1e-6 absolute.
void expect_f32(const Result<std::vector<Tensor>>& r, const Shape& shape, const std::vector<float>& want) {
    ASSERT_TRUE(r.ok()) << r.status().message();
    const Tensor& t = r.value()[0];
    ASSERT_EQ(t.dtype(), DType::F32);
    ASSERT_EQ(t.shape(), shape);
    const auto got = values<float>(t);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
        if (std::isnan(want[i])) {
            EXPECT_TRUE(std::isnan(got[i])) << "at " << i;
        } else if (std::isinf(want[i])) {
            EXPECT_EQ(got[i], want[i]) << "at " << i;
        } else {
            EXPECT_NEAR(got[i], want[i], 1e-6 + 1e-5 * std::fabs(want[i])) << "at " << i;
        }
    }
}

template <typename T>
void expect_exact(const Result<std::vector<Tensor>>& r, DType dt, const Shape& shape, const std::vector<T>& want) {
    ASSERT_TRUE(r.ok()) << r.status().message();
    const Tensor& t = r.value()[0];
    ASSERT_EQ(t.dtype(), dt);
    ASSERT_EQ(t.shape(), shape);
    EXPECT_EQ(values<T>(t), want);
}

// ---- elementwise binary ------------------------------------------------------------------------------

TEST(MathOps, AddBroadcastsBothWays) {
    expect_f32(run_op("Add", {f32({2, 1}, {1, 2}), f32({3}, {10, 20, 30})}), {2, 3}, {11, 21, 31, 12, 22, 32});
}

// Every broadcast pattern the row loop of map2 distinguishes (merged dims, a broadcast operand inside, at the end,
// both sides broadcast, size-1 and rank-0 operands) against the definition out[i] = a[i'] - b[i''] (Sub: the
// operand order matters).
TEST(MathOps, BroadcastPatternsMatchTheDefinition) {
    const std::vector<std::pair<Shape, Shape>> cases = {
        {{2, 3, 4}, {2, 3, 4}}, {{2, 3, 4}, {}},        {{}, {2, 3, 4}},        {{1, 4420, 2}, {2}},
        {{2, 3, 4}, {3, 1}},    {{2, 1, 4}, {1, 3, 1}}, {{5, 1}, {1, 7}},       {{1}, {3, 1, 2}},
        {{2, 3, 1, 5}, {3, 4, 1}}, {{3, 1, 1}, {1, 1, 1}}, {{1, 2, 1, 3}, {2, 2, 2, 1}}, {{4, 0, 2}, {2}}};
    for (const auto& [sa, sb] : cases) {
        auto fill = [](const Shape& s, float k) {
            std::vector<float> v(static_cast<size_t>(shape_numel(s)));
            for (size_t i = 0; i < v.size(); ++i) v[i] = k * static_cast<float>(i) + 0.25f;
            return f32(s, v);
        };
        const Tensor a = fill(sa, 1.0f), b = fill(sb, 100.0f);
        const size_t R = std::max(sa.size(), sb.size());
        Shape pa(R, 1), pb(R, 1), out(R);
        std::copy(sa.begin(), sa.end(), pa.begin() + static_cast<std::ptrdiff_t>(R - sa.size()));
        std::copy(sb.begin(), sb.end(), pb.begin() + static_cast<std::ptrdiff_t>(R - sb.size()));
        for (size_t d = 0; d < R; ++d) out[d] = pa[d] == 1 ? pb[d] : pa[d];
        std::vector<float> want(static_cast<size_t>(shape_numel(out)));
        std::vector<int64_t> idx(R, 0);
        for (size_t i = 0; i < want.size(); ++i) {
            int64_t ia = 0, ib = 0;
            for (size_t d = 0; d < R; ++d) {
                ia = ia * pa[d] + (pa[d] == 1 ? 0 : idx[d]);
                ib = ib * pb[d] + (pb[d] == 1 ? 0 : idx[d]);
            }
            want[i] = a.data<float>()[ia] - b.data<float>()[ib];
            for (size_t d = R; d-- > 0;)
                if (++idx[d] < out[d]) break;
                else idx[d] = 0;
        }
        SCOPED_TRACE(shape_str(sa) + " - " + shape_str(sb));
        expect_f32(run_op("Sub", {a, b}), out, want);
    }
}

TEST(MathOps, IntegerArithmeticWrapsAndTruncates) {
    expect_exact<int32_t>(run_op("Add", {i32({1}, {2147483647}), i32({1}, {1})}), DType::I32, {1}, {-2147483647 - 1});
    expect_exact<uint8_t>(run_op("Sub", {u8({2}, {1, 200}), u8({2}, {2, 100})}), DType::U8, {2}, {255, 100});
    expect_exact<int32_t>(run_op("Div", {i32({4}, {-7, 7, 7, 5}), i32({4}, {2, -2, 0, 5})}), DType::I32, {4}, {-3, -3, 0, 1});
    expect_exact<uint8_t>(run_op("Mul", {u8({1}, {200}), u8({1}, {2})}), DType::U8, {1}, {144});
}

TEST(MathOps, ModFollowsDivisorSignUnlessFmod) {
    const auto a = i32({4}, {-4, 7, -7, 5}), b = i32({4}, {3, -3, -3, 0});
    expect_exact<int32_t>(run_op("Mod", {a, b}), DType::I32, {4}, {2, -2, -1, 0});
    expect_exact<int32_t>(run_op("Mod", {a, b}, {{"fmod", attr_i(1)}}), DType::I32, {4}, {-1, 1, -1, 0});
    expect_f32(run_op("Mod", {f32({2}, {-4.5f, 4.5f}), f32({2}, {2, -2})}, {{"fmod", attr_i(1)}}), {2}, {-0.5f, 0.5f});
}

TEST(MathOps, PowMixedTypes) {
    expect_exact<int32_t>(run_op("Pow", {i32({3}, {2, 3, -2}), f32({3}, {0.5f, 2, 3})}), DType::I32, {3}, {1, 9, -8});
    expect_exact<int64_t>(run_op("Pow", {i64({3}, {3, 2, 5}), i64({3}, {3, 40, -1})}), DType::I64, {3},
                          {27, int64_t{1} << 40, 0});
    expect_f32(run_op("Pow", {f32({2}, {4, 2}), i64({1}, {2})}), {2}, {16, 4});
}

TEST(MathOps, VariadicMinMaxSumMean) {
    const auto a = f32({3}, {1, 5, 3}), b = f32({1}, {4}), c = f32({2, 1}, {0, 10});
    expect_f32(run_op("Max", {a, b, c}), {2, 3}, {4, 5, 4, 10, 10, 10});
    expect_f32(run_op("Min", {a, b}), {3}, {1, 4, 3});
    expect_f32(run_op("Sum", {a, b, c}), {2, 3}, {5, 9, 7, 15, 19, 17});
    expect_f32(run_op("Mean", {a, b}), {3}, {2.5f, 4.5f, 3.5f});
    expect_f32(run_op("Max", {a}), {3}, {1, 5, 3});
    expect_exact<int8_t>(run_op("Max", {i8({2}, {-5, 3}), i8({2}, {-6, 4})}), DType::I8, {2}, {-5, 4});
}

TEST(MathOps, LogicBitsAndComparisons) {
    expect_exact<uint8_t>(run_op("And", {bools({4}, {0, 0, 1, 1}), bools({4}, {0, 1, 0, 1})}), DType::BOOL, {4}, {0, 0, 0, 1});
    expect_exact<uint8_t>(run_op("Xor", {bools({4}, {0, 0, 1, 1}), bools({4}, {0, 1, 0, 1})}), DType::BOOL, {4}, {0, 1, 1, 0});
    expect_exact<uint8_t>(run_op("BitShift", {u8({3}, {1, 16, 255}), u8({3}, {3, 2, 9})}, {{"direction", attr_s("LEFT")}}),
                          DType::U8, {3}, {8, 64, 0});
    expect_exact<uint8_t>(run_op("BitShift", {u8({2}, {16, 255}), u8({1}, {2})}, {{"direction", attr_s("RIGHT")}}),
                          DType::U8, {2}, {4, 63});
    expect_exact<int32_t>(run_op("BitwiseXor", {i32({2}, {6, -1}), i32({2}, {3, 1})}, {}, 18), DType::I32, {2}, {5, -2});
    expect_exact<uint8_t>(run_op("Less", {f32({3}, {1, 2, 3}), f32({1}, {2})}), DType::BOOL, {3}, {1, 0, 0});
    expect_exact<uint8_t>(run_op("GreaterOrEqual", {i64({3}, {1, 2, 3}), i64({1}, {2})}), DType::BOOL, {3}, {0, 1, 1});
    expect_exact<uint8_t>(run_op("Equal", {bools({2}, {1, 0}), bools({2}, {1, 1})}), DType::BOOL, {2}, {1, 0});
}

TEST(MathOps, WhereAndPRelu) {
    expect_exact<int64_t>(run_op("Where", {bools({2, 1}, {1, 0}), i64({3}, {1, 2, 3}), i64({1}, {-1})}), DType::I64,
                          {2, 3}, {1, 2, 3, -1, -1, -1});
    expect_f32(run_op("PRelu", {f32({2, 2}, {-1, 2, -3, 4}), f32({2}, {0.5f, 0.25f})}), {2, 2}, {-0.5f, 2, -1.5f, 4});
    EXPECT_EQ(run_op("PRelu", {f32({2}, {1, 2}), f32({2, 2}, {1, 1, 1, 1})}).status().code(), StatusCode::kInvalidArgument);
    // opset 6: a [C] slope is per channel (dim 1), not trailing-dim broadcast
    expect_f32(run_op("PRelu", {f32({1, 2, 3}, {-1, -1, -1, -1, -1, -1}), f32({2}, {0.5f, 2})}, {}, 6), {1, 2, 3},
               {-0.5f, -0.5f, -0.5f, -2, -2, -2});
}

TEST(MathOps, HalfTypesComputeInFloat) {
    const Tensor a = Tensor::from_vector<uint16_t>(DType::F16, {2}, {f32_to_fp16(1.5f), f32_to_fp16(-2.0f)});
    auto r = run_op("Mul", {a, a});
    ASSERT_TRUE(r.ok()) << r.status().message();
    ASSERT_EQ(r.value()[0].dtype(), DType::F16);
    EXPECT_EQ(r.value()[0].to_f32(), (std::vector<float>{2.25f, 4.0f}));
}

TEST(MathOps, BadInputsFailCleanly) {
    EXPECT_EQ(run_op("Add", {f32({2}, {1, 2}), f32({3}, {1, 2, 3})}).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(run_op("Add", {f32({2}, {1, 2})}).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(run_op("Add", {f32({1}, {1}), i32({1}, {1})}).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(run_op("Sqrt", {i32({1}, {4})}).status().code(), StatusCode::kUnsupported);
    EXPECT_EQ(run_op("And", {f32({1}, {1}), f32({1}, {1})}).status().code(), StatusCode::kUnsupported);
    EXPECT_EQ(run_op("Where", {f32({1}, {1}), f32({1}, {1}), f32({1}, {1})}).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(run_op("BitShift", {u8({1}, {1}), u8({1}, {1})}).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(run_op("ReduceSum", {f32({2}, {1, 2})}, {{"axes", attr_ints({1})}}, 11).status().code(),
              StatusCode::kInvalidArgument);
    EXPECT_EQ(run_op("Einsum", {f32({2}, {1, 2})}, {{"equation", attr_s("ij->i")}}).status().code(),
              StatusCode::kInvalidArgument);
}

// ---- unary and activations ---------------------------------------------------------------------------

TEST(MathOps, RoundingAndSigns) {
    expect_f32(run_op("Round", {f32({6}, {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 2.4f})}), {6}, {0, 2, 2, -0.0f, -2, 2});
    expect_f32(run_op("Ceil", {f32({2}, {-1.5f, 1.2f})}), {2}, {-1, 2});
    expect_exact<int32_t>(run_op("Sign", {i32({3}, {-7, 0, 9})}), DType::I32, {3}, {-1, 0, 1});
    expect_exact<int8_t>(run_op("Abs", {i8({3}, {-128, -3, 4})}), DType::I8, {3}, {-128, 3, 4});
    expect_exact<int32_t>(run_op("Relu", {i32({2}, {-3, 3})}, {}, 14), DType::I32, {2}, {0, 3});
    expect_exact<uint8_t>(run_op("Not", {bools({2}, {0, 1})}), DType::BOOL, {2}, {1, 0});
    expect_exact<uint8_t>(run_op("IsInf", {f32({3}, {INFINITY, -INFINITY, 1})}, {{"detect_positive", attr_i(0)}}),
                          DType::BOOL, {3}, {0, 1, 0});
    expect_exact<uint8_t>(run_op("IsNaN", {f32({2}, {NAN, 1})}), DType::BOOL, {2}, {1, 0});
}

TEST(MathOps, Activations) {
    const auto x = f32({3}, {-1, 0, 2});
    expect_f32(run_op("LeakyRelu", {x}), {3}, {-0.01f, 0, 2});
    expect_f32(run_op("Elu", {x}, {{"alpha", attr_f(2)}}), {3}, {2 * std::expm1(-1.0f), 0, 2});
    expect_f32(run_op("HardSigmoid", {x}), {3}, {0.3f, 0.5f, 0.9f});
    expect_f32(run_op("HardSwish", {f32({3}, {-4, 1, 4})}), {3}, {0, 1 * (1 / 6.0f + 0.5f), 4});
    expect_f32(run_op("ThresholdedRelu", {x}), {3}, {0, 0, 2});
    expect_f32(run_op("Softsign", {x}), {3}, {-0.5f, 0, 2 / 3.0f});
    expect_f32(run_op("Softplus", {f32({2}, {0, 100})}), {2}, {std::log(2.0f), 100});
    expect_f32(run_op("Sigmoid", {f32({2}, {0, -100})}), {2}, {0.5f, 1 / (1 + std::exp(100.0f))});
    expect_f32(run_op("Celu", {x}), {3}, {std::expm1(-1.0f), 0, 2});
    expect_f32(run_op("Gelu", {x}, {}, 20), {3}, {-0.15865525f, 0, 1.9544997f});
    expect_f32(run_op("Gelu", {x}, {{"approximate", attr_s("tanh")}}, 20), {3}, {-0.15880801f, 0, 1.9545977f});
    expect_f32(run_op("Mish", {f32({1}, {1})}, {}, 18), {1}, {0.86509836f});
    expect_f32(run_op("Swish", {x}, {{"alpha", attr_f(2)}}, 24), {3}, {-1 / (1 + std::exp(2.0f)), 0, 2 / (1 + std::exp(-4.0f))});
}

TEST(MathOps, ClipAttributesAndInputs) {
    const auto x = f32({4}, {-2, 0, 3, 9});
    expect_f32(run_op("Clip", {x}, {{"min", attr_f(-1)}, {"max", attr_f(5)}}, 6), {4}, {-1, 0, 3, 5});
    expect_f32(run_op("Clip", {x, Tensor(), f32({}, {1})}, {}, 13), {4}, {-2, 0, 1, 1});
    expect_exact<int8_t>(run_op("Clip", {i8({3}, {-100, 5, 100}), i8({}, {-10}), i8({}, {10})}, {}, 13), DType::I8, {3},
                         {-10, 5, 10});
    expect_f32(run_op("Clip", {x, f32({}, {4}), f32({}, {1})}, {}, 13), {4}, {1, 1, 1, 1});  // min > max: all max
}

TEST(MathOps, CastTruncatesAndConvertsEveryWay) {
    expect_exact<int32_t>(run_op("Cast", {f32({4}, {-1.7f, 1.7f, 2.5f, -0.2f})}, {{"to", attr_i(6)}}), DType::I32, {4},
                          {-1, 1, 2, 0});
    expect_exact<uint8_t>(run_op("Cast", {f64({3}, {0, -0.5, NAN})}, {{"to", attr_i(9)}}), DType::BOOL, {3}, {0, 1, 1});
    expect_f32(run_op("Cast", {bools({2}, {1, 0})}, {{"to", attr_i(1)}}), {2}, {1, 0});
    auto h = run_op("Cast", {f32({2}, {0.1f, 65504.0f})}, {{"to", attr_i(10)}});
    ASSERT_TRUE(h.ok()) << h.status().message();
    EXPECT_EQ(values<uint16_t>(h.value()[0]), (std::vector<uint16_t>{f32_to_fp16(0.1f), 0x7bff}));
    auto b = run_op("CastLike", {h.value()[0], Tensor(DType::BF16, {})}, {}, 15);
    ASSERT_TRUE(b.ok()) << b.status().message();
    EXPECT_EQ(b.value()[0].dtype(), DType::BF16);
    const float v = 1.005859375f;  // bf16 0x3F80 + 3/4 ulp
    auto t13 = run_op("Cast", {f32({1}, {v})}, {{"to", attr_i(16)}}, 13), t19 = run_op("Cast", {f32({1}, {v})}, {{"to", attr_i(16)}}, 19);
    ASSERT_TRUE(t13.ok() && t19.ok());
    EXPECT_EQ(values<uint16_t>(t13.value()[0]), std::vector<uint16_t>{0x3F80});  // opset < 19 truncates
    EXPECT_EQ(values<uint16_t>(t19.value()[0]), std::vector<uint16_t>{0x3F81});  // opset 19 rounds to nearest even
    expect_exact<int8_t>(run_op("Cast", {i32({2}, {300, -129})}, {{"to", attr_i(3)}}), DType::I8, {2}, {44, 127});
    auto q = run_op("Cast", {f32({3}, {-9, 2.5f, 7})}, {{"to", attr_i(22)}}, 21);  // INT4: saturate, half to even
    ASSERT_TRUE(q.ok()) << q.status().message();
    EXPECT_EQ(q.value()[0].to_i64(), (std::vector<int64_t>{-8, 2, 7}));
    auto u2 = run_op("Cast", {f32({3}, {-1, 1.5f, 9})}, {{"to", attr_i(25)}}, 25);  // UINT2
    ASSERT_TRUE(u2.ok()) << u2.status().message();
    EXPECT_EQ(u2.value()[0].to_i64(), (std::vector<int64_t>{0, 2, 3}));
    expect_exact<int8_t>(run_op("Cast", {q.value()[0]}, {{"to", attr_i(3)}}, 21), DType::I8, {3}, {-8, 2, 7});
    EXPECT_EQ(run_op("Cast", {f32({1}, {1})}, {{"to", attr_i(8)}}).status().code(), StatusCode::kUnsupported);
}

// ---- axis ops and reductions -------------------------------------------------------------------------

TEST(MathOps, SoftmaxAxisConventions) {
    const auto x = f32({2, 2}, {0, 0, 0, std::log(3.0f)});
    // opset 13: along the last axis; opset 11, axis 0: over the whole flattened tensor.
    expect_f32(run_op("Softmax", {x}, {}, 13), {2, 2}, {0.5f, 0.5f, 0.25f, 0.75f});
    expect_f32(run_op("Softmax", {x}, {{"axis", attr_i(0)}}, 11), {2, 2}, {1 / 6.0f, 1 / 6.0f, 1 / 6.0f, 0.5f});
    expect_f32(run_op("Softmax", {x}, {{"axis", attr_i(0)}}, 13), {2, 2}, {0.5f, 0.25f, 0.5f, 0.75f});
    expect_f32(run_op("LogSoftmax", {x}, {}, 13), {2, 2}, {std::log(0.5f), std::log(0.5f), std::log(0.25f), std::log(0.75f)});
    expect_f32(run_op("Hardmax", {f32({2, 3}, {1, 3, 3, 0, -1, -2})}, {}, 13), {2, 3}, {0, 1, 0, 1, 0, 0});
}

TEST(MathOps, ArgMaxArgMin) {
    const auto x = f32({2, 3}, {1, 5, 5, 7, 0, 7});
    expect_exact<int64_t>(run_op("ArgMax", {x}, {{"axis", attr_i(1)}}), DType::I64, {2, 1}, {1, 0});
    expect_exact<int64_t>(run_op("ArgMax", {x}, {{"axis", attr_i(-1)}, {"select_last_index", attr_i(1)}, {"keepdims", attr_i(0)}}),
                          DType::I64, {2}, {2, 2});
    expect_exact<int64_t>(run_op("ArgMin", {x}), DType::I64, {1, 3}, {0, 1, 0});
}

TEST(MathOps, CumSumModes) {
    const auto x = f32({4}, {1, 2, 3, 4});
    const auto ax = i32({}, {0});
    expect_f32(run_op("CumSum", {x, ax}), {4}, {1, 3, 6, 10});
    expect_f32(run_op("CumSum", {x, ax}, {{"exclusive", attr_i(1)}}), {4}, {0, 1, 3, 6});
    expect_f32(run_op("CumSum", {x, ax}, {{"reverse", attr_i(1)}}), {4}, {10, 9, 7, 4});
    expect_f32(run_op("CumSum", {x, ax}, {{"reverse", attr_i(1)}, {"exclusive", attr_i(1)}}), {4}, {9, 7, 4, 0});
    expect_exact<int64_t>(run_op("CumSum", {i64({2, 2}, {1, 2, 3, 4}), i64({1}, {-1})}), DType::I64, {2, 2}, {1, 3, 3, 7});
    expect_f32(run_op("CumProd", {x, ax}, {{"exclusive", attr_i(1)}}, 26), {4}, {1, 1, 2, 6});
    expect_exact<int32_t>(run_op("CumProd", {i32({3}, {2, 3, 4}), ax}, {{"reverse", attr_i(1)}}, 26), DType::I32, {3}, {24, 12, 4});
}

TEST(MathOps, ReduceAxesAttributeAndInput) {
    const auto x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
    expect_f32(run_op("ReduceSum", {x, i64({1}, {1})}, {}, 13), {2, 1}, {6, 15});
    expect_f32(run_op("ReduceSum", {x}, {{"axes", attr_ints({0})}, {"keepdims", attr_i(0)}}, 11), {3}, {5, 7, 9});
    expect_f32(run_op("ReduceSum", {x, i64({0}, {})}, {{"noop_with_empty_axes", attr_i(1)}}, 13), {2, 3}, {1, 2, 3, 4, 5, 6});
    expect_f32(run_op("ReduceSum", {x}, {{"keepdims", attr_i(0)}}, 13), {}, {21});
    expect_f32(run_op("ReduceMean", {x}, {{"axes", attr_ints({-1})}}, 11), {2, 1}, {2, 5});
    expect_f32(run_op("ReduceMax", {x, i64({1}, {0})}, {}, 18), {1, 3}, {4, 5, 6});
    expect_f32(run_op("ReduceMin", {x}, {}, 13), {1, 1}, {1});
    expect_f32(run_op("ReduceProd", {x}, {{"axes", attr_ints({1})}}, 13), {2, 1}, {6, 120});
    expect_f32(run_op("ReduceL1", {f32({2}, {-3, 4})}, {}, 13), {1}, {7});
    expect_f32(run_op("ReduceL2", {f32({2}, {-3, 4})}, {}, 13), {1}, {5});
    expect_f32(run_op("ReduceSumSquare", {f32({2}, {-3, 4})}, {}, 13), {1}, {25});
    expect_f32(run_op("ReduceLogSum", {f32({2}, {1, 2})}, {}, 13), {1}, {std::log(3.0f)});
    expect_f32(run_op("ReduceLogSumExp", {f32({2}, {1000, 1000})}, {}, 13), {1}, {1000 + std::log(2.0f)});
    expect_exact<int32_t>(run_op("ReduceMean", {i32({2}, {1, 2})}, {}, 13), DType::I32, {1}, {1});
}

TEST(MathOps, ReduceOverEmptySet) {
    const auto e = f32({2, 0}, {});
    const auto ax = i64({1}, {1});
    expect_f32(run_op("ReduceSum", {e, ax}, {}, 18), {2, 1}, {0, 0});
    expect_f32(run_op("ReduceProd", {e, ax}, {}, 18), {2, 1}, {1, 1});
    expect_f32(run_op("ReduceMax", {e, ax}, {}, 18), {2, 1}, {-INFINITY, -INFINITY});
    expect_f32(run_op("ReduceMin", {e, ax}, {}, 18), {2, 1}, {INFINITY, INFINITY});
    expect_f32(run_op("ReduceLogSumExp", {e, ax}, {}, 18), {2, 1}, {-INFINITY, -INFINITY});
    expect_exact<int32_t>(run_op("ReduceMax", {i32({0}, {}), i64({1}, {0})}, {{"keepdims", attr_i(0)}}, 18), DType::I32, {},
                          {std::numeric_limits<int32_t>::lowest()});
}

TEST(MathOps, Einsum) {
    const auto a = f32({2, 3}, {1, 2, 3, 4, 5, 6});
    const auto b = f32({3, 2}, {1, 0, 0, 1, 1, 1});
    expect_f32(run_op("Einsum", {a, b}, {{"equation", attr_s("ij,jk->ik")}}), {2, 2}, {4, 5, 10, 11});
    expect_f32(run_op("Einsum", {a}, {{"equation", attr_s("ij->ji")}}), {3, 2}, {1, 4, 2, 5, 3, 6});
    expect_f32(run_op("Einsum", {a}, {{"equation", attr_s("ji")}}), {3, 2}, {1, 4, 2, 5, 3, 6});  // implicit: "ij"
    expect_f32(run_op("Einsum", {a}, {{"equation", attr_s("ij->")}}), {}, {21});
    const auto sq = f32({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
    expect_f32(run_op("Einsum", {sq}, {{"equation", attr_s("...ii ->...i")}}), {2, 2}, {1, 4, 5, 8});
    expect_f32(run_op("Einsum", {sq}, {{"equation", attr_s("bii")}}), {2}, {5, 13});
    expect_f32(run_op("Einsum", {f32({3}, {1, 2, 3}), f32({3}, {4, 5, 6})}, {{"equation", attr_s("i,i")}}), {}, {32});
    expect_exact<int64_t>(run_op("Einsum", {i64({2, 1}, {1, 2}), i64({1, 2}, {3, 4})}, {{"equation", attr_s("...,...->...")}}),
                          DType::I64, {2, 2}, {3, 4, 6, 8});
}

// Every math op, fed wrong arities, mixed and exotic types, scalars, empty and non-broadcasting shapes, either
// runs or returns a Status: never a crash (the run under ASan/UBSan checks memory too).
TEST(MathOps, NeverCrashOnBadInput) {
    const std::vector<Tensor> pool = {
        f32({}, {1.5f}),           f32({2, 3}, {1, -2, 3, -4, 5, -6}), f32({3}, {0, 1, 2}), f32({0, 3}, {}),
        i64({}, {1}),              i64({2}, {0, 5}),                   i32({1}, {-1}),      bools({2}, {1, 0}),
        u8({4}, {1, 2, 3, 4}),     Tensor(DType::I4, {3}),             Tensor(DType::Q8_0, {32}),
        Tensor(DType::F16, {2, 1}),
    };
    const std::map<std::string, Attribute> attr_sets[] = {
        {},
        {{"axis", attr_i(7)}, {"axes", attr_ints({5, -9})}, {"to", attr_i(99)}, {"equation", attr_s("ab,bc->ac")}},
        {{"axis", attr_i(-1)}, {"keepdims", attr_i(0)}, {"to", attr_i(22)}, {"direction", attr_s("LEFT")},
         {"equation", attr_s("...i->i")}, {"noop_with_empty_axes", attr_i(1)}},
    };
    size_t runs = 0;
    for (const OpRow& row : ref_ops()) {
        if (std::string(row.family) != "math") continue;
        for (int64_t opset : {6, 11, 13, 18, 21}) {
            for (const auto& attrs : attr_sets) {
                std::vector<std::vector<Tensor>> input_sets = {{}};
                for (const auto& a : pool) {
                    input_sets.push_back({a});
                    for (const auto& b : pool) input_sets.push_back({a, b});
                    input_sets.push_back({a, a, a});
                    input_sets.push_back({bools({1}, {1}), a, pool[1]});
                    input_sets.push_back({a, Tensor(), a});
                }
                for (const auto& ins : input_sets) {
                    auto r = run_op(row.op_type, ins, attrs, opset);
                    if (!r.ok()) {
                        const StatusCode c = r.status().code();
                        EXPECT_TRUE(c == StatusCode::kInvalidArgument || c == StatusCode::kUnsupported)
                            << row.op_type << " opset " << opset << ": " << r.status().message();
                    }
                    ++runs;
                }
            }
        }
    }
    EXPECT_GT(runs, 1000u);
}

}  // namespace
}  // namespace edgeq::runtime
