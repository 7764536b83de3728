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
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "edgeq/status.h"
#include "llm/model.h"

namespace edgeq::llm {

// With full_hessian, it also sums the outer products x x^T (upper triangle of a cols x cols row-major array,
// entries [i][j >= i]) for GPTQ (quant/gguf_gptq.h hessian_from_sums); the diagonal equals sum2.
// Weights whose input is the same activation (attn_q/k/v, ffn_gate/up) share one sum when the model hands
// the same x pointer to them in a row: each distinct input is accumulated once.
class ImatrixCollector : public MatmulObserver {
  public:
    struct Entry {
        std::vector<double> sum2;                  // per input column
        int64_t count = 0;                         // activation rows summed
        std::shared_ptr<std::vector<double>> xtx;  // full_hessian: sum x x^T, upper triangle
    };

    explicit ImatrixCollector(bool full_hessian = false) : full_hessian_(full_hessian) {}

    void observe(const Weight& w, const float* x, int64_t n_x) override;

    const std::map<std::string, Entry>& entries() const { return entries_; }
    const Entry* find(const std::string& weight_name) const;

  private:
    bool full_hessian_ = false;
    std::map<std::string, Entry> entries_;
    // The last input accumulated into an outer-product sum (to share it with the next weight on the same x).
    const float* last_x_ = nullptr;
    int64_t last_n_ = 0, last_cols_ = 0;
    std::shared_ptr<std::vector<double>> last_xtx_;
};

struct ImatrixFileInfo {
    std::vector<std::string> datasets;  // imatrix.datasets (the text files)
    int64_t chunk_count = 0;            // imatrix.chunk_count
    int64_t chunk_size = 0;             // imatrix.chunk_size (tokens per chunk)
    // llama-imatrix keeps "blk.*" weights, and "output.weight" only with --process-output.
    bool include_output = false;
};

// One calibration pass (edgeq imatrix, edgeq quantize --method gptq): the text is tokenized with BOS first
// and cut into chunks of ctx tokens as `edgeq perplexity` does (make_chunks: each chunk starts with BOS and
// is evaluated from an empty cache); every token of every chunk goes through the model with `observer`
// attached. The PPL is llama-imatrix's: over the second half of each chunk. progress(done, total, ppl) is
// called after each chunk. Errors: tokenizer / model vocabulary mismatch, a text too short for one chunk
// (message prefixed with text_name).
// The chunk length: `requested` (0: min(512, trained)), checked against the model's trained context
// (`trained` tokens, 0 = unknown) and >= 2. Errors name --ctx and model_path.
Result<int64_t> calibration_ctx(int64_t requested, int64_t trained, const std::string& model_path);

struct CalibrationRun {
    int64_t chunks = 0;
    double ppl = 0;
};
Result<CalibrationRun> run_calibration(Model& model, const std::string& text, const std::string& text_name,
                                       int64_t ctx, int64_t max_chunks, MatmulObserver* observer,
                                       const std::function<void(int64_t, int64_t, double)>& progress = {});

// True for the weights llama-imatrix stores: names starting with "blk.", and "output.weight" when
// include_output.
bool imatrix_stores(const std::string& weight_name, bool include_output);

// Writes the collected entries as a llama.cpp imatrix GGUF (temp file + rename). Errors: no entry to store,
// write failures (naming the path).
Status write_imatrix_gguf(const std::string& path, const ImatrixCollector& c, const ImatrixFileInfo& info);

}  // namespace edgeq::llm
