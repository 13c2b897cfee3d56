// Validation and normalisation of Drive paths.
//
// Drive paths are keys, not filesystem paths: nothing is ever opened by
// them (blobs are named by content hash), so this is about giving each file
// exactly one spelling and a clear 400 for junk. The rules: absolute, no
// "." or ".." components (refused, not resolved, so "/a/../b" is an error
// rather than a surprising alias), no control characters, valid UTF-8 (paths
// are echoed back in JSON), at most 1024 bytes in all and 255 per
// component. Repeated and trailing slashes collapse: "//a//b/" is "/a/b".
//
// Concurrency: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace kiln::storage {

inline constexpr std::size_t kMaxDrivePath = 1024;
inline constexpr std::size_t kMaxDrivePathComponent = 255;

// The normalized path, or EINVAL with a message fit for a 400 answer.
Result<std::string> normalize_drive_path(std::string_view path);

// A listing prefix: "" and "/" mean everything and normalize to "/";
// anything else follows the path rules. A prefix matches whole components:
// "/data" lists "/data" and "/data/x.csv" but not "/database.csv".
Result<std::string> normalize_drive_prefix(std::string_view prefix);

}  // namespace kiln::storage
