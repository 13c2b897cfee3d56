// File operations kiln-init performs on behalf of the files API.
//
// They run inside the sandbox after pivot_root, with the sandbox user's
// filesystem rights (the caller holds a UserFsRights): every path (and
// every symlink in it, whoever planted it) resolves within the sandbox's
// own root, so nothing here can reach a host file, and nothing the code
// could not read or write itself. Magic links (/proc/<pid>/root,
// /proc/self/fd/N) are refused, and so is anything that resolves into the
// kernel's views /proc, /sys and /dev: kiln-init opens files as itself, so
// /proc/self there would be kiln-init's own.
//
// Thread-safety: stateless functions; kiln-init is single-threaded.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace kiln::agent {

struct FileError {
  std::string code;  // API error code: not_found, bad_request, too_large, ...
  std::string message;
};

// Each returns nullopt-style: `error.code` empty means success.
FileError list_dir(const std::string& path, nlohmann::json& entries);
FileError read_file(const std::string& path, std::uint64_t cap, std::string& out);
FileError write_file(const std::string& path, const std::string& data, std::uint64_t& size);
FileError remove_path(const std::string& path);
FileError make_dirs(const std::string& path);

// Whether `path` (absolute, normalised) lies in /proc, /sys or /dev (but
// for /dev/shm, the sandbox's own scratch tmpfs).
bool in_kernel_view(const std::string& path);

// Maps an errno from a file call to an API error.
FileError file_error(int err, const std::string& what, const std::string& path);

}  // namespace kiln::agent
