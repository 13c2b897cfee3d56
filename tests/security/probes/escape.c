/* Kiln escape probes: compiled and run INSIDE a sandbox (gcc -O0 -o /tmp/escape escape.c).
 *
 *   /tmp/escape <probe> [args...]
 *
 * Each probe tries one family of escapes and prints one line per attempt:
 *   "<key> <result>"   where result is OK[:value] (the call succeeded),
 *                      an errno name (EPERM, ENOSYS, ...), or SIG<name> (killed).
 * The test (tests/security/test_escape.py) parses the lines and asserts on them.
 * Every attempt is chosen so that, even if it were NOT blocked, it would do no
 * harm: set the clock to the time it already is, reboot with CAD_OFF, kexec
 * with an invalid arch, bogus module images, and so on. Nothing here sends a
 * packet anywhere.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/perf_event.h>
#include <mqueue.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef AF_ALG
#define AF_ALG 38
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

/* x86_64 syscall numbers newer than some headers. */
enum {
  NR_open_tree = 428, NR_move_mount = 429, NR_fsopen = 430, NR_fsconfig = 431,
  NR_fsmount = 432, NR_fspick = 433, NR_pidfd_open = 434, NR_clone3 = 435,
  NR_pidfd_getfd = 438, NR_mount_setattr = 442,
};

static void out(const char *key, long r, int e) {
  if (r >= 0)
    printf("%s OK:%ld\n", key, r);
  else
    printf("%s %s\n", key, strerrorname_np(e) ? strerrorname_np(e) : "E?");
  fflush(stdout);
}

/* Runs expr with errno cleared and prints the outcome. */
#define TRY(key, expr)            \
  do {                            \
    errno = 0;                    \
    long r_ = (long)(expr);       \
    int e_ = errno;               \
    out((key), r_, e_);           \
  } while (0)

static long sc(long nr, long a, long b, long c, long d, long e, long f) {
  return syscall(nr, a, b, c, d, e, f);
}

/* Runs fn in a child; prints how the child ended ("OK:<exit>" or "SIG<name>"). */
static void in_child(const char *key, void (*fn)(void)) {
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    fn();
    _exit(0);
  }
  int st = 0;
  waitpid(p, &st, 0);
  if (WIFSIGNALED(st))
    printf("%s SIG%s\n", key, sigabbrev_np(WTERMSIG(st)) ? sigabbrev_np(WTERMSIG(st)) : "?");
  else
    printf("%s OK:%d\n", key, WEXITSTATUS(st));
  fflush(stdout);
}

/* A clone syscall that, if it ever succeeded, has the child leave at once. */
static long raw_clone(unsigned long flags) {
  errno = 0;
  long r = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
  if (r == 0) _exit(0);
  if (r > 0) waitpid((pid_t)r, NULL, 0);
  return r;
}

static const struct { const char *name; int flag; } NS_FLAGS[] = {
    {"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS},     {"net", CLONE_NEWNET},
    {"pid", CLONE_NEWPID},   {"ipc", CLONE_NEWIPC},    {"uts", CLONE_NEWUTS},
    {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
};
#define N_NS (sizeof(NS_FLAGS) / sizeof(NS_FLAGS[0]))

/* ---------------------------------------------------------------- namespaces */

static void p_unshare(void) {
  char key[64];
  for (size_t i = 0; i < N_NS; i++) {
    snprintf(key, sizeof key, "unshare_%s", NS_FLAGS[i].name);
    TRY(key, unshare(NS_FLAGS[i].flag));
  }
}

static void p_clone(void) {
  char key[64];
  for (size_t i = 0; i < N_NS; i++) {
    snprintf(key, sizeof key, "clone_%s", NS_FLAGS[i].name);
    long r = raw_clone((unsigned long)NS_FLAGS[i].flag);
    out(key, r, errno);
  }
  /* Positive control: a plain fork still works. */
  long r = raw_clone(0);
  out("clone_plain", r, errno);
}

static void p_clone3(void) {
  struct {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
  } args;
  char key[64];
  for (size_t i = 0; i < N_NS; i++) {
    memset(&args, 0, sizeof args);
    args.flags = (uint64_t)NS_FLAGS[i].flag;
    args.exit_signal = SIGCHLD;
    errno = 0;
    long r = syscall(NR_clone3, &args, sizeof args);
    if (r == 0) _exit(0);
    if (r > 0) waitpid((pid_t)r, NULL, 0);
    snprintf(key, sizeof key, "clone3_%s", NS_FLAGS[i].name);
    out(key, r, errno);
  }
  memset(&args, 0, sizeof args);
  args.exit_signal = SIGCHLD;
  errno = 0;
  long r = syscall(NR_clone3, &args, sizeof args);
  if (r == 0) _exit(0);
  if (r > 0) waitpid((pid_t)r, NULL, 0);
  out("clone3_plain", r, errno);
}

/* -------------------------------------------------------------------- mounts */

static void p_mount(void) {
  mkdir("/home/user/mnt", 0755);
  TRY("mount_tmpfs_tmp", mount("none", "/tmp", "tmpfs", 0, "size=1m"));
  TRY("mount_tmpfs_home", mount("none", "/home/user/mnt", "tmpfs", 0, NULL));
  TRY("mount_proc", mount("proc", "/home/user/mnt", "proc", 0, NULL));
  TRY("mount_bind_proc1root", mount("/proc/1/root", "/home/user/mnt", NULL, MS_BIND, NULL));
  TRY("mount_bind_usr", mount("/usr", "/home/user/mnt", NULL, MS_BIND | MS_REC, NULL));
  TRY("remount_root_rw", mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND, NULL));
  TRY("remount_usr_rw", mount(NULL, "/usr", NULL, MS_REMOUNT | MS_BIND, NULL));
  TRY("make_shared", mount(NULL, "/", NULL, MS_SHARED | MS_REC, NULL));
}

static void p_umount(void) {
  TRY("umount_root", umount2("/", 0));
  TRY("umount_root_detach", umount2("/", MNT_DETACH));
  TRY("umount_proc", umount2("/proc", MNT_DETACH));
  TRY("umount_usr", umount2("/usr", MNT_FORCE));
}

static void p_pivot_root(void) {
  mkdir("/tmp/newroot", 0755);
  mkdir("/tmp/newroot/old", 0755);
  TRY("pivot_root_tmp", syscall(SYS_pivot_root, "/tmp/newroot", "/tmp/newroot/old"));
  TRY("pivot_root_dot", syscall(SYS_pivot_root, ".", "."));
}

static void p_chroot(void) {
  TRY("chroot_tmp", chroot("/tmp"));
  TRY("chroot_proc1root", chroot("/proc/1/root"));
  TRY("chroot_root", chroot("/"));
}

static void p_new_mount_api(void) {
  TRY("fsopen_tmpfs", sc(NR_fsopen, (long)"tmpfs", 0, 0, 0, 0, 0));
  TRY("fsopen_proc", sc(NR_fsopen, (long)"proc", 0, 0, 0, 0, 0));
  TRY("fsconfig", sc(NR_fsconfig, 3, 6 /*FSCONFIG_CMD_CREATE*/, 0, 0, 0, 0));
  TRY("fsmount", sc(NR_fsmount, 3, 0, 0, 0, 0, 0));
  TRY("open_tree_clone", sc(NR_open_tree, AT_FDCWD, (long)"/", 1 /*OPEN_TREE_CLONE*/, 0, 0, 0));
  TRY("open_tree_proc1root",
      sc(NR_open_tree, AT_FDCWD, (long)"/proc/1/root", 1 | 0x8000 /*AT_RECURSIVE*/, 0, 0, 0));
  TRY("move_mount", sc(NR_move_mount, 3, (long)"", AT_FDCWD, (long)"/tmp",
                       0x4 /*MOVE_MOUNT_F_EMPTY_PATH*/, 0));
  TRY("fspick_root", sc(NR_fspick, AT_FDCWD, (long)"/", 0, 0, 0, 0));
  struct { uint64_t set, clr, prop, userns; } attr = {0, 1 /*MOUNT_ATTR_RDONLY*/, 0, 0};
  TRY("mount_setattr_root_rw", sc(NR_mount_setattr, AT_FDCWD, (long)"/", 0, (long)&attr,
                                  sizeof attr, 0));
}

static void p_cgroup_mount(void) {
  struct stat st;
  TRY("stat_sys_fs_cgroup", stat("/sys/fs/cgroup", &st));
  mkdir("/home/user/cg", 0755);
  TRY("mount_cgroup_v1_release_agent",
      mount("cgroup", "/home/user/cg", "cgroup", 0, "memory,release_agent=/tmp/pwn"));
  TRY("mount_cgroup_v1_rdma", mount("cgroup", "/home/user/cg", "cgroup", 0, "rdma"));
  TRY("mount_cgroup2", mount("cgroup2", "/home/user/cg", "cgroup2", 0, NULL));
  TRY("mount_sysfs", mount("sysfs", "/home/user/cg", "sysfs", 0, NULL));
  TRY("fsopen_cgroup", sc(NR_fsopen, (long)"cgroup", 0, 0, 0, 0, 0));
  TRY("open_release_agent", open("/sys/fs/cgroup/memory/release_agent", O_WRONLY));
}

/* --------------------------------------------------------------------- setns */

static const char *NS_NAMES[] = {"user", "mnt", "net", "pid", "ipc", "uts", "cgroup", "time",
                                 "pid_for_children", "time_for_children"};

static void setns_all(const char *pid) {
  char path[128], key[128];
  for (size_t i = 0; i < sizeof NS_NAMES / sizeof NS_NAMES[0]; i++) {
    snprintf(path, sizeof path, "/proc/%s/ns/%s", pid, NS_NAMES[i]);
    errno = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
      snprintf(key, sizeof key, "open_%s_ns_%s", pid, NS_NAMES[i]);
      out(key, -1, errno);
      continue;
    }
    snprintf(key, sizeof key, "setns_%s_ns_%s", pid, NS_NAMES[i]);
    TRY(key, setns(fd, 0));
    close(fd);
  }
}

static void p_setns_self(void) { setns_all("self"); }
static void p_setns_pid1(void) { setns_all("1"); }

/* Every fd this process inherited: none is a namespace fd, and setns on each fails. */
static void p_setns_inherited(void) {
  char path[64], target[256], key[64];
  int n = 0;
  for (int fd = 0; fd < 1024; fd++) {
    if (fcntl(fd, F_GETFD) < 0) continue;
    n++;
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t l = readlink(path, target, sizeof target - 1);
    target[l > 0 ? l : 0] = 0;
    printf("fd%d_target %s\n", fd, target);
    snprintf(key, sizeof key, "setns_fd%d", fd);
    TRY(key, setns(fd, 0));
  }
  printf("inherited_fds OK:%d\n", n);
}

/* -------------------------------------------------------- ptrace and friends */

static void p_ptrace(int sibling) {
  char key[64];
  pid_t targets[2] = {1, sibling};
  const char *names[2] = {"pid1", "sibling"};
  for (int i = 0; i < 2; i++) {
    if (targets[i] <= 0) continue;
    snprintf(key, sizeof key, "ptrace_attach_%s", names[i]);
    TRY(key, syscall(SYS_ptrace, 16 /*PTRACE_ATTACH*/, targets[i], 0, 0));
    snprintf(key, sizeof key, "ptrace_seize_%s", names[i]);
    TRY(key, syscall(SYS_ptrace, 0x4206 /*PTRACE_SEIZE*/, targets[i], 0, 0));
  }
  TRY("ptrace_traceme", syscall(SYS_ptrace, 0 /*PTRACE_TRACEME*/, 0, 0, 0));
}

static void p_process_vm(int sibling) {
  char buf[64], key[64];
  struct iovec local = {buf, sizeof buf};
  /* Read something that certainly exists in the target: its stack top is unknown,
     so use the address of our own buffer; the point is the permission check. */
  struct iovec remote = {(void *)0x400000, sizeof buf};
  pid_t targets[2] = {1, sibling};
  const char *names[2] = {"pid1", "sibling"};
  for (int i = 0; i < 2; i++) {
    if (targets[i] <= 0) continue;
    snprintf(key, sizeof key, "process_vm_readv_%s", names[i]);
    TRY(key, process_vm_readv(targets[i], &local, 1, &remote, 1, 0));
    snprintf(key, sizeof key, "process_vm_writev_%s", names[i]);
    TRY(key, process_vm_writev(targets[i], &local, 1, &remote, 0, 0));
  }
}

static void p_pidfd_getfd(int sibling) {
  char key[64];
  pid_t targets[2] = {1, sibling};
  const char *names[2] = {"pid1", "sibling"};
  for (int i = 0; i < 2; i++) {
    if (targets[i] <= 0) continue;
    errno = 0;
    long pfd = syscall(NR_pidfd_open, targets[i], 0);
    snprintf(key, sizeof key, "pidfd_open_%s", names[i]);
    out(key, pfd, errno);
    if (pfd < 0) continue;
    for (int fd = 0; fd < 8; fd++) {
      snprintf(key, sizeof key, "pidfd_getfd_%s_fd%d", names[i], fd);
      TRY(key, syscall(NR_pidfd_getfd, pfd, fd, 0));
    }
    close((int)pfd);
  }
}

static void p_kcmp(int sibling) {
  TRY("kcmp_pid1", syscall(SYS_kcmp, getpid(), 1, 0 /*KCMP_FILE*/, 0, 0));
  if (sibling > 0) TRY("kcmp_sibling", syscall(SYS_kcmp, getpid(), sibling, 0, 0, 0));
}

static void p_proc1(void) {
  char buf[256];
  TRY("open_proc1_mem", open("/proc/1/mem", O_RDONLY));
  TRY("open_proc1_environ", open("/proc/1/environ", O_RDONLY));
  TRY("open_proc1_maps", open("/proc/1/maps", O_RDONLY));
  TRY("opendir_proc1_fd", (long)(opendir("/proc/1/fd") ? 0 : -1));
  TRY("readlink_proc1_root", readlink("/proc/1/root", buf, sizeof buf));
  TRY("readlink_proc1_cwd", readlink("/proc/1/cwd", buf, sizeof buf));
  TRY("readlink_proc1_exe", readlink("/proc/1/exe", buf, sizeof buf));
  TRY("readlink_proc1_fd0", readlink("/proc/1/fd/0", buf, sizeof buf));
  TRY("open_proc1_root_etc", open("/proc/1/root/etc/passwd", O_RDONLY));
}

/* ------------------------------------------------------------- kernel APIs */

static void p_keys(void) {
  TRY("add_key_user", syscall(SYS_add_key, "user", "kiln-sec", "secret", 6,
                              -3 /*KEY_SPEC_SESSION_KEYRING*/));
  TRY("add_key_user_keyring", syscall(SYS_add_key, "user", "kiln-sec", "secret", 6,
                                      -4 /*KEY_SPEC_USER_KEYRING*/));
  TRY("keyctl_join_session", syscall(SYS_keyctl, 1 /*KEYCTL_JOIN_SESSION_KEYRING*/, "kiln-sec"));
  TRY("keyctl_get_user_keyring", syscall(SYS_keyctl, 0 /*GET_KEYRING_ID*/, -4, 0));
  TRY("keyctl_search", syscall(SYS_keyctl, 10 /*KEYCTL_SEARCH*/, -4, "user", "kiln-sec", 0));
  TRY("request_key", syscall(SYS_request_key, "user", "kiln-sec", NULL, 0));
}

static void p_userfaultfd(void) {
  struct stat st;
  TRY("userfaultfd", syscall(SYS_userfaultfd, O_CLOEXEC));
  TRY("userfaultfd_user_only", syscall(SYS_userfaultfd, O_CLOEXEC | 1 /*UFFD_USER_MODE_ONLY*/));
  TRY("stat_dev_userfaultfd", stat("/dev/userfaultfd", &st));
}

static void p_io_uring(void) {
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  errno = 0;
  long fd = syscall(SYS_io_uring_setup, 4, &p);
  out("io_uring_setup", fd, errno);
  if (fd >= 0) close((int)fd);
  TRY("io_uring_enter", syscall(SYS_io_uring_enter, 3, 1, 0, 0, NULL, 0));
  TRY("io_uring_register", syscall(SYS_io_uring_register, 3, 0, NULL, 0));
}

static void p_bpf(void) {
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.map_type = BPF_MAP_TYPE_ARRAY;
  a.key_size = 4;
  a.value_size = 4;
  a.max_entries = 1;
  TRY("bpf_map_create", syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof a));
  struct bpf_insn prog[2] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0},
      {.code = BPF_JMP | BPF_EXIT},
  };
  memset(&a, 0, sizeof a);
  a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  a.insns = (uint64_t)(uintptr_t)prog;
  a.insn_cnt = 2;
  a.license = (uint64_t)(uintptr_t) "GPL";
  TRY("bpf_prog_load", syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof a));
}

static void p_perf(void) {
  struct perf_event_attr a;
  memset(&a, 0, sizeof a);
  a.type = PERF_TYPE_SOFTWARE;
  a.size = sizeof a;
  a.config = PERF_COUNT_SW_CPU_CLOCK;
  a.disabled = 1;
  a.exclude_kernel = 1;
  TRY("perf_self_sw", syscall(SYS_perf_event_open, &a, 0, -1, -1, 0));
  memset(&a, 0, sizeof a);
  a.type = PERF_TYPE_HARDWARE;
  a.size = sizeof a;
  a.config = PERF_COUNT_HW_CPU_CYCLES;
  TRY("perf_pid1_hw", syscall(SYS_perf_event_open, &a, 1, -1, -1, 0));
  TRY("perf_all_cpus", syscall(SYS_perf_event_open, &a, -1, 0, -1, 0));
}

/* ------------------------------------------------------------------ sockets */

static void p_socket(const char *which) {
  if (!strcmp(which, "packet")) {
    TRY("socket_packet_raw", socket(AF_PACKET, SOCK_RAW, 0x0300 /*htons(ETH_P_ALL)*/));
    TRY("socket_packet_dgram", socket(AF_PACKET, SOCK_DGRAM, 0));
  } else if (!strcmp(which, "netlink")) {
    TRY("socket_netlink_route", socket(AF_NETLINK, SOCK_RAW, 0 /*NETLINK_ROUTE*/));
    TRY("socket_netlink_audit", socket(AF_NETLINK, SOCK_RAW, 9 /*NETLINK_AUDIT*/));
    TRY("socket_netlink_uevent", socket(AF_NETLINK, SOCK_DGRAM, 15 /*KOBJECT_UEVENT*/));
    int sv[2];
    TRY("socketpair_netlink", socketpair(AF_NETLINK, SOCK_RAW, 0, sv));
  } else if (!strcmp(which, "vsock")) {
    TRY("socket_vsock_stream", socket(AF_VSOCK, SOCK_STREAM, 0));
    TRY("socket_vsock_dgram", socket(AF_VSOCK, SOCK_DGRAM, 0));
  } else if (!strcmp(which, "alg")) {
    TRY("socket_alg", socket(AF_ALG, SOCK_SEQPACKET, 0));
  } else if (!strcmp(which, "raw_inet")) {
    TRY("socket_inet_raw_icmp", socket(AF_INET, SOCK_RAW, 1));
    TRY("socket_inet_raw_raw", socket(AF_INET, SOCK_RAW, 255));
    TRY("socket_inet6_raw", socket(AF_INET6, SOCK_RAW, 58));
  } else if (!strcmp(which, "other_families")) {
    /* A sweep: every family but UNIX/INET/INET6 is refused. */
    int bad = 0;
    for (int fam = 0; fam < 46; fam++) {
      if (fam == AF_UNIX || fam == AF_INET || fam == AF_INET6) continue;
      errno = 0;
      int s = socket(fam, SOCK_DGRAM, 0);
      int e = errno;
      if (s < 0) s = socket(fam, SOCK_RAW, 0), e = s < 0 ? errno : 0;
      if (s >= 0) {
        printf("family%d OK:%d\n", fam, s);
        close(s);
        bad++;
      } else if (e != EPERM && e != EAFNOSUPPORT) {
        printf("family%d %s\n", fam, strerrorname_np(e));
      }
    }
    printf("families_opened OK:%d\n", bad);
  }
}

/* --------------------------------------------------------------- tty, ABI */

static void p_tiocsti(void) {
  char c = 'x';
  int fd = open("/dev/null", O_RDWR);
  TRY("tiocsti_fd0", ioctl(0, TIOCSTI, &c));
  TRY("tiocsti_devnull", ioctl(fd, TIOCSTI, &c));
  TRY("tioclinux", ioctl(0, TIOCLINUX, &c));
}

static void p_tiocsti_high(void) {
  char c = 'x';
  TRY("tiocsti_high_ffffffff", syscall(SYS_ioctl, 0, 0xffffffff00005412UL, &c));
  TRY("tiocsti_high_1", syscall(SYS_ioctl, 0, 0x0000000100005412UL, &c));
  TRY("tiocsti_high_dead", syscall(SYS_ioctl, 0, 0xdead000000005412UL, &c));
  TRY("tioclinux_high", syscall(SYS_ioctl, 0, 0xffffffff0000541cUL, &c));
}

static void do_int80(void) {
  long ret;
  __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20) /* 32-bit getpid */ : "memory");
  printf("int80_returned %ld\n", ret);
  fflush(stdout);
}
static void do_int80_setuid(void) {
  long ret;
  __asm__ volatile("int $0x80" : "=a"(ret) : "a"(23) /* 32-bit setuid */, "b"(0) : "memory");
}
static void do_x32(void) { syscall(39 | 0x40000000 /* x32 getpid */); }
static void do_x32_mount(void) { syscall(165 | 0x40000000, "none", "/tmp", "tmpfs", 0, 0); }

static void p_int80(void) {
  in_child("int80_getpid", do_int80);
  in_child("int80_setuid0", do_int80_setuid);
}
static void p_x32(void) {
  in_child("x32_getpid", do_x32);
  in_child("x32_mount", do_x32_mount);
}

static void p_personality(void) {
  long before = syscall(SYS_personality, 0xffffffffUL);
  printf("persona_before OK:%ld\n", before);
  TRY("personality_read_implies_exec", syscall(SYS_personality, 0x0400000UL));
  TRY("personality_addr_no_randomize", syscall(SYS_personality, 0x0040000UL));
  TRY("personality_addr_compat_layout", syscall(SYS_personality, 0x0200000UL));
  TRY("personality_mmap_page_zero", syscall(SYS_personality, 0x0100000UL));
  TRY("personality_short_inode", syscall(SYS_personality, 0x1000000UL));
  long after = syscall(SYS_personality, 0xffffffffUL);
  printf("persona_after OK:%ld\n", after);
}

/* -------------------------------------------------------- privileged calls */

static void p_modules(void) {
  char img[16] = {0};
  TRY("init_module", syscall(SYS_init_module, img, sizeof img, ""));
  int fd = open("/dev/null", O_RDONLY);
  TRY("finit_module", syscall(SYS_finit_module, fd, "", 0));
  TRY("delete_module", syscall(SYS_delete_module, "kiln_sec_nonexistent", O_NONBLOCK));
}

static void p_kexec(void) {
  /* Invalid arch bits: if permitted it would still fail with EINVAL and load nothing. */
  TRY("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0xffff0000UL));
  TRY("kexec_file_load", syscall(SYS_kexec_file_load, -1, -1, 0, "", 0xff00UL));
}

static void p_reboot(void) {
  TRY("reboot_cad_off", syscall(SYS_reboot, 0xfee1dead, 672274793, 0 /*CAD_OFF*/, NULL));
}

static void p_swap(void) {
  int fd = open("/tmp/kiln-swap", O_CREAT | O_WRONLY, 0600);
  if (fd >= 0) close(fd);
  TRY("swapon", syscall(SYS_swapon, "/tmp/kiln-swap", 0));
  TRY("swapoff", syscall(SYS_swapoff, "/tmp/kiln-swap"));
}

static void p_time(void) {
  struct timeval tv;
  struct timespec ts;
  gettimeofday(&tv, NULL);
  TRY("settimeofday_now", settimeofday(&tv, NULL));
  clock_gettime(CLOCK_REALTIME, &ts);
  TRY("clock_settime_now", clock_settime(CLOCK_REALTIME, &ts));
  struct timex tx;
  memset(&tx, 0, sizeof tx);
  adjtimex(&tx); /* read */
  tx.modes = ADJ_TICK;
  TRY("adjtimex_set_tick_same", adjtimex(&tx));
  memset(&tx, 0, sizeof tx);
  clock_adjtime(CLOCK_REALTIME, &tx);
  tx.modes = ADJ_TICK;
  TRY("clock_adjtime_set", clock_adjtime(CLOCK_REALTIME, &tx));
}

static void p_acct(void) {
  int fd = open("/tmp/kiln-acct", O_CREAT | O_WRONLY, 0600);
  if (fd >= 0) close(fd);
  errno = 0;
  long r = syscall(SYS_acct, "/tmp/kiln-acct");
  out("acct_on", r, errno);
  if (r == 0) syscall(SYS_acct, NULL);
}

static void p_quotactl(void) {
  char buf[128];
  TRY("quotactl_getinfo", syscall(SYS_quotactl, (0x800005 << 8) | 0 /*QCMD(Q_GETINFO,USR)*/,
                                  "/dev/vda", 0, buf));
  TRY("quotactl_sync", syscall(SYS_quotactl, (0x800001 << 8) | 0, NULL, 0, NULL));
  TRY("quotactl_fd", syscall(443 /*quotactl_fd*/, 0, (0x800005 << 8), 0, buf));
}

static void p_syslog(void) {
  char buf[256];
  struct stat st;
  TRY("syslog_read_all", syscall(SYS_syslog, 3 /*READ_ALL*/, buf, sizeof buf));
  TRY("syslog_size_buffer", syscall(SYS_syslog, 10 /*SIZE_BUFFER*/, NULL, 0));
  TRY("syslog_console_off", syscall(SYS_syslog, 6 /*CONSOLE_OFF: harmless if refused*/, NULL, 0));
  TRY("stat_dev_kmsg", stat("/dev/kmsg", &st));
}

static void p_ioport(void) {
  TRY("iopl3", syscall(SYS_iopl, 3));
  TRY("ioperm_0x80", syscall(SYS_ioperm, 0x80, 1, 1));
  TRY("modify_ldt", syscall(SYS_modify_ldt, 0, NULL, 0));
}

static void p_handles(void) {
  struct { unsigned int bytes; int type; unsigned char f[128]; } fh;
  fh.bytes = 8;
  fh.type = 1;
  memset(fh.f, 0, sizeof fh.f);
  /* "shocker": open the host's root by a guessed handle (ext4 root inode 2). */
  fh.f[0] = 2;
  int mnt = 0;
  TRY("open_by_handle_at", syscall(SYS_open_by_handle_at, AT_FDCWD, &fh, O_RDONLY));
  fh.bytes = 128;
  TRY("name_to_handle_at", syscall(SYS_name_to_handle_at, AT_FDCWD, "/usr", &fh, &mnt, 0));
}

static void p_uts(void) {
  TRY("sethostname", sethostname("evil", 4));
  TRY("setdomainname", setdomainname("evil", 4));
  char h[64] = {0};
  gethostname(h, sizeof h - 1);
  printf("hostname_now OK:0 %s\n", h);
}

static void p_privs(void) {
  TRY("setuid0", setuid(0));
  TRY("setgid0", setgid(0));
  TRY("setresuid0", setresuid(0, 0, 0));
  TRY("setgroups0", setgroups(1, (gid_t[]){0}));
  struct { uint32_t version; int pid; } hdr = {0x20080522 /*_LINUX_CAPABILITY_VERSION_3*/, 0};
  struct { uint32_t eff, prm, inh; } data[2] = {{~0u, ~0u, ~0u}, {~0u, ~0u, ~0u}};
  TRY("capset_all", syscall(SYS_capset, &hdr, data));
  TRY("prctl_clear_nnp", prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0));
  TRY("prctl_cap_ambient_raise", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 21 /*SYS_ADMIN*/, 0, 0));
  TRY("prctl_seccomp_disable", prctl(PR_SET_SECCOMP, 0 /*SECCOMP_MODE_DISABLED*/, 0, 0, 0));
  printf("ids_after OK:0 uid=%d euid=%d gid=%d\n", getuid(), geteuid(), getgid());
}

/* ------------------------------------------------------------- filesystem */

static void p_mknod(void) {
  TRY("mknod_chr_mem_tmp", mknod("/tmp/kiln-mem", S_IFCHR | 0666, makedev(1, 1)));
  TRY("mknod_chr_kvm_shm", mknod("/dev/shm/kvm", S_IFCHR | 0666, makedev(10, 232)));
  TRY("mknod_blk_sda_home", mknod("/home/user/sda", S_IFBLK | 0666, makedev(8, 0)));
  TRY("mknod_chr_dev", mknod("/dev/kiln-evil", S_IFCHR | 0666, makedev(1, 3)));
  TRY("mknod_blk_vda_tmp", mknod("/tmp/vda", S_IFBLK | 0666, makedev(254, 0)));
}

static void p_proc_writes(void) {
  TRY("open_sysrq_trigger_w", open("/proc/sysrq-trigger", O_WRONLY));
  TRY("open_core_pattern_w", open("/proc/sys/kernel/core_pattern", O_WRONLY));
  TRY("open_core_uses_pid_w", open("/proc/sys/kernel/core_uses_pid", O_WRONLY));
  TRY("open_hostname_w", open("/proc/sys/kernel/hostname", O_WRONLY));
  TRY("open_modprobe_w", open("/proc/sys/kernel/modprobe", O_WRONLY));
  TRY("open_panic_w", open("/proc/sys/kernel/panic", O_WRONLY));
  TRY("open_drop_caches_w", open("/proc/sys/vm/drop_caches", O_WRONLY));
  TRY("open_kcore", open("/proc/kcore", O_RDONLY));
}

static void p_fds(void) {
  char path[64], target[256];
  for (int fd = 0; fd < 1024; fd++) {
    struct stat st;
    if (fstat(fd, &st) < 0) continue;
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t l = readlink(path, target, sizeof target - 1);
    target[l > 0 ? l : 0] = 0;
    const char *kind = S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "reg"
                     : S_ISCHR(st.st_mode) ? "chr" : S_ISFIFO(st.st_mode) ? "fifo"
                     : S_ISSOCK(st.st_mode) ? "sock" : S_ISBLK(st.st_mode) ? "blk" : "other";
    printf("fd%d %s %s\n", fd, kind, target);
  }
}

/* ------------------------------------------------------------ persistence */

static key_t tok_key(const char *tok) { return (key_t)strtoul(tok, NULL, 16); }

/* A plants: SysV shm/msg/sem with key = token, a POSIX message queue. */
static void p_plant_ipc(const char *tok) {
  key_t k = tok_key(tok);
  char name[64];
  TRY("plant_shm", shmget(k, 4096, IPC_CREAT | 0666));
  TRY("plant_msg", msgget(k, IPC_CREAT | 0666));
  TRY("plant_sem", semget(k, 1, IPC_CREAT | 0666));
  snprintf(name, sizeof name, "/kiln-sec-%s", tok);
  TRY("plant_mq", (long)mq_open(name, O_CREAT | O_RDWR, 0666, NULL));
  TRY("plant_add_key", syscall(SYS_add_key, "user", name, tok, strlen(tok),
                               -4 /*KEY_SPEC_USER_KEYRING*/));
}

/* Anyone looks: each lookup must fail with ENOENT (or be refused). */
static void p_look_ipc(const char *tok) {
  key_t k = tok_key(tok);
  char name[64];
  TRY("look_shm", shmget(k, 0, 0));
  TRY("look_msg", msgget(k, 0));
  TRY("look_sem", semget(k, 0, 0));
  snprintf(name, sizeof name, "/kiln-sec-%s", tok);
  TRY("look_mq", (long)mq_open(name, O_RDONLY));
  TRY("look_key", syscall(SYS_request_key, "user", name, NULL, 0));
  TRY("look_keyctl_search", syscall(SYS_keyctl, 10, -4, "user", name, 0));
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) {
    fprintf(stderr, "usage: escape <probe> [args]\n");
    return 2;
  }
  const char *p = argv[1];
  int sib = argc > 2 ? atoi(argv[2]) : 0;
  if (!strcmp(p, "unshare")) p_unshare();
  else if (!strcmp(p, "clone")) p_clone();
  else if (!strcmp(p, "clone3")) p_clone3();
  else if (!strcmp(p, "mount")) p_mount();
  else if (!strcmp(p, "umount")) p_umount();
  else if (!strcmp(p, "pivot_root")) p_pivot_root();
  else if (!strcmp(p, "chroot")) p_chroot();
  else if (!strcmp(p, "new_mount_api")) p_new_mount_api();
  else if (!strcmp(p, "cgroup_mount")) p_cgroup_mount();
  else if (!strcmp(p, "setns_self")) p_setns_self();
  else if (!strcmp(p, "setns_pid1")) p_setns_pid1();
  else if (!strcmp(p, "setns_inherited")) p_setns_inherited();
  else if (!strcmp(p, "ptrace")) p_ptrace(sib);
  else if (!strcmp(p, "process_vm")) p_process_vm(sib);
  else if (!strcmp(p, "pidfd_getfd")) p_pidfd_getfd(sib);
  else if (!strcmp(p, "kcmp")) p_kcmp(sib);
  else if (!strcmp(p, "proc1")) p_proc1();
  else if (!strcmp(p, "keys")) p_keys();
  else if (!strcmp(p, "userfaultfd")) p_userfaultfd();
  else if (!strcmp(p, "io_uring")) p_io_uring();
  else if (!strcmp(p, "bpf")) p_bpf();
  else if (!strcmp(p, "perf")) p_perf();
  else if (!strcmp(p, "socket")) p_socket(argc > 2 ? argv[2] : "");
  else if (!strcmp(p, "tiocsti")) p_tiocsti();
  else if (!strcmp(p, "tiocsti_high")) p_tiocsti_high();
  else if (!strcmp(p, "int80")) p_int80();
  else if (!strcmp(p, "x32")) p_x32();
  else if (!strcmp(p, "personality")) p_personality();
  else if (!strcmp(p, "modules")) p_modules();
  else if (!strcmp(p, "kexec")) p_kexec();
  else if (!strcmp(p, "reboot")) p_reboot();
  else if (!strcmp(p, "swap")) p_swap();
  else if (!strcmp(p, "time")) p_time();
  else if (!strcmp(p, "acct")) p_acct();
  else if (!strcmp(p, "quotactl")) p_quotactl();
  else if (!strcmp(p, "syslog")) p_syslog();
  else if (!strcmp(p, "ioport")) p_ioport();
  else if (!strcmp(p, "handles")) p_handles();
  else if (!strcmp(p, "uts")) p_uts();
  else if (!strcmp(p, "privs")) p_privs();
  else if (!strcmp(p, "mknod")) p_mknod();
  else if (!strcmp(p, "proc_writes")) p_proc_writes();
  else if (!strcmp(p, "fds")) p_fds();
  else if (!strcmp(p, "plant_ipc")) p_plant_ipc(argv[2]);
  else if (!strcmp(p, "look_ipc")) p_look_ipc(argv[2]);
  else {
    fprintf(stderr, "unknown probe %s\n", p);
    return 2;
  }
  return 0;
}
