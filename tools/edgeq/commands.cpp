#include "tools/edgeq/commands.h"

#include <cstdio>

namespace edgeq::cli {
namespace {
int g_exit_code = 0;
}

int exit_code() { return g_exit_code; }
void set_exit_code(int code) { g_exit_code = code; }

void report(const char* cmd, const Status& s) {
    if (s.ok()) return;
    std::fprintf(stderr, "edgeq %s: %s\n", cmd, s.message().c_str());
    set_exit_code(1);
}

bool has_gguf_magic(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return false;
    char m[4] = {};
    const bool gguf = std::fread(m, 1, 4, f) == 4 && m[0] == 'G' && m[1] == 'G' && m[2] == 'U' && m[3] == 'F';
    std::fclose(f);
    return gguf;
}

}  // namespace edgeq::cli
