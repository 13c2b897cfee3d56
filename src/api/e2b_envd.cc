// envd's REST routes: /health and /files (download; upload as
// multipart/form-data or application/octet-stream), over Kiln's file
// protocol (ReadFile, WriteFile), which creates parent folders.
#include "api/e2b_routes.h"
#include "api/routes.h"
#include "e2b/multipart.h"
#include "sandbox/run.h"

namespace kiln::api {

using boost::asio::awaitable;
using nlohmann::json;

namespace {

ApiError status_error(const Status& st) {
  ApiError e = api_error_from(st);
  return ApiError(e.status, e.code, e.what());
}

std::string base_name(const std::string& path) { return path.substr(path.rfind('/') + 1); }

awaitable<json> write_one(Services& s, sandbox::Sandbox& sbx, const std::string& path,
                          std::string data) {
  const std::uint64_t cap = s.manager.config().sandbox_file_cap();
  if (data.size() > cap) {
    throw ApiError(
        413, "too_large",
        "file is over the " + std::to_string(cap) + "-byte cap of a file into a sandbox");
  }
  protocol::Request request = protocol::WriteFile{path, std::move(data)};
  auto reply = co_await sandbox::call(sbx, std::move(request));
  if (!reply) throw status_error(reply.status());
  co_return json{{"name", base_name(path)}, {"type", "file"}, {"path", path}};
}

awaitable<void> upload(HttpContext& ctx, Services& s, std::shared_ptr<sandbox::Sandbox> sbx) {
  const std::string type(ctx.request()[http::field::content_type]);
  const bool has_path = ctx.has_query("path") && !ctx.query("path").empty();
  json written = json::array();
  if (type.rfind("application/octet-stream", 0) == 0) {
    if (!has_path) throw ApiError(400, "bad_request", "an octet-stream upload needs ?path=");
    if (!ctx.request()[http::field::content_encoding].empty())
      throw ApiError(400, "bad_request", "compressed uploads are not supported");
    const std::string path = e2b_path(ctx.query("path"));
    std::string data = ctx.request().body();
    json one = co_await write_one(s, *sbx, path, std::move(data));
    written.push_back(std::move(one));
    co_return co_await ctx.send_json(200, written);
  }
  auto boundary = e2b::multipart_boundary(type);
  if (!boundary)
    throw ApiError(400, "bad_request",
                   "uploads must be multipart/form-data or application/octet-stream");
  auto parts = e2b::parse_multipart(ctx.request().body(), *boundary);
  if (!parts) throw ApiError(400, "bad_request", parts.status().message());
  std::set<std::string> seen;
  for (auto& part : *parts) {
    if (part.name != "file") continue;
    if (!has_path && part.filename.empty())
      throw ApiError(400, "bad_request", "a part without a filename needs ?path=");
    const std::string path = e2b_path(has_path ? ctx.query("path") : part.filename);
    if (!seen.insert(path).second)
      throw ApiError(400, "bad_request", "two parts write the same path " + path);
    json one = co_await write_one(s, *sbx, path, std::move(part.data));
    written.push_back(std::move(one));
  }
  if (written.empty()) throw ApiError(400, "bad_request", "no 'file' part in the upload");
  co_await ctx.send_json(200, written);
}

}  // namespace

awaitable<void> e2b_envd_rest(HttpContext& ctx, Services& s,
                              std::shared_ptr<sandbox::Sandbox> sbx) {
  const auto& seg = ctx.segments();
  if (seg.size() == 1 && seg[0] == "health" && ctx.method() == http::verb::get)
    co_return co_await ctx.send_empty(204);
  if (seg.size() == 1 && seg[0] == "files") {
    e2b_check_user(ctx);
    if (ctx.method() == http::verb::get) {
      if (!ctx.has_query("path")) throw ApiError(400, "bad_request", "?path= is required");
      const std::string path = e2b_path(ctx.query("path"));
      protocol::Request request = protocol::ReadFile{path, s.manager.config().sandbox_file_cap()};
      auto reply = co_await sandbox::call(*sbx, std::move(request));
      if (!reply) {
        if (reply.status().kind() == ErrorKind::kNotFound)
          throw ApiError(404, "not_found", "path '" + path + "' does not exist");
        throw status_error(reply.status());
      }
      const std::string type = "application/octet-stream";
      co_return co_await ctx.send_bytes(200, type, std::move(reply->data));
    }
    if (ctx.method() == http::verb::post) co_return co_await upload(ctx, s, sbx);
    throw ApiError(405, "method_not_allowed", "method not allowed");
  }
  if (seg.size() == 1 && (seg[0] == "metrics" || seg[0] == "envs")) {
    if (seg[0] == "envs") {
      json env = json::object();
      for (auto& [k, v] : sbx->env) env[k] = v;
      co_return co_await ctx.send_json(200, env);
    }
    throw ApiError(501, "unimplemented", "envd metrics are not sampled in Kiln (see docs/E2B.md)");
  }
  throw ApiError(404, "not_found", "no such envd route");
}

}  // namespace kiln::api
