#include "cli/settings.h"

#include <toml++/toml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace kiln::cli {
namespace {

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n";
  auto b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::string get(const Env& env, const std::string& name) {
  auto it = env.find(name);
  return it == env.end() ? "" : it->second;
}

Result<std::string> read_file(const std::string& path, bool* missing) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    if (missing) *missing = err == ENOENT;
    return Status::from_errno("cannot read " + path, err);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

Env process_env() {
  Env env;
  for (const char* name :
       {"HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "KILN_URL", "KILN_API_KEY"}) {
    if (const char* v = std::getenv(name)) env[name] = v;  // NOLINT(concurrency-mt-unsafe)
  }
  return env;
}

Result<ConfigFile> parse_config(const std::string& text, const std::string& path) {
  toml::table table;
  try {
    table = toml::parse(text, path);
  } catch (const toml::parse_error& err) {
    return Status::internal(path + ":" + std::to_string(err.source().begin.line) + ": " +
                            std::string(err.description()));
  }
  ConfigFile out;
  for (auto&& [key, node] : table) {
    const std::string name(key.str());
    std::string* field = name == "url"            ? &out.url
                         : name == "api_key"      ? &out.api_key
                         : name == "api_key_file" ? &out.api_key_file
                                                  : nullptr;
    const std::string where = path + ":" + std::to_string(node.source().begin.line);
    if (!field)
      return Status::internal(where + ": unknown setting '" + name +
                              "' (known: url, api_key, api_key_file)");
    const auto* value = node.as_string();
    if (!value) return Status::internal(where + ": '" + name + "' must be a string");
    *field = value->get();
  }
  return out;
}

std::string expand_home(const std::string& path, const Env& env) {
  if (path == "~" || path.rfind("~/", 0) == 0) return get(env, "HOME") + path.substr(1);
  return path;
}

std::string default_config_path(const Env& env) {
  std::string base = get(env, "XDG_CONFIG_HOME");
  if (base.empty()) base = get(env, "HOME") + "/.config";
  return base + "/kiln/config.toml";
}

std::string default_history_path(const Env& env) {
  std::string base = get(env, "XDG_STATE_HOME");
  if (base.empty()) base = get(env, "HOME") + "/.local/state";
  return base + "/kiln/history";
}

Result<std::string> read_key_file(const std::string& path) {
  auto text = read_file(path, nullptr);
  if (!text) return Status::internal("cannot read the API key file: " + text.status().message());
  std::string first = text->substr(0, text->find('\n'));
  std::string key = trim(first);
  if (key.empty()) return Status::internal("the API key file " + path + " is empty");
  return key;
}

Result<Settings> resolve_settings(const SettingsFlags& flags, const Env& env) {
  const std::string config_path =
      flags.config_path.empty() ? default_config_path(env) : expand_home(flags.config_path, env);
  ConfigFile file;
  bool missing = false;
  auto text = read_file(config_path, &missing);
  if (text) {
    auto parsed = parse_config(*text, config_path);
    if (!parsed) return parsed.status();
    file = *parsed;
  } else if (!missing || !flags.config_path.empty()) {
    return Status::internal("config file: " + text.status().message());
  }

  Settings s;
  s.url_from = "default";
  if (!flags.url.empty()) {
    s.url = flags.url;
    s.url_from = "--url";
  } else if (auto v = get(env, "KILN_URL"); !v.empty()) {
    s.url = v;
    s.url_from = "KILN_URL";
  } else if (!file.url.empty()) {
    s.url = file.url;
    s.url_from = config_path;
  }

  if (!flags.api_key_file.empty()) {
    auto key = read_key_file(expand_home(flags.api_key_file, env));
    if (!key) return key.status();
    s.api_key = *key;
    s.key_from = "--api-key-file";
  } else if (auto v = trim(get(env, "KILN_API_KEY")); !v.empty()) {
    s.api_key = v;
    s.key_from = "KILN_API_KEY";
  } else if (!file.api_key.empty()) {
    s.api_key = trim(file.api_key);
    s.key_from = config_path;
  } else if (!file.api_key_file.empty()) {
    auto key = read_key_file(expand_home(file.api_key_file, env));
    if (!key) return Status::internal(config_path + ": " + key.status().message());
    s.api_key = *key;
    s.key_from = config_path;
  }
  return s;
}

}  // namespace kiln::cli
