// SysOps: the narrow interface through which the jail touches the kernel
// while it builds a sandbox's root, so tests can record the steps and inject
// failures (a mount that fails with EPERM, a full tmpfs, ...).
//
// Every method returns 0 on success or -1 with errno set, exactly like the
// syscall it wraps.
//
// Thread-safety: RealSysOps is stateless; fakes are single-threaded.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

namespace kiln::jail {

class SysOps {
 public:
  virtual ~SysOps() = default;
  virtual int mount(const char* source, const char* target, const char* fstype, unsigned long flags,
                    const char* data) = 0;
  virtual int umount2(const char* target, int flags) = 0;
  // move_mount(2) of a detached tree (from open_tree) onto `target`.
  virtual int attach_tree(int tree_fd, const char* target) = 0;
  virtual int mkdir(const char* path, mode_t mode) = 0;
  virtual int symlink(const char* target, const char* linkpath) = 0;
  // Creates (or truncates) a regular file holding `data`.
  virtual int write_file(const char* path, const char* data, std::size_t len, mode_t mode) = 0;
  // Reads a whole (small) regular file: -1 with EFBIG if over `cap` bytes.
  virtual int read_file(const char* path, std::string& out, std::size_t cap) = 0;
  virtual int pivot_root(const char* new_root, const char* put_old) = 0;
  virtual int chdir(const char* path) = 0;
  // Mount flags (MS_*) that the mount holding `path` has and that a bind
  // remount must keep (the kernel refuses to clear locked flags).
  virtual unsigned long locked_mount_flags(const char* path) = 0;
};

// The real thing.
SysOps& real_sys_ops();

}  // namespace kiln::jail
