// Drive: per-workspace file storage. Metadata rows in SQLite (drive_files),
// content in a BlobStore (content-addressed, deduplicated).
//
// Crash safety (kill -9 or power loss at any instant):
//   put:    blob durable (temp, fsync, rename, fsync dir) -> row committed
//           -> old blob unlinked if no row references it any more.
//   remove: row deleted and committed -> blob unlinked if unreferenced.
// So a committed row always names a complete blob; the worst a crash
// leaves is an unreferenced blob or a temp file, which recover() deletes.
// A path shows either its old or its new content, never a mix.
//
// Isolation: every query is keyed by workspace; another workspace's path
// simply does not exist (ENOENT), whatever its content.
//
// Expiry: an expired file is invisible at once (get/list/put treat it as
// absent); sweep_expired() reclaims the rows and blobs later.
//
// Concurrency: a Drive may be shared between threads. Writing and hashing a
// new blob happens outside any lock; an internal mutex then covers the
// short "blob present -> commit -> unlink unreferenced blobs" sequence, so a
// blob cannot be unlinked by one thread while another is committing a row
// that names it. Database access additionally takes the Database lock
// (always after the Drive mutex). Reads open the blob under the mutex and
// read it after releasing it. Only one process may run a Drive over a blob
// directory at a time (recover() assumes no writer is active).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "storage/blob_store.h"
#include "storage/clock.h"
#include "storage/database.h"
#include "storage/drive_scope.h"

namespace kiln::storage {

struct DriveFile {
  std::string path;  // normalized
  std::int64_t size = 0;
  Scope scope = Scope::kPersistent;
  TimePoint created_at;
  std::optional<TimePoint> expires_at;  // nullopt for persistent
  std::string sha256;                   // lower-case hex
};

struct DriveContent {
  DriveFile file;
  std::string bytes;
};

struct RecoveryReport {
  int temp_files_removed = 0;
  int rows_without_blob_removed = 0;
  int orphan_blobs_removed = 0;
  int expired_removed = 0;
};

class Drive {
 public:
  Drive(Database& db, DriveOptions options, Clock clock = system_clock());

  // Errors: EINVAL bad path; EFBIG over the cap; EMEDIUMTYPE refused type
  // (message gives the reason); EEXIST "File already exists in Drive" when
  // a live file is at `path` and !replace.
  Result<DriveFile> put(std::string_view workspace, std::string_view path, std::string_view bytes,
                        Scope scope, bool replace);
  // ENOENT when absent, expired or another workspace's.
  Result<DriveContent> get(std::string_view workspace, std::string_view path);
  Result<DriveFile> stat(std::string_view workspace, std::string_view path);
  // Live files at or under `prefix` (see normalize_drive_prefix), by path.
  Result<std::vector<DriveFile>> list(std::string_view workspace, std::string_view prefix);
  // ENOENT when absent or expired.
  Status remove(std::string_view workspace, std::string_view path);

  // Deletes rows that expired at or before `now` and the blobs no longer
  // referenced; returns how many files (rows) were removed.
  Result<int> sweep_expired(TimePoint now);
  Result<int> sweep_expired() { return sweep_expired(clock_()); }

  // Start-up repair, before serving: deletes temp files, rows whose blob is
  // missing or has the wrong size, blobs no row references, and expired
  // files. Each removal is logged.
  Result<RecoveryReport> recover();

  const DriveOptions& options() const { return options_; }

 private:
  Status remove_once(std::string_view workspace, std::string_view path);
  // 1 MiB kept beside the blobs and given up when a delete cannot commit on
  // a full disk (so space can always be freed).
  std::string reserve_path() const;
  Status ensure_reserve();
  Result<std::optional<DriveFile>> find_live(std::string_view workspace, const std::string& path,
                                             std::int64_t now_ms);
  // Upserts the row for `file` in one transaction; EEXIST when a live row
  // is there and !replace. Sets *replaced_sha to the previous row's blob.
  Status commit_row(std::string_view workspace, const DriveFile& file, bool replace,
                    std::int64_t now_ms, std::optional<std::string>* replaced_sha);
  // Unlinks each blob no row references any more. Caller holds mu_.
  int release_blobs(const std::vector<std::string>& shas);

  Database& db_;
  DriveOptions options_;
  Clock clock_;
  BlobStore blobs_;
  std::mutex mu_;
};

}  // namespace kiln::storage
