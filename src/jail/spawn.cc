#include "jail/spawn.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "jail/seccomp_policy.h"

namespace kiln::jail {
namespace {

constexpr int kControlFd = 3;

[[noreturn]] void report_and_exit(int err_fd, const Status& s) {
  const std::string& m = s.message();
  (void)!::write(err_fd, m.data(), m.size());
  ::_exit(111);
}

// Kiln's own files as detached mount trees, cloned with the daemon's
// rights; the child attaches them inside its root.
struct KilnTrees {
  UniqueFd init, runtimes, skills;
};

Result<UniqueFd> clone_tree(const std::string& path) {
  const int fd = static_cast<int>(::syscall(SYS_open_tree, AT_FDCWD, path.c_str(),
                                            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
  if (fd < 0) return Status::from_errno("open_tree(" + path + ", OPEN_TREE_CLONE)");
  return UniqueFd(fd);
}

Result<KilnTrees> clone_kiln_trees(const JailSpec& spec) {
  KilnTrees t;
  auto init = clone_tree(spec.init_binary);
  if (!init) return init.status();
  t.init = std::move(*init);
  auto runtimes = clone_tree(spec.runtimes_dir);
  if (!runtimes) return runtimes.status();
  t.runtimes = std::move(*runtimes);
  if (!spec.skills_dir.empty()) {
    auto skills = clone_tree(spec.skills_dir);
    if (!skills) return skills.status();
    t.skills = std::move(*skills);
  }
  return t;
}

// Sets the calling thread's effective uid/gid (raw syscalls: glibc's
// wrappers would change every thread of the process).
Status set_thread_effective_ids(uid_t uid, gid_t gid) {
  // gid first while we may still change it; back to root in reverse order.
  if (uid != 0) {
    if (::syscall(SYS_setresgid, -1, gid, -1) != 0)
      return Status::from_errno("setresgid(-1, egid)");
    if (::syscall(SYS_setresuid, -1, uid, -1) != 0)
      return Status::from_errno("setresuid(-1, euid)");
  } else {
    if (::syscall(SYS_setresuid, -1, 0, -1) != 0) return Status::from_errno("setresuid(-1, 0)");
    if (::syscall(SYS_setresgid, -1, 0, -1) != 0) return Status::from_errno("setresgid(-1, 0)");
  }
  return Status::ok();
}

// The containment checklist, in the cloned child. Order matters:
//  - the child starts as the slot's user host uid: it reaches only what
//    that uid may reach on the host, plus the trees the daemon cloned;
//  - the root is built as kiln-init's own id (files a user namespace
//    creates need an owner mapped in it) with the namespace's capabilities
//    still held;
//  - privileges go last but for seccomp, which is loaded right before
//    execve so the checklist itself is not filtered.
[[noreturn]] void child_main(const JailSpec& spec, const KilnTrees& trees, int sync_fd, int err_fd,
                             int control_fd) {
  char go = 0;
  if (::read(sync_fd, &go, 1) != 1) report_and_exit(err_fd, Status::internal("parent went away"));
  ::close(sync_fd);
  // The cgroup namespace is made now, after the parent moved us into our
  // cgroup, so /proc/self/cgroup shows "/" and nothing above it.
  if (::unshare(CLONE_NEWCGROUP) != 0)
    report_and_exit(err_fd, Status::from_errno("unshare(CLONE_NEWCGROUP)"));
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    report_and_exit(err_fd, Status::from_errno("mount(/, MS_REC|MS_PRIVATE)"));
  }
  if (auto s = become_init_user(); !s) report_and_exit(err_fd, s);
  // After the uid change: the kernel clears the parent-death signal whenever
  // credentials change. If kilnd dies, the sandbox dies with it (and
  // kiln-init also exits when its socket to kilnd reaches EOF).
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
    report_and_exit(err_fd, Status::from_errno("prctl(PR_SET_PDEATHSIG)"));
  }
  const std::string root_opts =
      "mode=0755,size=4m,uid=" + std::to_string(kInitUid) + ",gid=" + std::to_string(kInitUid);
  if (::mount("tmpfs", spec.staging_dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
              root_opts.c_str()) != 0) {
    report_and_exit(err_fd, Status::from_errno("mount(tmpfs -> " + spec.staging_dir + ")"));
  }
  if (::chdir(spec.staging_dir.c_str()) != 0)
    report_and_exit(err_fd, Status::from_errno("chdir(" + spec.staging_dir + ")"));

  RootfsSpec rootfs = spec.rootfs;
  rootfs.init_tree = trees.init.get();
  rootfs.runtimes_tree = trees.runtimes.get();
  rootfs.skills_tree = trees.skills.valid() ? trees.skills.get() : -1;
  if (auto s = build_rootfs(real_sys_ops(), rootfs); !s) report_and_exit(err_fd, s);

  if (::sethostname(spec.hostname.data(), spec.hostname.size()) != 0) {
    report_and_exit(err_fd, Status::from_errno("sethostname"));
  }
  if (auto s = bring_up_loopback(); !s) report_and_exit(err_fd, s);
  if (auto s = apply_rlimits(spec.rlimits); !s) report_and_exit(err_fd, s);

  // fd 3 is the control socket; 0-2 are /dev/null; nothing else survives.
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) report_and_exit(err_fd, Status::from_errno("open(/dev/null)"));
  if (control_fd != kControlFd) {
    if (::dup2(control_fd, kControlFd) < 0)
      report_and_exit(err_fd, Status::from_errno("dup2(control)"));
  } else if (::fcntl(kControlFd, F_SETFD, 0) != 0) {
    report_and_exit(err_fd, Status::from_errno("fcntl(control, F_SETFD)"));
  }
  for (int fd = 0; fd < 3; ++fd) {
    if (fd != err_fd && ::dup2(devnull, fd) < 0)
      report_and_exit(err_fd, Status::from_errno("dup2(/dev/null)"));
  }
  if (auto s = drop_privileges_for_init(); !s) report_and_exit(err_fd, s);
  if (spec.seccomp) {
    if (auto s = apply_seccomp_policy(); !s) report_and_exit(err_fd, s);
  }
  // Close everything else but the error pipe (CLOEXEC) so no daemon fd leaks in.
  for (int fd = kControlFd + 1; fd < 1024; ++fd) {
    if (fd != err_fd) ::close(fd);
  }
  const char* argv[] = {"kiln-init", nullptr};
  const char* envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/user", "LANG=C.UTF-8",
                        nullptr};
  ::execve("/opt/kiln/kiln-init", const_cast<char* const*>(argv), const_cast<char* const*>(envp));
  report_and_exit(err_fd, Status::from_errno("execve(/opt/kiln/kiln-init)"));
}

}  // namespace

Status write_oom_score_adj(pid_t pid, int value) {
  const std::string path = "/proc/" + std::to_string(pid) + "/oom_score_adj";
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::from_errno("open(" + path + ")");
  const std::string v = std::to_string(value);
  if (::write(fd.get(), v.data(), v.size()) != static_cast<ssize_t>(v.size())) {
    return Status::from_errno("write(" + path + ")");
  }
  return Status::ok();
}

Status make_staging_dir() {
  for (const char* dir : {"/run", "/run/kiln", kStagingDir}) {
    if (::mkdir(dir, 0755) != 0 && errno != EEXIST)
      return Status::from_errno(std::string("mkdir(") + dir + ")");
    // Reachable by every slot uid, writable by none.
    if (::chmod(dir, 0755) != 0) return Status::from_errno(std::string("chmod(") + dir + ", 0755)");
  }
  return Status::ok();
}

Result<JailedProcess> spawn_jailed(const JailSpec& spec) {
  if (spec.ids.user_host_uid == 0 || spec.ids.init_host_uid == 0)
    return Status::internal("refusing to map a sandbox to host root");
  auto trees = clone_kiln_trees(spec);
  if (!trees) return trees.status();
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return Status::from_errno("socketpair");
  }
  UniqueFd parent_end(sv[0]), child_end(sv[1]);
  int sync[2], err[2];
  if (::pipe2(sync, O_CLOEXEC) != 0) return Status::from_errno("pipe2(sync)");
  UniqueFd sync_r(sync[0]), sync_w(sync[1]);
  if (::pipe2(err, O_CLOEXEC) != 0) return Status::from_errno("pipe2(err)");
  UniqueFd err_r(err[0]), err_w(err[1]);

  int pidfd = -1;
  const unsigned long flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET |
                              CLONE_NEWIPC | CLONE_NEWUTS | CLONE_PIDFD | SIGCHLD;
  // The namespace's owner is the creator's effective uid: the slot's own.
  if (auto s = set_thread_effective_ids(spec.ids.user_host_uid, spec.ids.user_host_uid); !s)
    return s;
  // Raw clone with a null stack behaves like fork(): the child runs on a
  // copy of our stack, which is what lets it use the spec by reference.
  long pid = ::syscall(SYS_clone, flags, nullptr, &pidfd, nullptr, nullptr);
  const int clone_errno = errno;
  if (pid == 0) {
    parent_end.release();
    sync_w.release();
    err_r.release();
    child_main(spec, *trees, sync_r.get(), err_w.get(), child_end.get());
  }
  if (auto s = set_thread_effective_ids(0, 0); !s) {
    // The daemon can no longer act as root: nothing sane is left to do.
    std::fprintf(stderr, "kilnd: restoring root after clone: %s\n", s.message().c_str());
    std::abort();
  }
  if (pid < 0) return Status::from_errno("clone(CLONE_NEWUSER|CLONE_NEWPID|...)", clone_errno);
  JailedProcess proc;
  proc.pid = static_cast<pid_t>(pid);
  proc.pidfd.reset(pidfd);
  auto fail = [&](Status s) -> Result<JailedProcess> {
    ::kill(proc.pid, SIGKILL);
    ::waitpid(proc.pid, nullptr, 0);
    return s;
  };
  sync_r.reset();
  err_w.reset();
  child_end.reset();
  if (auto s = write_id_maps(proc.pid, spec.ids); !s) return fail(s);
  for (const auto& procs : spec.cgroup_procs) {
    UniqueFd fd(::open(procs.c_str(), O_WRONLY | O_CLOEXEC));
    const std::string pid = std::to_string(proc.pid);
    if (!fd.valid()) return fail(Status::from_errno("open(" + procs + ")"));
    if (::write(fd.get(), pid.data(), pid.size()) != static_cast<ssize_t>(pid.size()))
      return fail(Status::from_errno("write(" + procs + ", " + pid + ")"));
  }
  // When the sandbox runs out of memory the kernel must kill the code, not
  // PID 1 (whose death ends the whole sandbox). Exempting kiln-init needs
  // CAP_SYS_RESOURCE, which some hosts withhold even from root, so it is
  // best effort; kiln-init also raises everything it starts to +500, which
  // needs no privilege and makes any of them the victim before itself.
  (void)write_oom_score_adj(proc.pid, -1000);
  if (::write(sync_w.get(), "g", 1) != 1) return fail(Status::from_errno("write(sync)"));
  sync_w.reset();
  proc.control = std::move(parent_end);
  proc.setup_result = std::move(err_r);
  return proc;
}

Status setup_status(const std::string& child_message) {
  if (child_message.empty()) return Status::ok();
  return Status::internal("sandbox setup failed: " + child_message);
}

Status read_setup_result(JailedProcess& proc) {
  std::string message;
  char buf[512];
  while (true) {
    ssize_t n = ::read(proc.setup_result.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    message.append(buf, static_cast<std::size_t>(n));
  }
  proc.setup_result.reset();
  return setup_status(message);
}

}  // namespace kiln::jail
