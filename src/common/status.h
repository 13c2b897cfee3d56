// Status and Result<T>: how errors cross module borders in Kiln.
//
// No exceptions cross a module border. A failing OS call is reported with
// the call's name and its errno so logs read like strace output, e.g.
// "mount(/usr -> /root/usr, MS_BIND): Operation not permitted".
//
// Thread-safety: value types; no shared state.
#pragma once

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace kiln {

class Status {
 public:
  Status() = default;  // OK

  static Status ok() { return Status(); }
  static Status error(std::string message, int err = 0) {
    Status s;
    s.failed_ = true;
    s.errno_ = err;
    s.message_ = std::move(message);
    return s;
  }
  // An OS call failed: message is "what: strerror(errno)".
  static Status from_errno(const std::string& what, int err = errno) {
    return error(what + ": " + std::strerror(err), err);
  }

  bool is_ok() const { return !failed_; }
  explicit operator bool() const { return !failed_; }
  const std::string& message() const { return message_; }
  int error_number() const { return errno_; }

 private:
  bool failed_ = false;
  int errno_ = 0;
  std::string message_;
};

// Result<T>: either a value or a failed Status.
template <typename T>
class Result {
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

}  // namespace kiln
