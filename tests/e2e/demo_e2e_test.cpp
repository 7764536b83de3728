// edgeq demo with tiny settings on the real Fashion-MNIST (Debian dataset-fashion-mnist): the first run
// trains, quantizes by every method, prints the method x precision table and writes the report; the rerun
// reuses every cached model and result (the cached files are not rewritten). A missing --data folder is a
// one-line error with the install hint.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "e2e/cli_util.h"
#include "e2e/fashion_util.h"

namespace edgeq {
namespace {

std::vector<std::string> tiny_demo(const fs::path& root) {
    // Under EDGEQ_TEST_WRAPPER (valgrind runs this float training a few hundred times slower; ASan) a smaller
    // run with the same checks: 600 training images still teach the CNN well past the 50 % checked below.
    const bool small = under_test_wrapper();
    // clang-format off
    return {"demo", "-o", (root / "report").string(), "--cache", (root / "cache").string(),
            "--train-images", small ? "600" : "1500", "--epochs", "1", "--qat-images", small ? "200" : "300",
            "--test-images", "300",  // index 12: the test changes it
            "--bench-runs", small ? "2" : "5", "--threads", "2", "--quiet"};
    // clang-format on
}

std::map<std::string, fs::file_time_type> cache_files(const fs::path& cache) {
    std::map<std::string, fs::file_time_type> m;
    for (const auto& e : fs::recursive_directory_iterator(cache))
        if (e.is_regular_file()) m[e.path().string()] = e.last_write_time();
    return m;
}

TEST(DemoE2E, TinyRunPrintsTheTableWritesTheReportAndRerunsFromCache) {
    EDGEQ_REQUIRE_FASHION();
    const fs::path root = tmp_dir() / "demo";
    fs::remove_all(root);
    const auto r = run_cli(tiny_demo(root));
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_TRUE(r.err.empty()) << r.err;  // --quiet
    // One line per model: FP32, then the three rows at int8 / int4 / int2.
    for (const char* line :
         {"FP32      fp32         fp32", "dynamic   dynamic      int8", "dynamic   weight-only  int4",
          "dynamic   weight-only  int2", "static    static       int8", "static    static       int4",
          "static    static       int2", "QAT       qat          int8", "QAT       qat          int4",
          "QAT       qat          int2"})
        EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
    EXPECT_NE(r.out.find("QAT (INT8 acts)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("0 of 10 results reused"), std::string::npos) << r.out;

    const fs::path rep = root / "report";
    EXPECT_NE(slurp(rep / "report.html").find("<html"), std::string::npos);
    EXPECT_NE(slurp(rep / "report.md").find("qat"), std::string::npos);
    const auto all = nlohmann::json::parse(slurp(rep / "results.json"));
    ASSERT_TRUE(all.is_array());
    ASSERT_EQ(all.size(), 10u);
    std::set<std::string> labels;
    for (const auto& j : all) {
        EXPECT_EQ(j["schema"], "edgeq.result/1");
        EXPECT_EQ(j["command"], "demo");
        EXPECT_EQ(j["test_count"], 300);
        const double acc = j["metrics"]["accuracy"].get<double>();
        EXPECT_GT(acc, 0.1) << j.dump();  // above chance (int2 PTQ may lose much, but not everything)
        EXPECT_GT(j["metrics"]["bytes"].get<double>(), 0);
        EXPECT_GT(j["metrics"]["latency_ms"]["p50"].get<double>(), 0);
        labels.insert(j["method"].get<std::string>() + " " + j["precision"].get<std::string>());
        const auto one =
            nlohmann::json::parse(slurp(rep / "models" / (j["name"].get<std::string>() + ".json")));
        EXPECT_EQ(one, j);
    }
    EXPECT_EQ(labels, (std::set<std::string>{"fp32 fp32", "dynamic int8", "weight-only int4",
                                             "weight-only int2", "static int8", "static int4", "static int2",
                                             "qat int8", "qat int4", "qat int2"}));
    // The FP32 CNN learned something from 1,500 (600) images (chance is 10 %).
    EXPECT_GT(all[0]["metrics"]["accuracy"].get<double>(), 0.5);

    // Rerun: everything from the cache, same numbers, no cache file rewritten.
    const auto before = cache_files(root / "cache");
    const auto again = run_cli(tiny_demo(root));
    ASSERT_EQ(again.rc, 0) << again.err;
    EXPECT_NE(again.out.find("10 of 10 results reused"), std::string::npos) << again.out;
    EXPECT_EQ(cache_files(root / "cache"), before);
    const auto all2 = nlohmann::json::parse(slurp(rep / "results.json"));
    ASSERT_EQ(all2.size(), 10u);
    for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all2[i]["metrics"], all[i]["metrics"]);

    // Different evaluation settings reuse the models but measure again.
    auto args = tiny_demo(root);
    args[12] = "200";  // --test-images
    const auto third = run_cli(args);
    ASSERT_EQ(third.rc, 0) << third.err;
    EXPECT_NE(third.out.find("0 of 10 results reused"), std::string::npos) << third.out;
    EXPECT_EQ(nlohmann::json::parse(slurp(rep / "results.json"))[0]["test_count"], 200);
    fs::remove_all(root);
}

TEST(DemoE2E, MissingDataIsAOneLineErrorWithTheInstallHint) {
    const fs::path root = tmp_dir() / "demo_nodata";
    auto args = tiny_demo(root);
    args.push_back("--data");
    args.push_back((root / "absent").string());
    const auto r = run_cli(args);
    expect_one_line_error(r, "edgeq demo: ");
    expect_one_line_error(r, "absent");
    expect_one_line_error(r, "apt-get install dataset-fashion-mnist");
}

}  // namespace
}  // namespace edgeq
