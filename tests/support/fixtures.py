"""The pytest fixtures every daemon-driving suite shares: kilnd (one daemon
per session), fresh_daemon (a factory for daemons a test may kill or
restart) and sandbox (one sandbox on the session daemon, deleted after).

A suite's conftest.py makes them for its row of the uid table:
    kilnd, fresh_daemon, sandbox = daemon_fixtures("api", pool_size=2)
"""
from __future__ import annotations

import signal

import pytest

from api_client import Daemon


def daemon_fixtures(suite, *session_args, daemon_class=Daemon, sandbox_id_only=False,
                    **session_kw):
    """Returns (kilnd, fresh_daemon, sandbox) fixtures for `suite`."""

    @pytest.fixture(scope="session")
    def kilnd():
        d = daemon_class(*session_args, suite=suite, **session_kw)
        yield d
        d.close()

    @pytest.fixture
    def fresh_daemon():
        """A factory for daemons a test may kill or restart; all are stopped after."""
        made = []

        def make(*args, **kw):
            kw.setdefault("suite", suite)
            d = daemon_class(*args, **kw)
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
            # After kill -9 tests the parent cgroups may take a moment to empty.
            d.cleanup()

    @pytest.fixture
    def sandbox(kilnd):
        sb = kilnd.create_sandbox()
        sid = sb if isinstance(sb, str) else sb["id"]
        yield sid if sandbox_id_only else sb
        kilnd.delete(f"/v1/sandboxes/{sid}")

    return kilnd, fresh_daemon, sandbox
