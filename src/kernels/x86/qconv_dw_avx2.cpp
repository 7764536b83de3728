// INT8 depthwise convolution rows (kernels/x86/qconv_dw.inc) compiled for AVX2.
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
}  // namespace

void qdwconv__avx2(const QDwConvArgs& a) {
    qdwconv_impl(a);
}
}  // namespace edgeq::kernels::x86
