// Integer GEMM throughput (kernels/qgemm.h) against the FP32 GEMM chosen by select(Op::Gemm), single thread,
// B pre-packed: GOP/s (2·M·N·K per call) of every qgemm row this CPU runs, and the ratio to FP32, at the
// shapes of the benchmark models (mlp3's fully connected layers, vgg convolutions as im2col GEMMs).
// Each row is also quoted as % of the matching peak measured first in the same run (bench/peak.h): INT8 rows
// against the INT8 dot-product peak (VNNI), FP32 rows against the FMA peak; issue 7's target is >= 60 % for
// INT8 at M=N=K >= 256.
// Usage: qgemm_bench [--seconds S]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/cpu.h"
#include "kernels/kernels.h"
#include "kernels/qgemm.h"
#include "peak.h"

namespace {

double best_seconds(const std::function<void()>& f, double min_seconds) {
    f();  // warm-up
    double best = 1e30;
    const auto t_end = std::chrono::steady_clock::now() + std::chrono::duration<double>(min_seconds);
    int reps = 0;
    do {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        ++reps;
    } while (std::chrono::steady_clock::now() < t_end || reps < 3);
    return best;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace edgeq;
    using namespace edgeq::kernels;
    double min_seconds = 0.2;
    for (int i = 1; i + 1 < argc; ++i)
        if (std::string(argv[i]) == "--seconds") min_seconds = std::atof(argv[i + 1]);
    struct Shape3 {
        int64_t M, N, K;
        const char* what;
    };
    const Shape3 shapes[] = {
        {1, 1024, 784, "mlp3 fc1 b1"},       {64, 1024, 784, "mlp3 fc1 b64"},
        {1, 1024, 1024, "mlp3 fc2 b1"},      {64, 1024, 1024, "mlp3 fc2 b64"},
        {784, 32, 288, "vgg conv (im2col)"}, {196, 64, 576, "vgg conv (im2col)"},
        {64, 64, 64, "square"},              {256, 256, 256, "square"},
        {1024, 1024, 1024, "square"},        {64, 768, 288, "LLM prefill: 64 tokens x wq (288)"},
        {64, 2048, 768, "LLM prefill: 64 tokens x w1 (768)"},
    };
    std::mt19937 rng(1);
    const KernelRow& f32row = select(Op::Gemm);
    std::printf("cpu: detected %s, active %s; FP32 baseline %s\n", isa_name(detected_isa()),
                isa_name(active_isa()), f32row.name);
    const bench::Peaks peaks = bench::measure_peaks(1, 5'000'000, 0);
    std::printf("peaks, 1 thread: FP32 %.1f GFLOP/s (%s), INT8 %.1f GOP/s (%s)\n\n", peaks.fp32_gflops,
                peaks.fp32_how, peaks.int8_gops, peaks.int8_how);
    const double fp32_peak = peaks.fp32_gflops > 0 ? peaks.fp32_gflops : 1e30;
    const double int8_peak = peaks.int8_gops > 0 ? peaks.int8_gops : 1e30;
    std::printf("| kernel | M | N | K | shape | out | GOP/s | vs FP32 | %% of peak |\n"
                "|---|---|---|---|---|---|---|---|---|\n");
    for (const auto& s : shapes) {
        const int64_t M = s.M, N = s.N, K = s.K;
        const double ops = 2.0 * double(M) * double(N) * double(K);
        // FP32 baseline
        std::uniform_real_distribution<float> d(-1, 1);
        std::vector<float> af(static_cast<size_t>(M * K)), bf(static_cast<size_t>(K * N)),
            cf(static_cast<size_t>(M * N));
        for (auto& x : af) x = d(rng);
        for (auto& x : bf) x = d(rng);
        std::vector<float> packed(static_cast<size_t>(packed_b_floats(K, N, f32row.nr)));
        pack_b(bf.data(), N, 1, K, N, f32row.nr, packed.data());
        GemmArgs g;
        g.M = M, g.N = N, g.K = K, g.a = af.data(), g.lda = K, g.b = packed.data(), g.c = cf.data(),
        g.ldc = N;
        g.n_begin = 0, g.n_end = N;
        const double f32 = ops / best_seconds([&] { gemm_fn(f32row)(g); }, min_seconds) / 1e9;
        std::printf("| %s | %ld | %ld | %ld | %s | f32 | %.1f | 1.00 | %.0f |\n", f32row.name, long(M), long(N),
                    long(K), s.what, f32, 100.0 * f32 / fp32_peak);

        // INT8 (u8 activations, s8 weights, requantized u8 output with per-column multipliers)
        std::vector<uint8_t> a(static_cast<size_t>(M * K)), c8(static_cast<size_t>(M * N) * 4);
        std::vector<int8_t> b(static_cast<size_t>(K * N));
        for (auto& x : a) x = static_cast<uint8_t>(rng());
        for (auto& x : b) x = static_cast<int8_t>(rng());
        std::vector<uint8_t> qb(static_cast<size_t>(qpack_b_bytes(K, N)));
        qpack_b(b.data(), false, N, 1, K, N, qb.data());
        std::vector<int8_t> b7(b);  // 7-bit weights (reduce_range): the AVX2 row's vpmaddubsw path
        for (auto& x : b7) x = static_cast<int8_t>(x >> 1);
        std::vector<uint8_t> qb7(qb.size());
        qpack_b(b7.data(), false, N, 1, K, N, qb7.data());
        std::vector<float> mult(static_cast<size_t>(N), 1e-4f), ones(static_cast<size_t>(N), 0.01f);
        std::vector<int32_t> bias(static_cast<size_t>(N), 100);
        // group-wise weights, G = 32
        std::vector<int8_t> q4(static_cast<size_t>(K * N)), q2(static_cast<size_t>(K * N));
        for (auto& x : q4) x = static_cast<int8_t>(static_cast<int>(rng() % 16) - 8);
        for (auto& x : q2) x = static_cast<int8_t>(static_cast<int>(rng() % 4) - 2);
        const int G = 32;
        std::vector<float> gscale(static_cast<size_t>((K + G - 1) / G * N), 0.01f),
            ascale(static_cast<size_t>(M), 0.02f);
        std::vector<uint8_t> p4(static_cast<size_t>(qpack_group_bytes(4, G, false, K, N)));
        std::vector<uint8_t> p2(static_cast<size_t>(qpack_group_bytes(2, G, false, K, N)));
        qpack_group(4, G, q4.data(), N, 1, gscale.data(), nullptr, K, N, p4.data());
        qpack_group(2, G, q2.data(), N, 1, gscale.data(), nullptr, K, N, p2.data());

        for (const QKernelRow& row : qkernel_rows()) {
            if (!qrow_supported(row)) continue;
            if (row.isa == Isa::Ref && ops > 2.0 * 64 * 1024 * 1024) continue;
            double sec = 0;
            const char* out = "";
            if (row.op == QOp::Gemm8) {
                QGemmArgs q;
                q.M = M, q.N = N, q.K = K, q.a = a.data(), q.lda = K, q.a_zero = 128, q.b = qb.data();
                q.bias = bias.data(), q.out = QOut::U8, q.c = c8.data(), q.ldc = N,
                q.multiplier = mult.data();
                q.y_zero = 128, q.y_min = 0, q.y_max = 255, q.m_end = M, q.n_end = N;
                sec = best_seconds([&] { qgemm_fn(row)(q); }, min_seconds);
                out = "u8 (requant)";
                if (row.isa == Isa::Avx2) {
                    q.b = qb7.data();
                    const double s7 = best_seconds([&] { qgemm_fn(row)(q); }, min_seconds);
                    std::printf("| %s | %ld | %ld | %ld | %s | u8, 7-bit B | %.1f | %.2f | %.0f |\n", row.name,
                                long(M), long(N), long(K), s.what, ops / s7 / 1e9, ops / s7 / 1e9 / f32,
                                100.0 * ops / s7 / 1e9 / int8_peak);
                }
            } else {
                QGroupGemmArgs q;
                q.M = M, q.N = N, q.K = K, q.bits = row.op == QOp::Gemm4g ? 4 : 2, q.group = G;
                q.a = a.data(), q.lda = K, q.a_signed = true, q.a_scale = ascale.data();
                q.b = row.op == QOp::Gemm4g ? p4.data() : p2.data();
                q.c = reinterpret_cast<float*>(c8.data()), q.ldc = N, q.m_end = M, q.n_end = N;
                sec = best_seconds([&] { qgroup_fn(row)(q); }, min_seconds);
                out = "f32 (G=32)";
            }
            const double gops = ops / sec / 1e9;
            std::printf("| %s | %ld | %ld | %ld | %s | %s | %.1f | %.2f | %.0f |\n", row.name, long(M), long(N),
                        long(K), s.what, out, gops, gops / f32, 100.0 * gops / int8_peak);
        }
    }
    return 0;
}
