// The recurrent-cell gate kernels' own table (kernels/rnn.h): one row per instruction set, chosen once per
// process by active_isa() (EDGEQ_ISA caps it).
#include "kernels/ref/rnn_ref.h"
#include "kernels/rnn.h"

namespace edgeq::kernels {
namespace {

const RnnKernelRow kRnnRows[] = {
    {Isa::Ref, "rnn_gates_f32__ref", &ref::lstm_gates_f32, &ref::gru_lbr_f32, &ref::gru_reset_f32,
     &ref::gru_update_f32, "rnn_q8_rows__ref", &ref::quantize_rows_u8, &ref::dequant_rows_s32,
     &ref::q8_product},
    {Isa::Avx2, "rnn_gates_f32__avx2", &x86::lstm_gates_f32__avx2, &x86::gru_lbr_f32__avx2,
     &x86::gru_reset_f32__avx2, &x86::gru_update_f32__avx2, "rnn_q8_rows__avx2", &x86::quantize_rows_u8__avx2,
     &x86::dequant_rows_s32__avx2, nullptr},
    {Isa::Avx512, "rnn_gates_f32__avx512", &x86::lstm_gates_f32__avx512, &x86::gru_lbr_f32__avx512,
     &x86::gru_reset_f32__avx512, &x86::gru_update_f32__avx512, "rnn_q8_rows__avx512",
     &x86::quantize_rows_u8__avx512, &x86::dequant_rows_s32__avx512, nullptr},
    // the AVX-512 gates and row kernels, plus the VNNI q8_product
    {Isa::Avx512Vnni, "rnn_gates_f32__avx512", &x86::lstm_gates_f32__avx512, &x86::gru_lbr_f32__avx512,
     &x86::gru_reset_f32__avx512, &x86::gru_update_f32__avx512, "rnn_q8_rows__avx512vnni",
     &x86::quantize_rows_u8__avx512, &x86::dequant_rows_s32__avx512, &x86::q8_product__avx512vnni},
};

}  // namespace

std::span<const RnnKernelRow> rnn_kernel_rows() {
    return kRnnRows;
}

const RnnKernelRow& select_rnn() {
    static const RnnKernelRow* chosen = [] {
        const RnnKernelRow* b = &kRnnRows[0];
        for (const auto& r : kRnnRows)
            if (isa_enabled(r.isa) && r.isa > b->isa) b = &r;
        return b;
    }();
    return *chosen;
}

const RnnKernelRow* find_rnn(Isa isa) {
    for (const auto& r : kRnnRows)
        if (r.isa == isa) return &r;
    return nullptr;
}

}  // namespace edgeq::kernels
