// Inputs shared by the LLM subcommands that read a model and a text (perplexity, imatrix).
#pragma once

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include "edgeq/status.h"
#include "formats/gguf/gguf.h"

namespace edgeq::cli {

// <arch>.context_length read from the GGUF header without loading the model; 0 when the file or the key is
// missing (Model::load then reports the problem).
inline int64_t trained_context(const std::string& path) {
    auto f = gguf::File::open(path);
    if (!f.ok()) return 0;
    const gguf::Value* arch = (*f)->find("general.architecture");
    if (!arch || arch->type != gguf::ValueType::STRING) return 0;
    const gguf::Value* v = (*f)->find(arch->str + ".context_length");
    return v && v->is_integer() ? v->as_int() : 0;
}

// The whole text file given with -f.
inline Result<std::string> read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return NotFound("-f " + path + ": cannot open (" + std::strerror(errno) + ")");
    std::string s{std::istreambuf_iterator<char>(in), {}};
    if (in.bad()) return IoError("-f " + path + ": read error");
    return s;
}

}  // namespace edgeq::cli
