// Child processes of build/edgeq for the reliability tests (issue 10): start one without waiting (to kill it
// mid-write), or run one under an address-space limit (RLIMIT_AS, what `ulimit -v` sets).
#pragma once

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <string>
#include <vector>

#include "cli_util.h"

namespace edgeq {

// Starts build/edgeq with args; stdout goes to /dev/null, stderr to err_file (or /dev/null). as_limit_bytes > 0
// caps the child's address space.
inline pid_t spawn_edgeq(const std::vector<std::string>& args, const fs::path& err_file = {},
                         rlim_t as_limit_bytes = 0) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        const int null = ::open("/dev/null", O_WRONLY);
        const int err = err_file.empty() ? null : ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(null, 1);
        ::dup2(err, 2);
        // A test runner started in the background by a shell inherits SIGINT ignored, and exec keeps that:
        // the child gets the default action, as an edgeq started from a terminal has.
        std::signal(SIGINT, SIG_DFL);
        std::signal(SIGTERM, SIG_DFL);
        if (as_limit_bytes) {
            rlimit rl{as_limit_bytes, as_limit_bytes};
            ::setrlimit(RLIMIT_AS, &rl);
        }
        exec_edgeq(args);
    }
    return pid;
}

// Waits for pid; exit status, or 128 + signal number when a signal ended it.
inline int wait_rc(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

inline RunResult run_edgeq_limited(const std::vector<std::string>& args, rlim_t as_limit_bytes) {
    const fs::path err = tmp_dir() / "limited_stderr.txt";
    const int rc = wait_rc(spawn_edgeq(args, err, as_limit_bytes));
    return {rc, slurp(err), ""};
}

// True when this test binary (and so build/edgeq beside it) is built with AddressSanitizer, which reserves
// terabytes of address space and cannot run under RLIMIT_AS.
inline constexpr bool built_with_asan() {
#if defined(__SANITIZE_ADDRESS__)
    return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    return true;
#else
    return false;
#endif
#else
    return false;
#endif
}

}  // namespace edgeq
