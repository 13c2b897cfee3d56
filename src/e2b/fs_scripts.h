// The shell scripts behind envd's filesystem RPCs that Kiln's file
// protocol has no op for (stat, list with depth and modes, move), run in
// the sandbox through the run client, and the parser of what they print.
// Each entry is one line of GNU find -printf fields separated by \037, so
// a name holding \037 or a newline is not listed (documented in E2B.md).
//
// Exit codes: 0 done, 44 no such path, 45 not a directory / not allowed
// on this type, 46 exists already.
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace kiln::e2b {

inline constexpr int kExitNoPath = 44;
inline constexpr int kExitWrongType = 45;
inline constexpr int kExitExists = 46;
inline constexpr unsigned kMaxListDepth = 16;

// 'text' with every ' escaped, for bash.
std::string shell_quote(std::string_view text);

std::string stat_script(const std::string& path);
std::string list_script(const std::string& path, unsigned depth);
std::string mkdir_script(const std::string& path);
std::string move_script(const std::string& from, const std::string& to);
std::string remove_script(const std::string& path);

// The protobuf-JSON EntryInfo of each line the scripts printed, sorted by
// path. Lines that do not parse are skipped.
std::vector<nlohmann::json> parse_entries(std::string_view output);

// Go's FileMode.String() form: "-rw-r--r--", "drwxr-xr-x", "Lrwxrwxrwx".
std::string permissions_string(char find_type, unsigned mode);

}  // namespace kiln::e2b
