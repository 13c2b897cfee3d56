#include "mcp/sse_reader.h"

namespace kiln::mcp {

std::vector<std::string> SseReader::feed(std::string_view bytes) {
  std::vector<std::string> out;
  pending_.append(bytes);
  if (pending_.size() + data_.size() > kMaxEventBytes) {
    // One event bigger than any message kilnd sends: drop it.
    pending_.clear();
    data_.clear();
    has_data_ = false;
    return out;
  }
  std::size_t start = 0;
  while (true) {
    const auto nl = pending_.find('\n', start);
    if (nl == std::string::npos) break;
    std::string_view l(pending_.data() + start, nl - start);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    line(l, out);
    start = nl + 1;
  }
  pending_.erase(0, start);
  return out;
}

void SseReader::line(std::string_view l, std::vector<std::string>& out) {
  if (l.empty()) {
    if (has_data_ && !data_.empty() && (event_.empty() || event_ == "message"))
      out.push_back(data_);
    data_.clear();
    has_data_ = false;
    event_.clear();
    return;
  }
  if (l.front() == ':') return;  // a comment
  const auto colon = l.find(':');
  std::string_view field = l.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = l.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) data_ += '\n';
    data_.append(value);
    has_data_ = true;
  } else if (field == "event") {
    event_ = std::string(value);
  }
}

}  // namespace kiln::mcp
