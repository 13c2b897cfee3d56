#include "jail/rootfs.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>

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
  int attach_tree(int fd, const char* target) override {
    return step("attach " + std::to_string(fd) + " " + target);
  }
  int mkdir(const char* path, mode_t) override { return step(std::string("mkdir ") + path); }
  int symlink(const char* t, const char* l) override {
    return step(std::string("symlink ") + l + " " + t);
  }
  int write_file(const char* path, const char*, std::size_t, mode_t) override {
    return step(std::string("write ") + path);
  }
  int read_file(const char* path, std::string& out, std::size_t) override {
    out = "contents";
    return step(std::string("read ") + path);
  }
  int pivot_root(const char* n, const char* o) override {
    return step(std::string("pivot_root ") + n + " " + o);
  }
  int chdir(const char* p) override { return step(std::string("chdir ") + p); }
  unsigned long locked_mount_flags(const char*) override { return MS_NOEXEC; }
};

RootfsSpec spec() {
  RootfsSpec s;
  s.init_tree = 5;
  s.runtimes_tree = 6;
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

TEST(Rootfs, UsrIsAPrivateReadOnlyNosuidNodevView) {
  RecordingSysOps sys;
  ASSERT_TRUE(build_rootfs(sys, spec()));
  // An overlay of /usr and an empty folder: the host's files, the
  // sandbox's own inodes (inotify sees no one else's opens).
  const unsigned long want = MS_RDONLY | MS_NOSUID | MS_NODEV;
  EXPECT_TRUE(has(sys.calls, "mount overlay usr overlay " + std::to_string(want) +
                                 " lowerdir=/usr:opt/kiln/.empty"));
  EXPECT_FALSE(has(sys.calls, "mount /usr usr"));  // never a bind of the host's inodes
  EXPECT_LT(index_of(sys.calls, "mkdir opt/kiln/.empty"), index_of(sys.calls, "mount overlay usr"));
}

TEST(Rootfs, KilnFoldersAreAttachedViewedThenDetached) {
  RecordingSysOps sys;
  auto s = spec();
  s.skills_tree = 7;
  ASSERT_TRUE(build_rootfs(sys, s));
  const auto attach = index_of(sys.calls, "attach 6 opt/kiln/.src/runtimes");
  const auto view = index_of(sys.calls, "mount overlay opt/kiln/runtimes overlay");
  const auto detach = index_of(sys.calls, "umount2 opt/kiln/.src/runtimes");
  EXPECT_LT(attach, view);
  EXPECT_LT(view, detach);
  EXPECT_LT(detach, sys.calls.size());
  EXPECT_TRUE(has(sys.calls, "attach 5 opt/kiln/kiln-init"));
  EXPECT_TRUE(has(sys.calls, "mount overlay skills overlay"));
}

TEST(Rootfs, SmallEtcFilesAreCopiedNotBound) {
  RecordingSysOps sys;
  auto s = spec();
  s.etc_binds = default_etc_binds();
  ASSERT_TRUE(build_rootfs(sys, s));
  for (const auto& name : s.etc_binds) {
    struct stat st {};
    ASSERT_EQ(::stat(("/etc/" + name).c_str(), &st), 0);
    if (S_ISDIR(st.st_mode)) {
      EXPECT_TRUE(has(sys.calls, "mount overlay etc/" + name + " overlay")) << name;
    } else if (st.st_size <= (1 << 20)) {
      EXPECT_TRUE(has(sys.calls, "read /etc/" + name)) << name;
      EXPECT_FALSE(has(sys.calls, "mount /etc/" + name)) << name;
    }
  }
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
  sys.fail_on = "mount - opt/kiln/kiln-init";
  EXPECT_FALSE(build_rootfs(sys, spec()));
  EXPECT_FALSE(has(sys.calls, "pivot_root"));
}

TEST(Rootfs, FailedPrivateViewIsAnError) {
  RecordingSysOps sys;
  sys.fail_on = "mount overlay usr";
  Status s = build_rootfs(sys, spec());
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("mount(overlay lowerdir=/usr"), std::string::npos) << s.message();
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
