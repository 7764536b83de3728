// Helpers for tests that drive the real `edgeq` binary (build/edgeq).
#pragma once

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace edgeq {
namespace fs = std::filesystem;

inline fs::path tmp_dir() {
    static const fs::path d = [] {
        fs::path p = fs::temp_directory_path() / ("edgeq_e2e_" + std::to_string(::getpid()));
        fs::create_directories(p);
        return p;
    }();
    return d;
}

inline std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
}

// EDGEQ_TEST_WRAPPER (e.g. "valgrind --error-exitcode=1 --log-file=/tmp/vg.%p") is put in front of every
// build/edgeq the e2e tests start (scripts/valgrind-e2e.sh); words are split on spaces.
inline const std::vector<std::string>& test_wrapper() {
    static const std::vector<std::string> words = [] {
        std::vector<std::string> w;
        const char* env = std::getenv("EDGEQ_TEST_WRAPPER");
        std::string cur;
        for (const char* c = env ? env : ""; ; ++c) {
            if (*c == ' ' || *c == '\0') {
                if (!cur.empty()) w.push_back(cur);
                cur.clear();
                if (*c == '\0') break;
            } else {
                cur += *c;
            }
        }
        return w;
    }();
    return words;
}
inline bool under_test_wrapper() { return !test_wrapper().empty(); }

// In a forked child: replaces it with [wrapper...] build/edgeq args...; exits 127 if that fails.
[[noreturn]] inline void exec_edgeq(const std::vector<std::string>& args) {
    std::vector<std::string> words = test_wrapper();
    words.push_back(std::string(EDGEQ_BINARY_DIR) + "/edgeq");
    words.insert(words.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    std::_Exit(127);
}

// Runs build/edgeq with args; returns exit status and stderr. fsize_limit > 0 caps the output file size
// (RLIMIT_FSIZE with SIGXFSZ ignored: writes fail with EFBIG, like a full disk).
struct RunResult {
    int rc;
    std::string err;
    std::string out;
    long peak_rss_kb = 0;  // the child's maximum resident set (getrusage ru_maxrss)
};
inline RunResult run_cli(const std::vector<std::string>& args, rlim_t fsize_limit = 0) {
    const fs::path err_file = tmp_dir() / "stderr.txt", out_file = tmp_dir() / "stdout.txt";
    const pid_t pid = ::fork();
    if (pid == 0) {
        FILE* e = std::freopen(err_file.c_str(), "w", stderr);
        (void)e;
        FILE* o = std::freopen(out_file.c_str(), "w", stdout);
        (void)o;
        if (fsize_limit) {
            std::signal(SIGXFSZ, SIG_IGN);
            rlimit rl{fsize_limit, fsize_limit};
            ::setrlimit(RLIMIT_FSIZE, &rl);
        }
        exec_edgeq(args);
    }
    int status = 0;
    rusage ru{};
    ::wait4(pid, &status, 0, &ru);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), slurp(err_file), slurp(out_file),
            ru.ru_maxrss};
}

inline bool no_leftovers(const fs::path& out) {
    for (const auto& e : fs::directory_iterator(out.parent_path())) {
        if (e.path().filename().string().rfind(out.filename().string(), 0) == 0) return false;
    }
    return true;
}

inline void expect_one_line_error(const RunResult& r, const std::string& needle) {
    EXPECT_NE(r.rc, 0);
    EXPECT_NE(r.rc, 127) << "edgeq binary not found";
    EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "want one line, got: " << r.err;
    EXPECT_EQ(r.err.rfind("edgeq ", 0), 0u) << r.err;
}

}  // namespace edgeq
