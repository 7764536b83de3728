// FP16 / BF16 weights in the fast executor: see half_gemm.h.
#include "runtime/fast/half_gemm.h"

#include "core/fp16.h"

namespace edgeq::runtime::fast {

namespace k = edgeq::kernels;

Tensor widen_half_constant(const graph::Graph& g, const graph::Node& n, HalfWeights& half) {
    if (!n.domain.empty() || n.op_type != "Cast" || n.attr_i("to", 0) != 1 || n.inputs.size() != 1 ||
        n.outputs.size() != 1 || n.outputs[0].empty())
        return {};
    const auto it = g.initializers.find(n.inputs[0]);
    if (it == g.initializers.end()) return {};
    const Tensor& w = it->second;
    if (w.dtype() != DType::F16 && w.dtype() != DType::BF16) return {};
    Tensor v(DType::F32, w.shape());
    const uint16_t* p = w.data<uint16_t>();
    float* out = v.data<float>();
    const bool f16 = w.dtype() == DType::F16;
    for (int64_t i = 0; i < w.numel(); ++i) out[i] = f16 ? fp16_to_f32(p[i]) : bf16_to_f32(p[i]);
    half[n.outputs[0]] = &w;
    return v;
}

bool pack_half_weights(const HalfWeights& half, const std::string& b_name, bool trans_b, int64_t K, int64_t N,
                       const k::KernelRow*& row, Tensor& packed) {
    const auto it = half.find(b_name);
    if (it == half.end()) return false;
    const Tensor& w = *it->second;
    const k::KernelRow& r = k::select(w.dtype() == DType::F16 ? k::Op::GemmF16 : k::Op::GemmBf16);
    packed = Tensor(DType::U16, {k::packed_b_halves(K, N, r.nr, k::half_kpair(r.op))});
    k::pack_b_half(w.data<uint16_t>(), trans_b ? 1 : N, trans_b ? K : 1, K, N, r.nr, k::half_kpair(r.op),
                   packed.data<uint16_t>());
    row = &r;
    return true;
}

void run_gemm_row(const k::KernelRow& row, const k::GemmArgs& g, const Tensor& packed) {
    if (row.op == k::Op::Gemm) {
        k::gemm_fn(row)(g);
        return;
    }
    k::GemmHalfArgs h;
    h.M = g.M, h.N = g.N, h.K = g.K, h.a = g.a, h.lda = g.lda, h.b = packed.data<uint16_t>();
    h.c = g.c, h.ldc = g.ldc, h.bias = g.bias, h.bias_kind = g.bias_kind, h.act = g.act;
    h.n_begin = g.n_begin, h.n_end = g.n_end;
    k::gemm_half_fn(row)(h);
}

}  // namespace edgeq::runtime::fast
