#include "core/cpu.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace edgeq {
namespace {

CpuFeatures detect() {
    CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    // libgcc's checks include the OS (XGETBV) support of the register state.
    f.avx2 = __builtin_cpu_supports("avx2");
    f.fma = __builtin_cpu_supports("fma");
#if defined(__clang__) && __clang_major__ < 16  // no "f16c"/"avxvnni" in its builtin (clang-14: fuzz/ builds)
    unsigned a = 0, b = 0, c = 0, d = 0;
    f.f16c = f.avx2 && __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
    f.avxvnni = f.avx2 && __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 4));
#else
    f.f16c = __builtin_cpu_supports("f16c");
    f.avxvnni = __builtin_cpu_supports("avxvnni");
#endif
    f.avx512f = __builtin_cpu_supports("avx512f");
    f.avx512bw = __builtin_cpu_supports("avx512bw");
    f.avx512vl = __builtin_cpu_supports("avx512vl");
    f.avx512vnni = __builtin_cpu_supports("avx512vnni");
    f.avx512bf16 = __builtin_cpu_supports("avx512bf16");
#endif
    return f;
}

Isa compute_detected() {
    const CpuFeatures& f = cpu_features();
    if (!(f.avx2 && f.fma && f.f16c)) return Isa::Ref;
    if (!(f.avx512f && f.avx512bw && f.avx512vl)) return Isa::Avx2;
    if (!f.avx512vnni) return Isa::Avx512;
    if (!f.avx512bf16) return Isa::Avx512Vnni;
    return Isa::Avx512Bf16;
}

Isa compute_active() {
    Isa isa = detected_isa();
    const char* env = std::getenv("EDGEQ_ISA");
    if (!env || !*env) return isa;
    for (Isa cap : {Isa::Ref, Isa::Avx2, Isa::Avx512, Isa::Avx512Vnni, Isa::Avx512Bf16}) {
        if (std::strcmp(env, isa_name(cap)) == 0) return cap < isa ? cap : isa;
    }
    std::fprintf(stderr, "edgeq: warning: EDGEQ_ISA=%s not one of ref avx2 avx512 avx512_vnni avx512_bf16; ignored\n",
                 env);
    return isa;
}

}  // namespace

const CpuFeatures& cpu_features() {
    static const CpuFeatures f = detect();
    return f;
}

Isa detected_isa() {
    static const Isa isa = compute_detected();
    return isa;
}

Isa active_isa() {
    static const Isa isa = compute_active();
    return isa;
}

bool isa_enabled(Isa isa) { return isa <= active_isa(); }

const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::Ref: return "ref";
        case Isa::Avx2: return "avx2";
        case Isa::Avx512: return "avx512";
        case Isa::Avx512Vnni: return "avx512_vnni";
        case Isa::Avx512Bf16: return "avx512_bf16";
    }
    return "?";
}

}  // namespace edgeq
