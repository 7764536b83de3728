// Helpers shared by the k-quant tiles of vec_dot_avx2.cpp and vec_dot_avx512.cpp (dtype/vec_dot.h
// VecDotTileFn). Internal linkage on purpose (see dtype/x86/lanes_x86.h): each unit is compiled for its own
// ISA.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dtype/blocks.h"

namespace edgeq::vdot {
namespace {

// The k-quant tiles take activation rows in groups of this many.
constexpr int kTileRows = 4;

// The activation rows [i0, i0 + n) of a tile, n = min(kTileRows, na - i0).
struct TileRows {
    const block_q8_K* y[kTileRows];
    int n;
};
inline TileRows tile_rows(const void* a, size_t a_stride, int64_t i0, int64_t na) {
    TileRows r;
    r.n = na - i0 < kTileRows ? static_cast<int>(na - i0) : kTileRows;
    for (int k = 0; k < r.n; ++k)
        r.y[k] = reinterpret_cast<const block_q8_K*>(static_cast<const uint8_t*>(a) +
                                                     static_cast<size_t>(i0 + k) * a_stride);
    return r;
}

// Weight row r of a tile.
template <typename Block>
inline const Block* tile_weight_row(const void* w, size_t w_stride, int64_t r) {
    return reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w) + static_cast<size_t>(r) * w_stride);
}

// A row kernel as the tile of one weight row and one activation row.
template <auto Tile>
float row_of(int64_t n, const void* w, const void* a) {
    float y;
    Tile(n, w, 0, 1, a, 0, 1, &y, 0);
    return y;
}

}  // namespace
}  // namespace edgeq::vdot

// The exported Q4_K/Q5_K/Q6_K rows and tiles of a unit that defines q45_K_tile<bool kQ5> and q6_K_tile; expand in
// namespace edgeq::vdot, outside the anonymous namespace.
#define EDGEQ_VDOT_KQUANT_EXPORTS(SFX)                                                                             \
    float q4_K_q8_K_##SFX(int64_t n, const void* w, const void* a) { return row_of<&q45_K_tile<false>>(n, w, a); } \
    float q5_K_q8_K_##SFX(int64_t n, const void* w, const void* a) { return row_of<&q45_K_tile<true>>(n, w, a); }  \
    float q6_K_q8_K_##SFX(int64_t n, const void* w, const void* a) { return row_of<&q6_K_tile>(n, w, a); }         \
    void q4_K_q8_K_tile_##SFX(int64_t n, const void* w, size_t ws, int64_t nw, const void* a, size_t as, int64_t na, \
                              float* y, size_t ys) {                                                               \
        q45_K_tile<false>(n, w, ws, nw, a, as, na, y, ys);                                                        \
    }                                                                                                              \
    void q5_K_q8_K_tile_##SFX(int64_t n, const void* w, size_t ws, int64_t nw, const void* a, size_t as, int64_t na, \
                              float* y, size_t ys) {                                                               \
        q45_K_tile<true>(n, w, ws, nw, a, as, na, y, ys);                                                         \
    }                                                                                                              \
    void q6_K_q8_K_tile_##SFX(int64_t n, const void* w, size_t ws, int64_t nw, const void* a, size_t as, int64_t na, \
                              float* y, size_t ys) {                                                               \
        q6_K_tile(n, w, ws, nw, a, as, na, y, ys);                                                                 \
    }
