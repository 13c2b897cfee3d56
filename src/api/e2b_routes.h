// The E2B-compatible API (docs/E2B.md): E2B's control plane
// (/sandboxes, /v2/sandboxes, /templates, /snapshots) and, for requests
// carrying E2b-Sandbox-Id, the sandbox side — envd (port 49983: /health,
// /files, the Connect RPC services) and the code interpreter (port 49999:
// /execute, /contexts). Everything maps onto Kiln's own sandboxes, run
// client and file protocol; nothing here touches a connection.
//
// Errors: the control plane and envd's REST routes answer
// {"code": <status>, "message"}; Connect unary calls answer a string
// Connect code; Connect streams end with an end-of-stream error.
//
// Thread-safety: single-threaded, on the daemon's io_context.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>

#include "api/http_context.h"
#include "api/services.h"
#include "sandbox/sandbox.h"

namespace kiln::api {

// Whether a request is for the E2B face (by its path or sandbox headers).
bool is_e2b_request(const HttpContext& ctx);
boost::asio::awaitable<void> handle_e2b(HttpContext& ctx, Services& s);

// ---- internal to api/e2b_*.cc ----

inline constexpr const char* kEnvdVersion = "0.5.7";
inline constexpr int kEnvdPort = 49983;
inline constexpr int kInterpreterPort = 49999;

boost::asio::awaitable<void> e2b_control(HttpContext& ctx, Services& s);
boost::asio::awaitable<void> e2b_envd_rest(HttpContext& ctx, Services& s,
                                           std::shared_ptr<sandbox::Sandbox> sbx);
boost::asio::awaitable<void> e2b_filesystem(HttpContext& ctx, Services& s,
                                            std::shared_ptr<sandbox::Sandbox> sbx);
boost::asio::awaitable<void> e2b_process(HttpContext& ctx, Services& s,
                                         std::shared_ptr<sandbox::Sandbox> sbx);
boost::asio::awaitable<void> e2b_interpreter(HttpContext& ctx, Services& s,
                                             std::shared_ptr<sandbox::Sandbox> sbx);

// The live sandbox an E2B request names, or null.
std::shared_ptr<sandbox::Sandbox> e2b_find(Services& s, const std::string& id);
// The Connect code for an error's HTTP status.
const char* connect_code(int http_status);
// A path as envd resolves it: "~" and relative paths against /home/user.
std::string e2b_path(const std::string& raw);
// The user a request acts as (Basic auth or ?username=): only "user", the
// one user of a Kiln sandbox; 400 for any other.
void e2b_check_user(const HttpContext& ctx);

}  // namespace kiln::api
