// kilnd's HTTP API as the commands use it: JSON in, JSON out, and every
// non-2xx answer turned into a one-line Status (never the raw error body).
//
// Thread-safety: as HttpClient.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "cli/http_client.h"
#include "common/status.h"

namespace kiln::cli {

// The one-line message for an error answer: kilnd's own message plus the
// status, and a hint where the user can act (401: which key settings;
// 402: credits). A body that is not kilnd's error JSON is summarized.
std::string api_error_message(int status, std::string_view body);

// The HTTP status a failed ApiClient call carries in Status::error_number()
// is stored as kHttpErrnoBase + status (so 404 is distinguishable from an
// OS errno); http_status_of() reads it back, 0 if it is no HTTP error.
inline constexpr int kHttpErrnoBase = 100000;
int http_status_of(const Status& s);

class ApiClient {
 public:
  explicit ApiClient(HttpClient http) : http_(std::move(http)) {}

  // JSON calls; a 204 or empty body gives null.
  Result<nlohmann::json> get(const std::string& target, const HttpHooks& hooks = {}) const;
  Result<nlohmann::json> post(const std::string& target, const nlohmann::json& body,
                              const HttpHooks& hooks = {}) const;
  Result<nlohmann::json> del(const std::string& target) const;
  // Raw bytes up (PUT, application/octet-stream) and down.
  Result<nlohmann::json> put_bytes(const std::string& target, std::string data,
                                   const HttpHooks& hooks = {}) const;
  Result<std::string> get_bytes(const std::string& target, const HttpHooks& hooks = {}) const;

  // POSTs body with Accept: application/x-ndjson and hands each event to
  // on_event as it arrives. Fails on an error answer, a broken stream, a
  // line that is not JSON, or cancellation (kInterruptedErrno).
  Status stream(const std::string& target, const nlohmann::json& body,
                const std::function<void(const nlohmann::json&)>& on_event,
                HttpHooks hooks = {}) const;

  const Endpoint& endpoint() const { return http_.endpoint(); }

 private:
  Result<nlohmann::json> json_call(HttpRequest req, const HttpHooks& hooks) const;

  HttpClient http_;
};

}  // namespace kiln::cli
