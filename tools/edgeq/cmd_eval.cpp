// edgeq eval MODEL.onnx --data IMAGES --labels LABELS --metric top1 [--preprocess scale=S,mean=M,std=D]
//            [--limit N] [--batch B] [--json] [--quiet] [--method M --precision P]
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "eval/classify.h"
#include "eval/image_set.h"
#include "tools/edgeq/commands.h"
#include "tools/edgeq/progress.h"
#include "tools/edgeq/result_json.h"

namespace edgeq::cli {
namespace {

struct EvalCli {
    std::string model, metric = "top1", preprocess;
    ClassifyOptions o;
    bool json = false, no_optimize = false, reference = false, quiet = false;
    int threads = 0;
    LabelOptions label;
};

Status run(EvalCli& c) {
    if (c.metric != "top1") return InvalidArgument("--metric '" + c.metric + "': supported: top1");
    EDGEQ_ASSIGN_OR_RETURN(Preprocess pre, parse_preprocess(c.preprocess));
    c.o.scale = pre.scale;
    c.o.mean = pre.mean;
    c.o.std = pre.std;
    SessionOptions so;
    so.optimize = !c.no_optimize;
    so.reference = c.reference;
    so.threads = c.threads;
    EDGEQ_ASSIGN_OR_RETURN(auto session, Session::open(c.model, so));
    std::unique_ptr<Progress> progress;
    c.o.progress = [&](int64_t done, int64_t total) {
        if (!progress) progress = std::make_unique<Progress>("eval: image", total, c.quiet);
        progress->update(done);
    };
    EDGEQ_ASSIGN_OR_RETURN(auto r, eval_top1(*session, c.o));
    if (progress) progress->finish();
    if (c.json) {
        nlohmann::json j{{"metric", r.metric}, {"value", r.value}, {"count", r.count}, {"correct", r.correct},
                         {"model", c.model}, {"batch", r.batch}, {"seconds", r.seconds}};
        nlohmann::json per_class = nlohmann::json::array();
        const auto stats = per_class_stats(r);
        for (size_t k = 0; k < stats.size(); ++k)
            per_class.push_back({{"class", k}, {"support", stats[k].support}, {"predicted", stats[k].predicted},
                                 {"true_positives", stats[k].true_positives}, {"precision", stats[k].precision},
                                 {"recall", stats[k].recall}, {"f1", stats[k].f1}});
        j["per_class"] = per_class;
        EDGEQ_ASSIGN_OR_RETURN(ResultLabel label, label_model_file(c.model));
        c.label.apply(label);
        add_result_envelope(j, "eval", c.model, label,
                            {{"accuracy", r.value},
                             {"accuracy_metric", r.metric},
                             {"samples", r.count},
                             {"bytes", model_file_bytes(c.model)}});
        std::printf("%s\n", j.dump().c_str());
    } else {
        std::printf("%s: top1 %.4f (%lld / %lld) in %.2f s, batch %lld\n", c.model.c_str(), r.value,
                    static_cast<long long>(r.correct), static_cast<long long>(r.count), r.seconds,
                    static_cast<long long>(r.batch));
    }
    return Status::Ok();
}

}  // namespace

void register_eval(CLI::App& app) {
    auto c = std::make_shared<EvalCli>();
    auto* cmd = app.add_subcommand("eval", "Accuracy of an ONNX classifier on an image set (top-1)");
    cmd->footer("Example:\n  edgeq eval model.onnx --data t10k-images-idx3-ubyte.gz --labels t10k-labels-idx1-ubyte.gz \\\n"
                "             --preprocess scale=0.00392156862745098,mean=0.2860,std=0.3530 --json");
    cmd->add_option("MODEL", c->model, "ONNX model")->required();
    cmd->add_option("--data", c->o.images, "Images: IDX (.gz), .npy or .npz")->required();
    cmd->add_option("--labels", c->o.labels, "Labels: IDX (.gz), .npy or .npz")->required();
    cmd->add_option("--metric", c->metric, "top1");
    cmd->add_option("--preprocess", c->preprocess, "scale=S,mean=M,std=D: input = (pixel*S - M)/D (default 1,0,1)");
    cmd->add_option("--limit", c->o.limit, "Evaluate the first N images only")->check(CLI::NonNegativeNumber);
    cmd->add_option("--batch", c->o.batch, "Batch size (default 64, or the model's fixed batch)")->check(CLI::NonNegativeNumber);
    cmd->add_flag("--json", c->json, "Print one JSON object (docs/results-schema.md; also metric, value, count, "
                  "per_class precision/recall/f1, ...)");
    cmd->add_flag("--quiet,-q", c->quiet, "No progress output");
    add_label_options(cmd, c->label);
    cmd->add_flag("--no-optimize", c->no_optimize, "Run the graph as imported");
    cmd->add_flag("--reference", c->reference, "Use the reference executor (the specification) instead of the fast path");
    cmd->add_option("--threads,-t", c->threads, "Worker threads (default: all cores)")->check(CLI::Range(0, 1024));
    cmd->callback([c] { report("eval", run(*c)); });
}

}  // namespace edgeq::cli
