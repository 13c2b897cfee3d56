// Crash safety of Drive writes: a child process writes in a loop and is
// killed with SIGKILL at random moments; after each kill the parent reopens
// the store, runs recover() and checks that nothing acknowledged was lost,
// nothing is torn and nothing is left over.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "storage/crypto.h"
#include "storage/drive.h"
#include "storage/schema.h"
#include "storage/test_temp_dir.h"

namespace kiln::storage {
namespace {

constexpr std::string_view kWorkspace = "crash";

DriveOptions options_for(const testing::TempDir& dir) {
  DriveOptions o;
  o.blob_dir = dir / "blobs";
  return o;
}

void write_line(int fd, const std::string& line) {
  // Lines are far below PIPE_BUF, so each write is atomic: a kill leaves a
  // whole line or none.
  std::string buf = line + "\n";
  while (::write(fd, buf.data(), buf.size()) < 0 && errno == EINTR) {
  }
}

// The child: put(replace=true) forever, announcing each write before it
// starts ("I path sha") and after it was acknowledged ("A path sha").
[[noreturn]] void writer(const testing::TempDir& dir, int out_fd, int round) {
  auto db = Database::open(dir / "kiln.db");
  if (!db) _exit(2);
  Drive drive(*db, options_for(dir));
  std::mt19937_64 rng(static_cast<std::uint64_t>(round) * 7919 + ::getpid());
  for (int i = 0;; ++i) {
    std::string path = rng() % 2 == 0
                           ? "/fixed/f" + std::to_string(rng() % 4) + ".txt"
                           : "/new/r" + std::to_string(round) + "_" + std::to_string(i) + ".txt";
    std::size_t size = rng() % 10 == 0 ? 256 * 1024 + rng() % (768 * 1024) : rng() % 65536;
    std::string bytes = "round " + std::to_string(round) + " write " + std::to_string(i) + "\n";
    bytes.reserve(size + bytes.size());
    while (bytes.size() < size) bytes.push_back(static_cast<char>(rng()));
    std::string sha = sha256_hex(bytes);
    write_line(out_fd, "I " + path + " " + sha);
    auto r = drive.put(kWorkspace, path, bytes, Scope::kPersistent, /*replace=*/true);
    if (!r) {
      write_line(out_fd, "E " + r.status().message());
      _exit(3);
    }
    write_line(out_fd, "A " + path + " " + sha);
  }
}

// Reads whatever the child wrote until `deadline` (or EOF when deadline is
// nullopt), appending to *out.
void drain(int fd, std::string* out,
           std::optional<std::chrono::steady_clock::time_point> deadline) {
  char buf[4096];
  while (true) {
    int timeout = -1;
    if (deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          *deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return;
      timeout = static_cast<int>(left.count());
    }
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, timeout);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    ssize_t got = ::read(fd, buf, sizeof(buf));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return;
    out->append(buf, static_cast<std::size_t>(got));
  }
}

TEST(DriveCrash, KillNineNeverLosesOrTearsAcknowledgedWrites) {
  testing::TempDir dir;
  {
    auto db = Database::open(dir / "kiln.db");
    ASSERT_TRUE(db.is_ok());
    ASSERT_TRUE(migrate(*db));
  }
  std::map<std::string, std::string> expected;  // path -> sha of its current content
  std::mt19937 rng(12345);
  int acked_total = 0, in_flight_committed = 0;

  for (int round = 0; round < 20; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      writer(dir, fds[1], round);
    }
    ::close(fds[1]);
    std::string log;
    auto delay = std::chrono::milliseconds(10 + rng() % 250);
    drain(fds[0], &log, std::chrono::steady_clock::now() + delay);
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int wstatus = 0;
    ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
    drain(fds[0], &log, std::nullopt);
    ::close(fds[0]);
    ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)
        << "writer exited by itself: " << log.substr(log.rfind('\n', log.size() - 2) + 1);

    // The write in flight at the kill may or may not have committed.
    std::optional<std::pair<std::string, std::string>> in_flight;
    std::istringstream lines(log);
    std::string kind, path, sha;
    while (lines >> kind >> path >> sha) {
      if (kind == "I") {
        in_flight.emplace(path, sha);
      } else if (kind == "A") {
        expected[path] = sha;
        in_flight.reset();
        ++acked_total;
      }
    }

    auto db = Database::open(dir / "kiln.db");
    ASSERT_TRUE(db.is_ok()) << db.status().message();
    Drive drive(*db, options_for(dir));
    auto report = drive.recover();
    ASSERT_TRUE(report.is_ok()) << report.status().message();
    EXPECT_EQ(report->rows_without_blob_removed, 0) << "round " << round;

    for (const auto& [p, want] : expected) {
      auto got = drive.get(kWorkspace, p);
      ASSERT_TRUE(got.is_ok()) << "round " << round << " lost " << p << ": "
                               << got.status().message();
      std::string have = sha256_hex(got->bytes);
      EXPECT_EQ(have, got->file.sha256) << p;
      if (in_flight && in_flight->first == p && have == in_flight->second) continue;
      EXPECT_EQ(have, want) << "round " << round << " " << p;
    }
    if (in_flight) {
      auto got = drive.get(kWorkspace, in_flight->first);
      if (got.is_ok() && sha256_hex(got->bytes) == in_flight->second) {
        expected[in_flight->first] = in_flight->second;  // committed, just not acknowledged
        ++in_flight_committed;
      } else if (!expected.count(in_flight->first)) {
        EXPECT_FALSE(got.is_ok()) << "unexpected content at " << in_flight->first;
      }
    }

    // Every row's blob exists and hashes to the row's sha256; nothing else
    // is on disk.
    auto st = db->prepare("SELECT path, sha256, size FROM drive_files");
    ASSERT_TRUE(st.is_ok());
    std::size_t rows = 0;
    std::set<std::string> referenced;
    while (*st->step() == Statement::Step::kRow) {
      ++rows;
      std::string row_sha = st->column_text(1);
      referenced.insert(row_sha);
      std::string blob =
          dir / ("blobs/" + row_sha.substr(0, 2) + "/" + row_sha.substr(2, 2) + "/" + row_sha);
      auto on_disk = sha256_file_hex(blob);
      ASSERT_TRUE(on_disk.is_ok()) << on_disk.status().message();
      EXPECT_EQ(*on_disk, row_sha) << st->column_text(0);
    }
    EXPECT_EQ(rows, expected.size());
    std::size_t blobs = 0;
    for (auto& e : std::filesystem::recursive_directory_iterator(dir / "blobs")) {
      if (!e.is_regular_file()) continue;
      EXPECT_NE(e.path().parent_path().filename(), "tmp") << "temp file left: " << e.path();
      EXPECT_TRUE(referenced.count(e.path().filename().string())) << "orphan: " << e.path();
      ++blobs;
    }
    EXPECT_EQ(blobs, referenced.size());
  }
  EXPECT_GT(acked_total, 20);
  std::cout << "acknowledged writes: " << acked_total
            << ", unacknowledged but committed: " << in_flight_committed
            << ", files: " << expected.size() << "\n";
}

}  // namespace
}  // namespace kiln::storage
