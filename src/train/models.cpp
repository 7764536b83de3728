#include "train/models.h"

#include <cmath>
#include <random>

namespace edgeq::train {
namespace {

class Builder {
public:
    Builder(graph::Model& m, uint64_t seed) : m_(m), rng_(seed) {}

    std::string param(const std::string& name, Shape shape, float stddev, float fill = 0.0f) {
        Tensor t(DType::F32, shape);
        float* p = t.data<float>();
        std::normal_distribution<float> nd(0.0f, 1.0f);
        for (int64_t i = 0; i < t.numel(); ++i) p[i] = stddev > 0 ? nd(rng_) * stddev : fill;
        m_.graph.initializers[name] = t;
        return name;
    }
    std::string node(const std::string& op, std::vector<std::string> in, std::map<std::string, graph::Attribute> attrs = {}) {
        graph::Node n;
        n.name = op + "_" + std::to_string(++count_);
        n.op_type = op;
        n.inputs = std::move(in);
        n.outputs = {n.name + "_out"};
        n.attrs = std::move(attrs);
        m_.graph.nodes.push_back(n);
        return n.outputs[0];
    }
    static graph::Attribute ints(std::vector<int64_t> v) {
        graph::Attribute a;
        a.kind = graph::Attribute::Kind::Ints;
        a.ints = std::move(v);
        return a;
    }
    static graph::Attribute i(int64_t v) {
        graph::Attribute a;
        a.kind = graph::Attribute::Kind::Int;
        a.i = v;
        return a;
    }
    std::string conv(const std::string& x, int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t group) {
        const std::string p = "conv" + std::to_string(++convs_);
        const int64_t fan_in = cin / group * k * k;
        const std::string w = param(p + ".weight", {cout, cin / group, k, k}, std::sqrt(2.0f / static_cast<float>(fan_in)));
        const std::string b = param(p + ".bias", {cout}, 0.0f);
        return node("Conv", {x, w, b},
                    {{"kernel_shape", ints({k, k})}, {"strides", ints({stride, stride})},
                     {"pads", ints({k / 2, k / 2, k / 2, k / 2})}, {"group", i(group)}});
    }
    std::string bn_relu(const std::string& x, int64_t c) {
        const std::string p = "bn" + std::to_string(++bns_);
        const std::string y = node("BatchNormalization", {x, param(p + ".weight", {c}, 0.0f, 1.0f),
                                                          param(p + ".bias", {c}, 0.0f), param(p + ".running_mean", {c}, 0.0f),
                                                          param(p + ".running_var", {c}, 0.0f, 1.0f)});
        return node("Relu", {y});
    }
    std::string fc(const std::string& x, int64_t in, int64_t out, bool relu) {
        const std::string p = "fc" + std::to_string(++fcs_);
        const std::string y = node("Gemm",
                                   {x, param(p + ".weight", {out, in}, std::sqrt((relu ? 2.0f : 1.0f) / static_cast<float>(in))),
                                    param(p + ".bias", {out}, 0.0f)},
                                   {{"transB", i(1)}});
        return relu ? node("Relu", {y}) : y;
    }
    std::string maxpool2(const std::string& x) {
        return node("MaxPool", {x}, {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}});
    }

private:
    graph::Model& m_;
    std::mt19937_64 rng_;
    int count_ = 0, convs_ = 0, bns_ = 0, fcs_ = 0;
};

graph::ValueInfo value_info(const std::string& name, std::vector<graph::Dim> dims) {
    graph::ValueInfo v;
    v.name = name;
    v.dtype = DType::F32;
    v.onnx_elem_type = 1;
    v.has_shape = true;
    v.shape = std::move(dims);
    return v;
}

}  // namespace

Result<graph::Model> build_classifier(const ArchSpec& s) {
    const bool conv = s.arch == "cnn" || s.arch == "dwsep";
    if (s.channels <= 0 || s.height < (conv ? 4 : 1) || s.width < (conv ? 4 : 1) || s.classes < 2)
        return InvalidArgument(conv ? "classifier needs a [C>=1, H>=4, W>=4] input and >= 2 classes"
                                    : "classifier needs a [C>=1, H>=1, W>=1] input and >= 2 classes");
    for (int64_t h : s.hidden)
        if (h < 1) return InvalidArgument("mlp hidden width " + std::to_string(h) + ": expected >= 1");
    graph::Model m;
    m.ir_version = 8;
    m.opsets[""] = 13;
    m.producer = "edgeq train";
    m.graph.name = "edgeq_" + s.arch;
    Builder b(m, s.seed);
    std::string x = "input";
    if (s.arch == "mlp") {
        int64_t in = s.channels * s.height * s.width;
        x = b.node("Flatten", {x});
        for (int64_t h : s.hidden) {
            x = b.fc(x, in, h, true);
            in = h;
        }
        x = b.fc(x, in, s.classes, false);
    } else if (s.arch == "cnn") {
        x = b.maxpool2(b.bn_relu(b.conv(x, s.channels, 32, 3, 1, 1), 32));
        x = b.maxpool2(b.bn_relu(b.conv(x, 32, 64, 3, 1, 1), 64));
        x = b.node("Flatten", {x});
        x = b.fc(x, 64 * (s.height / 4) * (s.width / 4), 128, true);
        x = b.fc(x, 128, s.classes, false);
    } else if (s.arch == "dwsep") {
        x = b.bn_relu(b.conv(x, s.channels, 32, 3, 1, 1), 32);
        x = b.bn_relu(b.conv(x, 32, 32, 3, 2, 32), 32);
        x = b.bn_relu(b.conv(x, 32, 64, 1, 1, 1), 64);
        x = b.bn_relu(b.conv(x, 64, 64, 3, 2, 64), 64);
        x = b.bn_relu(b.conv(x, 64, 128, 1, 1, 1), 128);
        x = b.node("Flatten", {b.node("GlobalAveragePool", {x})});
        x = b.fc(x, 128, s.classes, false);
    } else {
        return InvalidArgument("--arch '" + s.arch + "': expected mlp, cnn or dwsep");
    }
    m.graph.nodes.back().outputs[0] = "logits";
    m.graph.inputs.push_back(value_info("input", {{-1, "N"}, {s.channels, ""}, {s.height, ""}, {s.width, ""}}));
    m.graph.outputs.push_back(value_info("logits", {{-1, "N"}, {s.classes, ""}}));
    return m;
}

}  // namespace edgeq::train
