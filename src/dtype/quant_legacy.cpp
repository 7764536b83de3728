// PLACEHOLDER: being written (see docs/status/ISSUE-2.md). Aborts if called.
#include "core/check.h"
#include "dtype/quants.h"
namespace edgeq::quants {
size_t quantize_Q4_0(const float*, void*, int64_t, int64_t, const float*) { EDGEQ_CHECK_MSG(false, "not implemented"); }
void dequantize_row_Q4_0(const void*, float*, int64_t) { EDGEQ_CHECK_MSG(false, "not implemented"); }
size_t quantize_Q4_1(const float*, void*, int64_t, int64_t, const float*) { EDGEQ_CHECK_MSG(false, "not implemented"); }
void dequantize_row_Q4_1(const void*, float*, int64_t) { EDGEQ_CHECK_MSG(false, "not implemented"); }
size_t quantize_Q5_0(const float*, void*, int64_t, int64_t, const float*) { EDGEQ_CHECK_MSG(false, "not implemented"); }
void dequantize_row_Q5_0(const void*, float*, int64_t) { EDGEQ_CHECK_MSG(false, "not implemented"); }
size_t quantize_Q5_1(const float*, void*, int64_t, int64_t, const float*) { EDGEQ_CHECK_MSG(false, "not implemented"); }
void dequantize_row_Q5_1(const void*, float*, int64_t) { EDGEQ_CHECK_MSG(false, "not implemented"); }
size_t quantize_Q8_0(const float*, void*, int64_t, int64_t, const float*) { EDGEQ_CHECK_MSG(false, "not implemented"); }
void dequantize_row_Q8_0(const void*, float*, int64_t) { EDGEQ_CHECK_MSG(false, "not implemented"); }
size_t quantize_Q8_1(const float*, void*, int64_t, int64_t, const float*) { EDGEQ_CHECK_MSG(false, "not implemented"); }
void dequantize_row_Q8_1(const void*, float*, int64_t) { EDGEQ_CHECK_MSG(false, "not implemented"); }
size_t quantize_IQ4_NL(const float*, void*, int64_t, int64_t, const float*) { EDGEQ_CHECK_MSG(false, "not implemented"); }
void dequantize_row_IQ4_NL(const void*, float*, int64_t) { EDGEQ_CHECK_MSG(false, "not implemented"); }
size_t quantize_TQ1_0(const float*, void*, int64_t, int64_t, const float*) { EDGEQ_CHECK_MSG(false, "not implemented"); }
void dequantize_row_TQ1_0(const void*, float*, int64_t) { EDGEQ_CHECK_MSG(false, "not implemented"); }
size_t quantize_TQ2_0(const float*, void*, int64_t, int64_t, const float*) { EDGEQ_CHECK_MSG(false, "not implemented"); }
void dequantize_row_TQ2_0(const void*, float*, int64_t) { EDGEQ_CHECK_MSG(false, "not implemented"); }
}
