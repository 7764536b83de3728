// The float tiles of dtype/vec_dot_float.h for one ISA: included by vec_dot_f16_avx2.cpp and vec_dot_f16_avx512.cpp
// after each defines `Ops` (V: 16 float lanes; zero, load<T>(bytes), fma, hsum in the header's lane-sum order).
// Internal linkage on purpose (see dtype/x86/lanes_x86.h): each unit is compiled for its own ISA.
//
// Every output keeps its own 16-lane accumulator, updated in element order, so the value does not depend on the
// tile shape: a block of RM weight rows x RN activation rows only shares the loads (RM + RN vectors per RM * RN
// fused multiply-adds). Prefill: weight-row groups outside, activation-row groups inside (the weight rows of a
// group stay in L1 while the activation rows stream from L2); decoding: RM1 weight rows per activation row.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <immintrin.h>

#include "edgeq/dtype.h"

namespace edgeq::vdot {
namespace {

#ifdef __AVX512F__
// _mm512_reduce_add_ps's tree written out (lanes l + 8, l + 4, l + 2, then 0 + 1), so the order is fixed.
inline float hsum16_tree(__m512 v) {
    const __m256 t8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    const __m128 t4 = _mm_add_ps(_mm256_castps256_ps128(t8), _mm256_extractf128_ps(t8, 1));
    const __m128 t2 = _mm_add_ps(t4, _mm_movehl_ps(t4, t4));
    return _mm_cvtss_f32(_mm_add_ss(t2, _mm_movehdup_ps(t2)));
}
#endif

template <DType T>
constexpr size_t kElemBytes = T == DType::F32 ? 4 : 2;

// kPacked: weights in the repacked layout (dtype/repack.h): element k of row m at w + m * ws + (k / 16) * 256 * es
// + (k % 16) * es, ws = 16 * es (the rows of a group of 16 side by side per 16-element chunk). n % 16 == 0.
template <class Ops, DType T, int RM, int RN, bool kPacked = false>
inline void float_block(int64_t n, const uint8_t* w, size_t ws, const uint8_t* a, size_t as, float* y,
                        size_t ys) {
    using V = typename Ops::V;
    constexpr size_t es = kElemBytes<T>;
    V acc[RM][RN];
    for (int m = 0; m < RM; ++m)
        for (int r = 0; r < RN; ++r) acc[m][r] = Ops::zero();
    const int64_t n16 = n & ~int64_t{15};
    for (int64_t k = 0; k < n16; k += 16) {
        const size_t off = static_cast<size_t>(k) * es;
        V av[RN];
        for (int r = 0; r < RN; ++r) av[r] = Ops::template load<T>(a + static_cast<size_t>(r) * as + off);
        const size_t woff = kPacked ? off * 16 : off;
        for (int m = 0; m < RM; ++m) {
            const V wv = Ops::template load<T>(w + static_cast<size_t>(m) * ws + woff);
            for (int r = 0; r < RN; ++r) acc[m][r] = Ops::fma(wv, av[r], acc[m][r]);
        }
        // Decoding F16/BF16: prefetch the next group's rows (1.5 KB rows are too short for the hardware prefetcher:
        // F16 decode 0.56x -> 0.72x llama.cpp); F32 rows stream well without it (0.87x -> 0.76x with it).
        if (!kPacked && RN == 1 && es == 2 && off % 64 == 0) {
            for (int m = 0; m < RM; ++m)
                _mm_prefetch(reinterpret_cast<const char*>(w + static_cast<size_t>(RM + m) * ws + off), _MM_HINT_T0);
        }
    }
    if (n16 < n) {  // the last partial group, zero-padded (zero bits are +0 in F32, F16 and BF16)
        const size_t off = static_cast<size_t>(n16) * es, len = static_cast<size_t>(n - n16) * es;
        alignas(64) uint8_t tw[RM][16 * es] = {}, ta[RN][16 * es] = {};
        for (int m = 0; m < RM; ++m) std::memcpy(tw[m], w + static_cast<size_t>(m) * ws + off, len);
        for (int r = 0; r < RN; ++r) std::memcpy(ta[r], a + static_cast<size_t>(r) * as + off, len);
        for (int m = 0; m < RM; ++m) {
            const V wv = Ops::template load<T>(tw[m]);
            for (int r = 0; r < RN; ++r) acc[m][r] = Ops::fma(wv, Ops::template load<T>(ta[r]), acc[m][r]);
        }
    }
    for (int m = 0; m < RM; ++m)
        for (int r = 0; r < RN; ++r) y[static_cast<size_t>(r) * ys + static_cast<size_t>(m)] = Ops::hsum(acc[m][r]);
}

// ggml_vec_dot_f32/f16's order (dtype/vec_dot_float.h): 4 x 16 fused lanes over the first n & ~63 elements,
// lanes folded (0 + 2, 1 + 3, 0 + 1) and summed by hsum, then the rest one by one (F32: each product rounded to
// float, then added to the float sum; F16/BF16: float products added to a double).
template <class Ops, DType T>
float float_vec_dot(int64_t n, const void* wv, const void* av) {
    using V = typename Ops::V;
    constexpr size_t es = kElemBytes<T>;
    const auto* w = static_cast<const uint8_t*>(wv);
    const auto* a = static_cast<const uint8_t*>(av);
    const int64_t np = n & ~int64_t{63};
    V s[4] = {Ops::zero(), Ops::zero(), Ops::zero(), Ops::zero()};
    for (int64_t k = 0; k < np; k += 64)
        for (int j = 0; j < 4; ++j) {
            const size_t off = static_cast<size_t>(k + 16 * j) * es;
            s[j] = Ops::fma(Ops::template load<T>(w + off), Ops::template load<T>(a + off), s[j]);
        }
    s[0] = Ops::add(s[0], s[2]);
    s[1] = Ops::add(s[1], s[3]);
    s[0] = Ops::add(s[0], s[1]);
    const float sum = Ops::hsum(s[0]);
    if (np == n) return sum;
    alignas(64) uint8_t tw[64 * es] = {}, ta[64 * es] = {};
    alignas(64) float fw[64], fa[64];
    const size_t len = static_cast<size_t>(n - np) * es;
    std::memcpy(tw, w + static_cast<size_t>(np) * es, len);
    std::memcpy(ta, a + static_cast<size_t>(np) * es, len);
    for (int q = 0; q < 4; ++q) {
        Ops::store(fw + 16 * q, Ops::template load<T>(tw + 16 * q * es));
        Ops::store(fa + 16 * q, Ops::template load<T>(ta + 16 * q * es));
    }
    if constexpr (T == DType::F32) {
        float f = sum;
        const int64_t n8 = (n - np) & ~int64_t{7};  // as the reference: groups of 8 not fused, the last n % 8 fused
        for (int64_t i = 0; i < n8; ++i) f += fw[i] * fa[i];  // not fused (-ffp-contract=off)
        for (int64_t i = n8; i < n - np; ++i) f = std::fma(fw[i], fa[i], f);
        return f;
    } else {
        double d = sum;
        for (int64_t i = 0; i < n - np; ++i) d += static_cast<double>(fw[i] * fa[i]);
        return static_cast<float>(d);
    }
}

// y[j] = float_vec_dot of row j (w + j * ws bytes) with a, both zero-padded from n (a multiple of 16) to the next
// multiple of 64 (dtype/vec_dot_float.h float_vec_dot_rows): the padding's 16-element chunks are skipped (they would
// add +-0 to each lane), four rows share each activation load.
template <class Ops, DType T, int R>
inline void float_vec_dot_rows_pass(int64_t chunks, const uint8_t* w, size_t ws, const uint8_t* a, float* y) {
    using V = typename Ops::V;
    constexpr size_t es = kElemBytes<T>;
    V s[R][4];  // the 4 x 16-lane accumulators of each row (constant indices after unrolling: registers)
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
        for (int q = 0; q < 4; ++q) s[r][q] = Ops::zero();
    const auto chunk = [&](int64_t c, auto q) {  // q: std::integral_constant, so s stays in registers
        const size_t off = static_cast<size_t>(16 * c) * es;
        const V av16 = Ops::template load<T>(a + off);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r)
            s[r][q()] = Ops::fma(Ops::template load<T>(w + static_cast<size_t>(r) * ws + off), av16, s[r][q()]);
    };
    using Q0 = std::integral_constant<int, 0>;
    using Q1 = std::integral_constant<int, 1>;
    using Q2 = std::integral_constant<int, 2>;
    using Q3 = std::integral_constant<int, 3>;
    int64_t c = 0;
    for (; c + 4 <= chunks; c += 4) {
        chunk(c, Q0{});
        chunk(c + 1, Q1{});
        chunk(c + 2, Q2{});
        chunk(c + 3, Q3{});
    }
    if (c < chunks) chunk(c, Q0{});  // the last group's chunks (its padding is not formed)
    if (c + 1 < chunks) chunk(c + 1, Q1{});
    if (c + 2 < chunks) chunk(c + 2, Q2{});
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
        s[r][0] = Ops::add(s[r][0], s[r][2]);
        s[r][1] = Ops::add(s[r][1], s[r][3]);
        y[r] = Ops::hsum(Ops::add(s[r][0], s[r][1]));
    }
}

template <class Ops, DType T>
void float_vec_dot_rows(int64_t n, const void* wv, size_t ws, int64_t nw, const void* av, float* y) {
    const auto* w = static_cast<const uint8_t*>(wv);
    const auto* a = static_cast<const uint8_t*>(av);
    int64_t j = 0;
    for (; j + 4 <= nw; j += 4) float_vec_dot_rows_pass<Ops, T, 4>(n / 16, w + static_cast<size_t>(j) * ws, ws, a, y + j);
    for (; j < nw; ++j) float_vec_dot_rows_pass<Ops, T, 1>(n / 16, w + static_cast<size_t>(j) * ws, ws, a, y + j);
}

// y[i * ys + j] = dot(weight row j, activation row i) (dtype/vec_dot.h VecDotTileFn).
template <class Ops, DType T, int RM, int RN, int RM1>
void float_tile(int64_t n, const void* w, size_t ws, int64_t nw, const void* a, size_t as, int64_t na, float* y,
                size_t ys) {
    const auto* wb = static_cast<const uint8_t*>(w);
    const auto* ab = static_cast<const uint8_t*>(a);
    auto W = [&](int64_t j) { return wb + static_cast<size_t>(j) * ws; };
    auto A = [&](int64_t i) { return ab + static_cast<size_t>(i) * as; };
    auto Y = [&](int64_t i, int64_t j) { return y + static_cast<size_t>(i) * ys + static_cast<size_t>(j); };
    if (n % 16 != 0) {  // ggml_vec_dot's order, one output at a time (rare: rows of odd length)
        for (int64_t i = 0; i < na; ++i)
            for (int64_t j = 0; j < nw; ++j) *Y(i, j) = float_vec_dot<Ops, T>(n, W(j), A(i));
        return;
    }
    const int64_t na_full = na - na % RN;
    if (na_full > 0) {
        int64_t j = 0;
        for (; j + RM <= nw; j += RM)
            for (int64_t i = 0; i < na_full; i += RN) float_block<Ops, T, RM, RN>(n, W(j), ws, A(i), as, Y(i, j), ys);
        for (; j < nw; ++j)
            for (int64_t i = 0; i < na_full; i += RN) float_block<Ops, T, 1, RN>(n, W(j), ws, A(i), as, Y(i, j), ys);
    }
    for (int64_t i = na_full; i < na; ++i) {
        int64_t j = 0;
        for (; j + RM1 <= nw; j += RM1) float_block<Ops, T, RM1, 1>(n, W(j), ws, A(i), as, Y(i, j), ys);
        for (; j < nw; ++j) float_block<Ops, T, 1, 1>(n, W(j), ws, A(i), as, Y(i, j), ys);
    }
}

// The repacked layout (dtype/repack.h): groups of 16 rows, group g at w + g * 16 * n * es; n % 16 == 0. Prefill:
// RM x RN blocks inside each group; decoding: the whole group (16 rows, one weight stream in address order).
template <class Ops, DType T, int RM, int RN, int RM1>
void float_packed_tile(int64_t n, const void* w, int64_t nw, const void* a, size_t as, int64_t na, float* y,
                       size_t ys) {
    constexpr size_t es = kElemBytes<T>;
    constexpr size_t ws = 16 * es;
    const auto* wb = static_cast<const uint8_t*>(w);
    const auto* ab = static_cast<const uint8_t*>(a);
    const size_t group = 16 * static_cast<size_t>(n) * es;
    auto W = [&](int64_t j) { return wb + static_cast<size_t>(j / 16) * group + static_cast<size_t>(j % 16) * ws; };
    auto A = [&](int64_t i) { return ab + static_cast<size_t>(i) * as; };
    auto Y = [&](int64_t i, int64_t j) { return y + static_cast<size_t>(i) * ys + static_cast<size_t>(j); };
    const int64_t na_full = na - na % RN;
    for (int64_t g0 = 0; g0 < nw; g0 += 16) {
        const int64_t gn = nw - g0 < 16 ? nw - g0 : 16;
        if (na_full > 0) {
            int64_t j = g0;
            for (; j + RM <= g0 + gn; j += RM)
                for (int64_t i = 0; i < na_full; i += RN)
                    float_block<Ops, T, RM, RN, true>(n, W(j), ws, A(i), as, Y(i, j), ys);
            for (; j < g0 + gn; ++j)
                for (int64_t i = 0; i < na_full; i += RN)
                    float_block<Ops, T, 1, RN, true>(n, W(j), ws, A(i), as, Y(i, j), ys);
        }
        for (int64_t i = na_full; i < na; ++i) {
            int64_t j = g0;
            for (; j + RM1 <= g0 + gn; j += RM1) float_block<Ops, T, RM1, 1, true>(n, W(j), ws, A(i), as, Y(i, j), ys);
            for (; j < g0 + gn; ++j) float_block<Ops, T, 1, 1, true>(n, W(j), ws, A(i), as, Y(i, j), ys);
        }
    }
}

}  // namespace
}  // namespace edgeq::vdot

// The entry points of one ISA's unit (declared in dtype/vec_dot_float.cpp): tiles and ggml-order rows for F32, F16
// and BF16, with Ops the unit's 16-lane operations and RM x RN (RM1 x 1 in decoding) the tile blocks.
#define EDGEQ_FLOAT_DOT_ENTRY_POINTS(isa, Ops, RM, RN, RM1)                                                        \
    EDGEQ_FLOAT_DOT_TYPE(isa, Ops, RM, RN, RM1, f32, F32)                                                         \
    EDGEQ_FLOAT_DOT_TYPE(isa, Ops, RM, RN, RM1, f16, F16)                                                         \
    EDGEQ_FLOAT_DOT_TYPE(isa, Ops, RM, RN, RM1, bf16, BF16)
#define EDGEQ_FLOAT_DOT_TYPE(isa, Ops, RM, RN, RM1, t, T)                                                         \
    void t##_tile_##isa(int64_t n, const void* w, size_t ws, int64_t nw, const void* a, size_t as, int64_t na,   \
                        float* y, size_t ys) {                                                                     \
        float_tile<Ops, DType::T, RM, RN, RM1>(n, w, ws, nw, a, as, na, y, ys);                                   \
    }                                                                                                              \
    float t##_vec_dot_##isa(int64_t n, const void* w, const void* a) { return float_vec_dot<Ops, DType::T>(n, w, a); } \
    void t##_vec_dot_rows_##isa(int64_t n, const void* w, size_t ws, int64_t nw, const void* a, float* y) {          \
        float_vec_dot_rows<Ops, DType::T>(n, w, ws, nw, a, y);                                                     \
    }
