#include "llm/imatrix_collector.h"

#include <algorithm>
#include <cstring>

#include "core/check.h"
#include "formats/gguf/gguf.h"
#include "llm/perplexity.h"
#include "llm/tokenizer.h"

namespace edgeq::llm {

void ImatrixCollector::observe(const Weight& w, const float* x, int64_t n_x) {
    Entry& e = entries_[w.name];
    if (e.sum2.empty()) e.sum2.assign(static_cast<size_t>(w.cols), 0.0);
    EDGEQ_CHECK(static_cast<int64_t>(e.sum2.size()) == w.cols);
    double* s = e.sum2.data();
    for (int64_t t = 0; t < n_x; ++t) {
        const float* r = x + t * w.cols;
        for (int64_t j = 0; j < w.cols; ++j) s[j] += static_cast<double>(r[j]) * r[j];
    }
    e.count += n_x;
    if (!full_hessian_) return;
    // Same input as the previous weight (q/k/v, gate/up): its sum already holds these rows. The pointer is
    // only a hint; an entry that was fed other inputs before keeps its own sum.
    const bool same = x == last_x_ && n_x == last_n_ && w.cols == last_cols_ && last_xtx_ != nullptr;
    if (!e.xtx) {
        if (same && e.count == n_x) {
            e.xtx = last_xtx_;
            return;
        }
        e.xtx = std::make_shared<std::vector<double>>(static_cast<size_t>(w.cols * w.cols), 0.0);
    } else if (same && e.xtx == last_xtx_) {
        return;
    }
    const auto K = static_cast<size_t>(w.cols);
    double* h = e.xtx->data();
    for (int64_t t = 0; t < n_x; ++t) {
        const float* r = x + t * w.cols;
        for (size_t i = 0; i < K; ++i) {
            const double xi = r[i];
            if (xi == 0.0) continue;
            double* hi = h + i * K;
            for (size_t j = i; j < K; ++j) hi[j] += xi * static_cast<double>(r[j]);
        }
    }
    last_x_ = x;
    last_n_ = n_x;
    last_cols_ = w.cols;
    last_xtx_ = e.xtx;
}

const ImatrixCollector::Entry* ImatrixCollector::find(const std::string& weight_name) const {
    auto it = entries_.find(weight_name);
    return it == entries_.end() ? nullptr : &it->second;
}

Result<int64_t> calibration_ctx(int64_t requested, int64_t trained, const std::string& model_path) {
    if (requested > 0 && trained > 0 && requested > trained)
        return InvalidArgument("--ctx " + std::to_string(requested) +
                               " is larger than the model's trained context of " + std::to_string(trained) +
                               " tokens (" + model_path + ": context_length)");
    const int64_t ctx = requested > 0 ? requested : (trained > 0 ? std::min<int64_t>(trained, 512) : 512);
    if (ctx < 2) return InvalidArgument("--ctx must be at least 2, got " + std::to_string(ctx));
    return ctx;
}

Result<CalibrationRun> run_calibration(Model& model, const std::string& text, const std::string& text_name,
                                       int64_t ctx, int64_t max_chunks, MatmulObserver* observer,
                                       const std::function<void(int64_t, int64_t, double)>& progress) {
    EDGEQ_ASSIGN_OR_RETURN(Tokenizer tok, Tokenizer::from_gguf(model.file()));
    const int64_t V = model.hparams().n_vocab;
    if (tok.n_vocab() != V)
        return Unsupported("tokenizer has " + std::to_string(tok.n_vocab()) +
                           " tokens but token_embd.weight has " + std::to_string(V) + " rows");
    const std::vector<int32_t> tokens = tok.encode(text, /*add_bos=*/true);
    const bool adds_bos = !tok.encode("", true).empty();
    auto chunks_or = make_chunks(tokens, ctx, max_chunks, adds_bos ? tok.bos() : -1);
    if (!chunks_or.ok()) return InvalidArgument(text_name + ": " + chunks_or.status().message());
    const std::vector<std::vector<int32_t>> chunks = std::move(*chunks_or);
    const auto n_chunks = static_cast<int64_t>(chunks.size());

    model.set_observer(observer);
    PplAccumulator ppl;
    for (int64_t ci = 0; ci < n_chunks; ++ci) {
        const std::vector<int32_t>& chunk = chunks[static_cast<size_t>(ci)];
        auto logits = model.eval(chunk, 0, /*all_logits=*/true);
        if (!logits.ok()) {
            model.set_observer(nullptr);
            return logits.status();
        }
        for (int64_t p = ctx / 2; p + 1 < ctx; ++p)
            ppl.add(std::span<const float>(logits->data() + p * V, static_cast<size_t>(V)),
                    chunk[static_cast<size_t>(p + 1)]);
        if (progress) progress(ci + 1, n_chunks, ppl.stats().ppl);
    }
    model.set_observer(nullptr);
    return CalibrationRun{n_chunks, ppl.stats().ppl};
}

bool imatrix_stores(const std::string& weight_name, bool include_output) {
    return weight_name.rfind("blk.", 0) == 0 || (include_output && weight_name == "output.weight");
}

namespace {

std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
    std::vector<uint8_t> b(v.size() * sizeof(float));
    if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
    return b;
}

}  // namespace

Status write_imatrix_gguf(const std::string& path, const ImatrixCollector& c, const ImatrixFileInfo& info) {
    gguf::Writer w;
    w.set("general.type", gguf::Value::Str("imatrix"));
    std::vector<gguf::Value> ds;
    for (const auto& d : info.datasets) ds.push_back(gguf::Value::Str(d));
    w.set("imatrix.datasets", gguf::Value::Array(gguf::ValueType::STRING, std::move(ds)));
    w.set("imatrix.chunk_count", gguf::Value::U32v(static_cast<uint32_t>(info.chunk_count)));
    w.set("imatrix.chunk_size", gguf::Value::U32v(static_cast<uint32_t>(info.chunk_size)));
    int64_t stored = 0;
    for (const auto& [name, e] : c.entries()) {  // std::map: name order, like llama-imatrix
        if (!imatrix_stores(name, info.include_output) || e.sum2.empty()) continue;
        std::vector<float> sums(e.sum2.begin(), e.sum2.end());
        const int64_t cols = static_cast<int64_t>(sums.size());
        EDGEQ_RETURN_IF_ERROR(w.add_tensor_owned(name + ".in_sum2", DType::F32, {cols, 1}, f32_bytes(sums)));
        EDGEQ_RETURN_IF_ERROR(w.add_tensor_owned(name + ".counts", DType::F32, {1, 1},
                                                 f32_bytes({static_cast<float>(e.count)})));
        ++stored;
    }
    if (stored == 0)
        return InvalidArgument(path + ": no weight activations were collected; nothing to write");
    return w.write(path);
}

}  // namespace edgeq::llm
