// Drive scopes (how long a file lives) and the Drive's configuration.
//
//   temporary   10 minutes: action outputs and download links
//   session     24 hours: files for one agent conversation
//   persistent  until deleted (the default)
//
// Concurrency: value types and pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace kiln::storage {

enum class Scope { kTemporary, kSession, kPersistent };

// "" (parameter absent) is persistent; anything else unknown is EINVAL.
Result<Scope> parse_scope(std::string_view name);
std::string_view scope_name(Scope scope);

struct DriveOptions {
  std::chrono::milliseconds temporary_ttl = std::chrono::minutes(10);
  std::chrono::milliseconds session_ttl = std::chrono::hours(24);
  std::int64_t file_cap_bytes = 50 * 1024 * 1024;
  std::string blob_dir;  // e.g. <data-dir>/blobs; created on first use
};

// How long a file of `scope` lives; nullopt for persistent.
std::optional<std::chrono::milliseconds> scope_ttl(Scope scope, const DriveOptions& options);

}  // namespace kiln::storage
