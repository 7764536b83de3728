#include "core/file.h"

#include <algorithm>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
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

namespace {

// Temporaries the signal handler removes. A slot is Free, Claimed (path being copied in) or Listed; the handler
// reads only Listed slots, whose path is complete and does not change until the slot is freed.
constexpr int kTempSlots = 32;
constexpr size_t kTempPathMax = 4096;
enum : int { kFree = 0, kClaimed = 1, kListed = 2 };
struct TempSlot {
    std::atomic<int> state{kFree};
    char path[kTempPathMax];
};
TempSlot g_temps[kTempSlots];
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs lock-free atomics");

int list_temp(const std::string& tmp) {
    if (tmp.size() >= kTempPathMax) return -1;
    for (int i = 0; i < kTempSlots; ++i) {
        int expected = kFree;
        if (g_temps[i].state.compare_exchange_strong(expected, kClaimed)) {
            std::memcpy(g_temps[i].path, tmp.c_str(), tmp.size() + 1);
            g_temps[i].state.store(kListed);
            return i;
        }
    }
    return -1;  // table full: this temporary is still removed on errors, only not on a signal
}

void unlist_temp(int slot) {
    if (slot >= 0) g_temps[slot].state.store(kFree);
}

extern "C" void remove_temps_and_reraise(int sig) {
    const int saved = errno;
    for (TempSlot& t : g_temps) {
        if (t.state.load() == kListed) ::unlink(t.path);
    }
    errno = saved;
    ::signal(sig, SIG_DFL);  // SA_RESETHAND already did this; kept for clarity
    ::raise(sig);
}

}  // namespace

void remove_temp_files_on_signal() {
    for (const int sig : {SIGINT, SIGTERM, SIGHUP}) {
        struct sigaction old {};
        if (::sigaction(sig, nullptr, &old) != 0 || old.sa_handler != SIG_DFL) continue;  // ignored or handled
        struct sigaction sa {};
        sa.sa_handler = remove_temps_and_reraise;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND;
        ::sigaction(sig, &sa, nullptr);
    }
}

Result<std::unique_ptr<AtomicFile>> AtomicFile::create(const std::string& path) {
    std::unique_ptr<AtomicFile> a(new AtomicFile());
    a->path_ = path;
    a->tmp_ = path + ".tmp." + std::to_string(::getpid());
    a->slot_ = list_temp(a->tmp_);  // listed before the file exists, so no window leaves it behind
    a->f_ = std::fopen(a->tmp_.c_str(), "wb");
    if (!a->f_) return IoError(path + ": cannot create output file: " + std::strerror(errno));
    return a;
}

AtomicFile::~AtomicFile() {
    if (f_) std::fclose(f_);
    if (!committed_) std::remove(tmp_.c_str());
    unlist_temp(slot_);
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
    unlist_temp(slot_);
    slot_ = -1;
    // Make the rename itself durable: fsync the folder (best effort; some file systems refuse it).
    const std::string dir = [&] {
        const size_t slash = path_.rfind('/');
        return slash == std::string::npos ? std::string(".") : slash == 0 ? std::string("/") : path_.substr(0, slash);
    }();
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)::fsync(dfd);
        ::close(dfd);
    }
    return Status::Ok();
}

}  // namespace edgeq
