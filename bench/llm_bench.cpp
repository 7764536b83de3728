// llm_bench: edgeq's side of the LLM speed benchmark (bench/llm_speed.sh, docs/llm/speed.md; issue 5 item 6,
// issue 7 item 3d). llama.cpp's side is bench/peers/llama_bench.cpp, which follows the same protocol.
//
//   llm_bench gen --shape 100m|1b --out F32.gguf [--seed S]
//       Writes a random-weight llama GGUF in F32 (the other types come from `edgeq quantize`):
//         100m: n_embd 768, 12 layers, 12 heads (12 KV heads), ffn 2048, vocab 32000  (134 M parameters)
//         1b:   n_embd 2048, 22 layers, 32 heads (4 KV heads), ffn 5632, vocab 32000  (TinyLlama, 1.1 B)
//       Weights ~ N(0, 0.02²) (the scale of trained llama matrices), norms 1; context_length 2048, rope base
//       10000, rms eps 1e-5. Tokenizer: SentencePiece `llama` with a synthetic vocab: <unk>, <s>, </s>, the
//       256 byte tokens <0x00>..<0xFF>, then distinct filler pieces with decreasing scores, so that both
//       edgeq and llama.cpp load the file. Deterministic: every tensor is drawn from splitmix64 seeded by
//       (seed, name).
//
//   llm_bench run MODEL.gguf [--threads 1,2] [--prompt 64] [--decode 16] [--reps 3] [--ctx 512]
//       The timing protocol (the same in llama_bench.cpp):
//         model loaded once (weights mmap'd), K/V cache of --ctx positions (F32);
//         prompt = --prompt fixed token ids (259 + 7919 i mod (n_vocab - 259)), evaluated as ONE batch,
//         logits of the last token only; then --decode tokens one at a time (positions prompt, prompt+1,
//         ...); one untimed warm-up pass (prompt + 2 tokens) per thread count, then --reps repetitions, each
//         starting from an empty cache; prefill tok/s = prompt / best prefill time, decode tok/s = decode /
//         best decode time (wall clock, steady_clock), best over the repetitions.
//       Prints one JSON line per thread count {"impl":"edgeq","threads","prefill_tps","decode_tps",...} and
//       then {"impl":"edgeq","peak_rss_bytes","file_bytes","kv_bytes","bytes_per_token"}: bytes_per_token is
//       what one decode step must read: every tensor except token_embd, one token_embd row, and the K/V cache
//       rows at the mean decode position. --baseline: the session-4 schedule
//       (llm::Model::set_baseline_schedule: one vec_dot per output, threads spawned per matmul), reported as
//       impl "edgeq-baseline"; --ab measures both, baseline then current within each repetition (same load).
//
//   llm_bench bandwidth [--threads 1,2]
//       Read bandwidth (bench/peak.h: streaming sum over 512 MiB, best of 5), one JSON line per thread count.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "edgeq/dtype.h"
#include "formats/gguf/gguf.h"
#include "llm/model.h"
#include "llm_protocol.h"
#include "peak.h"

namespace {

using namespace edgeq;
using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& msg) {
    std::fprintf(stderr, "llm_bench: error: %s\n", msg.c_str());
    std::exit(2);
}

void usage() {
    std::fputs(
        "usage: llm_bench gen --shape 100m|1b --out F32.gguf [--seed S]\n"
        "       llm_bench run MODEL.gguf [--threads 1,2] [--prompt 64] [--decode 16] [--reps 3] [--ctx 512]\n"
        "                                  [--baseline | --ab]  (session-4 schedule: rows, threads per "
        "matmul; --ab: both, interleaved per repetition)\n"
        "                                  [--no-repack]  (Q4_0/Q8_0 on their file rows, not repacked: "
        "llm::ModelOptions::repack = false)\n"
        "       llm_bench bandwidth [--threads 1,2]\n",
        stderr);
    std::exit(2);
}

// ---- gen ------------------------------------------------------------------------------------------------
struct Shape {
    int64_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab;
};

uint64_t splitmix64(uint64_t& s) {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// n normal floats of standard deviation std (Box-Muller on splitmix64), seeded by (seed, name).
std::vector<uint8_t> random_normal(int64_t n, float std, uint64_t seed, const std::string& name) {
    uint64_t s = seed;
    for (char c : name) s = s * 1099511628211ULL + static_cast<uint8_t>(c);
    std::vector<uint8_t> bytes(static_cast<size_t>(n) * sizeof(float));
    float* f = reinterpret_cast<float*>(bytes.data());
    for (int64_t i = 0; i < n; i += 2) {
        const double u1 = (static_cast<double>(splitmix64(s) >> 11) + 0.5) * 0x1p-53;
        const double u2 = static_cast<double>(splitmix64(s) >> 11) * 0x1p-53;
        const double r = std::sqrt(-2.0 * std::log(u1)) * std;
        f[i] = static_cast<float>(r * std::cos(2.0 * M_PI * u2));
        if (i + 1 < n) f[i + 1] = static_cast<float>(r * std::sin(2.0 * M_PI * u2));
    }
    return bytes;
}

std::string filler_piece(int64_t j) {
    std::string w;
    int64_t k = j / 2;
    do {
        w.insert(w.begin(), static_cast<char>('a' + k % 26));
        k /= 26;
    } while (k > 0);
    return (j % 2 == 0 ? "\xe2\x96\x81" : "") + w;  // even: "▁word", odd: "word"
}

int gen(int argc, char** argv) {
    std::string shape_name, out;
    uint64_t seed = 1234;
    for (int i = 2; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc) usage();
        if (a == "--shape")
            shape_name = argv[++i];
        else if (a == "--out")
            out = argv[++i];
        else if (a == "--seed")
            seed = std::strtoull(argv[++i], nullptr, 10);
        else
            usage();
    }
    Shape sh{};
    if (shape_name == "100m")
        sh = {768, 12, 12, 12, 2048, 32000};
    else if (shape_name == "1b")
        sh = {2048, 22, 32, 4, 5632, 32000};
    else
        usage();
    if (out.empty()) usage();

    using gguf::Value;
    using gguf::ValueType;
    gguf::Writer w;
    const int64_t head_dim = sh.n_embd / sh.n_head;
    w.set("general.architecture", Value::Str("llama"));
    w.set("general.name", Value::Str("random-llama-" + shape_name));
    w.set("general.file_type", Value::U32v(0));
    w.set("general.quantization_version", Value::U32v(2));
    w.set("general.description", Value::Str("random weights N(0, 0.02^2), seed " + std::to_string(seed) +
                                            " (edgeq bench/llm_bench.cpp); for speed measurements only"));
    w.set("llama.context_length", Value::U32v(2048));
    w.set("llama.embedding_length", Value::U32v(static_cast<uint32_t>(sh.n_embd)));
    w.set("llama.feed_forward_length", Value::U32v(static_cast<uint32_t>(sh.n_ff)));
    w.set("llama.block_count", Value::U32v(static_cast<uint32_t>(sh.n_layer)));
    w.set("llama.attention.head_count", Value::U32v(static_cast<uint32_t>(sh.n_head)));
    w.set("llama.attention.head_count_kv", Value::U32v(static_cast<uint32_t>(sh.n_head_kv)));
    w.set("llama.rope.dimension_count", Value::U32v(static_cast<uint32_t>(head_dim)));
    w.set("llama.rope.freq_base", Value::F32v(10000.0f));
    w.set("llama.attention.layer_norm_rms_epsilon", Value::F32v(1e-5f));
    w.set("llama.vocab_size", Value::U32v(static_cast<uint32_t>(sh.n_vocab)));

    std::vector<Value> tokens, scores, types;
    for (int64_t i = 0; i < sh.n_vocab; ++i) {
        std::string text;
        int32_t type = 1;  // normal
        if (i == 0) {
            text = "<unk>";
            type = 2;
        } else if (i <= 2) {
            text = i == 1 ? "<s>" : "</s>";
            type = 3;  // control
        } else if (i < 259) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "<0x%02X>", static_cast<unsigned>(i - 3));
            text = buf;
            type = 6;  // byte
        } else {
            text = filler_piece(i - 259);
        }
        tokens.push_back(Value::Str(std::move(text)));
        scores.push_back(Value::F32v(i < 259 ? 0.0f : -static_cast<float>(i - 259)));
        types.push_back(Value::I32v(type));
    }
    w.set("tokenizer.ggml.model", Value::Str("llama"));
    w.set("tokenizer.ggml.tokens", Value::Array(ValueType::STRING, std::move(tokens)));
    w.set("tokenizer.ggml.scores", Value::Array(ValueType::F32, std::move(scores)));
    w.set("tokenizer.ggml.token_type", Value::Array(ValueType::I32, std::move(types)));
    w.set("tokenizer.ggml.unknown_token_id", Value::U32v(0));
    w.set("tokenizer.ggml.bos_token_id", Value::U32v(1));
    w.set("tokenizer.ggml.eos_token_id", Value::U32v(2));
    w.set("tokenizer.ggml.add_bos_token", Value::Boolv(true));
    w.set("tokenizer.ggml.add_eos_token", Value::Boolv(false));

    auto add = [&](const std::string& name, int64_t cols, int64_t rows, bool norm) {
        std::vector<uint8_t> data;
        if (norm) {
            std::vector<float> ones(static_cast<size_t>(cols * rows), 1.0f);
            data.assign(reinterpret_cast<const uint8_t*>(ones.data()),
                        reinterpret_cast<const uint8_t*>(ones.data() + ones.size()));
        } else {
            data = random_normal(cols * rows, 0.02f, seed, name);
        }
        std::vector<int64_t> ne = rows == 1 ? std::vector<int64_t>{cols} : std::vector<int64_t>{cols, rows};
        const Status st = w.add_tensor_owned(name, DType::F32, std::move(ne), std::move(data));
        if (!st.ok()) die(st.message());
    };
    const int64_t D = sh.n_embd, KV = head_dim * sh.n_head_kv;
    add("token_embd.weight", D, sh.n_vocab, false);
    for (int64_t l = 0; l < sh.n_layer; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        add(p + "attn_norm.weight", D, 1, true);
        add(p + "attn_q.weight", D, D, false);
        add(p + "attn_k.weight", D, KV, false);
        add(p + "attn_v.weight", D, KV, false);
        add(p + "attn_output.weight", D, D, false);
        add(p + "ffn_norm.weight", D, 1, true);
        add(p + "ffn_gate.weight", D, sh.n_ff, false);
        add(p + "ffn_up.weight", D, sh.n_ff, false);
        add(p + "ffn_down.weight", sh.n_ff, D, false);
    }
    add("output_norm.weight", D, 1, true);
    add("output.weight", D, sh.n_vocab, false);
    const Status st = w.write(out);
    if (!st.ok()) die(st.message());
    std::printf("wrote %s\n", out.c_str());
    return 0;
}

// ---- run ------------------------------------------------------------------------------------------------
int64_t peak_rss_bytes() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<int64_t>(ru.ru_maxrss) * 1024;
}

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

int run(int argc, char** argv) {
    std::string model_path;
    llm_protocol::RunOptions o;
    bool baseline = false, ab = false, repack = true;
    for (int i = 2; i < argc; ++i) {
        if (llm_protocol::parse_option(argc, argv, i, o, usage)) continue;
        const std::string a = argv[i];
        if (a == "--baseline" || a == "--ab") {
            (a == "--ab" ? ab : baseline) = true;
            continue;
        }
        if (a == "--no-repack") {  // llm::ModelOptions::repack
            repack = false;
            continue;
        }
        if (!a.empty() && a[0] == '-') usage();
        model_path = a;
    }
    if (model_path.empty() || !o.valid()) usage();
    const std::vector<int>& threads = o.threads;
    const int prompt = o.prompt, decode = o.decode, reps = o.reps, ctx = o.ctx;

    llm::ModelOptions mo;
    mo.n_ctx = ctx;
    mo.threads = threads[0];
    mo.repack = repack;
    auto loaded = llm::Model::load(model_path, mo);
    if (!loaded.ok()) die(loaded.status().message());
    llm::Model& model = *loaded.value();
    const char* impl = baseline ? "edgeq-baseline" : "edgeq";
    const llm::HParams& hp = model.hparams();

    std::vector<int32_t> ids(static_cast<size_t>(prompt + decode));
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = llm_protocol::token(i, static_cast<int32_t>(hp.n_vocab));
    auto eval = [&](std::span<const int32_t> t, int32_t n_past) {
        auto r = model.eval(t, n_past);
        if (!r.ok()) die(r.status().message());
    };
    // --ab: each repetition measures the baseline schedule and then the current one, so that both see the same
    // machine load (best of the repetitions for each).
    const std::vector<bool> modes = ab ? std::vector<bool>{true, false} : std::vector<bool>{baseline};
    for (int T : threads) {
        model.set_threads(T);
        eval({ids.data(), static_cast<size_t>(prompt)}, 0);  // warm-up: pages in the mapping
        eval({&ids[static_cast<size_t>(prompt)], 1}, prompt);
        eval({&ids[static_cast<size_t>(prompt) + 1], 1}, prompt + 1);
        std::vector<double> best_prefill(modes.size(), 1e30), best_decode(modes.size(), 1e30);
        for (int r = 0; r < reps; ++r) {
            for (size_t m = 0; m < modes.size(); ++m) {
                model.set_baseline_schedule(modes[m]);
                const auto t0 = Clock::now();
                eval({ids.data(), static_cast<size_t>(prompt)}, 0);
                best_prefill[m] = std::min(best_prefill[m], seconds_since(t0));
                const auto t1 = Clock::now();
                for (int j = 0; j < decode; ++j) eval({&ids[static_cast<size_t>(prompt + j)], 1}, prompt + j);
                best_decode[m] = std::min(best_decode[m], seconds_since(t1));
            }
        }
        for (size_t m = 0; m < modes.size(); ++m) {
            std::printf(
                "{\"impl\":\"%s\",\"threads\":%d,\"prompt\":%d,\"decode\":%d,\"reps\":%d,"
                "\"prefill_tps\":%.3f,\"decode_tps\":%.3f}\n",
                modes[m] ? "edgeq-baseline" : "edgeq", T, prompt, decode, reps, prompt / best_prefill[m],
                decode / best_decode[m]);
        }
        std::fflush(stdout);
    }

    const gguf::File& f = model.file();
    uint64_t weight_bytes = 0;
    for (const auto& t : f.tensors())
        weight_bytes += t.name == "token_embd.weight" ? t.size / static_cast<uint64_t>(t.n_rows()) : t.size;
    const uint64_t kv_row = static_cast<uint64_t>(hp.n_embd_kv()) * sizeof(float);
    const uint64_t kv_bytes = 2 * static_cast<uint64_t>(hp.n_layer) * static_cast<uint64_t>(ctx) * kv_row;
    const uint64_t kv_read =
        2 * static_cast<uint64_t>(hp.n_layer) * static_cast<uint64_t>(prompt + decode / 2) * kv_row;
    std::printf(
        "{\"impl\":\"%s\",\"peak_rss_bytes\":%lld,\"file_bytes\":%llu,\"kv_bytes\":%llu,"
        "\"bytes_per_token\":%llu}\n",
        impl, static_cast<long long>(peak_rss_bytes()), static_cast<unsigned long long>(f.file_size()),
        static_cast<unsigned long long>(kv_bytes), static_cast<unsigned long long>(weight_bytes + kv_read));
    return 0;
}

int bandwidth(int argc, char** argv) {
    std::string threads_arg = "1,2";
    for (int i = 2; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--threads" && i + 1 < argc)
            threads_arg = argv[++i];
        else
            usage();
    }
    const std::vector<int> threads = llm_protocol::parse_threads(threads_arg);
    if (threads.empty()) usage();
    for (int T : threads) {
        const bench::Peaks p = bench::measure_peaks(T, 1000);  // tiny compute loops: only read_gbs is used
        std::printf("{\"threads\":%d,\"read_gbs\":%.3f}\n", T, p.read_gbs);
        std::fflush(stdout);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) usage();
    const std::string cmd = argv[1];
    if (cmd == "gen") return gen(argc, argv);
    if (cmd == "run") return run(argc, argv);
    if (cmd == "bandwidth") return bandwidth(argc, argv);
    usage();
}
