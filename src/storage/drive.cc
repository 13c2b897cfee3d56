#include "storage/drive.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <utility>

#include "common/unique_fd.h"
#include "storage/crypto.h"
#include "storage/drive_path.h"
#include "storage/file_types.h"

namespace kiln::storage {
namespace {

constexpr const char* kFileColumns =
    "path, size, scope, created_at_ms, expires_at_ms, sha256 FROM drive_files ";

// Columns in kFileColumns order, starting at `first`.
DriveFile file_from_row(const Statement& st, int first = 0) {
  DriveFile f;
  f.path = st.column_text(first);
  f.size = st.column_int64(first + 1);
  auto scope = parse_scope(st.column_text(first + 2));
  f.scope = scope ? *scope : Scope::kPersistent;
  f.created_at = from_unix_ms(st.column_int64(first + 3));
  if (!st.column_is_null(first + 4)) f.expires_at = from_unix_ms(st.column_int64(first + 4));
  f.sha256 = st.column_text(first + 5);
  return f;
}

Status not_found(std::string_view path) {
  return Status::not_found("Drive file " + std::string(path) + " not found");
}

// Runs a query with one text parameter and returns the first column of
// every row.
Result<std::vector<std::string>> text_column(Statement& st) {
  std::vector<std::string> out;
  while (true) {
    auto step = st.step();
    if (!step) return step.status();
    if (*step == Statement::Step::kDone) return out;
    out.push_back(st.column_text(0));
  }
}

Result<int> delete_expired(Database& db, std::int64_t now_ms, std::vector<std::string>* shas) {
  auto tx = Transaction::begin(db);
  if (!tx) return tx.status();
  auto sel = db.prepare(
      "SELECT DISTINCT sha256 FROM drive_files WHERE expires_at_ms IS NOT NULL AND "
      "expires_at_ms <= ?1");
  if (!sel) return sel.status();
  if (Status s = sel->bind_int64(1, now_ms); !s) return s;
  auto found = text_column(*sel);
  if (!found) return found.status();
  auto del =
      db.prepare("DELETE FROM drive_files WHERE expires_at_ms IS NOT NULL AND expires_at_ms <= ?1");
  if (!del) return del.status();
  if (Status s = del->bind_int64(1, now_ms); !s) return s;
  if (Status s = del->run(); !s) return s;
  int removed = db.changes();
  if (Status s = tx->commit(); !s) return s;
  *shas = std::move(*found);
  return removed;
}

}  // namespace

Drive::Drive(Database& db, DriveOptions options, Clock clock)
    : db_(db), options_(std::move(options)), clock_(std::move(clock)), blobs_(options_.blob_dir) {}

Result<std::optional<DriveFile>> Drive::find_live(std::string_view workspace,
                                                  const std::string& path, std::int64_t now_ms) {
  auto st = db_.prepare(std::string("SELECT ") + kFileColumns +
                        "WHERE workspace = ?1 AND path = ?2 AND "
                        "(expires_at_ms IS NULL OR expires_at_ms > ?3)");
  if (!st) return st.status();
  if (Status s = st->bind_text(1, workspace); !s) return s;
  if (Status s = st->bind_text(2, path); !s) return s;
  if (Status s = st->bind_int64(3, now_ms); !s) return s;
  auto step = st->step();
  if (!step) return step.status();
  if (*step == Statement::Step::kDone) return std::optional<DriveFile>();
  return std::optional<DriveFile>(file_from_row(*st));
}

int Drive::release_blobs(const std::vector<std::string>& shas) {
  int removed = 0;
  for (const std::string& sha : shas) {
    bool referenced = true;
    {
      auto lock = db_.lock();
      auto st = db_.prepare("SELECT EXISTS (SELECT 1 FROM drive_files WHERE sha256 = ?1)");
      if (st && st->bind_text(1, sha)) {
        auto step = st->step();
        if (step && *step == Statement::Step::kRow) referenced = st->column_int64(0) != 0;
      }
    }
    // On any doubt the blob stays: a leftover blob costs disk until the next
    // recover(); a wrongly deleted one loses a user's file.
    if (referenced) continue;
    if (Status s = blobs_.remove(sha); !s) {
      spdlog::warn("event=drive_blob_unlink_failed sha256={} error=\"{}\"", sha, s.message());
      continue;
    }
    ++removed;
  }
  return removed;
}

Status Drive::commit_row(std::string_view workspace, const DriveFile& file, bool replace,
                         std::int64_t now_ms, std::optional<std::string>* replaced_sha) {
  auto lock = db_.lock();
  auto tx = Transaction::begin(db_);
  if (!tx) return tx.status();
  auto old_row = db_.prepare(
      "SELECT sha256, expires_at_ms IS NULL OR expires_at_ms > ?3 FROM drive_files "
      "WHERE workspace = ?1 AND path = ?2");
  if (!old_row) return old_row.status();
  Status s = old_row->bind_text(1, workspace);
  if (s) s = old_row->bind_text(2, file.path);
  if (s) s = old_row->bind_int64(3, now_ms);
  if (!s) return s;
  auto step = old_row->step();
  if (!step) return step.status();
  std::optional<std::string> old_sha;
  if (*step == Statement::Step::kRow) {
    // An expired row is replaced silently: it is already invisible.
    if (!replace && old_row->column_int64(1) != 0) {
      return Status::conflict("File already exists in Drive");
    }
    old_sha = old_row->column_text(0);
  }
  auto upsert = db_.prepare(
      "INSERT INTO drive_files "
      "(workspace, path, size, sha256, scope, created_at_ms, expires_at_ms) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
      "ON CONFLICT (workspace, path) DO UPDATE SET size = excluded.size, "
      "sha256 = excluded.sha256, scope = excluded.scope, "
      "created_at_ms = excluded.created_at_ms, expires_at_ms = excluded.expires_at_ms");
  if (!upsert) return upsert.status();
  s = upsert->bind_text(1, workspace);
  if (s) s = upsert->bind_text(2, file.path);
  if (s) s = upsert->bind_int64(3, file.size);
  if (s) s = upsert->bind_text(4, file.sha256);
  if (s) s = upsert->bind_text(5, scope_name(file.scope));
  if (s) s = upsert->bind_int64(6, now_ms);
  if (s) {
    s = file.expires_at ? upsert->bind_int64(7, to_unix_ms(*file.expires_at))
                        : upsert->bind_null(7);
  }
  if (s) s = upsert->run();
  if (s) s = tx->commit();
  if (!s) return s;
  *replaced_sha = std::move(old_sha);
  return Status::ok();
}

Result<DriveFile> Drive::put(std::string_view workspace, std::string_view path,
                             std::string_view bytes, Scope scope, bool replace) {
  auto norm = normalize_drive_path(path);
  if (!norm) return norm.status();
  if (static_cast<std::int64_t>(bytes.size()) > options_.file_cap_bytes) {
    return Status::too_large("file is " + std::to_string(bytes.size()) +
                             " bytes; the Drive limit is " +
                             std::to_string(options_.file_cap_bytes) + " bytes");
  }
  if (Status s = check_drive_type(*norm, bytes.substr(0, kDriveSniffBytes)); !s) return s;

  DriveFile file;
  file.path = *norm;
  file.size = static_cast<std::int64_t>(bytes.size());
  file.scope = scope;
  // Millisecond precision, like the stored row, so put() and get() agree.
  const std::int64_t now_ms = to_unix_ms(clock_());
  file.created_at = from_unix_ms(now_ms);
  if (auto ttl = scope_ttl(scope, options_)) file.expires_at = file.created_at + *ttl;

  if (!replace) {
    // Early answer so a refused put does not write a 50 MiB blob first; the
    // transaction below re-checks authoritatively.
    auto lock = db_.lock();
    auto old = find_live(workspace, file.path, now_ms);
    if (!old) return old.status();
    if (old->has_value()) return Status::conflict("File already exists in Drive");
  }

  file.sha256 = sha256_hex(bytes);
  if (file.sha256.empty()) return Status::internal("EVP_Digest(sha256) failed");
  // The slow part (write + fsync of up to the cap) runs unlocked.
  if (Status s = blobs_.put(file.sha256, bytes); !s) return s;

  std::lock_guard<std::mutex> drive_lock(mu_);
  // A concurrent remove() or replace may have unlinked the blob while it was
  // unreferenced; under mu_ nobody can unlink it again until our row exists.
  if (Status s = blobs_.put(file.sha256, bytes); !s) return s;

  std::optional<std::string> replaced_sha;
  Status outcome = commit_row(workspace, file, replace, now_ms, &replaced_sha);
  if (!outcome) {
    // Our blob may now be referenced by nothing (refused or failed commit).
    release_blobs({file.sha256});
    return outcome;
  }
  if (replaced_sha && *replaced_sha != file.sha256) release_blobs({*replaced_sha});
  return file;
}

Result<DriveContent> Drive::get(std::string_view workspace, std::string_view path) {
  auto norm = normalize_drive_path(path);
  if (!norm) return norm.status();
  const std::int64_t now_ms = to_unix_ms(clock_());
  DriveContent out;
  UniqueFd fd;
  {
    // Opening under mu_ pins the content: once open, a concurrent replace
    // or remove that unlinks the blob cannot take the bytes away.
    std::lock_guard<std::mutex> drive_lock(mu_);
    auto lock = db_.lock();
    auto found = find_live(workspace, *norm, now_ms);
    if (!found) return found.status();
    if (!found->has_value()) return not_found(*norm);
    out.file = std::move(**found);
    auto opened = blobs_.open(out.file.sha256);
    if (!opened) {
      return Status::internal("Drive blob for " + out.file.path +
                              " is unreadable: " + opened.status().message());
    }
    fd = std::move(*opened);
  }
  auto bytes = read_all(fd.get(), out.file.size);
  if (!bytes) return bytes.status();
  if (static_cast<std::int64_t>(bytes->size()) != out.file.size) {
    return Status::internal("Drive blob for " + out.file.path + " has " +
                            std::to_string(bytes->size()) + " bytes, expected " +
                            std::to_string(out.file.size));
  }
  out.bytes = std::move(*bytes);
  return out;
}

Result<DriveFile> Drive::stat(std::string_view workspace, std::string_view path) {
  auto norm = normalize_drive_path(path);
  if (!norm) return norm.status();
  auto lock = db_.lock();
  auto found = find_live(workspace, *norm, to_unix_ms(clock_()));
  if (!found) return found.status();
  if (!found->has_value()) return not_found(*norm);
  return std::move(**found);
}

Result<std::vector<DriveFile>> Drive::list(std::string_view workspace, std::string_view prefix) {
  auto norm = normalize_drive_prefix(prefix);
  if (!norm) return norm.status();
  // Component-boundary prefix as a range over the primary key's index:
  // "/data/" <= path < "/data0" ('0' is the byte after '/').
  std::string lo = *norm == "/" ? "/" : *norm + "/";
  std::string hi = *norm == "/" ? "0" : *norm + "0";
  auto lock = db_.lock();
  auto st = db_.prepare(std::string("SELECT ") + kFileColumns +
                        "WHERE workspace = ?1 AND (expires_at_ms IS NULL OR expires_at_ms > ?2) "
                        "AND (path = ?3 OR (path >= ?4 AND path < ?5)) ORDER BY path");
  if (!st) return st.status();
  Status s = st->bind_text(1, workspace);
  if (s) s = st->bind_int64(2, to_unix_ms(clock_()));
  if (s) s = st->bind_text(3, *norm);
  if (s) s = st->bind_text(4, lo);
  if (s) s = st->bind_text(5, hi);
  if (!s) return s;
  std::vector<DriveFile> out;
  while (true) {
    auto step = st->step();
    if (!step) return step.status();
    if (*step == Statement::Step::kDone) return out;
    out.push_back(file_from_row(*st));
  }
}

Status Drive::remove(std::string_view workspace, std::string_view path) {
  Status s = remove_once(workspace, path);
  if (s || s.kind() != ErrorKind::kNoSpace) return s;
  // A full disk must not stop the delete that would free it: the commit
  // needs a little room (WAL pages). First fold the WAL into the database
  // and cut it to zero; if that is not enough, give up the space reserve
  // kept for exactly this, and take it back once there is room again.
  {
    auto lock = db_.lock();
    (void)db_.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  s = remove_once(workspace, path);
  if (s || s.kind() != ErrorKind::kNoSpace) return s;
  if (::unlink(reserve_path().c_str()) == 0) {
    spdlog::warn("event=drive_disk_full action=released_space_reserve path={}", reserve_path());
  }
  s = remove_once(workspace, path);
  if (s) (void)ensure_reserve();
  return s;
}

std::string Drive::reserve_path() const {
  std::string dir = options_.blob_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  const auto slash = dir.rfind('/');
  return (slash == std::string::npos ? std::string(".") : dir.substr(0, slash)) + "/drive.reserve";
}

Status Drive::ensure_reserve() {
  constexpr std::size_t kReserveBytes = 1 << 20;
  const std::string path = reserve_path();
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && static_cast<std::size_t>(st.st_size) == kReserveBytes) {
    return Status::ok();
  }
  // Real bytes, not a sparse file: the point is to hold disk blocks.
  const std::string tmp = path + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return Status::from_errno("open(" + tmp + ")");
  const std::string zeros(kReserveBytes, '\0');
  if (::write(fd.get(), zeros.data(), zeros.size()) != static_cast<ssize_t>(zeros.size()) ||
      ::fsync(fd.get()) != 0) {
    Status s = Status::from_errno("write(" + tmp + ")");
    ::unlink(tmp.c_str());
    return s;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Status::from_errno("rename(" + path + ")");
  return Status::ok();
}

Status Drive::remove_once(std::string_view workspace, std::string_view path) {
  auto norm = normalize_drive_path(path);
  if (!norm) return norm.status();
  std::lock_guard<std::mutex> drive_lock(mu_);
  std::string sha;
  {
    auto lock = db_.lock();
    auto tx = Transaction::begin(db_);
    if (!tx) return tx.status();
    auto found = find_live(workspace, *norm, to_unix_ms(clock_()));
    if (!found) return found.status();
    if (!found->has_value()) return not_found(*norm);
    sha = (*found)->sha256;
    auto del = db_.prepare("DELETE FROM drive_files WHERE workspace = ?1 AND path = ?2");
    if (!del) return del.status();
    Status s = del->bind_text(1, workspace);
    if (s) s = del->bind_text(2, *norm);
    if (s) s = del->run();
    if (s) s = tx->commit();
    if (!s) return s;
  }
  release_blobs({sha});
  return Status::ok();
}

Result<int> Drive::sweep_expired(TimePoint now) {
  std::lock_guard<std::mutex> drive_lock(mu_);
  std::vector<std::string> shas;
  Result<int> removed = 0;
  {
    auto lock = db_.lock();
    removed = delete_expired(db_, to_unix_ms(now), &shas);
  }
  if (!removed) return removed;
  int blobs = release_blobs(shas);
  if (*removed > 0)
    spdlog::info("event=drive_sweep files_removed={} blobs_removed={}", *removed, blobs);
  return removed;
}

Result<RecoveryReport> Drive::recover() {
  std::lock_guard<std::mutex> drive_lock(mu_);
  RecoveryReport report;
  if (Status s = blobs_.init(); !s) return s;
  if (Status s = ensure_reserve(); !s) {
    spdlog::warn("event=drive_reserve_missing error=\"{}\"", s.message());
  }
  auto temps = blobs_.clear_temp();
  if (!temps) return temps.status();
  report.temp_files_removed = *temps;

  auto lock = db_.lock();
  // Rows whose blob is missing or the wrong size cannot be served; by
  // construction this needs a damaged disk or manual deletion, so each one
  // is logged as an error.
  {
    auto st = db_.prepare("SELECT DISTINCT sha256, size FROM drive_files");
    if (!st) return st.status();
    std::vector<std::pair<std::string, std::int64_t>> refs;
    while (true) {
      auto step = st->step();
      if (!step) return step.status();
      if (*step == Statement::Step::kDone) break;
      refs.emplace_back(st->column_text(0), st->column_int64(1));
    }
    std::vector<std::string> bad;
    for (const auto& [sha, size] : refs) {
      auto on_disk = blobs_.size(sha);
      if (on_disk && *on_disk == size) continue;
      spdlog::error("event=drive_recover_bad_blob sha256={} expected_size={} error=\"{}\"", sha,
                    size,
                    on_disk ? "size is " + std::to_string(*on_disk) : on_disk.status().message());
      bad.push_back(sha);
    }
    if (!bad.empty()) {
      auto tx = Transaction::begin(db_);
      if (!tx) return tx.status();
      auto del = db_.prepare("DELETE FROM drive_files WHERE sha256 = ?1 RETURNING workspace, path");
      if (!del) return del.status();
      for (const std::string& sha : bad) {
        if (Status s = del->bind_text(1, sha); !s) return s;
        while (true) {
          auto step = del->step();
          if (!step) return step.status();
          if (*step == Statement::Step::kDone) break;
          spdlog::error("event=drive_recover_row_removed workspace={} path=\"{}\" sha256={}",
                        del->column_text(0), del->column_text(1), sha);
          ++report.rows_without_blob_removed;
        }
        if (Status s = del->reset(); !s) return s;
      }
      if (Status s = tx->commit(); !s) return s;
      for (const std::string& sha : bad) (void)blobs_.remove(sha);
    }
  }

  std::vector<std::string> expired_shas;
  auto expired = delete_expired(db_, to_unix_ms(clock_()), &expired_shas);
  if (!expired) return expired.status();
  report.expired_removed = *expired;

  // Blobs no row names: a put that crashed before its commit, or a replace
  // or remove that crashed before its unlink.
  auto st = db_.prepare("SELECT DISTINCT sha256 FROM drive_files");
  if (!st) return st.status();
  auto referenced_list = text_column(*st);
  if (!referenced_list) return referenced_list.status();
  std::set<std::string> referenced(referenced_list->begin(), referenced_list->end());
  auto on_disk = blobs_.list();
  if (!on_disk) return on_disk.status();
  for (const std::string& sha : *on_disk) {
    if (referenced.count(sha)) continue;
    if (Status s = blobs_.remove(sha); !s) return s;
    spdlog::info("event=drive_recover_orphan_blob_removed sha256={}", sha);
    ++report.orphan_blobs_removed;
  }
  spdlog::info(
      "event=drive_recovered temp_files_removed={} rows_without_blob_removed={} "
      "orphan_blobs_removed={} expired_removed={}",
      report.temp_files_removed, report.rows_without_blob_removed, report.orphan_blobs_removed,
      report.expired_removed);
  return report;
}

}  // namespace kiln::storage
