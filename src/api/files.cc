// /v1/sandboxes/{id}/files: list, read, write, delete, mkdir. Every
// operation is carried out by kiln-init inside the sandbox (see
// agent/file_ops.h), never by the daemon on the host.
#include "api/routes.h"
#include "common/sandbox_path.h"
#include "sandbox/run.h"

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
      protocol::Request request = protocol::ListFiles{path};
      auto reply = co_await sandbox::call(*sbx, std::move(request));
      if (!reply) throw api_error_from(reply.status());
      auto entries = protocol::decode_file_entries(*reply);
      if (!entries) throw api_error_from(entries.status());
      json list = json::array();
      for (const auto& e : *entries) {
        list.push_back({{"name", e.name},
                        {"path", e.path},
                        {"type", e.type},
                        {"size", e.size},
                        {"mtime", sandbox::rfc3339(sandbox::SystemClock::from_time_t(e.mtime))}});
      }
      json body = {{"entries", list}};
      co_return co_await ctx.send_json(200, body);
    }
    if (method == http::verb::delete_) {
      const std::string path = required_path(ctx);
      protocol::Request request = protocol::DeleteFile{path};
      auto reply = co_await sandbox::call(*sbx, std::move(request));
      if (!reply) throw api_error_from(reply.status());
      co_return co_await ctx.send_empty(204);
    }
    throw ApiError(405, "method_not_allowed", "method not allowed");
  }
  if (seg.size() == 5 && seg[4] == "content") {
    const std::string path = required_path(ctx);
    if (method == http::verb::get) {
      protocol::Request request = protocol::ReadFile{path, config.sandbox_file_cap()};
      auto reply = co_await sandbox::call(*sbx, std::move(request));
      if (!reply) throw api_error_from(reply.status());
      co_return co_await ctx.send_bytes(200, "application/octet-stream", std::move(reply->data));
    }
    if (method == http::verb::put) {
      std::string data = ctx.request().body();
      if (data.size() > config.sandbox_file_cap()) {
        throw ApiError(413, "too_large",
                       "file is over the " + std::to_string(config.sandbox_file_cap()) +
                           "-byte cap of a file into a sandbox");
      }
      protocol::Request request = protocol::WriteFile{path, std::move(data)};
      auto reply = co_await sandbox::call(*sbx, std::move(request));
      if (!reply) throw api_error_from(reply.status());
      auto size = protocol::decode_size(*reply);
      if (!size) throw api_error_from(size.status());
      json body = {{"path", path}, {"size", *size}};
      co_return co_await ctx.send_json(201, body);
    }
    throw ApiError(405, "method_not_allowed", "method not allowed");
  }
  if (seg.size() == 5 && seg[4] == "mkdir" && method == http::verb::post) {
    json body = ctx.json_body({"path"});
    if (!body.contains("path") || !body["path"].is_string())
      throw bad_request("'path' (a string) is required");
    const std::string path = path_param(body["path"]);
    protocol::Request request = protocol::MakeDir{path};
    auto reply = co_await sandbox::call(*sbx, std::move(request));
    if (!reply) throw api_error_from(reply.status());
    json out = {{"path", path}};
    co_return co_await ctx.send_json(201, out);
  }
  throw not_found("no such route");
}

}  // namespace kiln::api
