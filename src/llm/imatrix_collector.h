// Importance-matrix collection on the llama decoder (docs/llm/imatrix.md), the statistics llama.cpp's
// llama-imatrix gathers: for every weight matrix W that multiplies activations in the forward pass, the sum
// over all activation rows x that W multiplied of x_j^2, per input column j, and the number of such rows.
// The rows are the F32 activations before they are converted to W's vec_dot type (llama.cpp sees the same:
// its collector runs on src1 of the F32 mul_mat). Sums are accumulated in double and stored as F32.
//
// The file written is llama-imatrix's GGUF format, read back by quant/imatrix.h (load_imatrix):
//   general.type = "imatrix" (string); imatrix.datasets (array of strings); imatrix.chunk_count (u32);
//   imatrix.chunk_size (u32); per weight, in name order, "<W>.in_sum2" F32 ne = [cols, 1] and
//   "<W>.counts" F32 ne = [1, 1] (one matrix per weight: no stacked experts in the llama decoder).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "edgeq/status.h"
#include "llm/model.h"

namespace edgeq::llm {

class ImatrixCollector : public MatmulObserver {
  public:
    struct Entry {
        std::vector<double> sum2;  // per input column
        int64_t count = 0;         // activation rows summed
    };

    void observe(const Weight& w, const float* x, int64_t n_x) override;

    const std::map<std::string, Entry>& entries() const { return entries_; }
    const Entry* find(const std::string& weight_name) const;

  private:
    std::map<std::string, Entry> entries_;
};

struct ImatrixFileInfo {
    std::vector<std::string> datasets;  // imatrix.datasets (the text files)
    int64_t chunk_count = 0;            // imatrix.chunk_count
    int64_t chunk_size = 0;             // imatrix.chunk_size (tokens per chunk)
    // llama-imatrix keeps "blk.*" weights, and "output.weight" only with --process-output.
    bool include_output = false;
};

// True for the weights llama-imatrix stores: names starting with "blk.", and "output.weight" when
// include_output.
bool imatrix_stores(const std::string& weight_name, bool include_output);

// Writes the collected entries as a llama.cpp imatrix GGUF (temp file + rename). Errors: no entry to store,
// write failures (naming the path).
Status write_imatrix_gguf(const std::string& path, const ImatrixCollector& c, const ImatrixFileInfo& info);

}  // namespace edgeq::llm
