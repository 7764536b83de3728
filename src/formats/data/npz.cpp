#include "formats/data/npz.h"

#include <zlib.h>

#include <algorithm>
#include <vector>

#include "core/file.h"
#include "formats/data/npy.h"

namespace edgeq::data {
namespace {

constexpr uint32_t kEocdSig = 0x06054b50, kZip64LocSig = 0x07064b50, kZip64EocdSig = 0x06064b50,
                   kCentralSig = 0x02014b50, kLocalSig = 0x04034b50;
constexpr uint64_t kMaxEntryBytes = uint64_t{1} << 40;
// Deflate expands at most ~1032:1 (258-byte matches coded in 2 bits); a larger ratio in the central directory
// is a lie, caught before the output buffer is allocated.
constexpr uint64_t kMaxDeflateRatio = 1032;

// Bounded little-endian reader over [data, data + size): every read is checked.
struct Reader {
    const uint8_t* data;
    uint64_t size;
    uint64_t pos = 0;
    bool ok = true;
    uint64_t get(int n) {
        if (!ok || pos > size || static_cast<uint64_t>(n) > size - pos) {  // no wrap-around for offsets near 2^64
            ok = false;
            return 0;
        }
        uint64_t v = 0;
        for (int i = n - 1; i >= 0; --i) v = (v << 8) | data[pos + static_cast<uint64_t>(i)];
        pos += static_cast<uint64_t>(n);
        return v;
    }
    void skip(uint64_t n) {
        if (!ok || pos > size || n > size - pos) ok = false;
        else pos += n;
    }
};

struct Entry {
    std::string name;
    uint16_t flags = 0, method = 0;
    uint32_t crc = 0;
    uint64_t csize = 0, usize = 0, local_off = 0;
};

Status inflate_raw(const uint8_t* src, uint64_t n, std::vector<uint8_t>& out, const std::string& what) {
    z_stream zs{};
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) return Corrupt(what + ": zlib inflateInit2 failed");
    zs.next_in = const_cast<Bytef*>(src);
    zs.avail_in = static_cast<uInt>(n);  // n < 2^32 checked by the caller
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    const int r = inflate(&zs, Z_FINISH);
    const uint64_t produced = zs.total_out;
    inflateEnd(&zs);
    if (r != Z_STREAM_END) {
        if (r == Z_BUF_ERROR && produced == out.size()) {
            return Corrupt(what + ": deflated data inflates to more than the " + std::to_string(out.size()) +
                           " bytes the central directory states");
        }
        return Corrupt(what + ": deflated data is corrupt or truncated (zlib " + std::to_string(r) + ")");
    }
    if (produced != out.size()) {
        return Corrupt(what + ": inflated " + std::to_string(produced) + " bytes, the central directory states " +
                       std::to_string(out.size()));
    }
    return Status::Ok();
}

}  // namespace

Result<std::map<std::string, Tensor>> read_npz(const std::string& path) {
    EDGEQ_ASSIGN_OR_RETURN(auto f, MappedFile::open(path));
    const uint8_t* d = f->data();
    const uint64_t size = f->size();
    if (size < 22) return Corrupt(path + ": too short for a .npz (zip) file");

    // 1. EOCD: scan back over a possible comment (<= 65535 bytes).
    int64_t eocd = -1;
    const uint64_t lowest = size > 22 + 65535 ? size - 22 - 65535 : 0;
    for (uint64_t p = size - 22 + 1; p-- > lowest;) {
        if (Reader{d, size, p}.get(4) == kEocdSig) {
            eocd = static_cast<int64_t>(p);
            break;
        }
    }
    if (eocd < 0) return Corrupt(path + ": not a .npz file (no zip end-of-central-directory record)");
    Reader r{d, size, static_cast<uint64_t>(eocd) + 4};
    const uint64_t disk = r.get(2), cd_disk = r.get(2);
    r.get(2);
    uint64_t count = r.get(2), cd_size = r.get(4), cd_off = r.get(4);
    if (disk != 0 || cd_disk != 0) return Unsupported(path + ": multi-volume zip archives are not supported");
    if (count == 0xFFFF || cd_size == 0xFFFFFFFF || cd_off == 0xFFFFFFFF) {
        // ZIP64: locator 20 bytes before the EOCD
        if (eocd < 20) return Corrupt(path + ": ZIP64 archive without a ZIP64 locator");
        Reader l{d, size, static_cast<uint64_t>(eocd) - 20};
        if (l.get(4) != kZip64LocSig) return Corrupt(path + ": ZIP64 locator missing before the end record");
        l.get(4);
        const uint64_t z64 = l.get(8);
        Reader z{d, size, z64};
        if (z.get(4) != kZip64EocdSig) return Corrupt(path + ": ZIP64 end record not at offset " + std::to_string(z64));
        z.get(8);  // record size
        z.get(2);  // version made by
        z.get(2);  // version needed
        z.get(4);  // disk
        z.get(4);  // cd disk
        z.get(8);  // entries on this disk
        count = z.get(8);
        cd_size = z.get(8);
        cd_off = z.get(8);
        if (!z.ok) return Corrupt(path + ": ZIP64 end record truncated");
    }
    if (!r.ok) return Corrupt(path + ": zip end record truncated");
    if (cd_off > size || cd_size > size - cd_off) {
        return Corrupt(path + ": zip central directory [" + std::to_string(cd_off) + ", +" + std::to_string(cd_size) +
                       ") lies outside the file (" + std::to_string(size) + " bytes)");
    }
    if (count > cd_size / 46) return Corrupt(path + ": zip entry count " + std::to_string(count) + " does not fit");

    // 2. central directory
    std::vector<Entry> entries;
    Reader c{d, cd_off + cd_size, cd_off};
    for (uint64_t i = 0; i < count; ++i) {
        if (c.get(4) != kCentralSig) return Corrupt(path + ": zip central directory entry " + std::to_string(i) + " has a bad signature");
        Entry e;
        c.get(2);  // made by
        c.get(2);  // needed
        e.flags = static_cast<uint16_t>(c.get(2));
        e.method = static_cast<uint16_t>(c.get(2));
        c.get(4);  // time/date
        e.crc = static_cast<uint32_t>(c.get(4));
        e.csize = c.get(4);
        e.usize = c.get(4);
        const uint64_t name_len = c.get(2), extra_len = c.get(2), comment_len = c.get(2);
        c.get(2);  // disk start
        c.get(2);  // internal attrs
        c.get(4);  // external attrs
        e.local_off = c.get(4);
        if (!c.ok || c.pos + name_len > c.size) return Corrupt(path + ": zip central directory truncated");
        e.name.assign(reinterpret_cast<const char*>(d + c.pos), name_len);
        c.skip(name_len);
        const uint64_t extra_end = c.pos + extra_len;
        if (extra_end > c.size) return Corrupt(path + ": zip entry '" + e.name + "' extra field runs past the directory");
        while (c.ok && c.pos + 4 <= extra_end) {  // ZIP64 extended information: only the 0xFFFFFFFF fields
            const uint64_t id = c.get(2), len = c.get(2);
            const uint64_t field_end = c.pos + len;
            if (field_end > extra_end) return Corrupt(path + ": zip entry '" + e.name + "' has a bad extra field");
            if (id == 0x0001) {
                if (e.usize == 0xFFFFFFFF) e.usize = c.pos + 8 <= field_end ? c.get(8) : (c.ok = false, 0);
                if (e.csize == 0xFFFFFFFF) e.csize = c.pos + 8 <= field_end ? c.get(8) : (c.ok = false, 0);
                if (e.local_off == 0xFFFFFFFF) e.local_off = c.pos + 8 <= field_end ? c.get(8) : (c.ok = false, 0);
                if (!c.ok) return Corrupt(path + ": zip entry '" + e.name + "' ZIP64 field too short");
            }
            c.pos = field_end;
        }
        c.pos = extra_end;
        c.skip(comment_len);
        if (!c.ok) return Corrupt(path + ": zip central directory truncated");
        entries.push_back(std::move(e));
    }

    // 3. entries
    std::map<std::string, Tensor> out;
    for (const auto& e : entries) {
        const std::string what = path + ": " + e.name;
        if (!e.name.empty() && e.name.back() == '/') continue;
        if (e.name.size() < 4 || e.name.compare(e.name.size() - 4, 4, ".npy") != 0) continue;
        if (e.flags & 1) return Unsupported(what + ": encrypted zip entries are not supported");
        if (e.method != 0 && e.method != 8) {
            return Unsupported(what + ": zip compression method " + std::to_string(e.method) +
                               " is not supported (stored or deflate)");
        }
        Reader l{d, size, e.local_off};
        if (l.get(4) != kLocalSig) return Corrupt(what + ": no zip local header at offset " + std::to_string(e.local_off));
        l.skip(22);
        const uint64_t name_len = l.get(2), extra_len = l.get(2);
        l.skip(name_len + extra_len);
        if (!l.ok) return Corrupt(what + ": zip local header truncated");
        const uint64_t data_off = l.pos;
        if (e.csize > size - data_off) {
            return Corrupt(what + ": zip entry data (" + std::to_string(e.csize) + " bytes at " +
                           std::to_string(data_off) + ") runs past the end of the file (" + std::to_string(size) + ")");
        }
        if (e.usize > kMaxEntryBytes || e.csize >= (uint64_t{1} << 32) || e.usize >= (uint64_t{1} << 32)) {
            if (e.method == 8) return Unsupported(what + ": deflated entries of 4 GiB or more are not supported");
        }
        std::vector<uint8_t> buf;
        std::span<const uint8_t> bytes;
        if (e.method == 0) {
            if (e.csize != e.usize) return Corrupt(what + ": stored entry with different compressed and plain sizes");
            bytes = {d + data_off, static_cast<size_t>(e.csize)};
        } else {
            if (e.usize > e.csize * kMaxDeflateRatio + 64) {
                return Corrupt(what + ": central directory states " + std::to_string(e.usize) + " bytes inflated from " +
                               std::to_string(e.csize) + " deflated bytes, more than deflate can produce");
            }
            buf.resize(static_cast<size_t>(e.usize));
            EDGEQ_RETURN_IF_ERROR(inflate_raw(d + data_off, e.csize, buf, what));
            bytes = buf;
        }
        uLong crc = crc32(0L, Z_NULL, 0);
        for (size_t off = 0; off < bytes.size();) {
            const size_t n = std::min<size_t>(bytes.size() - off, 1u << 30);
            crc = crc32(crc, bytes.data() + off, static_cast<uInt>(n));
            off += n;
        }
        if (static_cast<uint32_t>(crc) != e.crc) return Corrupt(what + ": CRC-32 mismatch (corrupt archive)");
        EDGEQ_ASSIGN_OR_RETURN(auto t, parse_npy(bytes, what));
        const std::string key = e.name.substr(0, e.name.size() - 4);
        if (!out.emplace(key, std::move(t)).second) return Corrupt(what + ": entry name appears twice in the archive");
    }
    return out;
}

}  // namespace edgeq::data
