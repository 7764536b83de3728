#include "core/file.h"

#include <algorithm>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace edgeq {

Result<std::unique_ptr<MappedFile>> MappedFile::open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        const int e = errno;
        if (e == ENOENT) return NotFound(path + ": no such file");
        return IoError(path + ": cannot open: " + std::strerror(e));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return IoError(path + ": not a regular file");
    }
    std::unique_ptr<MappedFile> m(new MappedFile());
    m->path_ = path;
    m->size_ = static_cast<uint64_t>(st.st_size);
    if (m->size_ > 0) {
        void* p = ::mmap(nullptr, m->size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            const int e = errno;
            ::close(fd);
            return IoError(path + ": mmap failed: " + std::strerror(e));
        }
        m->data_ = static_cast<const uint8_t*>(p);
    }
    ::close(fd);
    return m;
}

void MappedFile::release(uint64_t offset, uint64_t n) const {
    if (!data_ || offset >= size_) return;
    const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    const uint64_t begin = (offset + page - 1) / page * page;
    const uint64_t end = std::min(offset + n, size_) / page * page;
    if (end > begin) ::madvise(const_cast<uint8_t*>(data_) + begin, end - begin, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

Result<std::unique_ptr<AtomicFile>> AtomicFile::create(const std::string& path) {
    std::unique_ptr<AtomicFile> a(new AtomicFile());
    a->path_ = path;
    a->tmp_ = path + ".tmp." + std::to_string(::getpid());
    a->f_ = std::fopen(a->tmp_.c_str(), "wb");
    if (!a->f_) return IoError(path + ": cannot create output file: " + std::strerror(errno));
    return a;
}

AtomicFile::~AtomicFile() {
    if (f_) std::fclose(f_);
    if (!committed_) std::remove(tmp_.c_str());
}

Status AtomicFile::write(const void* data, size_t n) {
    if (!f_) return IoError(path_ + ": write after close");
    if (n && std::fwrite(data, 1, n, f_) != n) {
        return IoError(path_ + ": write failed after " + std::to_string(written_) + " bytes: " +
                       std::strerror(errno));
    }
    written_ += n;
    return Status::Ok();
}

Status AtomicFile::write_zeros(size_t n) {
    static const char zeros[256] = {};
    while (n) {
        const size_t k = n < sizeof(zeros) ? n : sizeof(zeros);
        EDGEQ_RETURN_IF_ERROR(write(zeros, k));
        n -= k;
    }
    return Status::Ok();
}

Status AtomicFile::commit() {
    if (!f_) return IoError(path_ + ": commit after close");
    const bool ok_flush = std::fflush(f_) == 0 && ::fsync(::fileno(f_)) == 0;
    const int e = errno;
    const bool ok_close = std::fclose(f_) == 0;
    f_ = nullptr;
    if (!ok_flush || !ok_close) {
        return IoError(path_ + ": write failed: " + std::strerror(ok_flush ? errno : e));
    }
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
        return IoError(path_ + ": cannot rename temporary file into place: " + std::strerror(errno));
    }
    committed_ = true;
    return Status::Ok();
}

}  // namespace edgeq
