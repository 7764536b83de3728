// INT8 depthwise convolution rows (kernels/x86/qconv_dw.inc) and QuantizeLinear (qconv_quant.inc) for AVX2.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/qconv.h"

namespace edgeq::kernels::x86 {
namespace {
#define QDW_NAME qdwconv_impl
#define QDW_NAME_PLANE qdwconv_plane_impl
#include "kernels/x86/qconv_dw.inc"
#undef QDW_NAME
#undef QDW_NAME_PLANE
#define QQ_NAME quantize_impl
#include "kernels/x86/qconv_quant.inc"
#undef QQ_NAME
}  // namespace

void quantize_linear_f32__avx2(const float* x, int64_t n, float scale, int32_t zero, bool is_signed, void* y) {
    quantize_impl(x, n, scale, zero, is_signed, y);
}

void qdwconv__avx2(const QDwConvArgs& a) {
    qdwconv_impl(a);
}
}  // namespace edgeq::kernels::x86
