#include "daemon/config.h"

#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <sstream>

#include "common/languages.h"
#include "protocol/frame.h"

namespace kiln {
namespace {

// A dotted Python module path (`matplotlib.pyplot`); the runner imports it
// by name, so nothing else may reach it.
bool is_module_name(const std::string& m) {
  if (m.empty() || m.size() > 200) return false;
  bool start = true;
  for (char ch : m) {
    const bool alpha = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
    const bool digit = ch >= '0' && ch <= '9';
    if (ch == '.') {
      if (start) return false;
      start = true;
    } else if (alpha || (digit && !start)) {
      start = false;
    } else {
      return false;
    }
  }
  return !start;
}

bool exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

}  // namespace

std::uint64_t Config::sandbox_file_cap() const {
  return std::min<std::uint64_t>(file_cap_bytes, protocol::kMaxDataBytes);
}

bool is_loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

Result<Config> parse_config(int argc, const char* const* argv) {
  Config c;
  CLI::App app{"kilnd: the Kiln sandbox daemon"};
  app.set_config("--config", "", "Read settings from this INI/TOML file");
  app.set_version_flag("--version", KILN_VERSION);
  app.add_option("--listen", c.listen, "HOST:PORT to listen on (loopback only)")
      ->capture_default_str();
  app.add_option("--data-dir", c.data_dir, "Folder for the daemon's state")->capture_default_str();
  app.add_option("--pool-size", c.pool_size, "Warm sandboxes kept ready")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  app.add_option("--pool-languages", c.pool_languages,
                 "Languages whose context is pre-started in pool sandboxes")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::IsMember([] {
        std::vector<std::string> names;
        for (const auto& l : languages()) names.emplace_back(l.name);
        return names;
      }()));
  app.add_option("--python-preload", c.python_preload,
                 "Modules the Python context of each pool sandbox imports while it waits "
                 "(empty: none)")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::Validator(
          [](std::string& m) {
            return m.empty() || is_module_name(m) ? std::string()
                                                  : "not a Python module name: " + m;
          },
          "MODULE"));
  app.add_option("--max-sandboxes", c.max_sandboxes, "Live sandboxes at most")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  app.add_option("--uid-base", c.uid_base,
                 "First host uid/gid of the sandbox slots (each slot uses two)")
      ->capture_default_str()
      ->check(CLI::Range(1000, 2000000000));
  app.add_option("--memory-mb", c.default_limits.memory_mb, "Default memory limit")
      ->capture_default_str();
  app.add_option("--cpus", c.default_limits.cpus, "Default CPU limit (cores)")
      ->capture_default_str();
  app.add_option("--pids", c.default_limits.pids, "Default process limit")->capture_default_str();
  app.add_option("--disk-mb", c.default_limits.disk_mb, "Default size of /home/user")
      ->capture_default_str();
  app.add_option("--exec-timeout-s", c.default_limits.exec_timeout_s, "Default execution timeout")
      ->capture_default_str();
  app.add_option("--max-memory-mb", c.max_limits.memory_mb,
                 "Largest memory limit a request may ask")
      ->capture_default_str();
  app.add_option("--max-cpus", c.max_limits.cpus, "Largest CPU limit a request may ask")
      ->capture_default_str();
  app.add_option("--max-pids", c.max_limits.pids, "Largest pids limit a request may ask")
      ->capture_default_str();
  app.add_option("--max-disk-mb", c.max_limits.disk_mb, "Largest disk a request may ask")
      ->capture_default_str();
  app.add_option("--max-exec-timeout-s", c.max_limits.exec_timeout_s, "Longest execution timeout")
      ->capture_default_str();
  app.add_option("--sandbox-timeout-s", c.sandbox_timeout_s, "Default sandbox lifetime")
      ->capture_default_str();
  app.add_option("--max-sandbox-timeout-s", c.max_sandbox_timeout_s, "Longest sandbox lifetime")
      ->capture_default_str();
  app.add_option("--tmp-mb", c.tmp_mb, "Size of /tmp in each sandbox")->capture_default_str();
  app.add_option("--output-cap-bytes", c.output_cap_bytes, "Output kept per stream per execution")
      ->capture_default_str();
  app.add_option("--result-cap-bytes", c.result_cap_bytes,
                 "Bytes of results (display data, charts) and errors kept per execution")
      ->check(CLI::Range(std::uint64_t{1} << 10, std::uint64_t{1} << 30))
      ->capture_default_str();
  app.add_option("--file-cap-bytes", c.file_cap_bytes,
                 "Largest file through the files API and Drive (into or out of a sandbox: at "
                 "most 64 MiB, one frame)")
      ->capture_default_str();
  app.add_option("--max-code-bytes", c.max_code_bytes, "Largest code or command accepted")
      ->capture_default_str();
  app.add_option("--init-path", c.init_path, "kiln-init binary");
  app.add_option("--runtimes-dir", c.runtimes_dir, "Folder holding the language runners");
  app.add_option("--skills-dir", c.skills_dir, "Folder of skills mounted at /skills");
  app.add_option("--cgroup-root", c.cgroup_root, "Where the cgroup hierarchies are mounted")
      ->capture_default_str();
  app.add_option("--cgroup-parent", c.cgroup_parent,
                 "Parent cgroup of this daemon's sandboxes (emptied at start-up)")
      ->capture_default_str();
  app.add_option("--log-level", c.log_level, "trace|debug|info|warn|error")->capture_default_str();
  app.add_flag("!--no-seccomp", c.seccomp, "Disable the seccomp filter (debugging only)");
  app.add_option("--drive-temporary-ttl-s", c.drive_temporary_ttl_s,
                 "Lifetime of temporary Drive files")
      ->capture_default_str();
  app.add_option("--drive-session-ttl-s", c.drive_session_ttl_s, "Lifetime of session Drive files")
      ->capture_default_str();
  app.add_option("--fetch-allow", c.fetch_allowlist,
                 "Address (CIDR) or host name fileUrl may fetch even though it is loopback/private")
      ->delimiter(',');
  app.add_option("--mcp-allow-host", c.mcp_allow_hosts,
                 "Host name /mcp accepts in Host/Origin besides loopback and the listen address")
      ->delimiter(',');
  app.add_option("--mcp-session-idle-s", c.mcp_session_idle_s,
                 "An MCP session (and its sandbox) ends after this long without a request")
      ->capture_default_str();
  app.add_option("--mcp-max-sessions", c.mcp_max_sessions, "Live MCP sessions at most")
      ->capture_default_str();
  app.add_option("--egress-allow-cidr", c.egress_allow_cidrs,
                 "CIDR a sandbox's network policy may reach although it is private/loopback/...")
      ->delimiter(',');
  app.add_option("--egress-hosts", c.egress_hosts_file,
                 "Hosts-format file answering the egress proxy's lookups instead of DNS");
  app.add_option("--pip-index-url", c.pip_index_url,
                 "PEP 503 index sandboxes' pip installs from (its host is reachable from every "
                 "sandbox)");
  app.add_option("--npm-registry", c.npm_registry,
                 "npm registry sandboxes' npm installs from (its host is reachable from every "
                 "sandbox)");

  // Management subcommands share --data-dir with the daemon.
  app.fallthrough();
  app.require_subcommand(0, 1);
  auto* keys = app.add_subcommand("keys", "Manage API keys");
  keys->require_subcommand(1);
  auto* kcreate = keys->add_subcommand("create", "Create a key for a workspace (printed once)");
  kcreate->add_option("--workspace", c.workspace, "Workspace name")->required();
  kcreate->add_flag("--e2b", c.e2b_key, "Make an E2B-style key (e2b_...) for E2B's SDKs");
  kcreate->callback([&c] { c.command = {"keys", "create"}; });
  auto* klist = keys->add_subcommand("list", "List keys");
  klist->callback([&c] { c.command = {"keys", "list"}; });
  auto* krevoke = keys->add_subcommand("revoke", "Revoke a key by id");
  krevoke->add_option("id", c.key_id, "Key id (key_…)")->required();
  krevoke->callback([&c] { c.command = {"keys", "revoke"}; });
  auto* credits = app.add_subcommand("credits", "Manage workspace credits");
  credits->require_subcommand(1);
  auto* cset = credits->add_subcommand("set", "Set a workspace's credit balance (active seconds)");
  cset->add_option("--workspace", c.workspace, "Workspace name")->required();
  cset->add_option("--seconds", c.credit_seconds, "Balance in billed (active) seconds")->required();
  cset->callback([&c] { c.command = {"credits", "set"}; });
  auto* ceiling = app.add_subcommand(
      "network-ceiling", "Manage the widest network policy a workspace's sandboxes may have");
  ceiling->require_subcommand(1);
  auto* nset = ceiling->add_subcommand("set", "Set (replace) a workspace's network ceiling");
  nset->add_option("--workspace", c.workspace, "Workspace name")->required();
  nset->add_option("--policy", c.network_policy,
                   "A network policy as the API takes it: '\"none\"', '\"internet\"' or "
                   "'{\"allow\": [...], \"deny\": [...]}'")
      ->required();
  nset->callback([&c] { c.command = {"network-ceiling", "set"}; });
  auto* nclear = ceiling->add_subcommand("clear", "Remove a workspace's network ceiling");
  nclear->add_option("--workspace", c.workspace, "Workspace name")->required();
  nclear->callback([&c] { c.command = {"network-ceiling", "clear"}; });
  auto* nlist = ceiling->add_subcommand("list", "List the workspaces' network ceilings");
  nlist->callback([&c] { c.command = {"network-ceiling", "list"}; });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::ostringstream out, err;
    int code = app.exit(e, out, err);
    std::string text = out.str() + err.str();
    if (code == 0) return Status::internal("exit:0\n" + text);  // --help, --version
    return Status::invalid(text.empty() ? e.what() : text);
  }
  // `--python-preload ""` turns preloading off.
  std::erase(c.python_preload, std::string());
  return c;
}

Status finalize_config(Config& c, const std::string& exe_dir) {
  auto colon = c.listen.rfind(':');
  if (colon == std::string::npos) return Status::internal("--listen must be HOST:PORT");
  c.listen_host = c.listen.substr(0, colon);
  if (c.listen_host.size() > 2 && c.listen_host.front() == '[') {
    c.listen_host = c.listen_host.substr(1, c.listen_host.size() - 2);
  }
  try {
    int port = std::stoi(c.listen.substr(colon + 1));
    if (port < 0 || port > 65535) throw std::out_of_range("port");
    c.listen_port = static_cast<std::uint16_t>(port);
  } catch (const std::exception&) {
    return Status::internal("--listen has a bad port: " + c.listen);
  }
  if (c.default_limits.memory_mb < 32) return Status::internal("--memory-mb must be at least 32");
  if (c.default_limits.cpus <= 0) return Status::internal("--cpus must be positive");
  if (c.default_limits.pids < 8) return Status::internal("--pids must be at least 8");
  if (c.default_limits.disk_mb < 1) return Status::internal("--disk-mb must be at least 1");
  if (c.default_limits.exec_timeout_s < 1)
    return Status::internal("--exec-timeout-s must be at least 1");
  if (c.sandbox_timeout_s < 1) return Status::internal("--sandbox-timeout-s must be at least 1");
  if (c.file_cap_bytes < 1) return Status::internal("--file-cap-bytes must be positive");
  if (c.init_path.empty()) c.init_path = exe_dir + "/kiln-init";
  if (c.runtimes_dir.empty()) {
    for (const auto& cand :
         {exe_dir + "/../runtimes", exe_dir + "/runtimes", std::string("runtimes")}) {
      if (exists(cand + "/python/runner.py")) {
        c.runtimes_dir = cand;
        break;
      }
    }
  }
  if (c.runtimes_dir.empty()) return Status::internal("cannot find runtimes/ (set --runtimes-dir)");
  if (c.skills_dir.empty() && exists(exe_dir + "/../skills")) c.skills_dir = exe_dir + "/../skills";
  if (!exists(c.init_path)) return Status::internal("cannot find kiln-init at " + c.init_path);
  return Status::ok();
}

}  // namespace kiln
