// Lexical normalisation of paths given to the files API.
//
// Paths are absolute inside the sandbox or relative to /home/user. The result
// is absolute, with no ".", ".." or empty components; ".." never climbs above
// "/". This is hygiene and a clear 400 for junk, not the security boundary:
// kiln-init performs every file operation inside the sandbox's own mount
// namespace, so even a path that resolves through a planted symlink stays in
// the sandbox.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace kiln {

inline constexpr std::size_t kMaxSandboxPath = 4096;

Result<std::string> normalize_sandbox_path(std::string_view path,
                                           std::string_view home = "/home/user");

}  // namespace kiln
