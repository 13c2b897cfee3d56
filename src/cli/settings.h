// Where kiln finds kilnd and its key: flags first, then the environment
// (KILN_URL, KILN_API_KEY), then the config file
// (~/.config/kiln/config.toml, or $XDG_CONFIG_HOME/kiln/config.toml):
//
//   url = "http://127.0.0.1:8420"
//   api_key = "kiln_..."          # or: api_key_file = "~/.config/kiln/key"
//
// Thread-safety: pure functions over the values given.
#pragma once

#include <map>
#include <string>

#include "common/status.h"

namespace kiln::cli {

inline constexpr const char* kDefaultUrl = "http://127.0.0.1:8420";

using Env = std::map<std::string, std::string>;

// The process environment as an Env (only the variables kiln reads).
Env process_env();

struct SettingsFlags {
  std::string url;           // --url
  std::string api_key_file;  // --api-key-file
  std::string config_path;   // --config (a missing file is then an error)
};

struct Settings {
  std::string url = kDefaultUrl;
  std::string api_key;   // empty: send none (kilnd's auth may be off)
  std::string url_from;  // "--url", "KILN_URL", the config path, or "default"
  std::string key_from;  // likewise, or "" when there is no key
};

// The config file's contents; fields absent from the file stay empty.
struct ConfigFile {
  std::string url;
  std::string api_key;
  std::string api_key_file;
};

// Parses TOML text. Unknown keys and wrong types are errors naming the
// file and line, so a typo does not silently fall back to a default.
Result<ConfigFile> parse_config(const std::string& text, const std::string& path);

std::string default_config_path(const Env& env);
std::string default_history_path(const Env& env);
// "~/x" with HOME from env.
std::string expand_home(const std::string& path, const Env& env);

// Reads a key file: its first line, surrounding whitespace removed.
Result<std::string> read_key_file(const std::string& path);

Result<Settings> resolve_settings(const SettingsFlags& flags, const Env& env);

}  // namespace kiln::cli
