// Labelled image sets for training: the four MNIST-style files of a folder (train-/t10k-images-idx3-ubyte and
// -labels-idx1-ubyte, each plain or .gz, or NumPy train-/t10k-images.npy and -labels.npy), normalized to float32
// NCHW, and seeded shuffled minibatches. Images: any numeric type, [n, features], [n, rows, cols] or
// [n, channels, rows, cols]; labels: integers in [0, 65535].
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "edgeq/status.h"
#include "edgeq/tensor.h"

namespace edgeq::train {

// input = (pixel · scale − mean) / std; the defaults are Fashion-MNIST's (the same numbers as `edgeq eval
// --preprocess scale=0.00392156862745098,mean=0.2860,std=0.3530`).
struct Normalize {
    float scale = 1.0f / 255.0f, mean = 0.2860f, std = 0.3530f;
    std::string preprocess_arg() const;  // "scale=...,mean=...,std=..." for edgeq eval
};

struct Dataset {
    Tensor images;                // F32 [n, 1, rows, cols], normalized
    std::vector<int32_t> labels;  // [n]
    int32_t classes = 0;          // max label + 1
    int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

// split: "train" or "t10k"; limit > 0 keeps the first `limit` examples. Errors name the missing/bad file.
Result<Dataset> load_idx_split(const std::string& dir, const std::string& split, const Normalize& norm = {},
                               int64_t limit = 0);
// Path of <dir>/<split>-<kind>-idx?-ubyte[.gz] or <dir>/<split>-<kind>.npy (kind "images"/"labels"), or NotFound
// listing what was tried.
Result<std::string> find_idx_file(const std::string& dir, const std::string& split, const std::string& kind);

// Minibatches over a dataset: a fresh permutation per epoch (seed + epoch, own Fisher–Yates on mt19937_64, so the
// order is the same on every platform); the last batch may be smaller.
class Batches {
public:
    Batches(const Dataset& d, int64_t batch, bool shuffle, uint64_t seed, int64_t epoch = 0);
    // Copies the next batch; false at the end of the epoch.
    bool next(Tensor& x, std::vector<int32_t>& y);
    int64_t count() const { return (static_cast<int64_t>(perm_.size()) + batch_ - 1) / batch_; }
    const std::vector<int64_t>& order() const { return perm_; }

private:
    const Dataset& d_;
    int64_t batch_, pos_ = 0;
    std::vector<int64_t> perm_;
};

}  // namespace edgeq::train
