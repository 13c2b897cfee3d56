"""`kilnd mcp`: the stdio <-> HTTP bridge, driven as an MCP client drives
a stdio server (one JSON-RPC message per line on stdin/stdout)."""
import json
import os
import queue
import subprocess
import threading
import time

import requests

from conftest import KILND
from mcp_client import text_of


class Stdio:
    def __init__(self, daemon, key_file=None, env_key=None, extra=()):
        args = [KILND, "mcp", "--url", daemon.url, *extra]
        if key_file:
            args += ["--key-file", key_file]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        if env_key:
            env["KILN_API_KEY"] = env_key
        self.p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.put(line)

    def send(self, msg):
        data = msg if isinstance(msg, bytes) else (json.dumps(msg) + "\n").encode()
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def recv(self, timeout=60):
        line = self.lines.get(timeout=timeout)
        assert line.endswith(b"\n")
        return json.loads(line)

    def request(self, id_, method, params=None):
        msg = {"jsonrpc": "2.0", "id": id_, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        while True:
            m = self.recv()
            if m.get("id") == id_ and "method" not in m:
                return m

    def initialize(self, version="2025-11-25"):
        r = self.request(0, "initialize", {"protocolVersion": version, "capabilities": {},
                                           "clientInfo": {"name": "stdio-test", "version": "0"}})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return r

    def close(self, timeout=5):
        self.p.stdin.close()
        rc = self.p.wait(timeout=timeout)
        return rc, self.p.stderr.read().decode()


def test_bridge_runs_tools_and_ends_the_session_on_eof(keyed):
    s = Stdio(keyed, key_file=keyed.key_file)
    r = s.initialize("2025-06-18")
    assert r["result"]["protocolVersion"] == "2025-06-18"
    assert s.request(1, "ping") == {"jsonrpc": "2.0", "id": 1, "result": {}}
    tools = s.request(2, "tools/list")["result"]["tools"]
    assert len(tools) == 11
    r = s.request(3, "tools/call", {"name": "run_code", "arguments": {"code": "v = 21\nv * 2"}})
    assert "42" in text_of(r["result"])
    sid = r["result"]["structuredContent"]["sandbox_id"]
    r = s.request("four", "tools/call", {"name": "run_code", "arguments": {"code": "v"}})
    assert r["id"] == "four" and "21" in text_of(r["result"])
    h = {"Authorization": f"Bearer {keyed.key}"}
    assert requests.get(f"{keyed.url}/v1/sandboxes/{sid}", headers=h, timeout=10).status_code == 200
    t0 = time.monotonic()
    rc, err = s.close()
    assert rc == 0 and time.monotonic() - t0 < 3, err
    assert requests.get(f"{keyed.url}/v1/sandboxes/{sid}", headers=h, timeout=10).status_code == 404


def test_bridge_key_from_environment_and_errors_with_the_request_id(keyed):
    s = Stdio(keyed, env_key=keyed.key)
    assert "result" in s.initialize()
    s.close()
    bad = Stdio(keyed, env_key="kiln_wrong")
    r = bad.request(0, "initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                      "clientInfo": {"name": "x", "version": "0"}})
    assert r["id"] == 0 and r["error"]["data"]["http_status"] == 401
    bad.close()


def test_bridge_refuses_a_key_on_the_command_line(keyed):
    p = subprocess.run([KILND, "mcp", "--url", keyed.url, "--key", keyed.key],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "--key-file" in p.stderr and p.stdout == ""


def test_bridge_bad_lines_get_errors_and_the_bridge_goes_on(keyed):
    s = Stdio(keyed, key_file=keyed.key_file)
    s.initialize()
    s.send(b"{not json\n")
    assert s.recv()["error"]["code"] == -32700
    s.send(b'[{"jsonrpc":"2.0","id":1,"method":"ping"}]\n')
    assert s.recv()["error"]["code"] == -32600
    s.send(b"\n\r\n")  # blank lines are skipped
    # A line over the bridge's 16 MiB cap is refused without being kept.
    s.send(b'{"jsonrpc":"2.0","id":9,"method":"ping","params":{"x":"' + b"a" * (17 << 20) + b'"}}\n')
    m = s.recv()
    assert m["error"]["code"] == -32600 and "longer than" in m["error"]["message"]
    assert s.request(5, "ping")["result"] == {}
    s.close()


def test_bridge_relays_concurrently_so_cancel_gets_through(keyed):
    s = Stdio(keyed, key_file=keyed.key_file)
    s.initialize()
    s.request(1, "tools/call", {"name": "run_code", "arguments": {"code": "kept = 1"}})
    s.send({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "run_code", "arguments": {"code": "import time\ntime.sleep(30)"}}})
    time.sleep(1.5)
    # A ping answers while the long call runs.
    assert s.request(3, "ping")["result"] == {}
    s.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 2}})
    time.sleep(1)
    r = s.request(4, "tools/call", {"name": "run_code", "arguments": {"code": "kept + 1"}})
    assert "2" in text_of(r["result"])
    s.close()
