// fetch_url: downloads a user-supplied http(s) URL for the actions API
// (`fileUrl`), safely against SSRF.
//
// Every hop (the first URL and each redirect target) is parsed, its host
// resolved once, and every resolved address checked against the
// AddressPolicy before any connection is made; the connection then goes to
// those checked addresses, never to a second resolution, so DNS rebinding
// cannot swap in a loopback or metadata address between check and use.
// Body size and total time are capped; TLS certificates are verified
// against the system trust store with host name checking.
//
// Thread-safety: fetch_url is a coroutine for a single-threaded io_context;
// it keeps no shared state, so concurrent fetches on the same io_context are
// independent. The helpers below are pure functions.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "net/address_policy.h"

namespace kiln::net {

struct FetchOptions {
  AddressPolicy policy;                               // default: public addresses only
  std::uint64_t max_bytes = std::uint64_t{50} << 20;  // body cap (50 MiB)
  std::chrono::milliseconds timeout{30000};           // for the whole fetch, redirects included
  int max_redirects = 5;
  std::string user_agent = "kiln-fetch/1";
  // Extra PEM trust anchors added to the system store; lets tests and
  // private deployments use their own CA. Empty: system store only.
  std::string extra_ca_pem;
};

struct FetchResult {
  std::string final_url;     // after redirects
  int status = 0;            // final HTTP status (2xx)
  std::string content_type;  // as sent, may be empty
  std::string body;
  std::string file_name;  // see file_name_for(); never empty
};

// Fetches `url`. Errors (Status::kind()):
//   kInvalid        not an absolute http(s) URL, has user info, a bad
//                   redirect target, or a hop's host resolved to an address
//                   the policy refuses
//   kTooLarge       body larger than max_bytes
//   kUnprocessable  the fetch failed: timeout, more than max_redirects
//                   redirects, a non-2xx status, broken HTTP, resolution,
//                   connection and TLS failures (an errno in error_number()
//                   where one applies: ETIMEDOUT, ELOOP, EHOSTUNREACH, ...)
boost::asio::awaitable<Result<FetchResult>> fetch_url(std::string url, FetchOptions opts);

// The file name from a Content-Disposition header value (filename* wins
// over filename), unsanitized; empty if there is none.
std::string file_name_from_content_disposition(std::string_view header);

// Makes a name safe to create in a working folder: takes the part after the
// last '/' or '\', drops NUL and control bytes, trims blanks, refuses "."
// and "..", caps the length at 255 bytes (on a UTF-8 boundary). Returns
// "download" when nothing is left.
std::string sanitize_file_name(std::string_view name);

// Content-Disposition's name if any, else the last non-empty path segment of
// `url` (percent-decoded), sanitized.
std::string file_name_for(std::string_view content_disposition, std::string_view url);

}  // namespace kiln::net
