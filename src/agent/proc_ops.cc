#include "agent/proc_ops.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent/environment.h"
#include "agent/utf8.h"
#include "jail/credentials.h"

namespace kiln::agent {
namespace {

[[noreturn]] void child_fail(const char* what) {
  // stderr is the child's pipe: kiln-init relays this like any output.
  const std::string m = std::string("kiln-init: ") + what + ": " + std::strerror(errno) + "\n";
  (void)!::write(2, m.data(), m.size());
  ::_exit(126);
}

// In the forked child: fds, identity, then exec. Never returns.
[[noreturn]] void exec_child(const ChildSpec& spec, int out_w, int err_w, char** argv,
                             char** envp) {
  ::setpgid(0, 0);
  sigset_t all;
  ::sigemptyset(&all);
  ::sigprocmask(SIG_SETMASK, &all, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
  const int in = spec.stdin_fd >= 0 ? spec.stdin_fd : ::open("/dev/null", O_RDONLY);
  if (spec.extra_fd >= 0 && spec.extra_fd != 3) {
    // Move it out of the way of 0..2 first, then to 3.
    const int tmp = ::fcntl(spec.extra_fd, F_DUPFD, 10);
    ::dup2(tmp, 3);
  } else if (spec.extra_fd == 3) {
    ::fcntl(3, F_SETFD, 0);
  }
  ::dup2(in, 0);
  ::dup2(out_w, 1);
  ::dup2(err_w, 2);
  ::close_range(spec.extra_fd >= 0 ? 4 : 3, ~0U, 0);
  // The code never runs as kiln-init: if this fails, nothing is exec'd.
  if (auto s = jail::become_user_without_capabilities(); !s) {
    errno = EPERM;
    child_fail(s.message().c_str());
  }
  // Memory limits must kill the code, never PID 1 (its death ends the
  // sandbox): what kiln-init starts is the OOM killer's first choice.
  // (A fork of an undumpable process keeps root-owned /proc files until
  // execve; becoming dumpable again lets it write its own.)
  ::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
  if (int adj = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC); adj >= 0) {
    (void)!::write(adj, "500", 3);
    ::close(adj);
  }
  if (::chdir(spec.cwd.c_str()) != 0 && ::chdir("/home/user") != 0) child_fail("chdir");
  ::execve(argv[0], argv, envp);
  child_fail("execve");
}

class RealProcOps final : public ProcOps {
 public:
  Result<Child> spawn(const ChildSpec& spec) override {
    // The pipes' inodes belong to whoever makes them: made as the user, so
    // the code can reopen its own /dev/stdout (/proc/self/fd/1) as usual.
    UserFsRights as_user;
    int o[2], e[2];
    if (::pipe2(o, O_CLOEXEC) != 0) return Status::from_errno("pipe2(stdout)");
    UniqueFd out_r(o[0]), out_w(o[1]);
    if (::pipe2(e, O_CLOEXEC) != 0) return Status::from_errno("pipe2(stderr)");
    UniqueFd err_r(e[0]), err_w(e[1]);
    // Built before fork: the child must not allocate (kiln-init is
    // single-threaded, but keeping the child minimal costs nothing).
    std::vector<char*> argv, envp;
    for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& v : spec.env) envp.push_back(const_cast<char*>(v.c_str()));
    envp.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid > 0) ::setpgid(pid, pid);  // also here, so a kill(-pid) never misses it
    if (pid < 0) return Status::from_errno("fork");
    if (pid == 0) exec_child(spec, out_w.get(), err_w.get(), argv.data(), envp.data());
    set_nonblocking(out_r.get());
    set_nonblocking(err_r.get());
    return Child{pid, std::move(out_r), std::move(err_r)};
  }
  int kill(pid_t pid, int sig) override { return ::kill(pid, sig); }
  Clock::time_point now() override { return Clock::now(); }
};

}  // namespace

ProcOps& real_proc_ops() {
  static RealProcOps ops;
  return ops;
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd pfd {
          fd, POLLOUT, 0
        };
        ::poll(&pfd, 1, 1000);
        continue;
      }
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool read_pipe(Pipe& p, std::string& text) {
  char buf[65536];
  bool open = true;
  while (true) {
    const ssize_t n = ::read(p.fd.get(), buf, sizeof buf);
    if (n > 0) {
      p.carry.append(buf, static_cast<std::size_t>(n));
      if (p.carry.size() > (1 << 20)) break;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || (n < 0 && errno != EAGAIN)) open = false;
    break;
  }
  const std::size_t cut = open ? complete_utf8_prefix(p.carry) : p.carry.size();
  text.assign(p.carry, 0, cut);
  p.carry.erase(0, cut);
  if (!open) p.fd.reset();
  return open;
}

}  // namespace kiln::agent
