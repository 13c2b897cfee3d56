#include "common/status.h"

namespace kiln {

const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kOk:
      return "ok";
    case ErrorKind::kInvalid:
      return "invalid";
    case ErrorKind::kNotFound:
      return "not_found";
    case ErrorKind::kConflict:
      return "conflict";
    case ErrorKind::kTooLarge:
      return "too_large";
    case ErrorKind::kUnsupportedType:
      return "unsupported_type";
    case ErrorKind::kUnprocessable:
      return "unprocessable";
    case ErrorKind::kQuotaExceeded:
      return "quota_exceeded";
    case ErrorKind::kRateLimited:
      return "rate_limited";
    case ErrorKind::kNoSpace:
      return "no_space";
    case ErrorKind::kUnavailable:
      return "unavailable";
    case ErrorKind::kPaused:
      return "paused";
    case ErrorKind::kInternal:
      return "internal";
  }
  return "internal";
}

}  // namespace kiln
