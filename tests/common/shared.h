// Where the test reads the project's shared assets and peer fixtures: $EDGEQ_SHARED, else ../shared
// beside the repository. Tests that need them skip with a clear message when they are absent.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace edgeq::test {

inline std::filesystem::path shared_dir() {
    if (const char* e = std::getenv("EDGEQ_SHARED"); e && *e) return e;
    return EDGEQ_SHARED_DEFAULT;
}

// Path of a file under shared/, or empty if it does not exist.
inline std::filesystem::path shared_file(const std::string& rel) {
    auto p = shared_dir() / rel;
    return std::filesystem::exists(p) ? p : std::filesystem::path{};
}

}  // namespace edgeq::test

// Skip the current test when a shared file is absent, saying which and how to provide it.
#define EDGEQ_REQUIRE_SHARED(var, rel)                                                             \
    const std::filesystem::path var = ::edgeq::test::shared_file(rel);                             \
    if (var.empty()) {                                                                             \
        GTEST_SKIP() << "shared asset missing: " << (::edgeq::test::shared_dir() / (rel)).string() \
                     << " (set EDGEQ_SHARED to the shared/ folder)";                               \
    }
