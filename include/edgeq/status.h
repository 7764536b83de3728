// edgeq — Status and Result<T>: how user and data errors travel.
//
// A user or data error (missing file, corrupt header, unknown type name) is a Status with a
// message that names the file, the field and what was expected; it propagates up to the CLI,
// which prints it on one line and exits non-zero. Broken internal invariants are not Statuses:
// they abort through EDGEQ_CHECK (src/core/check.h) with file:line.
#pragma once

#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace edgeq {

enum class StatusCode : int {
    kOk = 0,
    kInvalidArgument = 1,  // bad user input: option, type name, shape incompatible with a type
    kNotFound = 2,         // file or tensor missing
    kCorrupt = 3,          // a file's contents contradict its format
    kIoError = 4,          // read/write/mmap failed (disk full, permission)
    kUnsupported = 5,      // valid but not implemented here
    kInternal = 6,
};

class [[nodiscard]] Status {
public:
    Status() = default;
    Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

    static Status Ok() { return {}; }
    bool ok() const { return code_ == StatusCode::kOk; }
    StatusCode code() const { return code_; }
    const std::string& message() const { return message_; }

private:
    StatusCode code_ = StatusCode::kOk;
    std::string message_;
};

inline Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status Corrupt(std::string m) { return {StatusCode::kCorrupt, std::move(m)}; }
inline Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
inline Status Unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }

// Result<T>: a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}          // NOLINT(google-explicit-constructor)
    Result(Status status) : v_(std::move(status)) {    // NOLINT(google-explicit-constructor)
        if (std::get<Status>(v_).ok()) std::abort();   // an ok Status carries no value
    }
    bool ok() const { return std::holds_alternative<T>(v_); }
    const Status& status() const {
        static const Status kOk;
        return ok() ? kOk : std::get<Status>(v_);
    }
    T& value() & { return std::get<T>(v_); }
    const T& value() const& { return std::get<T>(v_); }
    T&& value() && { return std::get<T>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }

private:
    std::variant<T, Status> v_;
};

}  // namespace edgeq

#define EDGEQ_CONCAT_INNER(a, b) a##b
#define EDGEQ_CONCAT(a, b) EDGEQ_CONCAT_INNER(a, b)

// Return the Status from the enclosing function when expr is not ok.
#define EDGEQ_RETURN_IF_ERROR(expr)                     \
    do {                                                \
        ::edgeq::Status edgeq_status_ = (expr);         \
        if (!edgeq_status_.ok()) return edgeq_status_;  \
    } while (0)

// `EDGEQ_ASSIGN_OR_RETURN(auto x, F());` unwraps a Result or returns its Status.
#define EDGEQ_ASSIGN_OR_RETURN(lhs, rexpr) \
    EDGEQ_ASSIGN_OR_RETURN_IMPL(EDGEQ_CONCAT(edgeq_result_, __LINE__), lhs, rexpr)
#define EDGEQ_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
    auto tmp = (rexpr);                              \
    if (!tmp.ok()) return tmp.status();              \
    lhs = std::move(tmp).value()
