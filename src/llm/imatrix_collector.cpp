#include "llm/imatrix_collector.h"

#include <cstring>

#include "core/check.h"
#include "formats/gguf/gguf.h"

namespace edgeq::llm {

void ImatrixCollector::observe(const Weight& w, const float* x, int64_t n_x) {
    Entry& e = entries_[w.name];
    if (e.sum2.empty()) e.sum2.assign(static_cast<size_t>(w.cols), 0.0);
    EDGEQ_CHECK(static_cast<int64_t>(e.sum2.size()) == w.cols);
    double* s = e.sum2.data();
    for (int64_t t = 0; t < n_x; ++t) {
        const float* r = x + t * w.cols;
        for (int64_t j = 0; j < w.cols; ++j) s[j] += static_cast<double>(r[j]) * r[j];
    }
    e.count += n_x;
}

const ImatrixCollector::Entry* ImatrixCollector::find(const std::string& weight_name) const {
    auto it = entries_.find(weight_name);
    return it == entries_.end() ? nullptr : &it->second;
}

bool imatrix_stores(const std::string& weight_name, bool include_output) {
    return weight_name.rfind("blk.", 0) == 0 || (include_output && weight_name == "output.weight");
}

namespace {

std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
    std::vector<uint8_t> b(v.size() * sizeof(float));
    if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
    return b;
}

}  // namespace

Status write_imatrix_gguf(const std::string& path, const ImatrixCollector& c, const ImatrixFileInfo& info) {
    gguf::Writer w;
    w.set("general.type", gguf::Value::Str("imatrix"));
    std::vector<gguf::Value> ds;
    for (const auto& d : info.datasets) ds.push_back(gguf::Value::Str(d));
    w.set("imatrix.datasets", gguf::Value::Array(gguf::ValueType::STRING, std::move(ds)));
    w.set("imatrix.chunk_count", gguf::Value::U32v(static_cast<uint32_t>(info.chunk_count)));
    w.set("imatrix.chunk_size", gguf::Value::U32v(static_cast<uint32_t>(info.chunk_size)));
    int64_t stored = 0;
    for (const auto& [name, e] : c.entries()) {  // std::map: name order, like llama-imatrix
        if (!imatrix_stores(name, info.include_output) || e.sum2.empty()) continue;
        std::vector<float> sums(e.sum2.begin(), e.sum2.end());
        const int64_t cols = static_cast<int64_t>(sums.size());
        EDGEQ_RETURN_IF_ERROR(w.add_tensor_owned(name + ".in_sum2", DType::F32, {cols, 1}, f32_bytes(sums)));
        EDGEQ_RETURN_IF_ERROR(w.add_tensor_owned(name + ".counts", DType::F32, {1, 1},
                                                 f32_bytes({static_cast<float>(e.count)})));
        ++stored;
    }
    if (stored == 0)
        return InvalidArgument(path + ": no weight activations were collected; nothing to write");
    return w.write(path);
}

}  // namespace edgeq::llm
