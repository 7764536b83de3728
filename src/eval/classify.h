// Classification accuracy of an ONNX model on an image set: `edgeq eval --metric top1`.
//
// Images: IDX (.gz too), .npy or .npz (first array, or the entry named "images"/"x"); labels: IDX, .npy or .npz
// ("labels"/"y"). Each image is flattened, preprocessed as (pixel * scale - mean) / std in float32 and reshaped to
// the model input's shape (NCHW) with the batch dimension replaced. Ties in the argmax go to the lowest index.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "edgeq/status.h"
#include "eval/session.h"

namespace edgeq {

struct ClassifyOptions {
    std::string images, labels;
    float scale = 1.0f, mean = 0.0f, std = 1.0f;
    int64_t limit = 0;   // 0: all
    int64_t batch = 0;   // 0: 64 if the model's batch dimension is dynamic, else its fixed size
    // Called after each batch with (images done, images in total); may be empty.
    std::function<void(int64_t done, int64_t total)> progress;
};

struct ClassifyResult {
    std::string metric = "top1";
    double value = 0;
    int64_t count = 0, correct = 0;
    double seconds = 0;
    int64_t batch = 0;
    int64_t classes = 0;             // the model's output width
    std::vector<int64_t> confusion;  // [label * classes + predicted]; labels outside [0, classes) not counted
};

// Per-class detection numbers from the confusion matrix: support = images with that label, predicted = images
// predicted as it, precision = tp / predicted, recall = tp / support, f1 = their harmonic mean (0 when undefined).
struct ClassStats {
    int64_t support = 0, predicted = 0, true_positives = 0;
    double precision = 0, recall = 0, f1 = 0;
};
std::vector<ClassStats> per_class_stats(const ClassifyResult& r);

Result<ClassifyResult> eval_top1(const Session& session, const ClassifyOptions& opts);

// Loads an array file (IDX, .npy, .npz) as a Tensor; for .npz takes `prefer` if present, else the first entry.
// max_items >= 0: the caller needs only the first max_items entries along dimension 0; an IDX file is then read
// no further (the result holds just those), .npy/.npz are returned whole.
Result<Tensor> load_array(const std::string& path, const std::string& prefer = "", int64_t max_items = -1);

}  // namespace edgeq
