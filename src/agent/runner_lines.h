// The JSON-lines protocol between kiln-init and a language runner (see
// runtimes/python/runner.py), decoded with the runner treated as hostile:
// user code shares the runner's process and can write anything to its
// control socket. Lines are bounded in length (LineBuffer) and in depth and
// size (decode_runner_line); a line that fails either is refused, never
// half-used.
//
// Thread-safety: value types and pure functions.
#pragma once

#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>

#include "common/bounded_json.h"
#include "protocol/frame.h"
#include "protocol/messages.h"

namespace kiln::agent {

// A line must fit in one frame to kilnd with room for the envelope, which
// adds two levels of nesting ({"op": "result", "result": {...}}).
inline constexpr std::size_t kMaxRunnerLine = protocol::kMaxJsonBytes - (64u << 10);
inline constexpr JsonLimits kRunnerLineLimits{kMaxRunnerLine, kProtocolJsonLimits.max_depth - 4};

struct RunnerReady {};
struct RunnerResult {
  nlohmann::json bundle;  // the MIME fields, without "type"
};
struct RunnerError {
  protocol::ErrorEvent error;
};
struct RunnerDone {
  std::int64_t execution_count = 0;
};
struct RunnerRefused {
  std::string why;
};
using RunnerMessage =
    std::variant<RunnerReady, RunnerResult, RunnerError, RunnerDone, RunnerRefused>;

RunnerMessage decode_runner_line(std::string_view line);

// The line that starts an execution.
std::string encode_execute_line(const std::string& code, const protocol::StringMap& env);

// Splits a byte stream into lines of at most max_line bytes. A longer line
// is dropped whole: on_overlong is called once with the bytes dropped so
// far, and the rest up to its newline is skipped. Memory stays bounded by
// max_line whatever the peer writes.
class LineBuffer {
 public:
  explicit LineBuffer(std::size_t max_line) : max_line_(max_line) {}
  void feed(std::string_view bytes, const std::function<void(std::string_view)>& on_line,
            const std::function<void(std::size_t)>& on_overlong);
  void clear() {
    buf_.clear();
    skipping_ = false;
  }

 private:
  std::size_t max_line_;
  std::string buf_;  // an incomplete line, holding no newline
  bool skipping_ = false;
};

}  // namespace kiln::agent
