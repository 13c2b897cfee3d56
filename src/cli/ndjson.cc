#include "cli/ndjson.h"

namespace kiln::cli {

void LineSplitter::emit(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!line.empty()) on_line_(line);
}

void LineSplitter::feed(std::string_view piece) {
  while (!piece.empty()) {
    auto nl = piece.find('\n');
    if (nl == std::string_view::npos) {
      pending_.append(piece);
      return;
    }
    if (pending_.empty()) {
      emit(piece.substr(0, nl));
    } else {
      pending_.append(piece.substr(0, nl));
      std::string line = std::move(pending_);
      pending_.clear();
      emit(line);
    }
    piece.remove_prefix(nl + 1);
  }
}

void LineSplitter::finish() {
  std::string line = std::move(pending_);
  pending_.clear();
  emit(line);
}

}  // namespace kiln::cli
