#include "dtype/quant_dispatch.h"

#include <array>

#include "dtype/quants.h"

namespace edgeq {
namespace quants {
size_t quantize_Q8_0_avx2(const float*, void*, int64_t, int64_t, const float*);
size_t quantize_Q4_0_avx2(const float*, void*, int64_t, int64_t, const float*);
size_t quantize_Q4_1_avx2(const float*, void*, int64_t, int64_t, const float*);
size_t quantize_Q5_0_avx2(const float*, void*, int64_t, int64_t, const float*);
size_t quantize_Q5_1_avx2(const float*, void*, int64_t, int64_t, const float*);
size_t quantize_IQ4_NL_avx2(const float*, void*, int64_t, int64_t, const float*);
size_t quantize_TQ1_0_avx2(const float*, void*, int64_t, int64_t, const float*);
size_t quantize_TQ2_0_avx2(const float*, void*, int64_t, int64_t, const float*);
size_t quantize_Q2_K_avx2(const float*, void*, int64_t, int64_t, const float*);
size_t quantize_Q3_K_avx2(const float*, void*, int64_t, int64_t, const float*);
size_t quantize_Q4_K_avx2(const float*, void*, int64_t, int64_t, const float*);
size_t quantize_Q5_K_avx2(const float*, void*, int64_t, int64_t, const float*);
size_t quantize_Q6_K_avx2(const float*, void*, int64_t, int64_t, const float*);
}  // namespace quants

namespace {

constexpr FastQuantizer kQuantRows[] = {
    {DType::Q8_0, Isa::Avx2, &quants::quantize_Q8_0_avx2, "quantize_q8_0__avx2"},
    {DType::Q4_0, Isa::Avx2, &quants::quantize_Q4_0_avx2, "quantize_q4_0__avx2"},
    {DType::Q4_1, Isa::Avx2, &quants::quantize_Q4_1_avx2, "quantize_q4_1__avx2"},
    {DType::Q5_0, Isa::Avx2, &quants::quantize_Q5_0_avx2, "quantize_q5_0__avx2"},
    {DType::Q5_1, Isa::Avx2, &quants::quantize_Q5_1_avx2, "quantize_q5_1__avx2"},
    {DType::IQ4_NL, Isa::Avx2, &quants::quantize_IQ4_NL_avx2, "quantize_iq4_nl__avx2_8lane"},
    {DType::TQ1_0, Isa::Avx2, &quants::quantize_TQ1_0_avx2, "quantize_tq1_0__avx2"},
    {DType::TQ2_0, Isa::Avx2, &quants::quantize_TQ2_0_avx2, "quantize_tq2_0__avx2"},
    {DType::Q2_K, Isa::Avx2, &quants::quantize_Q2_K_avx2, "quantize_q2_K__avx2_8lane"},
    {DType::Q3_K, Isa::Avx2, &quants::quantize_Q3_K_avx2, "quantize_q3_K__avx2_8lane"},
    {DType::Q4_K, Isa::Avx2, &quants::quantize_Q4_K_avx2, "quantize_q4_K__avx2_8lane"},
    {DType::Q5_K, Isa::Avx2, &quants::quantize_Q5_K_avx2, "quantize_q5_K__avx2_8lane"},
    {DType::Q6_K, Isa::Avx2, &quants::quantize_Q6_K_avx2, "quantize_q6_K__avx2_8lane"},
};

const FastQuantizer* best_quant_row(DType t) {
    const FastQuantizer* best = nullptr;
    for (const auto& r : kQuantRows) {
        if (r.type == t && isa_enabled(r.isa) && (!best || r.isa > best->isa)) best = &r;
    }
    return best;
}

}  // namespace

std::span<const FastQuantizer> fast_quantizers() {
    return kQuantRows;
}

QuantizeFn selected_quantizer(DType t) {
    const FastQuantizer* r = best_quant_row(t);
    return r ? r->fn : traits(t).quantize;
}

const char* selected_quantizer_name(DType t) {
    const FastQuantizer* r = best_quant_row(t);
    return r ? r->name : "reference";
}

}  // namespace edgeq
