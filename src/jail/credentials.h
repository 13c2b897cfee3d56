// Identity and privilege steps run in the sandbox child.
//
// Thread-safety: each call affects only the calling thread/process.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/status.h"

namespace kiln::jail {

// Parent side: maps sandbox uid/gid `inner` to the slot's host uid/gid.
// Only one id is mapped: nothing in the sandbox can become host root or any
// other host user, and uid 0 inside is unmapped.
Status write_id_maps(pid_t child, uid_t inner_uid, uid_t host_uid, gid_t inner_gid, gid_t host_gid);

// Child side: no supplementary groups, then gid and uid (in that order:
// after setuid the process could no longer change its gid).
Status become_sandbox_user(uid_t uid, gid_t gid);

// Child side: empties the bounding, ambient, effective, permitted and
// inheritable capability sets, then sets PR_SET_NO_NEW_PRIVS so no later
// execve (of a setuid binary, say) can grant anything back.
Status drop_all_privileges();

// Child side: rlimits every process in the sandbox inherits.
struct Rlimits {
  unsigned long long fsize_bytes = 1024ull << 20;
  unsigned long long nofile = 1024;
  unsigned long long nproc = 0;  // 0: leave as is (the pids cgroup is the real cap)
};
Status apply_rlimits(const Rlimits& limits);

// Child side, in the new network namespace: brings "lo" up so code can use
// local servers; there is no other interface and no route.
Status bring_up_loopback();

}  // namespace kiln::jail
