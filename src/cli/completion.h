// Shell completion scripts generated from the CLI11 command tree, so they
// always match the commands and options kiln has.
//
// Thread-safety: pure functions over the app.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace kiln::cli {

std::string bash_completion(const CLI::App& app);
std::string zsh_completion(const CLI::App& app);

}  // namespace kiln::cli
