// spawn_jailed(): starts kiln-init as PID 1 of a new sandbox.
//
// The child is cloned into new user, pid, mount, network, ipc and uts
// namespaces, waits until the parent has written its id maps and put it in
// its cgroup, then runs the containment checklist (see spawn.cc) and execs
// /opt/kiln/kiln-init with the control socket on fd 3. Any failure in the
// child is sent back over a CLOEXEC pipe, so the parent learns the exact
// step and errno, and a successful execve closes that pipe (EOF = success).
//
// The clone is made with the calling thread's effective ids set to the
// slot's user host ids (and set back right after), so the new user
// namespace is owned by that uid: the kernel charges the sandbox's
// per-user budgets to it alone (see common/identity.h).
//
// Thread-safety: call from a single-threaded process (the child runs code
// between clone and execve that may allocate). Changes the calling
// thread's effective ids for the duration of the clone.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/status.h"
#include "common/unique_fd.h"
#include "jail/credentials.h"
#include "jail/rootfs.h"

namespace kiln::jail {

struct JailSpec {
  std::string hostname = "sandbox";
  SlotIds ids{0, 0};  // the slot's host ids (never 0)
  // An empty dir the child mounts its root tmpfs on; the slot's uid must
  // be able to reach it (see staging_dir_for()).
  std::string staging_dir;
  std::string init_binary;  // host path of kiln-init
  std::string runtimes_dir;
  std::string skills_dir;  // may be empty
  RootfsSpec rootfs;       // sizes; bind sources are filled in by the child
  Rlimits rlimits;
  bool seccomp = true;
  // The cgroup.procs files the child is written to after clone, before it
  // is released, so everything it ever runs is accounted.
  std::vector<std::string> cgroup_procs;
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

// The staging mount point every sandbox uses (made by the daemon at
// start-up, 0755 on the way down so any slot uid can reach it).
inline constexpr const char* kStagingDir = "/run/kiln/rootfs";
Status make_staging_dir();

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
