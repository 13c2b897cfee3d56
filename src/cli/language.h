// Which of kilnd's languages a file is in.
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "common/status.h"

namespace kiln::cli {

// "python", "javascript", "typescript" or "bash" for a --lang value
// (also py, js, node, ts, sh).
Result<std::string> normalize_language(const std::string& name);

// From the file's extension (.py, .js/.mjs/.cjs, .ts/.mts, .sh/.bash),
// else its #! line; an error that says to give --lang otherwise.
Result<std::string> detect_language(const std::string& path, const std::string& code);

}  // namespace kiln::cli
