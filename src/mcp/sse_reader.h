// An incremental reader of text/event-stream bodies (the WHATWG format):
// feed it bytes as they arrive, get back the data of each complete
// "message" event. Comments, retry and id lines are skipped, events with
// another name are ignored, several data lines are joined with "\n", and
// CRLF line ends are accepted.
//
// Thread-safety: none; one reader per stream.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kiln::mcp {

// Larger events are dropped (bounded memory).
inline constexpr std::size_t kMaxEventBytes = 64u << 20;

class SseReader {
 public:
  // The data of every event completed by `bytes` (events with empty data
  // are dropped: the 2025-11-25 priming event is one).
  std::vector<std::string> feed(std::string_view bytes);

 private:
  void line(std::string_view l, std::vector<std::string>& out);

  std::string pending_;  // an unfinished line
  std::string data_;
  bool has_data_ = false;
  std::string event_;
};

}  // namespace kiln::mcp
