// Model quantization for GGUF (the library behind `edgeq quantize`): llama.cpp's llama-quantize semantics.
//
// Input: a GGUF model, or a llama2.c checkpoint + tokenizer (converted on the fly). Each tensor gets the type
// chosen by recipe::LlamaMix (file type mix rules, user overrides, row-length fallbacks), is converted to F32
// if needed and quantized with the reference codecs of the dtype table (optionally weighted by an imatrix),
// multi-threaded over rows. The output is written to a temporary file and renamed: never a partial file.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "edgeq/dtype.h"
#include "edgeq/status.h"
#include "quant/gguf_gptq.h"
#include "quant/recipe/llama_mix.h"

namespace edgeq {

struct QuantizeParams {
    std::string input;
    std::string output;
    std::string file_type = "Q8_0";         // a recipe::file_types() name, or INT{2,3,4}_G{32,64}
    std::string imatrix_path;               // llama.cpp imatrix GGUF, optional
    std::string llama2c_tokenizer;          // set: input is a llama2.c checkpoint
    std::vector<std::string> tensor_types;  // "REGEX=TYPE", first match wins
    std::optional<std::string> output_tensor_type;
    std::optional<std::string> token_embedding_type;
    bool pure = false;
    bool allow_requantize = false;
    int threads = 0;  // 0: all hardware threads
    // "" or "rtn": the ggml quantizers (round to nearest with their scale search); "gptq": GPTQ
    // (quant/gguf_gptq.h) for every tensor that has a Hessian in `hessians` and a type GPTQ supports (the
    // others, e.g. token_embd, fall back to "rtn" and are counted in QuantizeReport::n_rtn_fallback).
    std::string method;
    // weight name -> H = 2/N X^T X (ne0 x ne0, row-major) of that weight's input activations; for "gptq".
    const std::map<std::string, std::vector<double>>* hessians = nullptr;
    GgufGptqOptions gptq;
};

struct TensorResult {
    std::string name;
    std::vector<int64_t> ne;
    DType from, to;
    uint64_t bytes_in = 0, bytes_out = 0;
    bool used_imatrix = false;
    bool used_gptq = false;
    std::string fallback_note;
    double bits_nominal =
        0;  // information bits (INT group formats: bits + 32/group per weight; else 8*bytes_out)
};

struct QuantizeReport {
    std::string file_type;
    std::vector<TensorResult> tensors;  // in output order
    uint64_t bytes_in = 0, bytes_out = 0, n_params = 0;
    int n_fallback = 0;
    int n_gptq = 0, n_rtn_fallback = 0;  // tensors GPTQ quantized / block-type tensors it left to rounding
    double bits_nominal = 0;             // sum of TensorResult::bits_nominal
    double seconds = 0;
};

// Called after each tensor (index in output order, total): progress reporting.
using QuantizeProgress = std::function<void(size_t index, size_t total, const TensorResult&)>;

Result<QuantizeReport> quantize_model(const QuantizeParams& params, const QuantizeProgress& progress = {});

}  // namespace edgeq
