#include "storage/database.h"

#include <gtest/gtest.h>

#include "storage/schema.h"
#include "storage/test_temp_dir.h"

namespace kiln::storage {
namespace {

using testing::TempDir;

Database open_or_die(const std::string& path) {
  auto db = Database::open(path);
  EXPECT_TRUE(db.is_ok()) << db.status().message();
  return std::move(db.value());
}

std::string pragma_text(Database& db, const std::string& sql) {
  auto st = db.prepare(sql);
  EXPECT_TRUE(st.is_ok()) << st.status().message();
  auto step = st->step();
  EXPECT_TRUE(step.is_ok());
  return st->column_text(0);
}

TEST(Database, OpensWithDurablePragmas) {
  TempDir dir;
  Database db = open_or_die(dir / "kiln.db");
  EXPECT_EQ(pragma_text(db, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(pragma_text(db, "PRAGMA synchronous"), "2");  // FULL
  EXPECT_EQ(pragma_text(db, "PRAGMA foreign_keys"), "1");
  EXPECT_EQ(pragma_text(db, "PRAGMA busy_timeout"), "5000");
}

TEST(Database, OpenFailureNamesTheCall) {
  auto db = Database::open("/nonexistent-dir/x/kiln.db");
  ASSERT_FALSE(db.is_ok());
  EXPECT_EQ(db.status().message().rfind("sqlite3_open_v2(/nonexistent-dir/x/kiln.db): ", 0), 0u)
      << db.status().message();
}

TEST(Database, AReadOnlyDatabaseIsAnInternalFailureNotTheCallersFault) {
  TempDir dir;
  Database db = open_or_die(dir / "kiln.db");
  ASSERT_TRUE(db.exec("CREATE TABLE t (a INTEGER)"));
  ASSERT_TRUE(db.exec("PRAGMA query_only = ON"));
  Status s = db.exec("INSERT INTO t VALUES (1)");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.kind(), ErrorKind::kInternal) << s.message();  // 500, never 422
}

TEST(Statement, BindStepAndColumns) {
  TempDir dir;
  Database db = open_or_die(dir / "kiln.db");
  ASSERT_TRUE(db.exec("CREATE TABLE t (i INTEGER, d REAL, s TEXT, b BLOB, n TEXT)"));
  auto ins = db.prepare("INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5)");
  ASSERT_TRUE(ins.is_ok()) << ins.status().message();
  ASSERT_TRUE(ins->bind_int64(1, 1LL << 40));
  ASSERT_TRUE(ins->bind_double(2, 2.5));
  ASSERT_TRUE(ins->bind_text(3, "héllo"));
  ASSERT_TRUE(ins->bind_blob(4, std::string("a\0b", 3)));
  ASSERT_TRUE(ins->bind_null(5));
  ASSERT_TRUE(ins->run());
  EXPECT_EQ(db.changes(), 1);

  auto sel = db.prepare("SELECT i, d, s, b, n FROM t");
  ASSERT_TRUE(sel.is_ok());
  auto step = sel->step();
  ASSERT_TRUE(step.is_ok());
  ASSERT_EQ(*step, Statement::Step::kRow);
  EXPECT_EQ(sel->column_int64(0), 1LL << 40);
  EXPECT_EQ(sel->column_double(1), 2.5);
  EXPECT_EQ(sel->column_text(2), "héllo");
  EXPECT_EQ(sel->column_blob(3), std::string("a\0b", 3));
  EXPECT_TRUE(sel->column_is_null(4));
  EXPECT_FALSE(sel->column_is_null(0));
  step = sel->step();
  ASSERT_TRUE(step.is_ok());
  EXPECT_EQ(*step, Statement::Step::kDone);
}

TEST(Statement, PrepareErrorCarriesSqlAndMessage) {
  TempDir dir;
  Database db = open_or_die(dir / "kiln.db");
  auto st = db.prepare("INSERT INTO x VALUES (1)");
  ASSERT_FALSE(st.is_ok());
  EXPECT_EQ(st.status().message(),
            "sqlite3_prepare_v2(INSERT INTO x VALUES (1)): no such table: x");
  // A storage failure is never the client's fault: 500, not 400.
  EXPECT_EQ(st.status().kind(), ErrorKind::kInternal);
}

TEST(Statement, LongSqlIsAbbreviatedInErrors) {
  TempDir dir;
  Database db = open_or_die(dir / "kiln.db");
  auto st = db.prepare(
      "SELECT aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbbbbbbbbbbbbb FROM nope");
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.status().message().find("…): no such table: nope"), std::string::npos)
      << st.status().message();
}

TEST(Statement, StepErrorsMapErrno) {
  TempDir dir;
  Database db = open_or_die(dir / "kiln.db");
  ASSERT_TRUE(db.exec("CREATE TABLE t (k TEXT PRIMARY KEY)"));
  auto ins = db.prepare("INSERT INTO t VALUES (?1)");
  ASSERT_TRUE(ins.is_ok());
  ASSERT_TRUE(ins->bind_text(1, "a"));
  ASSERT_TRUE(ins->run());
  ASSERT_TRUE(ins->reset());
  Status dup = ins->run();
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.kind(), ErrorKind::kConflict);
  EXPECT_NE(dup.message().find("sqlite3_step(INSERT INTO t VALUES (?1)): UNIQUE constraint failed"),
            std::string::npos)
      << dup.message();
  // The statement stays usable after an error.
  ASSERT_TRUE(ins->bind_text(1, "b"));
  EXPECT_TRUE(ins->run());
}

TEST(Statement, BindOutOfRangeIsAnError) {
  TempDir dir;
  Database db = open_or_die(dir / "kiln.db");
  auto st = db.prepare("SELECT ?1");
  ASSERT_TRUE(st.is_ok());
  Status s = st->bind_int64(2, 1);
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("sqlite3_bind_int64#2(SELECT ?1)"), std::string::npos) << s.message();
}

TEST(Statement, RefusesTrailingStatements) {
  TempDir dir;
  Database db = open_or_die(dir / "kiln.db");
  EXPECT_FALSE(db.prepare("SELECT 1; SELECT 2").is_ok());
  EXPECT_TRUE(db.prepare("SELECT 1;").is_ok());
  EXPECT_FALSE(db.prepare("  ").is_ok());
}

TEST(Transaction, RollsBackUnlessCommitted) {
  TempDir dir;
  Database db = open_or_die(dir / "kiln.db");
  ASSERT_TRUE(db.exec("CREATE TABLE t (v INTEGER)"));
  {
    auto tx = Transaction::begin(db);
    ASSERT_TRUE(tx.is_ok()) << tx.status().message();
    ASSERT_TRUE(db.exec("INSERT INTO t VALUES (1)"));
  }  // destroyed without commit
  {
    auto tx = Transaction::begin(db);
    ASSERT_TRUE(tx.is_ok());
    ASSERT_TRUE(db.exec("INSERT INTO t VALUES (2)"));
    ASSERT_TRUE(tx->commit());
    EXPECT_FALSE(tx->commit());  // only once
  }
  EXPECT_EQ(pragma_text(db, "SELECT group_concat(v) FROM t"), "2");
  // A rolled-back transaction leaves the connection usable.
  auto tx = Transaction::begin(db);
  EXPECT_TRUE(tx.is_ok());
}

TEST(Transaction, CommittedDataSurvivesReopen) {
  TempDir dir;
  {
    Database db = open_or_die(dir / "kiln.db");
    ASSERT_TRUE(db.exec("CREATE TABLE t (v INTEGER)"));
    auto tx = Transaction::begin(db);
    ASSERT_TRUE(db.exec("INSERT INTO t VALUES (7)"));
    ASSERT_TRUE(tx->commit());
  }
  Database db = open_or_die(dir / "kiln.db");
  EXPECT_EQ(pragma_text(db, "SELECT v FROM t"), "7");
}

TEST(Migrations, ApplyOnceAndAreIdempotent) {
  TempDir dir;
  const int latest = static_cast<int>(kiln_migrations().size());
  {
    Database db = open_or_die(dir / "kiln.db");
    EXPECT_EQ(*db.user_version(), 0);
    ASSERT_TRUE(migrate(db));
    EXPECT_EQ(*db.user_version(), latest);
    ASSERT_TRUE(migrate(db));  // again: nothing to do, no "table exists" error
    EXPECT_EQ(*db.user_version(), latest);
  }
  Database db = open_or_die(dir / "kiln.db");
  Status s = migrate(db);
  EXPECT_TRUE(s) << s.message();
  EXPECT_EQ(*db.user_version(), latest);
  for (const char* table :
       {"workspaces", "api_keys", "drive_files", "usage_sandboxes", "workspace_credits"}) {
    auto st = db.prepare(std::string("SELECT count(*) FROM ") + table);
    EXPECT_TRUE(st.is_ok()) << table << ": " << st.status().message();
  }
}

TEST(Migrations, FailedMigrationLeavesPreviousVersion) {
  TempDir dir;
  Database db = open_or_die(dir / "kiln.db");
  const Migration good[] = {{1, "one", "CREATE TABLE a (x INTEGER)"}};
  ASSERT_TRUE(migrate(db, good));
  const Migration bad[] = {{1, "one", "CREATE TABLE a (x INTEGER)"},
                           {2, "two", "CREATE TABLE b (y INTEGER); CREATE TABLE a (z INTEGER)"}};
  Status s = migrate(db, bad);
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("migration 2 (two)"), std::string::npos) << s.message();
  EXPECT_EQ(*db.user_version(), 1);
  EXPECT_FALSE(db.prepare("SELECT * FROM b").is_ok());  // rolled back with the version
}

TEST(Migrations, RefusesNewerDatabaseAndBadLists) {
  TempDir dir;
  Database db = open_or_die(dir / "kiln.db");
  ASSERT_TRUE(db.exec("PRAGMA user_version = 99"));
  Status s = migrate(db);
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("newer"), std::string::npos) << s.message();
  const Migration gap[] = {{2, "two", "SELECT 1"}};
  EXPECT_FALSE(migrate(db, gap));
}

}  // namespace
}  // namespace kiln::storage
