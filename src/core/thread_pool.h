// A small persistent worker pool (the fast executor, the LLM decoder): run(n, fn) calls fn(task, thread) once for
// every task in [0, n). The caller works too and never waits for a worker to wake up: tasks are claimed one at a
// time from a (generation, next task) counter, so a sleeping or descheduled worker simply takes none (on a loaded
// 2-core machine a futex wake-up can cost more than a whole small job). Workers spin briefly after a job, then
// sleep on a condition variable so an idle pool costs no CPU. Not reentrant; one job at a time.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace edgeq {

class ThreadPool {
public:
    using TaskFn = void (*)(void* ctx, int64_t task, int thread);

    explicit ThreadPool(int threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int threads() const { return threads_; }
    void run(int64_t n, TaskFn fn, void* ctx);

    // f(task, thread); f may be a temporary (it lives until run returns).
    template <typename F>
    void run(int64_t n, F&& f) {
        using Fn = std::remove_reference_t<F>;
        void* ctx = const_cast<void*>(static_cast<const void*>(&f));
        run(n, [](void* c, int64_t t, int th) { (*static_cast<Fn*>(c))(t, th); }, ctx);
    }

private:
    void worker(int id);
    // Claims and runs tasks of generation gen until none is left; false if the job moved on.
    void work(uint32_t gen, int thread);

    int threads_;
    std::vector<std::thread> workers_;
    std::atomic<TaskFn> fn_{nullptr};
    std::atomic<void*> ctx_{nullptr};
    std::atomic<int64_t> n_{0};
    std::atomic<uint64_t> claim_{0};  // generation << 32 | next task
    std::atomic<int64_t> done_{0};
    std::atomic<bool> stop_{false};
    std::mutex mu_;
    std::condition_variable cv_;
};

}  // namespace edgeq
