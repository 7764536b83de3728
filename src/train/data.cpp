#include "train/data.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include <fmt/format.h>
#include "formats/data/idx.h"
#include "formats/data/npy.h"

namespace edgeq::train {

std::string Normalize::preprocess_arg() const { return fmt::format("scale={},mean={},std={}", scale, mean, std); }

Result<std::string> find_idx_file(const std::string& dir, const std::string& split, const std::string& kind) {
    const std::string stem = split + "-" + kind;
    const std::string idx = stem + (kind == "images" ? "-idx3-ubyte" : "-idx1-ubyte");
    std::string tried;
    for (const std::string& name : {idx, idx + ".gz", stem + ".npy"}) {
        const std::string p = (std::filesystem::path(dir) / name).string();
        if (std::filesystem::exists(p)) return p;
        tried += (tried.empty() ? "" : ", ") + p;
    }
    return NotFound("no " + split + " " + kind + " in '" + dir + "' (tried " + tried + ")");
}

namespace {

// The first max_items entries (all when < 0; .npy is read whole); *items = the file's full dimension 0.
Result<Tensor> read_array(const std::string& path, int64_t max_items, int64_t* items) {
    if (std::filesystem::path(path).extension() != ".npy") return data::read_idx(path, max_items, items);
    EDGEQ_ASSIGN_OR_RETURN(Tensor t, data::read_npy(path));
    *items = t.rank() > 0 ? t.dim(0) : 0;
    return t;
}

bool integer_dtype(DType t) {
    switch (t) {
    case DType::U8: case DType::I8: case DType::U16: case DType::I16: case DType::U32: case DType::I32:
    case DType::U64: case DType::I64:
        return true;
    default:
        return false;
    }
}

}  // namespace

Result<Dataset> load_idx_split(const std::string& dir, const std::string& split, const Normalize& norm,
                               int64_t limit) {
    EDGEQ_ASSIGN_OR_RETURN(std::string ip, find_idx_file(dir, split, "images"));
    EDGEQ_ASSIGN_OR_RETURN(std::string lp, find_idx_file(dir, split, "labels"));
    // With a limit only that many images and labels are read (an IDX file is not decompressed further), but the
    // two files must still agree on the count their headers give.
    const int64_t want = limit > 0 ? limit : -1;
    int64_t img_items = 0, lab_items = 0;
    EDGEQ_ASSIGN_OR_RETURN(Tensor img, read_array(ip, want, &img_items));
    EDGEQ_ASSIGN_OR_RETURN(Tensor lab, read_array(lp, want, &lab_items));
    // [n, rows, cols] -> [n, 1, rows, cols]; [n, features] -> [n, 1, 1, features]; [n, c, h, w] as is.
    if (img.rank() < 2 || img.rank() > 4 || img.dim(0) < 1)
        return InvalidArgument("'" + ip + "': expected [n, features], [n, rows, cols] or [n, channels, rows, cols] images, got " +
                               shape_str(img.shape()));
    if (img.rank() == 2 || img.rank() == 3) {
        Shape s = img.shape();
        s.insert(s.begin() + 1, 4 - img.rank(), 1);
        img = img.reshaped(s);
    }
    if (lab.rank() != 1 || lab.dim(0) != img.dim(0) || lab_items != img_items)
        return InvalidArgument("'" + lp + "': expected " + std::to_string(img_items) + " labels, got " +
                               (lab.rank() == 1 ? std::to_string(lab_items) : shape_str(lab.shape())));
    if (!integer_dtype(lab.dtype()))
        return InvalidArgument("'" + lp + "': labels must be integers, got " + std::string(dtype_name(lab.dtype())));
    int64_t n = img.dim(0);
    if (limit > 0 && limit < n) n = limit;
    const int64_t per = img.numel() / img.dim(0);
    Shape shape = img.shape();
    shape[0] = n;
    Dataset d;
    d.images = Tensor(DType::F32, shape);
    float* dst = d.images.data<float>();
    auto norm1 = [&](float v) { return (v * norm.scale - norm.mean) / norm.std; };
    if (img.dtype() == DType::U8) {
        const uint8_t* src = img.data<uint8_t>();
        for (int64_t i = 0; i < n * per; ++i) dst[i] = norm1(static_cast<float>(src[i]));
    } else {
        const std::vector<float> src = img.to_f32();
        for (int64_t i = 0; i < n * per; ++i) {
            if (!std::isfinite(src[static_cast<size_t>(i)]))
                return InvalidArgument("'" + ip + "': image value " + std::to_string(i) + " is not finite");
            dst[i] = norm1(src[static_cast<size_t>(i)]);
        }
    }
    const std::vector<int64_t> labels = lab.to_i64();
    d.labels.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
        const int64_t l = labels[static_cast<size_t>(i)];
        if (l < 0 || l > 65535)
            return InvalidArgument("'" + lp + "': label " + std::to_string(i) + " is " + std::to_string(l) +
                                   " (expected a class index in [0, 65535])");
        d.labels[static_cast<size_t>(i)] = static_cast<int32_t>(l);
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
