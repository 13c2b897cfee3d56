#include "jail/seccomp_policy.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/keyctl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

// Every test runs the probe in a forked child: the filter cannot be removed
// once loaded, and a kill action must not take the test runner with it.
//
// The tests run as root on purpose. As root most of these calls would
// succeed (or fail with a different errno) without the filter, so getting
// EPERM proves the rule is there. The probes use arguments that make the call
// harmless if a rule were missing (nonexistent paths, bad fds, invalid
// flags), and DeniedSyscallTest.DiffersWithoutPolicy runs each probe without
// the policy to show it would indeed not return the policy's errno.

namespace kiln::jail {
namespace {

constexpr int kChildSetupFailed = 250;  // above every errno value
constexpr char kNoSuchPath[] = "/kiln-seccomp-test-no-such-path";

enum class Policy { kApplied, kNotApplied };

// Forks, runs body() in the child and returns the child's wait status; the
// child exits with body()'s return value. Before the body the child leaves the
// test's session (so even a control run of vhangup() cannot touch the
// terminal), disables core dumps (SIGSYS kills would dump), sets
// no_new_privs like the jail does, and loads the policy.
int run_in_child(Policy policy, const std::function<int()>& body) {
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    const rlimit no_core{0, 0};
    if (setsid() < 0 || setrlimit(RLIMIT_CORE, &no_core) != 0 ||
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
      _exit(kChildSetupFailed);
    }
    if (policy == Policy::kApplied) {
      if (Status s = apply_seccomp_policy(); !s) {
        std::fprintf(stderr, "apply_seccomp_policy: %s\n", s.message().c_str());
        _exit(kChildSetupFailed);
      }
    }
    _exit(body());
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

// The errno of a raw syscall's result, 0 for success.
int errno_of(long rc) { return rc == -1 ? errno : 0; }

std::string errno_name(int err) {
  if (err == 0) return "success";
  const char* name = strerrorname_np(err);
  return name ? name : "errno " + std::to_string(err);
}

std::string describe(int status) {
  if (status == -1) return "fork/waitpid failed";
  if (WIFSIGNALED(status)) return std::string("killed by ") + sigabbrev_np(WTERMSIG(status));
  if (!WIFEXITED(status)) return "status " + std::to_string(status);
  if (WEXITSTATUS(status) == kChildSetupFailed) return "child setup (policy load) failed";
  return "exited " + std::to_string(WEXITSTATUS(status)) + " (" + errno_name(WEXITSTATUS(status)) +
         ")";
}

::testing::AssertionResult exited_with(int status, int code) {
  if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == code) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "child " << describe(status) << ", want exit " << code
                                       << " (" << errno_name(code) << ")";
}

::testing::AssertionResult killed_by(int status, int sig) {
  if (status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == sig) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "child " << describe(status) << ", want killed by " << sigabbrev_np(sig);
}

// clone() with the given flags; a child that does get created exits at once.
long clone_with(unsigned long flags) {
  const long rc = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
  if (rc == 0) _exit(0);
  if (rc > 0) waitpid(static_cast<pid_t>(rc), nullptr, 0);
  return rc;
}

// socket() for a family; closes what it gets.
long socket_of(unsigned long family, int type) {
  const long fd = syscall(SYS_socket, family, type, 0);
  if (fd >= 0) close(static_cast<int>(fd));
  return fd;
}

long socketpair_of(unsigned long family, int type) {
  int sv[2];
  const long rc = syscall(SYS_socketpair, family, type, 0, sv);
  if (rc == 0) {
    close(sv[0]);
    close(sv[1]);
  }
  return rc;
}

// --- Calls the policy must deny ----------------------------------------------

struct DeniedCase {
  const char* name;  // test-name suffix
  long (*call)();
  int want_errno;  // what the policy returns
};

std::ostream& operator<<(std::ostream& os, const DeniedCase& c) { return os << c.name; }

// Each probe is harmless without the filter, and (as root) returns something
// other than want_errno then; the comment says what.
const DeniedCase kDeniedCases[] = {
    // Namespaces.
    {"unshare_newuser", [] { return syscall(SYS_unshare, CLONE_NEWUSER); }, EPERM},  // 0
    {"unshare_zero", [] { return syscall(SYS_unshare, 0); }, EPERM},                 // 0
    {"clone_newuser", [] { return clone_with(CLONE_NEWUSER); }, EPERM},              // a pid
    {"clone_newns", [] { return clone_with(CLONE_NEWNS); }, EPERM},
    {"clone_newpid", [] { return clone_with(CLONE_NEWPID); }, EPERM},
    {"clone_newnet", [] { return clone_with(CLONE_NEWNET); }, EPERM},
    {"clone_newipc", [] { return clone_with(CLONE_NEWIPC); }, EPERM},
    {"clone_newuts", [] { return clone_with(CLONE_NEWUTS); }, EPERM},
    {"clone_newcgroup", [] { return clone_with(CLONE_NEWCGROUP); }, EPERM},
    {"clone_several_flags",
     [] { return clone_with(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_FILES); }, EPERM},
    {"clone3", [] { return syscall(SYS_clone3, nullptr, 0); }, ENOSYS},  // EINVAL
    {"setns", [] { return syscall(SYS_setns, -1, 0); }, EPERM},          // EBADF
    // Mounts.
    {"mount", [] { return syscall(SYS_mount, "none", kNoSuchPath, "tmpfs", 0, nullptr); },
     EPERM},                                                                  // ENOENT
    {"umount2", [] { return syscall(SYS_umount2, kNoSuchPath, 0); }, EPERM},  // ENOENT
    {"pivot_root", [] { return syscall(SYS_pivot_root, kNoSuchPath, kNoSuchPath); },
     EPERM},                                                             // ENOENT
    {"chroot", [] { return syscall(SYS_chroot, kNoSuchPath); }, EPERM},  // ENOENT
    {"open_tree", [] { return syscall(SYS_open_tree, AT_FDCWD, kNoSuchPath, 0); },
     EPERM},                                                                           // ENOENT
    {"move_mount", [] { return syscall(SYS_move_mount, -1, "", -1, "", 0); }, EPERM},  // ENOENT
    {"fsopen", [] { return syscall(SYS_fsopen, "kiln-no-such-fs", 0); }, EPERM},       // ENODEV
    {"fsconfig", [] { return syscall(SYS_fsconfig, -1, 0, nullptr, nullptr, 0); }, EPERM},
    {"fsmount", [] { return syscall(SYS_fsmount, -1, 0, 0); }, EPERM},  // EBADF
    {"fspick", [] { return syscall(SYS_fspick, -1, "", 0); }, EPERM},   // ENOENT
    {"mount_setattr", [] { return syscall(SYS_mount_setattr, -1, "", 0, nullptr, 0); },
     EPERM},  // EINVAL
    {"name_to_handle_at",
     [] { return syscall(SYS_name_to_handle_at, AT_FDCWD, kNoSuchPath, nullptr, nullptr, 0); },
     EPERM},  // ENOENT
    {"open_by_handle_at", [] { return syscall(SYS_open_by_handle_at, -1, nullptr, 0); },
     EPERM},  // EBADF/EFAULT
    // Other processes.
    {"ptrace_traceme", [] { return syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0); }, EPERM},  // 0
    {"process_vm_readv",
     [] { return syscall(SYS_process_vm_readv, getpid(), nullptr, 0, nullptr, 0, 0); },
     EPERM},  // 0
    {"process_vm_writev",
     [] { return syscall(SYS_process_vm_writev, getpid(), nullptr, 0, nullptr, 0, 0); },
     EPERM},                                                                         // 0
    {"kcmp", [] { return syscall(SYS_kcmp, getpid(), getpid(), 1, 0, 0); }, EPERM},  // 0
    {"pidfd_getfd", [] { return syscall(SYS_pidfd_getfd, -1, 0, 0); }, EPERM},       // EBADF
    // Big kernel surfaces.
    {"bpf", [] { return syscall(SYS_bpf, -1, nullptr, 0); }, EPERM},  // EINVAL
    {"perf_event_open", [] { return syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0); },
     EPERM},                                                                            // EFAULT
    {"io_uring_setup", [] { return syscall(SYS_io_uring_setup, 1, nullptr); }, EPERM},  // EFAULT
    {"io_uring_enter", [] { return syscall(SYS_io_uring_enter, -1, 0, 0, 0, nullptr, 0); },
     EPERM},  // EBADF
    {"io_uring_register", [] { return syscall(SYS_io_uring_register, -1, 0, nullptr, 0); },
     EPERM},                                                              // EINVAL
    {"userfaultfd", [] { return syscall(SYS_userfaultfd, ~0); }, EPERM},  // EINVAL
    {"keyctl",
     [] { return syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 0); },
     EPERM},  // ENOKEY
    {"add_key",
     [] {
       return syscall(SYS_add_key, "kiln-no-such-type", "d", nullptr, 0, KEY_SPEC_PROCESS_KEYRING);
     },
     EPERM},  // ENODEV
    {"request_key", [] { return syscall(SYS_request_key, "kiln-no-such-type", "d", nullptr, 0); },
     EPERM},                                                                    // ENODEV/ENOKEY
    {"fanotify_init", [] { return syscall(SYS_fanotify_init, 0, 0); }, EPERM},  // an fd
    {"get_mempolicy", [] { return syscall(SYS_get_mempolicy, nullptr, nullptr, 0, nullptr, 0); },
     EPERM},                                                                             // 0
    {"set_mempolicy", [] { return syscall(SYS_set_mempolicy, 0, nullptr, 0); }, EPERM},  // 0
    {"mbind", [] { return syscall(SYS_mbind, nullptr, 0, 0, nullptr, 0, 0); }, EPERM},   // 0
    {"move_pages", [] { return syscall(SYS_move_pages, 0, 0, nullptr, nullptr, nullptr, 0); },
     EPERM},  // 0
    {"migrate_pages", [] { return syscall(SYS_migrate_pages, 0, 0, nullptr, nullptr); },
     EPERM},  // 0
#ifdef SYS_memfd_secret
    {"memfd_secret", [] { return syscall(SYS_memfd_secret, ~0); }, EPERM},  // EINVAL/ENOSYS
#endif
    // Host-global state.
    {"reboot", [] { return syscall(SYS_reboot, 0, 0, 0, nullptr); }, EPERM},  // EINVAL (magic)
    {"kexec_load", [] { return syscall(SYS_kexec_load, 0, 0, nullptr, 0xdead0000ul); },
     EPERM},  // EINVAL/ENOSYS
    {"kexec_file_load", [] { return syscall(SYS_kexec_file_load, -1, -1, 0, nullptr, ~0ul); },
     EPERM},  // EINVAL
    {"init_module", [] { return syscall(SYS_init_module, nullptr, 0, ""); },
     EPERM},                                                                       // EFAULT/ENOSYS
    {"finit_module", [] { return syscall(SYS_finit_module, -1, "", 0); }, EPERM},  // EBADF/ENOSYS
    {"delete_module", [] { return syscall(SYS_delete_module, "kiln_no_such_module", 0); },
     EPERM},                                                                     // ENOENT
    {"swapon", [] { return syscall(SYS_swapon, kNoSuchPath, 0); }, EPERM},       // ENOENT
    {"swapoff", [] { return syscall(SYS_swapoff, kNoSuchPath); }, EPERM},        // ENOENT
    {"acct", [] { return syscall(SYS_acct, kNoSuchPath); }, EPERM},              // ENOENT
    {"syslog_size", [] { return syscall(SYS_syslog, 10, nullptr, 0); }, EPERM},  // a size
    {"settimeofday",
     [] {
       static const timeval kBad{0, 2'000'000};  // invalid usec: EINVAL even for root
       return syscall(SYS_settimeofday, &kBad, nullptr);
     },
     EPERM},
    {"clock_settime",
     [] {
       static const timespec kBad{0, 2'000'000'000};
       return syscall(SYS_clock_settime, CLOCK_REALTIME, &kBad);
     },
     EPERM},  // EINVAL
    {"clock_adjtime", [] { return syscall(SYS_clock_adjtime, CLOCK_REALTIME, nullptr); },
     EPERM},                                                                            // EFAULT
    {"quotactl", [] { return syscall(SYS_quotactl, 0, nullptr, 0, nullptr); }, EPERM},  // ENODEV
#ifdef SYS_quotactl_fd
    {"quotactl_fd", [] { return syscall(SYS_quotactl_fd, -1, 0, 0, nullptr); }, EPERM},  // EBADF
#endif
    {"vhangup", [] { return syscall(SYS_vhangup); }, EPERM},  // 0 (no terminal after setsid)
    {"iopl", [] { return syscall(SYS_iopl, 4); }, EPERM},     // EINVAL
    {"ioperm", [] { return syscall(SYS_ioperm, 0x10000, 1, 1); }, EPERM},  // EINVAL
    {"modify_ldt",
     [] {
       static char buf[16];
       return syscall(SYS_modify_ldt, 0, buf, 0);  // read 0 bytes: 0
     },
     EPERM},
    {"sysfs", [] { return syscall(SYS_sysfs, 1, "kiln-no-such-fs"); }, EPERM},  // EINVAL
    {"uselib", [] { return syscall(SYS_uselib, kNoSuchPath); }, EPERM},         // ENOENT
    {"ustat", [] { return syscall(SYS_ustat, 0, nullptr); }, EPERM},            // EINVAL
    {"lookup_dcookie", [] { return syscall(SYS_lookup_dcookie, 0, nullptr, 0); }, EPERM},
    {"_sysctl", [] { return syscall(SYS__sysctl, nullptr); }, EPERM},  // ENOSYS
    {"nfsservctl", [] { return syscall(SYS_nfsservctl, 0, nullptr, nullptr); }, EPERM},
    {"create_module", [] { return syscall(SYS_create_module, nullptr, 0); }, EPERM},
    {"get_kernel_syms", [] { return syscall(SYS_get_kernel_syms, nullptr); }, EPERM},
    {"query_module", [] { return syscall(SYS_query_module, nullptr, 0, nullptr, 0, nullptr); },
     EPERM},
    // Socket families other than unix/inet/inet6 (as root these succeed or
    // fail with EAFNOSUPPORT/EPROTONOSUPPORT).
    {"socket_packet", [] { return socket_of(AF_PACKET, SOCK_RAW); }, EPERM},
    {"socket_netlink", [] { return socket_of(AF_NETLINK, SOCK_RAW); }, EPERM},
    {"socket_vsock", [] { return socket_of(AF_VSOCK, SOCK_STREAM); }, EPERM},
    {"socket_alg", [] { return socket_of(AF_ALG, SOCK_SEQPACKET); }, EPERM},
    {"socket_key", [] { return socket_of(AF_KEY, SOCK_RAW); }, EPERM},
    {"socket_bluetooth", [] { return socket_of(AF_BLUETOOTH, SOCK_RAW); }, EPERM},
    {"socket_unspec", [] { return socket_of(AF_UNSPEC, SOCK_STREAM); }, EPERM},
    // The kernel truncates the family to an int, so this is AF_PACKET too.
    {"socket_packet_high_bits", [] { return socket_of(AF_PACKET | (uint64_t{1} << 32), SOCK_RAW); },
     EPERM},
    {"socketpair_netlink", [] { return socketpair_of(AF_NETLINK, SOCK_RAW); },
     EPERM},  // EOPNOTSUPP
    // Terminal input injection (EBADF without the filter).
    {"ioctl_tiocsti", [] { return syscall(SYS_ioctl, -1, TIOCSTI, "x"); }, EPERM},
    {"ioctl_tiocsti_high_bits",
     [] { return syscall(SYS_ioctl, -1, TIOCSTI | (uint64_t{1} << 32), "x"); }, EPERM},
    {"ioctl_tioclinux", [] { return syscall(SYS_ioctl, -1, TIOCLINUX, "x"); }, EPERM},
    // personality() outside Docker's allow list (succeeds without the filter).
    {"personality_addr_no_randomize", [] { return syscall(SYS_personality, ADDR_NO_RANDOMIZE); },
     EPERM},
    {"personality_read_implies_exec", [] { return syscall(SYS_personality, READ_IMPLIES_EXEC); },
     EPERM},
    {"personality_mmap_page_zero", [] { return syscall(SYS_personality, MMAP_PAGE_ZERO); }, EPERM},
};

class DeniedSyscallTest : public ::testing::TestWithParam<DeniedCase> {};

TEST_P(DeniedSyscallTest, FailsUnderPolicy) {
  const DeniedCase& c = GetParam();
  EXPECT_TRUE(exited_with(run_in_child(Policy::kApplied, [&] { return errno_of(c.call()); }),
                          c.want_errno));
}

// The control: without the policy, the same probe does not produce the
// policy's errno, so FailsUnderPolicy really tests the rule. Only meaningful
// with privileges; unprivileged, the kernel itself says EPERM to much of this.
TEST_P(DeniedSyscallTest, DiffersWithoutPolicy) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  const DeniedCase& c = GetParam();
  const int status = run_in_child(Policy::kNotApplied, [&] { return errno_of(c.call()); });
  ASSERT_TRUE(status != -1 && WIFEXITED(status)) << describe(status);
  EXPECT_NE(WEXITSTATUS(status), c.want_errno) << describe(status);
}

INSTANTIATE_TEST_SUITE_P(Policy, DeniedSyscallTest, ::testing::ValuesIn(kDeniedCases),
                         [](const ::testing::TestParamInfo<DeniedCase>& info) {
                           return std::string(info.param.name);
                         });

// --- Argument filters: the full ranges ---------------------------------------

TEST(SeccompPolicyTest, OnlyUnixAndInetSocketFamiliesAreAllowed) {
  std::vector<uint64_t> families;
  for (uint64_t f = 0; f < 64; ++f) families.push_back(f);
  for (uint64_t f :
       {uint64_t{255}, uint64_t{0xffffffff}, uint64_t{1} << 32, (uint64_t{1} << 32) | 1,
        (uint64_t{1} << 32) | 2, (uint64_t{1} << 32) | 10, ~uint64_t{0}}) {
    families.push_back(f);
  }
  for (const uint64_t family : families) {
    const bool allowed = family == AF_UNIX || family == AF_INET || family == AF_INET6;
    const int status =
        run_in_child(Policy::kApplied, [&] { return errno_of(socket_of(family, SOCK_STREAM)); });
    ASSERT_TRUE(status != -1 && WIFEXITED(status))
        << "family " << family << ": " << describe(status);
    if (allowed) {
      // AF_INET6 may be compiled out; anything but EPERM is the kernel's answer.
      EXPECT_NE(WEXITSTATUS(status), EPERM) << "family " << family;
    } else {
      EXPECT_EQ(WEXITSTATUS(status), EPERM) << "family " << family << ": " << describe(status);
    }
  }
}

TEST(SeccompPolicyTest, UnixAndInetSocketsWork) {
  for (const int family : {AF_UNIX, AF_INET}) {
    EXPECT_TRUE(exited_with(
        run_in_child(Policy::kApplied, [&] { return errno_of(socket_of(family, SOCK_STREAM)); }),
        0))
        << "family " << family;
  }
  EXPECT_TRUE(exited_with(
      run_in_child(Policy::kApplied, [] { return errno_of(socketpair_of(AF_UNIX, SOCK_STREAM)); }),
      0));
}

TEST(SeccompPolicyTest, PersonalityAllowsDockersValuesOnly) {
  const uint64_t allowed[] = {PER_LINUX, PER_LINUX32, UNAME26, uint64_t{UNAME26} | PER_LINUX32,
                              0xffffffff};
  for (const uint64_t persona : allowed) {
    EXPECT_TRUE(exited_with(
        run_in_child(Policy::kApplied, [&] { return errno_of(syscall(SYS_personality, persona)); }),
        0))
        << "persona 0x" << std::hex << persona;
  }
  // Around each allowed value and at the edges of the 32- and 64-bit ranges.
  const uint64_t denied[] = {1,           7,           9,           0x1ffff,     0x20001,
                             0x20007,     0x20009,     0x40000,     0x80000000,  0xfffffffe,
                             0x100000000, 0x100000008, 0x1ffffffff, ~uint64_t{0}};
  for (const uint64_t persona : denied) {
    EXPECT_TRUE(exited_with(
        run_in_child(Policy::kApplied, [&] { return errno_of(syscall(SYS_personality, persona)); }),
        EPERM))
        << "persona 0x" << std::hex << persona;
  }
}

TEST(SeccompPolicyTest, OtherIoctlsWork) {
  EXPECT_TRUE(exited_with(run_in_child(Policy::kApplied,
                                       [] {
                                         int fds[2];
                                         if (pipe(fds) != 0) return errno;
                                         int n = -1;
                                         return errno_of(ioctl(fds[0], FIONREAD, &n));
                                       }),
                          0));
}

// --- What ordinary programs need keeps working -------------------------------

TEST(SeccompPolicyTest, ApplyReturnsOk) {
  EXPECT_TRUE(exited_with(run_in_child(Policy::kNotApplied,
                                       [] {
                                         Status s = apply_seccomp_policy();
                                         if (!s) std::fprintf(stderr, "%s\n", s.message().c_str());
                                         return s.is_ok() ? 0 : 1;
                                       }),
                          0));
}

TEST(SeccompPolicyTest, ForkWorks) {
  EXPECT_TRUE(exited_with(run_in_child(Policy::kApplied,
                                       [] {
                                         const pid_t pid = fork();
                                         if (pid < 0) return errno;
                                         if (pid == 0) _exit(42);
                                         int status = 0;
                                         if (waitpid(pid, &status, 0) < 0) return errno;
                                         return WIFEXITED(status) && WEXITSTATUS(status) == 42 ? 0
                                                                                               : 1;
                                       }),
                          0));
}

TEST(SeccompPolicyTest, CloneWithoutNamespaceFlagsWorks) {
  EXPECT_TRUE(exited_with(
      run_in_child(Policy::kApplied,
                   [] { return errno_of(clone_with(CLONE_FILES | CLONE_FS | CLONE_SYSVSEM)); }),
      0));
}

// glibc's pthread_create tries clone3 first and must fall back to clone on
// ENOSYS.
TEST(SeccompPolicyTest, ThreadsWork) {
  EXPECT_TRUE(exited_with(run_in_child(Policy::kApplied,
                                       [] {
                                         static std::atomic<bool> ran{false};
                                         pthread_t thread;
                                         const int rc = pthread_create(
                                             &thread, nullptr,
                                             [](void*) -> void* {
                                               ran = true;
                                               return nullptr;
                                             },
                                             nullptr);
                                         if (rc != 0) return rc;
                                         pthread_join(thread, nullptr);
                                         return ran ? 0 : 1;
                                       }),
                          0));
}

TEST(SeccompPolicyTest, PythonRunsThreadsSubprocessesAndSockets) {
  constexpr char kPython[] = "/usr/bin/python3";
  if (access(kPython, X_OK) != 0) GTEST_SKIP() << kPython << " not installed";
  // getaddrinfo(AI_ADDRCONFIG) opens a netlink socket in glibc and must cope
  // with EPERM; asyncio needs epoll and socketpair.
  constexpr char kScript[] = R"(
import asyncio, os, socket, subprocess, threading
seen = []
t = threading.Thread(target=seen.append, args=(1,))
t.start(); t.join()
assert seen == [1], seen
subprocess.run(['/bin/true'], check=True)
assert subprocess.run(['/bin/sh', '-c', 'echo hi'], capture_output=True).stdout == b'hi\n'
pid = os.fork()
if pid == 0:
    os._exit(7)
assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 7
with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind(('127.0.0.1', 0)); s.listen()
socket.getaddrinfo('127.0.0.1', 80, flags=socket.AI_ADDRCONFIG)
async def main():
    await asyncio.sleep(0)
asyncio.run(main())
)";
  EXPECT_TRUE(exited_with(
      run_in_child(Policy::kApplied,
                   [&] {
                     const char* argv[] = {kPython, "-I", "-c", kScript, nullptr};
                     const char* envp[] = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8", nullptr};
                     execve(kPython, const_cast<char* const*>(argv),
                            const_cast<char* const*>(envp));
                     return 127;
                   }),
      0));
}

// --- Other syscall ABIs are killed ---------------------------------------------

#if defined(__x86_64__)

// getpid through the 32-bit int 0x80 entry (i386 number 20).
long int80_getpid() {
  long ret;
  asm volatile("int $0x80"
               : "=a"(ret)
               : "a"(20L)
               : "rcx", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "memory", "cc");
  return ret;
}

TEST(SeccompPolicyTest, Int80SyscallsAreKilled) {
  const auto probe = [] { return int80_getpid() == getpid() ? 0 : 1; };
  const int status = run_in_child(Policy::kApplied, probe);
  ASSERT_FALSE(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "int 0x80 getpid succeeded under the policy";
  // Where the kernel runs 32-bit syscalls at all, it must be seccomp that
  // stops them (without IA32 emulation int 0x80 is a SIGSEGV instead).
  if (exited_with(run_in_child(Policy::kNotApplied, probe), 0)) {
    EXPECT_TRUE(killed_by(status, SIGSYS));
  } else {
    EXPECT_TRUE(status != -1 && WIFSIGNALED(status)) << describe(status);
  }
}

// x32 syscalls share the x86_64 audit arch; libseccomp rejects the x32 bit
// in the native filter, and the bad-arch action kills. (Kernels without x32
// support would return ENOSYS, so the kill proves the filter did it.)
TEST(SeccompPolicyTest, X32SyscallsAreKilled) {
  constexpr long kX32SyscallBit = 0x40000000;
  EXPECT_TRUE(killed_by(
      run_in_child(Policy::kApplied, [] { return errno_of(syscall(kX32SyscallBit | SYS_getpid)); }),
      SIGSYS));
}

#endif  // __x86_64__

}  // namespace
}  // namespace kiln::jail
