// Status and Result<T>: how errors cross module borders in Kiln.
//
// No exceptions cross a module border. Every failure has a kind, named once
// here (ErrorKind); api/ maps each kind to one HTTP status and error code in
// one place (api/routes.cc). A failing OS call is reported with the call's
// name and its errno so logs read like strace output, e.g.
// "mount(/usr -> /root/usr, MS_BIND): Operation not permitted"; it is an
// internal failure (500) unless the errno says the disk is full (507).
// Storage and OS failures are never reported as the caller's fault (4xx).
//
// Thread-safety: value types; no shared state.
#pragma once

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

namespace kiln {

enum class ErrorKind {
  kOk,
  kInvalid,          // the caller's input is wrong or refused (400 bad_request)
  kNotFound,         // no such thing, or not the caller's (404)
  kConflict,         // busy, or exists already (409)
  kTooLarge,         // over a size limit (413)
  kUnsupportedType,  // a file type the rules refuse (415)
  kUnprocessable,    // well-formed, but the operation on it failed (422 invalid)
  kQuotaExceeded,    // credits spent (402)
  kRateLimited,      // a limit on live things was reached (429)
  kNoSpace,          // a disk is full (507)
  kUnavailable,      // a sandbox or a dependency went away (503)
  kPaused,           // the sandbox is paused; resume it first (409 sandbox_paused)
  kInternal,         // OS, storage, or a bug (500)
};

// "invalid", "not_found", ... (for logs and tests).
const char* error_kind_name(ErrorKind kind);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK

  static Status ok() { return Status(); }
  static Status invalid(std::string m) { return make(ErrorKind::kInvalid, std::move(m)); }
  static Status not_found(std::string m) { return make(ErrorKind::kNotFound, std::move(m)); }
  static Status conflict(std::string m) { return make(ErrorKind::kConflict, std::move(m)); }
  static Status too_large(std::string m) { return make(ErrorKind::kTooLarge, std::move(m)); }
  static Status unsupported_type(std::string m) {
    return make(ErrorKind::kUnsupportedType, std::move(m));
  }
  static Status unprocessable(std::string m) {
    return make(ErrorKind::kUnprocessable, std::move(m));
  }
  static Status quota_exceeded(std::string m) {
    return make(ErrorKind::kQuotaExceeded, std::move(m));
  }
  static Status rate_limited(std::string m) { return make(ErrorKind::kRateLimited, std::move(m)); }
  static Status no_space(std::string m) { return make(ErrorKind::kNoSpace, std::move(m)); }
  static Status unavailable(std::string m) { return make(ErrorKind::kUnavailable, std::move(m)); }
  static Status internal(std::string m) { return make(ErrorKind::kInternal, std::move(m)); }
  static Status paused(std::string m) { return make(ErrorKind::kPaused, std::move(m)); }
  // An OS call failed: message is "what: strerror(errno)", the errno is
  // kept (error_number()), and the kind is kNoSpace for ENOSPC/EDQUOT, else
  // kInternal.
  static Status from_errno(const std::string& what, int err = errno) {
    Status s = make(err == ENOSPC || err == EDQUOT ? ErrorKind::kNoSpace : ErrorKind::kInternal,
                    what + ": " + std::strerror(err));
    s.errno_ = err;
    return s;
  }
  // A failure of a given kind that also carries a code of the caller's
  // (an errno from a mapping table, an HTTP status in the CLI).
  static Status of(ErrorKind kind, std::string m, int code) {
    Status s = make(kind, std::move(m));
    s.errno_ = code;
    return s;
  }
  // The same failure (kind and code) with another message.
  Status with_message(std::string m) const {
    Status s = *this;
    s.message_ = std::move(m);
    return s;
  }
  // The same failure with more context in front of its message.
  Status with_context(const std::string& context) const {
    Status s = *this;
    if (failed()) s.message_ = context + ": " + message_;
    return s;
  }

  bool is_ok() const { return kind_ == ErrorKind::kOk; }
  explicit operator bool() const { return is_ok(); }
  ErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }
  // The errno of a failed OS call (from_errno), else 0.
  int error_number() const { return errno_; }

 private:
  bool failed() const { return kind_ != ErrorKind::kOk; }
  static Status make(ErrorKind kind, std::string message) {
    Status s;
    s.kind_ = kind;
    s.message_ = std::move(message);
    return s;
  }

  ErrorKind kind_ = ErrorKind::kOk;
  int errno_ = 0;
  std::string message_;
};

// Result<T>: either a value or a failed Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool is_ok() const { return value_.has_value(); }
  explicit operator bool() const { return is_ok(); }
  const Status& status() const { return status_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T* operator->() { return &*value_; }
  T& operator*() { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

// For the checklists: returns the failed Status of `expr`, if any.
#define KILN_RETURN_IF_ERROR(expr)         \
  do {                                     \
    if (::kiln::Status s_ = (expr); !s_) { \
      return s_;                           \
    }                                      \
  } while (0)

}  // namespace kiln
