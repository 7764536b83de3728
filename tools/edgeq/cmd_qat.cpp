// edgeq qat IN.onnx OUT.onnx --data DIR --weights int8|int4|int2 --acts int8|float [--granularity
// channel|tensor]
//          [--epochs N] [--lr X] [--batch B] [--limit N] [--preprocess scale=S,mean=M,std=D] [--calib-samples
//          N]
//          [--seed S] [--threads N] [--json] [--quiet]
// Quantization-aware fine-tuning (src/train/qat.h) of an FP32 ONNX classifier on MNIST-style IDX data,
// written as the same QDQ ONNX file `edgeq quantize --method static` (or weight-only with --acts float)
// writes.
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/parallel.h"
#include "eval/image_set.h"
#include "formats/onnx/onnx_export.h"
#include "formats/onnx/onnx_import.h"
#include "tools/edgeq/commands.h"
#include "tools/edgeq/progress.h"
#include "tools/edgeq/result_json.h"
#include "train/qat.h"

namespace edgeq::cli {
namespace {

struct QatCli {
    std::string in, out, data, weights, acts = "int8", granularity = "channel", preprocess,
                                        optimizer = "adam";
    int epochs = 1, threads = 0;
    int64_t batch = 64, limit = 0, calib_samples = 512;
    float lr = 1e-4f;
    uint64_t seed = 0;
    bool json = false, quiet = false;
};

Status run(const QatCli& c) {
    using namespace edgeq::train;
    const auto t0 = std::chrono::steady_clock::now();
    QatOptions o;
    auto w = quant::ptq::qtype_from_name(c.weights);
    if (!w || (*w != quant::ptq::QType::I8 && *w != quant::ptq::QType::I4 && *w != quant::ptq::QType::I2))
        return InvalidArgument("--weights '" + c.weights + "': expected int8, int4 or int2");
    o.weights = *w;
    if (c.acts == "int8")
        o.quantize_acts = true;
    else if (c.acts == "float")
        o.quantize_acts = false;
    else
        return InvalidArgument("--acts '" + c.acts + "': expected int8 (static QDQ) or float (weight-only)");
    if (c.granularity == "channel")
        o.per_channel = true;
    else if (c.granularity == "tensor")
        o.per_channel = false;
    else if (c.granularity.rfind("group:", 0) == 0)
        return Unsupported("--granularity '" + c.granularity +
                           "': QAT supports channel or tensor (group:N not yet)");
    else
        return InvalidArgument("--granularity '" + c.granularity + "': expected channel or tensor");
    if (c.optimizer != "sgd" && c.optimizer != "adam")
        return InvalidArgument("--optimizer '" + c.optimizer + "': expected sgd or adam");
    if (c.in == c.out) return InvalidArgument("OUT must differ from IN (" + c.in + ")");
    o.threads = c.threads > 0 ? c.threads : hardware_threads();
    o.calib_samples = c.calib_samples;

    EDGEQ_ASSIGN_OR_RETURN(graph::Model model, onnxio::load_model(c.in));
    // Preprocessing: --preprocess, else the model's edgeq.preprocess metadata, else Fashion-MNIST's numbers.
    std::string pre_spec = c.preprocess;
    bool has_meta = false;
    for (const auto& [k, v] : model.metadata_props)
        if (k == "edgeq.preprocess") {
            has_meta = true;
            if (pre_spec.empty()) pre_spec = v;
        }
    Normalize norm;
    if (!pre_spec.empty()) {
        EDGEQ_ASSIGN_OR_RETURN(Preprocess p, parse_preprocess(pre_spec));
        norm.scale = p.scale;
        norm.mean = p.mean;
        norm.std = p.std;
    }
    EDGEQ_ASSIGN_OR_RETURN(Dataset train, load_idx_split(c.data, "train", norm, c.limit));

    o.fit.epochs = c.epochs;
    o.fit.batch = c.batch;
    o.fit.optimizer.kind = c.optimizer;
    o.fit.optimizer.lr = c.lr;
    o.fit.seed = c.seed;
    std::unique_ptr<Progress> bar;
    o.fit.on_batch = [&](int epoch, int64_t done, int64_t total, double loss) {
        if (done == 1)
            bar = std::make_unique<Progress>(
                "qat: epoch " + std::to_string(epoch) + "/" + std::to_string(c.epochs) + " batch", total,
                c.quiet);
        if (bar->redraws() || done == total || done % 16 == 0)
            bar->update(done, "loss " + std::to_string(loss).substr(0, 6));
        if (done == total) bar.reset();
    };
    EDGEQ_ASSIGN_OR_RETURN(QatReport rep, qat_onnx(model, o, train, nullptr));
    model.metadata_props.emplace_back("edgeq.qat", c.weights + " weights, " + c.acts + " activations, " +
                                                       std::to_string(c.epochs) + " epoch(s) on " +
                                                       std::to_string(train.size()) + " images");
    const std::string pre_used = pre_spec.empty() ? norm.preprocess_arg() : pre_spec;
    if (!has_meta) model.metadata_props.emplace_back("edgeq.preprocess", pre_used);
    EDGEQ_RETURN_IF_ERROR(onnxio::save_model(model, c.out));
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double loss = rep.epochs.empty() ? 0 : rep.epochs.back().train_loss;
    if (c.json) {
        nlohmann::json epochs = nlohmann::json::array();
        for (const auto& s : rep.epochs)
            epochs.push_back({{"epoch", s.epoch},
                              {"train_loss", s.train_loss},
                              {"train_accuracy", s.train_accuracy},
                              {"seconds", s.seconds}});
        nlohmann::json j{{"input", c.in},
                         {"output", c.out},
                         {"weights", c.weights},
                         {"acts", c.acts},
                         {"granularity", c.granularity},
                         {"train_examples", train.size()},
                         {"lr", c.lr},
                         {"epochs", epochs},
                         {"batchnorms_folded", rep.batchnorms_folded},
                         {"weights_fake_quantized", rep.weights_fake_quantized},
                         {"acts_fake_quantized", rep.acts_fake_quantized},
                         {"channels_total", rep.channels_total},
                         {"channels_exact", rep.channels_exact},
                         {"quantized_nodes", rep.ptq.nodes.size()},
                         {"opset", rep.ptq.opset},
                         {"preprocess", pre_used},
                         {"seconds", secs}};
        add_result_envelope(
            j, "qat", c.out, ResultLabel{"qat", c.weights, rep.ptq.bits_per_weight()},
            {{"bytes", model_file_bytes(c.out)}, {"input_bytes", model_file_bytes(c.in)}, {"seconds", secs}});
        std::printf("%s\n", j.dump().c_str());
    } else if (!c.quiet) {
        std::printf(
            "%s -> %s (qat %s weights, %s acts): %lld weights and %lld activations fake-quantized, "
            "%d epoch(s) on %lld images, final loss %.4f; %zu nodes quantized, %.3f bits per weight, %.1f "
            "s\n",
            c.in.c_str(), c.out.c_str(), c.weights.c_str(), c.acts.c_str(),
            static_cast<long long>(rep.weights_fake_quantized),
            static_cast<long long>(rep.acts_fake_quantized), c.epochs, static_cast<long long>(train.size()),
            loss, rep.ptq.nodes.size(), rep.ptq.bits_per_weight(), secs);
        std::printf(
            "evaluate with: edgeq eval %s --data %s/t10k-images-idx3-ubyte.gz --labels "
            "%s/t10k-labels-idx1-ubyte.gz --preprocess %s\n",
            c.out.c_str(), c.data.c_str(), c.data.c_str(), pre_used.c_str());
    }
    return Status::Ok();
}

}  // namespace

void register_qat(CLI::App& app) {
    auto c = std::make_shared<QatCli>();
    auto* cmd = app.add_subcommand(
        "qat", "Quantization-aware fine-tuning of an FP32 ONNX classifier, written as QDQ ONNX");
    cmd->footer(
        "Example:\n  edgeq qat lenet5.onnx lenet5-qat-int4.onnx --data /usr/share/datasets/fashion-mnist "
        "--weights int4 "
        "--acts int8\n"
        "Fake quantization (STE, LSQ-learned steps) on every Conv/Gemm/MatMul weight and input, "
        "BatchNormalization\n"
        "folded first; the fine-tuned weights are snapped to their learned grid and quantized like\n"
        "`edgeq quantize --method static` (activation scales: min-max calibration on --calib-samples "
        "training\n"
        "images). DIR holds train-/t10k-images-idx3-ubyte and -labels-idx1-ubyte (each may be .gz). Default\n"
        "preprocessing: the model's edgeq.preprocess metadata, else Fashion-MNIST's (pixel/255 - 0.2860) / "
        "0.3530.");
    cmd->add_option("IN", c->in, "FP32 ONNX model")->required();
    cmd->add_option("OUT", c->out, "Output QDQ ONNX model")->required();
    cmd->add_option("--data", c->data, "Folder with the MNIST-style IDX files (train-* used for fine-tuning)")
        ->required();
    cmd->add_option("--weights", c->weights, "int8 | int4 | int2")->required();
    cmd->add_option("--acts", c->acts, "int8 (static QDQ, default) | float (weight-only)");
    cmd->add_option("--granularity", c->granularity, "channel (default) | tensor");
    cmd->add_option("--epochs", c->epochs, "Passes over the training data (default 1)")
        ->check(CLI::Range(1, 1000));
    cmd->add_option("--lr", c->lr, "Peak learning rate (default 1e-4; cosine decay to 10 %)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--optimizer", c->optimizer, "adam (default) | sgd (momentum 0.9)");
    cmd->add_option("--batch", c->batch, "Minibatch size (default 64)")->check(CLI::Range(1, 65536));
    cmd->add_option("--limit", c->limit, "Fine-tune on the first N training images only")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--preprocess", c->preprocess,
                    "scale=S,mean=M,std=D: input = (pixel*S - M)/D (as edgeq eval)");
    cmd->add_option(
           "--calib-samples", c->calib_samples,
           "Training images for the initial activation steps and the export's calibration (default 512)")
        ->check(CLI::Range(1, 1000000));
    cmd->add_option("--seed", c->seed, "Shuffling seed (default 0)");
    cmd->add_option("--threads,-t", c->threads, "Worker threads (default: all cores)")
        ->check(CLI::Range(0, 1024));
    cmd->add_flag("--json", c->json, "Print one JSON object (results envelope, method qat)");
    cmd->add_flag("--quiet,-q", c->quiet, "No progress on stderr");
    cmd->callback([c] { report("qat", run(*c)); });
}

}  // namespace edgeq::cli
