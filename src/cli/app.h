// The kiln command line: global options, the subcommands, and exit codes.
//
// Thread-safety: run_app is called once, from main.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>

#include "cli/context.h"

namespace kiln::cli {

// The whole command tree (exposed for completion and help tests).
std::unique_ptr<CLI::App> make_app(Context& ctx);

int run_app(int argc, char** argv);

}  // namespace kiln::cli
