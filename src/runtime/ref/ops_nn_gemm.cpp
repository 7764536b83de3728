// Matrix products: Gemm and MatMul.
//
// Gemm:   A [M, K] (transA: [K, M]), B [K, N] (transB: [N, K]), C broadcastable to [M, N] (optional from opset 11)
//         Y [M, N] = alpha * (A' @ B') + beta * C
// MatMul: NumPy matmul: A [..., M, K] @ B [..., K, N] -> [broadcast(...), M, N]; a 1-D A is [1, K] and a 1-D B is
//         [K, 1], the added axis removed from the result.
// Float types compute in float (double for F64): acc = sum over k in increasing order, starting at 0. Integer
// MatMul wraps like NumPy (two's complement in the element width).
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/ref/common.h"
#include "runtime/ref/math_common.h"

namespace edgeq::runtime {
namespace {

using math::is_float;
using math::compute_tensor;
using math::output_tensor;


template <typename T>
void gemm_kernel(const T* a, const T* b, const T* c, const std::vector<int64_t>& c_st, T* y, int64_t M, int64_t N,
                 int64_t K, bool ta, bool tb, T alpha, T beta) {
    for (int64_t i = 0; i < M; ++i) {
        for (int64_t j = 0; j < N; ++j) {
            T acc = 0;
            for (int64_t k = 0; k < K; ++k) {
                const T av = ta ? a[k * M + i] : a[i * K + k];
                const T bv = tb ? b[j * K + k] : b[k * N + j];
                acc += av * bv;
            }
            T r = alpha * acc;
            if (c) r += beta * c[i * c_st[0] + j * c_st[1]];
            y[i * N + j] = r;
        }
    }
}

}  // namespace

Status op_gemm(OpContext& ctx) {
    if (!ctx.has_input(0) || !ctx.has_input(1)) return ctx.fail("needs inputs A and B");
    const Tensor& A = ctx.in(0);
    const Tensor& B = ctx.in(1);
    const DType dt = A.dtype();
    if (!is_float(dt)) return ctx.unsupported(std::string("input type ") + dtype_name(dt));
    if (B.dtype() != dt) return ctx.fail("B type differs from A type");
    if (A.rank() != 2 || B.rank() != 2) {
        return ctx.fail("A " + shape_str(A.shape()) + " and B " + shape_str(B.shape()) + " must be 2-D");
    }
    const bool ta = ctx.node.attr_i("transA", 0) != 0, tb = ctx.node.attr_i("transB", 0) != 0;
    const int64_t M = ta ? A.dim(1) : A.dim(0), K = ta ? A.dim(0) : A.dim(1);
    const int64_t N = tb ? B.dim(0) : B.dim(1), KB = tb ? B.dim(1) : B.dim(0);
    if (K != KB) {
        return ctx.fail("inner dimensions differ: A " + shape_str(A.shape()) + (ta ? " (transposed)" : "") + ", B " +
                        shape_str(B.shape()) + (tb ? " (transposed)" : ""));
    }
    const Tensor* C = ctx.has_input(2) ? &ctx.in(2) : nullptr;
    std::vector<int64_t> c_st{0, 0};
    Tensor cc;
    if (C) {
        if (C->dtype() != dt) return ctx.fail("C type differs from A type");
        if (C->rank() > 2) return ctx.fail("C " + shape_str(C->shape()) + " has rank > 2");
        EDGEQ_ASSIGN_OR_RETURN(Shape bs, broadcast_shapes({C->shape(), Shape{M, N}}));
        if (bs != Shape{M, N}) {
            return ctx.fail("C " + shape_str(C->shape()) + " does not broadcast to " + shape_str({M, N}));
        }
        c_st = broadcast_strides(C->shape(), {M, N});
        cc = compute_tensor(*C);
    }
    if (ctx.shape_only) {
        ctx.outputs[0] = Tensor(dt, {M, N});
        return Status::Ok();
    }
    const float alpha = ctx.node.attr_f("alpha", 1.0f), beta = ctx.node.attr_f("beta", 1.0f);
    const Tensor ca = compute_tensor(A), cb = compute_tensor(B);
    Tensor y(ca.dtype(), {M, N});
    if (ca.dtype() == DType::F64) {
        gemm_kernel<double>(ca.data<double>(), cb.data<double>(), C ? cc.data<double>() : nullptr, c_st,
                            y.data<double>(), M, N, K, ta, tb, alpha, beta);
    } else {
        gemm_kernel<float>(ca.data<float>(), cb.data<float>(), C ? cc.data<float>() : nullptr, c_st, y.data<float>(),
                           M, N, K, ta, tb, alpha, beta);
    }
    ctx.outputs[0] = output_tensor(y, dt);
    return Status::Ok();
}

Status op_matmul(OpContext& ctx) {
    if (!ctx.has_input(0) || !ctx.has_input(1)) return ctx.fail("needs inputs A and B");
    const Tensor& A = ctx.in(0);
    const Tensor& B = ctx.in(1);
    const DType dt = A.dtype();
    if (B.dtype() != dt) return ctx.fail("B type differs from A type");
    if (A.rank() < 1 || B.rank() < 1) return ctx.fail("MatMul inputs must have rank >= 1");
    Shape as = A.shape(), bs = B.shape();
    const bool a1 = as.size() == 1, b1 = bs.size() == 1;
    if (a1) as.insert(as.begin(), 1);
    if (b1) bs.push_back(1);
    const int64_t M = as[as.size() - 2], K = as.back(), N = bs.back();
    if (bs[bs.size() - 2] != K) {
        return ctx.fail("inner dimensions differ: A " + shape_str(A.shape()) + ", B " + shape_str(B.shape()));
    }
    const Shape a_batch(as.begin(), as.end() - 2), b_batch(bs.begin(), bs.end() - 2);
    EDGEQ_ASSIGN_OR_RETURN(Shape batch, broadcast_shapes({a_batch, b_batch}));
    const auto a_st = broadcast_strides(a_batch, batch), b_st = broadcast_strides(b_batch, batch);
    const int64_t nb = shape_numel(batch);
    Shape out = batch;
    if (!a1) out.push_back(M);
    if (!b1) out.push_back(N);
    if (ctx.shape_only && is_float(dt)) {
        ctx.outputs[0] = Tensor(dt, out);
        return Status::Ok();
    }
    // batch index -> matrix index in A and B
    auto batch_offsets = [&](int64_t bidx, int64_t& ai, int64_t& bi) {
        ai = bi = 0;
        for (size_t d = batch.size(); d-- > 0;) {
            const int64_t c = bidx % batch[d];
            bidx /= batch[d];
            ai += c * a_st[d];
            bi += c * b_st[d];
        }
    };
    auto run = [&](auto tag, const Tensor& a, const Tensor& b, Tensor& y) {
        using T = decltype(tag);
        // integers accumulate in uint64_t (wrapping, no signed overflow), floats in T
        using Acc = std::conditional_t<std::is_floating_point_v<T>, T, uint64_t>;
        const T* ap = a.data<T>();
        const T* bp = b.data<T>();
        T* yp = y.data<T>();
        for (int64_t p = 0; p < nb; ++p) {
            int64_t ai, bi;
            batch_offsets(p, ai, bi);
            const T* am = ap + ai * M * K;
            const T* bm = bp + bi * K * N;
            for (int64_t i = 0; i < M; ++i) {
                for (int64_t j = 0; j < N; ++j) {
                    Acc acc = 0;
                    for (int64_t k = 0; k < K; ++k) acc += static_cast<Acc>(am[i * K + k]) * static_cast<Acc>(bm[k * N + j]);
                    yp[(p * M + i) * N + j] = static_cast<T>(acc);
                }
            }
        }
    };
    if (dt == DType::F32 || dt == DType::F16 || dt == DType::BF16) {
        const Tensor a = to_float_tensor(A), b = to_float_tensor(B);
        Tensor y(DType::F32, out);
        run(float{}, a, b, y);
        ctx.outputs[0] = output_tensor(y, dt);
        return Status::Ok();
    }
    if (dt == DType::BOOL) return ctx.unsupported("input type BOOL");
    Tensor y(dt, out);
    if (!visit_numeric(dt, [&](auto tag) { run(tag, A, B, y); })) {
        return ctx.unsupported(std::string("input type ") + dtype_name(dt));
    }
    ctx.outputs[0] = y;
    return Status::Ok();
}

}  // namespace edgeq::runtime
