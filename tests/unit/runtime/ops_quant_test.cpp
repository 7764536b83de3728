// The 'quant' reference ops on one-node models, against hand-computed values: rounding ties, saturation,
// per-axis and blocked scales, sub-byte packing with odd element counts, integer matmul/conv, and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <map>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "graph/graph.h"
#include "runtime/ref/executor.h"

namespace edgeq {
namespace {

using graph::Attribute;

Attribute attr_int(int64_t v) {
    Attribute a;
    a.kind = Attribute::Kind::Int;
    a.i = v;
    return a;
}
Attribute attr_ints(std::vector<int64_t> v) {
    Attribute a;
    a.kind = Attribute::Kind::Ints;
    a.ints = std::move(v);
    return a;
}
Attribute attr_str(std::string s) {
    Attribute a;
    a.kind = Attribute::Kind::String;
    a.s = std::move(s);
    return a;
}

// Runs one node; inputs named in0, in1, ... (empty handle = omitted); returns its outputs.
Result<std::vector<Tensor>> run_node(const std::string& op, const std::vector<Tensor>& inputs,
                                     std::map<std::string, Attribute> attrs = {}, int64_t opset = 21,
                                     size_t n_outputs = 1, const std::string& domain = "") {
    graph::Model m;
    m.opsets[""] = opset;
    if (!domain.empty()) m.opsets[domain] = 1;
    graph::Node node;
    node.name = "n";
    node.op_type = op;
    node.domain = domain;
    node.attrs = std::move(attrs);
    std::map<std::string, Tensor> feeds;
    for (size_t i = 0; i < inputs.size(); ++i) {
        if (inputs[i].empty_handle()) {
            node.inputs.push_back("");
            continue;
        }
        const std::string name = "in" + std::to_string(i);
        node.inputs.push_back(name);
        graph::ValueInfo vi;
        vi.name = name;
        vi.dtype = inputs[i].dtype();
        m.graph.inputs.push_back(vi);
        feeds[name] = inputs[i];
    }
    for (size_t i = 0; i < n_outputs; ++i) {
        node.outputs.push_back("out" + std::to_string(i));
        graph::ValueInfo vi;
        vi.name = node.outputs.back();
        m.graph.outputs.push_back(vi);
    }
    m.graph.nodes.push_back(node);
    EDGEQ_ASSIGN_OR_RETURN(auto res, runtime::run_reference(m, feeds));
    std::vector<Tensor> outs;
    for (size_t i = 0; i < n_outputs; ++i) outs.push_back(res["out" + std::to_string(i)]);
    return outs;
}

Tensor f32(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(DType::F32, std::move(s), v); }
Tensor u8(Shape s, std::vector<uint8_t> v) { return Tensor::from_vector<uint8_t>(DType::U8, std::move(s), v); }
Tensor i8(Shape s, std::vector<int8_t> v) { return Tensor::from_vector<int8_t>(DType::I8, std::move(s), v); }
Tensor i32(Shape s, std::vector<int32_t> v) { return Tensor::from_vector<int32_t>(DType::I32, std::move(s), v); }
Tensor raw(DType t, Shape s, std::vector<uint8_t> bytes) { return Tensor::from_bytes(t, std::move(s), bytes); }

std::vector<int64_t> ints(const Tensor& t) {
    // decode packed types by hand so the test does not trust the op's own packing code
    std::vector<int64_t> v;
    const int64_t n = t.numel();
    const uint8_t* p = t.raw();
    for (int64_t i = 0; i < n; ++i) {
        switch (t.dtype()) {
            case DType::I4: { int x = (p[i / 2] >> (4 * (i % 2))) & 15; v.push_back(x >= 8 ? x - 16 : x); break; }
            case DType::U4: v.push_back((p[i / 2] >> (4 * (i % 2))) & 15); break;
            case DType::I2: { int x = (p[i / 4] >> (2 * (i % 4))) & 3; v.push_back(x >= 2 ? x - 4 : x); break; }
            case DType::U2: v.push_back((p[i / 4] >> (2 * (i % 4))) & 3); break;
            default: return t.to_i64();
        }
    }
    return v;
}

std::vector<uint8_t> bytes_of(const Tensor& t) { return {t.bytes().begin(), t.bytes().end()}; }

#define ASSERT_OK_AND(var, expr)                                        \
    auto var##_r = (expr);                                              \
    ASSERT_TRUE(var##_r.ok()) << var##_r.status().message();            \
    auto var = std::move(var##_r).value()

// ---------------- QuantizeLinear ----------------

TEST(QuantizeLinear, RoundsHalfToEven) {
    // x / scale: 2.5 -> 2, 3.5 -> 4, -2.5 -> -2, -3.5 -> -4, 0.5 -> 0, 1.5 -> 2, -0.5 -> 0 (int8, zp 0)
    ASSERT_OK_AND(o, run_node("QuantizeLinear", {f32({7}, {5, 7, -5, -7, 1, 3, -1}), f32({}, {2}), i8({}, {0})}));
    EXPECT_EQ(o[0].dtype(), DType::I8);
    EXPECT_EQ(ints(o[0]), (std::vector<int64_t>{2, 4, -2, -4, 0, 2, 0}));
}

TEST(QuantizeLinear, ZeroPointIsAddedAfterRounding) {
    // 2.5 -> 2 (+ zp 3 = 5), not round(2.5 + 3) = round(5.5) = 6
    ASSERT_OK_AND(o, run_node("QuantizeLinear", {f32({2}, {2.5f, 3.5f}), f32({}, {1}), u8({}, {3})}));
    EXPECT_EQ(ints(o[0]), (std::vector<int64_t>{5, 7}));
}

TEST(QuantizeLinear, SaturatesUint8AndInt8) {
    ASSERT_OK_AND(u, run_node("QuantizeLinear", {f32({5}, {-1, 300, 255.4f, 255.6f, -0.4f}), f32({}, {1}), u8({}, {0})}));
    EXPECT_EQ(ints(u[0]), (std::vector<int64_t>{0, 255, 255, 255, 0}));
    // -128.5 -> -128 (tie to even), 127.5 -> 128 -> 127, -1000 -> -128, zp 10 pushes 120 -> 127
    ASSERT_OK_AND(s, run_node("QuantizeLinear", {f32({4}, {-128.5f, 127.5f, -1000, 120}), f32({}, {1}), i8({}, {0})}));
    EXPECT_EQ(ints(s[0]), (std::vector<int64_t>{-128, 127, -128, 120}));
    ASSERT_OK_AND(z, run_node("QuantizeLinear", {f32({2}, {120, -200}), f32({}, {1}), i8({}, {10})}));
    EXPECT_EQ(ints(z[0]), (std::vector<int64_t>{127, -128}));
}

TEST(QuantizeLinear, DefaultsToUint8WithoutZeroPoint) {
    ASSERT_OK_AND(o, run_node("QuantizeLinear", {f32({3}, {-3, 10, 1000}), f32({}, {2})}));
    EXPECT_EQ(o[0].dtype(), DType::U8);
    EXPECT_EQ(ints(o[0]), (std::vector<int64_t>{0, 5, 255}));
}

TEST(QuantizeLinear, PerAxis) {
    // x [2, 3], axis 1: scales 1, 2, 4; zero points 0, 1, 2
    ASSERT_OK_AND(o, run_node("QuantizeLinear",
                              {f32({2, 3}, {1, 2, 4, 10, 10, 10}), f32({3}, {1, 2, 4}), u8({3}, {0, 1, 2})}));
    EXPECT_EQ(ints(o[0]), (std::vector<int64_t>{1, 2, 3, 10, 6, 4}));  // 10/4 = 2.5 -> 2, + 2
    // axis 0 on the same x: rows scaled by 1 and 10
    ASSERT_OK_AND(a0, run_node("QuantizeLinear", {f32({2, 3}, {1, 2, 4, 10, 20, 35}), f32({2}, {1, 10}), u8({2}, {0, 0})},
                               {{"axis", attr_int(0)}}));
    EXPECT_EQ(ints(a0[0]), (std::vector<int64_t>{1, 2, 4, 1, 2, 4}));  // 3.5 -> 4
    // negative axis
    ASSERT_OK_AND(an, run_node("QuantizeLinear", {f32({2, 3}, {1, 2, 4, 10, 10, 10}), f32({3}, {1, 2, 4})},
                               {{"axis", attr_int(-1)}}));
    EXPECT_EQ(ints(an[0]), (std::vector<int64_t>{1, 1, 1, 10, 5, 2}));
}

TEST(QuantizeLinear, BlockedWithShortLastBlock) {
    // x [2, 5], axis 1, block 2 -> scale [2, 3]; the last block holds one column
    const Tensor x = f32({2, 5}, {2, 4, 6, 8, 10, 3, 6, 9, 12, 15});
    const Tensor s = f32({2, 3}, {2, 4, 10, 1, 3, 5});
    const Tensor z = i8({2, 3}, {0, 1, -1, 0, 0, 2});
    ASSERT_OK_AND(o, run_node("QuantizeLinear", {x, s, z}, {{"axis", attr_int(1)}, {"block_size", attr_int(2)}}));
    // row 0: 2/2, 4/2, 6/4=1.5->2 +1, 8/4=2 +1, 10/10=1 -1 ; row 1: 3, 6, 9/3, 12/3, 15/5=3 +2
    EXPECT_EQ(ints(o[0]), (std::vector<int64_t>{1, 2, 3, 3, 0, 3, 6, 3, 4, 5}));
    // blocked along axis 0: x [3, 2], block 2 -> scale [2, 2]
    ASSERT_OK_AND(o0, run_node("QuantizeLinear", {f32({3, 2}, {1, 2, 3, 4, 5, 6}), f32({2, 2}, {1, 2, 10, 3})},
                               {{"axis", attr_int(0)}, {"block_size", attr_int(2)}}));
    EXPECT_EQ(ints(o0[0]), (std::vector<int64_t>{1, 1, 3, 2, 0, 2}));  // 5/10 = 0.5 -> 0
}

TEST(QuantizeLinear, OutputDtypeAttribute) {
    ASSERT_OK_AND(o, run_node("QuantizeLinear", {f32({3}, {-70000, 1.5f, 70000}), f32({}, {1})},
                              {{"output_dtype", attr_int(5)}}));  // INT16
    EXPECT_EQ(o[0].dtype(), DType::I16);
    EXPECT_EQ(ints(o[0]), (std::vector<int64_t>{-32768, 2, 32767}));
    ASSERT_OK_AND(u, run_node("QuantizeLinear", {f32({2}, {-1, 70000}), f32({}, {1}), Tensor(DType::U16, {})}));
    EXPECT_EQ(u[0].dtype(), DType::U16);
    EXPECT_EQ(ints(u[0]), (std::vector<int64_t>{0, 65535}));
}

TEST(QuantizeLinear, Int4PackingOddCount) {
    // 5 values -> 3 bytes; element 2i in the low nibble of byte i
    ASSERT_OK_AND(o, run_node("QuantizeLinear", {f32({5}, {1, -2, 7.4f, -9, 3}), f32({}, {1})},
                              {{"output_dtype", attr_int(22)}}));
    EXPECT_EQ(o[0].dtype(), DType::I4);
    EXPECT_EQ(o[0].nbytes(), 3u);
    EXPECT_EQ(bytes_of(o[0]), (std::vector<uint8_t>{0xE1, 0x87, 0x03}));
    // uint4 with a packed zero point of 3 elements (per axis)
    const Tensor zp = raw(DType::U4, {3}, {0x21, 0x03});  // 1, 2, 3
    ASSERT_OK_AND(u, run_node("QuantizeLinear", {f32({3}, {5, 20, -10}), f32({3}, {1, 1, 1}), zp}, {{"axis", attr_int(0)}}));
    EXPECT_EQ(u[0].dtype(), DType::U4);
    EXPECT_EQ(ints(u[0]), (std::vector<int64_t>{6, 15, 0}));
    EXPECT_EQ(bytes_of(u[0]), (std::vector<uint8_t>{0xF6, 0x00}));
}

TEST(QuantizeLinear, Int2AndUint2Packing) {
    // int2 range [-2, 1]; 5 values -> 2 bytes, four per byte from the low bits up
    ASSERT_OK_AND(o, run_node("QuantizeLinear", {f32({5}, {1, -1, 5, -5, 0}), f32({}, {1}), raw(DType::I2, {}, {0})}));
    EXPECT_EQ(o[0].dtype(), DType::I2);
    EXPECT_EQ(ints(o[0]), (std::vector<int64_t>{1, -1, 1, -2, 0}));
    EXPECT_EQ(bytes_of(o[0]), (std::vector<uint8_t>{0x01 | (0x3 << 2) | (0x1 << 4) | (0x2 << 6), 0x00}));
    ASSERT_OK_AND(u, run_node("QuantizeLinear", {f32({5}, {0, 1, 2, 3, 9}), f32({}, {1})}, {{"output_dtype", attr_int(25)}}));
    EXPECT_EQ(u[0].dtype(), DType::U2);
    EXPECT_EQ(bytes_of(u[0]), (std::vector<uint8_t>{0xE4, 0x03}));
}

TEST(QuantizeLinear, Float16ScaleDividesInFloat16) {
    // scale 0.1 in fp16 is 0.0999755859375; 0.25 / that = 2.5006.. -> 3 (in fp16: 2.5 -> 2)
    const Tensor s = Tensor::from_vector<uint16_t>(DType::F16, {}, {f32_to_fp16(0.1f)});
    ASSERT_OK_AND(o, run_node("QuantizeLinear", {f32({1}, {0.25f}), s, i8({}, {0})}));
    EXPECT_EQ(ints(o[0]), (std::vector<int64_t>{2}));
}

TEST(QuantizeLinear, Errors) {
    auto st = run_node("QuantizeLinear", {f32({2, 3}, {0, 0, 0, 0, 0, 0}), f32({3}, {1, 1, 1})}, {{"axis", attr_int(2)}});
    EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument) << st.status().message();
    st = run_node("QuantizeLinear", {f32({2, 3}, {0, 0, 0, 0, 0, 0}), f32({2}, {1, 1})});  // axis 1 has 3
    EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);
    st = run_node("QuantizeLinear", {f32({2}, {0, 0}), f32({}, {1}), i8({}, {0})}, {{"output_dtype", attr_int(2)}});
    EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);  // uint8 vs int8 zero point
    st = run_node("QuantizeLinear", {f32({2}, {0, 0}), f32({}, {1})}, {{"output_dtype", attr_int(17)}});
    EXPECT_EQ(st.status().code(), StatusCode::kUnsupported);  // float8
    st = run_node("QuantizeLinear", {f32({2, 4}, {0, 0, 0, 0, 0, 0, 0, 0}), f32({2, 3}, {1, 1, 1, 1, 1, 1})},
                  {{"axis", attr_int(1)}, {"block_size", attr_int(2)}});
    EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);  // ceil(4/2) = 2 blocks, not 3
    st = run_node("QuantizeLinear", {f32({2}, {0, 0}), f32({2}, {1, 1}), u8({3}, {0, 0, 0})}, {{"axis", attr_int(0)}});
    EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);  // zero point shape != scale shape
    st = run_node("QuantizeLinear", {f32({2}, {0, 0}), f32({2}, {1, 1})}, {{"axis", attr_int(0)}}, 10);
    EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);  // per-axis needs opset 13
}

// ---------------- DequantizeLinear ----------------

TEST(DequantizeLinear, PerTensorPerAxisBlocked) {
    ASSERT_OK_AND(o, run_node("DequantizeLinear", {u8({4}, {0, 3, 128, 255}), f32({}, {2}), u8({}, {128})}));
    EXPECT_EQ(o[0].dtype(), DType::F32);
    EXPECT_EQ(o[0].to_f32(), (std::vector<float>{-256, -250, 0, 254}));
    ASSERT_OK_AND(a, run_node("DequantizeLinear", {i8({2, 2}, {1, 2, 3, 4}), f32({2}, {1, 0.5f}), i8({2}, {0, 2})}));
    EXPECT_EQ(a[0].to_f32(), (std::vector<float>{1, 0, 3, 1}));
    ASSERT_OK_AND(b, run_node("DequantizeLinear", {i8({1, 3}, {4, 4, 4}), f32({1, 2}, {1, 3}), i8({1, 2}, {1, 2})},
                              {{"axis", attr_int(1)}, {"block_size", attr_int(2)}}));
    EXPECT_EQ(b[0].to_f32(), (std::vector<float>{3, 3, 6}));
}

TEST(DequantizeLinear, PackedInt4OddCountAndInt2) {
    const Tensor x = raw(DType::I4, {5}, {0xE1, 0x87, 0x03});  // 1, -2, 7, -8, 3
    ASSERT_OK_AND(o, run_node("DequantizeLinear", {x, f32({}, {0.5f}), raw(DType::I4, {}, {0x01})}));
    EXPECT_EQ(o[0].to_f32(), (std::vector<float>{0, -1.5f, 3, -4.5f, 1}));
    const Tensor x2 = raw(DType::U2, {5}, {0xE4, 0x03});  // 0, 1, 2, 3, 3
    ASSERT_OK_AND(u, run_node("DequantizeLinear", {x2, f32({}, {2})}));
    EXPECT_EQ(u[0].to_f32(), (std::vector<float>{0, 2, 4, 6, 6}));
}

TEST(DequantizeLinear, Int32BiasAndFloat16Scale) {
    ASSERT_OK_AND(o, run_node("DequantizeLinear", {i32({3}, {-1000000, 0, 123456}), f32({}, {0.25f})}));
    EXPECT_EQ(o[0].to_f32(), (std::vector<float>{-250000, 0, 30864}));
    const Tensor s = Tensor::from_vector<uint16_t>(DType::F16, {}, {f32_to_fp16(0.5f)});
    ASSERT_OK_AND(h, run_node("DequantizeLinear", {u8({2}, {10, 11}), s}));
    EXPECT_EQ(h[0].dtype(), DType::F16);
    EXPECT_EQ(h[0].to_f32(), (std::vector<float>{5, 5.5f}));
}

TEST(DequantizeLinear, Errors) {
    auto st = run_node("DequantizeLinear", {u8({2}, {0, 0}), f32({}, {1}), i8({}, {0})});
    EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument) << st.status().message();  // zp type mismatch
    st = run_node("DequantizeLinear", {f32({2}, {0, 0}), f32({}, {1})});
    EXPECT_EQ(st.status().code(), StatusCode::kUnsupported);
    st = run_node("DequantizeLinear", {u8({2, 2}, {0, 0, 0, 0}), f32({2}, {1, 1})}, {{"axis", attr_int(-3)}});
    EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);
}

// ---------------- DynamicQuantizeLinear ----------------

TEST(DynamicQuantizeLinear, SpecExample) {
    // The ONNX operator documentation's example: x = [0, 2, -3, -2.5, 1.34, 0.5]
    ASSERT_OK_AND(o, run_node("DynamicQuantizeLinear", {f32({6}, {0, 2, -3, -2.5f, 1.34f, 0.5f})}, {}, 11, 3));
    EXPECT_EQ(ints(o[0]), (std::vector<int64_t>{153, 255, 0, 26, 221, 179}));
    EXPECT_FLOAT_EQ(o[1].to_f32()[0], 5.0f / 255.0f);
    EXPECT_EQ(o[2].dtype(), DType::U8);
    EXPECT_EQ(ints(o[2]), (std::vector<int64_t>{153}));
    // all zeros: scale 1, zero point 0
    ASSERT_OK_AND(z, run_node("DynamicQuantizeLinear", {f32({2}, {0, 0})}, {}, 11, 3));
    EXPECT_EQ(z[1].to_f32()[0], 1.0f);
    EXPECT_EQ(ints(z[0]), (std::vector<int64_t>{0, 0}));
}

// ---------------- MatMulInteger / QLinearMatMul ----------------

TEST(MatMulInteger, ZeroPointsPerTensorAndPerColumn) {
    // A [2, 3] u8 - 1;  B [3, 2] i8 - [0, 2]
    const Tensor a = u8({2, 3}, {1, 2, 3, 4, 5, 6});
    const Tensor b = i8({3, 2}, {1, 2, 3, 4, -5, 6});
    ASSERT_OK_AND(o, run_node("MatMulInteger", {a, b, u8({}, {1}), i8({2}, {0, 2})}, {}, 10));
    // A' = [[0,1,2],[3,4,5]], B' = [[1,0],[3,2],[-5,4]]
    EXPECT_EQ(o[0].dtype(), DType::I32);
    EXPECT_EQ(o[0].shape(), (Shape{2, 2}));
    EXPECT_EQ(ints(o[0]), (std::vector<int64_t>{3 - 10, 2 + 8, 3 + 12 - 25, 8 + 20}));
    // per-row A zero point [M]
    ASSERT_OK_AND(r, run_node("MatMulInteger", {a, b, u8({2}, {1, 4})}, {}, 10));
    // A' = [[0,1,2],[0,1,2]], B = [[1,2],[3,4],[-5,6]]
    EXPECT_EQ(ints(r[0]), (std::vector<int64_t>{3 - 10, 4 + 12, 3 - 10, 4 + 12}));
}

TEST(MatMulInteger, BatchedBroadcastAndVectors) {
    // A [2, 1, 2], B [2, 1] -> [2, 1, 1]
    ASSERT_OK_AND(o, run_node("MatMulInteger", {u8({2, 1, 2}, {1, 2, 3, 4}), u8({2, 1}, {10, 1})}, {}, 10));
    EXPECT_EQ(o[0].shape(), (Shape{2, 1, 1}));
    EXPECT_EQ(ints(o[0]), (std::vector<int64_t>{12, 34}));
    // 1-D A: [2] @ [2, 3] -> [3]
    ASSERT_OK_AND(v, run_node("MatMulInteger", {u8({2}, {1, 2}), u8({2, 3}, {1, 2, 3, 4, 5, 6})}, {}, 10));
    EXPECT_EQ(v[0].shape(), (Shape{3}));
    EXPECT_EQ(ints(v[0]), (std::vector<int64_t>{9, 12, 15}));
    auto bad = run_node("MatMulInteger", {u8({2, 3}, {0, 0, 0, 0, 0, 0}), u8({2, 3}, {0, 0, 0, 0, 0, 0})}, {}, 10);
    EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
    bad = run_node("MatMulInteger", {u8({1, 1}, {0}), u8({1, 1}, {0}), i8({}, {0})}, {}, 10);
    EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST(QLinearMatMul, RequantizesHalfToEven) {
    // a [1, 2] (zp 1), b [2, 2] (zp 0); multiplier 0.5 * 1 / 1 = 0.5; + y_zp 10; 12.5 -> 12
    const Tensor a = u8({1, 2}, {2, 3});
    const Tensor b = u8({2, 2}, {1, 0, 2, 3});
    // a' = [1, 2]: acc = [1 + 4, 0 + 6] = [5, 6]
    ASSERT_OK_AND(o, run_node("QLinearMatMul", {a, f32({}, {0.5f}), u8({}, {1}), b, f32({}, {1}), u8({}, {0}),
                                                f32({}, {1}), u8({}, {10})},
                              {}, 10));
    EXPECT_EQ(ints(o[0]), (std::vector<int64_t>{12, 13}));
    // saturation to int8
    ASSERT_OK_AND(s, run_node("QLinearMatMul", {a, f32({}, {100}), u8({}, {1}), b, f32({}, {1}), u8({}, {0}),
                                                f32({}, {1}), i8({}, {-10})},
                              {}, 10));
    EXPECT_EQ(ints(s[0]), (std::vector<int64_t>{127, 127}));
}

TEST(QGemm, TransposedWeightsPerColumnZeroPointsBiasAndBothOutputs) {
    // A u8 [2, 2] zp 1 -> a' = [[1, 2], [3, 4]]; B stored [N, K] (transB) s8, zp per column [0, 1]:
    // op(B)' = [[1, 1], [0, -2]]; acc = a' op(B)' = [[1, -3], [3, -5]]; + C [10, -1] = [[11, -4], [13, -6]]
    const Tensor a = u8({2, 2}, {2, 3, 4, 5});
    const Tensor b = i8({2, 2}, {1, 0, 2, -1});
    const std::map<std::string, Attribute> tb{{"transB", attr_int(1)}};
    // float output: acc * a_scale 0.5 * b_scale [1, 2]
    ASSERT_OK_AND(f, run_node("QGemm", {a, f32({}, {0.5f}), u8({}, {1}), b, f32({2}, {1, 2}), i8({2}, {0, 1}),
                                        i32({2}, {10, -1})},
                              tb, 13, 1, "com.microsoft"));
    EXPECT_EQ(f[0].dtype(), DType::F32);
    EXPECT_EQ(f[0].to_f32(), (std::vector<float>{5.5f, -4.0f, 6.5f, -6.0f}));
    // quantized output: multipliers [0.5, 1], y_zp 128, ties to even: 133.5 -> 134, 134.5 -> 134
    ASSERT_OK_AND(q, run_node("QGemm", {a, f32({}, {0.5f}), u8({}, {1}), b, f32({2}, {1, 2}), i8({2}, {0, 1}),
                                        i32({2}, {10, -1}), f32({}, {1}), u8({}, {128})},
                              tb, 13, 1, "com.microsoft"));
    EXPECT_EQ(ints(q[0]), (std::vector<int64_t>{134, 124, 134, 122}));
    // an int32 C with alpha != 1 has no agreed scale: refused, not guessed
    auto bad = run_node("QGemm", {a, f32({}, {0.5f}), u8({}, {1}), b, f32({}, {1}), i8({}, {0}), i32({2}, {1, 1})},
                        {{"transB", attr_int(1)}, {"alpha", [] {
                              Attribute x;
                              x.kind = Attribute::Kind::Float;
                              x.f = 2.0f;
                              return x;
                          }()}},
                        13, 1, "com.microsoft");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.status().message().find("alpha"), std::string::npos) << bad.status().message();
}

// ---------------- ConvInteger / QLinearConv ----------------

TEST(ConvInteger, PaddingUsesTheZeroPoint) {
    // x 1x1x2x2 = [[2,3],[4,5]] with zp 1 -> [[1,2],[3,4]]; w 1x1x2x2 of ones; pads 1 -> 3x3 output
    const Tensor x = u8({1, 1, 2, 2}, {2, 3, 4, 5});
    const Tensor w = u8({1, 1, 2, 2}, {1, 1, 1, 1});
    ASSERT_OK_AND(o, run_node("ConvInteger", {x, w, u8({}, {1})}, {{"pads", attr_ints({1, 1, 1, 1})}}, 10));
    EXPECT_EQ(o[0].dtype(), DType::I32);
    EXPECT_EQ(o[0].shape(), (Shape{1, 1, 3, 3}));
    EXPECT_EQ(ints(o[0]), (std::vector<int64_t>{1, 3, 2, 4, 10, 6, 3, 7, 4}));
}

TEST(ConvInteger, StridesDilationsGroupsAndWeightZeroPoints) {
    // 1-D conv, 2 groups: x [1, 2, 5], w [2, 1, 2] with dilation 2, stride 2, w_zp per channel [1, 0]
    const Tensor x = u8({1, 2, 5}, {1, 2, 3, 4, 5, 10, 20, 30, 40, 50});
    const Tensor w = u8({2, 1, 2}, {2, 3, 1, 1});
    ASSERT_OK_AND(o, run_node("ConvInteger", {x, w, Tensor(), u8({2}, {1, 0})},
                              {{"group", attr_int(2)}, {"dilations", attr_ints({2})}, {"strides", attr_ints({2})}}, 10));
    // ch0: w' = [1, 2]: outputs at 0, 2: x0 + 2 x2 = 7, x2 + 2 x4 = 13; ch1: w' = [1, 1]: 40, 80
    EXPECT_EQ(o[0].shape(), (Shape{1, 2, 2}));
    EXPECT_EQ(ints(o[0]), (std::vector<int64_t>{7, 13, 40, 80}));
    // SAME_UPPER, stride 1, kernel 2: pad end by 1
    ASSERT_OK_AND(s, run_node("ConvInteger", {u8({1, 1, 3}, {1, 2, 3}), u8({1, 1, 2}, {1, 1})},
                              {{"auto_pad", attr_str("SAME_UPPER")}}, 10));
    EXPECT_EQ(ints(s[0]), (std::vector<int64_t>{3, 5, 3}));
    ASSERT_OK_AND(l, run_node("ConvInteger", {u8({1, 1, 3}, {1, 2, 3}), u8({1, 1, 2}, {1, 1})},
                              {{"auto_pad", attr_str("SAME_LOWER")}}, 10));
    EXPECT_EQ(ints(l[0]), (std::vector<int64_t>{1, 3, 5}));
}

TEST(ConvInteger, Errors) {
    auto st = run_node("ConvInteger", {u8({1, 2, 3}, {0, 0, 0, 0, 0, 0}), u8({1, 3, 1}, {0, 0, 0})}, {}, 10);
    EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument) << st.status().message();
    st = run_node("ConvInteger", {u8({1, 1, 2}, {0, 0}), u8({1, 1, 3}, {0, 0, 0})}, {}, 10);
    EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);
    st = run_node("ConvInteger", {u8({1, 1, 2}, {0, 0}), u8({1, 1, 1}, {0}), i8({}, {0})}, {}, 10);
    EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);
    st = run_node("ConvInteger", {u8({2}, {0, 0}), u8({1}, {0})}, {}, 10);
    EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);
}

TEST(QLinearConv, PerChannelScalesBiasAndRounding) {
    // x 1x1x1x2 = [3, 5] (zp 1) -> [2, 4]; w 2x1x1x1 = [1, -2] (i8, zp [0, 1] -> [1, -3]); bias [1, 0]
    // acc ch0 = [3, 5], ch1 = [-6, -12]; multipliers 1 * [0.5, 0.25] / 1 -> [1.5, 2.5] -> [2, 2]; [-1.5, -3] -> [-2, -3]
    const Tensor x = u8({1, 1, 1, 2}, {3, 5});
    const Tensor w = i8({2, 1, 1, 1}, {1, -2});
    ASSERT_OK_AND(o, run_node("QLinearConv", {x, f32({}, {1}), u8({}, {1}), w, f32({2}, {0.5f, 0.25f}), i8({2}, {0, 1}),
                                              f32({}, {1}), i8({}, {0}), i32({2}, {1, 0})},
                              {}, 10));
    EXPECT_EQ(o[0].dtype(), DType::I8);
    EXPECT_EQ(ints(o[0]), (std::vector<int64_t>{2, 2, -2, -3}));
    // uint8 output saturates at 0
    ASSERT_OK_AND(u, run_node("QLinearConv", {x, f32({}, {1}), u8({}, {1}), w, f32({2}, {0.5f, 0.25f}), i8({2}, {0, 1}),
                                              f32({}, {1}), u8({}, {1})},
                              {}, 10));
    EXPECT_EQ(ints(u[0]), (std::vector<int64_t>{2, 3, 0, 0}));  // [1, 2] + 1; [-1.5, -3] + 1 -> 0
}


// ---------------- properties over awkward sizes ----------------

TEST(QuantProperties, RoundTripWithinHalfStepAllTypesOddSizes) {
    // dequantize(quantize(x)) is within scale/2 (plus float32 rounding) of x wherever x is inside the type's range; packing of
    // sub-byte types is exercised at every size 1-17, 31, 33.
    struct T { int64_t onnx; DType dt; int lo, hi; };
    const T types[] = {{2, DType::U8, 0, 255}, {3, DType::I8, -128, 127}, {4, DType::U16, 0, 65535},
                       {5, DType::I16, -32768, 32767}, {21, DType::U4, 0, 15}, {22, DType::I4, -8, 7},
                       {25, DType::U2, 0, 3}, {26, DType::I2, -2, 1}};
    const uint32_t seed = 1234;
    std::mt19937 rng(seed);
    std::vector<int64_t> sizes;
    for (int64_t n = 1; n <= 17; ++n) sizes.push_back(n);
    sizes.push_back(31);
    sizes.push_back(33);
    for (const T& t : types) {
        for (int64_t n : sizes) {
            const float scale = 0.37f;
            std::uniform_real_distribution<float> dist(t.lo * scale, t.hi * scale);
            std::vector<float> x(static_cast<size_t>(n));
            for (auto& v : x) v = dist(rng);
            auto q = run_node("QuantizeLinear", {f32({n}, x), f32({}, {scale})}, {{"output_dtype", attr_int(t.onnx)}});
            ASSERT_TRUE(q.ok()) << q.status().message();
            ASSERT_EQ((*q)[0].dtype(), t.dt);
            auto d = run_node("DequantizeLinear", {(*q)[0], f32({}, {scale})});
            ASSERT_TRUE(d.ok()) << d.status().message();
            const auto y = (*d)[0].to_f32();
            for (int64_t i = 0; i < n; ++i) {
                ASSERT_LE(std::fabs(y[static_cast<size_t>(i)] - x[static_cast<size_t>(i)]), scale / 2 + std::fabs(x[static_cast<size_t>(i)]) * 1e-6f)  // + float32 rounding
                    << "seed " << seed << " type " << dtype_name(t.dt) << " n " << n << " at " << i << ": x "
                    << x[static_cast<size_t>(i)] << ", got " << y[static_cast<size_t>(i)];
            }
        }
    }
}

TEST(QuantProperties, PointwiseConvIntegerEqualsMatMulInteger) {
    // A 1x1 ConvInteger over [1, C, H, W] is MatMulInteger of W [M, C] with x as [C, H*W].
    const uint32_t seed = 99;
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> u(0, 255), s(-128, 127);
    for (int64_t C : {1, 3, 17}) {
        for (int64_t M : {1, 2, 5}) {
            const int64_t H = 3, W = 5;
            std::vector<uint8_t> xv(static_cast<size_t>(C * H * W));
            std::vector<int8_t> wv(static_cast<size_t>(M * C));
            for (auto& v : xv) v = static_cast<uint8_t>(u(rng));
            for (auto& v : wv) v = static_cast<int8_t>(s(rng));
            const uint8_t xz = static_cast<uint8_t>(u(rng));
            const int8_t wz = static_cast<int8_t>(s(rng));
            auto c = run_node("ConvInteger", {u8({1, C, H, W}, xv), i8({M, C, 1, 1}, wv), u8({}, {xz}), i8({}, {wz})}, {}, 10);
            ASSERT_TRUE(c.ok()) << c.status().message();
            auto m = run_node("MatMulInteger", {i8({M, C}, wv), u8({C, H * W}, xv), i8({}, {wz}), u8({}, {xz})}, {}, 10);
            ASSERT_TRUE(m.ok()) << m.status().message();
            EXPECT_EQ(ints((*c)[0]), ints((*m)[0])) << "seed " << seed << " C " << C << " M " << M;
        }
    }
}

TEST(QLinearOps, Errors) {
    const Tensor a = u8({2, 2}, {1, 2, 3, 4});
    auto st = run_node("QLinearMatMul", {a, f32({3}, {1, 1, 1}), u8({}, {0}), a, f32({}, {1}), u8({}, {0}), f32({}, {1}),
                                         u8({}, {0})}, {}, 10);
    EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument) << st.status().message();  // a_scale size 3 != M
    st = run_node("QLinearMatMul", {a, f32({}, {1}), i8({}, {0}), a, f32({}, {1}), u8({}, {0}), f32({}, {1}), u8({}, {0})},
                  {}, 10);
    EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);  // a_zero_point type
    const Tensor x = u8({1, 1, 2, 2}, {1, 2, 3, 4});
    const Tensor w = u8({1, 1, 1, 1}, {1});
    st = run_node("QLinearConv", {x, f32({}, {1}), u8({}, {0}), w, f32({}, {1}), u8({}, {0}), f32({}, {1}), u8({}, {0}),
                                  f32({1}, {0})}, {}, 10);
    EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);  // bias must be int32
    st = run_node("QLinearConv", {x, f32({}, {1}), u8({}, {0}), w, f32({2}, {1, 1}), u8({}, {0}), f32({}, {1}), u8({}, {0})},
                  {}, 10);
    EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);  // w_scale size 2 != M = 1
    st = run_node("QLinearConv", {x, f32({}, {1}), u8({}, {0}), w, f32({}, {1}), u8({}, {0}), f32({}, {1}), u8({}, {0})},
                  {{"kernel_shape", attr_ints({2, 2})}}, 10);
    EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);  // kernel_shape vs weight
}

}  // namespace
}  // namespace edgeq
