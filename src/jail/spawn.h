// spawn_jailed(): starts kiln-init as PID 1 of a new sandbox.
//
// The child is cloned into new user, pid, mount, network, ipc and uts
// namespaces, waits until the parent has written its id maps and put it in
// its cgroup, then runs the containment checklist (see spawn.cc) and execs
// /opt/kiln/kiln-init with the control socket on fd 3. Any failure in the
// child is sent back over a CLOEXEC pipe, so the parent learns the exact
// step and errno, and a successful execve closes that pipe (EOF = success).
//
// Thread-safety: call from a single-threaded process (the child runs code
// between clone and execve that may allocate).
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>

#include "common/status.h"
#include "common/unique_fd.h"
#include "jail/credentials.h"
#include "jail/rootfs.h"

namespace kiln::jail {

struct JailSpec {
  std::string hostname = "sandbox";
  uid_t host_uid = 0;  // the slot's unique host uid (never 0)
  gid_t host_gid = 0;
  std::string staging_dir;  // an empty dir the child mounts its root tmpfs on
  std::string init_binary;  // host path of kiln-init
  std::string runtimes_dir;
  std::string skills_dir;  // may be empty
  RootfsSpec rootfs;       // sizes; bind sources are filled in by the child
  Rlimits rlimits;
  bool seccomp = true;
  // Called in the parent after clone, before the child is released: puts
  // the child into its cgroup so everything it ever runs is accounted.
  std::function<Status(pid_t)> attach;
};

struct JailedProcess {
  pid_t pid = -1;
  UniqueFd pidfd;    // readable when the sandbox's init exits
  UniqueFd control;  // kilnd's end of the socketpair (kiln-init has fd 3)
  // Until the child execs kiln-init it may write its failure here; EOF
  // without bytes means it exec'd. Read it with read_setup_result() or
  // asynchronously, so the caller need not block while the child builds
  // its root (~10 ms of mounts).
  UniqueFd setup_result;
};

// Clones the child, writes its id maps, attaches it and releases it. Returns
// as soon as the child runs its checklist; see JailedProcess::setup_result.
Result<JailedProcess> spawn_jailed(const JailSpec& spec);

// Interprets what the child wrote to setup_result (empty: success).
Status setup_status(const std::string& child_message);

// Writes /proc/<pid>/oom_score_adj (kilnd exempts each sandbox's PID 1).
Status write_oom_score_adj(pid_t pid, int value);

// Blocking convenience: waits for the child's checklist to finish.
Status read_setup_result(JailedProcess& proc);

}  // namespace kiln::jail
