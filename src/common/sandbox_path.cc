#include "common/sandbox_path.h"

#include <vector>

namespace kiln {

Result<std::string> normalize_sandbox_path(std::string_view path, std::string_view home) {
  if (path.find('\0') != std::string_view::npos)
    return Status::internal("path contains a NUL byte");
  if (path.size() > kMaxSandboxPath) return Status::internal("path is too long");
  std::string full;
  if (path.empty() || path.front() != '/') {
    full.assign(home);
    full += '/';
  }
  full.append(path);
  std::vector<std::string_view> parts;
  std::string_view rest(full);
  while (!rest.empty()) {
    const auto slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    if (part.size() > 255) return Status::internal("path component is too long");
    parts.push_back(part);
  }
  std::string out;
  for (auto p : parts) {
    out += '/';
    out += p;
  }
  if (out.empty()) out.push_back('/');
  // A relative path within the limit can exceed it once under /home/user;
  // what is accepted must itself be acceptable (normalising is idempotent).
  if (out.size() > kMaxSandboxPath) return Status::internal("path is too long");
  return out;
}

}  // namespace kiln
