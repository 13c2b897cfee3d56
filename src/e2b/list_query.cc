#include "e2b/list_query.h"

#include <uriparser/Uri.h>

#include <vector>

namespace kiln::e2b {

namespace {

// Percent-decodes once; an invalid escape is kept as it is.
std::string unescape(std::string s) {
  if (s.find('%') == std::string::npos) return s;
  std::vector<char> buf(s.begin(), s.end());
  buf.push_back('\0');
  const char* end = uriUnescapeInPlaceExA(buf.data(), URI_FALSE, URI_BR_DONT_TOUCH);
  return std::string(buf.data(), static_cast<std::size_t>(end - buf.data()));
}

}  // namespace

Result<std::map<std::string, std::string>> parse_metadata_filter(const std::string& value) {
  std::map<std::string, std::string> out;
  if (value.empty()) return out;
  if (value.find("%00") != std::string::npos) return Status::invalid("metadata contains %00");
  UriQueryListA* list = nullptr;
  int count = 0;
  if (uriDissectQueryMallocA(&list, &count, value.data(), value.data() + value.size()) !=
      URI_SUCCESS) {
    return Status::invalid("malformed metadata filter");
  }
  for (auto* it = list; it != nullptr; it = it->next) {
    if (it->key == nullptr || *it->key == '\0') continue;
    out[unescape(it->key)] = unescape(it->value ? it->value : "");
  }
  uriFreeQueryListA(list);
  if (out.size() > kMaxMetadataFilters)
    return Status::invalid("more than " + std::to_string(kMaxMetadataFilters) +
                           " metadata filters");
  return out;
}

Result<std::set<std::string>> parse_states(const std::string& value) {
  if (value.empty()) return std::set<std::string>{"running", "paused"};
  std::set<std::string> out;
  std::size_t start = 0;
  while (start <= value.size()) {
    std::size_t comma = value.find(',', start);
    std::string s =
        value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (s != "running" && s != "paused") return Status::invalid("unknown state '" + s + "'");
    out.insert(s);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace kiln::e2b
