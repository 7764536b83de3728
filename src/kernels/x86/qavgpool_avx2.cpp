// Integer AveragePool on quantized bytes (kernels/x86/qavgpool.inc) built for AVX2.
#include <algorithm>
#include <cstdint>
#include <limits>

#include "kernels/qconv.h"

namespace edgeq::kernels::x86 {
namespace {
#define QAP_NAME qavgpool_inside_impl
#include "kernels/x86/qavgpool.inc"
#undef QAP_NAME
}  // namespace

bool qavgpool_inside__avx2(const QAvgPoolArgs& a) {
    return qavgpool_inside_impl(a);
}
}  // namespace edgeq::kernels::x86
