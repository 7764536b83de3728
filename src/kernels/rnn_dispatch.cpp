// The recurrent-cell gate kernels' own table (kernels/rnn.h): one row per instruction set, chosen once per
// process by active_isa() (EDGEQ_ISA caps it).
#include "kernels/ref/rnn_ref.h"
#include "kernels/rnn.h"

namespace edgeq::kernels {
namespace {

const RnnKernelRow kRnnRows[] = {
    {Isa::Ref, "rnn_gates_f32__ref", &ref::lstm_gates_f32, &ref::gru_lbr_f32, &ref::gru_reset_f32,
     &ref::gru_update_f32},
    {Isa::Avx2, "rnn_gates_f32__avx2", &x86::lstm_gates_f32__avx2, &x86::gru_lbr_f32__avx2,
     &x86::gru_reset_f32__avx2, &x86::gru_update_f32__avx2},
    {Isa::Avx512, "rnn_gates_f32__avx512", &x86::lstm_gates_f32__avx512, &x86::gru_lbr_f32__avx512,
     &x86::gru_reset_f32__avx512, &x86::gru_update_f32__avx512},
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
