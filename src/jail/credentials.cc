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

Status write_id_maps(pid_t child, uid_t inner_uid, uid_t host_uid, gid_t inner_gid,
                     gid_t host_gid) {
  const std::string base = "/proc/" + std::to_string(child);
  if (auto s = write_proc_file(base + "/uid_map",
                               std::to_string(inner_uid) + " " + std::to_string(host_uid) + " 1\n");
      !s) {
    return s;
  }
  return write_proc_file(base + "/gid_map",
                         std::to_string(inner_gid) + " " + std::to_string(host_gid) + " 1\n");
}

Status become_sandbox_user(uid_t uid, gid_t gid) {
  // The clone child inherited the daemon's supplementary groups (root's
  // group 0 among them); they must go before anything runs.
  if (::setgroups(0, nullptr) != 0) return Status::from_errno("setgroups(0)");
  if (::setresgid(gid, gid, gid) != 0) return Status::from_errno("setresgid");
  if (::setresuid(uid, uid, uid) != 0) return Status::from_errno("setresuid");
  return Status::ok();
}

Status drop_all_privileges() {
  for (int cap = 0; cap <= 63; ++cap) {
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      return Status::from_errno("prctl(PR_CAPBSET_DROP, " + std::to_string(cap) + ")");
    }
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
    return Status::from_errno("prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
  }
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capset, &header, data) != 0) return Status::from_errno("capset(0)");
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return Status::from_errno("prctl(PR_SET_NO_NEW_PRIVS)");
  }
  // Keep the process undumpable until execve resets it: nothing else in the
  // sandbox may open this child's /proc entries while it still holds fds.
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
    return Status::from_errno("prctl(PR_SET_DUMPABLE)");
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
