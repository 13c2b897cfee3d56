"""Isolation: what code inside a sandbox can see and do, and what it cannot.

Every attack test checks two things: the attack was blocked, and neither the
host (a marker file the test owns) nor a neighbour sandbox (state held in a
live Python context and in its files) was affected.

Network tests only ever talk to loopback addresses.
"""
import json
import os
import secrets
import socket
import threading
import time

import pytest

from helpers import out

HOST_PASSWD = open("/etc/passwd").read()
HOST_ROOT_LINE = next(l for l in HOST_PASSWD.splitlines() if l.startswith("root:"))


# --------------------------------------------------------------------------
# helpers and fixtures

def py(d, sid, code, **kw):
    """Runs code, asserts it did not raise, returns stdout."""
    res = d.execute(sid, code, **kw)
    assert res["error"] is None, res["error"]
    return out(res)


def py_json(d, sid, code):
    """Runs code whose last stdout line is JSON; returns it parsed."""
    return json.loads(py(d, sid, code).strip().splitlines()[-1])


def sh(d, sid, cmd, **kw):
    return d.run(sid, cmd, **kw)


def files_get(d, sid, path):
    return d.get(f"/v1/sandboxes/{sid}/files/content", params={"path": path})


def files_put(d, sid, path, data):
    return d.req("PUT", f"/v1/sandboxes/{sid}/files/content", params={"path": path}, data=data)


def host_procs_by_cmdline(needle):
    """Host pids whose command line is exactly needle, with their /proc status."""
    found = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            if cmd.strip() != needle:
                continue
            with open(f"/proc/{p}/status") as f:
                status = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        except (FileNotFoundError, ProcessLookupError):
            continue
        found[int(p)] = {k: v.strip() for k, v in status.items()}
    return found


def wait_for(pred, timeout=5.0, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


@pytest.fixture
def new_sandbox(kilnd):
    made = []

    def make(**body):
        sb = kilnd.create_sandbox(**body)
        made.append(sb["id"])
        return sb["id"]

    yield make
    for sid in made:
        kilnd.delete(f"/v1/sandboxes/{sid}")


@pytest.fixture
def host_marker():
    """A file on the HOST that no sandbox may read or change."""
    path = f"/tmp/kiln-host-marker-{secrets.token_hex(6)}"
    content = f"host-secret-{secrets.token_hex(8)}\n"
    with open(path, "w") as f:
        f.write(content)
    os.chmod(path, 0o666)  # even world-writable, the sandbox must not reach it
    st = os.stat(path)
    marker = {"path": path, "content": content, "mtime": st.st_mtime_ns, "ino": st.st_ino}
    yield marker
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def assert_host_marker_intact(m):
    assert os.path.exists(m["path"]), "host marker file was removed"
    st = os.stat(m["path"])
    with open(m["path"]) as f:
        assert f.read() == m["content"], "host marker file content changed"
    assert st.st_mtime_ns == m["mtime"], "host marker file was modified (mtime changed)"
    assert st.st_ino == m["ino"], "host marker file was replaced"


@pytest.fixture
def neighbour(kilnd):
    """A sandbox holding state in its Python context and its files."""
    sid = kilnd.create_sandbox()["id"]
    token = secrets.token_hex(8)
    py(kilnd, sid, f"neighbour_state = {token!r}\n"
                   f"open('/home/user/n.txt','w').write({token!r})\n"
                   f"open('/tmp/n.txt','w').write({token!r})")
    yield {"id": sid, "token": token}
    kilnd.delete(f"/v1/sandboxes/{sid}")


def assert_neighbour_intact(d, n):
    res = d.execute(n["id"], "1+1")
    assert res["error"] is None, res
    assert res["results"][0]["text"] == "2", res
    got = py(d, n["id"], "print(neighbour_state, open('/home/user/n.txt').read(), "
                         "open('/tmp/n.txt').read())")
    assert got.split() == [n["token"]] * 3, got


# --------------------------------------------------------------------------
# identity and privileges

def test_identity_uid_caps_nnp_seccomp(kilnd, new_sandbox):
    sid = new_sandbox()
    st = py_json(kilnd, sid, """
import os, json
s = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines() if ':' in l)
s = {k: v.strip() for k, v in s.items()}
print(json.dumps({'uid': os.getuid(), 'euid': os.geteuid(), 'gid': os.getgid(),
                  'groups': os.getgroups(), 'status': s}))
""")
    assert st["uid"] == st["euid"] == 1000
    assert st["gid"] == 1000
    assert 0 not in st["groups"], st["groups"]
    s = st["status"]
    assert s["Uid"].split() == ["1000"] * 4
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(s[cap], 16) == 0, (cap, s[cap])
    assert s["NoNewPrivs"] == "1"
    assert s["Seccomp"] == "2"
    # A shell command runs with the same identity.
    r = sh(kilnd, sid, "id -u; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status")
    assert r["exit_code"] == 0, r
    lines = r["stdout"].split("\n")
    assert lines[0] == "1000"
    assert "CapEff:\t0000000000000000" in r["stdout"]
    assert "NoNewPrivs:\t1" in r["stdout"] and "Seccomp:\t2" in r["stdout"]


def test_host_uid_mapping_unique_nonzero(kilnd, new_sandbox):
    a, b = new_sandbox(), new_sandbox()
    tag_a, tag_b = 900000 + secrets.randbelow(40000), 950000 + secrets.randbelow(40000)
    for sid, tag in ((a, tag_a), (b, tag_b)):
        r = kilnd.post(f"/v1/sandboxes/{sid}/commands", {"cmd": f"sleep {tag}", "background": True})
        assert r.status_code == 201, r.text
    pa = wait_for(lambda: host_procs_by_cmdline(f"sleep {tag_a}"))
    pb = wait_for(lambda: host_procs_by_cmdline(f"sleep {tag_b}"))
    assert len(pa) == 1 and len(pb) == 1, (pa, pb)
    (hpa, sa), = pa.items()
    (hpb, sb), = pb.items()
    uid_a, uid_b = set(sa["Uid"].split()), set(sb["Uid"].split())
    gid_a, gid_b = set(sa["Gid"].split()), set(sb["Gid"].split())
    assert len(uid_a) == 1 and len(uid_b) == 1, (sa["Uid"], sb["Uid"])
    ua, ub = int(uid_a.pop()), int(uid_b.pop())
    assert ua != 0 and ub != 0
    assert int(gid_a.pop()) != 0 and int(gid_b.pop()) != 0
    assert ua != ub, "two live sandboxes share a host uid"
    for u in (ua, ub):
        assert kilnd.uid_base <= u < kilnd.uid_base + 200, (u, kilnd.uid_base)
        assert u != os.getuid()
    # No capabilities, seen from the host too, and in its own namespaces.
    for hp, s in ((hpa, sa), (hpb, sb)):
        assert int(s["CapEff"], 16) == 0 and int(s["CapPrm"], 16) == 0, s
        for ns in ("pid", "net", "mnt", "user", "ipc", "uts", "cgroup"):
            assert os.readlink(f"/proc/{hp}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}"), ns
    # The two sandboxes do not share any namespace either.
    for ns in ("pid", "net", "mnt", "user", "ipc", "uts", "cgroup"):
        assert os.readlink(f"/proc/{hpa}/ns/{ns}") != os.readlink(f"/proc/{hpb}/ns/{ns}"), ns


def test_proc_shows_only_own_processes(kilnd, new_sandbox):
    sid = new_sandbox()
    info = py_json(kilnd, sid, """
import os, json
pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())
comms = {p: open(f'/proc/{p}/comm').read().strip() for p in pids if os.path.exists(f'/proc/{p}/comm')}
print(json.dumps({'pids': pids, 'comm1': comms.get(1), 'comms': list(comms.values()),
                  'self': os.getpid()}))
""")
    assert info["comm1"] == "kiln-init", info
    assert len(info["pids"]) <= 8, info
    assert max(info["pids"]) < 1000, info
    assert info["self"] < 100
    assert "kilnd" not in info["comms"] and "systemd" not in info["comms"], info
    # The host's daemon pid is not a process the sandbox can signal.
    r = sh(kilnd, sid, f"kill -0 {kilnd.proc.pid}; echo rc=$?")
    assert "rc=0" not in r["stdout"], r


def test_hostname_and_etc(kilnd, new_sandbox):
    sid = new_sandbox()
    info = py_json(kilnd, sid, f"""
import os, socket, json, ctypes
libc = ctypes.CDLL(None, use_errno=True)
rc = libc.sethostname(b'evil', 4); err = ctypes.get_errno()
print(json.dumps({{'h': socket.gethostname(), 'k': open('/proc/sys/kernel/hostname').read().strip(),
                  'shadow': os.path.exists('/etc/shadow'), 'gshadow': os.path.exists('/etc/gshadow'),
                  'sudoers': os.path.exists('/etc/sudoers'), 'root_home': os.path.exists('/root'),
                  'data_dir': os.path.exists({kilnd.data_dir!r}),
                  'mountinfo': open('/proc/self/mountinfo').read(),
                  'passwd': open('/etc/passwd').read(), 'set_rc': rc, 'set_err': err,
                  'h2': socket.gethostname()}}))
""")
    assert info["h"] == info["k"] == "sandbox"
    assert info["set_rc"] == -1 and info["set_err"] == 1, info  # EPERM
    assert info["h2"] == "sandbox"
    assert socket.gethostname() != "evil"
    assert not info["shadow"] and not info["gshadow"] and not info["sudoers"]
    assert not info["root_home"]
    assert not info["data_dir"], "daemon data dir is visible inside the sandbox"
    assert kilnd.data_dir not in info["mountinfo"]
    assert "user:x:1000:" in info["passwd"]
    assert HOST_ROOT_LINE not in info["passwd"] or HOST_ROOT_LINE.endswith("nologin")


def test_readonly_system_writable_scratch(kilnd, new_sandbox, host_marker, neighbour):
    sid = new_sandbox()
    res = py_json(kilnd, sid, """
import os, json, errno
out = {}
for p in ['/usr/evil', '/usr/bin/evil', '/etc/evil', '/etc/passwd', '/evil', '/opt/kiln/kiln-init',
          '/opt/kiln/runtimes/evil', '/skills/evil', '/proc/evil', '/var/evil', '/run/evil']:
    try:
        with open(p, 'w') as f:
            f.write('x')
        out[p] = 'ok'
    except OSError as e:
        out[p] = errno.errorcode.get(e.errno, str(e.errno))
for p in ['/home/user/ok.txt', '/tmp/ok.txt', '/dev/shm/ok.txt']:
    with open(p, 'w') as f:
        f.write('fine')
    out[p] = open(p).read()
try:
    os.mkdir('/usr/evildir'); out['mkdir'] = 'ok'
except OSError as e:
    out['mkdir'] = errno.errorcode.get(e.errno)
try:
    os.chmod('/usr/bin/python3', 0o4777); out['chmod'] = 'ok'
except OSError as e:
    out['chmod'] = errno.errorcode.get(e.errno)
print(json.dumps(out))
""")
    for p in ("/usr/evil", "/usr/bin/evil", "/etc/evil", "/etc/passwd", "/evil",
              "/opt/kiln/kiln-init", "/opt/kiln/runtimes/evil", "/var/evil", "/run/evil"):
        assert res[p] in ("EROFS", "EACCES", "EPERM"), (p, res[p])
    assert res["/skills/evil"] in ("EROFS", "EACCES", "EPERM", "ENOENT"), res
    assert res["/proc/evil"] in ("EROFS", "EACCES", "EPERM", "ENOENT"), res
    assert res["mkdir"] in ("EROFS", "EACCES", "EPERM"), res
    assert res["chmod"] in ("EROFS", "EACCES", "EPERM"), res
    for p in ("/home/user/ok.txt", "/tmp/ok.txt", "/dev/shm/ok.txt"):
        assert res[p] == "fine"
    assert not os.path.exists("/usr/evil") and not os.path.exists("/evil")
    assert oct(os.stat("/usr/bin/python3").st_mode & 0o7777) != "0o4777"
    assert_host_marker_intact(host_marker)
    assert_neighbour_intact(kilnd, neighbour)


def test_dev_is_minimal(kilnd, new_sandbox, neighbour):
    sid = new_sandbox()
    res = py_json(kilnd, sid, """
import os, json, stat, errno
entries = sorted(os.listdir('/dev'))
out = {'entries': entries, 'kinds': {}}
for e in entries:
    st = os.lstat('/dev/' + e)
    out['kinds'][e] = 'chr' if stat.S_ISCHR(st.st_mode) else 'lnk' if stat.S_ISLNK(st.st_mode) else \
                      'dir' if stat.S_ISDIR(st.st_mode) else 'other'
for name, path, dev in [('mknod_dev', '/tmp/mem', os.makedev(1, 1)),
                        ('mknod_shm', '/dev/shm/kvm', os.makedev(10, 232)),
                        ('mknod_home', '/home/user/sda', os.makedev(8, 0))]:
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, dev); out[name] = 'ok'
    except OSError as e:
        out[name] = errno.errorcode.get(e.errno)
try:
    os.mknod('/dev/evil', 0o666 | stat.S_IFCHR, os.makedev(1, 3)); out['mknod_devdir'] = 'ok'
except OSError as e:
    out['mknod_devdir'] = errno.errorcode.get(e.errno)
try:
    open('/dev/zero', 'rb').read(4)
    out['zero'] = 'ok'
except OSError as e:
    out['zero'] = str(e)
print(json.dumps(out))
""")
    allowed = {"null", "zero", "full", "random", "urandom", "fd", "stdin", "stdout", "stderr",
               "shm"}
    assert set(res["entries"]) <= allowed, set(res["entries"]) - allowed
    for dev in ("null", "zero", "full", "random", "urandom"):
        assert res["kinds"][dev] == "chr", res
    assert res["kinds"].get("shm", "dir") == "dir"
    for link in ("fd", "stdin", "stdout", "stderr"):
        assert res["kinds"].get(link, "lnk") == "lnk", res
    for bad in ("kvm", "mem", "kmem", "sda", "vda", "tty", "console", "ptmx", "net", "fuse",
                "loop0", "port"):
        assert bad not in res["entries"], bad
    for k in ("mknod_dev", "mknod_shm", "mknod_home", "mknod_devdir"):
        assert res[k] in ("EPERM", "EACCES", "EROFS"), (k, res[k])
    assert res["zero"] == "ok"
    assert_neighbour_intact(kilnd, neighbour)


# --------------------------------------------------------------------------
# network

class LoopbackServer:
    """A TCP server on host loopback that counts accepted connections."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.accepted += 1
            c.close()

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def loopback_server():
    s = LoopbackServer()
    yield s
    s.close()


def test_network_only_loopback(kilnd, new_sandbox, loopback_server, neighbour):
    # Positive control: the host server really accepts from the host.
    with socket.create_connection(("127.0.0.1", loopback_server.port), timeout=2):
        pass
    assert wait_for(lambda: loopback_server.accepted == 1, 2)
    loopback_server.accepted = 0

    sid = new_sandbox()
    res = py_json(kilnd, sid, f"""
import json, socket, errno
out = {{'dev': open('/proc/net/dev').read(), 'route': open('/proc/net/route').read(),
       'ipv6_route': open('/proc/net/ipv6_route').read()}}
try:
    out['if_inet6'] = open('/proc/net/if_inet6').read()
except OSError:
    out['if_inet6'] = ''
def attempt(port):
    s = socket.socket(); s.settimeout(3)
    try:
        s.connect(('127.0.0.1', port)); return 'connected'
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e))
    finally:
        s.close()
out['daemon'] = attempt({kilnd.port})
out['server'] = attempt({loopback_server.port})
out['server6'] = None
try:
    s6 = socket.socket(socket.AF_INET6); s6.settimeout(3)
    s6.connect(('::1', {loopback_server.port})); out['server6'] = 'connected'
except OSError as e:
    out['server6'] = errno.errorcode.get(e.errno, str(e))
try:
    socket.getaddrinfo('example.com', 80); out['dns'] = 'resolved'
except socket.gaierror as e:
    out['dns'] = 'gaierror'
# Loopback itself works inside (a local server in the sandbox's own namespace).
srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1)
c = socket.create_connection(srv.getsockname(), timeout=2); c.close(); srv.close()
out['local_lo'] = 'ok'
print(json.dumps(out))
""")
    ifaces = [l.split(":")[0].strip() for l in res["dev"].splitlines()[2:] if ":" in l]
    assert ifaces == ["lo"], ifaces
    routes = res["route"].splitlines()[1:]
    assert all(r.split()[1] != "00000000" for r in routes if r.strip()), routes
    assert [r for r in routes if r.strip() and not r.startswith("lo")] == [], routes
    for l in res["if_inet6"].splitlines():
        assert l.split()[-1] == "lo", l
    for l in res["ipv6_route"].splitlines():
        assert l.split()[-1] == "lo", l
    assert res["daemon"] in ("ECONNREFUSED", "ENETUNREACH", "EACCES", "EPERM"), res["daemon"]
    assert res["server"] in ("ECONNREFUSED", "ENETUNREACH", "EACCES", "EPERM"), res["server"]
    assert res["server6"] != "connected", res
    assert res["dns"] == "gaierror"
    assert res["local_lo"] == "ok"
    time.sleep(0.3)
    assert loopback_server.accepted == 0, "a sandbox reached a host loopback server"
    # `ip` may be blocked (netlink) or show only lo; either way no other link.
    r = sh(kilnd, sid, "ip -o link show 2>&1; ip route show 2>&1; ip -6 route show 2>&1")
    text = r["stdout"] + r["stderr"]
    assert "eth" not in text and "default" not in text and "veth" not in text, text
    # The daemon is still healthy and the neighbour unaffected.
    assert kilnd.get("/healthz").status_code == 200
    assert_neighbour_intact(kilnd, neighbour)


def test_sandboxes_do_not_share_network(kilnd, new_sandbox):
    a, b = new_sandbox(), new_sandbox()
    port = 20000 + secrets.randbelow(20000)
    r = kilnd.post(f"/v1/sandboxes/{a}/commands",
                   {"cmd": f"python3 -m http.server {port} --bind 127.0.0.1", "background": True})
    assert r.status_code == 201, r.text
    probe = f"""
import socket, time, errno
res = 'none'
for _ in range(40):
    s = socket.socket(); s.settimeout(2)
    try:
        s.connect(('127.0.0.1', {port})); res = 'connected'; break
    except OSError as e:
        res = errno.errorcode.get(e.errno, str(e)); time.sleep(0.1)
    finally:
        s.close()
print(res)
"""
    assert py(kilnd, a, probe).strip() == "connected"  # positive control inside A
    assert py(kilnd, b, probe.replace("range(40)", "range(3)")).strip() == "ECONNREFUSED"


# --------------------------------------------------------------------------
# sandbox to sandbox

def test_sandbox_to_sandbox_isolation(kilnd, new_sandbox):
    a, b = new_sandbox(), new_sandbox()
    tok = secrets.token_hex(6)
    tag = 800000 + secrets.randbelow(90000)
    py(kilnd, a, f"""
for p in ['/tmp/a-{tok}', '/home/user/a-{tok}', '/dev/shm/a-{tok}', '/var/tmp/a-{tok}']:
    try:
        open(p, 'w').write('{tok}')
    except OSError:
        pass
""")
    r = kilnd.post(f"/v1/sandboxes/{a}/commands", {"cmd": f"sleep {tag}", "background": True})
    assert r.status_code == 201, r.text
    ipc = sh(kilnd, a, "ipcmk -M 1024 && ipcmk -Q && ipcmk -S 1 && ipcs -m -q -s")
    assert ipc["exit_code"] == 0, ipc
    assert "Shared memory id" in ipc["stdout"]
    # Positive control: A sees its own objects.
    a_view = sh(kilnd, a, "ls /tmp /home/user /dev/shm; ps -eo args; ipcs -m")
    assert f"a-{tok}" in a_view["stdout"] and f"sleep {tag}" in a_view["stdout"]
    a_shm = [l for l in a_view["stdout"].splitlines() if l.startswith("0x")]
    assert a_shm, a_view

    host = host_procs_by_cmdline(f"sleep {tag}")
    assert len(host) == 1
    host_pid = next(iter(host))

    b_view = py_json(kilnd, b, f"""
import os, json, subprocess, signal
out = {{'files': [p for p in ['/tmp/a-{tok}', '/home/user/a-{tok}', '/dev/shm/a-{tok}',
                             '/var/tmp/a-{tok}'] if os.path.exists(p)]}}
out['ps'] = subprocess.run(['ps', '-eo', 'args'], capture_output=True, text=True).stdout
out['proc_cmdlines'] = []
for p in os.listdir('/proc'):
    if p.isdigit():
        try:
            out['proc_cmdlines'].append(open(f'/proc/{{p}}/cmdline', 'rb').read().decode(errors='replace'))
        except OSError:
            pass
out['ipcs'] = subprocess.run(['ipcs', '-m', '-q', '-s'], capture_output=True, text=True).stdout
out['sysvipc'] = open('/proc/sysvipc/shm').read()
try:
    os.kill({host_pid}, signal.SIGKILL); out['kill'] = 'sent'
except ProcessLookupError:
    out['kill'] = 'ESRCH'
except PermissionError:
    out['kill'] = 'EPERM'
try:
    os.kill(-1, 0); out['kill_all'] = 'ok'
except OSError as e:
    out['kill_all'] = str(e)
print(json.dumps(out))
""")
    assert b_view["files"] == [], b_view["files"]
    assert f"sleep {tag}" not in b_view["ps"]
    assert not any(f"{tag}" in c for c in b_view["proc_cmdlines"])
    assert not [l for l in b_view["ipcs"].splitlines() if l.startswith("0x")], b_view["ipcs"]
    assert len(b_view["sysvipc"].strip().splitlines()) <= 1, b_view["sysvipc"]
    assert b_view["kill"] in ("ESRCH", "EPERM"), b_view
    # B's files API cannot see A's files either.
    for p in (f"/tmp/a-{tok}", f"/home/user/a-{tok}", f"/dev/shm/a-{tok}"):
        assert files_get(kilnd, b, p).status_code == 404
    # A's process and data survived B's attempts.
    assert host_pid in host_procs_by_cmdline(f"sleep {tag}")
    a_files = sh(kilnd, a, f"cat /tmp/a-{tok} /home/user/a-{tok} /dev/shm/a-{tok}")
    assert a_files["stdout"] == tok * 3, a_files
    a_after = sh(kilnd, a, "ps -eo args; ipcs -m")
    assert f"sleep {tag}" in a_after["stdout"]
    assert [l for l in a_after["stdout"].splitlines() if l.startswith("0x")] == a_shm


# --------------------------------------------------------------------------
# kernel attack surface

SYSCALL_PROBE = r"""
import ctypes, os, json, errno
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def sc(nr, *args):
    args = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *args)
    e = ctypes.get_errno()
    if r == 0 and nr == 56:          # a clone that worked: the child leaves at once
        os._exit(0)
    return [r, errno.errorcode.get(e, str(e)) if r < 0 else None]
out = {}
ctypes.set_errno(0); out['unshare_user'] = [libc.unshare(0x10000000), errno.errorcode.get(ctypes.get_errno())]
ctypes.set_errno(0); out['unshare_ns'] = [libc.unshare(0x00020000), errno.errorcode.get(ctypes.get_errno())]
ctypes.set_errno(0); out['unshare_net'] = [libc.unshare(0x40000000), errno.errorcode.get(ctypes.get_errno())]
ctypes.set_errno(0); out['mount'] = [libc.mount(b'none', b'/tmp', b'tmpfs', 0, None), errno.errorcode.get(ctypes.get_errno())]
ctypes.set_errno(0); out['mount_bind'] = [libc.mount(b'/proc/1/root', b'/home/user', None, 4096, None), errno.errorcode.get(ctypes.get_errno())]
ctypes.set_errno(0); out['umount'] = [libc.umount2(b'/usr', 2), errno.errorcode.get(ctypes.get_errno())]
out['ptrace_attach1'] = sc(101, 16, 1, 0, 0)         # PTRACE_ATTACH to kiln-init
out['ptrace_traceme'] = sc(101, 0, 0, 0, 0)
out['clone_newuser'] = sc(56, 0x10000000 | 17, 0, 0, 0, 0)
out['clone_newns'] = sc(56, 0x00020000 | 17, 0, 0, 0, 0)
out['clone3'] = sc(435, 0, 0)
out['setns'] = sc(308, 0, 0)
out['chroot'] = sc(161, b'/tmp')
out['pivot_root'] = sc(155, b'/tmp', b'/tmp')
out['setuid0'] = sc(105, 0)
out['setgid0'] = sc(106, 0)
out['io_uring_setup'] = sc(425, 1, 0)
out['bpf'] = sc(321, 0, 0, 0)
out['keyctl'] = sc(250, 0, 0, 0, 0)
out['userfaultfd'] = sc(323, 0)
out['perf_event_open'] = sc(298, 0, 0, 0, 0, 0)
out['open_by_handle_at'] = sc(304, 0, 0, 0)
out['init_module'] = sc(175, 0, 0, 0)
out['reboot'] = sc(169, 0, 0, 0, 0)
out['process_vm_readv'] = sc(310, 1, 0, 0, 0, 0, 0)
out['personality_32'] = sc(135, 0x0800000)    # READ_IMPLIES_EXEC-ish flag games
print(json.dumps(out))
"""


def test_namespace_mount_ptrace_and_dangerous_syscalls_blocked(kilnd, new_sandbox, host_marker,
                                                                neighbour):
    sid = new_sandbox()
    res = py_json(kilnd, sid, SYSCALL_PROBE)
    must_eperm = ["unshare_user", "unshare_ns", "unshare_net", "mount", "mount_bind", "umount",
                  "ptrace_attach1", "ptrace_traceme", "clone_newuser", "clone_newns", "setns",
                  "chroot", "pivot_root", "io_uring_setup", "bpf", "keyctl", "userfaultfd",
                  "perf_event_open", "open_by_handle_at", "init_module", "reboot",
                  "process_vm_readv"]
    for k in must_eperm:
        rc, err = res[k]
        assert rc == -1 and err in ("EPERM", "EACCES"), (k, res[k])
    assert res["clone3"] == [-1, "ENOSYS"], res["clone3"]
    for k in ("setuid0", "setgid0"):
        assert res[k][0] == -1, (k, res[k])
    # Still uid 1000, and the mount table is what it was.
    after = py(kilnd, sid, "import os; print(os.getuid(), open('/proc/self/mountinfo').read().count('\\n'))")
    assert after.split()[0] == "1000"
    r = sh(kilnd, sid, "unshare -U true; echo rc=$?; mount -t tmpfs none /tmp; echo rc=$?")
    assert "rc=0" not in r["stdout"], r
    assert_host_marker_intact(host_marker)
    assert_neighbour_intact(kilnd, neighbour)


def test_setuid_binaries_give_nothing(kilnd, new_sandbox, neighbour):
    sid = new_sandbox()
    # Whatever setuid binaries /usr holds, nosuid + no_new_privs keep uid 1000.
    r = sh(kilnd, sid, "for b in /usr/bin/su /usr/bin/sudo /usr/bin/passwd /usr/bin/newgrp "
                       "/usr/bin/mount; do [ -x $b ] && $b </dev/null >/dev/null 2>&1; done; id -u; "
                       "find /usr -perm -4000 -type f 2>/dev/null | head -3 | while read f; do "
                       "$f --help >/dev/null 2>&1 </dev/null; done; id -u")
    assert r["stdout"].split() == ["1000", "1000"], r
    assert_neighbour_intact(kilnd, neighbour)


# --------------------------------------------------------------------------
# files API escapes

def test_files_api_dotdot_stays_inside(kilnd, new_sandbox, host_marker, neighbour):
    assert HOST_ROOT_LINE  # the host has a root line to fingerprint
    sid = new_sandbox()
    for p in ("../../etc/passwd", "../../../../../../../etc/passwd", "/../../etc/passwd",
              "/home/user/../../../etc/passwd", "..%2f..%2fetc/passwd".replace("%2f", "/")):
        r = files_get(kilnd, sid, p)
        assert r.status_code == 200, (p, r.status_code, r.text)
        assert "user:x:1000:" in r.text, (p, r.text)
        assert "root:x:0:0:root:/root:/usr/sbin/nologin" in r.text
        assert r.text != HOST_PASSWD
        if HOST_ROOT_LINE != "root:x:0:0:root:/root:/usr/sbin/nologin":
            assert HOST_ROOT_LINE not in r.text, p
    r = files_get(kilnd, sid, "../../etc/hostname")
    assert r.status_code == 200 and r.text.strip() == "sandbox"
    for p in ("/etc/shadow", "../../etc/shadow", f"../../../..{kilnd.data_dir}/kilnd.log",
              "/root/.bashrc", "../../root/.bashrc"):
        r = files_get(kilnd, sid, p)
        assert r.status_code in (400, 403, 404), (p, r.status_code, r.text[:200])
    # Listing "/" shows the sandbox's root, not the host's.
    r = kilnd.get(f"/v1/sandboxes/{sid}/files", params={"path": "../../.."})
    assert r.status_code == 200, r.text
    names = {e["name"] for e in r.json()["entries"]}
    assert "home" in names and "usr" in names
    assert not names & {"root", "work", "boot", "srv", "mnt", "media"}, names
    # Writes through .. land in the sandbox's /tmp, never the host's.
    rel = "../../../../" + host_marker["path"].lstrip("/")
    r = files_put(kilnd, sid, rel, b"EVIL-DOTDOT")
    assert r.status_code in (201, 400, 403, 404), r.text
    r = files_put(kilnd, sid, host_marker["path"], b"EVIL-ABS")
    assert r.status_code in (201, 400, 403, 404), r.text
    r = kilnd.delete(f"/v1/sandboxes/{sid}/files", params={"path": rel})
    assert r.status_code in (204, 400, 404), r.text
    new_file = f"/tmp/kiln-host-new-{secrets.token_hex(4)}"
    r = files_put(kilnd, sid, "../../../.." + new_file, b"EVIL-NEW")
    assert not os.path.exists(new_file), "files API created a file on the host"
    assert_host_marker_intact(host_marker)
    assert_neighbour_intact(kilnd, neighbour)


def test_files_api_symlink_escapes(kilnd, new_sandbox, host_marker, neighbour):
    sid = new_sandbox()
    links = {
        "pw": "/etc/passwd",
        "rootdir": "/root",
        "datadir": kilnd.data_dir,
        "log": os.path.join(kilnd.data_dir, "kilnd.log"),
        "marker": host_marker["path"],
        "p1root": "/proc/1/root",
        "p1etc": "/proc/1/root/etc",
        "selfroot": "/proc/self/root",
        "p1cwd": "/proc/1/cwd",
        "hostproc": f"/proc/{kilnd.proc.pid}/root",
        "shadow": "/etc/shadow",
    }
    cmd = "; ".join(f"ln -s {t} /home/user/{n}" for n, t in links.items())
    r = sh(kilnd, sid, cmd + "; ls -la /home/user")
    assert r["exit_code"] == 0, r
    # /etc/passwd through the link: the sandbox's generated file.
    r = files_get(kilnd, sid, "pw")
    assert r.status_code in (200, 400, 404), r.text
    if r.status_code == 200:
        assert "user:x:1000:" in r.text and r.text != HOST_PASSWD
    host_log = open(kilnd.log_path, "rb").read()[:200]
    for p in ("rootdir/.bashrc", "datadir/kilnd.log", "log", "marker", "p1root/etc/passwd",
              "p1etc/passwd", "selfroot/etc/passwd", "p1cwd/etc/passwd",
              "hostproc/etc/passwd", "shadow", f"p1root{host_marker['path']}",
              f"selfroot{host_marker['path']}", f"/proc/1/root{host_marker['path']}",
              f"/proc/self/root{host_marker['path']}", "/proc/1/root/etc/passwd",
              "/proc/self/root/etc/passwd", "/proc/self/cwd/etc/passwd",
              f"/proc/1/root{kilnd.data_dir}/kilnd.log"):
        r = files_get(kilnd, sid, p)
        if r.status_code == 200:
            assert host_marker["content"] not in r.text, p
            assert r.text != HOST_PASSWD and (
                HOST_ROOT_LINE.endswith("nologin") or HOST_ROOT_LINE not in r.text), p
            assert not host_log or host_log not in r.content, p
        else:
            assert r.status_code in (400, 403, 404), (p, r.status_code, r.text)
    # Listing through links shows nothing of the host.
    for p in ("rootdir", "datadir", "p1root", "hostproc"):
        r = kilnd.get(f"/v1/sandboxes/{sid}/files", params={"path": p})
        if r.status_code == 200:
            names = {e["name"] for e in r.json()["entries"]}
            assert "kilnd.log" not in names and "work" not in names, (p, names)
        else:
            assert r.status_code in (400, 403, 404), (p, r.text)
    # Writes through links never touch the host file or the data dir.
    for p in ("marker", f"p1root{host_marker['path']}", f"/proc/1/root{host_marker['path']}",
              f"/proc/self/root{host_marker['path']}", "hostproc" + host_marker["path"],
              "datadir/evil.txt", "log", "rootdir/evil"):
        r = files_put(kilnd, sid, p, b"EVIL-THROUGH-LINK")
        assert r.status_code in (201, 400, 403, 404), (p, r.status_code, r.text)
    r = kilnd.post(f"/v1/sandboxes/{sid}/files/mkdir", {"path": "datadir/evil-dir"})
    assert r.status_code in (201, 400, 403, 404), r.text
    # Deleting the link removes the link, not its target.
    r = kilnd.delete(f"/v1/sandboxes/{sid}/files", params={"path": "marker"})
    assert r.status_code in (204, 400, 404), r.text
    r = kilnd.delete(f"/v1/sandboxes/{sid}/files", params={"path": "datadir"})
    assert r.status_code in (204, 400, 404), r.text
    assert not os.path.exists(os.path.join(kilnd.data_dir, "evil.txt"))
    assert not os.path.exists(os.path.join(kilnd.data_dir, "evil-dir"))
    assert os.path.exists(kilnd.log_path)
    assert not os.path.exists("/root/evil")
    assert b"EVIL" not in open(kilnd.log_path, "rb").read()
    assert_host_marker_intact(host_marker)
    assert_neighbour_intact(kilnd, neighbour)
    assert kilnd.get("/healthz").status_code == 200


def test_files_api_cannot_reach_neighbour(kilnd, new_sandbox, neighbour):
    sid = new_sandbox()
    # Guessable host-side paths of another sandbox's files lead nowhere.
    r = sh(kilnd, sid, "ln -s /proc/2/root /home/user/p2; ls /proc")
    assert r["exit_code"] == 0
    for p in ("/tmp/n.txt", "/home/user/n.txt", "p2/tmp/n.txt", "/proc/2/root/home/user/n.txt"):
        r = files_get(kilnd, sid, p)
        if r.status_code == 200:
            assert neighbour["token"] not in r.text, p
        else:
            assert r.status_code in (400, 403, 404), (p, r.text)
    assert_neighbour_intact(kilnd, neighbour)
