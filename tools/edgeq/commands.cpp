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

}  // namespace edgeq::cli
