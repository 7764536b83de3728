#include "train/data.h"

#include <cstring>
#include <filesystem>
#include <random>

#include <fmt/format.h>
#include "formats/data/idx.h"

namespace edgeq::train {

std::string Normalize::preprocess_arg() const { return fmt::format("scale={},mean={},std={}", scale, mean, std); }

Result<std::string> find_idx_file(const std::string& dir, const std::string& split, const std::string& kind) {
    const std::string stem = split + "-" + kind + (kind == "images" ? "-idx3-ubyte" : "-idx1-ubyte");
    std::string tried;
    for (const char* alt : {"", ".gz"}) {
        const std::string p = (std::filesystem::path(dir) / (stem + alt)).string();
        if (std::filesystem::exists(p)) return p;
        tried += (tried.empty() ? "" : ", ") + p;
    }
    return NotFound("no " + split + " " + kind + " in '" + dir + "' (tried " + tried + ")");
}

Result<Dataset> load_idx_split(const std::string& dir, const std::string& split, const Normalize& norm,
                               int64_t limit) {
    EDGEQ_ASSIGN_OR_RETURN(std::string ip, find_idx_file(dir, split, "images"));
    EDGEQ_ASSIGN_OR_RETURN(std::string lp, find_idx_file(dir, split, "labels"));
    EDGEQ_ASSIGN_OR_RETURN(Tensor img, data::read_idx(ip));
    EDGEQ_ASSIGN_OR_RETURN(Tensor lab, data::read_idx(lp));
    if (img.rank() != 3) return InvalidArgument("'" + ip + "': expected [n, rows, cols] images, got " + shape_str(img.shape()));
    if (lab.rank() != 1 || lab.dim(0) != img.dim(0))
        return InvalidArgument("'" + lp + "': expected " + std::to_string(img.dim(0)) + " labels, got " +
                               shape_str(lab.shape()));
    int64_t n = img.dim(0);
    if (limit > 0 && limit < n) n = limit;
    const int64_t R = img.dim(1), C = img.dim(2);
    Dataset d;
    d.images = Tensor(DType::F32, {n, 1, R, C});
    const uint8_t* src = img.data<uint8_t>();
    float* dst = d.images.data<float>();
    for (int64_t i = 0; i < n * R * C; ++i) dst[i] = (static_cast<float>(src[i]) * norm.scale - norm.mean) / norm.std;
    d.labels.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
        d.labels[static_cast<size_t>(i)] = lab.data<uint8_t>()[i];
        d.classes = std::max(d.classes, d.labels[static_cast<size_t>(i)] + 1);
    }
    return d;
}

Batches::Batches(const Dataset& d, int64_t batch, bool shuffle, uint64_t seed, int64_t epoch)
    : d_(d), batch_(batch < 1 ? 1 : batch), perm_(static_cast<size_t>(d.size())) {
    for (size_t i = 0; i < perm_.size(); ++i) perm_[i] = static_cast<int64_t>(i);
    if (!shuffle) return;
    std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch));
    for (size_t i = perm_.size(); i > 1; --i) {
        const size_t j = static_cast<size_t>(rng() % i);
        std::swap(perm_[i - 1], perm_[j]);
    }
}

bool Batches::next(Tensor& x, std::vector<int32_t>& y) {
    const int64_t n = static_cast<int64_t>(perm_.size());
    if (pos_ >= n) return false;
    const int64_t b = std::min(batch_, n - pos_);
    Shape s = d_.images.shape();
    const int64_t per = d_.images.numel() / std::max<int64_t>(1, s[0]);
    s[0] = b;
    x = Tensor(DType::F32, s);
    y.resize(static_cast<size_t>(b));
    for (int64_t i = 0; i < b; ++i) {
        const int64_t src = perm_[static_cast<size_t>(pos_ + i)];
        std::memcpy(x.data<float>() + i * per, d_.images.data<float>() + src * per, static_cast<size_t>(per) * 4);
        y[static_cast<size_t>(i)] = d_.labels[static_cast<size_t>(src)];
    }
    pos_ += b;
    return true;
}

}  // namespace edgeq::train
