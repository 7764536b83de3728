// Scalar references of the recurrent-cell gate kernels (kernels/rnn.h): plain loops in the order the
// definitions read, std::exp and std::tanh as the reference op (runtime/ref/ops_nn_rnn.cpp) uses them.
#include "kernels/ref/rnn_ref.h"

#include <cmath>

namespace edgeq::kernels::ref {
namespace {

float sigmoid(float x) {
    return 1.0f / (1.0f + std::exp(-x));
}

}  // namespace

void lstm_gates_f32(const LstmGateArgs& a) {
    const int64_t H = a.H;
    for (int64_t r = 0; r < a.rows; ++r) {
        const float* x = a.xw + r * a.ldxw;
        const float* s = a.hr + r * a.ldhr;
        float* c = a.c + r * a.ldc;
        float* h = a.h + r * a.ldh;
        float* y = a.y ? a.y + r * a.ldy : nullptr;
        for (int64_t j = 0; j < H; ++j) {
            const float pi = a.p ? a.p[j] : 0.0f, po = a.p ? a.p[H + j] : 0.0f,
                        pf = a.p ? a.p[2 * H + j] : 0.0f;
            const float i = sigmoid(x[j] + s[j] + pi * c[j]);
            const float f = sigmoid(x[2 * H + j] + s[2 * H + j] + pf * c[j]);
            const float g = std::tanh(x[3 * H + j] + s[3 * H + j]);
            const float cn = f * c[j] + i * g;
            const float o = sigmoid(x[H + j] + s[H + j] + po * cn);
            const float hn = o * std::tanh(cn);
            c[j] = cn;
            h[j] = hn;
            if (y) y[j] = hn;
        }
    }
}

void gru_lbr_f32(const GruGateArgs& a) {
    const int64_t H = a.H;
    for (int64_t r = 0; r < a.rows; ++r) {
        const float* x = a.xw + r * a.ldxw;
        const float* s = a.hr + r * a.ldhr;
        float* h = a.h + r * a.ldh;
        float* y = a.y ? a.y + r * a.ldy : nullptr;
        for (int64_t j = 0; j < H; ++j) {
            const float z = sigmoid(x[j] + s[j]);
            const float rg = sigmoid(x[H + j] + s[H + j]);
            const float g = std::tanh(x[2 * H + j] + rg * s[2 * H + j]);
            const float hn = (1.0f - z) * g + z * h[j];
            h[j] = hn;
            if (y) y[j] = hn;
        }
    }
}

void gru_reset_f32(const GruGateArgs& a) {
    const int64_t H = a.H;
    for (int64_t r = 0; r < a.rows; ++r) {
        const float* x = a.xw + r * a.ldxw;
        float* s = a.hr + r * a.ldhr;
        const float* h = a.h + r * a.ldh;
        float* rh = a.rh + r * a.ldrh;
        for (int64_t j = 0; j < H; ++j) {
            s[j] = sigmoid(x[j] + s[j]);
            rh[j] = sigmoid(x[H + j] + s[H + j]) * h[j];
        }
    }
}

void gru_update_f32(const GruGateArgs& a) {
    const int64_t H = a.H;
    for (int64_t r = 0; r < a.rows; ++r) {
        const float* x = a.xw + r * a.ldxw;
        const float* s = a.hr + r * a.ldhr;
        float* h = a.h + r * a.ldh;
        float* y = a.y ? a.y + r * a.ldy : nullptr;
        for (int64_t j = 0; j < H; ++j) {
            const float g = std::tanh(x[2 * H + j] + s[2 * H + j]);
            const float hn = (1.0f - s[j]) * g + s[j] * h[j];
            h[j] = hn;
            if (y) y[j] = hn;
        }
    }
}

}  // namespace edgeq::kernels::ref
