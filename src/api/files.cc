// /v1/sandboxes/{id}/files: list, read, write, delete, mkdir. Every
// operation is carried out by kiln-init inside the sandbox (see
// agent/file_ops.h), never by the daemon on the host.
#include "api/routes.h"
#include "common/sandbox_path.h"

namespace kiln::api {

using boost::asio::awaitable;
using nlohmann::json;

namespace {

std::string path_param(const std::string& raw) {
  auto p = normalize_sandbox_path(raw);
  if (!p) throw bad_request("path: " + p.status().message());
  return *p;
}

std::string required_path(HttpContext& ctx) {
  if (!ctx.has_query("path")) throw bad_request("query parameter 'path' is required");
  return path_param(ctx.query("path"));
}

}  // namespace

awaitable<void> handle_files(HttpContext& ctx, Manager& m, std::shared_ptr<sandbox::Sandbox> sbx) {
  const auto& seg = ctx.segments();
  const auto method = ctx.method();
  const Config& config = m.config();
  if (seg.size() == 4) {
    if (method == http::verb::get) {
      const std::string path = ctx.has_query("path") ? path_param(ctx.query("path")) : "/home/user";
      nlohmann::json lit1_ = {{"op", "fs_list"}, {"path", path}};
      auto reply = co_await await_reply(sbx->conn->open(lit1_));
      json entries = reply.msg.value("entries", json::array());
      for (auto& e : entries) {
        const auto t = sandbox::SystemClock::from_time_t(e.value("mtime", std::int64_t{0}));
        e["mtime"] = sandbox::rfc3339(t);
      }
      nlohmann::json lit2_ = {{"entries", entries}};
      co_return co_await ctx.send_json(200, lit2_);
    }
    if (method == http::verb::delete_) {
      const std::string path = required_path(ctx);
      nlohmann::json lit3_ = {{"op", "fs_delete"}, {"path", path}};
      co_await await_reply(sbx->conn->open(lit3_));
      co_return co_await ctx.send_empty(204);
    }
    throw ApiError(405, "bad_request", "method not allowed");
  }
  if (seg.size() == 5 && seg[4] == "content") {
    const std::string path = required_path(ctx);
    if (method == http::verb::get) {
      json request = {{"op", "fs_read"}, {"path", path}, {"cap", config.file_cap_bytes}};
      auto reply = co_await await_reply(sbx->conn->open(request));
      co_return co_await ctx.send_bytes(200, "application/octet-stream", std::move(reply.data));
    }
    if (method == http::verb::put) {
      std::string data = ctx.request().body();
      if (data.size() > config.file_cap_bytes) {
        throw ApiError(413, "too_large",
                       "file is over the " + std::to_string(config.file_cap_bytes) + "-byte cap");
      }
      nlohmann::json lit4_ = {{"op", "fs_write"}, {"path", path}};
      auto reply = co_await await_reply(sbx->conn->open(lit4_, std::move(data)));
      nlohmann::json lit5_ = {{"path", path}, {"size", reply.msg.value("size", 0)}};
      co_return co_await ctx.send_json(201, lit5_);
    }
    throw ApiError(405, "bad_request", "method not allowed");
  }
  if (seg.size() == 5 && seg[4] == "mkdir" && method == http::verb::post) {
    json body = ctx.json_body();
    if (!body.contains("path") || !body["path"].is_string())
      throw bad_request("'path' (a string) is required");
    const std::string path = path_param(body["path"]);
    nlohmann::json lit6_ = {{"op", "fs_mkdir"}, {"path", path}};
    co_await await_reply(sbx->conn->open(lit6_));
    nlohmann::json lit7_ = {{"path", path}};
    co_return co_await ctx.send_json(201, lit7_);
  }
  throw not_found("no such route");
}

}  // namespace kiln::api
