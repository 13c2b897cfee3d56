#include "storage/schema.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <string>

namespace kiln::storage {
namespace {

// Times are Unix milliseconds (INTEGER). STRICT tables make SQLite reject a
// value of the wrong type instead of storing it silently.
constexpr Migration kMigrations[] = {
    {1, "workspaces, API keys, Drive files, usage ledger, credits", R"sql(
CREATE TABLE workspaces (
  name          TEXT PRIMARY KEY,
  created_at_ms INTEGER NOT NULL
) STRICT;

-- Only the SHA-256 of a key is stored; key_prefix is for humans telling
-- keys apart in `kilnd keys list` and is too short to help an attacker.
CREATE TABLE api_keys (
  id            TEXT PRIMARY KEY,
  workspace     TEXT NOT NULL REFERENCES workspaces(name),
  key_sha256    TEXT NOT NULL UNIQUE,
  key_prefix    TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  revoked_at_ms INTEGER
) STRICT;

-- The blob reference is the content's sha256: the blob lives at
-- <blob_dir>/<sha[0:2]>/<sha[2:4]>/<sha>, shared by every row with the
-- same content. A blob's reference count is a COUNT(*) over this table.
CREATE TABLE drive_files (
  workspace     TEXT NOT NULL,
  path          TEXT NOT NULL,
  size          INTEGER NOT NULL,
  sha256        TEXT NOT NULL,
  scope         TEXT NOT NULL CHECK (scope IN ('temporary', 'session', 'persistent')),
  created_at_ms INTEGER NOT NULL,
  expires_at_ms INTEGER,
  PRIMARY KEY (workspace, path)
) STRICT;
CREATE INDEX drive_files_by_sha256 ON drive_files (sha256);
CREATE INDEX drive_files_by_expiry ON drive_files (expires_at_ms) WHERE expires_at_ms IS NOT NULL;

-- One row per sandbox; the counters are absolute totals (never increments)
-- so re-applying an update is harmless.
CREATE TABLE usage_sandboxes (
  sandbox_id        TEXT PRIMARY KEY,
  workspace         TEXT NOT NULL,
  created_at_ms     INTEGER NOT NULL,
  ended_at_ms       INTEGER,
  active_ms         INTEGER NOT NULL DEFAULT 0,
  cpu_ms            INTEGER NOT NULL DEFAULT 0,
  executions        INTEGER NOT NULL DEFAULT 0,
  memory_peak_bytes INTEGER NOT NULL DEFAULT 0,
  last_seen_at_ms   INTEGER NOT NULL
) STRICT;
CREATE INDEX usage_sandboxes_by_workspace ON usage_sandboxes (workspace, created_at_ms);
CREATE INDEX usage_sandboxes_live ON usage_sandboxes (ended_at_ms) WHERE ended_at_ms IS NULL;

-- A balance in active seconds, and the workspace's total active_ms at the
-- moment it was set: remaining = balance - (total now - baseline).
CREATE TABLE workspace_credits (
  workspace        TEXT PRIMARY KEY,
  balance_seconds  REAL NOT NULL,
  set_at_ms        INTEGER NOT NULL,
  active_ms_at_set INTEGER NOT NULL
) STRICT;
)sql"},
    {2, "per-workspace network ceilings", R"sql(
-- The widest egress policy an operator allows a workspace's sandboxes, as
-- the policy's JSON (egress::Policy::to_json). No row: no ceiling beyond
-- the daemon's own rules.
CREATE TABLE workspace_network_ceilings (
  workspace   TEXT PRIMARY KEY,
  policy_json TEXT NOT NULL,
  set_at_ms   INTEGER NOT NULL
) STRICT;
)sql"},
};

}  // namespace

std::span<const Migration> kiln_migrations() { return kMigrations; }

Status migrate(Database& db) { return migrate(db, kiln_migrations()); }

Status migrate(Database& db, std::span<const Migration> migrations) {
  for (std::size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return Status::invalid("migrate: migration list out of order at version " +
                             std::to_string(migrations[i].version));
    }
  }
  const int latest = static_cast<int>(migrations.size());
  auto lock = db.lock();
  for (const Migration& m : migrations) {
    auto tx = Transaction::begin(db);
    if (!tx) return tx.status();
    // Read inside the transaction: another process may have migrated while
    // we waited for the write lock.
    auto version = db.user_version();
    if (!version) return version.status();
    if (*version > latest) {
      return Status::invalid("migrate(" + db.path() + "): database schema version " +
                             std::to_string(*version) + " is newer than this kilnd knows (" +
                             std::to_string(latest) + ")");
    }
    if (*version >= m.version) continue;  // already applied; tx rolls back (no-op)
    if (Status s = db.exec(m.sql); !s) {
      return s.with_message("migration " + std::to_string(m.version) + " (" +
                            std::string(m.description) + "): " + s.message());
    }
    // PRAGMA user_version is transactional: it commits or rolls back
    // together with the migration's DDL.
    if (Status s = db.exec("PRAGMA user_version = " + std::to_string(m.version)); !s) return s;
    if (Status s = tx->commit(); !s) return s;
    spdlog::info("event=schema_migrated version={} what=\"{}\"", m.version, m.description);
  }
  return Status::ok();
}

}  // namespace kiln::storage
