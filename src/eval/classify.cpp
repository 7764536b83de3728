#include "eval/classify.h"

#include <chrono>
#include <cstring>

#include "eval/image_set.h"
#include "formats/data/idx.h"
#include "formats/data/npy.h"
#include "formats/data/npz.h"

namespace edgeq {
Result<Tensor> load_array(const std::string& path, const std::string& prefer, int64_t max_items) {
    if (path.ends_with(".npy")) return data::read_npy(path);
    if (!path.ends_with(".npz")) return data::read_idx(path, max_items);
    EDGEQ_ASSIGN_OR_RETURN(auto m, data::read_npz(path));
    if (m.empty()) return Corrupt(path + ": archive has no .npy entries");
    std::vector<std::string> keys{prefer};
    if (prefer == "images") keys.push_back("x");
    if (prefer == "labels") keys.push_back("y");
    for (const auto& k : keys)
        if (m.count(k)) return m.at(k);
    if (m.size() == 1) return m.begin()->second;
    std::string names;
    for (const auto& [k, v] : m) names += (names.empty() ? "" : ", ") + k;
    return InvalidArgument(path + ": which array? expected an entry named '" + prefer + "' (entries: " + names + ")");
}

Result<ClassifyResult> eval_top1(const Session& session, const ClassifyOptions& o) {
    const graph::Model& model = session.model();
    if (model.graph.outputs.empty()) return InvalidArgument(model.path + ": model has no outputs");
    EDGEQ_ASSIGN_OR_RETURN(auto set, ImageSet::open(model, o.images, Preprocess{o.scale, o.mean, o.std}, o.limit,
                                                    o.batch));
    EDGEQ_ASSIGN_OR_RETURN(Tensor labels_t, load_array(o.labels, "labels"));
    const auto labels = labels_t.to_i64();
    const int64_t count = set->count();
    if (static_cast<int64_t>(labels.size()) < count) {
        return InvalidArgument(o.labels + ": " + std::to_string(labels.size()) + " labels for " +
                               std::to_string(count) + " images in " + o.images);
    }
    const int64_t batch = set->batch();
    ClassifyResult r;
    r.batch = batch;
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t start = 0; start < count; start += batch) {
        const int64_t nb = set->dynamic_batch() ? set->batch_images(start) : batch;
        EDGEQ_ASSIGN_OR_RETURN(Tensor x, set->batch_at(start));
        EDGEQ_ASSIGN_OR_RETURN(auto outs, session.run({{set->input_name(), x}}));
        const Tensor& logits = outs.at(model.graph.outputs[0].name);
        if (logits.rank() < 1 || logits.dim(0) != nb) {
            return Corrupt(model.path + ": output '" + model.graph.outputs[0].name + "' has shape " +
                           shape_str(logits.shape()) + ", expected a leading batch of " + std::to_string(nb));
        }
        const auto l = logits.to_f32();
        const int64_t classes = logits.numel() / nb;
        if (r.classes == 0) {
            r.classes = classes;
            r.confusion.assign(static_cast<size_t>(classes * classes), 0);
        }
        for (int64_t b = 0; b < nb && start + b < count; ++b) {
            int64_t best = 0;
            for (int64_t c = 1; c < classes; ++c)
                if (l[static_cast<size_t>(b * classes + c)] > l[static_cast<size_t>(b * classes + best)]) best = c;
            const int64_t label = labels[static_cast<size_t>(start + b)];
            if (best == label) ++r.correct;
            if (label >= 0 && label < r.classes && classes == r.classes)
                ++r.confusion[static_cast<size_t>(label * classes + best)];
            ++r.count;
        }
        if (o.progress) o.progress(r.count, count);
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.value = r.count ? static_cast<double>(r.correct) / static_cast<double>(r.count) : 0.0;
    return r;
}

std::vector<ClassStats> per_class_stats(const ClassifyResult& r) {
    std::vector<ClassStats> out(static_cast<size_t>(r.classes));
    for (int64_t t = 0; t < r.classes; ++t) {
        for (int64_t p = 0; p < r.classes; ++p) {
            const int64_t n = r.confusion[static_cast<size_t>(t * r.classes + p)];
            out[static_cast<size_t>(t)].support += n;
            out[static_cast<size_t>(p)].predicted += n;
            if (t == p) out[static_cast<size_t>(t)].true_positives = n;
        }
    }
    for (auto& s : out) {
        const double tp = static_cast<double>(s.true_positives);
        s.precision = s.predicted ? tp / static_cast<double>(s.predicted) : 0.0;
        s.recall = s.support ? tp / static_cast<double>(s.support) : 0.0;
        s.f1 = s.precision + s.recall > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0.0;
    }
    return out;
}

}  // namespace edgeq
