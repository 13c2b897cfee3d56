"""Fixtures for the kiln CLI tests: build/kiln driven as a user runs it,
against real kilnd daemons started with the test support package's Daemon
(tests/support).

Each daemon gets its own port, data folder, parent cgroup and a uid range
(row "cli" of UID_RANGES in tests/support/kilnd.py), so the suites never
clean up each other's sandboxes.
"""
import os
import signal
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
KILN = os.environ.get("KILN_CLI", os.path.join(ROOT, "build", "kiln"))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))

from api_client import Daemon  # noqa: E402,F401
from fixtures import daemon_fixtures  # noqa: E402
from kilnd import KILND, remove_parent_cgroups  # noqa: E402,F401

FILE_CAP = 8 << 20


def cli_daemon(*args, **kw):
    kw.setdefault("suite", "cli")
    return Daemon(*args, **kw)


# A small file cap keeps the over-the-cap (413) test cheap; `sandbox` is an id.
kilnd, fresh_daemon, sandbox = daemon_fixtures("cli", "--file-cap-bytes", str(FILE_CAP),
                                               sandbox_id_only=True, pool_size=2)


class Kiln:
    """Runs build/kiln with a clean environment pointed at one daemon."""

    def __init__(self, url, home):
        self.url = url
        self.home = home
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home,
            "LANG": "C.UTF-8",
            "KILN_URL": url,
        }

    def __call__(self, *args, input=None, env=None, cwd=None, timeout=60, binary=False):
        e = dict(self.env)
        if env:
            e.update(env)
        e = {k: v for k, v in e.items() if v is not None}
        return subprocess.run([KILN, *args], input=input, capture_output=True, env=e,
                              cwd=cwd or self.home, timeout=timeout,
                              text=not (binary or isinstance(input, bytes)))

    def popen(self, *args, cwd=None, **kw):
        return subprocess.Popen([KILN, *args], env=self.env, cwd=cwd or self.home,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


@pytest.fixture
def home():
    with tempfile.TemporaryDirectory(prefix="kiln-cli-home-") as h:
        yield h


@pytest.fixture
def kiln(kilnd, home):
    return Kiln(kilnd.url, home)


def live_ids(kilnd):
    r = kilnd.get("/v1/sandboxes")
    assert r.status_code == 200, r.text
    return {s["id"] for s in r.json()["sandboxes"]}


def assert_one_line_error(stderr, *needles):
    """kiln's error output: one 'kiln: ...' line, no raw JSON, no traceback."""
    lines = [l for l in stderr.splitlines() if l.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("kiln: "), stderr
    assert '{"' not in lines[0] and '"error"' not in lines[0], stderr
    for n in needles:
        assert n in lines[0], (n, stderr)
    return lines[0]


@pytest.fixture
def keyed_daemon(tmp_path):
    """A daemon with one API key (auth on); yields (daemon, key)."""
    data = str(tmp_path / "data")
    os.makedirs(data)
    key = subprocess.run([KILND, "keys", "create", "--data-dir", data, "--workspace", "clitest"],
                         capture_output=True, text=True, check=True).stdout.strip()
    d = cli_daemon(pool_size=0, data_dir=data)
    yield d, key
    d.stop(signal.SIGTERM)
    d.cleanup()
