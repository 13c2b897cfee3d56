"""Resource abuse (issue 4, item 2): each attack ends in a clear error for
that sandbox only, while a neighbour sandbox keeps answering `1+1` within 3x
its normal latency (50 ms floor), and nothing of it outlives its sandbox.

test_limits.py covers the heap bombs, fork bombs, stdout floods and the plain
disk caps; this file covers threads, MAP_POPULATE, tmpfs-backed memory,
inode exhaustion, floods from a child process, CPU spin on every core and
processes that try to outlive their sandbox.

All tests share one daemon of their own (pool_size=0), so after each test the
daemon's uid range and parent cgroup must be empty again.
"""
import signal
import statistics
import threading
import time

import pytest

from conftest import Daemon, daemon_leftovers, remove_parent_cgroups

MiB = 1 << 20
SMALL = {"memory_mb": 128, "pids": 64, "disk_mb": 64, "cpus": 1, "exec_timeout_s": 30}


@pytest.fixture(scope="module")
def d():
    dm = Daemon(pool_size=0)
    yield dm
    dm.stop(signal.SIGTERM)
    remove_parent_cgroups(dm.cgroup_parent)


@pytest.fixture
def sandboxes(d):
    """make(**limits) -> sid; every sandbox is deleted after the test and the
    daemon must then hold no process or cgroup."""
    made = []

    def make(**limits):
        sb = d.create_sandbox(limits={**SMALL, **limits})
        made.append(sb["id"])
        return sb["id"]

    yield make
    for sid in made:
        d.delete(f"/v1/sandboxes/{sid}")
    left = wait_clean(d, 5.0)
    assert left == ([], []), f"left behind after the test: {left}"


def wait_clean(d, timeout):
    left = daemon_leftovers(d)
    deadline = time.time() + timeout
    while left != ([], []) and time.time() < deadline:
        time.sleep(0.05)
        left = daemon_leftovers(d)
    return left


def one_plus_one(d, sid, timeout=30):
    t = time.monotonic()
    r = d.post(f"/v1/sandboxes/{sid}/execute", {"code": "1+1"}, timeout=timeout)
    dt = time.monotonic() - t
    assert r.status_code == 200, (r.status_code, r.text)
    res = r.json()
    assert res["error"] is None and res["results"][0]["text"] == "2", res
    return dt


def baseline(d, sid, n=15):
    for _ in range(3):
        one_plus_one(d, sid)
    return statistics.median(one_plus_one(d, sid) for _ in range(n))


def under_attack(d, neighbour, attack, settle=0.3):
    """Runs attack() in a thread; returns (its result, the neighbour's 1+1
    latencies meanwhile)."""
    done = threading.Event()
    out = {}

    def run():
        try:
            out["value"] = attack()
        except BaseException as e:  # re-raised below
            out["exc"] = e
        finally:
            done.set()

    th = threading.Thread(target=run, daemon=True)
    th.start()
    time.sleep(settle)
    lat = []
    while not done.is_set():
        lat.append(one_plus_one(d, neighbour))
        time.sleep(0.03)
    th.join()
    if "exc" in out:
        raise out["exc"]
    return out.get("value"), lat


def assert_latency_ok(base, lat, min_samples=3):
    allowed = max(3 * base, 0.05)
    assert len(lat) >= min_samples, f"the neighbour was probed only {len(lat)} times"
    assert statistics.median(lat) <= allowed, (base, sorted(lat))
    assert max(lat) <= max(1.0, 10 * base), (base, sorted(lat))


def execute_retry_once(d, sid, code):
    """execute; one error saying the context was lost/restarted is allowed
    (the daemon noticing the earlier kill), then it must work."""
    r = d.post(f"/v1/sandboxes/{sid}/execute", {"code": code})
    if r.status_code == 200 and r.json()["error"] is None:
        return r.json()
    first = (r.status_code, r.text[:300])
    time.sleep(0.5)
    r = d.post(f"/v1/sandboxes/{sid}/execute", {"code": code})
    assert r.status_code == 200 and r.json()["error"] is None, (first, r.status_code, r.text[:300])
    return r.json()


def assert_usable(d, sid):
    res = execute_retry_once(d, sid, "1+1")
    assert res["results"][0]["text"] == "2", res
    r = d.run(sid, "echo usable")
    assert r["exit_code"] == 0 and r["stdout"] == "usable\n", r


def usage(d, sid):
    return d.get(f"/v1/sandboxes/{sid}").json()["usage"]


# --------------------------------------------------------------------------
# threads

def test_thread_bomb_in_context_hits_pids_limit(d, sandboxes):
    sid = sandboxes(pids=64)
    nb = sandboxes()
    base = baseline(d, nb)
    assert d.execute(sid, "keep = 'kept'")["error"] is None
    code = """
import threading, time
stop = threading.Event()
ts, err = [], None
try:
    for _ in range(100000):
        t = threading.Thread(target=stop.wait, args=(30,))
        t.start()
        ts.append(t)
except RuntimeError as e:
    err = e
print(len(ts), repr(err))
time.sleep(1.5)  # hold the threads while the neighbour is probed
stop.set()
for t in ts:
    t.join()
"""
    res, lat = under_attack(d, nb, lambda: d.execute(sid, code))
    assert res["error"] is None, res
    n, err = "".join(res["logs"]["stdout"]).split(" ", 1)
    assert "can't start new thread" in err, err
    assert 0 < int(n) < 64, n
    assert_latency_ok(base, lat)
    # The context kept its state and the sandbox works.
    assert d.execute(sid, "keep")["results"][0]["text"] == "'kept'"
    assert_usable(d, sid)


def test_thread_bomb_in_command_is_contained(d, sandboxes):
    sid = sandboxes(pids=64)
    nb = sandboxes()
    base = baseline(d, nb)
    # Unhandled: the interpreter dies with the error, after holding the
    # threads for a while so the neighbour is probed meanwhile.
    cmd = ("python3 -c 'import threading, time, sys\n"
           "try:\n"
           "    while True:\n"
           "        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"
           "except RuntimeError:\n"
           "    time.sleep(1.5)\n"
           "    raise'")
    r, lat = under_attack(d, nb, lambda: d.run(sid, cmd, timeout_s=10))
    assert r["exit_code"] == 1 and r.get("error") != "timeout", r
    assert "can't start new thread" in r["stderr"], r["stderr"][-500:]
    assert_latency_ok(base, lat, min_samples=1)
    assert_usable(d, sid)


# --------------------------------------------------------------------------
# memory: MAP_POPULATE and tmpfs

MAP_POPULATE_BOMB = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
PROT_RW, MAP_PRIVATE_ANON, MAP_POPULATE = 3, 0x02 | 0x20, 0x8000
p = libc.mmap(None, 400 << 20, PROT_RW, MAP_PRIVATE_ANON | MAP_POPULATE, -1, 0)
print('mapped', p, ctypes.get_errno())
"""


def test_map_populate_bomb_is_oom_error(d, sandboxes):
    sid = sandboxes(memory_mb=128)
    nb = sandboxes()
    base = baseline(d, nb)
    assert d.execute(sid, "keep = 1")["error"] is None
    res, lat = under_attack(d, nb, lambda: (d.execute(sid, MAP_POPULATE_BOMB),
                                            time.sleep(0.5))[0], settle=0.0)
    err = res["error"]
    assert err is not None and err["name"] == "OutOfMemoryError", res
    assert "memory" in err["value"].lower()
    assert "mapped" not in "".join(res["logs"]["stdout"])
    assert_latency_ok(base, lat, min_samples=1)
    assert usage(d, sid)["memory_peak_bytes"] <= 128 * MiB * 1.02
    assert_usable(d, sid)


def test_map_populate_bomb_in_command_is_killed(d, sandboxes):
    sid = sandboxes(memory_mb=128)
    assert d.execute(sid, "keep = 'kept'")["error"] is None
    r = d.run(sid, "python3 -c \"" + MAP_POPULATE_BOMB.replace('"', '\\"') + "\"", timeout_s=20)
    assert r["exit_code"] != 0 and "mapped" not in r["stdout"], r
    assert d.get(f"/v1/sandboxes/{sid}").status_code == 200
    assert_usable(d, sid)


@pytest.mark.parametrize("where,how", [
    ("/dev/shm", "execute"),
    ("/tmp", "execute"),
    ("/dev/shm", "command"),
    ("/tmp", "command"),
])
def test_tmpfs_file_over_memory_limit(d, sandboxes, where, how):
    """tmpfs pages are charged to the sandbox's memory: a file bigger than the
    memory limit ends in ENOSPC or an OOM error for that sandbox only; after
    the file is removed the sandbox works again."""
    sid = sandboxes(memory_mb=48)
    nb = sandboxes()
    base = baseline(d, nb)
    path = f"{where}/big"
    if how == "execute":
        def attack():
            return d.post(f"/v1/sandboxes/{sid}/execute", {"code": (
                f"f = open('{path}', 'wb')\n"
                "for _ in range(200):\n    f.write(b'x' * (1 << 20))\nf.close()")}, timeout=60)
    else:
        def attack():
            return d.post(f"/v1/sandboxes/{sid}/commands", {
                "cmd": f"head -c 209715200 /dev/zero > {path}; echo rc=$?", "timeout_s": 20},
                timeout=60)
    r, lat = under_attack(d, nb, lambda: (attack(), time.sleep(0.5))[0], settle=0.0)
    assert r.status_code == 200, (r.status_code, r.text)
    body = r.json()
    alive = d.get(f"/v1/sandboxes/{sid}").status_code
    assert alive == 200 or body.get("error"), (
        f"the sandbox died (GET -> {alive}) and the answer gave no error: {body}")
    if alive != 200:
        # Ended with a clear error: only the neighbour is left to check.
        assert_latency_ok(base, lat, min_samples=1)
        one_plus_one(d, nb)
        return
    if how == "execute":
        err = body["error"]
        assert err is not None, body
        assert err["name"] == "OutOfMemoryError" or "No space left" in err["value"], err
    else:
        # Either the write failed (ENOSPC: rc != 0) or the writer was killed
        # and the shell says so; an empty answer with exit_code -1 is not a
        # clear error.
        assert "rc=0" not in body["stdout"], body
        killed = body["exit_code"] >= 128  # the shell itself was the OOM victim
        failed_write = "rc=" in body["stdout"]  # the shell saw the writer fail
        assert killed or failed_write or body.get("error"), body
        assert body["exit_code"] != -1, body
    assert_latency_ok(base, lat, min_samples=1)
    # The sandbox survived; removing the file frees its memory.
    rm = d.delete(f"/v1/sandboxes/{sid}/files", params={"path": path})
    assert rm.status_code in (204, 404), rm.text
    assert usage(d, sid)["memory_peak_bytes"] <= 48 * MiB * 1.02
    assert_usable(d, sid)
    one_plus_one(d, nb)


# --------------------------------------------------------------------------
# disk: parallel fills, inode exhaustion

@pytest.mark.parametrize("where", ["/home/user", "/tmp"])
def test_parallel_disk_fill_by_command(d, sandboxes, where):
    sid = sandboxes(disk_mb=32, memory_mb=512)
    nb = sandboxes()
    base = baseline(d, nb)
    cmd = (f"for i in 1 2 3 4; do (cat /dev/zero > {where}/fill$i 2>/dev/null; echo w$i=$?) & done;"
           f" wait; fallocate -l 64M {where}/falloc; echo fa=$?; df -k {where} | tail -1; sleep 1")
    r, lat = under_attack(d, nb, lambda: d.run(sid, cmd, timeout_s=20))
    assert r["exit_code"] == 0, r
    for i in (1, 2, 3, 4):
        assert f"w{i}=1" in r["stdout"], r  # cat: No space left on device
    assert "fa=0" not in r["stdout"], r
    assert_latency_ok(base, lat, min_samples=1)
    r = d.run(sid, f"rm -f {where}/fill* {where}/falloc; echo ok > {where}/after && cat {where}/after")
    assert r["stdout"] == "ok\n", r
    assert_usable(d, sid)


@pytest.mark.parametrize("where", ["/home/user", "/tmp"])
def test_inode_exhaustion_with_empty_files(d, sandboxes, where):
    """Empty files cost no blocks, only inodes and kernel memory. Their
    number must be bounded (nr_inodes or the memory limit), the sandbox
    stays usable once they are removed, and the neighbour is unaffected."""
    sid = sandboxes(memory_mb=128)
    nb = sandboxes()
    base = baseline(d, nb)
    assert d.execute(sid, "keep = 'kept'")["error"] is None
    cmd = (f"mkdir {where}/many && cd {where}/many && python3 -c '\n"
           "import os, time\n"
           "t, n = time.time(), 0\n"
           "try:\n"
           "    while time.time() - t < 8:\n"
           "        os.close(os.open(str(n), os.O_CREAT | os.O_WRONLY, 0o644)); n += 1\n"
           "    print(\"limit=none\", n, flush=True)\n"
           "except OSError as e:\n"
           "    print(\"limit=errno\", n, e.errno, flush=True)\n"
           "'; echo rc=$?; ls -f | wc -l")
    r, lat = under_attack(d, nb, lambda: d.run(sid, cmd, timeout_s=20))
    out = r["stdout"]
    made = int(out.strip().splitlines()[-1]) - 2  # ls -f lists . and ..
    # Bounded: stopped by an error (ENOSPC/ENOMEM) or by the memory limit.
    assert "limit=none" not in out, f"{made} empty files in 8 s and no limit hit: {out}"
    assert made > 100, out
    assert_latency_ok(base, lat, min_samples=1)
    assert usage(d, sid)["memory_peak_bytes"] <= 128 * MiB * 1.02
    # Removing them through the API works and makes the sandbox usable again.
    t = time.monotonic()
    rm = d.delete(f"/v1/sandboxes/{sid}/files", params={"path": f"{where}/many"}, timeout=60)
    assert rm.status_code == 204, rm.text
    assert time.monotonic() - t < 30
    r = d.run(sid, f"ls -A {where} | wc -l; echo ok")
    assert r["stdout"].endswith("ok\n"), r
    assert_usable(d, sid)
    one_plus_one(d, nb)


# --------------------------------------------------------------------------
# output flood from a child process

def test_output_flood_from_child_in_execute(d, sandboxes):
    sid = sandboxes()
    nb = sandboxes()
    base = baseline(d, nb)
    code = ("import subprocess\n"
            "try:\n"
            "    subprocess.run(['yes'], timeout=3)\n"
            "except subprocess.TimeoutExpired:\n"
            "    print('child stopped')\n")
    t = time.monotonic()
    res, lat = under_attack(d, nb, lambda: d.execute(sid, code))
    assert time.monotonic() - t < 15
    assert res["error"] is None, res["error"]
    text = "".join(res["logs"]["stdout"])
    assert len(text) <= MiB + 4096, len(text)
    assert text.count("y\n") >= 1000, text[:100]
    assert "truncat" in res["logs"]["stdout"][-1].lower(), res["logs"]["stdout"][-1][-300:]
    assert_latency_ok(base, lat)
    # No `yes` left running.
    r = d.run(sid, "ps -eo comm | grep -cx yes")
    assert r["stdout"].strip() == "0", r
    assert_usable(d, sid)


def test_output_flood_from_child_in_command(d, sandboxes):
    sid = sandboxes()
    nb = sandboxes()
    base = baseline(d, nb)
    cmd = ("python3 -c \"import subprocess\ntry:\n    subprocess.run(['yes'], timeout=3)\n"
           "except subprocess.TimeoutExpired:\n    print('child stopped')\"; (yes >&2 &) ; sleep 1")
    r, lat = under_attack(d, nb, lambda: d.run(sid, cmd, timeout_s=20))
    assert r["exit_code"] == 0, {k: str(v)[-300:] for k, v in r.items()}
    assert len(r["stdout"]) <= MiB + 4096 and len(r["stderr"]) <= MiB + 4096
    assert "truncat" in r["stdout"][-300:].lower(), r["stdout"][-300:]
    assert_latency_ok(base, lat)
    assert_usable(d, sid)


# --------------------------------------------------------------------------
# CPU

def test_cpu_spin_on_every_core_neighbour_stays_responsive(d, sandboxes):
    sid = sandboxes(cpus=2, memory_mb=512)
    nb = sandboxes()
    base = baseline(d, nb)
    code = """
import multiprocessing, time
def spin(_):
    t = time.time()
    while time.time() - t < 3:
        pass
    return 1
with multiprocessing.Pool(4) as p:
    print(sum(p.map(spin, range(4))))
"""
    before = usage(d, sid)["cpu_ms"]
    res, lat = under_attack(d, nb, lambda: d.execute(sid, code), settle=0.5)
    assert res["error"] is None, res
    assert "".join(res["logs"]["stdout"]).strip() == "4"
    used = usage(d, sid)["cpu_ms"] - before
    # 4 x 3 s of spinning under a 2-core quota; the host may be shared, so
    # only ask that the spin really ran on more than a trickle of CPU.
    assert used >= 800, f"the spin did not really load the cores ({used} ms)"
    assert_latency_ok(base, lat, min_samples=10)
    assert_usable(d, sid)


# --------------------------------------------------------------------------
# processes that try to outlive their sandbox

def test_processes_started_by_code_do_not_outlive_sandbox(d, sandboxes):
    """Sleep-forever children, a SIGTERM-ignoring double-forked (setsid)
    process, a detached spinner — all started from the Python context, with
    an execute still running when the sandbox is deleted."""
    sid = sandboxes()
    code = r"""
import os, signal, subprocess, time
subprocess.Popen(['sleep', 'infinity'], start_new_session=True)
subprocess.Popen(['sh', '-c', 'trap "" TERM HUP INT; while :; do sleep 1; done'],
                 start_new_session=True, stdin=subprocess.DEVNULL,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(s, signal.SIG_IGN)
        os.closerange(0, 3)
        while True:
            pass
    os._exit(0)
os.wait()
print('planted')
"""
    res = d.execute(sid, code)
    assert res["error"] is None and "planted" in "".join(res["logs"]["stdout"]), res
    procs = daemon_leftovers(d)[0]
    assert len(procs) >= 5, procs
    # An execute that would sleep forever is in flight when the sandbox goes.
    out = {}

    def forever():
        try:
            out["r"] = d.req("POST", f"/v1/sandboxes/{sid}/execute",
                             json={"code": "import time\nwhile True:\n    time.sleep(1)"},
                             timeout=30)
        except Exception as e:  # noqa: BLE001 - reported below
            out["r"] = e

    th = threading.Thread(target=forever)
    th.start()
    time.sleep(0.5)
    t = time.monotonic()
    assert d.delete(f"/v1/sandboxes/{sid}").status_code == 204
    th.join(10)
    assert not th.is_alive(), "the in-flight execute hung after its sandbox was deleted"
    r = out["r"]
    assert not isinstance(r, Exception), r
    assert time.monotonic() - t < 5
    if r.status_code == 200:
        err = r.json()["error"]
        assert err is not None, r.text
    else:
        assert r.status_code in (404, 503), (r.status_code, r.text)
    left = wait_clean(d, 3.0)
    assert left == ([], []), left
