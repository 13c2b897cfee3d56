// A small HTTP/1.1 client for kilnd (Boost.Beast over Asio, plain TCP).
//
// One connection per request: the CLI makes a handful of calls per run, and
// a fresh connection makes "close it to interrupt the run" exact. Bodies are
// written in slices and read as they arrive, so uploads and downloads report
// progress, a streamed (NDJSON) answer is handed over line by line while the
// run is going, and a caller can cancel any request by closing the socket.
//
// Thread-safety: an HttpClient may be used from one thread at a time; each
// send() runs its own io_context.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "cli/endpoint.h"
#include "common/status.h"

namespace kiln::cli {

struct HttpRequest {
  std::string method = "GET";
  std::string target;  // path and query, e.g. "/v1/drive?prefix=%2Fdata"
  std::string body;
  std::string content_type;  // set with a body
  std::string accept;        // e.g. "application/x-ndjson"
  bool has_body = false;     // POST/PUT send Content-Length even when empty
};

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string body;  // the whole body, unless a 2xx body went to on_body
};

struct HttpHooks {
  // Polled every 50 ms; true closes the connection and send() fails with
  // kInterruptedErrno.
  std::function<bool()> cancelled;
  // Every 50 ms while the request is going (progress displays redraw here).
  std::function<void()> on_tick;
  // Bytes of the request body written so far, of total.
  std::function<void(std::uint64_t done, std::uint64_t total)> on_sent;
  // Bytes of the response body read so far, and its length when known.
  std::function<void(std::uint64_t done, std::optional<std::uint64_t> total)> on_received;
  // Receives a 2xx body piece by piece as it arrives instead of
  // HttpResponse::body. Error bodies are always collected.
  std::function<void(std::string_view)> on_body;
  // No byte from kilnd for this long fails the request; zero waits forever
  // (a run is bounded by its own timeout on the server).
  std::chrono::seconds idle_timeout{120};
};

// The errno a cancelled request's Status carries.
inline constexpr int kInterruptedErrno = 4;  // EINTR

class HttpClient {
 public:
  HttpClient(Endpoint endpoint, std::string api_key);

  // Sends one request and reads the whole answer (any status). Fails only
  // when there is no answer: kilnd unreachable, the connection broke, a
  // timeout, or cancellation. Messages are one line and name the URL.
  Result<HttpResponse> send(const HttpRequest& request, const HttpHooks& hooks = {}) const;

  const Endpoint& endpoint() const { return endpoint_; }

 private:
  Endpoint endpoint_;
  std::string api_key_;
};

// Percent-encodes a query value (RFC 3986 unreserved characters kept).
std::string url_encode(std::string_view value);

}  // namespace kiln::cli
