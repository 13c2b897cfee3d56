// Reading REPL input: libedit (line editing, history kept in a file) when
// stdin is a terminal, plain lines otherwise. Ctrl-C at the prompt drops
// the line being typed and is reported as kInterrupted; Ctrl-D on an empty
// line is kEof.
//
// Thread-safety: one LineEditor per process (libedit's readline state is
// global).
#pragma once

#include <string>

namespace kiln::cli {

class LineEditor {
 public:
  enum class Kind { kLine, kInterrupted, kEof };
  struct Input {
    Kind kind = Kind::kEof;
    std::string line;
  };

  // history_path: where history is read from and saved to ("" for none).
  explicit LineEditor(std::string history_path);
  ~LineEditor();
  LineEditor(const LineEditor&) = delete;
  LineEditor& operator=(const LineEditor&) = delete;

  Input read(const std::string& prompt);
  // Adds an entry (a whole cell, possibly several lines) to the history.
  void remember(const std::string& entry);
  bool interactive() const { return interactive_; }

 private:
  Input read_plain(const std::string& prompt);

  std::string history_path_;
  bool interactive_;
  bool dirty_ = false;
};

}  // namespace kiln::cli
