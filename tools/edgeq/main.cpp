// edgeq command-line interface: a thin layer over the library; one file per subcommand.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <new>
#include <string>

#include "core/file.h"
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
    edgeq::cli::register_train(app);
    edgeq::cli::register_report(app);
    edgeq::cli::register_compare(app);
    edgeq::cli::register_qat(app);
    edgeq::cli::register_demo(app);
    edgeq::cli::register_autotune(app);
    edgeq::remove_temp_files_on_signal();  // Ctrl-C / kill: no "<out>.tmp.<pid>" left behind
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const std::bad_alloc&) {  // readers bound their allocations; this is the last line of defence
        std::string cmd;
        for (const CLI::App* sub : app.get_subcommands()) cmd = " " + sub->get_name();
        std::fprintf(stderr, "edgeq%s: out of memory\n", cmd.c_str());
        return 1;
    } catch (const CLI::ParseError& e) {
        // One line, like every other edgeq error: which command, what is wrong, where to look.
        std::string cmd;
        for (const CLI::App* sub : app.get_subcommands()) cmd = sub->get_name();
        std::string what = e.what();
        for (char& ch : what)
            if (ch == '\n') ch = ' ';
        const std::string help = cmd.empty() ? "edgeq --help" : "edgeq " + cmd + " --help";
        std::fprintf(stderr, "edgeq%s%s: %s (see '%s')\n", cmd.empty() ? "" : " ", cmd.c_str(), what.c_str(),
                     help.c_str());
        return e.get_exit_code() != 0 ? e.get_exit_code() : 2;
    }
    return edgeq::cli::exit_code();
}
