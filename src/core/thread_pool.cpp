#include "core/thread_pool.h"

#include <algorithm>

#if defined(__x86_64__)
#include <immintrin.h>
#define EDGEQ_PAUSE() _mm_pause()
#else
#define EDGEQ_PAUSE() ((void)0)
#endif

namespace edgeq {
namespace {
constexpr int kSpins = 4000;  // a few tens of µs of pause before sleeping (back-to-back jobs reuse the spin)
inline uint32_t gen_of(uint64_t c) { return static_cast<uint32_t>(c >> 32); }
}  // namespace

ThreadPool::ThreadPool(int threads) : threads_(std::max(1, threads)) {
    for (int i = 1; i < threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lk(mu_);
        stop_.store(true);
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
}

void ThreadPool::work(uint32_t gen, int thread) {
    for (;;) {
        uint64_t c = claim_.load(std::memory_order_acquire);
        if (gen_of(c) != gen) return;
        const int64_t i = static_cast<int64_t>(c & 0xffffffffu);
        if (i >= n_.load(std::memory_order_acquire)) return;
        if (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel)) continue;
        // a successful claim of (gen, i) means job gen is unfinished, so fn_/ctx_ are still its own
        fn_.load(std::memory_order_acquire)(ctx_.load(std::memory_order_acquire), i, thread);
        done_.fetch_add(1, std::memory_order_release);
    }
}

void ThreadPool::run(int64_t n, TaskFn fn, void* ctx) {
    if (threads_ == 1 || n <= 1) {
        for (int64_t t = 0; t < n; ++t) fn(ctx, t, 0);
        return;
    }
    const uint32_t old = gen_of(claim_.load(std::memory_order_relaxed));
    const uint32_t gen = old + 1;
    // Close the previous job before n_ changes: a worker that loaded (old, i) and then reads the new, larger
    // n_ would otherwise claim task i of the new job under the old generation, and that task would run twice.
    // The release store of n_ orders the close before it, so such a worker's compare-exchange fails.
    claim_.store(static_cast<uint64_t>(old) << 32 | 0xffffffffu, std::memory_order_relaxed);
    fn_.store(fn, std::memory_order_relaxed);
    ctx_.store(ctx, std::memory_order_relaxed);
    n_.store(n, std::memory_order_release);
    done_.store(0, std::memory_order_relaxed);
    {
        std::lock_guard<std::mutex> lk(mu_);
        claim_.store(static_cast<uint64_t>(gen) << 32, std::memory_order_release);
    }
    cv_.notify_all();
    work(gen, 0);
    while (done_.load(std::memory_order_acquire) < n) EDGEQ_PAUSE();
}

void ThreadPool::worker(int id) {
    uint32_t seen = 0;
    for (;;) {
        int spins = 0;
        uint32_t g;
        while ((g = gen_of(claim_.load(std::memory_order_acquire))) == seen) {
            if (stop_.load(std::memory_order_relaxed)) return;
            if (++spins < kSpins) {
                EDGEQ_PAUSE();
                continue;
            }
            std::unique_lock<std::mutex> lk(mu_);
            cv_.wait(lk, [&] { return stop_.load() || gen_of(claim_.load(std::memory_order_acquire)) != seen; });
            spins = 0;
        }
        seen = g;
        work(g, id);
    }
}

}  // namespace edgeq
