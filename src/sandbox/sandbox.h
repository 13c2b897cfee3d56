// Sandbox: the daemon's record of one live sandbox.
//
// Thread-safety: single-threaded, owned by SandboxManager on the daemon's
// io_context thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "common/unique_fd.h"
#include "daemon/config.h"
#include "egress/sandbox_egress.h"
#include "jail/cgroup.h"
#include "protocol/messages.h"
#include "sandbox/connection.h"

namespace kiln::sandbox {

using SystemClock = std::chrono::system_clock;

struct ContextInfo {
  std::string id;
  std::string language;
  std::string cwd;
  bool is_default = false;
  bool busy = false;
};

struct Sandbox {
  std::string id;
  std::string workspace = "default";  // the owner; other workspaces get 404
  std::string template_name = "default";
  std::string session;
  nlohmann::json metadata = nlohmann::json::object();
  protocol::StringMap env;  // given to every command and context
  Limits limits;
  SystemClock::time_point created_at, expires_at;
  int slot = -1;
  pid_t init_pid = -1;
  UniqueFd pidfd;
  std::unique_ptr<jail::Cgroup> cgroup;
  std::shared_ptr<Connection> conn;
  // Policy, proxy listener, open tunnels and log of its network access.
  std::shared_ptr<egress::SandboxEgress> egress;
  std::map<std::string, ContextInfo> contexts;
  std::map<std::string, std::string> default_context;  // language -> context id
  std::uint64_t active_ms = 0;
  std::uint64_t executions = 0;
  std::uint64_t oom_kills_seen = 0;
  std::uint64_t cpu_ms_seen = 0;
  std::uint64_t memory_peak_seen = 0;
  bool ending = false;
  // Pause (cgroup freezer): set while frozen. The TTL clock stands still
  // then: expired() is false and resume pushes expires_at out by the pause.
  bool auto_resume = false;  // a run on a paused sandbox resumes it (else 409)
  SystemClock::time_point paused_at{};
  std::uint64_t paused_ms = 0;  // completed pauses, summed (see meter_run)

  bool paused() const { return paused_at.time_since_epoch().count() != 0; }
  bool expired(SystemClock::time_point now = SystemClock::now()) const {
    return !paused() && now >= expires_at;
  }
  // Paused time so far, the current pause included.
  std::uint64_t paused_ms_now(SystemClock::time_point now = SystemClock::now()) const;
  // The deadline as it would stand if resumed at `now`.
  SystemClock::time_point deadline(SystemClock::time_point now = SystemClock::now()) const;
  nlohmann::json to_json(bool with_usage) const;
  std::uint64_t oom_kills() const;
};

std::string rfc3339(SystemClock::time_point t);

}  // namespace kiln::sandbox
