// llm_protocol.h: what both sides of the LLM speed benchmark share, so that edgeq (bench/llm_bench.cpp `run`)
// and llama.cpp (bench/peers/llama_bench.cpp) are measured with the same options and the same prompt ids:
// --threads 1,2  --prompt 64  --decode 16  --reps 3  --ctx 512, and token i of the prompt/decode sequence
// = 259 + 7919 i mod (n_vocab - 259) (past the control and byte tokens of the synthetic vocab).
// Header-only and standard C++ only: llama_bench.cpp is built outside CMake (bench/llm_speed.sh).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace llm_protocol {

struct RunOptions {
    std::vector<int> threads{1, 2};
    int prompt = 64;  // tokens of the prompt, evaluated as one batch
    int decode = 16;  // tokens decoded one at a time after it
    int reps = 3;     // timed repetitions; the best one counts
    int ctx = 512;    // K/V cache positions; a multiple of 256 (llama.cpp pads n_ctx to 256)

    bool valid() const {
        return !threads.empty() && prompt >= 1 && decode >= 2 && reps >= 1 && prompt + decode <= ctx &&
               ctx % 256 == 0;
    }
};

// "1,2" -> {1, 2}; empty on a malformed list or a count < 1.
inline std::vector<int> parse_threads(const std::string& s) {
    std::vector<int> v;
    for (size_t p = 0; p < s.size();) {
        size_t e = s.find(',', p);
        if (e == std::string::npos) e = s.size();
        const int t = std::atoi(s.substr(p, e - p).c_str());
        if (t < 1) return {};
        v.push_back(t);
        p = e + 1;
    }
    return v;
}

// If argv[i] is one of the protocol's options, reads its value (advancing i) into o and returns true; a
// missing value calls usage(), which must not return.
inline bool parse_option(int argc, char** argv, int& i, RunOptions& o, void (*usage)()) {
    const std::string a = argv[i];
    int* dst = a == "--prompt"   ? &o.prompt
               : a == "--decode" ? &o.decode
               : a == "--reps"   ? &o.reps
               : a == "--ctx"    ? &o.ctx
                                 : nullptr;
    if (!dst && a != "--threads") return false;
    if (i + 1 >= argc) usage();
    const std::string v = argv[++i];
    if (dst)
        *dst = std::atoi(v.c_str());
    else
        o.threads = parse_threads(v);
    return true;
}

// Token i of the benchmark's id sequence (prompt, then the decoded tokens); n_vocab > 259.
inline int32_t token(size_t i, int32_t n_vocab) {
    return static_cast<int32_t>(259 + (7919 * static_cast<int64_t>(i)) % (n_vocab - 259));
}

}  // namespace llm_protocol
