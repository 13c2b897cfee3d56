// Carrying out an MCP tools/call: argument checks, the sandbox it acts on,
// and the CallToolResult (text, images, structuredContent). Failures of the
// tool — bad arguments, an unknown sandbox, an exception in the code, a
// non-zero exit — are results with isError: true, never protocol errors,
// so the model can read them and correct itself.
//
// Thread-safety: single-threaded, on the daemon's io_context.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "api/services.h"
#include "mcp/session.h"

namespace kiln::mcp {

struct ToolCall {
  api::Services& services;
  std::shared_ptr<Session> session;
  std::shared_ptr<InFlight> in_flight;
  // Set when the client asked for progress: sends notifications/progress.
  std::function<boost::asio::awaitable<void>(double progress, std::string message)> progress;
};

// The CallToolResult of `name` (which must be a defined tool).
boost::asio::awaitable<nlohmann::json> call_tool(ToolCall& call, const std::string& name,
                                                 const nlohmann::json& arguments);

// Ends the session's own sandbox (DELETE, idle expiry, shutdown).
boost::asio::awaitable<void> end_session(api::Services& services, Session& session);

// Standard base64 of `bytes`.
std::string encode_base64(std::string_view bytes);

}  // namespace kiln::mcp
