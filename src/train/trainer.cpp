#include "train/trainer.h"

#include <chrono>
#include <cmath>

namespace edgeq::train {

Result<float> softmax_cross_entropy(const Tensor& logits, const std::vector<int32_t>& labels, Tensor* dlogits) {
    if (logits.dtype() != DType::F32 || logits.rank() < 2)
        return InvalidArgument("cross-entropy: logits must be float32 [N, C], got " + shape_str(logits.shape()));
    const int64_t N = logits.dim(0), C = logits.numel() / std::max<int64_t>(1, N);
    if (static_cast<int64_t>(labels.size()) != N)
        return InvalidArgument("cross-entropy: " + std::to_string(labels.size()) + " labels for " +
                               std::to_string(N) + " rows");
    if (dlogits) *dlogits = Tensor(DType::F32, logits.shape());
    const float* x = logits.data<float>();
    double loss = 0;
    std::vector<float> p(static_cast<size_t>(C));
    for (int64_t n = 0; n < N; ++n) {
        const int32_t y = labels[static_cast<size_t>(n)];
        if (y < 0 || y >= C)
            return InvalidArgument("cross-entropy: label " + std::to_string(y) + " outside [0, " + std::to_string(C) + ")");
        const float* r = x + n * C;
        float mx = r[0];
        for (int64_t c = 1; c < C; ++c) mx = std::max(mx, r[c]);
        double s = 0;
        for (int64_t c = 0; c < C; ++c) s += std::exp(static_cast<double>(r[c] - mx));
        loss += std::log(s) - (r[y] - mx);
        if (!dlogits) continue;
        float* d = dlogits->data<float>() + n * C;
        for (int64_t c = 0; c < C; ++c)
            d[c] = static_cast<float>((std::exp(static_cast<double>(r[c] - mx)) / s - (c == y ? 1.0 : 0.0)) /
                                      static_cast<double>(N));
    }
    return static_cast<float>(loss / static_cast<double>(std::max<int64_t>(1, N)));
}

int64_t count_correct(const Tensor& logits, const std::vector<int32_t>& labels) {
    const int64_t N = logits.dim(0), C = logits.numel() / std::max<int64_t>(1, N);
    const float* x = logits.data<float>();
    int64_t hits = 0;
    for (int64_t n = 0; n < N; ++n) {
        int64_t best = 0;
        for (int64_t c = 1; c < C; ++c)
            if (x[n * C + c] > x[n * C + best]) best = c;
        hits += best == labels[static_cast<size_t>(n)];
    }
    return hits;
}

Result<double> evaluate(Net& net, const Dataset& d, int64_t batch) {
    if (d.size() == 0) return InvalidArgument("evaluate: empty dataset");
    Batches it(d, batch, false, 0);
    Tensor x;
    std::vector<int32_t> y;
    int64_t hits = 0;
    const std::string out = net.output_name();
    while (it.next(x, y)) {
        EDGEQ_RETURN_IF_ERROR(net.forward({{net.input_name(), x}}, false));
        EDGEQ_ASSIGN_OR_RETURN(Tensor logits, net.value(out));
        hits += count_correct(logits, y);
    }
    return static_cast<double>(hits) / static_cast<double>(d.size());
}

Result<std::vector<EpochStats>> fit(Net& net, const Dataset& train, const Dataset* test, const FitOptions& o) {
    if (o.epochs < 1) return InvalidArgument("epochs must be >= 1");
    if (o.batch < 1) return InvalidArgument("batch must be >= 1");
    if (train.size() == 0) return InvalidArgument("empty training set");
    if (o.lr_schedule != "cosine" && o.lr_schedule != "const")
        return InvalidArgument("lr schedule '" + o.lr_schedule + "': expected cosine or const");
    EDGEQ_ASSIGN_OR_RETURN(auto opt, make_optimizer(o.optimizer));
    const std::string logits_name = net.logits_name();
    std::vector<EpochStats> stats;
    const int64_t per_epoch = (train.size() + o.batch - 1) / o.batch;
    const int64_t total_steps = per_epoch * o.epochs;
    int64_t step = 0;
    for (int e = 0; e < o.epochs; ++e) {
        const auto t0 = std::chrono::steady_clock::now();
        Batches it(train, o.batch, true, o.seed, e);
        Tensor x, dlogits;
        std::vector<int32_t> y;
        double loss_sum = 0;
        int64_t hits = 0, done = 0;
        while (it.next(x, y)) {
            if (o.lr_schedule == "cosine") {
                const double f = static_cast<double>(step) / static_cast<double>(total_steps);
                opt->set_lr(static_cast<float>(o.optimizer.lr * (0.1 + 0.45 * (1.0 + std::cos(M_PI * f)))));
            }
            EDGEQ_RETURN_IF_ERROR(net.forward({{net.input_name(), x}}, true));
            EDGEQ_ASSIGN_OR_RETURN(Tensor logits, net.value(logits_name));
            EDGEQ_ASSIGN_OR_RETURN(float loss, softmax_cross_entropy(logits, y, &dlogits));
            if (!std::isfinite(loss))
                return InvalidArgument("training diverged (loss " + std::to_string(loss) + " at epoch " +
                                       std::to_string(e + 1) + "); try a smaller --lr");
            hits += count_correct(logits, y);
            net.zero_grad();
            EDGEQ_RETURN_IF_ERROR(net.backward({{logits_name, dlogits}}));
            opt->step(net.params());
            loss_sum += loss;
            ++done;
            ++step;
            if (o.on_batch) o.on_batch(e + 1, done, per_epoch, loss_sum / static_cast<double>(done));
        }
        EpochStats s;
        s.epoch = e + 1;
        s.train_loss = loss_sum / static_cast<double>(std::max<int64_t>(1, done));
        s.train_accuracy = static_cast<double>(hits) / static_cast<double>(train.size());
        if (test) {
            EDGEQ_ASSIGN_OR_RETURN(s.test_accuracy, evaluate(net, *test));
        }
        s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        stats.push_back(s);
        if (o.on_epoch) o.on_epoch(s);
    }
    return stats;
}

}  // namespace edgeq::train
