#include "tools/edgeq/commands.h"
namespace edgeq::cli {
void register_quantize(CLI::App& app) { app.add_subcommand("quantize", "Quantize a GGUF model"); }
}
