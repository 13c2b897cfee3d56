// Run: the one client for running code or a foreground command in a
// sandbox. It sends the request, decodes the run's events, maps how the run
// ended to the one error vocabulary (sandbox/run_errors.h), meters it and
// records it. /execute, /commands, actions, /validate and /test all run
// through it; no handler touches the connection.
//
// Bounds: the events a run may deliver are capped by its budget (see
// EventQueue), sized from the daemon's output and result caps, so a
// sandbox cannot grow kilnd's memory by sending more.
//
// Thread-safety: single-threaded, on the daemon's io_context. A Run is
// awaited by one coroutine; interrupt() may be called from another one.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>

#include "protocol/messages.h"
#include "sandbox/sandbox.h"

namespace kiln::sandbox {

class SandboxManager;

struct RunOutcome {
  std::string stdout_text, stderr_text;
  // kiln's own notes (truncation), kept apart so they come last.
  std::string stdout_notice, stderr_notice;
  nlohmann::json results = nlohmann::json::array();
  nlohmann::json error;  // null, or {name, value, traceback, line}
  std::int64_t execution_count = 0;
  std::optional<int> exit_code;  // commands
  bool timed_out = false;
  std::uint64_t duration_ms = 0;
  bool sandbox_ended = false;  // kiln-init went away before the run ended
};

// Callbacks for a caller that streams the run as it goes.
struct RunSink {
  std::function<boost::asio::awaitable<void>(const protocol::Output&)> on_output;
  std::function<boost::asio::awaitable<void>(const nlohmann::json& result)> on_result;
};

using RunRequest = std::variant<protocol::Execute, protocol::RunCommand>;

class Run {
 public:
  // Sends the request. `metered` = false for the daemon's own bookkeeping
  // commands (not billed, not counted).
  Run(SandboxManager& manager, std::shared_ptr<Sandbox> sbx, RunRequest request,
      bool metered = true);

  // Interrupts the run: SIGINT for code (then SIGKILL after a grace), SIGKILL
  // for a command. Safe to call more than once, and after the end.
  void interrupt();
  // interrupt() as a callable that outlives this Run (for a disconnect
  // watcher): it holds the connection, not the Run.
  std::function<void()> interrupter() const;

  // Awaits the end. Fails (with kiln-init's reason) only when the request
  // was refused before it ran: a busy or unknown context, a bad cwd.
  // (A named sink, never a temporary: GCC 12 mishandles temporaries with
  // destructors in co_await expressions.)
  boost::asio::awaitable<Result<RunOutcome>> finish(const RunSink& sink);
  boost::asio::awaitable<Result<RunOutcome>> finish();

 private:
  SandboxManager& manager_;
  std::shared_ptr<Sandbox> sbx_;
  std::shared_ptr<EventQueue> queue_;
  bool is_code_;
  bool metered_;
  std::uint64_t timeout_ms_;
  std::uint64_t oom_before_;
  std::uint64_t paused_before_;  // sbx's paused_ms_now() at the start
  std::chrono::steady_clock::time_point started_;
};

// The byte budget of a run whose output and results are capped as given.
std::uint64_t run_budget(std::uint64_t output_cap, std::uint64_t result_cap);

// Whole-outcome conveniences for daemon features (validate, test, actions).
boost::asio::awaitable<Result<RunOutcome>> run_command(
    SandboxManager& m, std::shared_ptr<Sandbox> sbx, std::string cmd, std::string stdin_data,
    std::uint64_t timeout_ms, std::string cwd = "/home/user", bool metered = true);
boost::asio::awaitable<Result<RunOutcome>> run_code(SandboxManager& m, std::shared_ptr<Sandbox> sbx,
                                                    std::string ctx_id, std::string code,
                                                    std::uint64_t timeout_ms,
                                                    std::uint64_t output_cap);

// A failed Status for a refusal from kiln-init (kind from its reply code).
Status status_from_reply(const protocol::Reply& reply);

// Sends a request that gets one Reply and awaits it: the reply when ok,
// else the refusal (or "the sandbox ended") as a failed Status.
boost::asio::awaitable<Result<protocol::Reply>> call(Sandbox& sbx, protocol::Request request);

}  // namespace kiln::sandbox
