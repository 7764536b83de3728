// Shared by the libFuzzer targets: readers that take a path get the input through a file in $TMPDIR (one per
// process, rewritten for every input).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace edgeq::fuzz {

inline std::string input_file(const char* tag, const uint8_t* data, size_t size) {
    const char* dir = std::getenv("TMPDIR");
    const std::string p = std::string(dir && *dir ? dir : "/tmp") + "/edgeq_fuzz_" + tag + "_" + std::to_string(::getpid());
    FILE* f = std::fopen(p.c_str(), "wb");
    if (!f) __builtin_trap();
    if (size) std::fwrite(data, 1, size, f);
    std::fclose(f);
    return p;
}

}  // namespace edgeq::fuzz
