#include "quant/imatrix.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "formats/gguf/gguf.h"

namespace edgeq {

Result<Imatrix> load_imatrix(const std::string& path) {
    EDGEQ_ASSIGN_OR_RETURN(auto f, gguf::File::open(path));
    Imatrix im;
    im.path = path;
    if (const auto* v = f->find("imatrix.datasets"); v && v->type == gguf::ValueType::ARRAY) {
        for (const auto& s : v->array) im.datasets.push_back(s.str);
    }
    if (const auto* v = f->find("imatrix.chunk_count"); v && v->is_integer()) im.chunk_count = v->as_int();
    const std::string kSums = ".in_sum2", kCounts = ".counts";
    for (const auto& t : f->tensors()) {
        if (t.name.size() <= kSums.size() || t.name.compare(t.name.size() - kSums.size(), kSums.size(), kSums) != 0)
            continue;
        const std::string w = t.name.substr(0, t.name.size() - kSums.size());
        const auto* c = f->find_tensor(w + kCounts);
        if (!c) return Corrupt(path + ": imatrix tensor '" + t.name + "' has no matching '" + w + kCounts + "'");
        if (t.type != DType::F32 || c->type != DType::F32)
            return Corrupt(path + ": imatrix tensors of '" + w + "' must be F32");
        const int64_t n_per_row = t.ne[0];
        const int64_t n_mat = t.n_elements() / std::max<int64_t>(1, n_per_row);
        if (c->n_elements() != n_mat) {
            return Corrupt(path + ": '" + w + kCounts + "' has " + std::to_string(c->n_elements()) +
                           " counts, expected " + std::to_string(n_mat) + " (one per matrix of '" + t.name + "')");
        }
        // copied: the file's alignment need not suit float loads
        std::vector<float> sums(static_cast<size_t>(t.n_elements())), counts(static_cast<size_t>(n_mat));
        std::memcpy(sums.data(), f->tensor_data(t).data(), sums.size() * 4);
        std::memcpy(counts.data(), f->tensor_data(*c).data(), counts.size() * 4);
        std::vector<float> e(static_cast<size_t>(n_per_row * n_mat));
        for (int64_t m = 0; m < n_mat; ++m) {
            const float cnt = counts[m];
            for (int64_t j = 0; j < n_per_row; ++j) {
                const size_t k = static_cast<size_t>(m * n_per_row + j);
                e[k] = cnt > 0.0f ? sums[k] / cnt : 1.0f;
                if (!std::isfinite(e[k]) || e[k] < 0) {
                    return Corrupt(path + ": '" + t.name + "' element " + std::to_string(k) +
                                   " gives a non-finite or negative importance");
                }
            }
        }
        im.entries.emplace(w, std::move(e));
    }
    if (im.entries.empty()) {
        return Corrupt(path + ": no '<weight>.in_sum2' tensors: not a llama.cpp imatrix GGUF");
    }
    return im;
}

}  // namespace edgeq
