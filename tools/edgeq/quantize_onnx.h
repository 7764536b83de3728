// `edgeq quantize IN.onnx OUT.onnx --method ...`: post-training quantization of ONNX models (quant/ptq/ptq.h).
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "edgeq/status.h"

namespace edgeq::cli {

struct OnnxQuantizeCli {
    std::string method, weights = "int8", acts, granularity, format = "qdq";
    bool symmetric = false, asymmetric = false;
    std::string calib, preprocess, calibrator = "minmax", clip;
    int64_t calib_samples = 0, calib_batch = 0;
    std::vector<std::string> exclude;
    std::vector<std::string> keep;  // REGEX=fp32|fp16|bf16|int8|int4|int2
    std::string policy;             // "" | edge
    bool keep_io_float = false, json = false, bias_correction = false, equalize = false, gptq = false, awq = false;
};

// Adds the ONNX-only options to the quantize subcommand.
void add_onnx_quantize_options(CLI::App* cmd, OnnxQuantizeCli& c);
// Runs it; `quiet` / `threads` come from the shared options.
Status run_quantize_onnx(const std::string& in, const std::string& out, const OnnxQuantizeCli& c, bool quiet,
                         int threads);

}  // namespace edgeq::cli
