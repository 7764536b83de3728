// Float rows in tinyBLAS's 16-lane order (dtype/vec_dot_float.h): the scalar reference and the dispatch table.
#include "dtype/vec_dot_float.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "core/check.h"
#include "core/fp16.h"

namespace edgeq {
namespace vdot {
// dtype/x86/vec_dot_f16_avx2.cpp, vec_dot_f16_avx512.cpp.
#define EDGEQ_TILE_DECL(name) \
    void name(int64_t, const void*, size_t, int64_t, const void*, size_t, int64_t, float*, size_t);
EDGEQ_TILE_DECL(f32_tile_avx2)
EDGEQ_TILE_DECL(f16_tile_avx2)
EDGEQ_TILE_DECL(bf16_tile_avx2)
EDGEQ_TILE_DECL(f32_tile_avx512)
EDGEQ_TILE_DECL(f16_tile_avx512)
EDGEQ_TILE_DECL(bf16_tile_avx512)
#undef EDGEQ_TILE_DECL
float f32_vec_dot_avx2(int64_t, const void*, const void*);
float f16_vec_dot_avx2(int64_t, const void*, const void*);
float bf16_vec_dot_avx2(int64_t, const void*, const void*);
float f32_vec_dot_avx512(int64_t, const void*, const void*);
float f16_vec_dot_avx512(int64_t, const void*, const void*);
float bf16_vec_dot_avx512(int64_t, const void*, const void*);
#define EDGEQ_ROWS_DECL(name) void name(int64_t, const void*, size_t, int64_t, const void*, float*);
EDGEQ_ROWS_DECL(f32_vec_dot_rows_avx2)
EDGEQ_ROWS_DECL(f16_vec_dot_rows_avx2)
EDGEQ_ROWS_DECL(bf16_vec_dot_rows_avx2)
EDGEQ_ROWS_DECL(f32_vec_dot_rows_avx512)
EDGEQ_ROWS_DECL(f16_vec_dot_rows_avx512)
EDGEQ_ROWS_DECL(bf16_vec_dot_rows_avx512)
#undef EDGEQ_ROWS_DECL
}  // namespace vdot

namespace {

template <DType T>
float elem(const void* p, int64_t i) {
    if constexpr (T == DType::F32) return static_cast<const float*>(p)[i];
    if constexpr (T == DType::F16) return fp16_to_f32(static_cast<const fp16_t*>(p)[i]);
    if constexpr (T == DType::BF16) return bf16_to_f32(static_cast<const bf16_t*>(p)[i]);
}

float tree16(const float* acc) {
    float t8[8], t4[4];
    for (int l = 0; l < 8; ++l) t8[l] = acc[l] + acc[l + 8];
    for (int l = 0; l < 4; ++l) t4[l] = t8[l] + t8[l + 4];
    return (t4[0] + t4[2]) + (t4[1] + t4[3]);
}

// ggml_vec_dot_f32 / _f16 on AVX-512 (dtype/vec_dot_float.h).
template <DType T>
float vec_dot_order(int64_t n, const void* w, const void* a) {
    const int64_t np = n & ~int64_t{63};
    float acc[4][16] = {};
    for (int64_t i = 0; i < np; i += 64)
        for (int j = 0; j < 4; ++j)
            for (int l = 0; l < 16; ++l) {
                const int64_t e = i + 16 * j + l;
                acc[j][l] = std::fma(elem<T>(w, e), elem<T>(a, e), acc[j][l]);
            }
    for (int l = 0; l < 16; ++l) {
        acc[0][l] += acc[2][l];
        acc[1][l] += acc[3][l];
        acc[0][l] += acc[1][l];
    }
    const float sum = tree16(acc[0]);
    if constexpr (T == DType::F32) {
        float f = sum;
        // llama.cpp's compiled leftover loop: groups of 8 rounded products added in order, the last n % 8 fused
        const int64_t n8 = np + ((n - np) & ~int64_t{7});
        for (int64_t i = np; i < n8; ++i) f += elem<T>(w, i) * elem<T>(a, i);  // not fused (-ffp-contract=off)
        for (int64_t i = n8; i < n; ++i) f = std::fma(elem<T>(w, i), elem<T>(a, i), f);
        return f;
    } else {
        double d = sum;
        for (int64_t i = np; i < n; ++i) d += static_cast<double>(elem<T>(w, i) * elem<T>(a, i));
        return static_cast<float>(d);
    }
}

// tinyBLAS's order when n is a multiple of 16, else ggml_vec_dot's.
template <DType T>
float dot_ref(int64_t n, const void* w, const void* a) {
    if (n % 16 != 0) return vec_dot_order<T>(n, w, a);
    float acc[16] = {};
    for (int64_t i0 = 0; i0 < n; i0 += 16)
        for (int l = 0; l < 16; ++l) acc[l] = std::fma(elem<T>(w, i0 + l), elem<T>(a, i0 + l), acc[l]);
    return tree16(acc);
}

VecDotFn ref_row(DType w) {
    switch (w) {
        case DType::F32: return &dot_ref<DType::F32>;
        case DType::F16: return &dot_ref<DType::F16>;
        case DType::BF16: return &dot_ref<DType::BF16>;
        default: return nullptr;
    }
}

template <DType T>
void tile_ref(int64_t n, const void* w, size_t ws, int64_t nw, const void* a, size_t as, int64_t na, float* y,
              size_t ys) {
    const auto* wb = static_cast<const uint8_t*>(w);
    const auto* ab = static_cast<const uint8_t*>(a);
    for (int64_t i = 0; i < na; ++i)
        for (int64_t j = 0; j < nw; ++j)
            y[static_cast<size_t>(i) * ys + static_cast<size_t>(j)] =
                dot_ref<T>(n, wb + static_cast<size_t>(j) * ws, ab + static_cast<size_t>(i) * as);
}

VecDotTileFn ref_tile(DType w) {
    switch (w) {
        case DType::F32: return &tile_ref<DType::F32>;
        case DType::F16: return &tile_ref<DType::F16>;
        case DType::BF16: return &tile_ref<DType::BF16>;
        default: return nullptr;
    }
}

constexpr FastFloatDotTile kFloatTiles[] = {
    {DType::F32, Isa::Avx2, &vdot::f32_tile_avx2, "float_dot_tile_f32__avx2"},
    {DType::F16, Isa::Avx2, &vdot::f16_tile_avx2, "float_dot_tile_f16__avx2"},
    {DType::BF16, Isa::Avx2, &vdot::bf16_tile_avx2, "float_dot_tile_bf16__avx2"},
    {DType::F32, Isa::Avx512, &vdot::f32_tile_avx512, "float_dot_tile_f32__avx512"},
    {DType::F16, Isa::Avx512, &vdot::f16_tile_avx512, "float_dot_tile_f16__avx512"},
    {DType::BF16, Isa::Avx512, &vdot::bf16_tile_avx512, "float_dot_tile_bf16__avx512"},
};

constexpr FastVecDot kVecDotRows[] = {
    {DType::F32, Isa::Avx2, &vdot::f32_vec_dot_avx2, "float_vec_dot_f32__avx2"},
    {DType::F16, Isa::Avx2, &vdot::f16_vec_dot_avx2, "float_vec_dot_f16__avx2"},
    {DType::BF16, Isa::Avx2, &vdot::bf16_vec_dot_avx2, "float_vec_dot_bf16__avx2"},
    {DType::F32, Isa::Avx512, &vdot::f32_vec_dot_avx512, "float_vec_dot_f32__avx512"},
    {DType::F16, Isa::Avx512, &vdot::f16_vec_dot_avx512, "float_vec_dot_f16__avx512"},
    {DType::BF16, Isa::Avx512, &vdot::bf16_vec_dot_avx512, "float_vec_dot_bf16__avx512"},
};

VecDotFn ref_vec_dot_row(DType w) {
    switch (w) {
        case DType::F32: return &vec_dot_order<DType::F32>;
        case DType::F16: return &vec_dot_order<DType::F16>;
        case DType::BF16: return &vec_dot_order<DType::BF16>;
        default: return nullptr;
    }
}

const FastFloatDotTile* best(DType t) {
    const FastFloatDotTile* b = nullptr;
    for (const auto& r : kFloatTiles)
        if (r.type == t && isa_enabled(r.isa) && (!b || r.isa > b->isa)) b = &r;
    return b;
}

}  // namespace

bool is_float_dot_type(DType w) { return ref_row(w) != nullptr; }

float float_dot_ref(DType w, int64_t n, const void* wrow, const void* act) {
    const VecDotFn f = ref_row(w);
    EDGEQ_CHECK(f != nullptr);
    return f(n, wrow, act);
}

void float_dot_tile_ref(DType w, int64_t n, const void* wrows, size_t w_stride, int64_t nw, const void* act,
                        size_t a_stride, int64_t na, float* y, size_t y_stride) {
    const VecDotTileFn f = ref_tile(w);
    EDGEQ_CHECK(f != nullptr);
    f(n, wrows, w_stride, nw, act, a_stride, na, y, y_stride);
}

std::span<const FastFloatDotTile> fast_float_dot_tiles() { return kFloatTiles; }

float float_vec_dot_ref(DType w, int64_t n, const void* wrow, const void* act) {
    const VecDotFn f = ref_vec_dot_row(w);
    EDGEQ_CHECK(f != nullptr);
    return f(n, wrow, act);
}

VecDotFn selected_float_vec_dot(DType w) {
    const VecDotFn ref = ref_vec_dot_row(w);
    EDGEQ_CHECK(ref != nullptr);
    const FastVecDot* b = nullptr;
    for (const auto& r : kVecDotRows)
        if (r.type == w && isa_enabled(r.isa) && (!b || r.isa > b->isa)) b = &r;
    return b ? b->fn : ref;
}

std::span<const FastVecDot> fast_float_vec_dots() { return kVecDotRows; }

void float_vec_dot_rows(DType w, int64_t n, const void* wrows, size_t w_stride, int64_t nw, const void* act, float* y) {
    using RowsFn = void (*)(int64_t, const void*, size_t, int64_t, const void*, float*);
    EDGEQ_CHECK(is_float_dot_type(w) && n % 16 == 0);
    RowsFn f = nullptr;
    if (isa_enabled(Isa::Avx512))
        f = w == DType::F32   ? &vdot::f32_vec_dot_rows_avx512
            : w == DType::F16 ? &vdot::f16_vec_dot_rows_avx512
                              : &vdot::bf16_vec_dot_rows_avx512;
    else if (isa_enabled(Isa::Avx2))
        f = w == DType::F32   ? &vdot::f32_vec_dot_rows_avx2
            : w == DType::F16 ? &vdot::f16_vec_dot_rows_avx2
                              : &vdot::bf16_vec_dot_rows_avx2;
    if (f) return f(n, wrows, w_stride, nw, act, y);
    float_vec_dot_rows_ref(w, n, wrows, w_stride, nw, act, y);
}

void float_vec_dot_rows_ref(DType w, int64_t n, const void* wrows, size_t w_stride, int64_t nw, const void* act,
                            float* y) {
    EDGEQ_CHECK(is_float_dot_type(w) && n % 16 == 0);
    const int64_t n64 = (n + 63) / 64 * 64;
    const size_t es = w == DType::F32 ? 4 : 2;
    std::vector<uint8_t> row(static_cast<size_t>(n64) * es, 0), a(static_cast<size_t>(n64) * es, 0);
    std::memcpy(a.data(), act, static_cast<size_t>(n) * es);
    for (int64_t j = 0; j < nw; ++j) {
        std::memcpy(row.data(), static_cast<const uint8_t*>(wrows) + static_cast<size_t>(j) * w_stride,
                    static_cast<size_t>(n) * es);
        y[j] = float_vec_dot_ref(w, n64, row.data(), a.data());
    }
}

VecDotTileFn selected_float_dot_tile(DType w) {
    EDGEQ_CHECK(is_float_dot_type(w));
    const FastFloatDotTile* b = best(w);
    return b ? b->fn : ref_tile(w);
}

const char* selected_float_dot_tile_name(DType w) {
    EDGEQ_CHECK(is_float_dot_type(w));
    const FastFloatDotTile* b = best(w);
    return b ? b->name : "reference";
}

void float_dot_tile(DType w, int64_t n, const void* wrows, size_t w_stride, int64_t nw, const void* act,
                    size_t a_stride, int64_t na, float* y, size_t y_stride) {
    selected_float_dot_tile(w)(n, wrows, w_stride, nw, act, a_stride, na, y, y_stride);
}

}  // namespace edgeq
