// The languages Kiln runs, in one place: how kiln-init starts each one's
// runner, how /v1/validate parses it, whether /v1/test can call into it.
// Every layer (the API's checks, the manager, the daemon's flags, kiln-init)
// reads this table; adding a language is one entry here plus its runner.
//
// Thread-safety: immutable data.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kiln {

struct Language {
  std::string_view name;                 // "python"
  std::vector<std::string> runner_argv;  // inside the sandbox
  std::string checker_command;           // /v1/validate: prints a JSON array of findings
  bool testable;                         // /v1/test can evaluate calls in it
  // A V8 startup snapshot the runner starts from when the file exists
  // inside the sandbox (runtimes/node/snapshot.js; empty: none).
  std::string startup_snapshot;
};

// Every language, in the order the API lists them.
const std::vector<Language>& languages();
// The language called `name`, or null.
const Language* find_language(std::string_view name);
// "python, javascript, typescript, bash".
const std::string& language_names();

// The language of contexts made without one.
inline constexpr std::string_view kDefaultLanguage = "python";

}  // namespace kiln
