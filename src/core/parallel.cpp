#include "core/parallel.h"

#include <algorithm>
#include <thread>
#include <vector>

namespace edgeq {

int hardware_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

void parallel_for(int64_t n, int n_threads, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    grain = std::max<int64_t>(1, grain);
    const int64_t n_grains = (n + grain - 1) / grain;
    const int64_t t = std::clamp<int64_t>(n_threads, 1, n_grains);
    if (t == 1) {
        fn(0, n);
        return;
    }
    std::vector<std::thread> workers;
    workers.reserve(static_cast<size_t>(t - 1));
    auto chunk = [&](int64_t i) {
        const int64_t b = std::min(n, (n_grains * i / t) * grain);
        const int64_t e = std::min(n, (n_grains * (i + 1) / t) * grain);
        if (b < e) fn(b, e);
    };
    for (int64_t i = 1; i < t; ++i) workers.emplace_back(chunk, i);
    chunk(0);
    for (auto& w : workers) w.join();
}

}  // namespace edgeq
