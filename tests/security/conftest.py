"""Fixtures for the escape suite: one private kilnd, a result table.

The Daemon below is a minimal copy of tests/api/conftest.py's (on purpose:
importing that conftest by path is fragile under pytest's rootdir rules).
Each daemon gets its own port, data folder, uid range (--uid-base 1800000+…)
and parent cgroup (kiln-sec-<pid>-<n>), so it never touches another suite's
sandboxes. Pool size 1.

Every probe records one row (probe, expected, observed, verdict) in RESULTS;
pytest_terminal_summary prints the table and "N probes, N blocked".
"""
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import requests

from .escape_table import RESULTS  # filled by test_escape.py

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KILND = os.environ.get("KILN_KILND", os.path.join(ROOT, "build", "kilnd"))
_counter = itertools.count()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """A kilnd process plus a small HTTP client for it."""

    def __init__(self, *extra_args, pool_size=1):
        n = next(_counter)
        self.port = free_port()
        self.data_dir = tempfile.mkdtemp(prefix="kiln-sec-data-")
        # 1.8M+ is used by no other suite (api: 300000+, test_auth: 1.5M+, bench: 900000);
        # kilnd kills every process in its range at start-up, so ranges must not overlap.
        self.uid_base = 1800000 + ((os.getpid() + n) % 900) * 200
        self.cgroup_parent = f"kiln-sec-{os.getpid()}-{n}"
        self.args = [KILND, "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data_dir,
                     "--pool-size", str(pool_size), "--uid-base", str(self.uid_base),
                     "--max-sandboxes", "32", "--cgroup-parent", self.cgroup_parent,
                     *extra_args]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(self.data_dir, "kilnd.log")
        self.proc = None
        self.log = None
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
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log:
            self.log.close()

    # -- HTTP helpers --
    def req(self, method, path, **kw):
        kw.setdefault("timeout", 120)
        return self.http.request(method, self.url + path, **kw)

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.req("POST", path, json=body if body is not None else {}, **kw)

    def delete(self, path, **kw):
        return self.req("DELETE", path, **kw)

    def create_sandbox(self, **body):
        r = self.post("/v1/sandboxes", body)
        assert r.status_code in (200, 201), r.text
        return r.json()["id"]

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

    def put_file(self, sid, path, data):
        r = self.req("PUT", f"/v1/sandboxes/{sid}/files/content", params={"path": path},
                     data=data)
        assert r.status_code == 201, r.text
        return r.json()


def remove_parent_cgroups(parent):
    for ctl in ("memory", "pids", "cpu", "cpuacct", "cpu,cpuacct", "unified", ""):
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


@pytest.fixture(scope="session")
def kilnd():
    # KILN_SEC_KILND_ARGS adds daemon flags, e.g. "--no-seccomp" to check that the
    # suite notices a missing layer (it must then report probes NOT BLOCKED).
    d = Daemon(*os.environ.get("KILN_SEC_KILND_ARGS", "").split(), pool_size=1)
    yield d
    d.stop()
    remove_parent_cgroups(d.cgroup_parent)
    if not os.environ.get("KILN_SEC_KEEP_DATA"):
        shutil.rmtree(d.data_dir, ignore_errors=True)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not RESULTS:
        return
    tr = terminalreporter
    rows = [(name, r["expected"], r["observed"], r["verdict"]) for name, r in RESULTS.items()]
    head = ("probe", "expected", "observed", "verdict")
    clip = lambda s, n: s if len(s) <= n else s[:n - 1] + "…"
    widths = [min(max(len(str(row[i])) for row in rows + [head]), cap)
              for i, cap in enumerate((48, 44, 84, 11))]
    fmt = lambda row: " | ".join(clip(str(c), w).ljust(w) for c, w in zip(row, widths))
    tr.write_sep("=", "Kiln escape suite")
    tr.write_line(fmt(head))
    tr.write_line("-+-".join("-" * w for w in widths))
    for row in rows:
        tr.write_line(fmt(row))
    blocked = sum(1 for r in RESULTS.values() if r["verdict"] == "blocked")
    tr.write_line(f"{len(RESULTS)} probes, {blocked} blocked")
