#include "jail/rootfs.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace kiln::jail {
namespace {

std::string flags_str(unsigned long f) {
  std::string s;
  auto add = [&](unsigned long bit, const char* name) {
    if (f & bit) s += s.empty() ? name : std::string("|") + name;
  };
  add(MS_BIND, "MS_BIND");
  add(MS_REC, "MS_REC");
  add(MS_REMOUNT, "MS_REMOUNT");
  add(MS_RDONLY, "MS_RDONLY");
  add(MS_NOSUID, "MS_NOSUID");
  add(MS_NODEV, "MS_NODEV");
  add(MS_NOEXEC, "MS_NOEXEC");
  add(MS_PRIVATE, "MS_PRIVATE");
  return s.empty() ? "0" : s;
}

// An empty folder on the root tmpfs (read-only once built): the second
// layer every private view needs (overlayfs wants two lower layers when it
// has no upper one).
constexpr const char* kEmptyDir = "opt/kiln/.empty";
// Host /etc files larger than this are bound, not copied.
constexpr std::size_t kMaxCopiedFile = 1u << 20;

class Builder {
 public:
  Builder(SysOps& sys) : sys_(sys) {}

  Status make_dir(const std::string& path, mode_t mode = 0755) {
    if (sys_.mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
      return Status::from_errno("mkdir(" + path + ")");
    }
    return Status::ok();
  }

  Status make_file(const std::string& path, const std::string& data, mode_t mode = 0644) {
    if (sys_.write_file(path.c_str(), data.data(), data.size(), mode) != 0) {
      return Status::from_errno("open+write(" + path + ")");
    }
    return Status::ok();
  }

  Status make_symlink(const std::string& target, const std::string& link) {
    if (sys_.symlink(target.c_str(), link.c_str()) != 0) {
      return Status::from_errno("symlink(" + link + " -> " + target + ")");
    }
    return Status::ok();
  }

  Status mount_fs(const char* fstype, const std::string& target, unsigned long flags,
                  const std::string& data) {
    if (sys_.mount(fstype, target.c_str(), fstype, flags, data.c_str()) != 0) {
      return Status::from_errno(std::string("mount(") + fstype + " -> " + target + ", " +
                                flags_str(flags) + ", " + data + ")");
    }
    return Status::ok();
  }

  // A bind mount is made read-only by a second, remounting call; the kernel
  // ignores MS_RDONLY on the first. Flags locked on the source mount (say
  // noexec on /dev) must be repeated or the remount fails with EPERM.
  Status mount_readonly_bind(const std::string& source, const std::string& target,
                             unsigned long extra = 0) {
    if (sys_.mount(source.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
      return Status::from_errno("mount(" + source + " -> " + target + ", MS_BIND|MS_REC)");
    }
    const unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | extra |
                                sys_.locked_mount_flags(target.c_str());
    if (sys_.mount(nullptr, target.c_str(), nullptr, flags, nullptr) != 0) {
      return Status::from_errno("mount(" + target + ", " + flags_str(flags) + ")");
    }
    return Status::ok();
  }

  // A read-only view of a host folder that is this sandbox's own: an
  // overlay whose only layers are the folder and an empty one. Reads go to
  // the same files and page cache as a bind would, but the overlay's inodes
  // are private, so an inotify watch inside sees only this sandbox's own
  // accesses, never the host's or a neighbour's (a bind would share the
  // host's inodes, and with them every open anyone makes).
  Status mount_private_view(const std::string& source, const std::string& target,
                            unsigned long extra) {
    const std::string data = "lowerdir=" + source + ":" + std::string(kEmptyDir);
    const unsigned long flags = MS_RDONLY | MS_NOSUID | extra;
    if (sys_.mount("overlay", target.c_str(), "overlay", flags, data.c_str()) != 0) {
      return Status::from_errno("mount(overlay " + data + " -> " + target + ", " +
                                flags_str(flags) + ")");
    }
    return Status::ok();
  }

  // A small host file copied in rather than bound, for the same reason.
  Status copy_file(const std::string& source, const std::string& target) {
    std::string data;
    if (sys_.read_file(source.c_str(), data, kMaxCopiedFile) != 0)
      return Status::from_errno("read(" + source + ")");
    return make_file(target, data);
  }

  // Kiln's own files: a detached tree the daemon cloned, attached here and
  // made read-only the same way as a bind.
  Status mount_readonly_tree(int tree_fd, const std::string& target, unsigned long extra) {
    if (sys_.attach_tree(tree_fd, target.c_str()) != 0) {
      return Status::from_errno("move_mount(tree fd " + std::to_string(tree_fd) + " -> " + target +
                                ")");
    }
    const unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | extra |
                                sys_.locked_mount_flags(target.c_str());
    if (sys_.mount(nullptr, target.c_str(), nullptr, flags, nullptr) != 0) {
      return Status::from_errno("mount(" + target + ", " + flags_str(flags) + ")");
    }
    return Status::ok();
  }

  Status detach(const std::string& target) {
    if (sys_.umount2(target.c_str(), MNT_DETACH) != 0)
      return Status::from_errno("umount2(" + target + ", MNT_DETACH)");
    return Status::ok();
  }

  // Device nodes cannot be created in a user namespace; bind the host's.
  Status bind_device(const std::string& name) {
    const std::string target = "dev/" + name;
    if (auto s = make_file(target, "", 0666); !s) return s;
    const std::string source = "/dev/" + name;
    if (sys_.mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      return Status::from_errno("mount(" + source + " -> " + target + ", MS_BIND)");
    }
    const unsigned long flags =
        MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NOEXEC | sys_.locked_mount_flags(target.c_str());
    if (sys_.mount(nullptr, target.c_str(), nullptr, flags, nullptr) != 0) {
      return Status::from_errno("mount(" + target + ", " + flags_str(flags) + ")");
    }
    return Status::ok();
  }

 private:
  SysOps& sys_;
};

#define KILN_TRY(expr)             \
  do {                             \
    if (Status s_ = (expr); !s_) { \
      return s_;                   \
    }                              \
  } while (0)

}  // namespace

std::vector<std::pair<std::string, std::string>> default_etc_files(const std::string& hostname) {
  return {
      {"passwd",
       "root:x:0:0:root:/root:/usr/sbin/nologin\n"
       "kiln:x:999:999:Kiln init:/nonexistent:/usr/sbin/nologin\n"
       "user:x:1000:1000:Sandbox User:/home/user:/bin/bash\n"
       "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"},
      {"group", "root:x:0:\nkiln:x:999:\nuser:x:1000:\nnogroup:x:65534:\n"},
      {"hosts", "127.0.0.1 localhost " + hostname + "\n::1 localhost\n"},
      {"hostname", hostname + "\n"},
      {"resolv.conf", ""},
      {"nsswitch.conf", "passwd: files\ngroup: files\nhosts: files\n"},
  };
}

std::vector<std::string> default_etc_binds() {
  std::vector<std::string> out;
  for (const char* name :
       {"alternatives", "ssl", "ca-certificates", "matplotlibrc", "mime.types", "localtime",
        "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "python3", "python3.11", "fonts",
        "bash.bashrc", "profile", "inputrc", "os-release", "debian_version", "timezone"}) {
    struct stat st {};
    if (::stat((std::string("/etc/") + name).c_str(), &st) == 0) out.emplace_back(name);
  }
  return out;
}

Status build_rootfs(SysOps& sys, const RootfsSpec& spec) {
  Builder b(sys);
  const std::string uid = std::to_string(spec.sandbox_uid);
  const std::string gid = std::to_string(spec.sandbox_gid);

  // 1. The skeleton, on the root tmpfs (made read-only at the end).
  for (const char* dir :
       {"usr", "etc", "dev", "proc", "tmp", "home", "home/user", "opt", "opt/kiln",
        "opt/kiln/runtimes", "opt/kiln/.empty", "opt/kiln/.src", "opt/kiln/.src/runtimes",
        "opt/kiln/.src/skills", "skills", "run", "var", "var/tmp"}) {
    KILN_TRY(b.make_dir(dir));
  }
  // Debian has merged /usr: the top-level dirs are symlinks into it.
  for (const char* link : {"bin", "sbin", "lib", "lib32", "lib64", "libx32"}) {
    struct stat st {};
    if (::lstat((std::string("/usr/") + link).c_str(), &st) == 0) {
      KILN_TRY(b.make_symlink(std::string("usr/") + link, link));
    }
  }

  // 2. Host binaries and libraries: read-only, no setuid, no devices, and a
  //    view of the sandbox's own.
  KILN_TRY(b.mount_private_view("/usr", "usr", MS_NODEV));

  // 3. A minimal /etc: generated identity files plus a few read-only binds.
  for (const auto& [name, contents] : spec.etc_files) {
    KILN_TRY(b.make_file("etc/" + name, contents));
  }
  for (const auto& name : spec.etc_binds) {
    const std::string source = "/etc/" + name;
    const std::string target = "etc/" + name;
    struct stat st {};
    if (::stat(source.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      KILN_TRY(b.make_dir(target));
      KILN_TRY(b.mount_private_view(source, target, MS_NODEV));
    } else if (static_cast<std::size_t>(st.st_size) <= kMaxCopiedFile) {
      KILN_TRY(b.copy_file(source, target));
    } else {
      KILN_TRY(b.make_file(target, ""));
      KILN_TRY(b.mount_readonly_bind(source, target, MS_NODEV));
    }
  }

  // 4. A minimal /dev: only the harmless character devices; no tty, no kvm.
  KILN_TRY(b.mount_fs("tmpfs", "dev", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k"));
  for (const char* dev : {"null", "zero", "full", "random", "urandom"}) {
    KILN_TRY(b.bind_device(dev));
  }
  KILN_TRY(b.make_symlink("/proc/self/fd", "dev/fd"));
  KILN_TRY(b.make_symlink("/proc/self/fd/0", "dev/stdin"));
  KILN_TRY(b.make_symlink("/proc/self/fd/1", "dev/stdout"));
  KILN_TRY(b.make_symlink("/proc/self/fd/2", "dev/stderr"));
  KILN_TRY(b.make_dir("dev/shm"));
  KILN_TRY(b.mount_fs("tmpfs", "dev/shm", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                      "mode=1777,size=" + std::to_string(spec.shm_bytes)));

  // 5. A private /proc for the sandbox's own pid namespace.
  KILN_TRY(b.mount_fs("proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, ""));

  // 6. Writable, size-capped scratch and home.
  KILN_TRY(b.mount_fs("tmpfs", "tmp", MS_NOSUID | MS_NODEV,
                      "mode=1777,size=" + std::to_string(spec.tmp_bytes)));
  KILN_TRY(b.mount_fs(
      "tmpfs", "home/user", MS_NOSUID | MS_NODEV,
      "mode=0755,uid=" + uid + ",gid=" + gid + ",size=" + std::to_string(spec.home_bytes)));

  // 7. Kiln's own programs and the skills, read-only.
  KILN_TRY(b.make_file("opt/kiln/kiln-init", "", 0755));
  //    The runner and skill folders become private views too: attached at
  //    a staging spot, viewed through an overlay, then detached (the
  //    overlay keeps its own reference to the layer).
  KILN_TRY(b.mount_readonly_tree(spec.init_tree, "opt/kiln/kiln-init", MS_NODEV));
  KILN_TRY(b.mount_readonly_tree(spec.runtimes_tree, "opt/kiln/.src/runtimes", MS_NODEV));
  KILN_TRY(b.mount_private_view("opt/kiln/.src/runtimes", "opt/kiln/runtimes", MS_NODEV));
  KILN_TRY(b.detach("opt/kiln/.src/runtimes"));
  if (spec.skills_tree >= 0) {
    KILN_TRY(b.mount_readonly_tree(spec.skills_tree, "opt/kiln/.src/skills", MS_NODEV | MS_NOEXEC));
    KILN_TRY(b.mount_private_view("opt/kiln/.src/skills", "skills", MS_NODEV | MS_NOEXEC));
    KILN_TRY(b.detach("opt/kiln/.src/skills"));
  }

  // 8. Pivot. pivot_root(".", ".") stacks the old root on top of the new one
  // at the same place, so it can be detached without needing a directory for
  // it inside the (soon read-only) new root.
  if (sys.pivot_root(".", ".") != 0) return Status::from_errno("pivot_root(., .)");
  if (sys.umount2(".", MNT_DETACH) != 0) return Status::from_errno("umount2(old root, MNT_DETACH)");
  if (sys.chdir("/") != 0) return Status::from_errno("chdir(/)");

  // 9. The root itself becomes read-only: code can write only where a
  // writable, size-capped mount says so.
  if (sys.mount(nullptr, "/", nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) !=
      0) {
    return Status::from_errno("mount(/, MS_REMOUNT|MS_RDONLY|MS_NOSUID|MS_NODEV)");
  }
  return Status::ok();
}

}  // namespace kiln::jail
