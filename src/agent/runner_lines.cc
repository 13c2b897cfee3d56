#include "agent/runner_lines.h"

namespace kiln::agent {

using nlohmann::json;

namespace {

// A field of a runner message: a string (else empty), never throwing.
std::string text_field(const json& msg, const char* key) {
  auto it = msg.find(key);
  return it != msg.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

RunnerMessage decode_runner_line(std::string_view line) {
  auto parsed = parse_bounded_json(line, kRunnerLineLimits);
  if (!parsed) return RunnerRefused{"a runner message: " + parsed.status().message()};
  json& msg = *parsed;
  if (!msg.is_object()) return RunnerRefused{"a runner message that is not a JSON object"};
  const std::string type = text_field(msg, "type");
  if (type == "ready") return RunnerReady{};
  if (type == "result") {
    msg.erase("type");
    return RunnerResult{std::move(msg)};
  }
  if (type == "error") {
    protocol::ErrorEvent e{text_field(msg, "name"), text_field(msg, "value"),
                           text_field(msg, "traceback"), std::nullopt};
    if (auto it = msg.find("line"); it != msg.end() && it->is_number_integer())
      e.line = it->get<std::int64_t>();
    return RunnerError{std::move(e)};
  }
  if (type == "done") {
    RunnerDone d;
    if (auto it = msg.find("execution_count"); it != msg.end() && it->is_number_integer())
      d.execution_count = it->get<std::int64_t>();
    return d;
  }
  return RunnerRefused{"a runner message of unknown type '" + type.substr(0, 64) + "'"};
}

std::string encode_execute_line(const std::string& code, const protocol::StringMap& env) {
  json e = json::object();
  for (const auto& [k, v] : env) e[k] = v;
  json line = {{"type", "execute"}, {"code", code}, {"env", std::move(e)}};
  return line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

void LineBuffer::feed(std::string_view bytes, const std::function<void(std::string_view)>& on_line,
                      const std::function<void(std::size_t)>& on_overlong) {
  while (!bytes.empty()) {
    const auto nl = bytes.find('\n');
    const std::string_view piece = bytes.substr(0, nl);
    if (skipping_) {
      // The tail of an over-long line: drop it up to its newline.
      if (nl != std::string_view::npos) skipping_ = false;
    } else if (buf_.size() + piece.size() > max_line_) {
      on_overlong(buf_.size() + piece.size());
      buf_.clear();
      skipping_ = nl == std::string_view::npos;
    } else if (nl == std::string_view::npos) {
      buf_.append(piece);
    } else if (buf_.empty()) {
      on_line(piece);  // the common case: a whole line in one read, no copy
    } else {
      buf_.append(piece);
      std::string line = std::move(buf_);
      buf_.clear();
      on_line(line);
    }
    if (nl == std::string_view::npos) break;
    bytes.remove_prefix(nl + 1);
  }
}

}  // namespace kiln::agent
