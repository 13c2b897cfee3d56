// ASCII case folding for protocol tokens (host names, header names, URL
// schemes, file extensions). Not locale-aware on purpose: a protocol's
// case rules are ASCII's, whatever locale kilnd runs in.
#pragma once

#include <string>
#include <string_view>

namespace kiln {

inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace kiln
