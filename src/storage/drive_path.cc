#include "storage/drive_path.h"

#include <cerrno>
#include <cstdint>

namespace kiln::storage {
namespace {

Status invalid(std::string why) { return Status::invalid("invalid Drive path: " + why); }

// Length of the UTF-8 sequence starting at s[i], or 0 if it is malformed
// (overlong forms, surrogates and code points above U+10FFFF included).
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  std::size_t n;
  std::uint32_t cp;
  if ((c & 0xe0) == 0xc0) {
    n = 2, cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3, cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4, cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3f);
  }
  static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

}  // namespace

Result<std::string> normalize_drive_path(std::string_view path) {
  if (path.empty()) return invalid("empty");
  if (path.front() != '/') return invalid("must start with '/'");
  for (std::size_t i = 0; i < path.size();) {
    unsigned char c = static_cast<unsigned char>(path[i]);
    if (c < 0x20 || c == 0x7f) return invalid("contains a control character");
    std::size_t n = utf8_sequence(path, i);
    if (n == 0) return invalid("not valid UTF-8");
    i += n;
  }
  std::string out;
  out.reserve(path.size());
  std::size_t pos = 0;
  while (pos < path.size()) {
    std::size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(pos, end - pos);
    pos = end + 1;
    if (part.empty()) continue;
    if (part == "." || part == "..") return invalid("'.' and '..' components are not allowed");
    if (part.size() > kMaxDrivePathComponent) {
      return invalid("a component is longer than " + std::to_string(kMaxDrivePathComponent) +
                     " bytes");
    }
    out += '/';
    out += part;
    // Checked while building so a megabyte of input fails early.
    if (out.size() > kMaxDrivePath) {
      return invalid("longer than " + std::to_string(kMaxDrivePath) + " bytes");
    }
  }
  if (out.empty()) return invalid("names no file");
  return out;
}

Result<std::string> normalize_drive_prefix(std::string_view prefix) {
  if (prefix.find_first_not_of('/') == std::string_view::npos) return std::string("/");
  return normalize_drive_path(prefix);
}

}  // namespace kiln::storage
