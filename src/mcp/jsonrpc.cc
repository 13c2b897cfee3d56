#include "mcp/jsonrpc.h"

namespace kiln::mcp {

using nlohmann::json;

namespace {

bool valid_id(const json& id) { return id.is_string() || id.is_number_integer(); }

ParsedMessage fail(int code, std::string message) {
  ParsedMessage out;
  out.failure.code = code;
  out.failure.message = std::move(message);
  return out;
}

// The same, echoing the message's id when it had a usable one.
ParsedMessage fail(int code, std::string message, const std::optional<json>& id) {
  ParsedMessage out = fail(code, std::move(message));
  out.failure.id = id;
  return out;
}

}  // namespace

ParsedMessage parse_message(std::string_view text, const JsonLimits& limits) {
  auto parsed = parse_bounded_json(text, limits);
  if (!parsed) {
    const std::string& why = parsed.status().message();
    // Size and depth refusals are well-formed JSON we will not take.
    const bool bound = why.find("nested deeper") != std::string::npos ||
                       why.find("larger than") != std::string::npos;
    return fail(bound ? kInvalidRequest : kParseError,
                (bound ? "message refused: " : "parse error: ") + why);
  }
  json& j = *parsed;
  if (j.is_array()) {
    return fail(kInvalidRequest,
                "batches are not supported: send one JSON-RPC message per request "
                "(MCP removed batching in 2025-06-18)");
  }
  if (!j.is_object()) return fail(kInvalidRequest, "a JSON-RPC message must be a JSON object");
  std::optional<json> id;
  if (auto it = j.find("id"); it != j.end() && valid_id(*it)) id = *it;
  auto version = j.find("jsonrpc");
  if (version == j.end() || *version != "2.0")
    return fail(kInvalidRequest, "'jsonrpc' must be \"2.0\"", id);
  if (j.contains("id") && !valid_id(j["id"]))
    return fail(kInvalidRequest, "'id' must be a string or an integer (never null)");
  Message m;
  if (auto it = j.find("method"); it != j.end()) {
    if (!it->is_string()) return fail(kInvalidRequest, "'method' must be a string", id);
    m.method = it->get<std::string>();
    if (auto p = j.find("params"); p != j.end()) {
      if (!p->is_object()) return fail(kInvalidRequest, "'params' must be an object", id);
      m.params = std::move(*p);
    }
    m.kind = id ? MessageKind::kRequest : MessageKind::kNotification;
    if (id) m.id = *id;
    return ParsedMessage{std::move(m), {}};
  }
  if (j.contains("result") || j.contains("error")) {
    if (!id) return fail(kInvalidRequest, "a response needs an 'id'");
    m.kind = MessageKind::kResponse;
    m.id = *id;
    return ParsedMessage{std::move(m), {}};
  }
  return fail(kInvalidRequest, "not a JSON-RPC request, notification or response", id);
}

json make_result(const json& id, json result) {
  if (!result.is_object()) result = json::object();
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

json make_error(const std::optional<json>& id, int code, const std::string& message,
                const std::optional<json>& data) {
  json err = {{"code", code}, {"message", message}};
  if (data) err["data"] = *data;
  json out = {{"jsonrpc", "2.0"}, {"error", std::move(err)}};
  if (id) out["id"] = *id;
  return out;
}

json make_notification(const std::string& method, json params) {
  return json{{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
}

std::string id_key(const json& id) { return dump_message(id); }

std::string dump_message(const json& message) {
  return message.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace kiln::mcp
