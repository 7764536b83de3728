// edgeq train --arch mlp|cnn|dwsep --data DIR --epochs N -o MODEL.onnx [--batch B] [--lr X] [--optimizer sgd|adam]
//             [--hidden W1,W2,...] [--preprocess scale=S,mean=M,std=D] [--seed S] [--threads N] [--limit N]
//             [--test-limit N]
//             [--json] [--quiet]
// Trains a Fashion-MNIST-style classifier (src/train/), writes it as ONNX and reports the test accuracy of the
// written file as `edgeq eval` measures it (same Session, same preprocessing).
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/parallel.h"
#include "eval/classify.h"
#include "eval/image_set.h"
#include "formats/onnx/onnx_export.h"
#include "tools/edgeq/commands.h"
#include "tools/edgeq/progress.h"
#include "tools/edgeq/result_json.h"
#include "train/models.h"
#include "train/trainer.h"

namespace edgeq::cli {
namespace {

struct TrainCli {
    std::string arch, data, out, optimizer = "adam", preprocess;
    std::vector<int64_t> hidden;  // mlp hidden widths (empty: 256,128)
    int epochs = 0, threads = 0;
    int64_t batch = 64, limit = 0, test_limit = 0;
    float lr = 0;  // 0: 2e-3 for adam, 0.05 for sgd
    uint64_t seed = 0;
    bool json = false, quiet = false;
};

Status run(const TrainCli& c) {
    using namespace edgeq::train;
    const auto t0 = std::chrono::steady_clock::now();
    auto since = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
    if (c.arch != "mlp" && c.arch != "cnn" && c.arch != "dwsep")
        return InvalidArgument("--arch '" + c.arch + "': expected mlp, cnn or dwsep");
    if (c.optimizer != "sgd" && c.optimizer != "adam")
        return InvalidArgument("--optimizer '" + c.optimizer + "': expected sgd or adam");
    if (!c.hidden.empty() && c.arch != "mlp") return InvalidArgument("--hidden applies to --arch mlp only");
    const int threads = c.threads > 0 ? c.threads : hardware_threads();
    Normalize norm;
    if (!c.preprocess.empty()) {
        EDGEQ_ASSIGN_OR_RETURN(Preprocess pre, parse_preprocess(c.preprocess));
        if (pre.std == 0.0f) return InvalidArgument("--preprocess '" + c.preprocess + "': std must not be 0");
        norm.scale = pre.scale;
        norm.mean = pre.mean;
        norm.std = pre.std;
    }
    EDGEQ_ASSIGN_OR_RETURN(Dataset train, load_idx_split(c.data, "train", norm, c.limit));
    EDGEQ_ASSIGN_OR_RETURN(Dataset test, load_idx_split(c.data, "t10k", norm, c.test_limit));
    ArchSpec spec;
    spec.arch = c.arch;
    spec.channels = train.images.dim(1);
    spec.height = train.images.dim(2);
    spec.width = train.images.dim(3);
    spec.classes = std::max<int64_t>(std::max(train.classes, test.classes), 2);
    spec.seed = c.seed;
    if (!c.hidden.empty()) spec.hidden = c.hidden;
    EDGEQ_ASSIGN_OR_RETURN(graph::Model model, build_classifier(spec));
    model.metadata_props.emplace_back("edgeq.preprocess", norm.preprocess_arg());
    EDGEQ_ASSIGN_OR_RETURN(Net net, Net::create(std::move(model), threads));
    int64_t n_params = 0;
    for (const auto& p : net.params()) n_params += p.value.numel();

    FitOptions fo;
    fo.epochs = c.epochs;
    fo.batch = c.batch;
    fo.optimizer.kind = c.optimizer;
    fo.optimizer.lr = c.lr > 0 ? c.lr : (c.optimizer == "adam" ? 2e-3f : 0.05f);
    fo.seed = c.seed;
    double time_to_90 = -1;
    nlohmann::json epochs = nlohmann::json::array();
    std::unique_ptr<Progress> bar;
    fo.on_batch = [&](int epoch, int64_t done, int64_t total, double loss) {
        if (done == 1)
            bar = std::make_unique<Progress>("train: epoch " + std::to_string(epoch) + "/" + std::to_string(c.epochs) +
                                                 " batch",
                                             total, c.quiet);
        if (bar->redraws() || done == total || done % 16 == 0) bar->update(done, "loss " + std::to_string(loss).substr(0, 6));
    };
    fo.on_epoch = [&](const EpochStats& s) {
        if (bar) bar->finish();
        const double at = since();
        if (time_to_90 < 0 && s.test_accuracy >= 0.9) time_to_90 = at;
        epochs.push_back({{"epoch", s.epoch}, {"train_loss", s.train_loss}, {"train_accuracy", s.train_accuracy},
                          {"test_accuracy", s.test_accuracy}, {"seconds", s.seconds}, {"elapsed", at}});
        if (!c.quiet)
            std::fprintf(stderr, "edgeq train: epoch %d/%d loss %.4f train %.4f test %.4f (%.1f s, %.1f s total)\n",
                         s.epoch, c.epochs, s.train_loss, s.train_accuracy, s.test_accuracy, s.seconds, at);
    };
    EDGEQ_ASSIGN_OR_RETURN(auto stats, fit(net, train, &test, fo));
    const double train_seconds = since();
    EDGEQ_RETURN_IF_ERROR(onnxio::save_model(net.model(), c.out));

    // The accuracy of the file as `edgeq eval` measures it.
    SessionOptions so;
    so.threads = threads;
    EDGEQ_ASSIGN_OR_RETURN(auto session, Session::open(c.out, so));
    ClassifyOptions co;
    EDGEQ_ASSIGN_OR_RETURN(co.images, find_idx_file(c.data, "t10k", "images"));
    EDGEQ_ASSIGN_OR_RETURN(co.labels, find_idx_file(c.data, "t10k", "labels"));
    co.scale = norm.scale;
    co.mean = norm.mean;
    co.std = norm.std;
    co.limit = c.test_limit;
    EDGEQ_ASSIGN_OR_RETURN(ClassifyResult r, eval_top1(*session, co));
    if (c.json) {
        nlohmann::json j{{"model", c.out},          {"arch", c.arch},
                         {"optimizer", c.optimizer}, {"lr", fo.optimizer.lr},
                         {"batch", c.batch},         {"seed", c.seed},
                         {"threads", threads},       {"train_examples", train.size()},
                         {"parameters", n_params},
                         {"epochs", epochs},         {"test_accuracy", r.value},
                         {"test_correct", r.correct}, {"test_count", r.count},
                         {"train_seconds", train_seconds}, {"seconds", since()},
                         {"time_to_90", time_to_90 < 0 ? nlohmann::json(nullptr) : nlohmann::json(time_to_90)},
                         {"preprocess", norm.preprocess_arg()}};
        add_result_envelope(j, "train", c.out, ResultLabel{"fp32", "fp32", 32.0},
                            {{"accuracy", r.value}, {"fp32_accuracy", r.value}, {"bytes", model_file_bytes(c.out)},
                             {"seconds", since()}});
        std::printf("%s\n", j.dump().c_str());
    } else {
        std::printf("%s: %s (%lld parameters) trained %d epoch(s) on %lld images in %.1f s; test top1 %.4f (%lld / %lld)\n",
                    c.out.c_str(), c.arch.c_str(), static_cast<long long>(n_params), c.epochs,
                    static_cast<long long>(train.size()), train_seconds, r.value, static_cast<long long>(r.correct),
                    static_cast<long long>(r.count));
        std::printf("evaluate with: edgeq eval %s --data %s --labels %s --preprocess %s\n", c.out.c_str(),
                    co.images.c_str(), co.labels.c_str(), norm.preprocess_arg().c_str());
    }
    return Status::Ok();
}

}  // namespace

void register_train(CLI::App& app) {
    auto c = std::make_shared<TrainCli>();
    auto* cmd = app.add_subcommand("train", "Train an image classifier (mlp, cnn, dwsep) on IDX data and write ONNX");
    cmd->footer("Example:\n  edgeq train --arch cnn --data /usr/share/datasets/fashion-mnist --epochs 2 -o cnn.onnx\n"
                "DIR holds train-/t10k-images-idx3-ubyte and -labels-idx1-ubyte (each may be .gz). Inputs are\n"
                "normalized as (pixel/255 - 0.2860) / 0.3530 unless --preprocess says otherwise; the model's metadata\n"
                "records it (edgeq.preprocess). A small MLP on 1-row IDX windows (docs/scenarios.md):\n"
                "  edgeq train --arch mlp --hidden 32,16 --data sensor --epochs 10 -o sensor.onnx \\\n"
                "              --preprocess scale=0.0078125,mean=1,std=1");
    cmd->add_option("--arch", c->arch, "mlp | cnn | dwsep")->required();
    cmd->add_option("--data", c->data, "Folder with the four MNIST-style IDX files (or train-/t10k-images.npy + -labels.npy)")->required();
    cmd->add_option("--epochs", c->epochs, "Passes over the training set")->required()->check(CLI::Range(1, 1000));
    cmd->add_option("-o,--output", c->out, "Output ONNX model")->required();
    cmd->add_option("--batch", c->batch, "Minibatch size (default 64)")->check(CLI::Range(1, 65536));
    cmd->add_option("--lr", c->lr, "Peak learning rate (default 2e-3 adam, 0.05 sgd; cosine decay to 10 %)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--optimizer", c->optimizer, "adam (default) | sgd (momentum 0.9)");
    cmd->add_option("--hidden", c->hidden, "mlp: hidden layer widths, e.g. 32,16 (default 256,128)")
        ->delimiter(',')
        ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
    cmd->add_option("--preprocess", c->preprocess,
                    "scale=S,mean=M,std=D: input = (pixel*S - M)/D (default scale=1/255,mean=0.2860,std=0.3530)");
    cmd->add_option("--seed", c->seed, "Seed for initialization and shuffling (default 0)");
    cmd->add_option("--threads,-t", c->threads, "Worker threads (default: all cores)")->check(CLI::Range(0, 1024));
    cmd->add_option("--limit", c->limit, "Train on the first N training images only")->check(CLI::NonNegativeNumber);
    cmd->add_option("--test-limit", c->test_limit, "Evaluate each epoch on the first N test images only (default: all)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_flag("--json", c->json, "Print one JSON object (per-epoch stats, test accuracy, time to 90 %)");
    cmd->add_flag("--quiet,-q", c->quiet, "No per-epoch lines on stderr");
    cmd->callback([c] { report("train", run(*c)); });
}

}  // namespace edgeq::cli
