// Placeholder until the GGUF search lands (replaced by the GGUF autotune work, issue 8 item 3).
#include "autotune_gguf.h"

namespace edgeq::cli {

Status run_autotune_gguf(const GgufAutotuneCli& c) {
    return InvalidArgument(c.in + ": GGUF autotune is not available in this build yet");
}

}  // namespace edgeq::cli
