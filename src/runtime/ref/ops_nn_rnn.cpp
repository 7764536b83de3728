// Recurrent layers: RNN, GRU, LSTM (ONNX opsets 7-14; layout from 14).
//
// Shapes (layout 0; layout 1 swaps the seq and batch axes of X and Y and puts batch first in states):
//   X [seq, batch, input]  W [dirs, G*hidden, input]  R [dirs, G*hidden, hidden]  B [dirs, 2*G*hidden] (Wb then Rb)
//   sequence_lens [batch]  initial_h / initial_c [dirs, batch, hidden]  P [dirs, 3*hidden] (LSTM peepholes i, o, f)
//   Y [seq, dirs, batch, hidden] (zeros past a batch entry's length)  Y_h / Y_c [dirs, batch, hidden]
// Gate blocks (G of them, each `hidden` rows of W/R/B): RNN i; GRU z, r, h; LSTM i, o, f, c.
// Per step, per gate row j: a = sum_k x[k]*W[j,k] + sum_k h[k]*R[j,k] + Wb[j] + Rb[j] (float, double for F64; k in order), then
//   RNN   H = f(a_i)
//   GRU   z = f(a_z), r = f(a_r), h~ = g(x.Wh + (r*H).Rh + Rbh + Wbh)  (linear_before_reset: g(x.Wh + r*(H.Rh + Rbh) + Wbh))
//         H = (1 - z) * h~ + z * H
//   LSTM  i = f(a_i + Pi*C), f = f(a_f + Pf*C) (input_forget: f = 1 - i), c~ = g(a_c), C = f*C + i*c~,
//         o = f(a_o + Po*C), H = o * h(C)
// clip bounds every pre-activation to [-clip, clip]. Reverse directions walk t = len-1 .. 0.
// Activations (defaults RNN Tanh; GRU Sigmoid, Tanh; LSTM Sigmoid, Tanh, Tanh; one list per direction) take
// activation_alpha/beta in list order, only the functions that have such parameters consuming them (as ORT).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/ref/common.h"

namespace edgeq::runtime {
namespace {

enum class Cell { Rnn, Gru, Lstm };

struct Activation {
    std::string name;  // lower case
    float alpha = 0, beta = 0;
    template <typename T>
    T operator()(T x) const {
        const T al = static_cast<T>(alpha), be = static_cast<T>(beta);
        if (name == "sigmoid") return T(1) / (T(1) + std::exp(-x));
        if (name == "tanh") return std::tanh(x);
        if (name == "relu") return std::max(x, T(0));
        if (name == "affine") return al * x + be;
        if (name == "leakyrelu") return x >= 0 ? x : al * x;
        if (name == "thresholdedrelu") return x > al ? x : T(0);
        if (name == "scaledtanh") return al * std::tanh(be * x);
        if (name == "hardsigmoid") return std::clamp(al * x + be, T(0), T(1));
        if (name == "elu") return x >= 0 ? x : al * (std::exp(x) - 1);
        if (name == "softsign") return x / (1 + std::fabs(x));
        if (name == "softplus") return std::log1p(std::exp(x));
        return x;
    }
};

// Tensor values in the compute type T (float for F32/F16/BF16, double for F64).
template <typename T>
std::vector<T> values_as(const Tensor& t) {
    if constexpr (std::is_same_v<T, double>) {
        if (t.dtype() == DType::F64) return {t.data<double>(), t.data<double>() + t.numel()};
    }
    const auto f = t.to_f32();
    return {f.begin(), f.end()};
}

Result<std::vector<Activation>> parse_activations(const OpContext& ctx, const std::vector<std::string>& defaults,
                                                  int64_t dirs) {
    std::vector<std::string> names = ctx.node.has("activations") ? ctx.node.attr("activations")->strings
                                                                 : std::vector<std::string>();
    if (names.empty()) {
        for (int64_t d = 0; d < dirs; ++d) names.insert(names.end(), defaults.begin(), defaults.end());
    }
    if (names.size() == defaults.size() && dirs == 2) {
        const std::vector<std::string> once = names;  // inserting a vector's own range into it is undefined
        names.insert(names.end(), once.begin(), once.end());
    }
    if (names.size() != defaults.size() * static_cast<size_t>(dirs)) {
        return ctx.fail("activations must list " + std::to_string(defaults.size() * static_cast<size_t>(dirs)) +
                        " functions, got " + std::to_string(names.size()));
    }
    const auto alphas = ctx.node.attr_floats("activation_alpha");
    const auto betas = ctx.node.attr_floats("activation_beta");
    size_t ai = 0, bi = 0;
    std::vector<Activation> acts;
    for (const auto& n : names) {
        Activation a;
        for (char c : n) a.name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        float da = 0, db = 0;
        bool ta = false, tb = false;
        if (a.name == "affine") { da = 1.0f; db = 0.0f; ta = tb = true; }
        else if (a.name == "leakyrelu") { da = 0.01f; ta = true; }
        else if (a.name == "thresholdedrelu") { da = 1.0f; ta = true; }
        else if (a.name == "scaledtanh") { da = 1.0f; db = 1.0f; ta = tb = true; }
        else if (a.name == "hardsigmoid") { da = 0.2f; db = 0.5f; ta = tb = true; }
        else if (a.name == "elu") { da = 1.0f; ta = true; }
        else if (a.name != "sigmoid" && a.name != "tanh" && a.name != "relu" && a.name != "softsign" &&
                 a.name != "softplus") {
            return ctx.unsupported("activation '" + n + "'");
        }
        a.alpha = ta ? (ai < alphas.size() ? alphas[ai++] : da) : 0.0f;
        a.beta = tb ? (bi < betas.size() ? betas[bi++] : db) : 0.0f;
        acts.push_back(a);
    }
    return acts;
}

Status rnn_common(OpContext& ctx, Cell cell) {
    for (size_t i = 0; i < 3; ++i)
        if (!ctx.has_input(i)) return ctx.fail("needs inputs X, W and R");
    const Tensor& Xt = ctx.in(0);
    const DType dt = Xt.dtype();
    if (dt != DType::F32 && dt != DType::F16 && dt != DType::BF16 && dt != DType::F64) {
        return ctx.unsupported(std::string("input type ") + dtype_name(dt));
    }
    const int64_t G = cell == Cell::Rnn ? 1 : cell == Cell::Gru ? 3 : 4;
    const std::vector<std::string> defaults = cell == Cell::Rnn   ? std::vector<std::string>{"Tanh"}
                                              : cell == Cell::Gru ? std::vector<std::string>{"Sigmoid", "Tanh"}
                                                                  : std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"};
    const std::string direction = ctx.node.attr_s("direction", "forward");
    if (direction != "forward" && direction != "reverse" && direction != "bidirectional") {
        return ctx.fail("unknown direction '" + direction + "'");
    }
    const int64_t dirs = direction == "bidirectional" ? 2 : 1;
    const bool batch_first = ctx.opset >= 14 && ctx.node.attr_i("layout", 0) != 0;
    if (Xt.rank() != 3) return ctx.fail("X " + shape_str(Xt.shape()) + " must be 3-D");
    const int64_t S = batch_first ? Xt.dim(1) : Xt.dim(0), Nb = batch_first ? Xt.dim(0) : Xt.dim(1);
    const int64_t I = Xt.dim(2);
    const Tensor& Wt = ctx.in(1);
    const Tensor& Rt = ctx.in(2);
    if (Wt.rank() != 3 || Wt.dim(0) != dirs || Wt.dim(2) != I || Wt.dim(1) % G != 0) {
        return ctx.fail("W " + shape_str(Wt.shape()) + " does not fit X " + shape_str(Xt.shape()) + " and direction " + direction);
    }
    const int64_t H = Wt.dim(1) / G;
    if (ctx.node.has("hidden_size") && ctx.node.attr_i("hidden_size", 0) != H) {
        return ctx.fail("hidden_size " + std::to_string(ctx.node.attr_i("hidden_size", 0)) + " differs from W " +
                        shape_str(Wt.shape()));
    }
    if (Rt.shape() != Shape{dirs, G * H, H}) return ctx.fail("R " + shape_str(Rt.shape()) + " must be " + shape_str({dirs, G * H, H}));
    auto opt = [&](size_t i) -> const Tensor* { return ctx.has_input(i) && ctx.in(i).numel() > 0 ? &ctx.in(i) : nullptr; };
    const Tensor* Bt = opt(3);
    const Tensor* Lt = opt(4);
    const Tensor* H0 = opt(5);
    const Tensor* C0 = cell == Cell::Lstm ? opt(6) : nullptr;
    const Tensor* Pt = cell == Cell::Lstm ? opt(7) : nullptr;
    const Shape state_shape = batch_first ? Shape{Nb, dirs, H} : Shape{dirs, Nb, H};
    if (Bt && Bt->shape() != Shape{dirs, 2 * G * H}) return ctx.fail("B " + shape_str(Bt->shape()) + " must be " + shape_str({dirs, 2 * G * H}));
    if (Lt && Lt->numel() != Nb) return ctx.fail("sequence_lens " + shape_str(Lt->shape()) + " must have " + std::to_string(Nb) + " entries");
    if (H0 && H0->shape() != state_shape) return ctx.fail("initial_h " + shape_str(H0->shape()) + " must be " + shape_str(state_shape));
    if (C0 && C0->shape() != state_shape) return ctx.fail("initial_c " + shape_str(C0->shape()) + " must be " + shape_str(state_shape));
    if (Pt && Pt->shape() != Shape{dirs, 3 * H}) return ctx.fail("P " + shape_str(Pt->shape()) + " must be " + shape_str({dirs, 3 * H}));
    EDGEQ_ASSIGN_OR_RETURN(auto acts, parse_activations(ctx, defaults, dirs));
    const bool has_clip = ctx.node.has("clip");
    const float clip = ctx.node.attr_f("clip", 0.0f);
    const bool lbr = cell == Cell::Gru && ctx.node.attr_i("linear_before_reset", 0) != 0;
    const bool input_forget = cell == Cell::Lstm && ctx.node.attr_i("input_forget", 0) != 0;

    std::vector<int64_t> lens(static_cast<size_t>(Nb), S);
    if (Lt) lens = Lt->to_i64();
    for (int64_t l : lens)
        if (l < 0 || l > S) return ctx.fail("sequence length " + std::to_string(l) + " outside [0, " + std::to_string(S) + "]");
    if (ctx.shape_only) {
        const Shape y_shape = batch_first ? Shape{Nb, S, dirs, H} : Shape{S, dirs, Nb, H};
        if (ctx.outputs.size() > 0) ctx.outputs[0] = Tensor(dt, y_shape);
        if (ctx.outputs.size() > 1) ctx.outputs[1] = Tensor(dt, state_shape);
        if (ctx.outputs.size() > 2 && cell == Cell::Lstm) ctx.outputs[2] = Tensor(dt, state_shape);
        return Status::Ok();
    }
    // compute type: double for F64, float otherwise
    auto compute = [&](auto tag) {
        using T = decltype(tag);
        const auto x = values_as<T>(Xt), w = values_as<T>(Wt), r = values_as<T>(Rt);
        const auto b = Bt ? values_as<T>(*Bt) : std::vector<T>(static_cast<size_t>(dirs * 2 * G * H), T(0));
        const auto p = Pt ? values_as<T>(*Pt) : std::vector<T>(static_cast<size_t>(dirs * 3 * H), T(0));
        const auto h0 = H0 ? values_as<T>(*H0) : std::vector<T>();
        const auto c0 = C0 ? values_as<T>(*C0) : std::vector<T>();

        auto xi = [&](int64_t t, int64_t n) { return static_cast<size_t>((batch_first ? n * S + t : t * Nb + n) * I); };
        auto yi = [&](int64_t t, int64_t d, int64_t n) {
            return static_cast<size_t>((batch_first ? (n * S + t) * dirs + d : (t * dirs + d) * Nb + n) * H);
        };
        auto si = [&](int64_t d, int64_t n) { return static_cast<size_t>((batch_first ? n * dirs + d : d * Nb + n) * H); };
        auto clipped = [&](T v) { return has_clip ? std::clamp(v, static_cast<T>(-clip), static_cast<T>(clip)) : v; };

        std::vector<T> y(static_cast<size_t>(S * dirs * Nb * H), T(0));
        std::vector<T> yh(static_cast<size_t>(dirs * Nb * H), T(0)), yc(yh.size(), T(0));
        std::vector<T> a(static_cast<size_t>(G * H)), hr(static_cast<size_t>(H)), hnew(static_cast<size_t>(H));
        std::vector<T> z(static_cast<size_t>(H)), rg(static_cast<size_t>(H));
        const size_t per_dir = defaults.size();
        for (int64_t d = 0; d < dirs; ++d) {
            const bool reverse = direction == "reverse" || d == 1;
            const Activation* f = &acts[static_cast<size_t>(d) * per_dir];
            const T* Wd = w.data() + d * G * H * I;
            const T* Rd = r.data() + d * G * H * H;
            const T* Wb = b.data() + d * 2 * G * H;
            const T* Rb = Wb + G * H;
            const T* Pd = p.data() + d * 3 * H;
            for (int64_t n = 0; n < Nb; ++n) {
                std::vector<T> h(static_cast<size_t>(H), T(0)), c(static_cast<size_t>(H), T(0));
                if (H0) std::copy_n(h0.begin() + static_cast<std::ptrdiff_t>(si(d, n)), H, h.begin());
                if (C0) std::copy_n(c0.begin() + static_cast<std::ptrdiff_t>(si(d, n)), H, c.begin());
                const int64_t len = lens[static_cast<size_t>(n)];
                for (int64_t step = 0; step < len; ++step) {
                    const int64_t t = reverse ? len - 1 - step : step;
                    const T* xt = x.data() + xi(t, n);
                    // a[row] = x.W[row] + h.R[row] + Wb[row] + Rb[row]; GRU's h-gate keeps x and h parts apart
                    for (int64_t row = 0; row < G * H; ++row) {
                        T sx = 0, sh = 0;
                        for (int64_t k = 0; k < I; ++k) sx += xt[k] * Wd[row * I + k];
                        for (int64_t k = 0; k < H; ++k) sh += h[static_cast<size_t>(k)] * Rd[row * H + k];
                        if (cell == Cell::Gru && row >= 2 * H) {
                            a[static_cast<size_t>(row)] = sx + Wb[row];
                            hr[static_cast<size_t>(row - 2 * H)] = sh + Rb[row];  // h.Rh + Rbh (linear_before_reset)
                        } else {
                            a[static_cast<size_t>(row)] = sx + sh + Wb[row] + Rb[row];
                        }
                    }
                    if (cell == Cell::Gru) {
                        for (int64_t j = 0; j < H; ++j) {
                            z[static_cast<size_t>(j)] = f[0](clipped(a[static_cast<size_t>(j)]));
                            rg[static_cast<size_t>(j)] = f[0](clipped(a[static_cast<size_t>(H + j)]));
                        }
                    }
                    for (int64_t j = 0; j < H; ++j) {
                        const size_t J = static_cast<size_t>(j);
                        if (cell == Cell::Rnn) {
                            hnew[J] = f[0](clipped(a[J]));
                        } else if (cell == Cell::Gru) {
                            T pre;
                            if (lbr) {
                                pre = a[J + static_cast<size_t>(2 * H)] + rg[J] * hr[J];
                            } else {
                                T s = 0;  // (r * h) . Rh[j]
                                for (int64_t k = 0; k < H; ++k)
                                    s += rg[static_cast<size_t>(k)] * h[static_cast<size_t>(k)] * Rd[(2 * H + j) * H + k];
                                pre = a[J + static_cast<size_t>(2 * H)] + s + Rb[2 * H + j];
                            }
                            const T hc = f[1](clipped(pre));
                            hnew[J] = (1 - z[J]) * hc + z[J] * h[J];
                        } else {
                            const T ig = f[0](clipped(a[J] + Pd[j] * c[J]));
                            const T fg = input_forget ? 1 - ig : f[0](clipped(a[J + static_cast<size_t>(2 * H)] + Pd[2 * H + j] * c[J]));
                            const T cc = f[1](clipped(a[J + static_cast<size_t>(3 * H)]));
                            c[J] = fg * c[J] + ig * cc;
                            const T og = f[0](clipped(a[J + static_cast<size_t>(H)] + Pd[H + j] * c[J]));
                            hnew[J] = og * f[2](c[J]);
                        }
                    }
                    h = hnew;
                    std::copy(h.begin(), h.end(), y.begin() + static_cast<std::ptrdiff_t>(yi(t, d, n)));
                }
                std::copy(h.begin(), h.end(), yh.begin() + static_cast<std::ptrdiff_t>(si(d, n)));
                std::copy(c.begin(), c.end(), yc.begin() + static_cast<std::ptrdiff_t>(si(d, n)));
            }
        }
        const Shape y_shape = batch_first ? Shape{Nb, S, dirs, H} : Shape{S, dirs, Nb, H};
        auto out = [&](const Shape& s, const std::vector<T>& v) {
            if constexpr (std::is_same_v<T, double>) return Tensor::from_vector<double>(DType::F64, s, v);
            else return from_float_tensor(Tensor::from_vector<T>(DType::F32, s, v), dt);
        };
        if (ctx.outputs.size() > 0) ctx.outputs[0] = out(y_shape, y);
        if (ctx.outputs.size() > 1) ctx.outputs[1] = out(state_shape, yh);
        if (ctx.outputs.size() > 2 && cell == Cell::Lstm) ctx.outputs[2] = out(state_shape, yc);
    };
    if (dt == DType::F64) compute(double{});
    else compute(float{});
    return Status::Ok();
}

}  // namespace

Status op_rnn(OpContext& ctx) { return rnn_common(ctx, Cell::Rnn); }
Status op_gru(OpContext& ctx) { return rnn_common(ctx, Cell::Gru); }
Status op_lstm(OpContext& ctx) { return rnn_common(ctx, Cell::Lstm); }

}  // namespace edgeq::runtime
