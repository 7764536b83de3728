// Internal invariants: EDGEQ_CHECK aborts with file:line and the failed condition.
// Never use it for user or data errors; those return a Status (include/edgeq/status.h).
#pragma once

#include <cstdio>
#include <cstdlib>

namespace edgeq::detail {
[[noreturn]] inline void check_failed(const char* file, int line, const char* cond, const char* msg) {
    std::fprintf(stderr, "edgeq: internal error at %s:%d: check failed: %s%s%s\n", file, line, cond,
                 msg[0] ? " — " : "", msg);
    std::fflush(stderr);
    std::abort();
}
}  // namespace edgeq::detail

#define EDGEQ_CHECK(cond)                                                           \
    do {                                                                            \
        if (!(cond)) ::edgeq::detail::check_failed(__FILE__, __LINE__, #cond, ""); \
    } while (0)
#define EDGEQ_CHECK_MSG(cond, msg)                                                   \
    do {                                                                             \
        if (!(cond)) ::edgeq::detail::check_failed(__FILE__, __LINE__, #cond, msg); \
    } while (0)
