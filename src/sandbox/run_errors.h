// The errors a run can end with that the code itself did not raise, named
// in one place: how a run ended (facts from kiln-init, plus what only
// kilnd sees, such as the cgroup's OOM-kill counter) becomes the error
// object a user reads.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "protocol/messages.h"

namespace kiln::sandbox {

// The error object of the API: {name, value, traceback, line}.
nlohmann::json error_object(const std::string& name, const std::string& value,
                            const std::string& traceback = "",
                            std::optional<std::int64_t> line = std::nullopt);
nlohmann::json error_object(const protocol::ErrorEvent& e);

// "5 s", "0.5 s", "2.25 s": a timeout as the user gave it.
std::string format_seconds(std::uint64_t ms);

struct RunEnd {
  const protocol::End& end;
  bool oom_killed;  // the sandbox's OOM-kill counter rose during the run
  std::uint64_t timeout_ms;
  std::uint64_t memory_mb;
};

// Null when the run itself ended normally (user errors come from the runner).
nlohmann::json error_for_run_end(const RunEnd& run);

// The runner's own error, adjusted for how the run ended: an interrupt
// kilnd sent because the run timed out is a TimeoutError (state kept).
nlohmann::json error_from_runner(const protocol::ErrorEvent& e, bool timed_out,
                                 std::uint64_t timeout_ms);

// The run could not finish because kiln-init went away.
nlohmann::json sandbox_ended_error();

}  // namespace kiln::sandbox
