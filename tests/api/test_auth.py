"""API keys, workspaces and turn sessions (API.md "Conventions" and "Sandboxes").

Another workspace's sandbox, Drive file or usage answers 404 (never 403,
never the data); a missing, unknown or revoked key answers 401.
"""
import socket
import subprocess
import tempfile
import time

import pytest
import requests

from conftest import KILND, cgroup_parent_name, free_port, uid_base
from helpers import assert_error
from workflow_helpers import (Client, create_key, revoke_key, start_daemon, stop_daemon, uniq,
                              utc_today)


@pytest.fixture(scope="module")
def authd():
    d = start_daemon(pool_size=2)
    d.keys = {}
    for ws in ("alpha", "beta"):
        d.keys[ws] = create_key(d.data_dir, ws)
    yield d
    stop_daemon(d)


@pytest.fixture(scope="module")
def alice(authd):
    return Client(authd, authd.keys["alpha"][0])


@pytest.fixture(scope="module")
def bob(authd):
    return Client(authd, authd.keys["beta"][0])


# -- keys and the auth switch ------------------------------------------------------

def test_auth_off_until_a_key_exists_and_revoking_keeps_it_on(fresh_daemon):
    d = fresh_daemon(pool_size=0)
    # No key ever created on a loopback listener: auth is off.
    r = d.get("/v1/sandboxes")
    assert r.status_code == 200, r.text
    assert "auth=off" in d.read_log()
    key, key_id = create_key(d.data_dir, "solo")
    # Now a key exists (created while the daemon runs): every call needs one.
    assert_error(d.get("/v1/sandboxes"), 401, "unauthorized")
    r = d.get("/v1/sandboxes", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    assert r.json() == {"sandboxes": []}
    revoke_key(d.data_dir, key_id)
    listed = subprocess.run([KILND, "keys", "list", "--data-dir", d.data_dir],
                            capture_output=True, text=True, timeout=30)
    assert listed.returncode == 0, listed.stderr
    assert key_id in listed.stdout and "revoked" in listed.stdout, listed.stdout
    assert key not in listed.stdout  # only the hash is stored, the key is never shown again
    # Revoked: 401. Revoking the last key does NOT turn auth off again.
    assert_error(d.get("/v1/sandboxes", headers={"Authorization": f"Bearer {key}"}),
                 401, "unauthorized")
    assert_error(d.get("/v1/sandboxes", headers={"X-API-Key": key}), 401, "unauthorized")
    assert_error(d.get("/v1/sandboxes"), 401, "unauthorized")
    assert_error(d.post("/v1/sandboxes", {}), 401, "unauthorized")
    assert_error(d.get("/v1/drive", params={"prefix": "/"}), 401, "unauthorized")
    # A daemon restarted on that data dir starts with auth on too.
    d.stop()
    d.start()
    assert_error(d.get("/v1/sandboxes"), 401, "unauthorized")


def test_missing_and_bad_keys_are_401(authd, alice):
    paths = [("GET", "/v1/sandboxes"), ("POST", "/v1/sandboxes"), ("GET", "/v1/drive"),
             ("GET", "/v1/usage"), ("GET", "/v1/skills"), ("POST", "/v1/validate"),
             ("POST", "/v1/actions"), ("GET", "/metrics")]
    before = alice.get("/v1/sandboxes").json()["sandboxes"]
    bad = [{}, {"Authorization": "Bearer "}, {"Authorization": "Bearer kiln_not_a_real_key"},
           {"X-API-Key": "nope"}, {"Authorization": "Basic " + alice.key},
           {"Authorization": "Bearer " + alice.key[:-1]},
           {"Authorization": "Bearer " + alice.key + "x"}]
    for method, path in paths:
        for h in bad:
            r = authd.req(method, path, headers=h, json={})
            assert_error(r, 401, "unauthorized")
    # None of those POSTs created a sandbox.
    assert alice.get("/v1/sandboxes").json()["sandboxes"] == before


def test_revoking_one_key_leaves_the_others(authd, alice):
    key2, id2 = create_key(authd.data_dir, "alpha")
    second = Client(authd, key2, style="x-api-key")
    assert second.usage()["workspace"] == "alpha"
    revoke_key(authd.data_dir, id2)
    for style in ("bearer", "x-api-key"):
        err = assert_error(Client(authd, key2, style=style).get("/v1/sandboxes"), 401,
                           "unauthorized")
        assert key2 not in err["message"]
    # The workspace's other key still works.
    assert alice.get("/v1/sandboxes").status_code == 200


def test_bearer_and_x_api_key_both_work(authd, alice):
    for headers in ({"Authorization": f"Bearer {alice.key}"}, {"X-API-Key": alice.key}):
        r = authd.get("/v1/sandboxes", headers=headers)
        assert r.status_code == 200, r.text
        assert isinstance(r.json()["sandboxes"], list)
        r = authd.get("/v1/usage", headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["workspace"] == "alpha"


def test_healthz_needs_no_key(authd):
    r = requests.get(authd.url + "/healthz", timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok" and isinstance(body["version"], str)


def test_non_loopback_listen_without_keys_refuses_to_start():
    data = tempfile.mkdtemp(prefix="kiln-test-data-")
    port = free_port()
    p = subprocess.run(
        [KILND, "--listen", f"0.0.0.0:{port}", "--data-dir", data, "--pool-size", "0",
         "--uid-base", str(uid_base("api-auth", 0)),
         "--cgroup-parent", cgroup_parent_name("api-auth", 0)],
        capture_output=True, text=True, timeout=20)
    assert p.returncode != 0
    text = p.stdout + p.stderr
    assert "no API keys" in text, text
    assert "keys create" in text, text
    # It never listened.
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0


# -- cross-workspace isolation ---------------------------------------------------------

def test_another_workspaces_sandbox_is_404(authd, alice, bob):
    sb = alice.create_sandbox()
    sid = sb["id"]
    try:
        alice.execute(sid, "open('/home/user/secret.txt','w').write('alpha-secret')")
        attempts = [
            bob.get(f"/v1/sandboxes/{sid}"),
            bob.post(f"/v1/sandboxes/{sid}/execute", {"code": "print(1)"}),
            bob.post(f"/v1/sandboxes/{sid}/commands", {"cmd": "cat /home/user/secret.txt"}),
            bob.get(f"/v1/sandboxes/{sid}/files", params={"path": "/home/user"}),
            bob.get(f"/v1/sandboxes/{sid}/files/content", params={"path": "/home/user/secret.txt"}),
            bob.put(f"/v1/sandboxes/{sid}/files/content", params={"path": "x.txt"}, data=b"x"),
            bob.get(f"/v1/sandboxes/{sid}/contexts"),
            bob.post(f"/v1/sandboxes/{sid}/timeout", {"timeout_s": 600}),
            bob.post(f"/v1/sandboxes/{sid}/upload",
                     {"drive_path": "/x.txt", "sandbox_path": "/home/user/x.txt"}),
            bob.post(f"/v1/sandboxes/{sid}/download",
                     {"sandbox_path": "/home/user/secret.txt", "drive_path": "/stolen.txt"}),
            bob.delete(f"/v1/sandboxes/{sid}"),
        ]
        for r in attempts:
            assert_error(r, 404, "not_found")
            assert "alpha-secret" not in r.text
        assert sid not in [s["id"] for s in bob.get("/v1/sandboxes").json()["sandboxes"]]
        assert bob.drive_get("/stolen.txt").status_code == 404
        # Still alive and intact for its owner.
        r = alice.get(f"/v1/sandboxes/{sid}")
        assert r.status_code == 200, r.text
        assert sid in [s["id"] for s in alice.get("/v1/sandboxes").json()["sandboxes"]]
        r = alice.get(f"/v1/sandboxes/{sid}/files/content", params={"path": "/home/user/secret.txt"})
        assert r.status_code == 200 and r.content == b"alpha-secret"
    finally:
        assert alice.delete(f"/v1/sandboxes/{sid}").status_code == 204


def test_another_workspaces_drive_file_is_404(alice, bob):
    path = f"/{uniq('priv')}/secret.csv"
    r = alice.drive_put(path, b"a,b\n1,2\n")
    assert r.status_code == 201, r.text
    assert_error(bob.drive_get(path), 404, "not_found")
    assert_error(bob.drive_delete(path), 404, "not_found")
    assert all(f["path"] != path for f in bob.drive_list("/").json()["files"])
    assert bob.drive_list(path.rsplit("/", 1)[0]).json() == {"files": []}
    # Bob's namespace is his own: the same path without replace is not a conflict.
    r = bob.drive_put(path, b"bob\n")
    assert r.status_code == 201, r.text
    assert bob.drive_get(path).content == b"bob\n"
    # Alice's file is unchanged and still hers.
    r = alice.drive_get(path)
    assert r.status_code == 200 and r.content == b"a,b\n1,2\n"
    assert [f["path"] for f in alice.drive_list(path.rsplit("/", 1)[0]).json()["files"]] == [path]
    assert alice.drive_delete(path).status_code == 204
    assert bob.drive_get(path).content == b"bob\n"
    assert bob.drive_delete(path).status_code == 204


def test_usage_is_per_workspace(authd):
    # Two fresh workspaces so earlier tests' numbers do not mix in.
    ka, _ = create_key(authd.data_dir, "usage-a")
    kb, _ = create_key(authd.data_dir, "usage-b")
    a, b = Client(authd, ka), Client(authd, kb, style="x-api-key")
    assert a.usage()["executions"] == 0 and b.usage()["executions"] == 0
    sa = a.create_sandbox()["id"]
    for _ in range(3):
        a.execute(sa, "1 + 1")
    sb1 = b.create_sandbox()["id"]
    sb2 = b.create_sandbox()["id"]
    b.execute(sb1, "2 + 2")
    ua, ub = a.usage(), b.usage()
    assert ua["workspace"] == "usage-a" and ub["workspace"] == "usage-b"
    assert (ua["executions"], ua["sandboxes"]) == (3, 1), ua
    assert (ub["executions"], ub["sandboxes"]) == (1, 2), ub
    assert [d["date"] for d in ua["by_day"]] == [utc_today()]
    assert ua["by_day"][0]["executions"] == 3 and ub["by_day"][0]["executions"] == 1
    for c, sid in ((a, sa), (b, sb1), (b, sb2)):
        assert c.delete(f"/v1/sandboxes/{sid}").status_code == 204


# -- turn sessions -------------------------------------------------------------------------

def test_session_is_get_or_create(alice):
    name = uniq("turn")
    r1 = alice.post("/v1/sandboxes", {"session": name})
    assert r1.status_code == 201, r1.text
    first = r1.json()
    assert first["session"] == name and first["status"] == "running"
    try:
        alice.execute(first["id"], "turn_state = 'kept'")
        r2 = alice.post("/v1/sandboxes", {"session": name})
        assert r2.status_code == 200, r2.text
        assert r2.json()["id"] == first["id"]
        assert alice.execute(first["id"], "turn_state")["results"][0]["text"] == "'kept'"
        # Another session name gets another sandbox.
        r3 = alice.post("/v1/sandboxes", {"session": name + "-other"})
        assert r3.status_code == 201, r3.text
        assert r3.json()["id"] != first["id"]
        assert alice.delete(f"/v1/sandboxes/{r3.json()['id']}").status_code == 204
    finally:
        alice.delete(f"/v1/sandboxes/{first['id']}")


def test_session_names_are_per_workspace(alice, bob):
    name = uniq("shared-name")
    ra = alice.post("/v1/sandboxes", {"session": name})
    rb = bob.post("/v1/sandboxes", {"session": name})
    assert ra.status_code == 201, ra.text
    assert rb.status_code == 201, rb.text
    ida, idb = ra.json()["id"], rb.json()["id"]
    try:
        assert ida != idb
        alice.execute(ida, "open('/home/user/who.txt','w').write('alpha')")
        # Bob's get-or-create returns Bob's sandbox, which never saw Alice's file.
        rb2 = bob.post("/v1/sandboxes", {"session": name})
        assert rb2.status_code == 200 and rb2.json()["id"] == idb
        r = bob.get(f"/v1/sandboxes/{idb}/files/content", params={"path": "/home/user/who.txt"})
        assert r.status_code == 404, r.text
        ra2 = alice.post("/v1/sandboxes", {"session": name})
        assert ra2.status_code == 200 and ra2.json()["id"] == ida
    finally:
        alice.delete(f"/v1/sandboxes/{ida}")
        bob.delete(f"/v1/sandboxes/{idb}")


def test_deleting_the_session_ends_it(alice):
    name = uniq("turn-end")
    sid = alice.post("/v1/sandboxes", {"session": name}).json()["id"]
    alice.execute(sid, "open('/home/user/turn.txt','w').write('turn-1')\nturn_var = 1")
    assert alice.delete(f"/v1/sandboxes/{sid}").status_code == 204
    assert_error(alice.get(f"/v1/sandboxes/{sid}"), 404, "not_found")
    r = alice.post("/v1/sandboxes", {"session": name})
    assert r.status_code == 201, r.text  # created anew, not the old one
    new = r.json()["id"]
    try:
        assert new != sid
        r = alice.get(f"/v1/sandboxes/{new}/files/content", params={"path": "/home/user/turn.txt"})
        assert r.status_code == 404, r.text
        res = alice.execute(new, "'turn_var' in globals()")
        assert res["results"][0]["text"] == "False"
    finally:
        alice.delete(f"/v1/sandboxes/{new}")


def test_session_past_its_timeout_is_replaced(alice):
    name = uniq("turn-idle")
    r = alice.post("/v1/sandboxes", {"session": name, "timeout_s": 1})
    assert r.status_code == 201, r.text
    old = r.json()["id"]
    time.sleep(1.6)
    r = alice.post("/v1/sandboxes", {"session": name})
    assert r.status_code == 201, r.text  # a new sandbox, not the expired one
    new = r.json()["id"]
    try:
        assert new != old
        assert_error(alice.get(f"/v1/sandboxes/{old}"), 404, "not_found")
    finally:
        alice.delete(f"/v1/sandboxes/{new}")
