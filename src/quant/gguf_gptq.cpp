#include "quant/gguf_gptq.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "core/fp16.h"
#include "core/parallel.h"
#include "dtype/blocks.h"
#include "quant/ptq/gptq.h"

namespace edgeq {

// ---- INT group formats ------------------------------------------------------------------------------------

std::optional<IntGroupFormat> int_group_format(const std::string& name) {
    std::string s;
    for (char ch : name) s += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    for (int bits : {2, 3, 4}) {
        for (int64_t g : {32, 64}) {
            if (s == "INT" + std::to_string(bits) + "_G" + std::to_string(g)) return IntGroupFormat{bits, g};
        }
    }
    return std::nullopt;
}

std::string int_group_name(const IntGroupFormat& f) {
    return "INT" + std::to_string(f.bits) + "_G" + std::to_string(f.group);
}

std::string int_group_format_names() {
    std::string s;
    for (int bits : {4, 3, 2}) {
        for (int g : {32, 64}) s += (s.empty() ? "" : " ") + int_group_name({bits, g});
    }
    return s;
}

// ---- Element access
// -----------------------------------------------------------------------------------------

namespace {

// 32-wide legacy blocks: element j < 16 in the low nibble of qs[j], j >= 16 in the high nibble of qs[j-16].
int get_nibble32(const uint8_t* qs, int e) {
    return e < 16 ? qs[e] & 0xF : qs[e - 16] >> 4;
}
void set_nibble32(uint8_t* qs, int e, int v) {
    if (e < 16) {
        qs[e] = static_cast<uint8_t>((qs[e] & 0xF0) | (v & 0xF));
    } else {
        qs[e - 16] = static_cast<uint8_t>((qs[e - 16] & 0x0F) | ((v & 0xF) << 4));
    }
}
// A bit array (qh of Q5_0/Q5_1 as a little-endian uint32, hmask of Q3_K, qh of Q5_K).
int get_bit(const uint8_t* p, int byte, int bit) {
    return (p[byte] >> bit) & 1;
}
void set_bit(uint8_t* p, int byte, int bit, int v) {
    p[byte] = static_cast<uint8_t>((p[byte] & ~(1u << bit)) | ((v & 1u) << bit));
}
// k-quant 2-bit layout (Q2_K, Q3_K low bits) and 4-bit layout (Q4_K, Q5_K low bits).
int get_2bit_k(const uint8_t* qs, int e) {
    return (qs[(e / 128) * 32 + e % 32] >> (2 * ((e % 128) / 32))) & 3;
}
void set_2bit_k(uint8_t* qs, int e, int v) {
    uint8_t& b = qs[(e / 128) * 32 + e % 32];
    const int sh = 2 * ((e % 128) / 32);
    b = static_cast<uint8_t>((b & ~(3u << sh)) | ((v & 3u) << sh));
}
int get_4bit_k(const uint8_t* qs, int e) {
    return (qs[(e / 64) * 32 + e % 32] >> (4 * ((e % 64) / 32))) & 0xF;
}
void set_4bit_k(uint8_t* qs, int e, int v) {
    uint8_t& b = qs[(e / 64) * 32 + e % 32];
    const int sh = 4 * ((e % 64) / 32);
    b = static_cast<uint8_t>((b & ~(0xFu << sh)) | ((v & 0xFu) << sh));
}
void scale_min_k4(int j, const uint8_t* q, int& sc, int& m) {
    if (j < 4) {
        sc = q[j] & 63;
        m = q[j + 4] & 63;
    } else {
        sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}
int scale_q3(const uint8_t* q, int j) {
    const int lo = j < 8 ? q[j] & 0xF : q[j - 8] >> 4;
    const int hi = (q[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (lo | (hi << 4)) - 32;
}
// Q6_K: element e -> (ql byte, shift) and (qh byte, shift).
void q6_pos(int e, int& lb, int& ls, int& hb, int& hs) {
    const int h = e / 128, r = (e % 128) / 32, l = e % 32;
    lb = h * 64 + l + 32 * (r & 1);
    ls = 4 * (r >> 1);
    hb = h * 32 + l;
    hs = 2 * r;
}

template <class B>
const B& as(const uint8_t* p) {
    return *reinterpret_cast<const B*>(p);
}
template <class B>
B& as(uint8_t* p) {
    return *reinterpret_cast<B*>(p);
}

}  // namespace

bool gptq_supports(DType t) {
    switch (t) {
        case DType::Q8_0:
        case DType::Q4_0:
        case DType::Q4_1:
        case DType::Q5_0:
        case DType::Q5_1:
        case DType::IQ4_NL:
        case DType::Q2_K:
        case DType::Q3_K:
        case DType::Q4_K:
        case DType::Q5_K:
        case DType::Q6_K:
            return true;
        default:
            return false;
    }
}

int block_levels(DType t) {
    switch (t) {
        case DType::Q8_0:
            return 255;  // -127..127, as ggml writes them
        case DType::Q4_0:
        case DType::Q4_1:
        case DType::IQ4_NL:
        case DType::Q4_K:
            return 16;
        case DType::Q5_0:
        case DType::Q5_1:
        case DType::Q5_K:
            return 32;
        case DType::Q2_K:
            return 4;
        case DType::Q3_K:
            return 8;
        case DType::Q6_K:
            return 64;
        default:
            EDGEQ_CHECK(false && "block_levels: type without GPTQ support");
            return 0;
    }
}

ElementGrid block_grid(DType t, const uint8_t* p, int e) {
    ElementGrid g;
    switch (t) {
        case DType::Q8_0:
            g.a = fp16_to_f32(as<block_q8_0>(p).d);
            g.off = -127;
            break;
        case DType::Q4_0:
            g.a = fp16_to_f32(as<block_q4_0>(p).d);
            g.off = -8;
            break;
        case DType::Q5_0:
            g.a = fp16_to_f32(as<block_q5_0>(p).d);
            g.off = -16;
            break;
        case DType::IQ4_NL:
            g.a = fp16_to_f32(as<block_iq4_nl>(p).d);
            break;
        case DType::Q4_1:
            g.a = fp16_to_f32(as<block_q4_1>(p).d);
            g.b = fp16_to_f32(as<block_q4_1>(p).m);
            break;
        case DType::Q5_1:
            g.a = fp16_to_f32(as<block_q5_1>(p).d);
            g.b = fp16_to_f32(as<block_q5_1>(p).m);
            break;
        case DType::Q2_K: {
            const auto& b = as<block_q2_K>(p);
            const uint8_t sc = b.scales[e / 16];
            g.a = fp16_to_f32(b.d) * static_cast<float>(sc & 0xF);
            g.b = -(fp16_to_f32(b.dmin) * static_cast<float>(sc >> 4));
            break;
        }
        case DType::Q3_K: {
            const auto& b = as<block_q3_K>(p);
            g.a = fp16_to_f32(b.d) * static_cast<float>(scale_q3(b.scales, e / 16));
            g.off = -4;
            break;
        }
        case DType::Q4_K:
        case DType::Q5_K: {
            const uint8_t* base = p;  // d, dmin, scales are at the same offsets in both
            const auto& b = as<block_q4_K>(base);
            int sc, m;
            scale_min_k4(e / 32, b.scales, sc, m);
            g.a = fp16_to_f32(b.d) * static_cast<float>(sc);
            g.b = -(fp16_to_f32(b.dmin) * static_cast<float>(m));
            break;
        }
        case DType::Q6_K: {
            const auto& b = as<block_q6_K>(p);
            g.a = fp16_to_f32(b.d) * static_cast<float>(b.scales[e / 16]);
            g.off = -32;
            break;
        }
        default:
            EDGEQ_CHECK(false && "block_grid: type without GPTQ support");
    }
    return g;
}

int block_level(DType t, const uint8_t* p, int e) {
    switch (t) {
        case DType::Q8_0:
            return as<block_q8_0>(p).qs[e] + 127;
        case DType::Q4_0:
            return get_nibble32(as<block_q4_0>(p).qs, e);
        case DType::Q4_1:
            return get_nibble32(as<block_q4_1>(p).qs, e);
        case DType::IQ4_NL:
            return get_nibble32(as<block_iq4_nl>(p).qs, e);
        case DType::Q5_0:
            return get_nibble32(as<block_q5_0>(p).qs, e) | get_bit(as<block_q5_0>(p).qh, e / 8, e % 8) << 4;
        case DType::Q5_1:
            return get_nibble32(as<block_q5_1>(p).qs, e) | get_bit(as<block_q5_1>(p).qh, e / 8, e % 8) << 4;
        case DType::Q2_K:
            return get_2bit_k(as<block_q2_K>(p).qs, e);
        case DType::Q3_K: {
            const auto& b = as<block_q3_K>(p);
            return get_2bit_k(b.qs, e) | get_bit(b.hmask, e % 32, e / 32) << 2;
        }
        case DType::Q4_K:
            return get_4bit_k(as<block_q4_K>(p).qs, e);
        case DType::Q5_K: {
            const auto& b = as<block_q5_K>(p);
            return get_4bit_k(b.qs, e) | get_bit(b.qh, e % 32, e / 32) << 4;
        }
        case DType::Q6_K: {
            const auto& b = as<block_q6_K>(p);
            int lb, ls, hb, hs;
            q6_pos(e, lb, ls, hb, hs);
            return ((b.ql[lb] >> ls) & 0xF) | (((b.qh[hb] >> hs) & 3) << 4);
        }
        default:
            EDGEQ_CHECK(false && "block_level: type without GPTQ support");
            return 0;
    }
}

void set_block_level(DType t, uint8_t* p, int e, int q) {
    EDGEQ_CHECK(q >= 0 && q < block_levels(t));
    switch (t) {
        case DType::Q8_0:
            as<block_q8_0>(p).qs[e] = static_cast<int8_t>(q - 127);
            break;
        case DType::Q4_0:
            set_nibble32(as<block_q4_0>(p).qs, e, q);
            break;
        case DType::Q4_1:
            set_nibble32(as<block_q4_1>(p).qs, e, q);
            break;
        case DType::IQ4_NL:
            set_nibble32(as<block_iq4_nl>(p).qs, e, q);
            break;
        case DType::Q5_0:
            set_nibble32(as<block_q5_0>(p).qs, e, q);
            set_bit(as<block_q5_0>(p).qh, e / 8, e % 8, q >> 4);
            break;
        case DType::Q5_1:
            set_nibble32(as<block_q5_1>(p).qs, e, q);
            set_bit(as<block_q5_1>(p).qh, e / 8, e % 8, q >> 4);
            break;
        case DType::Q2_K:
            set_2bit_k(as<block_q2_K>(p).qs, e, q);
            break;
        case DType::Q3_K: {
            auto& b = as<block_q3_K>(p);
            set_2bit_k(b.qs, e, q & 3);
            set_bit(b.hmask, e % 32, e / 32, q >> 2);
            break;
        }
        case DType::Q4_K:
            set_4bit_k(as<block_q4_K>(p).qs, e, q);
            break;
        case DType::Q5_K: {
            auto& b = as<block_q5_K>(p);
            set_4bit_k(b.qs, e, q & 0xF);
            set_bit(b.qh, e % 32, e / 32, q >> 4);
            break;
        }
        case DType::Q6_K: {
            auto& b = as<block_q6_K>(p);
            int lb, ls, hb, hs;
            q6_pos(e, lb, ls, hb, hs);
            b.ql[lb] = static_cast<uint8_t>((b.ql[lb] & ~(0xFu << ls)) | ((q & 0xFu) << ls));
            b.qh[hb] = static_cast<uint8_t>((b.qh[hb] & ~(3u << hs)) | (((q >> 4) & 3u) << hs));
            break;
        }
        default:
            EDGEQ_CHECK(false && "set_block_level: type without GPTQ support");
    }
}

float grid_value(DType t, const ElementGrid& g, int q) {
    if (t == DType::IQ4_NL) return g.a * static_cast<float>(kvalues_iq4nl[q]);
    return g.a * static_cast<float>(q + g.off) + g.b;
}

int nearest_level(DType t, const ElementGrid& g, float w, int max_level) {
    if (t == DType::IQ4_NL) {
        int best = 0;
        float be = std::fabs(w - grid_value(t, g, 0));
        for (int q = 1; q <= max_level; ++q) {
            const float e = std::fabs(w - grid_value(t, g, q));
            if (e < be) {
                be = e;
                best = q;
            }
        }
        return best;
    }
    if (g.a == 0.0f || !std::isfinite(g.a)) return std::clamp(-g.off, 0, max_level);
    const double r = std::nearbyint(static_cast<double>(w - g.b) / static_cast<double>(g.a)) - g.off;
    int q = static_cast<int>(std::clamp(r, 0.0, static_cast<double>(max_level)));
    // The grid values are float products; check the neighbours so that the level is the nearest in float.
    float be = std::fabs(w - grid_value(t, g, q));
    for (int n : {q - 1, q + 1}) {
        if (n < 0 || n > max_level) continue;
        const float e = std::fabs(w - grid_value(t, g, n));
        if (e < be) {
            be = e;
            q = n;
        }
    }
    return q;
}

// ---- The block quantizer behind GPTQ's callbacks
// -----------------------------------------------------------

namespace {

// Owns the output bytes (rows x row_size) and fits / rounds into them.
class BlockCodec {
  public:
    BlockCodec(const BlockTarget& t, int64_t rows, int64_t cols, const float* importance)
        : t_(t), importance_(importance) {
        blck_ = traits(t.type).block_size;
        tsize_ = traits(t.type).type_size;
        EDGEQ_CHECK(!t.int_format || t.type == DType::Q4_1);
        group_ = t.int_format ? t.int_format->group : blck_;
        max_level_ = t.int_format ? (1 << t.int_format->bits) - 1 : block_levels(t.type) - 1;
        row_bytes_ = row_size(t.type, cols);
        bytes_.assign(row_bytes_ * static_cast<size_t>(rows), 0);
    }

    int64_t group() const { return group_; }
    std::vector<uint8_t>& bytes() { return bytes_; }

    uint8_t* block(int64_t row, int64_t col) {
        return bytes_.data() + static_cast<size_t>(row) * row_bytes_ +
               static_cast<size_t>(col / blck_) * tsize_;
    }

    // Fits the scales of group g of `row` from its current weights w.
    void fit(int64_t row, int64_t g, std::span<const float> w) {
        const int64_t c0 = g * group_;
        const float* imp = importance_ ? importance_ + c0 : nullptr;
        if (t_.int_format) {
            float d = 0, m = 0;
            fit_int_group(w.data(), imp, static_cast<int64_t>(w.size()), &d, &m);
            for (int64_t c = c0; c < c0 + static_cast<int64_t>(w.size()); c += blck_) {
                auto& b = as<block_q4_1>(block(row, c));
                b.d = f32_to_fp16(d);
                b.m = f32_to_fp16(m);
            }
            return;
        }
        EDGEQ_CHECK(static_cast<int64_t>(w.size()) == blck_);
        quantize(t_.type, w.data(), block(row, c0), 1, blck_, imp);
    }

    float round(int64_t row, int64_t col, float w) {
        uint8_t* b = block(row, col);
        const int e = static_cast<int>(col % blck_);
        const ElementGrid g = block_grid(t_.type, b, e);
        const int q = nearest_level(t_.type, g, w, max_level_);
        set_block_level(t_.type, b, e, q);
        return grid_value(t_.type, g, q);
    }

    // INT group fit: candidates (lo, hi) shrunk from [min, max] by fractions of the range; for each the fp16
    // scale d = (hi - lo) / maxq and offset m = lo, scored by the importance-weighted squared error.
    void fit_int_group(const float* w, const float* imp, int64_t n, float* d_out, float* m_out) const {
        float lo = w[0], hi = w[0];
        for (int64_t i = 1; i < n; ++i) {
            lo = std::min(lo, w[i]);
            hi = std::max(hi, w[i]);
        }
        const float maxq = static_cast<float>(max_level_);
        float best_err = INFINITY, best_d = 0, best_m = lo;
        const float range = hi - lo;
        constexpr int kSteps = 6;  // shrink each end by 0, 4, ..., 20 % of the range
        for (int a = 0; a < kSteps; ++a) {
            for (int bb = 0; bb < kSteps; ++bb) {
                const float l = lo + range * 0.04f * static_cast<float>(a);
                const float h = hi - range * 0.04f * static_cast<float>(bb);
                if (h <= l && !(a == 0 && bb == 0)) continue;
                const float d = fp16_to_f32(f32_to_fp16((h - l) / maxq));
                const float m = fp16_to_f32(f32_to_fp16(l));
                float err = 0;
                for (int64_t i = 0; i < n; ++i) {
                    float q = d > 0 ? std::nearbyint((w[i] - m) / d) : 0.0f;
                    q = std::clamp(q, 0.0f, maxq);
                    const float e = w[i] - (q * d + m);
                    err += (imp ? imp[i] : 1.0f) * e * e;
                }
                if (err < best_err) {
                    best_err = err;
                    best_d = d;
                    best_m = m;
                }
            }
        }
        *d_out = best_d;
        *m_out = best_m;
    }

  private:
    BlockTarget t_;
    const float* importance_;
    int64_t blck_ = 0, group_ = 0;
    size_t tsize_ = 0, row_bytes_ = 0;
    int max_level_ = 0;
    std::vector<uint8_t> bytes_;
};

Status check_target(const BlockTarget& t, int64_t cols) {
    if (t.int_format && t.type != DType::Q4_1)
        return InvalidArgument("INT group formats are stored in Q4_1 blocks, got " +
                               std::string(dtype_name(t.type)));
    if (!gptq_supports(t.type))
        return Unsupported(
            std::string("GPTQ: type ") + dtype_name(t.type) +
            " is not supported (Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 IQ4_NL Q2_K Q3_K Q4_K Q5_K Q6_K are)");
    const int64_t g = t.int_format ? std::max<int64_t>(t.int_format->group, traits(t.type).block_size)
                                   : traits(t.type).block_size;
    if (cols <= 0 || cols % g != 0)
        return InvalidArgument("rows of " + std::to_string(cols) + " values are not a multiple of the " +
                               std::to_string(g) + "-wide group of " +
                               (t.int_format ? int_group_name(*t.int_format) : dtype_name(t.type)));
    return Status::Ok();
}

}  // namespace

std::vector<uint8_t> quantize_int_group_rtn(const IntGroupFormat& f, const float* w, int64_t rows,
                                            int64_t cols, const float* importance, int threads) {
    BlockTarget t{DType::Q4_1, f};
    EDGEQ_CHECK(check_target(t, cols).ok());
    BlockCodec codec(t, rows, cols, importance);
    parallel_for(rows, threads, 4, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const float* wr = w + r * cols;
            for (int64_t c0 = 0; c0 < cols; c0 += f.group) {
                codec.fit(r, c0 / f.group, {wr + c0, static_cast<size_t>(f.group)});
                for (int64_t c = c0; c < c0 + f.group; ++c) codec.round(r, c, wr[c]);
            }
        }
    });
    return std::move(codec.bytes());
}

Result<std::vector<uint8_t>> quantize_gptq(const BlockTarget& target, const float* w, int64_t rows,
                                           int64_t cols, std::span<const double> h, const float* importance,
                                           const GgufGptqOptions& options, GgufGptqStats* stats) {
    EDGEQ_RETURN_IF_ERROR(check_target(target, cols));
    BlockCodec codec(target, rows, cols, importance);
    quant::ptq::GroupQuantizer gq;
    gq.group = codec.group();
    gq.fit = [&](int64_t row, int64_t g, std::span<const float> v, std::span<const float>) {
        codec.fit(row, g, v);
    };
    gq.round = [&](int64_t row, int64_t col, float v) { return codec.round(row, col, v); };
    quant::ptq::GptqOptions go;
    go.percdamp = options.percdamp;
    go.block_size = options.block_size;
    go.act_order = options.act_order;
    go.n_threads = options.threads;
    go.zero_dead_columns = true;
    EDGEQ_ASSIGN_OR_RETURN(
        auto r, quant::ptq::gptq_quantize({w, static_cast<size_t>(rows * cols)}, rows, cols, h, gq, go));
    if (stats) {
        stats->percdamp_used = r.percdamp_used;
        stats->dead_columns = r.dead_columns;
    }
    return std::move(codec.bytes());
}

std::vector<double> hessian_from_sums(std::span<const double> xtx_upper, int64_t k, int64_t n) {
    EDGEQ_CHECK(static_cast<int64_t>(xtx_upper.size()) == k * k);
    const auto K = static_cast<size_t>(k);
    std::vector<double> h(K * K, 0.0);
    if (n <= 0) return h;
    const double f = 2.0 / static_cast<double>(n);
    for (size_t i = 0; i < K; ++i) {
        for (size_t j = i; j < K; ++j) h[i * K + j] = h[j * K + i] = f * xtx_upper[i * K + j];
    }
    return h;
}

}  // namespace edgeq
