#include "llm/model.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "core/parallel.h"
#include "dtype/repack.h"
#include "dtype/vec_dot.h"
#include "dtype/vec_dot_float.h"
#include "llm/float_glue.h"

#include <sys/mman.h>
#include <unistd.h>

namespace edgeq::llm {
namespace {

// Scratch row for dequantization, one per thread.
float* scratch_row(int64_t n) {
    thread_local std::vector<float> buf;
    if (static_cast<int64_t>(buf.size()) < n) buf.resize(static_cast<size_t>(n));
    return buf.data();
}

// The row as floats: F32 rows are read in place, others are dequantized into the thread's scratch buffer.
const float* row_f32(const Weight& w, int64_t r) {
    if (w.type == DType::F32) return reinterpret_cast<const float*>(w.row(r));
    float* s = scratch_row(w.cols);
    dequantize_row(w.type, w.row(r), s, w.cols);
    return s;
}

float dot(const float* a, const float* b, int64_t n) {
    double acc = 0.0;
    for (int64_t i = 0; i < n; ++i) acc += static_cast<double>(a[i]) * b[i];
    return static_cast<float>(acc);
}

// ggml_rms_norm followed by the multiplication with the norm weight.
void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);  // ggml: float square, double sum
    const float mean = static_cast<float>(sum / static_cast<double>(n));
    const float scale = 1.0f / std::sqrt(mean + eps);
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * w[i];
}

// RoPE mode NORM (ggml rope, mode 0): pairs (x[i0], x[i0+1]) for i0 < n_rot, theta = pos * base^(-i0/n_rot).
// The per-pair angle is built the way ggml builds its cache: theta *= theta_scale with theta_scale = base^(-2/n_rot);
// rope_cache fills cs[i0] = cos, cs[i0 + 1] = sin once per position, shared by every head and layer.
void rope_cache(int64_t n_rot, int64_t pos, float base, float* cs) {
    const float theta_scale = std::pow(base, -2.0f / static_cast<float>(n_rot));
    float theta = static_cast<float>(pos);
    for (int64_t i0 = 0; i0 + 1 < n_rot; i0 += 2) {
        cs[i0] = std::cos(theta);
        cs[i0 + 1] = std::sin(theta);
        theta *= theta_scale;
    }
}

// ggml compiles `x0*cos - x1*sin` and `x0*sin + x1*cos` with contraction: the first product is fused into the
// sum, the second rounded (the shakespeare fixtures' F32 logits are bit-identical only this way).
void rope_norm(float* x, int64_t n_rot, const float* cs) {
    for (int64_t i0 = 0; i0 + 1 < n_rot; i0 += 2) {
        const float c = cs[i0], s = cs[i0 + 1];
        const float x0 = x[i0], x1 = x[i0 + 1];
        x[i0] = std::fma(x0, c, -(x1 * s));
        x[i0 + 1] = std::fma(x0, s, x1 * c);
    }
}

struct Loader {
    const gguf::File& f;
    std::string arch;

    std::string where() const { return f.path(); }

    Result<const gguf::Value*> key(const std::string& k, bool required) const {
        const gguf::Value* v = f.find(arch + "." + k);
        if (!v && required) return NotFound(where() + ": missing metadata key '" + arch + "." + k + "'");
        return v;
    }
    Result<int64_t> get_int(const std::string& k, int64_t def, bool required) const {
        EDGEQ_ASSIGN_OR_RETURN(const gguf::Value* v, key(k, required));
        if (!v) return def;
        if (!v->is_integer()) return Corrupt(where() + ": metadata key '" + arch + "." + k + "' is not an integer");
        if (v->as_int() <= 0) return Corrupt(where() + ": metadata key '" + arch + "." + k + "' must be > 0, got " +
                                             std::to_string(v->as_int()));
        return v->as_int();
    }
    Result<float> get_float(const std::string& k, float def, bool required) const {
        EDGEQ_ASSIGN_OR_RETURN(const gguf::Value* v, key(k, required));
        if (!v) return def;
        if (v->type != gguf::ValueType::F32 && v->type != gguf::ValueType::F64)
            return Corrupt(where() + ": metadata key '" + arch + "." + k + "' is not a float");
        return static_cast<float>(v->as_float());
    }

    std::string shape_str(const std::vector<int64_t>& ne) const {
        std::string s = "[";
        for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
        return s + "]";
    }

    Result<const gguf::TensorInfo*> tensor(const std::string& name, const std::vector<int64_t>& ne) const {
        const gguf::TensorInfo* t = f.find_tensor(name);
        if (!t) return NotFound(where() + ": missing tensor '" + name + "'");
        if (t->ne != ne)
            return Corrupt(where() + ": tensor '" + name + "' has shape " + shape_str(t->ne) + ", expected " +
                           shape_str(ne));
        if (traits(t->type).dequantize == nullptr)
            return Unsupported(where() + ": tensor '" + name + "' has type " + dtype_name(t->type) +
                               ", which edgeq cannot dequantize");
        return t;
    }

    Result<Weight> weight(const std::string& name, int64_t cols, int64_t rows) const {
        EDGEQ_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, tensor(name, {cols, rows}));
        Weight w;
        w.name = name;
        w.type = t->type;
        w.cols = cols;
        w.rows = rows;
        w.row_bytes = row_size(t->type, cols);
        w.data = f.tensor_data(*t).data();
        return w;
    }

    Result<std::vector<float>> vec(const std::string& name, int64_t n) const {
        EDGEQ_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, tensor(name, {n}));
        std::vector<float> v(static_cast<size_t>(n));
        dequantize_row(t->type, f.tensor_data(*t).data(), v.data(), n);
        return v;
    }
};

}  // namespace

namespace {

// Weights of a type without a dot product (none of the GGUF weight types edgeq loads today, but the loader accepts
// anything src/dtype can dequantize): dequantize each row and dot it with the F32 activations.
void matmul_dequant(const Weight& w, const float* x, int64_t n_x, float* y, int64_t r_begin, int64_t r_end) {
    for (int64_t r = r_begin; r < r_end; ++r) {
        const float* wr = row_f32(w, r);
        for (int64_t t = 0; t < n_x; ++t) y[t * w.rows + r] = dot(wr, x + t * w.cols, w.cols);
    }
}

// Activation rows converted to the weight's vec_dot_type, once per matrix product.
struct ActRows {
    std::vector<uint8_t> buf;
    size_t stride = 0;
    PackedActs packed;  // for weights with a repacked copy (dtype/repack.h)
    const void* row(int64_t t) const { return buf.data() + static_cast<size_t>(t) * stride; }
};

void quantize_rows(const Weight& w, const float* x, int64_t n_x, ActRows& a) {
    a.stride = vec_dot_act_size(w.type, w.cols);
    a.buf.resize(a.stride * static_cast<size_t>(n_x));
    for (int64_t t = 0; t < n_x; ++t) quantize_activation(w.type, x + t * w.cols, a.buf.data() + t * a.stride, w.cols);
    if (w.packed) prepare_packed_acts(w.type, a.buf.data(), a.stride, n_x, w.cols, a.packed);
}

bool needs_act_rows(const Weight& w) { return w.type != DType::F32 && has_vec_dot(w.type); }

// y[t * rows + r] for r in [r_begin, r_end): F32 weights dot the F32 activations in double; every other type
// dots its blocks with the quantized activation rows (llama.cpp's arithmetic, dtype/vec_dot.h), all
// activation rows of a weight row group at once (vec_dot_tile: each weight block decoded once per group of
// activation rows, results bit-identical to one vec_dot per output).
void matmul_rows(const Weight& w, const float* x, const ActRows* a, int64_t n_x, float* y, int64_t r_begin,
                 int64_t r_end, bool tiles = true) {
    if (is_float_dot_type(w.type) && tiles) {  // F32/F16/BF16: llama.cpp's float order, dtype/vec_dot_float.h
        const bool f32 = w.type == DType::F32;
        if (w.x86_order && n_x == 1) {  // ModelOptions::llama_order: llama.cpp's one-token product is ggml_vec_dot_f32/f16
            const VecDotFn f = selected_float_vec_dot(w.type);
            const void* act = f32 ? static_cast<const void*>(x) : a->row(0);
            for (int64_t r = r_begin; r < r_end; ++r) y[r] = f(w.cols, w.row(r), act);
            return;
        }
        if (w.packed && r_begin % kPackRows == 0)  // the repacked copy: the same outputs bit for bit
            return packed_float_tile(*w.packed, r_begin, r_end, f32 ? static_cast<const void*>(x) : a->row(0),
                                     f32 ? static_cast<size_t>(w.cols) * sizeof(float) : a->stride, n_x, y,
                                     static_cast<size_t>(w.rows));
        float_dot_tile(w.type, w.cols, w.row(r_begin), w.row_bytes, r_end - r_begin,
                       f32 ? static_cast<const void*>(x) : a->row(0),
                       f32 ? static_cast<size_t>(w.cols) * sizeof(float) : a->stride, n_x, y + r_begin,
                       static_cast<size_t>(w.rows));
        return;
    }
    if (w.type == DType::F32) {  // Model::set_baseline_schedule: the session-4 double dot
        for (int64_t r = r_begin; r < r_end; ++r) {
            const float* wr = reinterpret_cast<const float*>(w.row(r));
            for (int64_t t = 0; t < n_x; ++t) y[t * w.rows + r] = dot(wr, x + t * w.cols, w.cols);
        }
        return;
    }
    if (!has_vec_dot(w.type)) return matmul_dequant(w, x, n_x, y, r_begin, r_end);
    if (w.x86_repacked) {  // ModelOptions::llama_order, a matrix llama.cpp repacks: its gemm / gemv orders
        const int64_t n_gemm = n_x > 3 ? n_x - n_x % 4 : 0;
        const VecDotFn gemm = vec_dot_x86_repacked_fn(w.type, true), gemv = vec_dot_x86_repacked_fn(w.type, false);
        for (int64_t r = r_begin; r < r_end; ++r)
            for (int64_t t = 0; t < n_x; ++t) y[t * w.rows + r] = (t < n_gemm ? gemm : gemv)(w.cols, w.row(r), a->row(t));
        return;
    }
    if (w.x86_order && has_vec_dot_x86(w.type)) {  // ModelOptions::llama_order: llama.cpp's x86 order, one output at a time
        const VecDotFn f = selected_vec_dot_x86(w.type);
        for (int64_t r = r_begin; r < r_end; ++r)
            for (int64_t t = 0; t < n_x; ++t) y[t * w.rows + r] = f(w.cols, w.row(r), a->row(t));
        return;
    }
    if (!tiles) {  // Model::set_baseline_schedule
        const VecDotFn f = selected_vec_dot(w.type);
        for (int64_t r = r_begin; r < r_end; ++r)
            for (int64_t t = 0; t < n_x; ++t) y[t * w.rows + r] = f(w.cols, w.row(r), a->row(t));
        return;
    }
    if (w.packed && r_begin % kPackRows == 0)  // the repacked copy: the same outputs bit for bit
        return packed_gemm(*w.packed, r_begin, r_end, a->row(0), a->stride, a->packed, y, static_cast<size_t>(w.rows));
    vec_dot_tile(w.type, w.cols, w.row(r_begin), w.row_bytes, r_end - r_begin, a->row(0), a->stride, n_x,
                 y + r_begin, static_cast<size_t>(w.rows));
}

// Load's weight preparation: a Q4_0/Q8_0 matrix gets a copy repacked for the VNNI GEMM where this CPU runs it
// (dtype/repack.h), and the file pages it was made from are dropped from the resident set (the mapping is
// private and read-only: they are read from the file again if the rows are ever used, e.g. by the baseline
// schedule), so the copy replaces them instead of adding to them (issue 5's memory budget).
// ModelOptions::llama_order for one matrix: llama.cpp's repacked gemm / gemv order where its CPU backend repacks
// the matrix (a type it repacks, a multiple of 8 rows, not the tied output, which is the token embedding table),
// else its x86 vec_dot order where there is one (dtype/vec_dot.h).
// Float weights: not repacked, so that a one-token batch can take ggml_vec_dot_f32 / _f16's order.
void set_llama_order(Weight& w, bool on, bool may_repack = true) {
    w.x86_repacked = on && may_repack && has_vec_dot_x86_repacked(w.type) && w.rows % 8 == 0;
    w.x86_order = on && !w.x86_repacked && (has_vec_dot_x86(w.type) || is_float_dot_type(w.type));
}

void pack_weight(Weight& w) {
    if (w.x86_order || w.x86_repacked || !repack_profitable(w.type) || w.rows <= 0 || w.cols % 32 != 0) return;
    w.packed = std::make_shared<const PackedMatrix>(repack_matrix(w.type, w.data, w.row_bytes, w.rows, w.cols));
    const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    const auto begin = (reinterpret_cast<uintptr_t>(w.data) + page - 1) / page * page;
    const auto end = (reinterpret_cast<uintptr_t>(w.data) + w.row_bytes * static_cast<size_t>(w.rows)) / page * page;
    if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace

void matvec(const Weight& w, const float* x, float* y, int64_t r_begin, int64_t r_end) {
    matmul(w, x, 1, y, r_begin, r_end);
}

void matmul(const Weight& w, const float* x, int64_t n_x, float* y, int64_t r_begin, int64_t r_end) {
    ActRows a;
    if (needs_act_rows(w)) quantize_rows(w, x, n_x, a);
    matmul_rows(w, x, &a, n_x, y, r_begin, r_end);
}

Result<std::unique_ptr<Model>> Model::load(const std::string& path, const ModelOptions& o) {
    EDGEQ_ASSIGN_OR_RETURN(auto file, gguf::File::open(path));
    std::unique_ptr<Model> m(new Model());
    m->file_ = std::move(file);
    const gguf::File& f = *m->file_;

    const gguf::Value* arch = f.find("general.architecture");
    if (!arch || arch->type != gguf::ValueType::STRING)
        return NotFound(path + ": missing metadata key 'general.architecture'");
    if (arch->str != "llama")
        return Unsupported(path + ": general.architecture is '" + arch->str + "'; edgeq generate supports 'llama'");
    Loader L{f, arch->str};
    HParams& hp = m->hp_;
    EDGEQ_ASSIGN_OR_RETURN(hp.n_embd, L.get_int("embedding_length", 0, true));
    EDGEQ_ASSIGN_OR_RETURN(hp.n_layer, L.get_int("block_count", 0, true));
    EDGEQ_ASSIGN_OR_RETURN(hp.n_ff, L.get_int("feed_forward_length", 0, true));
    EDGEQ_ASSIGN_OR_RETURN(hp.n_head, L.get_int("attention.head_count", 0, true));
    EDGEQ_ASSIGN_OR_RETURN(hp.n_head_kv, L.get_int("attention.head_count_kv", hp.n_head, false));
    EDGEQ_ASSIGN_OR_RETURN(hp.n_ctx_train, L.get_int("context_length", 0, true));
    EDGEQ_ASSIGN_OR_RETURN(hp.rms_eps, L.get_float("attention.layer_norm_rms_epsilon", 0.0f, true));
    EDGEQ_ASSIGN_OR_RETURN(hp.rope_base, L.get_float("rope.freq_base", 10000.0f, false));
    if (hp.n_embd % hp.n_head != 0)
        return Corrupt(path + ": embedding_length " + std::to_string(hp.n_embd) + " is not a multiple of head_count " +
                       std::to_string(hp.n_head));
    if (hp.n_head % hp.n_head_kv != 0)
        return Corrupt(path + ": head_count " + std::to_string(hp.n_head) + " is not a multiple of head_count_kv " +
                       std::to_string(hp.n_head_kv));
    EDGEQ_ASSIGN_OR_RETURN(hp.n_rot, L.get_int("rope.dimension_count", hp.head_dim(), false));
    if (hp.n_rot > hp.head_dim() || hp.n_rot % 2 != 0)
        return Corrupt(path + ": rope.dimension_count " + std::to_string(hp.n_rot) +
                       " must be even and at most the head size " + std::to_string(hp.head_dim()));

    const gguf::TensorInfo* te = f.find_tensor("token_embd.weight");
    if (!te) return NotFound(path + ": missing tensor 'token_embd.weight'");
    if (te->ne.size() != 2 || te->ne[0] != hp.n_embd)
        return Corrupt(path + ": tensor 'token_embd.weight' has shape " + L.shape_str(te->ne) + ", expected [" +
                       std::to_string(hp.n_embd) + ", n_vocab]");
    hp.n_vocab = te->ne[1];
    const int64_t D = hp.n_embd, Dq = hp.head_dim() * hp.n_head, Dkv = hp.n_embd_kv(), F = hp.n_ff, V = hp.n_vocab;
    EDGEQ_ASSIGN_OR_RETURN(m->tok_embd_, L.weight("token_embd.weight", D, V));
    EDGEQ_ASSIGN_OR_RETURN(m->output_norm_, L.vec("output_norm.weight", D));
    if (f.find_tensor("output.weight")) {
        EDGEQ_ASSIGN_OR_RETURN(m->output_, L.weight("output.weight", D, V));
    } else {
        m->output_ = m->tok_embd_;  // tied classifier
        m->tied_output_ = true;
    }
    m->layers_.resize(static_cast<size_t>(hp.n_layer));
    for (int64_t l = 0; l < hp.n_layer; ++l) {
        Layer& ly = m->layers_[static_cast<size_t>(l)];
        const std::string b = "blk." + std::to_string(l) + ".";
        EDGEQ_ASSIGN_OR_RETURN(ly.attn_norm, L.vec(b + "attn_norm.weight", D));
        EDGEQ_ASSIGN_OR_RETURN(ly.ffn_norm, L.vec(b + "ffn_norm.weight", D));
        EDGEQ_ASSIGN_OR_RETURN(ly.wq, L.weight(b + "attn_q.weight", D, Dq));
        EDGEQ_ASSIGN_OR_RETURN(ly.wk, L.weight(b + "attn_k.weight", D, Dkv));
        EDGEQ_ASSIGN_OR_RETURN(ly.wv, L.weight(b + "attn_v.weight", D, Dkv));
        EDGEQ_ASSIGN_OR_RETURN(ly.wo, L.weight(b + "attn_output.weight", Dq, D));
        EDGEQ_ASSIGN_OR_RETURN(ly.w_gate, L.weight(b + "ffn_gate.weight", D, F));
        EDGEQ_ASSIGN_OR_RETURN(ly.w_up, L.weight(b + "ffn_up.weight", D, F));
        EDGEQ_ASSIGN_OR_RETURN(ly.w_down, L.weight(b + "ffn_down.weight", F, D));
    }

    m->set_threads(o.threads);
    m->llama_order_ = o.llama_order;
    if (o.llama_order) {
        for (Layer& ly : m->layers_)
            for (Weight* w : {&ly.wq, &ly.wk, &ly.wv, &ly.wo, &ly.w_gate, &ly.w_up, &ly.w_down}) set_llama_order(*w, true);
        set_llama_order(m->output_, true, !m->tied_output_);
    }
    if (o.repack) {  // one matrix per task on the model's threads (independent copies; 1b Q8_0: 1.1 GB)
        std::vector<Weight*> ws;
        for (Layer& ly : m->layers_)
            for (Weight* w : {&ly.wq, &ly.wk, &ly.wv, &ly.wo, &ly.w_gate, &ly.w_up, &ly.w_down}) ws.push_back(w);
        if (!m->tied_output_) ws.push_back(&m->output_);
        m->pool_->run(static_cast<int64_t>(ws.size()), [&](int64_t i, int) { pack_weight(*ws[static_cast<size_t>(i)]); });
    }

    m->n_ctx_ = o.n_ctx > 0 ? o.n_ctx : hp.n_ctx_train;
    m->v_stride_ = (m->n_ctx_ + 15) / 16 * 16;
    m->k_cache_.assign(static_cast<size_t>(hp.n_layer * m->n_ctx_ * Dkv), 0.0f);
    m->v_cache_.assign(static_cast<size_t>(hp.n_layer * Dkv * m->v_stride_), 0.0f);
    return m;
}

const Weight* Model::find_weight(const std::string& name) const {
    if (name == tok_embd_.name) return &tok_embd_;
    if (name == output_.name && !tied_output_) return &output_;
    for (const Layer& ly : layers_)
        for (const Weight* w : {&ly.wq, &ly.wk, &ly.wv, &ly.wo, &ly.w_gate, &ly.w_up, &ly.w_down})
            if (w->name == name) return w;
    return nullptr;
}

Status Model::set_weight_data(const std::string& name, DType type, std::span<const uint8_t> data) {
    Weight* w = const_cast<Weight*>(find_weight(name));
    if (!w) return NotFound("set_weight_data: no weight matrix '" + name + "' in " + file_->path());
    const size_t rb = row_size(type, w->cols);
    if (rb == 0 || data.size() != rb * static_cast<size_t>(w->rows))
        return InvalidArgument("set_weight_data: '" + name + "' as " + dtype_name(type) + " needs " +
                               std::to_string(rb * static_cast<size_t>(w->rows)) + " bytes, got " +
                               std::to_string(data.size()));
    w->type = type;
    w->packed.reset();  // rows are read from the new bytes
    set_llama_order(*w, llama_order_, w != &tok_embd_);
    w->row_bytes = rb;
    w->data = data.data();
    if (tied_output_ && w == &tok_embd_) output_ = tok_embd_;  // (x86_order included)
    return Status::Ok();
}

void Model::set_threads(int n) {
    threads_ = n > 0 ? n : hardware_threads();
    if (!pool_ || pool_->threads() != threads_) pool_ = std::make_unique<ThreadPool>(threads_);
}

template <typename F>
void Model::parallel(int64_t n, int64_t grain, int threads, F&& fn) {
    if (baseline_) return parallel_for(n, threads, 1, fn);
    const int64_t tasks = (n + grain - 1) / grain;
    if (threads <= 1 || tasks <= 1) {
        fn(int64_t{0}, n);
        return;
    }
    auto task = [&](int64_t i, int) { fn(i * grain, std::min(n, (i + 1) * grain)); };
    pool_->run(tasks, task);
}

void Model::mm(const Weight& w, const float* x, int64_t n_x, float* y) {
    const MmJob job[] = {{&w, y}};
    mm_group(job, x, n_x);
}

void Model::mm_group(std::span<const MmJob> jobs, const float* x, int64_t n_x) {
    constexpr size_t kMax = 4;
    EDGEQ_CHECK(!jobs.empty() && jobs.size() <= kMax);
    // The activation rows are quantized once per distinct weight type and layout, before the rows are split among
    // the threads (reused across calls; the workers read them through a pointer, not their own copy).
    thread_local std::array<ActRows, kMax> tl;
    std::array<const ActRows*, kMax> act{};
    int64_t work = 0;
    for (size_t i = 0; i < jobs.size(); ++i) {
        const Weight& w = *jobs[i].w;
        if (observer_) observer_->observe(w, x, n_x);
        work += w.rows * w.cols * n_x;
        act[i] = &tl[i];
        if (!needs_act_rows(w)) continue;
        for (size_t k = 0; k < i; ++k) {  // the same quantized rows (and packed preparation) as an earlier job
            const Weight& o = *jobs[k].w;
            if (o.type == w.type && o.cols == w.cols && static_cast<bool>(o.packed) == static_cast<bool>(w.packed)) {
                act[i] = act[k];
                break;
            }
        }
        if (act[i] == &tl[i]) quantize_rows(w, x, n_x, tl[i]);
    }
    // Threads only pay off when each gets enough work: about 32k multiply-adds per thread at least. The pool's
    // workers claim chunks of rows one at a time (about 4 per thread per matrix, at least 16 rows: whole tiles),
    // so a descheduled thread on a loaded machine delays only its current chunk.
    const auto threads_for = [&](int64_t madds) { return static_cast<int>(std::clamp<int64_t>(madds / 32768, 1, threads_)); };
    const auto grain_for = [](int64_t rows, int t) { return std::max<int64_t>(16, (rows / (4 * t) + 15) / 16 * 16); };
    if (baseline_) {  // set_baseline_schedule: one matrix after the other, threads spawned per product
        for (size_t i = 0; i < jobs.size(); ++i) {
            const Weight& w = *jobs[i].w;
            const int t = threads_for(w.rows * w.cols * n_x);
            parallel(w.rows, grain_for(w.rows, t), t,
                     [&](int64_t b, int64_t e) { matmul_rows(w, x, act[i], n_x, jobs[i].y, b, e, false); });
        }
        return;
    }
    const int t = threads_for(work);
    if (t <= 1) {
        for (size_t i = 0; i < jobs.size(); ++i) matmul_rows(*jobs[i].w, x, act[i], n_x, jobs[i].y, 0, jobs[i].w->rows);
        return;
    }
    // Several products of the same input as one job on the pool: the jobs' chunks on one list.
    std::array<int64_t, kMax + 1> first{};  // first task of each job
    std::array<int64_t, kMax> grain{};
    for (size_t i = 0; i < jobs.size(); ++i) {
        grain[i] = grain_for(jobs[i].w->rows, t);
        first[i + 1] = first[i] + (jobs[i].w->rows + grain[i] - 1) / grain[i];
    }
    pool_->run(first[jobs.size()], [&](int64_t k, int) {
        size_t i = 0;
        while (k >= first[i + 1]) ++i;
        const Weight& w = *jobs[i].w;
        const int64_t b = (k - first[i]) * grain[i];
        matmul_rows(w, x, act[i], n_x, jobs[i].y, b, std::min(w.rows, b + grain[i]));
    });
}

Result<std::vector<float>> Model::eval(std::span<const int32_t> tokens, int32_t n_past, bool all_logits) {
    const HParams& hp = hp_;
    const int64_t N = static_cast<int64_t>(tokens.size());
    if (N == 0) return InvalidArgument("eval: no tokens");
    if (n_past < 0 || n_past > n_cached_)
        return InvalidArgument("eval: n_past " + std::to_string(n_past) + " is outside the cached positions [0, " +
                               std::to_string(n_cached_) + "]");
    if (n_past + N > n_ctx_)
        return InvalidArgument("eval: " + std::to_string(n_past) + " cached + " + std::to_string(N) +
                               " new tokens exceed the context of " + std::to_string(n_ctx_) + " tokens");
    for (int32_t t : tokens) {
        if (t < 0 || t >= hp.n_vocab)
            return InvalidArgument("eval: token id " + std::to_string(t) + " is outside the vocabulary [0, " +
                                   std::to_string(hp.n_vocab) + ")");
    }

    const int64_t D = hp.n_embd, hd = hp.head_dim(), Dq = hd * hp.n_head, Dkv = hp.n_embd_kv(), F = hp.n_ff;
    const int64_t group = hp.n_head / hp.n_head_kv;
    const float kq_scale = 1.0f / std::sqrt(static_cast<float>(hd));

    // Activations in buffers kept across calls (every element is written before it is read): fresh vectors of a
    // 64-token batch were mapped and faulted in on every call (4 % of a 2-thread prefill).
    Scratch& S = scratch_;
    const auto sized = [](std::vector<float>& b, int64_t n) -> std::vector<float>& {
        b.resize(static_cast<size_t>(n));
        return b;
    };
    std::vector<float>& x = sized(S.x, N * D);
    std::vector<float>& xn = sized(S.xn, N * D);
    std::vector<float>& q = sized(S.q, N * Dq);
    std::vector<float>& k = sized(S.k, N * Dkv);
    std::vector<float>& v = sized(S.v, N * Dkv);
    std::vector<float>& att = sized(S.att, N * Dq);
    std::vector<float>& proj = sized(S.proj, N * D);
    std::vector<float>& g = sized(S.g, N * F);
    std::vector<float>& u = sized(S.u, N * F);
    std::vector<float>& rope_cs = sized(S.rope_cs, N * hp.n_rot);
    for (int64_t t = 0; t < N; ++t) rope_cache(hp.n_rot, n_past + t, hp.rope_base, &rope_cs[t * hp.n_rot]);
    const int64_t vs = v_stride_;

    for (int64_t t = 0; t < N; ++t) {
        const int32_t id = tokens[static_cast<size_t>(t)];
        float* dst = x.data() + t * D;
        if (tok_embd_.type == DType::F32) {
            std::memcpy(dst, tok_embd_.row(id), static_cast<size_t>(D) * sizeof(float));
        } else {
            dequantize_row(tok_embd_.type, tok_embd_.row(id), dst, D);
        }
    }

    for (int64_t l = 0; l < hp.n_layer; ++l) {
        const Layer& ly = layers_[static_cast<size_t>(l)];
        float* kc = k_cache_.data() + l * n_ctx_ * Dkv;
        float* vc = v_cache_.data() + l * Dkv * vs;  // transposed: [Dkv][v_stride_]

        for (int64_t t = 0; t < N; ++t) rms_norm(&x[t * D], ly.attn_norm.data(), &xn[t * D], D, hp.rms_eps);
        const MmJob qkv[] = {{&ly.wq, q.data()}, {&ly.wk, k.data()}, {&ly.wv, v.data()}};
        mm_group(qkv, xn.data(), N);
        for (int64_t t = 0; t < N; ++t) {
            const int64_t pos = n_past + t;
            const float* cs = &rope_cs[t * hp.n_rot];
            for (int64_t h = 0; h < hp.n_head; ++h) rope_norm(&q[t * Dq + h * hd], hp.n_rot, cs);
            for (int64_t h = 0; h < hp.n_head_kv; ++h) rope_norm(&k[t * Dkv + h * hd], hp.n_rot, cs);
            std::memcpy(kc + pos * Dkv, &k[t * Dkv], static_cast<size_t>(Dkv) * sizeof(float));
            for (int64_t i = 0; i < Dkv; ++i) vc[i * vs + pos] = v[t * Dkv + i];
        }

        // Causal attention: token t sees cache positions [0, n_past + t]. One work item per (head, block of up to
        // kAttBlock tokens). K·Q as ggml_vec_dot_f32 (glue::kq_scores); the softmax of the scaled scores in ggml's
        // arithmetic (llm/float_glue.h); then each output dimension as the dot of its row of the transposed V cache
        // with the probabilities, in tinyBLAS's order over the positions padded to 16 with zero probabilities
        // (llama.cpp pads the cache view and masks the padding). The tokens of a block share one float tile over
        // the block's longest padded length: a shorter row's extra probabilities are zeros, and adding 0 * v to a
        // lane leaves it unchanged, so each output is the one-token product's bits. (Session 16: K·Q in
        // ggml_vec_dot_f32's order, with its unfused leftover loop, and RoPE as ggml contracts it make the fixtures'
        // F32 logits bit-identical; docs/llm/runtime.md.)
        constexpr int64_t kAttBlock = 16;
        const int64_t blocks = (N + kAttBlock - 1) / kAttBlock, items = hp.n_head * blocks;
        const int at = static_cast<int>(std::clamp<int64_t>(N * hp.n_head * (n_past + N) * hd / 32768, 1, threads_));
        parallel(items, std::max<int64_t>(1, items / (4 * at)), at, [&](int64_t b, int64_t e) {
            std::vector<float> sc(static_cast<size_t>(kAttBlock * vs));
            for (int64_t it = b; it < e; ++it) {
                const int64_t h = it / blocks, t0 = (it % blocks) * kAttBlock, kvh = h / group;
                const int64_t tn = std::min(kAttBlock, N - t0);
                const int64_t n16 = (n_past + t0 + tn + 15) / 16 * 16;  // the block's longest padded row
                for (int64_t j = 0; j < tn; ++j) {
                    const int64_t t = t0 + j, n_kv = n_past + t + 1;
                    float* s = sc.data() + j * n16;
                    glue::kq_scores(n_kv, &q[t * Dq + h * hd], kc + kvh * hd, Dkv, hd, kq_scale, s);
                    glue::softmax(n_kv, s);
                    std::fill(s + n_kv, s + n16, 0.0f);
                }
                if (N == 1) {  // one token: llama.cpp's matrix-vector product is ggml_vec_dot_f32 (tinyBLAS
                    // only takes batches of 2 or more) on its padded view; zero probabilities beyond n_kv
                    float_vec_dot_rows(DType::F32, n16, vc + kvh * hd * vs, static_cast<size_t>(vs) * sizeof(float), hd,
                                       sc.data(), &att[h * hd]);
                    continue;
                }
                float_dot_tile(DType::F32, n16, vc + kvh * hd * vs, static_cast<size_t>(vs) * sizeof(float), hd,
                               sc.data(), static_cast<size_t>(n16) * sizeof(float), tn, &att[t0 * Dq + h * hd],
                               static_cast<size_t>(Dq));
            }
        });
        mm(ly.wo, att.data(), N, proj.data());
        for (int64_t i = 0; i < N * D; ++i) x[i] += proj[i];

        // Only the last token's logits wanted: the last layer's FFN runs on that row alone (as llama.cpp does,
        // selecting the output rows before it; with ModelOptions::llama_order this also gives a repacked matrix
        // the one-row kernel order llama.cpp uses there).
        const int64_t f0 = (l == hp.n_layer - 1 && !all_logits) ? N - 1 : 0, nf = N - f0;
        float* xf = x.data() + f0 * D;
        for (int64_t t = 0; t < nf; ++t) rms_norm(&xf[t * D], ly.ffn_norm.data(), &xn[t * D], D, hp.rms_eps);
        const MmJob gate_up[] = {{&ly.w_gate, g.data()}, {&ly.w_up, u.data()}};
        mm_group(gate_up, xn.data(), nf);
        for (int64_t t = 0; t < nf; ++t) glue::swiglu(F, &g[t * F], &u[t * F], &g[t * F]);
        mm(ly.w_down, g.data(), nf, proj.data());
        for (int64_t i = 0; i < nf * D; ++i) xf[i] += proj[i];
    }
    n_cached_ = n_past + N;

    const int64_t first = all_logits ? 0 : N - 1, n_out = N - first;
    for (int64_t t = first; t < N; ++t) rms_norm(&x[t * D], output_norm_.data(), &xn[(t - first) * D], D, hp.rms_eps);
    std::vector<float> logits(static_cast<size_t>(n_out * hp.n_vocab));
    mm(output_, xn.data(), n_out, logits.data());
    return logits;
}

}  // namespace edgeq::llm
