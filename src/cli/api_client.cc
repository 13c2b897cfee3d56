#include "cli/api_client.h"

#include <algorithm>

#include "cli/ndjson.h"

namespace kiln::cli {
using nlohmann::json;

namespace {

std::string one_line(std::string_view text, std::size_t max_len = 200) {
  std::string out;
  for (char c : text) {
    if (out.size() >= max_len) {
      out += "...";
      break;
    }
    out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

Status http_error(int status, std::string_view body) {
  return Status::of(ErrorKind::kUnprocessable, api_error_message(status, body),
                    kHttpErrnoBase + status);
}

bool is_success(int status) { return status >= 200 && status < 300; }

}  // namespace

std::string api_error_message(int status, std::string_view body) {
  std::string message;
  std::string code;
  json parsed = json::parse(body, nullptr, false);
  if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_object()) {
    const json& e = parsed["error"];
    if (e.contains("message") && e["message"].is_string()) message = e["message"];
    if (e.contains("code") && e["code"].is_string()) code = e["code"];
  }
  if (message.empty()) {
    std::string text = one_line(body);
    message = text.empty() ? "kilnd answered HTTP " + std::to_string(status)
                           : "kilnd answered HTTP " + std::to_string(status) + ": " + text;
    return message;
  }
  std::string out = one_line(message, 500) + " (" + std::to_string(status) +
                    (code.empty() ? "" : " " + code) + ")";
  if (status == 401)
    out += "; give a key with --api-key-file, KILN_API_KEY or api_key in the config file";
  if (status == 402) out += "; the workspace's credits are spent";
  return out;
}

int http_status_of(const Status& s) {
  return s.error_number() > kHttpErrnoBase ? s.error_number() - kHttpErrnoBase : 0;
}

Result<json> ApiClient::json_call(HttpRequest req, const HttpHooks& hooks) const {
  if (req.accept.empty()) req.accept = "application/json";
  auto res = http_.send(req, hooks);
  if (!res) return res.status();
  if (!is_success(res->status)) return http_error(res->status, res->body);
  if (res->body.empty()) return json(nullptr);
  json parsed = json::parse(res->body, nullptr, false);
  if (parsed.is_discarded())
    return Status::internal("kilnd sent an answer that is not JSON: " + one_line(res->body, 80));
  return parsed;
}

Result<json> ApiClient::get(const std::string& target, const HttpHooks& hooks) const {
  HttpRequest req;
  req.target = target;
  return json_call(std::move(req), hooks);
}

Result<json> ApiClient::post(const std::string& target, const json& body,
                             const HttpHooks& hooks) const {
  HttpRequest req;
  req.method = "POST";
  req.target = target;
  req.body = body.dump();
  req.content_type = "application/json";
  req.has_body = true;
  return json_call(std::move(req), hooks);
}

Result<json> ApiClient::del(const std::string& target) const {
  HttpRequest req;
  req.method = "DELETE";
  req.target = target;
  return json_call(std::move(req), {});
}

Result<json> ApiClient::put_bytes(const std::string& target, std::string data,
                                  const HttpHooks& hooks) const {
  HttpRequest req;
  req.method = "PUT";
  req.target = target;
  req.body = std::move(data);
  req.content_type = "application/octet-stream";
  req.has_body = true;
  return json_call(std::move(req), hooks);
}

Result<std::string> ApiClient::get_bytes(const std::string& target, const HttpHooks& hooks) const {
  HttpRequest req;
  req.target = target;
  req.accept = "application/octet-stream";
  auto res = http_.send(req, hooks);
  if (!res) return res.status();
  if (!is_success(res->status)) return http_error(res->status, res->body);
  return std::move(res->body);
}

Status ApiClient::stream(const std::string& target, const json& body,
                         const std::function<void(const json&)>& on_event, HttpHooks hooks) const {
  HttpRequest req;
  req.method = "POST";
  req.target = target;
  req.body = body.dump();
  req.content_type = "application/json";
  req.accept = "application/x-ndjson";
  req.has_body = true;
  Status bad_line;
  LineSplitter lines([&](std::string_view line) {
    if (!bad_line) return;
    json event = json::parse(line, nullptr, false);
    if (event.is_discarded()) {
      bad_line =
          Status::internal("kilnd sent a stream line that is not JSON: " + one_line(line, 80));
      return;
    }
    on_event(event);
  });
  hooks.on_body = [&lines](std::string_view piece) { lines.feed(piece); };
  hooks.idle_timeout = std::chrono::seconds(0);
  auto res = http_.send(req, hooks);
  if (!res) return res.status();
  if (!is_success(res->status)) return http_error(res->status, res->body);
  lines.finish();
  if (!bad_line) return bad_line;
  return Status::ok();
}

}  // namespace kiln::cli
