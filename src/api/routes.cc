#include "api/routes.h"

#include <cerrno>
#include <map>

#include "api/auth.h"

namespace kiln::api {

namespace asio = boost::asio;
using asio::awaitable;

ApiError api_error_from(const Status& s) {
  switch (s.error_number()) {
    case ENOENT:
      return ApiError(404, "not_found", s.message());
    case EINVAL:
      return ApiError(400, "bad_request", s.message());
    case EAGAIN:
      return ApiError(429, "rate_limited", s.message());
    case EBUSY:
    case EEXIST:
      return ApiError(409, "conflict", s.message());
    case EFBIG:
      return ApiError(413, "too_large", s.message());
    case EMEDIUMTYPE:
      return ApiError(415, "unsupported_type", s.message());
    case EACCES:
      return ApiError(422, "invalid", s.message());
    case EDQUOT:
      return ApiError(402, "quota_exceeded", s.message());
    case ENOSPC:
      return ApiError(507, "insufficient_storage", s.message());
    default:
      return ApiError(500, "internal", s.message());
  }
}

std::shared_ptr<sandbox::Sandbox> require_sandbox(Manager& m, const HttpContext& ctx,
                                                  const std::string& id) {
  auto s = m.find(id, ctx.workspace());
  if (!s) throw not_found("sandbox " + id + " not found");
  return s;
}

ApiError refusal_from(const protocol::Frame& reply) {
  static const std::map<std::string, int> kStatus = {{"bad_request", 400},
                                                     {"not_found", 404},
                                                     {"conflict", 409},
                                                     {"too_large", 413},
                                                     {"insufficient_storage", 507}};
  const std::string code = reply.msg.value("code", "internal");
  auto it = kStatus.find(code);
  return ApiError(it == kStatus.end() ? 500 : it->second, code,
                  reply.msg.value("message", "request failed"));
}

awaitable<protocol::Frame> await_reply(std::shared_ptr<sandbox::FrameQueue> q) {
  auto f = co_await q->pop();
  if (!f) throw ApiError(503, "unavailable", "the sandbox ended while handling the request");
  if (!f->msg.value("ok", false)) throw refusal_from(*f);
  co_return std::move(*f);
}

awaitable<void> dispatch(HttpContext& ctx, Services& s) {
  Manager& m = s.manager;
  const auto& seg = ctx.segments();
  if (seg.empty()) throw not_found("no route for /");
  if (seg[0] == "healthz") co_return co_await handle_ops(ctx, m);
  // A signed download link is its own credential (10 minutes, one file).
  if (seg.size() == 2 && seg[0] == "v1" && seg[1] == "download") {
    co_return co_await handle_signed_download(ctx, s);
  }
  authenticate(ctx, s);
  if (seg[0] == "metrics") co_return co_await handle_ops(ctx, m);
  if (seg[0] != "v1" || seg.size() < 2) throw not_found("no such route");
  if (seg[1] == "drive") co_return co_await handle_drive(ctx, s);
  if (seg[1] == "skills") co_return co_await handle_skills(ctx, s);
  if (seg[1] == "usage") co_return co_await handle_usage(ctx, s);
  if (seg[1] == "actions") co_return co_await handle_actions(ctx, s);
  if (seg[1] == "validate" || seg[1] == "test") co_return co_await handle_checks(ctx, m);
  if (seg[1] != "sandboxes") throw not_found("no such route: /" + seg[0] + "/" + seg[1]);
  if (seg.size() <= 3 || seg[3] == "timeout") co_return co_await handle_sandboxes(ctx, m);
  auto sbx = require_sandbox(m, ctx, seg[2]);
  const std::string& what = seg[3];
  if (what == "contexts") co_return co_await handle_contexts(ctx, m, sbx);
  if (what == "execute") co_return co_await handle_execute(ctx, m, sbx);
  if (what == "commands") co_return co_await handle_commands(ctx, m, sbx);
  if (what == "files") co_return co_await handle_files(ctx, m, sbx);
  if (what == "upload" || what == "download") co_return co_await handle_transfer(ctx, s, sbx);
  throw not_found("no such route: " + what);
}

}  // namespace kiln::api
