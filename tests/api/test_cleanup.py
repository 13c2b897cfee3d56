"""Cleanup: nothing of a sandbox outlives it — processes, cgroups, mounts —
whether it ends by DELETE, TTL, daemon shutdown or a daemon crash.

Each test uses its own daemon (pool_size=0 unless said otherwise) so every
process in the daemon's uid range belongs to the sandboxes the test made.
"""
import os
import signal
import subprocess
import time

from conftest import daemon_leftovers

ESCAPER = r"""python3 -c '
import os, signal, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        os.closerange(0, 3)
        time.sleep(1000)
    os._exit(0)
'"""


def wait_clean(d, timeout=2.0):
    """Polls until the daemon left no process and no cgroup; returns what is left."""
    deadline = time.time() + timeout
    while True:
        left = daemon_leftovers(d)
        if left == ([], []) or time.time() > deadline:
            return left
        time.sleep(0.05)


def wait_procs_gone(d, timeout=3.0):
    deadline = time.time() + timeout
    while True:
        procs = daemon_leftovers(d)[0]
        if not procs or time.time() > deadline:
            return procs
        time.sleep(0.05)


def describe(pids):
    out = []
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                s = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
            out.append((p, s["Name"].strip(), s["State"].strip(), s["Uid"].split()[0]))
        except FileNotFoundError:
            pass
    return out


def busy_sandbox(d, **body):
    """A sandbox with a Python context, a background sleep and a setsid escaper."""
    sid = d.create_sandbox(**body)["id"]
    assert d.execute(sid, "x = 1")["error"] is None
    r = d.post(f"/v1/sandboxes/{sid}/commands", {"cmd": "sleep 1000", "background": True})
    assert r.status_code == 201, r.text
    r = d.run(sid, ESCAPER)
    assert r["exit_code"] == 0, r
    return sid


def test_delete_removes_processes_and_cgroups(fresh_daemon):
    d = fresh_daemon(pool_size=0)
    assert daemon_leftovers(d) == ([], [])
    sid = busy_sandbox(d)
    procs, cgroups = daemon_leftovers(d)
    names = [n for _, n, _, _ in describe(procs)]
    assert "kiln-init" in names and names.count("sleep") >= 1 and names.count("python3") >= 2, names
    assert any(sid in c for c in cgroups), cgroups
    r = d.delete(f"/v1/sandboxes/{sid}")
    assert r.status_code == 204, r.text
    left = wait_clean(d, 2.0)
    assert left == ([], []), (describe(left[0]), left[1])
    assert d.get(f"/v1/sandboxes/{sid}").status_code == 404
    # The daemon still works, and a new sandbox reuses nothing stale.
    sid2 = d.create_sandbox()["id"]
    assert d.execute(sid2, "1+1")["results"][0]["text"] == "2"
    r = d.run(sid2, "ps -e --no-headers | wc -l")
    assert int(r["stdout"]) < 8, r


def test_delete_kills_sigterm_ignoring_double_forked_process(fresh_daemon):
    d = fresh_daemon(pool_size=0)
    sid = d.create_sandbox()["id"]
    r = d.run(sid, ESCAPER + "; sleep 0.2; ps -eo pid,pgid,sid,stat,args")
    assert r["exit_code"] == 0, r
    assert "time.sleep" in r["stdout"] or "python3 -c" in r["stdout"], r["stdout"]
    escaped = [p for p, n, _, _ in describe(daemon_leftovers(d)[0]) if n == "python3"]
    assert len(escaped) >= 2, describe(daemon_leftovers(d)[0])  # runner + escaper
    assert d.delete(f"/v1/sandboxes/{sid}").status_code == 204
    left = wait_clean(d, 2.0)
    assert left == ([], []), (describe(left[0]), left[1])
    for p in escaped:
        assert not os.path.exists(f"/proc/{p}") or describe([p]) == [], describe([p])


def test_ttl_expiry_cleans_up_daemon_default(fresh_daemon):
    d = fresh_daemon("--sandbox-timeout-s", "2", pool_size=0)
    sid = busy_sandbox(d)
    assert daemon_leftovers(d)[0]
    time.sleep(2.0)
    left = wait_clean(d, 3.0)
    assert left == ([], []), (describe(left[0]), left[1])
    r = d.get(f"/v1/sandboxes/{sid}")
    assert r.status_code == 404, r.text
    assert d.get("/healthz").status_code == 200


def test_ttl_expiry_cleans_up_request_timeout(fresh_daemon):
    d = fresh_daemon(pool_size=0)
    long_sid = d.create_sandbox()["id"]
    sid = busy_sandbox(d, timeout_s=2)
    time.sleep(2.0)
    deadline = time.time() + 3
    while d.get(f"/v1/sandboxes/{sid}").status_code != 404 and time.time() < deadline:
        time.sleep(0.1)
    assert d.get(f"/v1/sandboxes/{sid}").status_code == 404
    # Only the expired sandbox's processes went; the other sandbox lives on.
    deadline = time.time() + 2
    while True:
        procs, cgroups = daemon_leftovers(d)
        if not any(sid in c for c in cgroups) or time.time() > deadline:
            break
        time.sleep(0.05)
    assert not any(sid in c for c in cgroups), cgroups
    assert all(long_sid in c for c in cgroups), cgroups
    names = [n for _, n, _, _ in describe(procs)]
    assert "sleep" not in names, describe(procs)
    assert d.execute(long_sid, "1+1")["results"][0]["text"] == "2"
    assert d.delete(f"/v1/sandboxes/{long_sid}").status_code == 204
    left = wait_clean(d, 2.0)
    assert left == ([], []), (describe(left[0]), left[1])


def test_sigterm_of_daemon_cleans_everything(fresh_daemon):
    d = fresh_daemon(pool_size=2)
    for _ in range(3):
        busy_sandbox(d)
    procs, cgroups = daemon_leftovers(d)
    assert len(cgroups) >= 5 and len(procs) >= 10, (len(procs), cgroups)
    d.stop(signal.SIGTERM, timeout=15)
    assert d.proc.returncode == 0, d.proc.returncode
    left = wait_clean(d, 2.0)
    assert left == ([], []), (describe(left[0]), left[1])
    log = d.read_log()
    assert "shutdown" in log
    # The daemon's own parent folder goes too, in every hierarchy.
    parents = [os.path.join("/sys/fs/cgroup", c, d.cgroup_parent)
               for c in ("memory", "pids", "cpu", "cpuacct", "unified")]
    assert not [p for p in parents if os.path.isdir(p)], parents


def test_kill9_of_daemon_then_restart_with_same_settings(fresh_daemon):
    d = fresh_daemon(pool_size=1)
    sids = [busy_sandbox(d) for _ in range(3)]
    procs = daemon_leftovers(d)[0]
    assert len(procs) >= 12, describe(procs)
    d.proc.kill()
    d.proc.wait(10)
    # PDEATHSIG kills each kiln-init, and with it its whole pid namespace.
    left = wait_procs_gone(d, 3.0)
    assert left == [], describe(left)
    # Restart with the same uid range, cgroup parent and data dir.
    d2 = fresh_daemon(pool_size=0, data_dir=d.data_dir, uid_base=d.uid_base,
                      cgroup_parent=d.cgroup_parent)
    left = wait_clean(d2, 2.0)
    assert left == ([], []), (describe(left[0]), left[1])
    for sid in sids:
        assert d2.get(f"/v1/sandboxes/{sid}").status_code == 404
    sid = d2.create_sandbox()["id"]
    assert d2.execute(sid, "1+1")["results"][0]["text"] == "2"
    r = d2.run(sid, "echo ok > /home/user/f && cat /home/user/f")
    assert r["stdout"] == "ok\n", r
    assert d2.delete(f"/v1/sandboxes/{sid}").status_code == 204
    left = wait_clean(d2, 2.0)
    assert left == ([], []), (describe(left[0]), left[1])


def test_restart_kills_strays_left_in_uid_range(fresh_daemon):
    """Even if something of a crashed run survived, a restart removes it."""
    d = fresh_daemon(pool_size=0)
    busy_sandbox(d)
    d.proc.kill()
    d.proc.wait(10)
    wait_procs_gone(d, 3.0)
    # Simulate a survivor: a process running as one of the daemon's slot uids.
    stray = subprocess.Popen(["sleep", "1000"], preexec_fn=lambda: (os.setgid(d.uid_base + 3),
                                                                   os.setuid(d.uid_base + 3)))
    try:
        assert stray.pid in daemon_leftovers(d)[0]
        d2 = fresh_daemon(pool_size=0, data_dir=d.data_dir, uid_base=d.uid_base,
                          cgroup_parent=d.cgroup_parent)
        deadline = time.time() + 2
        while stray.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert stray.poll() is not None, "restart left a process running in its uid range"
        assert wait_clean(d2, 2.0) == ([], [])
    finally:
        if stray.poll() is None:
            stray.kill()
            stray.wait()


def mount_lines():
    with open("/proc/self/mountinfo") as f:
        return f.read().splitlines()


def test_no_mounts_leak_on_host(fresh_daemon):
    d = fresh_daemon(pool_size=0)
    before = mount_lines()
    sids = [d.create_sandbox()["id"] for _ in range(5)]
    for sid in sids:
        assert d.run(sid, "echo hi > /tmp/x && cat /tmp/x")["stdout"] == "hi\n"
    during = mount_lines()
    assert len(during) == len(before), set(during) ^ set(before)
    assert not [l for l in during if d.data_dir in l], "a sandbox mount shows on the host"
    for sid in sids:
        assert d.delete(f"/v1/sandboxes/{sid}").status_code == 204
    assert wait_clean(d, 2.0) == ([], [])
    after = mount_lines()
    assert len(after) == len(before), set(after) ^ set(before)
    # The daemon's own mount namespace neither.
    with open(f"/proc/{d.proc.pid}/mountinfo") as f:
        daemon_mounts = f.read().splitlines()
    assert not [l for l in daemon_mounts if d.data_dir in l], daemon_mounts[-5:]
