"""The official MCP TypeScript SDK client (tests/mcp/client, from npm with
a committed lockfile) against a real kilnd, over HTTP and stdio."""
import os
import subprocess

from conftest import HERE, KILND

CLIENT = os.path.join(HERE, "client")


def test_sdk_client_suite(keyed):
    env = dict(os.environ, KILN_URL=keyed.url, KILN_KEY=keyed.key, KILN_KEY_FILE=keyed.key_file,
               KILND=KILND)
    p = subprocess.run(["node", "--test", "--test-reporter=spec", "sdk.test.mjs"], cwd=CLIENT,
                       env=env, capture_output=True, text=True, timeout=240)
    print(p.stdout[-6000:])
    assert p.returncode == 0, p.stdout[-8000:] + p.stderr[-4000:]
    assert "# fail 0" in p.stdout or "ℹ fail 0" in p.stdout
