// envd's filesystem.Filesystem Connect service (unary calls, JSON codec):
// Stat, ListDir, MakeDir, Move, Remove. Each is a short script run in the
// sandbox by the run client (e2b/fs_scripts.h); watching is not offered.
#include <algorithm>

#include "api/e2b_routes.h"
#include "common/bounded_json.h"
#include "e2b/connect_envelope.h"
#include "e2b/fs_scripts.h"
#include "sandbox/run.h"

namespace kiln::api {

using boost::asio::awaitable;
using nlohmann::json;

namespace {

constexpr std::uint64_t kScriptTimeoutMs = 30000;
constexpr JsonLimits kRpcJsonLimits{1u << 20, 16};

json rpc_body(const HttpContext& ctx) {
  const std::string type(ctx.request()[http::field::content_type]);
  if (type.rfind("application/json", 0) != 0)
    throw ApiError(415, "unsupported",
                   "Kiln's envd speaks Connect's JSON codec (application/json)");
  const std::string& text = ctx.request().body();
  if (text.empty()) return json::object();
  auto j = parse_bounded_json(text, kRpcJsonLimits);
  if (!j) throw ApiError(400, "invalid_argument", j.status().message());
  if (!j->is_object()) throw ApiError(400, "invalid_argument", "the message must be an object");
  return std::move(*j);
}

std::string path_field(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || !it->is_string() || it->get<std::string>().empty())
    throw ApiError(400, "invalid_argument", std::string("'") + key + "' is required");
  return e2b_path(*it);
}

// Runs a script; its exit code names the failure.
awaitable<std::vector<json>> run_script(Services& s, std::shared_ptr<sandbox::Sandbox> sbx,
                                        std::string script, const std::string& path) {
  std::string no_stdin, cwd = "/";
  auto out = co_await sandbox::run_command(s.manager, std::move(sbx), std::move(script),
                                           std::move(no_stdin), kScriptTimeoutMs, std::move(cwd),
                                           /*metered=*/false);
  if (!out) throw ApiError(503, "unavailable", out.status().message());
  const int code = out->exit_code.value_or(-1);
  if (code == e2b::kExitNoPath)
    throw ApiError(404, "not_found", "path '" + path + "' does not exist");
  if (code == e2b::kExitWrongType)
    throw ApiError(400, "invalid_argument", "path '" + path + "' is not a directory");
  if (code == e2b::kExitExists)
    throw ApiError(409, "already_exists", "directory '" + path + "' already exists");
  if (code != 0) {
    std::string err = out->stderr_text.substr(0, 1000);
    throw ApiError(500, "internal", "filesystem operation failed: " + err);
  }
  co_return e2b::parse_entries(out->stdout_text);
}

awaitable<json> one_entry(Services& s, std::shared_ptr<sandbox::Sandbox> sbx, std::string script,
                          const std::string& path) {
  auto entries = co_await run_script(s, std::move(sbx), std::move(script), path);
  if (entries.empty()) throw ApiError(500, "internal", "no entry for '" + path + "'");
  co_return json{{"entry", entries.front()}};
}

}  // namespace

awaitable<void> e2b_filesystem(HttpContext& ctx, Services& s,
                               std::shared_ptr<sandbox::Sandbox> sbx) {
  const std::string& method = ctx.segments()[1];
  if (ctx.method() != http::verb::post) throw ApiError(405, "method_not_allowed", "POST only");
  if (method == "WatchDir") {
    // A server stream: the error goes in its end-of-stream message.
    const std::string type = "application/connect+json";
    const std::string last = e2b::end_stream_envelope(
        "unimplemented", "watching a folder is not available in Kiln yet (see docs/E2B.md)");
    co_await ctx.begin_stream(type);
    co_await ctx.stream_raw(last);
    co_return co_await ctx.end_stream();
  }
  if (method == "CreateWatcher" || method == "GetWatcherEvents" || method == "RemoveWatcher")
    throw ApiError(501, "unimplemented", "watching a folder is not available in Kiln yet");
  e2b_check_user(ctx);
  json body = rpc_body(ctx);
  if (method == "Stat") {
    const std::string p = path_field(body, "path");
    std::string script = e2b::stat_script(p);
    const json entry = co_await one_entry(s, sbx, std::move(script), p);
    co_return co_await ctx.send_json(200, entry);
  }
  if (method == "ListDir") {
    const std::string p = path_field(body, "path");
    unsigned depth = 1;
    if (auto d = body.find("depth"); d != body.end() && d->is_number_unsigned())
      depth = static_cast<unsigned>(
          std::clamp<std::uint64_t>(d->get<std::uint64_t>(), 1, e2b::kMaxListDepth));
    std::string script = e2b::list_script(p, depth);
    auto entries = co_await run_script(s, sbx, std::move(script), p);
    json out = {{"entries", entries}};
    co_return co_await ctx.send_json(200, out);
  }
  if (method == "MakeDir") {
    const std::string p = path_field(body, "path");
    std::string script = e2b::mkdir_script(p);
    const json entry = co_await one_entry(s, sbx, std::move(script), p);
    co_return co_await ctx.send_json(200, entry);
  }
  if (method == "Move") {
    const std::string from = path_field(body, "source"), to = path_field(body, "destination");
    std::string script = e2b::move_script(from, to);
    const json entry = co_await one_entry(s, sbx, std::move(script), from);
    co_return co_await ctx.send_json(200, entry);
  }
  if (method == "Remove") {
    const std::string p = path_field(body, "path");
    std::string script = e2b::remove_script(p);
    co_await run_script(s, sbx, std::move(script), p);
    const json empty = json::object();
    co_return co_await ctx.send_json(200, empty);
  }
  throw ApiError(501, "unimplemented", "no method filesystem.Filesystem/" + method);
}

}  // namespace kiln::api
