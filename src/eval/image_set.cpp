#include "eval/image_set.h"

#include <cmath>
#include <sstream>

#include "core/check.h"
#include "core/file.h"
#include "eval/classify.h"
#include "formats/data/npy.h"

namespace edgeq {
Result<Preprocess> parse_preprocess(const std::string& spec) {
    Preprocess p;
    if (spec.empty()) return p;
    std::stringstream ss(spec);
    std::string item;
    while (std::getline(ss, item, ',')) {
        const auto eq = item.find('=');
        if (eq == std::string::npos) return InvalidArgument("--preprocess '" + spec + "': expected key=value pairs");
        const std::string k = item.substr(0, eq), v = item.substr(eq + 1);
        float f = 0;
        try {
            size_t used = 0;
            f = std::stof(v, &used);
            if (used != v.size()) throw std::invalid_argument(v);
        } catch (const std::exception&) {
            return InvalidArgument("--preprocess: '" + v + "' is not a number");
        }
        if (!std::isfinite(f)) return InvalidArgument("--preprocess: '" + v + "' is not finite");
        if (k == "scale") p.scale = f;
        else if (k == "mean") p.mean = f;
        else if (k == "std") p.std = f;
        else return InvalidArgument("--preprocess: unknown key '" + k + "' (scale, mean, std)");
    }
    if (p.std == 0.0f) return InvalidArgument("--preprocess: std must not be 0");
    return p;
}

ImageSet::~ImageSet() = default;

Result<std::unique_ptr<ImageSet>> ImageSet::open(const graph::Model& model, const std::string& images,
                                                 const Preprocess& pre, int64_t limit, int64_t batch) {
    const std::string& mp = model.path.empty() ? std::string("model") : model.path;
    if (model.graph.inputs.size() != 1) {
        return InvalidArgument(mp + ": image data needs a model with one input, this one has " +
                               std::to_string(model.graph.inputs.size()));
    }
    const graph::ValueInfo& in = model.graph.inputs[0];
    if (!in.has_shape || in.shape.empty()) return InvalidArgument(mp + ": input '" + in.name + "' has no static shape");
    for (size_t i = 1; i < in.shape.size(); ++i)
        if (in.shape[i].value <= 0)
            return InvalidArgument(mp + ": input '" + in.name + "' dimension " + std::to_string(i) + " is not static");
    if (in.dtype && *in.dtype != DType::F32) {
        return Unsupported(mp + ": input '" + in.name + "' is " + dtype_name(*in.dtype) + "; images are fed as float32");
    }
    if (pre.std == 0.0f) return InvalidArgument("--preprocess: std must not be 0");
    std::unique_ptr<ImageSet> s(new ImageSet());
    s->path_ = images;
    s->input_ = in.name;
    s->pre_ = pre;
    s->dynamic_batch_ = in.shape[0].value < 0;
    s->per_image_ = 1;
    for (size_t i = 1; i < in.shape.size(); ++i) {
        s->image_shape_.push_back(in.shape[i].value);
        s->per_image_ *= in.shape[i].value;
    }
    Shape shape;
    if (images.ends_with(".npy")) {
        EDGEQ_ASSIGN_OR_RETURN(s->mapped_, MappedFile::open(images));
        EDGEQ_ASSIGN_OR_RETURN(auto v, data::view_npy({s->mapped_->data(), static_cast<size_t>(s->mapped_->size())},
                                                      images));
        s->dtype_ = v.dtype;
        shape = v.shape;
        s->data_ = v.data.data();
    } else {
        EDGEQ_ASSIGN_OR_RETURN(s->loaded_, load_array(images, "images", limit > 0 ? limit : -1));
        s->dtype_ = s->loaded_.dtype();
        shape = s->loaded_.shape();
        s->data_ = s->loaded_.raw();
    }
    if (s->dtype_ == DType::BOOL || traits(s->dtype_).block_size != 1 || storage_bytes(s->dtype_, 8) % 8 != 0)
        return Unsupported(images + ": images of type " + dtype_name(s->dtype_) + " are not supported");
    if (shape.empty()) return InvalidArgument(images + ": not an array of images (a scalar)");
    const int64_t n = shape[0];
    const int64_t numel = shape_numel(shape);
    if (n <= 0) return InvalidArgument(images + ": holds no images (shape " + shape_str(shape) + ")");
    if (numel / n != s->per_image_) {
        return InvalidArgument(images + ": each image has " + std::to_string(numel / n) + " values (shape " +
                               shape_str(shape) + ") but model input '" + in.name + "' takes " +
                               std::to_string(s->per_image_));
    }
    s->count_ = limit > 0 ? std::min(limit, n) : n;
    s->batch_ = batch > 0 ? batch : (s->dynamic_batch_ ? 64 : in.shape[0].value);
    if (!s->dynamic_batch_ && s->batch_ != in.shape[0].value) {
        return InvalidArgument(mp + ": input '" + in.name + "' has a fixed batch of " +
                               std::to_string(in.shape[0].value) + "; batch " + std::to_string(s->batch_) +
                               " not possible");
    }
    return s;
}

int64_t ImageSet::batch_images(int64_t start) const { return std::min(batch_, count_ - start); }

Result<Tensor> ImageSet::batch_at(int64_t start) const {
    EDGEQ_CHECK(start >= 0 && start < count_);
    const int64_t real = batch_images(start);
    const int64_t nb = dynamic_batch_ ? real : batch_;
    const size_t img_bytes = storage_bytes(dtype_, per_image_);
    Shape shape{nb};
    shape.insert(shape.end(), image_shape_.begin(), image_shape_.end());
    Tensor x(DType::F32, shape);
    float* xp = x.data<float>();
    for (int64_t b = 0; b < nb; ++b) {
        const int64_t img = start + std::min(b, real - 1);  // fixed batch: repeat the last image
        const Tensor raw = Tensor::from_bytes(dtype_, {per_image_},
                                              {data_ + static_cast<size_t>(img) * img_bytes, img_bytes});
        const std::vector<float> px = raw.to_f32();
        for (int64_t k = 0; k < per_image_; ++k) {
            const float v = (px[static_cast<size_t>(k)] * pre_.scale - pre_.mean) / pre_.std;
            if (!std::isfinite(v)) {
                return InvalidArgument(path_ + ": image " + std::to_string(img) + " value " + std::to_string(k) +
                                       " is " + std::to_string(v) + " after preprocessing (NaN/Inf in the data)");
            }
            xp[b * per_image_ + k] = v;
        }
    }
    if (mapped_) {  // stream: the pages of this batch are not needed again
        const auto off = static_cast<uint64_t>(data_ - mapped_->data()) + static_cast<uint64_t>(start) * img_bytes;
        mapped_->release(off, static_cast<uint64_t>(real) * img_bytes);
    }
    return x;
}

}  // namespace edgeq
