#include "tools/edgeq/quantize_onnx.h"

#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "eval/image_set.h"
#include "formats/onnx/onnx_export.h"
#include "formats/onnx/onnx_import.h"
#include "quant/ptq/ptq.h"
#include "tools/edgeq/progress.h"
#include "tools/edgeq/result_json.h"

namespace edgeq::cli {
namespace {

using quant::ptq::Granularity;
using quant::ptq::Method;
using quant::ptq::QType;

Status parse_granularity(const std::string& s, quant::ptq::PtqOptions& o) {
    if (s == "tensor") o.granularity = Granularity::Tensor;
    else if (s == "channel") o.granularity = Granularity::Channel;
    else if (s.rfind("group:", 0) == 0) {
        o.granularity = Granularity::Group;
        try {
            size_t used = 0;
            o.group = std::stoll(s.substr(6), &used);
            if (used != s.size() - 6 || o.group < 1) throw std::invalid_argument(s);
        } catch (const std::exception&) {
            return InvalidArgument("--granularity '" + s + "': expected group:N with N >= 1, e.g. group:32");
        }
    } else {
        return InvalidArgument("--granularity '" + s + "': expected tensor, channel or group:N");
    }
    return Status::Ok();
}

}  // namespace

void add_onnx_quantize_options(CLI::App* cmd, OnnxQuantizeCli& c) {
    auto* g = "ONNX models (IN.onnx OUT.onnx, no TYPE)";
    cmd->add_option("--method", c.method, "dynamic | static | weight-only | fp16 | bf16")->group(g);
    cmd->add_option("--weights", c.weights, "int8 | int4 | int2 (default int8)")->group(g);
    cmd->add_option("--acts", c.acts,
                    "int8 | uint8 | float (default: uint8 for static, float for weight-only; dynamic: uint8 at run time)")
        ->group(g);
    cmd->add_option("--granularity", c.granularity,
                    "tensor | channel | group:N (default: channel; weight-only int4/int2: group:32)")
        ->group(g);
    cmd->add_flag("--symmetric", c.symmetric, "Symmetric weights and activations (zero point 0 / midpoint)")->group(g);
    cmd->add_flag("--asymmetric", c.asymmetric, "Asymmetric weights and activations")->group(g);
    cmd->add_option("--calib", c.calib, "Calibration images (IDX, .npy, .npz), as `edgeq eval --data`")->group(g);
    cmd->add_option("--preprocess", c.preprocess, "scale=S,mean=M,std=D for --calib (as `edgeq eval`)")->group(g);
    cmd->add_option("--calib-samples", c.calib_samples, "Use the first N calibration images (default 512)")
        ->check(CLI::NonNegativeNumber)
        ->group(g);
    cmd->add_option("--calib-batch", c.calib_batch, "Calibration batch size (default 64 or the model's batch)")
        ->check(CLI::NonNegativeNumber)
        ->group(g);
    cmd->add_option("--calibrator", c.calibrator, "minmax | percentile:P | entropy | mse (default minmax)")->group(g);
    cmd->add_option("--clip", c.clip, "Weight clipping search: none | mse (default: mse for weight-only, else none)")
        ->group(g);
    cmd->add_option("--exclude", c.exclude, "REGEX: nodes whose name or output matches stay float (repeatable)")
        ->allow_extra_args(false)
        ->group(g);
    cmd->add_option("--keep", c.keep,
                    "REGEX=fp32|fp16|bf16|int8|int4|int2: precision of the nodes whose name or output matches "
                    "(repeatable; first match wins)")
        ->allow_extra_args(false)
        ->group(g);
    cmd->add_option("--policy", c.policy,
                    "edge: first and last Conv/Gemm/MatMul int8, the others int4, normalization/softmax float "
                    "(static or weight-only; --keep overrides)")
        ->group(g);
    cmd->add_flag("--keep-io-float", c.keep_io_float, "No Q/DQ on graph outputs (default on for QDQ)")->group(g);
    cmd->add_option("--format", c.format, "qdq (standard ONNX QuantizeLinear/DequantizeLinear) | native")->group(g);
    cmd->add_flag("--bias-correction", c.bias_correction,
                  "static / weight-only: b -= mean(y_quantized - y_float) per output channel of each Conv/Gemm, "
                  "from --calib (adds a bias where there is none)")
        ->group(g);
    cmd->add_flag("--equalize", c.equalize,
                  "Cross-layer equalization of Conv/Gemm/MatMul -> Relu [-> MaxPool] -> Conv/Gemm/MatMul chains "
                  "before quantizing (data-free, float function unchanged)")
        ->group(g);
    cmd->add_flag("--gptq", c.gptq,
                  "weight-only: GPTQ on Gemm/MatMul and 2-D Conv (any group, via im2col) weights with the Hessian of "
                  "their inputs from --calib")
        ->group(g);
    cmd->add_flag("--awq", c.awq,
                  "weight-only: AWQ-style activation-aware per-input-channel scaling of Gemm/MatMul weights from "
                  "--calib; 1/s folded into the producing layer (through a Relu) or a Mul on the input")
        ->group(g);
    cmd->add_flag("--json", c.json,
                  "Print one JSON object (results schema, docs/results-schema.md; output, bytes, bits_per_weight, "
                  "...); GGUF too")
        ->group(g);
}

Status run_quantize_onnx(const std::string& in, const std::string& out, const OnnxQuantizeCli& c, bool quiet,
                         int threads) {
    const auto t0 = std::chrono::steady_clock::now();
    quant::ptq::PtqOptions o;
    if (c.method.empty()) return InvalidArgument("ONNX input needs --method dynamic|static|weight-only|fp16|bf16");
    auto m = quant::ptq::method_from_name(c.method);
    if (!m) return InvalidArgument("--method '" + c.method + "': expected dynamic, static, weight-only, fp16 or bf16");
    o.method = *m;
    auto w = quant::ptq::qtype_from_name(c.weights);
    if (!w) return InvalidArgument("--weights '" + c.weights + "': expected int8, int4 or int2");
    o.weights = *w;
    const std::string acts = !c.acts.empty() ? c.acts : o.method == Method::Static ? "uint8" : "float";
    if (acts == "float") o.acts.reset();
    else if (auto a = quant::ptq::qtype_from_name(acts)) o.acts = *a;
    else return InvalidArgument("--acts '" + acts + "': expected int8, uint8 or float");
    if (o.method == Method::Dynamic) o.acts.reset();  // quantized at run time by DynamicQuantizeLinear
    std::string gran = c.granularity;
    if (gran.empty()) gran = (o.method == Method::WeightOnly && o.weights != QType::I8) ? "group:32" : "channel";
    EDGEQ_RETURN_IF_ERROR(parse_granularity(gran, o));
    if (c.symmetric && c.asymmetric) return InvalidArgument("--symmetric and --asymmetric exclude each other");
    if (c.symmetric) o.weight_symmetric = o.act_symmetric = true;
    if (c.asymmetric) o.weight_symmetric = o.act_symmetric = false;
    if (c.format == "qdq") o.format = quant::ptq::Format::QDQ;
    else if (c.format == "native") o.format = quant::ptq::Format::Native;
    else return InvalidArgument("--format '" + c.format + "': expected qdq or native");
    o.calibrator = c.calibrator;
    const std::string clip = !c.clip.empty() ? c.clip : o.method == Method::WeightOnly ? "mse" : "none";
    if (clip == "mse") o.clip = quant::ptq::Clip::Mse;
    else if (clip != "none") return InvalidArgument("--clip '" + clip + "': expected none or mse");
    o.exclude = c.exclude;
    for (const auto& k : c.keep) {
        const size_t eq = k.rfind('=');
        if (eq == std::string::npos || eq == 0)
            return InvalidArgument("--keep '" + k + "': expected REGEX=fp32|fp16|bf16|int8|int4|int2");
        o.keep.emplace_back(k.substr(0, eq), k.substr(eq + 1));
    }
    o.policy = c.policy;
    o.keep_io_float = true;  // QDQ graphs take and return float either way
    o.bias_correction = c.bias_correction;
    o.equalize = c.equalize;
    o.gptq = c.gptq;
    o.awq = c.awq;
    o.threads = threads;
    EDGEQ_RETURN_IF_ERROR(quant::ptq::check_options(o));
    if (o.method == Method::Static && c.calib.empty())
        return InvalidArgument("--method static needs calibration data: --calib IMAGES [--preprocess ...]");
    if ((o.gptq || o.awq || o.bias_correction) && c.calib.empty())
        return InvalidArgument(std::string(o.gptq ? "--gptq" : o.awq ? "--awq" : "--bias-correction") +
                               " needs calibration data: --calib IMAGES [--preprocess ...]");
    if (in == out) return InvalidArgument("OUT must differ from IN (" + in + ")");

    EDGEQ_ASSIGN_OR_RETURN(graph::Model model, onnxio::load_model(in));
    std::unique_ptr<ImageSet> set;
    int64_t next = 0;
    if (!c.calib.empty()) {
        EDGEQ_ASSIGN_OR_RETURN(Preprocess pre, parse_preprocess(c.preprocess));
        EDGEQ_ASSIGN_OR_RETURN(set, ImageSet::open(model, c.calib, pre, c.calib_samples > 0 ? c.calib_samples : 512,
                                                   c.calib_batch));
    }
    quant::ptq::CalibrationSource src;
    // Calibration progress: the source is called once per batch by the calibration loop (quant/ptq).
    std::unique_ptr<Progress> progress;
    if (set) {
        src = [&]() -> Result<std::optional<quant::ptq::CalibrationBatch>> {
            if (next >= set->count()) {
                progress.reset();  // ends the bar's line
                return std::optional<quant::ptq::CalibrationBatch>();
            }
            if (!progress) progress = std::make_unique<Progress>("quantize: calibration image", set->count(), quiet);
            EDGEQ_ASSIGN_OR_RETURN(Tensor x, set->batch_at(next));
            next += set->batch();
            progress->update(std::min(next, set->count()));
            quant::ptq::CalibrationBatch b;
            b[set->input_name()] = std::move(x);
            return std::optional<quant::ptq::CalibrationBatch>(std::move(b));
        };
    }
    EDGEQ_ASSIGN_OR_RETURN(auto rep, quant::ptq::quantize_onnx(model, o, src));
    EDGEQ_RETURN_IF_ERROR(onnxio::save_model(model, out));
    EDGEQ_ASSIGN_OR_RETURN(auto written, onnxio::load_model(out));  // what was written loads back
    (void)written;
    int64_t bytes = 0;
    if (FILE* f = std::fopen(out.c_str(), "rb")) {
        std::fseek(f, 0, SEEK_END);
        bytes = std::ftell(f);
        std::fclose(f);
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (c.json) {
        nlohmann::json nodes = nlohmann::json::array();
        for (const auto& n : rep.nodes) nodes.push_back({{"node", n.node}, {"op", n.op}, {"weight", n.weight}, {"how", n.how}});
        nlohmann::json j{{"input", in},
                         {"output", out},
                         {"method", quant::ptq::method_name(o.method)},
                         {"bytes", bytes},
                         {"bits_per_weight", rep.bits_per_weight()},
                         {"weight_params", rep.weight_params},
                         {"weight_bytes_before", rep.weight_bytes_before},
                         {"weight_bytes_after", rep.weight_bytes_after},
                         {"quantized_nodes", nodes},
                         {"skipped", rep.skipped},
                         {"calib_samples", rep.calib_samples},
                         {"observer_bytes", rep.observer_bytes},
                         {"opset", rep.opset},
                         {"log", rep.log},
                         {"seconds", secs}};
        // Per-node precision (the first word of each node's "how": int8/int4/int2/F16/BF16; float nodes fp32);
        // a model whose quantized nodes differ in precision (--keep, --policy) is labelled "mixed".
        nlohmann::json precision_map = nlohmann::json::object();
        std::set<std::string> precisions;
        for (const auto& n : rep.nodes) {
            std::string p = n.how.substr(0, n.how.find(' '));
            if (p == "F16") p = "fp16";
            else if (p == "BF16") p = "bf16";
            precision_map[n.node.empty() ? n.weight : n.node] = p;
            precisions.insert(p);
        }
        for (const auto& sk : rep.skipped) {  // "node 'NAME' (Op): why"
            const size_t a = sk.find('\''), b = a == std::string::npos ? a : sk.find('\'', a + 1);
            if (b != std::string::npos) precision_map[sk.substr(a + 1, b - a - 1)] = "fp32";
        }
        const bool is_float = o.method == Method::FP16 || o.method == Method::BF16;
        const ResultLabel label{quant::ptq::method_name(o.method),
                                precisions.size() > 1 ? "mixed"
                                : is_float            ? quant::ptq::method_name(o.method)
                                                      : quant::ptq::qtype_name(o.weights),
                                rep.bits_per_weight()};
        if (!o.keep.empty() || !o.policy.empty()) j["precision_map"] = precision_map;
        add_result_envelope(j, "quantize", out, label,
                            {{"bytes", bytes}, {"input_bytes", model_file_bytes(in)}, {"seconds", secs}});
        std::printf("%s\n", j.dump().c_str());
    } else if (!quiet) {
        std::printf("%s -> %s (%s): %zu nodes quantized, %zu skipped, weights %.2f MiB -> %.2f MiB, %.3f bits per weight, "
                    "file %lld bytes, opset %lld, %.2f s\n",
                    in.c_str(), out.c_str(), quant::ptq::method_name(o.method), rep.nodes.size(), rep.skipped.size(),
                    static_cast<double>(rep.weight_bytes_before) / 1048576.0,
                    static_cast<double>(rep.weight_bytes_after) / 1048576.0, rep.bits_per_weight(),
                    static_cast<long long>(bytes), static_cast<long long>(rep.opset), secs);
        for (const auto& s : rep.skipped) std::fprintf(stderr, "  kept float: %s\n", s.c_str());
        if (o.gptq || o.awq || o.bias_correction || o.equalize)
            for (const auto& s : rep.log) std::fprintf(stderr, "  note: %s\n", s.c_str());
    }
    return Status::Ok();
}

}  // namespace edgeq::cli
