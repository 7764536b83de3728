// The Debian Fashion-MNIST dataset (apt-get install dataset-fashion-mnist) as the e2e tests use it: where it is,
// the preprocessing the Fashion-MNIST models were trained with, and a skip when it is absent.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace edgeq {

inline constexpr const char* kFashion = "/usr/share/datasets/fashion-mnist";
inline constexpr const char* kPre = "scale=0.00392156862745098,mean=0.2860,std=0.3530";

inline bool have_fashion() { return std::filesystem::exists(std::filesystem::path(kFashion) / "t10k-images-idx3-ubyte.gz"); }
inline std::string fashion(const std::string& f) { return (std::filesystem::path(kFashion) / f).string(); }

}  // namespace edgeq

// Skips the current test when the dataset is not installed.
#define EDGEQ_REQUIRE_FASHION()                                                                            \
    if (!::edgeq::have_fashion()) {                                                                        \
        GTEST_SKIP() << "Debian dataset-fashion-mnist not installed (" << ::edgeq::kFashion << ")";       \
    }
