"""Drive (API.md "Drive"): put/get/list/delete, replace, scopes and their
expiry, type rules, the size cap, and transfers between Drive and a sandbox
(including a planted symlink that must not reach a host file)."""
import hashlib
import os
import tempfile
import time
from datetime import datetime, timezone

import pytest

from helpers import assert_error, parse_time
from workflow_helpers import Client, find_blob, host_file, start_daemon, stop_daemon, uniq

TEMP_TTL, SESSION_TTL, CAP = 2, 4, 1000


@pytest.fixture(scope="module")
def dr(kilnd):
    return Client(kilnd)  # the session daemon: loopback, no keys, workspace "default"


@pytest.fixture(scope="module")
def small():
    """Short TTLs and a 1000-byte file cap."""
    d = start_daemon("--drive-temporary-ttl-s", str(TEMP_TTL), "--drive-session-ttl-s",
                     str(SESSION_TTL), "--file-cap-bytes", str(CAP), pool_size=1)
    yield d
    stop_daemon(d)


def sha(b):
    return hashlib.sha256(b).hexdigest()


FILE_KEYS = {"path", "size", "scope", "created_at", "expires_at", "sha256"}


# -- basic operations ---------------------------------------------------------------------

def test_put_get_list_delete_roundtrip(dr):
    base = "/" + uniq("rt")
    data = b"region,sales\nnorth,10\nsouth,20\n" * 10
    r = dr.drive_put(base + "/q4.csv", data)
    assert r.status_code == 201, r.text
    meta = r.json()
    assert FILE_KEYS <= set(meta), meta
    assert meta["path"] == base + "/q4.csv"
    assert meta["size"] == len(data)
    assert meta["scope"] == "persistent" and meta["expires_at"] is None
    assert meta["sha256"] == sha(data)
    r = dr.drive_get(base + "/q4.csv")
    assert r.status_code == 200 and r.content == data
    # Binary content survives untouched.
    blob = bytes(range(256)) * 3
    r = dr.drive_put(base + "/sub/img.png", blob)
    assert r.status_code == 201, r.text
    assert r.json()["sha256"] == sha(blob)
    assert dr.drive_get(base + "/sub/img.png").content == blob
    dr.drive_put("/" + uniq("other") + "/x.txt", b"elsewhere")
    # List: only under the prefix, with full metadata.
    r = dr.drive_list(base)
    assert r.status_code == 200, r.text
    files = {f["path"]: f for f in r.json()["files"]}
    assert set(files) == {base + "/q4.csv", base + "/sub/img.png"}
    assert files[base + "/q4.csv"]["sha256"] == sha(data)
    assert files[base + "/sub/img.png"]["size"] == len(blob)
    assert all(FILE_KEYS <= set(f) for f in files.values())
    assert [f["path"] for f in dr.drive_list(base + "/sub").json()["files"]] == [base + "/sub/img.png"]
    # A prefix is a folder, not a string prefix.
    assert dr.drive_list(base + "/q").json()["files"] == []
    # Delete.
    r = dr.drive_delete(base + "/q4.csv")
    assert r.status_code == 204 and r.content == b""
    assert_error(dr.drive_get(base + "/q4.csv"), 404, "not_found")
    assert_error(dr.drive_delete(base + "/q4.csv"), 404, "not_found")
    assert [f["path"] for f in dr.drive_list(base).json()["files"]] == [base + "/sub/img.png"]


def test_replace_false_is_409_and_replace_true_overwrites(dr):
    path = f"/{uniq('rep')}/data.json"
    assert dr.drive_put(path, b'{"v": 1}').status_code == 201
    for replace in (None, False):
        r = dr.drive_put(path, b'{"v": 2}', replace=replace)
        err = assert_error(r, 409, "conflict")
        assert err["message"] == "File already exists in Drive"
    assert dr.drive_get(path).content == b'{"v": 1}'  # untouched
    r = dr.drive_put(path, b'{"v": 3, "longer": true}', replace=True, scope="persistent")
    assert r.status_code == 201, r.text
    assert r.json()["sha256"] == sha(b'{"v": 3, "longer": true}')
    assert r.json()["size"] == len(b'{"v": 3, "longer": true}')
    assert dr.drive_get(path).content == b'{"v": 3, "longer": true}'
    assert len(dr.drive_list(path.rsplit("/", 1)[0]).json()["files"]) == 1
    # replace must be a boolean
    assert_error(dr.req("PUT", "/v1/drive/content", params={"path": path, "replace": "maybe"},
                        data=b"x"), 400, "bad_request")


@pytest.mark.parametrize("name,content,reason", [
    ("run.sh", b"echo hi\n", "scripts"),
    ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00", "executables"),
    ("bundle.zip", b"PK\x03\x04\x14\x00\x00\x00", "archives"),
    ("x.csv", b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56, "ELF"),
    ("notes.csv", b"#!/bin/sh\nrm -rf /\n", "script"),
    ("boot.ini", b"[boot]\n", "system files"),
    ("noext", b"hello", "without an extension"),
])
def test_blocked_types_are_415_with_reason(dr, name, content, reason):
    path = f"/{uniq('blk')}/{name}"
    err = assert_error(dr.drive_put(path, content), 415, "unsupported_type")
    assert reason in err["message"], err
    assert_error(dr.drive_get(path), 404, "not_found")
    assert dr.drive_list(path.rsplit("/", 1)[0]).json() == {"files": []}


def test_allowed_types_are_accepted(dr):
    base = "/" + uniq("ok")
    for name, content in [("a.py", b"#!/usr/bin/env python3\nprint(1)\n"),
                          ("b.pdf", b"%PDF-1.4\n"), ("c.xlsx", b"PK\x03\x04rest"),
                          ("d.MD", b"# title\n"), ("e.csv", b"MZ,Region\n1,2\n")]:
        r = dr.drive_put(f"{base}/{name}", content)
        assert r.status_code == 201, (name, r.text)


@pytest.mark.parametrize("path", ["data/a.csv", "/a/../b.csv", "/a/./b.csv", "..", "/", "",
                                  "/a\x01b.csv"])
def test_bad_paths_are_400(dr, path):
    assert_error(dr.drive_put(path, b"x"), 400, "bad_request")
    assert_error(dr.drive_get(path), 400, "bad_request")
    assert_error(dr.drive_delete(path), 400, "bad_request")


def test_missing_path_and_bad_scope_are_400(dr):
    assert_error(dr.req("PUT", "/v1/drive/content", data=b"x"), 400, "bad_request")
    assert_error(dr.req("GET", "/v1/drive/content"), 400, "bad_request")
    assert_error(dr.req("DELETE", "/v1/drive"), 400, "bad_request")
    assert_error(dr.drive_put(f"/{uniq('s')}/a.txt", b"x", scope="forever"), 400, "bad_request")


# -- scopes and expiry --------------------------------------------------------------------

def test_scopes_set_expires_at(dr, kilnd):
    base = "/" + uniq("scope")
    now = datetime.now(timezone.utc)
    got = {}
    for scope in ("temporary", "session", "persistent"):
        r = dr.drive_put(f"{base}/{scope}.txt", scope.encode(), scope=scope)
        assert r.status_code == 201, r.text
        got[scope] = r.json()
        assert got[scope]["scope"] == scope
    assert got["persistent"]["expires_at"] is None
    for scope, ttl in (("temporary", 600), ("session", 86400)):
        exp = parse_time(got[scope]["expires_at"])
        assert abs((exp - now).total_seconds() - ttl) < 5, (scope, got[scope])
        created = parse_time(got[scope]["created_at"])
        assert abs((exp - created).total_seconds() - ttl) < 0.01, got[scope]


def test_scope_expiry_and_sweep(small):
    c = Client(small)
    base = "/" + uniq("ttl")
    contents = {s: f"{s}-{uniq()}".encode() for s in ("temporary", "session", "persistent")}
    t0 = time.time()
    for s, data in contents.items():
        r = c.drive_put(f"{base}/{s}.txt", data, scope=s)
        assert r.status_code == 201, r.text
        meta = r.json()
        if s == "persistent":
            assert meta["expires_at"] is None
        else:
            ttl = TEMP_TTL if s == "temporary" else SESSION_TTL
            left = parse_time(meta["expires_at"]).timestamp() - t0
            assert ttl - 1 < left < ttl + 1, meta
    for s, data in contents.items():
        assert c.drive_get(f"{base}/{s}.txt").content == data
        assert find_blob(small.data_dir, sha(data)), s

    def wait_until(t):
        time.sleep(max(0.0, t0 + t - time.time()))

    wait_until(TEMP_TTL + 0.5)
    assert_error(c.drive_get(f"{base}/temporary.txt"), 404, "not_found")
    assert c.drive_get(f"{base}/session.txt").content == contents["session"]
    wait_until(SESSION_TTL + 0.5)
    assert_error(c.drive_get(f"{base}/session.txt"), 404, "not_found")
    assert c.drive_get(f"{base}/persistent.txt").content == contents["persistent"]
    assert [f["path"] for f in c.drive_list(base).json()["files"]] == [f"{base}/persistent.txt"]
    # The sweeper (every 5 s) removes the expired files' blobs from disk too.
    deadline = t0 + SESSION_TTL + 7
    while time.time() < deadline and (find_blob(small.data_dir, sha(contents["temporary"]))
                                      or find_blob(small.data_dir, sha(contents["session"]))):
        time.sleep(0.25)
    assert not find_blob(small.data_dir, sha(contents["temporary"]))
    assert not find_blob(small.data_dir, sha(contents["session"]))
    assert find_blob(small.data_dir, sha(contents["persistent"]))
    # An expired path is free again: no 409 for it.
    r = c.drive_put(f"{base}/temporary.txt", b"again", scope="persistent")
    assert r.status_code == 201, r.text


def test_expired_files_are_swept_at_start_up(fresh_daemon):
    d = fresh_daemon("--drive-temporary-ttl-s", "1", pool_size=0)
    c = Client(d)
    data = f"short-lived {uniq()}".encode()
    assert c.drive_put("/s/t.txt", data, scope="temporary").status_code == 201
    keep = f"kept {uniq()}".encode()
    assert c.drive_put("/s/p.txt", keep).status_code == 201
    d.stop()  # stopped before the first periodic sweep could run
    assert find_blob(d.data_dir, sha(data))
    time.sleep(1.5)
    started = time.time()
    d.start()
    while find_blob(d.data_dir, sha(data)) and time.time() - started < 2:
        time.sleep(0.1)
    # Removed at start-up: well before the 5-second periodic sweep.
    assert not find_blob(d.data_dir, sha(data))
    assert time.time() - started < 4
    assert_error(c.drive_get("/s/t.txt"), 404, "not_found")
    assert c.drive_get("/s/p.txt").content == keep


def test_over_the_cap_is_413(small):
    c = Client(small)
    base = "/" + uniq("cap")
    assert_error(c.drive_put(base + "/big.csv", b"x" * (CAP + 1)), 413, "too_large")
    assert_error(c.drive_get(base + "/big.csv"), 404, "not_found")
    r = c.drive_put(base + "/fits.csv", b"y" * CAP)
    assert r.status_code == 201, r.text
    assert r.json()["size"] == CAP
    # A sandbox file over the cap cannot be downloaded into Drive either.
    sid = c.create_sandbox()["id"]
    try:
        c.execute(sid, f"open('/home/user/big.csv','w').write('z' * {CAP + 500})")
        r = c.post(f"/v1/sandboxes/{sid}/download",
                   {"sandbox_path": "/home/user/big.csv", "drive_path": base + "/big2.csv"})
        assert_error(r, 413, "too_large")
        assert_error(c.drive_get(base + "/big2.csv"), 404, "not_found")
    finally:
        c.delete(f"/v1/sandboxes/{sid}")


# -- transfers ---------------------------------------------------------------------------

def test_upload_drive_to_sandbox_then_read_in_code(dr, sandbox):
    sid = sandbox["id"]
    path = f"/{uniq('up')}/sales.csv"
    data = b"region,sales\nnorth,10\nsouth,32\neast,0\n"
    assert dr.drive_put(path, data).status_code == 201
    r = dr.post(f"/v1/sandboxes/{sid}/upload",
                {"drive_path": path, "sandbox_path": "/home/user/in/sales.csv"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["drive_path"] == path
    assert body["sandbox_path"] == "/home/user/in/sales.csv"
    assert body["size"] == len(data)
    res = dr.execute(sid, "import pandas as pd\nint(pd.read_csv('in/sales.csv')['sales'].sum())")
    assert res["error"] is None, res
    assert res["results"][0]["text"] == "42"
    r = dr.get(f"/v1/sandboxes/{sid}/files/content", params={"path": "/home/user/in/sales.csv"})
    assert r.content == data
    # Relative sandbox path means /home/user.
    r = dr.post(f"/v1/sandboxes/{sid}/upload", {"drive_path": path, "sandbox_path": "rel.csv"})
    assert r.status_code == 201, r.text
    assert dr.get(f"/v1/sandboxes/{sid}/files/content",
                  params={"path": "/home/user/rel.csv"}).content == data
    # A Drive file that does not exist: 404.
    r = dr.post(f"/v1/sandboxes/{sid}/upload",
                {"drive_path": path + ".missing.csv", "sandbox_path": "x.csv"})
    assert_error(r, 404, "not_found")
    assert_error(dr.post(f"/v1/sandboxes/{sid}/upload", {"drive_path": path}), 400, "bad_request")


def test_download_sandbox_to_drive_replace_and_scope(dr, sandbox):
    sid = sandbox["id"]
    base = "/" + uniq("down")
    dr.execute(sid, "open('/home/user/out.csv','w').write('a,b\\n1,2\\n')")
    r = dr.post(f"/v1/sandboxes/{sid}/download",
                {"sandbox_path": "/home/user/out.csv", "drive_path": base + "/out.csv"})
    assert r.status_code == 201, r.text
    meta = r.json()
    assert meta["path"] == base + "/out.csv" and meta["size"] == 8
    assert meta["sha256"] == sha(b"a,b\n1,2\n")
    assert meta["scope"] == "persistent" and meta["expires_at"] is None
    assert dr.drive_get(base + "/out.csv").content == b"a,b\n1,2\n"
    dr.execute(sid, "open('/home/user/out.csv','w').write('a,b\\n3,4\\n')")
    for body in ({}, {"replace": False}):
        r = dr.post(f"/v1/sandboxes/{sid}/download",
                    {"sandbox_path": "out.csv", "drive_path": base + "/out.csv", **body})
        err = assert_error(r, 409, "conflict")
        assert err["message"] == "File already exists in Drive"
    assert dr.drive_get(base + "/out.csv").content == b"a,b\n1,2\n"
    r = dr.post(f"/v1/sandboxes/{sid}/download",
                {"sandbox_path": "out.csv", "drive_path": base + "/out.csv", "replace": True,
                 "scope": "temporary"})
    assert r.status_code == 201, r.text
    assert r.json()["scope"] == "temporary" and r.json()["expires_at"] is not None
    assert dr.drive_get(base + "/out.csv").content == b"a,b\n3,4\n"
    # Missing sandbox file: 404, nothing in Drive.
    r = dr.post(f"/v1/sandboxes/{sid}/download",
                {"sandbox_path": "nope.csv", "drive_path": base + "/nope.csv"})
    assert_error(r, 404, "not_found")
    assert_error(dr.drive_get(base + "/nope.csv"), 404, "not_found")


def test_download_refuses_blocked_types(dr, sandbox):
    sid = sandbox["id"]
    base = "/" + uniq("dblk")
    dr.execute(sid, "import shutil\nopen('/home/user/run.sh','w').write('echo hi\\n')\n"
                    "shutil.copy('/bin/true', '/home/user/true.csv')\n"
                    "open('/home/user/ok.csv','w').write('a\\n')")
    for src, dst, reason in (("run.sh", "/run.sh", "scripts"),
                             ("ok.csv", "/ok.sh", "scripts"),
                             ("true.csv", "/true.csv", "ELF")):
        r = dr.post(f"/v1/sandboxes/{sid}/download",
                    {"sandbox_path": src, "drive_path": base + dst})
        err = assert_error(r, 415, "unsupported_type")
        assert reason in err["message"], err
        assert_error(dr.drive_get(base + dst), 404, "not_found")


@pytest.mark.parametrize("target", ["/etc/passwd", "/etc/shadow", "/etc/hostname",
                                    "/proc/1/environ"])
def test_download_through_planted_symlink_reads_no_host_file(dr, sandbox, target):
    sid = sandbox["id"]
    base = "/" + uniq("sym")
    host = host_file(target)
    res = dr.execute(sid, "import os\n"
                          f"os.symlink({target!r}, '/home/user/link.csv')\n"
                          f"os.symlink({os.path.dirname(target)!r}, '/home/user/dirlink')")
    assert res["error"] is None, res
    for src in ("/home/user/link.csv", "link.csv",
                "/home/user/dirlink/" + os.path.basename(target)):
        dst = f"{base}/{uniq('f')}.csv"
        r = dr.post(f"/v1/sandboxes/{sid}/download", {"sandbox_path": src, "drive_path": dst})
        if r.status_code == 201:
            got = dr.drive_get(dst).content
            if host:
                assert got != host, f"{src} -> host {target} leaked into Drive"
        else:
            assert 400 <= r.status_code < 500, r.text
            assert_error(dr.drive_get(dst), 404, "not_found")


def test_upload_through_planted_symlink_writes_no_host_file(dr, sandbox):
    sid = sandbox["id"]
    host_dir = tempfile.mkdtemp(prefix="kiln-host-probe-")
    os.chmod(host_dir, 0o777)
    victim = os.path.join(host_dir, "victim.csv")
    with open(victim, "wb") as f:
        f.write(b"host original\n")
    path = f"/{uniq('usym')}/payload.csv"
    assert dr.drive_put(path, b"payload,from,drive\n").status_code == 201
    dr.execute(sid, "import os\n"
                    f"os.symlink({victim!r}, '/home/user/link.csv')\n"
                    f"os.symlink({host_dir!r}, '/home/user/hostdir')")
    for dst in ("/home/user/link.csv", "/home/user/hostdir/new.csv",
                "/home/user/hostdir/victim.csv"):
        r = dr.post(f"/v1/sandboxes/{sid}/upload", {"drive_path": path, "sandbox_path": dst})
        assert r.status_code in (201, 400, 404, 409), r.text
    with open(victim, "rb") as f:
        assert f.read() == b"host original\n"
    assert os.listdir(host_dir) == ["victim.csv"]


def test_transfers_on_unknown_sandbox_are_404(dr):
    r = dr.post("/v1/sandboxes/sbx_doesnotexist00/upload",
                {"drive_path": "/a.csv", "sandbox_path": "a.csv"})
    assert_error(r, 404, "not_found")
    r = dr.post("/v1/sandboxes/sbx_doesnotexist00/download",
                {"sandbox_path": "a.csv", "drive_path": "/a.csv"})
    assert_error(r, 404, "not_found")


def test_kill_9_during_drive_writes_leaves_no_torn_file_or_orphan_row(fresh_daemon):
    import re
    import signal
    import threading

    import requests

    d = fresh_daemon(pool_size=0)
    paths = [f"/crash/f{i}.csv" for i in range(8)]  # writer n owns paths 2n and 2n+1
    versions = {p: {} for p in paths}  # path -> {sha256: bytes} of every attempted write
    acked = {p: [] for p in paths}  # path -> sha256s whose PUT answered 201, in order
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n):
        s = requests.Session()
        k = 0
        while not stop.is_set():
            p = paths[2 * n + k % 2]
            k += 1
            body = (f"writer {n} version {k}\n".encode() * (20000 + 3000 * n + 17 * k))
            h = sha(body)
            with lock:
                versions[p][h] = body
            try:
                r = s.put(d.url + "/v1/drive/content", params={"path": p, "replace": "true"},
                          data=body, timeout=10)
            except requests.RequestException:
                return
            if r.status_code == 201:
                assert r.json()["sha256"] == h
                with lock:
                    acked[p].append(h)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(timeout=10)
    stop.set()
    for t in threads:
        t.join(timeout=15)
    assert sum(len(v) for v in acked.values()) >= 10, "too few writes before the kill"
    d.log.close()
    d.start()
    c = Client(d)
    listed = {f["path"]: f for f in c.drive_list("/crash").json()["files"]}
    for p in paths:
        if acked[p]:
            # An acknowledged write is durable: the file exists.
            assert p in listed, (p, "acked but gone after kill -9")
        if p not in listed:
            continue
        meta = listed[p]
        r = c.drive_get(p)
        assert r.status_code == 200, (p, r.text)  # no row without its content
        assert sha(r.content) == meta["sha256"] and len(r.content) == meta["size"]
        # Never torn: exactly one of the versions written to this path.
        assert meta["sha256"] in versions[p], p
        # Not older than the last acknowledged write's predecessors.
        if acked[p]:
            last = acked[p][-1]
            assert meta["sha256"] == last or meta["sha256"] not in acked[p], p
    # No orphan blobs on disk either (start-up recovery removes them), and no
    # row needed removing for a missing blob.
    on_disk = set()
    for root, _dirs, files in os.walk(os.path.join(d.data_dir, "blobs")):
        on_disk |= {f for f in files if re.fullmatch(r"[0-9a-f]{64}", f)}
    assert on_disk == {f["sha256"] for f in listed.values()}
    log = d.read_log()
    assert "drive_recover_row_removed" not in log and "drive_recover_bad_blob" not in log
