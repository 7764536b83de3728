// The 'quant' family, part 2: integer kernels with ONNX semantics (opsets 10-21).
//
//   MatMulInteger  (A [.., M, K] - a_zp) @ (B [.., K, N] - b_zp) -> int32 [.., M, N]  (NumPy matmul shapes)
//   ConvInteger    conv(X [N, C, D..] - x_zp, W [M, C/group, k..] - w_zp) -> int32 [N, M, O..]
//   QLinearMatMul  y = saturate(round_half_even(acc * (a_scale * b_scale / y_scale) + y_zp))
//   QLinearConv    y = saturate(round_half_even((acc + B) * (x_scale * w_scale / y_scale) + y_zp))
//   QGemm          (com.microsoft, ONNX Runtime's quantized Gemm) acc = (op(A) - a_zp) @ (op(B) - b_zp) + C;
//                  y = saturate(round_half_even(acc * alpha * (a_scale * b_scale / y_scale) + y_zp)), or the float
//                  acc * alpha * a_scale * b_scale when y_scale is omitted. C is int32 on the a_scale * b_scale grid.
// (the zero point is added before rounding, as ONNX's reference does; ONNX Runtime rounds first, which differs
// only on exact .5 ties with an odd zero point)
//
// Inputs are uint8/int8; a zero point has its input's type. Zero points and scales:
//   MatMulInteger  a_zp scalar, [M] (per row) or [.., M, 1]; b_zp scalar, [N] (per column) or [.., 1, N]
//   QLinearMatMul  a/y scale and zero point scalar or [M] (per row); b scalar or [N] (per column)
//   ConvInteger / QLinearConv   x_zp scalar; w_zp (and w_scale) scalar or [M] (per output channel)
// Accumulation is exact (int64, stored as int32 as ONNX specifies). Padding contributes 0 after the zero point
// is subtracted, i.e. the input is padded with its zero point. The requantization multiplier is computed in the
// scales' type (float16 scales: every step rounded to float16), the product acc * multiplier in double, as
// ONNX's reference implementation does.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "runtime/ref/common.h"
#include "runtime/ref/op.h"

namespace edgeq::runtime {
namespace {

bool is_q8(DType t) { return t == DType::U8 || t == DType::I8; }

// Input minus its zero point, as int32. zp: nullptr (0), one element, or any shape that broadcasts to the
// input's shape; a 1-D zp of the input's row count (per_row) or column count (!per_row) is per row/column.
Result<std::vector<int32_t>> minus_zero_point(const OpContext& ctx, const Tensor& x, const Tensor* zp, bool per_row,
                                              const char* what) {
    if (!is_q8(x.dtype())) return ctx.unsupported(std::string(what) + " type " + dtype_name(x.dtype()));
    const std::vector<int64_t> xv = x.to_i64();
    std::vector<int32_t> out(xv.size());
    if (!zp) {
        for (size_t i = 0; i < xv.size(); ++i) out[i] = static_cast<int32_t>(xv[i]);
        return out;
    }
    if (zp->dtype() != x.dtype()) {
        return ctx.fail(std::string(what) + " zero point type " + dtype_name(zp->dtype()) + " differs from " + what +
                        " type " + dtype_name(x.dtype()));
    }
    const std::vector<int64_t> zv = zp->to_i64();
    if (zv.size() == 1) {
        for (size_t i = 0; i < xv.size(); ++i) out[i] = static_cast<int32_t>(xv[i] - zv[0]);
        return out;
    }
    Shape zs = zp->shape();
    if (zs.size() == 1 && x.rank() >= 2 && per_row && zs[0] == x.dim(-2)) zs = {zs[0], 1};
    bool ok = zs.size() <= x.shape().size() && !zv.empty();
    if (ok) {
        auto b = broadcast_shapes({x.shape(), zs});
        ok = b.ok() && *b == x.shape();
    }
    if (!ok) {
        return ctx.fail(std::string(what) + " zero point shape " + shape_str(zp->shape()) + " does not fit " + what +
                        " shape " + shape_str(x.shape()));
    }
    const std::vector<int64_t> zst = broadcast_strides(zs, x.shape());
    const Shape& xs = x.shape();
    for (size_t i = 0; i < xv.size(); ++i) {
        int64_t rem = static_cast<int64_t>(i), off = 0;
        for (size_t d = xs.size(); d-- > 0;) {
            off += (rem % xs[d]) * zst[d];
            rem /= xs[d];
        }
        out[i] = static_cast<int32_t>(xv[i] - zv[static_cast<size_t>(off)]);
    }
    return out;
}

// NumPy matmul of int32 operands: batch dims broadcast, a 1-D operand is a row (A) or column (B) vector.
struct MatMulDims {
    Shape out;
    int64_t M = 1, K = 1, N = 1;
    std::vector<int64_t> a_off, b_off;  // element offset of each output batch's A and B matrices
};

Result<MatMulDims> matmul_dims(const OpContext& ctx, const Shape& a, const Shape& b) {
    if (a.empty() || b.empty()) return ctx.fail("matmul operands must have rank >= 1, got " + shape_str(a) + " and " + shape_str(b));
    const Shape a2 = a.size() == 1 ? Shape{1, a[0]} : a;
    const Shape b2 = b.size() == 1 ? Shape{b[0], 1} : b;
    MatMulDims m;
    m.M = a2[a2.size() - 2];
    m.K = a2.back();
    m.N = b2.back();
    if (b2[b2.size() - 2] != m.K) return ctx.fail("matmul shapes " + shape_str(a) + " and " + shape_str(b) + " do not agree");
    const Shape ab(a2.begin(), a2.end() - 2), bb(b2.begin(), b2.end() - 2);
    auto batch = broadcast_shapes({ab, bb});
    if (!batch.ok()) return ctx.fail("matmul batch dims: " + batch.status().message());
    const Shape& bs = *batch;
    const auto ast = broadcast_strides(ab, bs), bst = broadcast_strides(bb, bs);
    const int64_t nb = shape_numel(bs);
    for (int64_t i = 0; i < nb; ++i) {
        int64_t rem = i, ao = 0, bo = 0;
        for (size_t d = bs.size(); d-- > 0;) {
            ao += (rem % bs[d]) * ast[d];
            bo += (rem % bs[d]) * bst[d];
            rem /= bs[d];
        }
        m.a_off.push_back(ao * m.M * m.K);
        m.b_off.push_back(bo * m.K * m.N);
    }
    m.out = bs;
    if (a.size() > 1) m.out.push_back(m.M);
    if (b.size() > 1) m.out.push_back(m.N);
    return m;
}

// acc[batch, m, n] = sum_k a[m, k] * b[k, n], exact.
std::vector<int64_t> matmul_i32(const MatMulDims& d, const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
    std::vector<int64_t> acc(d.a_off.size() * static_cast<size_t>(d.M * d.N), 0);
    for (size_t bi = 0; bi < d.a_off.size(); ++bi) {
        const int32_t* A = a.data() + d.a_off[bi];
        const int32_t* B = b.data() + d.b_off[bi];
        int64_t* C = acc.data() + bi * static_cast<size_t>(d.M * d.N);
        for (int64_t m = 0; m < d.M; ++m)
            for (int64_t k = 0; k < d.K; ++k) {
                const int64_t av = A[m * d.K + k];
                for (int64_t n = 0; n < d.N; ++n) C[m * d.N + n] += av * B[k * d.N + n];
            }
    }
    return acc;
}

Tensor to_i32_tensor(const Shape& s, const std::vector<int64_t>& acc) {
    Tensor t(DType::I32, s);
    for (size_t i = 0; i < acc.size(); ++i) t.data<int32_t>()[i] = static_cast<int32_t>(acc[i]);
    return t;
}

// Scale values (exact, as float) of a scalar or a 1-D tensor of n elements.
Result<std::vector<float>> scale_values(const OpContext& ctx, const Tensor* s, int64_t n, const char* what) {
    if (!s) return ctx.fail(std::string("missing ") + what);
    if (s->dtype() != DType::F32 && s->dtype() != DType::F16 && s->dtype() != DType::BF16) {
        return ctx.unsupported(std::string(what) + " type " + dtype_name(s->dtype()));
    }
    if (s->numel() != 1 && !(s->rank() == 1 && s->dim(0) == n)) {
        return ctx.fail(std::string(what) + " must be a scalar or 1-D of size " + std::to_string(n) + ", got " +
                        shape_str(s->shape()));
    }
    return s->to_f32();
}

// Zero point values of a scalar or a 1-D tensor of n elements, of type t (nullptr: 0).
Result<std::vector<int64_t>> zero_point_values(const OpContext& ctx, const Tensor* z, DType t, int64_t n, const char* what) {
    if (!z) return std::vector<int64_t>{0};
    if (z->dtype() != t) {
        return ctx.fail(std::string(what) + " type " + dtype_name(z->dtype()) + " differs from its input's type " + dtype_name(t));
    }
    if (z->numel() != 1 && !(z->rank() == 1 && z->dim(0) == n)) {
        return ctx.fail(std::string(what) + " must be a scalar or 1-D of size " + std::to_string(n) + ", got " +
                        shape_str(z->shape()));
    }
    return z->to_i64();
}

float round_f(DType p, float v) {
    if (p == DType::F16) return fp16_to_f32(f32_to_fp16(v));
    if (p == DType::BF16) return bf16_to_f32(f32_to_bf16(v));
    return v;
}

// a * b / c in type p (each step rounded to p).
double multiplier(DType p, float a, float b, float c) { return round_f(p, round_f(p, a * b) / c); }

// Common float type of the three scales (their own type if all agree, else float32).
DType scales_type(const Tensor& a, const Tensor& b, const Tensor& c) {
    return a.dtype() == b.dtype() && b.dtype() == c.dtype() ? a.dtype() : DType::F32;
}

int64_t requantize(int64_t acc, double mult, int64_t zp, DType out) {
    const double lo = out == DType::U8 ? 0.0 : -128.0, hi = out == DType::U8 ? 255.0 : 127.0;
    double v = static_cast<double>(acc) * mult + static_cast<double>(zp);
    if (std::isnan(v)) v = static_cast<double>(zp);
    v = std::clamp(v, lo, hi);
    double r = std::floor(v);
    const double d = v - r;
    if (d > 0.5 || (d == 0.5 && std::fmod(r, 2.0) != 0.0)) r += 1.0;  // half to even
    return static_cast<int64_t>(r);
}

Tensor write_q8(DType t, const Shape& s, const std::vector<int64_t>& v) {
    Tensor out(t, s);
    for (size_t i = 0; i < v.size(); ++i) {
        if (t == DType::U8) out.data<uint8_t>()[i] = static_cast<uint8_t>(v[i]);
        else out.data<int8_t>()[i] = static_cast<int8_t>(v[i]);
    }
    return out;
}

// ---- convolution geometry (ONNX Conv attributes) ----

struct ConvGeom {
    int64_t N = 0, C = 0, M = 0, group = 1;
    Shape in, k, out;  // spatial dims
    std::vector<int64_t> stride, dil, pad;  // pad: begin of each spatial dim
    Shape out_shape;
};

Result<ConvGeom> conv_geometry(const OpContext& ctx, const Shape& x, const Shape& w) {
    if (x.size() < 3) return ctx.fail("input must have rank >= 3 (N, C, spatial..), got " + shape_str(x));
    if (w.size() != x.size()) return ctx.fail("weight shape " + shape_str(w) + " does not match input " + shape_str(x));
    const size_t ns = x.size() - 2;
    ConvGeom g;
    g.N = x[0];
    g.C = x[1];
    g.M = w[0];
    g.group = ctx.node.attr_i("group", 1);
    if (g.group < 1 || g.C % g.group != 0 || g.M % g.group != 0 || w[1] * g.group != g.C) {
        return ctx.fail("group " + std::to_string(g.group) + " does not fit input " + shape_str(x) + " and weight " + shape_str(w));
    }
    g.in.assign(x.begin() + 2, x.end());
    g.k.assign(w.begin() + 2, w.end());
    const auto ks = ctx.node.attr_ints("kernel_shape", g.k);
    if (ks != g.k) return ctx.fail("kernel_shape does not match weight shape " + shape_str(w));
    g.stride = ctx.node.attr_ints("strides", std::vector<int64_t>(ns, 1));
    g.dil = ctx.node.attr_ints("dilations", std::vector<int64_t>(ns, 1));
    std::vector<int64_t> pads = ctx.node.attr_ints("pads", std::vector<int64_t>(2 * ns, 0));
    if (g.stride.size() != ns || g.dil.size() != ns || pads.size() != 2 * ns) {
        return ctx.fail("strides/dilations/pads do not match " + std::to_string(ns) + " spatial dims");
    }
    const std::string auto_pad = ctx.node.attr_s("auto_pad", "NOTSET");
    g.pad.assign(ns, 0);
    for (size_t d = 0; d < ns; ++d) {
        if (g.stride[d] < 1 || g.dil[d] < 1 || pads[d] < 0 || pads[d + ns] < 0 || g.k[d] < 1) {
            return ctx.fail("strides, dilations and kernel dims must be positive and pads non-negative");
        }
        const int64_t ext = (g.k[d] - 1) * g.dil[d] + 1;  // dilated kernel extent
        int64_t o = 0;
        if (auto_pad == "NOTSET" || auto_pad.empty()) {
            g.pad[d] = pads[d];
            const int64_t span = g.in[d] + pads[d] + pads[d + ns] - ext;
            if (span < 0) return ctx.fail("kernel larger than the padded input " + shape_str(x));
            o = span / g.stride[d] + 1;
        } else if (auto_pad == "VALID") {
            if (g.in[d] < ext) return ctx.fail("kernel larger than the input " + shape_str(x));
            o = (g.in[d] - ext) / g.stride[d] + 1;
        } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
            o = (g.in[d] + g.stride[d] - 1) / g.stride[d];
            const int64_t total = std::max<int64_t>(0, (o - 1) * g.stride[d] + ext - g.in[d]);
            g.pad[d] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
        } else {
            return ctx.fail("unknown auto_pad '" + auto_pad + "'");
        }
        g.out.push_back(o);
    }
    g.out_shape = {g.N, g.M};
    g.out_shape.insert(g.out_shape.end(), g.out.begin(), g.out.end());
    return g;
}

// acc[n, m, o..] = bias[m] + sum_{c, k..} x[n, g*Cg + c, o*s - pad + k*dil] * w[m, c, k..]; outside x adds 0.
// x and w have their zero points already subtracted.
std::vector<int64_t> conv_i32(const ConvGeom& g, const std::vector<int32_t>& x, const std::vector<int32_t>& w,
                              const std::vector<int64_t>& bias) {
    const size_t ns = g.in.size();
    const int64_t P = shape_numel(g.out), KK = shape_numel(g.k), IS = shape_numel(g.in);
    const auto in_st = strides_of(g.in);
    // offset of the input element under (output position p, kernel position q), -1 in the padding
    std::vector<int64_t> table(static_cast<size_t>(P * KK));
    std::vector<int64_t> op(ns), kq(ns);
    for (int64_t p = 0; p < P; ++p) {
        int64_t rem = p;
        for (size_t d = ns; d-- > 0;) {
            op[d] = rem % g.out[d];
            rem /= g.out[d];
        }
        for (int64_t q = 0; q < KK; ++q) {
            int64_t r = q, off = 0;
            bool inside = true;
            for (size_t d = ns; d-- > 0;) {
                const int64_t kd = r % g.k[d];
                r /= g.k[d];
                const int64_t id = op[d] * g.stride[d] - g.pad[d] + kd * g.dil[d];
                if (id < 0 || id >= g.in[d]) inside = false;
                off += id * in_st[d];
            }
            table[static_cast<size_t>(p * KK + q)] = inside ? off : -1;
        }
    }
    const int64_t Cg = g.C / g.group, Mg = g.M / g.group;
    std::vector<int64_t> acc(static_cast<size_t>(g.N * g.M * P));
    for (int64_t n = 0; n < g.N; ++n)
        for (int64_t m = 0; m < g.M; ++m) {
            const int64_t grp = m / Mg;
            int64_t* Y = acc.data() + (n * g.M + m) * P;
            for (int64_t p = 0; p < P; ++p) {
                int64_t s = bias.empty() ? 0 : bias[static_cast<size_t>(m)];
                const int64_t* T = table.data() + p * KK;
                for (int64_t c = 0; c < Cg; ++c) {
                    const int32_t* X = x.data() + (n * g.C + grp * Cg + c) * IS;
                    const int32_t* W = w.data() + (m * Cg + c) * KK;
                    for (int64_t q = 0; q < KK; ++q)
                        if (T[q] >= 0) s += static_cast<int64_t>(X[T[q]]) * W[q];
                }
                Y[p] = s;
            }
        }
    return acc;
}

// Weight minus its zero point (scalar or one per output channel).
Result<std::vector<int32_t>> weight_minus_zp(const OpContext& ctx, const Tensor& w, const Tensor* zp) {
    if (!is_q8(w.dtype())) return ctx.unsupported(std::string("weight type ") + dtype_name(w.dtype()));
    EDGEQ_ASSIGN_OR_RETURN(const auto zv, zero_point_values(ctx, zp, w.dtype(), w.rank() ? w.dim(0) : 1, "w_zero_point"));
    const std::vector<int64_t> wv = w.to_i64();
    std::vector<int32_t> out(wv.size());
    const int64_t per = w.rank() && w.dim(0) ? w.numel() / w.dim(0) : 1;
    for (size_t i = 0; i < wv.size(); ++i) {
        out[i] = static_cast<int32_t>(wv[i] - (zv.size() == 1 ? zv[0] : zv[i / static_cast<size_t>(per)]));
    }
    return out;
}

Result<std::vector<int32_t>> input_minus_zp(const OpContext& ctx, const Tensor& x, const Tensor* zp) {
    if (!is_q8(x.dtype())) return ctx.unsupported(std::string("input type ") + dtype_name(x.dtype()));
    EDGEQ_ASSIGN_OR_RETURN(const auto zv, zero_point_values(ctx, zp, x.dtype(), 1, "x_zero_point"));
    const std::vector<int64_t> xv = x.to_i64();
    std::vector<int32_t> out(xv.size());
    for (size_t i = 0; i < xv.size(); ++i) out[i] = static_cast<int32_t>(xv[i] - zv[0]);
    return out;
}

const Tensor* opt(const OpContext& ctx, size_t i) { return ctx.has_input(i) ? &ctx.in(i) : nullptr; }

}  // namespace

Status op_matmul_integer(OpContext& ctx) {
    if (!ctx.has_input(0) || !ctx.has_input(1)) return ctx.fail("needs inputs A and B");
    const Tensor& a = ctx.in(0);
    const Tensor& b = ctx.in(1);
    EDGEQ_ASSIGN_OR_RETURN(const MatMulDims d, matmul_dims(ctx, a.shape(), b.shape()));
    EDGEQ_ASSIGN_OR_RETURN(const auto av, minus_zero_point(ctx, a, opt(ctx, 2), true, "A"));
    EDGEQ_ASSIGN_OR_RETURN(const auto bv, minus_zero_point(ctx, b, opt(ctx, 3), false, "B"));
    if (ctx.shape_only) {
        ctx.outputs[0] = Tensor(DType::I32, d.out);
        return Status::Ok();
    }
    ctx.outputs[0] = to_i32_tensor(d.out, matmul_i32(d, av, bv));
    return Status::Ok();
}

Status op_qlinear_matmul(OpContext& ctx) {
    for (size_t i : {0u, 1u, 3u, 4u, 6u})
        if (!ctx.has_input(i)) return ctx.fail("needs inputs a, a_scale, b, b_scale and y_scale");
    const Tensor& a = ctx.in(0);
    const Tensor& b = ctx.in(3);
    if (!is_q8(a.dtype()) || !is_q8(b.dtype())) {
        return ctx.unsupported(std::string("input types ") + dtype_name(a.dtype()) + " and " + dtype_name(b.dtype()));
    }
    EDGEQ_ASSIGN_OR_RETURN(const MatMulDims d, matmul_dims(ctx, a.shape(), b.shape()));
    EDGEQ_ASSIGN_OR_RETURN(const auto as, scale_values(ctx, opt(ctx, 1), d.M, "a_scale"));
    EDGEQ_ASSIGN_OR_RETURN(const auto bs, scale_values(ctx, opt(ctx, 4), d.N, "b_scale"));
    EDGEQ_ASSIGN_OR_RETURN(const auto ys, scale_values(ctx, opt(ctx, 6), d.M, "y_scale"));
    EDGEQ_ASSIGN_OR_RETURN(const auto az, zero_point_values(ctx, opt(ctx, 2), a.dtype(), d.M, "a_zero_point"));
    EDGEQ_ASSIGN_OR_RETURN(const auto bz, zero_point_values(ctx, opt(ctx, 5), b.dtype(), d.N, "b_zero_point"));
    const Tensor* yzp = opt(ctx, 7);
    const DType out = yzp ? yzp->dtype() : a.dtype();
    if (!is_q8(out)) return ctx.unsupported(std::string("output type ") + dtype_name(out));
    EDGEQ_ASSIGN_OR_RETURN(const auto yz, zero_point_values(ctx, yzp, out, d.M, "y_zero_point"));
    (void)az;  // az, bz: shapes validated here, values applied by minus_zero_point
    (void)bz;
    EDGEQ_ASSIGN_OR_RETURN(const auto av, minus_zero_point(ctx, a, opt(ctx, 2), true, "a"));
    EDGEQ_ASSIGN_OR_RETURN(const auto bv, minus_zero_point(ctx, b, opt(ctx, 5), false, "b"));
    if (ctx.shape_only) {
        ctx.outputs[0] = Tensor(out, d.out);
        return Status::Ok();
    }
    const std::vector<int64_t> acc = matmul_i32(d, av, bv);
    const DType p = scales_type(ctx.in(1), ctx.in(4), ctx.in(6));
    auto pick = [](const auto& v, int64_t i) { return v.size() == 1 ? v[0] : v[static_cast<size_t>(i)]; };
    std::vector<int64_t> y(acc.size());
    for (size_t i = 0; i < acc.size(); ++i) {
        const int64_t n = static_cast<int64_t>(i) % d.N, m = (static_cast<int64_t>(i) / d.N) % d.M;
        const double mult = multiplier(p, pick(as, m), pick(bs, n), pick(ys, m));
        y[i] = requantize(acc[i], mult, pick(yz, m), out);
    }
    ctx.outputs[0] = write_q8(out, d.out, y);
    return Status::Ok();
}

namespace {
// A 2-D 1-byte tensor transposed.
Tensor transposed_q8(const Tensor& t) {
    const int64_t R = t.dim(0), C = t.dim(1);
    Tensor r(t.dtype(), {C, R});
    const uint8_t* s = static_cast<const uint8_t*>(t.raw());
    uint8_t* d = static_cast<uint8_t*>(r.raw());
    for (int64_t i = 0; i < R; ++i)
        for (int64_t j = 0; j < C; ++j) d[j * R + i] = s[i * C + j];
    return r;
}
}  // namespace

Status op_qgemm(OpContext& ctx) {
    for (size_t i : {0u, 1u, 3u, 4u})
        if (!ctx.has_input(i)) return ctx.fail("needs inputs A, a_scale, B and b_scale");
    const Tensor& A0 = ctx.in(0);
    const Tensor& B0 = ctx.in(3);
    if (!is_q8(A0.dtype()) || !is_q8(B0.dtype())) {
        return ctx.unsupported(std::string("input types ") + dtype_name(A0.dtype()) + " and " + dtype_name(B0.dtype()));
    }
    if (A0.rank() != 2 || B0.rank() != 2) {
        return ctx.fail("A " + shape_str(A0.shape()) + " and B " + shape_str(B0.shape()) + " must be 2-D");
    }
    const bool ta = ctx.node.attr_i("transA", 0) != 0, tb = ctx.node.attr_i("transB", 0) != 0;
    const float alpha = ctx.node.attr_f("alpha", 1.0f);
    const Tensor A = ta ? transposed_q8(A0) : A0;
    const Tensor B = tb ? transposed_q8(B0) : B0;
    EDGEQ_ASSIGN_OR_RETURN(const MatMulDims d, matmul_dims(ctx, A.shape(), B.shape()));
    EDGEQ_ASSIGN_OR_RETURN(const auto as, scale_values(ctx, opt(ctx, 1), 1, "a_scale"));
    EDGEQ_ASSIGN_OR_RETURN(const auto bs, scale_values(ctx, opt(ctx, 4), d.N, "b_scale"));
    EDGEQ_ASSIGN_OR_RETURN(const auto az, zero_point_values(ctx, opt(ctx, 2), A.dtype(), 1, "a_zero_point"));
    EDGEQ_ASSIGN_OR_RETURN(const auto bz, zero_point_values(ctx, opt(ctx, 5), B.dtype(), d.N, "b_zero_point"));
    (void)az;  // validated here, applied by minus_zero_point
    (void)bz;
    const Tensor* C = opt(ctx, 6);
    if (C && C->dtype() != DType::I32) return ctx.fail(std::string("C must be int32, got ") + dtype_name(C->dtype()));
    if (C && alpha != 1.0f) return ctx.unsupported("C with alpha != 1 (the scale of C is ambiguous)");
    if (C && !(C->numel() == 1 || (C->rank() == 1 && C->dim(0) == d.N) || C->shape() == Shape{d.M, d.N})) {
        return ctx.fail("C " + shape_str(C->shape()) + " must be a scalar, [N] or [M, N] with N = " + std::to_string(d.N));
    }
    const Tensor* ys = opt(ctx, 7);
    const Tensor* yzp = opt(ctx, 8);
    const DType out = yzp ? yzp->dtype() : A.dtype();
    if (ys && !is_q8(out)) return ctx.unsupported(std::string("output type ") + dtype_name(out));
    std::vector<float> ysv;
    std::vector<int64_t> yz{0};
    if (ys) {
        EDGEQ_ASSIGN_OR_RETURN(ysv, scale_values(ctx, ys, 1, "y_scale"));
        EDGEQ_ASSIGN_OR_RETURN(yz, zero_point_values(ctx, yzp, out, 1, "y_zero_point"));
    }
    EDGEQ_ASSIGN_OR_RETURN(const auto av, minus_zero_point(ctx, A, opt(ctx, 2), true, "A"));
    EDGEQ_ASSIGN_OR_RETURN(const auto bv, minus_zero_point(ctx, B, opt(ctx, 5), false, "B"));
    if (ctx.shape_only) {
        ctx.outputs[0] = Tensor(ys ? out : DType::F32, d.out);
        return Status::Ok();
    }
    std::vector<int64_t> acc = matmul_i32(d, av, bv);
    if (C) {
        const auto cv = C->to_i64();
        for (size_t i = 0; i < acc.size(); ++i) {
            const size_t n = static_cast<size_t>(static_cast<int64_t>(i) % d.N);
            acc[i] += cv.size() == 1 ? cv[0] : cv.size() == static_cast<size_t>(d.N) ? cv[n] : cv[i];
        }
    }
    auto pick = [](const std::vector<float>& v, int64_t i) { return v.size() == 1 ? v[0] : v[static_cast<size_t>(i)]; };
    if (!ys) {
        Tensor y(DType::F32, d.out);
        for (size_t i = 0; i < acc.size(); ++i) {
            const int64_t n = static_cast<int64_t>(i) % d.N;
            y.data<float>()[i] = static_cast<float>(static_cast<double>(acc[i]) * alpha * as[0] * pick(bs, n));
        }
        ctx.outputs[0] = y;
        return Status::Ok();
    }
    const DType p = scales_type(ctx.in(1), ctx.in(4), *ys);
    std::vector<int64_t> y(acc.size());
    for (size_t i = 0; i < acc.size(); ++i) {
        const int64_t n = static_cast<int64_t>(i) % d.N;
        y[i] = requantize(acc[i], multiplier(p, as[0], pick(bs, n), ysv[0]) * alpha, yz[0], out);
    }
    ctx.outputs[0] = write_q8(out, d.out, y);
    return Status::Ok();
}

Status op_conv_integer(OpContext& ctx) {
    if (!ctx.has_input(0) || !ctx.has_input(1)) return ctx.fail("needs inputs x and w");
    const Tensor& x = ctx.in(0);
    const Tensor& w = ctx.in(1);
    EDGEQ_ASSIGN_OR_RETURN(const ConvGeom g, conv_geometry(ctx, x.shape(), w.shape()));
    EDGEQ_ASSIGN_OR_RETURN(const auto xv, input_minus_zp(ctx, x, opt(ctx, 2)));
    EDGEQ_ASSIGN_OR_RETURN(const auto wv, weight_minus_zp(ctx, w, opt(ctx, 3)));
    if (ctx.shape_only) {
        ctx.outputs[0] = Tensor(DType::I32, g.out_shape);
        return Status::Ok();
    }
    ctx.outputs[0] = to_i32_tensor(g.out_shape, conv_i32(g, xv, wv, {}));
    return Status::Ok();
}

Status op_qlinear_conv(OpContext& ctx) {
    for (size_t i : {0u, 1u, 3u, 4u, 6u})
        if (!ctx.has_input(i)) return ctx.fail("needs inputs x, x_scale, w, w_scale and y_scale");
    const Tensor& x = ctx.in(0);
    const Tensor& w = ctx.in(3);
    EDGEQ_ASSIGN_OR_RETURN(const ConvGeom g, conv_geometry(ctx, x.shape(), w.shape()));
    EDGEQ_ASSIGN_OR_RETURN(const auto xs, scale_values(ctx, opt(ctx, 1), 1, "x_scale"));
    EDGEQ_ASSIGN_OR_RETURN(const auto ws, scale_values(ctx, opt(ctx, 4), g.M, "w_scale"));
    EDGEQ_ASSIGN_OR_RETURN(const auto ys, scale_values(ctx, opt(ctx, 6), 1, "y_scale"));
    EDGEQ_ASSIGN_OR_RETURN(const auto xv, input_minus_zp(ctx, x, opt(ctx, 2)));
    EDGEQ_ASSIGN_OR_RETURN(const auto wv, weight_minus_zp(ctx, w, opt(ctx, 5)));
    const Tensor* yzp = opt(ctx, 7);
    const DType out = yzp ? yzp->dtype() : x.dtype();
    if (!is_q8(out)) return ctx.unsupported(std::string("output type ") + dtype_name(out));
    EDGEQ_ASSIGN_OR_RETURN(const auto yz, zero_point_values(ctx, yzp, out, 1, "y_zero_point"));
    std::vector<int64_t> bias;
    if (const Tensor* B = opt(ctx, 8)) {
        if (B->dtype() != DType::I32) return ctx.fail(std::string("bias must be int32, got ") + dtype_name(B->dtype()));
        if (B->rank() != 1 || B->dim(0) != g.M) {
            return ctx.fail("bias must be 1-D of size " + std::to_string(g.M) + ", got " + shape_str(B->shape()));
        }
        bias = B->to_i64();
    }
    if (ctx.shape_only) {
        ctx.outputs[0] = Tensor(out, g.out_shape);
        return Status::Ok();
    }
    const std::vector<int64_t> acc = conv_i32(g, xv, wv, bias);
    const DType p = scales_type(ctx.in(1), ctx.in(4), ctx.in(6));
    const int64_t P = shape_numel(g.out);
    std::vector<int64_t> y(acc.size());
    for (size_t i = 0; i < acc.size(); ++i) {
        const int64_t m = (static_cast<int64_t>(i) / std::max<int64_t>(P, 1)) % g.M;
        const double mult = multiplier(p, xs[0], ws.size() == 1 ? ws[0] : ws[static_cast<size_t>(m)], ys[0]);
        // acc is int32 in ONNX (wraps); kept exact here up to int32 range.
        y[i] = requantize(static_cast<int32_t>(acc[i]), mult, yz[0], out);
    }
    ctx.outputs[0] = write_q8(out, g.out_shape, y);
    return Status::Ok();
}

}  // namespace edgeq::runtime
