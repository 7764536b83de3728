// llama_dl.h: what the interop drivers (llama_greedy.cpp, llama_quantize.cpp) share to drive the prebuilt
// llama.cpp of npm @node-llama-cpp/linux-x64@3.22.1 (commit 0ad4a86) through dlopen, without its headers:
// error exit, loading the three libraries in dependency order, binding symbols, collecting llama.cpp's log.
// Header-only; each driver is still built from its single .cpp file (the header sits next to it).
#pragma once

#include <dlfcn.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace llama_dl {

// Program name printed by die(); each driver sets it first thing in main().
inline const char* g_prog = "llama_dl";

// Prints "<prog>: error: <message>" to stderr and exits with status 2 (usage or load error).
[[noreturn]] inline void die(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::fprintf(stderr, "%s: error: ", g_prog);
    std::vfprintf(stderr, fmt, ap);
    std::fputc('\n', stderr);
    va_end(ap);
    std::exit(2);
}

inline void* open_lib(const std::string& path) {
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (!h) die("dlopen %s: %s", path.c_str(), dlerror());
    return h;
}

template <class F>
void bind(void* lib, const char* name, F& fn) {
    void* p = dlsym(lib, name);
    if (!p) die("symbol %s not found: %s", name, dlerror());
    fn = reinterpret_cast<F>(p);
}

// The three libraries of the peer, opened in dependency order (their RUNPATH $ORIGIN resolves the rest).
struct Libs {
    void* ggml_base;
    void* ggml;
    void* llama;
};
inline Libs open_peer(const std::string& lib_dir) {
    Libs l{};
    l.ggml_base = open_lib(lib_dir + "/libggml-base.so");
    l.ggml = open_lib(lib_dir + "/libggml.v0.5.0.so");
    l.llama = open_lib(lib_dir + "/libllama.v0.5.0.so");
    return l;
}

// ggml.h: enum ggml_log_level and ggml_log_callback (llama_log_set takes the same callback type).
enum ggml_log_level_t : int {
    kLogNone = 0,
    kLogDebug = 1,
    kLogInfo = 2,
    kLogWarn = 3,
    kLogError = 4,
    kLogCont = 5
};
using ggml_log_callback = void (*)(int level, const char* text, void* user_data);

// llama.cpp's log, kept in memory; echoed to stderr with verbose (errors always).
struct Log {
    std::string text;
    bool verbose = false;
};

inline void log_cb(int level, const char* text, void* ud) {
    auto* log = static_cast<Log*>(ud);
    log->text += text;
    if (log->verbose || level == kLogError) std::fputs(text, stderr);
}

inline bool contains(const std::string& hay, const char* needle) {
    return hay.find(needle) != std::string::npos;
}

}  // namespace llama_dl
