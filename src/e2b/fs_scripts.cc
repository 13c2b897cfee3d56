#include "e2b/fs_scripts.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <ctime>

namespace kiln::e2b {

namespace {

// type, size, mode (octal), owner, group, mtime (s.frac), link target, path
const char* const kFormat = "'%y\\037%s\\037%m\\037%u\\037%g\\037%T@\\037%l\\037%p\\n'";

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    std::size_t i = s.find(sep, start);
    out.push_back(
        s.substr(start, i == std::string_view::npos ? std::string_view::npos : i - start));
    if (i == std::string_view::npos) return out;
    start = i + 1;
  }
}

std::string rfc3339_ms(std::string_view unix_frac) {
  double t = 0;
  try {
    t = std::stod(std::string(unix_frac));
  } catch (const std::exception&) {
    t = 0;
  }
  const auto secs = static_cast<std::time_t>(t);
  const auto ms = static_cast<int>((t - static_cast<double>(secs)) * 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                std::clamp(ms, 0, 999));
  return buf;
}

std::string base_name(std::string_view path) {
  auto i = path.rfind('/');
  return std::string(i == std::string_view::npos ? path : path.substr(i + 1));
}

}  // namespace

std::string shell_quote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'')
      out += "'\\''";
    else
      out.push_back(c);
  }
  return out + "'";
}

std::string stat_script(const std::string& path) {
  const std::string p = shell_quote(path);
  return "[ -e " + p + " ] || [ -L " + p + " ] || exit 44; find " + p + " -maxdepth 0 -printf " +
         kFormat;
}

std::string list_script(const std::string& path, unsigned depth) {
  const std::string p = shell_quote(path);
  depth = std::clamp(depth, 1u, kMaxListDepth);
  return "[ -e " + p + " ] || exit 44; [ -d " + p + " ] || exit 45; find " + p +
         " -mindepth 1 -maxdepth " + std::to_string(depth) + " -printf " + kFormat;
}

std::string mkdir_script(const std::string& path) {
  const std::string p = shell_quote(path);
  return "[ -d " + p + " ] && exit 46; [ -e " + p + " ] && exit 45; mkdir -p -- " + p +
         " && find " + p + " -maxdepth 0 -printf " + kFormat;
}

std::string move_script(const std::string& from, const std::string& to) {
  const std::string f = shell_quote(from), t = shell_quote(to);
  return "[ -e " + f + " ] || [ -L " + f + " ] || exit 44; mkdir -p -- \"$(dirname -- " + t +
         ")\" && mv -T -- " + f + " " + t + " && find " + t + " -maxdepth 0 -printf " + kFormat;
}

std::string remove_script(const std::string& path) { return "rm -rf -- " + shell_quote(path); }

std::string permissions_string(char find_type, unsigned mode) {
  std::string out;
  out.push_back(find_type == 'd' ? 'd' : find_type == 'l' ? 'L' : '-');
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) out.push_back((mode >> (8 - i)) & 1u ? rwx[i] : '-');
  return out;
}

std::vector<nlohmann::json> parse_entries(std::string_view output) {
  std::vector<nlohmann::json> out;
  for (std::string_view line : split(output, '\n')) {
    auto f = split(line, '\037');
    if (f.size() != 8 || f[0].size() != 1 || f[7].empty()) continue;
    unsigned mode = 0;
    std::from_chars(f[2].data(), f[2].data() + f[2].size(), mode, 8);
    const char t = f[0][0];
    nlohmann::json e = {
        {"name", base_name(f[7])},
        {"type", t == 'd'   ? "FILE_TYPE_DIRECTORY"
                 : t == 'l' ? "FILE_TYPE_SYMLINK"
                 : t == 'f' ? "FILE_TYPE_FILE"
                            : "FILE_TYPE_UNSPECIFIED"},
        {"path", std::string(f[7])},
        {"size", std::string(f[1])},  // int64: a JSON string in protobuf JSON
        {"mode", mode},
        {"permissions", permissions_string(t, mode)},
        {"owner", std::string(f[3])},
        {"group", std::string(f[4])},
        {"modifiedTime", rfc3339_ms(f[5])},
    };
    if (t == 'l') e["symlinkTarget"] = std::string(f[6]);
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    return a["path"].get<std::string>() < b["path"].get<std::string>();
  });
  return out;
}

}  // namespace kiln::e2b
