#include "sandbox/sandbox.h"

#include <ctime>

namespace kiln::sandbox {

std::string rfc3339(SystemClock::time_point t) {
  const auto secs = SystemClock::to_time_t(t);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms));
  return out;
}

std::uint64_t Sandbox::paused_ms_now(SystemClock::time_point now) const {
  if (!paused() || now < paused_at) return paused_ms;
  return paused_ms +
         static_cast<std::uint64_t>(
             std::chrono::duration_cast<std::chrono::milliseconds>(now - paused_at).count());
}

SystemClock::time_point Sandbox::deadline(SystemClock::time_point now) const {
  return paused() && now > paused_at ? expires_at + (now - paused_at) : expires_at;
}

std::uint64_t Sandbox::oom_kills() const {
  if (!cgroup) return 0;
  auto u = cgroup->usage();
  return u ? u->oom_kills : 0;
}

nlohmann::json Sandbox::to_json(bool with_usage) const {
  nlohmann::json j = {
      {"id", id},
      {"status", ending     ? "ending"
                 : paused() ? "paused"
                            : "running"},
      {"template", template_name},
      {"session", session.empty() ? nlohmann::json(nullptr) : nlohmann::json(session)},
      {"created_at", rfc3339(created_at)},
      // While paused, the deadline it would have if resumed now.
      {"expires_at", rfc3339(deadline())},
      {"auto_resume", auto_resume},
      {"limits",
       {{"memory_mb", limits.memory_mb},
        {"cpus", limits.cpus},
        {"pids", limits.pids},
        {"disk_mb", limits.disk_mb},
        {"exec_timeout_s", limits.exec_timeout_s}}},
      {"metadata", metadata},
      {"network", egress ? egress->policy.to_json() : nlohmann::json("none")},
  };
  if (with_usage) {
    std::uint64_t cpu_ms = 0, peak = 0;
    if (cgroup) {
      if (auto u = cgroup->usage()) {
        cpu_ms = u->cpu_usage_ns / 1000000;
        peak = u->memory_peak_bytes;
      }
    }
    j["usage"] = {{"active_ms", active_ms},
                  {"cpu_ms", cpu_ms},
                  {"memory_peak_bytes", peak},
                  {"executions", executions},
                  {"egress_bytes", egress ? egress->bytes_up + egress->bytes_down : 0}};
  }
  return j;
}

}  // namespace kiln::sandbox
