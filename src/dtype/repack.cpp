// Repacked Q4_0 / Q8_0 matrices (dtype/repack.h): the layout, the activation preparation, the scalar reference
// GEMM on the packed layout and the dispatch to the AVX-512 VNNI kernel (dtype/x86/repack_avx512vnni.cpp).
#include "dtype/repack.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <sys/mman.h>

#include "core/check.h"
#include "core/cpu.h"
#include "core/fp16.h"
#include "dtype/blocks.h"
#include "dtype/quant_common.h"
#include "dtype/vec_dot_float.h"

namespace edgeq {
namespace vdot {
// dtype/x86/repack_avx512vnni.cpp. groups: the group holding row 0 of the nw rows; corr/dy: [na][nb].
void packed_gemm_q4_0_avx512vnni(const uint8_t* groups, size_t group_bytes, int64_t nb, int64_t nw,
                                 const void* act, size_t a_stride, int64_t na, const int32_t* corr,
                                 const float* dy, float* y, size_t y_stride);
void packed_gemm_q8_0_avx512vnni(const uint8_t* groups, size_t group_bytes, int64_t nb, int64_t nw,
                                 const void* act, size_t a_stride, int64_t na, const int32_t* corr,
                                 const float* dy, float* y, size_t y_stride);
// nsb super-blocks; lq / bsum / dy: PackedActs' Q4_K fields.
void packed_gemm_q4_K_avx512vnni(const uint8_t* groups, size_t group_bytes, int64_t nsb, int64_t nw,
                                 const uint8_t* lq, const int32_t* bsum, const float* dy, int64_t na, float* y,
                                 size_t y_stride);
void packed_gemm_q6_K_avx512vnni(const uint8_t* groups, size_t group_bytes, int64_t nsb, int64_t nw,
                                 const uint8_t* lq, const int32_t* corr, const float* dy, int64_t na, float* y,
                                 size_t y_stride);
// dtype/x86/vec_dot_avx512.cpp: prepare_packed_acts' Q4_K / Q6_K fields of one activation row.
void lane_order_q8_K_avx512(const block_q8_K* y, int64_t nsb, bool q6, uint8_t* lq, int32_t* corr, float* dy);
// dtype/x86/vec_dot_f16_avx512.cpp: F32 / F16 / BF16 groups from the one holding row 0 of the nw rows.
void float_packed_tile_avx512(DType t, int64_t n, const void* w, int64_t nw, const void* a, size_t as, int64_t na,
                              float* y, size_t ys);
}  // namespace vdot

namespace {

constexpr int64_t kBlock = 32;
// Quant bytes of one block of a group: Q4_0 4 vectors of 64 bytes, Q8_0 8.
size_t block_qs_bytes(DType w) { return w == DType::Q4_0 ? 256 : 512; }
// The value added to each weight quant to make it an unsigned vpdpbusd operand (Q4_0: the stored nibble).
int32_t quant_offset(DType w) { return w == DType::Q4_0 ? 8 : 128; }

// Blocks go in pairs: the quants of blocks 2c and 2c + 1, then their 2 x 16 fp16 scales (one 64-byte line), so a
// group is one stream in address order.
size_t pair_bytes(DType w) { return 2 * block_qs_bytes(w) + 4 * kPackRows; }
// Quant byte of element e (< 32) of block b, lane (row of the group) j, in the group.
size_t qs_index(DType w, int64_t b, int64_t j, int e) {
    const int m = w == DType::Q4_0 ? (e % 16) / 4 : e / 4;
    return static_cast<size_t>(b / 2) * pair_bytes(w) + static_cast<size_t>(b % 2) * block_qs_bytes(w) +
           static_cast<size_t>(m) * 64 + static_cast<size_t>(4 * j) + static_cast<size_t>(e % 4);
}
// The fp16 scale of block b, lane j, in the group.
size_t ds_index(DType w, int64_t b, int64_t j) {
    return static_cast<size_t>(b / 2) * pair_bytes(w) + 2 * block_qs_bytes(w) +
           static_cast<size_t>(b % 2) * 2 * kPackRows + static_cast<size_t>(2 * j);
}

// Q4_K super-block part offsets in a group (repack.h).
constexpr size_t kQ4KScales = 2048, kQ4KMins = 2176, kQ4KD = 2304, kQ4KDmin = 2336;
static_assert(kQ4KDmin + 2 * kPackRows == kQ4KGroupSb && kQ4KGroupSb % 64 == 0);

void repack_q4_K_group(const uint8_t* src, size_t row_stride, int64_t rows, int64_t nsb, uint8_t* g) {
    for (int64_t j = 0; j < rows; ++j) {
        const auto* x = reinterpret_cast<const block_q4_K*>(src + static_cast<size_t>(j) * row_stride);
        for (int64_t i = 0; i < nsb; ++i) {
            uint8_t* sb = g + static_cast<size_t>(i) * kQ4KGroupSb;
            for (int jj = 0; jj < 4; ++jj)
                for (int l = 0; l < 8; ++l)
                    for (int t = 0; t < 4; ++t)
                        sb[l * 256 + jj * 64 + 4 * j + t] = x[i].qs[32 * jj + l + 8 * t];
            for (int s = 0; s < 8; ++s)
                quants::unpack_scale_min_k4(s, x[i].scales, sb[kQ4KScales + 16 * s + j], sb[kQ4KMins + 16 * s + j]);
            std::memcpy(sb + kQ4KD + 2 * j, &x[i].d, 2);
            std::memcpy(sb + kQ4KDmin + 2 * j, &x[i].dmin, 2);
        }
    }
}

// The Q4_K reference on the packed layout: row j of group g, activation row i (dtype/vec_dot.cpp dot_q45_K's
// operations in its order).
float q4_K_ref(const uint8_t* g, int64_t j, int64_t nsb, const PackedActs& pa, int64_t i) {
    float sums[8] = {}, sumf = 0.0f;
    for (int64_t b = 0; b < nsb; ++b) {
        const uint8_t* sb = g + static_cast<size_t>(b) * kQ4KGroupSb;
        const uint8_t* a = pa.lq.data() + static_cast<size_t>((i * nsb + b) * 256);
        int32_t aux[8] = {};
        for (int jj = 0; jj < 4; ++jj)
            for (int l = 0; l < 8; ++l)
                for (int t = 0; t < 4; ++t) {
                    const uint8_t byte = sb[l * 256 + jj * 64 + 4 * j + t];
                    aux[l] += sb[kQ4KScales + 16 * (2 * jj) + j] * (byte & 0xF) *
                              static_cast<int8_t>(a[64 * jj + 4 * l + t]);
                    aux[l] += sb[kQ4KScales + 16 * (2 * jj + 1) + j] * (byte >> 4) *
                              static_cast<int8_t>(a[64 * jj + 32 + 4 * l + t]);
                }
        int32_t sumi = 0;
        for (int s = 0; s < 8; ++s)
            sumi += sb[kQ4KMins + 16 * s + j] * static_cast<int16_t>(pa.corr[static_cast<size_t>((i * nsb + b) * 8 + s)]);
        fp16_t dh, mh;
        std::memcpy(&dh, sb + kQ4KD + 2 * j, 2);
        std::memcpy(&mh, sb + kQ4KDmin + 2 * j, 2);
        const float dy = pa.dy[static_cast<size_t>(i * nsb + b)];
        const float d = fp16_to_f32(dh) * dy;
        for (int l = 0; l < 8; ++l) sums[l] += d * static_cast<float>(aux[l]);
        const float dmin = fp16_to_f32(mh) * dy;
        sumf -= dmin * static_cast<float>(sumi);
    }
    for (int l = 0; l < 8; ++l) sumf += sums[l];
    return sumf;
}

// Q6_K: per super-block of a group, for each lane l six 64-byte vectors (ql bytes 64 h + 32 p + l + 8 t of each
// row for h, p in {0, 1}; then qh bytes 32 h + l + 8 t), then per 32-element chunk c the rows' (s[2c], s[2c + 1])
// int8 pairs, then the 16 fp16 d; padded to a multiple of 64 bytes.
constexpr size_t kQ6Scales = 3072, kQ6D = 3328, kQ6Sb = 3392;

void repack_q6_K_group(const uint8_t* src, size_t row_stride, int64_t rows, int64_t nsb, uint8_t* g) {
    for (int64_t j = 0; j < rows; ++j) {
        const auto* x = reinterpret_cast<const block_q6_K*>(src + static_cast<size_t>(j) * row_stride);
        for (int64_t i = 0; i < nsb; ++i) {
            uint8_t* sb = g + static_cast<size_t>(i) * kQ6Sb;
            for (int l = 0; l < 8; ++l)
                for (int t = 0; t < 4; ++t) {
                    for (int h = 0; h < 2; ++h) {
                        for (int p = 0; p < 2; ++p)
                            sb[384 * l + 128 * h + 64 * p + 4 * j + t] = x[i].ql[64 * h + 32 * p + l + 8 * t];
                        sb[384 * l + 256 + 64 * h + 4 * j + t] = x[i].qh[32 * h + l + 8 * t];
                    }
                }
            for (int c = 0; c < 8; ++c)
                for (int k = 0; k < 2; ++k) sb[kQ6Scales + 32 * c + 2 * j + k] = static_cast<uint8_t>(x[i].scales[2 * c + k]);
            std::memcpy(sb + kQ6D + 2 * j, &x[i].d, 2);
        }
    }
}

// 6-bit weight q (w + 32) of element e of a super-block, row j, from the packed bytes.
int q6_K_packed_q(const uint8_t* sb, int64_t j, int e) {
    const int h = e / 128, m = (e % 128) / 32, l32 = e % 32, l = l32 % 8, t = l32 / 8;
    const uint8_t ql = sb[384 * l + 128 * h + 64 * (m % 2) + 4 * j + t];
    const uint8_t qh = sb[384 * l + 256 + 64 * h + 4 * j + t];
    return (m < 2 ? ql & 0xF : ql >> 4) | (((qh >> (2 * m)) & 3) << 4);
}

// The Q6_K reference on the packed layout (dtype/vec_dot.cpp dot_q6_K's operations in its order).
float q6_K_ref(const uint8_t* g, int64_t j, int64_t nsb, const PackedActs& pa, int64_t i) {
    float sums[8] = {};
    for (int64_t b = 0; b < nsb; ++b) {
        const uint8_t* sb = g + static_cast<size_t>(b) * kQ6Sb;
        const uint8_t* a = pa.lq.data() + static_cast<size_t>((i * nsb + b) * 256);
        int32_t aux[8] = {};
        for (int e = 0; e < 256; ++e) {
            const int c = e / 32, l = e % 8, t = (e % 32) / 8;
            const int sc = static_cast<int8_t>(sb[kQ6Scales + 32 * c + 2 * j + t / 2]);
            aux[l] += sc * (q6_K_packed_q(sb, j, e) - 32) * static_cast<int8_t>(a[32 * c + 4 * l + t]);
        }
        fp16_t dh;
        std::memcpy(&dh, sb + kQ6D + 2 * j, 2);
        const float d = fp16_to_f32(dh) * pa.dy[static_cast<size_t>(i * nsb + b)];
        for (int l = 0; l < 8; ++l) sums[l] += d * static_cast<float>(aux[l]);
    }
    float sumf = 0.0f;
    for (int l = 0; l < 8; ++l) sumf += sums[l];
    return sumf;
}

// Packed matrices are streamed from DRAM once per decoded token. Those of 2 MB or more start on a 2 MB boundary and
// ask for transparent huge pages over their whole 2 MB pages (this kernel's THP mode is "madvise"): one TLB entry
// per 2 MB instead of 512. The resident set is unchanged (the unused end of the last 2 MB is never touched); from 2
// MB instead of 4 MB since session 17, so a 1b model's 2.4 MB attention matrices get them too (1b decode +1 %).
uint8_t* alloc_packed(size_t bytes) {
    constexpr size_t kHuge = size_t{2} << 20;
    if (bytes < kHuge) return static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
    void* p = std::aligned_alloc(kHuge, (bytes + kHuge - 1) / kHuge * kHuge);
#if defined(MADV_HUGEPAGE)
    if (p != nullptr) ::madvise(p, bytes / kHuge * kHuge, MADV_HUGEPAGE);  // a hint: failure leaves 4 KB pages
#endif
    return static_cast<uint8_t*>(p);
}

}  // namespace

bool repack_supported(DType w) {
    return w == DType::Q4_0 || w == DType::Q8_0 || w == DType::Q4_K || w == DType::Q6_K || is_float_dot_type(w);
}

bool repack_profitable(DType w) {
    return repack_supported(w) && isa_enabled(is_float_dot_type(w) ? Isa::Avx512 : Isa::Avx512Vnni);
}

PackedMatrix repack_matrix(DType w, const void* rows, size_t row_stride, int64_t n_rows, int64_t cols) {
    EDGEQ_CHECK(repack_supported(w) && cols > 0 && n_rows > 0);
    if (is_float_dot_type(w)) {  // row j of a group, 16-element chunk k at k * 16 * 16 * es + j * 16 * es
        EDGEQ_CHECK(cols % 16 == 0);
        const size_t es = w == DType::F32 ? 4 : 2, chunk = 16 * es;
        PackedMatrix p;
        p.type = w;
        p.rows = n_rows;
        p.cols = cols;
        p.group_bytes = static_cast<size_t>(kPackRows) * static_cast<size_t>(cols) * es;
        p.data.reset(alloc_packed(p.bytes()));
        EDGEQ_CHECK(p.data != nullptr);
        std::memset(p.data.get(), 0, p.bytes());
        for (int64_t r = 0; r < n_rows; ++r) {
            const uint8_t* src = static_cast<const uint8_t*>(rows) + static_cast<size_t>(r) * row_stride;
            uint8_t* g = p.data.get() + static_cast<size_t>(r / kPackRows) * p.group_bytes;
            for (int64_t k = 0; k < cols / 16; ++k)
                std::memcpy(g + static_cast<size_t>(k) * kPackRows * chunk + static_cast<size_t>(r % kPackRows) * chunk,
                            src + static_cast<size_t>(k) * chunk, chunk);
        }
        return p;
    }
    if (w == DType::Q4_K || w == DType::Q6_K) {
        EDGEQ_CHECK(cols % QK_K == 0);
        const bool q4 = w == DType::Q4_K;
        PackedMatrix p;
        p.type = w;
        p.rows = n_rows;
        p.cols = cols;
        const int64_t nsb = cols / QK_K, groups = (n_rows + kPackRows - 1) / kPackRows;
        p.group_bytes = static_cast<size_t>(nsb) * (q4 ? kQ4KGroupSb : kQ6Sb);
        p.data.reset(alloc_packed(p.bytes()));
        EDGEQ_CHECK(p.data != nullptr);
        std::memset(p.data.get(), 0, p.bytes());
        for (int64_t g = 0; g < groups; ++g)
            (q4 ? repack_q4_K_group : repack_q6_K_group)(
                static_cast<const uint8_t*>(rows) + static_cast<size_t>(g * kPackRows) * row_stride, row_stride,
                std::min(kPackRows, n_rows - g * kPackRows), nsb, p.data.get() + static_cast<size_t>(g) * p.group_bytes);
        return p;
    }
    EDGEQ_CHECK(cols % kBlock == 0);
    const int64_t nb = cols / kBlock, groups = (n_rows + kPackRows - 1) / kPackRows;
    PackedMatrix p;
    p.type = w;
    p.rows = n_rows;
    p.cols = cols;
    p.group_bytes = static_cast<size_t>((nb + 1) / 2) * pair_bytes(w);
    p.data.reset(alloc_packed(p.bytes()));
    EDGEQ_CHECK(p.data != nullptr);
    std::memset(p.data.get(), 0, p.bytes());
    const auto* src = static_cast<const uint8_t*>(rows);
    for (int64_t g = 0; g < groups; ++g) {
        uint8_t* qs = p.data.get() + static_cast<size_t>(g) * p.group_bytes;
        for (int64_t j = 0; j < kPackRows && g * kPackRows + j < n_rows; ++j) {
            const uint8_t* row = src + static_cast<size_t>(g * kPackRows + j) * row_stride;
            for (int64_t b = 0; b < nb; ++b) {
                if (w == DType::Q4_0) {
                    const auto& x = reinterpret_cast<const block_q4_0*>(row)[b];
                    for (int e = 0; e < 16; ++e) qs[qs_index(w, b, j, e)] = x.qs[e];
                    std::memcpy(qs + ds_index(w, b, j), &x.d, 2);
                } else {
                    const auto& x = reinterpret_cast<const block_q8_0*>(row)[b];
                    for (int e = 0; e < 32; ++e)
                        qs[qs_index(w, b, j, e)] = static_cast<uint8_t>(static_cast<uint8_t>(x.qs[e]) ^ 0x80u);
                    std::memcpy(qs + ds_index(w, b, j), &x.d, 2);
                }
            }
        }
    }
    return p;
}

namespace {
void prepare_acts(DType w, const void* act, size_t a_stride, int64_t na, int64_t cols, PackedActs& out, bool vector) {
    EDGEQ_CHECK(repack_supported(w));
    if (is_float_dot_type(w)) {  // float activations are used as they are
        out.na = na;
        out.nb = cols / 16;
        return;
    }
    if (w == DType::Q4_K || w == DType::Q6_K) {
        EDGEQ_CHECK(cols % QK_K == 0);
        const bool q4 = w == DType::Q4_K;
        const int64_t nsb = cols / QK_K, per_sb = q4 ? 8 : 64;
        out.na = na;
        out.nb = nsb;
        out.corr.resize(static_cast<size_t>(na * nsb * per_sb));
        out.dy.resize(static_cast<size_t>(na * nsb));
        out.lq.resize(static_cast<size_t>(na * cols));
        for (int64_t i = 0; i < na; ++i) {
            const auto* y = reinterpret_cast<const block_q8_K*>(static_cast<const uint8_t*>(act) +
                                                                static_cast<size_t>(i) * a_stride);
            if (vector && isa_enabled(Isa::Avx512)) {  // the same bytes (dtype/x86/vec_dot_avx512.cpp)
                vdot::lane_order_q8_K_avx512(y, nsb, !q4, out.lq.data() + static_cast<size_t>(i * cols),
                                            out.corr.data() + static_cast<size_t>(i * nsb * per_sb),
                                            out.dy.data() + static_cast<size_t>(i * nsb));
                continue;
            }
            for (int64_t b = 0; b < nsb; ++b) {
                uint8_t* lq = out.lq.data() + static_cast<size_t>((i * nsb + b) * QK_K);
                for (int s = 0; s < 8; ++s)
                    for (int l = 0; l < 8; ++l)
                        for (int t = 0; t < 4; ++t)
                            lq[32 * s + 4 * l + t] = static_cast<uint8_t>(y[b].qs[32 * s + l + 8 * t]);
                int32_t* corr = out.corr.data() + static_cast<size_t>((i * nsb + b) * per_sb);
                if (q4) {  // the sub-block sums, bsums of 16 added in pairs: |pair| <= 32 * 128
                    for (int s = 0; s < 8; ++s)
                        corr[s] = static_cast<uint16_t>(y[b].bsums[2 * s] + y[b].bsums[2 * s + 1]);
                } else {  // per chunk c and lane l: 32 * (a[l] + a[l + 8]), 32 * (a[l + 16] + a[l + 24]) as int16
                    for (int c = 0; c < 8; ++c)
                        for (int l = 0; l < 8; ++l) {
                            const int8_t* q = y[b].qs + 32 * c + l;
                            const int lo = 32 * (q[0] + q[8]), hi = 32 * (q[16] + q[24]);  // |.| <= 8192
                            corr[8 * c + l] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(lo)) |
                                                                   (static_cast<uint32_t>(static_cast<uint16_t>(hi)) << 16));
                        }
                }
                out.dy[static_cast<size_t>(i * nsb + b)] = y[b].d;
            }
        }
        return;
    }
    EDGEQ_CHECK(cols % kBlock == 0);
    const int64_t nb = cols / kBlock;
    const int32_t off = quant_offset(w);
    out.na = na;
    out.nb = nb;
    out.corr.resize(static_cast<size_t>(na * nb));
    out.dy.resize(static_cast<size_t>(na * nb));
    for (int64_t i = 0; i < na; ++i) {
        const auto* y = reinterpret_cast<const block_q8_0*>(static_cast<const uint8_t*>(act) +
                                                            static_cast<size_t>(i) * a_stride);
        for (int64_t b = 0; b < nb; ++b) {
            int32_t s = 0;
            for (int e = 0; e < 32; ++e) s += y[b].qs[e];
            out.corr[static_cast<size_t>(i * nb + b)] = -off * s;
            out.dy[static_cast<size_t>(i * nb + b)] = fp16_to_f32(y[b].d);
        }
    }
}

}  // namespace

void prepare_packed_acts(DType w, const void* act, size_t a_stride, int64_t na, int64_t cols, PackedActs& out) {
    prepare_acts(w, act, a_stride, na, cols, out, true);
}

void prepare_packed_acts_ref(DType w, const void* act, size_t a_stride, int64_t na, int64_t cols, PackedActs& out) {
    prepare_acts(w, act, a_stride, na, cols, out, false);
}

void packed_gemm_ref(const PackedMatrix& p, int64_t r_begin, int64_t r_end, const void* act, size_t a_stride,
                     const PackedActs& pa, float* y, size_t y_stride) {
    EDGEQ_CHECK(r_begin % kPackRows == 0 && r_begin <= r_end && r_end <= p.rows);
    if (is_float_dot_type(p.type)) return packed_float_tile_ref(p, r_begin, r_end, act, a_stride, pa.na, y, y_stride);
    if (p.type == DType::Q4_K || p.type == DType::Q6_K) {
        const int64_t nsb = p.cols / QK_K;
        EDGEQ_CHECK(pa.nb == nsb);
        auto* ref = p.type == DType::Q4_K ? &q4_K_ref : &q6_K_ref;
        for (int64_t r = r_begin; r < r_end; ++r)
            for (int64_t i = 0; i < pa.na; ++i)
                y[static_cast<size_t>(i) * y_stride + static_cast<size_t>(r)] =
                    ref(p.group(r / kPackRows), r % kPackRows, nsb, pa, i);
        return;
    }
    const int64_t nb = p.cols / kBlock;
    EDGEQ_CHECK(pa.nb == nb);
    const bool q4 = p.type == DType::Q4_0;
    for (int64_t r = r_begin; r < r_end; ++r) {
        const uint8_t* qs = p.group(r / kPackRows);
        const int64_t j = r % kPackRows;
        for (int64_t i = 0; i < pa.na; ++i) {
            const auto* ya = reinterpret_cast<const block_q8_0*>(static_cast<const uint8_t*>(act) +
                                                                 static_cast<size_t>(i) * a_stride);
            float sumf = 0.0f;
            for (int64_t b = 0; b < nb; ++b) {
                int32_t isum = pa.corr[static_cast<size_t>(i * nb + b)];
                for (int e = 0; e < 32; ++e) {
                    const uint8_t byte = qs[qs_index(p.type, b, j, e)];
                    const int u = q4 ? (e < 16 ? byte & 0x0F : byte >> 4) : byte;
                    isum += u * ya[b].qs[e];
                }
                fp16_t dh;
                std::memcpy(&dh, qs + ds_index(p.type, b, j), 2);
                const float dx = fp16_to_f32(dh), dy = pa.dy[static_cast<size_t>(i * nb + b)];
                // The reference's float terms (vec_dot.cpp dot_q4_0, dot_q8_0).
                sumf += q4 ? static_cast<float>(isum) * dx * dy : static_cast<float>(isum) * (dx * dy);
            }
            y[static_cast<size_t>(i) * y_stride + static_cast<size_t>(r)] = sumf;
        }
    }
}

void packed_float_tile_ref(const PackedMatrix& p, int64_t r_begin, int64_t r_end, const void* act,
                           size_t a_stride, int64_t na, float* y, size_t y_stride) {
    EDGEQ_CHECK(is_float_dot_type(p.type) && r_begin % kPackRows == 0 && r_begin <= r_end && r_end <= p.rows);
    const size_t es = p.type == DType::F32 ? 4 : 2, chunk = 16 * es;
    std::vector<uint8_t> row(static_cast<size_t>(p.cols) * es);
    for (int64_t r = r_begin; r < r_end; ++r) {
        const uint8_t* g = p.group(r / kPackRows);
        for (int64_t k = 0; k < p.cols / 16; ++k)
            std::memcpy(row.data() + static_cast<size_t>(k) * chunk,
                        g + static_cast<size_t>(k) * kPackRows * chunk + static_cast<size_t>(r % kPackRows) * chunk, chunk);
        for (int64_t i = 0; i < na; ++i)
            y[static_cast<size_t>(i) * y_stride + static_cast<size_t>(r)] = float_dot_ref(
                p.type, p.cols, row.data(), static_cast<const uint8_t*>(act) + static_cast<size_t>(i) * a_stride);
    }
}

void packed_float_tile(const PackedMatrix& p, int64_t r_begin, int64_t r_end, const void* act, size_t a_stride,
                       int64_t na, float* y, size_t y_stride) {
    EDGEQ_CHECK(is_float_dot_type(p.type) && r_begin % kPackRows == 0 && r_begin <= r_end && r_end <= p.rows);
    if (r_begin == r_end || na == 0) return;
    if (!isa_enabled(Isa::Avx512)) return packed_float_tile_ref(p, r_begin, r_end, act, a_stride, na, y, y_stride);
    vdot::float_packed_tile_avx512(p.type, p.cols, p.group(r_begin / kPackRows), r_end - r_begin, act, a_stride, na,
                                   y + r_begin, y_stride);
}

void packed_gemm(const PackedMatrix& p, int64_t r_begin, int64_t r_end, const void* act, size_t a_stride,
                 const PackedActs& pa, float* y, size_t y_stride) {
    if (is_float_dot_type(p.type)) return packed_float_tile(p, r_begin, r_end, act, a_stride, pa.na, y, y_stride);
    const bool k = p.type == DType::Q4_K || p.type == DType::Q6_K;
    EDGEQ_CHECK(r_begin % kPackRows == 0 && r_begin <= r_end && r_end <= p.rows &&
                pa.nb == p.cols / (k ? QK_K : kBlock));
    if (r_begin == r_end || pa.na == 0) return;
    if (!isa_enabled(Isa::Avx512Vnni))
        return packed_gemm_ref(p, r_begin, r_end, act, a_stride, pa, y, y_stride);
    if (k)
        return (p.type == DType::Q4_K ? &vdot::packed_gemm_q4_K_avx512vnni : &vdot::packed_gemm_q6_K_avx512vnni)(
            p.group(r_begin / kPackRows), p.group_bytes, pa.nb, r_end - r_begin, pa.lq.data(), pa.corr.data(),
            pa.dy.data(), pa.na, y + r_begin, y_stride);
    auto* fn = p.type == DType::Q4_0 ? &vdot::packed_gemm_q4_0_avx512vnni : &vdot::packed_gemm_q8_0_avx512vnni;
    fn(p.group(r_begin / kPackRows), p.group_bytes, pa.nb, r_end - r_begin, act, a_stride, pa.na, pa.corr.data(),
       pa.dy.data(), y + r_begin, y_stride);
}

const char* selected_packed_gemm_name(DType w) {
    if (!repack_supported(w)) return "none";
    if (is_float_dot_type(w)) {
        const bool avx512 = isa_enabled(Isa::Avx512);
        if (w == DType::F32) return avx512 ? "packed_tile_f32__avx512" : "packed_tile_f32__ref";
        if (w == DType::F16) return avx512 ? "packed_tile_f16__avx512" : "packed_tile_f16__ref";
        return avx512 ? "packed_tile_bf16__avx512" : "packed_tile_bf16__ref";
    }
    const bool vnni = isa_enabled(Isa::Avx512Vnni);
    if (w == DType::Q4_0) return vnni ? "packed_gemm_q4_0__avx512vnni" : "packed_gemm_q4_0__ref";
    if (w == DType::Q4_K) return vnni ? "packed_gemm_q4_K__avx512vnni" : "packed_gemm_q4_K__ref";
    if (w == DType::Q6_K) return vnni ? "packed_gemm_q6_K__avx512vnni" : "packed_gemm_q6_K__ref";
    return vnni ? "packed_gemm_q8_0__avx512vnni" : "packed_gemm_q8_0__ref";
}

}  // namespace edgeq
