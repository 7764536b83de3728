// The kernel table: one row per kernel (op, ISA, name, register tile, function). select() picks, once per
// process and op, the best row enabled by active_isa() (EDGEQ_ISA=ref|avx2|avx512 caps it).
#include <array>

#include "kernels/kernels.h"
#include "kernels/ref/ref.h"

namespace edgeq::kernels {
namespace x86 {
void gemm_f32_f32_f32__avx2_6x16(const GemmArgs&);
void gemm_f32_f32_f32__avx512_6x32(const GemmArgs&);
void conv2d_f32__avx2_6x16(const Conv2dArgs&);
void conv2d_f32__avx512_8x32(const Conv2dArgs&);
void dwconv2d_f32__avx2_direct(const DwConv2dArgs&);
void dwconv2d_f32__avx512_direct(const DwConv2dArgs&);
void maxpool2d_f32__avx2(const Pool2dArgs&);
void avgpool2d_f32__avx2(const Pool2dArgs&);
void gemm_f16_f32__avx2_6x16(const GemmHalfArgs&);  // x86/gemm_half_avx2.cpp, gemm_half_avx512.cpp
void gemm_bf16_f32__avx2_6x16(const GemmHalfArgs&);
void gemm_f16_f32__avx512_12x32(const GemmHalfArgs&);
void gemm_bf16_f32__avx512_12x32(const GemmHalfArgs&);
void gemm_bf16dot_f32__avx512bf16_12x32(const GemmHalfArgs&);
}  // namespace x86

namespace {

template <typename F>
void (*erase(F f))() {
    return reinterpret_cast<void (*)()>(f);
}

const KernelRow kRows[] = {
    {Op::Gemm, Isa::Ref, "gemm_f32_f32_f32__ref_1x8", 1, ref::kRefNr, erase(&ref::gemm_f32_f32_f32)},
    {Op::Gemm, Isa::Avx2, "gemm_f32_f32_f32__avx2_6x16", 6, 16, erase(&x86::gemm_f32_f32_f32__avx2_6x16)},
    {Op::Gemm, Isa::Avx512, "gemm_f32_f32_f32__avx512_6x32", 6, 32, erase(&x86::gemm_f32_f32_f32__avx512_6x32)},
    {Op::Conv2d, Isa::Ref, "conv2d_f32__ref_direct", 1, ref::kRefNr, erase(&ref::conv2d_f32)},
    {Op::Conv2d, Isa::Avx2, "conv2d_f32__avx2_6x16", 6, 16, erase(&x86::conv2d_f32__avx2_6x16)},
    {Op::Conv2d, Isa::Avx512, "conv2d_f32__avx512_8x32", 8, 32, erase(&x86::conv2d_f32__avx512_8x32)},
    {Op::DwConv2d, Isa::Ref, "dwconv2d_f32__ref_direct", 1, 1, erase(&ref::dwconv2d_f32)},
    {Op::DwConv2d, Isa::Avx2, "dwconv2d_f32__avx2_direct", 1, 8, erase(&x86::dwconv2d_f32__avx2_direct)},
    {Op::DwConv2d, Isa::Avx512, "dwconv2d_f32__avx512_direct", 1, 16, erase(&x86::dwconv2d_f32__avx512_direct)},
    {Op::MaxPool2d, Isa::Ref, "maxpool2d_f32__ref", 1, 1, erase(&ref::maxpool2d_f32)},
    {Op::MaxPool2d, Isa::Avx2, "maxpool2d_f32__avx2", 1, 8, erase(&x86::maxpool2d_f32__avx2)},
    {Op::AvgPool2d, Isa::Ref, "avgpool2d_f32__ref", 1, 1, erase(&ref::avgpool2d_f32)},
    {Op::AvgPool2d, Isa::Avx2, "avgpool2d_f32__avx2", 1, 8, erase(&x86::avgpool2d_f32__avx2)},
    {Op::Binary, Isa::Ref, "binary_f32__ref", 1, 1, erase(&ref::binary_f32)},
    {Op::GemmF16, Isa::Ref, "gemm_f16_f32__ref_1x8", 1, ref::kRefNr, erase(&ref::gemm_f16_f32)},
    {Op::GemmF16, Isa::Avx2, "gemm_f16_f32__avx2_6x16", 6, 16, erase(&x86::gemm_f16_f32__avx2_6x16)},
    {Op::GemmF16, Isa::Avx512, "gemm_f16_f32__avx512_12x32", 12, 32, erase(&x86::gemm_f16_f32__avx512_12x32)},
    {Op::GemmBf16, Isa::Ref, "gemm_bf16_f32__ref_1x8", 1, ref::kRefNr, erase(&ref::gemm_bf16_f32)},
    {Op::GemmBf16, Isa::Avx2, "gemm_bf16_f32__avx2_6x16", 6, 16, erase(&x86::gemm_bf16_f32__avx2_6x16)},
    {Op::GemmBf16, Isa::Avx512, "gemm_bf16_f32__avx512_12x32", 12, 32, erase(&x86::gemm_bf16_f32__avx512_12x32)},
    {Op::GemmBf16Dot, Isa::Ref, "gemm_bf16dot_f32__ref_1x8", 1, ref::kRefNr, erase(&ref::gemm_bf16dot_f32)},
    {Op::GemmBf16Dot, Isa::Avx512Bf16, "gemm_bf16dot_f32__avx512bf16_12x32", 12, 32,
     erase(&x86::gemm_bf16dot_f32__avx512bf16_12x32)},
};

constexpr size_t kOps = kOpCount;

const KernelRow* best(Op op) {
    const KernelRow* b = nullptr;
    for (const auto& r : kRows)
        if (r.op == op && isa_enabled(r.isa) && (!b || r.isa > b->isa)) b = &r;
    return b;
}

}  // namespace

std::span<const KernelRow> kernel_rows() { return kRows; }

const KernelRow& select(Op op) {
    static const std::array<const KernelRow*, kOps> chosen = [] {
        std::array<const KernelRow*, kOps> a{};
        for (size_t i = 0; i < kOps; ++i) a[i] = best(static_cast<Op>(i));
        return a;
    }();
    return *chosen[static_cast<size_t>(op)];
}

const KernelRow* find(Op op, Isa isa) {
    for (const auto& r : kRows)
        if (r.op == op && r.isa == isa) return &r;
    return nullptr;
}

}  // namespace edgeq::kernels
