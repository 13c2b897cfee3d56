#include "agent/file_ops.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>

namespace kiln::agent {
namespace {

namespace fs = std::filesystem;

class FileOps : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) / ("kiln-fileops-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string p(const std::string& rel) { return (root_ / rel).string(); }
  fs::path root_;
};

TEST_F(FileOps, WriteCreatesParentsAndReadReturnsExactBytes) {
  std::uint64_t size = 0;
  const std::string data("a\0b\xff", 4);
  ASSERT_TRUE(write_file(p("x/y/z.bin"), data, size).code.empty());
  EXPECT_EQ(size, 4u);
  std::string out;
  ASSERT_TRUE(read_file(p("x/y/z.bin"), 100, out).code.empty());
  EXPECT_EQ(out, data);
}

TEST_F(FileOps, MissingFileIsNotFound) {
  std::string out;
  EXPECT_EQ(read_file(p("nope"), 100, out).code, "not_found");
}

TEST_F(FileOps, OverCapIsTooLarge) {
  std::uint64_t size = 0;
  ASSERT_TRUE(write_file(p("big"), std::string(101, 'a'), size).code.empty());
  std::string out;
  EXPECT_EQ(read_file(p("big"), 100, out).code, "too_large");
}

TEST_F(FileOps, FifoAndDirectoryAreRefusedWithoutBlocking) {
  ASSERT_EQ(::mkfifo(p("fifo").c_str(), 0600), 0);
  const auto t0 = std::chrono::steady_clock::now();
  std::string out;
  EXPECT_EQ(read_file(p("fifo"), 100, out).code, "bad_request");
  std::uint64_t size = 0;
  // Writing to a FIFO with no reader must fail at once too (O_NONBLOCK: ENXIO).
  EXPECT_EQ(write_file(p("fifo"), "x", size).code, "bad_request");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  EXPECT_EQ(read_file(root_.string(), 100, out).code, "bad_request");
}

TEST_F(FileOps, MagicLinksAreRefused) {
  std::string out;
  auto e = read_file("/proc/self/root" + p("x"), 100, out);
  EXPECT_FALSE(e.code.empty());
  EXPECT_NE(e.code, "not_found");  // refused (ELOOP), not looked up
}

TEST_F(FileOps, ListReportsTypes) {
  std::uint64_t size = 0;
  ASSERT_TRUE(write_file(p("d/f.txt"), "hello", size).code.empty());
  ASSERT_EQ(::symlink("f.txt", p("d/link").c_str()), 0);
  ASSERT_TRUE(make_dirs(p("d/sub")).code.empty());
  nlohmann::json entries;
  ASSERT_TRUE(list_dir(p("d"), entries).code.empty());
  std::map<std::string, std::string> types;
  for (auto& e : entries) types[e["name"]] = e["type"];
  EXPECT_EQ(types["f.txt"], "file");
  EXPECT_EQ(types["link"], "symlink");
  EXPECT_EQ(types["sub"], "dir");
  for (auto& e : entries) {
    if (e["name"] == "f.txt") {
      EXPECT_EQ(e["size"], 5);
      EXPECT_EQ(e["path"], p("d/f.txt"));
    }
  }
}

TEST_F(FileOps, RecursiveDeleteDoesNotFollowSymlinks) {
  std::uint64_t size = 0;
  ASSERT_TRUE(write_file(p("outside/keep.txt"), "keep", size).code.empty());
  ASSERT_TRUE(write_file(p("victim/a/b.txt"), "x", size).code.empty());
  ASSERT_EQ(::symlink(p("outside").c_str(), p("victim/a/escape").c_str()), 0);
  ASSERT_TRUE(remove_path(p("victim")).code.empty());
  EXPECT_FALSE(fs::exists(p("victim")));
  EXPECT_TRUE(fs::exists(p("outside/keep.txt")));
}

TEST_F(FileOps, RefusesToDeleteRootOrHome) {
  EXPECT_EQ(remove_path("/").code, "bad_request");
  EXPECT_EQ(remove_path("/home/user").code, "bad_request");
}

TEST_F(FileOps, MkdirOverAFileIsBadRequest) {
  std::uint64_t size = 0;
  ASSERT_TRUE(write_file(p("file"), "x", size).code.empty());
  EXPECT_EQ(make_dirs(p("file/sub")).code, "bad_request");
}

TEST_F(FileOps, KernelViewsAreRefusedEvenThroughPlantedLinks) {
  EXPECT_TRUE(in_kernel_view("/proc/1/maps"));
  EXPECT_TRUE(in_kernel_view("/proc"));
  EXPECT_TRUE(in_kernel_view("/sys/kernel"));
  EXPECT_TRUE(in_kernel_view("/dev/null"));
  EXPECT_FALSE(in_kernel_view("/dev/shm/x"));
  EXPECT_FALSE(in_kernel_view("/dev/shm"));
  EXPECT_FALSE(in_kernel_view("/processes"));
  EXPECT_FALSE(in_kernel_view("/home/user/proc"));
  fs::create_symlink("/proc/self/maps", p("m"));
  fs::create_symlink("/proc/self", p("self"));
  std::string out;
  EXPECT_EQ(read_file(p("m"), 1 << 20, out).code, "bad_request");
  EXPECT_EQ(read_file(p("self/status"), 1 << 20, out).code, "bad_request");
  EXPECT_TRUE(out.empty());
  std::uint64_t size = 0;
  EXPECT_EQ(write_file(p("self/timerslack_ns"), "1", size).code, "bad_request");
  EXPECT_EQ(remove_path(p("self/fd/0")).code, "bad_request");
  EXPECT_EQ(make_dirs(p("self/x")).code, "bad_request");
  nlohmann::json entries;
  EXPECT_EQ(list_dir(p("self"), entries).code, "bad_request");
}

TEST(FileErrors, ErrnoMapping) {
  EXPECT_EQ(file_error(ENOENT, "read", "/x").code, "not_found");
  EXPECT_EQ(file_error(EROFS, "write", "/usr/x").code, "bad_request");
  EXPECT_EQ(file_error(ENOSPC, "write", "/x").code, "insufficient_storage");
  EXPECT_EQ(file_error(EIO, "read", "/x").code, "internal");
}

}  // namespace
}  // namespace kiln::agent
