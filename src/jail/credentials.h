// Identity and privilege steps run in the sandbox child.
//
// Thread-safety: each call affects only the calling thread/process.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/identity.h"
#include "common/status.h"

namespace kiln::jail {

// Parent side: maps the sandbox's two ids (common/identity.h) to the slot's
// host ids, uids and gids alike. Nothing else is mapped: nothing in the
// sandbox can become host root or any other host user, and uid 0 inside
// is unmapped.
Status write_id_maps(pid_t child, const SlotIds& ids);

// Child side, for kiln-init: no supplementary groups, then gid and uid
// kInitUid (gid first: after setuid it could no longer change its gid),
// keeping the namespace's capabilities for the rest of the checklist.
Status become_init_user();

// Child side, last step before kiln-init's execve: empties the bounding
// set but for kInitCapabilities, keeps only those in the permitted,
// effective, inheritable and ambient sets (ambient, so they survive the
// execve of a file without capabilities), then sets PR_SET_NO_NEW_PRIVS so
// no later execve (of a setuid binary, say) can grant anything back.
Status drop_privileges_for_init();

// In a child kiln-init forked, before it execs user code: empties the
// bounding set, becomes kUserUid with no supplementary groups, then empties
// every capability set (permitted, effective, inheritable, ambient).
Status become_user_without_capabilities();

// The capabilities kiln-init keeps (in its own user namespace only): to
// start processes as the user (SETUID, SETGID), to stop them (KILL), and to
// empty their bounding set before they run (SETPCAP).
inline constexpr int kInitCapabilities[] = {5 /* CAP_KILL */, 6 /* CAP_SETGID */,
                                            7 /* CAP_SETUID */, 8 /* CAP_SETPCAP */};

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
