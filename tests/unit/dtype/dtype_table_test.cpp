// The dtype table (dtype.def) against independent facts: block struct sizes from blocks.h, ggml's block
// sizes for the storage-only types (derived from ggml's struct layouts), GGUF type ids (FORMATS.md),
// unique ids and names, lookups in both directions, and the raw integer formats' packing.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "dtype/blocks.h"
#include "edgeq/dtype.h"

namespace edgeq {
namespace {

struct Expect {
    uint32_t id;
    int64_t block_size;
    size_t type_size;
};

// Independent expectations. Block formats: sizeof of the blocks.h struct; storage-only ggml types: their
// ggml struct layouts spelled out (fp16 d = 2 bytes, QK_K = 256).
std::map<std::string, Expect> expectations() {
    return {
        {"F32", {0, 1, 4}},
        {"F16", {1, 1, 2}},
        {"Q4_0", {2, QK4_0, sizeof(block_q4_0)}},
        {"Q4_1", {3, QK4_1, sizeof(block_q4_1)}},
        {"Q5_0", {6, QK5_0, sizeof(block_q5_0)}},
        {"Q5_1", {7, QK5_1, sizeof(block_q5_1)}},
        {"Q8_0", {8, QK8_0, sizeof(block_q8_0)}},
        {"Q8_1", {9, QK8_1, sizeof(block_q8_1)}},
        {"Q2_K", {10, QK_K, sizeof(block_q2_K)}},
        {"Q3_K", {11, QK_K, sizeof(block_q3_K)}},
        {"Q4_K", {12, QK_K, sizeof(block_q4_K)}},
        {"Q5_K", {13, QK_K, sizeof(block_q5_K)}},
        {"Q6_K", {14, QK_K, sizeof(block_q6_K)}},
        {"Q8_K", {15, QK_K, sizeof(block_q8_K)}},
        {"IQ2_XXS", {16, QK_K, 2 + 2 * (QK_K / 8)}},                    // d, u16 qs[QK_K/8]
        {"IQ2_XS", {17, QK_K, 2 + 2 * (QK_K / 8) + QK_K / 32}},         // d, u16 qs[QK_K/8], scales
        {"IQ3_XXS", {18, QK_K, 2 + 3 * (QK_K / 8)}},                    // d, qs[3*QK_K/8]
        {"IQ1_S", {19, QK_K, 2 + QK_K / 8 + 2 * (QK_K / 32)}},          // d, qs, u16 qh
        {"IQ4_NL", {20, QK4_NL, sizeof(block_iq4_nl)}},
        {"IQ3_S", {21, QK_K, 2 + QK_K / 4 + QK_K / 32 + QK_K / 8 + 4}},  // d, qs, qh, signs, scales
        {"IQ2_S", {22, QK_K, 2 + QK_K / 4 + QK_K / 32 + QK_K / 32}},    // d, qs, qh, scales
        {"IQ4_XS", {23, QK_K, 2 + 2 + QK_K / 64 + QK_K / 2}},           // d, scales_h, scales_l, qs
        {"I8", {24, 1, 1}},
        {"I16", {25, 1, 2}},
        {"I32", {26, 1, 4}},
        {"I64", {27, 1, 8}},
        {"F64", {28, 1, 8}},
        {"IQ1_M", {29, QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32}},        // qs, qh, scales (d inside)
        {"BF16", {30, 1, 2}},
        {"TQ1_0", {34, QK_K, sizeof(block_tq1_0)}},
        {"TQ2_0", {35, QK_K, sizeof(block_tq2_0)}},
        {"MXFP4", {39, 32, 1 + 16}},                                   // e8m0 exponent, 16 B nibbles
        {"U8", {1000, 1, 1}},
        {"I4", {1001, 2, 1}},
        {"U4", {1002, 2, 1}},
        {"I2", {1003, 4, 1}},
        {"U2", {1004, 4, 1}},
        {"BOOL", {1005, 1, 1}},
        {"U16", {1006, 1, 2}},
        {"U32", {1007, 1, 4}},
        {"U64", {1008, 1, 8}},
    };
}

TEST(DTypeTable, RowsMatchIndependentSizesAndIds) {
    const auto want = expectations();
    EXPECT_EQ(all_dtypes().size(), want.size()) << "table rows vs expectations";
    for (const auto& row : all_dtypes()) {
        auto it = want.find(row.name);
        ASSERT_NE(it, want.end()) << "unexpected table row " << row.name;
        EXPECT_EQ(row.id, it->second.id) << row.name;
        EXPECT_EQ(row.block_size, it->second.block_size) << row.name;
        EXPECT_EQ(row.type_size, it->second.type_size) << row.name;
        EXPECT_EQ(static_cast<uint32_t>(row.type), row.id) << row.name;
        EXPECT_DOUBLE_EQ(bits_per_weight(row.type), 8.0 * double(row.type_size) / double(row.block_size)) << row.name;
        EXPECT_EQ(row_size(row.type, 4 * row.block_size), 4 * row.type_size) << row.name;
    }
}

TEST(DTypeTable, FormatFactsFromFormatsDoc) {
    EXPECT_DOUBLE_EQ(bits_per_weight(DType::Q4_0), 4.5);
    EXPECT_DOUBLE_EQ(bits_per_weight(DType::Q4_1), 5.0);
    EXPECT_DOUBLE_EQ(bits_per_weight(DType::Q5_0), 5.5);
    EXPECT_DOUBLE_EQ(bits_per_weight(DType::Q5_1), 6.0);
    EXPECT_DOUBLE_EQ(bits_per_weight(DType::Q8_0), 8.5);
    EXPECT_DOUBLE_EQ(bits_per_weight(DType::Q2_K), 2.625);
    EXPECT_DOUBLE_EQ(bits_per_weight(DType::Q3_K), 3.4375);
    EXPECT_DOUBLE_EQ(bits_per_weight(DType::Q4_K), 4.5);
    EXPECT_DOUBLE_EQ(bits_per_weight(DType::Q5_K), 5.5);
    EXPECT_DOUBLE_EQ(bits_per_weight(DType::Q6_K), 6.5625);
    EXPECT_DOUBLE_EQ(bits_per_weight(DType::Q8_K), 9.125);
    EXPECT_DOUBLE_EQ(bits_per_weight(DType::IQ4_NL), 4.5);
    EXPECT_DOUBLE_EQ(bits_per_weight(DType::TQ2_0), 2.0625);
    // Activation partners (ggml's vec_dot_type).
    for (DType t : {DType::Q4_0, DType::Q5_0, DType::Q8_0, DType::IQ4_NL}) EXPECT_EQ(traits(t).vec_dot_type, DType::Q8_0);
    for (DType t : {DType::Q4_1, DType::Q5_1}) EXPECT_EQ(traits(t).vec_dot_type, DType::Q8_1);
    for (DType t : {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::TQ1_0, DType::TQ2_0})
        EXPECT_EQ(traits(t).vec_dot_type, DType::Q8_K) << dtype_name(t);
}

TEST(DTypeTable, IdsAndNamesUniqueAndRoundTrip) {
    std::set<uint32_t> ids;
    std::set<std::string> names;
    for (const auto& row : all_dtypes()) {
        EXPECT_TRUE(ids.insert(row.id).second) << "duplicate id " << row.id;
        EXPECT_TRUE(names.insert(row.name).second) << "duplicate name " << row.name;
        EXPECT_EQ(dtype_from_id(row.id), row.type) << row.name;
        EXPECT_EQ(dtype_from_name(row.name), row.type) << row.name;
        std::string lower = row.name;
        for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        EXPECT_EQ(dtype_from_name(lower), row.type) << lower;
        EXPECT_STREQ(dtype_name(row.type), row.name);
        EXPECT_EQ(traits(row.type).type, row.type);
        // vec_dot_type names a row of the table
        EXPECT_TRUE(dtype_from_id(static_cast<uint32_t>(row.vec_dot_type)).has_value()) << row.name;
        // a codec is both directions or neither
        EXPECT_EQ(row.quantize == nullptr, row.dequantize == nullptr) << row.name;
        EXPECT_EQ(has_codec(row.type), row.quantize != nullptr) << row.name;
    }
    // GGUF's retired ids are never reused; unknown names and ids are rejected.
    for (uint32_t retired : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u}) EXPECT_FALSE(dtype_from_id(retired).has_value()) << retired;
    EXPECT_FALSE(dtype_from_id(999).has_value());
    EXPECT_FALSE(dtype_from_name("Q4_2").has_value());
    EXPECT_FALSE(dtype_from_name("").has_value());
    EXPECT_FALSE(dtype_from_name("Q4_0 ").has_value());
}

// ---- raw integer formats: ONNX packing (element 2i in the low nibble; I2 from the lowest bits up).

std::vector<uint8_t> q(DType t, const std::vector<float>& x) {
    std::vector<uint8_t> out(row_size(t, static_cast<int64_t>(x.size())));
    EXPECT_EQ(quantize(t, x.data(), out.data(), 1, static_cast<int64_t>(x.size())), out.size());
    return out;
}
std::vector<float> dq(DType t, const std::vector<uint8_t>& b, size_t n) {
    std::vector<float> y(n);
    dequantize_row(t, b.data(), y.data(), static_cast<int64_t>(n));
    return y;
}

TEST(DTypeTable, PackedIntegersRoundTripEveryValue) {
    struct R { DType t; int lo, hi; };
    for (const R r : {R{DType::I4, -8, 7}, R{DType::U4, 0, 15}, R{DType::I2, -2, 1}, R{DType::U2, 0, 3}}) {
        const int per = static_cast<int>(traits(r.t).block_size);
        // every value at every position within a byte
        std::vector<float> x;
        for (int v = r.lo; v <= r.hi; ++v)
            for (int w = r.lo; w <= r.hi; ++w)
                for (int k = 0; k < per; ++k) x.push_back(static_cast<float>(k % 2 ? v : w));
        const auto y = dq(r.t, q(r.t, x), x.size());
        for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(y[i], x[i]) << dtype_name(r.t) << " index " << i;
    }
}

TEST(DTypeTable, PackedIntegerLayoutAndRounding) {
    EXPECT_EQ(q(DType::I4, {1.f, -2.f}), (std::vector<uint8_t>{0xE1}));
    EXPECT_EQ(q(DType::U4, {3.f, 12.f}), (std::vector<uint8_t>{0xC3}));
    EXPECT_EQ(q(DType::I2, {1.f, -2.f, 0.f, -1.f}), (std::vector<uint8_t>{0xC9}));  // 01 10 00 11, low first
    // round half to even, then saturate; NaN -> 0
    EXPECT_EQ(dq(DType::I4, q(DType::I4, {2.5f, 3.5f}), 2), (std::vector<float>{2.f, 4.f}));
    EXPECT_EQ(dq(DType::I4, q(DType::I4, {9.f, -100.f}), 2), (std::vector<float>{7.f, -8.f}));
    EXPECT_EQ(dq(DType::U4, q(DType::U4, {-1.f, 16.f}), 2), (std::vector<float>{0.f, 15.f}));
    EXPECT_EQ(dq(DType::I2, q(DType::I2, {-0.5f, 1.5f, 5.f, -3.f}), 4), (std::vector<float>{0.f, 1.f, 1.f, -2.f}));
    EXPECT_EQ(dq(DType::I4, q(DType::I4, {NAN, -2.5f}), 2), (std::vector<float>{0.f, -2.f}));
}

}  // namespace
}  // namespace edgeq
