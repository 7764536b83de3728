// GGUF half of `edgeq compare` (llm/compare.h).
#include "llm/compare.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>

#include "edgeq/dtype.h"
#include "formats/gguf/gguf.h"
#include "llm/model.h"
#include "llm/perplexity.h"
#include "llm/tokenizer.h"

namespace edgeq::llm {

namespace {

void add(GgufTensorError& s, const float* ref, const float* q, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        const double r = ref[i], v = q[i];
        if (std::isnan(v)) ++s.nan;
        else if (std::isinf(v)) ++s.inf;
        if (!std::isfinite(r) || !std::isfinite(v)) continue;
        s.add(r, v);
    }
    s.count += n;
}

// Records each distinct matmul input of one forward pass, in order: consecutive products reading the same
// rows (q/k/v, gate/up) give one entry, named by the first weight.
class InputRecorder : public MatmulObserver {
public:
    struct Entry {
        std::string name;
        std::vector<float> x;
    };
    void observe(const Weight& w, const float* x, int64_t n_x) override {
        const size_t n = static_cast<size_t>(n_x * w.cols);
        if (!entries.empty() && entries.back().x.size() == n && std::memcmp(entries.back().x.data(), x, n * 4) == 0)
            return;
        entries.push_back({w.name, std::vector<float>(x, x + n)});
    }
    std::vector<Entry> entries;
};

Result<std::vector<float>> dequantize_tensor(const gguf::File& f, const gguf::TensorInfo& t) {
    if (!traits(t.type).dequantize)
        return Unsupported(f.path() + ": tensor '" + t.name + "' type " + dtype_name(t.type) + " has no decoder");
    const int64_t cols = t.ne[0], rows = t.n_rows();
    std::vector<float> out(static_cast<size_t>(cols * rows));
    const auto data = f.tensor_data(t);
    const size_t row_bytes = row_size(t.type, cols);
    for (int64_t r = 0; r < rows; ++r)
        dequantize_row(t.type, data.data() + static_cast<size_t>(r) * row_bytes, out.data() + r * cols, cols);
    return out;
}

}  // namespace

Result<GgufCompareReport> compare_gguf(const std::string& ref_path, const std::string& model_path,
                                       const GgufCompareOptions& opts) {
    ModelOptions mo;
    mo.threads = opts.threads;
    mo.n_ctx = opts.ctx;
    EDGEQ_ASSIGN_OR_RETURN(auto ref, Model::load(ref_path, mo));
    EDGEQ_ASSIGN_OR_RETURN(auto mod, Model::load(model_path, mo));
    const HParams &a = ref->hparams(), &b = mod->hparams();
    if (a.n_vocab != b.n_vocab || a.n_embd != b.n_embd || a.n_layer != b.n_layer || a.n_ff != b.n_ff)
        return InvalidArgument(model_path + ": not the same architecture as " + ref_path + " (vocab " +
                               std::to_string(b.n_vocab) + " vs " + std::to_string(a.n_vocab) + ", embd " +
                               std::to_string(b.n_embd) + " vs " + std::to_string(a.n_embd) + ", layers " +
                               std::to_string(b.n_layer) + " vs " + std::to_string(a.n_layer) + ")");
    EDGEQ_ASSIGN_OR_RETURN(Tokenizer tok, Tokenizer::from_gguf(ref->file()));
    std::ifstream in(opts.text_path, std::ios::binary);
    if (!in) return NotFound("--data " + opts.text_path + ": cannot open");
    const std::string text{std::istreambuf_iterator<char>(in), {}};
    const std::vector<int32_t> tokens = tok.encode(text, true);
    auto chunks_or = make_chunks(tokens, opts.ctx, opts.chunks, tok.bos());
    if (!chunks_or.ok())
        return InvalidArgument("--data " + opts.text_path + ": " + chunks_or.status().message());
    const auto& chunks = *chunks_or;

    GgufCompareReport rep;
    // Weights: every tensor of REF with two or more dims that MODEL has with the same shape.
    for (const auto& t : ref->file().tensors()) {
        if (t.ne.size() < 2) continue;
        const gguf::TensorInfo* q = mod->file().find_tensor(t.name);
        if (!q || q->ne != t.ne) continue;
        EDGEQ_ASSIGN_OR_RETURN(auto rv, dequantize_tensor(ref->file(), t));
        EDGEQ_ASSIGN_OR_RETURN(auto qv, dequantize_tensor(mod->file(), *q));
        GgufTensorError s;
        s.name = t.name;
        s.type = dtype_name(q->type);
        add(s, rv.data(), qv.data(), static_cast<int64_t>(rv.size()));
        if (s.nan || s.inf)
            rep.problems.push_back("MODEL weight '" + t.name + "': " + std::to_string(s.nan) + " NaN, " +
                                   std::to_string(s.inf) + " Inf");
        rep.weights.push_back(std::move(s));
    }

    std::vector<double> lr, lq;
    int64_t agree = 0;
    double nll_ref = 0, nll = 0, kld_sum = 0;
    int64_t preds = 0;
    int64_t nonfinite_logits = 0;
    for (size_t c = 0; c < chunks.size(); ++c) {
        InputRecorder rr, rq;
        ref->set_observer(&rr);
        mod->set_observer(&rq);
        EDGEQ_ASSIGN_OR_RETURN(auto ref_logits, ref->eval(chunks[c], 0, true));
        EDGEQ_ASSIGN_OR_RETURN(auto mod_logits, mod->eval(chunks[c], 0, true));
        ref->set_observer(nullptr);
        mod->set_observer(nullptr);
        if (rr.entries.size() != rq.entries.size())
            return Status(StatusCode::kInternal, "compare: the two forward passes read " + std::to_string(rr.entries.size()) + " and " +
                            std::to_string(rq.entries.size()) + " distinct matmul inputs");
        if (rep.activations.empty())
            for (const auto& e : rr.entries) {
                GgufTensorError s;
                s.name = e.name + " (input)";
                rep.activations.push_back(s);
            }
        for (size_t i = 0; i < rr.entries.size(); ++i)
            if (rr.entries[i].x.size() == rq.entries[i].x.size())
                add(rep.activations[i], rr.entries[i].x.data(), rq.entries[i].x.data(),
                    static_cast<int64_t>(rr.entries[i].x.size()));
        const int64_t V = a.n_vocab, n = static_cast<int64_t>(chunks[c].size());
        for (int64_t p = 0; p < n; ++p) {
            const std::span<const float> r(&ref_logits[static_cast<size_t>(p * V)], static_cast<size_t>(V));
            const std::span<const float> q(&mod_logits[static_cast<size_t>(p * V)], static_cast<size_t>(V));
            if (!std::all_of(q.begin(), q.end(), [](float v) { return std::isfinite(v); })) {
                ++nonfinite_logits;
                continue;
            }
            log_softmax(r, lr);
            log_softmax(q, lq);
            double kld = 0;
            for (int64_t i = 0; i < V; ++i) kld += std::exp(lr[static_cast<size_t>(i)]) * (lr[static_cast<size_t>(i)] - lq[static_cast<size_t>(i)]);
            kld_sum += kld;
            rep.kld_max = std::max(rep.kld_max, kld);
            agree += std::max_element(r.begin(), r.end()) - r.begin() == std::max_element(q.begin(), q.end()) - q.begin();
            if (p + 1 < n) {
                nll_ref -= lr[static_cast<size_t>(chunks[c][static_cast<size_t>(p + 1)])];
                nll -= lq[static_cast<size_t>(chunks[c][static_cast<size_t>(p + 1)])];
                ++preds;
            }
            ++rep.positions;
        }
        if (opts.progress) opts.progress(static_cast<int64_t>(c + 1), static_cast<int64_t>(chunks.size()));
    }
    if (nonfinite_logits)
        rep.problems.push_back("MODEL logits: " + std::to_string(nonfinite_logits) + " positions with NaN/Inf");
    for (const auto& s : rep.activations)
        if (s.nan || s.inf)
            rep.problems.push_back("MODEL activation '" + s.name + "': " + std::to_string(s.nan) + " NaN, " +
                                   std::to_string(s.inf) + " Inf");
    if (rep.positions) {
        rep.kld_mean = kld_sum / double(rep.positions);
        rep.top1_agreement = double(agree) / double(rep.positions);
        if (preds > 0) rep.ppl_ref = std::exp(nll_ref / double(preds)), rep.ppl = std::exp(nll / double(preds));
    }
    for (size_t i = 1; i < rep.activations.size(); ++i) {
        const double drop = rep.activations[i - 1].sqnr_db() - rep.activations[i].sqnr_db();
        if (std::isfinite(drop) && drop >= 6.0) {
            rep.first_jump = rep.activations[i].name, rep.first_jump_drop_db = drop;
            break;
        }
    }
    return rep;
}

}  // namespace edgeq::llm
