// Optimized quantizers, chosen at run time. Each row is byte-identical to the reference codec of its type
// (traits(t).quantize, the specification); tests compare every row the CPU can run with the reference.
#pragma once

#include <span>

#include "core/cpu.h"
#include "edgeq/dtype.h"

namespace edgeq {

struct FastQuantizer {
    DType type;
    Isa isa;
    QuantizeFn fn;
    const char* name;  // kernel name, e.g. "quantize_q4_K__avx2"
};

// Every optimized row compiled into this binary (whether or not this CPU can run it).
std::span<const FastQuantizer> fast_quantizers();

// The quantizer quantize() uses for t: the best row enabled by active_isa(), else the reference.
QuantizeFn selected_quantizer(DType t);
const char* selected_quantizer_name(DType t);

}  // namespace edgeq
