// quantize_bench: quantization speed of edgeq's reference codecs vs ggml's, on the same tensors.
//
// Peer: ggml_quantize_chunk(type, src, dst, 0, nrows, n_per_row, NULL) from libggml-base.so of the
// prebuilt llama.cpp 0ad4a86 (npm @node-llama-cpp/linux-x64@3.22.1, installed by scripts/peers-setup.sh),
// called through dlopen. edgeq: edgeq::quantize(type, src, dst, nrows, n_per_row). Both single-threaded,
// no imatrix. Input: every 2-D F32 tensor of shakespeare-wiki-4M-F32.gguf (rows of 256/768, ~4.2M
// weights), or, with --synthetic or when that file cannot be read, 256 rows of 4096 N(0, 0.02).
//
// Timing: per type, the whole tensor set is quantized by each side alternately, best of --reps runs
// (default 7); MB/s counts F32 input bytes (4 per weight). "same" says whether the two outputs are
// byte-identical over all tensors (else how many blocks differ). No assertions on speed.
//
// Each type is first quantized once in a forked child on both sides, so a codec edgeq does not have yet
// (aborting "not implemented", or a storage-only row) or a type ggml_quantize_chunk lacks is reported in
// the table instead of killing the run. ggml's type ids are checked by name (ggml_type_name) before use.
//
// Usage: quantize_bench [--peers DIR] [--gguf FILE] [--synthetic] [--reps N] [--types Q8_0,Q4_K,...]
//   DIR: the folder with libggml-base.so, or the .peers/ folder of peers-setup.sh; default $EDGEQ_PEERS,
//   else <repo>/.peers. FILE: default $EDGEQ_SHARED/assets/llm/shakespeare-wiki-4M/...-F32.gguf.
// Exit status: 0 ran (whatever the numbers); 2 usage error or ggml not loadable.
#include <dlfcn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "edgeq/dtype.h"
#include "formats/gguf/gguf.h"

namespace {

namespace fs = std::filesystem;
using edgeq::DType;

// ggml.h of this build: size_t ggml_quantize_chunk(enum ggml_type, const float*, void*, int64_t start,
// int64_t nrows, int64_t n_per_row, const float* imatrix); enum ggml_type values are GGUF's type ids.
using QuantizeChunkFn = size_t (*)(int, const float*, void*, int64_t, int64_t, int64_t, const float*);
using TypeNameFn = const char* (*)(int);
using RowSizeFn = size_t (*)(int, int64_t);
using RequiresImatrixFn = bool (*)(int);

struct Ggml {
    QuantizeChunkFn quantize_chunk = nullptr;
    TypeNameFn type_name = nullptr;
    RowSizeFn row_size = nullptr;
    RequiresImatrixFn requires_imatrix = nullptr;
};

struct Tensor {
    std::string name;
    int64_t nrows = 0, n_per_row = 0;
    std::vector<float> data;
};

const char* kDefaultTypes[] = {"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1",   "Q2_K",
                               "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "TQ2_0"};

fs::path repo_root() {
    return fs::path(__FILE__).parent_path().parent_path();
}

std::string find_libdir(const std::string& arg) {
    std::vector<fs::path> roots;
    if (!arg.empty())
        roots.emplace_back(arg);
    else if (const char* e = std::getenv("EDGEQ_PEERS"); e && *e)
        roots.emplace_back(e);
    else
        roots.push_back(repo_root() / ".peers");
    for (const auto& r : roots) {
        for (const fs::path& d : {r, r / "node_modules/@node-llama-cpp/linux-x64/bins/linux-x64"})
            if (fs::exists(d / "libggml-base.so")) return d.string();
    }
    return "";
}

bool load_ggml(const std::string& dir, Ggml& g) {
    const std::string p = dir + "/libggml-base.so";
    void* h = dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        std::fprintf(stderr, "quantize_bench: dlopen %s: %s\n", p.c_str(), dlerror());
        return false;
    }
    g.quantize_chunk = reinterpret_cast<QuantizeChunkFn>(dlsym(h, "ggml_quantize_chunk"));
    g.type_name = reinterpret_cast<TypeNameFn>(dlsym(h, "ggml_type_name"));
    g.row_size = reinterpret_cast<RowSizeFn>(dlsym(h, "ggml_row_size"));
    g.requires_imatrix = reinterpret_cast<RequiresImatrixFn>(dlsym(h, "ggml_quantize_requires_imatrix"));
    if (!g.quantize_chunk || !g.type_name || !g.row_size || !g.requires_imatrix) {
        std::fprintf(stderr, "quantize_bench: %s lacks a ggml_quantize_* symbol\n", p.c_str());
        return false;
    }
    return true;
}

std::vector<Tensor> load_gguf(const std::string& path) {
    std::vector<Tensor> out;
    auto f = edgeq::gguf::File::open(path);
    if (!f.ok()) {
        std::fprintf(stderr, "quantize_bench: %s\n", f.status().message().c_str());
        return out;
    }
    for (const auto& t : (*f)->tensors()) {
        if (t.type != DType::F32 || t.ne.size() != 2 || t.ne[0] % 256 != 0) continue;
        const auto bytes = (*f)->tensor_data(t);
        Tensor x;
        x.name = t.name;
        x.n_per_row = t.ne[0];
        x.nrows = t.n_rows();
        x.data.resize(static_cast<size_t>(x.n_per_row * x.nrows));
        if (bytes.size() != x.data.size() * sizeof(float)) continue;
        std::memcpy(x.data.data(), bytes.data(), bytes.size());
        out.push_back(std::move(x));
    }
    return out;
}

std::vector<Tensor> synthetic() {
    Tensor t;
    t.name = "synthetic N(0,0.02) 256x4096";
    t.nrows = 256;
    t.n_per_row = 4096;
    t.data.resize(static_cast<size_t>(t.nrows * t.n_per_row));
    std::mt19937_64 rng(1234);
    std::normal_distribution<float> nd(0.0f, 0.02f);
    for (auto& v : t.data) v = nd(rng);
    return {std::move(t)};
}

// Runs fn (one small quantization) in a forked child: false when it aborts or crashes, as a codec that is
// not implemented yet does (EDGEQ_CHECK "not implemented"), or ggml on a type its quantize_chunk lacks.
template <class Fn>
bool survives(Fn fn) {
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid < 0) return true;  // cannot probe: try it for real
    if (pid == 0) {
        setenv("GGML_NO_BACKTRACE", "1", 1);  // ggml_abort would otherwise attach gdb
        if (!std::freopen("/dev/null", "w", stdout) || !std::freopen("/dev/null", "w", stderr)) _exit(3);
        fn();
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

std::vector<float> probe_row() {
    std::vector<float> src(256);
    for (size_t i = 0; i < src.size(); ++i) src[i] = 0.01f * static_cast<float>(static_cast<int>(i % 17) - 8);
    return src;
}

bool edgeq_can_quantize(DType t) {
    if (!edgeq::has_codec(t)) return false;
    return survives([t] {
        const auto src = probe_row();
        std::vector<uint8_t> dst(edgeq::row_size(t, 256));
        edgeq::quantize(t, src.data(), dst.data(), 1, 256);
    });
}

bool ggml_can_quantize(const Ggml& g, int id) {
    return survives([&g, id] {
        const auto src = probe_row();
        std::vector<uint8_t> dst(g.row_size(id, 256));
        g.quantize_chunk(id, src.data(), dst.data(), 0, 1, 256, nullptr);
    });
}

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void usage() {
    std::fputs(
        "usage: quantize_bench [--peers DIR] [--gguf FILE] [--synthetic] [--reps N] [--types T1,T2,...]\n",
        stderr);
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    std::string peers, gguf_path, types_arg;
    bool use_synthetic = false;
    int reps = 7;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) usage();
            return argv[++i];
        };
        if (a == "--peers")
            peers = next();
        else if (a == "--gguf")
            gguf_path = next();
        else if (a == "--synthetic")
            use_synthetic = true;
        else if (a == "--reps")
            reps = std::max(1, std::atoi(next().c_str()));
        else if (a == "--types")
            types_arg = next();
        else
            usage();
    }

    const std::string libdir = find_libdir(peers);
    Ggml g;
    if (libdir.empty() || !load_ggml(libdir, g)) {
        std::fprintf(
            stderr,
            "quantize_bench: libggml-base.so not found (run scripts/peers-setup.sh, or pass --peers / "
            "EDGEQ_PEERS)\n");
        return 2;
    }

    std::vector<std::string> type_names;
    if (types_arg.empty()) {
        type_names.assign(std::begin(kDefaultTypes), std::end(kDefaultTypes));
    } else {
        size_t p = 0;
        while (p <= types_arg.size()) {
            const size_t c = std::min(types_arg.find(',', p), types_arg.size());
            if (c > p) type_names.push_back(types_arg.substr(p, c - p));
            p = c + 1;
        }
    }

    if (gguf_path.empty()) {
        const char* sh = std::getenv("EDGEQ_SHARED");
        const fs::path shared = sh && *sh ? fs::path(sh) : repo_root().parent_path() / "shared";
        gguf_path = (shared / "assets/llm/shakespeare-wiki-4M/shakespeare-wiki-4M-F32.gguf").string();
    }
    std::vector<Tensor> tensors;
    if (!use_synthetic) tensors = load_gguf(gguf_path);
    std::string source = gguf_path;
    if (tensors.empty()) {
        if (!use_synthetic)
            std::fprintf(stderr, "quantize_bench: no usable F32 tensors in %s; using synthetic rows\n",
                         gguf_path.c_str());
        tensors = synthetic();
        source = tensors[0].name;
    }
    int64_t n_weights = 0;
    for (const auto& t : tensors) n_weights += t.nrows * t.n_per_row;
    const double mb = static_cast<double>(n_weights) * 4.0 / 1e6;

    std::printf(
        "quantize_bench: edgeq::quantize vs ggml_quantize_chunk (%s/libggml-base.so), 1 thread, no imatrix\n",
        libdir.c_str());
    std::printf("input: %s: %zu tensors, %lld weights (%.2f MB F32); best of %d\n\n", source.c_str(),
                tensors.size(), static_cast<long long>(n_weights), mb, reps);
    std::printf("| type   | MB/s edgeq | MB/s ggml | edgeq/ggml | byte-identical |\n");
    std::printf("|--------|-----------:|----------:|-----------:|----------------|\n");

    for (const auto& name : type_names) {
        const auto dt = edgeq::dtype_from_name(name);
        if (!dt) {
            std::printf("| %-6s | unknown type name |\n", name.c_str());
            continue;
        }
        const int id = static_cast<int>(edgeq::traits(*dt).id);
        const char* gname = g.type_name(id);
        if (!gname || strcasecmp(gname, edgeq::dtype_name(*dt)) != 0) {
            std::printf("| %-6s | ggml type %d is \"%s\" here: skipped |\n", name.c_str(), id,
                        gname ? gname : "?");
            continue;
        }
        if (g.requires_imatrix(id)) {
            std::printf("| %-6s | ggml requires an imatrix for this type: skipped |\n", name.c_str());
            continue;
        }
        if (!ggml_can_quantize(g, id)) {
            std::printf("| %-6s | ggml_quantize_chunk aborts on this type: skipped |\n", name.c_str());
            continue;
        }
        const bool have_edgeq = edgeq_can_quantize(*dt);

        std::vector<std::vector<uint8_t>> out_e(tensors.size()), out_g(tensors.size());
        bool size_ok = true;
        for (size_t i = 0; i < tensors.size(); ++i) {
            const auto& t = tensors[i];
            const size_t bytes = g.row_size(id, t.n_per_row) * static_cast<size_t>(t.nrows);
            if (have_edgeq && edgeq::row_size(*dt, t.n_per_row) * static_cast<size_t>(t.nrows) != bytes)
                size_ok = false;
            out_e[i].assign(bytes, 0);
            out_g[i].assign(bytes, 0);
        }
        if (!size_ok) {
            std::printf("| %-6s | row sizes of edgeq and ggml differ: skipped |\n", name.c_str());
            continue;
        }

        double best_e = 1e30, best_g = 1e30;
        for (int r = 0; r < reps + 1; ++r) {  // the first round warms caches and ggml's tables; not timed
            double t0 = now_s();
            for (size_t i = 0; i < tensors.size(); ++i)
                g.quantize_chunk(id, tensors[i].data.data(), out_g[i].data(), 0, tensors[i].nrows,
                                 tensors[i].n_per_row, nullptr);
            const double dg = now_s() - t0;
            double de = 0;
            if (have_edgeq) {
                t0 = now_s();
                for (size_t i = 0; i < tensors.size(); ++i)
                    edgeq::quantize(*dt, tensors[i].data.data(), out_e[i].data(), tensors[i].nrows,
                                    tensors[i].n_per_row);
                de = now_s() - t0;
            }
            if (r > 0 || reps == 0) {
                best_g = std::min(best_g, dg);
                if (have_edgeq) best_e = std::min(best_e, de);
            }
        }
        const double mbs_g = mb / best_g;
        if (!have_edgeq) {
            std::printf("| %-6s | %10s | %9.1f | %10s | edgeq codec not implemented |\n", name.c_str(), "-",
                        mbs_g, "-");
            continue;
        }
        const double mbs_e = mb / best_e;
        const size_t block_bytes = edgeq::traits(*dt).type_size;
        size_t diff_blocks = 0, total_blocks = 0;
        for (size_t i = 0; i < tensors.size(); ++i) {
            const size_t nb = out_g[i].size() / block_bytes;
            total_blocks += nb;
            for (size_t b = 0; b < nb; ++b)
                if (std::memcmp(out_e[i].data() + b * block_bytes, out_g[i].data() + b * block_bytes,
                                block_bytes) != 0)
                    ++diff_blocks;
        }
        char same[96];
        if (diff_blocks == 0)
            std::snprintf(same, sizeof same, "yes");
        else
            std::snprintf(same, sizeof same, "NO: %zu of %zu blocks differ", diff_blocks, total_blocks);
        std::printf("| %-6s | %10.1f | %9.1f | %10.2f | %-14s |\n", name.c_str(), mbs_e, mbs_g, mbs_e / mbs_g,
                    same);
    }
    return 0;
}
