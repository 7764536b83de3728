// Tensor family, indexing: Gather, GatherElements, GatherND, Scatter, ScatterElements, ScatterND, OneHot,
// NonZero, TopK, Unique. Indices may be negative (counted from the back of their axis) and are checked
// against the bounds; an index out of range is an InvalidArgument naming the index, never a crash.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "runtime/ref/common.h"
#include "runtime/ref/op.h"

namespace edgeq::runtime {
namespace {


void copy_elems(Tensor& out, int64_t o, const Tensor& in, int64_t i, int64_t n, size_t es) {
    if (n > 0) std::memcpy(out.raw() + sz(o) * es, in.raw() + sz(i) * es, sz(n) * es);
}

// Normalises index v for an axis of size d (negatives count from the back); error if outside [-d, d).
Result<int64_t> checked_index(int64_t v, int64_t d, const OpContext& ctx) {
    const int64_t i = v < 0 ? v + d : v;
    if (i < 0 || i >= d) {
        return ctx.fail("index " + std::to_string(v) + " out of range for axis of size " + std::to_string(d));
    }
    return i;
}

// Calls f(const T* values) with the values of x in a comparable C++ type: native for numeric dtypes, float
// for F16/BF16. x must be unpacked (no sub-byte types).
template <typename F>
Status visit_values(const Tensor& x, const OpContext& ctx, F&& f) {
    if (x.dtype() == DType::F16 || x.dtype() == DType::BF16) {
        Tensor xf = to_float_tensor(x);
        f(static_cast<const float*>(xf.data<float>()));
        return Status::Ok();
    }
    const bool ok = visit_numeric(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        f(x.data<T>());
    });
    if (!ok) return ctx.unsupported(std::string("element type ") + dtype_name(x.dtype()));
    return Status::Ok();
}

int64_t prod(const Shape& s, size_t from, size_t to) {
    int64_t p = 1;
    for (size_t k = from; k < to && k < s.size(); ++k) p *= s[k];
    return p;
}

}  // namespace

// Gather(data, indices) along axis: out.shape = data.shape[:axis] + indices.shape + data.shape[axis+1:].
Status op_gather(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input 'data'");
    EDGEQ_ASSIGN_OR_RETURN(Tensor x, unpacked(ctx.in(0), ctx));
    EDGEQ_ASSIGN_OR_RETURN(auto idx, input_ints(ctx, 1));
    if (x.rank() == 0) return ctx.fail("data must have rank >= 1");
    EDGEQ_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx.node.attr_i("axis", 0), x.rank(), ctx));
    const Shape& ds = x.shape();
    const int64_t dim = ds[sz(axis)];
    const int64_t outer = prod(ds, 0, sz(axis)), inner = prod(ds, sz(axis) + 1, ds.size());
    Shape out_shape(ds.begin(), ds.begin() + axis);
    for (int64_t d : ctx.in(1).shape()) out_shape.push_back(d);
    for (size_t k = sz(axis) + 1; k < ds.size(); ++k) out_shape.push_back(ds[k]);
    const size_t es = element_bytes(x.dtype());
    Tensor out(x.dtype(), out_shape);
    const int64_t n = static_cast<int64_t>(idx.size());
    for (int64_t j = 0; j < n; ++j) {
        EDGEQ_ASSIGN_OR_RETURN(int64_t i, checked_index(idx[sz(j)], dim, ctx));
        for (int64_t o = 0; o < outer; ++o) copy_elems(out, (o * n + j) * inner, x, (o * dim + i) * inner, inner, es);
    }
    ctx.outputs[0] = repacked(out, ctx.in(0).dtype());
    return Status::Ok();
}

// GatherElements(data, indices) along axis: out[p] = data[p with p[axis] = indices[p]]; out.shape =
// indices.shape (same rank as data, every dim <= data's except on axis).
Status op_gather_elements(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input 'data'");
    EDGEQ_ASSIGN_OR_RETURN(Tensor x, unpacked(ctx.in(0), ctx));
    EDGEQ_ASSIGN_OR_RETURN(auto idx, input_ints(ctx, 1));
    const Shape& is = ctx.in(1).shape();
    const int64_t r = x.rank();
    if (r == 0 || static_cast<int64_t>(is.size()) != r) {
        return ctx.fail("indices " + shape_str(is) + " must have the rank of data " + shape_str(x.shape()));
    }
    EDGEQ_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx.node.attr_i("axis", 0), r, ctx));
    for (int64_t k = 0; k < r; ++k) {
        if (k != axis && is[sz(k)] > x.shape()[sz(k)]) {
            return ctx.fail("indices " + shape_str(is) + " larger than data " + shape_str(x.shape()) + " on axis " + std::to_string(k));
        }
    }
    const auto st = strides_of(x.shape());
    const size_t es = element_bytes(x.dtype());
    Tensor out(x.dtype(), is);
    if (out.numel() > 0) {
        std::vector<int64_t> p(sz(r), 0);
        int64_t o = 0;
        do {
            EDGEQ_ASSIGN_OR_RETURN(int64_t i, checked_index(idx[sz(o)], x.shape()[sz(axis)], ctx));
            int64_t src = 0;
            for (int64_t k = 0; k < r; ++k) src += (k == axis ? i : p[sz(k)]) * st[sz(k)];
            copy_elems(out, o, x, src, 1, es);
            ++o;
        } while (next_index(p, is));
    }
    ctx.outputs[0] = repacked(out, ctx.in(0).dtype());
    return Status::Ok();
}

// GatherND(data, indices [.., k]) with batch_dims b: out.shape = indices.shape[:-1] + data.shape[b+k:];
// every index tuple picks the slice data[batch, i_1..i_k].
Status op_gather_nd(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input 'data'");
    EDGEQ_ASSIGN_OR_RETURN(Tensor x, unpacked(ctx.in(0), ctx));
    EDGEQ_ASSIGN_OR_RETURN(auto idx, input_ints(ctx, 1));
    const Shape& ds = x.shape();
    const Shape& is = ctx.in(1).shape();
    const int64_t b = ctx.node.attr_i("batch_dims", 0);
    const int64_t r = x.rank(), q = static_cast<int64_t>(is.size());
    if (q < 1 || r < 1) return ctx.fail("data and indices must have rank >= 1");
    const int64_t k = is.back();
    if (b < 0 || b >= std::min(q, r)) return ctx.fail("batch_dims " + std::to_string(b) + " out of range");
    if (k < 0 || k > r - b) {
        return ctx.fail("indices " + shape_str(is) + ": last dim must be <= rank(data) - batch_dims = " + std::to_string(r - b));
    }
    for (int64_t i = 0; i < b; ++i) {
        if (is[sz(i)] != ds[sz(i)]) return ctx.fail("batch dims of data " + shape_str(ds) + " and indices " + shape_str(is) + " differ");
    }
    const int64_t batches = prod(ds, 0, sz(b));
    const int64_t tuples = prod(is, sz(b), sz(q - 1));  // index tuples per batch
    const int64_t slice = prod(ds, sz(b + k), ds.size());
    const int64_t batch_elems = prod(ds, sz(b), ds.size());
    const auto st = strides_of(ds);
    Shape out_shape(is.begin(), is.end() - 1);
    for (size_t i = sz(b + k); i < ds.size(); ++i) out_shape.push_back(ds[i]);
    const size_t es = element_bytes(x.dtype());
    Tensor out(x.dtype(), out_shape);
    for (int64_t bi = 0; bi < batches; ++bi) {
        for (int64_t t = 0; t < tuples; ++t) {
            int64_t src = bi * batch_elems;
            for (int64_t j = 0; j < k; ++j) {
                EDGEQ_ASSIGN_OR_RETURN(int64_t i, checked_index(idx[sz(((bi * tuples) + t) * k + j)], ds[sz(b + j)], ctx));
                src += i * st[sz(b + j)];
            }
            copy_elems(out, (bi * tuples + t) * slice, x, src, slice, es);
        }
    }
    ctx.outputs[0] = repacked(out, ctx.in(0).dtype());
    return Status::Ok();
}

namespace {

// Writes updates[src] into out[dst] for every pair, combining with `reduction` (none/add/mul/max/min).
Status scatter_apply(OpContext& ctx, Tensor& out, const Tensor& upd, const std::vector<std::pair<int64_t, int64_t>>& pairs,
                     const std::string& reduction) {
    if (reduction == "none") {
        const size_t es = element_bytes(out.dtype());
        for (const auto& [dst, src] : pairs) copy_elems(out, dst, upd, src, 1, es);
        return Status::Ok();
    }
    if (reduction != "add" && reduction != "mul" && reduction != "max" && reduction != "min") {
        return ctx.unsupported("reduction '" + reduction + "'");
    }
    const bool half = out.dtype() == DType::F16 || out.dtype() == DType::BF16;
    Tensor o = half ? to_float_tensor(out) : out;
    Tensor u = half ? to_float_tensor(upd) : upd;
    const bool ok = visit_numeric(o.dtype(), [&](auto tag) {
        using T = decltype(tag);
        T* po = o.data<T>();
        const T* pu = u.data<T>();
        for (const auto& [dst, src] : pairs) {
            const T a = po[dst], v = pu[src];
            if (reduction == "add") po[dst] = static_cast<T>(a + v);
            else if (reduction == "mul") po[dst] = static_cast<T>(a * v);
            else if (reduction == "max") po[dst] = std::max(a, v);
            else po[dst] = std::min(a, v);
        }
    });
    if (!ok || out.dtype() == DType::BOOL) return ctx.unsupported(std::string("reduction on ") + dtype_name(out.dtype()));
    if (half) out = from_float_tensor(o, out.dtype());
    return Status::Ok();
}

Status scatter_elements(OpContext& ctx, const std::string& reduction) {
    for (size_t i = 0; i < 3; ++i)
        if (!ctx.has_input(i)) return ctx.fail("missing input " + std::to_string(i));
    EDGEQ_ASSIGN_OR_RETURN(Tensor x, unpacked(ctx.in(0), ctx));
    EDGEQ_ASSIGN_OR_RETURN(auto idx, input_ints(ctx, 1));
    EDGEQ_ASSIGN_OR_RETURN(Tensor upd, unpacked(ctx.in(2), ctx));
    const Shape& is = ctx.in(1).shape();
    const int64_t r = x.rank();
    if (upd.dtype() != x.dtype()) return ctx.fail("updates type differs from data type");
    if (is != upd.shape()) return ctx.fail("indices " + shape_str(is) + " and updates " + shape_str(upd.shape()) + " differ");
    if (r == 0 || static_cast<int64_t>(is.size()) != r) {
        return ctx.fail("indices " + shape_str(is) + " must have the rank of data " + shape_str(x.shape()));
    }
    EDGEQ_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx.node.attr_i("axis", 0), r, ctx));
    for (int64_t k = 0; k < r; ++k) {
        if (k != axis && is[sz(k)] > x.shape()[sz(k)]) {
            return ctx.fail("indices " + shape_str(is) + " larger than data " + shape_str(x.shape()) + " on axis " + std::to_string(k));
        }
    }
    const auto st = strides_of(x.shape());
    std::vector<std::pair<int64_t, int64_t>> pairs;
    if (shape_numel(is) > 0) {
        std::vector<int64_t> p(sz(r), 0);
        int64_t s = 0;
        do {
            EDGEQ_ASSIGN_OR_RETURN(int64_t i, checked_index(idx[sz(s)], x.shape()[sz(axis)], ctx));
            int64_t dst = 0;
            for (int64_t k = 0; k < r; ++k) dst += (k == axis ? i : p[sz(k)]) * st[sz(k)];
            pairs.emplace_back(dst, s);
            ++s;
        } while (next_index(p, is));
    }
    Tensor out = x.clone();
    EDGEQ_RETURN_IF_ERROR(scatter_apply(ctx, out, upd, pairs, reduction));
    ctx.outputs[0] = repacked(out, ctx.in(0).dtype());
    return Status::Ok();
}

}  // namespace

// ScatterElements(data, indices, updates): out = data; out[p with p[axis] = indices[p]] (op)= updates[p].
Status op_scatter_elements(OpContext& ctx) {
    return scatter_elements(ctx, ctx.node.attr_s("reduction", "none"));
}

// Scatter (opset 9-10, deprecated in 11): ScatterElements without reduction.
Status op_scatter(OpContext& ctx) { return scatter_elements(ctx, "none"); }

// ScatterND(data, indices [.., k], updates [indices.shape[:-1] + data.shape[k:]]): out = data; every index
// tuple's slice (op)= its updates slice.
Status op_scatter_nd(OpContext& ctx) {
    for (size_t i = 0; i < 3; ++i)
        if (!ctx.has_input(i)) return ctx.fail("missing input " + std::to_string(i));
    EDGEQ_ASSIGN_OR_RETURN(Tensor x, unpacked(ctx.in(0), ctx));
    EDGEQ_ASSIGN_OR_RETURN(auto idx, input_ints(ctx, 1));
    EDGEQ_ASSIGN_OR_RETURN(Tensor upd, unpacked(ctx.in(2), ctx));
    if (upd.dtype() != x.dtype()) return ctx.fail("updates type differs from data type");
    const Shape& ds = x.shape();
    const Shape& is = ctx.in(1).shape();
    if (is.empty()) return ctx.fail("indices must have rank >= 1");
    const int64_t k = is.back();
    if (k < 0 || k > x.rank()) return ctx.fail("indices " + shape_str(is) + ": last dim exceeds rank of data " + shape_str(ds));
    Shape want(is.begin(), is.end() - 1);
    for (size_t i = sz(k); i < ds.size(); ++i) want.push_back(ds[i]);
    if (upd.shape() != want) return ctx.fail("updates " + shape_str(upd.shape()) + " must have shape " + shape_str(want));
    const int64_t tuples = prod(is, 0, is.size() - 1);
    const int64_t slice = prod(ds, sz(k), ds.size());
    const auto st = strides_of(ds);
    std::vector<std::pair<int64_t, int64_t>> pairs;
    for (int64_t t = 0; t < tuples; ++t) {
        int64_t dst = 0;
        for (int64_t j = 0; j < k; ++j) {
            EDGEQ_ASSIGN_OR_RETURN(int64_t i, checked_index(idx[sz(t * k + j)], ds[sz(j)], ctx));
            dst += i * st[sz(j)];
        }
        for (int64_t e = 0; e < slice; ++e) pairs.emplace_back(dst + e, t * slice + e);
    }
    Tensor out = x.clone();
    EDGEQ_RETURN_IF_ERROR(scatter_apply(ctx, out, upd, pairs, ctx.node.attr_s("reduction", "none")));
    ctx.outputs[0] = repacked(out, ctx.in(0).dtype());
    return Status::Ok();
}

// OneHot(indices, depth, values [off, on]) -> indices.shape with `depth` inserted at axis (default -1); on
// where the position equals the index (negative indices + depth), off elsewhere (also for out-of-range).
Status op_one_hot(OpContext& ctx) {
    for (size_t i = 0; i < 3; ++i)
        if (!ctx.has_input(i)) return ctx.fail("missing input " + std::to_string(i));
    const Tensor& ind = ctx.in(0);
    if (ctx.in(1).numel() != 1) return ctx.fail("depth must have one element");
    if (element_bytes(ind.dtype()) == 0 || element_bytes(ctx.in(1).dtype()) == 0) {
        return ctx.unsupported("packed indices or depth");
    }
    const int64_t depth = ctx.in(1).to_i64()[0];
    if (depth < 0) return ctx.fail("depth " + std::to_string(depth) + " is negative");
    EDGEQ_ASSIGN_OR_RETURN(Tensor vals, unpacked(ctx.in(2), ctx));
    if (vals.numel() != 2) return ctx.fail("values must have two elements [off, on]");
    const auto iv = ind.to_i64();
    const int64_t r = ind.rank() + 1;
    EDGEQ_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx.node.attr_i("axis", -1), r, ctx));
    Shape out_shape = ind.shape();
    out_shape.insert(out_shape.begin() + axis, depth);
    EDGEQ_RETURN_IF_ERROR(check_output_size(out_shape, vals.dtype(), ctx));
    const int64_t outer = prod(ind.shape(), 0, sz(axis)), inner = prod(ind.shape(), sz(axis), ind.shape().size());
    const size_t es = element_bytes(vals.dtype());
    Tensor out(vals.dtype(), out_shape);
    for (int64_t o = 0; o < outer; ++o) {
        for (int64_t d = 0; d < depth; ++d) {
            for (int64_t i = 0; i < inner; ++i) {
                int64_t v = iv[sz(o * inner + i)];
                if (v < 0) v += depth;
                copy_elems(out, (o * depth + d) * inner + i, vals, v == d ? 1 : 0, 1, es);
            }
        }
    }
    ctx.outputs[0] = repacked(out, ctx.in(2).dtype());
    return Status::Ok();
}

// NonZero(X) -> int64 [rank, n]: the multi-indices of the non-zero elements in row-major order (a scalar
// counts as rank 1).
Status op_non_zero(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input");
    EDGEQ_ASSIGN_OR_RETURN(Tensor x, unpacked(ctx.in(0), ctx));
    std::vector<int64_t> hits;
    EDGEQ_RETURN_IF_ERROR(visit_values(x, ctx, [&](const auto* p) {
        for (int64_t i = 0; i < x.numel(); ++i)
            if (p[i] != 0) hits.push_back(i);
    }));
    const Shape s = x.rank() == 0 ? Shape{1} : x.shape();
    const int64_t r = static_cast<int64_t>(s.size()), n = static_cast<int64_t>(hits.size());
    const auto st = strides_of(s);
    Tensor out(DType::I64, {r, n});
    for (int64_t j = 0; j < n; ++j)
        for (int64_t k = 0; k < r; ++k) out.data<int64_t>()[k * n + j] = (hits[sz(j)] / st[sz(k)]) % s[sz(k)];
    ctx.outputs[0] = out;
    return Status::Ok();
}

// TopK(X, K) along axis (default -1) -> (values, int64 indices) of the K largest (largest=1) or smallest;
// equal values keep the lower index first. K is an attribute before opset 10.
Status op_top_k(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input");
    EDGEQ_ASSIGN_OR_RETURN(Tensor x, unpacked(ctx.in(0), ctx));
    int64_t k = ctx.node.attr_i("k", 0);
    if (ctx.opset >= 10) {
        EDGEQ_ASSIGN_OR_RETURN(auto kv, input_ints(ctx, 1));
        if (kv.size() != 1) return ctx.fail("K must have one element");
        k = kv[0];
    }
    if (x.rank() == 0) return ctx.fail("input must have rank >= 1");
    EDGEQ_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx.node.attr_i("axis", -1), x.rank(), ctx));
    const bool largest = ctx.node.attr_i("largest", 1) != 0;
    const Shape& s = x.shape();
    const int64_t dim = s[sz(axis)];
    if (k < 0 || k > dim) return ctx.fail("K " + std::to_string(k) + " outside [0, " + std::to_string(dim) + "]");
    const int64_t outer = prod(s, 0, sz(axis)), inner = prod(s, sz(axis) + 1, s.size());
    Shape out_shape = s;
    out_shape[sz(axis)] = k;
    const size_t es = element_bytes(x.dtype());
    Tensor vals(x.dtype(), out_shape), inds(DType::I64, out_shape);
    EDGEQ_RETURN_IF_ERROR(visit_values(x, ctx, [&](const auto* p) {
        std::vector<int64_t> order(sz(dim));
        for (int64_t o = 0; o < outer; ++o) {
            for (int64_t i = 0; i < inner; ++i) {
                const int64_t base = o * dim * inner + i;
                std::iota(order.begin(), order.end(), 0);
                std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
                    const auto va = p[base + a * inner], vb = p[base + b * inner];
                    return largest ? va > vb : va < vb;
                });
                for (int64_t j = 0; j < k; ++j) {
                    const int64_t dst = (o * k + j) * inner + i;
                    copy_elems(vals, dst, x, base + order[sz(j)] * inner, 1, es);
                    inds.data<int64_t>()[dst] = order[sz(j)];
                }
            }
        }
    }));
    ctx.outputs[0] = repacked(vals, ctx.in(0).dtype());
    if (ctx.outputs.size() > 1) ctx.outputs[1] = inds;
    return Status::Ok();
}

// Unique(X) -> (Y, indices, inverse_indices, counts). Without axis: over the flattened elements; with
// axis: over the slices along it (compared element by element). sorted=1 (default): Y ascending
// (lexicographic for slices); sorted=0: in order of first occurrence. indices = first occurrences.
Status op_unique(OpContext& ctx) {
    if (!ctx.has_input(0)) return ctx.fail("missing input");
    EDGEQ_ASSIGN_OR_RETURN(Tensor x, unpacked(ctx.in(0), ctx));
    const bool sorted = ctx.node.attr_i("sorted", 1) != 0;
    const bool has_axis = ctx.node.has("axis");
    if (!has_axis) x = x.reshaped({x.numel()});
    if (x.rank() == 0) return ctx.fail("input must have rank >= 1 with an axis");
    EDGEQ_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(has_axis ? ctx.node.attr_i("axis", 0) : 0, x.rank(), ctx));
    const Shape& s = x.shape();
    const int64_t n = s[sz(axis)];
    const int64_t outer = prod(s, 0, sz(axis)), inner = prod(s, sz(axis) + 1, s.size());
    // item a = the slice {(o, a, i)}; its elements in (o, i) order.
    std::vector<int64_t> order(sz(n));  // items sorted (stable) so that equal items are adjacent
    std::vector<int64_t> group(sz(n));  // item -> group id (group ids in order of `order`)
    int64_t groups = 0;
    EDGEQ_RETURN_IF_ERROR(visit_values(x, ctx, [&](const auto* p) {
        auto cmp = [&](int64_t a, int64_t b) {  // -1, 0, 1
            for (int64_t o = 0; o < outer; ++o)
                for (int64_t i = 0; i < inner; ++i) {
                    const auto va = p[(o * n + a) * inner + i], vb = p[(o * n + b) * inner + i];
                    if (va < vb) return -1;
                    if (vb < va) return 1;
                }
            return 0;
        };
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return cmp(a, b) < 0; });
        for (int64_t j = 0; j < n; ++j) {
            if (j == 0 || cmp(order[sz(j - 1)], order[sz(j)]) != 0) ++groups;
            group[sz(order[sz(j)])] = groups - 1;
        }
    }));
    // first occurrence of each group (the first item in stable order), counts
    std::vector<int64_t> first(sz(groups), -1), counts(sz(groups), 0);
    for (int64_t a = 0; a < n; ++a) {
        const int64_t g = group[sz(a)];
        if (first[sz(g)] < 0) first[sz(g)] = a;
        ++counts[sz(g)];
    }
    // output position of each group: sorted order, or by first occurrence
    std::vector<int64_t> gorder(sz(groups));
    std::iota(gorder.begin(), gorder.end(), 0);
    if (!sorted) {
        std::sort(gorder.begin(), gorder.end(), [&](int64_t a, int64_t b) { return first[sz(a)] < first[sz(b)]; });
    }
    std::vector<int64_t> pos(sz(groups));
    for (int64_t j = 0; j < groups; ++j) pos[sz(gorder[sz(j)])] = j;
    Shape ys = s;
    ys[sz(axis)] = groups;
    const size_t es = element_bytes(x.dtype());
    Tensor y(x.dtype(), ys);
    std::vector<int64_t> indices(sz(groups)), inverse(sz(n)), cnt(sz(groups));
    for (int64_t j = 0; j < groups; ++j) {
        const int64_t g = gorder[sz(j)];
        indices[sz(j)] = first[sz(g)];
        cnt[sz(j)] = counts[sz(g)];
        for (int64_t o = 0; o < outer; ++o) copy_elems(y, (o * groups + j) * inner, x, (o * n + first[sz(g)]) * inner, inner, es);
    }
    for (int64_t a = 0; a < n; ++a) inverse[sz(a)] = pos[sz(group[sz(a)])];
    auto vec = [](const std::vector<int64_t>& v) {
        return Tensor::from_vector<int64_t>(DType::I64, {static_cast<int64_t>(v.size())}, v);
    };
    ctx.outputs[0] = repacked(y, ctx.in(0).dtype());
    if (ctx.outputs.size() > 1) ctx.outputs[1] = vec(indices);
    if (ctx.outputs.size() > 2) ctx.outputs[2] = vec(inverse);
    if (ctx.outputs.size() > 3) ctx.outputs[3] = vec(cnt);
    return Status::Ok();
}

}  // namespace edgeq::runtime
