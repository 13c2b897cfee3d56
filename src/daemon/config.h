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
  int max_sandboxes = 100;
  std::uint32_t uid_base = 200000;  // slot i runs as host uid/gid uid_base + i
  Limits default_limits;
  Limits max_limits{8192, 2, 4096, 8192, 3600};
  std::uint64_t sandbox_timeout_s = 300;
  std::uint64_t max_sandbox_timeout_s = 86400;
  std::uint64_t tmp_mb = 256;
  std::uint64_t output_cap_bytes = 1 << 20;
  std::uint64_t file_cap_bytes = 50ull << 20;
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

  // Management subcommands: {"keys","create"}, {"keys","list"},
  // {"keys","revoke"}, {"credits","set"}; empty for the daemon itself.
  std::vector<std::string> command;
  std::string workspace;
  std::string key_id;
  double credit_seconds = 0;

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
