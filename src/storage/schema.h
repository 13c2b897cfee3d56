// Kiln's database schema and its migrations, keyed by PRAGMA user_version.
//
// The schema only ever moves forward: migration N turns a version N-1
// database into version N. Each runs in its own transaction together with
// the user_version bump, so a crash mid-migration leaves the previous
// version intact and the next start simply retries it.
//
// Concurrency: call migrate() once at start-up, before the stores are used
// (it takes the Database lock for its duration). Two processes migrating the
// same file at once are safe: BEGIN IMMEDIATE serializes them and the loser
// re-reads the version inside its transaction.
#pragma once

#include <span>
#include <string_view>

#include "common/status.h"
#include "storage/database.h"

namespace kiln::storage {

struct Migration {
  int version;  // 1, 2, 3, ... in order, no gaps
  std::string_view description;
  std::string_view sql;  // may hold several ';'-separated statements
};

// The ordered list of Kiln's migrations; the last one's version is the
// schema version this build writes.
std::span<const Migration> kiln_migrations();

// Brings the database up to the last migration. Refuses a database whose
// version is newer than this build knows (a downgrade would misread it).
Status migrate(Database& db);
Status migrate(Database& db, std::span<const Migration> migrations);

}  // namespace kiln::storage
