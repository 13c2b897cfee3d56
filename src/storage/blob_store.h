// BlobStore: content-addressed files on disk, named by their SHA-256.
//
// Layout: <dir>/<sha[0:2]>/<sha[2:4]>/<sha> (fan-out keeps directories
// small) and <dir>/tmp/ for writes in progress. A blob appears under its
// final name only by rename(2) of a temp file that was fully written and
// fsynced, and the rename is made durable by fsyncing the directory, so a
// blob that exists by name is always complete, even after a kill -9 or a
// power loss. Same content is stored once.
//
// The store knows nothing of references: deciding when a blob is garbage
// is the Drive's job (it holds the metadata).
//
// Concurrency: no in-memory state; each call is a few syscalls. Concurrent
// put()s of the same content are safe (rename over an identical file). A
// remove() racing a put() of the same content is NOT made safe here: the
// Drive serializes them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/unique_fd.h"

namespace kiln::storage {

class BlobStore {
 public:
  explicit BlobStore(std::string dir);

  // Creates <dir> and <dir>/tmp if missing.
  Status init();

  // Makes `bytes` (whose SHA-256 the caller computed) durable as blob
  // `sha256`. A no-op when the blob already exists.
  Status put(std::string_view sha256, std::string_view bytes);
  Result<bool> contains(std::string_view sha256);
  // Size in bytes, or ENOENT.
  Result<std::int64_t> size(std::string_view sha256);
  // Opened for reading: an open descriptor keeps the content readable even
  // if the blob is removed afterwards.
  Result<UniqueFd> open(std::string_view sha256);
  // Unlinks the blob (ENOENT is not an error) and syncs its directory.
  Status remove(std::string_view sha256);

  // Names of every blob present (for recovery's orphan scan). Files that
  // are not 64 lower-case hex characters are skipped and logged.
  Result<std::vector<std::string>> list();
  // Deletes everything under <dir>/tmp: writes interrupted by a crash.
  // Only safe while no put() is running (i.e. at start-up).
  Result<int> clear_temp();

  std::string path_for(std::string_view sha256) const;
  const std::string& dir() const { return dir_; }
  std::string temp_dir() const { return dir_ + "/tmp"; }

 private:
  Status ensure_dir(const std::string& path);

  std::string dir_;
};

// Reads all of `fd` from the current offset.
Result<std::string> read_all(int fd, std::int64_t size_hint);

// True for 64 lower-case hex characters: validates names before they are
// used to build a path.
bool is_sha256_hex(std::string_view s);

}  // namespace kiln::storage
