#include "storage/database.h"

#include <sqlite3.h>

#include <cerrno>
#include <utility>

namespace kiln::storage {
namespace {

// Error messages quote the statement so a log line says which query failed,
// but only its start: enough to recognise it, short enough for one line.
std::string abbreviate(std::string_view sql) {
  std::string out;
  bool space = false;
  for (char c : sql) {
    if (c == '\n' || c == '\t' || c == '\r' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
    if (out.size() >= 60) return out + "…";
  }
  return out;
}

// SQLite's result codes as failures: storage trouble is never the
// caller's fault (500, 503 or 507); only a unique key already taken says
// something about the request (409), and callers that expect it check for it.
Status status_for(sqlite3* db, int rc, std::string message) {
  const int sys = db ? sqlite3_system_errno(db) : 0;
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return Status::of(ErrorKind::kConflict, std::move(message), rc);
      return Status::of(ErrorKind::kInternal, std::move(message), rc);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::of(ErrorKind::kUnavailable, std::move(message), rc);
    case SQLITE_FULL:
      return Status::of(ErrorKind::kNoSpace, std::move(message), ENOSPC);
    default:
      if (sys == ENOSPC || sys == EDQUOT)
        return Status::of(ErrorKind::kNoSpace, std::move(message), sys);
      return Status::of(ErrorKind::kInternal, std::move(message), sys != 0 ? sys : rc);
  }
}

}  // namespace

Status sqlite_error(sqlite3* db, int rc, std::string_view call, std::string_view sql) {
  std::string msg;
  msg.append(call).append("(").append(abbreviate(sql)).append("): ");
  msg.append(db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  return status_for(db, rc, std::move(msg));
}

// --- Statement -------------------------------------------------------------

Statement::Statement(sqlite3* db, sqlite3_stmt* stmt, std::string sql)
    : db_(db), stmt_(stmt), sql_(std::move(sql)) {}

Statement::Statement(Statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      stmt_(std::exchange(other.stmt_, nullptr)),
      sql_(std::move(other.sql_)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
    sql_ = std::move(other.sql_);
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Status Statement::check_bind(int rc, int index, const char* what) {
  if (rc == SQLITE_OK) return Status::ok();
  return sqlite_error(db_, rc, std::string(what) + "#" + std::to_string(index), sql_);
}

Status Statement::bind_int64(int index, std::int64_t value) {
  return check_bind(sqlite3_bind_int64(stmt_, index, value), index, "sqlite3_bind_int64");
}

Status Statement::bind_double(int index, double value) {
  return check_bind(sqlite3_bind_double(stmt_, index, value), index, "sqlite3_bind_double");
}

Status Statement::bind_text(int index, std::string_view value) {
  return check_bind(
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
      index, "sqlite3_bind_text64");
}

Status Statement::bind_blob(int index, std::string_view bytes) {
  // A zero-length blob with a null pointer would bind NULL, not x''.
  static const char kEmpty = 0;
  const void* data = bytes.empty() ? &kEmpty : bytes.data();
  return check_bind(sqlite3_bind_blob64(stmt_, index, data, bytes.size(), SQLITE_TRANSIENT), index,
                    "sqlite3_bind_blob64");
}

Status Statement::bind_null(int index) {
  return check_bind(sqlite3_bind_null(stmt_, index), index, "sqlite3_bind_null");
}

Result<Statement::Step> Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return Step::kRow;
  if (rc == SQLITE_DONE) return Step::kDone;
  Status err = sqlite_error(db_, rc, "sqlite3_step", sql_);
  // Leave the statement reusable; the error is already captured above.
  sqlite3_reset(stmt_);
  return err;
}

Status Statement::run() {
  while (true) {
    auto s = step();
    if (!s) return s.status();
    if (*s == Step::kDone) return Status::ok();
  }
}

Status Statement::reset() {
  int rc = sqlite3_reset(stmt_);
  if (rc != SQLITE_OK) return sqlite_error(db_, rc, "sqlite3_reset", sql_);
  return Status::ok();
}

bool Statement::column_is_null(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

std::int64_t Statement::column_int64(int col) const { return sqlite3_column_int64(stmt_, col); }

double Statement::column_double(int col) const { return sqlite3_column_double(stmt_, col); }

std::string Statement::column_text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);  // after the pointer, as SQLite requires
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n))
           : std::string();
}

std::string Statement::column_blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(static_cast<const char*>(p), static_cast<std::size_t>(n)) : std::string();
}

// --- Database --------------------------------------------------------------

void Database::Closer::operator()(sqlite3* db) const {
  // close_v2 defers the close until stray statements are finalized instead
  // of failing and leaking the connection.
  sqlite3_close_v2(db);
}

Result<Database> Database::open(const std::string& path) {
  Database out;
  out.path_ = path;
  sqlite3* raw = nullptr;
  int flags =
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_EXRESCODE;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  out.db_.reset(raw);  // owned even on failure: open_v2 allocates a handle to report through
  if (rc != SQLITE_OK) return sqlite_error(raw, rc, "sqlite3_open_v2", path);

  // Wait for another writer (e.g. `kilnd keys create` while kilnd runs)
  // rather than fail at once.
  sqlite3_busy_timeout(raw, 5000);

  // journal_mode answers with the mode actually in effect; on a filesystem
  // without shared memory support it stays "delete", which would silently
  // change the durability and concurrency story, so insist on WAL.
  {
    auto mode = out.prepare("PRAGMA journal_mode=WAL");
    if (!mode) return mode.status();
    auto step = mode->step();
    if (!step) return step.status();
    std::string got = *step == Statement::Step::kRow ? mode->column_text(0) : "";
    if (got != "wal") {
      return Status::internal("PRAGMA journal_mode=WAL(" + path + "): database stays in mode '" +
                              got + "'");
    }
  }  // the statement is finalized here, before the next pragmas

  // FULL (not NORMAL) in WAL mode fsyncs the WAL on every commit: an
  // acknowledged write survives power loss, not only a process crash.
  // journal_size_limit: after a checkpoint the WAL is cut back to 4 MiB
  // rather than keeping its largest size, so it cannot hold on to the space
  // a nearly full disk needs.
  Status s = out.exec(
      "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA journal_size_limit=4194304;");
  if (!s) return s;
  return out;
}

Status Database::exec(std::string_view sql) {
  std::string copy(sql);  // sqlite3_exec needs a NUL-terminated string
  char* err = nullptr;
  int rc = sqlite3_exec(db_.get(), copy.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::ok();
  std::string msg = "sqlite3_exec(" + abbreviate(sql) + "): " + (err ? err : sqlite3_errstr(rc));
  sqlite3_free(err);
  Status base = sqlite_error(db_.get(), rc, "", "");
  return base.with_message(std::move(msg));
}

Result<Statement> Database::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &stmt, &tail);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return sqlite_error(db_.get(), rc, "sqlite3_prepare_v2", sql);
  }
  if (stmt == nullptr) {
    return Status::invalid("sqlite3_prepare_v2(" + abbreviate(sql) + "): empty statement");
  }
  Statement out(db_.get(), stmt, std::string(sql));
  // A second statement after ';' would be silently ignored by prepare_v2;
  // refuse it so a typo never drops half of a query.
  std::string_view rest(tail, static_cast<std::size_t>(sql.data() + sql.size() - tail));
  if (rest.find_first_not_of(" \t\r\n;") != std::string_view::npos) {
    return Status::invalid("sqlite3_prepare_v2(" + abbreviate(sql) +
                           "): more than one statement; use exec()");
  }
  return out;
}

Result<int> Database::user_version() {
  auto st = prepare("PRAGMA user_version");
  if (!st) return st.status();
  auto step = st->step();
  if (!step) return step.status();
  return static_cast<int>(st->column_int64(0));
}

int Database::changes() { return sqlite3_changes(db_.get()); }

// --- Transaction -----------------------------------------------------------

Result<Transaction> Transaction::begin(Database& db) {
  Status s = db.exec("BEGIN IMMEDIATE");
  if (!s) return s;
  return Transaction(&db);
}

Transaction::Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Transaction::~Transaction() {
  if (db_ == nullptr) return;
  // Best effort: if ROLLBACK itself fails SQLite has already rolled back
  // (that is what makes COMMIT/ROLLBACK fail), and a destructor cannot report.
  if (sqlite3_get_autocommit(db_->handle()) == 0) (void)db_->exec("ROLLBACK");
}

Status Transaction::commit() {
  if (db_ == nullptr) return Status::invalid("Transaction::commit: transaction is not active");
  Status s = db_->exec("COMMIT");
  // On failure the destructor still rolls back whatever is left open.
  if (s) db_ = nullptr;
  return s;
}

}  // namespace kiln::storage
