// libFuzzer: llama2.c checkpoint + tokenizer. Input = u16 checkpoint length (LE), checkpoint, tokenizer.
#include <cstring>

#include "formats/llama2c/llama2c.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    size_t n = data[0] | (size_t{data[1]} << 8);
    data += 2;
    size -= 2;
    if (n > size) n = size;
    const std::string ck = edgeq::fuzz::input_file("l2c_ck", data, n);
    const std::string tok = edgeq::fuzz::input_file("l2c_tok", data + n, size - n);
    auto m = edgeq::llama2c::load(ck, tok);
    (void)m;
    return 0;
}
