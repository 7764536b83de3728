// Constant folding and fp16 / bf16 weights: with keep_weight_dequantize (what the fast executor's Session sets)
// Cast(to = FLOAT) of an F16 / BF16 initializer stays, so runtime/fast/half_gemm.h can pack the 16-bit weights;
// without it, or when another node reads the widened weight, the Cast folds into a float initializer as before.
// A Cast of a float initializer folds either way.
#include <gtest/gtest.h>

#include "common/graph_io.h"
#include "core/fp16.h"
#include "passes/optimize.h"

namespace edgeq {
namespace {

graph::Model cast_model(DType wt, bool other_reader = false) {
    graph::Model m = test::model_x_to_y("half", {2, 4});
    Tensor w(wt, {4, 3});
    for (int64_t i = 0; i < w.numel(); ++i) {
        const float v = 0.25f * static_cast<float>(i) - 1.0f;
        if (wt == DType::F32) w.data<float>()[i] = v;
        else w.data<uint16_t>()[i] = wt == DType::F16 ? f32_to_fp16(v) : f32_to_bf16(v);
    }
    m.graph.initializers["w16"] = w;
    graph::Node cast;
    cast.name = "cast";
    cast.op_type = "Cast";
    cast.inputs = {"w16"};
    cast.outputs = {"w"};
    cast.attrs["to"].kind = graph::Attribute::Kind::Int;
    cast.attrs["to"].i = 1;
    m.graph.nodes.push_back(cast);
    graph::Node mm;
    mm.name = "mm";
    mm.op_type = "MatMul";
    mm.inputs = {"x", "w"};
    mm.outputs = {"y"};
    m.graph.nodes.push_back(mm);
    if (other_reader) {  // w also read by a node that is not a Gemm / MatMul B: the Cast folds
        graph::Node id;
        id.name = "id";
        id.op_type = "Identity";
        id.inputs = {"w"};
        id.outputs = {"w_copy"};
        m.graph.nodes.push_back(id);
        graph::ValueInfo o;
        o.name = "w_copy";
        m.graph.outputs.push_back(o);
    }
    return m;
}

bool has_cast(const graph::Model& m) {
    for (const auto& n : m.graph.nodes)
        if (n.op_type == "Cast") return true;
    return false;
}

TEST(OptimizeHalf, KeepsCastOfHalfWeightsOnlyWhenAsked) {
    for (DType t : {DType::F16, DType::BF16}) {
        graph::Model kept = cast_model(t), folded = cast_model(t);
        passes::OptimizeOptions keep;
        keep.keep_weight_dequantize = true;
        ASSERT_TRUE(passes::optimize(kept, keep).ok());
        EXPECT_TRUE(has_cast(kept)) << dtype_name(t);
        EXPECT_TRUE(kept.graph.initializers.count("w16")) << dtype_name(t);
        ASSERT_TRUE(passes::optimize(folded).ok());
        EXPECT_FALSE(has_cast(folded)) << dtype_name(t);
    }
    passes::OptimizeOptions keep;
    keep.keep_weight_dequantize = true;
    graph::Model shared = cast_model(DType::F16, true);
    ASSERT_TRUE(passes::optimize(shared, keep).ok());
    EXPECT_FALSE(has_cast(shared));
    graph::Model f32 = cast_model(DType::F32);
    ASSERT_TRUE(passes::optimize(f32, keep).ok());
    EXPECT_FALSE(has_cast(f32));
}

}  // namespace
}  // namespace edgeq
