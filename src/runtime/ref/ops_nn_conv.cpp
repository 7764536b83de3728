// Sliding-window reference ops: Conv, ConvTranspose, MaxPool, AveragePool, LpPool, their Global forms, MaxUnpool.
//
// Layout (ONNX): X [N, C, D1..Dk], Conv W [M, C/group, K1..Kk], ConvTranspose W [C, M/group, K1..Kk], Y [N, M, O1..Ok].
// Geometry (per spatial axis i, dk = (K-1)*dilation + 1):
//   NOTSET      out = floor((in + pb + pe - dk) / s) + 1            (pooling ceil_mode: ceil, and the last window
//                                                                     must start inside input+pb, as ORT/PyTorch)
//   VALID       pads 0, same formula
//   SAME_UPPER  out = ceil(in / s), total = max(0, (out-1)*s + dk - in), pb = total/2, pe = total - pb
//   SAME_LOWER  as SAME_UPPER with pe = total/2, pb = total - pe
// Every op first builds a table `offs[o*K + k]`: the spatial offset in the input channel that output position o
// reads through kernel tap k, or kPad (inside the padding) / kBeyond (past the padded extent, ceil_mode only).
// Dot products accumulate in the compute type (float; double for F64) in the order channel, then kernel taps in
// row-major order; the bias is added last.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "runtime/ref/common.h"
#include "runtime/ref/math_common.h"

namespace edgeq::runtime {
namespace {

using math::is_float;
using math::compute_tensor;
using math::output_tensor;

constexpr int64_t kPad = -1;
constexpr int64_t kBeyond = -2;

struct Window {
    Shape in, kernel, stride, dil, pad_b, pad_e, out;  // spatial axes only
    int64_t in_size() const { return shape_numel(in); }
    int64_t out_size() const { return shape_numel(out); }
    int64_t k_size() const { return shape_numel(kernel); }
};

std::string ints_str(const std::vector<int64_t>& v) { return shape_str(v); }

// Reads strides/dilations/pads/auto_pad from the node and computes the output extent of a forward window op.
Result<Window> resolve_window(const OpContext& ctx, const Shape& in, const Shape& kernel, bool ceil_mode) {
    const size_t r = in.size();
    Window w;
    w.in = in;
    w.kernel = kernel;
    w.stride = ctx.node.attr_ints("strides", Shape(r, 1));
    w.dil = ctx.node.attr_ints("dilations", Shape(r, 1));
    Shape pads = ctx.node.attr_ints("pads", Shape(2 * r, 0));
    if (w.stride.empty()) w.stride.assign(r, 1);
    if (w.dil.empty()) w.dil.assign(r, 1);
    if (pads.empty()) pads.assign(2 * r, 0);
    if (kernel.size() != r || w.stride.size() != r || w.dil.size() != r || pads.size() != 2 * r) {
        return ctx.fail("kernel " + ints_str(kernel) + ", strides " + ints_str(w.stride) + ", dilations " +
                        ints_str(w.dil) + " or pads " + ints_str(pads) + " do not match " + std::to_string(r) +
                        " spatial axes");
    }
    const std::string auto_pad = ctx.node.attr_s("auto_pad", "NOTSET");
    w.pad_b.assign(r, 0);
    w.pad_e.assign(r, 0);
    w.out.assign(r, 0);
    for (size_t i = 0; i < r; ++i) {
        if (w.stride[i] < 1 || w.dil[i] < 1 || kernel[i] < 1) return ctx.fail("strides, dilations and kernel must be >= 1");
        const int64_t dk = (kernel[i] - 1) * w.dil[i] + 1;
        if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
            w.out[i] = (in[i] + w.stride[i] - 1) / w.stride[i];
            const int64_t total = std::max<int64_t>(0, (w.out[i] - 1) * w.stride[i] + dk - in[i]);
            w.pad_b[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
            w.pad_e[i] = total - w.pad_b[i];
            continue;
        }
        if (auto_pad == "NOTSET") {
            w.pad_b[i] = pads[i];
            w.pad_e[i] = pads[i + r];
            if (w.pad_b[i] < 0 || w.pad_e[i] < 0) return ctx.fail("negative pads " + ints_str(pads));
        } else if (auto_pad != "VALID") {
            return ctx.fail("unknown auto_pad '" + auto_pad + "'");
        }
        const int64_t span = in[i] + w.pad_b[i] + w.pad_e[i] - dk;
        if (span < 0) {
            return ctx.fail("kernel " + ints_str(kernel) + " (dilated) larger than padded input " + ints_str(in));
        }
        w.out[i] = (ceil_mode ? (span + w.stride[i] - 1) / w.stride[i] : span / w.stride[i]) + 1;
        if (ceil_mode && (w.out[i] - 1) * w.stride[i] >= in[i] + w.pad_b[i]) --w.out[i];
    }
    return w;
}

// offs[o*K + k]: input spatial offset read by output position o through tap k (kPad / kBeyond outside).
std::vector<int64_t> window_offsets(const Window& w) {
    const size_t r = w.in.size();
    const int64_t O = w.out_size(), K = w.k_size();
    const auto in_st = strides_of(w.in);
    std::vector<int64_t> offs(static_cast<size_t>(O * K));
    std::vector<int64_t> oc(r, 0), kc(r, 0);
    for (int64_t o = 0; o < O; ++o) {
        int64_t rem = o;
        for (size_t i = r; i-- > 0;) {
            oc[i] = rem % w.out[i];
            rem /= w.out[i];
        }
        for (int64_t k = 0; k < K; ++k) {
            int64_t krem = k;
            for (size_t i = r; i-- > 0;) {
                kc[i] = krem % w.kernel[i];
                krem /= w.kernel[i];
            }
            int64_t off = 0;
            bool pad = false, beyond = false;
            for (size_t i = 0; i < r; ++i) {
                const int64_t x = oc[i] * w.stride[i] - w.pad_b[i] + kc[i] * w.dil[i];
                if (x < 0 || x >= w.in[i]) pad = true;
                if (x >= w.in[i] + w.pad_e[i]) beyond = true;
                off += x * in_st[i];
            }
            if (beyond) off = kBeyond;
            else if (pad) off = kPad;
            offs[static_cast<size_t>(o * K + k)] = off;
        }
    }
    return offs;
}


// ConvTranspose geometry: out = s*(in-1) + output_padding + dk - pb - pe, or (output_shape or SAME_*) a given
// out with total = max(0, s*(in-1) + output_padding + dk - out) split as pb = total/2 (SAME_LOWER: the odd unit
// at the start instead). ONNX's test data confirm SAME_UPPER = more padding at the end.
Result<Window> resolve_transpose_window(const OpContext& ctx, const Shape& in, const Shape& kernel) {
    const size_t r = in.size();
    Window w;
    w.in = in;
    w.kernel = kernel;
    w.stride = ctx.node.attr_ints("strides", Shape(r, 1));
    w.dil = ctx.node.attr_ints("dilations", Shape(r, 1));
    Shape pads = ctx.node.attr_ints("pads", Shape(2 * r, 0));
    Shape out_pad = ctx.node.attr_ints("output_padding", Shape(r, 0));
    Shape out_shape = ctx.node.attr_ints("output_shape");
    if (w.stride.empty()) w.stride.assign(r, 1);
    if (w.dil.empty()) w.dil.assign(r, 1);
    if (pads.empty()) pads.assign(2 * r, 0);
    if (out_pad.empty()) out_pad.assign(r, 0);
    if (out_shape.size() == r + 2) out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
    if (kernel.size() != r || w.stride.size() != r || w.dil.size() != r || pads.size() != 2 * r ||
        out_pad.size() != r || (!out_shape.empty() && out_shape.size() != r)) {
        return ctx.fail("kernel " + ints_str(kernel) + ", strides, dilations, pads " + ints_str(pads) +
                        ", output_padding or output_shape do not match " + std::to_string(r) + " spatial axes");
    }
    const std::string auto_pad = ctx.node.attr_s("auto_pad", "NOTSET");
    if (auto_pad != "NOTSET" && auto_pad != "VALID" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER") {
        return ctx.fail("unknown auto_pad '" + auto_pad + "'");
    }
    w.pad_b.assign(r, 0);
    w.pad_e.assign(r, 0);
    w.out.assign(r, 0);
    for (size_t i = 0; i < r; ++i) {
        if (w.stride[i] < 1 || w.dil[i] < 1 || kernel[i] < 1) return ctx.fail("strides, dilations and kernel must be >= 1");
        const int64_t full = w.stride[i] * (in[i] - 1) + out_pad[i] + (kernel[i] - 1) * w.dil[i] + 1;
        if (!out_shape.empty() || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
            w.out[i] = out_shape.empty() ? in[i] * w.stride[i] : out_shape[i];
            const int64_t total = std::max<int64_t>(0, full - w.out[i]);
            w.pad_b[i] = auto_pad == "SAME_LOWER" ? total - total / 2 : total / 2;
            w.pad_e[i] = total - w.pad_b[i];
        } else {
            if (auto_pad == "NOTSET") {
                w.pad_b[i] = pads[i];
                w.pad_e[i] = pads[i + r];
            }
            w.out[i] = full - w.pad_b[i] - w.pad_e[i];
        }
        if (w.out[i] < 0) return ctx.fail("negative output size for input " + ints_str(in));
    }
    return w;
}

// Gather form of ConvTranspose: output position y reads input x = (y + pb - k*dil) / s when that divides exactly.
std::vector<int64_t> transpose_offsets(const Window& w) {
    const size_t r = w.in.size();
    const int64_t O = w.out_size(), K = w.k_size();
    const auto in_st = strides_of(w.in);
    std::vector<int64_t> offs(static_cast<size_t>(O * K));
    std::vector<int64_t> oc(r, 0), kc(r, 0);
    for (int64_t o = 0; o < O; ++o) {
        int64_t rem = o;
        for (size_t i = r; i-- > 0;) {
            oc[i] = rem % w.out[i];
            rem /= w.out[i];
        }
        for (int64_t k = 0; k < K; ++k) {
            int64_t krem = k;
            for (size_t i = r; i-- > 0;) {
                kc[i] = krem % w.kernel[i];
                krem /= w.kernel[i];
            }
            int64_t off = 0;
            for (size_t i = 0; i < r && off >= 0; ++i) {
                const int64_t t = oc[i] + w.pad_b[i] - kc[i] * w.dil[i];
                if (t < 0 || t % w.stride[i] != 0 || t / w.stride[i] >= w.in[i]) off = kPad;
                else off += (t / w.stride[i]) * in_st[i];
            }
            offs[static_cast<size_t>(o * K + k)] = off;
        }
    }
    return offs;
}


Shape spatial_of(const Shape& s) { return Shape(s.begin() + 2, s.end()); }

// Y[n, m, o] = sum_c sum_k X[n, g*Cg + c, offs[o,k]] * W[wm(m), c, k] + B[m]; the transpose form differs only
// in the weight indexing (W[g*Cg + c, m % Mg, k]).
template <typename T>
void conv_kernel(const T* x, const T* wt, const T* bias, T* y, int64_t N, int64_t C, int64_t M, int64_t G,
                 const Window& w, const std::vector<int64_t>& offs, bool transpose) {
    const int64_t I = w.in_size(), O = w.out_size(), K = w.k_size();
    const int64_t Cg = C / G, Mg = M / G;
    for (int64_t n = 0; n < N; ++n) {
        for (int64_t m = 0; m < M; ++m) {
            const int64_t g = m / Mg;
            for (int64_t o = 0; o < O; ++o) {
                T acc = 0;
                for (int64_t c = 0; c < Cg; ++c) {
                    const T* xc = x + (n * C + g * Cg + c) * I;
                    const T* wk = transpose ? wt + ((g * Cg + c) * Mg + m % Mg) * K : wt + (m * Cg + c) * K;
                    const int64_t* ok = offs.data() + o * K;
                    for (int64_t k = 0; k < K; ++k)
                        if (ok[k] >= 0) acc += xc[ok[k]] * wk[k];
                }
                y[(n * M + m) * O + o] = bias ? acc + bias[m] : acc;
            }
        }
    }
}

Status conv_common(OpContext& ctx, bool transpose) {
    if (!ctx.has_input(0) || !ctx.has_input(1)) return ctx.fail("needs inputs X and W");
    const Tensor& X = ctx.in(0);
    const Tensor& W = ctx.in(1);
    const DType dt = X.dtype();
    if (!is_float(dt)) return ctx.unsupported(std::string("input type ") + dtype_name(dt));
    if (W.dtype() != dt) return ctx.fail("W type differs from X type");
    if (X.rank() < 3 || W.rank() != X.rank()) {
        return ctx.fail("X " + shape_str(X.shape()) + " and W " + shape_str(W.shape()) + " must have the same rank >= 3");
    }
    const int64_t G = ctx.node.attr_i("group", 1);
    const int64_t N = X.dim(0), C = X.dim(1);
    if (G < 1 || C % G != 0) return ctx.fail("group " + std::to_string(G) + " does not divide channels " + std::to_string(C));
    const int64_t M = transpose ? W.dim(1) * G : W.dim(0);
    if ((transpose ? W.dim(0) != C : W.dim(1) * G != C) || M % G != 0 || M == 0) {
        return ctx.fail("W " + shape_str(W.shape()) + " does not fit X " + shape_str(X.shape()) + " with group " +
                        std::to_string(G));
    }
    const Shape kernel = spatial_of(W.shape());
    const Shape ks = ctx.node.attr_ints("kernel_shape");
    if (!ks.empty() && ks != kernel) {
        return ctx.fail("kernel_shape " + ints_str(ks) + " differs from W " + shape_str(W.shape()));
    }
    const Tensor* B = ctx.has_input(2) ? &ctx.in(2) : nullptr;
    if (B && (B->numel() != M || B->dtype() != dt)) {
        return ctx.fail("bias " + shape_str(B->shape()) + " must have " + std::to_string(M) + " elements of X's type");
    }
    Result<Window> wr = transpose ? resolve_transpose_window(ctx, spatial_of(X.shape()), kernel)
                                  : resolve_window(ctx, spatial_of(X.shape()), kernel, false);
    if (!wr.ok()) return wr.status();
    const Window& w = *wr;
    Shape yshape{N, M};
    yshape.insert(yshape.end(), w.out.begin(), w.out.end());
    if (ctx.shape_only) {
        ctx.outputs[0] = Tensor(dt, yshape);
        return Status::Ok();
    }
    const auto offs = transpose ? transpose_offsets(w) : window_offsets(w);
    const Tensor cx = compute_tensor(X), cw = compute_tensor(W);
    const Tensor cb = B ? compute_tensor(*B) : Tensor();
    Tensor y(cx.dtype(), yshape);
    if (cx.dtype() == DType::F64) {
        conv_kernel<double>(cx.data<double>(), cw.data<double>(), B ? cb.data<double>() : nullptr, y.data<double>(), N,
                            C, M, G, w, offs, transpose);
    } else {
        conv_kernel<float>(cx.data<float>(), cw.data<float>(), B ? cb.data<float>() : nullptr, y.data<float>(), N, C,
                           M, G, w, offs, transpose);
    }
    ctx.outputs[0] = output_tensor(y, dt);
    return Status::Ok();
}

enum class PoolKind { Max, Average, Lp };

template <typename T>
void pool_kernel(PoolKind kind, const T* x, T* y, int64_t* idx, int64_t NC, const Window& w,
                 const std::vector<int64_t>& offs, bool count_include_pad, double p, bool col_major) {
    const int64_t I = w.in_size(), O = w.out_size(), K = w.k_size();
    // column-major spatial offset for MaxPool's storage_order = 1
    const auto row_st = strides_of(w.in);
    std::vector<int64_t> col_st(w.in.size(), 1);
    for (size_t i = 1; i < w.in.size(); ++i) col_st[i] = col_st[i - 1] * w.in[i - 1];
    for (int64_t nc = 0; nc < NC; ++nc) {
        const T* xc = x + nc * I;
        for (int64_t o = 0; o < O; ++o) {
            const int64_t* ok = offs.data() + o * K;
            if (kind == PoolKind::Max) {
                T best = std::numeric_limits<T>::lowest();
                int64_t best_off = -1;
                for (int64_t k = 0; k < K; ++k) {
                    if (ok[k] >= 0 && (best_off < 0 || xc[ok[k]] > best)) {
                        best = xc[ok[k]];
                        best_off = ok[k];
                    }
                }
                y[nc * O + o] = best;
                if (idx) {
                    int64_t sp = best_off;
                    if (col_major && best_off >= 0) {
                        sp = 0;
                        int64_t rem = best_off;
                        for (size_t i = 0; i < w.in.size(); ++i) {
                            sp += (rem / row_st[i]) * col_st[i];
                            rem %= row_st[i];
                        }
                    }
                    idx[nc * O + o] = nc * I + std::max<int64_t>(sp, 0);
                }
            } else if (kind == PoolKind::Average) {
                T sum = 0;
                int64_t count = 0;
                for (int64_t k = 0; k < K; ++k) {
                    if (ok[k] >= 0) sum += xc[ok[k]];
                    if (ok[k] >= 0 || (count_include_pad && ok[k] == kPad)) ++count;
                }
                y[nc * O + o] = count ? sum / static_cast<T>(count) : T(0);
            } else {
                double sum = 0;
                for (int64_t k = 0; k < K; ++k)
                    if (ok[k] >= 0) sum += std::pow(std::fabs(static_cast<double>(xc[ok[k]])), p);
                y[nc * O + o] = static_cast<T>(std::pow(sum, 1.0 / p));
            }
        }
    }
}

Status pool_common(OpContext& ctx, PoolKind kind) {
    if (!ctx.has_input(0)) return ctx.fail("missing input X");
    const Tensor& X = ctx.in(0);
    const DType dt = X.dtype();
    if (X.rank() < 3) return ctx.fail("X " + shape_str(X.shape()) + " must have rank >= 3");
    const bool int_ok = kind == PoolKind::Max && (dt == DType::I8 || dt == DType::U8);
    if (!is_float(dt) && !int_ok) return ctx.unsupported(std::string("input type ") + dtype_name(dt));
    const Shape kernel = ctx.node.attr_ints("kernel_shape");
    if (kernel.empty()) return ctx.fail("missing kernel_shape");
    if (ctx.node.attr_i("ceil_mode", 0) != 0 && kind == PoolKind::Lp && ctx.opset < 18) {
        return ctx.fail("ceil_mode needs opset 18");
    }
    EDGEQ_ASSIGN_OR_RETURN(Window w, resolve_window(ctx, spatial_of(X.shape()), kernel, ctx.node.attr_i("ceil_mode", 0) != 0));
    Shape yshape{X.dim(0), X.dim(1)};
    yshape.insert(yshape.end(), w.out.begin(), w.out.end());
    const int64_t NC = X.dim(0) * X.dim(1);
    const bool want_idx = kind == PoolKind::Max && ctx.outputs.size() > 1 && !ctx.node.outputs[1].empty();
    if (ctx.shape_only) {
        ctx.outputs[0] = Tensor(dt, yshape);
        if (want_idx) ctx.outputs[1] = Tensor(DType::I64, yshape);
        return Status::Ok();
    }
    const auto offs = window_offsets(w);
    const int64_t storage_order = ctx.node.attr_i("storage_order", 0);
    Tensor idx = want_idx ? Tensor(DType::I64, yshape) : Tensor();
    const bool cip = ctx.node.attr_i("count_include_pad", 0) != 0;
    double p = 2;
    if (kind == PoolKind::Lp) {
        const graph::Attribute* pa = ctx.node.attr("p");
        if (pa) p = pa->kind == graph::Attribute::Kind::Float ? pa->f : static_cast<double>(pa->i);
    }
    int64_t* ip = want_idx ? idx.data<int64_t>() : nullptr;
    if (int_ok) {
        Tensor y(dt, yshape);
        visit_numeric(dt, [&](auto tag) {
            using T = decltype(tag);
            pool_kernel<T>(kind, X.data<T>(), y.data<T>(), ip, NC, w, offs, cip, p, storage_order == 1);
        });
        ctx.outputs[0] = y;
    } else {
        const Tensor cx = compute_tensor(X);
        Tensor y(cx.dtype(), yshape);
        if (cx.dtype() == DType::F64) {
            pool_kernel<double>(kind, cx.data<double>(), y.data<double>(), ip, NC, w, offs, cip, p, storage_order == 1);
        } else {
            pool_kernel<float>(kind, cx.data<float>(), y.data<float>(), ip, NC, w, offs, cip, p, storage_order == 1);
        }
        ctx.outputs[0] = output_tensor(y, dt);
    }
    if (want_idx) ctx.outputs[1] = idx;
    return Status::Ok();
}

// Global pools: one window over all spatial positions; Y [N, C, 1, ..., 1].
Status global_pool(OpContext& ctx, PoolKind kind) {
    if (!ctx.has_input(0)) return ctx.fail("missing input X");
    const Tensor& X = ctx.in(0);
    const DType dt = X.dtype();
    if (!is_float(dt)) return ctx.unsupported(std::string("input type ") + dtype_name(dt));
    if (X.rank() < 2) return ctx.fail("X " + shape_str(X.shape()) + " must have rank >= 2");
    Shape yshape(X.shape().size(), 1);
    yshape[0] = X.dim(0);
    yshape[1] = X.dim(1);
    const int64_t NC = X.dim(0) * X.dim(1);
    const int64_t S = NC ? X.numel() / NC : 0;
    const double p = kind == PoolKind::Lp ? static_cast<double>(ctx.node.attr_i("p", 2)) : 2.0;
    const Tensor cx = compute_tensor(X);
    Tensor y(cx.dtype(), yshape);
    auto run = [&](auto tag) {
        using T = decltype(tag);
        const T* x = cx.data<T>();
        for (int64_t nc = 0; nc < NC; ++nc) {
            const T* xc = x + nc * S;
            T r = 0;
            if (kind == PoolKind::Max) {
                r = S ? xc[0] : T(0);
                for (int64_t s = 1; s < S; ++s) r = std::max(r, xc[s]);
            } else if (kind == PoolKind::Average) {
                for (int64_t s = 0; s < S; ++s) r += xc[s];
                r = S ? r / static_cast<T>(S) : T(0);
            } else {
                double sum = 0;
                for (int64_t s = 0; s < S; ++s) sum += std::pow(std::fabs(static_cast<double>(xc[s])), p);
                r = static_cast<T>(std::pow(sum, 1.0 / p));
            }
            y.data<T>()[nc] = r;
        }
    };
    if (cx.dtype() == DType::F64) run(double{});
    else run(float{});
    ctx.outputs[0] = output_tensor(y, dt);
    return Status::Ok();
}

}  // namespace

Status op_conv(OpContext& ctx) { return conv_common(ctx, false); }
Status op_conv_transpose(OpContext& ctx) { return conv_common(ctx, true); }
Status op_max_pool(OpContext& ctx) { return pool_common(ctx, PoolKind::Max); }
Status op_average_pool(OpContext& ctx) { return pool_common(ctx, PoolKind::Average); }
Status op_lp_pool(OpContext& ctx) { return pool_common(ctx, PoolKind::Lp); }
Status op_global_max_pool(OpContext& ctx) { return global_pool(ctx, PoolKind::Max); }
Status op_global_average_pool(OpContext& ctx) { return global_pool(ctx, PoolKind::Average); }
Status op_global_lp_pool(OpContext& ctx) { return global_pool(ctx, PoolKind::Lp); }

// MaxUnpool: Y zeros of the unpooled shape (or output_shape), X[j] written where I[j] points (I as MaxPool's Indices).
Status op_max_unpool(OpContext& ctx) {
    if (!ctx.has_input(0) || !ctx.has_input(1)) return ctx.fail("needs inputs X and I");
    const Tensor& X = ctx.in(0);
    const Tensor& I = ctx.in(1);
    if (X.rank() < 3) return ctx.fail("X " + shape_str(X.shape()) + " must have rank >= 3");
    if (I.shape() != X.shape()) return ctx.fail("I " + shape_str(I.shape()) + " must have X's shape " + shape_str(X.shape()));
    const Shape in = spatial_of(X.shape());
    const size_t r = in.size();
    const Shape kernel = ctx.node.attr_ints("kernel_shape");
    Shape strides = ctx.node.attr_ints("strides", Shape(r, 1));
    Shape pads = ctx.node.attr_ints("pads", Shape(2 * r, 0));
    if (strides.empty()) strides.assign(r, 1);
    if (pads.empty()) pads.assign(2 * r, 0);
    if (kernel.size() != r || strides.size() != r || pads.size() != 2 * r) {
        return ctx.fail("kernel_shape, strides or pads do not match " + std::to_string(r) + " spatial axes");
    }
    // Indices address the default unpooled shape; with output_shape the same coordinates are used in Y.
    Shape dshape{X.dim(0), X.dim(1)};
    for (size_t i = 0; i < r; ++i) dshape.push_back((in[i] - 1) * strides[i] + kernel[i] - pads[i] - pads[i + r]);
    Shape yshape = dshape;
    if (ctx.has_input(2)) {
        const auto os = ctx.in(2).to_i64();
        if (os.size() != yshape.size()) return ctx.fail("output_shape must have rank " + std::to_string(yshape.size()));
        yshape.assign(os.begin(), os.end());
    }
    for (size_t i = 0; i < yshape.size(); ++i)
        if (dshape[i] < 0 || yshape[i] < dshape[i]) return ctx.fail("output shape " + shape_str(yshape) + " too small");
    Tensor y(X.dtype(), yshape);
    const int64_t total = shape_numel(dshape);
    const size_t es = storage_bytes(X.dtype(), 1);
    if (storage_bytes(X.dtype(), 2) != 2 * es) return ctx.unsupported(std::string("type ") + dtype_name(X.dtype()));
    const auto ind = I.to_i64();
    const auto dst = strides_of(dshape), yst = strides_of(yshape);
    for (int64_t j = 0; j < X.numel(); ++j) {
        const int64_t t = ind[static_cast<size_t>(j)];
        if (t < 0 || t >= total) return ctx.fail("index " + std::to_string(t) + " outside " + shape_str(dshape));
        int64_t off = 0;
        for (size_t d = 0; d < dshape.size(); ++d) off += (t / dst[d] % dshape[d]) * yst[d];
        std::copy_n(X.raw() + j * es, es, y.raw() + off * es);
    }
    ctx.outputs[0] = y;
    return Status::Ok();
}

}  // namespace edgeq::runtime
