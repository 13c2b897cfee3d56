// The code interpreter's routes (E2b-Sandbox-Port 49999): POST /execute
// (NDJSON: stdout, stderr, result, error, number_of_executions,
// end_of_execution) and the contexts, over the run client and Kiln's own
// contexts. Kiln's result bundles already use the interpreter's field
// names (text, html, png, chart, ...).
#include "api/e2b_routes.h"
#include "api/routes.h"
#include "common/ascii.h"
#include "common/bounded_json.h"
#include "sandbox/run.h"

namespace kiln::api {

using boost::asio::awaitable;
using nlohmann::json;

namespace {

constexpr JsonLimits kBodyLimits{64u << 20, 16};

json body_object(const HttpContext& ctx) {
  const std::string& text = ctx.request().body();
  if (text.empty()) return json::object();
  auto j = parse_bounded_json(text, kBodyLimits);
  if (!j) throw ApiError(400, "bad_request", j.status().message());
  if (!j->is_object()) throw ApiError(400, "bad_request", "the body must be a JSON object");
  return std::move(*j);
}

std::string optional_string(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return "";
  if (!it->is_string())
    throw ApiError(400, "bad_request", std::string("'") + key + "' must be a string");
  return *it;
}

std::string language_name(std::string l) {
  l = ascii_lower(l);
  while (!l.empty() && l.back() == ' ') l.pop_back();
  while (!l.empty() && l.front() == ' ') l.erase(l.begin());
  if (l == "js") return "javascript";
  if (l == "ts") return "typescript";
  return l;
}

json context_json(const sandbox::ContextInfo& c) {
  return {{"id", c.id}, {"language", c.language}, {"cwd", c.cwd}};
}

ApiError status_error(const Status& st) { return api_error_from(st); }

awaitable<void> execute(HttpContext& ctx, Services& s, std::shared_ptr<sandbox::Sandbox> sbx) {
  Manager& m = s.manager;
  const Config& config = m.config();
  json body = body_object(ctx);
  auto code = body.find("code");
  if (code == body.end() || !code->is_string())
    throw ApiError(400, "bad_request", "'code' (a string) is required");
  protocol::Execute exec;
  exec.code = *code;
  if (exec.code.size() > config.max_code_bytes)
    throw ApiError(413, "too_large",
                   "'code' is over the " + std::to_string(config.max_code_bytes) + "-byte limit");
  if (exec.code.find('\0') != std::string::npos)
    throw ApiError(400, "bad_request", "'code' contains a NUL byte");
  const std::string context_id = optional_string(body, "context_id");
  const std::string language = language_name(optional_string(body, "language"));
  if (!context_id.empty() && !language.empty())
    throw ApiError(400, "bad_request", "Only one of context_id or language can be provided");
  if (auto env = body.find("env_vars"); env != body.end() && env->is_object()) {
    for (auto it = env->begin(); it != env->end(); ++it) {
      if (!it.value().is_string() || it.key().empty() || it.key().find('=') != std::string::npos ||
          it.key().find('\0') != std::string::npos)
        throw ApiError(400, "bad_request", "bad env var '" + it.key() + "'");
      exec.env[it.key()] = it.value().get<std::string>();
    }
  }
  exec.timeout_ms = sbx->limits.exec_timeout_s * 1000;
  exec.output_cap = config.output_cap_bytes;
  exec.result_cap = config.result_cap_bytes;
  if (auto q = m.check_quota(sbx->workspace); !q) throw status_error(q);
  auto context = co_await m.resolve_context(sbx, context_id, language);
  if (!context) throw status_error(context.status());
  if (!m.find(sbx->id, sbx->workspace)) throw ApiError(502, "unavailable", "the sandbox ended");
  exec.ctx = context->id;

  sandbox::Run run(m, sbx, std::move(exec));
  ctx.watch_disconnect(run.interrupter());
  const std::string type = "application/x-ndjson";
  co_await ctx.begin_stream(type);
  sandbox::RunSink sink;
  sink.on_output = [&ctx](const protocol::Output& o) -> awaitable<void> {
    json ev = {{"type", o.stream == protocol::Stream::kStdout ? "stdout" : "stderr"},
               {"text", o.text},
               {"timestamp", sandbox::rfc3339(sandbox::SystemClock::now())}};
    co_await ctx.stream_event(ev);
  };
  sink.on_result = [&ctx](const json& r) -> awaitable<void> {
    json ev = json::object();
    for (auto it = r.begin(); it != r.end(); ++it)
      if (!it.value().is_null()) ev[it.key()] = it.value();
    // As E2B's interpreter does: text/plain loses one pair of surrounding
    // quotes (a string result reads as its value).
    if (auto t = ev.find("text"); t != ev.end() && t->is_string()) {
      const std::string text = *t;
      if (text.size() >= 2 && (text.front() == '\'' || text.front() == '"') &&
          text.back() == text.front())
        *t = text.substr(1, text.size() - 2);
    }
    ev["type"] = "result";
    co_await ctx.stream_event(ev);
  };
  auto out = co_await run.finish(sink);
  ctx.stop_watching();
  if (!out) {
    json ev = {{"type", "error"},
               {"name", "KilnError"},
               {"value", out.status().message()},
               {"traceback", out.status().message()}};
    co_await ctx.stream_event(ev);
  } else {
    if (!out->error.is_null()) {
      json ev = {{"type", "error"},
                 {"name", out->error.value("name", "Error")},
                 {"value", out->error.value("value", "")},
                 {"traceback", out->error.value("traceback", "")}};
      co_await ctx.stream_event(ev);
    } else if (out->timed_out) {
      json ev = {{"type", "error"},
                 {"name", "TimeoutError"},
                 {"value", "execution timed out"},
                 {"traceback", ""}};
      co_await ctx.stream_event(ev);
    }
    json count = {{"type", "number_of_executions"}, {"execution_count", out->execution_count}};
    co_await ctx.stream_event(count);
  }
  json end = {{"type", "end_of_execution"}};
  co_await ctx.stream_event(end);
  co_await ctx.end_stream();
}

// The interpreter lists a default context for python and javascript.
awaitable<void> ensure_defaults(Manager& m, std::shared_ptr<sandbox::Sandbox> sbx) {
  for (const char* lang : {"python", "javascript"}) {
    const std::string none, name = lang;
    auto c = co_await m.resolve_context(sbx, none, name);
    if (!c) throw status_error(c.status());
  }
}

}  // namespace

awaitable<void> e2b_interpreter(HttpContext& ctx, Services& s,
                                std::shared_ptr<sandbox::Sandbox> sbx) {
  const auto& seg = ctx.segments();
  const auto method = ctx.method();
  Manager& m = s.manager;
  if (seg.size() == 1 && seg[0] == "health") {
    std::string type = "text/plain", ok = "OK";
    co_return co_await ctx.send_bytes(200, type, std::move(ok));
  }
  if (seg.size() == 1 && seg[0] == "execute" && method == http::verb::post)
    co_return co_await execute(ctx, s, sbx);
  if (seg.empty() || seg[0] != "contexts") throw ApiError(404, "not_found", "no such route");
  if (seg.size() == 1 && method == http::verb::get) {
    co_await ensure_defaults(m, sbx);
    json list = json::array();
    for (auto& [id, c] : sbx->contexts) list.push_back(context_json(c));
    co_return co_await ctx.send_json(200, list);
  }
  if (seg.size() == 1 && method == http::verb::post) {
    json body = body_object(ctx);
    std::string language = language_name(optional_string(body, "language"));
    std::string cwd = optional_string(body, "cwd");
    if (language.empty()) language = "python";
    std::string dir = cwd.empty() ? std::string("/home/user") : e2b_path(cwd);
    auto made = co_await m.create_context(sbx, language, std::move(dir));
    if (!made) throw status_error(made.status());
    const json out = context_json(*made);
    co_return co_await ctx.send_json(200, out);
  }
  if (seg.size() < 2 || !sbx->contexts.count(seg[1]))
    throw ApiError(404, "not_found", "context not found");
  const std::string cid = seg[1];
  if (seg.size() == 2 && method == http::verb::delete_) {
    if (auto st = co_await m.delete_context(sbx, cid, false); !st) throw status_error(st);
    co_return co_await ctx.send_empty(204);
  }
  if (seg.size() == 3 && seg[2] == "restart" && method == http::verb::post) {
    if (auto st = co_await m.delete_context(sbx, cid, true); !st) throw status_error(st);
    co_return co_await ctx.send_empty(204);
  }
  throw ApiError(404, "not_found", "no such route");
}

}  // namespace kiln::api
