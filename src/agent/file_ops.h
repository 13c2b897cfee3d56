// File operations kiln-init performs on behalf of the files API.
//
// They run inside the sandbox, as the sandbox user, after pivot_root: every
// path (and every symlink in it, whoever planted it) resolves within the
// sandbox's own root, so nothing here can reach a host file. Magic links
// (/proc/<pid>/root, /proc/self/fd/N) are refused as well, so a path can't
// hop into another process's view.
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

// Maps an errno from a file call to an API error.
FileError file_error(int err, const std::string& what, const std::string& path);

}  // namespace kiln::agent
