// The fast executor's worker pool: every task of every job runs exactly once, on a thread id below
// threads(), even when jobs of different sizes follow each other back to back (the case where a worker still
// holding the previous job's claim word could steal a task of the next one).
#include "runtime/fast/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace edgeq::runtime::fast {
namespace {

TEST(ThreadPool, EveryTaskRunsOnceAcrossBackToBackJobs) {
    for (int threads : {2, 3, 4}) {
        ThreadPool pool(threads);
        std::vector<std::atomic<int>> hits(64);
        std::atomic<int> bad_thread{0};
        for (int job = 0; job < 20000; ++job) {
            // alternate small and large jobs so a stale claim (old generation, i) would be below the new n
            const int64_t n = job % 2 == 0 ? 2 + job % 3 : 17 + job % 40;
            for (int64_t i = 0; i < n; ++i) hits[static_cast<size_t>(i)].store(0, std::memory_order_relaxed);
            auto task = [&](int64_t t, int thread) {
                if (thread < 0 || thread >= pool.threads()) bad_thread.fetch_add(1);
                hits[static_cast<size_t>(t)].fetch_add(1, std::memory_order_relaxed);
            };
            pool.run(n, task);
            for (int64_t i = 0; i < n; ++i) {
                const int h = hits[static_cast<size_t>(i)].load();
                ASSERT_EQ(h, 1) << "threads " << threads << " job " << job << " (n " << n << ") task " << i;
            }
        }
        EXPECT_EQ(bad_thread.load(), 0);
    }
}

}  // namespace
}  // namespace edgeq::runtime::fast
