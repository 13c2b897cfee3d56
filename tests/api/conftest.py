"""Fixtures for API tests against a real kilnd.

The daemon class, the HTTP client and the fixtures live in the one test
support package, tests/support (kilnd.py, api_client.py, fixtures.py); this
file re-exports the names other test files import from it (`from conftest
import Daemon, ApiCalls, daemon_leftovers, remove_parent_cgroups, free_port,
KILND, ROOT ...`).

Each daemon gets its own port, data folder, uid range (row "api" of
tests/support/kilnd.py's UID_RANGES) and parent cgroup, so test daemons never
clean up each other's sandboxes (start-up cleanup empties the daemon's own
parent cgroup and kills its own uid range).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))

from api_client import ApiCalls, Daemon  # noqa: E402,F401
from fixtures import daemon_fixtures  # noqa: E402
from kilnd import (KILND, ROOT, UID_RANGES, UID_SPAN, cgroup_parent_name,  # noqa: E402,F401
                   daemon_leftovers, free_port, processes_in_uid_range, remove_parent_cgroups,
                   sandbox_cgroup_dirs, uid_base)

kilnd, fresh_daemon, sandbox = daemon_fixtures("api", pool_size=2)
