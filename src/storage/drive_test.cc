#include "storage/drive.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "storage/crypto.h"
#include "storage/schema.h"
#include "storage/test_temp_dir.h"

namespace kiln::storage {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::TempDir;

// Every regular file under `dir` (recursively), relative names.
std::vector<std::string> files_under(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file()) out.push_back(std::filesystem::relative(it->path(), dir).string());
  }
  return out;
}

class DriveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::open(dir_ / "kiln.db");
    ASSERT_TRUE(db.is_ok()) << db.status().message();
    db_.emplace(std::move(*db));
    ASSERT_TRUE(migrate(*db_));
    options_.blob_dir = dir_ / "blobs";
    make_drive();
  }
  void make_drive() {
    drive_.emplace(*db_, options_, [this] { return now_; });
    auto r = drive_->recover();
    ASSERT_TRUE(r.is_ok()) << r.status().message();
  }
  DriveFile put_ok(std::string_view ws, std::string_view path, std::string_view bytes,
                   Scope scope = Scope::kPersistent, bool replace = false) {
    auto r = drive_->put(ws, path, bytes, scope, replace);
    EXPECT_TRUE(r.is_ok()) << path << ": " << r.status().message();
    return r.is_ok() ? *r : DriveFile{};
  }
  std::string content(std::string_view ws, std::string_view path) {
    auto r = drive_->get(ws, path);
    return r.is_ok() ? r->bytes : std::string("ERROR:") + error_kind_name(r.status().kind());
  }
  std::vector<std::string> blob_files() { return files_under(options_.blob_dir); }

  TempDir dir_;
  TimePoint now_ = from_unix_ms(1'700'000'000'000);
  DriveOptions options_;
  std::optional<Database> db_;
  std::optional<Drive> drive_;
};

TEST_F(DriveTest, PutGetListRemove) {
  DriveFile f = put_ok("ws", "/data//q4.csv", "region,total\nnorth,10\n");
  EXPECT_EQ(f.path, "/data/q4.csv");
  EXPECT_EQ(f.size, 22);
  EXPECT_EQ(f.scope, Scope::kPersistent);
  EXPECT_EQ(f.created_at, now_);
  EXPECT_FALSE(f.expires_at.has_value());
  EXPECT_EQ(f.sha256, sha256_hex("region,total\nnorth,10\n"));

  auto got = drive_->get("ws", "/data/q4.csv");
  ASSERT_TRUE(got.is_ok()) << got.status().message();
  EXPECT_EQ(got->bytes, "region,total\nnorth,10\n");
  EXPECT_EQ(got->file.sha256, f.sha256);
  EXPECT_EQ(got->file.created_at, f.created_at);
  EXPECT_EQ(drive_->stat("ws", "/data/q4.csv")->size, 22);

  put_ok("ws", "/data/sub/a.txt", "a");
  put_ok("ws", "/database.csv", "x");  // shares the string prefix, not the folder
  put_ok("ws", "/other.md", "m");
  auto listed = drive_->list("ws", "/data");
  ASSERT_TRUE(listed.is_ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].path, "/data/q4.csv");
  EXPECT_EQ((*listed)[1].path, "/data/sub/a.txt");
  EXPECT_EQ(drive_->list("ws", "")->size(), 4u);
  EXPECT_EQ(drive_->list("ws", "/data/q4.csv")->size(), 1u);
  EXPECT_EQ(drive_->list("ws", "/nothing")->size(), 0u);
  EXPECT_FALSE(drive_->list("ws", "/../x").is_ok());

  ASSERT_TRUE(drive_->remove("ws", "/data/q4.csv"));
  EXPECT_EQ(content("ws", "/data/q4.csv"), std::string("ERROR:not_found"));
  EXPECT_EQ(drive_->remove("ws", "/data/q4.csv").kind(), ErrorKind::kNotFound);
  EXPECT_EQ(blob_files().size(), 3u);  // the removed file's blob is gone
}

TEST_F(DriveTest, EmptyFile) {
  put_ok("ws", "/empty.txt", "");
  EXPECT_EQ(content("ws", "/empty.txt"), "");
}

TEST_F(DriveTest, ReplaceAndConflict) {
  put_ok("ws", "/r.txt", "one");
  auto again = drive_->put("ws", "/r.txt", "two", Scope::kPersistent, false);
  ASSERT_FALSE(again.is_ok());
  EXPECT_EQ(again.status().kind(), ErrorKind::kConflict);
  EXPECT_EQ(again.status().message(), "File already exists in Drive");
  EXPECT_EQ(content("ws", "/r.txt"), "one");
  EXPECT_EQ(blob_files().size(), 1u);  // the refused content left nothing behind

  put_ok("ws", "/r.txt", "two", Scope::kSession, true);
  EXPECT_EQ(content("ws", "/r.txt"), "two");
  EXPECT_EQ(drive_->stat("ws", "/r.txt")->scope, Scope::kSession);
  auto files = blob_files();
  ASSERT_EQ(files.size(), 1u);  // old blob deleted after the commit
  EXPECT_EQ(std::filesystem::path(files[0]).filename(), sha256_hex("two"));
  // Replacing with identical content keeps the blob.
  put_ok("ws", "/r.txt", "two", Scope::kPersistent, true);
  EXPECT_EQ(content("ws", "/r.txt"), "two");
  EXPECT_EQ(blob_files().size(), 1u);
}

TEST_F(DriveTest, DedupAndRefcount) {
  put_ok("ws", "/a.txt", "same bytes");
  put_ok("ws", "/b.txt", "same bytes");
  put_ok("other", "/c.txt", "same bytes");
  auto files = blob_files();
  ASSERT_EQ(files.size(), 1u);
  std::string sha = sha256_hex("same bytes");
  EXPECT_EQ(files[0], sha.substr(0, 2) + "/" + sha.substr(2, 2) + "/" + sha);

  ASSERT_TRUE(drive_->remove("ws", "/a.txt"));
  EXPECT_EQ(blob_files().size(), 1u);  // still referenced twice
  EXPECT_EQ(content("ws", "/b.txt"), "same bytes");
  put_ok("ws", "/b.txt", "new", Scope::kPersistent, true);
  EXPECT_EQ(blob_files().size(), 2u);  // "same bytes" still used by the other workspace
  ASSERT_TRUE(drive_->remove("other", "/c.txt"));
  EXPECT_EQ(blob_files().size(), 1u);
}

TEST_F(DriveTest, WorkspaceIsolation) {
  put_ok("alice", "/secret.txt", "alice's data");
  auto got = drive_->get("bob", "/secret.txt");
  ASSERT_FALSE(got.is_ok());
  EXPECT_EQ(got.status().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(got.status().message().find("alice"), std::string::npos);
  EXPECT_EQ(drive_->list("bob", "/")->size(), 0u);
  EXPECT_EQ(drive_->remove("bob", "/secret.txt").kind(), ErrorKind::kNotFound);
  EXPECT_FALSE(drive_->stat("bob", "/secret.txt").is_ok());
  // Bob may use the same path without a conflict, and it is his own file.
  put_ok("bob", "/secret.txt", "bob's data");
  EXPECT_EQ(content("alice", "/secret.txt"), "alice's data");
  EXPECT_EQ(content("bob", "/secret.txt"), "bob's data");
}

TEST_F(DriveTest, ScopesExpireOnTheClock) {
  const TimePoint t0 = now_;
  DriveFile tmp = put_ok("ws", "/t.txt", "t", Scope::kTemporary);
  DriveFile ses = put_ok("ws", "/s.txt", "s", Scope::kSession);
  put_ok("ws", "/p.txt", "p", Scope::kPersistent);
  EXPECT_EQ(tmp.expires_at, t0 + minutes(10));
  EXPECT_EQ(ses.expires_at, t0 + hours(24));

  now_ = t0 + minutes(10) - seconds(1);
  EXPECT_EQ(content("ws", "/t.txt"), "t");
  now_ = t0 + minutes(10);
  EXPECT_EQ(content("ws", "/t.txt"), std::string("ERROR:not_found"));
  EXPECT_EQ(content("ws", "/s.txt"), "s");
  EXPECT_EQ(drive_->list("ws", "/")->size(), 2u);
  // An expired path is free again without replace=true.
  put_ok("ws", "/t.txt", "t2", Scope::kTemporary);
  EXPECT_EQ(content("ws", "/t.txt"), "t2");

  now_ = t0 + hours(24);
  EXPECT_EQ(content("ws", "/s.txt"), std::string("ERROR:not_found"));
  now_ = t0 + hours(24 * 365 * 10);
  EXPECT_EQ(content("ws", "/p.txt"), "p");
}

TEST_F(DriveTest, ConfigurableTtls) {
  options_.temporary_ttl = seconds(5);
  make_drive();
  const TimePoint t0 = now_;
  put_ok("ws", "/t.txt", "t", Scope::kTemporary);
  now_ = t0 + seconds(5);
  EXPECT_FALSE(drive_->get("ws", "/t.txt").is_ok());
}

TEST_F(DriveTest, SweepDeletesRowsAndBlobs) {
  const TimePoint t0 = now_;
  put_ok("ws", "/t1.txt", "temp one", Scope::kTemporary);
  put_ok("ws", "/t2.txt", "shared", Scope::kTemporary);
  put_ok("ws", "/keep.txt", "shared", Scope::kPersistent);
  put_ok("ws", "/s.txt", "session", Scope::kSession);
  EXPECT_EQ(blob_files().size(), 3u);

  auto none = drive_->sweep_expired(t0 + minutes(9));
  ASSERT_TRUE(none.is_ok());
  EXPECT_EQ(*none, 0);
  auto swept = drive_->sweep_expired(t0 + minutes(10));
  ASSERT_TRUE(swept.is_ok()) << swept.status().message();
  EXPECT_EQ(*swept, 2);
  EXPECT_EQ(blob_files().size(), 2u);  // "temp one" gone; "shared" still kept
  EXPECT_EQ(content("ws", "/keep.txt"), "shared");

  // recover() at start-up sweeps too.
  now_ = t0 + hours(25);
  make_drive();
  EXPECT_EQ(blob_files().size(), 1u);
  auto stmt = db_->prepare("SELECT count(*) FROM drive_files");
  ASSERT_TRUE(stmt->step().is_ok());
  EXPECT_EQ(stmt->column_int64(0), 1);
}

TEST_F(DriveTest, CapAndTypeAndPathErrors) {
  options_.file_cap_bytes = 1000;
  make_drive();
  put_ok("ws", "/ok.txt", std::string(1000, 'a'));
  auto big = drive_->put("ws", "/big.txt", std::string(1001, 'a'), Scope::kPersistent, false);
  ASSERT_FALSE(big.is_ok());
  EXPECT_EQ(big.status().kind(), ErrorKind::kTooLarge);

  auto exe = drive_->put("ws", "/tool.exe", "x", Scope::kPersistent, false);
  ASSERT_FALSE(exe.is_ok());
  EXPECT_EQ(exe.status().kind(), ErrorKind::kUnsupportedType);
  auto elf = drive_->put("ws", "/report.csv",
                         std::string("\x7f"
                                     "ELF\x02\x01",
                                     6),
                         Scope::kPersistent, false);
  ASSERT_FALSE(elf.is_ok());
  EXPECT_EQ(elf.status().kind(), ErrorKind::kUnsupportedType);
  EXPECT_NE(elf.status().message().find("ELF"), std::string::npos);

  auto bad = drive_->put("ws", "relative.txt", "x", Scope::kPersistent, false);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().kind(), ErrorKind::kInvalid);
  EXPECT_EQ(drive_->get("ws", "/a/../ok.txt").status().kind(), ErrorKind::kInvalid);
  EXPECT_EQ(blob_files().size(), 1u);

  // The default cap is 50 MiB.
  EXPECT_EQ(DriveOptions{}.file_cap_bytes, 50 << 20);
}

TEST_F(DriveTest, RecoverRemovesDebris) {
  put_ok("ws", "/kept.txt", "kept");
  put_ok("ws", "/lost.txt", "lost blob");
  // Debris a crash could leave: a temp file, an unreferenced blob; and, by
  // manual damage, a row whose blob is missing.
  std::ofstream(options_.blob_dir + "/tmp/half-written.abc") << "partial";
  std::string orphan = sha256_hex("orphan");
  std::string orphan_dir =
      options_.blob_dir + "/" + orphan.substr(0, 2) + "/" + orphan.substr(2, 2);
  std::filesystem::create_directories(orphan_dir);
  std::ofstream(orphan_dir + "/" + orphan) << "orphan";
  std::string lost = sha256_hex("lost blob");
  std::filesystem::remove(options_.blob_dir + "/" + lost.substr(0, 2) + "/" + lost.substr(2, 2) +
                          "/" + lost);

  auto report = drive_->recover();
  ASSERT_TRUE(report.is_ok()) << report.status().message();
  EXPECT_EQ(report->temp_files_removed, 1);
  EXPECT_EQ(report->orphan_blobs_removed, 1);
  EXPECT_EQ(report->rows_without_blob_removed, 1);
  EXPECT_EQ(content("ws", "/kept.txt"), "kept");
  EXPECT_EQ(content("ws", "/lost.txt"), std::string("ERROR:not_found"));
  auto files = blob_files();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_NE(files[0].find(sha256_hex("kept")), std::string::npos);
}

TEST_F(DriveTest, BlobsArePrivate) {
  put_ok("ws", "/a.txt", "private");
  std::string sha = sha256_hex("private");
  struct stat st;
  ASSERT_EQ(
      ::stat(
          (options_.blob_dir + "/" + sha.substr(0, 2) + "/" + sha.substr(2, 2) + "/" + sha).c_str(),
          &st),
      0);
  EXPECT_EQ(st.st_mode & 077, 0u);
}

TEST_F(DriveTest, ConcurrentWritersNeverLeaveARowWithoutItsBlob) {
  // Few contents over few paths: every operation shares blobs with others,
  // so a blob is constantly becoming unreferenced while another thread is
  // about to reference it again.
  const std::string contents[] = {"alpha", "beta", "gamma"};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 60; ++i) {
        std::string path = "/p" + std::to_string((t + i) % 3) + ".txt";
        if (i % 5 == 4) {
          (void)drive_->remove("ws", path);
        } else {
          auto r = drive_->put("ws", path, contents[(t * 7 + i) % 3], Scope::kPersistent, true);
          EXPECT_TRUE(r.is_ok()) << r.status().message();
        }
        auto got = drive_->get("ws", path);
        if (!got.is_ok()) {
          EXPECT_EQ(got.status().kind(), ErrorKind::kNotFound) << got.status().message();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  auto listed = drive_->list("ws", "/");
  ASSERT_TRUE(listed.is_ok());
  for (const DriveFile& f : *listed) {
    auto got = drive_->get("ws", f.path);
    ASSERT_TRUE(got.is_ok()) << f.path << ": " << got.status().message();
    EXPECT_EQ(sha256_hex(got->bytes), f.sha256);
  }
  auto report = drive_->recover();
  ASSERT_TRUE(report.is_ok());
  EXPECT_EQ(report->rows_without_blob_removed, 0);
  EXPECT_EQ(report->orphan_blobs_removed, 0);  // nothing leaked either
}

}  // namespace
}  // namespace kiln::storage
