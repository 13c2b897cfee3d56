// The subcommands. Each add_* adds its subcommands to the app; their parse
// callbacks set ctx.action, which run_app runs once parsing succeeded.
//
// Thread-safety: single-threaded.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/context.h"

namespace kiln::cli {

void add_run_command(CLI::App& app, Context& ctx);
void add_repl_command(CLI::App& app, Context& ctx);
void add_sandbox_commands(CLI::App& app, Context& ctx);
void add_file_commands(CLI::App& app, Context& ctx);
void add_drive_commands(CLI::App& app, Context& ctx);
void add_info_commands(CLI::App& app, Context& ctx);  // skills, usage, validate
void add_completion_command(CLI::App& app, Context& ctx);
void add_man_command(CLI::App& app, Context& ctx);

// Parses KEY=VALUE pairs (for --env).
Result<std::map<std::string, std::string>> parse_env_pairs(const std::vector<std::string>& pairs);

}  // namespace kiln::cli
