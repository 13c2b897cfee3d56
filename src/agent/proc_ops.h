// ProcOps: how kiln-init starts, signals and times the processes it runs,
// behind one interface so its contexts and commands can be tested with a
// fake (recorded signals, a clock the test moves, pipes the test writes).
//
// Every child runs as the sandbox user (common/identity.h kUserUid) with
// no capabilities, in a process group of its own, with stdout and stderr
// on pipes kiln-init reads.
//
// Thread-safety: single-threaded, like all of kiln-init.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/unique_fd.h"

namespace kiln::agent {

using Clock = std::chrono::steady_clock;

struct ChildSpec {
  std::vector<std::string> argv;  // argv[0] is the program's full path
  std::vector<std::string> env;   // "K=V"
  std::string cwd;
  int stdin_fd = -1;  // becomes fd 0 (else /dev/null)
  int extra_fd = -1;  // becomes fd 3 (a runner's control socket)
};

struct Child {
  pid_t pid = -1;
  UniqueFd out, err;  // the read ends, non-blocking
};

class ProcOps {
 public:
  virtual ~ProcOps() = default;
  virtual Result<Child> spawn(const ChildSpec& spec) = 0;
  // kill(2): a negative pid signals the process group.
  virtual int kill(pid_t pid, int sig) = 0;
  virtual Clock::time_point now() = 0;
};

ProcOps& real_proc_ops();

// A pipe kiln-init reads, with an incomplete UTF-8 sequence carried over.
struct Pipe {
  UniqueFd fd;
  std::string carry;
};

// Reads what `p` holds now (at most about 1 MiB) into `text`, ending on a
// UTF-8 boundary while the pipe is open. Returns false at EOF or error, and
// closes the pipe then.
bool read_pipe(Pipe& p, std::string& text);

void set_nonblocking(int fd);

// Writes all of `n` bytes to a possibly non-blocking fd, waiting up to a
// second at a time while it is full. False if the peer is gone.
bool write_all(int fd, const char* p, std::size_t n);

}  // namespace kiln::agent
