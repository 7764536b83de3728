// The fast executor's worker pool is edgeq::ThreadPool (core/thread_pool.h), shared with the LLM decoder. A
// derived class rather than a using-declaration, so the forward declarations `class ThreadPool;` in
// runtime/fast/{qfuse,rnn}.h keep naming the same type.
#pragma once

#include "core/thread_pool.h"

namespace edgeq::runtime::fast {

class ThreadPool : public edgeq::ThreadPool {
public:
    using edgeq::ThreadPool::ThreadPool;
};

}  // namespace edgeq::runtime::fast
