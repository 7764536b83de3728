// PLACEHOLDER: being written (see docs/status/ISSUE-2.md). Aborts if called.
#include "core/check.h"
#include "dtype/quants.h"
namespace edgeq::quants {
size_t quantize_Q2_K(const float*, void*, int64_t, int64_t, const float*) { EDGEQ_CHECK_MSG(false, "not implemented"); }
void dequantize_row_Q2_K(const void*, float*, int64_t) { EDGEQ_CHECK_MSG(false, "not implemented"); }
size_t quantize_Q3_K(const float*, void*, int64_t, int64_t, const float*) { EDGEQ_CHECK_MSG(false, "not implemented"); }
void dequantize_row_Q3_K(const void*, float*, int64_t) { EDGEQ_CHECK_MSG(false, "not implemented"); }
size_t quantize_Q4_K(const float*, void*, int64_t, int64_t, const float*) { EDGEQ_CHECK_MSG(false, "not implemented"); }
void dequantize_row_Q4_K(const void*, float*, int64_t) { EDGEQ_CHECK_MSG(false, "not implemented"); }
size_t quantize_Q5_K(const float*, void*, int64_t, int64_t, const float*) { EDGEQ_CHECK_MSG(false, "not implemented"); }
void dequantize_row_Q5_K(const void*, float*, int64_t) { EDGEQ_CHECK_MSG(false, "not implemented"); }
size_t quantize_Q6_K(const float*, void*, int64_t, int64_t, const float*) { EDGEQ_CHECK_MSG(false, "not implemented"); }
void dequantize_row_Q6_K(const void*, float*, int64_t) { EDGEQ_CHECK_MSG(false, "not implemented"); }
size_t quantize_Q8_K(const float*, void*, int64_t, int64_t, const float*) { EDGEQ_CHECK_MSG(false, "not implemented"); }
void dequantize_row_Q8_K(const void*, float*, int64_t) { EDGEQ_CHECK_MSG(false, "not implemented"); }
}
