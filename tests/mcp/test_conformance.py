"""The official MCP conformance suite (@modelcontextprotocol/conformance,
from tests/mcp/client's lockfile) against kilnd: the server scenarios that
apply to a tool server. The tool cannot send credentials, so it talks to a
daemon without keys (auth off, loopback only); auth itself is tested in
test_transport.py and sdk.test.mjs."""
import json
import os
import subprocess
import tempfile

import pytest

from conftest import HERE

CLIENT = os.path.join(HERE, "client")
SCENARIOS = ["server-initialize", "ping", "tools-list", "server-sse-multiple-streams",
             "dns-rebinding-protection"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_conformance_scenario(open_daemon, scenario):
    out = tempfile.mkdtemp(prefix="kiln-mcp-conformance-")
    cli = os.path.join(CLIENT, "node_modules", "@modelcontextprotocol", "conformance", "dist",
                       "index.js")
    p = subprocess.run(["node", "--import", "./shim/register.mjs", cli, "server", "--url",
                        f"http://127.0.0.1:{open_daemon.port}/mcp", "--scenario", scenario,
                        "-o", out], cwd=CLIENT, capture_output=True, text=True, timeout=120)
    checks = []
    for root, _, files in os.walk(out):
        for f in files:
            if f == "checks.json":
                with open(os.path.join(root, f)) as fh:
                    checks += json.load(fh)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-4000:]
    assert checks, p.stdout
    failed = [c for c in checks if c.get("status") in ("FAILURE", "ERROR")]
    assert not failed, failed
    # No warnings either (INFO only notes that a response was JSON, not SSE).
    assert all(c.get("status") in ("SUCCESS", "INFO") for c in checks), checks
