#include "quant/gguf_autotune.h"

#include <algorithm>
#include <limits>
#include <numeric>

#include "quant/recipe/llama_mix.h"

namespace edgeq {

namespace {

// The upgrade of s with the largest cost decrease per extra byte whose extra bytes are <= room (same bytes
// and lower cost: first); false when none. Applies it to s.
bool best_upgrade(const std::vector<AutotuneTensor>& tensors, AllocationStep& s, uint64_t room) {
    double best_rate = 0;
    int64_t bt = -1, bj = -1;
    for (size_t i = 0; i < tensors.size(); ++i) {
        const AutotuneOption& cur = tensors[i].options[static_cast<size_t>(s.choice[i])];
        for (size_t j = 0; j < tensors[i].options.size(); ++j) {
            const AutotuneOption& o = tensors[i].options[j];
            if (o.bytes < cur.bytes || o.cost >= cur.cost || o.bytes - cur.bytes > room) continue;
            const double rate = o.bytes == cur.bytes
                                    ? std::numeric_limits<double>::infinity()
                                    : (cur.cost - o.cost) / static_cast<double>(o.bytes - cur.bytes);
            if (rate > best_rate)
                best_rate = rate, bt = static_cast<int64_t>(i), bj = static_cast<int64_t>(j);
        }
    }
    if (bt < 0) return false;
    const auto& opts = tensors[static_cast<size_t>(bt)].options;
    const AutotuneOption& cur = opts[static_cast<size_t>(s.choice[static_cast<size_t>(bt)])];
    const AutotuneOption& nxt = opts[static_cast<size_t>(bj)];
    s.bytes = s.bytes - cur.bytes + nxt.bytes;
    s.predicted = s.predicted - cur.cost + nxt.cost;
    s.choice[static_cast<size_t>(bt)] = static_cast<int>(bj);
    return true;
}

}  // namespace

AllocationStep fill_budget(const std::vector<AutotuneTensor>& tensors, AllocationStep from, uint64_t budget) {
    while (from.bytes <= budget && best_upgrade(tensors, from, budget - from.bytes)) {
    }
    return from;
}

Result<std::vector<AllocationStep>> greedy_allocation_path(const std::vector<AutotuneTensor>& tensors) {
    AllocationStep s;
    for (const AutotuneTensor& t : tensors) {
        if (t.options.empty())
            return InvalidArgument("autotune: tensor '" + t.name + "' has no candidate type");
        int best = 0;
        for (int j = 1; j < static_cast<int>(t.options.size()); ++j) {
            const AutotuneOption &o = t.options[static_cast<size_t>(j)],
                                 &b = t.options[static_cast<size_t>(best)];
            if (o.bytes < b.bytes || (o.bytes == b.bytes && o.cost < b.cost)) best = j;
        }
        s.choice.push_back(best);
        s.bytes += t.options[static_cast<size_t>(best)].bytes;
        s.predicted += t.options[static_cast<size_t>(best)].cost;
    }
    std::vector<AllocationStep> path{s};
    while (best_upgrade(tensors, s, std::numeric_limits<uint64_t>::max())) path.push_back(s);
    return path;
}

int64_t step_for_bytes(const std::vector<AllocationStep>& path, uint64_t budget) {
    int64_t r = -1;
    for (size_t i = 0; i < path.size(); ++i)
        if (path[i].bytes <= budget) r = static_cast<int64_t>(i);
    return r;
}

int64_t step_for_cost(const std::vector<AllocationStep>& path, double max_cost) {
    for (size_t i = 0; i < path.size(); ++i)
        if (path[i].predicted <= max_cost) return static_cast<int64_t>(i);
    return -1;
}

Result<int64_t> bisect_first(int64_t lo, int64_t hi, int64_t first,
                             const std::function<Result<bool>(int64_t)>& ok) {
    // The answer lies in [l, h]; h = hi + 1 stands for "none".
    int64_t l = lo, h = hi + 1;
    auto probe = [&](int64_t m) -> Status {
        EDGEQ_ASSIGN_OR_RETURN(bool good, ok(m));
        if (good)
            h = m;
        else
            l = m + 1;
        return Status::Ok();
    };
    if (l < h) {
        EDGEQ_RETURN_IF_ERROR(probe(std::clamp(first, lo, hi)));
    }
    while (l < h) {
        EDGEQ_RETURN_IF_ERROR(probe(l + (h - l) / 2));
    }
    return l;
}

Result<std::vector<DType>> parse_autotune_candidates(const std::vector<std::string>& names) {
    static const std::vector<std::string> kDefault = {"q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "q8_0"};
    std::vector<DType> out;
    for (const std::string& n : names.empty() ? kDefault : names) {
        auto t = dtype_from_name(n);
        if (!t || !has_codec(*t) ||
            (traits(*t).kind != DTypeKind::Block && *t != DType::F16 && *t != DType::BF16 &&
             *t != DType::F32)) {
            return InvalidArgument("--candidates: unknown or unsupported GGUF tensor type '" + n +
                                   "' (e.g. q2_k q3_k q4_k q5_k q6_k q8_0 q4_0 q5_0 iq4_nl f16)");
        }
        if (std::find(out.begin(), out.end(), *t) == out.end()) out.push_back(*t);
    }
    return out;
}

std::vector<DType> autotune_tensor_types(const std::vector<DType>& candidates, int64_t cols) {
    std::vector<DType> out;
    for (DType t : candidates) {
        if (cols % traits(t).block_size != 0) {
            t = recipe::row_fallback_type(t);
            if (cols % traits(t).block_size != 0 || !has_codec(t)) continue;
        }
        if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
    }
    std::stable_sort(out.begin(), out.end(),
                     [](DType a, DType b) { return bits_per_weight(a) < bits_per_weight(b); });
    return out;
}

std::vector<size_t> pareto_front(const std::vector<std::pair<uint64_t, double>>& points) {
    std::vector<size_t> idx(points.size());
    std::iota(idx.begin(), idx.end(), size_t{0});
    std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
        return points[a].first != points[b].first ? points[a].first < points[b].first
                                                  : points[a].second < points[b].second;
    });
    std::vector<size_t> front;
    double best = std::numeric_limits<double>::infinity();
    for (size_t i : idx) {
        if (points[i].second < best) {
            front.push_back(i);
            best = points[i].second;
        }
    }
    return front;
}

}  // namespace edgeq
