// What every command gets: the global options, the API client built from
// them on first use, and the output conventions (tables by default, JSON
// with --json, one-line "kiln: ..." messages on stderr, exit codes).
//
// Thread-safety: single-threaded (one command per process).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cli/api_client.h"
#include "cli/settings.h"
#include "common/status.h"

namespace kiln::cli {

// Exit codes: 0 ok; 1 an API, transport or usage error; 2 the user's code
// failed (kiln run / repl input raised, kiln validate found errors);
// 130 interrupted by Ctrl-C; 141 the output's reader went away (SIGPIPE's
// status, as a shell reports a process killed by it).
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitCodeFailed = 2;
inline constexpr int kExitInterrupted = 130;
inline constexpr int kExitOutputClosed = 141;

struct Context {
  SettingsFlags flags;
  bool json = false;
  // Set by the chosen subcommand's parse callback, run after parsing.
  std::function<int()> action;

  // The client for the resolved settings (flags, env, config file).
  Result<ApiClient*> api();
  const Settings& settings() const { return *settings_; }

 private:
  std::optional<Settings> settings_;
  std::optional<ApiClient> api_;
};

// Prints "kiln: <message>" on stderr and returns kExitError.
int report(const Status& s);
int report(const std::string& message);
// Prints a JSON value on stdout, indented.
void print_json(const nlohmann::json& value);

// Reads a local file or "-" (stdin) whole.
Result<std::string> read_input(const std::string& path);
// Writes a local file (or "-": stdout) whole.
Status write_output(const std::string& path, const std::string& data);
// The last component of a path ("a/b/c.csv" -> "c.csv").
std::string base_name(const std::string& path);

// A json field as text for a table cell ("" when missing or null).
std::string cell(const nlohmann::json& obj, const std::string& key);

}  // namespace kiln::cli
