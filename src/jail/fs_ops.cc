#include "jail/fs_ops.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace kiln::jail {

namespace {

// Closes a file descriptor on scope exit. Keeps errno intact so the errno
// of the failing call is the one reported.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) {
      int saved = errno;
      ::close(fd_);
      errno = saved;
    }
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

}  // namespace

Status RealFsOps::write_file(const std::string& path, std::string_view data) {
  // No O_CREAT: see the header (tmpfs under /sys/fs/cgroup on hybrid hosts).
  int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;  // before building the message can clobber it
    return Status::from_errno("open(" + path + ", O_WRONLY)", err);
  }
  FdCloser closer(fd);
  ssize_t n;
  do {
    n = ::write(fd, data.data(), data.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    int err = errno;  // before building the message can clobber it
    return Status::from_errno("write(" + path + ")", err);
  }
  if (static_cast<size_t>(n) != data.size()) {
    // cgroupfs consumes a whole write or fails it; a short write means the
    // value was not applied as a unit.
    return Status::internal("write(" + path + "): short write " + std::to_string(n) + " of " +
                            std::to_string(data.size()) + " bytes");
  }
  return Status::ok();
}

Result<std::string> RealFsOps::read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;  // before building the message can clobber it
    return Status::from_errno("open(" + path + ", O_RDONLY)", err);
  }
  FdCloser closer(fd);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      int err = errno;
      if (err == EINTR) continue;
      return Status::from_errno("read(" + path + ")", err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Status RealFsOps::make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0) {
    int err = errno;  // before building the message can clobber it
    return Status::from_errno("mkdir(" + path + ")", err);
  }
  return Status::ok();
}

Status RealFsOps::remove_dir(const std::string& path) {
  if (::rmdir(path.c_str()) != 0) {
    int err = errno;  // before building the message can clobber it
    return Status::from_errno("rmdir(" + path + ")", err);
  }
  return Status::ok();
}

Result<std::vector<std::string>> RealFsOps::list_subdirs(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) {
    int err = errno;  // before building the message can clobber it
    return Status::from_errno("opendir(" + path + ")", err);
  }
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    bool is_dir = entry->d_type == DT_DIR;
    if (entry->d_type == DT_UNKNOWN) {
      // Some filesystems do not fill d_type; ask stat instead. Symlinks are
      // not followed: a cgroup directory is never a symlink.
      struct stat st;
      is_dir = ::fstatat(::dirfd(dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
               S_ISDIR(st.st_mode);
    }
    if (is_dir) names.push_back(std::move(name));
    errno = 0;
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) return Status::from_errno("readdir(" + path + ")", err);
  return names;
}

bool RealFsOps::exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

std::shared_ptr<FsOps> real_fs_ops() {
  static const std::shared_ptr<FsOps> instance = std::make_shared<RealFsOps>();
  return instance;
}

}  // namespace kiln::jail
