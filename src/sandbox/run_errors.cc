#include "sandbox/run_errors.h"

#include <cstdio>
#include <string>

namespace kiln::sandbox {

using nlohmann::json;

json error_object(const std::string& name, const std::string& value, const std::string& traceback,
                  std::optional<std::int64_t> line) {
  return {{"name", name},
          {"value", value},
          {"traceback", traceback},
          {"line", line ? json(*line) : json(nullptr)}};
}

json error_object(const protocol::ErrorEvent& e) {
  return error_object(e.name, e.value, e.traceback, e.line);
}

std::string format_seconds(std::uint64_t ms) {
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(ms) / 1000.0);
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  return s + " s";
}

json error_for_run_end(const RunEnd& run) {
  const protocol::End& e = run.end;
  if (e.stopped) {
    return error_object("ContextStoppedError",
                        "the context was deleted or restarted during the run");
  }
  if (!e.runner_exit) return nullptr;
  // The interpreter died mid-run. Memory first: a timed-out run can also be
  // the one the OOM killer picked, and memory is the cause the user can fix.
  if (run.oom_killed) {
    return error_object(
        "OutOfMemoryError",
        "the execution exceeded the sandbox memory limit of " + std::to_string(run.memory_mb) +
            " MiB and was killed; the context was restarted and its state was lost");
  }
  if (e.timed_out) {
    return error_object("TimeoutError", "execution exceeded the " + format_seconds(run.timeout_ms) +
                                            " timeout and did not stop when interrupted; the "
                                            "context was restarted and its state was lost");
  }
  std::string how = "exited";
  if (e.runner_exit->signal) how = "was killed by signal " + std::to_string(*e.runner_exit->signal);
  if (e.runner_exit->code) how = "exited with status " + std::to_string(*e.runner_exit->code);
  return error_object("ContextDiedError", "the interpreter process " + how +
                                              "; the context was restarted and its state was lost");
}

json error_from_runner(const protocol::ErrorEvent& e, bool timed_out, std::uint64_t timeout_ms) {
  if (timed_out && e.name == "KeyboardInterrupt") {
    return error_object("TimeoutError",
                        "execution exceeded the " + format_seconds(timeout_ms) +
                            " timeout and was interrupted; the context kept its "
                            "state",
                        e.traceback, e.line);
  }
  return error_object(e);
}

json sandbox_ended_error() {
  return error_object("SandboxError", "the sandbox ended during the run");
}

}  // namespace kiln::sandbox
