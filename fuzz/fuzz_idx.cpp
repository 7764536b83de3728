// libFuzzer: IDX reader (plain or gzip: gzopen reads both).
#include "formats/data/idx.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto t = edgeq::data::read_idx(edgeq::fuzz::input_file("idx", data, size));
    (void)t;
    return 0;
}
