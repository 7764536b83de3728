// parallel_for: split [0, n) into contiguous chunks over up to n_threads std::threads (the calling
// thread takes one share). Work items must be independent. n_threads <= 1 runs inline.
#pragma once

#include <cstdint>
#include <functional>

namespace edgeq {

// Number of hardware threads (at least 1).
int hardware_threads();
// Calls fn(begin, end) on disjoint chunks covering [0, n); chunk boundaries are multiples of grain.
void parallel_for(int64_t n, int n_threads, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace edgeq
