#include "quant/recipe/llama_mix.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace edgeq::recipe {
namespace {

// llama_ftype ids (general.file_type). Stable in llama.cpp; never reuse.
constexpr FileType kFileTypes[] = {
    {"F32", 0, DType::F32, "32-bit float everywhere"},
    {"F16", 1, DType::F16, "16-bit float matrices, F32 norms"},
    {"BF16", 32, DType::BF16, "bfloat16 matrices, F32 norms"},
    {"Q4_0", 2, DType::Q4_0, "4.5 bpw, symmetric 4-bit blocks of 32"},
    {"Q4_1", 3, DType::Q4_1, "5.0 bpw, 4-bit blocks of 32 with min"},
    {"Q8_0", 7, DType::Q8_0, "8.5 bpw, 8-bit blocks of 32"},
    {"Q5_0", 8, DType::Q5_0, "5.5 bpw, symmetric 5-bit blocks of 32"},
    {"Q5_1", 9, DType::Q5_1, "6.0 bpw, 5-bit blocks of 32 with min"},
    {"Q2_K", 10, DType::Q2_K, "k-quant mix around Q2_K"},
    {"Q3_K_S", 11, DType::Q3_K, "Q3_K everywhere"},
    {"Q3_K_M", 12, DType::Q3_K, "Q3_K, attn_v/ffn_down/attn_output raised"},
    {"Q3_K_L", 13, DType::Q3_K, "Q3_K, attn_v/ffn_down Q5_K, attn_output Q5_K"},
    {"Q4_K_S", 14, DType::Q4_K, "Q4_K, a few attn_v/ffn_down Q5_K"},
    {"Q4_K_M", 15, DType::Q4_K, "Q4_K, attn_v/ffn_down Q6_K in more-bits layers"},
    {"Q5_K_S", 16, DType::Q5_K, "Q5_K everywhere"},
    {"Q5_K_M", 17, DType::Q5_K, "Q5_K, attn_v/ffn_down Q6_K in more-bits layers"},
    {"Q6_K", 18, DType::Q6_K, "6.56 bpw k-quant"},
    {"IQ4_NL", 25, DType::IQ4_NL, "4.5 bpw non-linear 4-bit blocks of 32"},
    {"TQ1_0", 36, DType::TQ1_0, "1.69 bpw ternary"},
    {"TQ2_0", 37, DType::TQ2_0, "2.06 bpw ternary"},
};

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

bool contains(const std::string& s, const char* sub) { return s.find(sub) != std::string::npos; }

enum class Category { Output, TokenEmbd, AttnQkv, AttnKvB, AttnV, AttnK, AttnQ, AttnOutput, FfnUp, FfnGate, FfnDown, Other };

Category category_of(const std::string& n) {
    if (n == "output.weight") return Category::Output;
    if (n == "token_embd.weight" || n == "per_layer_token_embd.weight") return Category::TokenEmbd;
    if (contains(n, "attn_qkv.weight")) return Category::AttnQkv;
    if (contains(n, "attn_kv_b.weight")) return Category::AttnKvB;
    if (contains(n, "attn_v.weight")) return Category::AttnV;
    if (contains(n, "attn_k.weight")) return Category::AttnK;
    if (contains(n, "attn_q.weight")) return Category::AttnQ;
    if (contains(n, "attn_output.weight")) return Category::AttnOutput;
    if (contains(n, "ffn_up")) return Category::FfnUp;
    if (contains(n, "ffn_gate")) return Category::FfnGate;
    if (contains(n, "ffn_down")) return Category::FfnDown;
    return Category::Other;
}

bool is_attn_v_like(Category c) { return c == Category::AttnV || c == Category::AttnQkv || c == Category::AttnKvB; }

bool use_more_bits(int i_layer, int n_layers) {
    return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

int layer_of(const std::string& name) {
    int layer = -1;
    if (std::sscanf(name.c_str(), "blk.%d.", &layer) != 1) return -1;
    return layer;
}

}  // namespace

std::span<const FileType> file_types() { return kFileTypes; }

std::optional<FileType> file_type_from_name(std::string_view name) {
    for (const auto& f : kFileTypes)
        if (iequals(f.name, name)) return f;
    return std::nullopt;
}

bool tensor_allows_quantization(const TensorDesc& t, bool quantize_output_tensor) {
    int n_dims = static_cast<int>(t.ne.size());
    while (n_dims > 1 && t.ne[static_cast<size_t>(n_dims - 1)] == 1) --n_dims;  // ggml_n_dims
    if (n_dims < 2) return false;
    const std::string& n = t.name;
    if (n.size() < 6 || n.compare(n.size() - 6, 6, "weight") != 0) return false;
    if (!quantize_output_tensor && n == "output.weight") return false;
    for (const char* s : {"_norm.weight", "ffn_gate_inp.weight", "altup", "laurel", "per_layer_model_proj",
                          "ssm_conv1d", "shortconv.conv.weight", "attn_rel_b.weight", ".position_embd."}) {
        if (contains(n, s)) return false;
    }
    if (n == "position_embd.weight" || n == "token_types.weight") return false;
    return true;
}

bool llama_order_less(const std::string& a, const std::string& b) {
    const int la = layer_of(a), lb = layer_of(b);
    if (la != lb) return la < lb;
    return a < b;
}

void sort_llama_order(std::vector<TensorDesc>& tensors) {
    std::stable_sort(tensors.begin(), tensors.end(),
                     [](const TensorDesc& a, const TensorDesc& b) { return llama_order_less(a.name, b.name); });
}

LlamaMix::LlamaMix(const FileType& ft, ModelShape shape, MixOptions opts, const std::vector<TensorDesc>& all)
    : ft_(ft), shape_(shape), opts_(std::move(opts)) {
    for (const auto& t : all) {
        const Category c = category_of(t.name);
        if (is_attn_v_like(c)) ++n_attention_wv_;
        if (t.name == "output.weight") has_output_ = true;
    }
    n_ffn_down_ = n_ffn_gate_ = n_ffn_up_ = static_cast<int>(shape_.n_layer);
}

DType row_fallback_type(DType target) {
    switch (target) {
        case DType::IQ1_S: case DType::IQ1_M: case DType::IQ2_XXS: case DType::IQ2_XS: case DType::IQ2_S:
        case DType::IQ3_XXS: case DType::IQ3_S: case DType::IQ4_XS: return DType::IQ4_NL;
        case DType::Q2_K: case DType::Q3_K: case DType::TQ1_0: case DType::TQ2_0: return DType::Q4_0;
        case DType::Q4_K: return DType::Q5_0;
        case DType::Q5_K: return DType::Q5_1;
        case DType::Q6_K: return DType::Q8_0;
        default: return target;
    }
}

DType LlamaMix::fallback(const TensorDesc& t, DType target, std::string* note) {
    const int64_t ncols = t.ne.empty() ? 0 : t.ne[0];
    const int64_t blk = traits(target).block_size;
    if (ncols % blk == 0) return target;
    DType r = row_fallback_type(target);  // 32-wide types have no smaller block: F16 below
    const bool f16 = ncols % traits(r).block_size != 0;
    if (f16) r = DType::F16;
    *note = "ncols " + std::to_string(ncols) + " not divisible by " + std::to_string(blk) + " (required for " +
            dtype_name(target) + ")" + (f16 ? " (must use F16 due to unusual shape)" : "") + " -> falling back to " +
            dtype_name(r);
    return r;
}

DType LlamaMix::rules(const TensorDesc& t, DType new_type) {
    const std::string& name = t.name;
    const Category cat = category_of(name);
    const std::string ft = ft_.name;
    const int64_t n_gqa = shape_.n_head_kv > 0 ? shape_.n_head / shape_.n_head_kv : 0;
    const bool falcon = shape_.is_falcon;
    auto layer_info = [&](int i_layer, int n_layer) {
        if (shape_.n_expert > 1) i_layer = layer_of(name);
        return std::pair<int, int>(i_layer, n_layer);
    };

    if (cat == Category::Output || (!has_output_ && cat == Category::TokenEmbd)) {
        if (opts_.output_tensor_type) return *opts_.output_tensor_type;
        const int64_t ncols = t.ne[0];
        if (falcon || ncols % traits(new_type).block_size != 0) return DType::Q8_0;
        if (new_type != DType::Q8_0) return DType::Q6_K;
        return new_type;
    }
    if (cat == Category::TokenEmbd) {
        if (opts_.token_embedding_type) return *opts_.token_embedding_type;
        if (ft == "TQ1_0" || ft == "TQ2_0") return DType::Q4_K;
        return new_type;
    }
    if (is_attn_v_like(cat)) {
        if (ft == "Q2_K") new_type = n_gqa >= 4 ? DType::Q4_K : DType::Q3_K;
        else if (ft == "Q3_K_M") new_type = i_attention_wv_ < 2 ? DType::Q5_K : DType::Q4_K;
        else if (ft == "Q3_K_L") new_type = DType::Q5_K;
        else if (ft == "IQ4_NL" && n_gqa >= 4) new_type = DType::Q5_K;
        else if ((ft == "Q4_K_M" || ft == "Q5_K_M") && use_more_bits(i_attention_wv_, n_attention_wv_))
            new_type = DType::Q6_K;
        else if (ft == "Q4_K_S" && i_attention_wv_ < 4) new_type = DType::Q5_K;
        if (shape_.n_expert == 8) new_type = DType::Q8_0;
        ++i_attention_wv_;
    } else if (cat == Category::AttnK) {
        if (shape_.n_expert == 8) new_type = DType::Q8_0;
    } else if (cat == Category::FfnDown) {
        auto [i_layer, n_layer] = layer_info(i_ffn_down_, n_ffn_down_);
        if (ft == "Q2_K") new_type = DType::Q3_K;
        else if (ft == "Q3_K_M")
            new_type = i_layer < n_layer / 16 ? DType::Q5_K
                       : (!falcon || use_more_bits(i_layer, n_layer)) ? DType::Q4_K
                                                                       : DType::Q3_K;
        else if (ft == "Q3_K_L") new_type = falcon ? DType::Q4_K : DType::Q5_K;
        else if (ft == "Q4_K_M") {
            if (falcon) {
                new_type = i_layer < n_layer / 16 ? DType::Q6_K
                           : use_more_bits(i_layer, n_layer) ? DType::Q5_K
                                                             : DType::Q4_K;
            } else if (use_more_bits(i_layer, n_layer)) {
                new_type = DType::Q6_K;
            }
        } else if (i_layer < n_layer / 8 && ft == "IQ4_NL" && !opts_.has_imatrix) new_type = DType::Q5_K;
        else if (ft == "Q5_K_M" && use_more_bits(i_layer, n_layer)) new_type = DType::Q6_K;
        else if (ft == "Q4_K_S" && !falcon && i_layer < n_layer / 8) new_type = DType::Q5_K;
        else if ((ft == "Q4_0" || ft == "Q5_0") && opts_.has_imatrix && i_layer < n_layer / 8)
            new_type = ft == "Q4_0" ? DType::Q4_1 : DType::Q5_1;
        ++i_ffn_down_;
    } else if (cat == Category::AttnOutput) {
        if (!falcon) {
            if (shape_.n_expert == 8) {
                if (ft == "Q2_K" || ft == "Q3_K_S" || ft == "Q3_K_M" || ft == "IQ4_NL" || ft == "Q4_K_S" ||
                    ft == "Q4_K_M")
                    new_type = DType::Q5_K;
            } else {
                if (ft == "Q2_K") new_type = DType::Q3_K;
                else if (ft == "Q3_K_M") new_type = DType::Q4_K;
                else if (ft == "Q3_K_L") new_type = DType::Q5_K;
            }
        } else if (ft == "Q3_K_L") {
            new_type = DType::Q4_K;
        }
    } else if (cat == Category::AttnQkv) {
        if (ft == "Q3_K_M" || ft == "Q3_K_L") new_type = DType::Q4_K;
        else if (ft == "Q4_K_M") new_type = DType::Q5_K;
        else if (ft == "Q5_K_M") new_type = DType::Q6_K;
    } else if (cat == Category::FfnGate) {
        ++i_ffn_gate_;
    } else if (cat == Category::FfnUp) {
        ++i_ffn_up_;
    }
    return new_type;
}

Result<Choice> LlamaMix::choose(const TensorDesc& t) {
    Choice c{t.type, false, {}};
    if (!tensor_allows_quantization(t, opts_.quantize_output_tensor)) return c;
    const Category cat = category_of(t.name);
    DType new_type = ft_.base;
    const char* forced_by = nullptr;  // a type the user named: never silently replaced
    if (opts_.token_embedding_type && cat == Category::TokenEmbd) {
        new_type = *opts_.token_embedding_type;
        forced_by = "--token-embedding-type";
    } else if (opts_.output_tensor_type && cat == Category::Output) {
        new_type = *opts_.output_tensor_type;
        forced_by = "--output-tensor-type";
    } else if (opts_.pure) {
        forced_by = "--pure";
    } else if (traits(ft_.base).kind == DTypeKind::Block) {
        // llama.cpp: the first pattern that matches AND changes the type wins; rules are skipped then.
        bool manual = false;
        for (const auto& o : opts_.overrides) {
            if (std::regex_search(t.name, o.re) && o.type != new_type) {
                new_type = o.type;
                manual = true;
                forced_by = "--tensor-type";
                break;
            }
        }
        if (!manual) new_type = rules(t, new_type);
        if (!manual) new_type = fallback(t, new_type, &c.fallback_note);
    }
    if (forced_by && t.ne[0] % traits(new_type).block_size != 0) {
        return InvalidArgument("tensor '" + t.name + "': row length " + std::to_string(t.ne[0]) +
                               " is not a multiple of " + std::to_string(traits(new_type).block_size) +
                               ", required by type " + dtype_name(new_type) + " (chosen by " + forced_by + ")");
    }
    if (forced_by && !has_codec(new_type)) {
        return InvalidArgument(std::string("type ") + dtype_name(new_type) + " (chosen by " + forced_by +
                               ") cannot be produced by edgeq");
    }
    c.type = new_type;
    c.quantize = new_type != t.type;
    return c;
}

}  // namespace edgeq::recipe
