// Splits a byte stream into lines as pieces arrive (NDJSON events).
//
// Thread-safety: none; one splitter per stream.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace kiln::cli {

class LineSplitter {
 public:
  explicit LineSplitter(std::function<void(std::string_view)> on_line)
      : on_line_(std::move(on_line)) {}

  // Feeds a piece; calls on_line for every complete line in it (without the
  // "\n" or a "\r" before it; empty lines are skipped).
  void feed(std::string_view piece);
  // The unterminated rest, if any, as a last line.
  void finish();

 private:
  void emit(std::string_view line);

  std::function<void(std::string_view)> on_line_;
  std::string pending_;
};

}  // namespace kiln::cli
