// Importance matrices in llama.cpp's GGUF imatrix format (llama-imatrix output, general.type = "imatrix"):
// for each weight W, tensors "<W>.in_sum2" (F32, ne = [n_per_row, n_mat]: sums of squared activations per
// input column) and "<W>.counts" (F32, ne = [1, n_mat]: how many activation rows were summed).
// The importance of column j is in_sum2[j] / count (1.0 where count is 0: no data seen).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "edgeq/status.h"

namespace edgeq {

struct Imatrix {
    std::string path;
    std::vector<std::string> datasets;
    int64_t chunk_count = 0;
    std::map<std::string, std::vector<float>> entries;  // weight name -> n_per_row * n_mat importances

    const std::vector<float>* find(const std::string& weight_name) const {
        auto it = entries.find(weight_name);
        return it == entries.end() ? nullptr : &it->second;
    }
};

Result<Imatrix> load_imatrix(const std::string& path);

}  // namespace edgeq
