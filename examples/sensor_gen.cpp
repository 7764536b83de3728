// edgeq-sensor-gen OUT_DIR [--train N] [--test N] [--window W] [--anomaly-rate P] [--seed S]
//
// Deterministic sensor-like data for the IoT anomaly-detection scenario (docs/scenarios.md, scenario a):
// windows of W samples from a vibration sensor on a rotating machine, digitised by an 8-bit ADC, written as
// the four MNIST-style IDX files `edgeq train --data OUT_DIR` and `edgeq eval` read:
//   OUT_DIR/{train,t10k}-images-idx3-ubyte  uint8 [n, 1, W]
//   OUT_DIR/{train,t10k}-labels-idx1-ubyte  uint8 [n]: 0 normal, 1 anomaly
//
// Normal window: a shaft tone of f cycles per window (f in [3, 5]) with amplitude A in [0.6, 1], its second
// harmonic (0.15-0.35 A), a temperature-dependent baseline offset in [-0.25, 0.25] and Gaussian noise (sigma
// 0.08). Anomalies (label 1, a fraction P of the windows, the three kinds equally likely):
//   spike     1-3 impulses of magnitude 0.6-1.8 at random samples (bearing impact; may saturate the ADC);
//   drift     a linear ramp of 0.3-1.0 across the window (thermal drift / loosening mount), random sign;
//   frequency the tone's frequency jumps by a factor 1.25-2.0 at a random sample in the middle half (phase
//             continuous; speed change / resonance).
// ADC: code = clamp(round(128 + 40 x), 0, 255); `--preprocess scale=0.0078125,mean=1,std=1` maps it to [-1,
// 1). Random numbers: own splitmix64 generator and Box-Muller, so the files are byte-identical on every
// platform; training and test sets use different streams (2S and 2S + 1). Prints one summary line per split.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace {

constexpr double kPi = 3.14159265358979323846;

class Rng {
  public:
    explicit Rng(uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull) {}
    uint64_t next() {  // splitmix64
        uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
    double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
    int64_t below(int64_t n) { return static_cast<int64_t>(next() % static_cast<uint64_t>(n)); }
    double normal() {  // Box-Muller, one value per call
        const double u1 = 1.0 - uniform(), u2 = uniform();
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * kPi * u2);
    }

  private:
    uint64_t s_;
};

enum Kind { kNormal = 0, kSpike, kDrift, kFrequency };

// One window of `w` ADC codes of the given kind.
void make_window(Rng& rng, Kind kind, int64_t w, uint8_t* out) {
    const double f = rng.uniform(3.0, 5.0), amp = rng.uniform(0.6, 1.0), h2 = rng.uniform(0.15, 0.35) * amp;
    const double phase = rng.uniform(0.0, 2.0 * kPi), offset = rng.uniform(-0.25, 0.25);
    std::vector<double> x(static_cast<size_t>(w));
    const int64_t jump = kind == kFrequency ? w / 4 + rng.below(w / 2 + 1) : w;
    const double factor = kind == kFrequency ? rng.uniform(1.25, 2.0) : 1.0;
    double theta = phase;  // phase accumulator, continuous across the frequency jump
    for (int64_t t = 0; t < w; ++t) {
        x[static_cast<size_t>(t)] =
            amp * std::sin(theta) + h2 * std::sin(2.0 * theta) + offset + 0.08 * rng.normal();
        theta += 2.0 * kPi * f * (t + 1 >= jump ? factor : 1.0) / static_cast<double>(w);
    }
    if (kind == kSpike) {
        const int64_t n = 1 + rng.below(3);
        for (int64_t i = 0; i < n; ++i) {
            const double sign = rng.uniform() < 0.5 ? -1.0 : 1.0;
            x[static_cast<size_t>(rng.below(w))] += sign * rng.uniform(0.6, 1.8);
        }
    } else if (kind == kDrift) {
        const double total = (rng.uniform() < 0.5 ? -1.0 : 1.0) * rng.uniform(0.3, 1.0);
        for (int64_t t = 0; t < w; ++t) x[static_cast<size_t>(t)] += total * static_cast<double>(t) / (w - 1);
    }
    for (int64_t t = 0; t < w; ++t)
        out[t] =
            static_cast<uint8_t>(std::clamp(std::lround(128.0 + 40.0 * x[static_cast<size_t>(t)]), 0L, 255L));
}

void put_be32(std::vector<uint8_t>& b, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}

bool write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) {
        std::fprintf(stderr, "edgeq-sensor-gen: cannot write '%s': %s\n", path.c_str(), std::strerror(errno));
        return false;
    }
    const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    if (std::fclose(f) != 0 || !ok) {
        std::fprintf(stderr, "edgeq-sensor-gen: short write to '%s' (disk full?)\n", path.c_str());
        return false;
    }
    return true;
}

// Writes <dir>/<split>-images-idx3-ubyte and -labels-idx1-ubyte with n windows.
bool write_split(const std::string& dir, const char* split, int64_t n, int64_t w, double rate,
                 uint64_t seed) {
    Rng rng(seed);
    std::vector<uint8_t> img, lab;
    put_be32(img, 0x803);
    put_be32(img, static_cast<uint32_t>(n));
    put_be32(img, 1);
    put_be32(img, static_cast<uint32_t>(w));
    put_be32(lab, 0x801);
    put_be32(lab, static_cast<uint32_t>(n));
    int64_t counts[4] = {0, 0, 0, 0};
    std::vector<uint8_t> window(static_cast<size_t>(w));
    for (int64_t i = 0; i < n; ++i) {
        const Kind kind = rng.uniform() < rate ? static_cast<Kind>(1 + rng.below(3)) : kNormal;
        make_window(rng, kind, w, window.data());
        img.insert(img.end(), window.begin(), window.end());
        lab.push_back(kind == kNormal ? 0 : 1);
        ++counts[kind];
    }
    const std::string base = (std::filesystem::path(dir) / split).string();
    if (!write_file(base + "-images-idx3-ubyte", img) || !write_file(base + "-labels-idx1-ubyte", lab))
        return false;
    std::printf("%s: %lld windows of %lld samples: %lld normal, %lld spike, %lld drift, %lld frequency\n",
                base.c_str(), static_cast<long long>(n), static_cast<long long>(w),
                static_cast<long long>(counts[0]), static_cast<long long>(counts[1]),
                static_cast<long long>(counts[2]), static_cast<long long>(counts[3]));
    return true;
}

int usage(const char* why) {
    if (why)
        std::fprintf(stderr, "edgeq-sensor-gen: %s (see edgeq-sensor-gen --help)\n", why);
    else
        std::printf(
            "Usage: edgeq-sensor-gen OUT_DIR [--train N] [--test N] [--window W] [--anomaly-rate P] [--seed "
            "S]\n"
            "Writes deterministic vibration-sensor windows with injected anomalies (spike, drift, frequency "
            "change)\n"
            "as MNIST-style IDX files (label 0 normal, 1 anomaly). Defaults: --train 8000 --test 2000 "
            "--window 64\n"
            "--anomaly-rate 0.25 --seed 0.\n"
            "Example:\n"
            "  edgeq-sensor-gen sensor && edgeq train --arch mlp --hidden 32,16 --data sensor --epochs 10 "
            "\\\n"
            "      -o sensor.onnx --preprocess scale=0.0078125,mean=1,std=1\n");
    return why ? 2 : 0;
}

bool parse_int(const char* s, int64_t lo, int64_t hi, int64_t& v) {
    char* end = nullptr;
    errno = 0;
    const long long x = std::strtoll(s, &end, 10);
    if (errno || end == s || *end || x < lo || x > hi) return false;
    v = x;
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    std::string dir;
    int64_t n_train = 8000, n_test = 2000, window = 64, seed = 0;
    double rate = 0.25;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "-h" || a == "--help") return usage(nullptr);
        const bool has_value = i + 1 < argc;
        if (a == "--train" || a == "--test" || a == "--window" || a == "--seed") {
            int64_t v = 0;
            const int64_t lo = a == "--window" ? 8 : (a == "--seed" ? 0 : 1);
            if (!has_value || !parse_int(argv[++i], lo, a == "--window" ? 4096 : 100000000, v))
                return usage((a + ": expected an integer >= " + std::to_string(lo)).c_str());
            (a == "--train" ? n_train : a == "--test" ? n_test : a == "--window" ? window : seed) = v;
        } else if (a == "--anomaly-rate") {
            char* end = nullptr;
            if (!has_value) return usage("--anomaly-rate: expected a number in [0, 1]");
            rate = std::strtod(argv[++i], &end);
            if (end == argv[i] || *end || !(rate >= 0.0 && rate <= 1.0))
                return usage("--anomaly-rate: expected a number in [0, 1]");
        } else if (!a.empty() && a[0] == '-') {
            return usage(("unknown option '" + a + "'").c_str());
        } else if (dir.empty()) {
            dir = a;
        } else {
            return usage(("unexpected argument '" + a + "'").c_str());
        }
    }
    if (dir.empty()) return usage("OUT_DIR is required");
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
        std::fprintf(stderr, "edgeq-sensor-gen: cannot create '%s': %s\n", dir.c_str(), ec.message().c_str());
        return 1;
    }
    const uint64_t s = static_cast<uint64_t>(seed);
    if (!write_split(dir, "train", n_train, window, rate, 2 * s) ||
        !write_split(dir, "t10k", n_test, window, rate, 2 * s + 1))
        return 1;
    return 0;
}
