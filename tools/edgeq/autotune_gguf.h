// `edgeq autotune IN.gguf OUT.gguf --data TEXT (--max-kld X | --target-bpw B)`: per-tensor block-type search for
// GGUF LLMs. The subcommand itself (option parsing, ONNX path) lives in cmd_autotune.cpp; it calls this for .gguf.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "edgeq/status.h"

namespace edgeq::cli {

struct GgufAutotuneCli {
    std::string in, out;
    std::string data;                    // calibration / evaluation text (UTF-8)
    std::optional<double> max_kld;       // budget: mean KLD vs the input model on held-out text
    std::optional<double> target_bpw;    // budget: bits per weight (llama.cpp's: all tensor bytes / all parameters)
    std::vector<std::string> candidates; // block types, e.g. q2_k,q3_k,q4_k,q5_k,q6_k,q8_0 (empty = default set)
    std::string objective = "size";      // size | latency
    std::string imatrix;                 // optional importance matrix (.dat / .gguf)
    int ctx = 0;                         // 0 = default
    int threads = 0;
    bool json = false, quiet = false;
};

Status run_autotune_gguf(const GgufAutotuneCli& c);

}  // namespace edgeq::cli
