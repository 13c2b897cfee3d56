// Workspaces and their API keys.
//
// A key is "kiln_" + 40 random hex characters (160 bits from RAND_bytes), or
// "e2b_" + 40 for an E2B-style key (the form E2B's SDKs accept; docs/E2B.md).
// Only its SHA-256 is stored, so a copy of the database does not hand out
// working keys; the plaintext exists once, in NewKey, for the operator to
// copy. It is never logged. Lookups are by hash, so no constant-time
// comparison is needed: timing reveals nothing about a stored key.
//
// Concurrency: every method takes the Database lock for its duration; a
// KeyStore may be shared between threads. It holds a reference to the
// Database, which must outlive it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "storage/clock.h"
#include "storage/database.h"

namespace kiln::storage {

// [A-Za-z0-9_-]{1,64}; EINVAL with a message saying what is wrong otherwise.
Status validate_workspace_name(std::string_view name);

struct NewKey {
  std::string id;  // "key_" + 8 hex
  std::string workspace;
  std::string key;  // plaintext: shown once, never stored
  TimePoint created_at;
};

struct KeyInfo {
  std::string id;
  std::string workspace;
  TimePoint created_at;
  bool revoked = false;
  std::string key_prefix;  // first 9 characters, e.g. "kiln_3fa9"
};

struct AuthenticatedKey {
  std::string key_id;
  std::string workspace;
};

class KeyStore {
 public:
  explicit KeyStore(Database& db, Clock clock = system_clock());

  // Creates the workspace if it does not exist yet, then a key for it.
  enum class Flavor { kKiln, kE2b };
  Result<NewKey> create(std::string_view workspace, Flavor flavor = Flavor::kKiln);
  // All keys, revoked ones included, oldest first.
  Result<std::vector<KeyInfo>> list();
  // ENOENT for an unknown id; revoking a revoked key is a no-op.
  Status revoke(std::string_view id);
  // The key's identity if `plaintext` is a live key, nullopt otherwise
  // (unknown, malformed or revoked). An error only for a database failure,
  // which the API answers 500 rather than 401.
  Result<std::optional<AuthenticatedKey>> authenticate(std::string_view plaintext);
  // Whether any live key exists: decides whether auth may be off.
  Result<bool> any_keys();

 private:
  Database& db_;
  Clock clock_;
};

}  // namespace kiln::storage
