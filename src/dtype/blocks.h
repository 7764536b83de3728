// Packed block layouts of the ggml formats, byte-compatible with ggml (see docs/formats/ggml-blocks.md).
// Each struct's size is asserted against its dtype.def row. Scales are fp16 bit patterns unless noted.
#pragma once

#include <cstdint>

#include "core/fp16.h"

namespace edgeq {

inline constexpr int QK4_0 = 32, QK4_1 = 32, QK5_0 = 32, QK5_1 = 32, QK8_0 = 32, QK8_1 = 32;
inline constexpr int QK4_NL = 32;
inline constexpr int QK_K = 256;
inline constexpr int K_SCALE_SIZE = 12;

struct block_q4_0 { fp16_t d; uint8_t qs[QK4_0 / 2]; };                 // x = d*(q-8); nibble j / j+16
struct block_q4_1 { fp16_t d, m; uint8_t qs[QK4_1 / 2]; };              // x = d*q + m
struct block_q5_0 { fp16_t d; uint8_t qh[4]; uint8_t qs[QK5_0 / 2]; };  // x = d*(q-16), bit 5 in qh
struct block_q5_1 { fp16_t d, m; uint8_t qh[4]; uint8_t qs[QK5_1 / 2]; };
struct block_q8_0 { fp16_t d; int8_t qs[QK8_0]; };                      // x = d*q
struct block_q8_1 { fp16_t d, s; int8_t qs[QK8_1]; };                   // s = d * sum(qs)
struct block_iq4_nl { fp16_t d; uint8_t qs[QK4_NL / 2]; };              // x = d*kvalues_iq4nl[idx]

// k-quants: super-blocks of 256.
struct block_q2_K {                 // 16 sub-blocks of 16: x = d*sc*q - dmin*m, 4-bit sc/m
    uint8_t scales[QK_K / 16];      // low nibble scale, high nibble min
    uint8_t qs[QK_K / 4];           // 2-bit quants
    fp16_t d, dmin;
};
struct block_q3_K {                 // 16 sub-blocks of 16: x = d*(sc-32)*(q-4 if hmask bit clear)
    uint8_t hmask[QK_K / 8];        // high bit
    uint8_t qs[QK_K / 4];           // low 2 bits
    uint8_t scales[12];             // 16 x 6-bit scales
    fp16_t d;
};
struct block_q4_K {                 // 8 sub-blocks of 32: x = d*sc*q - dmin*m, 6-bit sc/m
    fp16_t d, dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qs[QK_K / 2];
};
struct block_q5_K {
    fp16_t d, dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
};
struct block_q6_K {                 // 16 sub-blocks of 16: x = d*sc*(q-32), int8 sc
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    fp16_t d;
};
struct block_q8_K {                 // activation partner of k-quants; f32 scale
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
};
// ternary: x = d*(q-1), q in {0,1,2}
struct block_tq1_0 {
    uint8_t qs[(QK_K - 4 * QK_K / 64) / 5];  // 5 trits per byte
    uint8_t qh[QK_K / 64];                   // 4 trits per byte
    fp16_t d;
};
struct block_tq2_0 {
    uint8_t qs[QK_K / 4];  // 2 bits per element
    fp16_t d;
};

static_assert(sizeof(block_q4_0) == 18 && sizeof(block_q4_1) == 20 && sizeof(block_q5_0) == 22 &&
              sizeof(block_q5_1) == 24 && sizeof(block_q8_0) == 34 && sizeof(block_q8_1) == 36 &&
              sizeof(block_iq4_nl) == 18);
static_assert(sizeof(block_q2_K) == 84 && sizeof(block_q3_K) == 110 && sizeof(block_q4_K) == 144 &&
              sizeof(block_q5_K) == 176 && sizeof(block_q6_K) == 210 && sizeof(block_q8_K) == 292);
static_assert(sizeof(block_tq1_0) == 54 && sizeof(block_tq2_0) == 66);

// IQ4_NL's non-linear 16-entry codebook.
inline constexpr int8_t kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                             1,    13,   25,  38,  53,  69,  89,  113};

}  // namespace edgeq
