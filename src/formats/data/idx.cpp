#include "formats/data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

namespace edgeq::data {
namespace {

constexpr int64_t kMaxIdxNumel = int64_t{1} << 40;
constexpr size_t kFirstChunk = size_t{1} << 20;

struct GzCloser {
    void operator()(gzFile f) const { gzclose(f); }
};
using Gz = std::unique_ptr<std::remove_pointer_t<gzFile>, GzCloser>;

// Reads exactly n bytes (fewer only at the end of the stream); a zlib error becomes a Status.
Result<size_t> read_some(gzFile f, uint8_t* dst, size_t n, const std::string& path) {
    size_t got = 0;
    while (got < n) {
        const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - got, 1u << 30));
        const int r = gzread(f, dst + got, chunk);
        if (r < 0) {
            int errnum = 0;
            const char* m = gzerror(f, &errnum);
            return Corrupt(path + ": gzip stream error: " + (m ? m : "unknown"));
        }
        if (r == 0) break;
        got += static_cast<size_t>(r);
    }
    // A truncated gzip stream reads short and then reports Z_BUF_ERROR; treat that as corruption too.
    int errnum = 0;
    const char* m = gzerror(f, &errnum);
    if (errnum != Z_OK && errnum != Z_STREAM_END) {
        return Corrupt(path + ": gzip stream error: " + (m ? m : "unknown"));
    }
    return got;
}

}  // namespace

Result<Tensor> read_idx(const std::string& path, int64_t max_items, int64_t* header_items) {
    errno = 0;
    Gz f(gzopen(path.c_str(), "rb"));  // reads plain files transparently
    if (!f) {
        if (errno == ENOENT) return NotFound(path + ": no such file");
        return IoError(path + ": cannot open: " + std::strerror(errno ? errno : EIO));
    }
    uint8_t magic[4];
    EDGEQ_ASSIGN_OR_RETURN(size_t n, read_some(f.get(), magic, 4, path));
    if (n < 4) return Corrupt(path + ": too short for an IDX file (" + std::to_string(n) + " bytes)");
    if (magic[0] != 0 || magic[1] != 0) return Corrupt(path + ": not an IDX file (magic must start with 0x0000)");
    if (magic[2] != 0x08) {
        return Unsupported(path + ": IDX element type 0x" + std::to_string(magic[2]) +
                           " is not supported (only 0x08, unsigned byte)");
    }
    const int ndim = magic[3];
    if (ndim < 1 || ndim > 4) return Corrupt(path + ": IDX file has " + std::to_string(ndim) + " dimensions (1-4)");
    uint8_t dims_be[16];
    EDGEQ_ASSIGN_OR_RETURN(n, read_some(f.get(), dims_be, static_cast<size_t>(4 * ndim), path));
    if (n < static_cast<size_t>(4 * ndim)) return Corrupt(path + ": IDX header truncated in the dimensions");
    Shape shape;
    int64_t numel = 1;
    for (int i = 0; i < ndim; ++i) {
        const uint8_t* p = dims_be + 4 * i;
        const int64_t d = (int64_t{p[0]} << 24) | (int64_t{p[1]} << 16) | (int64_t{p[2]} << 8) | p[3];
        if (d > 0 && numel > kMaxIdxNumel / d) return Corrupt(path + ": IDX dimensions multiply to more than 2^40");
        numel *= d;
        shape.push_back(d);
    }
    if (header_items) *header_items = shape[0];
    const bool prefix = max_items >= 0 && max_items < shape[0];
    if (prefix) {
        numel = shape[0] > 0 ? numel / shape[0] * max_items : 0;
        shape[0] = max_items;
    }
    // The header alone does not size the buffer: a 16-byte file may claim 2^40 elements. Data is read in
    // chunks that grow with what the stream actually delivers, so memory stays bounded by the data present.
    std::vector<uint8_t> buf;
    size_t got = 0;
    while (got < static_cast<size_t>(numel)) {
        const size_t want = std::min(static_cast<size_t>(numel), std::max(got * 2, kFirstChunk));
        buf.resize(want);
        EDGEQ_ASSIGN_OR_RETURN(n, read_some(f.get(), buf.data() + got, want - got, path));
        got += n;
        if (got < want) break;
    }
    if (got < static_cast<size_t>(numel)) {
        return Corrupt(path + ": IDX data truncated: " + shape_str(shape) + " needs " + std::to_string(numel) +
                       " bytes, found " + std::to_string(got));
    }
    Tensor t = Tensor::from_bytes(DType::U8, shape, {buf.data(), got});
    if (prefix) return t;
    uint8_t extra;
    EDGEQ_ASSIGN_OR_RETURN(n, read_some(f.get(), &extra, 1, path));
    if (n != 0) return Corrupt(path + ": IDX file has data after the " + shape_str(shape) + " elements");
    return t;
}

}  // namespace edgeq::data
