// FP32 GEMM and Conv2D throughput of every kernel row this CPU runs (kernels/dispatch.cpp), single thread:
// GEMM GFLOP/s (B pre-packed) at square sizes and at shapes taken from the benchmark models, then Conv2D GFLOP/s
// (one image, whole call: padding copy, packing, epilogue) at the benchmark models' convolutions.
// Every GFLOP/s figure is also quoted as % of this core's FP32 FMA peak, measured first in the same run
// (bench/peak.h); issue 7's target is >= 75 % for GEMM at M=N=K >= 256.
// Then the FP16/BF16-weight GEMM rows (Op::GemmF16, GemmBf16, GemmBf16Dot) against the best FP32 row, measured
// interleaved in the same run (rounds of FP32, half rows, FP32, ...; best time per row), at square and LLM-like
// shapes: "x FP32" is the half row's GFLOP/s over the FP32 row of the same vector width at that shape.
// Usage: gemm_bench [--seconds S] [--conv-only] [--half-only]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "core/cpu.h"
#include "core/fp16.h"
#include "kernels/kernels.h"
#include "peak.h"

namespace {

using namespace edgeq;
using namespace edgeq::kernels;

struct HalfShape {
    int64_t M, N, K;
    const char* what;
};

std::vector<HalfShape> shapes_half() {
    return {{256, 256, 256, "square"},
            {1024, 1024, 1024, "square"},
            {1, 4096, 4096, "LLM decode: 1 token x 4096x4096"},
            {1, 2048, 768, "LLM decode: 1 token x w1 (768)"},
            {64, 2048, 768, "LLM prefill: 64 tokens x w1 (768)"},
            {256, 4096, 4096, "LLM prefill: 256 tokens x 4096x4096"}};
}

// One GEMM row set up on a shape: FP32 (packed floats) or a half row (packed 16-bit B).
struct Runner {
    const KernelRow* row;
    std::vector<float> packed_f;
    std::vector<uint16_t> packed_h;
    GemmArgs g;
    GemmHalfArgs h;
    double best = 1e30;
    void run() {
        if (row->op == Op::Gemm) gemm_fn(*row)(g);
        else gemm_half_fn(*row)(h);
    }
};

// FP16/BF16-weight GEMM vs the best FP32 row at each shape, interleaved rounds (issue 7 item 2).
void half_section(const std::vector<HalfShape>& shapes, double min_seconds, const bench::Peaks& peaks, std::mt19937& rng) {
    std::printf("\nFP16/BF16-weight GEMM vs FP32 GEMM, 1 thread, interleaved rounds (BF16 peak %.1f GFLOP/s)\n\n",
                peaks.bf16_gflops);
    std::printf("| kernel | M | N | K | shape | GFLOP/s | x FP32 | %% of peak |\n|---|---|---|---|---|---|---|---|\n");
    std::uniform_real_distribution<float> d(-1, 1);
    for (const HalfShape& s : shapes) {
        std::vector<float> a(static_cast<size_t>(s.M * s.K)), b(static_cast<size_t>(s.K * s.N)), c(static_cast<size_t>(s.M * s.N));
        for (auto& x : a) x = d(rng);
        for (auto& x : b) x = d(rng);
        std::vector<uint16_t> b16(b.size()), bbf(b.size());
        for (size_t i = 0; i < b.size(); ++i) {
            b16[i] = f32_to_fp16(b[i]);
            bbf[i] = f32_to_bf16(b[i]);
        }
        std::vector<Runner> runners;
        for (Op op : {Op::Gemm, Op::GemmF16, Op::GemmBf16, Op::GemmBf16Dot}) {
            for (const KernelRow& row : kernel_rows()) {
                if (row.op != op || row.isa == Isa::Ref || row.isa > detected_isa()) continue;
                Runner r;
                r.row = &row;
                if (op == Op::Gemm) {
                    r.packed_f.resize(static_cast<size_t>(packed_b_floats(s.K, s.N, row.nr)));
                    pack_b(b.data(), s.N, 1, s.K, s.N, row.nr, r.packed_f.data());
                    r.g.M = s.M, r.g.N = s.N, r.g.K = s.K, r.g.a = a.data(), r.g.lda = s.K, r.g.b = r.packed_f.data();
                    r.g.c = c.data(), r.g.ldc = s.N, r.g.n_begin = 0, r.g.n_end = s.N;
                } else {
                    const int kp = half_kpair(op);
                    r.packed_h.resize(static_cast<size_t>(packed_b_halves(s.K, s.N, row.nr, kp)));
                    pack_b_half(op == Op::GemmF16 ? b16.data() : bbf.data(), s.N, 1, s.K, s.N, row.nr, kp, r.packed_h.data());
                    r.h.M = s.M, r.h.N = s.N, r.h.K = s.K, r.h.a = a.data(), r.h.lda = s.K, r.h.b = r.packed_h.data();
                    r.h.c = c.data(), r.h.ldc = s.N, r.h.n_begin = 0, r.h.n_end = s.N;
                }
                runners.push_back(std::move(r));
            }
        }
        if (runners.empty()) continue;
        for (auto& r : runners) r.run();  // warm-up
        for (int round = 0; round < 3; ++round) {
            for (auto& r : runners) {
                const auto t_end = std::chrono::steady_clock::now() + std::chrono::duration<double>(min_seconds / 3);
                int reps = 0;
                do {
                    const auto t0 = std::chrono::steady_clock::now();
                    r.run();
                    r.best = std::min(r.best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
                    ++reps;
                } while (std::chrono::steady_clock::now() < t_end || reps < 2);
            }
        }
        const double flops = 2.0 * double(s.M) * double(s.N) * double(s.K);
        for (const auto& r : runners) {
            const double gf = flops / r.best / 1e9;
            double base = 0;  // the FP32 row of the same vector width (AVX2 vs AVX2, AVX-512 rows vs AVX-512)
            for (const auto& f : runners)
                if (f.row->op == Op::Gemm && f.row->isa <= r.row->isa) base = flops / f.best / 1e9;
            const double peak = r.row->op == Op::GemmBf16Dot ? peaks.bf16_gflops : peaks.fp32_gflops;
            std::printf("| %s | %ld | %ld | %ld | %s | %.1f | %.2f | %.0f |\n", r.row->name, long(s.M), long(s.N),
                        long(s.K), s.what, gf, base > 0 ? gf / base : 0.0, peak > 0 ? 100.0 * gf / peak : 0.0);
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    using namespace edgeq;
    using namespace edgeq::kernels;
    double min_seconds = 0.2;
    bool conv_only = false, half_only = false;
    for (int i = 1; i < argc; ++i) {
        if (std::string(argv[i]) == "--seconds" && i + 1 < argc) min_seconds = std::atof(argv[i + 1]);
        if (std::string(argv[i]) == "--conv-only") conv_only = true;
        if (std::string(argv[i]) == "--half-only") half_only = true;
    }
    struct Shape3 {
        int64_t M, N, K;
        const char* what;
    };
    const Shape3 shapes[] = {
        {64, 64, 64, "square"},          {256, 256, 256, "square"},       {1024, 1024, 1024, "square"},
        {1, 1024, 784, "mlp3 fc1 b1"},   {64, 1024, 1024, "mlp3 fc2 b64"}, {64, 120, 400, "lenet5 fc1 b64"},
        {64, 784, 288, "vgg conv2 (im2col) per image"},
        {64, 768, 288, "LLM prefill: 64 tokens x wq (288)"}, {64, 2048, 768, "LLM prefill: 64 tokens x w1 (768)"},
    };
    const bench::Peaks peaks = bench::measure_peaks(1, 5'000'000, size_t(256) << 20);
    const double peak = peaks.fp32_gflops > 0 ? peaks.fp32_gflops : 1e30;
    std::printf("FP32 FMA peak, 1 thread: %.1f GFLOP/s (%s)\n\n", peaks.fp32_gflops, peaks.fp32_how);
    std::printf("| kernel | M | N | K | shape | GFLOP/s | %% of peak |\n|---|---|---|---|---|---|---|\n");
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> d(-1, 1);
    // best time of fn() over at least min_seconds (and 3 calls), after one warm-up call
    auto best_seconds = [&](auto&& fn) {
        fn();
        double best = 1e30;
        const auto t_end = std::chrono::steady_clock::now() + std::chrono::duration<double>(min_seconds);
        int reps = 0;
        do {
            const auto t0 = std::chrono::steady_clock::now();
            fn();
            best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            ++reps;
        } while (std::chrono::steady_clock::now() < t_end || reps < 3);
        return best;
    };
    for (const KernelRow& row : kernel_rows()) {
        if (conv_only || half_only) break;
        if (row.op != Op::Gemm || row.isa > detected_isa()) continue;
        for (const auto& s : shapes) {
            if (row.isa == Isa::Ref && s.M * s.N * s.K > 64 * 1024 * 1024) continue;
            std::vector<float> a(static_cast<size_t>(s.M * s.K)), b(static_cast<size_t>(s.K * s.N)), c(static_cast<size_t>(s.M * s.N));
            for (auto& x : a) x = d(rng);
            for (auto& x : b) x = d(rng);
            std::vector<float> packed(static_cast<size_t>(packed_b_floats(s.K, s.N, row.nr)));
            pack_b(b.data(), s.N, 1, s.K, s.N, row.nr, packed.data());
            GemmArgs g;
            g.M = s.M, g.N = s.N, g.K = s.K, g.a = a.data(), g.lda = s.K, g.b = packed.data(), g.c = c.data(), g.ldc = s.N;
            g.n_begin = 0, g.n_end = s.N;
            const double best = best_seconds([&] { gemm_fn(row)(g); });
            const double gflops = 2.0 * double(s.M) * double(s.N) * double(s.K) / best / 1e9;
            std::printf("| %s | %ld | %ld | %ld | %s | %.1f | %.0f |\n", row.name, long(s.M), long(s.N), long(s.K),
                        s.what, gflops, 100.0 * gflops / peak);
        }
    }

    if (!conv_only) half_section(shapes_half(), min_seconds, peaks, rng);
    if (half_only) return 0;

    struct ConvShape {
        int64_t C, H, W, OC, K, S, P;
        Act act;
        const char* what;
    };
    const ConvShape convs[] = {
        {1, 28, 28, 32, 3, 1, 1, Act::Relu, "vgg_bn conv1"},   {32, 28, 28, 32, 3, 1, 1, Act::Relu, "vgg_bn conv2"},
        {32, 14, 14, 64, 3, 1, 1, Act::Relu, "vgg_bn conv3"},  {64, 14, 14, 64, 3, 1, 1, Act::Relu, "vgg_bn conv4"},
        {1, 28, 28, 6, 5, 1, 2, Act::Tanh, "lenet5 conv1"},    {6, 14, 14, 16, 5, 1, 0, Act::Tanh, "lenet5 conv2"},
        {16, 60, 80, 32, 3, 2, 1, Act::Relu, "stride 2 (im2col)"},
    };
    std::printf("\n| kernel | C | HxW | OC | kernel, stride, pad | shape | GFLOP/s | %% of peak |\n"
                "|---|---|---|---|---|---|---|---|\n");
    for (const KernelRow& row : kernel_rows()) {
        if (row.op != Op::Conv2d || row.isa > detected_isa()) continue;
        for (const auto& s : convs) {
            Conv2dArgs a;
            a.C = s.C, a.H = s.H, a.W = s.W, a.OC = s.OC, a.KH = a.KW = s.K, a.SH = a.SW = s.S, a.PT = a.PL = s.P;
            a.OH = (s.H + 2 * s.P - s.K) / s.S + 1;
            a.OW = (s.W + 2 * s.P - s.K) / s.S + 1;
            a.act.kind = s.act;
            std::vector<float> x(static_cast<size_t>(s.C * s.H * s.W)), w(static_cast<size_t>(s.OC * s.C * s.K * s.K));
            std::vector<float> bias(static_cast<size_t>(s.OC)), y(static_cast<size_t>(s.OC * a.OH * a.OW));
            for (auto& v : x) v = d(rng);
            for (auto& v : w) v = d(rng);
            for (auto& v : bias) v = d(rng);
            std::vector<float> work(static_cast<size_t>(conv2d_work_floats(a, row.nr)));
            a.x = x.data(), a.w = w.data(), a.bias = bias.data(), a.y = y.data(), a.work = work.data();
            a.p_begin = 0, a.p_end = a.OH * a.OW;
            const double best = best_seconds([&] { conv2d_fn(row)(a); });
            const double flops = 2.0 * double(s.OC * a.OH * a.OW) * double(s.C * s.K * s.K);
            std::printf("| %s | %ld | %ldx%ld | %ld | %ldx%ld s%ld p%ld | %s | %.1f | %.0f |\n", row.name, long(s.C),
                        long(s.H), long(s.W), long(s.OC), long(s.K), long(s.K), long(s.S), long(s.P), s.what,
                        flops / best / 1e9, 100.0 * flops / best / 1e9 / peak);
        }
    }
    return 0;
}
