#include "api/routes.h"

#include "api/auth.h"
#include "api/console.h"
#include "api/e2b_routes.h"

namespace kiln::api {

namespace asio = boost::asio;
using asio::awaitable;

// The one map from failure kinds to HTTP.
ApiError api_error_from(const Status& s) {
  switch (s.kind()) {
    case ErrorKind::kInvalid:
      return ApiError(400, "bad_request", s.message());
    case ErrorKind::kNotFound:
      return ApiError(404, "not_found", s.message());
    case ErrorKind::kConflict:
      return ApiError(409, "conflict", s.message());
    case ErrorKind::kTooLarge:
      return ApiError(413, "too_large", s.message());
    case ErrorKind::kUnsupportedType:
      return ApiError(415, "unsupported_type", s.message());
    case ErrorKind::kUnprocessable:
      return ApiError(422, "invalid", s.message());
    case ErrorKind::kQuotaExceeded:
      return ApiError(402, "quota_exceeded", s.message());
    case ErrorKind::kRateLimited:
      return ApiError(429, "rate_limited", s.message());
    case ErrorKind::kNoSpace:
      return ApiError(507, "insufficient_storage", s.message());
    case ErrorKind::kUnavailable:
      return ApiError(503, "unavailable", s.message());
    case ErrorKind::kPaused:
      return ApiError(409, "sandbox_paused", s.message());
    case ErrorKind::kOk:
    case ErrorKind::kInternal:
      break;
  }
  return ApiError(500, "internal", s.message());
}

std::shared_ptr<sandbox::Sandbox> require_sandbox(Manager& m, const HttpContext& ctx,
                                                  const std::string& id) {
  auto s = m.find(id, ctx.workspace());
  if (!s) throw not_found("sandbox " + id + " not found");
  return s;
}

awaitable<void> dispatch(HttpContext& ctx, Services& s) {
  Manager& m = s.manager;
  const auto& seg = ctx.segments();
  // The E2B-compatible face (docs/E2B.md) answers in E2B's own shapes.
  if (is_e2b_request(ctx)) co_return co_await handle_e2b(ctx, s);
  if (seg.empty() || seg[0] == "console") co_return co_await handle_console(ctx);
  if (seg[0] == "healthz") co_return co_await handle_ops(ctx, m);
  // A signed download link is its own credential (10 minutes, one file).
  if (seg.size() == 2 && seg[0] == "v1" && seg[1] == "download") {
    co_return co_await handle_signed_download(ctx, s);
  }
  if (seg.size() == 1 && seg[0] == "mcp") co_return co_await handle_mcp(ctx, s);
  authenticate(ctx, s);
  if (seg[0] == "metrics") co_return co_await handle_ops(ctx, m);
  if (seg[0] != "v1" || seg.size() < 2) throw not_found("no such route");
  if (seg[1] == "drive") co_return co_await handle_drive(ctx, s);
  if (seg[1] == "skills") co_return co_await handle_skills(ctx, s);
  if (seg[1] == "usage") co_return co_await handle_usage(ctx, s);
  if (seg[1] == "actions") co_return co_await handle_actions(ctx, s);
  if (seg[1] == "validate" || seg[1] == "test") co_return co_await handle_checks(ctx, m);
  if (seg[1] != "sandboxes") throw not_found("no such route: /" + seg[0] + "/" + seg[1]);
  if (seg.size() <= 3 || seg[3] == "timeout" || seg[3] == "pause" || seg[3] == "resume")
    co_return co_await handle_sandboxes(ctx, m);
  auto sbx = require_sandbox(m, ctx, seg[2]);
  const std::string& what = seg[3];
  // Whatever needs the sandbox's processes (kiln-init answers nothing while
  // frozen): 409 sandbox_paused, or a resume first under auto_resume.
  if (what != "network") {
    if (auto st = co_await m.ensure_running(sbx); !st) throw api_error_from(st);
  }
  if (what == "contexts") co_return co_await handle_contexts(ctx, m, sbx);
  if (what == "execute") co_return co_await handle_execute(ctx, m, sbx);
  if (what == "commands") co_return co_await handle_commands(ctx, m, sbx);
  if (what == "network") co_return co_await handle_network(ctx, m, sbx);
  if (what == "files") co_return co_await handle_files(ctx, m, sbx);
  if (what == "upload" || what == "download") co_return co_await handle_transfer(ctx, s, sbx);
  throw not_found("no such route: " + what);
}

}  // namespace kiln::api
