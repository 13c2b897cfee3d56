"""Files API abuse (issue 4, item 3): path tricks, symlink/hardlink races,
FIFOs and devices. No host file may be read or written, nothing may hang.

test_files.py covers the basic cases (one `..` read, NUL in a GET/PUT/DELETE,
reading a FIFO and /dev/zero); this file goes after the rest.
"""
import hashlib
import os
import socket
import threading
import time
import uuid

import pytest

from helpers import assert_error

MiB = 1 << 20


def files(sid, rest=""):
    return f"/v1/sandboxes/{sid}/files{rest}"


def put(d, sid, path, data, timeout=10):
    return d.req("PUT", files(sid, "/content"), params={"path": path}, data=data, timeout=timeout)


def get(d, sid, path, timeout=10):
    return d.get(files(sid, "/content"), params={"path": path}, timeout=timeout)


@pytest.fixture
def host_marker():
    """A host file with unique contents, in host folders a sandbox path might
    resolve to if the files API escaped: /tmp and /etc on the host."""
    token = uuid.uuid4().hex
    paths = [f"/tmp/kiln-marker-{token}", f"/etc/kiln-marker-{token}"]
    content = f"HOST MARKER {token}\n".encode()
    for p in paths:
        with open(p, "wb") as f:
            f.write(content)
    yield token, paths, content
    for p in paths:
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass


def host_file(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def host_secrets():
    """Host files whose contents must never come back through the API."""
    out = {}
    for p in ("/etc/hostname", "/etc/passwd", "/etc/shadow", "/etc/group", "/etc/hosts"):
        c = host_file(p)
        if c:
            out[p] = c
    return out


# --------------------------------------------------------------------------
# names

@pytest.mark.parametrize("path", [
    "../../../../../../../../tmp/kiln-marker-{t}",
    "/home/user/../../../tmp/kiln-marker-{t}",
    "/../../etc/kiln-marker-{t}",
    "..//..//.//../etc/kiln-marker-{t}",
    "/home/user/./../user/../../../../etc/kiln-marker-{t}",
    "/etc/kiln-marker-{t}",
    "/tmp/kiln-marker-{t}",
    "//etc//kiln-marker-{t}",
])
def test_dotdot_and_absolute_paths_never_reach_host_files(kilnd, sandbox, host_marker, path):
    sid = sandbox["id"]
    token, paths, content = host_marker
    p = path.format(t=token)
    r = get(kilnd, sid, p)
    assert r.status_code in (400, 404), (p, r.status_code, r.content[:200])
    assert b"HOST MARKER" not in r.content, r.content[:200]
    # A write through the same name lands inside the sandbox (or is refused),
    # never on the host marker.
    w = put(kilnd, sid, p, b"overwritten from the sandbox")
    assert w.status_code in (201, 400, 404), (p, w.status_code, w.text)
    for hp in paths:
        assert host_file(hp) == content, hp
    if w.status_code == 201:
        landed = w.json()["path"]
        assert landed.startswith("/") and ".." not in landed, landed
        assert get(kilnd, sid, p).content == b"overwritten from the sandbox"
        # The sandbox sees it where the API said, not the host.
        r2 = kilnd.run(sid, f"cat '{landed}'")
        assert r2["stdout"] == "overwritten from the sandbox", r2
        kilnd.delete(files(sid), params={"path": landed})


def test_dotdot_reads_of_host_identity_files_give_the_sandbox_view(kilnd, sandbox):
    sid = sandbox["id"]
    secrets = host_secrets()
    for p in ("../../../etc/passwd", "../../../../etc/hostname", "/../../etc/hosts",
              "../../../etc/shadow", "../../../proc/1/environ", "/../proc/self/root/etc/passwd"):
        r = get(kilnd, sid, p)
        for hp, c in secrets.items():
            assert r.content != c, (p, hp)
        assert b"root:$" not in r.content, p  # no password hash


@pytest.mark.parametrize("suffix", ["%00", "%00.txt", "%00/../../etc/passwd"])
def test_nul_byte_variants_are_400(kilnd, sandbox, suffix):
    sid = sandbox["id"]
    assert put(kilnd, sid, "keep", b"keep").status_code == 201
    base = kilnd.url + files(sid, "/content")
    for q in (f"?path=keep{suffix}", f"?path=/home/user/keep{suffix}", f"?path={suffix}keep"):
        r = kilnd.http.get(base + q, timeout=10)
        assert_error(r, 400, "bad_request")
        r = kilnd.http.put(base + q, data=b"clobber", timeout=10)
        assert_error(r, 400, "bad_request")
    r = kilnd.post(files(sid, "/mkdir"), {"path": "dir\x00/../x"})
    assert_error(r, 400, "bad_request")
    assert get(kilnd, sid, "keep").content == b"keep"


def test_nul_byte_in_upload_download_json_is_400(kilnd, sandbox):
    sid = sandbox["id"]
    r = kilnd.post(f"/v1/sandboxes/{sid}/download",
                   {"sandbox_path": "/home/user/a\x00b", "drive_path": "/abuse/nul.txt"})
    assert r.status_code == 400, (r.status_code, r.text)
    r = kilnd.post(f"/v1/sandboxes/{sid}/upload",
                   {"drive_path": "/abuse/x.txt", "sandbox_path": "/home/user/a\x00b"})
    assert r.status_code in (400, 404), (r.status_code, r.text)


def test_path_over_4096_bytes_is_400(kilnd, sandbox):
    sid = sandbox["id"]
    # Components of legal size, total over PATH_MAX.
    long_path = "/home/user/" + "/".join(["d" * 200] * 21)
    assert len(long_path) > 4096
    for r in (get(kilnd, sid, long_path), put(kilnd, sid, long_path, b"x"),
              kilnd.delete(files(sid), params={"path": long_path}),
              kilnd.get(files(sid), params={"path": long_path}),
              kilnd.post(files(sid, "/mkdir"), {"path": long_path})):
        assert_error(r, 400, "bad_request")
    # '..' does not make an over-long request acceptable either.
    sneaky = "/home/user/" + "a/../" * 1000 + "x"
    assert len(sneaky) > 4096
    assert_error(put(kilnd, sid, sneaky, b"x"), 400, "bad_request")


def test_path_component_over_255_bytes_is_400(kilnd, sandbox):
    sid = sandbox["id"]
    for name in ("n" * 256, "é" * 128, "x/" + "y" * 300 + "/z"):
        for r in (get(kilnd, sid, name), put(kilnd, sid, name, b"x"),
                  kilnd.post(files(sid, "/mkdir"), {"path": name})):
            assert_error(r, 400, "bad_request")
    # 255 is fine.
    r = put(kilnd, sid, "n" * 255, b"ok")
    assert r.status_code == 201, r.text
    assert get(kilnd, sid, "n" * 255).content == b"ok"


def test_path_near_4096_bytes_does_not_crash(kilnd, sandbox):
    sid = sandbox["id"]
    for n in (4094, 4095, 4096, 4097):
        p = "/home/user/" + "/".join(["c" * 250] * 20)
        p = (p + "/" + "e" * 255)[:n]
        r = put(kilnd, sid, p, b"x")
        assert r.status_code in (201, 400), (n, r.status_code, r.text)
        if len(p) > 4096:
            assert r.status_code == 400, n
    assert kilnd.get("/healthz").status_code == 200
    assert kilnd.run(sid, "echo ok")["stdout"] == "ok\n"


# --------------------------------------------------------------------------
# symlink and hardlink races

SWAPPER = ("cd /home/user && while true; do rm -rf d; mkdir d; echo inside > d/x; "
           "rm -rf d; ln -s {target} d; done")


@pytest.mark.parametrize("target", ["/", "/etc", "/tmp"])
def test_symlink_swap_race_never_reaches_host(kilnd, sandbox, host_marker, target):
    sid = sandbox["id"]
    token, marker_paths, content = host_marker
    secrets = host_secrets()
    before = {p: host_file(p) for p in secrets}
    r = kilnd.post(f"/v1/sandboxes/{sid}/commands",
                   {"cmd": SWAPPER.format(target=target), "background": True})
    assert r.status_code == 201, r.text
    pid = r.json()["pid"]
    names = ["d/x", f"d/kiln-marker-{token}", "d/hostname", "d/passwd", "d/etc/passwd",
             f"d/tmp/kiln-marker-{token}", f"d/etc/kiln-marker-{token}"]
    stats = {"get": 0, "put": 0, "put201": 0, "get200": 0}
    slowest = 0.0
    deadline = time.monotonic() + 3
    i = 0
    try:
        while time.monotonic() < deadline:
            name = names[i % len(names)]
            payload = f"written by the race {i}".encode()
            t = time.monotonic()
            w = put(kilnd, sid, name, payload, timeout=5)
            slowest = max(slowest, time.monotonic() - t)
            stats["put"] += 1
            assert w.status_code in (201, 400, 404, 409), (name, w.status_code, w.text)
            stats["put201"] += w.status_code == 201
            t = time.monotonic()
            g = get(kilnd, sid, name, timeout=5)
            slowest = max(slowest, time.monotonic() - t)
            stats["get"] += 1
            assert g.status_code in (200, 400, 404), (name, g.status_code, g.text)
            if g.status_code == 200:
                stats["get200"] += 1
                assert b"HOST MARKER" not in g.content, (name, g.content[:200])
                for hp, c in secrets.items():
                    assert g.content != c, (name, "read the host's", hp)
            i += 1
    finally:
        kilnd.post(f"/v1/sandboxes/{sid}/commands/{pid}/kill")
    assert slowest < 5, slowest
    assert stats["put"] >= 20, stats  # the loop really ran
    assert stats["put201"] > 0, stats  # and sometimes met the real folder
    for p in marker_paths:
        assert host_file(p) == content, p
    for p, c in before.items():
        assert host_file(p) == c, p
    assert not os.path.exists(f"/x")
    # The sandbox and daemon are fine afterwards.
    assert kilnd.run(sid, "echo ok")["stdout"] == "ok\n"
    assert kilnd.get("/healthz").status_code == 200


def test_symlink_to_host_paths_resolves_inside_sandbox(kilnd, sandbox, host_marker):
    sid = sandbox["id"]
    token, marker_paths, content = host_marker
    r = kilnd.run(sid, f"cd /home/user && ln -s /tmp/kiln-marker-{token} m1 && "
                       f"ln -s /etc/kiln-marker-{token} m2 && ln -s /proc/1/root r && "
                       f"ln -s /proc/self/root/etc se && echo ok")
    assert r["stdout"] == "ok\n", r
    for n in ("m1", "m2", f"r/tmp/kiln-marker-{token}", f"r/etc/kiln-marker-{token}",
              f"se/kiln-marker-{token}"):
        g = get(kilnd, sid, n)
        assert g.status_code in (400, 404), (n, g.status_code, g.content[:200])
        w = put(kilnd, sid, n, b"via symlink")
        assert w.status_code in (201, 400, 404), (n, w.status_code, w.text)
    for p in marker_paths:
        assert host_file(p) == content, p
    # m1 points into the sandbox's own /tmp: a write there lands in the sandbox.
    r = kilnd.run(sid, f"cat /tmp/kiln-marker-{token} 2>/dev/null; echo")
    assert token not in r["stdout"]


def test_hardlink_to_file_outside_home_fails(kilnd, sandbox):
    sid = sandbox["id"]
    r = kilnd.run(sid, "cd /home/user; for f in /etc/passwd /usr/bin/env /opt/kiln/kiln-init "
                       "/tmp/t; do [ $f = /tmp/t ] && echo t > /tmp/t; "
                       "ln $f link_$(basename $f) 2>&1; echo \"rc=$?\"; done")
    lines = r["stdout"]
    # Every target is on another mount than /home/user: EXDEV ("Invalid
    # cross-device link") or EPERM, never a link.
    assert lines.count("rc=0") == 0, lines
    assert "Invalid cross-device link" in lines or "Operation not permitted" in lines, lines
    listing = {e["name"] for e in kilnd.get(files(sid), params={"path": "/home/user"})
               .json()["entries"]}
    assert not any(n.startswith("link_") for n in listing), listing
    # Writing a file named like one of those through the API makes a new file.
    assert put(kilnd, sid, "link_passwd", b"mine").status_code == 201
    assert kilnd.run(sid, "cat /etc/passwd")["stdout"].startswith("root:")


def test_hardlink_swap_race_stays_in_home(kilnd, sandbox):
    """A loop swapping a file for a hard link to another home file while the
    API writes to it: writes land in one of the two home files, never elsewhere."""
    sid = sandbox["id"]
    assert put(kilnd, sid, "victim", b"victim\n").status_code == 201
    r = kilnd.post(f"/v1/sandboxes/{sid}/commands", {
        "cmd": "cd /home/user && while true; do rm -f h; ln victim h 2>/dev/null; rm -f h; "
               "ln -s /etc/passwd h; rm -f h; ln /etc/passwd h 2>/dev/null; done",
        "background": True})
    assert r.status_code == 201, r.text
    pid = r.json()["pid"]
    etc_passwd = kilnd.run(sid, "cat /etc/passwd")["stdout"].encode()
    deadline = time.monotonic() + 1.5
    try:
        while time.monotonic() < deadline:
            w = put(kilnd, sid, "h", b"through h\n", timeout=5)
            assert w.status_code in (201, 400, 404), (w.status_code, w.text)
            g = get(kilnd, sid, "h", timeout=5)
            assert g.status_code in (200, 400, 404), g.text
    finally:
        kilnd.post(f"/v1/sandboxes/{sid}/commands/{pid}/kill")
    assert kilnd.run(sid, "cat /etc/passwd")["stdout"].encode() == etc_passwd


# --------------------------------------------------------------------------
# FIFOs and devices

@pytest.mark.parametrize("dev", ["/dev/zero", "/dev/urandom", "/dev/random", "/dev/null",
                                 "/dev/full", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0",
                                 "/proc/kmsg", "/proc/self/mem"])
def test_devices_as_download_targets_are_refused_quickly(kilnd, sandbox, dev):
    t = time.monotonic()
    r = get(kilnd, sandbox["id"], dev, timeout=10)
    dt = time.monotonic() - t
    assert dt < 3, (dev, dt)
    assert r.status_code in (400, 403, 404), (dev, r.status_code, len(r.content))
    assert len(r.content) < 4096, (dev, len(r.content))


def test_symlink_to_device_as_download_target_is_400(kilnd, sandbox):
    sid = sandbox["id"]
    assert kilnd.run(sid, "cd /home/user && ln -s /dev/zero z && ln -s /dev/urandom u && "
                          "mkfifo p && ln -s p pl && echo ok")["stdout"] == "ok\n"
    for n in ("z", "u", "p", "pl"):
        t = time.monotonic()
        r = get(kilnd, sid, n, timeout=10)
        assert time.monotonic() - t < 3, n
        assert_error(r, 400, "bad_request")


@pytest.mark.parametrize("target", ["/dev/null", "/dev/zero", "/dev/full", "/dev/urandom",
                                    "/home/user/fifo", "/home/user/fifolink"])
def test_upload_onto_device_or_fifo_is_400(kilnd, sandbox, target):
    sid = sandbox["id"]
    kilnd.run(sid, "cd /home/user && mkfifo fifo && ln -s fifo fifolink")
    t = time.monotonic()
    r = put(kilnd, sid, target, b"data" * 1000, timeout=10)
    assert time.monotonic() - t < 3, target
    assert_error(r, 400, "bad_request")
    # Still a FIFO / device, not replaced by a regular file.
    r = kilnd.run(sid, f"stat -L -c %F {target}")
    assert "regular" not in r["stdout"], r


def test_fifo_with_writer_and_reader_waiting_does_not_hang(kilnd, sandbox):
    """A FIFO with a process holding the other end: still refused, not read."""
    sid = sandbox["id"]
    r = kilnd.post(f"/v1/sandboxes/{sid}/commands", {
        "cmd": "mkfifo /home/user/w && exec yes > /home/user/w", "background": True})
    assert r.status_code == 201
    time.sleep(0.3)
    t = time.monotonic()
    r = get(kilnd, sid, "/home/user/w", timeout=10)
    assert time.monotonic() - t < 3
    assert_error(r, 400, "bad_request")
    r = kilnd.post(f"/v1/sandboxes/{sid}/commands", {
        "cmd": "mkfifo /home/user/rd && exec cat /home/user/rd > /dev/null", "background": True})
    time.sleep(0.3)
    t = time.monotonic()
    r = put(kilnd, sid, "/home/user/rd", b"z" * MiB, timeout=10)
    assert time.monotonic() - t < 3
    assert_error(r, 400, "bad_request")
    assert kilnd.run(sid, "echo ok")["stdout"] == "ok\n"


def test_download_to_drive_from_fifo_or_device_is_refused(kilnd, sandbox):
    sid = sandbox["id"]
    kilnd.run(sid, "mkfifo /home/user/ff")
    for sp in ("/dev/zero", "/dev/urandom", "/home/user/ff"):
        t = time.monotonic()
        r = kilnd.post(f"/v1/sandboxes/{sid}/download",
                       {"sandbox_path": sp, "drive_path": f"/abuse/{uuid.uuid4().hex}.txt"},
                       timeout=10)
        assert time.monotonic() - t < 3, sp
        assert r.status_code == 400, (sp, r.status_code, r.text)
