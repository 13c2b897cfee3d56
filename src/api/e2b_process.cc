// envd's process.Process Connect service: Start and Connect (server
// streams of ProcessEvent envelopes), List, SendSignal. A process is a
// Kiln background command; its stream polls the command (GetCommand) and
// relays new output until it ends, so a client that goes away leaves the
// process running, and Connect re-attaches to it (new output only).
// Stdin, PTYs and resizing are not offered (see docs/E2B.md).
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/detail/base64.hpp>

#include "api/e2b_routes.h"
#include "api/routes.h"
#include "common/bounded_json.h"
#include "e2b/connect_envelope.h"
#include "e2b/fs_scripts.h"
#include "sandbox/run.h"

namespace kiln::api {

namespace asio = boost::asio;
using asio::awaitable;
using nlohmann::json;

namespace {

constexpr std::size_t kMaxRequestMessage = 1u << 20;
constexpr std::size_t kMaxArgs = 4096;
constexpr JsonLimits kRpcJsonLimits{1u << 20, 16};

struct StreamError {
  std::string code, message;
};

std::string b64(std::string_view data) {
  std::string out(boost::beast::detail::base64::encoded_size(data.size()), '\0');
  out.resize(boost::beast::detail::base64::encode(out.data(), data.data(), data.size()));
  return out;
}

// What is new in `now` after `before` was sent. Background commands keep
// the last 64 KiB of a stream, so once that window slides the new part is
// found by the tail of what was sent.
std::string new_output(const std::string& before, const std::string& now) {
  if (now.size() >= before.size() && now.compare(0, before.size(), before) == 0)
    return now.substr(before.size());
  const std::size_t tail = std::min<std::size_t>(before.size(), 512);
  if (tail == 0) return now;
  const auto at = now.rfind(before.substr(before.size() - tail));
  return at == std::string::npos ? now : now.substr(at + tail);
}

std::int64_t selected_pid(const json& body) {
  auto p = body.find("process");
  if (p == body.end() || !p->is_object())
    throw ApiError(400, "invalid_argument", "'process' is required");
  auto pid = p->find("pid");
  if (pid == p->end() || !pid->is_number_unsigned())
    throw ApiError(400, "invalid_argument",
                   "select the process by 'pid' (tags are not supported in Kiln)");
  return pid->get<std::int64_t>();
}

json end_event(const protocol::CommandInfo& c) {
  const int code = c.exit_code.value_or(-1);
  json end = json::object();
  if (code == 128 + 9 || code == 128 + 15) {
    const std::string status = code == 128 + 9 ? "signal: killed" : "signal: terminated";
    end = {{"exitCode", -1}, {"exited", false}, {"status", status}, {"error", status}};
  } else {
    const std::string status = "exit status " + std::to_string(code);
    end = {{"exited", true}, {"status", status}};
    if (code != 0) {
      end["exitCode"] = code;
      end["error"] = status;
    }
  }
  return {{"event", {{"end", end}}}};
}

std::uint64_t header_number(const HttpContext& ctx, const char* name, std::uint64_t fallback,
                            std::uint64_t max) {
  const std::string v(ctx.request()[name]);
  if (v.empty() || v.size() > 12 || v.find_first_not_of("0123456789") != std::string::npos)
    return fallback;
  return std::min<std::uint64_t>(std::stoull(v), max);
}

// Relays a running command's new output until it ends. Returns an error
// for the end-of-stream message, if any.
awaitable<std::optional<StreamError>> follow(HttpContext& ctx, sandbox::Sandbox& sbx,
                                             std::int64_t pid, bool from_start) {
  auto exec = co_await asio::this_coro::executor;
  asio::steady_timer timer(exec);
  const auto keepalive =
      std::chrono::seconds(header_number(ctx, "Keepalive-Ping-Interval", 50, 300));
  auto last_write = std::chrono::steady_clock::now();
  std::string out_sent, err_sent;
  bool first = true;
  auto delay = std::chrono::milliseconds(10);
  while (true) {
    protocol::Request request = protocol::GetCommand{pid};
    auto reply = co_await sandbox::call(sbx, std::move(request));
    if (!reply)
      co_return StreamError{"unavailable", "the sandbox ended: " + reply.status().message()};
    auto info = protocol::decode_command_reply(*reply);
    if (!info) co_return StreamError{"internal", info.status().message()};
    const std::string out = info->stdout_text.value_or(""), err = info->stderr_text.value_or("");
    if (first && !from_start) {
      // Connect: only what comes after the attach.
      out_sent = out;
      err_sent = err;
    }
    first = false;
    bool wrote = false;
    // (Named values only around co_await: GCC 12 mishandles temporaries there.)
    std::string frames;
    const std::string fresh_out = new_output(out_sent, out);
    const std::string fresh_err = new_output(err_sent, err);
    out_sent = out;
    err_sent = err;
    if (!fresh_out.empty()) {
      json ev = {{"event", {{"data", {{"stdout", b64(fresh_out)}}}}}};
      frames += e2b::message_envelope(ev);
    }
    if (!fresh_err.empty()) {
      json ev = {{"event", {{"data", {{"stderr", b64(fresh_err)}}}}}};
      frames += e2b::message_envelope(ev);
    }
    if (!frames.empty()) {
      if (!co_await ctx.stream_raw(frames)) co_return std::nullopt;
      wrote = true;
    }
    if (!info->running) {
      const std::string end = e2b::message_envelope(end_event(*info));
      co_await ctx.stream_raw(end);
      co_return std::nullopt;
    }
    const auto now = std::chrono::steady_clock::now();
    if (wrote) {
      last_write = now;
      delay = std::chrono::milliseconds(10);
    } else if (now - last_write >= keepalive) {
      const json ka = {{"event", {{"keepalive", json::object()}}}};
      const std::string frame = e2b::message_envelope(ka);
      if (!co_await ctx.stream_raw(frame)) co_return std::nullopt;
      last_write = now;
    }
    timer.expires_after(delay);
    co_await timer.async_wait(asio::use_awaitable);
    delay = std::min(delay * 2, std::chrono::milliseconds(100));
  }
}

// Starts the command; a refusal is an end-of-stream error.
awaitable<std::variant<std::int64_t, StreamError>> start(HttpContext& ctx, Services& s,
                                                         std::shared_ptr<sandbox::Sandbox> sbx,
                                                         const json& body) {
  auto p = body.find("process");
  if (p == body.end() || !p->is_object())
    co_return StreamError{"invalid_argument", "'process' is required"};
  if (auto pty = body.find("pty"); pty != body.end() && !pty->is_null())
    co_return StreamError{"unimplemented", "PTYs are not available in Kiln yet (see docs/E2B.md)"};
  if (auto in = body.find("stdin"); in != body.end() && in->is_boolean() && in->get<bool>())
    co_return StreamError{"unimplemented",
                          "stdin for a process is not available in Kiln yet (see docs/E2B.md)"};
  auto cmd = p->find("cmd");
  if (cmd == p->end() || !cmd->is_string() || cmd->get<std::string>().empty())
    co_return StreamError{"invalid_argument", "'process.cmd' is required"};
  std::string line = e2b::shell_quote(cmd->get<std::string>());
  if (auto args = p->find("args"); args != p->end() && args->is_array()) {
    if (args->size() > kMaxArgs) co_return StreamError{"invalid_argument", "too many args"};
    for (const auto& a : *args) {
      if (!a.is_string()) co_return StreamError{"invalid_argument", "args must be strings"};
      line += " " + e2b::shell_quote(a.get<std::string>());
    }
  }
  if (line.size() > s.manager.config().max_code_bytes)
    co_return StreamError{"resource_exhausted", "the command line is too long"};
  if (line.find('\0') != std::string::npos)
    co_return StreamError{"invalid_argument", "the command contains a NUL byte"};
  protocol::RunCommand rc;
  rc.cmd = std::move(line);
  rc.background = true;
  rc.env = sbx->env;
  if (auto envs = p->find("envs"); envs != p->end() && envs->is_object()) {
    for (auto it = envs->begin(); it != envs->end(); ++it) {
      if (!it.value().is_string() || it.key().empty() || it.key().find('=') != std::string::npos ||
          it.key().find('\0') != std::string::npos ||
          it.value().get<std::string>().find('\0') != std::string::npos)
        co_return StreamError{"invalid_argument", "bad env var '" + it.key() + "'"};
      rc.env[it.key()] = it.value().get<std::string>();
    }
  }
  if (auto cwd = p->find("cwd");
      cwd != p->end() && cwd->is_string() && !cwd->get<std::string>().empty())
    rc.cwd = e2b_path(*cwd);
  // Connect-Timeout-Ms bounds the process itself, as in envd.
  rc.timeout_ms = header_number(ctx, "Connect-Timeout-Ms", 0, 7ull * 24 * 3600 * 1000);
  rc.output_cap = s.manager.config().output_cap_bytes;
  if (auto q = s.manager.check_quota(sbx->workspace); !q)
    co_return StreamError{"resource_exhausted", q.message()};
  protocol::Request request = std::move(rc);
  auto reply = co_await sandbox::call(*sbx, std::move(request));
  if (!reply) {
    ApiError e = api_error_from(reply.status());
    co_return StreamError{connect_code(e.status), e.what()};
  }
  auto pid = protocol::decode_pid(*reply);
  if (!pid) co_return StreamError{"internal", pid.status().message()};
  s.manager.meter_run(*sbx, 0);
  if (auto* rec = s.e2b.find(sbx->id)) {
    json config = {{"cmd", (*p)["cmd"]},
                   {"args", p->value("args", json::array())},
                   {"envs", p->value("envs", json::object())}};
    if (p->contains("cwd")) config["cwd"] = (*p)["cwd"];
    e2b::Registry::remember_process(*rec, *pid, std::move(config));
  }
  co_return *pid;
}

awaitable<void> stream_call(HttpContext& ctx, Services& s, std::shared_ptr<sandbox::Sandbox> sbx,
                            bool is_start) {
  const std::string type(ctx.request()[http::field::content_type]);
  std::optional<StreamError> error;
  std::int64_t pid = 0;
  if (type.rfind("application/connect+json", 0) != 0) {
    error = StreamError{"invalid_argument", "streams take application/connect+json"};
  } else if (auto body = e2b::decode_request_envelope(ctx.request().body(), kMaxRequestMessage);
             !body) {
    error = StreamError{"invalid_argument", body.status().message()};
  } else if (is_start) {
    try {
      e2b_check_user(ctx);
      auto started = co_await start(ctx, s, sbx, *body);
      if (auto* e = std::get_if<StreamError>(&started))
        error = *e;
      else
        pid = std::get<std::int64_t>(started);
    } catch (const ApiError& e) {
      error = StreamError{connect_code(e.status), e.what()};
    }
  } else {
    try {
      pid = selected_pid(*body);
      protocol::Request request = protocol::GetCommand{pid};
      auto reply = co_await sandbox::call(*sbx, std::move(request));
      auto info = reply ? protocol::decode_command_reply(*reply)
                        : Result<protocol::CommandInfo>(reply.status());
      if (!info || !info->running)
        error = StreamError{"not_found", "process with pid " + std::to_string(pid) + " not found"};
    } catch (const ApiError& e) {
      error = StreamError{connect_code(e.status), e.what()};
    }
  }
  const std::string type_out = "application/connect+json";
  co_await ctx.begin_stream(type_out);
  if (!error) {
    const json started = {{"event", {{"start", {{"pid", pid}}}}}};
    const std::string frame = e2b::message_envelope(started);
    if (co_await ctx.stream_raw(frame)) error = co_await follow(ctx, *sbx, pid, is_start);
  }
  const std::string last =
      error ? e2b::end_stream_envelope(error->code, error->message) : e2b::end_stream_envelope();
  co_await ctx.stream_raw(last);
  co_await ctx.end_stream();
}

json unary_body(const HttpContext& ctx) {
  const std::string& text = ctx.request().body();
  if (text.empty()) return json::object();
  auto j = parse_bounded_json(text, kRpcJsonLimits);
  if (!j || !j->is_object())
    throw ApiError(400, "invalid_argument", "the message must be a JSON object");
  return std::move(*j);
}

}  // namespace

awaitable<void> e2b_process(HttpContext& ctx, Services& s, std::shared_ptr<sandbox::Sandbox> sbx) {
  const std::string& method = ctx.segments()[1];
  if (ctx.method() != http::verb::post) throw ApiError(405, "method_not_allowed", "POST only");
  if (method == "Start") co_return co_await stream_call(ctx, s, sbx, true);
  if (method == "Connect") co_return co_await stream_call(ctx, s, sbx, false);
  json body = unary_body(ctx);
  if (method == "List") {
    protocol::Request request = protocol::ListCommands{};
    auto reply = co_await sandbox::call(*sbx, std::move(request));
    if (!reply) throw api_error_from(reply.status());
    auto list = protocol::decode_command_list(*reply);
    if (!list) throw api_error_from(list.status());
    auto* rec = s.e2b.find(sbx->id);
    json out = json::array();
    for (const auto& c : *list) {
      if (!c.running) continue;
      json config = {{"cmd", "/bin/sh"}, {"args", {"-c", c.cmd}}, {"envs", json::object()}};
      if (rec && rec->processes.count(c.pid)) config = rec->processes[c.pid];
      out.push_back({{"pid", c.pid}, {"config", config}});
    }
    json reply_body = {{"processes", out}};
    co_return co_await ctx.send_json(200, reply_body);
  }
  if (method == "SendSignal") {
    const std::int64_t pid = selected_pid(body);
    protocol::Request request = protocol::KillCommand{pid};
    auto reply = co_await sandbox::call(*sbx, std::move(request));
    if (!reply) {
      if (reply.status().kind() == ErrorKind::kNotFound)
        throw ApiError(404, "not_found", "process with pid " + std::to_string(pid) + " not found");
      throw api_error_from(reply.status());
    }
    const json empty = json::object();
    co_return co_await ctx.send_json(200, empty);
  }
  if (method == "SendInput" || method == "CloseStdin" || method == "StreamInput")
    throw ApiError(501, "unimplemented", "stdin for a process is not available in Kiln yet");
  if (method == "Update")
    throw ApiError(501, "unimplemented", "PTYs are not available in Kiln yet");
  throw ApiError(501, "unimplemented", "no method process.Process/" + method);
}

}  // namespace kiln::api
