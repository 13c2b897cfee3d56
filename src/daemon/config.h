// Config: every setting of kilnd, from flags or a config file (--config,
// INI/TOML as CLI11 reads it; flag names without the dashes are the keys).
//
// Thread-safety: built once at start-up, then read-only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace kiln {

struct Limits {
  std::uint64_t memory_mb = 512;
  double cpus = 1;
  std::uint64_t pids = 256;
  std::uint64_t disk_mb = 1024;
  std::uint64_t exec_timeout_s = 60;
};

struct Config {
  std::string listen = "127.0.0.1:8420";
  std::string data_dir = "./kiln-data";
  int pool_size = 2;
  // Contexts pre-started in every pool sandbox (its default context per language).
  std::vector<std::string> pool_languages{"python"};
  // Modules a pool sandbox's Python context imports before the pool counts
  // it ready, so a first `import pandas` there costs a dict lookup (issue
  // 14). Empty: none. Restarted runners and cold creates import nothing.
  std::vector<std::string> python_preload{"numpy", "pandas", "matplotlib.pyplot"};
  int max_sandboxes = 100;
  // Slot i uses host uids/gids uid_base + 2i (the user) and + 2i + 1 (its
  // kiln-init); see common/identity.h.
  std::uint32_t uid_base = 200000;
  Limits default_limits;
  Limits max_limits{8192, 2, 4096, 8192, 3600};
  std::uint64_t sandbox_timeout_s = 300;
  std::uint64_t max_sandbox_timeout_s = 86400;
  std::uint64_t tmp_mb = 256;
  std::uint64_t output_cap_bytes = 1 << 20;
  // Results (display data, charts) and errors of one execution, in bytes of
  // their JSON; what is over it is dropped with a notice.
  std::uint64_t result_cap_bytes = 16u << 20;
  std::uint64_t file_cap_bytes = 50ull << 20;
  // What one file moving into or out of a sandbox may be: it crosses in one
  // frame (protocol/frame.h), so min(file_cap_bytes, 64 MiB).
  std::uint64_t sandbox_file_cap() const;
  std::uint64_t max_code_bytes = 1 << 20;
  std::uint64_t max_json_body_bytes = 4 << 20;
  std::string init_path;     // default: kiln-init beside kilnd
  std::string runtimes_dir;  // default: ../runtimes from kilnd, or ./runtimes
  std::string skills_dir;    // default: ../skills if present
  std::string cgroup_root = "/sys/fs/cgroup";
  std::string cgroup_parent = "kiln";  // one per daemon: start-up cleanup empties it
  std::string log_level = "info";
  bool seccomp = true;
  // Drive scopes' lifetimes (tests shorten them).
  std::uint64_t drive_temporary_ttl_s = 600;
  std::uint64_t drive_session_ttl_s = 86400;
  // fileUrl fetches may reach these loopback/private addresses or hosts.
  std::vector<std::string> fetch_allowlist;
  // Host names /mcp accepts in Host and Origin besides the loopback names
  // and the listen address (DNS-rebinding protection).
  std::vector<std::string> mcp_allow_hosts;
  std::uint64_t mcp_session_idle_s = 1800;
  std::uint64_t mcp_max_sessions = 256;
  // Sandbox egress (issue 13): CIDRs a sandbox's proxy may reach although
  // they are loopback/private/link-local/...; a hosts file answering the
  // proxy's lookups instead of DNS (tests, air-gapped sites).
  std::vector<std::string> egress_allow_cidrs;
  std::string egress_hosts_file;
  // Package mirrors: sandboxes' pip and npm use them, and their host:port
  // is reachable from every sandbox whatever its network policy.
  std::string pip_index_url;
  std::string npm_registry;

  // Management subcommands: {"keys","create"}, {"keys","list"},
  // {"keys","revoke"}, {"credits","set"}, {"network-ceiling","set"|"clear"|
  // "list"}; empty for the daemon itself.
  std::vector<std::string> command;
  std::string workspace;
  std::string key_id;
  bool e2b_key = false;  // keys create --e2b
  double credit_seconds = 0;
  std::string network_policy;  // network-ceiling set --policy (JSON)

  // Derived.
  std::string listen_host;
  std::uint16_t listen_port = 0;
};

// Parses argv (and --config FILE). On --help/--version, prints and returns
// an error whose errno is 0 and message "exit:0".
Result<Config> parse_config(int argc, const char* const* argv);

// Checks ranges and fills the derived fields and default paths.
Status finalize_config(Config& config, const std::string& exe_dir);

bool is_loopback_host(const std::string& host);

}  // namespace kiln
