"""Kiln escape suite: every probe runs INSIDE a sandbox through the public API.

Each probe (one parametrized test) asserts two things:
  1. the attempt was blocked with the expected outcome (EPERM, ENOSYS, SIGSYS,
     EROFS, ENOENT, EACCES, ECONNREFUSED, ...), and
  2. nothing happened outside: the host (mount table, hostname, core_pattern,
     a marker file, files the probes try to create, the daemon's health, two
     loopback servers that must see zero traffic) and a neighbour sandbox (a
     Python variable, a file in /home/user and one in /tmp) are unchanged.

The probe programs live in probes/: escape.c (compiled inside the sandbox
with the host's gcc, visible read-only at /usr/bin/gcc), euid_preload.c,
fs_probe.py, net_probe.py, bash_net.sh, bash_fs.sh, persist_look.sh.

Network rule: nothing here sends a packet to a non-loopback address.

The table (probe | expected | observed | verdict) and "N probes, N blocked"
are printed at the end of the run by conftest.pytest_terminal_summary.
"""
import json
import os
import re
import secrets
import shlex
import socket
import threading
import time
from collections import Counter

import pytest

from .escape_table import record

HERE = os.path.dirname(os.path.abspath(__file__))
PROBES_DIR = os.path.join(HERE, "probes")
PROBE_FILES = ("escape.c", "euid_preload.c", "fs_probe.py", "net_probe.py", "bash_net.sh",
               "bash_fs.sh", "persist_look.sh")

# Host paths that a probe would create if a write, mount or redirect escaped.
HOST_MUST_NOT_EXIST = [
    "/usr/kiln-sec-evil", "/usr/bin/kiln-sec-evil", "/etc/kiln-sec-evil", "/kiln-sec-evil",
    "/usr/kiln-sec-bash-evil", "/etc/kiln-sec-bash-evil", "/kiln-sec-bash-evil",
    "/usr/kiln-sec-evil.d", "/etc/kiln-sec-evil.d", "/kiln-sec-evil.d", "/tmp/pwn",
    "/tmp/kiln-swap", "/tmp/kiln-acct", "/tmp/kiln-mem", "/tmp/kiln-sec-mem", "/tmp/vda",
    "/tmp/euid.log", "/tmp/newroot", "/home/user/cg", "/home/user/mnt",
    os.path.join(os.path.dirname(HERE), "..", "skills", "kiln-sec-evil"),
    os.path.join(os.path.dirname(HERE), "..", "runtimes", "kiln-sec-evil"),
]


# --------------------------------------------------------------------------
# host-side helpers

class LoopbackServers:
    """A TCP and a UDP server on host loopback (v4 + v6 for TCP) that count hits."""

    def __init__(self):
        self.tcp = socket.socket()
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", 0))
        self.port = self.tcp.getsockname()[1]
        self.tcp.listen(16)
        self.tcp.settimeout(0.1)
        self.tcp6 = None
        try:
            self.tcp6 = socket.socket(socket.AF_INET6)
            self.tcp6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            self.tcp6.bind(("::1", self.port))
            self.tcp6.listen(16)
            self.tcp6.settimeout(0.1)
        except OSError:
            self.tcp6 = None
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp.settimeout(0.1)
        self.udp_port = self.udp.getsockname()[1]
        self.tcp_hits = 0
        self.udp_hits = 0
        self.stop = False
        self.threads = [threading.Thread(target=self._accept, args=(s,), daemon=True)
                        for s in (self.tcp, self.tcp6) if s]
        self.threads.append(threading.Thread(target=self._recv, daemon=True))
        for t in self.threads:
            t.start()

    def _accept(self, s):
        while not self.stop:
            try:
                c, _ = s.accept()
            except OSError:
                continue
            self.tcp_hits += 1
            c.close()

    def _recv(self):
        while not self.stop:
            try:
                self.udp.recvfrom(64)
            except OSError:
                continue
            self.udp_hits += 1

    def control(self):
        """Positive control from the host: both servers really count."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2):
            pass
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.sendto(b"control", ("127.0.0.1", self.udp_port))
        deadline = time.time() + 3
        while time.time() < deadline and (self.tcp_hits < 1 or self.udp_hits < 1):
            time.sleep(0.02)
        assert self.tcp_hits == 1 and self.udp_hits == 1, (self.tcp_hits, self.udp_hits)
        self.tcp_hits = self.udp_hits = 0

    def close(self):
        self.stop = True
        for t in self.threads:
            t.join(1)
        for s in (self.tcp, self.tcp6, self.udp):
            if s:
                s.close()


def host_mounts():
    out = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            p = line.split()
            out[(p[0], p[4])] = line.strip()
    return out


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError as e:
        return f"<{type(e).__name__}>"


class HostState:
    def __init__(self):
        self.mounts = host_mounts()
        self.hostname = socket.gethostname()
        self.core_pattern = read_text("/proc/sys/kernel/core_pattern")
        self.sysrq = read_text("/proc/sys/kernel/sysrq")
        self.marker = f"/tmp/kiln-sec-host-marker-{secrets.token_hex(6)}"
        self.marker_content = f"host-secret-{secrets.token_hex(8)}\n"
        with open(self.marker, "w") as f:
            f.write(self.marker_content)
        os.chmod(self.marker, 0o666)  # even world-writable, no sandbox may reach it
        st = os.stat(self.marker)
        self.marker_stat = (st.st_ino, st.st_mtime_ns, st.st_size)

    def problems(self):
        bad = []
        now = host_mounts()
        # Mounts other suites make in their own scratch folders (below /tmp/, /run/,
        # /var/, /work/) are not ours to judge; the probes target /, /tmp, /usr, /proc,
        # /home/user/…, /sys/fs/cgroup, so an escaped mount would land outside those.
        ours = lambda key: not key[1].startswith(("/tmp/", "/run/", "/var/", "/work/"))
        added = [now[k] for k in now.keys() - self.mounts.keys() if ours(k)]
        removed = [self.mounts[k] for k in self.mounts.keys() - now.keys() if ours(k)]
        if added:
            bad.append(f"host gained mounts: {added}")
        if removed:
            bad.append(f"host lost mounts: {removed}")
        if socket.gethostname() != self.hostname:
            bad.append(f"host hostname changed to {socket.gethostname()!r}")
        if read_text("/proc/sys/kernel/core_pattern") != self.core_pattern:
            bad.append("host core_pattern changed")
        if read_text("/proc/sys/kernel/sysrq") != self.sysrq:
            bad.append("host kernel.sysrq changed")
        try:
            st = os.stat(self.marker)
            if (st.st_ino, st.st_mtime_ns, st.st_size) != self.marker_stat or \
                    read_text(self.marker) != self.marker_content:
                bad.append("host marker file changed")
        except OSError:
            bad.append("host marker file removed")
        for p in HOST_MUST_NOT_EXIST:
            if os.path.lexists(p):
                bad.append(f"host path appeared: {p}")
        return bad

    def close(self):
        try:
            os.unlink(self.marker)
        except OSError:
            pass


# --------------------------------------------------------------------------
# the environment every probe shares

class Env:
    def __init__(self, d):
        self.d = d
        self.host = HostState()
        self.servers = LoopbackServers()
        self.servers.control()
        self.sandboxes = []
        # Neighbour: state in its Python context and in its files.
        self.neighbour = self.new_sandbox()
        self.ntoken = secrets.token_hex(8)
        res = d.execute(self.neighbour, f"neighbour_state = {self.ntoken!r}\n"
                                        f"open('/home/user/n.txt','w').write({self.ntoken!r})\n"
                                        f"open('/tmp/n.txt','w').write({self.ntoken!r})")
        assert res["error"] is None, res
        # Attacker: probes uploaded and compiled inside.
        self.sid = self.new_sandbox()
        self.prepare(self.sid, preload=True)
        r = d.post(f"/v1/sandboxes/{self.sid}/commands", {"cmd": "sleep 600", "background": True})
        assert r.status_code == 201, r.text
        self.sibling = r.json()["pid"]
        r = d.post(f"/v1/sandboxes/{self.sid}/contexts", {"language": "bash", "cwd": "/home/user"})
        assert r.status_code == 201, f"bash context could not be created: {r.status_code} {r.text}"
        self.bash_ctx = r.json()["id"]
        self.sandbox_mounts = self.cmd(self.sid, "cat /proc/self/mountinfo")["stdout"]
        self._persist = None

    def new_sandbox(self):
        sid = self.d.create_sandbox()
        self.sandboxes.append(sid)
        return sid

    def cmd(self, sid, cmd, **kw):
        return self.d.run(sid, cmd, **kw)

    def prepare(self, sid, preload=False):
        for name in PROBE_FILES:
            with open(os.path.join(PROBES_DIR, name), "rb") as f:
                self.d.put_file(sid, f"/tmp/probes/{name}", f.read())
        build = "gcc -O0 -o /tmp/escape /tmp/probes/escape.c"
        if preload:
            build += " && gcc -shared -fPIC -o /tmp/euid_preload.so /tmp/probes/euid_preload.c"
        r = self.cmd(sid, build, timeout_s=60)
        assert r["exit_code"] == 0, f"probe build failed inside the sandbox: {r}"

    def neighbour_problems(self):
        try:
            res = self.d.execute(self.neighbour, "f'{1+1} {neighbour_state} "
                                                 "{open(\"/home/user/n.txt\").read()} "
                                                 "{open(\"/tmp/n.txt\").read()}'")
        except AssertionError as e:
            return [f"neighbour unreachable: {e}"]
        if res["error"] is not None or not res["results"]:
            return [f"neighbour lost state: {res['error']}"]
        want = f"'2 {self.ntoken} {self.ntoken} {self.ntoken}'"
        got = res["results"][0].get("text")
        return [] if got == want else [f"neighbour state changed: {got!r}"]

    def problems(self):
        bad = self.host.problems()
        if self.d.proc.poll() is not None:
            bad.append(f"kilnd died (rc {self.d.proc.returncode})")
        elif self.d.get("/healthz", timeout=10).status_code != 200:
            bad.append("kilnd /healthz not 200")
        if self.servers.tcp_hits or self.servers.udp_hits:
            bad.append(f"host loopback servers were reached: tcp={self.servers.tcp_hits} "
                       f"udp={self.servers.udp_hits}")
        return bad + self.neighbour_problems()

    def close(self):
        for sid in self.sandboxes:
            try:
                self.d.delete(f"/v1/sandboxes/{sid}", timeout=30)
            except Exception:
                pass
        self.servers.close()
        self.host.close()


@pytest.fixture(scope="session")
def env(kilnd):
    e = Env(kilnd)
    yield e
    e.close()


# --------------------------------------------------------------------------
# probe plumbing

def parse_lines(text):
    """'key outcome' lines → ordered dict (first word = key, rest = outcome)."""
    out = {}
    for line in text.splitlines():
        if line.strip():
            k, _, v = line.partition(" ")
            out[k] = v.strip()
    return out


def c_probe(env, *args, sid=None):
    r = env.cmd(sid or env.sid, "/tmp/escape " + " ".join(shlex.quote(str(a)) for a in args))
    assert r["exit_code"] == 0, f"probe program failed: {r}"
    res = parse_lines(r["stdout"])
    assert res, f"probe printed nothing: {r}"
    return res


def fs_probe(env, *args):
    r = env.cmd(env.sid, "python3 /tmp/probes/fs_probe.py " + " ".join(
        shlex.quote(str(a)) for a in args))
    assert r["exit_code"] == 0, f"fs probe failed: {r}"
    return json.loads(r["stdout"].strip().splitlines()[-1])


def outcome(v):
    """'OK:12' → 'OK'; other outcomes unchanged."""
    return "OK" if v.startswith("OK") else v


def summary(res, keys=None):
    keys = [k for k in res if keys is None or k in keys]
    c = Counter(outcome(res[k]) for k in keys)
    return ", ".join(f"{v}×{n}" if n > 1 else v for v, n in c.most_common())


def check(res, allowed, pattern=".*", min_count=1):
    """Every key matching pattern has an outcome in allowed; returns (keys, failures)."""
    rx = re.compile(pattern)
    keys = [k for k in res if rx.fullmatch(k)]
    fails = [f"{k}={res[k]}" for k in keys if outcome(res[k]) not in allowed]
    if len(keys) < min_count:
        fails.append(f"only {len(keys)} attempts matched {pattern!r} (want ≥{min_count}): {res}")
    return keys, fails


def simple(env, args, allowed, pattern=".*", min_count=1):
    res = c_probe(env, *args)
    keys, fails = check(res, allowed, pattern, min_count)
    return summary(res, keys), fails


PROBES = {}


def probe(name, expected):
    def deco(fn):
        assert name not in PROBES, name
        PROBES[name] = (expected, fn)
        return fn
    return deco


# --------------------------------------------------------------------------
# namespaces

@probe("unshare: nested userns + 7 ns types", "EPERM for each")
def _(env):
    return simple(env, ["unshare"], {"EPERM"}, "unshare_.*", 8)


@probe("clone: namespace flags", "EPERM (plain fork OK)")
def _(env):
    # CLONE_NEWTIME (0x80) lies inside CSIGNAL for clone(2), so only clone3/unshare
    # can ask for it; both are covered.
    res = c_probe(env, "clone")
    res.pop("clone_time", None)
    keys, fails = check(res, {"EPERM"}, "clone_(?!plain).*", 7)
    if outcome(res.get("clone_plain", "")) != "OK":
        fails.append(f"control: plain clone failed ({res.get('clone_plain')})")
    return summary(res, keys) + "; plain fork OK", fails


@probe("clone3: namespace flags", "ENOSYS (glibc falls back)")
def _(env):
    return simple(env, ["clone3"], {"ENOSYS"}, "clone3_.*", 9)


@probe("unshare(1) CLI -U / -n / -m", "fails, EPERM")
def _(env):
    r = env.cmd(env.sid, "for f in -U -Ur -n -m -p; do unshare $f true 2>&1; echo rc=$?; done")
    rcs = re.findall(r"rc=(\d+)", r["stdout"])
    fails = [] if len(rcs) == 5 and "0" not in rcs else [f"unshare(1) succeeded: {r['stdout']}"]
    if r["stdout"].count("Operation not permitted") < 5:
        fails.append(f"not EPERM: {r['stdout']}")
    return f"5× rc={','.join(sorted(set(rcs)))} EPERM", fails


# --------------------------------------------------------------------------
# mounts

def sandbox_mounts_unchanged(env):
    now = env.cmd(env.sid, "cat /proc/self/mountinfo")["stdout"]
    return [] if now == env.sandbox_mounts else ["the sandbox's own mount table changed"]


@probe("mount: tmpfs, proc, bind, remount / rw", "EPERM")
def _(env):
    obs, fails = simple(env, ["mount"], {"EPERM"}, ".*", 8)
    return obs, fails + sandbox_mounts_unchanged(env)


@probe("umount of / (plain, MNT_DETACH), /proc, /usr", "EPERM")
def _(env):
    obs, fails = simple(env, ["umount"], {"EPERM"}, ".*", 4)
    return obs, fails + sandbox_mounts_unchanged(env)


@probe("pivot_root", "EPERM")
def _(env):
    return simple(env, ["pivot_root"], {"EPERM"}, ".*", 2)


@probe("chroot (/tmp, /proc/1/root, /)", "EPERM")
def _(env):
    return simple(env, ["chroot"], {"EPERM"}, ".*", 3)


@probe("new mount API: fsopen, fsmount, open_tree, …", "EPERM")
def _(env):
    obs, fails = simple(env, ["new_mount_api"], {"EPERM"}, ".*", 9)
    return obs, fails + sandbox_mounts_unchanged(env)


# --------------------------------------------------------------------------
# setns

@probe("setns on /proc/self/ns/* fds", "EPERM")
def _(env):
    return simple(env, ["setns_self"], {"EPERM"}, "setns_.*", 8)


@probe("setns via /proc/1/ns/* (kiln-init)", "EACCES on open (or EPERM)")
def _(env):
    return simple(env, ["setns_pid1"], {"EACCES", "EPERM"}, ".*", 8)


@probe("setns on every inherited fd", "EPERM; only stdio inherited")
def _(env):
    res = c_probe(env, "setns_inherited")
    keys, fails = check(res, {"EPERM"}, "setns_fd.*", 3)
    targets = {k: v for k, v in res.items() if k.endswith("_target")}
    bad = {k: v for k, v in targets.items()
           if not re.fullmatch(r"pipe:\[\d+\]|socket:\[\d+\]|/dev/null", v)}
    if bad:
        fails.append(f"inherited fds outside pipes/sockets/dev/null: {bad}")
    return f"{len(targets)} fds ({','.join(sorted(set(re.sub(r':.*', '', v) for v in targets.values())))}): " \
           + summary(res, keys), fails


# --------------------------------------------------------------------------
# ptrace and cross-process access

@probe("ptrace ATTACH/SEIZE pid 1 and a sibling, TRACEME", "EPERM")
def _(env):
    return simple(env, ["ptrace", env.sibling], {"EPERM"}, ".*", 5)


@probe("process_vm_readv/writev on pid 1 and a sibling", "EPERM")
def _(env):
    return simple(env, ["process_vm", env.sibling], {"EPERM"}, ".*", 4)


@probe("pidfd_getfd on pid 1 and a sibling (fds 0-7)", "EPERM")
def _(env):
    return simple(env, ["pidfd_getfd", env.sibling], {"EPERM"}, "pidfd_getfd_.*", 16)


@probe("kcmp against pid 1 and a sibling", "EPERM")
def _(env):
    return simple(env, ["kcmp", env.sibling], {"EPERM"}, ".*", 2)


@probe("/proc/1/{mem,maps,fd,root,cwd,exe} of kiln-init", "EACCES (undumpable)")
def _(env):
    return simple(env, ["proc1"], {"EACCES"}, ".*", 9)


# --------------------------------------------------------------------------
# kernel attack surface

@probe("keyctl / add_key / request_key", "EPERM")
def _(env):
    return simple(env, ["keys"], {"EPERM"}, ".*", 6)


@probe("userfaultfd (syscall, /dev/userfaultfd)", "EPERM; device ENOENT")
def _(env):
    res = c_probe(env, "userfaultfd")
    k1, f1 = check(res, {"EPERM"}, "userfaultfd.*", 2)
    k2, f2 = check(res, {"ENOENT"}, "stat_dev_userfaultfd", 1)
    return summary(res), f1 + f2


@probe("io_uring setup/enter/register", "EPERM")
def _(env):
    return simple(env, ["io_uring"], {"EPERM"}, ".*", 3)


@probe("bpf map create / prog load", "EPERM")
def _(env):
    return simple(env, ["bpf"], {"EPERM"}, ".*", 2)


@probe("perf_event_open (self, pid 1, all cpus)", "EPERM")
def _(env):
    return simple(env, ["perf"], {"EPERM"}, ".*", 3)


@probe("socket AF_PACKET", "EPERM")
def _(env):
    return simple(env, ["socket", "packet"], {"EPERM"}, ".*", 2)


@probe("socket AF_NETLINK (route, audit, uevent)", "EPERM")
def _(env):
    return simple(env, ["socket", "netlink"], {"EPERM"}, ".*", 4)


@probe("socket AF_VSOCK", "EPERM")
def _(env):
    return simple(env, ["socket", "vsock"], {"EPERM"}, ".*", 2)


@probe("socket AF_ALG", "EPERM")
def _(env):
    return simple(env, ["socket", "alg"], {"EPERM"}, ".*", 1)


@probe("socket SOCK_RAW (AF_INET, AF_INET6)", "EPERM")
def _(env):
    return simple(env, ["socket", "raw_inet"], {"EPERM"}, ".*", 3)


@probe("socket: all families but UNIX/INET/INET6", "none opens")
def _(env):
    res = c_probe(env, "socket", "other_families")
    opened = res.get("families_opened", "missing")
    fails = [] if opened == "OK:0" else [f"families opened: {res}"]
    odd = {k: v for k, v in res.items() if k.startswith("family")}
    if odd:
        fails.append(f"unexpected outcomes: {odd}")
    return f"opened {opened.replace('OK:', '')}", fails


@probe("ioctl TIOCSTI / TIOCLINUX", "EPERM")
def _(env):
    return simple(env, ["tiocsti"], {"EPERM"}, ".*", 3)


@probe("ioctl TIOCSTI with high bits set in the request", "EPERM")
def _(env):
    return simple(env, ["tiocsti_high"], {"EPERM"}, ".*", 4)


@probe("32-bit int 0x80 ABI (getpid, setuid(0))", "killed by SIGSYS")
def _(env):
    return simple(env, ["int80"], {"SIGSYS"}, ".*", 2)


@probe("x32 ABI (getpid, mount)", "killed by SIGSYS")
def _(env):
    return simple(env, ["x32"], {"SIGSYS"}, ".*", 2)


@probe("personality READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE", "EPERM; persona unchanged")
def _(env):
    res = c_probe(env, "personality")
    keys, fails = check(res, {"EPERM"}, "personality_.*", 5)
    if res.get("persona_before") != "OK:0" or res.get("persona_after") != "OK:0":
        fails.append(f"persona changed: {res.get('persona_before')} → {res.get('persona_after')}")
    r = env.cmd(env.sid, "setarch x86_64 -R true; echo rc=$?; setarch x86_64 --read-implies-exec "
                         "true; echo rc=$?")
    if "rc=0" in r["stdout"]:
        fails.append(f"setarch succeeded: {r}")
    return summary(res, keys) + "; setarch fails", fails


@probe("init_module / finit_module / delete_module", "EPERM")
def _(env):
    return simple(env, ["modules"], {"EPERM"}, ".*", 3)


@probe("kexec_load / kexec_file_load", "EPERM")
def _(env):
    return simple(env, ["kexec"], {"EPERM"}, ".*", 2)


@probe("reboot(CAD_OFF)", "EPERM")
def _(env):
    return simple(env, ["reboot"], {"EPERM"}, ".*", 1)


@probe("swapon / swapoff", "EPERM")
def _(env):
    return simple(env, ["swap"], {"EPERM"}, ".*", 2)


@probe("settimeofday, clock_settime, adjtimex", "EPERM")
def _(env):
    return simple(env, ["time"], {"EPERM"}, ".*", 4)


@probe("acct", "EPERM")
def _(env):
    return simple(env, ["acct"], {"EPERM"}, ".*", 1)


@probe("quotactl / quotactl_fd", "EPERM")
def _(env):
    return simple(env, ["quotactl"], {"EPERM"}, ".*", 3)


@probe("syslog (read, size, console off), /dev/kmsg", "EPERM; ENOENT")
def _(env):
    res = c_probe(env, "syslog")
    k1, f1 = check(res, {"EPERM"}, "syslog_.*", 3)
    k2, f2 = check(res, {"ENOENT"}, "stat_dev_kmsg", 1)
    r = env.cmd(env.sid, "dmesg >/dev/null 2>&1; echo rc=$?")
    if "rc=0" in r["stdout"]:
        f1.append("dmesg succeeded")
    return summary(res), f1 + f2


@probe("iopl / ioperm / modify_ldt", "EPERM")
def _(env):
    return simple(env, ["ioport"], {"EPERM"}, ".*", 3)


@probe("open_by_handle_at (shocker) / name_to_handle_at", "EPERM")
def _(env):
    return simple(env, ["handles"], {"EPERM"}, ".*", 2)


@probe("sethostname / setdomainname", "EPERM; host hostname unchanged")
def _(env):
    res = c_probe(env, "uts")
    keys, fails = check(res, {"EPERM"}, "set.*", 2)
    if res.get("hostname_now") != "OK:0 sandbox":
        fails.append(f"sandbox hostname changed: {res.get('hostname_now')}")
    return summary(res, keys), fails


# --------------------------------------------------------------------------
# privileges

@probe("CapEff 0 / NoNewPrivs 1 / Seccomp 2", "all caps 0, NNP 1, mode 2")
def _(env):
    st = fs_probe(env, "status")
    fails = []
    for who in ("", "parent "):
        for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            if int(st[who + cap], 16) != 0:
                fails.append(f"{who}{cap}={st[who + cap]}")
        if st[who + "NoNewPrivs"] != "1":
            fails.append(f"{who}NoNewPrivs={st[who + 'NoNewPrivs']}")
        if st[who + "Seccomp"] != "2":
            fails.append(f"{who}Seccomp={st[who + 'Seccomp']}")
        if st[who + "Uid"].split() != ["1000"] * 4:
            fails.append(f"{who}Uid={st[who + 'Uid']}")
    # The Python runner (execute path) too.
    res = env.d.execute(env.sid, "s = {l.split(':')[0]: l.split(':', 1)[1].strip() for l in "
                                 "open('/proc/self/status') if ':' in l}\n"
                                 "(s['CapEff'], s['CapBnd'], s['NoNewPrivs'], s['Seccomp'])")
    if res["results"][0]["text"] != "('0000000000000000', '0000000000000000', '1', '2')":
        fails.append(f"runner status: {res['results'][0]['text']}")
    return (f"CapEff={st['CapEff']} CapBnd={st['CapBnd']} NNP={st['NoNewPrivs']} "
            f"Seccomp={st['Seccomp']}"), fails


@probe("regain privs: setuid(0), capset, NNP, ambient", "EINVAL/EPERM; uid 1000")
def _(env):
    res = c_probe(env, "privs")
    keys, fails = check(res, {"EPERM", "EINVAL"}, "(set|capset|prctl).*", 8)
    if res.get("ids_after") != "OK:0 uid=1000 euid=1000 gid=1000":
        fails.append(f"ids after: {res.get('ids_after')}")
    return summary(res, keys) + "; still uid 1000", fails


@probe("setuid binaries (all -perm -4000, su -c id)", "euid stays 1000, AT_SECURE 0")
def _(env):
    r = env.cmd(env.sid, "rm -f /tmp/euid.log /tmp/noexec.list; bins=$(find /usr -xdev -perm -4000 "
                         "-type f 2>/dev/null); echo \"$bins\" > /tmp/suid.list; for b in $bins; do "
                         "if [ -x $b ]; then LD_PRELOAD=/tmp/euid_preload.so $b </dev/null >/dev/null "
                         "2>&1; else echo $b >> /tmp/noexec.list; fi; done; cat /tmp/suid.list; "
                         "echo ---; cat /tmp/euid.log; echo ---; cat /tmp/noexec.list 2>/dev/null; "
                         "true", timeout_s=60)
    listed, _, rest = r["stdout"].partition("---\n")
    logged, _, noexec = rest.partition("---\n")
    bins = [b for b in listed.split() if b]
    noexec = set(noexec.split())
    fails = []
    if not bins:
        fails.append("no setuid binary found to test (expected su, passwd, mount …)")
    seen = {}
    for line in logged.splitlines():
        exe, *kv = line.split()
        seen[exe] = dict(x.split("=") for x in kv)
    for b in bins:
        got = seen.get(b)  # /usr is bound at the same path
        if b in noexec:
            continue  # not executable by uid 1000 at all (e.g. mode 4754 root:messagebus)
        if got is None:
            fails.append(f"{b}: no report (preload refused → exec was privileged?)")
        elif (got["ruid"], got["euid"], got["suid"], got["secure"]) != ("1000",) * 3 + ("0",):
            fails.append(f"{b}: {got}")
    if len(bins) - len(noexec) < 3:
        fails.append(f"too few executable setuid binaries exercised: {bins} minus {noexec}")
    su = env.cmd(env.sid, "su -c 'id -u' root </dev/null 2>&1; echo rc=$?")
    if "rc=0" in su["stdout"] or re.search(r"^0$", su["stdout"], re.M):
        fails.append(f"su -c id: {su['stdout']}")
    return (f"{len(bins) - len(noexec)} setuid files run: all euid=1000 AT_SECURE=0 "
            f"({len(noexec)} not executable); su rc≠0"), fails


# --------------------------------------------------------------------------
# secrets and host data

@probe("read /etc/shadow, gshadow, sudoers, /root", "ENOENT")
def _(env):
    res = fs_probe(env, "secrets")
    keys, fails = check(res, {"ENOENT"}, ".*", 6)
    return summary(res), fails


@probe("the daemon's data folder (and /work)", "ENOENT")
def _(env):
    res = fs_probe(env, "data_dir", env.d.data_dir)
    keys, fails = check(res, {"ENOENT"}, "stat /(?!proc).*", 5)
    k2, f2 = check(res, {"ENOENT", "EACCES"}, "stat /proc/1/root.*", 1)
    return summary(res), fails + f2


@probe("/proc/1/environ and cmdline of kiln-init", "EACCES (own environ readable)")
def _(env):
    res = fs_probe(env, "proc1_environ")
    keys, fails = check(res, {"EACCES"}, "read /proc/1/environ", 1)
    if outcome(res["read /proc/self/environ"]) != "OK":
        fails.append("control: own environ unreadable")
    return f"environ {res['read /proc/1/environ']}, cmdline {outcome(res['read /proc/1/cmdline'])}", \
        fails


@probe("daemon environ: /proc/<kilnd pid>/environ, kill",
       "ENOENT / ESRCH (outside the pid namespace)")
def _(env):
    res = fs_probe(env, "daemon_environ", env.d.proc.pid, os.getpid())
    k1, f1 = check(res, {"ENOENT"}, "read .*", 2)
    k2, f2 = check(res, {"ESRCH"}, "kill.*", 2)
    return summary(res), f1 + f2


# --------------------------------------------------------------------------
# filesystem

@probe("writes to ro /usr /etc / /opt/kiln /skills", "EROFS (or EACCES)")
def _(env):
    res = fs_probe(env, "readonly")
    keys, fails = check(res, {"EROFS", "EACCES", "EPERM"}, "(create|mkdir|symlink|open_w|chmod|"
                                                           "utime|rename|unlink) .*", 40)
    k2, f2 = check(res, {"RO"}, "mount_ro .*", 6)
    return summary(res, keys) + "; mountinfo: all ro", fails + f2


@probe("/dev: only safe devices; no kvm, mem, tty", "ENOENT for the rest")
def _(env):
    res = fs_probe(env, "dev")
    fails = []
    if res["unexpected /dev entries"] != "none":
        fails.append(f"unexpected /dev entries: {res['unexpected /dev entries']}")
    fails += [f"{k}" for k in res if k.startswith("block device")]
    k1, f1 = check(res, {"ENOENT"}, "open /dev/.*", 21)
    if outcome(res["read /dev/zero (control)"]) != "OK":
        fails.append("control: /dev/zero unreadable")
    return "only null,zero,full,random,urandom,fd,std*,shm; " + summary(res, k1), fails + f1


# /dev belongs to kiln-init's uid, not the user's: a node there fails on the
# folder's permissions (EACCES) before the missing CAP_MKNOD (EPERM).
@probe("mknod char/block devices", "EPERM/EACCES")
def _(env):
    return simple(env, ["mknod"], {"EPERM", "EACCES"}, ".*", 5)


@probe("write sysrq-trigger, core_pattern, uid_map",
       "EACCES/ENOENT/EPERM; host value unchanged")
def _(env):
    res = fs_probe(env, "proc_writes")
    keys, fails = check(res, {"EACCES", "ENOENT", "EPERM", "EROFS"}, "(open_w|write) .*", 8)
    # Own uid_map: the owner may open it, but the map is already set: the write fails.
    again = fs_probe(env, "proc_writes")  # nothing changed in between
    if again["core_pattern value"] != res["core_pattern value"]:
        fails.append("core_pattern changed between runs")
    return summary(res, keys), fails


@probe("cgroup release_agent: mount cgroup v1/v2, sysfs", "ENOENT; EPERM")
def _(env):
    res = c_probe(env, "cgroup_mount")
    k1, f1 = check(res, {"EPERM"}, "(mount|fsopen)_.*", 5)
    k2, f2 = check(res, {"ENOENT"}, "(stat|open)_.*", 2)
    fsr = fs_probe(env, "cgroup")
    k3, f3 = check(fsr, {"ENOENT"}, "(stat|open_w) .*", 6)
    if fsr["cgroup mounts in mountinfo"] != "0":
        f3.append("a cgroup filesystem is mounted")
    return summary(res) + f"; {summary(fsr, k3)}", f1 + f2 + f3


@probe("/proc/self/fd of a command: no host fd", "only /dev/null and pipes")
def _(env):
    res = c_probe(env, "fds")
    bad = {k: v for k, v in res.items()
           if not re.fullmatch(r"(chr /dev/null|fifo pipe:\[\d+\]|sock socket:\[\d+\])", v)}
    return ", ".join(f"{k}:{v.split()[0]}" for k, v in res.items()), \
        [f"unexpected fds: {bad}"] if bad else []


@probe("/proc/self/fd of the Python and bash runners",
       "pipes, sockets, /dev/null only")
def _(env):
    res = env.d.execute(env.sid, """
import os
fds = {}
for f in os.listdir('/proc/self/fd'):
    try:
        fds[f] = os.readlink('/proc/self/fd/' + f)
    except OSError:
        pass   # the listing's own, already closed
fds""")
    fds = eval(res["results"][0]["text"])  # a dict literal of strings
    b = env.d.execute(env.sid, "for f in /proc/$$/fd/*; do echo \"${f##*/} $(readlink $f)\"; done",
                      context_id=env.bash_ctx)
    bfds = dict(l.split(" ", 1) for l in "".join(b["logs"]["stdout"]).splitlines() if " " in l)
    ok = re.compile(r"pipe:\[\d+\]|socket:\[\d+\]|anon_inode:.*|/dev/(null|urandom)|/proc/\d+/fd")
    bad = {f"py fd{k}": v for k, v in fds.items() if not ok.fullmatch(v)}
    bad.update({f"bash fd{k}": v for k, v in bfds.items() if not ok.fullmatch(v)})
    kinds = sorted(set(re.sub(r"[:\[].*", "", v) for v in list(fds.values()) + list(bfds.values())))
    if not fds or not bfds:
        bad["listing"] = f"empty: {fds} {bfds}"
    return f"python {len(fds)} + bash {len(bfds)} fds: {','.join(kinds)}", \
        [f"unexpected fds: {bad}"] if bad else []


# --------------------------------------------------------------------------
# network (Python runner)

def net(env):
    if not hasattr(env, "_net"):
        code = (f"ns = {{'__name__': 'net_probe'}}\n"
                f"exec(open('/tmp/probes/net_probe.py').read(), ns)\n"
                f"net_probe = ns['net_probe']\n"
                f"import json; print(json.dumps(net_probe({env.d.port}, {env.servers.port}, "
                f"{env.servers.udp_port})))")
        res = env.d.execute(env.sid, code, timeout_s=60)
        assert res["error"] is None, res["error"]
        env._net = json.loads("".join(res["logs"]["stdout"]).strip().splitlines()[-1])
        time.sleep(0.3)  # let any stray connection reach the host servers
    return env._net


@probe("net: interfaces and routes (/proc/net, /sys)", "only lo; 0 routes")
def _(env):
    n = net(env)
    fails = []
    if n["interfaces"] != "lo":
        fails.append(f"interfaces: {n['interfaces']}")
    for k in ("ipv4 routes", "ipv6 routes not on lo", "ipv6 addrs not on lo"):
        if n[k] != "0":
            fails.append(f"{k}: {n[k]}")
    if n["stat /sys/class/net"] != "ENOENT":
        fails.append("/sys/class/net visible")
    return f"ifaces={n['interfaces']}, v4 routes={n['ipv4 routes']}, " \
           f"v6 off-lo={n['ipv6 routes not on lo']}", fails


@probe("net: connect to the daemon's port (v4 + v6)", "ECONNREFUSED")
def _(env):
    n = net(env)
    keys, fails = check(n, {"ECONNREFUSED", "ENETUNREACH", "EADDRNOTAVAIL"}, "tcp .*daemon", 2)
    return summary(n, keys), fails


@probe("net: connect to host loopback TCP server", "ECONNREFUSED; server sees 0")
def _(env):
    n = net(env)
    keys, fails = check(n, {"ECONNREFUSED", "ENETUNREACH", "EADDRNOTAVAIL"}, "tcp .*host-server",
                        2)
    if n["own loopback (control)"] != "CONNECTED":
        fails.append("control: sandbox's own loopback does not work")
    return summary(n, keys) + f"; server hits={env.servers.tcp_hits}", fails + (
        [f"host TCP server hits={env.servers.tcp_hits}"] if env.servers.tcp_hits else [])


@probe("net: UDP to a host loopback UDP server", "not delivered; server sees 0")
def _(env):
    n = net(env)
    v = n["udp 127.0.0.1:host-server reply"]
    fails = [] if v in ("ECONNREFUSED", "TimeoutError") else [f"udp: {v}"]
    if env.servers.udp_hits:
        fails.append(f"host UDP server hits={env.servers.udp_hits}")
    return f"{v}; server hits={env.servers.udp_hits}", fails


@probe("net: name resolution (example.com)", "fails; no nameserver")
def _(env):
    n = net(env)
    fails = [] if n["resolve example.com"] == "gaierror" else [n["resolve example.com"]]
    if n["resolv.conf nameservers"] != "none":
        fails.append(f"nameservers: {n['resolv.conf nameservers']}")
    return f"{n['resolve example.com']}; nameservers={n['resolv.conf nameservers']}", fails


@probe("net: ip link / ip route (netlink)", "Cannot open netlink socket: EPERM")
def _(env):
    r = env.cmd(env.sid, "ip -o link show 2>&1; ip route show 2>&1; ip -6 route 2>&1; true")
    text = r["stdout"]
    fails = []
    if any(w in text for w in ("eth", "veth", "default", "wlan", "ens")):
        fails.append(text)
    if text.count("Operation not permitted") < 3:
        fails.append(f"not EPERM: {text}")
    return "EPERM×3", fails


# --------------------------------------------------------------------------
# the same network and filesystem probes from a bash context

def bash_ctx(env, script, **vars):
    pre = "".join(f"{k}={shlex.quote(str(v))}; " for k, v in vars.items())
    res = env.d.execute(env.sid, f"{pre}source /tmp/probes/{script}", context_id=env.bash_ctx,
                        timeout_s=60)
    assert res["error"] is None, res
    return parse_lines("".join(res["logs"]["stdout"]))


@probe("bash ctx: net (ifaces, /dev/tcp, DNS)",
       "lo only; ECONNREFUSED; no resolve")
def _(env):
    res = bash_ctx(env, "bash_net.sh", DAEMON_PORT=env.d.port, SERVER_PORT=env.servers.port)
    fails = []
    want = {"interfaces": "lo,", "ipv4_routes": "0", "ipv6_routes_not_lo": "0",
            "ip_link": "EPERM", "ip_route": "EPERM", "resolve": "NOTFOUND",
            "resolve_localhost_control": "OK"}
    for k, v in want.items():
        if res.get(k) != v:
            fails.append(f"{k}={res.get(k)} (want {v})")
    k2, f2 = check(res, {"ECONNREFUSED", "ENETUNREACH"}, "tcp.*", 3)
    time.sleep(0.2)
    if env.servers.tcp_hits:
        f2.append(f"host TCP server hits={env.servers.tcp_hits}")
    return f"ifaces={res.get('interfaces')} routes={res.get('ipv4_routes')} " \
           f"{summary(res, k2)} resolve={res.get('resolve')}", fails + f2


@probe("bash ctx: fs (ro, shadow, data dir, mknod …)",
       "EROFS/EACCES/ENOENT/EPERM")
def _(env):
    res = bash_ctx(env, "bash_fs.sh", DATA_DIR=env.d.data_dir)
    fails = []
    k1, f1 = check(res, {"EROFS", "EACCES"}, "(touch|mkdir)_/.*", 10)
    rules = {"append_etc_passwd": {"EROFS", "EACCES"}, "cp_over_kiln_init": {"EROFS", "EACCES"},
             "cat_etc_shadow": {"ENOENT"}, "ls_data_dir": {"ENOENT"},
             "cat_proc1_environ": {"EACCES"}, "ls_proc1_fd": {"EACCES"},
             "ls_dev_kvm": {"ENOENT"}, "mknod_tmp_mem": {"EPERM"}, "mknod_dev_sda": {"EPERM", "EACCES"},
             "write_core_pattern": {"EACCES", "EROFS", "EPERM"},
             # util-linux mount refuses a non-root caller before the syscall (the
             # syscall itself is the C probe's "mount" row).
             "mount_tmpfs": {"EPERM", "NOTROOT"},
             "unshare_user": {"EPERM"}}
    for k, allowed in rules.items():
        if res.get(k) not in allowed:
            fails.append(f"{k}={res.get(k)} (want {'/'.join(sorted(allowed))})")
    if res.get("touch_tmp_control") != "OK":
        fails.append("control: /tmp not writable")
    devs = set(filter(None, res.get("dev_entries", "").split(",")))
    if not devs or devs - {"null", "zero", "full", "random", "urandom", "fd", "stdin", "stdout",
                           "stderr", "shm"}:
        fails.append(f"/dev: {devs}")
    keys = list(k1) + list(rules)
    return summary(res, keys), fails + f1


# --------------------------------------------------------------------------
# persistence between sandboxes

def persist(env):
    """A plants objects; B (alive at the same time), then C1 and C2 (created after A
    was deleted; C2 certainly built after the deletion) look for them."""
    if env._persist is not None:
        return env._persist
    d = env.d
    tok = "%07x" % (0x1000000 + secrets.randbelow(0xEFFFFFF))
    a = env.new_sandbox()
    env.prepare(a)
    r = env.cmd(a, f"for f in /tmp /dev/shm /home/user /var/tmp; do echo {tok} > $f/kiln-sec-{tok}; "
                   f"done; /tmp/escape plant_ipc {tok}")
    planted = parse_lines(r["stdout"])
    for cmd in (f"flock /tmp/kiln-sec-{tok}.lock sleep 600",
                f"python3 -c \"import fcntl,time; f=open('/dev/shm/kiln-sec-{tok}.lock','w'); "
                f"fcntl.lockf(f, fcntl.LOCK_EX); time.sleep(600)\"",
                f"python3 -c \"import socket,time; s=socket.socket(socket.AF_UNIX); "
                f"s.bind(b'\\0kiln-sec-{tok}'); s.listen(); time.sleep(600)\""):
        rr = d.post(f"/v1/sandboxes/{a}/commands", {"cmd": cmd, "background": True})
        assert rr.status_code == 201, rr.text
    look = f"sh /tmp/probes/persist_look.sh {tok}"
    deadline = time.time() + 5
    while True:  # wait for the background holders to be in place
        seen_a = parse_lines(env.cmd(a, look)["stdout"])
        if (seen_a.get("abstract_socket") == "CONNECTED" and int(seen_a.get("proc_locks", 0)) >= 2) \
                or time.time() > deadline:
            break
        time.sleep(0.1)
    b = env.new_sandbox()
    env.prepare(b)
    seen_b = parse_lines(env.cmd(b, look)["stdout"])
    r = d.delete(f"/v1/sandboxes/{a}")
    assert r.status_code == 204, r.text
    env.sandboxes.remove(a)
    c1 = env.new_sandbox()
    c2 = env.new_sandbox()
    seen_c = {}
    for name, sid in (("C1", c1), ("C2", c2)):
        env.prepare(sid)
        seen_c[name] = parse_lines(env.cmd(sid, look)["stdout"])
    env._persist = {"tok": tok, "planted": planted, "A": seen_a, "B": seen_b, **seen_c}
    return env._persist


def persist_check(env, keys, a_wants, others_want):
    """A (positive control) sees a_wants; B, C1, C2 see others_want, for each key."""
    p = persist(env)
    fails = []
    for k in keys:
        if a_wants is not None and outcome(p["A"].get(k, "missing")) not in a_wants:
            fails.append(f"control: A's own {k}={p['A'].get(k)}")
        for who in ("B", "C1", "C2"):
            if outcome(p[who].get(k, "missing")) not in others_want:
                fails.append(f"{who} {k}={p[who].get(k)}")
    obs = "; ".join(f"{who}: {summary(p[who], keys)}" for who in ("A", "B", "C1", "C2"))
    return obs, fails


@probe("persist: /tmp file (A → B; → C after A gone)", "B, C1, C2: ENOENT")
def _(env):
    tok = persist(env)["tok"]
    return persist_check(env, [f"file:/tmp/kiln-sec-{tok}"], {"OK"}, {"ENOENT"})


@probe("persist: /dev/shm file", "B, C1, C2: ENOENT")
def _(env):
    tok = persist(env)["tok"]
    return persist_check(env, [f"file:/dev/shm/kiln-sec-{tok}"], {"OK"}, {"ENOENT"})


@probe("persist: /home/user file", "B, C1, C2: ENOENT")
def _(env):
    tok = persist(env)["tok"]
    return persist_check(env, [f"file:/home/user/kiln-sec-{tok}"], {"OK"}, {"ENOENT"})


@probe("persist: SysV IPC shm/msg/sem by key", "B, C1, C2: ENOENT")
def _(env):
    p = persist(env)
    obs, fails = persist_check(env, ["look_shm", "look_msg", "look_sem"], {"OK"}, {"ENOENT"})
    for who in ("B", "C1", "C2"):
        if p[who].get("ipcs_token") != "0":
            fails.append(f"{who} ipcs lists the key")
    return obs, fails


@probe("persist: POSIX message queue", "B, C1, C2: ENOENT")
def _(env):
    return persist_check(env, ["look_mq"], {"OK"}, {"ENOENT"})


@probe("persist: keyrings (add_key in A, search in B/C)", "A: EPERM; B, C1, C2: EPERM, none listed")
def _(env):
    p = persist(env)
    fails = []
    if p["planted"].get("plant_add_key") != "EPERM":
        fails.append(f"A add_key: {p['planted'].get('plant_add_key')}")
    obs, f2 = persist_check(env, ["look_key", "look_keyctl_search"], None, {"EPERM", "ENOKEY"})
    for who in ("B", "C1", "C2"):
        if p[who].get("proc_keys_token") not in ("0", None):
            fails.append(f"{who} /proc/keys lists the key")
    return f"A add_key {p['planted'].get('plant_add_key')}; " + obs, fails + f2


@probe("persist: file locks (flock + lockf held in A)", "B, C1, C2: no locks, same path free")
def _(env):
    p = persist(env)
    fails = []
    if int(p["A"].get("proc_locks", 0)) < 2 or p["A"].get("flock_same_path") != "HELD":
        fails.append(f"control: A's locks not visible to A: {p['A']}")
    for who in ("B", "C1", "C2"):
        if p[who].get("proc_locks") != "0":
            fails.append(f"{who} /proc/locks has {p[who].get('proc_locks')} entries")
        if p[who].get("flock_same_path") != "FREE":
            fails.append(f"{who} same path is locked")
    return "A: locks={} HELD; ".format(p["A"].get("proc_locks")) + "; ".join(
        f"{w}: locks={p[w].get('proc_locks')} {p[w].get('flock_same_path')}"
        for w in ("B", "C1", "C2")), fails


@probe("persist: abstract unix socket", "B, C1, C2: ECONNREFUSED")
def _(env):
    return persist_check(env, ["abstract_socket"], {"CONNECTED"}, {"ECONNREFUSED"})


# --------------------------------------------------------------------------
# trust boundaries inside the sandbox: kiln-init, the runner socket, the
# files API, per-user kernel budgets (found by independent testing)

def py(env, sid, code, **kw):
    return env.d.execute(sid, code, **kw)


def kilnd_rss_kib(env):
    """(current RSS, peak RSS) of kilnd in KiB."""
    status = read_text(f"/proc/{env.d.proc.pid}/status")
    get = lambda k: int(re.search(rf"^{k}:\s+(\d+)", status, re.M).group(1))
    return get("VmRSS"), get("VmHWM")


def attacker_alive(env):
    res = py(env, env.sid, "1 + 1")
    ok = res["error"] is None and res["results"] and res["results"][0]["text"] == "2"
    return [] if ok else [f"the attacker's own sandbox stopped answering: {res}"]


@probe("runner socket: result nested 150,000 deep (after prlimit STACK)",
       "prlimit EPERM; ResultError; kilnd, kiln-init alive")
def _(env):
    code = ("import os, resource\n"
            "try:\n"
            "    resource.prlimit(1, resource.RLIMIT_STACK, (1 << 30, 1 << 30)); p = 'OK'\n"
            "except OSError as e:\n"
            "    p = 'EPERM' if e.errno == 1 else str(e)\n"
            "d = 150000\n"
            "os.write(3, ('{\"type\":\"result\",\"json\":' + '[' * d + ']' * d + '}\\n').encode())\n"
            "p")
    res = py(env, env.sid, code)
    fails = []
    err = res.get("error") or {}
    prl = res["results"][0]["text"] if res.get("results") else None
    if prl != "'EPERM'":
        fails.append(f"prlimit(1, RLIMIT_STACK) was not refused: {prl}")
    if err.get("name") != "ResultError" or "deeper than" not in err.get("value", ""):
        fails.append(f"no clear error for the run: {err}")
    fails += attacker_alive(env)
    return f"prlimit {prl}; error {err.get('name')}: {err.get('value', '')[:60]}", fails


@probe("runner socket: 20 MiB line, bad types, unknown type, bad UTF-8",
       "each refused; the run ends; the context survives")
def _(env):
    code = ("import os\n"
            "big = b'{\"type\":\"result\",\"text\":\"' + b'x' * (20 << 20) + b'\"}\\n'\n"
            "for chunk in range(0, len(big), 1 << 20): os.write(3, big[chunk:chunk + (1 << 20)])\n"
            "os.write(3, b'{\"type\":\"done\",\"execution_count\":\"seven\"}\\n')\n"
            "os.write(3, b'{\"type\":[1,2]}\\n{\"type\":\"launch\"}\\n\\xff\\xfe{\\n')\n"
            "os.write(3, b'{\"type\":\"error\",\"name\":{\"a\":1},\"line\":\"x\"}\\n')\n"
            "'after'")
    res = py(env, env.sid, code, timeout_s=60)
    fails = []
    if res.get("error") is None:
        fails.append(f"no error reported for the refused messages: {res}")
    notices = "".join(res["logs"]["stderr"])
    if "dropped" not in notices:
        fails.append(f"no notice of what was dropped: {notices[:200]}")
    fails += attacker_alive(env)
    return f"{(res.get('error') or {}).get('name')}; {notices.strip()[:70]}", fails


@probe("kiln-init (PID 1): prlimit ×8, kill ×3, /proc/1/maps|environ|fd",
       "EPERM / EACCES; its limits unchanged")
def _(env):
    code = ("import os, resource, signal\n"
            "out = {}\n"
            "for n in ('STACK','NOFILE','CPU','AS','FSIZE','NPROC','MEMLOCK','CORE'):\n"
            "    r = getattr(resource, 'RLIMIT_' + n)\n"
            "    try:\n"
            "        resource.prlimit(1, r, (1, 1)); out['prlimit_' + n] = 'OK'\n"
            "    except OSError as e: out['prlimit_' + n] = os.strerror(e.errno)\n"
            "for s in (signal.SIGKILL, signal.SIGSTOP, signal.SIGTERM):\n"
            "    try:\n"
            "        os.kill(1, s); out['kill_' + s.name] = 'OK'\n"
            "    except OSError as e: out['kill_' + s.name] = os.strerror(e.errno)\n"
            "for f in ('maps', 'environ', 'fd'):\n"
            "    try:\n"
            "        (os.listdir if f == 'fd' else lambda p: open(p).read())('/proc/1/' + f)\n"
            "        out['read_' + f] = 'OK'\n"
            "    except OSError as e: out['read_' + f] = os.strerror(e.errno)\n"
            "out")
    before = env.cmd(env.sid, "cat /proc/1/limits")["stdout"]
    res = py(env, env.sid, code)
    after = env.cmd(env.sid, "cat /proc/1/limits")["stdout"]
    got = eval(res["results"][0]["text"]) if res.get("results") else {}
    fails = [f"{k}={v}" for k, v in got.items()
             if v not in ("Operation not permitted", "Permission denied")]
    if len(got) != 14:
        fails.append(f"only {len(got)} attempts ran: {res}")
    if before != after or "Max open files" not in after:
        fails.append("kiln-init's limits changed")
    ids = env.cmd(env.sid, "ps -o uid= -p 1; id -u")["stdout"].split()
    if len(ids) != 2 or ids[0] == ids[1]:
        fails.append(f"kiln-init shares the user's uid: {ids}")
    c = Counter(got.values())
    return ", ".join(f"{k}×{n}" for k, n in c.items()) + f"; uids init={ids[:1]} user={ids[1:]}", \
        fails + attacker_alive(env)


@probe("files API: /proc/1/maps, /proc/self/*, planted links, PUT /proc",
       "400, nothing of kiln-init's read or written")
def _(env):
    d, sid = env.d, env.sid
    env.cmd(sid, "ln -sf /proc/self/maps /home/user/m1; ln -sfn /proc/self /home/user/p1; "
                 "ln -sfn /proc/1 /home/user/p2; ln -sf /sys/kernel/mm /home/user/s1")
    targets = ["/proc/1/maps", "/proc/self/maps", "/proc/self/fdinfo/3", "/proc/self/environ",
               "/home/user/m1", "/home/user/p1/maps", "/home/user/p2/maps", "/sys/kernel/mm",
               "/home/user/s1", "/dev/full"]
    codes = {}
    fails = []
    for t in targets:
        r = d.get(f"/v1/sandboxes/{sid}/files/content", params={"path": t})
        codes[t] = r.status_code
        if r.status_code == 200 or b"kiln-init" in r.content or b"r-xp" in r.content:
            fails.append(f"GET {t} -> {r.status_code} {r.content[:80]!r}")
    for t in ["/proc/self/timerslack_ns", "/home/user/p1/timerslack_ns", "/proc/1/comm"]:
        r = d.req("PUT", f"/v1/sandboxes/{sid}/files/content", params={"path": t}, data=b"1")
        codes["PUT " + t] = r.status_code
        if r.status_code < 400:
            fails.append(f"PUT {t} -> {r.status_code}")
    r = d.get(f"/v1/sandboxes/{sid}/files", params={"path": "/proc/1"})
    codes["LIST /proc/1"] = r.status_code
    if r.status_code == 200:
        fails.append("listing /proc/1 answered 200")
    # Control: the user's own files still work through the same API.
    if d.req("PUT", f"/v1/sandboxes/{sid}/files/content", params={"path": "/dev/shm/ok"},
             data=b"x").status_code != 201:
        fails.append("control: /dev/shm write refused")
    c = Counter(codes.values())
    return ", ".join(f"{k}×{n}" for k, n in c.items()), fails + attacker_alive(env)


HOG = r"""
import ctypes, os, signal, sys, time
libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
out = {}
n = 0
while n < 64 and libc.mq_open(f"/hog{os.getpid()}_{n}".encode(), os.O_CREAT | os.O_RDWR,
                              0o600, None) >= 0:
    n += 1
out["mq"] = n
n = 0
while n < 4096 and libc.inotify_init1(0) >= 0:
    n += 1
out["inotify"] = n
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGRTMIN])
class SigVal(ctypes.Union):
    _fields_ = [("i", ctypes.c_int), ("p", ctypes.c_void_p)]
n = 0
while n < 200000 and libc.sigqueue(os.getpid(), signal.SIGRTMIN, SigVal(0)) == 0:
    n += 1
out["sigqueue"] = n
print(out, flush=True)
if len(sys.argv) > 1:
    time.sleep(600)
"""

CAN = r"""
import ctypes, os, signal
libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
name = f"/can{os.getpid()}".encode()
fd = libc.mq_open(name, os.O_CREAT | os.O_RDWR, 0o600, None)
mq = "OK" if fd >= 0 else os.strerror(ctypes.get_errno())
if fd >= 0:
    libc.mq_unlink(name)
i = libc.inotify_init1(0)
ino = "OK" if i >= 0 else os.strerror(ctypes.get_errno())
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGRTMIN + 1])
class SigVal(ctypes.Union):
    _fields_ = [("i", ctypes.c_int), ("p", ctypes.c_void_p)]
sq = "OK" if libc.sigqueue(os.getpid(), signal.SIGRTMIN + 1, SigVal(0)) == 0 \
    else os.strerror(ctypes.get_errno())
print(f"mq={mq} inotify={ino} sigqueue={sq}")
"""


@probe("per-user budgets: A spends mq, inotify, sigqueue; B and host still can",
       "A capped; B and host root: OK×3")
def _(env):
    d, sid = env.d, env.sid
    d.put_file(sid, "/tmp/hog.py", HOG.encode())
    d.put_file(env.neighbour, "/tmp/can.py", CAN.encode())
    import subprocess

    def host_can():
        with open("/tmp/kiln-sec-can.py", "w") as f:
            f.write(CAN)
        try:
            return subprocess.run(["python3", "/tmp/kiln-sec-can.py"], capture_output=True,
                                  text=True, timeout=30).stdout.strip()
        finally:
            os.unlink("/tmp/kiln-sec-can.py")

    # Control: root on the host has room before the attack.
    before = host_can()
    if before != "mq=OK inotify=OK sigqueue=OK":
        return f"host already short before the attack: {before}", [f"control failed: {before}"]
    r = d.post(f"/v1/sandboxes/{sid}/commands",
               {"cmd": "python3 /tmp/hog.py hold", "background": True})
    assert r.status_code == 201, r.text
    pid = r.json()["pid"]
    fails = []
    spent = ""
    deadline = time.time() + 30
    while time.time() < deadline and not spent:
        spent = d.get(f"/v1/sandboxes/{sid}/commands/{pid}").json().get("stdout", "").strip()
        time.sleep(0.2)
    try:
        if not spent:
            fails.append("control: the hog did not finish spending")
        neighbour = env.cmd(env.neighbour, "python3 /tmp/can.py")["stdout"].strip()
        host = host_can()
        for who, line in (("neighbour", neighbour), ("host", host)):
            if line != "mq=OK inotify=OK sigqueue=OK":
                fails.append(f"{who} affected: {line!r}")
    finally:
        d.post(f"/v1/sandboxes/{sid}/commands/{pid}/kill")
    return f"A spent {spent}; neighbour+host OK", fails


INOTIFY_WATCH = r"""
import ctypes, os, select, sys, time
libc = ctypes.CDLL("libc.so.6", use_errno=True)
fd = libc.inotify_init1(os.O_NONBLOCK)
IN_ACCESS, IN_OPEN = 0x1, 0x20
for d in sys.argv[1:]:
    assert libc.inotify_add_watch(fd, d.encode(), IN_ACCESS | IN_OPEN) >= 0, d
open("/tmp/watching", "w").close()
seen = 0
end = time.time() + float(os.environ.get("WATCH_S", "4"))
while time.time() < end:
    if select.select([fd], [], [], 0.1)[0]:
        seen += len(os.read(fd, 65536))
    if os.path.exists("/tmp/selftest"):
        os.unlink("/tmp/selftest")
        open(sys.argv[1] + "/decoder.py").read()  # control: our own open is seen
        time.sleep(0.2)
        while select.select([fd], [], [], 0.1)[0]:
            print("control", len(os.read(fd, 65536)), flush=True)
print("seen", seen, flush=True)
"""


@probe("inotify on shared read-only folders (/usr, /etc, runners)",
       "no event from the host or a neighbour; own opens seen")
def _(env):
    d, sid = env.d, env.sid
    d.put_file(sid, "/tmp/watch.py", INOTIFY_WATCH.encode())
    dirs = "/usr/lib/python3.11/json /etc/ssl /opt/kiln/runtimes/python"
    r = d.post(f"/v1/sandboxes/{sid}/commands",
               {"cmd": f"WATCH_S=5 python3 /tmp/watch.py {dirs}", "background": True})
    assert r.status_code == 201, r.text
    pid = r.json()["pid"]
    deadline = time.time() + 10
    while time.time() < deadline and env.cmd(sid, "test -e /tmp/watching")["exit_code"] != 0:
        time.sleep(0.1)
    # Others open files in the watched folders: the neighbour and the host.
    env.cmd(env.neighbour, "cat /usr/lib/python3.11/json/decoder.py /etc/ssl/openssl.cnf "
                           "/opt/kiln/runtimes/python/runner.py > /dev/null")
    for path in ("/usr/lib/python3.11/json/decoder.py", "/etc/ssl/openssl.cnf"):
        with open(path, "rb") as f:
            f.read()
    time.sleep(1)
    env.cmd(sid, "touch /tmp/selftest")
    out = ""
    deadline = time.time() + 15
    while time.time() < deadline and "seen" not in out:
        out = d.get(f"/v1/sandboxes/{sid}/commands/{pid}").json().get("stdout", "")
        time.sleep(0.3)
    fails = []
    seen = re.search(r"seen (\d+)", out)
    if not seen:
        fails.append(f"watcher did not report: {out!r}")
    elif int(seen.group(1)) != 0:
        fails.append(f"the watcher saw others' opens ({seen.group(1)} bytes of events)")
    if "control" not in out:
        fails.append(f"control: the watcher did not see its own open: {out!r}")
    return out.strip().replace("\n", "; "), fails


@probe("results: 60 × display(4 MiB) in a 128 MiB sandbox", "capped with a notice; kilnd RSS bounded")
def _(env):
    d = env.d
    sid = d.create_sandbox(limits={"memory_mb": 128})
    env.sandboxes.append(sid)
    rss0, peak0 = kilnd_rss_kib(env)
    r = d.post(f"/v1/sandboxes/{sid}/execute",
               {"code": "s = 'x' * (4 << 20)\nfor _ in range(60):\n    display(s)\n'done'"})
    size = len(r.content)
    rss1, peak1 = kilnd_rss_kib(env)
    fails = []
    body = r.json() if r.status_code == 200 else {}
    notice = "".join(body.get("logs", {}).get("stderr", []))
    if r.status_code != 200:
        fails.append(f"status {r.status_code}")
    if size > 24 << 20:
        fails.append(f"response is {size >> 20} MiB (cap 16 MiB of results)")
    if "dropped" not in notice:
        fails.append(f"no notice of the dropped results: {notice[:100]!r}")
    grew = (peak1 - peak0) >> 10
    if grew > 160:
        fails.append(f"kilnd peak RSS grew by {grew} MiB")
    return (f"response {size >> 20} MiB, {len(body.get('results', []))} results kept; kilnd peak "
            f"+{grew} MiB"), fails


# --------------------------------------------------------------------------
# the test

@pytest.mark.parametrize("name", list(PROBES))
def test_escape(env, name):
    expected, fn = PROBES[name]
    try:
        observed, fails = fn(env)
    except Exception as e:  # a broken probe is a failure, never a silent pass
        observed, fails = f"probe error: {type(e).__name__}: {e}"[:200], [repr(e)]
    effects = env.problems()
    verdict_ok = not fails and not effects
    shown = observed if not effects else f"{observed}; EFFECT: {'; '.join(effects)}"
    record(name, expected, shown, verdict_ok)
    assert not fails, f"{name}: NOT blocked as expected ({expected}). Observed: {observed}. " \
                      f"Details: {fails}"
    assert not effects, f"{name}: effect outside the sandbox: {effects}"


def test_probe_count():
    assert len(PROBES) >= 40, len(PROBES)
