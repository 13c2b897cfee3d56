"""A small raw MCP Streamable HTTP client for the tests (requests), so
they can send exactly the bytes and headers a case needs."""
import json
import threading

import requests

ACCEPT = "application/json, text/event-stream"


def sse_messages(resp):
    """Yields each JSON message of an SSE response as it arrives."""
    data = []
    for raw in resp.iter_lines():
        line = raw.decode("utf-8").rstrip("\r")  # SSE is always UTF-8
        if line == "":
            if data and "".join(data):
                yield json.loads("\n".join(data))
            data = []
        elif line.startswith(":"):
            continue
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" ") if line.startswith("data: ") else line[5:])


class McpHttp:
    def __init__(self, daemon, key=None, version=None):
        self.url = daemon.url + "/mcp"
        self.key = key
        self.session_id = None
        self.version = version
        self.http = requests.Session()
        self._next = 0
        self._lock = threading.Lock()

    def next_id(self):
        with self._lock:
            self._next += 1
            return self._next

    def headers(self, extra=None, accept=ACCEPT):
        h = {"Content-Type": "application/json", "Accept": accept}
        if self.key:
            h["Authorization"] = f"Bearer {self.key}"
        if self.session_id:
            h["Mcp-Session-Id"] = self.session_id
        if self.version:
            h["MCP-Protocol-Version"] = self.version
        h.update(extra or {})
        return h

    def post_raw(self, body, headers=None, stream=False, accept=ACCEPT):
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return self.http.post(self.url, data=data, headers=self.headers(headers, accept),
                              stream=stream, timeout=120)

    def initialize(self, version="2025-11-25", initialized=True):
        r = self.post_raw({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                           "params": {"protocolVersion": version, "capabilities": {},
                                      "clientInfo": {"name": "kiln-pytest", "version": "0"}}})
        assert r.status_code == 200, r.text
        self.session_id = r.headers["Mcp-Session-Id"]
        result = r.json()["result"]
        self.version = result["protocolVersion"]
        if initialized:
            n = self.notify("notifications/initialized")
            assert n.status_code == 202, n.text
        return result

    def notify(self, method, params=None):
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        return self.post_raw(msg)

    def request(self, method, params=None, accept=ACCEPT, on_message=None, id_=None):
        """Sends a request; returns the response message (notifications on an
        SSE stream go to on_message)."""
        msg = {"jsonrpc": "2.0", "id": id_ if id_ is not None else self.next_id(),
               "method": method}
        if params is not None:
            msg["params"] = params
        r = self.post_raw(msg, stream=True, accept=accept)
        assert r.status_code == 200, (r.status_code, r.text)
        ctype = r.headers.get("Content-Type", "")
        if "text/event-stream" in ctype:
            for m in sse_messages(r):
                if "id" in m and "method" not in m:
                    return m
                if on_message:
                    on_message(m)
            return None  # the stream ended without a response (cancelled)
        assert ctype.startswith("application/json"), ctype
        return r.json()

    def call(self, tool, arguments=None, **kw):
        params = {"name": tool}
        if arguments is not None:
            params["arguments"] = arguments
        m = self.request("tools/call", params, **kw)
        assert m is not None and "result" in m, m
        return m["result"]

    def delete(self):
        return self.http.delete(self.url, headers=self.headers(), timeout=30)


def text_of(result):
    return "\n".join(c["text"] for c in result["content"] if c["type"] == "text")
