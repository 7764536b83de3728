// llama.cpp's x86 float orders (dtype/vec_dot.h vec_dot_x86_ref for the super-block types,
// vec_dot_x86_repacked_fn for the matrices llama.cpp repacks). The expected values are the outputs of
// llama.cpp's own kernels: the prebuilt zen4 CPU backend of npm @node-llama-cpp/linux-x64 3.22.1
// (ggml_vec_dot_<w>_q8_K through ggml_get_type_traits_cpu; ggml_gemm_* / ggml_gemv_* on the matrix repacked
// by its own repack function, with activations from its ggml_quantize_mat_* / from_float), run once on the
// inputs below and recorded as float bits. The inputs come from a fixed integer generator (no library
// distribution), quantized by edgeq's ggml-identical codecs. The generic order and the other orders give
// different bits on most of these cases, so each table pins its order.
#include "dtype/vec_dot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/det_values.h"

namespace edgeq {
namespace {

using test::det_values;

float from_bits(uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

const float kSigma[6] = {1.0f, 3.0f, 0.25f, 8.0f, 1.5f, 0.7f};

struct VecDotGolden {
    DType type;
    uint32_t bits[6];  // case c: weights det_values(768, 100 + c, 1 (TQ2_0: 0.3)), activations
                       // det_values(768, 200 + c, kSigma[c])
};
const VecDotGolden kVecDot[] = {
    {DType::Q2_K, {0x41f45116u, 0xc1033f34u, 0x409989b6u, 0xc3ac541fu, 0x42b382cfu, 0xc00201a0u}},
    {DType::Q3_K, {0x41d193d6u, 0xc19172afu, 0x4080fbb8u, 0xc3b8e091u, 0x429bb69au, 0x40d5c30du}},
    {DType::Q4_K, {0x41bdcfd8u, 0xc1d637e8u, 0x40ed44a5u, 0xc3ea7f0au, 0x428e7186u, 0x407990c8u}},
    {DType::Q5_K, {0x41d62d3bu, 0xc18f7d10u, 0x40e3c0c4u, 0xc3d6acbau, 0x429a18a6u, 0x405616e8u}},
    {DType::Q6_K, {0x41be3404u, 0xc19ca7b0u, 0x40e5e1e5u, 0xc3d845a4u, 0x4299f112u, 0x404b3768u}},
    {DType::TQ2_0, {0xc09c73a0u, 0xc0fa22d4u, 0x3fd42ee4u, 0xc2cdf7abu, 0x41b8b273u, 0xc012ca88u}},
};

struct RepackedGolden {
    DType type;
    uint32_t gemm[16];  // activation row k (det_values(512, 400 + k, kSigma[k])) x weight row r, k, r < 4
    uint32_t gemv[8];   // activation row 0 x weight row r, r < 8
};
const RepackedGolden kRepacked[] = {
    {DType::Q4_0,
     {0x3f501652u, 0x40da611fu, 0x41a93025u, 0xc07cc8fbu, 0x420a13a5u, 0x425a0348u, 0x41e3079bu, 0x416693cfu,
      0xc052b801u, 0x4082c5d1u, 0x3f4f8e6du, 0x40cd1771u, 0xc39868e8u, 0xc1bedf77u, 0x43a88a03u, 0xc2f17983u},
     {0x3f501652u, 0x40da611fu, 0x41a93025u, 0xc07cc8fbu, 0xbf07df62u, 0xc132ab1bu, 0x425645fau,
      0xc17afc85u}},
    {DType::IQ4_NL,
     {0xbe1ea02cu, 0x40aae151u, 0x41a97435u, 0xbfa3bdd9u, 0x41f9e674u, 0x42758280u, 0x41b9034du, 0x414a3b01u,
      0xc003d3e4u, 0x40811f9au, 0x3f907834u, 0x40ba9658u, 0xc38eba11u, 0xc031c6f7u, 0x43a805bau, 0xc2fc7dfcu},
     {0xbe1ea02cu, 0x40aae151u, 0x41a97435u, 0xbfa3bdd9u, 0xbfbada91u, 0xc16b9b58u, 0x4241af88u,
      0xc182bb89u}},
    {DType::Q4_K,
     {0x3e474400u, 0x3ffcc940u, 0x419a7f30u, 0xc07fb3e0u, 0x422f839cu, 0x42755150u, 0x41f0c18eu, 0x414ffba0u,
      0xc0291fb1u, 0x4082176eu, 0x3e3fb6a0u, 0x40c3287bu, 0xc39e9d46u, 0xc0916980u, 0x43b07be0u, 0xc3004098u},
     {0x3e474400u, 0x3ffcc900u, 0x419a7f30u, 0xc07fb3e0u, 0xc0880570u, 0xc16841d0u, 0x424b4851u,
      0xc18c0a2cu}},
    {DType::Q2_K,
     {0x40be7e48u, 0x3fc57880u, 0x42009e04u, 0x3fa10cc0u, 0x414ceb28u, 0x420239e6u, 0x4224b2bcu, 0x41028d44u,
      0x3e5653dcu, 0x40ba11f3u, 0x3e65c300u, 0x40b326acu, 0xc3b030bcu, 0x42687140u, 0x43b2656au, 0xc2ca91fcu},
     {0x40be7e40u, 0x3fc57820u, 0x42009e03u, 0x3fa10c80u, 0xc12358c8u, 0xc0d02980u, 0x42270c2au,
      0xc11ab9fcu}},
};

}  // namespace

TEST(VecDotLlamaOrder, SuperBlockTypesEqualLlamaCppsKernels) {
    constexpr int64_t n = 768;
    for (const VecDotGolden& g : kVecDot) {
        ASSERT_TRUE(has_vec_dot_x86(g.type)) << dtype_name(g.type);
        int differ_generic = 0;
        for (int c = 0; c < 6; ++c) {
            const auto w =
                det_values(n, 100 + static_cast<uint32_t>(c), g.type == DType::TQ2_0 ? 0.3f : 1.0f);
            const auto x = det_values(n, 200 + static_cast<uint32_t>(c), kSigma[c]);
            std::vector<uint8_t> qw(row_size(g.type, n)), qa(vec_dot_act_size(g.type, n));
            quantize(g.type, w.data(), qw.data(), 1, n);
            quantize_activation(g.type, x.data(), qa.data(), n);
            const float got = vec_dot_x86_ref(g.type, n, qw.data(), qa.data());
            EXPECT_EQ(got, from_bits(g.bits[c])) << dtype_name(g.type) << " case " << c;
            EXPECT_EQ(selected_vec_dot_x86(g.type)(n, qw.data(), qa.data()), got) << dtype_name(g.type);
            const float generic = vec_dot_ref(g.type, n, qw.data(), qa.data());
            EXPECT_NEAR(got, generic, 1e-5f * (std::fabs(generic) + 1.0f))
                << dtype_name(g.type) << " case " << c;
            differ_generic += got != generic;
        }
        EXPECT_GT(differ_generic, 0) << dtype_name(g.type) << ": the cases do not tell the orders apart";
    }
}

TEST(VecDotLlamaOrder, RepackedMatricesEqualLlamaCppsGemmAndGemv) {
    constexpr int64_t n = 512;
    EXPECT_FALSE(has_vec_dot_x86_repacked(DType::Q8_0));
    EXPECT_FALSE(has_vec_dot_x86_repacked(DType::Q6_K));
    for (const RepackedGolden& g : kRepacked) {
        ASSERT_TRUE(has_vec_dot_x86_repacked(g.type)) << dtype_name(g.type);
        const size_t rb = row_size(g.type, n);
        const auto w = det_values(8 * n, 300, 1.0f);
        std::vector<uint8_t> qw(rb * 8);
        quantize(g.type, w.data(), qw.data(), 8, n);
        const VecDotFn gemm = vec_dot_x86_repacked_fn(g.type, true),
                       gemv = vec_dot_x86_repacked_fn(g.type, false);
        int gemm_vs_gemv = 0;
        for (int k = 0; k < 4; ++k) {
            const auto x = det_values(n, 400 + static_cast<uint32_t>(k), kSigma[k]);
            std::vector<uint8_t> qa(vec_dot_act_size(g.type, n));
            quantize_activation(g.type, x.data(), qa.data(), n);
            for (int r = 0; r < 4; ++r) {
                const uint8_t* row = qw.data() + static_cast<size_t>(r) * rb;
                EXPECT_EQ(gemm(n, row, qa.data()), from_bits(g.gemm[4 * k + r]))
                    << dtype_name(g.type) << " gemm " << k << "," << r;
                gemm_vs_gemv += gemm(n, row, qa.data()) != gemv(n, row, qa.data());
            }
            if (k != 0) continue;
            for (int r = 0; r < 8; ++r)
                EXPECT_EQ(gemv(n, qw.data() + static_cast<size_t>(r) * rb, qa.data()), from_bits(g.gemv[r]))
                    << dtype_name(g.type) << " gemv " << r;
        }
        // Q4_0 / IQ4_NL: one block order for both kernels; Q4_K / Q2_K: different groups, different bits
        // somewhere
        if (g.type == DType::Q4_K || g.type == DType::Q2_K) {
            EXPECT_GT(gemm_vs_gemv, 0) << dtype_name(g.type);
        } else {
            EXPECT_EQ(gemm_vs_gemv, 0) << dtype_name(g.type);
        }
    }
}

}  // namespace edgeq
