#include "train/qat.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "passes/optimize.h"

namespace edgeq::train {
namespace {

using quant::ptq::QType;

// Slices of `axis`: w viewed as [outer, C, inner].
struct Slices {
    int64_t outer = 1, C = 1, inner = 1;
};
Slices slices(const Tensor& w, int64_t axis, bool per_channel) {
    Slices s;
    if (!per_channel) {
        s.inner = w.numel();
        return s;
    }
    s.C = w.dim(axis);
    for (int64_t i = 0; i < axis; ++i) s.outer *= w.dim(i);
    for (int64_t i = axis + 1; i < w.rank(); ++i) s.inner *= w.dim(i);
    return s;
}

float fq(float x, float s, float qmax) {
    return std::min(std::max(std::nearbyint(x / s), -qmax), qmax) * s;
}

struct Target {
    size_t node;
    std::string weight;
    int64_t axis;
};

Tensor scalar_tensor(const std::vector<float>& v) {
    Tensor t(DType::F32, {static_cast<int64_t>(v.size())});
    std::copy(v.begin(), v.end(), t.data<float>());
    return t;
}

graph::Node fake_quant_node(const std::string& x, const std::string& s, const std::string& y, int64_t qmax,
                            int64_t axis) {
    graph::Node n;
    n.name = y;
    n.op_type = "FakeQuant";
    n.domain = "com.edgeq";
    n.inputs = {x, s};
    n.outputs = {y};
    auto int_attr = [](int64_t v) {
        graph::Attribute a;
        a.kind = graph::Attribute::Kind::Int;
        a.i = v;
        return a;
    };
    n.attrs["qmin"] = int_attr(-qmax);
    n.attrs["qmax"] = int_attr(qmax);
    n.attrs["axis"] = int_attr(axis);
    return n;
}

constexpr const char* kStep = "::qat_step";

}  // namespace

int64_t snap_to_grid(Tensor& w, const std::vector<float>& s, int64_t axis, int32_t qmax) {
    const Slices d = slices(w, axis, s.size() != 1);
    float* p = w.data<float>();
    const float q = static_cast<float>(qmax);
    std::vector<float> top(static_cast<size_t>(d.C), 0.0f);
    for (int64_t o = 0; o < d.outer; ++o)
        for (int64_t c = 0; c < d.C; ++c)
            for (int64_t i = 0; i < d.inner; ++i) {
                float& v = p[(o * d.C + c) * d.inner + i];
                v = fq(v, s[static_cast<size_t>(c)], q);
                top[static_cast<size_t>(c)] =
                    std::max(top[static_cast<size_t>(c)], std::fabs(v) / s[static_cast<size_t>(c)]);
            }
    int64_t exact = 0;
    for (float t : top) exact += std::nearbyint(t) == q;
    return exact;
}

std::vector<float> mse_steps(const Tensor& w, int64_t axis, bool per_channel, int32_t qmax) {
    const Slices d = slices(w, axis, per_channel);
    const float* p = w.data<float>();
    const float q = static_cast<float>(qmax);
    std::vector<float> steps(static_cast<size_t>(d.C));
    for (int64_t c = 0; c < d.C; ++c) {
        auto each = [&](auto&& f) {
            for (int64_t o = 0; o < d.outer; ++o)
                for (int64_t i = 0; i < d.inner; ++i) f(p[(o * d.C + c) * d.inner + i]);
        };
        float mx = 0;
        each([&](float v) { mx = std::max(mx, std::fabs(v)); });
        if (!(mx > 0)) {
            steps[static_cast<size_t>(c)] = 1.0f;
            continue;
        }
        double best = -1;
        for (int k = 0; k <= 14; ++k) {
            const float s = (1.0f - 0.05f * static_cast<float>(k)) * mx / q;
            double err = 0;
            each([&](float v) {
                const double e = fq(v, s, q) - v;
                err += e * e;
            });
            if (best < 0 || err < best) {
                best = err;
                steps[static_cast<size_t>(c)] = s;
            }
        }
    }
    return steps;
}

Result<QatReport> qat_onnx(graph::Model& model, const QatOptions& o, const Dataset& train,
                           const Dataset* test) {
    if (o.weights != QType::I8 && o.weights != QType::I4 && o.weights != QType::I2)
        return InvalidArgument(std::string("QAT weights '") + quant::ptq::qtype_name(o.weights) +
                               "': expected int8, int4 or int2");
    if (train.size() == 0) return InvalidArgument("QAT: empty training set");
    QatReport rep;
    const int32_t wq = quant::ptq::quant_range(o.weights, true).hi;
    constexpr int32_t aq = 127;

    // 1. prepare (as the PTQ quantizer does): BatchNormalization folded, standard ops only.
    passes::OptimizeOptions oo;
    oo.fuse = false;
    EDGEQ_ASSIGN_OR_RETURN(auto orep, passes::optimize(model, oo));
    rep.batchnorms_folded = orep.batchnorms_folded;

    // 2. the targets and the fake-quantized training graph.
    std::vector<Target> targets;
    for (size_t i = 0; i < model.graph.nodes.size(); ++i) {
        const graph::Node& n = model.graph.nodes[i];
        if (!(n.domain.empty() || n.domain == "ai.onnx") || n.inputs.size() < 2) continue;
        auto w = model.graph.initializers.find(n.inputs[1]);
        if (w == model.graph.initializers.end() || w->second.dtype() != DType::F32) continue;
        int64_t axis = -1;
        if (n.op_type == "Conv")
            axis = 0;
        else if (n.op_type == "Gemm" && n.attr_i("transA", 0) == 0 && w->second.rank() == 2)
            axis = n.attr_i("transB", 0) ? 0 : 1;
        else if (n.op_type == "MatMul" && w->second.rank() == 2)
            axis = 1;
        if (axis >= 0) targets.push_back({i, n.inputs[1], axis});
    }
    if (targets.empty())
        return InvalidArgument("model '" + model.path +
                               "': no Conv/Gemm/MatMul with an initializer weight to quantize");

    graph::Model qm = model;
    for (auto& [name, t] : qm.graph.initializers) t = t.clone();  // training must not touch the float model
    qm.opsets["com.edgeq"] = 1;
    std::map<std::string, std::string> done;  // original value -> fake-quantized value
    std::vector<std::string> act_inputs;
    for (const Target& t : targets) {
        if (!done.count(t.weight)) {
            const Tensor& w = qm.graph.initializers.at(t.weight);
            const std::string step = t.weight + kStep, out = t.weight + "::qat";
            qm.graph.initializers[step] = scalar_tensor(mse_steps(w, t.axis, o.per_channel, wq));
            qm.graph.nodes.push_back(fake_quant_node(t.weight, step, out, wq, o.per_channel ? t.axis : 0));
            done[t.weight] = out;
            ++rep.weights_fake_quantized;
        }
        graph::Node& n2 = qm.graph.nodes[t.node];  // after push_back (references move)
        n2.inputs[1] = done[t.weight];
        const std::string x = n2.inputs[0];
        if (!o.quantize_acts || qm.graph.initializers.count(x)) continue;
        if (!done.count(x)) {
            const std::string step = x + kStep, out = x + "::qat";
            qm.graph.initializers[step] = scalar_tensor({1.0f});  // set from data below
            qm.graph.nodes.push_back(fake_quant_node(x, step, out, aq, 0));
            done[x] = out;
            act_inputs.push_back(x);
            ++rep.acts_fake_quantized;
        }
        n2.inputs[0] = done[x];
    }

    // Activation steps: max|x| / 127 over the first calib_samples training images, on the float model.
    if (!act_inputs.empty()) {
        graph::Model fm = model;
        EDGEQ_ASSIGN_OR_RETURN(Net fp, Net::create(std::move(fm), o.threads));
        std::vector<float> mx(act_inputs.size(), 0.0f);
        Batches it(train, 64, false, 0);
        Tensor x;
        std::vector<int32_t> y;
        int64_t seen = 0;
        while (seen < std::max<int64_t>(1, o.calib_samples) && it.next(x, y)) {
            EDGEQ_RETURN_IF_ERROR(fp.forward({{fp.input_name(), x}}, false));
            for (size_t k = 0; k < act_inputs.size(); ++k) {
                EDGEQ_ASSIGN_OR_RETURN(Tensor v, fp.value(act_inputs[k]));
                const float* p = v.data<float>();
                for (int64_t i = 0; i < v.numel(); ++i) mx[k] = std::max(mx[k], std::fabs(p[i]));
            }
            seen += x.dim(0);
        }
        for (size_t k = 0; k < act_inputs.size(); ++k)
            qm.graph.initializers.at(act_inputs[k] + kStep).data<float>()[0] = mx[k] > 0 ? mx[k] / aq : 1.0f;
    }

    // 3. fine-tune; steps stay positive.
    EDGEQ_ASSIGN_OR_RETURN(Net net, Net::create(std::move(qm), o.threads));
    FitOptions fo = o.fit;
    const auto user_on_batch = o.fit.on_batch;
    fo.on_batch = [&net, user_on_batch](int e, int64_t d, int64_t total, double loss) {
        for (Param& p : net.params()) {
            if (p.name.size() < 10 || p.name.compare(p.name.size() - 10, 10, kStep) != 0) continue;
            float* s = p.value.data<float>();
            for (int64_t i = 0; i < p.value.numel(); ++i) s[i] = std::max(s[i], 1e-8f);
        }
        if (user_on_batch) user_on_batch(e, d, total, loss);
    };
    EDGEQ_ASSIGN_OR_RETURN(rep.epochs, fit(net, train, test, fo));

    // 4. export: fine-tuned parameters back into the float model, weights snapped to the learned grid.
    const auto& trained = net.model().graph.initializers;
    for (auto& [name, t] : model.graph.initializers) {
        auto it = trained.find(name);
        if (it != trained.end() && it->second.dtype() == DType::F32) t = it->second.clone();
    }
    std::set<std::string> snapped;
    for (const Target& t : targets) {
        if (!snapped.insert(t.weight).second) continue;
        const Tensor& st = trained.at(t.weight + kStep);
        std::vector<float> s(st.data<float>(), st.data<float>() + st.numel());
        Tensor& w = model.graph.initializers.at(t.weight);
        rep.channels_exact += snap_to_grid(w, s, t.axis, wq);
        rep.channels_total += static_cast<int64_t>(s.size());
    }

    quant::ptq::PtqOptions po;
    po.method = o.quantize_acts ? quant::ptq::Method::Static : quant::ptq::Method::WeightOnly;
    po.weights = o.weights;
    if (o.quantize_acts)
        po.acts = QType::I8;
    else
        po.acts.reset();
    po.granularity = o.per_channel ? quant::ptq::Granularity::Channel : quant::ptq::Granularity::Tensor;
    po.weight_symmetric = true;
    po.calibrator = "minmax";
    po.clip = quant::ptq::Clip::None;  // the grid is already chosen: min-max recovers the learned step
    po.threads = o.threads;
    EDGEQ_RETURN_IF_ERROR(quant::ptq::check_options(po));
    int64_t next = 0;
    const int64_t n_calib = std::min(train.size(), std::max<int64_t>(1, o.calib_samples));
    quant::ptq::CalibrationSource src = [&]() -> Result<std::optional<quant::ptq::CalibrationBatch>> {
        if (!o.quantize_acts || next >= n_calib) return std::optional<quant::ptq::CalibrationBatch>();
        const int64_t b = std::min<int64_t>(64, n_calib - next);
        const int64_t per = train.images.numel() / train.size();
        Shape sh = train.images.shape();
        sh[0] = b;
        Tensor x(DType::F32, sh);
        std::copy(train.images.data<float>() + next * per, train.images.data<float>() + (next + b) * per,
                  x.data<float>());
        next += b;
        quant::ptq::CalibrationBatch cb;
        cb[model.graph.inputs.at(0).name] = std::move(x);
        return std::optional<quant::ptq::CalibrationBatch>(std::move(cb));
    };
    EDGEQ_ASSIGN_OR_RETURN(rep.ptq, quant::ptq::quantize_onnx(model, po, src));
    return rep;
}

}  // namespace edgeq::train
