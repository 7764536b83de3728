// Machine peaks measured in the same run as the benchmarks that quote them (issue 7 item 3a):
//   FP32 FMA      GFLOP/s  (vfmadd231ps on zmm, else ymm; 2 flops per lane)
//   INT8 VNNI     GOP/s    (vpdpbusd on zmm, else VEX vpdpbusd on ymm, else vpmaddubsw+vpmaddwd+vpaddd; 2 ops
//                          per u8×s8 product)
//   BF16          GFLOP/s  (vdpbf16ps on zmm; 2 flops per bf16 product)
//   read bandwidth GB/s    (streaming sum over a buffer far larger than the last-level cache)
// Each compute loop keeps 12 independent accumulators in registers, so it measures issue throughput, not
// latency. Every figure is the best of several timed repetitions on `threads` threads (one loop per thread).
// Header-only so every bench binary can quote "% of peak" without another library; the intrinsics carry
// target attributes, so no global ISA flags are needed and the functions are only called when cpuid says so.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "core/cpu.h"

namespace edgeq::bench {

struct Peaks {
    double fp32_gflops = 0;  // FMA
    double int8_gops = 0;    // u8×s8 dot products (0 when the CPU has no integer dot instruction worth quoting)
    double bf16_gflops = 0;  // 0 without AVX512-BF16
    double read_gbs = 0;
    const char* fp32_how = "";
    const char* int8_how = "";
};

namespace detail {

inline volatile double g_sink = 0;

// Runs fn(thread_index) -> double on n threads at once and returns the wall seconds of the slowest; the
// results are summed into g_sink afterwards so the compiler cannot drop the work.
template <class F>
double run_threads(int n, F&& fn) {
    std::vector<double> results(size_t(n), 0.0);
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> ts;
    for (int t = 1; t < n; ++t) ts.emplace_back([&, t] { results[size_t(t)] = double(fn(t)); });
    results[0] = double(fn(0));
    for (auto& t : ts) t.join();
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double s = 0;
    for (double r : results) s += r;
    g_sink = g_sink + s;
    return sec;
}

template <class F>
double best_of(int reps, F&& fn) {
    double best = 1e30;
    for (int r = 0; r < reps; ++r) best = std::min(best, fn());
    return best;
}

// The loops return a value derived from the accumulators so the compiler cannot drop them.
__attribute__((target("avx512f"))) inline float fma_zmm(int64_t iters) {
    __m512 acc[12];
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(0.001f * float(i));
    const __m512 a = _mm512_set1_ps(0.9999f), b = _mm512_set1_ps(1e-7f);
    for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    }
    __m512 s = acc[0];
#pragma GCC unroll 12
    for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, acc[i]);
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) inline float fma_ymm(int64_t iters) {
    __m256 acc[12];
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(0.001f * float(i));
    const __m256 a = _mm256_set1_ps(0.9999f), b = _mm256_set1_ps(1e-7f);
    for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    }
    __m256 s = acc[0];
#pragma GCC unroll 12
    for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0] + out[7];
}

__attribute__((target("avx512f,avx512vnni"))) inline int32_t vnni_zmm(int64_t iters) {
    __m512i acc[12];
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_epi32(i);
    const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
    for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
    }
    __m512i s = acc[0];
#pragma GCC unroll 12
    for (int i = 1; i < 12; ++i) s = _mm512_add_epi32(s, acc[i]);
    return _mm512_reduce_add_epi32(s);
}

__attribute__((target("avx2,avxvnni"))) inline int32_t vnni_ymm(int64_t iters) {
    __m256i acc[12];
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_epi32(i);
    const __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-2);
    for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; ++i) acc[i] = _mm256_dpbusd_avx_epi32(acc[i], a, b);
    }
    __m256i s = acc[0];
#pragma GCC unroll 12
    for (int i = 1; i < 12; ++i) s = _mm256_add_epi32(s, acc[i]);
    return _mm256_extract_epi32(s, 0) + _mm256_extract_epi32(s, 7);
}

// AVX2 without VNNI: u8×s8 → s16 pairs (vpmaddubsw), → s32 (vpmaddwd with ones), accumulate (vpaddd).
__attribute__((target("avx2"))) inline int32_t maddubs_ymm(int64_t iters) {
    __m256i acc[12];
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_epi32(i);
    const __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-2), ones = _mm256_set1_epi16(1);
    for (int64_t it = 0; it < iters; ++it)
#pragma GCC unroll 12
        for (int i = 0; i < 12; ++i)
            acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), ones));
    __m256i s = acc[0];
#pragma GCC unroll 12
    for (int i = 1; i < 12; ++i) s = _mm256_add_epi32(s, acc[i]);
    return _mm256_extract_epi32(s, 0) + _mm256_extract_epi32(s, 7);
}

__attribute__((target("avx512f,avx512bf16"))) inline float bf16_zmm(int64_t iters) {
    __m512 acc[12];
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(0.001f * float(i));
    const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80), b = (__m512bh)_mm512_set1_epi16(0x3380);
    for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
    }
    __m512 s = acc[0];
#pragma GCC unroll 12
    for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, acc[i]);
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2"))) inline uint64_t read_sum(const uint64_t* p, size_t n) {
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_add_epi64(s0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
        s1 = _mm256_add_epi64(s1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 4)));
        s2 = _mm256_add_epi64(s2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 8)));
        s3 = _mm256_add_epi64(s3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 12)));
    }
    uint64_t out[4];
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out),
                        _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3)));
    uint64_t r = out[0] + out[1] + out[2] + out[3];
    for (; i < n; ++i) r += p[i];
    return r;
}

}  // namespace detail

// Measures every peak on `threads` threads. `iters` inner iterations (×12 instructions) per thread per rep.
inline Peaks measure_peaks(int threads = 1, int64_t iters = 20'000'000, size_t read_bytes = size_t(512) << 20) {
    using namespace detail;
    const CpuFeatures& f = cpu_features();
    Peaks p;
    const int reps = 5;
    const double instr = 12.0 * double(iters) * threads;
    if (f.avx512f) {
        p.fp32_gflops = instr * 32 / best_of(reps, [&] { return run_threads(threads, [&](int) { return fma_zmm(iters); }); }) / 1e9;
        p.fp32_how = "vfmadd231ps zmm";
    } else if (f.avx2 && f.fma) {
        p.fp32_gflops = instr * 16 / best_of(reps, [&] { return run_threads(threads, [&](int) { return fma_ymm(iters); }); }) / 1e9;
        p.fp32_how = "vfmadd231ps ymm";
    }
    if (f.avx512vnni) {
        p.int8_gops = instr * 128 / best_of(reps, [&] { return run_threads(threads, [&](int) { return vnni_zmm(iters); }); }) / 1e9;
        p.int8_how = "vpdpbusd zmm";
    } else if (f.avxvnni) {
        p.int8_gops = instr * 64 / best_of(reps, [&] { return run_threads(threads, [&](int) { return vnni_ymm(iters); }); }) / 1e9;
        p.int8_how = "vpdpbusd ymm (AVX-VNNI)";
    } else if (f.avx2) {
        p.int8_gops = instr * 64 / best_of(reps, [&] { return run_threads(threads, [&](int) { return maddubs_ymm(iters); }); }) / 1e9;
        p.int8_how = "vpmaddubsw+vpmaddwd ymm";
    }
    if (f.avx512bf16)
        p.bf16_gflops = instr * 64 / best_of(reps, [&] { return run_threads(threads, [&](int) { return bf16_zmm(iters); }); }) / 1e9;
    if (f.avx2 && read_bytes > 0) {
        const size_t n = read_bytes / sizeof(uint64_t);
        std::vector<uint64_t> buf(n);
        for (size_t i = 0; i < n; ++i) buf[i] = i;  // touch every page
        const size_t per = (n / threads) & ~size_t(15);
        const double sec = best_of(reps, [&] {
            return run_threads(threads, [&](int t) { return read_sum(buf.data() + per * t, per); });
        });
        p.read_gbs = double(per) * threads * sizeof(uint64_t) / sec / 1e9;
    }
    return p;
}

}  // namespace edgeq::bench
