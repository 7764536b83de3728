// Reference Einsum (opset 12): `equation` = "term,term,...[->out]", terms of labels a-z A-Z and at most one
// "..." (broadcast dims, aligned from the right). Without "->" the output is the broadcast dims followed by
// the labels that occur exactly once, in alphabetical (ASCII) order. A label repeated inside one term takes
// the diagonal; labels missing from the output are summed. Evaluated by explicit loops over every label.
// Floats accumulate in double; integers wrap in their own width.
#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/ref/common.h"

namespace edgeq::runtime {
namespace {

constexpr int kEllipsisBase = 52;  // label ids: 0-25 'a'-'z', 26-51 'A'-'Z', 52.. broadcast dims
constexpr int kEllipsis = -1;

int label_id(char c) {
    if (c >= 'a' && c <= 'z') return c - 'a';
    if (c >= 'A' && c <= 'Z') return 26 + (c - 'A');
    return -2;
}
char label_char(int id) { return static_cast<char>(id < 26 ? 'a' + id : 'A' + (id - 26)); }

// One term's labels; kEllipsis marks "...". Empty optional-like result through ok flag.
bool parse_term(const std::string& t, std::vector<int>* out) {
    bool seen_ellipsis = false;
    for (size_t i = 0; i < t.size(); ++i) {
        if (t[i] == '.') {
            if (seen_ellipsis || t.compare(i, 3, "...") != 0) return false;
            seen_ellipsis = true;
            out->push_back(kEllipsis);
            i += 2;
            continue;
        }
        const int id = label_id(t[i]);
        if (id < 0) return false;
        out->push_back(id);
    }
    return true;
}

// ASCII order of a letter label, for the implicit output.
int ascii_of(int id) { return static_cast<unsigned char>(label_char(id)); }

}  // namespace

Status op_einsum(OpContext& ctx) {
    if (ctx.num_inputs() < 1) return ctx.fail("expects at least one input");
    for (size_t i = 0; i < ctx.num_inputs(); ++i)
        if (!ctx.has_input(i)) return ctx.fail("input " + std::to_string(i) + " is missing");
    if (ctx.outputs.empty()) return ctx.fail("has no output");
    std::string eq;
    for (char c : ctx.node.attr_s("equation", ""))
        if (c != ' ') eq += c;
    if (eq.empty()) return ctx.fail("attribute 'equation' is required");

    const size_t arrow = eq.find("->");
    const std::string lhs = eq.substr(0, arrow);
    std::vector<std::vector<int>> terms(1);
    std::string cur;
    for (size_t i = 0; i <= lhs.size(); ++i) {
        if (i == lhs.size() || lhs[i] == ',') {
            if (!parse_term(cur, &terms.back())) return ctx.fail("bad term '" + cur + "' in equation '" + eq + "'");
            if (i < lhs.size()) terms.emplace_back();
            cur.clear();
        } else {
            cur += lhs[i];
        }
    }
    if (terms.size() != ctx.num_inputs()) {
        return ctx.fail("equation '" + eq + "' has " + std::to_string(terms.size()) + " terms for " +
                        std::to_string(ctx.num_inputs()) + " inputs");
    }
    const DType dt = ctx.in(0).dtype();
    for (size_t i = 1; i < ctx.num_inputs(); ++i)
        if (ctx.in(i).dtype() != dt) return ctx.fail("inputs must share one element type");
    const bool half = dt == DType::F16 || dt == DType::BF16;
    const bool numeric = half || dt == DType::F32 || dt == DType::F64 || dt == DType::I8 || dt == DType::I16 ||
                         dt == DType::I32 || dt == DType::I64 || dt == DType::U8 || dt == DType::U16 ||
                         dt == DType::U32 || dt == DType::U64;
    if (!numeric) return ctx.unsupported(std::string("element type ") + dtype_name(dt) + " is not supported");

    // Expand each term to one label id per input axis; "..." becomes ids kEllipsisBase + (E - e) + j.
    int64_t ell = 0;  // E: the most broadcast dims of any term
    std::vector<int64_t> ell_of(terms.size(), 0);
    for (size_t i = 0; i < terms.size(); ++i) {
        const int64_t letters = std::count_if(terms[i].begin(), terms[i].end(), [](int l) { return l != kEllipsis; });
        const bool has_ell = letters != static_cast<int64_t>(terms[i].size());
        const int64_t rank = ctx.in(i).rank();
        if (has_ell ? rank < letters : rank != letters) {
            return ctx.fail("term " + std::to_string(i) + " of '" + eq + "' does not match input rank " + std::to_string(rank));
        }
        ell_of[i] = rank - letters;
        ell = std::max(ell, ell_of[i]);
    }
    std::vector<std::vector<int>> axes(terms.size());
    std::map<int, int64_t> size;
    std::vector<int> first_seen;
    std::map<int, int> count;
    for (size_t i = 0; i < terms.size(); ++i) {
        for (int l : terms[i]) {
            if (l != kEllipsis) {
                axes[i].push_back(l);
                continue;
            }
            for (int64_t j = 0; j < ell_of[i]; ++j) axes[i].push_back(kEllipsisBase + static_cast<int>(ell - ell_of[i] + j));
        }
        for (size_t k = 0; k < axes[i].size(); ++k) {
            const int l = axes[i][k];
            const int64_t d = ctx.in(i).dim(static_cast<int64_t>(k));
            if (!size.count(l)) {
                size[l] = d;
                first_seen.push_back(l);
            } else if (size[l] != d) {
                const bool bcast = l >= kEllipsisBase && (size[l] == 1 || d == 1);
                if (!bcast) {
                    return ctx.fail("label sizes disagree in '" + eq + "': " + std::to_string(size[l]) + " vs " + std::to_string(d));
                }
                size[l] = std::max(size[l], d);
            }
        }
        for (int l : std::vector<int>(terms[i].begin(), terms[i].end()))
            if (l != kEllipsis) ++count[l];
    }

    // Output labels.
    std::vector<int> out_labels;
    if (arrow != std::string::npos) {
        std::vector<int> rhs;
        if (!parse_term(eq.substr(arrow + 2), &rhs)) return ctx.fail("bad output term in equation '" + eq + "'");
        for (int l : rhs) {
            if (l == kEllipsis) {
                for (int64_t j = 0; j < ell; ++j) out_labels.push_back(kEllipsisBase + static_cast<int>(j));
                continue;
            }
            if (!size.count(l)) return ctx.fail(std::string("output label '") + label_char(l) + "' is not in any input");
            if (std::find(out_labels.begin(), out_labels.end(), l) != out_labels.end()) {
                return ctx.fail(std::string("output label '") + label_char(l) + "' repeats");
            }
            out_labels.push_back(l);
        }
    } else {
        for (int64_t j = 0; j < ell; ++j) out_labels.push_back(kEllipsisBase + static_cast<int>(j));
        std::vector<int> once;
        for (const auto& [l, c] : count)
            if (c == 1) once.push_back(l);
        std::sort(once.begin(), once.end(), [](int a, int b) { return ascii_of(a) < ascii_of(b); });
        out_labels.insert(out_labels.end(), once.begin(), once.end());
    }
    // Loop order: output labels, then summed labels.
    std::vector<int> loop = out_labels;
    for (int l : first_seen)
        if (std::find(loop.begin(), loop.end(), l) == loop.end()) loop.push_back(l);

    Shape out_shape;
    for (int l : out_labels) out_shape.push_back(size[l]);
    std::vector<int64_t> dims;
    for (int l : loop) dims.push_back(size[l]);

    // Per loop label, the element stride it contributes to each input and to the output (0 when broadcast).
    std::vector<std::vector<int64_t>> in_st(terms.size(), std::vector<int64_t>(loop.size(), 0));
    for (size_t i = 0; i < terms.size(); ++i) {
        const auto st = strides_of(ctx.in(i).shape());
        for (size_t k = 0; k < axes[i].size(); ++k) {
            const size_t p = static_cast<size_t>(std::find(loop.begin(), loop.end(), axes[i][k]) - loop.begin());
            if (ctx.in(i).dim(static_cast<int64_t>(k)) != 1 || size[axes[i][k]] == 1) in_st[i][p] += st[k];
        }
    }
    std::vector<int64_t> out_st(loop.size(), 0);
    const auto ost = strides_of(out_shape);
    for (size_t k = 0; k < out_labels.size(); ++k) out_st[k] = ost[k];

    std::vector<Tensor> ins;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) ins.push_back(half ? to_float_tensor(ctx.in(i)) : ctx.in(i));
    const DType cdt = ins[0].dtype();
    Tensor out(cdt, out_shape);
    const int64_t total = shape_numel(dims);
    visit_numeric(cdt, [&](auto tag) {
        using T = decltype(tag);
        using Acc = std::conditional_t<std::is_floating_point_v<T>, double, uint64_t>;
        std::vector<Acc> acc(static_cast<size_t>(out.numel()), 0);
        std::vector<int64_t> idx(loop.size(), 0), off(ins.size(), 0);
        int64_t o = 0;
        for (int64_t n = 0; n < total; ++n) {
            Acc p = 1;
            for (size_t i = 0; i < ins.size(); ++i) p = static_cast<Acc>(p * static_cast<Acc>(ins[i].data<T>()[off[i]]));
            acc[static_cast<size_t>(o)] = static_cast<Acc>(acc[static_cast<size_t>(o)] + p);
            for (size_t d = loop.size(); d-- > 0;) {
                ++idx[d];
                for (size_t i = 0; i < ins.size(); ++i) off[i] += in_st[i][d];
                o += out_st[d];
                if (idx[d] < dims[d]) break;
                for (size_t i = 0; i < ins.size(); ++i) off[i] -= in_st[i][d] * dims[d];
                o -= out_st[d] * dims[d];
                idx[d] = 0;
            }
        }
        for (size_t k = 0; k < acc.size(); ++k) out.data<T>()[k] = static_cast<T>(acc[k]);
    });
    ctx.outputs[0] = half ? from_float_tensor(out, dt) : out;
    return Status::Ok();
}

}  // namespace edgeq::runtime
