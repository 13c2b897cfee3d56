"""Sandbox files (API.md: Sandbox files)."""
import os
import socket
import time

import pytest

from helpers import assert_error, parse_time


def files(sid, rest=""):
    return f"/v1/sandboxes/{sid}/files{rest}"


def put(kilnd, sid, path, data, **kw):
    return kilnd.req("PUT", files(sid, "/content"), params={"path": path}, data=data, **kw)


def get_content(kilnd, sid, path, **kw):
    return kilnd.get(files(sid, "/content"), params={"path": path}, **kw)


def listing(kilnd, sid, path="/home/user"):
    r = kilnd.get(files(sid), params={"path": path})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"entries"}
    return {e["name"]: e for e in body["entries"]}


# -- write / read ---------------------------------------------------------------

def test_put_returns_201_path_and_size(kilnd, sandbox):
    r = put(kilnd, sandbox["id"], "/home/user/hello.txt", b"hello world\n")
    assert r.status_code == 201, r.text
    assert r.json() == {"path": "/home/user/hello.txt", "size": 12}
    r = get_content(kilnd, sandbox["id"], "/home/user/hello.txt")
    assert r.status_code == 200
    assert r.content == b"hello world\n"


def test_put_creates_parent_folders(kilnd, sandbox):
    sid = sandbox["id"]
    r = put(kilnd, sid, "/home/user/a/b/c/deep.txt", b"deep")
    assert r.status_code == 201, r.text
    assert r.json()["path"] == "/home/user/a/b/c/deep.txt"
    assert listing(kilnd, sid)["a"]["type"] == "dir"
    assert listing(kilnd, sid, "/home/user/a/b")["c"]["type"] == "dir"
    assert get_content(kilnd, sid, "/home/user/a/b/c/deep.txt").content == b"deep"


def test_put_overwrites(kilnd, sandbox):
    sid = sandbox["id"]
    assert put(kilnd, sid, "over.txt", b"a much longer first version").status_code == 201
    r = put(kilnd, sid, "over.txt", b"short")
    assert r.status_code == 201
    assert r.json()["size"] == 5
    assert get_content(kilnd, sid, "over.txt").content == b"short"


def test_empty_file(kilnd, sandbox):
    sid = sandbox["id"]
    r = put(kilnd, sid, "empty.bin", b"")
    assert r.status_code == 201, r.text
    assert r.json()["size"] == 0
    r = get_content(kilnd, sid, "empty.bin")
    assert r.status_code == 200
    assert r.content == b""


def test_binary_roundtrip_with_nul_bytes(kilnd, sandbox):
    sid = sandbox["id"]
    data = bytes(range(256)) * 4 + b"\x00\x00\xff\x00"
    r = put(kilnd, sid, "/home/user/bin.dat", data,
            headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201
    assert r.json()["size"] == len(data)
    got = get_content(kilnd, sid, "/home/user/bin.dat")
    assert got.status_code == 200
    assert got.content == data


def test_large_random_roundtrip(kilnd, sandbox):
    sid = sandbox["id"]
    data = os.urandom(5 * 1000 * 1000)
    r = put(kilnd, sid, "big/random.bin", data)
    assert r.status_code == 201, r.text
    assert r.json() == {"path": "/home/user/big/random.bin", "size": len(data)}
    got = get_content(kilnd, sid, "/home/user/big/random.bin")
    assert got.status_code == 200
    assert len(got.content) == len(data)
    assert got.content == data
    # Code sees the same bytes.
    res = kilnd.execute(sid, "import hashlib\n"
                             "hashlib.sha256(open('/home/user/big/random.bin','rb').read())"
                             ".hexdigest()")
    import hashlib
    assert res["results"][0]["text"] == repr(hashlib.sha256(data).hexdigest())


def test_relative_path_resolves_under_home_user(kilnd, sandbox):
    sid = sandbox["id"]
    r = put(kilnd, sid, "rel/file.txt", b"relative")
    assert r.status_code == 201
    assert r.json()["path"] == "/home/user/rel/file.txt"
    assert get_content(kilnd, sid, "/home/user/rel/file.txt").content == b"relative"
    assert get_content(kilnd, sid, "rel/file.txt").content == b"relative"
    assert "file.txt" in listing(kilnd, sid, "rel")


def test_dotdot_cannot_escape_root(kilnd, sandbox):
    sid = sandbox["id"]
    # Whatever '..' does, it stays inside the sandbox's own root.
    r = get_content(kilnd, sid, "../../../../../../etc/passwd")
    if r.status_code == 200:
        assert r.content == kilnd.run(sid, "cat /etc/passwd")["stdout"].encode()
    else:
        assert r.status_code in (400, 404)


# -- listing --------------------------------------------------------------------

def test_list_entries_shape(kilnd, sandbox):
    sid = sandbox["id"]
    before = time.time()
    assert put(kilnd, sid, "/home/user/listed.txt", b"12345").status_code == 201
    kilnd.run(sid, "mkdir -p /home/user/subdir && ln -s listed.txt /home/user/link")
    entries = listing(kilnd, sid)
    assert {"listed.txt", "subdir", "link"} <= set(entries)
    f = entries["listed.txt"]
    assert set(f) >= {"name", "path", "type", "size", "mtime"}
    assert f["path"] == "/home/user/listed.txt"
    assert f["type"] == "file"
    assert f["size"] == 5
    mtime = parse_time(f["mtime"])
    assert abs(mtime.timestamp() - before) < 60
    assert entries["subdir"]["type"] == "dir"
    assert entries["subdir"]["path"] == "/home/user/subdir"
    assert entries["link"]["type"] == "symlink"
    for e in entries.values():
        assert e["type"] in ("file", "dir", "symlink")
        assert isinstance(e["size"], int)


def test_list_relative_and_missing(kilnd, sandbox):
    sid = sandbox["id"]
    kilnd.run(sid, "mkdir -p /home/user/d1 && touch /home/user/d1/x /home/user/d1/y")
    assert set(listing(kilnd, sid, "d1")) == {"x", "y"}
    assert_error(kilnd.get(files(sid), params={"path": "/home/user/nope"}), 404, "not_found")


def test_list_root_of_sandbox(kilnd, sandbox):
    names = listing(kilnd, sandbox["id"], "/")
    assert {"home", "tmp", "usr"} <= set(names)
    assert names["home"]["type"] == "dir"


# -- mkdir / delete -------------------------------------------------------------

def test_mkdir(kilnd, sandbox):
    sid = sandbox["id"]
    r = kilnd.post(files(sid, "/mkdir"), {"path": "/home/user/newdir/nested"})
    assert r.status_code == 201, r.text
    assert listing(kilnd, sid)["newdir"]["type"] == "dir"
    assert listing(kilnd, sid, "/home/user/newdir")["nested"]["type"] == "dir"
    r = kilnd.post(files(sid, "/mkdir"), {"path": "reldir"})
    assert r.status_code == 201, r.text
    assert listing(kilnd, sid)["reldir"]["type"] == "dir"
    assert kilnd.run(sid, "test -d /home/user/reldir && echo yes")["stdout"] == "yes\n"


def test_mkdir_bad_input(kilnd, sandbox):
    sid = sandbox["id"]
    assert_error(kilnd.post(files(sid, "/mkdir"), {}), 400, "bad_request")
    assert_error(kilnd.post(files(sid, "/mkdir"), {"path": 5}), 400, "bad_request")


def test_delete_file(kilnd, sandbox):
    sid = sandbox["id"]
    assert put(kilnd, sid, "gone.txt", b"bye").status_code == 201
    r = kilnd.delete(files(sid), params={"path": "gone.txt"})
    assert r.status_code == 204
    assert r.content == b""
    assert_error(get_content(kilnd, sid, "/home/user/gone.txt"), 404, "not_found")
    assert "gone.txt" not in listing(kilnd, sid)
    assert_error(kilnd.delete(files(sid), params={"path": "gone.txt"}), 404, "not_found")


def test_delete_dir_recursively(kilnd, sandbox):
    sid = sandbox["id"]
    assert put(kilnd, sid, "tree/a/b/file1", b"1").status_code == 201
    assert put(kilnd, sid, "tree/a/file2", b"2").status_code == 201
    kilnd.run(sid, "ln -s /usr /home/user/tree/a/usrlink")
    r = kilnd.delete(files(sid), params={"path": "/home/user/tree"})
    assert r.status_code == 204, r.text
    assert "tree" not in listing(kilnd, sid)
    assert kilnd.run(sid, "test -e /home/user/tree; echo $?")["stdout"] == "1\n"
    # The symlink was removed, not followed.
    assert kilnd.run(sid, "test -x /usr/bin/env && echo ok")["stdout"] == "ok\n"


# -- files and code ---------------------------------------------------------------

def test_api_file_visible_to_code_and_code_file_readable(kilnd, sandbox):
    sid = sandbox["id"]
    assert put(kilnd, sid, "/home/user/from_api.txt", b"api-data").status_code == 201
    res = kilnd.execute(sid, "open('/home/user/from_api.txt').read()")
    assert res["results"][0]["text"] == "'api-data'"
    kilnd.execute(sid, "open('from_code.bin', 'wb').write(b'code\\x00data')")
    r = get_content(kilnd, sid, "/home/user/from_code.bin")
    assert r.status_code == 200
    assert r.content == b"code\x00data"
    assert listing(kilnd, sid)["from_code.bin"]["size"] == 9


def test_files_in_tmp(kilnd, sandbox):
    sid = sandbox["id"]
    assert put(kilnd, sid, "/tmp/t.txt", b"tmpdata").status_code == 201
    assert kilnd.run(sid, "cat /tmp/t.txt")["stdout"] == "tmpdata"


# -- bad input --------------------------------------------------------------------

def test_missing_path_is_400(kilnd, sandbox):
    sid = sandbox["id"]
    assert_error(kilnd.get(files(sid, "/content")), 400, "bad_request")
    assert_error(kilnd.req("PUT", files(sid, "/content"), data=b"x"), 400, "bad_request")
    assert_error(kilnd.delete(files(sid)), 400, "bad_request")
    assert_error(kilnd.get(files(sid, "/content") + "?path="), 400, "bad_request")


def test_nul_in_path_is_400(kilnd, sandbox):
    sid = sandbox["id"]
    # A file the truncated path would name must not be touched.
    assert put(kilnd, sid, "/home/user/a", b"keep").status_code == 201
    url = files(sid, "/content") + "?path=/home/user/a%00b"
    assert_error(kilnd.get(url), 400, "bad_request")
    assert_error(kilnd.req("PUT", url, data=b"x"), 400, "bad_request")
    assert_error(kilnd.delete(files(sid) + "?path=/home/user/a%00b"), 400, "bad_request")
    assert_error(kilnd.get(files(sid) + "?path=/home/user%00/x"), 400, "bad_request")
    assert get_content(kilnd, sid, "/home/user/a").content == b"keep"


def test_nul_in_json_path_is_400(kilnd, sandbox):
    assert_error(kilnd.post(files(sandbox["id"], "/mkdir"), {"path": "/home/user/a\x00b"}), 400,
                 "bad_request")


def test_read_missing_file_is_404(kilnd, sandbox):
    assert_error(get_content(kilnd, sandbox["id"], "/home/user/does-not-exist"), 404,
                 "not_found")


def test_reading_a_directory_is_400(kilnd, sandbox):
    assert_error(get_content(kilnd, sandbox["id"], "/home/user"), 400, "bad_request")


def test_writing_over_a_directory_is_400(kilnd, sandbox):
    sid = sandbox["id"]
    kilnd.run(sid, "mkdir -p /home/user/adir")
    assert_error(put(kilnd, sid, "/home/user/adir", b"x"), 400, "bad_request")


def test_list_a_file_is_400(kilnd, sandbox):
    sid = sandbox["id"]
    assert put(kilnd, sid, "plain.txt", b"x").status_code == 201
    assert_error(kilnd.get(files(sid), params={"path": "plain.txt"}), 400, "bad_request")


def test_reading_a_fifo_is_400_without_hanging(kilnd, sandbox):
    sid = sandbox["id"]
    assert kilnd.run(sid, "mkfifo /home/user/f")["exit_code"] == 0
    t0 = time.monotonic()
    r = get_content(kilnd, sid, "/home/user/f", timeout=10)
    assert time.monotonic() - t0 < 3
    assert_error(r, 400, "bad_request")
    entries = listing(kilnd, sid)
    assert "f" in entries
    # Writing to it is also refused rather than blocking.
    t0 = time.monotonic()
    r = put(kilnd, sid, "/home/user/f", b"data", timeout=10)
    assert time.monotonic() - t0 < 3
    assert_error(r, 400, "bad_request")


def test_reading_a_device_is_400(kilnd, sandbox):
    t0 = time.monotonic()
    r = get_content(kilnd, sandbox["id"], "/dev/zero", timeout=10)
    assert time.monotonic() - t0 < 3
    assert_error(r, 400, "bad_request")


def test_writing_into_usr_is_400(kilnd, sandbox):
    r = put(kilnd, sandbox["id"], "/usr/evil.txt", b"nope")
    err = assert_error(r, 400, "bad_request")
    msg = err["message"].lower()
    assert "read-only" in msg or "read only" in msg or "permission" in msg, err
    assert kilnd.run(sandbox["id"], "test -e /usr/evil.txt; echo $?")["stdout"] == "1\n"
    assert_error(kilnd.post(files(sandbox["id"], "/mkdir"), {"path": "/usr/newdir"}), 400,
                 "bad_request")
    assert_error(kilnd.delete(files(sandbox["id"]), params={"path": "/usr/bin/env"}), 400,
                 "bad_request")


def test_unknown_sandbox_is_404(kilnd):
    assert_error(get_content(kilnd, "sbx_nope", "/home/user/x"), 404, "not_found")
    assert_error(put(kilnd, "sbx_nope", "x", b"x"), 404, "not_found")


# -- size cap ---------------------------------------------------------------------

def test_upload_of_2_mb(kilnd, sandbox):
    """Bodies over 1 MiB (the HTTP parser's default) but under the file cap are accepted."""
    data = os.urandom(2 * 1024 * 1024)
    r = put(kilnd, sandbox["id"], "two.bin", data)
    assert r.status_code == 201, r.text
    assert get_content(kilnd, sandbox["id"], "two.bin").content == data


def test_upload_over_50_mib_is_413_before_body(kilnd, sandbox):
    """The daemon answers 413 from the headers, without waiting for the body."""
    sid = sandbox["id"]
    with socket.create_connection(("127.0.0.1", kilnd.port), timeout=10) as s:
        s.sendall((f"PUT /v1/sandboxes/{sid}/files/content?path=huge2.bin HTTP/1.1\r\n"
                   f"Host: 127.0.0.1\r\nContent-Length: {50 * 1024 * 1024 + 1}\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 413"), data[:200]



def test_upload_over_50_mib_is_413(kilnd, sandbox):
    sid = sandbox["id"]
    data = b"\0" * (50 * 1024 * 1024 + 1)
    r = put(kilnd, sid, "huge.bin", data)
    assert_error(r, 413, "too_large")
    assert "huge.bin" not in listing(kilnd, sid)


def test_file_cap_on_custom_daemon(fresh_daemon):
    d = fresh_daemon("--file-cap-bytes", "1000", pool_size=0)
    sid = d.create_sandbox()["id"]
    r = d.req("PUT", files(sid, "/content"), params={"path": "over.bin"}, data=b"a" * 1001)
    assert_error(r, 413, "too_large")
    r = d.req("PUT", files(sid, "/content"), params={"path": "exact.bin"}, data=b"a" * 1000)
    assert r.status_code == 201, r.text
    assert r.json() == {"path": "/home/user/exact.bin", "size": 1000}
    # Reading a file over the cap written by code is refused too.
    d.run(sid, "head -c 5000 /dev/zero > /home/user/made.bin")
    r = d.get(files(sid, "/content"), params={"path": "made.bin"})
    assert_error(r, 413, "too_large")
    r = d.get(files(sid, "/content"), params={"path": "exact.bin"})
    assert r.content == b"a" * 1000
