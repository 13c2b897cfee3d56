// /v1/actions: one-call tools for agents (executeCode, processFile), and the
// signed download links their output files come back as.
#include <algorithm>
#include <map>

#include "api/drive_json.h"
#include "api/links.h"
#include "api/routes.h"
#include "common/ascii.h"
#include "common/bounded_json.h"
#include "net/url_fetcher.h"
#include "sandbox/run.h"

namespace kiln::api {

using boost::asio::awaitable;
using nlohmann::json;

namespace {

constexpr std::size_t kMaxOutputFiles = 20;
constexpr auto kLinkLifetime = std::chrono::minutes(10);

struct InputFile {
  std::string name;
  std::string bytes;
};

// A file name safe to place in the working folder: no folders, no NUL.
std::string safe_name(std::string name) {
  if (auto slash = name.find_last_of('/'); slash != std::string::npos)
    name = name.substr(slash + 1);
  name.erase(
      std::remove_if(name.begin(), name.end(), [](char c) { return c == '\0' || c == '\\'; }),
      name.end());
  if (name.empty() || name == "." || name == "..") name = "input";
  if (name.size() > 200) name = name.substr(name.size() - 200);
  return name;
}

awaitable<std::optional<InputFile>> read_input(const json& args, Services& s) {
  const bool has_url = args.contains("fileUrl") && !args["fileUrl"].is_null();
  const bool has_b64 = args.contains("fileBase64") && !args["fileBase64"].is_null();
  if (has_url && has_b64) throw bad_request("give either fileUrl or fileBase64, not both");
  std::string given_name;
  if (args.contains("fileName") && !args["fileName"].is_null()) {
    if (!args["fileName"].is_string()) throw bad_request("'fileName' must be a string");
    given_name = args["fileName"];
  }
  const std::uint64_t cap = s.manager.config().file_cap_bytes;
  if (has_b64) {
    if (!args["fileBase64"].is_string()) throw bad_request("'fileBase64' must be a string");
    auto bytes = decode_base64(args["fileBase64"]);
    if (!bytes) throw bad_request(bytes.status().message());
    if (bytes->size() > cap)
      throw ApiError(413, "too_large", "the input file is over the file cap");
    co_return InputFile{safe_name(given_name.empty() ? "input" : given_name), std::move(*bytes)};
  }
  if (has_url) {
    if (!args["fileUrl"].is_string()) throw bad_request("'fileUrl' must be a string");
    net::FetchOptions opts;
    opts.policy = s.fetch_policy;
    opts.max_bytes = cap;
    auto got = co_await net::fetch_url(args["fileUrl"], opts);
    if (!got) {
      const ErrorKind kind = got.status().kind();
      if (kind == ErrorKind::kTooLarge || kind == ErrorKind::kInvalid)
        throw api_error_from(got.status());
      throw ApiError(422, "invalid", "could not fetch fileUrl: " + got.status().message());
    }
    co_return InputFile{safe_name(given_name.empty() ? got->file_name : given_name),
                        std::move(got->body)};
  }
  co_return std::nullopt;
}

// Files under `dir` as relative path -> "size mtime", read inside the sandbox.
awaitable<std::map<std::string, std::string>> snapshot(Services& s,
                                                       std::shared_ptr<sandbox::Sandbox> sbx,
                                                       const std::string& dir) {
  std::map<std::string, std::string> out;
  auto listed = co_await sandbox::run_command(
      s.manager, sbx, "find " + dir + " -xdev -type f -printf '%P\\t%s %T@\\n' 2>/dev/null", "",
      30000, "/home/user",
      /*metered=*/false);
  if (!listed) co_return out;
  std::size_t start = 0;
  const std::string& text = listed->stdout_text;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    if (auto tab = line.find('\t'); tab != std::string::npos)
      out[line.substr(0, tab)] = line.substr(tab + 1);
    start = end + 1;
  }
  co_return out;
}

std::string host_of(const HttpContext& ctx) {
  std::string host(ctx.request()[http::field::host]);
  return host.empty() ? "127.0.0.1" : host;
}

// Copies the files that changed under `dir` into Drive as temporary files
// and returns them with signed download links.
awaitable<json> collect_outputs(HttpContext& ctx, Services& s,
                                std::shared_ptr<sandbox::Sandbox> sbx, const std::string& dir,
                                const std::map<std::string, std::string>& before, json& skipped) {
  json files = json::array();
  if (s.drive == nullptr) co_return files;
  auto after = co_await snapshot(s, sbx, dir);
  for (const auto& [rel, stamp] : after) {
    auto it = before.find(rel);
    if (it != before.end() && it->second == stamp) continue;
    if (files.size() >= kMaxOutputFiles) {
      skipped.push_back({{"name", rel}, {"reason", "more than 20 output files"}});
      continue;
    }
    protocol::Request read =
        protocol::ReadFile{dir + "/" + rel, s.manager.config().sandbox_file_cap()};
    auto reply = co_await sandbox::call(*sbx, std::move(read));
    if (!reply) {
      skipped.push_back({{"name", rel}, {"reason", reply.status().message()}});
      continue;
    }
    const std::string drive_path = "/actions/" + sbx->id + "/" + rel;
    const std::string& bytes = reply->data;
    auto put = co_await s.pool.run([&] {
      return s.drive->put(sbx->workspace, drive_path, bytes, storage::Scope::kTemporary, true);
    });
    if (!put) {
      skipped.push_back({{"name", rel}, {"reason", put.status().message()}});
      continue;
    }
    const auto expires = put->expires_at.value_or(std::chrono::system_clock::now() + kLinkLifetime);
    files.push_back({{"name", rel},
                     {"size", put->size},
                     {"path", put->path},
                     {"url", "http://" + host_of(ctx) +
                                 sign_link(s.link_secret, sbx->workspace, put->path, expires)},
                     {"expires_at", sandbox::rfc3339(expires)}});
  }
  co_return files;
}

// The sandbox an action runs in: the session's (kept) or a fresh one
// (ended after the action).
awaitable<std::pair<std::shared_ptr<sandbox::Sandbox>, bool>> action_sandbox(HttpContext& ctx,
                                                                             Services& s,
                                                                             const json& args) {
  sandbox::CreateRequest req;
  req.workspace = ctx.workspace();
  req.limits = s.manager.config().default_limits;
  if (args.contains("session") && !args["session"].is_null()) {
    if (!args["session"].is_string()) throw bad_request("'session' must be a string");
    req.session = args["session"];
  }
  const bool keep = !req.session.empty();
  auto made = co_await s.manager.create(std::move(req));
  if (!made) throw api_error_from(made.status());
  co_return std::make_pair(made->first, keep);
}

awaitable<void> put_input(std::shared_ptr<sandbox::Sandbox> sbx, const std::string& path,
                          std::string bytes) {
  protocol::Request request = protocol::WriteFile{path, std::move(bytes)};
  auto reply = co_await sandbox::call(*sbx, std::move(request));
  if (!reply) throw api_error_from(reply.status());
}

awaitable<void> execute_code(HttpContext& ctx, Services& s, const json& args) {
  if (!args.contains("code") || !args["code"].is_string())
    throw bad_request("'code' (a string) is required");
  const std::string code = args["code"];
  if (code.size() > s.manager.config().max_code_bytes)
    throw ApiError(413, "too_large", "'code' is too large");
  if (auto q = s.manager.check_quota(ctx.workspace()); !q) throw api_error_from(q);
  auto input = co_await read_input(args, s);
  auto [sbx, keep] = co_await action_sandbox(ctx, s, args);
  const std::string dir = "/home/user";
  std::optional<ApiError> failure;
  json response;
  try {
    if (input) co_await put_input(sbx, dir + "/" + input->name, std::move(input->bytes));
  } catch (const ApiError& e) {
    failure = e;
  }
  if (!failure) {
    auto before = co_await snapshot(s, sbx, dir);
    auto context = co_await s.manager.resolve_context(sbx, "", "python");
    if (!context) {
      failure = api_error_from(context.status());
    } else {
      auto ran = co_await sandbox::run_code(s.manager, sbx, context->id, code,
                                            sbx->limits.exec_timeout_s * 1000,
                                            s.manager.config().output_cap_bytes);
      if (!ran) {
        failure = api_error_from(ran.status());
      } else {
        json skipped = json::array();
        json files = co_await collect_outputs(ctx, s, sbx, dir, before, skipped);
        response = {{"success", ran->error.is_null()},
                    {"stdout", ran->stdout_text},
                    {"stderr", ran->stderr_text},
                    {"results", ran->results},
                    {"error", ran->error},
                    {"files", files},
                    {"sandbox_id", sbx->id}};
        if (!skipped.empty()) response["skipped_files"] = skipped;
      }
    }
  }
  s.manager.record_usage(*sbx);
  if (!keep) co_await s.manager.destroy(sbx->id);
  if (failure) throw *failure;
  co_return co_await ctx.send_json(200, response);
}

awaitable<void> process_file(HttpContext& ctx, Services& s, const json& args) {
  const std::string op = args.value("operation", "");
  if (op != "analyze" && op != "transform" && op != "parse_excel") {
    throw bad_request("'operation' must be analyze, transform or parse_excel");
  }
  json options = args.value("options", json::object());
  if (!options.is_object()) throw bad_request("'options' must be an object");
  if (auto q = s.manager.check_quota(ctx.workspace()); !q) throw api_error_from(q);
  auto input = co_await read_input(args, s);
  if (!input) throw bad_request("give the file as fileUrl or fileBase64 + fileName");
  static const std::vector<std::string> kSupported = {"csv", "tsv", "xlsx", "xls", "json", "txt"};
  std::string ext = input->name.substr(input->name.find_last_of('.') == std::string::npos
                                           ? input->name.size()
                                           : input->name.find_last_of('.') + 1);
  ext = ascii_lower(ext);
  if (std::find(kSupported.begin(), kSupported.end(), ext) == kSupported.end()) {
    throw ApiError(
        415, "unsupported_type",
        "unsupported file type '" + input->name + "'; supported: csv, tsv, xlsx, xls, json, txt");
  }
  if (op == "parse_excel" && ext != "xlsx" && ext != "xls") {
    throw ApiError(415, "unsupported_type", "parse_excel takes .xlsx or .xls files");
  }
  auto [sbx, keep] = co_await action_sandbox(ctx, s, args);
  const std::string in_path = "/home/user/input/" + input->name;
  const std::string out_dir = "/home/user/output-" + std::to_string(sbx->executions);
  std::optional<ApiError> failure;
  json response;
  try {
    co_await put_input(sbx, in_path, std::move(input->bytes));
  } catch (const ApiError& e) {
    failure = e;
  }
  if (!failure) {
    auto quote = [](const std::string& v) {
      std::string q = "'";
      for (char c : v) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
      return q + "'";
    };
    const std::string cmd = "mkdir -p " + quote(out_dir) +
                            " && /usr/bin/python3 /skills/process-file/process_file.py " +
                            quote(op) + " " + quote(in_path) + " " + quote(options.dump()) + " " +
                            quote(out_dir);
    auto ran =
        co_await sandbox::run_command(s.manager, sbx, cmd, "", sbx->limits.exec_timeout_s * 1000);
    if (!ran) {
      failure = api_error_from(ran.status());
    } else {
      json result = untrusted_json(ran->stdout_text);
      if (ran->exit_code == 2) {
        failure = ApiError(
            415, "unsupported_type",
            result.is_object() ? result.value("error", "unsupported file") : ran->stderr_text);
      } else if (ran->exit_code != 0 || result.is_discarded()) {
        std::string why = result.is_object() && result.contains("error") ? result["error"].dump()
                                                                         : ran->stderr_text;
        failure = ApiError(422, "invalid", "processFile " + op + " failed: " + why);
      } else {
        json skipped = json::array();
        json files = co_await collect_outputs(ctx, s, sbx, out_dir, {}, skipped);
        response = {{"success", true}, {"result", result}, {"files", files}};
        if (!skipped.empty()) response["skipped_files"] = skipped;
      }
    }
  }
  s.manager.record_usage(*sbx);
  if (!keep) co_await s.manager.destroy(sbx->id);
  if (failure) throw *failure;
  co_return co_await ctx.send_json(200, response);
}

}  // namespace

awaitable<void> handle_actions(HttpContext& ctx, Services& s) {
  if (ctx.method() != http::verb::post || ctx.segments().size() != 2)
    throw not_found("no such route");
  json body = ctx.json_body({"action", "arguments"});
  if (body.contains("action") && !body["action"].is_string())
    throw bad_request("'action' must be a string");
  const std::string action = body.value("action", "");
  json args = body.value("arguments", json::object());
  if (!args.is_object()) throw bad_request("'arguments' must be an object");
  if (action == "executeCode") {
    reject_unknown_fields(args, {"code", "fileUrl", "fileBase64", "fileName", "session"},
                          "arguments.");
  } else if (action == "processFile") {
    reject_unknown_fields(args,
                          {"operation", "options", "fileUrl", "fileBase64", "fileName", "session"},
                          "arguments.");
  }
  if (action == "executeCode") co_return co_await execute_code(ctx, s, args);
  if (action == "processFile") co_return co_await process_file(ctx, s, args);
  throw bad_request("unknown action '" + action + "' (executeCode, processFile)");
}

awaitable<void> handle_signed_download(HttpContext& ctx, Services& s) {
  if (ctx.method() != http::verb::get)
    throw ApiError(405, "method_not_allowed", "method not allowed");
  if (s.drive == nullptr) throw ApiError(503, "unavailable", "Drive is not configured");
  auto target = verify_link(s.link_secret, ctx.query("w"), ctx.query("p"), ctx.query("e"),
                            ctx.query("sig"), std::chrono::system_clock::now());
  if (!target) {
    // Expired or forged: the same answer, so a link reveals nothing.
    throw not_found("download link is invalid or has expired");
  }
  auto got = co_await s.pool.run([&] { return s.drive->get(target->workspace, target->path); });
  if (!got) throw not_found("the file is gone");
  co_return co_await ctx.send_bytes(200, "application/octet-stream", std::move(got->bytes));
}

}  // namespace kiln::api
