// CPU features and the instruction-set level edgeq may use, detected once at run time.
//
// Every optimized path is compiled into the one binary and chosen here; EDGEQ_ISA=ref|avx2|avx512|
// avx512_vnni|avx512_bf16 caps the level (to bisect a wrong result or compare against the reference).
// An EDGEQ_ISA above what the CPU supports is capped to the CPU.
#pragma once

#include <cstdint>

namespace edgeq {

enum class Isa : uint8_t { Ref = 0, Avx2 = 1, Avx512 = 2, Avx512Vnni = 3, Avx512Bf16 = 4 };

struct CpuFeatures {
    bool avx2 = false, fma = false, f16c = false;
    bool avx512f = false, avx512bw = false, avx512vl = false, avx512vnni = false, avx512bf16 = false;
    bool avxvnni = false;  // AVX-VNNI (VEX vpdpbusd on ymm); not an Isa level: qgemm rows check it themselves
};

const CpuFeatures& cpu_features();
Isa detected_isa();           // best level the CPU (and OS) supports
Isa active_isa();             // detected_isa() capped by EDGEQ_ISA
bool isa_enabled(Isa isa);    // isa <= active_isa()
const char* isa_name(Isa isa);

}  // namespace edgeq
