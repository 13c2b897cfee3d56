#include "storage/drive_scope.h"

#include <cerrno>

namespace kiln::storage {

Result<Scope> parse_scope(std::string_view name) {
  if (name.empty() || name == "persistent") return Scope::kPersistent;
  if (name == "session") return Scope::kSession;
  if (name == "temporary") return Scope::kTemporary;
  return Status::invalid("invalid scope '" + std::string(name) +
                         "': use temporary, session or persistent");
}

std::string_view scope_name(Scope scope) {
  switch (scope) {
    case Scope::kTemporary:
      return "temporary";
    case Scope::kSession:
      return "session";
    case Scope::kPersistent:
      return "persistent";
  }
  return "persistent";
}

std::optional<std::chrono::milliseconds> scope_ttl(Scope scope, const DriveOptions& options) {
  switch (scope) {
    case Scope::kTemporary:
      return options.temporary_ttl;
    case Scope::kSession:
      return options.session_ttl;
    case Scope::kPersistent:
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace kiln::storage
