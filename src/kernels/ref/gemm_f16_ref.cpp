// FP16 / BF16-weight GEMM: the 16-bit B packing (kernels.h) and the scalar references, the specification the
// x86 rows (x86/gemm_half_avx2.cpp, gemm_half_avx512.cpp, gemm_bf16dot_avx512.cpp) are tested against.
#include "core/fp16.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"

namespace edgeq::kernels {
namespace {

// Offset of B(k, n) in a packed 16-bit panel set (kernels.h): Kp = K rounded up to kpair.
inline int64_t packed_half_index(int64_t k, int64_t n, int64_t Kp, int nr, int kpair) {
    return (n / nr) * Kp * nr + (k / kpair) * nr * kpair + (n % nr) * kpair + k % kpair;
}

// C = A · widen(B) + bias, act; widen converts one packed 16-bit element exactly; round_a applies to A's elements.
template <typename Widen, typename RoundA>
void gemm_half_ref(const GemmHalfArgs& g, int kpair, Widen widen, RoundA round_a) {
    const int nr = ref::kRefNr;
    const int64_t Kp = (g.K + kpair - 1) / kpair * kpair;
    for (int64_t m = 0; m < g.M; ++m) {
        for (int64_t n = g.n_begin; n < g.n_end; ++n) {
            float s = 0;
            for (int64_t k = 0; k < g.K; ++k)
                s += round_a(g.a[m * g.lda + k]) * widen(g.b[packed_half_index(k, n, Kp, nr, kpair)]);
            if (g.bias_kind == BiasKind::PerRow) s += g.bias[m];
            if (g.bias_kind == BiasKind::PerCol) s += g.bias[n];
            g.c[m * g.ldc + n] = activate(g.act, s);
        }
    }
}

float keep(float x) { return x; }
float round_bf16(float x) { return bf16_to_f32(f32_to_bf16(x)); }

}  // namespace

void pack_b_half(const uint16_t* b, int64_t stride_k, int64_t stride_n, int64_t K, int64_t N, int nr, int kpair,
                 uint16_t* packed) {
    const int64_t Kp = (K + kpair - 1) / kpair * kpair;
    const int64_t panels = (N + nr - 1) / nr;
    for (int64_t p = 0; p < panels; ++p)
        for (int64_t k = 0; k < Kp; ++k)
            for (int64_t j = 0; j < nr; ++j) {
                const int64_t n = p * nr + j;
                packed[packed_half_index(k, n, Kp, nr, kpair)] =
                    n < N && k < K ? b[k * stride_k + n * stride_n] : uint16_t{0};
            }
}

namespace ref {

void gemm_f16_f32(const GemmHalfArgs& g) { gemm_half_ref(g, 1, fp16_to_f32, keep); }
void gemm_bf16_f32(const GemmHalfArgs& g) { gemm_half_ref(g, 1, bf16_to_f32, keep); }
// What vdpbf16ps computes, in k order: A rounded to bf16 (nearest even), exact bf16 products, f32 sums.
void gemm_bf16dot_f32(const GemmHalfArgs& g) { gemm_half_ref(g, 2, bf16_to_f32, round_bf16); }

}  // namespace ref
}  // namespace edgeq::kernels
