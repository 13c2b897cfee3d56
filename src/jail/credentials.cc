#include "jail/credentials.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace kiln::jail {
namespace {

Status write_proc_file(const std::string& path, const std::string& data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Status::from_errno("open(" + path + ")");
  ssize_t n = ::write(fd, data.data(), data.size());
  int saved = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(data.size()))
    return Status::from_errno("write(" + path + ")", saved);
  return Status::ok();
}

}  // namespace

Status write_id_maps(pid_t child, const SlotIds& ids) {
  const std::string base = "/proc/" + std::to_string(child);
  // Lines sorted by inner id, one id each.
  const std::string map = std::to_string(kInitUid) + " " + std::to_string(ids.init_host_uid) +
                          " 1\n" + std::to_string(kUserUid) + " " +
                          std::to_string(ids.user_host_uid) + " 1\n";
  if (auto s = write_proc_file(base + "/uid_map", map); !s) return s;
  return write_proc_file(base + "/gid_map", map);
}

Status become_init_user() {
  // Keep the namespace's capabilities across the uid change (the kernel
  // would clear them if the old ids were the namespace's root).
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
    return Status::from_errno("prctl(PR_SET_KEEPCAPS)");
  // The clone child inherited the daemon's supplementary groups (root's
  // group 0 among them); they must go before anything runs.
  if (::setgroups(0, nullptr) != 0) return Status::from_errno("setgroups(0)");
  if (::setresgid(kInitUid, kInitUid, kInitUid) != 0) return Status::from_errno("setresgid(999)");
  if (::setresuid(kInitUid, kInitUid, kInitUid) != 0) return Status::from_errno("setresuid(999)");
  return Status::ok();
}

namespace {

Status set_capabilities(std::uint64_t mask) {
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  __user_cap_data_struct data[2] = {};
  for (int i = 0; i < 2; ++i) {
    const auto word = static_cast<std::uint32_t>(mask >> (32 * i));
    data[i].effective = data[i].permitted = data[i].inheritable = word;
  }
  if (::syscall(SYS_capset, &header, data) != 0) return Status::from_errno("capset");
  return Status::ok();
}

bool is_init_capability(int cap) {
  for (int c : kInitCapabilities)
    if (c == cap) return true;
  return false;
}

}  // namespace

Status drop_privileges_for_init() {
  std::uint64_t keep = 0;
  for (int cap = 0; cap <= 63; ++cap) {
    if (is_init_capability(cap)) {
      keep |= std::uint64_t{1} << cap;
      continue;
    }
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      return Status::from_errno("prctl(PR_CAPBSET_DROP, " + std::to_string(cap) + ")");
    }
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
    return Status::from_errno("prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
  }
  if (auto s = set_capabilities(keep); !s) return s;
  for (int cap : kInitCapabilities) {
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0)
      return Status::from_errno("prctl(PR_CAP_AMBIENT_RAISE, " + std::to_string(cap) + ")");
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return Status::from_errno("prctl(PR_SET_NO_NEW_PRIVS)");
  }
  // Keep the process undumpable until execve resets it: nothing else in the
  // sandbox may open this child's /proc entries while it still holds fds.
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
    return Status::from_errno("prctl(PR_SET_DUMPABLE)");
  return Status::ok();
}

Status become_user_without_capabilities() {
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0)
    return Status::from_errno("prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
  for (int cap = 0; cap <= 63; ++cap) {
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      return Status::from_errno("prctl(PR_CAPBSET_DROP, " + std::to_string(cap) + ")");
    }
  }
  if (::setgroups(0, nullptr) != 0) return Status::from_errno("setgroups(0)");
  if (::setresgid(kUserUid, kUserUid, kUserUid) != 0) return Status::from_errno("setresgid(1000)");
  if (::setresuid(kUserUid, kUserUid, kUserUid) != 0) return Status::from_errno("setresuid(1000)");
  // From one non-root uid to another the kernel keeps capabilities: drop
  // them explicitly, and check.
  if (auto s = set_capabilities(0); !s) return s;
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return Status::from_errno("prctl(PR_SET_NO_NEW_PRIVS)");
  return Status::ok();
}

Status apply_rlimits(const Rlimits& limits) {
  auto set = [](int resource, const char* name, rlim_t value) -> Status {
    struct rlimit rl {
      value, value
    };
    if (::setrlimit(resource, &rl) != 0)
      return Status::from_errno(std::string("setrlimit(") + name + ")");
    return Status::ok();
  };
  if (auto s = set(RLIMIT_CORE, "RLIMIT_CORE", 0); !s) return s;
  if (auto s = set(RLIMIT_FSIZE, "RLIMIT_FSIZE", limits.fsize_bytes); !s) return s;
  if (auto s = set(RLIMIT_NOFILE, "RLIMIT_NOFILE", limits.nofile); !s) return s;
  if (limits.nproc > 0) {
    if (auto s = set(RLIMIT_NPROC, "RLIMIT_NPROC", limits.nproc); !s) return s;
  }
  return Status::ok();
}

Status bring_up_loopback() {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::from_errno("socket(AF_INET) for lo");
  struct ifreq ifr {};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  Status result;
  if (::ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) {
    result = Status::from_errno("ioctl(lo, SIOCGIFFLAGS)");
  } else {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (::ioctl(fd, SIOCSIFFLAGS, &ifr) != 0)
      result = Status::from_errno("ioctl(lo, SIOCSIFFLAGS)");
  }
  ::close(fd);
  return result;
}

}  // namespace kiln::jail
