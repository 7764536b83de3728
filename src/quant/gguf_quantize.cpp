#include "quant/gguf_quantize.h"

#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>

#include "core/parallel.h"
#include "formats/gguf/gguf.h"
#include "formats/llama2c/llama2c.h"
#include "quant/imatrix.h"

namespace edgeq {
namespace {

struct SourceTensor {
    recipe::TensorDesc desc;
    std::span<const uint8_t> data;
};

// The input model, whichever format it came from; owns what the spans point into.
struct Source {
    std::unique_ptr<gguf::File> gguf;
    llama2c::Model l2c;
    std::vector<gguf::KV> kvs;
    std::vector<SourceTensor> tensors;
    uint32_t alignment = gguf::kDefaultAlignment;
};

Result<std::unique_ptr<Source>> open_source(const QuantizeParams& p) {
    auto src = std::make_unique<Source>();
    if (!p.llama2c_tokenizer.empty()) {
        EDGEQ_ASSIGN_OR_RETURN(src->l2c, llama2c::load(p.input, p.llama2c_tokenizer));
        src->kvs = src->l2c.kvs;
        for (const auto& t : src->l2c.tensors) {
            std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(t.data.data()),
                                           t.data.size() * 4);
            src->tensors.push_back({{t.name, t.ne, DType::F32}, bytes});
        }
        return src;
    }
    EDGEQ_ASSIGN_OR_RETURN(src->gguf, gguf::File::open(p.input));
    src->kvs = src->gguf->kvs();
    src->alignment = src->gguf->alignment();
    for (const auto& t : src->gguf->tensors()) {
        src->tensors.push_back({{t.name, t.ne, t.type}, src->gguf->tensor_data(t)});
    }
    return src;
}

const gguf::Value* find_kv(const std::vector<gguf::KV>& kvs, const std::string& key) {
    for (const auto& kv : kvs)
        if (kv.key == key) return &kv.value;
    return nullptr;
}

Result<DType> parse_type(const std::string& s, const char* option) {
    auto t = dtype_from_name(s);
    if (!t || !has_codec(*t)) {
        std::string names;
        for (const auto& tr : all_dtypes())
            if (tr.quantize) names += std::string(names.empty() ? "" : " ") + tr.name;
        return InvalidArgument(std::string(option) + ": unknown tensor type '" + s + "' (known: " + names +
                               ")");
    }
    return *t;
}

}  // namespace

Result<QuantizeReport> quantize_model(const QuantizeParams& p, const QuantizeProgress& progress) {
    const auto t0 = std::chrono::steady_clock::now();
    // INT group formats follow llama.cpp's Q4_1 mix; their Q4_1 tensors get the restricted levels.
    const std::optional<IntGroupFormat> int_fmt = int_group_format(p.file_type);
    auto ft = recipe::file_type_from_name(int_fmt ? std::string("Q4_1") : p.file_type);
    if (!ft) {
        std::string names;
        for (const auto& f : recipe::file_types()) names += std::string(names.empty() ? "" : " ") + f.name;
        return InvalidArgument("unknown type '" + p.file_type + "' (known: " + names + " " +
                               int_group_format_names() + ")");
    }
    const bool gptq = p.method == "gptq";
    if (!p.method.empty() && p.method != "rtn" && !gptq)
        return InvalidArgument("unknown method '" + p.method + "' (known: rtn gptq)");
    if (gptq && !p.hessians)
        return InvalidArgument(
            "method gptq needs calibration Hessians (edgeq quantize ... --method gptq --calib TEXT)");
    recipe::MixOptions mix;
    mix.pure = p.pure;
    if (p.output_tensor_type) {
        EDGEQ_ASSIGN_OR_RETURN(mix.output_tensor_type,
                               parse_type(*p.output_tensor_type, "--output-tensor-type"));
    }
    if (p.token_embedding_type) {
        EDGEQ_ASSIGN_OR_RETURN(mix.token_embedding_type,
                               parse_type(*p.token_embedding_type, "--token-embedding-type"));
    }
    for (const auto& spec : p.tensor_types) {
        const auto eq = spec.rfind('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
            return InvalidArgument("--tensor-type '" + spec + "': expected REGEX=TYPE");
        recipe::TensorOverride o;
        o.pattern = spec.substr(0, eq);
        try {
            o.re = std::regex(o.pattern);
        } catch (const std::regex_error& e) {
            return InvalidArgument("--tensor-type '" + spec + "': bad regular expression: " + e.what());
        }
        EDGEQ_ASSIGN_OR_RETURN(o.type, parse_type(spec.substr(eq + 1), "--tensor-type"));
        mix.overrides.push_back(std::move(o));
    }
    if (std::filesystem::exists(p.output) && std::filesystem::exists(p.input) &&
        std::filesystem::equivalent(p.output, p.input)) {
        return InvalidArgument(p.output + ": output would overwrite the input");
    }

    std::optional<Imatrix> imatrix;
    if (!p.imatrix_path.empty()) {
        EDGEQ_ASSIGN_OR_RETURN(imatrix, load_imatrix(p.imatrix_path));
        mix.has_imatrix = true;
    }

    EDGEQ_ASSIGN_OR_RETURN(auto src, open_source(p));
    const gguf::Value* arch = find_kv(src->kvs, "general.architecture");
    if (!arch || arch->type != gguf::ValueType::STRING)
        return Corrupt(p.input + ": metadata key 'general.architecture' missing: not a model GGUF");
    auto hp = [&](const char* suffix) -> int64_t {
        const gguf::Value* v = find_kv(src->kvs, arch->str + "." + suffix);
        return v && v->is_integer() ? v->as_int() : 0;
    };
    recipe::ModelShape shape;
    shape.n_layer = hp("block_count");
    shape.n_head = hp("attention.head_count");
    shape.n_head_kv = hp("attention.head_count_kv");
    if (shape.n_head_kv == 0) shape.n_head_kv = shape.n_head;
    shape.n_expert = hp("expert_count");
    shape.is_falcon = arch->str == "falcon";

    // llama.cpp's order: it decides the per-layer counters and the output layout.
    std::stable_sort(src->tensors.begin(), src->tensors.end(),
                     [](const SourceTensor& a, const SourceTensor& b) {
                         return recipe::llama_order_less(a.desc.name, b.desc.name);
                     });
    std::vector<recipe::TensorDesc> descs;
    for (const auto& t : src->tensors) descs.push_back(t.desc);
    recipe::LlamaMix chooser(*ft, shape, mix, descs);

    // Decide every type first, so that user errors surface before any work.
    std::vector<recipe::Choice> choices;
    for (const auto& t : src->tensors) {
        EDGEQ_ASSIGN_OR_RETURN(auto c, chooser.choose(t.desc));
        if (c.quantize) {
            if (!has_codec(t.desc.type)) {
                return Unsupported("tensor '" + t.desc.name + "': cannot convert from type " +
                                   dtype_name(t.desc.type));
            }
            if (traits(t.desc.type).kind == DTypeKind::Block && !p.allow_requantize) {
                return InvalidArgument("tensor '" + t.desc.name + "' is already quantized (" +
                                       dtype_name(t.desc.type) +
                                       "); requantizing loses quality: pass "
                                       "--allow-requantize to do it anyway");
            }
        }
        choices.push_back(std::move(c));
    }

    const int threads = p.threads > 0 ? p.threads : hardware_threads();
    gguf::Writer w;
    for (const auto& kv : src->kvs) w.set(kv.key, kv.value);
    // As llama.cpp: these two move to the end (gguf_set_val removes and re-appends).
    w.remove("general.quantization_version");
    w.set("general.quantization_version", gguf::Value::U32v(2));
    w.remove("general.file_type");
    w.set("general.file_type", gguf::Value::U32v(ft->ftype_id));
    for (const char* k : {"split.no", "split.count", "split.tensors.count"}) w.remove(k);
    if (imatrix) {  // as llama-quantize writes them (strings cut to 127 bytes, counts as u32)
        w.set("quantize.imatrix.file", gguf::Value::Str(imatrix->path.substr(0, 127)));
        if (!imatrix->datasets.empty())
            w.set("quantize.imatrix.dataset", gguf::Value::Str(imatrix->datasets[0].substr(0, 127)));
        w.set("quantize.imatrix.entries_count",
              gguf::Value::U32v(static_cast<uint32_t>(imatrix->entries.size())));
        if (imatrix->chunk_count > 0)
            w.set("quantize.imatrix.chunks_count",
                  gguf::Value::U32v(static_cast<uint32_t>(imatrix->chunk_count)));
    }
    if (src->alignment != gguf::kDefaultAlignment) w.set_alignment(src->alignment);

    if (gptq) w.set("edgeq.quantize.method", gguf::Value::Str("gptq"));
    if (int_fmt) w.set("edgeq.quantize.int_format", gguf::Value::Str(int_group_name(*int_fmt)));

    QuantizeReport rep;
    rep.file_type = int_fmt ? int_group_name(*int_fmt) : ft->name;
    std::vector<float> f32;
    for (size_t i = 0; i < src->tensors.size(); ++i) {
        const SourceTensor& t = src->tensors[i];
        const recipe::Choice& c = choices[i];
        TensorResult r{t.desc.name, t.desc.ne, t.desc.type, c.type,         t.data.size(),
                       0,           false,     false,       c.fallback_note};
        int64_t n = 1;
        for (int64_t d : t.desc.ne) n *= d;
        rep.n_params += static_cast<uint64_t>(n);
        if (!c.fallback_note.empty()) ++rep.n_fallback;
        if (!c.quantize) {
            EDGEQ_RETURN_IF_ERROR(w.add_tensor(t.desc.name, t.desc.type, t.desc.ne, t.data));
            r.bytes_out = t.data.size();
        } else {
            const int64_t ne0 = t.desc.ne[0];
            const int64_t nrows = ne0 ? n / ne0 : 0;
            const float* x = nullptr;
            if (t.desc.type == DType::F32 &&
                reinterpret_cast<uintptr_t>(t.data.data()) % alignof(float) == 0) {
                x = reinterpret_cast<const float*>(t.data.data());
            } else {
                f32.resize(static_cast<size_t>(n));
                const size_t in_row = row_size(t.desc.type, ne0);
                parallel_for(nrows, threads, 16, [&](int64_t b, int64_t e) {
                    for (int64_t r0 = b; r0 < e; ++r0)
                        dequantize_row(t.desc.type, t.data.data() + static_cast<size_t>(r0) * in_row,
                                       f32.data() + r0 * ne0, ne0);
                });
                x = f32.data();
            }
            // imatrix: one vector per matrix (ne[2] > 1 for stacked experts).
            const float* imx = nullptr;
            int64_t n_mat = 1;
            for (size_t d = 2; d < t.desc.ne.size(); ++d) n_mat *= t.desc.ne[d];
            if (imatrix) {
                if (const auto* e = imatrix->find(t.desc.name)) {
                    if (static_cast<int64_t>(e->size()) != ne0 * n_mat) {
                        return Corrupt(imatrix->path + ": entry '" + t.desc.name + "' has " +
                                       std::to_string(e->size()) + " values, tensor needs " +
                                       std::to_string(ne0 * n_mat));
                    }
                    imx = e->data();
                    r.used_imatrix = true;
                }
            }
            const size_t out_row = row_size(c.type, ne0);
            std::vector<uint8_t> out;
            const int64_t rows_per_mat = n_mat ? nrows / n_mat : nrows;
            BlockTarget target{c.type, std::nullopt};
            if (int_fmt && c.type == DType::Q4_1 && ne0 % int_fmt->group == 0) target.int_format = int_fmt;
            const std::vector<double>* hess = nullptr;
            if (gptq && n_mat == 1 && gptq_supports(c.type)) {
                auto it = p.hessians->find(t.desc.name);
                if (it != p.hessians->end()) hess = &it->second;
            }
            if (gptq && !hess && traits(c.type).kind == DTypeKind::Block) ++rep.n_rtn_fallback;
            if (hess) {
                if (static_cast<int64_t>(hess->size()) != ne0 * ne0) {
                    return InvalidArgument("tensor '" + t.desc.name + "': Hessian has " +
                                           std::to_string(hess->size()) + " values, expected " +
                                           std::to_string(ne0) + "^2");
                }
                // The block fits are weighted by the imatrix when given, else by diag(H)/2 = mean x^2.
                std::vector<float> diag;
                if (!imx) {
                    diag.resize(static_cast<size_t>(ne0));
                    for (int64_t j = 0; j < ne0; ++j)
                        diag[static_cast<size_t>(j)] =
                            static_cast<float>((*hess)[static_cast<size_t>(j * ne0 + j)] * 0.5);
                }
                GgufGptqOptions go = p.gptq;
                go.threads = threads;
                auto q = quantize_gptq(target, x, nrows, ne0, *hess, imx ? imx : diag.data(), go);
                if (!q.ok())
                    return Status(q.status().code(), "tensor '" + t.desc.name + "': " + q.status().message());
                out = std::move(*q);
                r.used_gptq = true;
                ++rep.n_gptq;
            } else if (target.int_format) {
                out = quantize_int_group_rtn(*target.int_format, x, nrows, ne0, imx, threads);
            } else {
                out.resize(out_row * static_cast<size_t>(nrows));
                parallel_for(nrows, threads, 1, [&](int64_t b, int64_t e) {
                    // split at matrix boundaries so each chunk uses its own imatrix slice
                    while (b < e) {
                        const int64_t mat = rows_per_mat ? b / rows_per_mat : 0;
                        const int64_t end = std::min(e, (mat + 1) * rows_per_mat);
                        quantize(c.type, x + b * ne0, out.data() + static_cast<size_t>(b) * out_row, end - b,
                                 ne0, imx ? imx + mat * ne0 : nullptr);
                        b = end;
                    }
                });
            }
            r.bytes_out = out.size();
            if (target.int_format)
                r.bits_nominal = static_cast<double>(n) * int_group_bits_per_weight(*target.int_format);
            EDGEQ_RETURN_IF_ERROR(w.add_tensor_owned(t.desc.name, c.type, t.desc.ne, std::move(out)));
        }
        if (r.bits_nominal == 0) r.bits_nominal = 8.0 * static_cast<double>(r.bytes_out);
        rep.bytes_in += r.bytes_in;
        rep.bytes_out += r.bytes_out;
        rep.bits_nominal += r.bits_nominal;
        if (progress) progress(i, src->tensors.size(), r);
        rep.tensors.push_back(std::move(r));
    }
    EDGEQ_RETURN_IF_ERROR(w.write(p.output));
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return rep;
}

}  // namespace edgeq
