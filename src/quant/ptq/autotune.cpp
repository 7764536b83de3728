#include "quant/ptq/autotune.h"

#include <algorithm>
#include <limits>

namespace edgeq::quant::ptq {

Result<SearchResult> greedy_search(const std::vector<SearchLayer>& layers, const SearchVerify& verify) {
    for (const auto& l : layers)
        if (l.sens.empty() || l.sens.size() != l.cost.size())
            return InvalidArgument("autotune search: layer '" + l.name + "' has " +
                                   std::to_string(l.sens.size()) + " sensitivities and " +
                                   std::to_string(l.cost.size()) + " costs");
    SearchResult r;
    r.levels.assign(layers.size(), 0);
    std::vector<bool> frozen(layers.size(), false);
    auto attempt = [&](size_t l, int from, int to, bool bisect) -> Result<bool> {
        std::vector<int> trial = r.levels;
        trial[l] = to;
        EDGEQ_ASSIGN_OR_RETURN(bool ok, verify(trial));
        r.steps.push_back({l, from, to, ok, bisect});
        if (ok) {
            r.levels = trial;
            r.accepted.push_back(r.steps.size() - 1);
        }
        return ok;
    };
    for (;;) {
        size_t best_l = 0;
        int best_j = -1;
        double best_score = std::numeric_limits<double>::infinity(), best_saved = 0;
        for (size_t l = 0; l < layers.size(); ++l) {
            if (frozen[l]) continue;
            const int k = r.levels[l];
            for (int j = k + 1; j < static_cast<int>(layers[l].sens.size()); ++j) {
                const double saved = layers[l].cost[k] - layers[l].cost[j];
                if (!(saved > 0)) continue;
                const double score = std::max(layers[l].sens[j] - layers[l].sens[k], 0.0) / saved;
                if (score < best_score || (score == best_score && saved > best_saved)) {
                    best_score = score;
                    best_saved = saved;
                    best_l = l;
                    best_j = j;
                }
            }
        }
        if (best_j < 0) break;
        const int k = r.levels[best_l];
        EDGEQ_ASSIGN_OR_RETURN(bool ok, attempt(best_l, k, best_j, false));
        if (ok) continue;
        // Bisect the levels strictly between k (passes) and best_j (fails).
        int lo = k, hi = best_j;
        while (hi - lo > 1) {
            const int mid = lo + (hi - lo) / 2;
            EDGEQ_ASSIGN_OR_RETURN(bool mid_ok, attempt(best_l, lo, mid, true));
            if (mid_ok)
                lo = mid;
            else
                hi = mid;
        }
        frozen[best_l] = true;
    }
    return r;
}

std::vector<size_t> pareto_front(const std::vector<ParetoPoint>& pts) {
    std::vector<size_t> front;
    for (size_t i = 0; i < pts.size(); ++i) {
        bool dominated = false;
        for (size_t j = 0; j < pts.size() && !dominated; ++j) {
            if (j == i) continue;
            const auto &a = pts[j], &b = pts[i];
            const bool no_worse = a.accuracy >= b.accuracy && a.bytes <= b.bytes && a.latency <= b.latency;
            const bool better = a.accuracy > b.accuracy || a.bytes < b.bytes || a.latency < b.latency;
            if (no_worse && (better || j < i)) dominated = true;  // equal points: the first one stays
        }
        if (!dominated) front.push_back(i);
    }
    return front;
}

}  // namespace edgeq::quant::ptq
