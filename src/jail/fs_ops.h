// FsOps: the narrow filesystem interface the jail code uses for control
// filesystems (cgroupfs today).
//
// Why an interface: cgroup code must be testable against a fake tree in a
// temp dir and with injected faults (a failing write of one control file),
// without root and without touching /sys/fs/cgroup.
//
// Semantics follow the kernel's control files, not ordinary files:
// write_file() never creates a file and writes the data with one write()
// call, because cgroupfs parses each write() as one command and because on
// hybrid hosts /sys/fs/cgroup is a tmpfs where O_CREAT would silently make a
// stray regular file instead of failing.
//
// Thread-safety: RealFsOps is stateless and safe to use from any number of
// threads at once. Implementations must be safe to share between threads
// (CgroupLayout hands one instance to every Cgroup).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace kiln::jail {

class FsOps {
 public:
  virtual ~FsOps() = default;

  // Writes `data` to an existing file with a single write() (O_TRUNC so a
  // plain file in a fake tree ends up with exactly `data`).
  virtual Status write_file(const std::string& path, std::string_view data) = 0;
  // Reads the whole file.
  virtual Result<std::string> read_file(const std::string& path) = 0;
  // mkdir(path, 0755); EEXIST is reported as an error (errno EEXIST), so the
  // caller can tell "I made it" from "it was already there".
  virtual Status make_dir(const std::string& path) = 0;
  // rmdir(path) of one directory.
  virtual Status remove_dir(const std::string& path) = 0;
  // Names (not paths) of the subdirectories of `path`, without "." and "..".
  virtual Result<std::vector<std::string>> list_subdirs(const std::string& path) = 0;
  virtual bool exists(const std::string& path) = 0;
};

// The real thing: thin wrappers over open/read/write/mkdir/rmdir/opendir.
class RealFsOps : public FsOps {
 public:
  Status write_file(const std::string& path, std::string_view data) override;
  Result<std::string> read_file(const std::string& path) override;
  Status make_dir(const std::string& path) override;
  Status remove_dir(const std::string& path) override;
  Result<std::vector<std::string>> list_subdirs(const std::string& path) override;
  bool exists(const std::string& path) override;
};

// A process-wide RealFsOps (it has no state, so one is enough).
std::shared_ptr<FsOps> real_fs_ops();

}  // namespace kiln::jail
