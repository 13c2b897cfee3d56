// When is a REPL cell complete? Lines are gathered until the code so far
// has no open bracket, string or line continuation, and - for Python blocks
// (a line ending in ':' or a decorator) and Bash compound commands
// (if/for/while/case/...) - until a blank line ends the block, as in the
// Python REPL.
//
// Thread-safety: pure functions.
#pragma once

#include <string>

namespace kiln::cli {

// code: every line typed so far, joined with '\n' (the last one included).
bool cell_complete(const std::string& code, const std::string& language);

}  // namespace kiln::cli
