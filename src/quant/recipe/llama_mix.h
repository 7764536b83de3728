// llama.cpp's per-tensor type rules for GGUF "file types" (Q4_K_M etc.), reimplemented so that
// `edgeq quantize` picks exactly the tensor types `llama-quantize` picks (llama.cpp commit 0ad4a86;
// checked against ../shared/fixtures). Facts: docs/quant/llama-mix.md.
//
// Use: build a LlamaMix from the model's tensor list and hyper-parameters, then call choose() once per
// tensor in llama.cpp's processing order (sort_llama_order), because some rules count tensors seen so far
// (attn_v / ffn_down "more bits" layers).
#pragma once

#include <cstdint>
#include <optional>
#include <regex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "edgeq/dtype.h"
#include "edgeq/status.h"

namespace edgeq::recipe {

// A llama.cpp file type: the name users type, its llama_ftype id (general.file_type) and base tensor type.
struct FileType {
    const char* name;       // "Q4_K_M"
    uint32_t ftype_id;      // LLAMA_FTYPE_MOSTLY_Q4_K_M = 15
    DType base;             // Q4_K
    const char* description;
};

std::span<const FileType> file_types();
std::optional<FileType> file_type_from_name(std::string_view name);  // case-insensitive

struct TensorOverride {
    std::string pattern;  // ECMAScript regex, searched in the tensor name
    std::regex re;
    DType type;
};

struct MixOptions {
    bool pure = false;                       // base type for every quantizable tensor, no mix rules
    bool has_imatrix = false;
    std::optional<DType> output_tensor_type;
    std::optional<DType> token_embedding_type;
    std::vector<TensorOverride> overrides;   // first matching pattern wins
    bool quantize_output_tensor = true;
};

struct ModelShape {
    int64_t n_layer = 0;
    int64_t n_head = 0;
    int64_t n_head_kv = 0;
    int64_t n_expert = 0;
    bool is_falcon = false;
};

struct TensorDesc {
    std::string name;
    std::vector<int64_t> ne;  // ggml order
    DType type;               // current type in the input file
};

// Decision for one tensor.
struct Choice {
    DType type;
    bool quantize;            // false: copied unchanged (norms, 1-D tensors, already the target type)
    std::string fallback_note;  // non-empty when the row length forced a fallback type
};

class LlamaMix {
public:
    LlamaMix(const FileType& ft, ModelShape shape, MixOptions opts, const std::vector<TensorDesc>& all);
    // Errors: a type the user forced (--pure, --tensor-type, --output-tensor-type, ...) that the row
    // length cannot hold.
    Result<Choice> choose(const TensorDesc& t);

private:
    DType rules(const TensorDesc& t, DType new_type);
    DType fallback(const TensorDesc& t, DType target, std::string* note);

    FileType ft_;
    ModelShape shape_;
    MixOptions opts_;
    bool has_output_ = false;
    int n_attention_wv_ = 0, i_attention_wv_ = 0;
    int n_ffn_down_ = 0, n_ffn_gate_ = 0, n_ffn_up_ = 0;
    int i_ffn_down_ = 0, i_ffn_gate_ = 0, i_ffn_up_ = 0;
};

// llama-quantize's replacement for a type whose block does not divide the row length (Q2_K/Q3_K/TQ -> Q4_0,
// Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, IQ types -> IQ4_NL); `target` itself for the 32-wide types
// (their only fallback is F16).
DType row_fallback_type(DType target);

// Whether llama.cpp would quantize this tensor at all (2-D+, name ends in "weight", not a norm, ...).
bool tensor_allows_quantization(const TensorDesc& t, bool quantize_output_tensor);

// llama.cpp's tensor order: non-layer tensors first, then by layer number ("blk.N."), then by name.
void sort_llama_order(std::vector<TensorDesc>& tensors);
bool llama_order_less(const std::string& a, const std::string& b);

}  // namespace edgeq::recipe
