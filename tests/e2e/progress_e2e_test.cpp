// Progress output (tools/edgeq/progress.h) when stderr is not a terminal: plain lines "edgeq <cmd>: <unit>
// done/total (P%), ..." (at most one per tenth of the work, always the last one), no carriage returns;
// nothing with --quiet. Covers eval, bench, ONNX static calibration and perplexity.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "cli_util.h"
#include "common/shared.h"
#include "fashion_util.h"

namespace edgeq {
namespace {

const char* kPre = "scale=0.00392156862745098,mean=0.2860,std=0.3530";

// Every line of err starts with prefix; the last one reports total/total (100%).
void expect_plain_lines(const std::string& err, const std::string& prefix, const std::string& last) {
    EXPECT_EQ(err.find('\r'), std::string::npos) << err;
    std::istringstream in(err);
    std::string line, final_line;
    int n = 0;
    for (; std::getline(in, line); ++n) {
        EXPECT_EQ(line.rfind(prefix, 0), 0u) << line;
        final_line = line;
    }
    EXPECT_GE(n, 2) << err;
    EXPECT_LE(n, 11) << err;  // one per tenth, plus the first
    EXPECT_EQ(final_line.rfind(prefix + " " + last + " (100%)", 0), 0u) << final_line;
    EXPECT_NE(final_line.find("ETA"), std::string::npos) << final_line;
}

TEST(ProgressCli, EvalAndBenchPipedGivePlainLinesQuietGivesNone) {
    EDGEQ_REQUIRE_SHARED(model, "assets/fashion-mnist-models/lenet5.onnx");
    if (!fs::exists(fs::path(kFashion) / "t10k-images-idx3-ubyte.gz"))
        GTEST_SKIP() << "Debian dataset-fashion-mnist not installed (" << kFashion << ")";
    const std::vector<std::string> eval{"eval",         model.string(),
                                        "--data",       std::string(kFashion) + "/t10k-images-idx3-ubyte.gz",
                                        "--labels",     std::string(kFashion) + "/t10k-labels-idx1-ubyte.gz",
                                        "--preprocess", kPre,
                                        "--limit",      "200",
                                        "--batch",      "16"};
    auto r = run_cli(eval);
    ASSERT_EQ(r.rc, 0) << r.err;
    expect_plain_lines(r.err, "edgeq eval: image", "200/200");
    auto q = eval;
    q.push_back("--quiet");
    r = run_cli(q);
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.err, "");

    r = run_cli({"bench", model.string(), "--runs", "7", "--warmup", "1", "--threads", "1"});
    ASSERT_EQ(r.rc, 0) << r.err;
    expect_plain_lines(r.err, "edgeq bench: run", "7/7");
    r = run_cli({"bench", model.string(), "--runs", "7", "--warmup", "1", "--threads", "1", "-q"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.err, "");
}

TEST(ProgressCli, StaticCalibrationPipedAndQuiet) {
    EDGEQ_REQUIRE_SHARED(model, "assets/fashion-mnist-models/lenet5.onnx");
    if (!fs::exists(fs::path(kFashion) / "train-images-idx3-ubyte.gz"))
        GTEST_SKIP() << "Debian dataset-fashion-mnist not installed (" << kFashion << ")";
    const fs::path out = tmp_dir() / "progress_static.onnx";
    std::vector<std::string> a{"quantize",
                               model.string(),
                               out.string(),
                               "--method",
                               "static",
                               "--calib",
                               std::string(kFashion) + "/train-images-idx3-ubyte.gz",
                               "--preprocess",
                               kPre,
                               "--calib-samples",
                               "96",
                               "--calib-batch",
                               "32",
                               "--json"};
    auto r = run_cli(a);
    ASSERT_EQ(r.rc, 0) << r.err;
    expect_plain_lines(r.err, "edgeq quantize: calibration image", "96/96");
    a.push_back("-q");
    r = run_cli(a);
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.err, "");
}

TEST(ProgressCli, PerplexityQuiet) {
    EDGEQ_REQUIRE_SHARED(model, "fixtures/llm/models/stories260K-Q8_0.gguf");
    EDGEQ_REQUIRE_SHARED(text, "assets/datasets/text/tinystories_sample.txt");
    auto r = run_cli(
        {"perplexity", model.string(), "-f", text.string(), "--ctx", "64", "--chunks", "2", "--json"});
    ASSERT_EQ(r.rc, 0) << r.err;
    expect_plain_lines(r.err, "edgeq perplexity: token", "128/128");
    EXPECT_NE(r.err.find("chunk 2/2, PPL"), std::string::npos) << r.err;
    r = run_cli(
        {"perplexity", model.string(), "-f", text.string(), "--ctx", "64", "--chunks", "2", "--json", "-q"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.err, "");
}

}  // namespace
}  // namespace edgeq
