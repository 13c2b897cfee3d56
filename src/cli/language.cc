#include "cli/language.h"

#include <map>

namespace kiln::cli {

Result<std::string> normalize_language(const std::string& name) {
  static const std::map<std::string, std::string> kNames = {{"python", "python"},
                                                            {"py", "python"},
                                                            {"python3", "python"},
                                                            {"javascript", "javascript"},
                                                            {"js", "javascript"},
                                                            {"node", "javascript"},
                                                            {"typescript", "typescript"},
                                                            {"ts", "typescript"},
                                                            {"bash", "bash"},
                                                            {"sh", "bash"},
                                                            {"shell", "bash"}};
  auto it = kNames.find(name);
  if (it == kNames.end())
    return Status::internal("unknown language '" + name +
                            "' (python, javascript, typescript or bash)");
  return it->second;
}

Result<std::string> detect_language(const std::string& path, const std::string& code) {
  static const std::map<std::string, std::string> kExtensions = {
      {".py", "python"},     {".js", "javascript"},  {".mjs", "javascript"}, {".cjs", "javascript"},
      {".ts", "typescript"}, {".mts", "typescript"}, {".sh", "bash"},        {".bash", "bash"}};
  const auto slash = path.rfind('/');
  const auto dot = path.rfind('.');
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) {
    if (auto it = kExtensions.find(path.substr(dot)); it != kExtensions.end()) return it->second;
  }
  if (code.rfind("#!", 0) == 0) {
    const std::string first = code.substr(0, code.find('\n'));
    if (first.find("python") != std::string::npos) return std::string("python");
    if (first.find("node") != std::string::npos) return std::string("javascript");
    if (first.find("sh") != std::string::npos) return std::string("bash");
  }
  return Status::internal("cannot tell the language of '" + path +
                          "' from its name; give --lang python|javascript|typescript|bash");
}

}  // namespace kiln::cli
