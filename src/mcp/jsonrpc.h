// JSON-RPC 2.0 framing for MCP: reading one message (size- and
// depth-bounded, never a batch), and building results and errors.
//
// An MCP message is exactly one JSON object: a request (method + id), a
// notification (method, no id) or a response (result or error, with an id).
// Batches (arrays) were removed from MCP in 2025-06-18 and are refused.
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/bounded_json.h"

namespace kiln::mcp {

// JSON-RPC and MCP error codes.
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
inline constexpr int kResourceNotFound = -32002;

// What a client may send: far more than any tool call needs (file contents
// travel base64 in write_file), far less deep than the default.
inline constexpr JsonLimits kMessageLimits{64u << 20, 64};

enum class MessageKind { kRequest, kNotification, kResponse };

struct Message {
  MessageKind kind = MessageKind::kRequest;
  nlohmann::json id;  // requests and responses; null for notifications
  std::string method;
  nlohmann::json params = nlohmann::json::object();
};

// A message that could not be read: the error to answer and the id, if the
// message had a usable one (it is echoed; otherwise the reply has no id).
struct ParseFailure {
  int code = kInvalidRequest;
  std::string message;
  std::optional<nlohmann::json> id;
};

// Either a Message or why not.
struct ParsedMessage {
  std::optional<Message> message;
  ParseFailure failure;
};

// Reads one MCP message from `text` (an HTTP body or a stdio line).
ParsedMessage parse_message(std::string_view text, const JsonLimits& limits = kMessageLimits);

// {"jsonrpc":"2.0","id":id,"result":result}; result must be an object.
nlohmann::json make_result(const nlohmann::json& id, nlohmann::json result);
// An error reply; `id` is left out (never null) when it is unknown.
nlohmann::json make_error(const std::optional<nlohmann::json>& id, int code,
                          const std::string& message,
                          const std::optional<nlohmann::json>& data = std::nullopt);
// A notification from the server.
nlohmann::json make_notification(const std::string& method, nlohmann::json params);

// A request id as a map key that keeps its JSON type ("5" and 5 differ).
std::string id_key(const nlohmann::json& id);

// Serialises for the wire: one line, invalid UTF-8 replaced.
std::string dump_message(const nlohmann::json& message);

}  // namespace kiln::mcp
