// Machine peaks (bench/peak.h) on 1 and N threads: FP32 FMA, INT8 dot product (VNNI), BF16 dot product, read
// bandwidth — the denominators of every "% of peak" figure the other benches print (issue 7 item 3a).
// Usage: peak_bench [--threads N] [--json]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "peak.h"

int main(int argc, char** argv) {
    using namespace edgeq;
    int max_threads = int(std::thread::hardware_concurrency());
    bool json = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--threads" && i + 1 < argc) max_threads = std::atoi(argv[++i]);
        else if (a == "--json") json = true;
        else {
            std::fprintf(stderr, "peak_bench: unknown argument '%s' (usage: peak_bench [--threads N] [--json])\n", argv[i]);
            return 2;
        }
    }
    if (max_threads < 1) max_threads = 1;
    if (json) std::printf("{\"cpu_isa\": \"%s\", \"peaks\": [", isa_name(detected_isa()));
    else
        std::printf("cpu: detected %s\n\n| threads | FP32 FMA GFLOP/s | INT8 dot GOP/s | BF16 dot GFLOP/s | read GB/s | INT8/FP32 |\n"
                    "|---|---|---|---|---|---|\n",
                    isa_name(detected_isa()));
    const char* fp32_how = "";
    const char* int8_how = "";
    for (int t = 1; t <= max_threads; t = t < max_threads ? std::min(t * 2, max_threads) : max_threads + 1) {
        const bench::Peaks p = bench::measure_peaks(t);
        fp32_how = p.fp32_how, int8_how = p.int8_how;
        const double ratio = p.fp32_gflops > 0 ? p.int8_gops / p.fp32_gflops : 0;
        if (json)
            std::printf("%s{\"threads\": %d, \"fp32_gflops\": %.1f, \"int8_gops\": %.1f, \"bf16_gflops\": %.1f, "
                        "\"read_gbs\": %.2f}",
                        t == 1 ? "" : ", ", t, p.fp32_gflops, p.int8_gops, p.bf16_gflops, p.read_gbs);
        else
            std::printf("| %d | %.1f | %.1f | %.1f | %.2f | %.2f |\n", t, p.fp32_gflops, p.int8_gops, p.bf16_gflops,
                        p.read_gbs, ratio);
    }
    if (json) std::printf("], \"fp32_instruction\": \"%s\", \"int8_instruction\": \"%s\"}\n", fp32_how, int8_how);
    else std::printf("\nFP32: %s; INT8: %s; BF16: vdpbf16ps zmm (0 = not supported)\n", fp32_how, int8_how);
    return 0;
}
