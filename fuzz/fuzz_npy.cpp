// libFuzzer: .npy parser (header dict, dtype, shape, data size) from memory.
#include "formats/data/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto t = edgeq::data::parse_npy({data, size}, "fuzz.npy");
    (void)t;
    return 0;
}
