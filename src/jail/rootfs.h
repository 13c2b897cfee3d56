// Builds a sandbox's root filesystem and pivots into it.
//
// The caller is a freshly cloned child inside new user + mount namespaces,
// whose current directory is an empty tmpfs (the future "/"). Each step is
// one line of the checklist in build_rootfs(); the first failure stops the
// build and is returned with the exact call and errno.
//
// Thread-safety: runs in a single-threaded child; no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "jail/sys_ops.h"

namespace kiln::jail {

struct RootfsSpec {
  // Kiln's own files, as detached mount trees (open_tree(OPEN_TREE_CLONE))
  // the daemon made with its own rights before the clone: the child runs
  // as the slot's uid and may not be able to reach the daemon's folders.
  int init_tree = -1;      // -> /opt/kiln/kiln-init
  int runtimes_tree = -1;  // -> /opt/kiln/runtimes
  int skills_tree = -1;    // -> /skills (-1: none)
  // Host /etc entries that exist, bound read-only (e.g. "alternatives").
  std::vector<std::string> etc_binds;
  // Generated /etc files: name -> contents.
  std::vector<std::pair<std::string, std::string>> etc_files;
  std::uint64_t tmp_bytes = 256ull << 20;
  std::uint64_t home_bytes = 1024ull << 20;
  std::uint64_t shm_bytes = 64ull << 20;
  int sandbox_uid = 1000;  // owner of /home/user (common/identity.h kUserUid)
  int sandbox_gid = 1000;
};

// The /etc files every sandbox gets (passwd with root, kiln and user, group,
// hosts with only loopback, an empty resolv.conf: there is no network).
std::vector<std::pair<std::string, std::string>> default_etc_files(const std::string& hostname);

// Host /etc entries worth binding (only those that exist are bound).
std::vector<std::string> default_etc_binds();

// Runs the checklist relative to the current directory, then pivots into it.
Status build_rootfs(SysOps& sys, const RootfsSpec& spec);

}  // namespace kiln::jail
