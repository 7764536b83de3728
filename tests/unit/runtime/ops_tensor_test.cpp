// Reference ops of the tensor and control families on one-node models: shapes, ONNX edge cases (negative
// indices, allowzero, clamped slices, pad modes, ties), every-dtype movement and control flow.
#include <gtest/gtest.h>

#include <memory>

#include "graph/graph.h"
#include "runtime/ref/executor.h"

namespace edgeq {
namespace {

using graph::Attribute;
using graph::Model;
using graph::Node;

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
Attribute str(std::string s) {
    Attribute a;
    a.kind = Attribute::Kind::String;
    a.s = std::move(s);
    return a;
}
Attribute graph_attr(graph::Graph g) {
    Attribute a;
    a.kind = Attribute::Kind::Graph;
    a.g = std::make_shared<graph::Graph>(std::move(g));
    return a;
}

Tensor f32(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(DType::F32, std::move(s), v); }
Tensor i64(Shape s, std::vector<int64_t> v) { return Tensor::from_vector<int64_t>(DType::I64, std::move(s), v); }
Tensor i64v(std::vector<int64_t> v) {
    const int64_t n = static_cast<int64_t>(v.size());
    return i64({n}, std::move(v));
}
Tensor boolean(bool b) { return Tensor::from_vector<uint8_t>(DType::BOOL, {}, {static_cast<uint8_t>(b)}); }

struct OneNode {
    Model model;
    std::map<std::string, Tensor> feeds;
    Node node;

    OneNode(const std::string& op, int64_t opset) {
        node.name = "n";
        node.op_type = op;
        model.opsets[""] = opset;
    }
    // Adds an input; an empty handle makes it an omitted optional input.
    OneNode& in(const Tensor& t) {
        if (t.empty_handle()) {
            node.inputs.push_back("");
            return *this;
        }
        const std::string name = "x" + std::to_string(node.inputs.size());
        node.inputs.push_back(name);
        graph::ValueInfo vi;
        vi.name = name;
        model.graph.inputs.push_back(vi);
        feeds[name] = t;
        return *this;
    }
    OneNode& attr(const std::string& k, Attribute a) {
        node.attrs[k] = std::move(a);
        return *this;
    }
    Result<std::vector<Tensor>> run(size_t n_out = 1) {
        for (size_t i = 0; i < n_out; ++i) {
            node.outputs.push_back("y" + std::to_string(i));
            graph::ValueInfo vi;
            vi.name = node.outputs.back();
            model.graph.outputs.push_back(vi);
        }
        model.graph.nodes.push_back(node);
        auto r = runtime::run_reference(model, feeds);
        if (!r.ok()) return r.status();
        std::vector<Tensor> outs;
        for (size_t i = 0; i < n_out; ++i) outs.push_back(r->at("y" + std::to_string(i)));
        return outs;
    }
};

void expect_f32(const Tensor& t, const Shape& shape, const std::vector<float>& v) {
    EXPECT_EQ(t.dtype(), DType::F32);
    EXPECT_EQ(t.shape(), shape);
    EXPECT_EQ(t.to_f32(), v);
}
void expect_i64(const Tensor& t, const Shape& shape, const std::vector<int64_t>& v) {
    EXPECT_EQ(t.dtype(), DType::I64);
    EXPECT_EQ(t.shape(), shape);
    EXPECT_EQ(t.to_i64(), v);
}

Tensor iota_f32(Shape s) {
    std::vector<float> v(static_cast<size_t>(shape_numel(s)));
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
    return f32(std::move(s), v);
}

TEST(RefTensor, ReshapeZeroAndMinusOne) {
    auto r = OneNode("Reshape", 13).in(iota_f32({2, 3, 4})).in(i64v({0, -1})).run();
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ((*r)[0].shape(), (Shape{2, 12}));
    auto z = OneNode("Reshape", 14).in(Tensor(DType::F32, {0, 3})).in(i64v({3, 0})).attr("allowzero", int1(1)).run();
    ASSERT_TRUE(z.ok()) << z.status().message();
    EXPECT_EQ((*z)[0].shape(), (Shape{3, 0}));
    auto bad = OneNode("Reshape", 13).in(iota_f32({2, 3})).in(i64v({4, -1})).run();
    EXPECT_FALSE(bad.ok());
}

TEST(RefTensor, FlattenSqueezeUnsqueeze) {
    auto f = OneNode("Flatten", 13).in(iota_f32({2, 3, 4})).attr("axis", int1(-1)).run();
    ASSERT_TRUE(f.ok());
    EXPECT_EQ((*f)[0].shape(), (Shape{6, 4}));
    auto s = OneNode("Squeeze", 11).in(iota_f32({1, 3, 1})).attr("axes", ints({-1})).run();
    ASSERT_TRUE(s.ok());
    EXPECT_EQ((*s)[0].shape(), (Shape{1, 3}));
    auto s13 = OneNode("Squeeze", 13).in(iota_f32({1, 3, 1})).run();
    ASSERT_TRUE(s13.ok());
    EXPECT_EQ((*s13)[0].shape(), (Shape{3}));
    auto u = OneNode("Unsqueeze", 13).in(iota_f32({3, 4})).in(i64v({3, 0})).run();
    ASSERT_TRUE(u.ok());
    EXPECT_EQ((*u)[0].shape(), (Shape{1, 3, 4, 1}));
    EXPECT_FALSE(OneNode("Squeeze", 13).in(iota_f32({2, 3})).in(i64v({0})).run().ok());
}

TEST(RefTensor, ShapeStartEnd) {
    auto r = OneNode("Shape", 15).in(iota_f32({2, 3, 4, 5})).attr("start", int1(-3)).attr("end", int1(-1)).run();
    ASSERT_TRUE(r.ok());
    expect_i64((*r)[0], {2}, {3, 4});
    auto c = OneNode("Shape", 15).in(iota_f32({2, 3})).attr("start", int1(-10)).attr("end", int1(10)).run();
    ASSERT_TRUE(c.ok());
    expect_i64((*c)[0], {2}, {2, 3});
}

TEST(RefTensor, TransposeAndInt4) {
    auto r = OneNode("Transpose", 13).in(iota_f32({2, 3})).run();
    ASSERT_TRUE(r.ok());
    expect_f32((*r)[0], {3, 2}, {0, 3, 1, 4, 2, 5});
    // int4 [2, 3] = [[1, -2, 3], [-4, 5, -6]] packed low nibble first
    Tensor q = Tensor::from_vector<uint8_t>(DType::I4, {2, 3}, {0xE1, 0xC3, 0xA5});
    auto t = OneNode("Transpose", 21).in(q).run();
    ASSERT_TRUE(t.ok()) << t.status().message();
    EXPECT_EQ((*t)[0].dtype(), DType::I4);
    EXPECT_EQ((*t)[0].to_i64(), (std::vector<int64_t>{1, -4, -2, 5, 3, -6}));
}

TEST(RefTensor, ConcatAndSplit) {
    auto c = OneNode("Concat", 13).in(iota_f32({2, 1})).in(iota_f32({2, 2})).attr("axis", int1(-1)).run();
    ASSERT_TRUE(c.ok());
    expect_f32((*c)[0], {2, 3}, {0, 0, 1, 1, 2, 3});
    auto s = OneNode("Split", 18).in(iota_f32({5})).attr("num_outputs", int1(3)).run(3);
    ASSERT_TRUE(s.ok()) << s.status().message();
    expect_f32((*s)[0], {2}, {0, 1});
    expect_f32((*s)[2], {1}, {4});
    auto v = OneNode("Split", 13).in(iota_f32({2, 4})).in(i64v({1, 3})).attr("axis", int1(1)).run(2);
    ASSERT_TRUE(v.ok());
    expect_f32((*v)[1], {2, 3}, {1, 2, 3, 5, 6, 7});
    EXPECT_FALSE(OneNode("Split", 13).in(iota_f32({5})).in(i64v({1, 3})).run(2).ok());
}

TEST(RefTensor, SliceClampsAndSteps) {
    auto r = OneNode("Slice", 13).in(iota_f32({10})).in(i64v({-1})).in(i64v({INT64_MIN})).in(Tensor()).in(i64v({-3})).run();
    ASSERT_TRUE(r.ok()) << r.status().message();
    expect_f32((*r)[0], {4}, {9, 6, 3, 0});
    auto o = OneNode("Slice", 13).in(iota_f32({2, 5})).in(i64v({1, 1000})).in(i64v({1000, 1000})).in(i64v({1, 0})).run();
    ASSERT_TRUE(o.ok());
    EXPECT_EQ((*o)[0].shape(), (Shape{0, 4}));  // axis 0 starts past its end
    auto old = OneNode("Slice", 9).in(iota_f32({3, 3})).attr("starts", ints({1})).attr("ends", ints({-1})).attr("axes", ints({1})).run();
    ASSERT_TRUE(old.ok());
    expect_f32((*old)[0], {3, 1}, {1, 4, 7});
    // rows of the last axis: contiguous (memcpy) and strided, with the outer axes sliced too
    auto rows = OneNode("Slice", 13).in(iota_f32({3, 4, 5})).in(i64v({1, 0, 1})).in(i64v({3, 4, 4})).in(Tensor()).in(i64v({1, 2, 1})).run();
    ASSERT_TRUE(rows.ok()) << rows.status().message();
    expect_f32((*rows)[0], {2, 2, 3}, {21, 22, 23, 31, 32, 33, 41, 42, 43, 51, 52, 53});
    auto strided = OneNode("Slice", 13).in(iota_f32({2, 6})).in(i64v({5})).in(i64v({-7})).in(i64v({1})).in(i64v({-2})).run();
    ASSERT_TRUE(strided.ok()) << strided.status().message();
    expect_f32((*strided)[0], {2, 3}, {5, 3, 1, 11, 9, 7});
}

TEST(RefTensor, PadModes) {
    auto p = [](const std::string& mode) {
        return OneNode("Pad", 19).in(f32({3}, {1, 2, 3})).in(i64v({2, 3})).attr("mode", str(mode)).run();
    };
    auto c = p("constant"), r = p("reflect"), e = p("edge"), w = p("wrap");
    ASSERT_TRUE(c.ok() && r.ok() && e.ok() && w.ok());
    expect_f32((*c)[0], {8}, {0, 0, 1, 2, 3, 0, 0, 0});
    expect_f32((*r)[0], {8}, {3, 2, 1, 2, 3, 2, 1, 2});
    expect_f32((*e)[0], {8}, {1, 1, 1, 2, 3, 3, 3, 3});
    expect_f32((*w)[0], {8}, {2, 3, 1, 2, 3, 1, 2, 3});
    auto v = OneNode("Pad", 18).in(iota_f32({2, 2})).in(i64v({1, -1})).in(Tensor::scalar_f32(9)).in(i64v({1})).run();
    ASSERT_TRUE(v.ok()) << v.status().message();
    expect_f32((*v)[0], {2, 2}, {9, 0, 9, 2});
    auto old = OneNode("Pad", 2).in(f32({2}, {1, 2})).attr("pads", ints({1, 0})).attr("value", [] {
        Attribute a;
        a.kind = Attribute::Kind::Float;
        a.f = 7;
        return a;
    }()).run();
    ASSERT_TRUE(old.ok());
    expect_f32((*old)[0], {3}, {7, 1, 2});
}

TEST(RefTensor, GatherFamily) {
    auto g = OneNode("Gather", 13).in(iota_f32({3, 2})).in(i64({2}, {-1, 0})).run();
    ASSERT_TRUE(g.ok());
    expect_f32((*g)[0], {2, 2}, {4, 5, 0, 1});
    EXPECT_FALSE(OneNode("Gather", 13).in(iota_f32({3, 2})).in(i64({1}, {3})).run().ok());
    auto ge = OneNode("GatherElements", 13).in(iota_f32({2, 2})).in(i64({2, 2}, {0, 0, 1, 0})).attr("axis", int1(1)).run();
    ASSERT_TRUE(ge.ok());
    expect_f32((*ge)[0], {2, 2}, {0, 0, 3, 2});
    auto nd = OneNode("GatherND", 13).in(iota_f32({2, 2, 2})).in(i64({2, 1}, {1, 0})).attr("batch_dims", int1(1)).run();
    ASSERT_TRUE(nd.ok()) << nd.status().message();
    expect_f32((*nd)[0], {2, 2}, {2, 3, 4, 5});
}

TEST(RefTensor, ScatterFamily) {
    auto se = OneNode("ScatterElements", 18).in(f32({1, 5}, {1, 2, 3, 4, 5})).in(i64({1, 2}, {1, 1}))
                  .in(f32({1, 2}, {1.1f, 2.1f})).attr("axis", int1(1)).attr("reduction", str("add")).run();
    ASSERT_TRUE(se.ok()) << se.status().message();
    expect_f32((*se)[0], {1, 5}, {1, 2 + 1.1f + 2.1f, 3, 4, 5});
    auto nd = OneNode("ScatterND", 16).in(iota_f32({4})).in(i64({2, 1}, {-1, 0})).in(f32({2}, {9, 8})).run();
    ASSERT_TRUE(nd.ok());
    expect_f32((*nd)[0], {4}, {8, 1, 2, 9});
    EXPECT_FALSE(OneNode("ScatterND", 16).in(iota_f32({4})).in(i64({1, 1}, {4})).in(f32({1}, {9})).run().ok());
}

TEST(RefTensor, TopKTiesAndUnique) {
    auto t = OneNode("TopK", 11).in(f32({5}, {1, 3, 3, 2, 3})).in(i64v({2})).run(2);
    ASSERT_TRUE(t.ok());
    expect_f32((*t)[0], {2}, {3, 3});
    expect_i64((*t)[1], {2}, {1, 2});
    auto s = OneNode("TopK", 11).in(f32({5}, {1, 3, 3, 2, 3})).in(i64v({2})).attr("largest", int1(0)).run(2);
    ASSERT_TRUE(s.ok());
    expect_i64((*s)[1], {2}, {0, 3});
    auto u = OneNode("Unique", 11).in(f32({6}, {2, 1, 1, 3, 4, 3})).attr("sorted", int1(0)).run(4);
    ASSERT_TRUE(u.ok());
    expect_f32((*u)[0], {4}, {2, 1, 3, 4});
    expect_i64((*u)[1], {4}, {0, 1, 3, 4});
    expect_i64((*u)[2], {6}, {0, 1, 1, 2, 3, 2});
    expect_i64((*u)[3], {4}, {1, 2, 2, 1});
    auto ua = OneNode("Unique", 11).in(f32({3, 2}, {1, 0, 0, 1, 1, 0})).attr("axis", int1(0)).run(4);
    ASSERT_TRUE(ua.ok());
    expect_f32((*ua)[0], {2, 2}, {0, 1, 1, 0});
    expect_i64((*ua)[2], {3}, {1, 0, 1});
}

TEST(RefTensor, MiscOps) {
    auto oh = OneNode("OneHot", 11).in(i64v({0, -1, 5})).in(i64({}, {3})).in(f32({2}, {0, 1})).run();
    ASSERT_TRUE(oh.ok());
    expect_f32((*oh)[0], {3, 3}, {1, 0, 0, 0, 0, 1, 0, 0, 0});
    auto nz = OneNode("NonZero", 13).in(f32({2, 2}, {1, 0, 1, 1})).run();
    ASSERT_TRUE(nz.ok());
    expect_i64((*nz)[0], {2, 3}, {0, 1, 1, 0, 0, 1});
    auto tr = OneNode("Trilu", 14).in(iota_f32({2, 3})).in(i64({}, {1})).attr("upper", int1(0)).run();
    ASSERT_TRUE(tr.ok());
    expect_f32((*tr)[0], {2, 3}, {0, 1, 0, 3, 4, 5});
    auto rg = OneNode("Range", 11).in(Tensor::from_vector<int32_t>(DType::I32, {}, {10}))
                  .in(Tensor::from_vector<int32_t>(DType::I32, {}, {4}))
                  .in(Tensor::from_vector<int32_t>(DType::I32, {}, {-3})).run();
    ASSERT_TRUE(rg.ok());
    EXPECT_EQ((*rg)[0].to_i64(), (std::vector<int64_t>{10, 7}));
    auto ex = OneNode("Expand", 13).in(f32({3, 1}, {1, 2, 3})).in(i64v({2, 1, 2})).run();
    ASSERT_TRUE(ex.ok());
    expect_f32((*ex)[0], {2, 3, 2}, {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3});
    auto ti = OneNode("Tile", 13).in(f32({2}, {1, 2})).in(i64v({2})).run();
    ASSERT_TRUE(ti.ok());
    expect_f32((*ti)[0], {4}, {1, 2, 1, 2});
    auto cs = OneNode("Compress", 11).in(iota_f32({3, 2})).in(Tensor::from_vector<uint8_t>(DType::BOOL, {2}, {0, 1})).attr("axis", int1(0)).run();
    ASSERT_TRUE(cs.ok());
    expect_f32((*cs)[0], {1, 2}, {2, 3});
    auto rs = OneNode("ReverseSequence", 10).in(iota_f32({3, 2})).in(i64v({3, 1})).run();  // time 0, batch 1
    ASSERT_TRUE(rs.ok()) << rs.status().message();
    expect_f32((*rs)[0], {3, 2}, {4, 1, 2, 3, 0, 5});
    auto cos = OneNode("ConstantOfShape", 9).in(i64v({2, 2})).attr("value", [] {
        Attribute a;
        a.kind = Attribute::Kind::Tensor;
        a.t = Tensor::from_vector<int32_t>(DType::I32, {1}, {7});
        return a;
    }()).run();
    ASSERT_TRUE(cos.ok());
    EXPECT_EQ((*cos)[0].dtype(), DType::I32);
    EXPECT_EQ((*cos)[0].to_i64(), (std::vector<int64_t>{7, 7, 7, 7}));
    auto ey = OneNode("EyeLike", 9).in(iota_f32({2, 3})).attr("k", int1(1)).attr("dtype", int1(7)).run();
    ASSERT_TRUE(ey.ok());
    expect_i64((*ey)[0], {2, 3}, {0, 1, 0, 0, 0, 1});
}

// A body graph: inputs/outputs by name, nodes given.
graph::Graph body(std::vector<std::string> ins, std::vector<std::string> outs, std::vector<Node> nodes) {
    graph::Graph g;
    g.name = "body";
    for (auto& n : ins) g.inputs.push_back({n, {}, 0, false, {}});
    for (auto& n : outs) g.outputs.push_back({n, {}, 0, false, {}});
    g.nodes = std::move(nodes);
    return g;
}
Node node(std::string op, std::vector<std::string> in, std::vector<std::string> out) {
    Node n;
    n.name = op + "_" + out[0];
    n.op_type = std::move(op);
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    return n;
}

TEST(RefControl, IfUsesOuterScope) {
    // then: Identity(x1) ; else: Shape(x1)... both read the outer input x1
    auto r = OneNode("If", 13).in(boolean(false)).in(f32({2}, {5, 6}))
                 .attr("then_branch", graph_attr(body({}, {"t"}, {node("Identity", {"x1"}, {"t"})})))
                 .attr("else_branch", graph_attr(body({}, {"e"}, {node("Shape", {"x1"}, {"e"})})))
                 .run();
    // x1 is a node input of nothing but the If's subgraph: pass it as an extra (unused) node input.
    ASSERT_TRUE(r.ok()) << r.status().message();
    expect_i64((*r)[0], {1}, {2});
}

TEST(RefControl, LoopCarriedAndScanOutputs) {
    // body(i, cond, acc): acc2 = Concat? keep it simple: sum = Add unsupported here, use Concat.
    Node cat = node("Concat", {"acc", "acc"}, {"acc2"});
    cat.attrs["axis"] = int1(0);
    auto r = OneNode("Loop", 13).in(i64({}, {3})).in(Tensor()).in(f32({1}, {1}))
                 .attr("body", graph_attr(body({"i", "c", "acc"}, {"c_out", "acc2", "i_out"},
                                               {cat, node("Identity", {"c"}, {"c_out"}), node("Identity", {"i"}, {"i_out"})})))
                 .run(2);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ((*r)[0].shape(), (Shape{8}));
    expect_i64((*r)[1], {3}, {0, 1, 2});
}

TEST(RefControl, ScanReverse) {
    // state s, scan input x: s' = x (Identity), out = s; reversed input
    auto r = OneNode("Scan", 11).in(f32({1}, {0})).in(f32({3, 1}, {1, 2, 3}))
                 .attr("num_scan_inputs", int1(1)).attr("scan_input_directions", ints({1}))
                 .attr("body", graph_attr(body({"s", "x"}, {"s2", "o"}, {node("Identity", {"x"}, {"s2"}), node("Identity", {"s"}, {"o"})})))
                 .run(2);
    ASSERT_TRUE(r.ok()) << r.status().message();
    expect_f32((*r)[0], {1}, {1});
    expect_f32((*r)[1], {3, 1}, {0, 3, 2});
}


// The If's branches read 'z', produced by a node listed after it, and 'x', whose last direct use comes
// before the If: the executor must order by and keep alive the subgraphs' outer reads.
TEST(RefControl, SubgraphOuterReadsOrderAndLifetime) {
    Model m;
    m.opsets[""] = 13;
    m.graph.inputs = {{"c", DType::BOOL, 0, false, {}}, {"x", DType::F32, 0, false, {}}};
    m.graph.outputs = {{"y0", {}, 0, false, {}}, {"y1", {}, 0, false, {}}};
    Node iff = node("If", {"c"}, {"y1"});
    iff.attrs["then_branch"] = graph_attr(body({}, {"t"}, {node("Concat", {"z", "x"}, {"t"})}));
    iff.attrs["then_branch"].g->nodes[0].attrs["axis"] = int1(0);
    iff.attrs["else_branch"] = graph_attr(body({}, {"x"}, {}));  // output names the outer value directly
    m.graph.nodes = {iff, node("Identity", {"x"}, {"z"}), node("Identity", {"z"}, {"y0"})};
    for (bool c : {true, false}) {
        auto r = runtime::run_reference(m, {{"c", boolean(c)}, {"x", f32({1}, {4})}});
        ASSERT_TRUE(r.ok()) << r.status().message();
        EXPECT_EQ(r->at("y1").to_f32(), (c ? std::vector<float>{4, 4} : std::vector<float>{4}));
    }
}


// Bad shapes, indices and sizes are errors naming the node (never an abort in the allocator or UB).
TEST(RefTensor, BadInputsAreErrors) {
    const int64_t big = int64_t{1} << 40;
    struct Case {
        const char* what;
        Result<std::vector<Tensor>> r;
    };
    std::vector<Case> cases;
    cases.push_back({"expand huge", OneNode("Expand", 13).in(iota_f32({1})).in(i64v({big, big})).run()});
    cases.push_back({"expand negative", OneNode("Expand", 13).in(iota_f32({1})).in(i64v({-2})).run()});
    cases.push_back({"tile huge", OneNode("Tile", 13).in(iota_f32({2})).in(i64v({INT64_MAX})).run()});
    cases.push_back({"cos huge", OneNode("ConstantOfShape", 9).in(i64v({big, big, big})).run()});
    cases.push_back({"cos negative", OneNode("ConstantOfShape", 9).in(i64v({-1})).run()});
    cases.push_back({"range nan", OneNode("Range", 11).in(Tensor::scalar_f32(0)).in(Tensor::scalar_f32(1))
                                         .in(Tensor::scalar_f32(0.0f / 0.0f)).run()});
    cases.push_back({"range huge", OneNode("Range", 11).in(i64({}, {0})).in(i64({}, {INT64_MAX})).in(i64({}, {1})).run()});
    cases.push_back({"pad huge", OneNode("Pad", 13).in(iota_f32({2})).in(i64v({INT64_MAX, 0})).run()});
    cases.push_back({"pad crop", OneNode("Pad", 13).in(iota_f32({2})).in(i64v({-2, -1})).run()});
    cases.push_back({"onehot huge", OneNode("OneHot", 11).in(i64v({0})).in(i64({}, {big * 1024})).in(f32({2}, {0, 1})).run()});
    cases.push_back({"gather oob", OneNode("Gather", 13).in(iota_f32({2})).in(i64({}, {-3})).run()});
    cases.push_back({"gather float idx", OneNode("Gather", 13).in(iota_f32({2})).in(f32({1}, {0})).run()});
    cases.push_back({"gnd k", OneNode("GatherND", 13).in(iota_f32({2})).in(i64({1, 2}, {0, 0})).run()});
    cases.push_back({"ge rank", OneNode("GatherElements", 13).in(iota_f32({2, 2})).in(i64({2}, {0, 0})).run()});
    cases.push_back({"se oob", OneNode("ScatterElements", 13).in(iota_f32({2})).in(i64({1}, {2})).in(f32({1}, {1})).run()});
    cases.push_back({"snd shape", OneNode("ScatterND", 13).in(iota_f32({2, 2})).in(i64({1, 1}, {0})).in(f32({1}, {1})).run()});
    cases.push_back({"reshape -1 -1", OneNode("Reshape", 13).in(iota_f32({4})).in(i64v({-1, -1})).run()});
    cases.push_back({"reshape 0 oob", OneNode("Reshape", 13).in(iota_f32({4})).in(i64v({4, 0})).run()});
    cases.push_back({"concat shapes", OneNode("Concat", 13).in(iota_f32({2, 2})).in(iota_f32({2, 3})).attr("axis", int1(0)).run()});
    cases.push_back({"concat no axis", OneNode("Concat", 13).in(iota_f32({2})).run()});
    cases.push_back({"split sum", OneNode("Split", 13).in(iota_f32({4})).in(i64v({1, 1})).run(2)});
    cases.push_back({"split uneven", OneNode("Split", 13).in(iota_f32({5})).run(2)});
    cases.push_back({"transpose perm", OneNode("Transpose", 13).in(iota_f32({2, 2})).attr("perm", ints({0, 0})).run()});
    cases.push_back({"trilu rank", OneNode("Trilu", 14).in(iota_f32({3})).run()});
    cases.push_back({"compress long", OneNode("Compress", 11).in(iota_f32({2})).in(Tensor::from_vector<uint8_t>(DType::BOOL, {3}, {0, 0, 1})).run()});
    cases.push_back({"unsqueeze dup", OneNode("Unsqueeze", 13).in(iota_f32({2})).in(i64v({0, 0})).run()});
    cases.push_back({"unsqueeze axis", OneNode("Unsqueeze", 13).in(iota_f32({2})).in(i64v({5})).run()});
    cases.push_back({"topk k", OneNode("TopK", 11).in(iota_f32({2})).in(i64v({3})).run(2)});
    cases.push_back({"slice step 0", OneNode("Slice", 13).in(iota_f32({2})).in(i64v({0})).in(i64v({2})).in(i64v({0})).in(i64v({0})).run()});
    cases.push_back({"revseq len", OneNode("ReverseSequence", 10).in(iota_f32({2, 2})).in(i64v({3, 1})).run()});
    cases.push_back({"block type", OneNode("Transpose", 13).in(Tensor(DType::Q4_0, {1, 32})).run()});
    cases.push_back({"if cond", OneNode("If", 13).in(Tensor::from_vector<uint8_t>(DType::BOOL, {2}, {1, 1}))
                                      .attr("then_branch", graph_attr(body({}, {}, {})))
                                      .attr("else_branch", graph_attr(body({}, {}, {})))
                                      .run(0)});
    cases.push_back({"loop forever", OneNode("Loop", 13).in(Tensor()).in(Tensor())
                                         .attr("body", graph_attr(body({"i", "c"}, {"c"}, {}))).run(0)});
    for (const auto& c : cases) {
        EXPECT_FALSE(c.r.ok()) << c.what;
        if (!c.r.ok()) {
            EXPECT_NE(c.r.status().message().find("node 'n'"), std::string::npos) << c.what << ": " << c.r.status().message();
        }
    }
    // A step of INT64_MIN is legal and takes the last element only.
    auto s = OneNode("Slice", 13).in(iota_f32({3})).in(i64v({-1})).in(i64v({INT64_MIN})).in(i64v({0})).in(i64v({INT64_MIN})).run();
    ASSERT_TRUE(s.ok()) << s.status().message();
    expect_f32((*s)[0], {1}, {2});
}

// Element movement copies bytes, so every dtype works the same: F16, I64, BOOL and packed U4.
TEST(RefTensor, EveryDtypeMoves) {
    const Tensor h = Tensor::from_vector<uint16_t>(DType::F16, {2, 2}, {0x3C00, 0x4000, 0x4200, 0x4400});  // 1 2 3 4
    auto t = OneNode("Transpose", 13).in(h).run();
    ASSERT_TRUE(t.ok());
    EXPECT_EQ((*t)[0].dtype(), DType::F16);
    EXPECT_EQ((*t)[0].to_f32(), (std::vector<float>{1, 3, 2, 4}));
    auto k = OneNode("TopK", 11).in(h).in(i64v({1})).run(2);
    ASSERT_TRUE(k.ok());
    EXPECT_EQ((*k)[0].to_f32(), (std::vector<float>{2, 4}));
    auto g = OneNode("Gather", 13).in(i64({3}, {INT64_MAX, -5, 7})).in(i64v({0, 2})).run();
    ASSERT_TRUE(g.ok());
    expect_i64((*g)[0], {2}, {INT64_MAX, 7});
    auto b = OneNode("Slice", 13).in(Tensor::from_vector<uint8_t>(DType::BOOL, {3}, {1, 0, 1})).in(i64v({1})).in(i64v({3})).run();
    ASSERT_TRUE(b.ok());
    EXPECT_EQ((*b)[0].dtype(), DType::BOOL);
    EXPECT_EQ((*b)[0].to_i64(), (std::vector<int64_t>{0, 1}));
    // U4 [5] = 1 2 3 4 5 -> Concat with itself -> 10 elements, packed
    const Tensor u4 = Tensor::from_vector<uint8_t>(DType::U4, {5}, {0x21, 0x43, 0x05});
    auto c = OneNode("Concat", 21).in(u4).in(u4).attr("axis", int1(0)).run();
    ASSERT_TRUE(c.ok()) << c.status().message();
    EXPECT_EQ((*c)[0].dtype(), DType::U4);
    EXPECT_EQ((*c)[0].nbytes(), 5u);
    EXPECT_EQ((*c)[0].to_i64(), (std::vector<int64_t>{1, 2, 3, 4, 5, 1, 2, 3, 4, 5}));
    auto r = OneNode("Reshape", 21).in(u4).in(i64v({5, 1})).run();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ((*r)[0].to_i64(), (std::vector<int64_t>{1, 2, 3, 4, 5}));
    auto hr = OneNode("Range", 11).in(Tensor::from_vector<uint16_t>(DType::F16, {}, {0x3C00}))
                  .in(Tensor::from_vector<uint16_t>(DType::F16, {}, {0x4400}))
                  .in(Tensor::from_vector<uint16_t>(DType::F16, {}, {0x3C00})).run();
    ASSERT_TRUE(hr.ok()) << hr.status().message();
    EXPECT_EQ((*hr)[0].dtype(), DType::F16);
    EXPECT_EQ((*hr)[0].to_f32(), (std::vector<float>{1, 2, 3}));
    auto sc = OneNode("ScatterElements", 18).in(i64({3}, {5, 1, 9})).in(i64({2}, {0, 0}))
                  .in(i64({2}, {7, 2})).attr("reduction", str("max")).run();
    ASSERT_TRUE(sc.ok());
    expect_i64((*sc)[0], {3}, {7, 1, 9});
}

TEST(RefControl, ScanOpset8BatchAndAxes) {
    // opset 8: sequence_lens omitted, batch 2, seq 2: state accumulates by Concat? use Identity: last x.
    auto r = OneNode("Scan", 8).in(Tensor()).in(f32({2, 1}, {0, 0})).in(f32({2, 2, 1}, {1, 2, 3, 4}))
                 .attr("num_scan_inputs", int1(1))
                 .attr("body", graph_attr(body({"s", "x"}, {"s2", "o"}, {node("Identity", {"x"}, {"s2"}), node("Identity", {"s"}, {"o"})})))
                 .run(2);
    ASSERT_TRUE(r.ok()) << r.status().message();
    expect_f32((*r)[0], {2, 1}, {2, 4});
    expect_f32((*r)[1], {2, 2, 1}, {0, 1, 0, 3});
    // opset 11: scan over axis 1, output stacked on axis 1 and reversed
    auto a = OneNode("Scan", 11).in(f32({2, 3}, {0, 1, 2, 3, 4, 5}))
                 .attr("num_scan_inputs", int1(1)).attr("scan_input_axes", ints({1}))
                 .attr("scan_output_axes", ints({-1})).attr("scan_output_directions", ints({1}))
                 .attr("body", graph_attr(body({"x"}, {"o"}, {node("Identity", {"x"}, {"o"})})))
                 .run(1);
    ASSERT_TRUE(a.ok()) << a.status().message();
    expect_f32((*a)[0], {2, 3}, {2, 1, 0, 5, 4, 3});
}


// A Loop whose body holds an If that reads the outer 'x' (two levels up), after x's last direct use.
TEST(RefControl, NestedSubgraphReadsOuterValue) {
    Model m;
    m.opsets[""] = 13;
    m.graph.inputs = {{"x", DType::F32, 0, false, {}}, {"m", DType::I64, 0, false, {}}};
    m.graph.outputs = {{"y0", {}, 0, false, {}}, {"y1", {}, 0, false, {}}};
    Node iff = node("If", {"c"}, {"t"});
    iff.attrs["then_branch"] = graph_attr(body({}, {"tt"}, {node("Identity", {"x"}, {"tt"})}));
    iff.attrs["else_branch"] = graph_attr(body({}, {"x"}, {}));
    Node loop = node("Loop", {"m", ""}, {"y1"});
    loop.attrs["body"] = graph_attr(body({"i", "c"}, {"c_out", "t"}, {iff, node("Identity", {"c"}, {"c_out"})}));
    m.graph.nodes = {node("Identity", {"x"}, {"y0"}), loop};
    auto r = runtime::run_reference(m, {{"x", f32({1}, {3})}, {"m", i64({}, {2})}});
    ASSERT_TRUE(r.ok()) << r.status().message();
    expect_f32(r->at("y1"), {2, 1}, {3, 3});
}

}  // namespace
}  // namespace edgeq
