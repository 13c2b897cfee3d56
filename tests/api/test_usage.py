"""Usage metering (API.md "Usage and operations"): figures match what ran,
from/to filtering, credits with 402 quota_exceeded, and nothing lost or
double-counted across a daemon restart or a kill -9."""
import signal
import time
from datetime import datetime, timedelta, timezone

import pytest

from helpers import assert_error
from workflow_helpers import (Client, b64, create_key, set_credits, start_daemon, stop_daemon,
                              uniq, utc_today)

USAGE_KEYS = {"workspace", "sandboxes", "session_seconds", "active_seconds", "cpu_seconds",
              "executions", "credits", "by_day"}
DAY_KEYS = {"date", "sandboxes", "session_seconds", "active_seconds", "cpu_seconds",
            "executions"}


@pytest.fixture(scope="module")
def ud():
    d = start_daemon(pool_size=1)
    yield d
    stop_daemon(d)


def workspace_client(d, prefix="ws"):
    ws = uniq(prefix)
    key, _ = create_key(d.data_dir, ws)
    c = Client(d, key)
    c.workspace = ws
    return c


def check_shape(u, ws):
    assert set(u) == USAGE_KEYS, u
    assert u["workspace"] == ws
    for day in u["by_day"]:
        assert set(day) == DAY_KEYS, day
    # by_day adds up to the totals.
    for k in ("sandboxes", "executions"):
        assert sum(d[k] for d in u["by_day"]) == u[k]
    for k in ("session_seconds", "active_seconds", "cpu_seconds"):
        assert sum(d[k] for d in u["by_day"]) == pytest.approx(u[k], abs=0.01)


def zeros(u):
    return (u["sandboxes"], u["executions"], u["active_seconds"], u["session_seconds"],
            u["cpu_seconds"], u["by_day"]) == (0, 0, 0, 0, 0, [])


def test_usage_matches_what_ran(ud):
    c = workspace_client(ud, "run")
    u = c.usage()
    check_shape(u, c.workspace)
    assert zeros(u) and u["credits"] is None
    sid = c.create_sandbox()["id"]
    for _ in range(3):
        c.execute(sid, "import time\ntime.sleep(0.5)")
    u = c.usage()
    check_shape(u, c.workspace)
    assert u["executions"] == 3
    assert u["sandboxes"] == 1
    assert 1.5 - 0.01 <= u["active_seconds"] <= 1.5 + 1.0, u
    assert u["session_seconds"] >= u["active_seconds"]
    assert 0 <= u["cpu_seconds"] < 1.0, u  # sleeping burns no CPU
    assert [d["date"] for d in u["by_day"]] == [utc_today()]
    assert u["by_day"][0]["executions"] == 3 and u["by_day"][0]["sandboxes"] == 1
    # The sandbox object carries the same figures.
    s = c.get(f"/v1/sandboxes/{sid}").json()["usage"]
    assert s["executions"] == 3
    assert s["active_ms"] == pytest.approx(u["active_seconds"] * 1000, abs=1)
    # A foreground command is active time too.
    c.run(sid, "sleep 0.5")
    u2 = c.usage()
    assert u2["executions"] == 4
    assert 0.5 - 0.01 <= u2["active_seconds"] - u["active_seconds"] <= 1.0
    # CPU time is measured: a busy loop shows up.
    res = c.execute(sid, "import time\nt = time.process_time()\n"
                         "while time.process_time() - t < 0.6: pass\n"
                         "time.process_time() - t")
    burned = float(res["results"][0]["text"])
    u3 = c.usage()
    assert u3["cpu_seconds"] - u2["cpu_seconds"] >= burned * 0.9, (burned, u2, u3)
    assert u3["executions"] == 5
    # After the sandbox ends its session time stops growing.
    assert c.delete(f"/v1/sandboxes/{sid}").status_code == 204
    a = c.usage()
    time.sleep(1.1)
    b = c.usage()
    assert a == b
    assert a["executions"] == 5 and a["sandboxes"] == 1
    assert a["session_seconds"] >= a["active_seconds"]


def test_a_second_sandbox_and_idle_time(ud):
    c = workspace_client(ud, "idle")
    s1 = c.create_sandbox()["id"]
    s2 = c.create_sandbox()["id"]
    time.sleep(1.0)  # idle: session time, not active time
    c.execute(s2, "1")
    u = c.usage()
    assert u["sandboxes"] == 2 and u["executions"] == 1
    assert u["active_seconds"] < 0.9, u
    assert u["session_seconds"] >= 2.0, u  # two sandboxes, each alive >= 1 s
    for s in (s1, s2):
        c.delete(f"/v1/sandboxes/{s}")


def test_from_to_filtering(ud):
    c = workspace_client(ud, "range")
    sid = c.create_sandbox()["id"]
    c.execute(sid, "import time\ntime.sleep(0.2)")
    c.delete(f"/v1/sandboxes/{sid}")
    full = c.usage()
    assert full["executions"] == 1 and full["sandboxes"] == 1
    now = datetime.now(timezone.utc)
    tomorrow = (now + timedelta(days=1)).strftime("%Y-%m-%d")
    yesterday = (now - timedelta(days=1)).strftime("%Y-%m-%d")
    for params in ({"from": tomorrow}, {"to": yesterday}, {"from": "2000-01-01", "to": "2000-01-02"},
                   {"from": (now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")}):
        u = c.usage(**params)
        check_shape(u, c.workspace)
        assert zeros(u), (params, u)
    for params in ({"from": utc_today()}, {"from": yesterday, "to": tomorrow},
                   {"from": (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "to": (now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")}):
        u = c.usage(**params)
        assert (u["executions"], u["sandboxes"]) == (1, 1), (params, u)
        assert u["active_seconds"] == full["active_seconds"]
    for params in ({"from": "yesterday"}, {"to": "2026-13-45"}, {"from": tomorrow, "to": yesterday}):
        assert_error(c.get("/v1/usage", params=params), 400, "bad_request")


def test_from_far_in_the_future_is_zeros(ud):
    """Only `from` given (more than a day ahead): the default `to` must not
    make that a 400; the answer is simply empty."""
    c = workspace_client(ud, "future")
    sid = c.create_sandbox()["id"]
    c.execute(sid, "1")
    c.delete(f"/v1/sandboxes/{sid}")
    for params in ({"from": "2099-01-01T00:00:00Z"}, {"from": "2099-01-01"},
                   {"from": (datetime.now(timezone.utc) + timedelta(days=3)).strftime("%Y-%m-%d")}):
        r = c.get("/v1/usage", params=params)
        assert r.status_code == 200, (params, r.text)
        assert zeros(r.json()), (params, r.json())


def test_execute_code_action_counts_one_execution(ud):
    """One executeCode action runs the caller's code once: one execution,
    not the daemon's own bookkeeping commands around it."""
    c = workspace_client(ud, "act")
    r = c.action("executeCode", code="import time\ntime.sleep(0.3)\n'done'",
                 fileBase64=b64(b"a\n1\n"), fileName="in.csv")
    assert r.status_code == 200, r.text
    u = c.usage()
    assert u["sandboxes"] == 1
    assert u["executions"] == 1, u
    assert 0.3 - 0.01 <= u["active_seconds"] <= 1.3


def test_credits_run_out_then_402(ud):
    c = workspace_client(ud, "credit")
    other = workspace_client(ud, "credit-other")
    out = set_credits(ud.data_dir, c.workspace, 1)
    assert c.workspace in out.stdout
    u = c.usage()
    assert u["credits"] == pytest.approx(1.0)
    sid = c.create_sandbox()["id"]
    osid = other.create_sandbox()["id"]
    try:
        res = c.execute(sid, "import time\ntime.sleep(1.5)\n'spent'")
        assert res["results"][0]["text"] == "'spent'"
        u = c.usage()
        assert u["credits"] <= 0, u
        # What is left: the balance minus the active time since it was set (never below 0).
        assert u["credits"] == pytest.approx(max(0.0, 1.0 - u["active_seconds"]), abs=0.01)
        err = assert_error(c.post(f"/v1/sandboxes/{sid}/execute", {"code": "1"}), 402,
                           "quota_exceeded")
        assert "credit" in err["message"]
        assert_error(c.post(f"/v1/sandboxes/{sid}/commands", {"cmd": "true"}), 402,
                     "quota_exceeded")
        assert_error(c.action("executeCode", code="1"), 402, "quota_exceeded")
        assert_error(c.action("processFile", operation="analyze", fileBase64=b64(b"a\n1\n"),
                              fileName="a.csv"), 402, "quota_exceeded")
        # Refused calls are not metered.
        assert c.usage()["executions"] == u["executions"] == 1
        # Another workspace has no credit limit.
        assert other.execute(osid, "2 + 2")["results"][0]["text"] == "4"
        assert other.usage()["credits"] is None
        # Topping up lets it run again.
        set_credits(ud.data_dir, c.workspace, 100)
        assert c.execute(sid, "3")["results"][0]["text"] == "3"
        assert c.usage()["credits"] == pytest.approx(100, abs=1)
    finally:
        c.delete(f"/v1/sandboxes/{sid}")
        other.delete(f"/v1/sandboxes/{osid}")


def test_credits_set_rejects_bad_values(ud):
    import subprocess
    from conftest import KILND
    p = subprocess.run([KILND, "credits", "set", "--data-dir", ud.data_dir, "--workspace", "w1",
                        "--seconds", "-5"], capture_output=True, text=True, timeout=30)
    assert p.returncode != 0


def _run_some(c, sid, n, sleep):
    for _ in range(n):
        c.execute(sid, f"import time\ntime.sleep({sleep})")


def test_usage_survives_a_restart_without_double_counting(fresh_daemon):
    d = fresh_daemon(pool_size=0)
    key, _ = create_key(d.data_dir, "restart")
    c = Client(d, key)
    sid = c.create_sandbox()["id"]
    _run_some(c, sid, 2, 0.3)
    c.run(sid, "sleep 0.2")
    before = c.usage()
    assert before["executions"] == 3 and before["sandboxes"] == 1
    d.stop(signal.SIGTERM)
    d.start()
    after = c.usage()
    assert (after["executions"], after["sandboxes"]) == (3, 1), after
    assert after["active_seconds"] == pytest.approx(before["active_seconds"], abs=0.01)
    assert after["cpu_seconds"] == pytest.approx(before["cpu_seconds"], abs=0.05)
    # The session ended at shutdown: a little longer than when read, never doubled.
    assert before["session_seconds"] - 0.01 <= after["session_seconds"] \
        <= before["session_seconds"] + 3, (before, after)
    assert_error(c.get(f"/v1/sandboxes/{sid}"), 404, "not_found")
    # A second restart changes nothing either.
    d.stop(signal.SIGTERM)
    d.start()
    again = c.usage()
    assert again == after
    # New work adds to the old totals.
    sid2 = c.create_sandbox()["id"]
    _run_some(c, sid2, 1, 0.2)
    more = c.usage()
    assert (more["executions"], more["sandboxes"]) == (4, 2)
    assert more["active_seconds"] >= after["active_seconds"] + 0.2 - 0.01


def test_usage_recorded_before_kill_9_is_kept(fresh_daemon):
    d = fresh_daemon(pool_size=0)
    key, _ = create_key(d.data_dir, "killed")
    c = Client(d, key)
    sid = c.create_sandbox()["id"]
    _run_some(c, sid, 2, 0.4)
    # No usage read before the kill: each execute must have been recorded on its own.
    d.stop(signal.SIGKILL)
    d.start()
    u = c.usage()
    assert (u["executions"], u["sandboxes"]) == (2, 1), u
    assert 0.8 - 0.01 <= u["active_seconds"] <= 1.8, u
    assert u["session_seconds"] >= u["active_seconds"]
    # The dangling sandbox was closed: its session time no longer grows.
    time.sleep(1.1)
    assert c.usage()["session_seconds"] == u["session_seconds"]
    assert_error(c.get(f"/v1/sandboxes/{sid}"), 404, "not_found")
