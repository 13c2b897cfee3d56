// The E2B face's entry: which side a request is for, its credentials, and
// how its errors look.
#include <boost/beast/core/detail/base64.hpp>

#include "api/auth.h"
#include "api/e2b_routes.h"
#include "api/routes.h"
#include "common/sandbox_path.h"
#include "e2b/tokens.h"

namespace kiln::api {

using boost::asio::awaitable;
using nlohmann::json;

namespace {

bool is_control_path(const std::vector<std::string>& seg) {
  if (seg.empty()) return false;
  if (seg[0] == "v2" || seg[0] == "v3") return seg.size() >= 2;
  return seg[0] == "sandboxes" || seg[0] == "templates" || seg[0] == "snapshots";
}

bool is_rpc_path(const std::vector<std::string>& seg) {
  return seg.size() == 2 && (seg[0] == "filesystem.Filesystem" || seg[0] == "process.Process");
}

std::string header(const HttpContext& ctx, const char* name) {
  return std::string(ctx.request()[name]);
}

void check_token(const HttpContext& ctx, const Services& s, const std::string& id, int port) {
  const auto& seg = ctx.segments();
  if (port == kEnvdPort && seg.size() == 1 && seg[0] == "health") return;
  const std::string access = header(ctx, "X-Access-Token");
  if (!access.empty() && e2b::token_matches(s.link_secret, e2b::TokenKind::kEnvd, id, access))
    return;
  // The code interpreter's context calls carry only the traffic token.
  const std::string traffic = header(ctx, "E2B-Traffic-Access-Token");
  if (port == kInterpreterPort && !traffic.empty() &&
      e2b::token_matches(s.link_secret, e2b::TokenKind::kTraffic, id, traffic))
    return;
  throw ApiError(401, "unauthenticated",
                 access.empty() && traffic.empty()
                     ? "this sandbox needs its access token (X-Access-Token)"
                     : "wrong access token for this sandbox");
}

// A signed file URL (files.downloadUrl / uploadUrl) arrives from whatever
// opened it — a browser, curl — with no sandbox id and no token: the
// signature names the sandbox. It is checked against each live E2B
// sandbox's envd token (at most --max-sandboxes hashes, constant-time
// compares), and must not have expired.
std::shared_ptr<sandbox::Sandbox> signed_file_sandbox(const HttpContext& ctx, Services& s) {
  const auto method = ctx.method();
  if (method != http::verb::get && method != http::verb::post)
    throw ApiError(405, "method_not_allowed", "method not allowed");
  const std::string operation = method == http::verb::get ? "read" : "write";
  const std::string signature = ctx.query("signature");
  if (!signature.starts_with("v1_") || signature.size() > 64)
    throw ApiError(401, "unauthenticated", "malformed file URL signature");
  std::optional<std::int64_t> expiration;
  if (ctx.has_query("signature_expiration")) {
    const std::string e = ctx.query("signature_expiration");
    if (e.empty() || e.size() > 18 || e.find_first_not_of("0123456789") != std::string::npos)
      throw ApiError(400, "invalid_argument", "signature_expiration must be Unix seconds");
    expiration = std::stoll(e);
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    if (*expiration < now) throw ApiError(401, "unauthenticated", "this file URL has expired");
  }
  const std::string path = ctx.query("path");
  // E2B's JS SDK signs a missing user as "undefined"; other clients as "".
  std::vector<std::string> users;
  if (ctx.has_query("username"))
    users = {ctx.query("username")};
  else
    users = {"undefined", ""};
  for (const std::string& id : s.e2b.ids()) {
    const std::string token = e2b::sandbox_token(s.link_secret, e2b::TokenKind::kEnvd, id);
    for (const std::string& user : users) {
      if (e2b::signatures_equal(signature,
                                e2b::file_signature(path, operation, user, token, expiration))) {
        if (auto sbx = e2b_find(s, id)) return sbx;
      }
    }
  }
  throw ApiError(401, "unauthenticated",
                 "this file URL's signature matches no running sandbox (wrong path, operation "
                 "or sandbox, or the sandbox has ended)");
}

awaitable<void> route(HttpContext& ctx, Services& s) {
  const auto& seg = ctx.segments();
  if (is_control_path(seg)) {
    authenticate(ctx, s);
    co_return co_await e2b_control(ctx, s);
  }
  const std::string id = header(ctx, "E2b-Sandbox-Id");
  if (id.empty() && seg.size() == 1 && seg[0] == "files" && ctx.has_query("signature")) {
    auto sbx = signed_file_sandbox(ctx, s);
    if (auto st = co_await s.manager.ensure_running(sbx); !st)
      throw ApiError(502, "unavailable", st.message());
    co_return co_await e2b_envd_rest(ctx, s, sbx);
  }
  if (id.empty()) {
    throw ApiError(400, "invalid_argument",
                   "E2b-Sandbox-Id header required: point E2B_SANDBOX_URL at kilnd (per-sandbox "
                   "host names are not supported; see docs/E2B.md)");
  }
  int port = kEnvdPort;
  if (const std::string p = header(ctx, "E2b-Sandbox-Port"); !p.empty()) {
    if (p == std::to_string(kInterpreterPort))
      port = kInterpreterPort;
    else if (p != std::to_string(kEnvdPort))
      throw ApiError(502, "unavailable",
                     "port " + p +
                         " of a Kiln sandbox is not reachable (no port ingress; "
                         "see docs/E2B.md)");
  }
  auto sbx = e2b_find(s, id);
  if (!sbx) throw ApiError(502, "unavailable", "sandbox " + id + " is not running");
  check_token(ctx, s, id, port);
  // A paused sandbox is "not running" to E2B's SDKs (502; isRunning() is
  // false) until Sandbox.connect resumes it.
  if (auto st = co_await s.manager.ensure_running(sbx); !st)
    throw ApiError(502, "unavailable", st.message());
  if (port == kInterpreterPort) co_return co_await e2b_interpreter(ctx, s, sbx);
  if (is_rpc_path(seg)) {
    if (seg[0] == "filesystem.Filesystem") co_return co_await e2b_filesystem(ctx, s, sbx);
    co_return co_await e2b_process(ctx, s, sbx);
  }
  co_return co_await e2b_envd_rest(ctx, s, sbx);
}

}  // namespace

bool is_e2b_request(const HttpContext& ctx) {
  const auto& seg = ctx.segments();
  if (!ctx.request()["E2b-Sandbox-Id"].empty()) return true;
  if (seg.empty()) return false;
  if (is_control_path(seg) || is_rpc_path(seg)) return true;
  return seg.size() == 1 && (seg[0] == "health" || seg[0] == "files");
}

awaitable<void> handle_e2b(HttpContext& ctx, Services& s) {
  std::optional<ApiError> failure;
  try {
    co_await route(ctx, s);
  } catch (const ApiError& e) {
    failure = e;
  } catch (const json::exception& e) {
    failure = ApiError(400, "invalid_argument", std::string("bad JSON field: ") + e.what());
  }
  if (!failure || ctx.responded()) co_return;
  json body;
  if (is_rpc_path(ctx.segments())) {
    // Connect unary errors: a string code (a stream's errors are sent by
    // its handler inside the stream).
    body = {{"code", connect_code(failure->status)}, {"message", failure->what()}};
  } else {
    body = {{"code", failure->status}, {"message", failure->what()}};
  }
  co_await ctx.send_json(failure->status, body);
}

std::shared_ptr<sandbox::Sandbox> e2b_find(Services& s, const std::string& id) {
  auto* rec = s.e2b.find(id);
  if (rec == nullptr) return nullptr;
  auto sbx = s.manager.find(id, rec->workspace);
  if (!sbx || sbx->ending) {
    s.e2b.remove(id);
    return nullptr;
  }
  return sbx;
}

const char* connect_code(int http_status) {
  switch (http_status) {
    case 400:
    case 422:
      return "invalid_argument";
    case 401:
      return "unauthenticated";
    case 403:
      return "permission_denied";
    case 404:
      return "not_found";
    case 409:
      return "already_exists";
    case 402:
    case 413:
    case 429:
    case 507:
      return "resource_exhausted";
    case 501:
      return "unimplemented";
    case 502:
    case 503:
      return "unavailable";
    case 504:
      return "deadline_exceeded";
    default:
      return "internal";
  }
}

std::string e2b_path(const std::string& raw) {
  std::string p = raw;
  if (p == "~")
    p = "/home/user";
  else if (p.rfind("~/", 0) == 0)
    p = "/home/user/" + p.substr(2);
  auto n = normalize_sandbox_path(p);
  if (!n) throw ApiError(400, "invalid_argument", "path: " + n.status().message());
  return *n;
}

void e2b_check_user(const HttpContext& ctx) {
  std::string user = ctx.query("username");
  std::string authz(ctx.request()[http::field::authorization]);
  if (user.empty() && authz.rfind("Basic ", 0) == 0) {
    const std::string enc = authz.substr(6);
    if (enc.size() > 1024) throw ApiError(400, "invalid_argument", "Authorization is too long");
    std::string dec(boost::beast::detail::base64::decoded_size(enc.size()), '\0');
    auto r = boost::beast::detail::base64::decode(dec.data(), enc.data(), enc.size());
    dec.resize(r.first);
    user = dec.substr(0, dec.find(':'));
  }
  if (!user.empty() && user != "user") {
    throw ApiError(400, "invalid_argument",
                   "user '" + user +
                       "' does not exist: a Kiln sandbox has one user, 'user' (no root; see "
                       "docs/E2B.md)");
  }
}

}  // namespace kiln::api
