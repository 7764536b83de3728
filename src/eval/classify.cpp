#include "eval/classify.h"

#include <chrono>
#include <cstring>

#include "formats/data/idx.h"
#include "formats/data/npy.h"
#include "formats/data/npz.h"

namespace edgeq {
namespace {

bool ends_with(const std::string& s, const std::string& suf) {
    return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

}  // namespace

Result<Tensor> load_array(const std::string& path, const std::string& prefer) {
    if (ends_with(path, ".npy")) return data::read_npy(path);
    if (!ends_with(path, ".npz")) return data::read_idx(path);
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
    if (model.graph.inputs.size() != 1) {
        return InvalidArgument(model.path + ": eval needs a model with one input, this one has " +
                               std::to_string(model.graph.inputs.size()));
    }
    if (model.graph.outputs.empty()) return InvalidArgument(model.path + ": model has no outputs");
    const graph::ValueInfo& in = model.graph.inputs[0];
    if (!in.has_shape || in.shape.empty()) return InvalidArgument(model.path + ": input '" + in.name + "' has no static shape");
    for (size_t i = 1; i < in.shape.size(); ++i)
        if (in.shape[i].value <= 0)
            return InvalidArgument(model.path + ": input '" + in.name + "' dimension " + std::to_string(i) + " is not static");
    const bool dynamic_batch = in.shape[0].value < 0;
    int64_t per_image = 1;
    for (size_t i = 1; i < in.shape.size(); ++i) per_image *= in.shape[i].value;
    if (in.dtype && *in.dtype != DType::F32) {
        return Unsupported(model.path + ": input '" + in.name + "' is " + dtype_name(*in.dtype) + "; eval feeds float32");
    }

    EDGEQ_ASSIGN_OR_RETURN(Tensor images, load_array(o.images, "images"));
    EDGEQ_ASSIGN_OR_RETURN(Tensor labels_t, load_array(o.labels, "labels"));
    if (images.rank() < 1 || images.numel() % std::max<int64_t>(images.dim(0), 1) != 0)
        return InvalidArgument(o.images + ": not an array of images");
    const int64_t n_images = images.dim(0);
    if (images.numel() / std::max<int64_t>(n_images, 1) != per_image) {
        return InvalidArgument(o.images + ": each image has " + std::to_string(images.numel() / std::max<int64_t>(n_images, 1)) +
                               " values but model input '" + in.name + "' takes " + std::to_string(per_image));
    }
    const auto labels = labels_t.to_i64();
    if (static_cast<int64_t>(labels.size()) != n_images) {
        return InvalidArgument(o.labels + ": " + std::to_string(labels.size()) + " labels for " + std::to_string(n_images) +
                               " images in " + o.images);
    }
    if (o.std == 0.0f) return InvalidArgument("--preprocess: std must not be 0");
    const int64_t count = o.limit > 0 ? std::min(o.limit, n_images) : n_images;
    int64_t batch = o.batch > 0 ? o.batch : (dynamic_batch ? 64 : in.shape[0].value);
    if (!dynamic_batch && batch != in.shape[0].value) {
        return InvalidArgument(model.path + ": input '" + in.name + "' has a fixed batch of " +
                               std::to_string(in.shape[0].value) + "; --batch " + std::to_string(batch) + " not possible");
    }
    const auto pixels = images.to_f32();
    ClassifyResult r;
    r.batch = batch;
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t start = 0; start < count; start += batch) {
        const int64_t nb = dynamic_batch ? std::min(batch, count - start) : batch;
        Shape shape{nb};
        for (size_t i = 1; i < in.shape.size(); ++i) shape.push_back(in.shape[i].value);
        Tensor x(DType::F32, shape);
        float* xp = x.data<float>();
        for (int64_t b = 0; b < nb; ++b) {
            const int64_t img = std::min(start + b, count - 1);  // fixed batch: pad the last batch by repeating
            for (int64_t k = 0; k < per_image; ++k) {
                const float p = pixels[static_cast<size_t>(img * per_image + k)];
                xp[b * per_image + k] = (p * o.scale - o.mean) / o.std;
            }
        }
        EDGEQ_ASSIGN_OR_RETURN(auto outs, session.run({{in.name, x}}));
        const Tensor& logits = outs.at(model.graph.outputs[0].name);
        if (logits.rank() < 1 || logits.dim(0) != nb) {
            return Corrupt(model.path + ": output '" + model.graph.outputs[0].name + "' has shape " +
                           shape_str(logits.shape()) + ", expected a leading batch of " + std::to_string(nb));
        }
        const auto l = logits.to_f32();
        const int64_t classes = logits.numel() / nb;
        for (int64_t b = 0; b < nb && start + b < count; ++b) {
            int64_t best = 0;
            for (int64_t c = 1; c < classes; ++c)
                if (l[static_cast<size_t>(b * classes + c)] > l[static_cast<size_t>(b * classes + best)]) best = c;
            if (best == labels[static_cast<size_t>(start + b)]) ++r.correct;
            ++r.count;
        }
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.value = r.count ? static_cast<double>(r.correct) / static_cast<double>(r.count) : 0.0;
    return r;
}

}  // namespace edgeq
