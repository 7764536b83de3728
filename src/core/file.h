// File access that never trusts the disk: read-only mappings and all-or-nothing output files.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "edgeq/status.h"

namespace edgeq {

// A whole file mapped read-only. Empty files map to size 0 (data() == nullptr).
class MappedFile {
public:
    static Result<std::unique_ptr<MappedFile>> open(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    const uint8_t* data() const { return data_; }
    uint64_t size() const { return size_; }
    const std::string& path() const { return path_; }
    // Hints that the whole pages inside [offset, offset + n) will not be read again soon: they leave this
    // process's resident set (the data stays in the file and is read back if touched again). Streaming readers
    // call it so that resident memory does not grow with the file size.
    void release(uint64_t offset, uint64_t n) const;

private:
    MappedFile() = default;
    std::string path_;
    const uint8_t* data_ = nullptr;
    uint64_t size_ = 0;
};

// Writes "<path>.tmp.<pid>" and renames it onto path on commit(); if commit() is never reached (error,
// exception) the temporary is removed, so the destination is either the old file or the complete new one.
// commit() fsyncs the file before the rename and the folder after it. Open temporaries are also removed on
// SIGINT/SIGTERM/SIGHUP once remove_temp_files_on_signal() has run (a SIGKILL leaves the temporary, never a
// half-written destination).
class AtomicFile {
public:
    static Result<std::unique_ptr<AtomicFile>> create(const std::string& path);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    Status write(const void* data, size_t n);      // reports ENOSPC etc. naming the file
    Status write_zeros(size_t n);
    uint64_t bytes_written() const { return written_; }
    Status commit();                               // flush, fsync, close, rename

private:
    AtomicFile() = default;
    std::string path_, tmp_;
    FILE* f_ = nullptr;
    uint64_t written_ = 0;
    bool committed_ = false;
    int slot_ = -1;  // index in the signal handler's table of open temporaries, -1 if not listed
};

// Installs a handler for SIGINT, SIGTERM and SIGHUP (where their action is still the default) that unlinks the
// temporaries of all open AtomicFiles (async-signal-safe: a fixed table of paths and unlink()), then re-raises
// the signal with the default action, so the process still dies of it. Call once, early in main().
void remove_temp_files_on_signal();

}  // namespace edgeq
