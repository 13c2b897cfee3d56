// Running code in a sandbox with the answer streamed (NDJSON): output is
// written as the code prints it, rich results are saved as files as they
// come, and Ctrl-C closes the stream (kilnd then interrupts the run).
// Shared by `kiln run` and `kiln repl`.
//
// Thread-safety: one call at a time (the display writes to stdout/stderr).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/api_client.h"
#include "cli/results.h"
#include "common/status.h"

namespace kiln::cli {

struct ExecRequest {
  std::string sandbox_id;
  std::string code;
  std::string language;  // "" runs in the sandbox's default Python context
  int timeout_s = 0;     // 0: the sandbox's exec_timeout_s
  std::map<std::string, std::string> env;
};

struct ExecOutcome {
  std::string stdout_text;
  std::string stderr_text;
  // Each result with "files": [paths] in place of the renderings saved.
  nlohmann::json results = nlohmann::json::array();
  nlohmann::json error;  // null, or {"name", "value", "traceback", "line"}
  nlohmann::json end;    // the end event ({"execution_count", "duration_ms"})
  bool interrupted = false;
  bool output_closed = false;  // interrupted because stdout or stderr closed
  std::vector<SavedFile> files;
  // False when the last thing shown on the terminal did not end a line
  // (print("x", end="")): the REPL then ends it before its prompt.
  bool ended_line = true;
};

struct ExecDisplay {
  bool live = true;       // print output, results and the error as they come
  bool progress = false;  // a spinner on stderr once the run passes a second
  std::string label = "running";
};

// The request body kilnd's execute takes.
nlohmann::json exec_body(const ExecRequest& req);
// How an error event reads in a terminal: its traceback, or "name: value".
std::string format_error(const nlohmann::json& error);

// Fails on an API or transport error (not when the code raised: that is
// outcome.error). Ctrl-C gives an outcome with interrupted set.
Result<ExecOutcome> execute_code(const ApiClient& api, const ExecRequest& req, ResultSaver& saver,
                                 const ExecDisplay& display);

}  // namespace kiln::cli
