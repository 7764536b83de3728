// edgeq command-line interface: a thin layer over the library; one file per subcommand.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "tools/edgeq/commands.h"

int main(int argc, char** argv) {
    CLI::App app{"edgeq — quantize neural networks for edge deployment"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "edgeq 0.1.0");
    edgeq::cli::register_inspect(app);
    edgeq::cli::register_quantize(app);
    edgeq::cli::register_run(app);
    edgeq::cli::register_eval(app);
    edgeq::cli::register_generate(app);
    edgeq::cli::register_perplexity(app);
    edgeq::cli::register_imatrix(app);
    edgeq::cli::register_bench(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    return edgeq::cli::exit_code();
}
