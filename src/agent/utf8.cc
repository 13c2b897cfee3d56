#include "agent/utf8.h"

namespace kiln::agent {

std::size_t complete_utf8_prefix(std::string_view s) {
  const std::size_t n = s.size();
  // Walk back over at most 3 continuation bytes to the last lead byte.
  std::size_t i = n;
  int back = 0;
  while (i > 0 && back < 4) {
    const unsigned char c = static_cast<unsigned char>(s[i - 1]);
    if ((c & 0xC0) != 0x80) {
      std::size_t need = 1;
      if ((c & 0xE0) == 0xC0)
        need = 2;
      else if ((c & 0xF0) == 0xE0)
        need = 3;
      else if ((c & 0xF8) == 0xF0)
        need = 4;
      return (n - (i - 1)) >= need ? n : i - 1;
    }
    --i;
    ++back;
  }
  return n;  // garbage: pass it on, JSON encoding replaces it
}

}  // namespace kiln::agent
