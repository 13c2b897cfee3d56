// /mcp: the MCP Streamable HTTP transport. One POST per JSON-RPC message;
// requests are answered with one JSON object, or — for tools/call, when
// the client accepts it — an SSE stream carrying progress notifications
// and then the response. GET answers 405 (no server-initiated messages),
// DELETE ends the session. Origin and Host are checked before anything
// else (DNS rebinding), then the API key as on every route; a session is
// bound to the workspace and key that made it.
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <functional>

#include "api/auth.h"
#include "api/routes.h"
#include "mcp/jsonrpc.h"
#include "mcp/origin_check.h"
#include "mcp/session.h"
#include "mcp/tool_calls.h"
#include "mcp/tool_schemas.h"

namespace kiln::api {

namespace asio = boost::asio;
using asio::awaitable;
using nlohmann::json;

namespace {

// Transport-level failures (4xx) carry a JSON-RPC error with no id, the
// code the reference SDK uses for them.
constexpr int kTransportError = -32000;

awaitable<void> send_rpc(HttpContext& ctx, int status, const json& message) {
  co_await ctx.send_bytes(status, "application/json", mcp::dump_message(message));
}

awaitable<void> send_failure(HttpContext& ctx, int status, int code, const std::string& message,
                             const std::optional<json>& id = std::nullopt) {
  co_await send_rpc(ctx, status, mcp::make_error(id, code, message));
}

std::string header(const HttpContext& ctx, std::string_view name) {
  return std::string(ctx.request()[boost::beast::string_view(name.data(), name.size())]);
}

std::size_t key_tag(const HttpContext& ctx) {
  std::string cred = header(ctx, "Authorization");
  if (cred.empty()) cred = header(ctx, "X-API-Key");
  return std::hash<std::string>{}(cred);
}

// Ends idle sessions and their sandboxes, off the request's path.
void sweep(Services& s, const asio::any_io_executor& ex) {
  auto expired = s.mcp_sessions->take_expired();
  for (auto& session : expired) {
    spdlog::info("event=mcp_session_expired session={} workspace={}", session->id,
                 session->workspace);
    asio::co_spawn(
        ex, [&s, session]() -> awaitable<void> { co_await mcp::end_session(s, *session); },
        asio::detached);
  }
}

json server_info(const std::string& version) {
  json info = {{"name", "kiln"}, {"title", "Kiln"}, {"version", KILN_VERSION}};
  if (version >= "2025-11-25")
    info["description"] = "Sandboxed Python, JavaScript, TypeScript and Bash for agents";
  return info;
}

constexpr const char* kInstructions =
    "Kiln runs code in an isolated sandbox that keeps its state (variables, files) for this "
    "session. Use run_code for Python/JavaScript/TypeScript/Bash (charts come back as images), "
    "run_command for shell commands, write_file/read_file/list_files for files, "
    "upload_from_drive/download_to_drive to move files to and from the workspace's persistent "
    "Drive, and list_skills/read_skill for tested templates (data analysis, charts, Excel, PDF). "
    "There is no network access inside the sandbox.";

awaitable<void> initialize(HttpContext& ctx, Services& s, const mcp::Message& msg) {
  const json& params = msg.params;
  if (!params.contains("protocolVersion") || !params["protocolVersion"].is_string()) {
    co_return co_await send_failure(ctx, 200, mcp::kInvalidParams,
                                    "initialize: 'protocolVersion' (a string) is required", msg.id);
  }
  const std::string version = mcp::negotiate_version(params["protocolVersion"].get<std::string>());
  auto session = s.mcp_sessions->create(ctx.workspace(), key_tag(ctx), version);
  if (!session) {
    co_return co_await send_failure(ctx, 503, kTransportError,
                                    "too many MCP sessions are open; end some (DELETE /mcp) or "
                                    "wait for idle ones to expire");
  }
  spdlog::info("event=mcp_session_start session={} workspace={} version={} client=\"{}\"",
               session->id, session->workspace, version,
               params.contains("clientInfo") && params["clientInfo"].is_object()
                   ? params["clientInfo"].value("name", std::string("?"))
                   : std::string("?"));
  json result = {{"protocolVersion", version},
                 {"capabilities", {{"tools", {{"listChanged", false}}}}},
                 {"serverInfo", server_info(version)},
                 {"instructions", kInstructions}};
  ctx.add_response_header("Mcp-Session-Id", session->id);
  co_await send_rpc(ctx, 200, mcp::make_result(msg.id, std::move(result)));
}

void on_notification(mcp::Session& session, const mcp::Message& msg) {
  if (msg.method == "notifications/initialized") {
    session.initialized = true;
  } else if (msg.method == "notifications/cancelled") {
    // Unknown or finished ids are ignored, as the spec says.
    if (!msg.params.contains("requestId")) return;
    auto it = session.in_flight.find(mcp::id_key(msg.params["requestId"]));
    if (it == session.in_flight.end()) return;
    it->second->cancelled = true;
    if (it->second->cancel) it->second->cancel();
    spdlog::info("event=mcp_cancelled session={} request={}", session.id, it->first);
  }
}

awaitable<void> tools_call(HttpContext& ctx, Services& s, std::shared_ptr<mcp::Session> session,
                           const mcp::Message& msg) {
  const json& params = msg.params;
  if (!params.contains("name") || !params["name"].is_string())
    co_return co_await send_failure(ctx, 200, mcp::kInvalidParams,
                                    "tools/call: 'name' (a string) is required", msg.id);
  const std::string name = params["name"];
  if (mcp::find_tool(name) == nullptr)
    co_return co_await send_failure(ctx, 200, mcp::kInvalidParams,
                                    "Unknown tool: " + name + " (tools/list lists them)", msg.id);
  json arguments = json::object();
  if (params.contains("arguments") && !params["arguments"].is_null()) {
    if (!params["arguments"].is_object())
      co_return co_await send_failure(ctx, 200, mcp::kInvalidParams,
                                      "tools/call: 'arguments' must be an object", msg.id);
    arguments = params["arguments"];
  }
  const std::string key = mcp::id_key(msg.id);
  if (session->in_flight.count(key) != 0)
    co_return co_await send_failure(ctx, 200, mcp::kInvalidRequest,
                                    "request id " + key + " is already in use in this session",
                                    msg.id);
  auto in_flight = std::make_shared<mcp::InFlight>();
  session->in_flight[key] = in_flight;
  // SSE when the client takes it: progress can go out before the result,
  // and a cancelled call ends its stream without one.
  const bool sse = ctx.stream_mode() == StreamMode::kSse;
  mcp::ToolCall call{s, session, in_flight, nullptr};
  std::optional<json> token;
  if (params.contains("_meta") && params["_meta"].is_object()) {
    const json& meta = params["_meta"];
    if (meta.contains("progressToken") &&
        (meta["progressToken"].is_string() || meta["progressToken"].is_number_integer()))
      token = meta["progressToken"];
  }
  if (sse) {
    co_await ctx.begin_stream();
    if (token) {
      call.progress = [&ctx, token, in_flight](double progress,
                                               std::string message) -> awaitable<void> {
        if (in_flight->cancelled) co_return;
        json p = {{"progressToken", *token}, {"progress", progress}, {"message", message}};
        co_await ctx.stream_event(mcp::make_notification("notifications/progress", std::move(p)));
      };
    }
  }
  std::optional<json> result;
  std::string failure;
  try {
    result = co_await mcp::call_tool(call, name, arguments);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  session->in_flight.erase(key);
  json reply;
  if (in_flight->cancelled) {
    spdlog::info("event=mcp_call_cancelled session={} tool={}", session->id, name);
    if (sse) co_return co_await ctx.end_stream();
    reply = mcp::make_error(msg.id, kTransportError, "the request was cancelled");
  } else if (result) {
    reply = mcp::make_result(msg.id, std::move(*result));
  } else {
    spdlog::error("event=mcp_tool_exception tool={} error=\"{}\"", name, failure);
    reply = mcp::make_error(msg.id, mcp::kInternalError, "internal error: " + failure);
  }
  if (!sse) co_return co_await send_rpc(ctx, 200, reply);
  co_await ctx.stream_event(reply);
  co_await ctx.end_stream();
}

awaitable<void> on_request(HttpContext& ctx, Services& s, std::shared_ptr<mcp::Session> session,
                           const mcp::Message& msg) {
  if (msg.method == "ping") co_return co_await send_rpc(ctx, 200, mcp::make_result(msg.id, {}));
  if (msg.method == "initialize") {
    co_return co_await send_failure(ctx, 400, mcp::kInvalidRequest,
                                    "this session is already initialized", msg.id);
  }
  if (msg.method == "tools/list") {
    if (msg.params.contains("cursor"))
      co_return co_await send_failure(ctx, 200, mcp::kInvalidParams, "invalid cursor", msg.id);
    json result = {{"tools", mcp::tool_definitions()}};
    co_return co_await send_rpc(ctx, 200, mcp::make_result(msg.id, std::move(result)));
  }
  if (msg.method == "tools/call") co_return co_await tools_call(ctx, s, std::move(session), msg);
  co_await send_failure(ctx, 200, mcp::kMethodNotFound, "Method not found: " + msg.method, msg.id);
}

// The session a request names, or null after answering 400/404.
awaitable<std::shared_ptr<mcp::Session>> require_session(HttpContext& ctx, Services& s,
                                                         const std::optional<json>& id) {
  const std::string sid = header(ctx, "Mcp-Session-Id");
  if (sid.empty()) {
    co_await send_failure(ctx, 400, kTransportError,
                          "Bad Request: the Mcp-Session-Id header is required (initialize first)",
                          id);
    co_return nullptr;
  }
  auto session = s.mcp_sessions->find(sid);
  // Another workspace's or key's session is as unknown as an ended one.
  if (!session || session->workspace != ctx.workspace() || session->key_tag != key_tag(ctx)) {
    co_await send_failure(ctx, 404, -32001,
                          "Session not found (ended or expired): initialize again", id);
    co_return nullptr;
  }
  co_return session;
}

}  // namespace

awaitable<void> handle_mcp(HttpContext& ctx, Services& s) {
  if (const std::string why = mcp::check_host(header(ctx, "Host"), s.mcp_hosts); !why.empty())
    co_return co_await send_failure(ctx, 403, kTransportError, "Forbidden: " + why);
  if (const std::string why = mcp::check_origin(header(ctx, "Origin"), s.mcp_hosts); !why.empty())
    co_return co_await send_failure(ctx, 403, kTransportError, "Forbidden: " + why);
  std::optional<std::string> unauthorized;
  try {
    authenticate(ctx, s);
  } catch (const ApiError& e) {
    if (e.status != 401) throw;
    unauthorized = e.what();
  }
  if (unauthorized) {
    ctx.add_response_header("WWW-Authenticate", "Bearer realm=\"kiln\"");
    co_return co_await send_failure(ctx, 401, kTransportError, "Unauthorized: " + *unauthorized);
  }
  if (s.mcp_sessions == nullptr)
    co_return co_await send_failure(ctx, 503, kTransportError, "MCP is not enabled");
  sweep(s, co_await asio::this_coro::executor);
  if (const std::string v = header(ctx, "MCP-Protocol-Version");
      !v.empty() && !mcp::known_header_version(v)) {
    co_return co_await send_failure(ctx, 400, kTransportError,
                                    "Bad Request: unsupported MCP-Protocol-Version '" + v +
                                        "' (supported: 2025-11-25, 2025-06-18)");
  }
  const auto method = ctx.method();
  if (method == http::verb::get) {
    ctx.add_response_header("Allow", "POST, DELETE");
    co_return co_await send_failure(ctx, 405, kTransportError,
                                    "Method Not Allowed: kilnd sends no server-initiated "
                                    "messages, so there is no GET stream");
  }
  if (method == http::verb::delete_) {
    auto session = co_await require_session(ctx, s, std::nullopt);
    if (!session) co_return;
    s.mcp_sessions->remove(session->id);
    spdlog::info("event=mcp_session_end session={} reason=delete", session->id);
    co_await mcp::end_session(s, *session);
    co_return co_await ctx.send_empty(204);
  }
  if (method != http::verb::post) {
    ctx.add_response_header("Allow", "POST, DELETE");
    co_return co_await send_failure(ctx, 405, kTransportError, "Method Not Allowed");
  }
  const std::string content_type = header(ctx, "Content-Type");
  if (content_type.find("application/json") == std::string::npos) {
    co_return co_await send_failure(ctx, 415, kTransportError,
                                    "Unsupported Media Type: Content-Type must be "
                                    "application/json");
  }
  auto parsed = mcp::parse_message(ctx.request().body());
  if (!parsed.message) {
    const auto& f = parsed.failure;
    co_return co_await send_failure(ctx, 400, f.code, f.message, f.id);
  }
  const mcp::Message& msg = *parsed.message;
  if (msg.kind == mcp::MessageKind::kRequest && msg.method == "initialize") {
    if (!header(ctx, "Mcp-Session-Id").empty()) {
      co_return co_await send_failure(ctx, 400, mcp::kInvalidRequest,
                                      "initialize must not carry an Mcp-Session-Id", msg.id);
    }
    co_return co_await initialize(ctx, s, msg);
  }
  std::optional<json> id;
  if (msg.kind == mcp::MessageKind::kRequest) id = msg.id;
  auto session = co_await require_session(ctx, s, id);
  if (!session) co_return;
  if (msg.kind == mcp::MessageKind::kNotification) on_notification(*session, msg);
  if (msg.kind != mcp::MessageKind::kRequest) co_return co_await ctx.send_empty(202);
  co_await on_request(ctx, s, std::move(session), msg);
}

}  // namespace kiln::api
