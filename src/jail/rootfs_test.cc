#include "jail/rootfs.h"

#include <gtest/gtest.h>
#include <sys/mount.h>

#include <cerrno>
#include <string>
#include <vector>

namespace kiln::jail {
namespace {

// Records every step and fails the one whose description contains
// fail_on (with fail_errno).
class RecordingSysOps final : public SysOps {
 public:
  std::vector<std::string> calls;
  std::string fail_on;
  int fail_errno = EPERM;

  int step(std::string what) {
    calls.push_back(what);
    if (!fail_on.empty() && what.find(fail_on) != std::string::npos) {
      errno = fail_errno;
      return -1;
    }
    return 0;
  }
  int mount(const char* source, const char* target, const char* fstype, unsigned long flags,
            const char* data) override {
    std::string d = "mount " + std::string(source ? source : "-") + " " + target + " " +
                    (fstype ? fstype : "-") + " " + std::to_string(flags);
    if (data) d += std::string(" ") + data;
    return step(d);
  }
  int umount2(const char* target, int) override { return step(std::string("umount2 ") + target); }
  int mkdir(const char* path, mode_t) override { return step(std::string("mkdir ") + path); }
  int symlink(const char* t, const char* l) override {
    return step(std::string("symlink ") + l + " " + t);
  }
  int write_file(const char* path, const char*, std::size_t, mode_t) override {
    return step(std::string("write ") + path);
  }
  int pivot_root(const char* n, const char* o) override {
    return step(std::string("pivot_root ") + n + " " + o);
  }
  int chdir(const char* p) override { return step(std::string("chdir ") + p); }
  unsigned long locked_mount_flags(const char*) override { return MS_NOEXEC; }
};

RootfsSpec spec() {
  RootfsSpec s;
  s.init_binary = "/proc/self/fd/5";
  s.runtimes_dir = "/proc/self/fd/6";
  s.etc_files = default_etc_files("sandbox");
  return s;
}

bool has(const std::vector<std::string>& calls, const std::string& prefix) {
  for (const auto& c : calls)
    if (c.rfind(prefix, 0) == 0) return true;
  return false;
}

std::size_t index_of(const std::vector<std::string>& calls, const std::string& prefix) {
  for (std::size_t i = 0; i < calls.size(); ++i)
    if (calls[i].rfind(prefix, 0) == 0) return i;
  return calls.size();
}

TEST(Rootfs, UsrIsBoundThenRemountedReadOnlyNosuidNodev) {
  RecordingSysOps sys;
  ASSERT_TRUE(build_rootfs(sys, spec()));
  const unsigned long want = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
  EXPECT_TRUE(has(sys.calls, "mount /usr usr - " + std::to_string(MS_BIND | MS_REC)));
  EXPECT_TRUE(has(sys.calls, "mount - usr - " + std::to_string(want)));
}

TEST(Rootfs, WritableMountsAreSizeCapped) {
  RecordingSysOps sys;
  auto s = spec();
  s.tmp_bytes = 1234;
  s.home_bytes = 5678;
  ASSERT_TRUE(build_rootfs(sys, s));
  bool tmp = false, home = false;
  for (const auto& c : sys.calls) {
    if (c.find(" tmp tmpfs ") != std::string::npos && c.find("size=1234") != std::string::npos)
      tmp = true;
    if (c.find(" home/user tmpfs ") != std::string::npos &&
        c.find("uid=1000") != std::string::npos && c.find("size=5678") != std::string::npos)
      home = true;
  }
  EXPECT_TRUE(tmp);
  EXPECT_TRUE(home);
}

TEST(Rootfs, DevHoldsOnlySafeDevices) {
  RecordingSysOps sys;
  ASSERT_TRUE(build_rootfs(sys, spec()));
  std::vector<std::string> devices;
  for (const auto& c : sys.calls)
    if (c.rfind("mount /dev/", 0) == 0) devices.push_back(c.substr(6, c.find(' ', 6) - 6));
  EXPECT_EQ(devices, (std::vector<std::string>{"/dev/null", "/dev/zero", "/dev/full", "/dev/random",
                                               "/dev/urandom"}));
}

TEST(Rootfs, PivotsThenDetachesOldRootThenMakesRootReadOnly) {
  RecordingSysOps sys;
  ASSERT_TRUE(build_rootfs(sys, spec()));
  auto pivot = index_of(sys.calls, "pivot_root . .");
  auto detach = index_of(sys.calls, "umount2 .");
  auto ro = index_of(sys.calls, "mount - / - ");
  ASSERT_LT(pivot, sys.calls.size());
  EXPECT_LT(pivot, detach);
  EXPECT_LT(detach, ro);
  EXPECT_EQ(ro, sys.calls.size() - 1);
  // Everything else happened before the pivot.
  EXPECT_LT(index_of(sys.calls, "mount proc proc"), pivot);
}

TEST(Rootfs, FailedMountStopsTheBuildAndNamesTheCallAndErrno) {
  RecordingSysOps sys;
  sys.fail_on = "mount proc proc";
  sys.fail_errno = EPERM;
  Status s = build_rootfs(sys, spec());
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("mount(proc -> proc"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("Operation not permitted"), std::string::npos) << s.message();
  EXPECT_EQ(s.error_number(), EPERM);
  EXPECT_FALSE(has(sys.calls, "pivot_root"));
}

TEST(Rootfs, FailedReadOnlyRemountIsAnError) {
  RecordingSysOps sys;
  sys.fail_on = "mount - usr";
  EXPECT_FALSE(build_rootfs(sys, spec()));
  EXPECT_FALSE(has(sys.calls, "pivot_root"));
}

TEST(Rootfs, FullTmpfsWhileWritingEtcIsAnError) {
  RecordingSysOps sys;
  sys.fail_on = "write etc/passwd";
  sys.fail_errno = ENOSPC;
  Status s = build_rootfs(sys, spec());
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("etc/passwd"), std::string::npos);
}

TEST(Rootfs, EtcHasOnlyLoopbackHostsAndNoResolver) {
  auto files = default_etc_files("sbx");
  for (auto& [name, contents] : files) {
    if (name == "hosts") {
      EXPECT_NE(contents.find("127.0.0.1"), std::string::npos);
      EXPECT_EQ(contents.find("10."), std::string::npos);
    }
    if (name == "resolv.conf") {
      EXPECT_EQ(contents, "");
    }
  }
}

}  // namespace
}  // namespace kiln::jail
