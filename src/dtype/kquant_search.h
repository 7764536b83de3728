// The inner searches that dominate k-quant time, as a swappable table: the reference (scalar loops over
// quant_common.h) or a SIMD version (x86/quant_avx2.cpp) that runs the sub-blocks in parallel lanes, each
// lane doing exactly the scalar float operations in the scalar order — so the results are bit-identical
// (scales, mins and levels; tested entry by entry in tests/unit/dtype/quant_simd_test.cpp) and only the speed
// differs. x, w, qw, L: one super-block (256 values); scales, mins: one per sub-block.
#pragma once

#include <cstddef>
#include <cstdint>

namespace edgeq::quants {

struct KSearch {
    // For g = 0..15: scales[g] = make_qx_quants(16, nmax, x + 16g, L + 16g, 1, qw ? qw + 16g : nullptr).
    // (Q6_K: nmax 32; Q3_K imatrix: nmax 4, qw = its weights)
    void (*qx_16x16)(const float* x, const float* qw, int nmax, int8_t* L, float* scales);
    // For g = 0..7: scales[g] = make_qkx2_quants(32, nmax, x + 32g, w + 32g, L + 32g, &mins[g], scratch,
    //                                            rmin, rdelta, nstep, false).  (Q4_K, Q5_K)
    void (*qkx2_8x32)(const float* x, const float* w, int nmax, float rmin, float rdelta, int nstep,
                      uint8_t* L, float* scales, float* mins);
    // Same with make_qkx3_quants (w non-null).  (Q4_K, Q5_K imatrix)
    void (*qkx3_8x32)(const float* x, const float* w, int nmax, float rmin, float rdelta, int nstep,
                      uint8_t* L, float* scales, float* mins);
    // For g = 0..15: scales[g] = make_qkx2_quants(16, nmax, x + 16g, w + 16g, L + 16g, &mins[g], scratch,
    //                                             rmin, rdelta, nstep, use_mad).  (Q2_K: w = |x|, use_mad)
    void (*qkx2_16x16)(const float* x, const float* w, int nmax, float rmin, float rdelta, int nstep,
                       bool use_mad, uint8_t* L, float* scales, float* mins);
    // For g = 0..15: make_qkx3_quants(16, ..., false) (w non-null).  (Q2_K imatrix)
    void (*qkx3_16x16)(const float* x, const float* w, int nmax, float rmin, float rdelta, int nstep,
                       uint8_t* L, float* scales, float* mins);
    // For g = 0..15: scales[g] = make_q3_quants(16, 4, x + 16g, L + 16g, true).  (Q3_K)
    void (*q3_16x16)(const float* x, int8_t* L, float* scales);
};

extern const KSearch kSearchRef;

// The AVX2 table (x86/quant_avx2.cpp): call its entries only where isa_enabled(Isa::Avx2). For tests; the
// AVX2 quantizers use it internally.
const KSearch& ksearch_avx2();

// The k-quant quantizers with a given search table (quantize_Q4_K etc. use kSearchRef).
size_t quantize_Q4_K_with(const KSearch& s, const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                          const float* imatrix);
size_t quantize_Q5_K_with(const KSearch& s, const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                          const float* imatrix);
size_t quantize_Q6_K_with(const KSearch& s, const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                          const float* imatrix);

}  // namespace edgeq::quants
