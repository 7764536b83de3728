// libFuzzer: GGUF reader (header, KVs, tensor infos, data bounds), then every tensor's bytes are touched.
#include "formats/gguf/gguf.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto f = edgeq::gguf::File::open(edgeq::fuzz::input_file("gguf", data, size));
    if (!f.ok()) return 0;
    unsigned sum = 0;
    for (const auto& t : f.value()->tensors()) {
        for (uint8_t b : f.value()->tensor_data(t)) sum += b;
    }
    volatile unsigned sink = sum;  // keeps the reads
    (void)sink;
    return 0;
}
