#include "edgeq/tensor.h"

#include <cstdlib>
#include <cstring>

#include <sys/mman.h>

#include "core/check.h"
#include "core/fp16.h"

namespace edgeq {

int64_t shape_numel(const Shape& s) {
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    return n;
}

std::string shape_str(const Shape& s) {
    std::string r = "[";
    for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
    return r + "]";
}

size_t storage_bytes(DType t, int64_t numel) {
    const auto& tr = traits(t);
    const int64_t blocks = (numel + tr.block_size - 1) / tr.block_size;
    return static_cast<size_t>(blocks) * tr.type_size;
}

namespace {
// Buffers this large come from the kernel already zeroed (glibc maps every allocation above its largest mmap
// threshold, 32 MiB, directly): they are mapped here and not memset, so pages a user never touches (the fast
// planner's shape pass allocates batch-1000 activations it never reads) cost neither time nor memory. Under
// AddressSanitizer every buffer goes through the allocator, so out-of-bounds accesses keep their red zones.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kMapLarge = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kMapLarge = false;
#else
constexpr bool kMapLarge = true;
#endif
#else
constexpr bool kMapLarge = true;
#endif
constexpr size_t kMapBytes = size_t{32} << 20;
}  // namespace

Tensor::Buffer::Buffer(size_t bytes) : n(bytes) {
    alloc = ((bytes + 63) / 64) * 64 + 64;  // room for vector over-reads at the end
    if (kMapLarge && alloc >= kMapBytes) {
        void* m = ::mmap(nullptr, alloc, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m != MAP_FAILED) {  // page-aligned, zero-filled on first touch
            p = static_cast<uint8_t*>(m);
            mapped = true;
            return;
        }
    }
    // calloc, aligned by hand: glibc skips the memset for memory that comes fresh from the kernel (already
    // zero), which aligned_alloc + memset touched twice (a quarter of a short training run was that memset).
    base = std::calloc(1, alloc + 63);
    EDGEQ_CHECK_MSG(base != nullptr, "out of memory");
    p = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(base) + 63) & ~uintptr_t{63});
}
Tensor::Buffer::~Buffer() {
    if (mapped) {
        ::munmap(p, alloc);
    } else {
        std::free(base);
    }
}

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
    for (int64_t d : shape_) EDGEQ_CHECK_MSG(d >= 0, "negative dimension");
    buf_ = std::make_shared<Buffer>(nbytes());
}

Tensor Tensor::from_bytes(DType dtype, Shape shape, std::span<const uint8_t> bytes) {
    Tensor t(dtype, std::move(shape));
    EDGEQ_CHECK_MSG(bytes.size() == t.nbytes(), "from_bytes: size does not match dtype and shape");
    if (!bytes.empty()) std::memcpy(t.raw(), bytes.data(), bytes.size());
    return t;
}

Tensor Tensor::reshaped(Shape shape) const {
    EDGEQ_CHECK_MSG(shape_numel(shape) == numel(), "reshape changes the element count");
    Tensor t = *this;
    t.shape_ = std::move(shape);
    return t;
}

Tensor Tensor::clone() const {
    Tensor t(dtype_, shape_);
    if (nbytes()) std::memcpy(t.raw(), raw(), nbytes());
    return t;
}

std::vector<float> Tensor::to_f32() const {
    const int64_t n = numel();
    std::vector<float> out(static_cast<size_t>(n));
    auto conv = [&](auto tag) {
        using T = decltype(tag);
        const T* p = data<T>();
        for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = static_cast<float>(p[i]);
    };
    switch (dtype_) {
        case DType::BOOL: conv(uint8_t{}); break;
        case DType::I16: conv(int16_t{}); break;
        case DType::I32: conv(int32_t{}); break;
        case DType::I64: conv(int64_t{}); break;
        case DType::U16: conv(uint16_t{}); break;
        case DType::U32: conv(uint32_t{}); break;
        case DType::U64: conv(uint64_t{}); break;
        case DType::F64: conv(double{}); break;
        default: {
            const auto& tr = traits(dtype_);
            EDGEQ_CHECK_MSG(tr.dequantize != nullptr, "to_f32: dtype has no conversion");
            const int64_t full = (n / tr.block_size) * tr.block_size;
            if (full) tr.dequantize(raw(), out.data(), full);
            if (full < n) {  // a partial last block of a packed type
                std::vector<float> tail(static_cast<size_t>(tr.block_size));
                tr.dequantize(raw() + static_cast<size_t>(full / tr.block_size) * tr.type_size, tail.data(),
                              tr.block_size);
                for (int64_t i = full; i < n; ++i) out[static_cast<size_t>(i)] = tail[static_cast<size_t>(i - full)];
            }
        }
    }
    return out;
}

std::vector<int64_t> Tensor::to_i64() const {
    const int64_t n = numel();
    std::vector<int64_t> out(static_cast<size_t>(n));
    auto conv = [&](auto tag) {
        using T = decltype(tag);
        const T* p = data<T>();
        for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = static_cast<int64_t>(p[i]);
    };
    switch (dtype_) {
        case DType::BOOL: case DType::U8: conv(uint8_t{}); break;
        case DType::I8: conv(int8_t{}); break;
        case DType::I16: conv(int16_t{}); break;
        case DType::I32: conv(int32_t{}); break;
        case DType::I64: conv(int64_t{}); break;
        case DType::U16: conv(uint16_t{}); break;
        case DType::U32: conv(uint32_t{}); break;
        case DType::U64: conv(uint64_t{}); break;
        default: {
            const auto f = to_f32();
            for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = static_cast<int64_t>(f[static_cast<size_t>(i)]);
        }
    }
    return out;
}

}  // namespace edgeq
