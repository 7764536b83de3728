// Tensor family, element movement: Transpose, Concat, Split, Slice, Pad, Tile, Trilu, ReverseSequence,
// Compress. Every op copies whole elements (element_bytes() each) and so works for any dtype; packed sub-byte
// integers go through unpacked()/repacked(), block-quantized types are Unsupported.
#include <algorithm>
#include <cstring>
#include <limits>

#include "runtime/ref/common.h"
#include "runtime/ref/op.h"

namespace edgeq::runtime {
namespace {


void copy_elem(Tensor& out, int64_t o, const Tensor& in, int64_t i, size_t es) {
    std::memcpy(out.raw() + sz(o) * es, in.raw() + sz(i) * es, es);
}

}  // namespace

// Transpose(data) -> out[i_perm[0], ...] ; out.shape[k] = in.shape[perm[k]], perm defaults to reversed axes.
Status op_transpose(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input");
    EDGEQ_ASSIGN_OR_RETURN(Tensor x, unpacked(ctx.in(0), ctx));
    const int64_t r = x.rank();
    std::vector<int64_t> perm = ctx.node.attr_ints("perm");
    if (!ctx.node.has("perm")) {
        for (int64_t i = r; i-- > 0;) perm.push_back(i);
    }
    if (static_cast<int64_t>(perm.size()) != r) {
        return ctx.fail("perm " + shape_str(perm) + " does not match rank " + std::to_string(r));
    }
    std::vector<bool> seen(sz(r), false);
    for (auto& p : perm) {
        if (p < 0) p += r;
        if (p < 0 || p >= r || seen[sz(p)]) return ctx.fail("perm " + shape_str(ctx.node.attr_ints("perm")) + " is not a permutation");
        seen[sz(p)] = true;
    }
    Shape out_shape(sz(r));
    for (int64_t k = 0; k < r; ++k) out_shape[sz(k)] = x.shape()[sz(perm[sz(k)])];
    const auto in_st = strides_of(x.shape());
    const size_t es = element_bytes(x.dtype());
    Tensor out(x.dtype(), out_shape);
    if (out.numel() > 0) {
        std::vector<int64_t> idx(sz(r), 0);
        int64_t o = 0;
        do {
            int64_t src = 0;
            for (int64_t k = 0; k < r; ++k) src += idx[sz(k)] * in_st[sz(perm[sz(k)])];
            copy_elem(out, o++, x, src, es);
        } while (next_index(idx, out_shape));
    }
    ctx.outputs[0] = repacked(out, ctx.in(0).dtype());
    return Status::Ok();
}

// Concat(inputs...) along `axis`: every input has the same rank and dims except on the axis.
Status op_concat(OpContext& ctx) {
    if (ctx.num_inputs() == 0 || !ctx.has_input(0)) return ctx.fail("no inputs");
    if (!ctx.node.has("axis")) return ctx.fail("missing attribute 'axis'");
    const DType dt = ctx.in(0).dtype();
    const int64_t r = ctx.in(0).rank();
    if (r == 0) return ctx.fail("cannot concatenate scalars");
    EDGEQ_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx.node.attr_i("axis", 0), r, ctx));
    std::vector<Tensor> xs;
    Shape out_shape = ctx.in(0).shape();
    out_shape[sz(axis)] = 0;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
        if (!ctx.has_input(i)) return ctx.fail("input " + std::to_string(i) + " is missing");
        const Tensor& t = ctx.in(i);
        if (t.dtype() != dt) return ctx.fail("inputs have different types");
        bool ok = t.rank() == r;
        for (int64_t k = 0; ok && k < r; ++k) ok = k == axis || t.shape()[sz(k)] == out_shape[sz(k)];
        if (!ok) {
            return ctx.fail("input " + std::to_string(i) + " has shape " + shape_str(t.shape()) +
                            ", incompatible with " + shape_str(ctx.in(0).shape()) + " on axis " + std::to_string(axis));
        }
        out_shape[sz(axis)] += t.shape()[sz(axis)];
        EDGEQ_ASSIGN_OR_RETURN(Tensor u, unpacked(t, ctx));
        xs.push_back(u);
    }
    const size_t es = element_bytes(xs[0].dtype());
    int64_t outer = 1, inner = 1;
    for (int64_t k = 0; k < r; ++k) {
        if (k < axis) outer *= out_shape[sz(k)];
        if (k > axis) inner *= out_shape[sz(k)];
    }
    Tensor out(xs[0].dtype(), out_shape);
    uint8_t* dst = out.raw();
    for (int64_t o = 0; o < outer; ++o) {
        for (const Tensor& t : xs) {
            const size_t chunk = sz(t.shape()[sz(axis)] * inner) * es;
            if (chunk) std::memcpy(dst, t.raw() + sz(o) * chunk, chunk);
            dst += chunk;
        }
    }
    ctx.outputs[0] = repacked(out, dt);
    return Status::Ok();
}

// Split(input[, split]) along `axis` into one output per node output. Sizes: `split` (attribute before opset
// 13, input from 13), else equal parts; opset 18's num_outputs allows a smaller last part (ceil division).
Status op_split(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input");
    EDGEQ_ASSIGN_OR_RETURN(Tensor x, unpacked(ctx.in(0), ctx));
    if (x.rank() == 0) return ctx.fail("cannot split a scalar");
    EDGEQ_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx.node.attr_i("axis", 0), x.rank(), ctx));
    const int64_t n_out = static_cast<int64_t>(ctx.outputs.size());
    const int64_t dim = x.shape()[sz(axis)];
    std::vector<int64_t> split;
    if (ctx.opset < 13 && ctx.node.has("split")) {
        split = ctx.node.attr_ints("split");
    } else if (ctx.opset >= 13 && ctx.has_input(1) && ctx.in(1).numel() > 0) {
        EDGEQ_ASSIGN_OR_RETURN(split, input_ints(ctx, 1));
    } else {
        if (ctx.node.has("num_outputs") && ctx.node.attr_i("num_outputs", 0) != n_out) {
            return ctx.fail("num_outputs " + std::to_string(ctx.node.attr_i("num_outputs", 0)) + " but " +
                            std::to_string(n_out) + " outputs");
        }
        if (n_out <= 0) return ctx.fail("no outputs");
        if (ctx.node.has("num_outputs")) {
            const int64_t part = (dim + n_out - 1) / n_out;
            for (int64_t i = 0; i < n_out; ++i) split.push_back(std::max<int64_t>(0, std::min(part, dim - i * part)));
        } else {
            if (dim % n_out != 0) {
                return ctx.fail("dim " + std::to_string(dim) + " does not split into " + std::to_string(n_out) + " equal parts");
            }
            split.assign(sz(n_out), dim / n_out);
        }
    }
    if (static_cast<int64_t>(split.size()) != n_out) {
        return ctx.fail("split " + shape_str(split) + " has " + std::to_string(split.size()) + " parts for " +
                        std::to_string(n_out) + " outputs");
    }
    int64_t total = 0;
    for (int64_t s : split) {
        if (s < 0) return ctx.fail("split " + shape_str(split) + " has a negative size");
        total += s;
    }
    if (total != dim) {
        return ctx.fail("split " + shape_str(split) + " sums to " + std::to_string(total) + ", axis has " + std::to_string(dim));
    }
    const size_t es = element_bytes(x.dtype());
    int64_t outer = 1, inner = 1;
    for (int64_t k = 0; k < x.rank(); ++k) {
        if (k < axis) outer *= x.shape()[sz(k)];
        if (k > axis) inner *= x.shape()[sz(k)];
    }
    int64_t offset = 0;
    for (int64_t p = 0; p < n_out; ++p) {
        Shape s = x.shape();
        s[sz(axis)] = split[sz(p)];
        Tensor out(x.dtype(), s);
        const size_t chunk = sz(split[sz(p)] * inner) * es;
        for (int64_t o = 0; o < outer; ++o) {
            if (chunk) std::memcpy(out.raw() + sz(o) * chunk, x.raw() + (sz(o * dim + offset) * sz(inner)) * es, chunk);
        }
        offset += split[sz(p)];
        ctx.outputs[sz(p)] = repacked(out, ctx.in(0).dtype());
    }
    return Status::Ok();
}

// Slice(data, starts, ends[, axes[, steps]]) (attributes starts/ends/axes before opset 10). Negative
// starts/ends count from the back; starts clamp to [0, d] ([0, d-1] for negative steps), ends to [0, d]
// ([-1, d-1] for negative steps).
Status op_slice(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input");
    EDGEQ_ASSIGN_OR_RETURN(Tensor x, unpacked(ctx.in(0), ctx));
    const int64_t r = x.rank();
    std::vector<int64_t> starts, ends, axes, steps;
    if (ctx.opset < 10) {
        starts = ctx.node.attr_ints("starts");
        ends = ctx.node.attr_ints("ends");
        axes = ctx.node.attr_ints("axes");
    } else {
        EDGEQ_ASSIGN_OR_RETURN(starts, input_ints(ctx, 1));
        EDGEQ_ASSIGN_OR_RETURN(ends, input_ints(ctx, 2));
        if (ctx.has_input(3)) {
            EDGEQ_ASSIGN_OR_RETURN(axes, input_ints(ctx, 3));
        }
        if (ctx.has_input(4)) {
            EDGEQ_ASSIGN_OR_RETURN(steps, input_ints(ctx, 4));
        }
    }
    if (starts.size() != ends.size()) return ctx.fail("starts and ends have different lengths");
    if (axes.empty() && !(ctx.opset >= 10 && ctx.has_input(3))) {
        for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
    }
    if (steps.empty() && !(ctx.opset >= 10 && ctx.has_input(4))) steps.assign(starts.size(), 1);
    if (axes.size() != starts.size() || steps.size() != starts.size()) {
        return ctx.fail("starts, ends, axes and steps must have the same length");
    }
    std::vector<int64_t> first(sz(r), 0), step(sz(r), 1);
    Shape out_shape = x.shape();
    std::vector<bool> seen(sz(r), false);
    for (size_t i = 0; i < starts.size(); ++i) {
        EDGEQ_ASSIGN_OR_RETURN(int64_t a, normalize_axis(axes[i], r, ctx));
        if (seen[sz(a)]) return ctx.fail("axis " + std::to_string(axes[i]) + " repeated");
        seen[sz(a)] = true;
        const int64_t d = x.shape()[sz(a)];
        if (steps[i] == 0) return ctx.fail("step 0 on axis " + std::to_string(a));
        // a step longer than the axis takes one element either way; clamping it keeps the arithmetic in range
        const int64_t st = std::clamp<int64_t>(steps[i], -(d + 1), d + 1);
        int64_t s = starts[i], e = ends[i];
        if (s < 0) s += d;
        if (e < 0) e += d;
        int64_t count = 0;
        if (st > 0) {
            s = std::clamp<int64_t>(s, 0, d);
            e = std::clamp<int64_t>(e, 0, d);
            if (e > s) count = (e - s + st - 1) / st;
        } else {
            s = std::clamp<int64_t>(s, 0, d - 1);
            e = std::clamp<int64_t>(e, -1, d - 1);
            if (s > e) count = (s - e + (-st) - 1) / (-st);
        }
        first[sz(a)] = s;
        step[sz(a)] = st;
        out_shape[sz(a)] = count;
    }
    const auto in_st = strides_of(x.shape());
    const size_t es = element_bytes(x.dtype());
    Tensor out(x.dtype(), out_shape);
    if (out.numel() > 0 && r == 0) {
        copy_elem(out, 0, x, 0, es);
    } else if (out.numel() > 0) {
        // one row of the last axis at a time (a memcpy when its step is 1; short rows as fixed-size moves), the
        // rows of the second-to-last axis by a pointer step, the axes before it by an index
        const int64_t L = out_shape[sz(r - 1)], last_first = first[sz(r - 1)], last_step = step[sz(r - 1)];
        const int64_t R2 = r >= 2 ? out_shape[sz(r - 2)] : 1;
        const int64_t row_step = r >= 2 ? step[sz(r - 2)] * in_st[sz(r - 2)] : 0;
        Shape outer_shape(out_shape.begin(), out_shape.end() - std::min<int64_t>(r, 2));
        std::vector<int64_t> idx(outer_shape.size(), 0);
        uint8_t* dst = out.raw();
        const uint8_t* base = x.raw();
        const size_t row_bytes = sz(L) * es;
        auto copy_row = [&](const uint8_t* src) {
            switch (row_bytes) {  // (ultraface's box decoding slices rows of 2 floats)
                case 4: std::memcpy(dst, src, 4); break;
                case 8: std::memcpy(dst, src, 8); break;
                case 16: std::memcpy(dst, src, 16); break;
                default: std::memcpy(dst, src, row_bytes); break;
            }
        };
        do {
            int64_t src = last_first + (r >= 2 ? first[sz(r - 2)] * in_st[sz(r - 2)] : 0);
            for (size_t k = 0; k < idx.size(); ++k) src += (first[k] + idx[k] * step[k]) * in_st[k];
            for (int64_t j = 0; j < R2; ++j, src += row_step) {
                if (last_step == 1) {
                    copy_row(base + sz(src) * es);
                } else {
                    for (int64_t i = 0; i < L; ++i)
                        std::memcpy(dst + sz(i) * es, base + sz(src + i * last_step) * es, es);
                }
                dst += row_bytes;
            }
        } while (next_index(idx, outer_shape));
    }
    ctx.outputs[0] = repacked(out, ctx.in(0).dtype());
    return Status::Ok();
}

// Pad(data, pads[, constant_value[, axes]]) (attributes pads/value before opset 11). pads =
// [b_1..b_n, e_1..e_n] for the listed axes (all axes by default); negative pads crop. Modes: constant,
// reflect (mirror without repeating the edge), edge (repeat the edge), wrap (opset 19, torus).
Status op_pad(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input");
    EDGEQ_ASSIGN_OR_RETURN(Tensor x, unpacked(ctx.in(0), ctx));
    const int64_t r = x.rank();
    const std::string mode = ctx.node.attr_s("mode", "constant");
    if (mode != "constant" && mode != "reflect" && mode != "edge" && mode != "wrap") {
        return ctx.unsupported("mode '" + mode + "'");
    }
    std::vector<int64_t> pads, axes;
    Tensor value(x.dtype(), {});  // zero of the type
    if (ctx.opset < 11) {
        pads = ctx.node.attr_ints(ctx.node.has("pads") ? "pads" : "paddings");
        const float v = ctx.node.attr_f("value", 0.0f);
        if (v != 0.0f) {  // the float attribute in the data type
            const DType t = x.dtype();
            if (t != DType::F16 && t != DType::BF16 && !visit_numeric(t, [](auto) {})) {
                return ctx.unsupported(std::string("attribute 'value' with type ") + dtype_name(t));
            }
            value = from_float_tensor(Tensor::scalar_f32(v), t);
        }
    } else {
        EDGEQ_ASSIGN_OR_RETURN(pads, input_ints(ctx, 1));
        if (ctx.has_input(2) && ctx.in(2).numel() > 0) {
            if (ctx.in(2).numel() != 1 || ctx.in(2).dtype() != ctx.in(0).dtype()) {
                return ctx.fail("constant_value must be one element of the data type");
            }
            EDGEQ_ASSIGN_OR_RETURN(value, unpacked(ctx.in(2), ctx));
        }
        if (ctx.has_input(3)) {
            EDGEQ_ASSIGN_OR_RETURN(axes, input_ints(ctx, 3));
        }
    }
    if (axes.empty()) {
        for (int64_t i = 0; i < r; ++i) axes.push_back(i);
    }
    if (pads.size() != 2 * axes.size()) {
        return ctx.fail("pads " + shape_str(pads) + " must have 2 x " + std::to_string(axes.size()) + " values");
    }
    for (int64_t p : pads)
        if (p > (int64_t{1} << 40) || p < -(int64_t{1} << 40)) return ctx.fail("pad " + std::to_string(p) + " is out of range");
    std::vector<int64_t> begin(sz(r), 0), end(sz(r), 0);
    for (size_t i = 0; i < axes.size(); ++i) {
        EDGEQ_ASSIGN_OR_RETURN(int64_t a, normalize_axis(axes[i], r, ctx));
        begin[sz(a)] = pads[i];
        end[sz(a)] = pads[i + axes.size()];
    }
    Shape out_shape(sz(r));
    for (int64_t k = 0; k < r; ++k) {
        const int64_t d = x.shape()[sz(k)];
        out_shape[sz(k)] = d + begin[sz(k)] + end[sz(k)];
        if (out_shape[sz(k)] < 0) return ctx.fail("pads crop axis " + std::to_string(k) + " below zero size");
        if (mode != "constant" && d == 0 && out_shape[sz(k)] > 0) {
            return ctx.fail("mode '" + mode + "' cannot pad an empty axis " + std::to_string(k));
        }
    }
    EDGEQ_RETURN_IF_ERROR(check_output_size(out_shape, x.dtype(), ctx));
    const auto in_st = strides_of(x.shape());
    const size_t es = element_bytes(x.dtype());
    Tensor out(x.dtype(), out_shape);
    if (out.numel() > 0) {
        std::vector<int64_t> idx(sz(r), 0);
        int64_t o = 0;
        do {
            int64_t src = 0;
            bool inside = true;
            for (int64_t k = 0; k < r; ++k) {
                const int64_t d = x.shape()[sz(k)];
                int64_t i = idx[sz(k)] - begin[sz(k)];
                if (i < 0 || i >= d) {
                    if (mode == "constant") {
                        inside = false;
                        break;
                    } else if (mode == "edge") {
                        i = std::clamp<int64_t>(i, 0, d - 1);
                    } else if (mode == "wrap") {
                        i = ((i % d) + d) % d;
                    } else if (d == 1) {  // reflect on a single element
                        i = 0;
                    } else {  // reflect: period 2(d-1)
                        const int64_t p = 2 * (d - 1);
                        i = ((i % p) + p) % p;
                        if (i >= d) i = p - i;
                    }
                }
                src += i * in_st[sz(k)];
            }
            if (inside) {
                copy_elem(out, o, x, src, es);
            } else {
                std::memcpy(out.raw() + sz(o) * es, value.raw(), es);
            }
            ++o;
        } while (next_index(idx, out_shape));
    }
    ctx.outputs[0] = repacked(out, ctx.in(0).dtype());
    return Status::Ok();
}

// Tile(input, repeats) -> out.shape[k] = in.shape[k] * repeats[k]; out[i] = in[i mod in.shape].
Status op_tile(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input");
    EDGEQ_ASSIGN_OR_RETURN(Tensor x, unpacked(ctx.in(0), ctx));
    EDGEQ_ASSIGN_OR_RETURN(auto reps, input_ints(ctx, 1));
    const int64_t r = x.rank();
    if (static_cast<int64_t>(reps.size()) != r) {
        return ctx.fail("repeats " + shape_str(reps) + " does not match rank " + std::to_string(r));
    }
    Shape out_shape(sz(r));
    for (int64_t k = 0; k < r; ++k) {
        const int64_t d = x.shape()[sz(k)];
        if (reps[sz(k)] < 0 || (d > 0 && reps[sz(k)] > (int64_t{1} << 40))) {
            return ctx.fail("repeats " + shape_str(reps) + " has a negative or too large value");
        }
        out_shape[sz(k)] = d * reps[sz(k)];
    }
    EDGEQ_RETURN_IF_ERROR(check_output_size(out_shape, x.dtype(), ctx));
    const auto in_st = strides_of(x.shape());
    const size_t es = element_bytes(x.dtype());
    Tensor out(x.dtype(), out_shape);
    if (out.numel() > 0) {
        std::vector<int64_t> idx(sz(r), 0);
        int64_t o = 0;
        do {
            int64_t src = 0;
            for (int64_t k = 0; k < r; ++k) src += (idx[sz(k)] % x.shape()[sz(k)]) * in_st[sz(k)];
            copy_elem(out, o++, x, src, es);
        } while (next_index(idx, out_shape));
    }
    ctx.outputs[0] = repacked(out, ctx.in(0).dtype());
    return Status::Ok();
}

// Trilu(input[, k]) on the last two dims [.., N, M]: upper=1 keeps j - i >= k, upper=0 keeps j - i <= k;
// everything else becomes zero.
Status op_trilu(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input");
    EDGEQ_ASSIGN_OR_RETURN(Tensor x, unpacked(ctx.in(0), ctx));
    if (x.rank() < 2) return ctx.fail("input must have rank >= 2, got " + shape_str(x.shape()));
    int64_t k = 0;
    if (ctx.has_input(1)) {
        EDGEQ_ASSIGN_OR_RETURN(auto kv, input_ints(ctx, 1));
        if (kv.size() != 1) return ctx.fail("k must be a scalar");
        k = kv[0];
    }
    const bool upper = ctx.node.attr_i("upper", 1) != 0;
    const int64_t n = x.dim(-2), m = x.dim(-1);
    const size_t es = element_bytes(x.dtype());
    Tensor out(x.dtype(), x.shape());
    for (int64_t b = 0; b < x.numel() / std::max<int64_t>(n * m, 1); ++b) {
        for (int64_t i = 0; i < n; ++i) {
            for (int64_t j = 0; j < m; ++j) {
                const bool keep = upper ? (j - i >= k) : (j - i <= k);
                const int64_t off = (b * n + i) * m + j;
                if (keep) copy_elem(out, off, x, off, es);
            }
        }
    }
    ctx.outputs[0] = repacked(out, ctx.in(0).dtype());
    return Status::Ok();
}

// ReverseSequence(input, sequence_lens) reverses the first sequence_lens[b] steps along time_axis of every
// batch b (batch_axis); time_axis/batch_axis are 0 and 1 in some order.
Status op_reverse_sequence(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input");
    EDGEQ_ASSIGN_OR_RETURN(Tensor x, unpacked(ctx.in(0), ctx));
    EDGEQ_ASSIGN_OR_RETURN(auto lens, input_ints(ctx, 1));
    const int64_t time_axis = ctx.node.attr_i("time_axis", 0), batch_axis = ctx.node.attr_i("batch_axis", 1);
    if (x.rank() < 2) return ctx.fail("input must have rank >= 2");
    if (!((time_axis == 0 && batch_axis == 1) || (time_axis == 1 && batch_axis == 0))) {
        return ctx.fail("time_axis and batch_axis must be 0 and 1");
    }
    const int64_t T = x.shape()[sz(time_axis)], B = x.shape()[sz(batch_axis)];
    if (static_cast<int64_t>(lens.size()) != B) {
        return ctx.fail("sequence_lens has " + std::to_string(lens.size()) + " values for batch " + std::to_string(B));
    }
    for (int64_t l : lens)
        if (l < 0 || l > T) return ctx.fail("sequence length " + std::to_string(l) + " outside [0, " + std::to_string(T) + "]");
    const auto st = strides_of(x.shape());
    const int64_t inner = st[1];
    const size_t es = element_bytes(x.dtype());
    Tensor out(x.dtype(), x.shape());
    for (int64_t t = 0; t < T; ++t) {
        for (int64_t b = 0; b < B; ++b) {
            const int64_t src_t = t < lens[sz(b)] ? lens[sz(b)] - 1 - t : t;
            const int64_t dst_off = (time_axis == 0 ? t * st[0] + b * st[1] : b * st[0] + t * st[1]);
            const int64_t src_off = (time_axis == 0 ? src_t * st[0] + b * st[1] : b * st[0] + src_t * st[1]);
            for (int64_t i = 0; i < inner; ++i) copy_elem(out, dst_off + i, x, src_off + i, es);
        }
    }
    ctx.outputs[0] = repacked(out, ctx.in(0).dtype());
    return Status::Ok();
}

// Compress(input, condition 1-D bool) keeps the slices along `axis` (flattened input without axis) whose
// condition is true; a shorter condition leaves the rest out.
Status op_compress(OpContext& ctx) {
    if (!ctx.has_input(0) || !ctx.has_input(1)) return ctx.fail("missing input");
    EDGEQ_ASSIGN_OR_RETURN(Tensor x, unpacked(ctx.in(0), ctx));
    const Tensor& c = ctx.in(1);
    if (c.rank() != 1) return ctx.fail("condition must be 1-D, got " + shape_str(c.shape()));
    if (element_bytes(c.dtype()) == 0) return ctx.fail("condition must be a bool tensor");
    const auto cond = c.to_i64();
    const bool has_axis = ctx.node.has("axis");
    if (!has_axis) x = x.reshaped({x.numel()});
    EDGEQ_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(has_axis ? ctx.node.attr_i("axis", 0) : 0, x.rank(), ctx));
    if (x.rank() == 0) return ctx.fail("cannot compress a scalar along an axis");
    const int64_t dim = x.shape()[sz(axis)];
    std::vector<int64_t> keep;
    for (int64_t i = 0; i < static_cast<int64_t>(cond.size()); ++i) {
        if (!cond[sz(i)]) continue;
        if (i >= dim) return ctx.fail("condition selects index " + std::to_string(i) + " beyond axis size " + std::to_string(dim));
        keep.push_back(i);
    }
    int64_t outer = 1, inner = 1;
    for (int64_t k = 0; k < x.rank(); ++k) {
        if (k < axis) outer *= x.shape()[sz(k)];
        if (k > axis) inner *= x.shape()[sz(k)];
    }
    Shape out_shape = x.shape();
    out_shape[sz(axis)] = static_cast<int64_t>(keep.size());
    const size_t es = element_bytes(x.dtype());
    Tensor out(x.dtype(), out_shape);
    int64_t o = 0;
    for (int64_t a = 0; a < outer; ++a)
        for (int64_t kk : keep)
            for (int64_t i = 0; i < inner; ++i) copy_elem(out, o++, x, (a * dim + kk) * inner + i, es);
    ctx.outputs[0] = repacked(out, ctx.in(0).dtype());
    return Status::Ok();
}

}  // namespace edgeq::runtime
