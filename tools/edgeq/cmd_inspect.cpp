#include "tools/edgeq/commands.h"
namespace edgeq::cli {
void register_inspect(CLI::App& app) { app.add_subcommand("inspect", "Show a model file's metadata and tensors"); }
}
