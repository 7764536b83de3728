// Every subcommand (issue 9, item 4): `--help` shows an example and exits 0; missing arguments, unknown
// options and missing files each give one line "edgeq <cmd>: <what>" on stderr and a non-zero exit.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cli_util.h"

namespace edgeq {
namespace {

const std::vector<std::string> kCommands = {"inspect",    "quantize", "run",   "eval",
                                            "generate",   "perplexity", "imatrix", "bench", "compare",
                                            "report",     "train",      "demo",
                                            "autotune"};

TEST(CliErrors, EverySubcommandHasHelpWithAnExample) {
    for (const auto& c : kCommands) {
        auto r = run_cli({c, "--help"});
        EXPECT_EQ(r.rc, 0) << c << ": " << r.err;
        EXPECT_NE(r.out.find("  edgeq " + c + " "), std::string::npos) << c << " --help has no example:\n" << r.out;
    }
}

TEST(CliErrors, MissingArgumentsAndUnknownOptionsAreOneLine) {
    for (const auto& c : kCommands) {
        SCOPED_TRACE(c);
        expect_one_line_error(run_cli({c}), "edgeq " + c + ": ");
        expect_one_line_error(run_cli({c}), "--help");
        expect_one_line_error(run_cli({c, "x", "y", "z", "--no-such-flag"}), "edgeq " + c + ": ");
    }
    for (const auto& args : {std::vector<std::string>{}, std::vector<std::string>{"frobnicate"}}) {
        const auto r = run_cli(args);  // no command: "edgeq: ..." on one line
        EXPECT_NE(r.rc, 0);
        EXPECT_EQ(r.err.rfind("edgeq: ", 0), 0u) << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    }
}

TEST(CliErrors, MissingFilesAreNamed) {
    const std::string m = (tmp_dir() / "absent").string();
    const std::vector<std::vector<std::string>> cases = {
        {"inspect", m + ".gguf"},
        {"quantize", m + ".onnx", m + ".out.onnx", "--method", "dynamic"},
        {"run", m + ".onnx"},
        {"eval", m + ".onnx", "--data", m + ".idx", "--labels", m + ".lbl"},
        {"generate", m + ".gguf", "-p", "hi"},
        {"perplexity", m + ".gguf", "-f", m + ".txt"},
        {"imatrix", m + ".gguf", "-f", m + ".txt", "-o", m + ".imatrix.gguf"},
        {"bench", m + ".onnx"},
        {"compare", m + ".onnx", m + ".q.onnx", "--data", m + ".idx"},
        {"report", m + ".json", "-o", (tmp_dir() / "r.html").string()},
        {"train", "--arch", "mlp", "--data", m, "--epochs", "1", "-o", (tmp_dir() / "t.onnx").string()},
    };
    for (const auto& args : cases) {
        SCOPED_TRACE(args[0]);
        expect_one_line_error(run_cli(args), m);
    }
}

}  // namespace
}  // namespace edgeq
