// Spawner: the single-threaded process every sandbox is cloned from.
//
// kilnd runs threads (its blocking pool, name resolution), and a clone()
// from a multi-threaded process runs the child's checklist on a copy of
// memory other threads may have left mid-update (a malloc lock held at the
// moment of the clone deadlocks the child). So kilnd forks this spawner at
// start-up, before any thread exists, and asks it for each sandbox over a
// socketpair: the spawner clones the sandbox (spawn_jailed), writes its id
// maps and cgroups, and hands back its pidfd, control socket and setup pipe
// (SCM_RIGHTS). The spawner checks, before every clone, that it is still
// single-threaded and refuses otherwise. It reaps the sandboxes' init
// processes (their parent), and exits when kilnd's end of the socket
// closes; the sandboxes' PR_SET_PDEATHSIG then ends them.
//
// Thread-safety: spawn() may be called from any thread; calls are
// serialised (one request at a time on the socket). It blocks for the clone
// and the id maps (about a millisecond, more on a loaded host), so kilnd
// calls it from its blocking pool; the sandbox's checklist is not waited
// for here (the caller awaits setup_result).
#pragma once

#include <sys/types.h>

#include <mutex>
#include <utility>

#include "common/status.h"
#include "common/unique_fd.h"
#include "jail/spawn.h"
#include "protocol/frame.h"

namespace kiln::jail {

class Spawner {
 public:
  // Forks the spawner. Fails if the caller is not single-threaded.
  static Result<Spawner> start();

  Result<JailedProcess> spawn(const JailSpec& spec);
  pid_t pid() const { return pid_; }

  // Only before first use (the mutex is not moved).
  Spawner(Spawner&& other) noexcept
      : pid_(std::exchange(other.pid_, -1)),
        sock_(std::move(other.sock_)),
        decoder_(std::move(other.decoder_)) {}
  Spawner& operator=(Spawner&&) = delete;
  Spawner(const Spawner&) = delete;
  // Closes the socket (the spawner exits) and reaps the spawner.
  ~Spawner();

 private:
  Spawner(pid_t pid, UniqueFd sock) : pid_(pid), sock_(std::move(sock)) {}
  pid_t pid_ = -1;
  UniqueFd sock_;
  protocol::FrameDecoder decoder_;
  std::mutex mu_;  // one request and its answer at a time
};

// The number of threads of the calling process (/proc/self/task).
Result<int> thread_count();

}  // namespace kiln::jail
