// /v1/sandboxes/{id}/execute and /commands: running code and shell commands,
// answered whole or streamed (NDJSON/SSE) as the output is produced. The
// run itself is sandbox::Run's; this file only reads the request and
// renders the outcome.
#include "api/routes.h"
#include "common/sandbox_path.h"
#include "sandbox/run.h"

namespace kiln::api {

using boost::asio::awaitable;
using nlohmann::json;

namespace {

// Output arrives in whatever pieces the program wrote; a whole answer gives
// it as lines (each with its newline; a last partial line as is).
json split_lines(const std::string& text, const std::string& notice) {
  json out = json::array();
  std::size_t start = 0;
  while (start < text.size()) {
    auto nl = text.find('\n', start);
    const std::size_t end = nl == std::string::npos ? text.size() : nl + 1;
    out.push_back(text.substr(start, end - start));
    start = end;
  }
  if (!notice.empty()) out.push_back(notice);
  return out;
}

std::string now_str() { return sandbox::rfc3339(sandbox::SystemClock::now()); }

protocol::StringMap string_map(const json& body, const char* key) {
  protocol::StringMap out;
  if (!body.contains(key) || body[key].is_null()) return out;
  const json& j = body[key];
  if (!j.is_object()) throw bad_request(std::string("'") + key + "' must be an object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_string())
      throw bad_request(std::string("'") + key + "' values must be strings");
    if (it.key().empty() || it.key().find('=') != std::string::npos ||
        it.key().find('\0') != std::string::npos)
      throw bad_request(std::string("'") + key + "' has an invalid name");
    out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

std::string required_text(const json& body, const char* key, std::uint64_t cap) {
  if (!body.contains(key) || !body[key].is_string())
    throw bad_request(std::string("'") + key + "' (a string) is required");
  std::string s = body[key];
  if (s.size() > cap)
    throw ApiError(413, "too_large",
                   std::string("'") + key + "' is " + std::to_string(s.size()) +
                       " bytes, over the " + std::to_string(cap) + "-byte limit");
  if (s.find('\0') != std::string::npos)
    throw bad_request(std::string("'") + key + "' contains a NUL byte");
  return s;
}

std::optional<std::string> optional_string(const json& body, const char* key) {
  if (!body.contains(key) || body[key].is_null()) return std::nullopt;
  if (!body[key].is_string()) throw bad_request(std::string("'") + key + "' must be a string");
  return body[key].get<std::string>();
}

// The run's timeout in milliseconds: timeout_s if given (fractions kept),
// else the sandbox's limit.
std::uint64_t timeout_ms(const json& body, const sandbox::Sandbox& sbx, const Config& c) {
  if (!body.contains("timeout_s") || body["timeout_s"].is_null())
    return sbx.limits.exec_timeout_s * 1000;
  if (!body["timeout_s"].is_number() || body["timeout_s"].get<double>() <= 0)
    throw bad_request("'timeout_s' must be a positive number");
  const double v = body["timeout_s"].get<double>();
  if (v > static_cast<double>(c.max_limits.exec_timeout_s))
    throw bad_request("'timeout_s' must be at most " + std::to_string(c.max_limits.exec_timeout_s));
  return std::max<std::uint64_t>(1, static_cast<std::uint64_t>(v * 1000));
}

// Streams a run's events to the client as they come (when asked to).
class EventStream {
 public:
  explicit EventStream(HttpContext& ctx) : ctx_(ctx), on_(ctx.stream_mode() != StreamMode::kNone) {}
  bool on() const { return on_; }

  awaitable<void> emit(const json& event) {
    if (!on_) co_return;
    if (!started_) {
      started_ = true;
      co_await ctx_.begin_stream();
    }
    co_await ctx_.stream_event(event);
  }
  sandbox::RunSink sink() {
    if (!on_) return {};
    sandbox::RunSink s;
    s.on_output = [this](const protocol::Output& o) -> awaitable<void> {
      json ev = {{"type", o.stream == protocol::Stream::kStdout ? "stdout" : "stderr"},
                 {"text", o.text},
                 {"timestamp", now_str()}};
      co_await emit(ev);
    };
    s.on_result = [this](const json& r) -> awaitable<void> {
      json ev = r;
      ev["type"] = "result";
      co_await emit(ev);
    };
    return s;
  }

 private:
  HttpContext& ctx_;
  bool on_;
  bool started_ = false;
};

// Runs `request` with the client's disconnect interrupting it.
awaitable<sandbox::RunOutcome> run_for_client(HttpContext& ctx, Manager& m,
                                              std::shared_ptr<sandbox::Sandbox> sbx,
                                              sandbox::RunRequest request, EventStream& stream) {
  sandbox::Run run(m, sbx, std::move(request));
  ctx.watch_disconnect(run.interrupter());
  const sandbox::RunSink sink = stream.sink();
  auto outcome = co_await run.finish(sink);
  ctx.stop_watching();
  if (!outcome) throw api_error_from(outcome.status());
  co_return std::move(*outcome);
}

awaitable<void> command_subroute(HttpContext& ctx, std::shared_ptr<sandbox::Sandbox> sbx) {
  const auto& seg = ctx.segments();
  const auto method = ctx.method();
  if (seg.size() == 4 && method == http::verb::get) {
    protocol::Request request = protocol::ListCommands{};
    auto reply = co_await sandbox::call(*sbx, std::move(request));
    if (!reply) throw api_error_from(reply.status());
    auto list = protocol::decode_command_list(*reply);
    if (!list) throw api_error_from(list.status());
    json out = json::array();
    for (const auto& c : *list) out.push_back(protocol::command_json(c));
    json body = {{"commands", out}};
    co_return co_await ctx.send_json(200, body);
  }
  std::int64_t pid = 0;
  try {
    pid = std::stoll(seg[4]);
  } catch (const std::exception&) {
    throw bad_request("command pid must be a number");
  }
  if (seg.size() == 5 && method == http::verb::get) {
    protocol::Request request = protocol::GetCommand{pid};
    auto reply = co_await sandbox::call(*sbx, std::move(request));
    if (!reply) throw api_error_from(reply.status());
    auto c = protocol::decode_command_reply(*reply);
    if (!c) throw api_error_from(c.status());
    co_return co_await ctx.send_json(200, protocol::command_json(*c));
  }
  if (seg.size() == 6 && seg[5] == "kill" && method == http::verb::post) {
    protocol::Request request = protocol::KillCommand{pid};
    auto reply = co_await sandbox::call(*sbx, std::move(request));
    if (!reply) throw api_error_from(reply.status());
    co_return co_await ctx.send_empty(204);
  }
  throw not_found("no such route");
}

}  // namespace

awaitable<void> handle_execute(HttpContext& ctx, Manager& m,
                               std::shared_ptr<sandbox::Sandbox> sbx) {
  if (ctx.segments().size() != 4 || ctx.method() != http::verb::post)
    throw not_found("no such route");
  const Config& config = m.config();
  json body = ctx.json_body({"code", "language", "context_id", "timeout_s", "env"});
  protocol::Execute exec;
  exec.code = required_text(body, "code", config.max_code_bytes);
  const std::string language = optional_string(body, "language").value_or("");
  const std::string context_id = optional_string(body, "context_id").value_or("");
  if (!language.empty() && !context_id.empty())
    throw bad_request("'language' and 'context_id' are exclusive");
  exec.env = string_map(body, "env");
  exec.timeout_ms = timeout_ms(body, *sbx, config);
  exec.output_cap = config.output_cap_bytes;
  exec.result_cap = config.result_cap_bytes;
  if (auto q = m.check_quota(sbx->workspace); !q) throw api_error_from(q);
  auto context = co_await m.resolve_context(sbx, context_id, language);
  if (!context) throw api_error_from(context.status());
  if (!m.find(sbx->id, sbx->workspace)) throw not_found("sandbox " + sbx->id + " not found");
  exec.ctx = context->id;

  EventStream stream(ctx);
  auto out = co_await run_for_client(ctx, m, sbx, std::move(exec), stream);
  if (stream.on()) {
    if (!out.error.is_null()) {
      json ev = out.error;
      ev["type"] = "error";
      co_await stream.emit(ev);
    }
    json end = {{"type", "end"},
                {"execution_count", out.execution_count},
                {"duration_ms", out.duration_ms}};
    co_await stream.emit(end);
    co_return co_await ctx.end_stream();
  }
  json response = {{"results", std::move(out.results)},
                   {"logs",
                    {{"stdout", split_lines(out.stdout_text, out.stdout_notice)},
                     {"stderr", split_lines(out.stderr_text, out.stderr_notice)}}},
                   {"error", out.error},
                   {"execution_count", out.execution_count},
                   {"duration_ms", out.duration_ms}};
  co_return co_await ctx.send_json(200, response);
}

awaitable<void> handle_commands(HttpContext& ctx, Manager& m,
                                std::shared_ptr<sandbox::Sandbox> sbx) {
  const auto& seg = ctx.segments();
  if (seg.size() >= 5 || (seg.size() == 4 && ctx.method() == http::verb::get)) {
    co_return co_await command_subroute(ctx, sbx);
  }
  if (seg.size() != 4 || ctx.method() != http::verb::post) throw not_found("no such route");
  const Config& config = m.config();
  json body = ctx.json_body({"cmd", "stdin", "cwd", "env", "background", "timeout_s"});
  protocol::RunCommand cmd;
  cmd.cmd = required_text(body, "cmd", config.max_code_bytes);
  if (auto q = m.check_quota(sbx->workspace); !q) throw api_error_from(q);
  if (auto in = optional_string(body, "stdin")) {
    if (in->size() > (1u << 20)) throw ApiError(413, "too_large", "'stdin' is over 1 MiB");
    cmd.stdin_data = std::move(*in);
  }
  if (auto cwd = optional_string(body, "cwd")) {
    auto p = normalize_sandbox_path(*cwd);
    if (!p) throw bad_request("cwd: " + p.status().message());
    cmd.cwd = *p;
  }
  cmd.env = sbx->env;
  for (auto& [k, v] : string_map(body, "env")) cmd.env[k] = v;
  if (body.contains("background") && !body["background"].is_null()) {
    if (!body["background"].is_boolean()) throw bad_request("'background' must be a boolean");
    cmd.background = body["background"];
  }
  cmd.output_cap = config.output_cap_bytes;
  // A background command has no timeout unless one is given.
  if (!cmd.background || body.contains("timeout_s"))
    cmd.timeout_ms = timeout_ms(body, *sbx, config);
  if (cmd.background) {
    protocol::Request request = std::move(cmd);
    auto reply = co_await sandbox::call(*sbx, std::move(request));
    if (!reply) throw api_error_from(reply.status());
    auto pid = protocol::decode_pid(*reply);
    if (!pid) throw api_error_from(pid.status());
    co_await m.meter_run(*sbx, 0);
    json out = {{"pid", *pid}};
    co_return co_await ctx.send_json(201, out);
  }
  EventStream stream(ctx);
  auto out = co_await run_for_client(ctx, m, sbx, std::move(cmd), stream);
  const int exit_code = out.exit_code.value_or(-1);
  if (out.sandbox_ended && !stream.on()) {
    // kiln-init went away mid-command: the sandbox is gone with it.
    throw ApiError(
        503, "unavailable",
        "the sandbox ended during the command (its init process died; if it ran out of "
        "memory, note that files in /tmp, /home/user and /dev/shm count toward memory_mb)");
  }
  if (stream.on()) {
    json end = {{"type", "end"}, {"exit_code", exit_code}, {"duration_ms", out.duration_ms}};
    if (out.timed_out) end["error"] = "timeout";
    co_await stream.emit(end);
    co_return co_await ctx.end_stream();
  }
  auto with_notice = [](const std::string& text, const std::string& notice) {
    if (notice.empty()) return text;
    return text + (text.empty() || text.back() == '\n' ? "" : "\n") + notice;
  };
  json response = {{"exit_code", exit_code},
                   {"stdout", with_notice(out.stdout_text, out.stdout_notice)},
                   {"stderr", with_notice(out.stderr_text, out.stderr_notice)},
                   {"duration_ms", out.duration_ms}};
  if (out.timed_out) response["error"] = "timeout";
  co_return co_await ctx.send_json(200, response);
}

}  // namespace kiln::api
