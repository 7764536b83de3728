// Issue 10 item 3: `edgeq quantize` output is all-or-nothing. The writers go through AtomicFile
// (src/core/file.h: "<OUT>.tmp.<pid>" in OUT's folder, fsync, rename). SIGKILL at random points, many of them
// just after the temporary appears (i.e. while writing), leaves OUT either absent or byte-identical to an
// uninterrupted run (and loadable); SIGINT (Ctrl-C) at such points removes the temporary too.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <csignal>
#include <random>
#include <thread>

#include "common/shared.h"
#include "formats/gguf/gguf.h"
#include "formats/onnx/onnx_import.h"
#include "proc_util.h"

namespace edgeq {
namespace {

using Clock = std::chrono::steady_clock;

struct Case {
    std::vector<std::string> args;  // quantize IN OUT ... (OUT at index 2)
    fs::path out;
};

bool present(const fs::path& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0;
}

// Starts the quantize, waits until its temporary exists (polling) plus `after`, or until `deadline` passes
// without one, then sends sig. Returns {exit code (128 + signal if killed), whether the temporary was seen}.
std::pair<int, bool> interrupt(const Case& c, int sig, std::chrono::microseconds after, Clock::duration deadline) {
    const pid_t pid = spawn_edgeq(c.args);
    const fs::path tmp = c.out.string() + ".tmp." + std::to_string(pid);
    const auto t0 = Clock::now();
    bool seen = false;
    while (Clock::now() - t0 < deadline) {
        if (present(tmp)) {
            seen = true;
            break;
        }
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {  // finished before anything was seen
            return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), false};
        }
    }
    if (seen) std::this_thread::sleep_for(after);
    ::kill(pid, sig);
    return {wait_rc(pid), seen};
}

// Leftover temporaries of OUT (a SIGKILL cannot remove its own): removed here, counted.
int remove_temporaries(const fs::path& out) {
    int n = 0;
    for (const auto& e : fs::directory_iterator(out.parent_path())) {
        if (e.path().filename().string().rfind(out.filename().string() + ".tmp.", 0) == 0) {
            fs::remove(e.path());
            ++n;
        }
    }
    return n;
}

void check_kills(const Case& c, const std::function<bool(const fs::path&)>& loads) {
    fs::remove(c.out);
    const auto t0 = Clock::now();
    ASSERT_EQ(wait_rc(spawn_edgeq(c.args)), 0);
    const auto full = Clock::now() - t0;
    ASSERT_TRUE(loads(c.out));
    const std::string ref = slurp(c.out);
    std::mt19937 rng(20261127);
    // SIGKILL: 6 runs killed 0-3 ms after the temporary appears (while writing / fsyncing), 2 at random points
    // of the whole run (mostly before writing).
    int while_writing = 0;
    for (int i = 0; i < 8; ++i) {
        fs::remove(c.out);
        const bool at_write = i < 6;
        const auto after = std::chrono::microseconds(std::uniform_int_distribution<int>(0, 3000)(rng));
        const auto deadline = at_write ? 4 * full + std::chrono::seconds(2)
                                       : std::chrono::duration_cast<Clock::duration>(full * std::uniform_real_distribution<double>(0.1, 0.9)(rng));
        const auto [rc, seen] = interrupt(c, SIGKILL, after, deadline);
        while_writing += seen && rc == 128 + SIGKILL;
        if (present(c.out)) {
            EXPECT_EQ(slurp(c.out), ref) << "run " << i << " (rc " << rc << "): OUT exists but differs";
        } else {
            EXPECT_EQ(rc, 128 + SIGKILL) << "run " << i << ": finished without OUT";
        }
        remove_temporaries(c.out);
    }
    EXPECT_GT(while_writing, 0) << "no SIGKILL landed while the temporary existed";
    // SIGINT right after the temporary appears: the handler removes it; the process still dies of SIGINT.
    int caught = 0;
    for (int i = 0; i < 12 && caught < 3; ++i) {
        fs::remove(c.out);
        const auto [rc, seen] = interrupt(c, SIGINT, std::chrono::microseconds(i * 300), 4 * full + std::chrono::seconds(2));
        if (rc == 0) {  // finished (and renamed) before the signal
            EXPECT_EQ(slurp(c.out), ref);
            continue;
        }
        EXPECT_EQ(rc, 128 + SIGINT);
        // A signal that lands after the rename (the process is still exiting) finds OUT complete: allowed, as
        // long as it is the whole file. What must never exist is a partial OUT or a leftover temporary.
        const bool renamed = present(c.out);
        if (renamed) {
            EXPECT_EQ(slurp(c.out), ref) << "SIGINT left a partial OUT (run " << i << ")";
        }
        EXPECT_EQ(remove_temporaries(c.out), 0) << "SIGINT left the temporary behind";
        caught += seen && !renamed;
    }
    EXPECT_GT(caught, 0) << "no SIGINT landed while the temporary existed";
    fs::remove(c.out);
}

TEST(AtomicOutput, GgufQuantizeKilledMidWrite) {
    EDGEQ_REQUIRE_SHARED(src, "assets/llm/shakespeare-wiki-4M/shakespeare-wiki-4M-F32.gguf");
    const fs::path out = tmp_dir() / "atomic_q.gguf";
    check_kills({{"quantize", src.string(), out.string(), "Q4_K_M", "--threads", "2", "-q"}, out},
                [](const fs::path& p) { return gguf::File::open(p.string()).ok(); });
}

TEST(AtomicOutput, OnnxQuantizeKilledMidWrite) {
    EDGEQ_REQUIRE_SHARED(src, "assets/fashion-mnist-models/mlp3.onnx");
    const fs::path out = tmp_dir() / "atomic_q.onnx";
    check_kills({{"quantize", src.string(), out.string(), "--method", "dynamic", "--threads", "2", "-q"}, out},
                [](const fs::path& p) { return onnxio::load_model(p.string()).ok(); });
}

}  // namespace
}  // namespace edgeq
