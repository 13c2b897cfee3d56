// /v1/sandboxes/{id}/execute and /commands: running code and shell commands,
// answered whole or streamed (NDJSON/SSE) as the output is produced.
#include <chrono>

#include "api/routes.h"
#include "api/run_errors.h"
#include "common/sandbox_path.h"

namespace kiln::api {

using boost::asio::awaitable;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

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

json string_map(const json& body, const char* key) {
  if (!body.contains(key) || body[key].is_null()) return json::object();
  const json& j = body[key];
  if (!j.is_object()) throw bad_request(std::string("'") + key + "' must be an object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_string())
      throw bad_request(std::string("'") + key + "' values must be strings");
    if (it.key().empty() || it.key().find('=') != std::string::npos)
      throw bad_request(std::string("'") + key + "' has an invalid name");
  }
  return j;
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

std::uint64_t timeout_ms(const json& body, const sandbox::Sandbox& sbx, const Config& c) {
  std::uint64_t t = sbx.limits.exec_timeout_s;
  if (body.contains("timeout_s") && !body["timeout_s"].is_null()) {
    if (!body["timeout_s"].is_number() || body["timeout_s"].get<double>() <= 0)
      throw bad_request("'timeout_s' must be a positive number");
    double v = body["timeout_s"].get<double>();
    if (v > static_cast<double>(c.max_limits.exec_timeout_s))
      throw bad_request("'timeout_s' must be at most " +
                        std::to_string(c.max_limits.exec_timeout_s));
    return static_cast<std::uint64_t>(v * 1000);
  }
  return t * 1000;
}

// Relays one run's frames to the client. Shared by execute and commands.
struct RunRelay {
  RunRelay(HttpContext& ctx, sandbox::Sandbox& sbx, std::shared_ptr<sandbox::FrameQueue> q,
           bool streaming)
      : ctx(ctx), sbx(sbx), q(std::move(q)), streaming(streaming) {}

  HttpContext& ctx;
  sandbox::Sandbox& sbx;
  std::shared_ptr<sandbox::FrameQueue> q;
  bool streaming;
  bool started = false;
  Clock::time_point t0 = Clock::now();
  json results = json::array();
  std::string stdout_text, stderr_text;
  std::string stdout_notice, stderr_notice;  // "output truncated", kept as the last item
  json error = nullptr;
  std::optional<protocol::Frame> end;

  awaitable<void> emit(const json& event) {
    if (!streaming) co_return;
    if (!started) {
      started = true;
      co_await ctx.begin_stream();
    }
    co_await ctx.stream_event(event);
  }

  // Returns false when kiln-init refused the request before running it
  // (the mapped error is thrown if nothing was streamed yet).
  awaitable<void> run() {
    auto conn = sbx.conn;
    const std::uint64_t rid = q->rid;
    ctx.watch_disconnect([conn, rid] { conn->post({{"op", "interrupt"}, {"target", rid}}); });
    while (true) {
      auto f = co_await q->pop();
      if (!f) {
        error = {{"name", "SandboxError"},
                 {"value", "the sandbox ended during the run"},
                 {"traceback", ""}};
        nlohmann::json lit1_ = {{"type", "error"},
                                {"name", error["name"]},
                                {"value", error["value"]},
                                {"traceback", ""}};
        co_await emit(lit1_);
        break;
      }
      const std::string op = f->msg.value("op", "");
      if (op == "stdout" || op == "stderr") {
        const std::string text = f->msg.value("text", "");
        if (f->msg.value("notice", false)) {
          (op == "stdout" ? stdout_notice : stderr_notice) = text;
        } else {
          (op == "stdout" ? stdout_text : stderr_text) += text;
        }
        nlohmann::json lit2_ = {{"type", op}, {"text", text}, {"timestamp", now_str()}};
        co_await emit(lit2_);
      } else if (op == "result") {
        json r = f->msg.value("result", json::object());
        if (!r.contains("is_main_result")) r["is_main_result"] = false;
        results.push_back(r);
        json ev = r;
        ev["type"] = "result";
        co_await emit(ev);
      } else if (op == "error") {
        error = f->msg.value("error", json::object());
      } else if (op == "reply") {
        ctx.stop_watching();
        // Refused before it ran: busy context, unknown context, ...
        throw refusal_from(*f);
      } else if (op == "end") {
        end = std::move(*f);
        break;
      }
    }
    ctx.stop_watching();
  }

  std::uint64_t duration_ms() const {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
  }
};

}  // namespace

awaitable<void> handle_execute(HttpContext& ctx, Manager& m,
                               std::shared_ptr<sandbox::Sandbox> sbx) {
  if (ctx.segments().size() != 4 || ctx.method() != http::verb::post)
    throw not_found("no such route");
  const Config& config = m.config();
  json body = ctx.json_body();
  const std::string code = required_text(body, "code", config.max_code_bytes);
  std::string language, context_id;
  if (body.contains("language") && !body["language"].is_null()) {
    if (!body["language"].is_string()) throw bad_request("'language' must be a string");
    language = body["language"];
  }
  if (body.contains("context_id") && !body["context_id"].is_null()) {
    if (!body["context_id"].is_string()) throw bad_request("'context_id' must be a string");
    context_id = body["context_id"];
  }
  if (!language.empty() && !context_id.empty())
    throw bad_request("'language' and 'context_id' are exclusive");
  const json env = string_map(body, "env");
  const std::uint64_t tmo = timeout_ms(body, *sbx, config);
  if (auto q = m.check_quota(sbx->workspace); !q) throw api_error_from(q);
  auto context = co_await m.resolve_context(sbx, context_id, language);
  if (!context) throw api_error_from(context.status());
  if (!m.find(sbx->id, sbx->workspace)) throw not_found("sandbox " + sbx->id + " not found");

  const std::uint64_t oom_before = sbx->oom_kills();
  RunRelay relay{ctx, *sbx,
                 sbx->conn->open({{"op", "exec"},
                                  {"ctx", context->id},
                                  {"code", code},
                                  {"env", env},
                                  {"timeout_ms", tmo},
                                  {"output_cap", config.output_cap_bytes}}),
                 ctx.stream_mode() != StreamMode::kNone};
  co_await relay.run();
  const std::uint64_t duration = relay.duration_ms();
  sbx->active_ms += duration;
  ++sbx->executions;
  ++m.stats().executions;
  m.record_usage(*sbx);

  int execution_count = 0;
  if (relay.end) {
    execution_count = relay.end->msg.value("execution_count", 0);
    json died = error_for_run_end(
        {relay.end->msg, sbx->oom_kills() > oom_before, tmo / 1000, sbx->limits.memory_mb});
    if (!died.is_null()) relay.error = died;
  }
  if (!relay.error.is_null() && !relay.error.contains("line")) relay.error["line"] = nullptr;
  if (relay.streaming) {
    if (!relay.error.is_null()) {
      json ev = relay.error;
      ev["type"] = "error";
      co_await relay.emit(ev);
    }
    nlohmann::json lit3_ = {
        {"type", "end"}, {"execution_count", execution_count}, {"duration_ms", duration}};
    co_await relay.emit(lit3_);
    co_return co_await ctx.end_stream();
  }
  json response = {{"results", relay.results},
                   {"logs",
                    {{"stdout", split_lines(relay.stdout_text, relay.stdout_notice)},
                     {"stderr", split_lines(relay.stderr_text, relay.stderr_notice)}}},
                   {"error", relay.error},
                   {"execution_count", execution_count},
                   {"duration_ms", duration}};
  co_return co_await ctx.send_json(200, response);
}

awaitable<void> handle_commands(HttpContext& ctx, Manager& m,
                                std::shared_ptr<sandbox::Sandbox> sbx) {
  const auto& seg = ctx.segments();
  const auto method = ctx.method();
  const Config& config = m.config();
  if (seg.size() == 4 && method == http::verb::get) {
    nlohmann::json lit4_ = {{"op", "cmd_list"}};
    auto reply = co_await await_reply(sbx->conn->open(lit4_));
    nlohmann::json lit5_ = {{"commands", reply.msg.value("commands", json::array())}};
    co_return co_await ctx.send_json(200, lit5_);
  }
  if (seg.size() >= 5) {
    int pid = 0;
    try {
      pid = std::stoi(seg[4]);
    } catch (const std::exception&) {
      throw bad_request("command pid must be a number");
    }
    if (seg.size() == 5 && method == http::verb::get) {
      nlohmann::json lit6_ = {{"op", "cmd_get"}, {"pid", pid}};
      auto reply = co_await await_reply(sbx->conn->open(lit6_));
      co_return co_await ctx.send_json(200, reply.msg.value("command", json::object()));
    }
    if (seg.size() == 6 && seg[5] == "kill" && method == http::verb::post) {
      nlohmann::json lit7_ = {{"op", "cmd_kill"}, {"pid", pid}};
      co_await await_reply(sbx->conn->open(lit7_));
      co_return co_await ctx.send_empty(204);
    }
    throw not_found("no such route");
  }
  if (seg.size() != 4 || method != http::verb::post) throw not_found("no such route");
  json body = ctx.json_body();
  const std::string cmd = required_text(body, "cmd", config.max_code_bytes);
  if (auto q = m.check_quota(sbx->workspace); !q) throw api_error_from(q);
  std::string stdin_data;
  if (body.contains("stdin") && !body["stdin"].is_null()) {
    if (!body["stdin"].is_string()) throw bad_request("'stdin' must be a string");
    stdin_data = body["stdin"];
    if (stdin_data.size() > (1u << 20)) throw ApiError(413, "too_large", "'stdin' is over 1 MiB");
  }
  std::string cwd = "/home/user";
  if (body.contains("cwd") && !body["cwd"].is_null()) {
    if (!body["cwd"].is_string()) throw bad_request("'cwd' must be a string");
    auto p = normalize_sandbox_path(body["cwd"].get<std::string>());
    if (!p) throw bad_request("cwd: " + p.status().message());
    cwd = *p;
  }
  json env = sbx->env;
  const json cmd_env = string_map(body, "env");
  for (auto it = cmd_env.begin(); it != cmd_env.end(); ++it) env[it.key()] = it.value();
  const bool background = body.value("background", false);
  json msg = {{"op", "cmd"},
              {"cmd", cmd},
              {"cwd", cwd},
              {"env", env},
              {"background", background},
              {"output_cap", config.output_cap_bytes}};
  if (!background)
    msg["timeout_ms"] = timeout_ms(body, *sbx, config);
  else if (body.contains("timeout_s"))
    msg["timeout_ms"] = timeout_ms(body, *sbx, config);
  auto q = sbx->conn->open(msg, stdin_data);
  if (background) {
    auto reply = co_await await_reply(q);
    ++sbx->executions;
    nlohmann::json lit8_ = {{"pid", reply.msg.value("pid", 0)}};
    co_return co_await ctx.send_json(201, lit8_);
  }
  RunRelay relay{ctx, *sbx, q, ctx.stream_mode() != StreamMode::kNone};
  co_await relay.run();
  const std::uint64_t duration = relay.duration_ms();
  sbx->active_ms += duration;
  ++sbx->executions;
  m.record_usage(*sbx);
  int exit_code = -1;
  bool timed_out = false;
  if (relay.end) {
    exit_code = relay.end->msg.value("exit_code", -1);
    timed_out = relay.end->msg.value("timed_out", false);
  }
  if (!relay.end && !relay.streaming) {
    // kiln-init went away mid-command: the sandbox is gone with it.
    throw ApiError(
        503, "unavailable",
        "the sandbox ended during the command (its init process died; if it ran out of "
        "memory, note that files in /tmp, /home/user and /dev/shm count toward memory_mb)");
  }
  if (relay.streaming) {
    json end = {{"type", "end"}, {"exit_code", exit_code}, {"duration_ms", duration}};
    if (timed_out) end["error"] = "timeout";
    co_await relay.emit(end);
    co_return co_await ctx.end_stream();
  }
  auto with_notice = [](const std::string& text, const std::string& notice) {
    if (notice.empty()) return text;
    return text + (text.empty() || text.back() == '\n' ? "" : "\n") + notice;
  };
  json out = {{"exit_code", exit_code},
              {"stdout", with_notice(relay.stdout_text, relay.stdout_notice)},
              {"stderr", with_notice(relay.stderr_text, relay.stderr_notice)},
              {"duration_ms", duration}};
  if (timed_out) out["error"] = "timeout";
  co_return co_await ctx.send_json(200, out);
}

}  // namespace kiln::api
