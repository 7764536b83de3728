// The dtype table, built from dtype.def.
#include "edgeq/dtype.h"

#include <array>
#include <cctype>
#include <iterator>

#include "core/check.h"
#include "dtype/quant_dispatch.h"
#include "dtype/quants.h"

namespace edgeq {
namespace {

#define EDGEQ_CODEC_1(n) &quants::quantize_##n, &quants::dequantize_row_##n
#define EDGEQ_CODEC_0(n) nullptr, nullptr
#define EDGEQ_DTYPE(name, id, blck, bytes, kind, vdt, codec)                              \
    DTypeTraits{DType::name, #name, id, blck, bytes, DTypeKind::kind, DType::vdt, \
                EDGEQ_CODEC_##codec(name)},
constexpr DTypeTraits kTable[] = {  // NOLINT
#include "dtype/dtype.def"
};
#undef EDGEQ_DTYPE
#undef EDGEQ_CODEC_0
#undef EDGEQ_CODEC_1

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i])))
            return false;
    }
    return true;
}

}  // namespace

std::span<const DTypeTraits> all_dtypes() { return kTable; }

std::optional<DType> dtype_from_id(uint32_t id) {
    for (const auto& t : kTable)
        if (t.id == id) return t.type;
    return std::nullopt;
}

const DTypeTraits& traits(DType t) {
    for (const auto& row : kTable)
        if (row.type == t) return row;
    EDGEQ_CHECK_MSG(false, "DType value outside dtype.def");
}

std::optional<DType> dtype_from_name(std::string_view name) {
    for (const auto& t : kTable)
        if (iequals(t.name, name)) return t.type;
    return std::nullopt;
}

const char* dtype_name(DType t) { return traits(t).name; }

size_t row_size(DType t, int64_t n) {
    const auto& tr = traits(t);
    EDGEQ_CHECK(n % tr.block_size == 0);
    return static_cast<size_t>(n / tr.block_size) * tr.type_size;
}

double bits_per_weight(DType t) {
    const auto& tr = traits(t);
    return 8.0 * static_cast<double>(tr.type_size) / static_cast<double>(tr.block_size);
}

size_t quantize(DType t, const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
    const auto& tr = traits(t);
    EDGEQ_CHECK_MSG(tr.quantize != nullptr, "quantize: storage-only dtype");
    EDGEQ_CHECK(n_per_row % tr.block_size == 0);
    static_assert(std::size(kTable) <= 64);
    static const std::array<QuantizeFn, 64> fast = [] {  // per dtype.def row: the dispatched quantizer
        std::array<QuantizeFn, 64> a{};
        for (size_t i = 0; i < std::size(kTable); ++i)
            if (kTable[i].quantize) a[i] = selected_quantizer(kTable[i].type);
        return a;
    }();
    const size_t n = fast[static_cast<size_t>(&tr - kTable)](src, dst, nrows, n_per_row, imatrix);
    EDGEQ_CHECK(n == static_cast<size_t>(nrows) * row_size(t, n_per_row));
    return n;
}

void dequantize_row(DType t, const void* src, float* dst, int64_t n) {
    const auto& tr = traits(t);
    EDGEQ_CHECK_MSG(tr.dequantize != nullptr, "dequantize: storage-only dtype");
    EDGEQ_CHECK(n % tr.block_size == 0);
    tr.dequantize(src, dst, n);
}

}  // namespace edgeq
