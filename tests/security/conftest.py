"""Fixtures for the escape suite: one private kilnd, a result table.

The daemon comes from the one test support package, tests/support (imported
by sys.path, not by tests/api's conftest: importing a conftest by path is
fragile under pytest's rootdir rules). Each daemon gets its own port, data
folder, uid range (row "security" of UID_RANGES, 1 800 000+) and parent cgroup
(kiln-security-test-<pid>-<n>), so it never touches another suite's
sandboxes. Pool size 1.

Every probe records one row (probe, expected, observed, verdict) in RESULTS;
pytest_terminal_summary prints the table and "N probes, N blocked".
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))

from api_client import Daemon as _Daemon  # noqa: E402
from fixtures import daemon_fixtures  # noqa: E402
from kilnd import remove_parent_cgroups  # noqa: E402,F401

from .escape_table import RESULTS  # noqa: E402  (filled by test_escape.py)


class Daemon(_Daemon):
    """The support package's Daemon; create_sandbox returns the id (the
    probes only ever need the id)."""

    def create_sandbox(self, **body):
        return super().create_sandbox(**body)["id"]


# KILN_SEC_KILND_ARGS adds daemon flags, e.g. "--no-seccomp" to check that the
# suite notices a missing layer (it must then report probes NOT BLOCKED).
# KILN_SEC_KEEP_DATA keeps the daemon's data folder.
if os.environ.get("KILN_SEC_KEEP_DATA"):
    os.environ.setdefault("KILN_KEEP_DATA", "1")
kilnd, fresh_daemon, sandbox = daemon_fixtures(
    "security", *os.environ.get("KILN_SEC_KILND_ARGS", "").split(), daemon_class=Daemon,
    sandbox_id_only=True, pool_size=1)


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
