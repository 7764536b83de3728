// FP32 GEMM throughput of every kernel row this CPU runs (kernels/dispatch.cpp), single thread, B pre-packed:
// GFLOP/s at square sizes and at shapes taken from the benchmark models. Usage: gemm_bench [--reps N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "core/cpu.h"
#include "kernels/kernels.h"

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
        {64, 64, 64, "square"},          {256, 256, 256, "square"},       {1024, 1024, 1024, "square"},
        {1, 1024, 784, "mlp3 fc1 b1"},   {64, 1024, 1024, "mlp3 fc2 b64"}, {64, 120, 400, "lenet5 fc1 b64"},
        {64, 784, 288, "vgg conv2 (im2col) per image"},
    };
    std::printf("| kernel | M | N | K | shape | GFLOP/s |\n|---|---|---|---|---|---|\n");
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> d(-1, 1);
    for (const KernelRow& row : kernel_rows()) {
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
            gemm_fn(row)(g);  // warm-up
            double best = 1e30;
            auto t_end = std::chrono::steady_clock::now() + std::chrono::duration<double>(min_seconds);
            int reps = 0;
            do {
                const auto t0 = std::chrono::steady_clock::now();
                gemm_fn(row)(g);
                best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
                ++reps;
            } while (std::chrono::steady_clock::now() < t_end || reps < 3);
            std::printf("| %s | %ld | %ld | %ld | %s | %.1f |\n", row.name, long(s.M), long(s.N), long(s.K), s.what,
                        2.0 * double(s.M) * double(s.N) * double(s.K) / best / 1e9);
        }
    }
    return 0;
}
