#include "agent/file_ops.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "common/unique_fd.h"

namespace kiln::agent {
namespace {

int open_resolved(const std::string& path, int flags, mode_t mode = 0) {
  struct open_how how {};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(::syscall(SYS_openat2, AT_FDCWD, path.c_str(), &how, sizeof how));
}

bool has_prefix(const std::string& path, const char* dir) {
  const std::size_t n = std::strlen(dir);
  return path.compare(0, n, dir) == 0 && (path.size() == n || path[n] == '/');
}

FileError kernel_view_refusal(const std::string& path) {
  return {
      "bad_request",
      path + " is in /proc, /sys or /dev (but for /dev/shm), which the files API does not reach"};
}

// Refuses an opened file whose real location is a kernel view (a symlink
// planted into /proc, say).
FileError check_opened(int fd, const std::string& path) {
  char buf[4096];
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  if (n < 0) return file_error(errno, "readlink", link);
  if (in_kernel_view(std::string(buf, static_cast<std::size_t>(n))))
    return kernel_view_refusal(path);
  return {};
}

// Refuses a path whose deepest existing part (itself, else its nearest
// existing ancestor) really is in a kernel view.
FileError check_parent(const std::string& path) {
  if (in_kernel_view(path)) return kernel_view_refusal(path);
  std::string dir = path;
  while (true) {
    char real[PATH_MAX];
    if (::realpath(dir.c_str(), real) != nullptr) {
      if (in_kernel_view(real)) return kernel_view_refusal(path);
      return {};
    }
    if (dir == "/") return {};
    auto slash = dir.rfind('/');
    dir = slash == 0 || slash == std::string::npos ? "/" : dir.substr(0, slash);
  }
}

std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == 0 || slash == std::string::npos) return "/";
  return path.substr(0, slash);
}

const char* type_of(mode_t m) {
  if (S_ISREG(m)) return "file";
  if (S_ISDIR(m)) return "dir";
  if (S_ISLNK(m)) return "symlink";
  return "other";
}

}  // namespace

bool in_kernel_view(const std::string& path) {
  // /dev/shm is the sandbox's own scratch tmpfs, like /tmp: the one place
  // under /dev the API reaches.
  if (has_prefix(path, "/dev/shm")) return false;
  return has_prefix(path, "/proc") || has_prefix(path, "/sys") || has_prefix(path, "/dev");
}

FileError file_error(int err, const std::string& what, const std::string& path) {
  const std::string msg = what + " " + path + ": " + std::strerror(err);
  switch (err) {
    case ENOENT:
      return {"not_found", "no such file or directory: " + path};
    case EFBIG:
      return {"too_large", msg};
    case ENOSPC:
    case EDQUOT:
      return {"insufficient_storage", "sandbox disk is full: " + msg};
    case ENOTDIR:
    case EISDIR:
    case EACCES:
    case EPERM:
    case EROFS:
    case ELOOP:
    case ENXIO:
    case ENAMETOOLONG:
    case EEXIST:
    case ENOTEMPTY:
    case EBUSY:
    case EXDEV:
      return {"bad_request", msg};
    default:
      return {"internal", msg};
  }
}

FileError list_dir(const std::string& path, nlohmann::json& entries) {
  if (in_kernel_view(path)) return kernel_view_refusal(path);
  UniqueFd fd(open_resolved(path, O_RDONLY | O_DIRECTORY));
  if (!fd.valid()) return file_error(errno, "list", path);
  if (auto e = check_opened(fd.get(), path); !e.code.empty()) return e;
  DIR* dir = ::fdopendir(fd.get());
  if (dir == nullptr) return file_error(errno, "list", path);
  fd.release();
  entries = nlohmann::json::array();
  const std::string prefix = path == "/" ? "" : path;
  while (struct dirent* de = ::readdir(dir)) {
    if (std::strcmp(de->d_name, ".") == 0 || std::strcmp(de->d_name, "..") == 0) continue;
    struct stat st {};
    if (::fstatat(::dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    entries.push_back({{"name", de->d_name},
                       {"path", prefix + "/" + de->d_name},
                       {"type", type_of(st.st_mode)},
                       {"size", static_cast<std::uint64_t>(st.st_size)},
                       {"mtime", static_cast<std::int64_t>(st.st_mtime)}});
  }
  ::closedir(dir);
  return {};
}

FileError read_file(const std::string& path, std::uint64_t cap, std::string& out) {
  // O_NONBLOCK: a FIFO planted as the target must not hang kiln-init.
  if (in_kernel_view(path)) return kernel_view_refusal(path);
  UniqueFd fd(open_resolved(path, O_RDONLY | O_NONBLOCK | O_NOCTTY));
  if (!fd.valid()) return file_error(errno, "read", path);
  if (auto e = check_opened(fd.get(), path); !e.code.empty()) return e;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return file_error(errno, "stat", path);
  if (S_ISDIR(st.st_mode)) return {"bad_request", "is a directory: " + path};
  if (!S_ISREG(st.st_mode)) return {"bad_request", "not a regular file: " + path};
  if (static_cast<std::uint64_t>(st.st_size) > cap) {
    return {"too_large", "file is " + std::to_string(st.st_size) + " bytes, over the " +
                             std::to_string(cap) + "-byte file cap: " + path};
  }
  out.clear();
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return file_error(errno, "read", path);
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > cap) return {"too_large", "file grew over the file cap: " + path};
  }
  return {};
}

FileError make_dirs(const std::string& path) {
  if (path == "/") return {};
  if (auto e = check_parent(path); !e.code.empty()) return e;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return {};
    return {"bad_request", "exists and is not a directory: " + path};
  }
  if (auto e = make_dirs(parent_of(path)); !e.code.empty()) return e;
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return file_error(errno, "mkdir", path);
  return {};
}

FileError write_file(const std::string& path, const std::string& data, std::uint64_t& size) {
  if (auto e = check_parent(path); !e.code.empty()) return e;
  if (auto e = make_dirs(parent_of(path)); !e.code.empty()) return e;
  UniqueFd fd(open_resolved(path, O_WRONLY | O_CREAT | O_NONBLOCK | O_NOCTTY, 0644));
  if (!fd.valid()) return file_error(errno, "write", path);
  if (auto e = check_opened(fd.get(), path); !e.code.empty()) return e;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return file_error(errno, "stat", path);
  if (!S_ISREG(st.st_mode)) return {"bad_request", "not a regular file: " + path};
  if (::ftruncate(fd.get(), 0) != 0) return file_error(errno, "truncate", path);
  const char* p = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd.get(), p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return file_error(errno, "write", path);
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  size = data.size();
  return {};
}

FileError remove_path(const std::string& path) {
  if (path == "/" || path == "/home/user") return {"bad_request", "refusing to delete " + path};
  if (auto e = check_parent(path); !e.code.empty()) return e;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return file_error(errno, "delete", path);
  if (!S_ISDIR(st.st_mode)) {
    if (::unlink(path.c_str()) != 0) return file_error(errno, "delete", path);
    return {};
  }
  // Depth-first, never following symlinks, never leaving the filesystem.
  int rc = ::nftw(
      path.c_str(),
      [](const char* p, const struct stat* s, int flag, struct FTW*) -> int {
        return flag == FTW_DP ? ::rmdir(p) : ::unlink(p);
      },
      64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
  if (rc != 0) return file_error(errno, "delete", path);
  return {};
}

}  // namespace kiln::agent
