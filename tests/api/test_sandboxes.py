"""Sandboxes, /healthz and /metrics (API.md: Conventions, Sandboxes, Usage and operations)."""
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from helpers import assert_error, parse_time

SANDBOX_KEYS = {"id", "status", "template", "session", "created_at", "expires_at", "limits",
                "metadata"}
DEFAULT_LIMITS = {"memory_mb": 512, "cpus": 1, "pids": 256, "disk_mb": 1024, "exec_timeout_s": 60}


@pytest.fixture
def cleanup(kilnd):
    """Collects sandbox ids and deletes them after the test."""
    ids = []
    yield ids
    for sid in ids:
        kilnd.delete(f"/v1/sandboxes/{sid}")


def create(kilnd, cleanup, body=None, status=201):
    r = kilnd.post("/v1/sandboxes", body or {})
    assert r.status_code == status, (r.status_code, r.text)
    sb = r.json()
    cleanup.append(sb["id"])
    return sb


# -- create ------------------------------------------------------------------

def test_create_returns_201_with_full_shape(kilnd, cleanup):
    before = datetime.now(timezone.utc)
    sb = create(kilnd, cleanup, {"metadata": {"user": "u1", "turn": "7"}})
    assert SANDBOX_KEYS <= set(sb), sb
    assert sb["id"].startswith("sbx_") and len(sb["id"]) > len("sbx_")
    assert sb["status"] == "running"
    assert sb["template"] == "default"
    assert sb["session"] is None
    assert sb["metadata"] == {"user": "u1", "turn": "7"}
    assert sb["limits"] == DEFAULT_LIMITS
    created = parse_time(sb["created_at"])
    expires = parse_time(sb["expires_at"])
    assert created.utcoffset() == timedelta(0) and expires.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=5) <= created <= datetime.now(timezone.utc) + timedelta(seconds=5)
    # Default lifetime is 300 s.
    assert abs((expires - created).total_seconds() - 300) <= 2, (created, expires)


def test_create_with_no_body_uses_defaults(kilnd, cleanup):
    r = kilnd.req("POST", "/v1/sandboxes")
    assert r.status_code == 201, r.text
    sb = r.json()
    cleanup.append(sb["id"])
    assert sb["limits"] == DEFAULT_LIMITS
    assert sb["metadata"] in ({}, None)


def test_create_honours_limits_and_timeout(kilnd, cleanup):
    limits = {"memory_mb": 256, "cpus": 0.5, "pids": 128, "disk_mb": 512, "exec_timeout_s": 30}
    sb = create(kilnd, cleanup, {"limits": limits, "timeout_s": 120})
    assert sb["limits"] == limits
    lifetime = (parse_time(sb["expires_at"]) - parse_time(sb["created_at"])).total_seconds()
    assert abs(lifetime - 120) <= 2


def test_partial_limits_keep_other_defaults(kilnd, cleanup):
    sb = create(kilnd, cleanup, {"limits": {"memory_mb": 256}})
    assert sb["limits"] == dict(DEFAULT_LIMITS, memory_mb=256)


def test_sandbox_env_is_visible_to_code_and_commands(kilnd, cleanup):
    sb = create(kilnd, cleanup, {"env": {"KILN_TEST_VAR": "hello-env"}})
    res = kilnd.execute(sb["id"], "import os\nos.environ.get('KILN_TEST_VAR')")
    assert res["results"][0]["text"] == "'hello-env'"
    assert kilnd.run(sb["id"], "echo $KILN_TEST_VAR")["stdout"] == "hello-env\n"


# -- list / get / delete -----------------------------------------------------

def test_list_contains_created_sandbox(kilnd, cleanup):
    sb = create(kilnd, cleanup, {"metadata": {"k": "list"}})
    r = kilnd.get("/v1/sandboxes")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"sandboxes"}
    assert isinstance(body["sandboxes"], list)
    mine = [s for s in body["sandboxes"] if s["id"] == sb["id"]]
    assert len(mine) == 1
    assert SANDBOX_KEYS <= set(mine[0])
    assert mine[0]["metadata"] == {"k": "list"}
    assert mine[0]["status"] == "running"


def test_get_has_usage_and_executions_increment(kilnd, cleanup):
    sb = create(kilnd, cleanup)
    sid = sb["id"]
    r = kilnd.get(f"/v1/sandboxes/{sid}")
    assert r.status_code == 200
    got = r.json()
    for k in SANDBOX_KEYS:
        assert got[k] == sb[k], k
    usage = got["usage"]
    assert set(usage) >= {"active_ms", "cpu_ms", "memory_peak_bytes", "executions"}
    for k in ("active_ms", "cpu_ms", "memory_peak_bytes", "executions"):
        assert isinstance(usage[k], int) and usage[k] >= 0, usage
    before = usage["executions"]

    kilnd.execute(sid, "sum(range(10))")
    usage1 = kilnd.get(f"/v1/sandboxes/{sid}").json()["usage"]
    assert usage1["executions"] == before + 1
    kilnd.execute(sid, "x = [i * i for i in range(200000)]\nlen(x)")
    usage2 = kilnd.get(f"/v1/sandboxes/{sid}").json()["usage"]
    assert usage2["executions"] == before + 2
    assert usage2["cpu_ms"] >= usage1["cpu_ms"]
    assert usage2["active_ms"] >= usage1["active_ms"]
    assert usage2["memory_peak_bytes"] > 0


def test_active_ms_counts_running_code(kilnd, cleanup):
    sid = create(kilnd, cleanup)["id"]
    kilnd.execute(sid, "import time\ntime.sleep(0.5)")
    usage = kilnd.get(f"/v1/sandboxes/{sid}").json()["usage"]
    assert usage["active_ms"] >= 400, usage


def test_delete_then_get_and_execute_are_404(kilnd, cleanup):
    sid = create(kilnd, cleanup)["id"]
    kilnd.execute(sid, "1")
    r = kilnd.delete(f"/v1/sandboxes/{sid}")
    assert r.status_code == 204
    assert r.content == b""
    assert_error(kilnd.get(f"/v1/sandboxes/{sid}"), 404, "not_found")
    assert_error(kilnd.post(f"/v1/sandboxes/{sid}/execute", {"code": "1"}), 404, "not_found")
    assert_error(kilnd.post(f"/v1/sandboxes/{sid}/commands", {"cmd": "true"}), 404, "not_found")
    assert_error(kilnd.delete(f"/v1/sandboxes/{sid}"), 404, "not_found")
    ids = [s["id"] for s in kilnd.get("/v1/sandboxes").json()["sandboxes"]]
    assert sid not in ids


def test_unknown_sandbox_is_404_with_error_shape(kilnd):
    err = assert_error(kilnd.get("/v1/sandboxes/sbx_doesnotexist"), 404, "not_found")
    assert "sbx_doesnotexist" in err["message"]
    assert_error(kilnd.delete("/v1/sandboxes/sbx_doesnotexist"), 404, "not_found")
    assert_error(kilnd.post("/v1/sandboxes/sbx_doesnotexist/execute", {"code": "1"}), 404,
                 "not_found")
    assert_error(kilnd.post("/v1/sandboxes/sbx_doesnotexist/timeout", {"timeout_s": 60}), 404,
                 "not_found")


def test_unknown_route_is_404(kilnd):
    assert_error(kilnd.get("/v1/nothing-here"), 404, "not_found")
    assert_error(kilnd.get("/definitely/not/a/route"), 404, "not_found")


# -- sessions ----------------------------------------------------------------

def test_session_get_or_create(kilnd, cleanup):
    key = "turn-" + uuid.uuid4().hex[:8]
    first = create(kilnd, cleanup, {"session": key}, status=201)
    assert first["session"] == key
    again = create(kilnd, cleanup, {"session": key}, status=200)
    assert again["id"] == first["id"]
    assert again["session"] == key
    other = create(kilnd, cleanup, {"session": key + "-b"}, status=201)
    assert other["id"] != first["id"]
    assert other["session"] == key + "-b"
    # No session → always a new sandbox.
    plain = create(kilnd, cleanup, status=201)
    assert plain["id"] not in (first["id"], other["id"])


def test_session_after_delete_creates_new(kilnd, cleanup):
    key = "turn-" + uuid.uuid4().hex[:8]
    first = create(kilnd, cleanup, {"session": key})
    assert kilnd.delete(f"/v1/sandboxes/{first['id']}").status_code == 204
    second = create(kilnd, cleanup, {"session": key}, status=201)
    assert second["id"] != first["id"]


# -- timeout / expiry --------------------------------------------------------

def test_timeout_extends_expires_at(kilnd, cleanup):
    sb = create(kilnd, cleanup, {"timeout_s": 60})
    old = parse_time(sb["expires_at"])
    r = kilnd.post(f"/v1/sandboxes/{sb['id']}/timeout", {"timeout_s": 600})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["id"] == sb["id"]
    assert SANDBOX_KEYS <= set(got)
    new = parse_time(got["expires_at"])
    assert new > old + timedelta(seconds=500)
    assert abs((new - datetime.now(timezone.utc)).total_seconds() - 600) <= 5
    assert kilnd.get(f"/v1/sandboxes/{sb['id']}").json()["expires_at"] == got["expires_at"]


def test_timeout_bad_input(kilnd, cleanup):
    sid = create(kilnd, cleanup)["id"]
    assert_error(kilnd.post(f"/v1/sandboxes/{sid}/timeout", {"timeout_s": -5}), 400, "bad_request")
    assert_error(kilnd.post(f"/v1/sandboxes/{sid}/timeout", {"timeout_s": "x"}), 400,
                 "bad_request")


def test_sandbox_expires_and_calls_do_not_extend_it(kilnd, cleanup):
    sb = create(kilnd, cleanup, {"timeout_s": 2})
    sid = sb["id"]
    expires = parse_time(sb["expires_at"])
    assert abs((expires - parse_time(sb["created_at"])).total_seconds() - 2) <= 1
    t0 = time.monotonic()
    # Calls during its lifetime must not move expires_at.
    kilnd.execute(sid, "1")
    kilnd.run(sid, "true")
    got = kilnd.get(f"/v1/sandboxes/{sid}").json()
    assert parse_time(got["expires_at"]) == expires
    # Keep poking it; it must be gone within a few seconds of expiry.
    deadline = t0 + 6
    status = None
    while time.monotonic() < deadline:
        status = kilnd.get(f"/v1/sandboxes/{sid}").status_code
        if status == 404:
            break
        time.sleep(0.2)
    assert status == 404, "sandbox with timeout_s=2 still alive after 6 s"
    assert_error(kilnd.get(f"/v1/sandboxes/{sid}"), 404, "not_found")
    assert_error(kilnd.post(f"/v1/sandboxes/{sid}/execute", {"code": "1"}), 404, "not_found")
    assert_error(kilnd.post(f"/v1/sandboxes/{sid}/timeout", {"timeout_s": 600}), 404, "not_found")
    assert sid not in [s["id"] for s in kilnd.get("/v1/sandboxes").json()["sandboxes"]]


def test_expired_sandbox_cannot_be_revived_by_timeout_call(kilnd, cleanup):
    """Past expires_at the sandbox is gone even if the reaper has not run yet."""
    sid = create(kilnd, cleanup, {"timeout_s": 1})["id"]
    time.sleep(1.3)
    assert_error(kilnd.post(f"/v1/sandboxes/{sid}/timeout", {"timeout_s": 600}), 404, "not_found")
    assert_error(kilnd.get(f"/v1/sandboxes/{sid}"), 404, "not_found")


def test_daemon_default_sandbox_timeout(fresh_daemon):
    d = fresh_daemon("--sandbox-timeout-s", "2", pool_size=0)
    sb = d.create_sandbox()
    lifetime = (parse_time(sb["expires_at"]) - parse_time(sb["created_at"])).total_seconds()
    assert abs(lifetime - 2) <= 1
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        # Executing keeps it busy but must not keep it alive.
        r = d.post(f"/v1/sandboxes/{sb['id']}/execute", {"code": "1"})
        if r.status_code == 404:
            break
        assert r.status_code == 200, r.text
        time.sleep(0.2)
    assert_error(d.get(f"/v1/sandboxes/{sb['id']}"), 404, "not_found")
    # The TTL sweeper ends it (it runs periodically); the metrics show it soon.
    deadline = time.monotonic() + 3
    while True:
        m = metric_values(d.get("/metrics").text)
        if m.get("kiln_sandboxes_expired_total") == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert m["kiln_sandboxes_expired_total"] == 1, m
    assert m["kiln_sandboxes_live"] == 0, m


# -- bad input ---------------------------------------------------------------

@pytest.mark.parametrize("body", [
    [],
    ["template", "default"],
    "just a string",
    42,
    {"limits": {"memory_mb": 1}},
    {"limits": {"memory_mb": 999999}},
    {"limits": {"cpus": 0}},
    {"limits": {"pids": 0}},
    {"limits": {"exec_timeout_s": 0}},
    {"limits": {"bogus": 1}},
    {"limits": {"memory_mb": "512"}},
    {"limits": "big"},
    {"timeout_s": -1},
    {"timeout_s": "300"},
    {"network": "host"},
    {"env": {"K": 1}},
    {"env": {"K": None}},
    {"env": ["K=V"]},
    {"metadata": "x"},
    {"session": 5},
], ids=lambda b: repr(b)[:40])
def test_create_bad_input_is_400(kilnd, body):
    before = {s["id"] for s in kilnd.get("/v1/sandboxes").json()["sandboxes"]}
    r = kilnd.post("/v1/sandboxes", body)
    if r.status_code in (200, 201):  # do not leak a sandbox if the daemon accepts it
        kilnd.delete(f"/v1/sandboxes/{r.json()['id']}")
    assert_error(r, 400, "bad_request")
    after = {s["id"] for s in kilnd.get("/v1/sandboxes").json()["sandboxes"]}
    assert after <= before


def test_create_non_json_body_is_400(kilnd):
    r = kilnd.req("POST", "/v1/sandboxes", data=b"{not json",
                  headers={"Content-Type": "application/json"})
    assert_error(r, 400, "bad_request")
    r = kilnd.req("POST", "/v1/sandboxes", data=b"\xff\xfe\x00garbage",
                  headers={"Content-Type": "application/json"})
    assert_error(r, 400, "bad_request")


# -- healthz / metrics -------------------------------------------------------

def test_healthz(kilnd):
    r = kilnd.get("/healthz")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"status", "version"}
    assert body["status"] == "ok"
    assert isinstance(body["version"], str) and body["version"]


def metric_values(text):
    values = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, value = line.rsplit(" ", 1)
        values[name] = float(value)
    return values


def test_metrics_prometheus_text(kilnd, cleanup):
    r = kilnd.get("/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    text = r.text
    assert "# TYPE kiln_sandboxes_live gauge" in text
    assert "# HELP kiln_sandboxes_live " in text
    before = metric_values(text)
    assert "kiln_sandboxes_live" in before
    create(kilnd, cleanup)
    create(kilnd, cleanup)
    after = metric_values(kilnd.get("/metrics").text)
    assert after["kiln_sandboxes_live"] >= 2
    # Two more live sandboxes (allowing for an earlier test's sandbox the sweeper ends meanwhile).
    assert before["kiln_sandboxes_live"] + 1 <= after["kiln_sandboxes_live"] \
        <= before["kiln_sandboxes_live"] + 2, (before, after)
