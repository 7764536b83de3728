// The training loop for classifiers: softmax cross-entropy on the logits, minibatches from train/data.h, an
// optimizer from train/optim.h, per-epoch test accuracy, and a learning rate that decays by cosine to 10 %
// over the run (lr_schedule = "cosine"; "const" keeps it).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "edgeq/status.h"
#include "train/data.h"
#include "train/net.h"
#include "train/optim.h"

namespace edgeq::train {

// Mean over the batch of −log softmax(logits)[label]; logits [N, C] (or [N, C, 1, ...]). dlogits (optional)
// receives d(loss)/d(logits) = (softmax − onehot) / N. Labels outside [0, C) are InvalidArgument.
Result<float> softmax_cross_entropy(const Tensor& logits, const std::vector<int32_t>& labels, Tensor* dlogits);

// Top-1 hits of logits [N, C] (ties to the lowest index, like edgeq eval).
int64_t count_correct(const Tensor& logits, const std::vector<int32_t>& labels);

struct EpochStats {
    int epoch = 0;              // 1-based
    double train_loss = 0;      // mean over the epoch's batches
    double train_accuracy = 0;  // on the (training-mode) forward passes
    double test_accuracy = -1;  // -1: no test set
    double seconds = 0;         // wall time of the epoch (training + test)
};

struct FitOptions {
    int epochs = 1;
    int64_t batch = 64;
    OptimizerOptions optimizer;
    std::string lr_schedule = "cosine";
    uint64_t seed = 0;
    // Progress: after every batch (done, total batches in the epoch, running mean loss) and after every epoch.
    std::function<void(int epoch, int64_t done, int64_t total, double loss)> on_batch;
    std::function<void(const EpochStats&)> on_epoch;
};

// Top-1 accuracy of the net (inference mode) on a dataset. Batches of 64 keep the activations in cache (batch 256
// was 2x slower per image: every activation a fresh, page-faulted 25 MB buffer).
Result<double> evaluate(Net& net, const Dataset& d, int64_t batch = 64);

// Trains net in place; returns one EpochStats per epoch. test may be null.
Result<std::vector<EpochStats>> fit(Net& net, const Dataset& train, const Dataset* test, const FitOptions& o);

}  // namespace edgeq::train
