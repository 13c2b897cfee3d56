#include "jail/seccomp_policy.h"

#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace kiln::jail {
namespace {

// The default action is ALLOW and everything below is an explicit denial. A
// deny list is enough here because the sandbox already runs in fresh
// user/pid/mount/net/ipc/uts namespaces with no capabilities; the filter is
// one more layer that closes the kernel surfaces those namespaces still
// expose (or that would matter if another layer failed).
//
// Denials return EPERM: programs already cope with it (it is what a missing
// capability looks like), and it is never mistaken for success.
constexpr uint32_t kDeny = SCMP_ACT_ERRNO(EPERM);

enum class Need {
  // Must resolve to a native syscall, or the policy refuses to load: silently
  // dropping one of these would leave a hole nobody notices.
  kRequired,
  // Not a native syscall on every arch, or newer than some libseccomp; skipped
  // when libseccomp cannot resolve it. None of these is needed to stop an
  // escape on x86_64.
  kIfKnown,
};

struct DeniedSyscall {
  const char* name;
  Need need;
};

// Docker's default profile denies all of these (when the container lacks the
// matching capability, which ours always does), plus the extras we add.
constexpr DeniedSyscall kDeniedSyscalls[] = {
    // Mounts and filesystem views: the sandbox's root is built by the
    // supervisor and must stay as built.
    {"mount", Need::kRequired},
    {"umount2", Need::kRequired},
    {"umount", Need::kIfKnown},  // not on x86_64
    {"pivot_root", Need::kRequired},
    {"chroot", Need::kRequired},
    {"move_mount", Need::kRequired},
    {"open_tree", Need::kRequired},
    {"fsopen", Need::kRequired},
    {"fsconfig", Need::kRequired},
    {"fsmount", Need::kRequired},
    {"fspick", Need::kRequired},
    {"mount_setattr", Need::kRequired},
    // File handles bypass path-based access checks ("shocker" escape).
    {"name_to_handle_at", Need::kRequired},
    {"open_by_handle_at", Need::kRequired},
    // Namespaces: no new ones and no joining others. clone() with namespace
    // flags and clone3() are handled separately below.
    {"unshare", Need::kRequired},
    {"setns", Need::kRequired},
    // Inspecting or controlling other processes.
    {"ptrace", Need::kRequired},
    {"process_vm_readv", Need::kRequired},
    {"process_vm_writev", Need::kRequired},
    {"kcmp", Need::kRequired},
    {"pidfd_getfd", Need::kRequired},
    // Large, frequently exploited kernel surfaces unprivileged code does not
    // need: eBPF, perf, io_uring (whose ops also bypass this filter),
    // userfaultfd (used to win kernel races), keyrings (not namespaced).
    {"bpf", Need::kRequired},
    {"perf_event_open", Need::kRequired},
    {"io_uring_setup", Need::kRequired},
    {"io_uring_enter", Need::kRequired},
    {"io_uring_register", Need::kRequired},
    {"userfaultfd", Need::kRequired},
    {"keyctl", Need::kRequired},
    {"add_key", Need::kRequired},
    {"request_key", Need::kRequired},
    {"fanotify_init", Need::kRequired},
    {"memfd_secret", Need::kIfKnown},
    // NUMA placement: Docker denies it without CAP_SYS_NICE; it lets one
    // sandbox steer memory onto nodes other tenants use.
    {"get_mempolicy", Need::kRequired},
    {"set_mempolicy", Need::kRequired},
    {"set_mempolicy_home_node", Need::kIfKnown},
    {"mbind", Need::kRequired},
    {"move_pages", Need::kRequired},
    {"migrate_pages", Need::kRequired},
    // Host-global state: time, reboot, modules, kexec, swap, quotas,
    // accounting, the kernel log.
    {"clock_settime", Need::kRequired},
    {"clock_adjtime", Need::kRequired},
    {"settimeofday", Need::kRequired},
    {"stime", Need::kIfKnown},  // not on x86_64
    {"reboot", Need::kRequired},
    {"init_module", Need::kRequired},
    {"finit_module", Need::kRequired},
    {"delete_module", Need::kRequired},
    {"kexec_load", Need::kRequired},
    {"kexec_file_load", Need::kRequired},
    {"swapon", Need::kRequired},
    {"swapoff", Need::kRequired},
    {"quotactl", Need::kRequired},
    {"quotactl_fd", Need::kIfKnown},
    {"acct", Need::kRequired},
    {"syslog", Need::kRequired},
    {"vhangup", Need::kRequired},
    // Direct hardware and legacy x86 access.
    {"iopl", Need::kIfKnown},  // x86 only
    {"ioperm", Need::kIfKnown},
    {"modify_ldt", Need::kIfKnown},  // a source of x86 entry-code bugs
    {"vm86", Need::kIfKnown},        // 32-bit x86 only
    {"vm86old", Need::kIfKnown},
    // Obsolete calls: most return ENOSYS on current kernels; denying them
    // keeps old kernels and odd configs from exposing them.
    {"uselib", Need::kIfKnown},
    {"ustat", Need::kIfKnown},
    {"sysfs", Need::kIfKnown},
    {"_sysctl", Need::kIfKnown},
    {"lookup_dcookie", Need::kIfKnown},
    {"nfsservctl", Need::kIfKnown},
    {"create_module", Need::kIfKnown},
    {"get_kernel_syms", Need::kIfKnown},
    {"query_module", Need::kIfKnown},
};

// clone() flags that create namespaces. CLONE_NEWTIME is left out on purpose:
// its bit (0x80) lies inside CSIGNAL, the exit signal, so clone() cannot ask
// for a time namespace (only clone3() and unshare() can, and both are denied).
constexpr uint64_t kNamespaceFlags[] = {
    CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,    CLONE_NEWUSER,
    CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP,
};

// s390 swaps clone()'s first two arguments.
#if defined(__s390__) || defined(__s390x__)
constexpr unsigned kCloneFlagsArg = 1;
#else
constexpr unsigned kCloneFlagsArg = 0;
#endif

struct ContextDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Context = std::unique_ptr<void, ContextDeleter>;

Status add_rule(scmp_filter_ctx ctx, uint32_t action, int nr, const std::string& what,
                std::initializer_list<scmp_arg_cmp> cmps = {}) {
  // _exact: fail rather than let libseccomp quietly rewrite the rule.
  const int rc = seccomp_rule_add_exact_array(ctx, action, nr, static_cast<unsigned>(cmps.size()),
                                              cmps.size() == 0 ? nullptr : cmps.begin());
  if (rc < 0) return Status::from_errno("seccomp_rule_add(" + what + ")", -rc);
  return Status::ok();
}

// Denies every value of argument `arg` in [lo, hi] (both inclusive, lo <=
// hi), split into aligned power-of-two blocks so each block is one
// MASKED_EQ comparison, the way a CIDR prefix covers an address range.
Status deny_arg_range(scmp_filter_ctx ctx, int nr, const std::string& what, unsigned arg,
                      uint64_t lo, uint64_t hi) {
  while (true) {
    // The largest block that starts at lo (alignment) and fits in [lo, hi].
    uint64_t size = lo == 0 ? uint64_t{1} << 63 : lo & (~lo + 1);
    while (size - 1 > hi - lo) size >>= 1;
    const scmp_arg_cmp block{arg, SCMP_CMP_MASKED_EQ, ~(size - 1), lo};
    if (auto s = add_rule(ctx, kDeny, nr, what, {block}); !s) return s;
    if (size - 1 == hi - lo) return Status::ok();
    lo += size;
  }
}

// Denies syscall `nr` unless argument `arg`, compared as a full 64-bit value,
// is one of `allowed`.
//
// libseccomp cannot say "not in this set" directly: a rule may test each
// argument only once, and rules for one syscall are OR'ed. So the complement
// is written as a union of ranges: below the smallest allowed value (LT),
// above the largest (GT), and the gaps in between (deny_arg_range). Values
// with any upper bit set are denied even where the kernel would truncate the
// argument to an int; failing closed there is intended.
Status deny_unless_arg_in(scmp_filter_ctx ctx, int nr, const std::string& what, unsigned arg,
                          std::vector<uint64_t> allowed) {
  std::sort(allowed.begin(), allowed.end());
  allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
  if (allowed.empty()) return add_rule(ctx, kDeny, nr, what);
  if (allowed.front() > 0) {
    const scmp_arg_cmp below{arg, SCMP_CMP_LT, allowed.front(), 0};
    if (auto s = add_rule(ctx, kDeny, nr, what, {below}); !s) return s;
  }
  for (std::size_t i = 1; i < allowed.size(); ++i) {
    if (allowed[i] - allowed[i - 1] < 2) continue;  // no gap
    if (auto s = deny_arg_range(ctx, nr, what, arg, allowed[i - 1] + 1, allowed[i] - 1); !s) {
      return s;
    }
  }
  if (allowed.back() < std::numeric_limits<uint64_t>::max()) {
    const scmp_arg_cmp above{arg, SCMP_CMP_GT, allowed.back(), 0};
    if (auto s = add_rule(ctx, kDeny, nr, what, {above}); !s) return s;
  }
  return Status::ok();
}

Status add_denied_syscalls(scmp_filter_ctx ctx) {
  for (const DeniedSyscall& d : kDeniedSyscalls) {
    // Negative means unknown to libseccomp or not a native syscall (libseccomp
    // then returns a "pseudo" number that would never match).
    const int nr = seccomp_syscall_resolve_name(d.name);
    if (nr < 0) {
      if (d.need == Need::kIfKnown) continue;
      return Status::internal(std::string("seccomp: cannot resolve syscall ") + d.name +
                              " for this architecture; refusing to load a policy without it");
    }
    if (auto s = add_rule(ctx, kDeny, nr, d.name); !s) return s;
  }
  return Status::ok();
}

Status add_argument_rules(scmp_filter_ctx ctx) {
  // clone() may not create namespaces; plain fork and thread creation (no
  // namespace flags) stay allowed. One rule per flag because rules OR.
  for (const uint64_t flag : kNamespaceFlags) {
    const scmp_arg_cmp has_flag{kCloneFlagsArg, SCMP_CMP_MASKED_EQ, flag, flag};
    if (auto s = add_rule(ctx, kDeny, SCMP_SYS(clone), "clone(CLONE_NEW*)", {has_flag}); !s) {
      return s;
    }
  }

  // clone3() takes its flags in a struct seccomp cannot read, so it would
  // bypass the clone() check. ENOSYS (not EPERM) makes glibc and others fall
  // back to clone(), which we can inspect.
  if (auto s = add_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), "clone3"); !s) return s;

  // TIOCSTI pushes input into a terminal (typing commands into whatever shell
  // owns it); TIOCLINUX can do the same on a VT. The kernel reads the request
  // as a 32-bit int, so only the low 32 bits are compared: setting high bits
  // must not sneak past.
  for (const auto& [request, what] :
       {std::pair{TIOCSTI, "ioctl(TIOCSTI)"}, std::pair{TIOCLINUX, "ioctl(TIOCLINUX)"}}) {
    const scmp_arg_cmp is_request{1, SCMP_CMP_MASKED_EQ, 0xffffffffu,
                                  static_cast<uint64_t>(request)};
    if (auto s = add_rule(ctx, kDeny, SCMP_SYS(ioctl), what, {is_request}); !s) return s;
  }

  // Only local and IP sockets. Raw packet, netlink, vsock (the host!),
  // AF_ALG and the long tail of rarely used families are where socket CVEs
  // live. An allow list, so families added to future kernels start denied.
  // socketpair() instantiates the family too, so it gets the same rule.
  const std::vector<uint64_t> families = {AF_UNIX, AF_INET, AF_INET6};
  if (auto s = deny_unless_arg_in(ctx, SCMP_SYS(socket), "socket(family)", 0, families); !s) {
    return s;
  }
  if (auto s = deny_unless_arg_in(ctx, SCMP_SYS(socketpair), "socketpair(family)", 0, families);
      !s) {
    return s;
  }

  // personality(): Docker's allow list, i.e. Linux, 32-bit uname, UNAME26
  // and the 0xffffffff query. Everything else (ADDR_NO_RANDOMIZE,
  // READ_IMPLIES_EXEC, MMAP_PAGE_ZERO, ...) weakens exploit mitigations.
  const std::vector<uint64_t> personas = {PER_LINUX, PER_LINUX32, UNAME26,
                                          uint64_t{UNAME26} | PER_LINUX32, 0xffffffffu};
  return deny_unless_arg_in(ctx, SCMP_SYS(personality), "personality", 0, personas);
}

Status set_attributes(scmp_filter_ctx ctx) {
  // Only the native arch is in the filter, so this catches everything else:
  // 32-bit x86 (int 0x80) and, because libseccomp checks the x32 bit on
  // x86_64, x32 syscalls. Killing is right: no sandboxed program uses these,
  // and returning an errno would invite probing. libseccomp already defaults
  // to a kill, so this only states it.
  if (int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS); rc < 0) {
    return Status::from_errno("seccomp_attr_set(ACT_BADARCH)", -rc);
  }
  // The caller sets no_new_privs too; loading must not depend on it.
  if (int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1); rc < 0) {
    return Status::from_errno("seccomp_attr_set(CTL_NNP)", -rc);
  }
  // Without this, libseccomp reports every kernel failure of seccomp_load()
  // as ECANCELED; we want the real errno in the error.
  if (int rc = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1); rc < 0) {
    return Status::from_errno("seccomp_attr_set(API_SYSRAWRC)", -rc);
  }
  return Status::ok();
}

}  // namespace

Status apply_seccomp_policy() {
  Context ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) return Status::internal("seccomp_init: failed");
  if (auto s = set_attributes(ctx.get()); !s) return s;
  if (auto s = add_denied_syscalls(ctx.get()); !s) return s;
  if (auto s = add_argument_rules(ctx.get()); !s) return s;
  if (int rc = seccomp_load(ctx.get()); rc < 0) return Status::from_errno("seccomp_load", -rc);
  return Status::ok();
}

}  // namespace kiln::jail
