// A man page (roff, man(7) macros) generated from the CLI11 command tree:
// `kiln man > kiln.1`, or `kiln man | man -l -`.
//
// Thread-safety: pure function over the app.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace kiln::cli {

std::string man_page(const CLI::App& app);

}  // namespace kiln::cli
