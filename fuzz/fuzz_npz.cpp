// libFuzzer: .npz reader (zip end record, ZIP64, central directory, local headers, inflate, CRC, .npy entries).
#include "formats/data/npz.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto m = edgeq::data::read_npz(edgeq::fuzz::input_file("npz", data, size));
    (void)m;
    return 0;
}
