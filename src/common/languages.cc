#include "common/languages.h"

namespace kiln {

const std::vector<Language>& languages() {
  static const std::vector<Language> kLanguages = {
      {"python",
       {"/usr/bin/python3", "-u", "/opt/kiln/runtimes/python/runner.py"},
       "/usr/bin/python3 -I /opt/kiln/runtimes/checkers/check_python.py",
       true,
       ""},
      {"javascript",
       {"/usr/bin/node", "/opt/kiln/runtimes/node/runner.js", "--language", "javascript"},
       "/usr/bin/node /opt/kiln/runtimes/checkers/check_js.js javascript",
       true,
       ""},
      {"typescript",
       {"/usr/bin/node", "/opt/kiln/runtimes/node/runner.js", "--language", "typescript"},
       "/usr/bin/node /opt/kiln/runtimes/checkers/check_js.js typescript",
       true,
       "/opt/kiln/runtimes/node/typescript.blob"},
      {"bash",
       {"/usr/bin/python3", "-u", "/opt/kiln/runtimes/bash/runner.py"},
       "/bin/bash /opt/kiln/runtimes/checkers/check_bash.sh",
       false,
       ""},
  };
  return kLanguages;
}

const Language* find_language(std::string_view name) {
  for (const auto& l : languages())
    if (l.name == name) return &l;
  return nullptr;
}

const std::string& language_names() {
  static const std::string kNames = [] {
    std::string out;
    for (const auto& l : languages()) out += (out.empty() ? "" : ", ") + std::string(l.name);
    return out;
  }();
  return kNames;
}

}  // namespace kiln
