// The two inner searches that dominate k-quant time, as a swappable table: the reference (scalar loops over
// quant_common.h) or a SIMD version (x86/quant_avx2.cpp) that runs the sub-blocks in parallel lanes, each lane
// doing exactly the scalar float operations in the scalar order — so the bytes are identical (tested in
// tests/unit/dtype/quant_simd_test.cpp) and only the speed differs.
#pragma once

#include <cstddef>
#include <cstdint>

namespace edgeq::quants {

struct KSearch {
    // For g = 0..15: scales[g] = make_qx_quants(16, 32, x + 16g, L + 16g, 1, qw ? qw + 16g : nullptr).
    void (*qx_16x16)(const float* x, const float* qw, int8_t* L, float* scales);
    // For g = 0..7: scales[g] = make_qkx2_quants(32, nmax, x + 32g, w + 32g, L + 32g, &mins[g], scratch,
    //                                            rmin, rdelta, nstep, false).
    void (*qkx2_8x32)(const float* x, const float* w, int nmax, float rmin, float rdelta, int nstep, uint8_t* L,
                      float* scales, float* mins);
};

extern const KSearch kSearchRef;

// The k-quant quantizers with a given search table (quantize_Q4_K etc. use kSearchRef).
size_t quantize_Q4_K_with(const KSearch& s, const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                          const float* imatrix);
size_t quantize_Q5_K_with(const KSearch& s, const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                          const float* imatrix);
size_t quantize_Q6_K_with(const KSearch& s, const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                          const float* imatrix);

}  // namespace edgeq::quants
