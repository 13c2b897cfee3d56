// RunOutput: what one run (an execution or a foreground command) may send
// to kilnd, and the notices when it was cut.
//
// stdout and stderr are capped per stream (output_cap bytes each, cut on a
// UTF-8 boundary); results and errors share one budget (result_cap bytes of
// their JSON). What is over is dropped, counted and reported in a notice of
// its own before the run's End, so a user sees that, and how much, output
// was lost. An error is never dropped: its text fields are cut to size.
//
// Thread-safety: single-threaded.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "agent/event_sink.h"
#include "protocol/messages.h"

namespace kiln::agent {

// Caps on an error's fields (kiln-init sends at most this much per error).
inline constexpr std::size_t kMaxErrorName = 256;
inline constexpr std::size_t kMaxErrorValue = 64u << 10;
inline constexpr std::size_t kMaxErrorTraceback = 256u << 10;

class RunOutput {
 public:
  RunOutput(EventSink& sink, std::uint64_t rid, std::uint64_t output_cap, std::uint64_t result_cap);

  std::uint64_t rid() const { return rid_; }
  // Invalid UTF-8 is replaced (U+FFFD) before the cap applies.
  void output(protocol::Stream stream, std::string_view raw);
  // `bytes`: the size of the result as the runner sent it.
  void result(nlohmann::json bundle, std::size_t bytes);
  void error(protocol::ErrorEvent error);
  // A runner message kiln-init could not take (too deep, too large, not
  // JSON): an error for the run, and counted for the notice.
  void refused(std::size_t bytes, const std::string& why);
  // Sends the notices, then `end`. Nothing may be sent after it.
  void end(protocol::End end);

 private:
  void notice(protocol::Stream stream, std::string text);

  EventSink& sink_;
  std::uint64_t rid_;
  std::uint64_t output_cap_;
  std::uint64_t result_cap_;
  std::uint64_t sent_[2] = {0, 0};
  std::uint64_t dropped_[2] = {0, 0};
  std::uint64_t result_bytes_ = 0;
  std::uint64_t results_dropped_ = 0;
  std::uint64_t result_bytes_dropped_ = 0;
  std::string result_refusal_;  // why the first dropped result was dropped
};

// Cuts `error`'s text fields to the caps above, on UTF-8 boundaries.
void bound_error(protocol::ErrorEvent& error);

}  // namespace kiln::agent
