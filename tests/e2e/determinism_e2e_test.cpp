// Issue 10 item 4: the same inputs and flags give byte-identical output files across runs and across
// --threads 1 / --threads 2: GGUF (k-quants, an imatrix file and quantizing with it, --method gptq) and ONNX
// (static with calibration, dynamic, weight-only int4).
#include <gtest/gtest.h>

#include "common/shared.h"
#include "fashion_util.h"
#include "proc_util.h"

namespace edgeq {
namespace {

// Runs args with "--threads N" appended for N = 2, 1, 2 (writing OUT = args[out_index]); every run must succeed
// and write the same bytes as the first.
void expect_same_bytes(std::vector<std::string> args, size_t out_index) {
    const fs::path out = args[out_index];
    std::string first;
    const char* threads[] = {"2", "1", "2"};
    for (int i = 0; i < 3; ++i) {
        fs::remove(out);
        auto a = args;
        a.insert(a.end(), {"--threads", threads[i], "-q"});
        const auto r = run_cli(a);
        ASSERT_EQ(r.rc, 0) << r.err;
        const std::string bytes = slurp(out);
        ASSERT_FALSE(bytes.empty());
        if (i == 0) first = bytes;
        else EXPECT_TRUE(bytes == first) << out << ": run " << i << " (--threads " << threads[i] << ") differs from run 0 (--threads 2)";
    }
}

TEST(Determinism, GgufKQuants) {
    EDGEQ_REQUIRE_SHARED(model, "assets/llm/shakespeare-wiki-4M/shakespeare-wiki-4M-F32.gguf");
    const fs::path q = tmp_dir() / "det_k.gguf";
    expect_same_bytes({"quantize", model.string(), q.string(), "Q4_K_M"}, 2);
    expect_same_bytes({"quantize", model.string(), q.string(), "Q3_K_S"}, 2);
    fs::remove(q);
}

// Calibration text: the first 6000 bytes of tinyshakespeare (tokenizing the whole file would dominate).
fs::path small_text(const fs::path& text) {
    const fs::path p = tmp_dir() / "det_calib.txt";
    std::ofstream(p, std::ios::binary) << slurp(text).substr(0, 6000);
    return p;
}

TEST(Determinism, GgufImatrix) {
    EDGEQ_REQUIRE_SHARED(model, "assets/llm/shakespeare-wiki-4M/shakespeare-wiki-4M-F32.gguf");
    EDGEQ_REQUIRE_SHARED(text, "assets/datasets/text/tinyshakespeare.txt");
    const fs::path q = tmp_dir() / "det_im.gguf", im = tmp_dir() / "det_imatrix.gguf";
    const std::string m = model.string();
    expect_same_bytes({"imatrix", m, "-f", small_text(text).string(), "-o", im.string(), "--ctx", "64", "--chunks", "2"}, 5);
    expect_same_bytes({"quantize", m, q.string(), "Q4_K_S", "--imatrix", im.string()}, 2);
    fs::remove(q);
    fs::remove(im);
}

TEST(Determinism, GgufGptq) {
    EDGEQ_REQUIRE_SHARED(model, "assets/llm/shakespeare-wiki-4M/shakespeare-wiki-4M-F32.gguf");
    EDGEQ_REQUIRE_SHARED(text, "assets/datasets/text/tinyshakespeare.txt");
    const fs::path q = tmp_dir() / "det_gptq.gguf";
    expect_same_bytes({"quantize", model.string(), q.string(), "Q4_0", "--method", "gptq", "--calib",
                       small_text(text).string(), "--ctx", "32", "--calib-chunks", "1"},
                      2);
    fs::remove(q);
}

TEST(Determinism, OnnxStaticDynamicAndWeightOnlyInt4) {
    EDGEQ_REQUIRE_SHARED(lenet, "assets/fashion-mnist-models/lenet5.onnx");
    EDGEQ_REQUIRE_SHARED(lstm, "assets/fashion-mnist-models/lstm.onnx");
    const fs::path q = tmp_dir() / "det_q.onnx";
    expect_same_bytes({"quantize", lstm.string(), q.string(), "--method", "dynamic"}, 2);
    expect_same_bytes({"quantize", lenet.string(), q.string(), "--method", "weight-only", "--weights", "int4"}, 2);
    if (have_fashion()) {
        expect_same_bytes({"quantize", lenet.string(), q.string(), "--method", "static", "--calib",
                           fashion("train-images-idx3-ubyte.gz"), "--preprocess", kPre, "--calib-samples", "64",
                           "--calibrator", "entropy"},
                          2);
    }
    fs::remove(q);
}

}  // namespace
}  // namespace edgeq
