#include "jail/sys_ops.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace kiln::jail {
namespace {

class RealSysOps final : public SysOps {
 public:
  int mount(const char* source, const char* target, const char* fstype, unsigned long flags,
            const char* data) override {
    return ::mount(source, target, fstype, flags, data);
  }
  int umount2(const char* target, int flags) override { return ::umount2(target, flags); }
  int attach_tree(int tree_fd, const char* target) override {
    return static_cast<int>(
        ::syscall(SYS_move_mount, tree_fd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH));
  }
  int mkdir(const char* path, mode_t mode) override { return ::mkdir(path, mode); }
  int symlink(const char* target, const char* linkpath) override {
    return ::symlink(target, linkpath);
  }
  int write_file(const char* path, const char* data, std::size_t len, mode_t mode) override {
    int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) return -1;
    while (len > 0) {
      ssize_t n = ::write(fd, data, len);
      if (n < 0) {
        if (errno == EINTR) continue;
        int saved = errno;
        ::close(fd);
        errno = saved;
        return -1;
      }
      data += n;
      len -= static_cast<std::size_t>(n);
    }
    return ::close(fd);
  }
  int read_file(const char* path, std::string& out, std::size_t cap) override {
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return -1;
    out.clear();
    char buf[65536];
    while (true) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int saved = errno;
        ::close(fd);
        errno = saved;
        return n < 0 ? -1 : 0;
      }
      out.append(buf, static_cast<std::size_t>(n));
      if (out.size() > cap) {
        ::close(fd);
        errno = EFBIG;
        return -1;
      }
    }
  }
  int pivot_root(const char* new_root, const char* put_old) override {
    return static_cast<int>(::syscall(SYS_pivot_root, new_root, put_old));
  }
  int chdir(const char* path) override { return ::chdir(path); }
  unsigned long locked_mount_flags(const char* path) override {
    struct statvfs st {};
    if (::statvfs(path, &st) != 0) return 0;
    unsigned long flags = 0;
    if (st.f_flag & ST_NOSUID) flags |= MS_NOSUID;
    if (st.f_flag & ST_NODEV) flags |= MS_NODEV;
    if (st.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
    if (st.f_flag & ST_NOATIME) flags |= MS_NOATIME;
    if (st.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
    if (st.f_flag & ST_RELATIME) flags |= MS_RELATIME;
    if (st.f_flag & ST_RDONLY) flags |= MS_RDONLY;
    return flags;
  }
};

}  // namespace

SysOps& real_sys_ops() {
  static RealSysOps ops;
  return ops;
}

}  // namespace kiln::jail
