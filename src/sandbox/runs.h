// Running code or a command in a sandbox and collecting the whole outcome,
// for daemon features built on top of execute (validate, test, actions).
//
// Thread-safety: single-threaded, on the daemon's io_context.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "sandbox/sandbox.h"

namespace kiln::sandbox {

struct CommandOutcome {
  int exit_code = -1;
  bool timed_out = false;
  std::string stdout_text, stderr_text;
};

struct CodeOutcome {
  nlohmann::json results = nlohmann::json::array();
  std::string stdout_text, stderr_text;
  nlohmann::json error;  // null when the code did not raise
};

// A foreground /bin/sh -c command with `stdin_data`; fails only if the
// sandbox is gone or refused the command. `metered` = false for the
// daemon's own bookkeeping commands (not billed, not counted).
boost::asio::awaitable<Result<CommandOutcome>> run_command(std::shared_ptr<Sandbox> sbx,
                                                           std::string cmd, std::string stdin_data,
                                                           std::uint64_t timeout_ms,
                                                           std::string cwd = "/home/user",
                                                           bool metered = true);

// Code in context `ctx_id`; counts toward the sandbox's usage.
boost::asio::awaitable<Result<CodeOutcome>> run_code(std::shared_ptr<Sandbox> sbx,
                                                     std::string ctx_id, std::string code,
                                                     std::uint64_t timeout_ms,
                                                     std::uint64_t output_cap);

}  // namespace kiln::sandbox
