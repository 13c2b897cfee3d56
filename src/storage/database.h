// Database: one SQLite connection with Kiln's durability settings, plus the
// RAII pieces every store uses (Statement, Transaction).
//
// Durability: WAL journal with synchronous=FULL, so a COMMIT that returned is
// on disk: it survives kill -9 of the daemon and power loss of the machine.
//
// Concurrency: a Database is one connection and is NOT meant to be used by
// two threads at once, even though SQLite itself is opened serialized: two
// threads interleaving on one connection would share one transaction. Every
// caller that may run concurrently takes `lock()` for the whole of one
// logical operation (the stores in src/storage do this per public method).
// Statements and Transactions borrow the connection and must not outlive it.
// Other processes may open the same file; busy_timeout makes them wait for
// each other instead of failing with SQLITE_BUSY.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace kiln::storage {

// One prepared statement; finalized on destruction. Bind indices and column
// indices follow SQLite: binds are 1-based, columns 0-based.
class Statement {
 public:
  enum class Step { kRow, kDone };

  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Status bind_int64(int index, std::int64_t value);
  Status bind_double(int index, double value);
  Status bind_text(int index, std::string_view value);  // copied by SQLite
  Status bind_blob(int index, std::string_view bytes);  // copied by SQLite
  Status bind_null(int index);

  // One step: kRow when a row is available to the column getters, kDone
  // when the statement has finished.
  Result<Step> step();
  // Steps to completion, ignoring rows: for INSERT/UPDATE/DELETE/DDL.
  Status run();
  // Makes the statement runnable again; keeps the bindings.
  Status reset();

  bool column_is_null(int col) const;
  std::int64_t column_int64(int col) const;
  double column_double(int col) const;
  std::string column_text(int col) const;
  std::string column_blob(int col) const;

  const std::string& sql() const { return sql_; }

 private:
  friend class Database;
  Statement(sqlite3* db, sqlite3_stmt* stmt, std::string sql);
  Status check_bind(int rc, int index, const char* what);

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;
};

class Database {
 public:
  // Opens (creating if needed) the database file and applies the pragmas
  // described above. Does not migrate: see storage/schema.h.
  static Result<Database> open(const std::string& path);

  Database(Database&& other) noexcept = default;
  Database& operator=(Database&& other) noexcept = default;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database() = default;

  // Runs one or more ';'-separated statements that return no rows.
  Status exec(std::string_view sql);
  Result<Statement> prepare(std::string_view sql);

  Result<int> user_version();
  // Rows changed by the most recent INSERT/UPDATE/DELETE on this connection.
  int changes();

  // Serializes logical operations on this connection (see the header note).
  std::unique_lock<std::mutex> lock() { return std::unique_lock<std::mutex>(*mu_); }

  sqlite3* handle() { return db_.get(); }
  const std::string& path() const { return path_; }

 private:
  struct Closer {
    void operator()(sqlite3* db) const;
  };
  Database() = default;

  std::unique_ptr<sqlite3, Closer> db_;
  // Behind a pointer so Database stays movable (into a Result, into a
  // member) while the mutex itself never moves.
  std::unique_ptr<std::mutex> mu_ = std::make_unique<std::mutex>();
  std::string path_;
};

// BEGIN IMMEDIATE ... COMMIT. IMMEDIATE takes the write lock up front, so a
// read-then-write transaction cannot fail half-way with SQLITE_BUSY when
// another process writes. Rolls back on destruction unless committed, so an
// early `return status;` never leaves a transaction open.
class Transaction {
 public:
  static Result<Transaction> begin(Database& db);

  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  Status commit();

 private:
  explicit Transaction(Database* db) : db_(db) {}
  Database* db_;  // null once committed, rolled back or moved from
};

// "sqlite3_step(INSERT INTO drive_files …): UNIQUE constraint failed: …",
// with an errno chosen so callers can map it (EEXIST for uniqueness, EBUSY
// for lock timeouts, ENOSPC for a full disk, EIO otherwise).
Status sqlite_error(sqlite3* db, int rc, std::string_view call, std::string_view sql);

}  // namespace kiln::storage
