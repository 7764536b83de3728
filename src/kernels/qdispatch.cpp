// The integer kernel table (kernels/qgemm.h): one row per kernel (op, ISA, name, register tile, function).
// qselect() picks, once per process and op, the best row this CPU supports within active_isa()
// (EDGEQ_ISA=ref|avx2|avx512|avx512_vnni caps it). AVX-VNNI rows are AVX2-level rows that also need the
// avxvnni CPU flag; they rank above the plain AVX2 rows and below every AVX-512 row.
#include <array>
#include <vector>

#include "kernels/qgemm.h"

namespace edgeq::kernels {
namespace x86 {
void qgemm_u8s8__avx2_3x16(const QGemmArgs&);
void qgemm_u8s4g_f32__avx2_2x16(const QGroupGemmArgs&);
void qgemm_u8s2g_f32__avx2_2x16(const QGroupGemmArgs&);
void qgemm_u8s8__avx512vnni_8x32(const QGemmArgs&);
void qgemm_u8s4g_f32__avx512vnni_4x32(const QGroupGemmArgs&);
void qgemm_u8s2g_f32__avx512vnni_4x32(const QGroupGemmArgs&);
void qgemm_u8s8__avx512vnni_ymm_6x16(const QGemmArgs&);
void qgemm_u8s4g_f32__avx512vnni_ymm_2x16(const QGroupGemmArgs&);
void qgemm_u8s2g_f32__avx512vnni_ymm_2x16(const QGroupGemmArgs&);
// nullptr when the compiler could not build the AVX-VNNI unit
QGemmFn qgemm_u8s8__avxvnni_fn();
QGroupGemmFn qgemm_group__avxvnni_fn(int bits);
}  // namespace x86

namespace {

template <typename F>
void (*erase_q(F f))() {
    return reinterpret_cast<void (*)()>(f);
}

std::vector<QKernelRow> make_rows() {
    std::vector<QKernelRow> rows = {
        {QOp::Gemm8, Isa::Ref, false, "qgemm_u8s8__ref_1x1", 1, 1, erase_q(&ref::qgemm_u8s8)},
        {QOp::Gemm8, Isa::Avx2, false, "qgemm_u8s8__avx2_3x16", 3, 16, erase_q(&x86::qgemm_u8s8__avx2_3x16)},
        {QOp::Gemm8, Isa::Avx512Vnni, false, "qgemm_u8s8__avx512vnni_8x32", 8, 32,
         erase_q(&x86::qgemm_u8s8__avx512vnni_8x32)},
        {QOp::Gemm8, Isa::Avx512Vnni, false, "qgemm_u8s8__avx512vnni_ymm_6x16", 6, 16,
         erase_q(&x86::qgemm_u8s8__avx512vnni_ymm_6x16)},
        {QOp::Gemm4g, Isa::Ref, false, "qgemm_u8s4g_f32__ref_1x1", 1, 1, erase_q(&ref::qgemm_u8s4g_f32)},
        {QOp::Gemm4g, Isa::Avx2, false, "qgemm_u8s4g_f32__avx2_2x16", 2, 16,
         erase_q(&x86::qgemm_u8s4g_f32__avx2_2x16)},
        {QOp::Gemm4g, Isa::Avx512Vnni, false, "qgemm_u8s4g_f32__avx512vnni_4x32", 4, 32,
         erase_q(&x86::qgemm_u8s4g_f32__avx512vnni_4x32)},
        {QOp::Gemm4g, Isa::Avx512Vnni, false, "qgemm_u8s4g_f32__avx512vnni_ymm_2x16", 2, 16,
         erase_q(&x86::qgemm_u8s4g_f32__avx512vnni_ymm_2x16)},
        {QOp::Gemm2g, Isa::Ref, false, "qgemm_u8s2g_f32__ref_1x1", 1, 1, erase_q(&ref::qgemm_u8s2g_f32)},
        {QOp::Gemm2g, Isa::Avx2, false, "qgemm_u8s2g_f32__avx2_2x16", 2, 16,
         erase_q(&x86::qgemm_u8s2g_f32__avx2_2x16)},
        {QOp::Gemm2g, Isa::Avx512Vnni, false, "qgemm_u8s2g_f32__avx512vnni_4x32", 4, 32,
         erase_q(&x86::qgemm_u8s2g_f32__avx512vnni_4x32)},
        {QOp::Gemm2g, Isa::Avx512Vnni, false, "qgemm_u8s2g_f32__avx512vnni_ymm_2x16", 2, 16,
         erase_q(&x86::qgemm_u8s2g_f32__avx512vnni_ymm_2x16)},
    };
    if (QGemmFn f = x86::qgemm_u8s8__avxvnni_fn())
        rows.push_back({QOp::Gemm8, Isa::Avx2, true, "qgemm_u8s8__avxvnni_6x16", 6, 16, erase_q(f)});
    if (QGroupGemmFn f = x86::qgemm_group__avxvnni_fn(4))
        rows.push_back({QOp::Gemm4g, Isa::Avx2, true, "qgemm_u8s4g_f32__avxvnni_2x16", 2, 16, erase_q(f)});
    if (QGroupGemmFn f = x86::qgemm_group__avxvnni_fn(2))
        rows.push_back({QOp::Gemm2g, Isa::Avx2, true, "qgemm_u8s2g_f32__avxvnni_2x16", 2, 16, erase_q(f)});
    return rows;
}

const std::vector<QKernelRow>& rows() {
    static const std::vector<QKernelRow> r = make_rows();
    return r;
}

// Rank: ISA level, AVX-VNNI above plain AVX2; the first listed row wins ties (the zmm row before its ymm
// twin).
int rank(const QKernelRow& r) {
    return 2 * static_cast<int>(r.isa) + (r.needs_avxvnni ? 1 : 0);
}

const QKernelRow* best(QOp op) {
    const QKernelRow* b = nullptr;
    for (const auto& r : rows())
        if (r.op == op && qrow_enabled(r) && (!b || rank(r) > rank(*b))) b = &r;
    return b;
}

constexpr size_t kQOps = 3;

}  // namespace

std::span<const QKernelRow> qkernel_rows() {
    return rows();
}

bool qrow_supported(const QKernelRow& r) {
    return r.isa <= detected_isa() && (!r.needs_avxvnni || cpu_features().avxvnni);
}

bool qrow_enabled(const QKernelRow& r) {
    return qrow_supported(r) && isa_enabled(r.isa);
}

const QKernelRow& qselect(QOp op) {
    static const std::array<const QKernelRow*, kQOps> chosen = [] {
        std::array<const QKernelRow*, kQOps> a{};
        for (size_t i = 0; i < kQOps; ++i) a[i] = best(static_cast<QOp>(i));
        return a;
    }();
    return *chosen[static_cast<size_t>(op)];
}

}  // namespace edgeq::kernels
