// Scalar references of the recurrent-cell gate kernels (kernels/rnn.h): plain loops in the order the
// definitions read, std::exp and std::tanh as the reference op (runtime/ref/ops_nn_rnn.cpp) uses them.
#include "kernels/ref/rnn_ref.h"

#include <algorithm>
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

void quant_row_params(float xmin, float xmax, float* scale, int32_t* zero) {
    const float lo = std::min(0.0f, xmin), hi = std::max(0.0f, xmax);
    float sc = (hi - lo) / 255.0f;
    if (!(sc > 0.0f)) sc = 1.0f;  // an all-zero row: every code is the zero point 0
    *scale = sc;
    *zero = static_cast<int32_t>(std::clamp(std::nearbyint(-lo / sc), 0.0f, 255.0f));
}

void quantize_rows_u8(const QuantRowsArgs& a) {
    for (int64_t m = 0; m < a.rows; ++m) {
        const float* x = a.x + m * a.ldx;
        float lo = 0.0f, hi = 0.0f;
        for (int64_t k = 0; k < a.K; ++k) {
            lo = std::min(lo, x[k]);
            hi = std::max(hi, x[k]);
        }
        quant_row_params(lo, hi, &a.scale[m], &a.zero[m]);
        const float sc = a.scale[m];
        const int32_t z = a.zero[m];
        uint8_t* q = a.q + m * a.ldq;
        for (int64_t k = 0; k < a.K; ++k) {
            const int32_t v = static_cast<int32_t>(std::nearbyint(x[k] / sc)) + z;
            q[k] = static_cast<uint8_t>(std::clamp(v, 0, 255));
        }
    }
}

void dequant_rows_s32(const DequantRowsArgs& a) {
    for (int64_t m = 0; m < a.rows; ++m) {
        const int32_t* acc = a.acc + m * a.ldacc;
        float* y = a.y + m * a.ldy;
        const int64_t z = a.zero[m];
        const float sm = a.scale[m];
        for (int64_t n = 0; n < a.N; ++n) {
            // the exact sum fits int32 (K ≤ kQMaxK); int64 keeps the intermediate products defined
            const auto d = static_cast<int32_t>(static_cast<int64_t>(acc[n]) - z * a.colsum[n]);
            const float t = sm * a.b_scale[n];
            float v = static_cast<float>(d) * t;
            if (a.bias) v += a.bias[n];
            y[n] = v;
        }
    }
}

void q8_product(const Q8ProductArgs& a) {
    const int64_t K4 = (a.K + 3) / 4;
    const auto* b = static_cast<const int8_t*>(a.b);
    for (int64_t m = 0; m < a.rows; ++m) {
        const uint8_t* q = a.q + m * a.ldq;
        float* y = a.y + m * a.ldy;
        for (int64_t n = 0; n < a.N; ++n) {
            // qpack_b: B[k][n] at byte ((n / 16)·K4 + k / 4)·64 + (n % 16)·4 + k % 4
            int64_t acc = 0;
            for (int64_t k = 0; k < a.K; ++k)
                acc += static_cast<int64_t>(q[k]) * b[((n / 16) * K4 + k / 4) * 64 + (n % 16) * 4 + k % 4];
            const auto d = static_cast<int32_t>(acc - static_cast<int64_t>(a.zero[m]) * a.colsum[n]);
            const float t = a.scale[m] * a.b_scale[n];
            float v = static_cast<float>(d) * t;
            if (a.bias) v += a.bias[n];
            y[n] = v;
        }
    }
}

}  // namespace edgeq::kernels::ref
