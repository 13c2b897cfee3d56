#include "api/run_errors.h"

#include <string>

namespace kiln::api {

using nlohmann::json;

namespace {

json error(const std::string& name, const std::string& value) {
  return {{"name", name}, {"value", value}, {"traceback", ""}, {"line", nullptr}};
}

}  // namespace

json error_for_run_end(const RunEnd& run) {
  const json& e = run.end;
  if (e.value("stopped", false)) {
    return error("ContextStoppedError", "the context was deleted or restarted during the run");
  }
  if (!e.contains("runner_exit")) return nullptr;
  // The interpreter died mid-run. Memory first: a timed-out run can also be
  // the one the OOM killer picked, and memory is the cause the user can fix.
  if (run.oom_killed) {
    return error("OutOfMemoryError", "the execution exceeded the sandbox memory limit of " +
                                         std::to_string(run.memory_mb) +
                                         " MiB and was killed; the context was restarted and its "
                                         "state was lost");
  }
  if (e.value("timed_out", false)) {
    return error("TimeoutError", "execution exceeded the " + std::to_string(run.timeout_s) +
                                     " s timeout and did not stop when interrupted; the context "
                                     "was restarted and its state was lost");
  }
  return error("ContextDiedError", "the interpreter process exited (" + e["runner_exit"].dump() +
                                       "); the context was restarted and its state was lost");
}

}  // namespace kiln::api
