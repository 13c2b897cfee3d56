"""/mcp over raw HTTP: lifecycle, sessions, versions, auth, DNS-rebinding
checks and bad input, answered with the statuses the MCP spec names."""
import json

import requests

from mcp_client import ACCEPT, McpHttp


def init_body(version="2025-11-25", id_=1):
    return {"jsonrpc": "2.0", "id": id_, "method": "initialize",
            "params": {"protocolVersion": version, "capabilities": {},
                       "clientInfo": {"name": "t", "version": "0"}}}


def test_initialize_negotiates_both_versions_and_falls_back_to_the_latest(keyed):
    for asked, got in (("2025-11-25", "2025-11-25"), ("2025-06-18", "2025-06-18"),
                       ("2024-11-05", "2025-11-25"), ("2099-01-01", "2025-11-25")):
        c = McpHttp(keyed, keyed.key)
        result = c.initialize(asked)
        assert result["protocolVersion"] == got
        assert result["serverInfo"]["name"] == "kiln"
        assert result["capabilities"]["tools"] == {"listChanged": False}
        assert len(c.session_id) == 32
        assert c.delete().status_code == 204


def test_ping_tools_list_and_unknown_method(keyed):
    c = McpHttp(keyed, keyed.key)
    c.initialize()
    assert c.request("ping") == {"jsonrpc": "2.0", "id": 1, "result": {}}
    tools = c.request("tools/list")["result"]["tools"]
    assert {t["name"] for t in tools} >= {"run_code", "run_command", "write_file", "read_file"}
    m = c.request("no/such/method")
    assert m["error"]["code"] == -32601 and "id" in m
    # A string id keeps its type.
    assert c.request("ping", id_="abc")["id"] == "abc"
    assert c.request("tools/list", {"cursor": "x"})["error"]["code"] == -32602


def test_notifications_and_responses_are_202_with_no_body(keyed):
    c = McpHttp(keyed, keyed.key)
    c.initialize(initialized=False)
    r = c.notify("notifications/initialized")
    assert r.status_code == 202 and r.content == b""
    r = c.post_raw({"jsonrpc": "2.0", "id": 99, "result": {}})
    assert r.status_code == 202 and r.content == b""
    assert c.notify("notifications/whatever").status_code == 202


def test_sessions_are_required_unknown_and_deleted_ones_404(keyed):
    c = McpHttp(keyed, keyed.key)
    r = c.post_raw({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert r.status_code == 400 and r.json()["error"]["code"] == -32000
    c.session_id = "0" * 32
    r = c.post_raw({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert r.status_code == 404
    # initialize carrying a session id is refused.
    assert c.post_raw(init_body()).status_code == 400
    c.session_id = None
    c.initialize()
    second = c.post_raw(init_body())
    assert second.status_code == 400 and second.json()["error"]["code"] == -32600
    assert c.delete().status_code == 204
    assert c.post_raw({"jsonrpc": "2.0", "id": 2, "method": "ping"}).status_code == 404
    assert c.delete().status_code == 404


def test_protocol_version_header(keyed):
    c = McpHttp(keyed, keyed.key)
    c.initialize()
    for bad in ("invalid-protocol-version", "2000-01-01", "2099-01-01"):
        r = c.post_raw({"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                       headers={"MCP-Protocol-Version": bad})
        assert r.status_code == 400, bad
    # Any published version passes, even one other than the negotiated one.
    r = c.post_raw({"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                   headers={"MCP-Protocol-Version": "2025-03-26"})
    assert r.status_code == 200
    # Before a session exists too.
    fresh = McpHttp(keyed, keyed.key)
    r = fresh.post_raw(init_body(), headers={"MCP-Protocol-Version": "2000-01-01"})
    assert r.status_code == 400


def test_get_is_405_and_other_methods_too(keyed):
    c = McpHttp(keyed, keyed.key)
    c.initialize()
    r = requests.get(c.url, headers=c.headers(accept="text/event-stream"), timeout=10)
    assert r.status_code == 405
    r = requests.put(c.url, headers=c.headers(), data="{}", timeout=10)
    assert r.status_code == 405


def test_auth_401_without_or_with_a_bad_key(keyed):
    r = McpHttp(keyed).post_raw(init_body())
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert McpHttp(keyed, "kiln_nope").post_raw(init_body()).status_code == 401


def test_a_session_is_bound_to_its_key(keyed):
    c = McpHttp(keyed, keyed.key)
    c.initialize()
    thief = McpHttp(keyed, keyed.other_key)
    thief.session_id = c.session_id
    assert thief.post_raw({"jsonrpc": "2.0", "id": 1, "method": "ping"}).status_code == 404
    assert thief.delete().status_code == 404
    assert c.request("ping")["result"] == {}


def test_dns_rebinding_host_and_origin(keyed):
    c = McpHttp(keyed, keyed.key)
    r = c.post_raw(init_body(), headers={"Host": "evil.example.com"})
    assert r.status_code == 403
    r = c.post_raw(init_body(), headers={"Host": f"evil.example.com:{keyed.port}",
                                         "Origin": "http://evil.example.com"})
    assert r.status_code == 403
    r = c.post_raw(init_body(), headers={"Origin": "http://evil.example.com"})
    assert r.status_code == 403
    assert "DNS rebinding" in r.json()["error"]["message"]
    r = c.post_raw(init_body(), headers={"Host": f"localhost:{keyed.port}",
                                         "Origin": "http://localhost:3000"})
    assert r.status_code == 200
    # The check comes before auth: a rebinding page learns nothing.
    r = McpHttp(keyed).post_raw(init_body(), headers={"Host": "evil.example.com"})
    assert r.status_code == 403


def test_bad_json_rpc_gets_json_rpc_errors(keyed):
    c = McpHttp(keyed, keyed.key)
    c.initialize()
    r = c.post_raw("{not json")
    assert r.status_code == 400 and r.json()["error"]["code"] == -32700
    assert "id" not in r.json()
    r = c.post_raw([{"jsonrpc": "2.0", "id": 1, "method": "ping"},
                    {"jsonrpc": "2.0", "id": 2, "method": "ping"}])
    assert r.status_code == 400
    body = r.json()
    assert isinstance(body, dict) and body["error"]["code"] == -32600
    for bad in ('"ping"', '{"id":1,"method":"ping"}', '{"jsonrpc":"2.0","id":null,"method":"p"}',
                '{"jsonrpc":"2.0","id":4,"method":"ping","params":[]}'):
        r = c.post_raw(bad)
        assert r.status_code == 400 and r.json()["error"]["code"] == -32600, bad
    assert c.post_raw('{"jsonrpc":"2.0","id":4,"method":"ping","params":[]}').json()["id"] == 4
    deep = '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"a":' + "[" * 200 + "]" * 200 + "}}"
    r = c.post_raw(deep)
    assert r.status_code == 400 and "nested deeper" in r.json()["error"]["message"]
    r = requests.post(c.url, data=b"x" * (5 << 20), headers=c.headers(), timeout=30)
    assert r.status_code == 413
    r = c.http.post(c.url, data="{}", headers=c.headers({"Content-Type": "text/plain"}), timeout=10)
    assert r.status_code == 415
    # The session survived all of it.
    assert c.request("ping")["result"] == {}


def test_concurrent_posts_on_one_session(keyed):
    """Three simultaneous tools/list POSTs (what conformance checks)."""
    import concurrent.futures
    c = McpHttp(keyed, keyed.key)
    c.initialize()

    def one(i):
        r = requests.post(c.url, data=json.dumps({"jsonrpc": "2.0", "id": 1000 + i,
                                                  "method": "tools/list"}),
                          headers=c.headers({"MCP-Protocol-Version": "2025-03-26"}), timeout=30)
        return r.status_code, r.json()["id"]

    with concurrent.futures.ThreadPoolExecutor(3) as ex:
        got = sorted(ex.map(one, range(3)))
    assert got == [(200, 1000), (200, 1001), (200, 1002)]
