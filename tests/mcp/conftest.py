"""Fixtures for the MCP tests: real kilnd daemons, driven over /mcp (raw
HTTP, the stdio bridge, and the official MCP TypeScript SDK).

Each daemon gets its own port, data folder, parent cgroup and a uid range
of this suite's own (3,200,000 and up), so suites running side by side
never clean up each other's sandboxes.
"""
import importlib.util
import itertools
import os
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

_spec = importlib.util.spec_from_file_location(
    "kiln_api_conftest_for_mcp", os.path.join(ROOT, "tests", "api", "conftest.py"))
api_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(api_conftest)
Daemon = api_conftest.Daemon
KILND = api_conftest.KILND
remove_parent_cgroups = api_conftest.remove_parent_cgroups

_counter = itertools.count()


def mcp_daemon(*args, **kw):
    n = next(_counter)
    kw.setdefault("uid_base", 3_200_000 + (os.getpid() % 200) * 2000 + n * 200)
    kw.setdefault("cgroup_parent", f"kiln-mcp-test-{os.getpid()}-{n}")
    kw.setdefault("pool_size", 1)
    return Daemon(*args, **kw)


def create_key(data_dir, workspace):
    p = subprocess.run([KILND, "keys", "create", "--data-dir", data_dir, "--workspace", workspace],
                       capture_output=True, text=True, timeout=30, check=True)
    key = p.stdout.strip()
    assert key and "\n" not in key, p.stdout
    return key


@pytest.fixture(scope="session")
def keyed():
    """A daemon with API keys (auth on): workspaces acme and other."""
    d = mcp_daemon()
    d.key = create_key(d.data_dir, "acme")
    d.other_key = create_key(d.data_dir, "other")
    d.key_file = os.path.join(d.data_dir, "acme.key")
    with open(d.key_file, "w") as f:
        f.write(d.key + "\n")
    os.chmod(d.key_file, 0o600)
    yield d
    d.stop()
    remove_parent_cgroups(d.cgroup_parent)


@pytest.fixture(scope="session")
def open_daemon():
    """A daemon without keys (auth off, loopback only): what the conformance
    tool, which cannot send credentials, talks to."""
    d = mcp_daemon()
    yield d
    d.stop()
    remove_parent_cgroups(d.cgroup_parent)
