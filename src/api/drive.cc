// /v1/drive (persistent workspace storage) and the transfers between Drive
// and a sandbox (/v1/sandboxes/{id}/upload and /download). Sandbox-side
// bytes are read and written by kiln-init inside the sandbox, so a symlink
// planted there cannot redirect a transfer to a host file.
#include "api/drive_json.h"
#include "api/routes.h"
#include "common/sandbox_path.h"
#include "sandbox/run.h"
#include "sandbox/sandbox.h"
#include "storage/file_types.h"

namespace kiln::api {

using boost::asio::awaitable;
using nlohmann::json;

json drive_file_json(const storage::DriveFile& f) {
  return {{"path", f.path},
          {"size", f.size},
          {"scope", std::string(storage::scope_name(f.scope))},
          {"created_at", sandbox::rfc3339(f.created_at)},
          {"expires_at", f.expires_at ? json(sandbox::rfc3339(*f.expires_at)) : json(nullptr)},
          {"sha256", f.sha256}};
}

namespace {

storage::Drive& require_drive(Services& s) {
  if (s.drive == nullptr) throw ApiError(503, "unavailable", "Drive is not configured");
  return *s.drive;
}

bool flag(const std::string& v, const char* name) {
  if (v.empty() || v == "false" || v == "0") return false;
  if (v == "true" || v == "1") return true;
  throw bad_request(std::string("'") + name + "' must be true or false");
}

storage::Scope scope_param(const std::string& v) {
  auto s = storage::parse_scope(v.empty() ? "persistent" : v);
  if (!s) throw bad_request(s.status().message());
  return *s;
}

}  // namespace

awaitable<void> handle_drive(HttpContext& ctx, Services& s) {
  storage::Drive& drive = require_drive(s);
  const auto& seg = ctx.segments();
  const auto method = ctx.method();
  if (seg.size() == 3 && seg[2] == "content") {
    if (!ctx.has_query("path")) throw bad_request("query parameter 'path' is required");
    const std::string path = ctx.query("path");
    if (method == http::verb::put) {
      const storage::Scope scope = scope_param(ctx.query("scope"));
      const bool replace = flag(ctx.query("replace"), "replace");
      const std::string& workspace = ctx.workspace();
      const std::string& bytes = ctx.request().body();
      auto put =
          co_await s.pool.run([&] { return drive.put(workspace, path, bytes, scope, replace); });
      if (!put) throw api_error_from(put.status());
      co_return co_await ctx.send_json(201, drive_file_json(*put));
    }
    if (method == http::verb::get) {
      const std::string& workspace = ctx.workspace();
      auto got = co_await s.pool.run([&] { return drive.get(workspace, path); });
      if (!got) throw api_error_from(got.status());
      co_return co_await ctx.send_bytes(200, "application/octet-stream", std::move(got->bytes));
    }
    throw ApiError(405, "method_not_allowed", "method not allowed");
  }
  if (seg.size() == 2) {
    if (method == http::verb::get) {
      const std::string& workspace = ctx.workspace();
      const std::string prefix = ctx.has_query("prefix") ? ctx.query("prefix") : "/";
      auto files = co_await s.pool.run([&] { return drive.list(workspace, prefix); });
      if (!files) throw api_error_from(files.status());
      json list = json::array();
      for (const auto& f : *files) list.push_back(drive_file_json(f));
      json body = {{"files", list}};
      co_return co_await ctx.send_json(200, body);
    }
    if (method == http::verb::delete_) {
      if (!ctx.has_query("path")) throw bad_request("query parameter 'path' is required");
      const std::string& workspace = ctx.workspace();
      const std::string path = ctx.query("path");
      Status st = co_await s.pool.run([&] { return drive.remove(workspace, path); });
      if (!st) throw api_error_from(st);
      co_return co_await ctx.send_empty(204);
    }
    throw ApiError(405, "method_not_allowed", "method not allowed");
  }
  throw not_found("no such route");
}

awaitable<void> handle_transfer(HttpContext& ctx, Services& s,
                                std::shared_ptr<sandbox::Sandbox> sbx) {
  storage::Drive& drive = require_drive(s);
  if (ctx.method() != http::verb::post || ctx.segments().size() != 4)
    throw not_found("no such route");
  json body = ctx.json_body({"drive_path", "sandbox_path", "replace", "scope"});
  auto text = [&](const char* key) -> std::string {
    if (!body.contains(key) || !body[key].is_string()) {
      throw bad_request(std::string("'") + key + "' (a string) is required");
    }
    return body[key];
  };
  const std::string drive_path = text("drive_path");
  auto sandbox_path = normalize_sandbox_path(text("sandbox_path"));
  if (!sandbox_path) throw bad_request("sandbox_path: " + sandbox_path.status().message());
  const std::uint64_t cap = s.manager.config().sandbox_file_cap();
  if (ctx.segments()[3] == "upload") {
    const std::string& workspace = ctx.workspace();
    auto got = co_await s.pool.run([&] { return drive.get(workspace, drive_path); });
    if (!got) throw api_error_from(got.status());
    if (got->bytes.size() > cap) {
      throw ApiError(413, "too_large",
                     got->file.path + " is " + std::to_string(got->bytes.size()) +
                         " bytes, over the " + std::to_string(cap) +
                         "-byte cap of a file into a sandbox");
    }
    if (auto st = storage::check_drive_type(got->file.path, got->bytes); !st)
      throw api_error_from(st);
    protocol::Request request = protocol::WriteFile{*sandbox_path, std::move(got->bytes)};
    auto reply = co_await sandbox::call(*sbx, std::move(request));
    if (!reply) throw api_error_from(reply.status());
    auto size = protocol::decode_size(*reply);
    if (!size) throw api_error_from(size.status());
    json out = {{"drive_path", got->file.path}, {"sandbox_path", *sandbox_path}, {"size", *size}};
    co_return co_await ctx.send_json(201, out);
  }
  // download: sandbox -> Drive
  bool replace = false;
  if (body.contains("replace")) {
    if (!body["replace"].is_boolean()) throw bad_request("'replace' must be a boolean");
    replace = body["replace"];
  }
  storage::Scope scope = scope_param(body.value("scope", std::string("persistent")));
  protocol::Request request = protocol::ReadFile{*sandbox_path, cap};
  auto reply = co_await sandbox::call(*sbx, std::move(request));
  if (!reply) throw api_error_from(reply.status());
  const std::string& workspace = ctx.workspace();
  const std::string& bytes = reply->data;
  auto put =
      co_await s.pool.run([&] { return drive.put(workspace, drive_path, bytes, scope, replace); });
  if (!put) throw api_error_from(put.status());
  co_return co_await ctx.send_json(201, drive_file_json(*put));
}

}  // namespace kiln::api
