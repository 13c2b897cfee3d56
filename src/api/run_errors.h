// Maps how a run ended to the API's error object.
//
// kiln-init reports facts (the runner process died with signal 9, the run
// had timed out, the context was stopped); the daemon adds what only it can
// see (the cgroup's OOM-kill counter went up) and this turns both into the
// error a user reads: OutOfMemoryError, TimeoutError, ...
//
// Thread-safety: pure function.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

namespace kiln::api {

struct RunEnd {
  const nlohmann::json& end;  // the "end" frame from kiln-init
  bool oom_killed;            // the sandbox's OOM-kill counter rose during the run
  std::uint64_t timeout_s;
  std::uint64_t memory_mb;
};

// Null when the run itself ended normally (user errors come from the runner).
nlohmann::json error_for_run_end(const RunEnd& run);

}  // namespace kiln::api
