// Subcommand registration. Each register_* adds a CLI11 subcommand whose callback runs the command and
// records its exit code (set_exit_code); errors are printed as one line "edgeq <cmd>: <message>".
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "edgeq/status.h"

namespace edgeq::cli {

void register_inspect(CLI::App& app);
void register_quantize(CLI::App& app);
void register_run(CLI::App& app);
void register_eval(CLI::App& app);
void register_generate(CLI::App& app);
void register_perplexity(CLI::App& app);
void register_imatrix(CLI::App& app);
void register_bench(CLI::App& app);
void register_train(CLI::App& app);
void register_report(CLI::App& app);
void register_compare(CLI::App& app);
void register_qat(CLI::App& app);
void register_autotune(CLI::App& app);
void register_demo(CLI::App& app);

int exit_code();
void set_exit_code(int code);
// Prints "edgeq <cmd>: <message>" to stderr and sets a non-zero exit code when s is not ok.
void report(const char* cmd, const Status& s);

// True when the file at path starts with the GGUF magic (false when it cannot be read).
bool has_gguf_magic(const std::string& path);

}  // namespace edgeq::cli
