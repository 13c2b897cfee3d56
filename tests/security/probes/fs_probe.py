"""Filesystem and /proc probes, run INSIDE a sandbox: python3 fs_probe.py <probe> [args].

Prints one JSON object: {attempt: outcome}, where outcome is "OK" (or "OK:<detail>")
when the attempt succeeded, otherwise the errno name (ENOENT, EACCES, EROFS, ...).
"""
import errno
import json
import os
import stat
import sys


def en(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def attempt(fn):
    try:
        r = fn()
        return "OK" if r is None else f"OK:{r}"
    except OSError as e:
        return en(e)


def read(path, n=4096):
    with open(path, "rb") as f:
        return len(f.read(n))


def create(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.close(fd)


def open_w(path):
    fd = os.open(path, os.O_WRONLY)
    os.close(fd)


def secrets(_args):
    out = {}
    for p in ("/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/shadow-", "/root/.bashrc",
              "/etc/ssh/ssh_host_rsa_key"):
        out["read " + p] = attempt(lambda p=p: read(p))
    return out


def data_dir(args):
    d = args[0]
    out = {}
    for p in (d, os.path.join(d, "kilnd.log"), os.path.join(d, "kiln.db"), "/work",
              "/work/main"):
        out["stat " + p] = attempt(lambda p=p: os.stat(p) and None)
    # Through /proc: kiln-init's root is the sandbox root, and it is undumpable anyway.
    out["stat /proc/1/root" + d] = attempt(lambda: os.stat("/proc/1/root" + d) and None)
    return out


def proc1_environ(_args):
    return {"read /proc/1/environ": attempt(lambda: read("/proc/1/environ")),
            "read /proc/1/cmdline": attempt(lambda: read("/proc/1/cmdline")),
            "read /proc/self/environ": attempt(lambda: read("/proc/self/environ"))}


def daemon_environ(args):
    out = {}
    for name, pid in (("kilnd", args[0]), ("pytest", args[1])):
        out[f"read /proc/{name}:{pid}/environ"] = attempt(lambda: read(f"/proc/{pid}/environ"))
        out[f"kill({name}:{pid}, 0)"] = attempt(lambda: os.kill(int(pid), 0))
    return out


RO_TARGETS = ["/usr", "/usr/bin", "/etc", "/", "/opt/kiln", "/opt/kiln/runtimes", "/skills"]
RO_FILES = ["/usr/bin/python3", "/etc/passwd", "/etc/hosts", "/opt/kiln/kiln-init",
            "/etc/ld.so.cache"]


def readonly(_args):
    out = {}
    for d in RO_TARGETS:
        p = os.path.join(d, "kiln-sec-evil")
        out["create " + p] = attempt(lambda p=p: create(p))
        out["mkdir " + p + ".d"] = attempt(lambda p=p: os.mkdir(p + ".d"))
        out["symlink " + p + ".l"] = attempt(lambda p=p: os.symlink("/tmp", p + ".l"))
    for f in RO_FILES:
        out["open_w " + f] = attempt(lambda f=f: open_w(f))
        out["chmod " + f] = attempt(lambda f=f: os.chmod(f, 0o4777))
        out["utime " + f] = attempt(lambda f=f: os.utime(f, (0, 0)))
        out["rename " + f] = attempt(lambda f=f: os.rename(f, f + ".x"))
    # Skills: an existing skill file, if any.
    for root, _dirs, files in os.walk("/skills"):
        if files:
            f = os.path.join(root, files[0])
            out["open_w " + f] = attempt(lambda f=f: open_w(f))
            out["unlink " + f] = attempt(lambda f=f: os.unlink(f))
            break
    # The mount table says read-only for each of them.
    ro = {}
    for line in open("/proc/self/mountinfo"):
        parts = line.split()
        ro[parts[4]] = "ro" in parts[5].split(",")
    for m in ("/", "/usr", "/opt/kiln/kiln-init", "/opt/kiln/runtimes", "/skills", "/etc/ssl"):
        out["mount_ro " + m] = "RO" if ro.get(m) else ("RW" if m in ro else "NOMOUNT")
    return out


SAFE_DEV = {"null", "zero", "full", "random", "urandom", "fd", "stdin", "stdout", "stderr", "shm"}


def dev(_args):
    out = {}
    entries = sorted(os.listdir("/dev"))
    extra = [e for e in entries if e not in SAFE_DEV]
    out["unexpected /dev entries"] = ",".join(extra) if extra else "none"
    for e in entries:
        st = os.lstat("/dev/" + e)
        if stat.S_ISBLK(st.st_mode):
            out["block device /dev/" + e] = "PRESENT"
    for d in ("kvm", "mem", "kmem", "port", "sda", "vda", "tty", "console", "ptmx", "net/tun",
              "fuse", "loop0", "loop-control", "kmsg", "userfaultfd", "vsock", "vhost-net",
              "cpu/0/msr", "dri/card0", "nvram", "hpet"):
        out["open /dev/" + d] = attempt(lambda d=d: os.close(os.open("/dev/" + d, os.O_RDONLY)))
    out["read /dev/zero (control)"] = attempt(lambda: read("/dev/zero", 4))
    return out


def proc_writes(_args):
    out = {}
    cur = open("/proc/sys/kernel/core_pattern").read()
    out["core_pattern value"] = "OK:" + cur.strip()
    out["open_w /proc/sysrq-trigger"] = attempt(lambda: open_w("/proc/sysrq-trigger"))
    out["open_w /proc/sys/kernel/core_pattern"] = attempt(
        lambda: open_w("/proc/sys/kernel/core_pattern"))
    # A write of the very value it holds: harmless even if it were let through.
    def rewrite():
        with open("/proc/sys/kernel/core_pattern", "w") as f:
            f.write(cur)
    out["write /proc/sys/kernel/core_pattern"] = attempt(rewrite)
    out["open_w /proc/sys/kernel/modprobe"] = attempt(lambda: open_w("/proc/sys/kernel/modprobe"))
    out["open_w /proc/sys/kernel/hostname"] = attempt(lambda: open_w("/proc/sys/kernel/hostname"))
    out["open_w /proc/sys/fs/suid_dumpable"] = attempt(
        lambda: open_w("/proc/sys/fs/suid_dumpable"))
    def map_root():
        with open("/proc/self/uid_map", "w") as f:
            f.write("0 0 1\n")
    out["write /proc/self/uid_map"] = attempt(map_root)
    out["open_w /proc/1/oom_score_adj"] = attempt(lambda: open_w("/proc/1/oom_score_adj"))
    return out


def cgroup(_args):
    out = {}
    out["stat /sys/fs/cgroup"] = attempt(lambda: os.stat("/sys/fs/cgroup") and None)
    out["stat /sys"] = attempt(lambda: os.stat("/sys") and None)
    for p in ("/sys/fs/cgroup/memory/release_agent", "/sys/fs/cgroup/release_agent",
              "/sys/fs/cgroup/notify_on_release", "/sys/fs/cgroup/cgroup.procs"):
        out["open_w " + p] = attempt(lambda p=p: open_w(p))
    out["cgroup mounts in mountinfo"] = str(sum(
        1 for l in open("/proc/self/mountinfo") if " - cgroup" in l))
    out["/proc/self/cgroup"] = "OK:" + open("/proc/self/cgroup").read().strip().replace("\n", ";")
    return out


def status(_args):
    s = {}
    for line in open("/proc/self/status"):
        k, _, v = line.partition(":")
        s[k] = v.strip()
    ps = {}
    for line in open(f"/proc/{os.getppid()}/status"):
        k, _, v = line.partition(":")
        ps[k] = v.strip()
    keys = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Uid",
            "Gid", "Groups")
    out = {k: s.get(k) for k in keys}
    out.update({"parent " + k: ps.get(k) for k in keys})
    return out


PROBES = {f.__name__: f for f in (secrets, data_dir, proc1_environ, daemon_environ, readonly, dev,
                                  proc_writes, cgroup, status)}

if __name__ == "__main__":
    print(json.dumps(PROBES[sys.argv[1]](sys.argv[2:])))
