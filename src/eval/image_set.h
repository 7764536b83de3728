// An image array fed to a model's single input in batches: what `edgeq eval --data` and the quantizer's
// `--calib` read. Images come from IDX (.gz too), .npy or .npz (the entry "images"/"x", or the only one).
// Each image is flattened, preprocessed as (pixel · scale − mean) / std in float32 and reshaped to the model
// input's shape (NCHW) with the batch dimension replaced.
//
// Memory: an uncompressed .npy is memory-mapped and converted one batch at a time, so a large calibration set
// costs address space, not resident memory beyond the pages a batch touches; IDX and .npz are read whole.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "edgeq/status.h"
#include "edgeq/tensor.h"
#include "graph/graph.h"

namespace edgeq {

class MappedFile;

struct Preprocess {
    float scale = 1.0f, mean = 0.0f, std = 1.0f;
};
// "scale=S,mean=M,std=D" (any subset; "" = identity). Errors name the bad key or value.
Result<Preprocess> parse_preprocess(const std::string& spec);

class ImageSet {
public:
    // Checks the model has one float input with static non-batch dims whose size matches each image.
    // limit > 0 keeps the first `limit` images; batch 0 = 64 for a dynamic batch, else the model's fixed batch.
    static Result<std::unique_ptr<ImageSet>> open(const graph::Model& model, const std::string& images,
                                                  const Preprocess& pre, int64_t limit = 0, int64_t batch = 0);
    ~ImageSet();

    const std::string& input_name() const { return input_; }
    int64_t count() const { return count_; }      // images used
    int64_t batch() const { return batch_; }      // batch size fed
    int64_t per_image() const { return per_image_; }
    bool dynamic_batch() const { return dynamic_batch_; }
    // Images in the batch starting at `start` (the last batch of a dynamic-batch model is shorter).
    int64_t batch_images(int64_t start) const;
    // The input tensor for the batch starting at `start`: [B, ...] with B = batch_images(start) for a dynamic
    // batch, else the fixed batch (padded by repeating the last image). Errors: NaN/Inf after preprocessing.
    Result<Tensor> batch_at(int64_t start) const;

private:
    ImageSet() = default;
    std::string path_, input_;
    Shape image_shape_;  // input shape without the batch dim
    Preprocess pre_;
    int64_t count_ = 0, batch_ = 0, per_image_ = 0;
    bool dynamic_batch_ = false;
    Tensor loaded_;                       // IDX / .npz: the whole array
    std::unique_ptr<MappedFile> mapped_;  // .npy: mapped
    DType dtype_ = DType::U8;
    const uint8_t* data_ = nullptr;       // first image's bytes (into loaded_ or mapped_)
};

}  // namespace edgeq
