"""Pause and resume in memory (API.md "Pause and resume"): the cgroup freezer
stops every process (a busy loop uses no CPU), state is kept, the TTL clock
and active time stand still, calls that need the processes answer 409
sandbox_paused unless auto_resume, and a paused sandbox leaves nothing behind
when deleted, when kilnd stops, or when kilnd is killed and restarted."""
import signal
import threading
import time

import pytest

from conftest import daemon_leftovers
from helpers import assert_error, out, parse_time
from workflow_helpers import Client, create_key, start_daemon, stop_daemon, uniq

BUSY_LOOP = "python3 -c 'while True: pass'"


@pytest.fixture(scope="module")
def pd():
    d = start_daemon(pool_size=1)
    d.keys = {ws: create_key(d.data_dir, ws)[0] for ws in ("alpha", "beta")}
    yield d
    stop_daemon(d)


@pytest.fixture
def alice(pd):
    return Client(pd, pd.keys["alpha"])


@pytest.fixture
def sbx(alice):
    sid = alice.create_sandbox()["id"]
    yield sid
    alice.delete(f"/v1/sandboxes/{sid}")


def pause(c, sid, **body):
    r = c.post(f"/v1/sandboxes/{sid}/pause", body)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "paused", r.json()
    return r.json()


def resume(c, sid):
    r = c.post(f"/v1/sandboxes/{sid}/resume")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "running", r.json()
    return r.json()


def cpu_ms(c, sid):
    r = c.get(f"/v1/sandboxes/{sid}")
    assert r.status_code == 200, r.text
    return r.json()["usage"]["cpu_ms"]


def freezer_state(d, sid):
    path = f"/sys/fs/cgroup/freezer/{d.cgroup_parent}/{sid}/freezer.state"
    with open(path) as f:
        return f.read().strip()


def test_pause_stops_a_busy_loop_and_resume_continues_it(pd, alice, sbx):
    r = alice.post(f"/v1/sandboxes/{sbx}/commands", {"cmd": BUSY_LOOP, "background": True})
    assert r.status_code == 201, r.text
    # Thresholds leave room for a loaded 2-core machine: running, the loop
    # gets at least a tenth of a core; frozen, nothing at all.
    time.sleep(0.3)
    a = cpu_ms(alice, sbx)
    time.sleep(1.0)
    assert cpu_ms(alice, sbx) - a > 100, "the busy loop is not running"
    pause(alice, sbx)
    assert freezer_state(pd, sbx) == "FROZEN"
    a = cpu_ms(alice, sbx)
    time.sleep(1.0)
    assert cpu_ms(alice, sbx) - a < 10, "a paused sandbox used CPU"
    resume(alice, sbx)
    assert freezer_state(pd, sbx) == "THAWED"
    a = cpu_ms(alice, sbx)
    time.sleep(1.0)
    assert cpu_ms(alice, sbx) - a > 100, "the busy loop did not continue after resume"
    # The same process, still running.
    listed = alice.get(f"/v1/sandboxes/{sbx}/commands").json()["commands"]
    assert [p["running"] for p in listed if p["cmd"] == BUSY_LOOP] == [True], listed


def test_variables_files_and_a_background_process_are_kept(alice, sbx):
    assert alice.execute(sbx, "x = 41; import os; pid = os.getpid()")["error"] is None
    alice.put_file(sbx, "/home/user/kept.txt", b"still here")
    r = alice.post(f"/v1/sandboxes/{sbx}/commands",
                   {"cmd": "i=0; while true; do i=$((i+1)); echo $i; sleep 0.1; done",
                    "background": True})
    assert r.status_code == 201, r.text
    pid = r.json()["pid"]
    pause(alice, sbx)
    listed = alice.get("/v1/sandboxes").json()["sandboxes"]
    assert [s["status"] for s in listed if s["id"] == sbx] == ["paused"]
    time.sleep(1.0)
    resume(alice, sbx)
    res = alice.execute(sbx, "x += 1; print(x, os.getpid() == pid)")
    assert out(res).strip() == "42 True", res
    got = alice.get(f"/v1/sandboxes/{sbx}/files/content", params={"path": "/home/user/kept.txt"})
    assert got.status_code == 200 and got.content == b"still here"
    # The counter kept its output and counts on (no ticks while frozen: it
    # printed ~10/s before and after, so the total stays below wall time).
    time.sleep(0.5)
    p = alice.get(f"/v1/sandboxes/{sbx}/commands/{pid}").json()
    ticks = [int(t) for t in p["stdout"].split()]
    assert p["running"] and ticks[0] == 1 and ticks == list(range(1, len(ticks) + 1)), p


def test_ttl_does_not_run_while_paused(alice):
    sid = alice.create_sandbox(timeout_s=2)["id"]
    left_at_pause = (parse_time(pause(alice, sid)["expires_at"]).timestamp() - time.time())
    time.sleep(3.5)  # well past the 2 s TTL
    r = alice.get(f"/v1/sandboxes/{sid}")
    assert r.status_code == 200, "a paused sandbox expired"
    # While paused, expires_at is the deadline it would have if resumed now.
    left = parse_time(r.json()["expires_at"]).timestamp() - time.time()
    assert left == pytest.approx(left_at_pause, abs=0.5)
    body = resume(alice, sid)
    left = parse_time(body["expires_at"]).timestamp() - time.time()
    assert 0.5 < left <= 2.1, left
    assert alice.execute(sid, "print(1)")["error"] is None
    # ... and after resume the clock runs again: it does expire.
    time.sleep(left + 1.5)
    assert_error(alice.get(f"/v1/sandboxes/{sid}"), 404, "not_found")


def test_calls_on_a_paused_sandbox_are_409_and_pause_resume_are_idempotent(alice, sbx):
    pause(alice, sbx)
    pause(alice, sbx)  # again: 200, still paused
    for r in (alice.post(f"/v1/sandboxes/{sbx}/execute", {"code": "print(1)"}),
              alice.post(f"/v1/sandboxes/{sbx}/commands", {"cmd": "true"}),
              alice.get(f"/v1/sandboxes/{sbx}/files", params={"path": "/home/user"}),
              alice.put(f"/v1/sandboxes/{sbx}/files/content", params={"path": "a.txt"}, data=b"a"),
              alice.post(f"/v1/sandboxes/{sbx}/contexts", {"language": "python"})):
        err = assert_error(r, 409, "sandbox_paused")
        assert "resume" in err["message"], err
    # What does not need its processes still works.
    assert alice.get(f"/v1/sandboxes/{sbx}").json()["status"] == "paused"
    assert alice.post(f"/v1/sandboxes/{sbx}/timeout", {"timeout_s": 600}).status_code == 200
    err = assert_error(alice.post(f"/v1/sandboxes/{sbx}/pause", {"persist": True}), 409, "conflict")
    assert "gvisor" in err["message"], err
    assert_error(alice.post(f"/v1/sandboxes/{sbx}/pause", {"persist": "yes"}), 400, "bad_request")
    assert_error(alice.post(f"/v1/sandboxes/{sbx}/pause", {"disk": True}), 400, "bad_request")
    assert_error(alice.get(f"/v1/sandboxes/{sbx}/pause"), 405, "method_not_allowed")
    resume(alice, sbx)
    resume(alice, sbx)  # again: 200, still running
    assert alice.execute(sbx, "print(2)")["error"] is None


def test_auto_resume_resumes_on_the_next_call(alice):
    sb = alice.create_sandbox(auto_resume=True)
    assert sb["auto_resume"] is True
    sid = sb["id"]
    try:
        assert alice.execute(sid, "y = 'kept'")["error"] is None
        pause(alice, sid)
        res = alice.execute(sid, "print(y)")
        assert out(res).strip() == "kept", res
        assert alice.get(f"/v1/sandboxes/{sid}").json()["status"] == "running"
        assert_error(alice.post("/v1/sandboxes", {"auto_resume": 1}), 400, "bad_request")
    finally:
        alice.delete(f"/v1/sandboxes/{sid}")


def test_paused_time_is_not_active_time(pd):
    ws = uniq("pause")
    c = Client(pd, create_key(pd.data_dir, ws)[0])
    sid = c.create_sandbox()["id"]
    try:
        assert c.execute(sid, "import time")["error"] is None
        before = c.get(f"/v1/sandboxes/{sid}").json()["usage"]["active_ms"]
        # A run that spans a 2 s pause: 0.6 s of sleep, paused 0.3 s in.
        done = {}
        t = threading.Thread(target=lambda: done.update(
            r=c.post(f"/v1/sandboxes/{sid}/execute", {"code": "time.sleep(0.6); print('ok')"})))
        t.start()
        time.sleep(0.3)
        pause(c, sid)
        time.sleep(2.0)
        resume(c, sid)
        t.join(30)
        assert done["r"].status_code == 200 and out(done["r"].json()).strip() == "ok", done
        active = c.get(f"/v1/sandboxes/{sid}").json()["usage"]["active_ms"] - before
        # Wall time of the run is > 2.3 s; active is what ran before the pause
        # (~0.3 s) plus the rest after it (the sleep's deadline passed while
        # frozen, so it returns at once).
        assert 150 <= active < 1500, f"active_ms grew by {active} for a run paused 2 s"
        u = c.usage()
        assert u["active_seconds"] < 1.5 + before / 1000, u
    finally:
        c.delete(f"/v1/sandboxes/{sid}")


def test_another_workspaces_sandbox_is_404(pd, alice, sbx):
    bob = Client(pd, pd.keys["beta"])
    for action in ("pause", "resume"):
        assert_error(bob.post(f"/v1/sandboxes/{sbx}/{action}"), 404, "not_found")
    assert alice.get(f"/v1/sandboxes/{sbx}").json()["status"] == "running"
    pause(alice, sbx)
    assert_error(bob.post(f"/v1/sandboxes/{sbx}/resume"), 404, "not_found")
    assert alice.get(f"/v1/sandboxes/{sbx}").json()["status"] == "paused"
    assert_error(alice.post("/v1/sandboxes/sbx_nope/pause"), 404, "not_found")


# -- nothing left behind (own daemons, so the uid range is only theirs) ------------------

def wait_clean(d, timeout=5.0):
    deadline = time.time() + timeout
    while True:
        left = daemon_leftovers(d)
        if left == ([], []) or time.time() > deadline:
            return left
        time.sleep(0.05)


def paused_busy_sandbox(d):
    sid = d.create_sandbox()["id"]
    assert d.execute(sid, "z = 1")["error"] is None
    r = d.post(f"/v1/sandboxes/{sid}/commands", {"cmd": BUSY_LOOP, "background": True})
    assert r.status_code == 201, r.text
    pause(d, sid)
    assert freezer_state(d, sid) == "FROZEN"
    procs, cgroups = daemon_leftovers(d)
    assert procs and any(c.startswith("/sys/fs/cgroup/freezer/") for c in cgroups), cgroups
    return sid


def test_delete_while_paused_leaves_nothing(fresh_daemon):
    d = fresh_daemon(pool_size=0)
    sid = paused_busy_sandbox(d)
    t0 = time.time()
    r = d.delete(f"/v1/sandboxes/{sid}")
    assert r.status_code == 204, r.text
    assert time.time() - t0 < 3, "deleting a paused sandbox waited for a timeout"
    assert wait_clean(d) == ([], [])
    assert_error(d.get(f"/v1/sandboxes/{sid}"), 404, "not_found")


def test_shutdown_with_a_paused_sandbox_leaves_nothing(fresh_daemon):
    d = fresh_daemon(pool_size=0)
    paused_busy_sandbox(d)
    t0 = time.time()
    d.stop(signal.SIGTERM)
    assert time.time() - t0 < 10
    assert wait_clean(d) == ([], [])


def test_kill_9_with_a_paused_sandbox_then_restart_cleans_up(fresh_daemon):
    d = fresh_daemon(pool_size=0)
    paused_busy_sandbox(d)
    # The crash leaves the sandbox frozen (its SIGKILL from PDEATHSIG stays
    # pending); start-up cleanup must thaw and kill it.
    d.restart(signal.SIGKILL)
    assert wait_clean(d) == ([], [])
