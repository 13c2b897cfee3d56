"""Fixtures for API tests against a real kilnd.

Each daemon gets its own port, data folder, uid range and parent cgroup, so
test daemons never clean up each other's sandboxes (start-up cleanup empties
the daemon's own parent cgroup and kills its own uid range).
"""
import itertools
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# KILN_KILND picks another build (make test-asan runs the suite on build-asan).
KILND = os.environ.get("KILN_KILND", os.path.join(ROOT, "build", "kilnd"))
_counter = itertools.count()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ApiCalls:
    """The API's verbs and common calls, on top of a subclass's req()."""

    def req(self, method, path, **kw):
        raise NotImplementedError

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.req("POST", path, json=body if body is not None else {}, **kw)

    def put(self, path, data=b"", **kw):
        return self.req("PUT", path, data=data, **kw)

    def delete(self, path, **kw):
        return self.req("DELETE", path, **kw)

    def create_sandbox(self, **body):
        r = self.post("/v1/sandboxes", body)
        assert r.status_code in (200, 201), r.text
        return r.json()

    def execute(self, sid, code, **body):
        body["code"] = code
        r = self.post(f"/v1/sandboxes/{sid}/execute", body)
        assert r.status_code == 200, r.text
        return r.json()

    def run(self, sid, cmd, **body):
        body["cmd"] = cmd
        r = self.post(f"/v1/sandboxes/{sid}/commands", body)
        assert r.status_code == 200, r.text
        return r.json()


class Daemon(ApiCalls):
    """A kilnd process plus a small HTTP client for it."""

    def __init__(self, *extra_args, pool_size=1, data_dir=None, uid_base=None,
                 cgroup_parent=None, port=None):
        n = next(_counter)
        self.port = port or free_port()
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="kiln-test-data-")
        # A uid range per daemon (pytest worker pid keeps parallel runs apart).
        self.uid_base = uid_base or 300000 + (os.getpid() % 500) * 2000 + n * 200
        self.cgroup_parent = cgroup_parent or f"kiln-test-{os.getpid()}-{n}"
        self.args = [KILND, "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data_dir,
                     "--pool-size", str(pool_size), "--uid-base", str(self.uid_base),
                     "--max-sandboxes", "32", "--cgroup-parent", self.cgroup_parent,
                     *extra_args]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(self.data_dir, "kilnd.log")
        self.proc = None
        self.http = requests.Session()
        self.start()

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kilnd exited with {self.proc.returncode}: {self.read_log()}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("kilnd did not start: " + self.read_log())

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=timeout)
        self.log.close()

    # -- HTTP helpers --
    def req(self, method, path, **kw):
        kw.setdefault("timeout", 120)
        return self.http.request(method, self.url + path, **kw)


    def stream(self, path, body, accept="application/x-ndjson"):
        """Yields (arrival_time, event) pairs as the server sends them."""
        r = self.http.post(self.url + path, json=body, headers={"Accept": accept}, stream=True,
                           timeout=120)
        assert r.status_code == 200, r.text
        for line in r.iter_lines():
            if not line:
                continue
            line = line.decode()
            if accept == "text/event-stream":
                assert line.startswith("data: "), line
                line = line[len("data: "):]
            yield time.monotonic(), json.loads(line)


def sandbox_cgroup_dirs(cgroup_parent):
    """Every per-sandbox cgroup dir under this daemon's parent, all hierarchies."""
    out = []
    for ctl in ("memory", "pids", "cpu", "cpuacct", "unified"):
        parent = os.path.join("/sys/fs/cgroup", ctl, cgroup_parent)
        if os.path.isdir(parent):
            out += [os.path.join(parent, d) for d in os.listdir(parent)
                    if os.path.isdir(os.path.join(parent, d))]
    return out


def processes_in_uid_range(lo, hi):
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                uid = os.stat(f"/proc/{d}").st_uid
            except FileNotFoundError:
                continue
            if lo <= uid < hi:
                pids.append(int(d))
    return pids


def daemon_leftovers(d):
    """(processes, cgroups) the daemon's sandboxes left behind."""
    return (processes_in_uid_range(d.uid_base, d.uid_base + 200),
            sandbox_cgroup_dirs(d.cgroup_parent))


@pytest.fixture(scope="session")
def kilnd():
    d = Daemon(pool_size=2)
    yield d
    d.stop()
    remove_parent_cgroups(d.cgroup_parent)


@pytest.fixture
def fresh_daemon():
    """A factory for daemons a test may kill or restart; all are stopped after."""
    made = []

    def make(*args, **kw):
        d = Daemon(*args, **kw)
        made.append(d)
        return d

    yield make
    for d in made:
        try:
            # Graceful: kilnd ends its sandboxes and removes their cgroups.
            d.stop(signal.SIGTERM)
        except Exception:
            pass
    for d in made:
        # A final clean start + stop empties the parent cgroup after kill -9 tests.
        remove_parent_cgroups(d.cgroup_parent)


def remove_parent_cgroups(parent, timeout=5.0):
    """Removes this daemon's parent cgroups. After a kill -9 the sandboxes'
    processes die asynchronously, so empty cgroups may need a moment."""
    deadline = time.time() + timeout
    while True:
        _remove_parent_cgroups_once(parent)
        left = [c for c in ("memory", "pids", "cpu", "cpuacct", "unified")
                if os.path.isdir(os.path.join("/sys/fs/cgroup", c, parent))]
        if not left or time.time() > deadline:
            return
        time.sleep(0.1)


def _remove_parent_cgroups_once(parent):
    for ctl in ("memory", "pids", "cpu", "cpuacct", "unified"):
        p = os.path.join("/sys/fs/cgroup", ctl, parent)
        if os.path.isdir(p):
            for d in os.listdir(p):
                if os.path.isdir(os.path.join(p, d)):
                    try:
                        os.rmdir(os.path.join(p, d))
                    except OSError:
                        pass
            try:
                os.rmdir(p)
            except OSError:
                pass


@pytest.fixture
def sandbox(kilnd):
    sb = kilnd.create_sandbox()
    yield sb
    kilnd.delete(f"/v1/sandboxes/{sb['id']}")
