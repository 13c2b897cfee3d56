"""Unknown fields in a request body answer 400 naming the field: a client
that asks for a protection or a limit kilnd does not have (say
{"runtime": "gvisor"}) must never silently not get it."""
import pytest


def unknown(r, field):
    assert r.status_code == 400, (r.status_code, r.text)
    err = r.json()["error"]
    assert err["code"] == "bad_request"
    assert f"unknown field '{field}'" in err["message"], err
    return err


def test_create_with_an_unknown_field_is_refused_and_makes_nothing(kilnd):
    before = len(kilnd.get("/v1/sandboxes").json()["sandboxes"])
    err = unknown(kilnd.post("/v1/sandboxes", {"runtime": "gvisor"}), "runtime")
    assert "limits" in err["message"]  # the known fields are listed
    assert len(kilnd.get("/v1/sandboxes").json()["sandboxes"]) == before
    # Control: the known fields are accepted.
    r = kilnd.post("/v1/sandboxes", {"timeout_s": 60, "metadata": {"a": "b"}})
    assert r.status_code == 201, r.text
    kilnd.delete(f"/v1/sandboxes/{r.json()['id']}")


@pytest.mark.parametrize("path,body,field", [
    ("/timeout", {"timeout_s": 60, "ttl": 5}, "ttl"),
    ("/contexts", {"language": "python", "gpu": True}, "gpu"),
    ("/execute", {"code": "1", "memory_mb": 4096}, "memory_mb"),
    ("/execute", {"code": "1", "Language": "python"}, "Language"),
    ("/commands", {"cmd": "true", "user": "root"}, "user"),
    ("/files/mkdir", {"path": "/tmp/x", "mode": "0777"}, "mode"),
    ("/upload", {"drive_path": "/a", "sandbox_path": "a", "overwrite": True}, "overwrite"),
    ("/download", {"drive_path": "/a", "sandbox_path": "a", "force": True}, "force"),
])
def test_sandbox_routes_refuse_unknown_fields(kilnd, sandbox, path, body, field):
    unknown(kilnd.post(f"/v1/sandboxes/{sandbox['id']}{path}", body), field)


def test_execute_refused_for_a_field_runs_nothing(kilnd, sandbox):
    r = kilnd.post(f"/v1/sandboxes/{sandbox['id']}/execute",
                   {"code": "open('/tmp/ran', 'w').write('1')", "network": "internet"})
    unknown(r, "network")
    probe = kilnd.execute(sandbox["id"], "import os\nos.path.exists('/tmp/ran')")
    assert probe["results"][0]["text"] == "False", probe


@pytest.mark.parametrize("path,body,field", [
    ("/v1/validate", {"code": "1", "strict": True}, "strict"),
    ("/v1/test", {"code": "1", "tests": [{"call": "1", "expected": 1}], "seed": 3}, "seed"),
    ("/v1/test", {"code": "1", "tests": [{"call": "1", "expected": 1, "tolerance": 0.1}]},
     "tests[].tolerance"),
    ("/v1/actions", {"action": "executeCode", "arguments": {"code": "1"}, "mode": "x"}, "mode"),
    ("/v1/actions", {"action": "executeCode", "arguments": {"code": "1", "timeout": 9}},
     "arguments.timeout"),
    ("/v1/actions", {"action": "processFile",
                     "arguments": {"operation": "analyze", "sheet": "A"}}, "arguments.sheet"),
])
def test_top_level_routes_refuse_unknown_fields(kilnd, path, body, field):
    unknown(kilnd.post(path, body), field)
